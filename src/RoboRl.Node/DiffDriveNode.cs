using System.Globalization;
using RoboRl.Core.Messages;
using RoboRl.Core.Policy;
using RoboRl.Core.Robots;
using RoboRl.Core.Tasks;

namespace RoboRl.Node;

/// <summary>What the node hands its local planner each tick (views of its own buffers).</summary>
public readonly ref struct LocalPlannerInput
{
    /// <summary>The <see cref="NavObservation"/> row, what a learned policy sees.</summary>
    public ReadOnlySpan<float> Observation { get; init; }
    /// <summary>The full scan (REP 117 values), beam 0 straight ahead, counter-clockwise.</summary>
    public ReadOnlySpan<float> Scan { get; init; }
    /// <summary>Goal in the robot frame: distance (m) and bearing (rad, counter-clockwise from forward).</summary>
    public float GoalDistance { get; init; }
    public float GoalBearing { get; init; }
    /// <summary>Odometry: forward speed (m/s), yaw rate (rad/s).</summary>
    public float LinearVelocity { get; init; }
    public float AngularVelocity { get; init; }
}

/// <summary>A local planner the ground-robot node can run: one tick's input in, a normalised (v, ω) action out.</summary>
public interface ILocalPlanner
{
    /// <summary><paramref name="action"/> gets (v/v_max, ω/ω_max) in [−1, 1].</summary>
    void Plan(in LocalPlannerInput input, Span<float> action);
}

/// <summary>The learned planner: the policy bundle through the allocation-free <see cref="PolicyEngine"/>, exactly as evaluated.</summary>
public sealed class PolicyLocalPlanner(PolicyBundle bundle) : ILocalPlanner
{
    readonly PolicyEngine engine = new(bundle);
    public PolicyEngine Engine => engine;
    public void Plan(in LocalPlannerInput input, Span<float> action) => engine.Forward(input.Observation, action);
}

/// <summary>Why the ground node stopped the robot (or limited its motion) in a tick.</summary>
public enum GroundSafetyTrigger : byte
{
    None = 0,
    /// <summary>No scan yet, or the newest is older than scan_timeout_ms.</summary>
    StaleScan,
    /// <summary>No odometry yet, or the newest is older than odom_timeout_ms.</summary>
    StaleOdometry,
    /// <summary>The scan's beam count is not the one the policy was trained with.</summary>
    ScanMismatch,
    NonFiniteObservation,
    NonFiniteAction,
    /// <summary>A return in the robot's path is nearer than min_obstacle_distance_m to its footprint: translation stopped (turning allowed).</summary>
    ObstacleTooClose,
}

/// <summary>What the node did in one tick (plain numbers; text is made off the tick thread).</summary>
public struct GroundNodeEvent
{
    public long TimestampNs;
    public ulong Tick;
    public NodeMode Mode;
    public GroundSafetyTrigger Trigger;
    /// <summary>For a trip: the measured value (age in ms, distance in m, beam count) and its limit.</summary>
    public float Value, Limit;
    public bool GoalReached;

    public readonly string Describe() => GoalReached
        ? string.Create(CultureInfo.InvariantCulture, $"goal reached ({Value:0.###} m from it): stopped")
        : Trigger switch
        {
            GroundSafetyTrigger.None => $"{Mode.ToString().ToUpperInvariant()}: driving",
            GroundSafetyTrigger.StaleScan => float.IsPositiveInfinity(Value) ? "STOP: no scan yet" : string.Create(CultureInfo.InvariantCulture, $"STOP: stale scan, newest {Value:0} ms old > {Limit:0} ms"),
            GroundSafetyTrigger.StaleOdometry => float.IsPositiveInfinity(Value) ? "STOP: no odometry yet" : string.Create(CultureInfo.InvariantCulture, $"STOP: stale odometry, newest {Value:0} ms old > {Limit:0} ms"),
            GroundSafetyTrigger.ScanMismatch => string.Create(CultureInfo.InvariantCulture, $"STOP: scan has {Value:0} beams, the policy was trained on {Limit:0}"),
            GroundSafetyTrigger.NonFiniteObservation => $"STOP: NaN/Inf in observation element {Value:0}",
            GroundSafetyTrigger.NonFiniteAction => $"STOP: NaN/Inf in planner action element {Value:0}",
            GroundSafetyTrigger.ObstacleTooClose => string.Create(CultureInfo.InvariantCulture, $"LIMIT: obstacle {Value:0.###} m ahead of the footprint in the direction of travel < {Limit:0.###} m: translation stopped"),
            _ => Trigger.ToString(),
        };
}

