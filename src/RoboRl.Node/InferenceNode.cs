using System.Numerics;
using RoboRl.Core.Messages;
using RoboRl.Core.Policy;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Robots;
using RoboRl.Core.Tasks;

namespace RoboRl.Node;

/// <summary>
/// The real-time inference node for a quadrotor hover/tracking policy. Each tick, on its own thread at a fixed rate
/// (<see cref="Start"/>) or called directly (<see cref="Tick"/>, for lock-step simulation and tests):
/// <list type="number">
/// <item>commands (arm, disarm, land, setpoint, kill) and the newest teleop sample are read;</item>
/// <item>the setpoint is clamped into the geofence and rate-limited (logged when clamped);</item>
/// <item>the newest sensor sample goes through <see cref="HoverObservation"/> — the simulator's own builder — with an
///   action history kept at the policy's control rate: the node runs k = rate / control rate times faster and each
///   history slot holds the mean of k consecutive applied actions (as the Crazyflie firmware does: FACTS.md, policy
///   at 500 Hz, 5 outputs averaged per 100 Hz slot);</item>
/// <item><see cref="PolicyEngine.Forward"/>;</item>
/// <item>arbitration: kill switch &gt; safety supervisor (→ fallback controller, same tick) &gt; human override &gt; policy;</item>
/// <item>arming a robot that is not flying steadily (on the floor, say) starts a take-off: the classical controller
///   climbs to the setpoint and the policy takes over once the robot has been steady inside its envelope
///   (<see cref="TakeoffConfig"/>); a Land command (or Disarm in the air) lands with that controller and disarms;</item>
/// <item>the actuator command is sent; statistics, telemetry and the recorder are fed.</item>
/// </list>
/// A tick allocates nothing (tested). A policy bundle trained for another robot, with another observation size or at
/// a rate that does not divide the node's rate is refused in the constructor, before anything can arm.
/// </summary>
public sealed partial class InferenceNode : IDisposable
{
    /// <summary>Events kept for <see cref="Events"/> (the recorder gets every one).</summary>
    public const int EventCapacity = 1024;

    private readonly NodeConfig _config;
    private readonly PolicyEngine _engine;
    private readonly ISensorSource _sensor;
    private readonly IActuatorSink _actuator;
    private readonly IFallbackController _fallback;
    private readonly SafetySupervisor _supervisor;
    private readonly NodeRecorder? _recorder;
    private ITeleopSource[] _teleop = [];
    private ICommandSource[] _commands = [];
    private ITelemetrySink[] _telemetry = [];

    private readonly float[] _observation, _history, _policyAction = new float[4], _fallbackAction = new float[4], _historySum = new float[4];
    // The observation's position-error integral: advanced every flying tick by the tick period, zeroed at arming.
    private readonly float[] _positionIntegral = new float[HoverObservation.IntegralSize];
    private readonly float _tickSeconds;
    private readonly int _historySubsteps;
    private int _historyCount;
    private readonly float _hoverAction;
    private readonly long _periodNs, _teleopTimeoutNs, _handoverHoldNs;
    private readonly float _handoverMinTiltCos;
    private long _envelopeSinceNs = -1;
    private Vector3 _takeoffTarget;
    private readonly int _telemetryEveryTicks;
    private readonly TickStatisticsWindow _statistics = new();

    private NodeMode _mode = NodeMode.Idle;
    private bool _armedOnce, _nudgeLimitLogged;
    private ulong _tick;
    private uint _commandSequence;
    private long _lastTickNs = -1;
    private Vector3 _requestedSetpoint, _setpoint;
    private ActuatorCommand _lastCommand;
    private RobotStateSample _lastState;
    private bool _hasState;

    private readonly NodeEvent[] _events = new NodeEvent[EventCapacity];
    private int _eventCount, _safetyEventCount;

    // Tracking error while the policy (or human) flies.
    private double _trackingSquaredSum, _trackingMax;
    private long _trackingSamples;

    private Thread? _thread;
    private volatile bool _running;

