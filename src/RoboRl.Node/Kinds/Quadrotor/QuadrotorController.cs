using System.Globalization;
using System.Numerics;
using System.Text.Json.Nodes;
using RoboRl.Core.Messages;
using RoboRl.Core.Policy;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Robots;
using RoboRl.Core.Tasks;

namespace RoboRl.Node;

/// <summary>
/// The quadrotor's controller in the real-time node (<see cref="InferenceNode"/>), for a hover/tracking policy. Each tick:
/// <list type="number">
/// <item>the newest sensor sample and teleop sample are read;</item>
/// <item>the setpoint is clamped into the geofence and rate-limited (logged when clamped);</item>
/// <item>the newest sensor sample goes through <see cref="HoverObservation"/> — the simulator's own builder — with an
///   action history kept at the policy's control rate: the node runs k = rate / control rate times faster and each
///   history slot holds the mean of k consecutive applied actions (as the Crazyflie firmware does: FACTS.md, policy
///   at 500 Hz, 5 outputs averaged per 100 Hz slot);</item>
/// <item><see cref="PolicyEngine.Forward"/> (or the microcontroller: QuadrotorController.RemotePolicy.cs);</item>
/// <item>arbitration: kill switch &gt; safety supervisor (→ fallback controller, same tick) &gt; human override &gt; policy;</item>
/// <item>arming a robot that is not flying steadily (on the floor, say) starts a take-off: the classical controller
///   climbs to the setpoint and the policy takes over once the robot has been steady inside its envelope
///   (<see cref="TakeoffConfig"/>); a Land command (or Disarm in the air) lands with that controller and disarms;</item>
/// <item>the actuator command (action, force per rotor, rotor speed) is sent.</item>
/// </list>
/// A tick allocates nothing (tested). A policy bundle trained for another robot, with another observation size or at
/// a rate that does not divide the node's rate is refused in the constructor, before anything can arm.
/// </summary>
public sealed partial class QuadrotorController : IRobotController
{
    private readonly NodeConfig _nodeConfig;
    private readonly QuadrotorNodeSettings _config;
    private readonly PolicyEngine _engine;
    private readonly PolicyBundle _bundle;
    private readonly ISensorSource _sensor;
    private readonly IActuatorSink _actuator;
    private readonly IFallbackController _fallback;
    private readonly SafetySupervisor _supervisor;
    private readonly QuadrotorNodeLog _log;
    private InferenceNode _node = null!;

    private readonly float[] _observation, _history, _policyAction = new float[4], _fallbackAction = new float[4], _historySum = new float[4];
    // The observation's position-error integral: advanced every flying tick by the tick period, zeroed at arming.
    private readonly float[] _positionIntegral = new float[HoverObservation.IntegralSize];
    private readonly float _tickSeconds;
    private readonly int _historySubsteps;
    private int _historyCount;
    private readonly float _hoverAction;
    private readonly long _teleopTimeoutNs, _handoverHoldNs;
    private readonly float _handoverMinTiltCos;
    private long _envelopeSinceNs = -1;
    private Vector3 _takeoffTarget;

    private bool _armedOnce, _nudgeLimitLogged;
    private uint _commandSequence;
    private long _lastTickNs = -1;
    private Vector3 _requestedSetpoint, _setpoint;
    private ActuatorCommand _lastCommand;
    private RobotStateSample _lastState;
    private bool _hasState;

    // This tick's record (what the recorder gets).
    private bool _policyRan, _intervention;
    private Vector4 _applied, _human;
    private ActionSource _source;

    // Tracking error while the policy (or human) flies.
    private double _trackingSquaredSum, _trackingMax;
    private long _trackingSamples;

