using System.Runtime.CompilerServices;

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

    /// <summary>Offset of the goal block (distance, sin, cos) in an actor row.</summary>
    public static int GoalOffset(int scanBins) => scanBins;

    /// <summary>Min-pools <paramref name="ranges"/> (one scan, REP 117 values) into <paramref name="bins"/>, divided by <paramref name="rangeMax"/>.</summary>
    public static void PoolScan(ReadOnlySpan<float> ranges, float rangeMin, float rangeMax, Span<float> bins)
    {
        int perBin = ranges.Length / bins.Length;
        if (perBin * bins.Length != ranges.Length)
            throw new ArgumentException($"{ranges.Length} beams do not split into {bins.Length} equal bins", nameof(bins));
        float inverse = 1f / rangeMax;
        for (int j = 0; j < bins.Length; j++)
        {
            float min = rangeMax;
            ReadOnlySpan<float> sector = ranges.Slice(j * perBin, perBin);
            for (int k = 0; k < sector.Length; k++) min = MathF.Min(min, Sanitize(sector[k], rangeMin, rangeMax));
            bins[j] = min * inverse;
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
