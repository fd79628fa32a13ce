using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using RoboRl.Core.DiffDrive;
using RoboRl.Core.Tasks;

namespace RoboRl.Sims.DiffDrive;

/// <summary>
/// Tuning of <see cref="DwaPlanner"/>; the defaults are what the DWA figures in docs/simulator.md used. They were picked by a sweep
/// on held-out scenarios 1000–1059 (simulator seed 1), apart from the 0–99 that `roborl eval` reports: lookahead
/// {0.5, 1, 1.5, 2, 3} s, clearance weight {0.2 … 2}, cap {0.2, 0.3, 0.5} m, velocity weight {0.1 … 1}, margin
/// {0.03, 0.05} m; success ranged 42–85 %, and the clearance term (weight 1, cap 0.3 m) mattered most.
/// </summary>
/// <param name="LinearSamples">Velocities sampled across the dynamic window's v range.</param>
/// <param name="AngularSamples">Velocities sampled across its ω range.</param>
/// <param name="HeadingLookahead">Heading is scored at the pose reached after this many seconds on the arc, and clearance along it.</param>
/// <param name="HeadingWeight">α: weight of the heading score 1 − |angle to goal|/π.</param>
/// <param name="ClearanceWeight">β: weight of the clearance along the arc (capped at <paramref name="ClearanceCap"/>, divided by it).</param>
/// <param name="VelocityWeight">γ: weight of v / v_max.</param>
/// <param name="ClearanceCap">Clearance beyond which more does not score (m).</param>
/// <param name="ClearanceSamples">Poses on the arc at which clearance is measured.</param>
/// <param name="SafetyMargin">Added to the robot radius when testing the swept arc against scan points (m).</param>
public sealed record DwaParameters(
    int LinearSamples = 11,
    int AngularSamples = 21,
    float HeadingLookahead = 2.0f,
    float HeadingWeight = 1.0f,
    float ClearanceWeight = 1.0f,
    float VelocityWeight = 1.0f,
    float ClearanceCap = 0.3f,
    float SafetyMargin = 0.05f,
    int ClearanceSamples = 8);

/// <summary>
/// The Dynamic Window Approach (D. Fox, W. Burgard, S. Thrun, "The Dynamic Window Approach to Collision Avoidance",
/// IEEE Robotics &amp; Automation Magazine 4(1), 1997), on the lidar scan:
/// <list type="number">
/// <item>search space: circular arcs (v, ω) held constant; the dynamic window is the velocities reachable within one
///   control period under the robot's acceleration limits around the current odometry (v, ω), intersected with the
///   velocity and wheel-speed limits;</item>
/// <item>dist(v, ω): arc length until the robot's disc (radius + margin) touches a scan point, computed in closed
///   form per point (the arc is a circle of radius v/ω around (0, v/ω) in the robot frame);</item>
/// <item>admissible: the robot can stop before that point, v ≤ √(2·dist·a_max) in the paper; here, as the command holds
///   for one control period before the next decision, v·Δt + v²/(2·a_max) ≤ dist;</item>
/// <item>objective G = α·heading + β·min(clearance, cap)/cap + γ·v/v_max, maximised over admissible samples, where
///   clearance is the smallest gap between the robot's disc and a scan point at poses along the arc over the
///   lookahead (the paper scores dist itself; that rates turning on the spot, which sweeps nothing, as perfectly
///   clear, and the robot froze beside obstacles facing the goal: 30 % timeouts on held-out maps); with none
///   admissible, brake and turn towards the goal.</item>
/// </list>
/// Allocates nothing per call (buffers sized once from the lidar).
/// </summary>
public sealed class DwaPlanner : INavPlanner
{
    private readonly DiffDriveConfig _robot;
    private readonly DwaParameters _p;
    private readonly float _dt;
    private const int Lanes = 8;
    /// <summary>Pads the point list to whole vectors: far enough never to be near any arc.</summary>
    private const float FarAway = 1e6f;
    private readonly float[] _px, _py; // scan points in the robot frame that can matter this step (eight per vector)

    /// <summary>Free arc length beyond which admissibility (v·Δt + v²/(2a) ≤ dist) cannot bind for this robot, metres.</summary>
    private float FreeCap => _robot.MaxLinearVelocity * (_dt + _robot.MaxLinearVelocity / (2 * _robot.LinearAccelerationLimit)) + 0.5f;