    /// <param name="groundTruth">A simulated robot whose true state is recorded with every tick (/ground_truth); null for real robots.</param>
    public QuadrotorController(NodeConfig config, PolicyBundle bundle, ISensorSource sensor, IActuatorSink actuator,
        IFallbackController? fallback = null, IGroundTruthSource? groundTruth = null)
    {
        _nodeConfig = config;
        _config = config.SettingsAs<QuadrotorNodeSettings>();
        CheckBundle(config, bundle);
        _bundle = bundle;
        _engine = new PolicyEngine(bundle);
        _sensor = sensor;
        _actuator = actuator;
        _fallback = fallback ?? new QuadrotorFallbackController(_config.Robot, _config.Fallback, _config.Geofence, _config.Limits.SetpointMarginM, _config.Limits.SensorTimeoutS);
        _supervisor = new SafetySupervisor(_config.Geofence, _config.Limits);
        _log = new QuadrotorNodeLog(groundTruth);
        _historySubsteps = (int)Math.Round(config.RateHz / bundle.ControlRateHz);
        _observation = new float[bundle.ObservationSize];
        _history = new float[HoverObservation.ActionSize * bundle.ActionHistoryLength];
        _hoverAction = _config.Robot.HoverAction();
        HoverObservation.FillHistory(_history, _hoverAction);
        _tickSeconds = 1f / (float)config.RateHz; // the nominal period: the integral then matches lock-step and simulated runs
        _teleopTimeoutNs = (long)(_config.Limits.TeleopTimeoutS * 1e9);
        _handoverHoldNs = (long)(_config.Takeoff.HandoverHoldS * 1e9);
        _handoverMinTiltCos = MathF.Cos(_config.Takeoff.HandoverTiltDeg * MathF.PI / 180f);
        _requestedSetpoint = _setpoint = _config.Setpoint;
        FlightMetadata = Logs.FlightLogMetadata.Build(bundle, config.RobotConfigJson, config.RateHz);
    }

    /// <summary>
    /// Refuses (<see cref="PolicyMismatchException"/>) a bundle that was not trained for the node's robot config, whose
    /// observation is not the hover layout (18 + 4·history + 3), whose actions are not 4 rotor forces, or whose control rate
    /// does not divide the node's rate.
    /// </summary>
    public static void CheckBundle(NodeConfig config, PolicyBundle bundle)
    {
        bundle.CheckCompatible(config.RobotConfigJson);
        int expected = HoverObservation.ActorSize(bundle.ActionHistoryLength);
        if (bundle.ObservationSize != expected)
            throw new PolicyMismatchException("node", PolicyBundle.KeyObservationNames,
                $"the node builds the hover observation of {expected} values (18 + 4 × {bundle.ActionHistoryLength} past actions + 3 position-error integral); the policy takes {bundle.ObservationSize}");
        if (bundle.ActionSize != HoverObservation.ActionSize)
            throw new PolicyMismatchException("node", PolicyBundle.KeyActionNames, $"the node drives 4 rotors; the policy has {bundle.ActionSize} actions");
        if (bundle.ActionUnit != HoverObservation.ActionUnit)
            throw new PolicyMismatchException("node", PolicyBundle.KeyActionUnit,
                $"the node commands rotor forces in newtons (the robot's \"actuation\"); the policy's unit is \"{bundle.ActionUnit}\" (a bundle from before the firmware's actuator model: retrain it)");
        double ratio = config.RateHz / bundle.ControlRateHz;
        if (ratio < 1 - 1e-9 || Math.Abs(ratio - Math.Round(ratio)) > 1e-6)
            throw new PolicyMismatchException("node", PolicyBundle.KeyControlRateHz,
                $"the node's rate_hz {config.RateHz} ({config.File}) must be a whole multiple of the policy's control rate {bundle.ControlRateHz} Hz");
    }

