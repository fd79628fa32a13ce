using System.Globalization;
using System.Text.Json.Nodes;
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

/// <summary>
/// The differential-drive robot's controller in the real-time node (<see cref="InferenceNode"/>), for a robot with a 2D
/// lidar (TurtleBot3-class). Each tick:
/// <list type="number">
/// <item>the newest odometry, scan and goal are read (a new goal re-arms a node that reached the previous one; an
///   operator's Setpoint command is a goal too, Land or Disarm drops it);</item>
/// <item>safety, highest first: the kill switch, stale or missing scan or odometry, a scan of the wrong size, a streak of
///   overrun ticks → stop (zero twist, mode FALLBACK with the violation);</item>
/// <item>goal reached (within goal_tolerance_m) → stop and wait for the next goal;</item>
/// <item><see cref="NavObservation.Build"/> — the simulator's own builder — then the planner (the policy bundle or DWA);
///   NaN/Inf in the observation or the action → stop;</item>
/// <item>the action is scaled to (v, ω), clamped to the configured speed limits, and translation is stopped when a return
///   in the corridor the footprint (a circle of robot_radius) sweeps in the direction of travel is nearer to it than
///   min_obstacle_distance_m (turning in place stays allowed for a round robot, so the planner can steer away);</item>
/// <item>the command (and the wheel speeds it implies) goes to the sink.</item>
/// </list>
/// A tick allocates nothing (tested).
/// </summary>
public sealed class DiffDriveController : IRobotController
{
    readonly NodeConfig nodeConfig;
    readonly DiffDriveNodeSettings config;
    readonly ILocalPlanner planner;
    readonly IGroundSensorSource sensors;
    readonly IVelocityCommandSink sink;
    readonly DiffDriveNodeLog log;
    readonly int scanBins;
    readonly float[] ranges, observation, action = new float[NavObservation.ActionSize];
    readonly long scanTimeoutNs, odometryTimeoutNs;
    readonly float footprintRadius;
    InferenceNode node = null!;
    uint commandSequence, goalSequence;
    bool hasGoal, goalDone, hasOdometry, hasScan, limited;
    float goalX, goalY, previousLinearAction, previousAngularAction;
    int overrunStreak;
    SafetyTrigger lastTrigger = (SafetyTrigger)255;
    VelocityCommand lastCommand;
    OdometrySample lastOdometry;
    ScanSample lastScan;
    // This tick's record.
    bool plannerRan;
    float plannedV, plannedW;

    /// <param name="observationSize">The planner's observation size (a bundle's ObservationSize); the scan bins are what precedes the 7 state values.</param>
    /// <param name="flightMetadata">What identifies the robot and the planner's spec in the log.</param>
    public DiffDriveController(NodeConfig config, ILocalPlanner planner, int observationSize, IGroundSensorSource sensors, IVelocityCommandSink sink,
        IReadOnlyDictionary<string, string>? flightMetadata = null)
    {
        nodeConfig = config;
        this.config = config.SettingsAs<DiffDriveNodeSettings>();
        this.planner = planner;
        this.sensors = sensors;
        this.sink = sink;
        DiffDriveNodeSettings s = this.config;
        scanBins = observationSize - NavObservation.ActorSize(0);
        if (scanBins < 1 || s.Robot.Lidar.Beams % scanBins != 0)
            throw new ArgumentException($"an observation of {observationSize} values leaves {scanBins} scan bins, which do not divide the lidar's {s.Robot.Lidar.Beams} beams");
        ranges = new float[s.Robot.Lidar.Beams];
        observation = new float[observationSize];
        scanTimeoutNs = (long)(s.Limits.ScanTimeoutS * 1e9);
        odometryTimeoutNs = (long)(s.Limits.OdometryTimeoutS * 1e9);
        footprintRadius = s.Robot.RobotRadius;
        log = new DiffDriveNodeLog(s.Robot.Lidar.Beams, config.RateHz);
        FlightMetadata = flightMetadata ?? new Dictionary<string, string>();
        if (s.Goal is { } g)
        {
            hasGoal = true;
            (goalX, goalY) = g;
        }
    }