    public InferenceNode(NodeConfig config, PolicyBundle bundle, ISensorSource sensor, IActuatorSink actuator,
        IFallbackController? fallback = null, NodeRecorder? recorder = null)
    {
        _config = config;
        CheckBundle(config, bundle);
        _engine = new PolicyEngine(bundle);
        _sensor = sensor;
        _actuator = actuator;
        _fallback = fallback ?? new QuadrotorFallbackController(config.Robot, config.Fallback, config.Geofence, config.Limits.SetpointMarginM, config.Limits.SensorTimeoutS);
        _supervisor = new SafetySupervisor(config.Geofence, config.Limits);
        _recorder = recorder;
        _historySubsteps = (int)Math.Round(config.RateHz / bundle.ControlRateHz);
        _observation = new float[bundle.ObservationSize];
        _history = new float[HoverObservation.ActionSize * bundle.ActionHistoryLength];
        _hoverAction = config.Robot.HoverAction();
        HoverObservation.FillHistory(_history, _hoverAction);
        _periodNs = (long)Math.Round(1e9 / config.RateHz);
        _tickSeconds = 1f / (float)config.RateHz; // the nominal period: the integral then matches lock-step and simulated runs
        _teleopTimeoutNs = (long)(config.Limits.TeleopTimeoutS * 1e9);
        _handoverHoldNs = (long)(config.Takeoff.HandoverHoldS * 1e9);
        _handoverMinTiltCos = MathF.Cos(config.Takeoff.HandoverTiltDeg * MathF.PI / 180f);
        _telemetryEveryTicks = Math.Max(1, (int)Math.Round(config.RateHz / config.TelemetryRateHz));
        _requestedSetpoint = _setpoint = config.Setpoint;
    }