    public string Kind => "quadrotor";
    public QuadrotorNodeSettings Settings => _config;
    public PolicyEngine Engine => _engine;
    public PolicyBundle Bundle => _bundle;
    private NodeMode Mode => _node.Mode;
    /// <summary>The setpoint the policy is given now (clamped, rate-limited).</summary>
    public Vector3 Setpoint => _setpoint;
    /// <summary>The setpoint last requested (clamped into the geofence).</summary>
    public Vector3 RequestedSetpoint => _requestedSetpoint;
    public FallbackPhase FallbackPhase => _fallback.Phase;
    public ActuatorCommand LastCommand => _lastCommand;
    public RobotStateSample LastState => _lastState;
    public bool HasState => _hasState;
    /// <summary>Ticks per history slot (rate / policy control rate).</summary>
    public int HistorySubsteps => _historySubsteps;
    public int ObservationSize => _observation.Length;
    public ReadOnlySpan<float> Observation => _observation;
    public INodeLog Log => _log;
    public IReadOnlyDictionary<string, string> FlightMetadata { get; }
    /// <summary>Root-mean-square and largest distance from the setpoint while the policy or a human flew, metres.</summary>
    public (double Rms, double Max, long Samples) TrackingError =>
        (_trackingSamples == 0 ? 0 : Math.Sqrt(_trackingSquaredSum / _trackingSamples), _trackingMax, _trackingSamples);

    public void Attach(InferenceNode node) => _node = node;

    /// <summary>A node flying this controller (the composition <see cref="QuadrotorNodeKind"/> does for a run, for tests and lock-step tools).</summary>
    public static InferenceNode CreateNode(NodeConfig config, PolicyBundle bundle, ISensorSource sensor, IActuatorSink actuator,
        IFallbackController? fallback = null, NodeRecorder? recorder = null, IGroundTruthSource? groundTruth = null) =>
        new(config, new QuadrotorController(config, bundle, sensor, actuator, fallback, groundTruth), recorder);

    // ---------------------------------------------------------------------------------------------
    // The tick.