    /// <summary>
    /// Refuses (<see cref="PolicyMismatchException"/>) a bundle not trained for the node's robot config, not built on the
    /// navigation observation, or trained at another control rate than the node's rate.
    /// </summary>
    public static void CheckBundle(NodeConfig config, PolicyBundle bundle)
    {
        DiffDriveNodeSettings s = config.SettingsAs<DiffDriveNodeSettings>();
        bundle.CheckCompatible(config.RobotConfigJson);
        int bins = bundle.ObservationSize - NavObservation.ActorSize(0);
        if (bins < 1 || s.Robot.Lidar.Beams % bins != 0)
            throw new PolicyMismatchException("node", PolicyBundle.KeyObservationNames,
                $"the node builds the navigation observation (scan bins + 7); the policy's {bundle.ObservationSize} values leave {bins} bins, which do not divide the lidar's {s.Robot.Lidar.Beams} beams");
        bundle.CheckCompatibleSpecs(NavPolicySpec.ActorNames(bins), NavPolicySpec.ActionNames, config.RateHz, NavPolicySpec.ActionHistoryLength);
    }

    public string Kind => "diff_drive";
    public DiffDriveNodeSettings Settings => config;
    NodeMode Mode => node.Mode;
    public VelocityCommand LastCommand => lastCommand;
    public OdometrySample LastOdometry => lastOdometry;
    public int GoalsReached { get; private set; }
    /// <summary>Ticks in which the robot was stopped or limited by a safety rule.</summary>
    public long SafetyTicks { get; private set; }
    public (float X, float Y)? Goal => hasGoal ? (goalX, goalY) : null;
    public bool GoalDone => goalDone;
    public bool HasState => hasOdometry && hasScan;
    public int ObservationSize => observation.Length;
    public ReadOnlySpan<float> Observation => observation;
    public INodeLog Log => log;
    public IReadOnlyDictionary<string, string> FlightMetadata { get; }

    public void Attach(InferenceNode node) => this.node = node;

    public void Handle(in NodeCommand command, long nowNs)
    {
        switch (command.Kind)
        {
            case NodeCommandKind.Setpoint: // an operator's setpoint is a ground robot's goal (x, y; z ignored)
                if (float.IsFinite(command.Setpoint.X) && float.IsFinite(command.Setpoint.Y))
                {
                    (goalX, goalY) = (command.Setpoint.X, command.Setpoint.Y);
                    hasGoal = true;
                    goalDone = false;
                }
                else node.Refuse(NodeCommandKindOrNone.Setpoint, new SafetyViolation(SafetyTrigger.NonFiniteSetpoint, float.NaN, 0), nowNs);
                break;
            case NodeCommandKind.Land or NodeCommandKind.Disarm: // stop here and wait for the next goal
                hasGoal = false;
                break;
        }
    }