/// <summary>
/// The real-time node for a differential-drive robot with a 2D lidar (TurtleBot3-class). Each tick, on its own thread
/// at <see cref="DiffDriveNodeConfig.RateHz"/> (<see cref="Start"/>) or called directly (<see cref="Tick"/>, for
/// lock-step simulation and tests):
/// <list type="number">
/// <item>the newest odometry, scan and goal are read (a new goal re-arms a node that reached the previous one);</item>
/// <item>safety, highest first: stale or missing scan or odometry, a scan of the wrong size → stop (zero twist);</item>
/// <item>goal reached (within goal_tolerance_m) → stop and wait for the next goal;</item>
/// <item><see cref="NavObservation.Build"/> — the simulator's own builder — then the planner (the policy bundle or DWA);
///   NaN/Inf in the observation or the action → stop;</item>
/// <item>the action is scaled to (v, ω), clamped to the configured speed limits, and translation is stopped when a return
///   in the corridor the footprint (a circle of robot_radius) sweeps in the direction of travel is nearer to it than
///   min_obstacle_distance_m (turning in place stays allowed for a round robot, so the planner can steer away);</item>
/// <item>the command (and the wheel speeds it implies) goes to the sink.</item>
/// </list>
/// Events (mode changes, trips, goals) are kept for <see cref="Events"/>; a tick allocates nothing (tested).
/// </summary>
public sealed class DiffDriveNode : IDisposable
{
    public const int EventCapacity = 1024;

    readonly DiffDriveNodeConfig config;
    readonly ILocalPlanner planner;
    readonly IGroundSensorSource sensors;
    readonly IVelocityCommandSink sink;
    readonly int scanBins;
    readonly float[] ranges, observation, action = new float[NavObservation.ActionSize];
    readonly long periodNs, scanTimeoutNs, odometryTimeoutNs;
    readonly float footprintRadius;
    readonly GroundNodeEvent[] events = new GroundNodeEvent[EventCapacity];
    int eventCount;
    ulong tick;
    uint commandSequence, goalSequence;
    bool hasGoal, goalDone;
    float goalX, goalY, previousLinearAction, previousAngularAction;
    GroundSafetyTrigger lastTrigger = (GroundSafetyTrigger)255;
    NodeMode mode = NodeMode.Idle;
    VelocityCommand lastCommand;
    OdometrySample lastOdometry;
    Thread? thread;
    volatile bool running;

    /// <param name="observationSize">The planner's observation size (a bundle's ObservationSize); the scan bins are what precedes the 7 state values.</param>
    public DiffDriveNode(DiffDriveNodeConfig config, ILocalPlanner planner, int observationSize, IGroundSensorSource sensors, IVelocityCommandSink sink)
    {
        this.config = config;
        this.planner = planner;
        this.sensors = sensors;
        this.sink = sink;
        scanBins = observationSize - NavObservation.ActorSize(0);
        if (scanBins < 1 || config.Robot.Lidar.Beams % scanBins != 0)
            throw new ArgumentException($"an observation of {observationSize} values leaves {scanBins} scan bins, which do not divide the lidar's {config.Robot.Lidar.Beams} beams");
        ranges = new float[config.Robot.Lidar.Beams];
        observation = new float[observationSize];
        periodNs = (long)Math.Round(1e9 / config.RateHz);
        scanTimeoutNs = (long)(config.Limits.ScanTimeoutS * 1e9);
        odometryTimeoutNs = (long)(config.Limits.OdometryTimeoutS * 1e9);
        footprintRadius = config.Robot.RobotRadius;
        if (config.Goal is { } g)
        {
            hasGoal = true;
            (goalX, goalY) = g;
        }
    }

    /// <summary>
    /// Refuses (<see cref="PolicyMismatchException"/>) a bundle not trained for the node's robot config, not built on the
    /// navigation observation, or trained at another control rate than the node's rate.
    /// </summary>
    public static void CheckBundle(DiffDriveNodeConfig config, PolicyBundle bundle)
    {
        bundle.CheckCompatible(config.RobotConfigJson);
        int bins = bundle.ObservationSize - NavObservation.ActorSize(0);
        if (bins < 1 || config.Robot.Lidar.Beams % bins != 0)
            throw new PolicyMismatchException("node", PolicyBundle.KeyObservationNames,
                $"the node builds the navigation observation (scan bins + 7); the policy's {bundle.ObservationSize} values leave {bins} bins, which do not divide the lidar's {config.Robot.Lidar.Beams} beams");
        bundle.CheckCompatibleSpecs(NavPolicySpec.ActorNames(bins), NavPolicySpec.ActionNames, config.RateHz, NavPolicySpec.ActionHistoryLength);
    }