    public void Tick(in NodeTick tick)
    {
        long startNs = tick.StartNs;
        float dt = _lastTickNs < 0 ? 1f / _nodeConfig.RateHz : Math.Clamp((startNs - _lastTickNs) * 1e-9f, 0f, 0.1f);
        _lastTickNs = startNs;
        _supervisor.NoteTick(tick.Overrun);
        ReadOnlySpan<ITeleopSource> teleopSources = _node.TeleopSources;

        // 2. Newest state and human input.
        if (_sensor.TryGetLatest(out RobotStateSample newest)) { _lastState = newest; _hasState = true; }
        RobotStateSample state = _lastState;
        bool teleopHeld = false;
        TeleopSample teleop = default;
        for (int t = 0; t < teleopSources.Length; t++)
        {
            if (teleopSources[t].TryGetLatest(out TeleopSample sample) && sample.Kind != TeleopKind.None && startNs - sample.TimestampNs <= _teleopTimeoutNs)
            {
                teleop = sample;
                teleopHeld = true;
                break;
            }
        }

        // 3. Setpoint: a human nudge moves the request (speed-limited); the setpoint follows the request at most at the speed limit.
        float maxSpeed = _config.Limits.MaxSetpointSpeedMS;
        if (teleopHeld && teleop.Kind == TeleopKind.NudgeSetpoint && Mode is NodeMode.Policy)
        {
            Vector3 velocity = teleop.SetpointVelocity;
            float speed = velocity.Length();
            if (!(speed <= maxSpeed))
            {
                Vector3 asked = velocity;
                velocity = float.IsFinite(speed) ? velocity * (maxSpeed / speed) : Vector3.Zero;
                if (!_nudgeLimitLogged)
                    _node.AddEvent(new NodeEvent { TimestampNs = startNs, Tick = _node.CurrentTick, Kind = NodeEventKind.SetpointSpeedLimited, Mode = Mode, Command = NodeCommandKindOrNone.None, Requested = asked, Applied = velocity });
                _nudgeLimitLogged = true;
            }
            else _nudgeLimitLogged = false;
            RequestSetpoint(_requestedSetpoint + velocity * dt, startNs, NodeCommandKindOrNone.None);
        }
        Vector3 toward = _requestedSetpoint - _setpoint;
        float distance = toward.Length();
        float step = maxSpeed * dt;
        _setpoint = distance <= step ? _requestedSetpoint : _setpoint + toward * (step / distance);

        // 4. Arming (automatic once, if configured); the take-off hands over to the policy inside its envelope.
        if (Mode == NodeMode.Idle && _config.AutoArm && !_armedOnce) TryArm(startNs, NodeCommandKindOrNone.None);
        if (Mode is NodeMode.TakingOff or NodeMode.Landing)
        {
            SafetyViolation violation = _supervisor.CheckState(_hasState, in state, startNs);
            if (violation.Tripped) EnterFallback(violation, ModeReason.SafetyViolation, in state, startNs, landNow: Mode == NodeMode.Landing);
            else if (Mode == NodeMode.TakingOff)
            {
                if (!Steady(in state) || Vector3.Distance(state.Position, _takeoffTarget) > _config.Takeoff.HandoverPositionM) _envelopeSinceNs = -1;
                else if (_envelopeSinceNs < 0) _envelopeSinceNs = startNs;
                if (_envelopeSinceNs >= 0 && startNs - _envelopeSinceNs >= _handoverHoldNs) StartPolicy(in state, ModeReason.HandedOver, startNs);
            }
        }

        // 5. Observation and policy, then the supervisor on state, observation and action.
        bool flying = Mode is NodeMode.Policy or NodeMode.Human;
        bool policyRan = false;
        if (flying)
        {
            SafetyViolation violation = _supervisor.CheckState(_hasState, in state, startNs);
            if (!violation.Tripped)
            {
                HoverObservation.BuildActor(state.Position, state.Orientation, state.VelocityWorld, state.AngularVelocityBody,
                    _setpoint, _history, _positionIntegral, _tickSeconds, _observation);
                violation = _supervisor.CheckNumbers(_observation, ReadOnlySpan<float>.Empty);
                if (!violation.Tripped)
                {
                    // In process, or on a microcontroller (QuadrotorController.RemotePolicy.cs; silence trips the supervisor).
                    policyRan = _remote is null ? ForwardLocally() : InferRemotely(in state, out violation);
                    if (policyRan) violation = _supervisor.CheckNumbers(ReadOnlySpan<float>.Empty, _policyAction);
                }
            }
            if (violation.Tripped) EnterFallback(violation, ModeReason.SafetyViolation, in state, startNs, landNow: false);
        }

        // 6. Arbitration: kill > supervisor (fallback) > human > policy.
        Vector4 applied;
        ActionSource source;
        bool intervention = false;
        Vector4 human = default;
        switch (Mode)
        {
            case NodeMode.Fallback or NodeMode.TakingOff or NodeMode.Landing: // the classical controller flies
                _fallback.Compute(in state, startNs, _fallbackAction);
                applied = new Vector4(_fallbackAction[0], _fallbackAction[1], _fallbackAction[2], _fallbackAction[3]);
                source = ActionSource.Fallback;
                if (_fallback.Phase == FallbackPhase.Disarmed) _node.ChangeMode(NodeMode.Idle, ModeReason.Landed, default, startNs);
                break;
            case NodeMode.Policy or NodeMode.Human:
                if (teleopHeld && teleop.Kind == TeleopKind.TakeOver)
                {
                    if (Mode != NodeMode.Human) _node.ChangeMode(NodeMode.Human, ModeReason.HumanTakeOver, default, startNs);
                    human = Vector4.Clamp(Finite(teleop.Action) ? teleop.Action : new Vector4(_hoverAction), new Vector4(-1), Vector4.One);
                    applied = human;
                    source = ActionSource.Human;
                    intervention = true;
                }
                else
                {
                    if (Mode == NodeMode.Human) _node.ChangeMode(NodeMode.Policy, ModeReason.HumanReleased, default, startNs);
                    applied = Vector4.Clamp(new Vector4(_policyAction[0], _policyAction[1], _policyAction[2], _policyAction[3]), new Vector4(-1), Vector4.One);
                    source = ActionSource.Policy;
                }
                Vector3 error = state.Position - _setpoint;
                double e = error.Length();
                _trackingSquaredSum += e * e;
                _trackingSamples++;
                if (e > _trackingMax) _trackingMax = e;
                break;
            default: // Idle, Killed: motors off
                applied = new Vector4(-1);
                source = ActionSource.Fallback;
                break;
        }

        // 7. Actuators: the force each action means on this robot (its actuator model), and the rotor speed making it.
        Vector4 thrust = Vector4.Zero;
        if (Mode is not (NodeMode.Idle or NodeMode.Killed))
        {
            ActuatorModel actuator = _config.Robot.Actuator;
            thrust = new Vector4(actuator.ThrustFromAction(applied.X), actuator.ThrustFromAction(applied.Y),
                actuator.ThrustFromAction(applied.Z), actuator.ThrustFromAction(applied.W));
        }
        var command = new ActuatorCommand
        {
            TimestampNs = startNs,
            Sequence = ++_commandSequence,
            Action = applied,
            ThrustN = thrust,
            RotorRpm = new Vector4(_config.Robot.RpmForThrust(thrust.X), _config.Robot.RpmForThrust(thrust.Y),
                _config.Robot.RpmForThrust(thrust.Z), _config.Robot.RpmForThrust(thrust.W)),
            Source = source,
        };
        _actuator.Send(in command);
        _lastCommand = command;
        _policyRan = policyRan;
        _intervention = intervention;
        _applied = applied;
        _human = human;
        _source = source;

        // 8. Action history at the policy's control rate: the mean of k applied actions per slot.
        _historySum[0] += applied.X; _historySum[1] += applied.Y; _historySum[2] += applied.Z; _historySum[3] += applied.W;
        if (++_historyCount == _historySubsteps)
        {
            float inverse = 1f / _historySubsteps;
            for (int m = 0; m < 4; m++) _historySum[m] *= inverse;
            HoverObservation.PushAction(_history, _historySum);
            Array.Clear(_historySum);
            _historyCount = 0;
        }

    }

