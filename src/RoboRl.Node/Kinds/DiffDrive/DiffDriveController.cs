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
    readonly PolicyEngine _engine = new(bundle);
    public PolicyEngine Engine => _engine;
    public void Plan(in LocalPlannerInput input, Span<float> action) => _engine.Forward(input.Observation, action);
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
    readonly NodeConfig _nodeConfig;
    readonly DiffDriveNodeSettings _config;
    readonly ILocalPlanner _planner;
    readonly IGroundSensorSource _sensors;
    readonly IVelocityCommandSink _sink;
    readonly DiffDriveNodeLog _log;
    readonly int _scanBins;
    readonly float[] _ranges, _observation, _action = new float[NavObservation.ActionSize];
    readonly long _scanTimeoutNs, _odometryTimeoutNs;
    readonly float _footprintRadius;
    InferenceNode _node = null!;
    uint _commandSequence, _goalSequence;
    bool _hasGoal, _goalDone, _hasOdometry, _hasScan, _limited;
    float _goalX, _goalY, _previousLinearAction, _previousAngularAction;
    int _overrunStreak;
    SafetyTrigger _lastTrigger = (SafetyTrigger)255;
    VelocityCommand _lastCommand;
    OdometrySample _lastOdometry;
    ScanSample _lastScan;
    // This tick's record.
    bool _plannerRan;
    float _plannedV, _plannedW;

    /// <param name="observationSize">The planner's observation size (a bundle's ObservationSize); the scan bins are what precedes the 7 state values.</param>
    /// <param name="flightMetadata">What identifies the robot and the planner's spec in the log.</param>
    public DiffDriveController(NodeConfig config, ILocalPlanner planner, int observationSize, IGroundSensorSource sensors, IVelocityCommandSink sink,
        IReadOnlyDictionary<string, string>? flightMetadata = null)
    {
        _nodeConfig = config;
        this._config = config.SettingsAs<DiffDriveNodeSettings>();
        this._planner = planner;
        this._sensors = sensors;
        this._sink = sink;
        DiffDriveNodeSettings s = this._config;
        _scanBins = observationSize - NavObservation.ActorSize(0);
        if (_scanBins < 1 || s.Robot.Lidar.Beams % _scanBins != 0)
            throw new ArgumentException($"an observation of {observationSize} values leaves {_scanBins} scan bins, which do not divide the lidar's {s.Robot.Lidar.Beams} beams");
        _ranges = new float[s.Robot.Lidar.Beams];
        _observation = new float[observationSize];
        _scanTimeoutNs = (long)(s.Limits.ScanTimeoutS * 1e9);
        _odometryTimeoutNs = (long)(s.Limits.OdometryTimeoutS * 1e9);
        _footprintRadius = s.Robot.RobotRadius;
        _log = new DiffDriveNodeLog(s.Robot.Lidar.Beams, config.RateHz);
        FlightMetadata = flightMetadata ?? new Dictionary<string, string>();
        if (s.Goal is { } g)
        {
            _hasGoal = true;
            (_goalX, _goalY) = g;
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
    public DiffDriveNodeSettings Settings => _config;
    NodeMode Mode => _node.Mode;
    public VelocityCommand LastCommand => _lastCommand;
    public OdometrySample LastOdometry => _lastOdometry;
    public int GoalsReached { get; private set; }
    /// <summary>Ticks in which the robot was stopped or limited by a safety rule.</summary>
    public long SafetyTicks { get; private set; }
    public (float X, float Y)? Goal => _hasGoal ? (_goalX, _goalY) : null;
    public bool GoalDone => _goalDone;
    public bool HasState => _hasOdometry && _hasScan;
    public int ObservationSize => _observation.Length;
    public ReadOnlySpan<float> Observation => _observation;
    public INodeLog Log => _log;
    public IReadOnlyDictionary<string, string> FlightMetadata { get; }

    public void Attach(InferenceNode node) => this._node = node;

    public void Handle(in NodeCommand command, long nowNs)
    {
        switch (command.Kind)
        {
            case NodeCommandKind.Setpoint: // an operator's setpoint is a ground robot's goal (x, y; z ignored)
                if (float.IsFinite(command.Setpoint.X) && float.IsFinite(command.Setpoint.Y))
                {
                    (_goalX, _goalY) = (command.Setpoint.X, command.Setpoint.Y);
                    _hasGoal = true;
                    _goalDone = false;
                }
                else _node.Refuse(NodeCommandKindOrNone.Setpoint, new SafetyViolation(SafetyTrigger.NonFiniteSetpoint, float.NaN, 0), nowNs);
                break;
            case NodeCommandKind.Land or NodeCommandKind.Disarm: // stop here and wait for the next goal
                _hasGoal = false;
                break;
        }
    }

    public void Tick(in NodeTick tick)
    {
        long nowNs = tick.StartNs;
        _overrunStreak = tick.Overrun ? _overrunStreak + 1 : 0;
        SafetyTrigger trigger = SafetyTrigger.None;
        float value = 0, limit = 0;
        float v = 0, w = 0;
        _plannerRan = false;

        bool haveOdometry = _sensors.TryGetOdometry(out OdometrySample odometry);
        if (haveOdometry) { _lastOdometry = odometry; _hasOdometry = true; }
        bool haveScan = _sensors.TryGetScan(_ranges, out ScanSample scan);
        if (haveScan) { _lastScan = scan; _hasScan = true; }
        if (_sensors.TryGetGoal(out GoalSample goal) && goal.Sequence != _goalSequence)
        {
            _goalSequence = goal.Sequence;
            _goalX = goal.X;
            _goalY = goal.Y;
            _hasGoal = true;
            _goalDone = false;
        }

        if (Mode == NodeMode.Killed) { Send(nowNs, 0, 0, ActionSource.Fallback); return; } // latched: stopped until restarted

        if (!haveScan || nowNs - scan.TimestampNs > _scanTimeoutNs)
            (trigger, value, limit) = (SafetyTrigger.StaleScan, haveScan ? (nowNs - scan.TimestampNs) / 1e6f : float.PositiveInfinity, _scanTimeoutNs / 1e6f);
        else if (!haveOdometry || nowNs - odometry.TimestampNs > _odometryTimeoutNs)
            (trigger, value, limit) = (SafetyTrigger.StaleOdometry, haveOdometry ? (nowNs - odometry.TimestampNs) / 1e6f : float.PositiveInfinity, _odometryTimeoutNs / 1e6f);
        else if (scan.Count != _ranges.Length)
            (trigger, value, limit) = (SafetyTrigger.ScanMismatch, scan.Count, _ranges.Length);
        else if (_overrunStreak >= _config.Limits.OverrunStreak)
            (trigger, value, limit) = (SafetyTrigger.OverrunStreak, _overrunStreak, _config.Limits.OverrunStreak);

        NodeMode next;
        ModeReason reason = ModeReason.SafetyViolation;
        int axis = -1;
        if (trigger != SafetyTrigger.None) next = NodeMode.Fallback;
        else if (!_hasGoal || _goalDone) (next, reason) = (NodeMode.Idle, _goalDone ? ModeReason.GoalReached : ModeReason.WaitingForGoal);
        else
        {
            float dx = _goalX - odometry.X, dy = _goalY - odometry.Y;
            float distance = MathF.Sqrt(dx * dx + dy * dy);
            if (distance < _config.GoalToleranceM)
            {
                _goalDone = true;
                GoalsReached++;
                _node.AddEvent(new NodeEvent
                {
                    TimestampNs = nowNs,
                    Tick = _node.CurrentTick,
                    Kind = NodeEventKind.GoalReached,
                    Mode = Mode,
                    Command = NodeCommandKindOrNone.None,
                    Requested = new System.Numerics.Vector3(_goalX, _goalY, 0),
                    Applied = new System.Numerics.Vector3(distance, 0, 0),
                });
                (next, reason) = (NodeMode.Idle, ModeReason.GoalReached);
            }
            else
            {
                float maxV = _config.Robot.MaxLinearVelocity, maxW = _config.Robot.MaxAngularVelocity;
                NavObservation.Build(_ranges, scan.RangeMin, scan.RangeMax, _scanBins, odometry.X, odometry.Y, odometry.Yaw, _goalX, _goalY,
                    odometry.LinearVelocity, odometry.AngularVelocity, maxV, maxW, _previousLinearAction, _previousAngularAction, _observation);
                int bad = FirstNonFinite(_observation);
                if (bad >= 0) (trigger, value, axis) = (SafetyTrigger.NonFiniteObservation, _observation[bad], bad);
                else
                {
                    int goalAt = NavObservation.GoalOffset(_scanBins);
                    _planner.Plan(new LocalPlannerInput
                    {
                        Observation = _observation,
                        Scan = _ranges,
                        GoalDistance = _observation[goalAt],
                        GoalBearing = MathF.Atan2(_observation[goalAt + 1], _observation[goalAt + 2]),
                        LinearVelocity = odometry.LinearVelocity,
                        AngularVelocity = odometry.AngularVelocity,
                    }, _action);
                    _plannerRan = true;
                    (_plannedV, _plannedW) = (_action[0], _action[1]);
                    bad = FirstNonFinite(_action);
                    if (bad >= 0) (trigger, value, axis) = (SafetyTrigger.NonFiniteAction, _action[bad], bad);
                    else
                    {
                        v = Math.Clamp(_action[0], -1f, 1f) * maxV;
                        w = Math.Clamp(_action[1], -1f, 1f) * maxW;
                    }
                }
                (next, reason) = trigger == SafetyTrigger.None ? (NodeMode.Policy, ModeReason.Driving) : (NodeMode.Fallback, ModeReason.SafetyViolation);
            }
        }

        if (next == NodeMode.Policy)
        {
            v = Math.Clamp(v, -_config.Limits.MaxLinearVelocityMS, _config.Limits.MaxLinearVelocityMS);
            w = Math.Clamp(w, -_config.Limits.MaxAngularVelocityRadS, _config.Limits.MaxAngularVelocityRadS);
            // Translation towards a near obstacle is stopped; the planner keeps steering.
            if (v != 0)
            {
                float nearest = NearestInPath(scan, v > 0 ? 1f : -1f);
                if (nearest < _config.Limits.MinObstacleDistanceM)
                {
                    (trigger, value, limit) = (SafetyTrigger.ObstacleTooClose, nearest, _config.Limits.MinObstacleDistanceM);
                    v = 0;
                }
            }
        }
        else v = w = 0;

        if (trigger != SafetyTrigger.None) SafetyTicks++;
        var violation = next == NodeMode.Fallback ? new SafetyViolation(trigger, value, limit, axis) : default;
        if (next != Mode || (next == NodeMode.Fallback && trigger != _lastTrigger)) _node.ChangeMode(next, reason, violation, nowNs);
        bool limitedNow = next == NodeMode.Policy && trigger == SafetyTrigger.ObstacleTooClose;
        if (limitedNow != _limited)
        {
            _node.AddEvent(new NodeEvent
            {
                TimestampNs = nowNs,
                Tick = _node.CurrentTick,
                Kind = NodeEventKind.MotionLimited,
                Mode = next,
                Command = NodeCommandKindOrNone.None,
                Violation = limitedNow ? new SafetyViolation(trigger, value, limit) : default,
            });
            _limited = limitedNow;
        }
        _lastTrigger = trigger;

        // The previous action the next observation holds is the one applied (as in the simulator).
        _previousLinearAction = v / _config.Robot.MaxLinearVelocity;
        _previousAngularAction = w / _config.Robot.MaxAngularVelocity;
        Send(nowNs, v, w, next == NodeMode.Policy ? ActionSource.Policy : ActionSource.Fallback);
    }

    void Send(long nowNs, float v, float w, ActionSource source)
    {
        float halfTrack = _config.Robot.TrackWidth / 2, radius = _config.Robot.WheelRadius;
        _lastCommand = new VelocityCommand
        {
            TimestampNs = nowNs,
            Sequence = ++_commandSequence,
            LinearVelocity = v,
            AngularVelocity = w,
            LeftWheelRadS = (v - w * halfTrack) / radius,
            RightWheelRadS = (v + w * halfTrack) / radius,
            Source = source,
        };
        _sink.Send(_lastCommand);
    }

    /// <summary>
    /// How far the footprint (a circle of robot_radius about the lidar) can translate forward (<paramref name="direction"/> +1)
    /// or backward (−1) before it touches a valid return: a return at (x, y) in the robot frame with |y| &lt; R is hit after
    /// direction·x − √(R² − y²). +∞ when nothing lies in that corridor.
    /// </summary>
    float NearestInPath(in ScanSample scan, float direction)
    {
        float nearest = float.PositiveInfinity, r2 = _footprintRadius * _footprintRadius;
        for (int k = 0; k < scan.Count; k++)
        {
            float r = _ranges[k];
            if (!(r >= scan.RangeMin) || float.IsPositiveInfinity(r)) continue; // NaN, +∞ (no return), below range_min (unreliable)
            float angle = scan.AngleMin + k * scan.AngleIncrement;
            float ahead = direction * r * MathF.Cos(angle), side = r * MathF.Sin(angle);
            if (ahead <= 0 || MathF.Abs(side) >= _footprintRadius) continue;
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
        record.Source = _lastCommand.Source;
        record.PolicyRan = _plannerRan;
        record.Intervention = false;
        record.Action = new ActuatorValues(2) { [0] = _lastCommand.LinearVelocity / _config.Robot.MaxLinearVelocity, [1] = _lastCommand.AngularVelocity / _config.Robot.MaxAngularVelocity };
        record.PolicyAction = new ActuatorValues(2) { [0] = _plannedV, [1] = _plannedW };
        _log.Capture(state, _hasOdometry, in _lastOdometry, _hasScan, in _lastScan, _ranges, _hasGoal, _goalX, _goalY, in _lastCommand);
    }

    /// <summary>No telemetry frame for ground robots yet (their transports publish odometry themselves).</summary>
    public void PublishTelemetry(long nowNs, in TickStatistics window) { }

    /// <summary>Leaves the robot stopped.</summary>
    public void Stopped(long nowNs) => Send(nowNs, 0, 0, ActionSource.Fallback);

    public string StateName => "odometry and scan";

    public string Progress()
    {
        OdometrySample o = _lastOdometry;
        VelocityCommand c = _lastCommand;
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