    public DiffDriveNodeConfig Config => config;
    public NodeMode Mode => mode;
    public ulong TickCount => tick;
    public VelocityCommand LastCommand => lastCommand;
    public OdometrySample LastOdometry => lastOdometry;
    public int GoalsReached { get; private set; }
    /// <summary>Ticks in which the robot was stopped or limited by a safety rule.</summary>
    public long SafetyTicks { get; private set; }
    public (float X, float Y)? Goal => hasGoal ? (goalX, goalY) : null;
    public bool GoalDone => goalDone;

    /// <summary>The events so far (oldest first, at most <see cref="EventCapacity"/>).</summary>
    public IReadOnlyList<GroundNodeEvent> Events => events.AsSpan(0, Math.Min(eventCount, EventCapacity)).ToArray();

    /// <summary>One tick at <paramref name="nowNs"/> (NodeClock).</summary>
    public void Tick(long nowNs)
    {
        tick++;
        GroundSafetyTrigger trigger = GroundSafetyTrigger.None;
        float value = 0, limit = 0;
        float v = 0, w = 0;

        bool haveOdometry = sensors.TryGetOdometry(out OdometrySample odometry);
        if (haveOdometry) lastOdometry = odometry;
        bool haveScan = sensors.TryGetScan(ranges, out ScanSample scan);
        if (sensors.TryGetGoal(out GoalSample goal) && goal.Sequence != goalSequence)
        {
            goalSequence = goal.Sequence;
            goalX = goal.X;
            goalY = goal.Y;
            hasGoal = true;
            goalDone = false;
        }

        if (!haveScan || nowNs - scan.TimestampNs > scanTimeoutNs)
            (trigger, value, limit) = (GroundSafetyTrigger.StaleScan, haveScan ? (nowNs - scan.TimestampNs) / 1e6f : float.PositiveInfinity, scanTimeoutNs / 1e6f);
        else if (!haveOdometry || nowNs - odometry.TimestampNs > odometryTimeoutNs)
            (trigger, value, limit) = (GroundSafetyTrigger.StaleOdometry, haveOdometry ? (nowNs - odometry.TimestampNs) / 1e6f : float.PositiveInfinity, odometryTimeoutNs / 1e6f);
        else if (scan.Count != ranges.Length)
            (trigger, value, limit) = (GroundSafetyTrigger.ScanMismatch, scan.Count, ranges.Length);

        NodeMode next;
        if (trigger != GroundSafetyTrigger.None) next = NodeMode.Fallback;
        else if (!hasGoal || goalDone) next = NodeMode.Idle;
        else
        {
            float dx = goalX - odometry.X, dy = goalY - odometry.Y;
            float distance = MathF.Sqrt(dx * dx + dy * dy);
            if (distance < config.GoalToleranceM)
            {
                goalDone = true;
                GoalsReached++;
                Record(nowNs, NodeMode.Idle, GroundSafetyTrigger.None, distance, 0, goalReached: true);
                next = NodeMode.Idle;
            }
            else
            {
                float maxV = config.Robot.MaxLinearVelocity, maxW = config.Robot.MaxAngularVelocity;
                NavObservation.Build(ranges, scan.RangeMin, scan.RangeMax, scanBins, odometry.X, odometry.Y, odometry.Yaw, goalX, goalY,
                    odometry.LinearVelocity, odometry.AngularVelocity, maxV, maxW, previousLinearAction, previousAngularAction, observation);
                int bad = FirstNonFinite(observation);
                if (bad >= 0) (trigger, value) = (GroundSafetyTrigger.NonFiniteObservation, bad);
                else
                {
                    int goalAt = NavObservation.GoalOffset(scanBins);
                    planner.Plan(new LocalPlannerInput
                    {
                        Observation = observation, Scan = ranges, GoalDistance = observation[goalAt],
                        GoalBearing = MathF.Atan2(observation[goalAt + 1], observation[goalAt + 2]),
                        LinearVelocity = odometry.LinearVelocity, AngularVelocity = odometry.AngularVelocity,
                    }, action);
                    bad = FirstNonFinite(action);
                    if (bad >= 0) (trigger, value) = (GroundSafetyTrigger.NonFiniteAction, bad);
                    else
                    {
                        v = Math.Clamp(action[0], -1f, 1f) * maxV;
                        w = Math.Clamp(action[1], -1f, 1f) * maxW;
                    }
                }
                next = trigger == GroundSafetyTrigger.None ? NodeMode.Policy : NodeMode.Fallback;
            }
        }

        if (next == NodeMode.Policy)
        {
            v = Math.Clamp(v, -config.Limits.MaxLinearVelocityMS, config.Limits.MaxLinearVelocityMS);
            w = Math.Clamp(w, -config.Limits.MaxAngularVelocityRadS, config.Limits.MaxAngularVelocityRadS);
            // Translation towards a near obstacle is stopped; the planner keeps steering.
            if (v != 0)
            {
                float nearest = NearestInPath(scan, v > 0 ? 1f : -1f);
                if (nearest < config.Limits.MinObstacleDistanceM)
                {
                    (trigger, value, limit) = (GroundSafetyTrigger.ObstacleTooClose, nearest, config.Limits.MinObstacleDistanceM);
                    v = 0;
                }
            }
        }
        else v = w = 0;

        if (trigger != GroundSafetyTrigger.None) SafetyTicks++;
        if (next != mode || trigger != lastTrigger) Record(nowNs, next, trigger, value, limit, goalReached: false);
        mode = next;
        lastTrigger = trigger;

        // The previous action the next observation holds is the one applied (as in the simulator).
        previousLinearAction = v / config.Robot.MaxLinearVelocity;
        previousAngularAction = w / config.Robot.MaxAngularVelocity;
        float halfTrack = config.Robot.TrackWidth / 2, radius = config.Robot.WheelRadius;
        lastCommand = new VelocityCommand
        {
            TimestampNs = nowNs,
            Sequence = ++commandSequence,
            LinearVelocity = v,
            AngularVelocity = w,
            LeftWheelRadS = (v - w * halfTrack) / radius,
            RightWheelRadS = (v + w * halfTrack) / radius,
            Source = next == NodeMode.Policy ? ActionSource.Policy : ActionSource.Fallback,
        };
        sink.Send(lastCommand);
    }