    /// <summary>
    /// Refuses (<see cref="PolicyMismatchException"/>) a bundle that was not trained for the node's robot config, whose
    /// observation is not the hover layout (18 + 4·history + 3), whose actions are not 4 rotor forces, or whose control rate
    /// does not divide the node's rate.
    /// </summary>
    public static void CheckBundle(NodeConfig config, PolicyBundle bundle)
    {
        bundle.CheckCompatible(File.ReadAllText(config.RobotPath));
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

    public NodeConfig Config => _config;
    public PolicyEngine Engine => _engine;
    public NodeMode Mode => _mode;
    public ulong TickCount => _tick;
    /// <summary>The setpoint the policy is given now (clamped, rate-limited).</summary>
    public Vector3 Setpoint => _setpoint;
    /// <summary>The setpoint last requested (clamped into the geofence).</summary>
    public Vector3 RequestedSetpoint => _requestedSetpoint;
    public FallbackPhase FallbackPhase => _fallback.Phase;
    public ActuatorCommand LastCommand => _lastCommand;
    public RobotStateSample LastState => _lastState;
    /// <summary>Ticks per history slot (rate / policy control rate).</summary>
    public int HistorySubsteps => _historySubsteps;
    /// <summary>The observation built on the last tick (for tests and parity checks).</summary>
    public ReadOnlySpan<float> LastObservation => _observation;
    public TickStatistics RunStatistics => _statistics.Run;
    public int SafetyEventCount => _safetyEventCount;
    /// <summary>Root-mean-square and largest distance from the setpoint while the policy or a human flew, metres.</summary>
    public (double Rms, double Max, long Samples) TrackingError =>
        (_trackingSamples == 0 ? 0 : Math.Sqrt(_trackingSquaredSum / _trackingSamples), _trackingMax, _trackingSamples);

    /// <summary>The first <see cref="EventCapacity"/> events (mode changes, clamps, refusals), copied.</summary>
    public NodeEvent[] Events => _events.AsSpan(0, Math.Min(_eventCount, EventCapacity)).ToArray();
    /// <summary>Every event as it happens, for one reader on another thread (the CLI: console and transports).</summary>
    public NodeEventStream EventStream { get; } = new();
    /// <summary>True once the sensor has delivered a first state.</summary>
    public bool HasState => _hasState;

    public void AddTeleop(ITeleopSource source) => _teleop = [.. _teleop, source];
    public void AddCommands(ICommandSource source) => _commands = [.. _commands, source];
    public void AddTelemetry(ITelemetrySink sink) => _telemetry = [.. _telemetry, sink];

    // ---------------------------------------------------------------------------------------------
    // The tick.

    /// <summary>
    /// One control tick. <paramref name="scheduledNs"/> is when it should have started, <paramref name="startNs"/>
    /// when it did (node clock, or simulated time in lock-step); a start later than one period counts as an overrun.
    /// </summary>
    public void Tick(long scheduledNs, long startNs)
    {
        // In lock-step simulation the start time is simulated; compute time is always measured on the node clock.
        long realStartNs = NodeClock.NowNs;
        float dt = _lastTickNs < 0 ? 1f / _config.RateHz : Math.Clamp((startNs - _lastTickNs) * 1e-9f, 0f, 0.1f);
        _lastTickNs = startNs;
        bool overrun = startNs - scheduledNs > _periodNs;
        _supervisor.NoteTick(overrun);

        // 1. Commands. The kill switch outranks everything and latches.
        for (int c = 0; c < _commands.Length; c++)
            while (_commands[c].TryDequeue(out NodeCommand received)) Handle(in received, startNs);

        // 2. Newest state and human input.
        if (_sensor.TryGetLatest(out RobotStateSample newest)) { _lastState = newest; _hasState = true; }
        RobotStateSample state = _lastState;
        bool teleopHeld = false;
        TeleopSample teleop = default;
        for (int t = 0; t < _teleop.Length; t++)
        {
            if (_teleop[t].TryGetLatest(out TeleopSample sample) && sample.Kind != TeleopKind.None && startNs - sample.TimestampNs <= _teleopTimeoutNs)
            {
                teleop = sample;
                teleopHeld = true;
                break;
            }
        }

        // 3. Setpoint: a human nudge moves the request (speed-limited); the setpoint follows the request at most at the speed limit.
        float maxSpeed = _config.Limits.MaxSetpointSpeedMS;
        if (teleopHeld && teleop.Kind == TeleopKind.NudgeSetpoint && _mode is NodeMode.Policy)
        {
            Vector3 velocity = teleop.SetpointVelocity;
            float speed = velocity.Length();
            if (!(speed <= maxSpeed))
            {
                Vector3 asked = velocity;
                velocity = float.IsFinite(speed) ? velocity * (maxSpeed / speed) : Vector3.Zero;
                if (!_nudgeLimitLogged)
                    AddEvent(new NodeEvent { TimestampNs = startNs, Tick = _tick, Kind = NodeEventKind.SetpointSpeedLimited, Mode = _mode, Command = NodeCommandKindOrNone.None, Requested = asked, Applied = velocity });
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
        if (_mode == NodeMode.Idle && _config.AutoArm && !_armedOnce) TryArm(startNs, NodeCommandKindOrNone.None);
        if (_mode is NodeMode.TakingOff or NodeMode.Landing)
        {
            SafetyViolation violation = _supervisor.CheckState(_hasState, in state, startNs);
            if (violation.Tripped) EnterFallback(violation, ModeReason.SafetyViolation, in state, startNs, landNow: _mode == NodeMode.Landing);
            else if (_mode == NodeMode.TakingOff)
            {
                if (!Steady(in state) || Vector3.Distance(state.Position, _takeoffTarget) > _config.Takeoff.HandoverPositionM) _envelopeSinceNs = -1;
                else if (_envelopeSinceNs < 0) _envelopeSinceNs = startNs;
                if (_envelopeSinceNs >= 0 && startNs - _envelopeSinceNs >= _handoverHoldNs) StartPolicy(in state, ModeReason.HandedOver, startNs);
            }
        }

        // 5. Observation and policy, then the supervisor on state, observation and action.
        bool flying = _mode is NodeMode.Policy or NodeMode.Human;
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
                    // In process, or on a microcontroller (InferenceNode.RemotePolicy.cs; silence trips the supervisor).
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
        switch (_mode)
        {
            case NodeMode.Fallback or NodeMode.TakingOff or NodeMode.Landing: // the classical controller flies
                _fallback.Compute(in state, startNs, _fallbackAction);
                applied = new Vector4(_fallbackAction[0], _fallbackAction[1], _fallbackAction[2], _fallbackAction[3]);
                source = ActionSource.Fallback;
                if (_fallback.Phase == FallbackPhase.Disarmed) ChangeMode(NodeMode.Idle, ModeReason.Landed, default, startNs);
                break;
            case NodeMode.Policy or NodeMode.Human:
                if (teleopHeld && teleop.Kind == TeleopKind.TakeOver)
                {
                    if (_mode != NodeMode.Human) ChangeMode(NodeMode.Human, ModeReason.HumanTakeOver, default, startNs);
                    human = Vector4.Clamp(Finite(teleop.Action) ? teleop.Action : new Vector4(_hoverAction), new Vector4(-1), Vector4.One);
                    applied = human;
                    source = ActionSource.Human;
                    intervention = true;
                }
                else
                {
                    if (_mode == NodeMode.Human) ChangeMode(NodeMode.Policy, ModeReason.HumanReleased, default, startNs);
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
        if (_mode is not (NodeMode.Idle or NodeMode.Killed))
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

        // 9. Recording, statistics, telemetry.
        _recorder?.RecordTick(new TickRecord
        {
            TimestampNs = startNs, Tick = _tick, HasState = _hasState, State = state, Setpoint = _setpoint,
            PolicyRan = policyRan, PolicyAction = new Vector4(_policyAction[0], _policyAction[1], _policyAction[2], _policyAction[3]),
            Intervention = intervention, HumanAction = human, Action = applied, Source = source, Mode = _mode,
        }, _observation);
        long endNs = startNs + (NodeClock.NowNs - realStartNs);
        _statistics.Add(scheduledNs, startNs, endNs, overrun);
        if (++_tick % (ulong)_telemetryEveryTicks == 0) PublishTelemetry(startNs, in state, in command);
    }

    private void PublishTelemetry(long nowNs, in RobotStateSample state, in ActuatorCommand command)
    {
        TickStatistics window = _statistics.TakeWindow();
        _recorder?.RecordStatistics(nowNs, in window);
        if (_telemetry.Length == 0) return;
        var frame = new TelemetryFrame { TimestampNs = nowNs, State = state, Command = command, Setpoint = _setpoint, Mode = _mode, Ticks = window };
        for (int i = 0; i < _telemetry.Length; i++) _telemetry[i].Publish(in frame);
    }

    private void Handle(in NodeCommand command, long nowNs)
    {
        switch (command.Kind)
        {
            case NodeCommandKind.Kill:
                if (_mode != NodeMode.Killed) ChangeMode(NodeMode.Killed, ModeReason.KillSwitch, default, nowNs);
                break;
            case NodeCommandKind.Arm:
                if (_mode == NodeMode.Idle) TryArm(nowNs, NodeCommandKindOrNone.Arm);
                else Refuse(NodeCommandKindOrNone.Arm, default, nowNs, _mode == NodeMode.Killed ? ModeReason.KilledEarlier : ModeReason.AlreadyFlying);
                break;
            case NodeCommandKind.Land:
                if (_mode is NodeMode.Policy or NodeMode.Human or NodeMode.TakingOff) Land(ModeReason.LandCommand, nowNs);
                break;
            case NodeCommandKind.Disarm:
                // Disarming in the air would drop the robot: land first; on the ground, motors off.
                if (_mode is NodeMode.Policy or NodeMode.Human or NodeMode.TakingOff)
                {
                    if (_hasState && _lastState.Position.Z > _config.Fallback.LandedHeightM) Land(ModeReason.DisarmCommand, nowNs);
                    else ChangeMode(NodeMode.Idle, ModeReason.DisarmCommand, default, nowNs);
                }
                else if (_mode == NodeMode.Fallback && _fallback.Phase == FallbackPhase.Disarmed) ChangeMode(NodeMode.Idle, ModeReason.DisarmCommand, default, nowNs);
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
            Refuse(NodeCommandKindOrNone.Setpoint, new SafetyViolation(SafetyTrigger.NonFiniteSetpoint, float.NaN, 0), nowNs);
            return;
        }
        Vector3 clamped = _config.Geofence.Clamp(requested, _config.Limits.SetpointMarginM);
        if (clamped != requested && (origin != NodeCommandKindOrNone.None || _requestedSetpoint != clamped))
        {
            // A nudge held against the fence would log every tick: log it when the kept setpoint moves, and every command.
            AddEvent(new NodeEvent { TimestampNs = nowNs, Tick = _tick, Kind = NodeEventKind.SetpointClamped, Mode = _mode, Command = origin, Requested = requested, Applied = clamped });
        }
        _requestedSetpoint = clamped;
    }

    private void TryArm(long nowNs, NodeCommandKindOrNone origin)
    {
        SafetyViolation violation = _supervisor.CheckState(_hasState, in _lastState, nowNs);
        if (violation.Tripped)
        {
            // Automatic arming waits quietly for the first fresh sample; anything else is refused and logged.
            if (origin != NodeCommandKindOrNone.None || violation.Trigger != SafetyTrigger.StaleSensor) Refuse(NodeCommandKindOrNone.Arm, violation, nowNs);
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
        ChangeMode(NodeMode.TakingOff, ModeReason.Armed, default, nowNs);
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
        ChangeMode(NodeMode.Policy, reason, default, nowNs);
    }

    /// <summary>Lands with the classical controller (no hold), then disarms (<see cref="NodeMode.Landing"/> → Idle).</summary>
    private void Land(ModeReason reason, long nowNs)
    {
        _fallback.Engage(in _lastState, nowNs, landNow: true);
        ChangeMode(NodeMode.Landing, reason, default, nowNs);
    }

    private void EnterFallback(SafetyViolation violation, ModeReason reason, in RobotStateSample state, long nowNs, bool landNow)
    {
        _fallback.Engage(in state, nowNs, landNow);
        ChangeMode(NodeMode.Fallback, reason, violation, nowNs);
    }

    private void ChangeMode(NodeMode mode, ModeReason reason, SafetyViolation violation, long nowNs)
    {
        _mode = mode;
        AddEvent(new NodeEvent { TimestampNs = nowNs, Tick = _tick, Kind = NodeEventKind.ModeChange, Mode = mode, Reason = reason, Violation = violation, Command = NodeCommandKindOrNone.None });
    }

    private void Refuse(NodeCommandKindOrNone command, SafetyViolation violation, long nowNs, ModeReason reason = ModeReason.SafetyViolation) =>
        AddEvent(new NodeEvent { TimestampNs = nowNs, Tick = _tick, Kind = NodeEventKind.CommandRefused, Mode = _mode, Command = command, Violation = violation, Reason = reason });

    private void AddEvent(in NodeEvent e)
    {
        if (_eventCount < EventCapacity) _events[_eventCount] = e;
        _eventCount++;
        if (e.IsSafetyEvent || (e.Kind == NodeEventKind.ModeChange && e.Reason == ModeReason.KillSwitch)) _safetyEventCount++;
        _recorder?.RecordEvent(in e);
        EventStream.TryWrite(in e);
    }

    private static bool Finite(Vector3 v) => float.IsFinite(v.X) && float.IsFinite(v.Y) && float.IsFinite(v.Z);
    private static bool Finite(Vector4 v) => float.IsFinite(v.X) && float.IsFinite(v.Y) && float.IsFinite(v.Z) && float.IsFinite(v.W);

    // ---------------------------------------------------------------------------------------------
    // The real-time loop.

    /// <summary>Runs ticks at <see cref="NodeConfig.RateHz"/> on a dedicated thread until <see cref="Stop"/>.</summary>
    public void Start()
    {
        if (_thread is not null) throw new InvalidOperationException("the node is already running");
        _running = true;
        _thread = new Thread(Loop) { IsBackground = true, Name = "roborl-node-tick" };
        try { _thread.Priority = ThreadPriority.Highest; } catch (Exception) { /* not permitted here: run at normal priority */ }
        _thread.Start();
    }

    public void Stop()
    {
        _running = false;
        _thread?.Join();
        _thread = null;
    }

    /// <summary>Why the tick thread runs at normal priority (null: it got SCHED_FIFO, see <see cref="RealTimeScheduling"/>); set once <see cref="Start"/> has run a tick.</summary>
    public string? SchedulingNote { get; private set; }

    private void Loop()
    {
        SchedulingNote = RealTimeScheduling.TryEnterFifo(RealTimeScheduling.TickPriority);
        long spinNs = (long)(_config.SpinUs * 1000);
        long next = NodeClock.NowNs;
        long slippedNs = 0;
        while (_running)
        {
            // Hybrid wait: sleep while the deadline is far (Thread.Sleep(1) wakes ~1.1 ms later on Linux), spin the rest.
            long now = NodeClock.NowNs;
            while (next - now > spinNs + 1_200_000) { Thread.Sleep(1); now = NodeClock.NowNs; }
            while (next - now > 0) { Thread.SpinWait(20); now = NodeClock.NowNs; }
            // The first tick after a resynchronisation is judged against the deadline it really missed: otherwise a
            // node that can never keep up (ticks longer than the period) resynchronises every few ticks, each time
            // clearing the overrun streak, and the supervisor never sees the streak it exists to catch.
            Tick(next - slippedNs, now);
            slippedNs = 0;
            next += _periodNs;
            // Far behind (descheduled, debugger): count the overrun above, then resynchronise instead of bursting.
            long behind = NodeClock.NowNs - next;
            if (behind > 10 * _periodNs) { slippedNs = behind; next += behind; }
        }
    }

    public void Dispose() => Stop();
}