    public DwaPlanner(NavTaskConfig task, DwaParameters? parameters = null)
    {
        _robot = task.Robot;
        _p = parameters ?? new DwaParameters();
        if (_p.LinearSamples < 2 || _p.AngularSamples < 2) throw new ArgumentOutOfRangeException(nameof(parameters), "need at least 2 samples per axis");
        _dt = task.ControlDt;
        _px = new float[_robot.Lidar.Beams + Lanes];
        _py = new float[_robot.Lidar.Beams + Lanes];
    }

    public string Name => "dwa";
    public DwaParameters Parameters => _p;

    public void Act(in NavPlannerInput input, Span<float> action)
    {
        DiffDriveConfig robot = _robot;
        LidarConfig lidar = robot.Lidar;
        float radius = robot.RobotRadius + _p.SafetyMargin;

        // Scan points close enough to matter: within the clearance cap of some pose reachable in the lookahead, or on an arc.
        int points = 0;
        float reach = MathF.Max(_p.ClearanceCap + robot.MaxLinearVelocity * _p.HeadingLookahead, FreeCap) + radius;
        ReadOnlySpan<float> scan = input.Scan;
        float increment = lidar.AngleIncrement;
        for (int k = 0; k < scan.Length; k++)
        {
            float r = scan[k];
            if (float.IsNaN(r) || r > lidar.RangeMax) continue; // dropout or no return
            if (r < lidar.RangeMin) r = lidar.RangeMin;           // too close (−∞): as close as it can report
            if (r > reach) continue;
            _px[points] = r * MathF.Cos(k * increment);
            _py[points] = r * MathF.Sin(k * increment);
            points++;
        }
        while (points % Lanes != 0) { _px[points] = FarAway; _py[points] = FarAway; points++; }

        // The dynamic window.
        float v0 = input.LinearVelocity, w0 = input.AngularVelocity;
        float vLow = MathF.Max(0f, v0 - robot.LinearAccelerationLimit * _dt);
        float vHigh = MathF.Min(robot.MaxLinearVelocity, v0 + robot.LinearAccelerationLimit * _dt);
        float wLow = MathF.Max(-robot.MaxAngularVelocity, w0 - robot.AngularAccelerationLimit * _dt);
        float wHigh = MathF.Min(robot.MaxAngularVelocity, w0 + robot.AngularAccelerationLimit * _dt);
        if (vHigh < vLow) vHigh = vLow;
        if (wHigh < wLow) wHigh = wLow;

        float goalX = input.GoalDistance * MathF.Cos(input.GoalBearing), goalY = input.GoalDistance * MathF.Sin(input.GoalBearing);
        float halfTrack = 0.5f * robot.TrackWidth;
        float best = float.NegativeInfinity, bestV = 0, bestW = 0;
        for (int i = 0; i < _p.LinearSamples; i++)
        {
            float v = vLow + (vHigh - vLow) * i / (_p.LinearSamples - 1);
            for (int j = 0; j < _p.AngularSamples; j++)
            {
                float w = wLow + (wHigh - wLow) * j / (_p.AngularSamples - 1);
                if (MathF.Abs(v) + MathF.Abs(w) * halfTrack > robot.MaxWheelSpeed * 1.0001f) continue; // a wheel would saturate
                float free = FreeArcLength(v, w, radius, points);
                // Cannot stop in time: it drives v·dt until the next decision, then brakes over v²/(2a).
                if (v * _dt + v * v / (2f * robot.LinearAccelerationLimit) > free) continue;
                float score = _p.HeadingWeight * Heading(v, w, goalX, goalY)
                              + _p.ClearanceWeight * Clearance(v, w, radius, points) / _p.ClearanceCap
                              + _p.VelocityWeight * v / robot.MaxLinearVelocity;
                if (score > best) { best = score; bestV = v; bestW = w; }
            }
        }
        if (float.IsNegativeInfinity(best))
        {
            // Nothing admissible: brake and turn towards the goal as fast as the window allows.
            bestV = vLow;
            bestW = input.GoalBearing >= 0 ? wHigh : wLow;
        }
        action[0] = bestV / robot.MaxLinearVelocity;
        action[1] = bestW / robot.MaxAngularVelocity;
    }