    // ---------------------------------------------------------------------------------------------
    // Commands, arming, take-off, landing.

    public void Handle(in NodeCommand command, long nowNs)
    {
        switch (command.Kind)
        {
            case NodeCommandKind.Arm:
                if (Mode == NodeMode.Idle) TryArm(nowNs, NodeCommandKindOrNone.Arm);
                else _node.Refuse(NodeCommandKindOrNone.Arm, default, nowNs, Mode == NodeMode.Killed ? ModeReason.KilledEarlier : ModeReason.AlreadyFlying);
                break;
            case NodeCommandKind.Land:
                if (Mode is NodeMode.Policy or NodeMode.Human or NodeMode.TakingOff) Land(ModeReason.LandCommand, nowNs);
                break;
            case NodeCommandKind.Disarm:
                // Disarming in the air would drop the robot: land first; on the ground, motors off.
                if (Mode is NodeMode.Policy or NodeMode.Human or NodeMode.TakingOff)
                {
                    if (_hasState && _lastState.Position.Z > _config.Fallback.LandedHeightM) Land(ModeReason.DisarmCommand, nowNs);
                    else _node.ChangeMode(NodeMode.Idle, ModeReason.DisarmCommand, default, nowNs);
                }
                else if (Mode == NodeMode.Fallback && _fallback.Phase == FallbackPhase.Disarmed) _node.ChangeMode(NodeMode.Idle, ModeReason.DisarmCommand, default, nowNs);
                break;
            case NodeCommandKind.Setpoint:
                RequestSetpoint(command.Setpoint, nowNs, NodeCommandKindOrNone.Setpoint);
                break;
        }
    }

    /// <summary>Sets the requested setpoint, clamped into the geofence less its margin (a clamp is logged; non-finite is refused).</summary>
    private void RequestSetpoint(Vector3 requested, long nowNs, NodeCommandKindOrNone origin)
    {
        if (!Finite(requested))
        {
            _node.Refuse(NodeCommandKindOrNone.Setpoint, new SafetyViolation(SafetyTrigger.NonFiniteSetpoint, float.NaN, 0), nowNs);
            return;
        }
        Vector3 clamped = _config.Geofence.Clamp(requested, _config.Limits.SetpointMarginM);
        if (clamped != requested && (origin != NodeCommandKindOrNone.None || _requestedSetpoint != clamped))
        {
            // A nudge held against the fence would log every tick: log it when the kept setpoint moves, and every command.
            _node.AddEvent(new NodeEvent { TimestampNs = nowNs, Tick = _node.CurrentTick, Kind = NodeEventKind.SetpointClamped, Mode = Mode, Command = origin, Requested = requested, Applied = clamped });
        }
        _requestedSetpoint = clamped;
    }