    public void Tick(in NodeTick tick)
    {
        long nowNs = tick.StartNs;
        overrunStreak = tick.Overrun ? overrunStreak + 1 : 0;
        SafetyTrigger trigger = SafetyTrigger.None;
        float value = 0, limit = 0;
        float v = 0, w = 0;
        plannerRan = false;

        bool haveOdometry = sensors.TryGetOdometry(out OdometrySample odometry);
        if (haveOdometry) { lastOdometry = odometry; hasOdometry = true; }
        bool haveScan = sensors.TryGetScan(ranges, out ScanSample scan);
        if (haveScan) { lastScan = scan; hasScan = true; }
        if (sensors.TryGetGoal(out GoalSample goal) && goal.Sequence != goalSequence)
        {
            goalSequence = goal.Sequence;
            goalX = goal.X;
            goalY = goal.Y;
            hasGoal = true;
            goalDone = false;
        }

        if (Mode == NodeMode.Killed) { Send(nowNs, 0, 0, ActionSource.Fallback); return; } // latched: stopped until restarted

        if (!haveScan || nowNs - scan.TimestampNs > scanTimeoutNs)
            (trigger, value, limit) = (SafetyTrigger.StaleScan, haveScan ? (nowNs - scan.TimestampNs) / 1e6f : float.PositiveInfinity, scanTimeoutNs / 1e6f);
        else if (!haveOdometry || nowNs - odometry.TimestampNs > odometryTimeoutNs)
            (trigger, value, limit) = (SafetyTrigger.StaleOdometry, haveOdometry ? (nowNs - odometry.TimestampNs) / 1e6f : float.PositiveInfinity, odometryTimeoutNs / 1e6f);
        else if (scan.Count != ranges.Length)
            (trigger, value, limit) = (SafetyTrigger.ScanMismatch, scan.Count, ranges.Length);
        else if (overrunStreak >= config.Limits.OverrunStreak)
            (trigger, value, limit) = (SafetyTrigger.OverrunStreak, overrunStreak, config.Limits.OverrunStreak);

        NodeMode next;
        ModeReason reason = ModeReason.SafetyViolation;
        int axis = -1;
        if (trigger != SafetyTrigger.None) next = NodeMode.Fallback;
        else if (!hasGoal || goalDone) (next, reason) = (NodeMode.Idle, goalDone ? ModeReason.GoalReached : ModeReason.WaitingForGoal);
        else
        {
            float dx = goalX - odometry.X, dy = goalY - odometry.Y;
            float distance = MathF.Sqrt(dx * dx + dy * dy);
            if (distance < config.GoalToleranceM)
            {
                goalDone = true;
                GoalsReached++;
                node.AddEvent(new NodeEvent
                {
                    TimestampNs = nowNs,
                    Tick = node.CurrentTick,
                    Kind = NodeEventKind.GoalReached,
                    Mode = Mode,
                    Command = NodeCommandKindOrNone.None,
                    Requested = new System.Numerics.Vector3(goalX, goalY, 0),
                    Applied = new System.Numerics.Vector3(distance, 0, 0),
                });
                (next, reason) = (NodeMode.Idle, ModeReason.GoalReached);
            }
            else
            {
                float maxV = config.Robot.MaxLinearVelocity, maxW = config.Robot.MaxAngularVelocity;
                NavObservation.Build(ranges, scan.RangeMin, scan.RangeMax, scanBins, odometry.X, odometry.Y, odometry.Yaw, goalX, goalY,
                    odometry.LinearVelocity, odometry.AngularVelocity, maxV, maxW, previousLinearAction, previousAngularAction, observation);
                int bad = FirstNonFinite(observation);
                if (bad >= 0) (trigger, value, axis) = (SafetyTrigger.NonFiniteObservation, observation[bad], bad);
                else
                {
                    int goalAt = NavObservation.GoalOffset(scanBins);
                    planner.Plan(new LocalPlannerInput
                    {
                        Observation = observation,
                        Scan = ranges,
                        GoalDistance = observation[goalAt],
                        GoalBearing = MathF.Atan2(observation[goalAt + 1], observation[goalAt + 2]),
                        LinearVelocity = odometry.LinearVelocity,
                        AngularVelocity = odometry.AngularVelocity,
                    }, action);
                    plannerRan = true;
                    (plannedV, plannedW) = (action[0], action[1]);
                    bad = FirstNonFinite(action);
                    if (bad >= 0) (trigger, value, axis) = (SafetyTrigger.NonFiniteAction, action[bad], bad);
                    else
                    {
                        v = Math.Clamp(action[0], -1f, 1f) * maxV;
                        w = Math.Clamp(action[1], -1f, 1f) * maxW;
                    }
                }
                (next, reason) = trigger == SafetyTrigger.None ? (NodeMode.Policy, ModeReason.Driving) : (NodeMode.Fallback, ModeReason.SafetyViolation);
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
                    (trigger, value, limit) = (SafetyTrigger.ObstacleTooClose, nearest, config.Limits.MinObstacleDistanceM);
                    v = 0;
                }
            }
        }
        else v = w = 0;