    /// <summary>Heading score 1 − |bearing of the goal from the pose reached after the lookahead|/π, in [0, 1].</summary>
    private float Heading(float v, float w, float goalX, float goalY)
    {
        float t = _p.HeadingLookahead, turn = w * t;
        float x, y;
        if (MathF.Abs(w) < 1e-4f) { x = v * t; y = 0; }
        else { float r = v / w; x = r * MathF.Sin(turn); y = r * (1 - MathF.Cos(turn)); }
        float bearing = MathF.Atan2(goalY - y, goalX - x) - turn;
        bearing = MathF.IEEERemainder(bearing, 2 * MathF.PI);
        return 1f - MathF.Abs(bearing) / MathF.PI;
    }

    /// <summary>Smallest gap between the robot's disc and any scan point at poses along the arc over the lookahead, capped.</summary>
    private float Clearance(float v, float w, float radius, int points)
    {
        float nearestSquared = float.PositiveInfinity;
        for (int s = 1; s <= _p.ClearanceSamples; s++)
        {
            float t = _p.HeadingLookahead * s / _p.ClearanceSamples, turn = w * t;
            float x, y;
            if (MathF.Abs(w) < 1e-4f) { x = v * t; y = 0; }
            else { float r = v / w; x = r * MathF.Sin(turn); y = r * (1 - MathF.Cos(turn)); }
            Vector256<float> vx = Vector256.Create(x), vy = Vector256.Create(y);
            Vector256<float> nearest = Vector256.Create(float.PositiveInfinity);
            ref float px0 = ref MemoryMarshal.GetArrayDataReference(_px), py0 = ref MemoryMarshal.GetArrayDataReference(_py);
            for (int k = 0; k < points; k += Lanes)
            {
                Vector256<float> dx = Vector256.LoadUnsafe(ref px0, (nuint)k) - vx, dy = Vector256.LoadUnsafe(ref py0, (nuint)k) - vy;
                nearest = Vector256.Min(nearest, dx * dx + dy * dy);
            }
            for (int lane = 0; lane < Lanes; lane++) nearestSquared = MathF.Min(nearestSquared, nearest[lane]);
        }
        return Math.Clamp(MathF.Sqrt(nearestSquared) - radius, 0f, _p.ClearanceCap);
    }

    /// <summary>Arc length the robot's disc travels on (v, ω) before touching a scan point (capped where it no longer matters).</summary>
    private float FreeArcLength(float v, float w, float radius, int points)
    {
        float free = FreeCap;
        if (v < 1e-4f) return free; // turning in place sweeps nothing (round footprint)
        float radiusSquared = radius * radius;
        if (MathF.Abs(w) < 1e-4f)
        {
            for (int k = 0; k < points; k++)
            {
                float px = _px[k], py = _py[k];
                if (px <= 0 || MathF.Abs(py) >= radius) continue;
                free = MathF.Min(free, MathF.Max(0f, px - MathF.Sqrt(radiusSquared - py * py)));
            }
            return free;
        }
        float turning = v / w;                 // signed radius; centre at (0, turning)
        float absTurning = MathF.Abs(turning);
        float start = MathF.Atan2(-turning, 0f); // the robot's angle around the centre
        float direction = MathF.Sign(w);
        // Most points lie far from the arc's circle: find the near ones eight at a time, then place each on the arc.
        ref float px0 = ref MemoryMarshal.GetArrayDataReference(_px), py0 = ref MemoryMarshal.GetArrayDataReference(_py);
        Vector256<float> centreY = Vector256.Create(turning), circle = Vector256.Create(absTurning), reach = Vector256.Create(radius);
        for (int block = 0; block < points; block += Lanes)
        {
            Vector256<float> bx = Vector256.LoadUnsafe(ref px0, (nuint)block), by = Vector256.LoadUnsafe(ref py0, (nuint)block) - centreY;
            Vector256<float> offsets = Vector256.Abs(Vector256.Sqrt(bx * bx + by * by) - circle); // distance from the arc's circle
            uint near = Vector256.LessThan(offsets, reach).ExtractMostSignificantBits();
            while (near != 0)
            {
                int k = block + BitOperations.TrailingZeroCount(near);
                near &= near - 1;
                float dx = _px[k], dy = _py[k] - turning, offset = offsets[k - block];
                float travel = (MathF.Atan2(dy, dx) - start) * direction;
                travel -= 2 * MathF.PI * MathF.Floor(travel / (2 * MathF.PI)); // [0, 2π)
                // Contact comes √(radius² − offset²) of arc length before the point's own angle (exact when straight).
                float arc = absTurning * travel - MathF.Sqrt(radiusSquared - offset * offset);
                free = MathF.Min(free, MathF.Max(0f, arc));
            }
        }
        return free;
    }
}
