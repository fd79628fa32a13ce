using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace RoboRl.Core.Tasks;

/// <summary>
/// The one observation builder of the navigation task (simulator, node and evaluation use this code). Actor
/// observation, in order (size <see cref="ActorSize"/>(bins)):
/// <list type="number">
/// <item>scan: the lidar ranges min-pooled into <c>bins</c> sectors (bin j = beams [j·B/bins, (j+1)·B/bins), beam 0
///   straight ahead, counter-clockwise), divided by range_max, so 1 = nothing within range;</item>
/// <item>goal in the robot frame: distance (m), sin and cos of its bearing (counter-clockwise from forward);</item>
/// <item>body velocities from wheel odometry: v / v_max, ω / ω_max;</item>
/// <item>the previous action (v, ω normalised to [−1, 1]).</item>
/// </list>
/// Scan values follow ROS REP 117: +∞ = no return within range, −∞ = closer than range_min, NaN = invalid reading;
/// +∞ and NaN pool as range_max (a NaN in one beam of a sector is outweighed by its neighbours in the min),
/// −∞ as range_min; finite values are clamped to [range_min, range_max].
/// Action: a ∈ [−1, 1]² → v = a₀·v_max, ω = a₁·ω_max.
/// </summary>
public static class NavObservation
{
    public const int ActionSize = 2;
    public const int GoalSize = 3;
    public const int VelocitySize = 2;

    public static int ActorSize(int scanBins) => scanBins + GoalSize + VelocitySize + ActionSize;

    /// <summary>Actor observation names in order (what a policy bundle records).</summary>
    public static string[] ActorNames(int scanBins) =>
    [
        .. Enumerable.Range(0, scanBins).Select(j => $"scan_{j}"),
        "goal_distance", "goal_sin", "goal_cos", "linear_velocity", "angular_velocity", "previous_linear_action", "previous_angular_action",
    ];

    /// <summary>Action names: (v, ω) normalised by the robot's maxima.</summary>
    public static string[] ActionNames => ["linear_velocity", "angular_velocity"];

    /// <summary>Offset of the goal block (distance, sin, cos) in an actor row.</summary>
    public static int GoalOffset(int scanBins) => scanBins;

    /// <summary>Min-pools <paramref name="ranges"/> (one scan, REP 117 values) into <paramref name="bins"/>, divided by <paramref name="rangeMax"/>.</summary>
    /// <remarks>
    /// The minimum is taken first and clamped after (the same as clamping every beam, clamping being monotonic), eight
    /// beams per instruction: it runs twice per simulated step, where a beam-by-beam version cost as much as the lidar.
    /// </remarks>
    public static void PoolScan(ReadOnlySpan<float> ranges, float rangeMin, float rangeMax, Span<float> bins)
    {
        int perBin = ranges.Length / bins.Length;
        if (perBin * bins.Length != ranges.Length)
            throw new ArgumentException($"{ranges.Length} beams do not split into {bins.Length} equal bins", nameof(bins));
        float inverse = 1f / rangeMax;
        Vector256<float> max = Vector256.Create(rangeMax);
        ref float r0 = ref MemoryMarshal.GetReference(ranges);
        for (int j = 0; j < bins.Length; j++)
        {
            int start = j * perBin, k = 0;
            Vector256<float> lowest = max;
            for (; k + 8 <= perBin; k += 8)
            {
                Vector256<float> v = Vector256.LoadUnsafe(ref r0, (nuint)(start + k));
                lowest = Vector256.MinNative(lowest, Vector256.ConditionalSelect(Vector256.Equals(v, v), v, max)); // NaN → range_max
            }
            // Horizontal minimum: halve the vector three times.
            Vector128<float> half = Vector128.MinNative(lowest.GetLower(), lowest.GetUpper());
            half = Vector128.MinNative(half, Vector128.Shuffle(half, Vector128.Create(2, 3, 0, 1)));
            half = Vector128.MinNative(half, Vector128.Shuffle(half, Vector128.Create(1, 0, 3, 2)));
            float min = half.ToScalar();
            for (; k < perBin; k++)
            {
                float v = ranges[start + k];
                if (v < min) min = v; // false for NaN
            }
            bins[j] = Sanitize(min, rangeMin, rangeMax) * inverse;
        }
    }

    /// <summary>A REP 117 range as a usable distance in [rangeMin, rangeMax].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sanitize(float range, float rangeMin, float rangeMax)
    {
        if (float.IsNaN(range) || range > rangeMax) return rangeMax; // +∞ included
        return range < rangeMin ? rangeMin : range;                   // −∞ included
    }

    /// <summary>
    /// Writes everything after the scan bins: goal in the robot frame from the robot pose (x, y, yaw; world) and the
    /// goal (world), odometry velocities normalised, and the previous action. <paramref name="actor"/> is the whole row.
    /// </summary>
    public static void WriteState(int scanBins, float x, float y, float yaw, float goalX, float goalY,
        float linearVelocity, float angularVelocity, float maxLinearVelocity, float maxAngularVelocity,
        float previousLinearAction, float previousAngularAction, Span<float> actor)
    {
        float dx = goalX - x, dy = goalY - y;
        float distance = MathF.Sqrt(dx * dx + dy * dy);
        float c = MathF.Cos(yaw), s = MathF.Sin(yaw);
        // Goal in the body frame (rotate the world offset by −yaw), then its bearing as (sin, cos).
        float forward = c * dx + s * dy, left = -s * dx + c * dy;
        float sinBearing = distance > 1e-6f ? left / distance : 0f;
        float cosBearing = distance > 1e-6f ? forward / distance : 1f;
        int o = scanBins;
        actor[o] = distance;
        actor[o + 1] = sinBearing;
        actor[o + 2] = cosBearing;
        actor[o + 3] = linearVelocity / maxLinearVelocity;
        actor[o + 4] = angularVelocity / maxAngularVelocity;
        actor[o + 5] = previousLinearAction;
        actor[o + 6] = previousAngularAction;
    }

    /// <summary>Builds a whole actor row from a raw scan and the robot state (the node's path; the simulator pools its own scans with <see cref="PoolScan"/>).</summary>
    public static void Build(ReadOnlySpan<float> ranges, float rangeMin, float rangeMax, int scanBins,
        float x, float y, float yaw, float goalX, float goalY, float linearVelocity, float angularVelocity,
        float maxLinearVelocity, float maxAngularVelocity, float previousLinearAction, float previousAngularAction, Span<float> actor)
    {
        PoolScan(ranges, rangeMin, rangeMax, actor[..scanBins]);
        WriteState(scanBins, x, y, yaw, goalX, goalY, linearVelocity, angularVelocity, maxLinearVelocity, maxAngularVelocity,
            previousLinearAction, previousAngularAction, actor);
    }
}