        if (trigger != SafetyTrigger.None) SafetyTicks++;
        var violation = next == NodeMode.Fallback ? new SafetyViolation(trigger, value, limit, axis) : default;
        if (next != Mode || (next == NodeMode.Fallback && trigger != lastTrigger)) node.ChangeMode(next, reason, violation, nowNs);
        bool limitedNow = next == NodeMode.Policy && trigger == SafetyTrigger.ObstacleTooClose;
        if (limitedNow != limited)
        {
            node.AddEvent(new NodeEvent
            {
                TimestampNs = nowNs,
                Tick = node.CurrentTick,
                Kind = NodeEventKind.MotionLimited,
                Mode = next,
                Command = NodeCommandKindOrNone.None,
                Violation = limitedNow ? new SafetyViolation(trigger, value, limit) : default,
            });
            limited = limitedNow;
        }
        lastTrigger = trigger;

        // The previous action the next observation holds is the one applied (as in the simulator).
        previousLinearAction = v / config.Robot.MaxLinearVelocity;
        previousAngularAction = w / config.Robot.MaxAngularVelocity;
        Send(nowNs, v, w, next == NodeMode.Policy ? ActionSource.Policy : ActionSource.Fallback);
    }

    void Send(long nowNs, float v, float w, ActionSource source)
    {
        float halfTrack = config.Robot.TrackWidth / 2, radius = config.Robot.WheelRadius;
        lastCommand = new VelocityCommand
        {
            TimestampNs = nowNs,
            Sequence = ++commandSequence,
            LinearVelocity = v,
            AngularVelocity = w,
            LeftWheelRadS = (v - w * halfTrack) / radius,
            RightWheelRadS = (v + w * halfTrack) / radius,
            Source = source,
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

    public void DescribeTick(ref TickRecord record, Span<byte> state)
    {
        record.Source = lastCommand.Source;
        record.PolicyRan = plannerRan;
        record.Intervention = false;
        record.Action = new ActuatorValues(2) { [0] = lastCommand.LinearVelocity / config.Robot.MaxLinearVelocity, [1] = lastCommand.AngularVelocity / config.Robot.MaxAngularVelocity };
        record.PolicyAction = new ActuatorValues(2) { [0] = plannedV, [1] = plannedW };
        log.Capture(state, hasOdometry, in lastOdometry, hasScan, in lastScan, ranges, hasGoal, goalX, goalY, in lastCommand);
    }

    /// <summary>No telemetry frame for ground robots yet (their transports publish odometry themselves).</summary>
    public void PublishTelemetry(long nowNs, in TickStatistics window) { }

    /// <summary>Leaves the robot stopped.</summary>
    public void Stopped(long nowNs) => Send(nowNs, 0, 0, ActionSource.Fallback);

    public string StateName => "odometry and scan";

    public string Progress()
    {
        OdometrySample o = lastOdometry;
        VelocityCommand c = lastCommand;
        string goal = Goal is { } g ? string.Create(CultureInfo.InvariantCulture, $"goal ({g.X:F2}, {g.Y:F2}) {MathF.Sqrt((g.X - o.X) * (g.X - o.X) + (g.Y - o.Y) * (g.Y - o.Y)):F2} m away") : "no goal";
        return string.Create(CultureInfo.InvariantCulture,
            $"pose ({o.X,5:F2}, {o.Y,5:F2}, {o.Yaw,5:F2} rad)  cmd v {c.LinearVelocity,5:F2} m/s ω {c.AngularVelocity,5:F2} rad/s  {goal}");
    }

    public string Summary() => string.Create(CultureInfo.InvariantCulture, $"goals reached {GoalsReached}; {SafetyTicks} ticks stopped or limited by safety");

    public void AddSummary(JsonObject result)
    {
        result["goals_reached"] = GoalsReached;
        result["safety_ticks"] = SafetyTicks;
    }

    /// <summary>A ground robot's run does not fail on a stop: stopping is what its supervisor is for (and every run starts stopped until the sensors arrive).</summary>
    public string? Failure() => null;

    public IEnumerable<string> ReportLines() => [];

    public void Dispose() { }
}