    private void TryArm(long nowNs, NodeCommandKindOrNone origin)
    {
        SafetyViolation violation = _supervisor.CheckState(_hasState, in _lastState, nowNs);
        if (violation.Tripped)
        {
            // Automatic arming waits quietly for the first fresh sample; anything else is refused and logged.
            if (origin != NodeCommandKindOrNone.None || violation.Trigger != SafetyTrigger.StaleSensor) _node.Refuse(NodeCommandKindOrNone.Arm, violation, nowNs);
            if (origin == NodeCommandKindOrNone.None && violation.Trigger != SafetyTrigger.StaleSensor) _armedOnce = true;
            return;
        }
        _armedOnce = true;
        if (_lastState.Position.Z >= _config.Takeoff.AirborneHeightM && Steady(in _lastState))
        {
            StartPolicy(in _lastState, ModeReason.Armed, nowNs); // already flying steadily (another controller held it)
            return;
        }
        // The climb aims at the setpoint of the moment (a setpoint moved meanwhile is reached by the policy, at the speed limit).
        _takeoffTarget = _requestedSetpoint;
        _fallback.EngageTakeoff(in _lastState, _takeoffTarget, _config.Takeoff.ClimbSpeedMS, nowNs);
        _envelopeSinceNs = -1;
        _node.ChangeMode(NodeMode.TakingOff, ModeReason.Armed, default, nowNs);
    }

    /// <summary>Slow, level and not turning: what the take-off must reach before the policy flies.</summary>
    private bool Steady(in RobotStateSample s)
    {
        Quaternion q = s.Orientation;
        float n2 = q.LengthSquared();
        float cosTilt = n2 > 0 ? 1 - 2 * (q.X * q.X + q.Y * q.Y) / n2 : -1;
        return s.VelocityWorld.Length() <= _config.Takeoff.HandoverSpeedMS && cosTilt >= _handoverMinTiltCos
               && s.AngularVelocityBody.Length() <= _config.Takeoff.HandoverRateRadS;
    }

    /// <summary>The policy flies from now on, its memory (action history, integral; the MCU's too) started over.</summary>
    private void StartPolicy(in RobotStateSample state, ModeReason reason, long nowNs)
    {
        HoverObservation.FillHistory(_history, _hoverAction);
        Array.Clear(_positionIntegral);
        ResetRemotePolicy();
        Array.Clear(_historySum);
        _historyCount = 0;
        _fallback.Reset();
        // The policy starts from where the robot is and the setpoint then moves to the requested one at the speed
        // limit: a trained policy only knows position errors of its training range (±0.6 m in the hover task).
        _setpoint = _config.Geofence.Clamp(state.Position, 0);
        _node.ChangeMode(NodeMode.Policy, reason, default, nowNs);
    }

    /// <summary>Lands with the classical controller (no hold), then disarms (<see cref="NodeMode.Landing"/> → Idle).</summary>
    private void Land(ModeReason reason, long nowNs)
    {
        _fallback.Engage(in _lastState, nowNs, landNow: true);
        _node.ChangeMode(NodeMode.Landing, reason, default, nowNs);
    }

    private void EnterFallback(SafetyViolation violation, ModeReason reason, in RobotStateSample state, long nowNs, bool landNow)
    {
        _fallback.Engage(in state, nowNs, landNow);
        _node.ChangeMode(NodeMode.Fallback, reason, violation, nowNs);
    }

    private static bool Finite(Vector3 v) => float.IsFinite(v.X) && float.IsFinite(v.Y) && float.IsFinite(v.Z);
    private static bool Finite(Vector4 v) => float.IsFinite(v.X) && float.IsFinite(v.Y) && float.IsFinite(v.Z) && float.IsFinite(v.W);