    /// <summary>
    /// How far the footprint (a circle of robot_radius about the lidar) can translate forward (<paramref name="direction"/> +1)
    /// or backward (−1) before it touches a valid return: a return at (x, y) in the robot frame with |y| &lt; R is hit after
    /// direction·x − √(R² − y²). +∞ when nothing lies in that corridor.
    /// </summary>
    float NearestInPath(in ScanSample scan, float direction)
    {
        float nearest = float.PositiveInfinity, r2 = footprintRadius * footprintRadius;
        for (int k = 0; k < scan.Count; k++)
        {
            float r = ranges[k];
            if (!(r >= scan.RangeMin) || float.IsPositiveInfinity(r)) continue; // NaN, +∞ (no return), below range_min (unreliable)
            float angle = scan.AngleMin + k * scan.AngleIncrement;
            float ahead = direction * r * MathF.Cos(angle), side = r * MathF.Sin(angle);
            if (ahead <= 0 || MathF.Abs(side) >= footprintRadius) continue;
            float gap = ahead - MathF.Sqrt(r2 - side * side);
            if (gap < nearest) nearest = gap;
        }
        return nearest;
    }

    static int FirstNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++) if (!float.IsFinite(values[i])) return i;
        return -1;
    }

    void Record(long nowNs, NodeMode newMode, GroundSafetyTrigger trigger, float value, float limit, bool goalReached)
    {
        if (eventCount < EventCapacity)
            events[eventCount] = new GroundNodeEvent { TimestampNs = nowNs, Tick = tick, Mode = newMode, Trigger = trigger, Value = value, Limit = limit, GoalReached = goalReached };
        eventCount++;
    }

    public void Start()
    {
        if (thread is not null) throw new InvalidOperationException("the node is already running");
        running = true;
        thread = new Thread(Loop) { IsBackground = true, Name = "roborl-diffdrive-tick" };
        thread.Start();
    }

    public void Stop()
    {
        running = false;
        thread?.Join();
        thread = null;
    }

    void Loop()
    {
        long next = NodeClock.NowNs;
        while (running)
        {
            long now = NodeClock.NowNs;
            while (running && next - now > 1_200_000) { Thread.Sleep(1); now = NodeClock.NowNs; }
            while (next - now > 0) { Thread.SpinWait(20); now = NodeClock.NowNs; }
            Tick(now);
            next += periodNs;
            if (NodeClock.NowNs - next > 10 * periodNs) next = NodeClock.NowNs; // far behind: resynchronise, no burst
        }
        // Leave the robot stopped.
        sink.Send(new VelocityCommand { TimestampNs = NodeClock.NowNs, Sequence = ++commandSequence, Source = ActionSource.Fallback });
    }

    public void Dispose() => Stop();
}