    // ---------------------------------------------------------------------------------------------
    // Recording and telemetry.

    public void DescribeTick(ref TickRecord record, Span<byte> state)
    {
        record.Source = _source;
        record.PolicyRan = _policyRan;
        record.Intervention = _intervention;
        record.Action = _applied;
        record.PolicyAction = new Vector4(_policyAction[0], _policyAction[1], _policyAction[2], _policyAction[3]);
        record.HumanAction = _human;
        _log.Capture(state, _hasState, in _lastState, _setpoint);
    }

    public void PublishTelemetry(long nowNs, in TickStatistics window)
    {
        ReadOnlySpan<ITelemetrySink> sinks = _node.TelemetrySinks;
        if (sinks.Length == 0) return;
        var frame = new TelemetryFrame { TimestampNs = nowNs, State = _lastState, Command = _lastCommand, Setpoint = _setpoint, Mode = Mode, Ticks = window };
        for (int i = 0; i < sinks.Length; i++) sinks[i].Publish(in frame);
    }

    /// <summary>Nothing to leave: an idle or killed node already commands motors off; a flying robot stays with whoever flies it next.</summary>
    public void Stopped(long nowNs) { }

    // ---------------------------------------------------------------------------------------------
    // What the host shows.

    public string StateName => "robot state";

    public string Progress()
    {
        RobotStateSample s = _lastState;
        return string.Create(CultureInfo.InvariantCulture,
            $"pos ({s.Position.X,5:F2}, {s.Position.Y,5:F2}, {s.Position.Z,4:F2}) m  setpoint ({_setpoint.X,5:F2}, {_setpoint.Y,5:F2}, {_setpoint.Z,4:F2})");
    }

    public string Summary()
    {
        var (rms, max, samples) = TrackingError;
        return string.Create(CultureInfo.InvariantCulture, $"tracking error rms {rms:F3} m, max {max:F3} m ({samples} ticks)");
    }

    public void AddSummary(JsonObject result)
    {
        var (rms, max, samples) = TrackingError;
        result["tracking_error_rms_m"] = Math.Round(rms, 5);
        result["tracking_error_max_m"] = Math.Round(max, 5);
        result["tracking_ticks"] = samples;
    }

    /// <summary>The supervisor sent the node to its fallback (a violation, not a land command), or the kill switch stopped it.</summary>
    public string? Failure()
    {
        foreach (NodeEvent e in _node.Events)
            if (e.Kind == NodeEventKind.ModeChange && (e.Mode == NodeMode.Killed || (e.Mode == NodeMode.Fallback && e.Violation.Tripped)))
                return string.Create(CultureInfo.InvariantCulture, $"at tick {e.Tick}: {e.Describe()}");
        return null;
    }

    public IEnumerable<string> ReportLines()
    {
        if (_remote is IRemotePolicyReport report)
            yield return "  " + report.Describe(new RemotePolicyFigures(_heldTicks, _parityMaxDiff, _parityChecks));
    }

    public void Dispose() { }
}

/// <summary>Typed access to a quadrotor node's controller and settings.</summary>
public static class QuadrotorNodeExtensions
{
    /// <summary>The node's quadrotor controller (its setpoint, fallback phase, tracking error); a clear error for another kind.</summary>
    public static QuadrotorController Quadrotor(this InferenceNode node) =>
        node.Controller as QuadrotorController ?? throw new InvalidOperationException($"the node runs a {node.Controller.Kind} controller, not a quadrotor's");

    /// <summary>The quadrotor settings of a node config (geofence, limits, fallback, take-off, setpoint).</summary>
    public static QuadrotorNodeSettings Quadrotor(this NodeConfig config) => config.SettingsAs<QuadrotorNodeSettings>();

    /// <summary>The config with its quadrotor settings changed.</summary>
    public static NodeConfig With(this NodeConfig config, Func<QuadrotorNodeSettings, QuadrotorNodeSettings> change) =>
        config with { Settings = change(config.Quadrotor()) };
}
