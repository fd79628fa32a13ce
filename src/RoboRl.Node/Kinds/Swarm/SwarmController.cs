using System.Globalization;
using System.Numerics;
using System.Text.Json.Nodes;
using RoboRl.Core.Configs;
using RoboRl.Core.Messages;
using RoboRl.Core.Policy;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Robots;
using RoboRl.Core.Swarm;

namespace RoboRl.Node;

/// <summary>What one vehicle of a swarm is doing.</summary>
public enum VehicleMode : byte
{
    /// <summary>Not armed yet (motors off).</summary>
    Idle = 0,
    /// <summary>The shared policy flies it.</summary>
    Policy = 1,
    /// <summary>Its supervisor tripped, or the swarm lands: the fallback controller holds it, then lands it.</summary>
    Fallback = 2,
    /// <summary>Landed by the fallback: motors off.</summary>
    Landed = 3,
}

/// <summary>
/// The swarm's controller in the one real-time node: N vehicles, one tick. Each tick:
/// <list type="number">
/// <item>every vehicle's newest state (<see cref="ISwarmStateSource"/>: the simulated swarm, crazyswarm2's /cfN/pose);</item>
/// <item>the goals: the node config's, vehicle i and N−1−i swapping every swap_period_s (QuadSwarm's swap_goals);</item>
/// <item>every vehicle's observation exactly as <c>SwarmEnv</c> builds it, from the same code
///   (<see cref="SwarmObservation"/>): own state relative to its goal, the K nearest OTHER vehicles by QuadSwarm's score
///   from their current states, the SDF of the known columns;</item>
/// <item>contacts (centres closer than 2 arm lengths; a column's surface closer than one arm length) and the least
///   separation, counted from the states the node sees;</item>
/// <item>per vehicle: its own safety supervisor (geofence, tilt, rate, stale state, NaN, action range); a trip hands that
///   vehicle — only that one — to its own fallback controller (hold, then land, then motors off). The others fly on with
///   the policy, and still see it as a neighbour, so they avoid it while it holds and lands;</item>
/// <item>the shared policy for every vehicle still flying it (<see cref="PolicyEngine.Forward"/> row by row on the one
///   observation block), and each vehicle's command (<see cref="ISwarmCommandSink"/>).</item>
/// </list>
/// The node's mode: POLICY while any vehicle flies the policy, FALLBACK once none does but some still hold or land, IDLE
/// when all have landed; KILLED switches every motor off. A tick allocates nothing (tested).
/// </summary>
public sealed class SwarmController : IRobotController
{
    private readonly NodeConfig _nodeConfig;
    private readonly SwarmNodeSettings _settings;
    private readonly SwarmTaskConfig _task;
    private readonly QuadrotorConfig _robot;
    private readonly PolicyBundle _bundle;
    private readonly PolicyEngine _engine;
    private readonly ISwarmStateSource _states;
    private readonly ISwarmCommandSink _commands;
    private readonly ISwarmGroundTruth? _groundTruth;
    private readonly SwarmNodeLog _log;
    private InferenceNode _node = null!;

    private readonly int _n, _k, _history, _obs, _columns, _swapTicks;
    private readonly float _arm, _proximityRange, _hoverAction;
    private readonly float[] _observation, _actions;
    private readonly float[] _sent; // [vehicles × 4H] the last H commands sent per vehicle, oldest first (empty without a history)
    private readonly float[] _px, _py, _pz, _vx, _vy, _vz, _columnX, _columnY;
    private readonly RobotStateSample[] _state;
    private readonly bool[] _has;
    private readonly Vector3[] _goalOffsets, _goals;
    private readonly VehicleMode[] _mode;
    private readonly SafetySupervisor[] _supervisors;
    private readonly QuadrotorFallbackController[] _fallbacks;
    private readonly SafetyViolation[] _trip;
    private readonly uint[] _contactMask;
    private readonly bool[] _columnContact;
    private readonly int[] _vehicleContacts, _columnContacts;
    private readonly long[] _reachedAtTick;
    private readonly ActionSource[] _source;
    private bool _hasState, _armed;
    private float _minSeparation = float.PositiveInfinity;
    private long _flightTicks;
    private uint _sequence;

    public SwarmController(NodeConfig config, PolicyBundle bundle, ISwarmStateSource states, ISwarmCommandSink commands, ISwarmGroundTruth? groundTruth = null)
    {
        _nodeConfig = config;
        _settings = config.SettingsAs<SwarmNodeSettings>();
        _task = _settings.Task;
        _robot = _task.Robot;
        CheckBundle(config, bundle);
        if (states.Vehicles != _settings.Count)
            throw new ConfigException(config.File, "$.vehicles", $"names {_settings.Count} vehicles; the transport carries {states.Vehicles}");
        _bundle = bundle;
        _engine = new PolicyEngine(bundle);
        _states = states;
        _commands = commands;
        _groundTruth = groundTruth;
        _n = _settings.Count;
        _k = _task.Neighbours;
        _history = _task.ActionHistoryLength;
        _obs = SwarmObservation.Size(_k, _history);
        _arm = _task.ArmLengthM;
        _proximityRange = _task.Reward.ProximityFalloffArms * _arm;
        _hoverAction = _robot.HoverAction();
        _swapTicks = _settings.SwapPeriodS > 0 ? Math.Max(1, (int)MathF.Round(_settings.SwapPeriodS * _task.ControlFrequencyHz)) : 0;
        _observation = new float[_n * _obs];
        _sent = new float[_n * 4 * _history];
        Array.Fill(_sent, _hoverAction); // as SwarmEnv's reset: rotors at hover
        for (int v = 0; v < _n; v++) _sent.AsSpan(v * 4 * _history, 4 * _history).CopyTo(History(v));
        _actions = new float[_n * 4];
        _px = new float[_n]; _py = new float[_n]; _pz = new float[_n]; _vx = new float[_n]; _vy = new float[_n]; _vz = new float[_n];
        _columns = _settings.Columns.Count;
        int stride = Math.Max(8, (_columns + 7) / 8 * 8); // WriteSdf reads columns eight at a time
        _columnX = new float[stride]; _columnY = new float[stride];
        Array.Fill(_columnX, SwarmObservation.AbsentColumn); Array.Fill(_columnY, SwarmObservation.AbsentColumn);
        for (int c = 0; c < _columns; c++) { _columnX[c] = _settings.Columns[c].X; _columnY[c] = _settings.Columns[c].Y; }
        _state = new RobotStateSample[_n];
        _has = new bool[_n];
        _goalOffsets = _settings.Vehicles.Select(v => v.Goal).ToArray();
        _goals = _goalOffsets.ToArray();
        _mode = new VehicleMode[_n];
        _supervisors = new SafetySupervisor[_n];
        _fallbacks = new QuadrotorFallbackController[_n];
        for (int v = 0; v < _n; v++)
        {
            _supervisors[v] = new SafetySupervisor(_settings.Geofence, _settings.Limits);
            _fallbacks[v] = new QuadrotorFallbackController(_robot, _settings.Fallback, _settings.Geofence, _settings.Limits.SetpointMarginM, _settings.Limits.SensorTimeoutS);
        }
        _trip = new SafetyViolation[_n];
        _contactMask = new uint[_n];
        _columnContact = new bool[_n];
        _vehicleContacts = new int[_n];
        _columnContacts = new int[_n];
        _reachedAtTick = Enumerable.Repeat(-1L, _n).ToArray();
        _source = new ActionSource[_n];
        _log = new SwarmNodeLog(_settings, config.RateHz);
        // The vehicles' robot (the task file itself is not a robot config).
        FlightMetadata = Logs.FlightLogMetadata.Build(bundle, _task.RobotConfigJson, config.RateHz);
    }

    /// <summary>
    /// Refuses (<see cref="PolicyMismatchException"/>) a bundle that is not a swarm policy for the node's task: another
    /// observation layout or neighbour count (named with the task file's field), another robot, action layout or rate.
    /// </summary>
    public static void CheckBundle(NodeConfig config, PolicyBundle bundle)
    {
        SwarmTaskConfig task = config.SettingsAs<SwarmNodeSettings>().Task;
        int? k = SwarmObservation.NeighbourCount(bundle.ObservationNames);
        if (k is null)
            throw new PolicyMismatchException("node", PolicyBundle.KeyObservationNames,
                $"not a swarm policy: its {bundle.ObservationSize} observations are not own state (19) + neighbour tokens (6 each) + SDF grid (9) + action history (4 each); the swarm node ({config.File}) builds {task.ObservationSize}");
        if (k != task.Neighbours)
            throw new PolicyMismatchException("node", PolicyBundle.KeyObservationNames,
                $"trained for {k} neighbours ({bundle.ObservationSize} observations), but {task.File} field 'neighbours' is {task.Neighbours} ({task.ObservationSize} observations)");
        int history = SwarmObservation.HistoryLength(bundle.ObservationNames);
        if (history != task.ActionHistoryLength)
            throw new PolicyMismatchException("node", PolicyBundle.KeyObservationNames,
                $"observes the last {history} actions, but {task.File} field 'action_history_length' is {task.ActionHistoryLength}");
        bundle.CheckCompatible(task.RobotConfigJson);
        if (bundle.ActionSize != 4)
            throw new PolicyMismatchException("node", PolicyBundle.KeyActionNames, $"the node drives 4 rotors per vehicle; the policy has {bundle.ActionSize} actions");
        if (bundle.ActionUnit != Core.Tasks.HoverObservation.ActionUnit)
            throw new PolicyMismatchException("node", PolicyBundle.KeyActionUnit, $"the node commands rotor forces; the policy's unit is \"{bundle.ActionUnit}\"");
        if (Math.Abs(bundle.ControlRateHz - task.ControlFrequencyHz) > 1e-6)
            throw new PolicyMismatchException("node", PolicyBundle.KeyControlRateHz,
                $"the policy runs at {bundle.ControlRateHz} Hz; {task.File} field 'control_frequency_hz' is {task.ControlFrequencyHz}");
    }

    public string Kind => "swarm";
    public SwarmNodeSettings Settings => _settings;
    public int Vehicles => _n;
    public int ObservationSize => _observation.Length;
    /// <summary>Every vehicle's observation, vehicle-major ([N × (19 + 6K + 9)]).</summary>
    public ReadOnlySpan<float> Observation => _observation;
    /// <summary>Every vehicle's applied action of the last tick ([N × 4]).</summary>
    public ReadOnlySpan<float> Actions => _actions;
    public bool HasState => _hasState;
    public INodeLog Log => _log;
    public IReadOnlyDictionary<string, string> FlightMetadata { get; }
    public string StateName => $"the state of all {_n} vehicles";

    public VehicleMode ModeOf(int vehicle) => _mode[vehicle];
    public Vector3 GoalOf(int vehicle) => _goals[vehicle];
    /// <summary>Contacts begun by vehicle v with other vehicles and with columns, counted by the node from the states it saw.</summary>
    public (int Vehicles, int Columns) ContactsOf(int vehicle) => (_vehicleContacts[vehicle], _columnContacts[vehicle]);
    /// <summary>The least distance between two vehicles the node has seen, m.</summary>
    public float MinSeparationM => _minSeparation;
    /// <summary>Seconds of flight until vehicle v first came within goal_tolerance_m of its goal, or null.</summary>
    public double? TimeToGoal(int vehicle) => _reachedAtTick[vehicle] < 0 ? null : _reachedAtTick[vehicle] / _nodeConfig.RateHz;

    public void Attach(InferenceNode node) => _node = node;

    public void Tick(in NodeTick tick)
    {
        long now = tick.StartNs;
        // 1. States.
        bool all = true;
        for (int v = 0; v < _n; v++)
        {
            _has[v] = _states.TryGetLatest(v, out _state[v]);
            all &= _has[v];
            _px[v] = _state[v].Position.X; _py[v] = _state[v].Position.Y; _pz[v] = _state[v].Position.Z;
            _vx[v] = _state[v].VelocityWorld.X; _vy[v] = _state[v].VelocityWorld.Y; _vz[v] = _state[v].VelocityWorld.Z;
        }
        _hasState |= all;
        NodeMode nodeMode = _node.Mode;
        if (nodeMode == NodeMode.Idle && !_armed && _settings.AutoArm && all) Arm(now);
        for (int v = 0; v < _n; v++) _supervisors[v].NoteTick(tick.Overrun);

        // 2. Goals: QuadSwarm's swap (SwarmEnv's swap_goals after the same number of control steps).
        if (_armed) _flightTicks++;
        if (_swapTicks > 0)
        {
            bool swapped = (tick.Index + 1) / (ulong)_swapTicks % 2 == 1;
            for (int v = 0; v < _n; v++) _goals[v] = _goalOffsets[swapped ? _n - 1 - v : v];
        }

        // 3. Observations (the simulator's builder), contacts and separation.
        if (all) Observe();

        // 4. Per vehicle: supervisor, policy or fallback; 5. commands.
        bool killed = _node.Mode == NodeMode.Killed;
        for (int v = 0; v < _n; v++)
        {
            Span<float> action = _actions.AsSpan(v * 4, 4);
            ReadOnlySpan<float> observation = _observation.AsSpan(v * _obs, _obs);
            if (_mode[v] == VehicleMode.Policy && !killed)
            {
                SafetyViolation violation = _supervisors[v].CheckState(_has[v], in _state[v], now);
                if (!violation.Tripped)
                {
                    _engine.Forward(observation, action);
                    violation = _supervisors[v].CheckNumbers(observation, action);
                }
                if (violation.Tripped) Trip(v, violation, now, landNow: false);
                else _source[v] = ActionSource.Policy;
            }
            if (_mode[v] == VehicleMode.Fallback && !killed)
            {
                _fallbacks[v].Compute(in _state[v], now, action);
                _source[v] = ActionSource.Fallback;
                if (_fallbacks[v].Phase == FallbackPhase.Disarmed)
                {
                    _mode[v] = VehicleMode.Landed;
                    _node.AddEvent(new NodeEvent { TimestampNs = now, Tick = _node.CurrentTick, Kind = NodeEventKind.VehicleFallback, Mode = _node.Mode, Reason = ModeReason.Landed, Command = NodeCommandKindOrNone.None, Vehicle = v + 1 });
                }
            }
            if (killed || _mode[v] is VehicleMode.Idle or VehicleMode.Landed)
            {
                action.Fill(-1f); // motors off (or, not armed, none sent)
                _source[v] = ActionSource.Fallback;
            }
            // Not armed yet: nothing is sent — the vehicle stays with whatever flies it now (crazyswarm2's take-off and
            // on-board controller, the simulator's hover start); the node's first command comes with arming.
            if (_mode[v] == VehicleMode.Idle && !killed) continue;
            bool off = killed || _mode[v] == VehicleMode.Landed;
            Vector4 applied = new(action[0], action[1], action[2], action[3]);
            ActuatorModel actuator = _robot.Actuator;
            Vector4 thrust = off ? Vector4.Zero : new Vector4(actuator.ThrustFromAction(applied.X), actuator.ThrustFromAction(applied.Y),
                actuator.ThrustFromAction(applied.Z), actuator.ThrustFromAction(applied.W));
            var command = new ActuatorCommand
            {
                TimestampNs = now,
                Sequence = ++_sequence,
                Action = applied,
                ThrustN = thrust,
                RotorRpm = new Vector4(_robot.RpmForThrust(thrust.X), _robot.RpmForThrust(thrust.Y), _robot.RpmForThrust(thrust.Z), _robot.RpmForThrust(thrust.W)),
                Source = _source[v],
            };
            _commands.Send(v, in command);
            if (_history > 0)
            {
                // The commands sent, oldest first (SwarmEnv's history); the next observation reads them.
                Span<float> h = _sent.AsSpan(v * 4 * _history, 4 * _history);
                h[4..].CopyTo(h);
                h[^4] = applied.X; h[^3] = applied.Y; h[^2] = applied.Z; h[^1] = applied.W;
            }
        }

        // 6. The node's mode follows the vehicles.
        if (_armed && !killed)
        {
            bool anyPolicy = false, anyFallback = false;
            for (int v = 0; v < _n; v++) { anyPolicy |= _mode[v] == VehicleMode.Policy; anyFallback |= _mode[v] == VehicleMode.Fallback; }
            NodeMode wanted = anyPolicy ? NodeMode.Policy : anyFallback ? NodeMode.Fallback : NodeMode.Idle;
            if (wanted != _node.Mode)
            {
                SafetyViolation last = default;
                for (int v = 0; v < _n; v++) if (_trip[v].Tripped) last = _trip[v];
                ModeReason reason = wanted == NodeMode.Idle ? ModeReason.Landed : last.Tripped ? ModeReason.SafetyViolation : ModeReason.LandCommand;
                _node.ChangeMode(wanted, reason, wanted == NodeMode.Fallback ? last : default, now);
            }
        }
    }

    private void Arm(long now)
    {
        _armed = true;
        for (int v = 0; v < _n; v++) { _mode[v] = VehicleMode.Policy; _fallbacks[v].Reset(); }
        _node.ChangeMode(NodeMode.Policy, ModeReason.Armed, default, now);
    }

    private void Trip(int v, SafetyViolation violation, long now, bool landNow)
    {
        _trip[v] = violation;
        _mode[v] = VehicleMode.Fallback;
        _fallbacks[v].Engage(in _state[v], now, landNow);
        _node.AddEvent(new NodeEvent { TimestampNs = now, Tick = _node.CurrentTick, Kind = NodeEventKind.VehicleFallback, Mode = _node.Mode, Reason = ModeReason.SafetyViolation, Violation = violation, Command = NodeCommandKindOrNone.None, Vehicle = v + 1 });
    }

    private Span<float> History(int v) => _observation.AsSpan(v * _obs + SwarmObservation.HistoryOffset(_k), 4 * _history);

    /// <summary>Every vehicle's observation row (SwarmEnv's order: SDF, neighbours, own state), contacts and separation.</summary>
    private void Observe()
    {
        SwarmObstacles obstacles = _task.Obstacles;
        float minSeparation = float.PositiveInfinity, contactSquared = _task.CollisionDistanceM * _task.CollisionDistanceM;
        for (int v = 0; v < _n; v++)
        {
            Span<float> o = _observation.AsSpan(v * _obs, _obs);
            float centre = SwarmObservation.WriteSdf(_px[v], _py[v], _columnX, _columnY, _columns, obstacles.RadiusM, obstacles.SdfResolutionM,
                obstacles.SdfClipM, o.Slice(SwarmObservation.SdfOffset(_k)));
            float proximity = 0;
            SwarmObservation.WriteNeighbours(v, _k, _px, _py, _pz, _vx, _vy, _vz, _proximityRange, o, ref minSeparation, ref proximity);
            SwarmObservation.WriteSelf(_state[v].Position, _state[v].Orientation, _state[v].VelocityWorld, _state[v].AngularVelocityBody, _goals[v], o);
            _sent.AsSpan(v * 4 * _history, 4 * _history).CopyTo(History(v));

            // A column contact begins when the surface comes within one arm length (SwarmEnv's rule).
            bool touching = centre < _arm;
            if (touching && !_columnContact[v] && _armed) _columnContacts[v]++;
            _columnContact[v] = touching;
            if (_armed && _reachedAtTick[v] < 0 && Vector3.Distance(_state[v].Position, _goals[v]) <= _settings.GoalToleranceM)
                _reachedAtTick[v] = _flightTicks;
        }
        // Vehicle contacts: centres closer than 2 arm lengths; each pair counts once per contact, for both vehicles.
        for (int i = 0; i < _n; i++)
        {
            uint mask = 0;
            for (int j = 0; j < _n; j++)
            {
                if (j == i) continue;
                float rx = _px[i] - _px[j], ry = _py[i] - _py[j], rz = _pz[i] - _pz[j];
                if (rx * rx + ry * ry + rz * rz < contactSquared) mask |= 1u << j;
            }
            if (_armed) _vehicleContacts[i] += System.Numerics.BitOperations.PopCount(mask & ~_contactMask[i]);
            _contactMask[i] = mask;
        }
        if (_armed) _minSeparation = MathF.Min(_minSeparation, minSeparation);
    }

    public void Handle(in NodeCommand command, long nowNs)
    {
        switch (command.Kind)
        {
            case NodeCommandKind.Arm:
                if (_armed) _node.Refuse(NodeCommandKindOrNone.Arm, default, nowNs, ModeReason.AlreadyFlying);
                else if (!_hasState) _node.Refuse(NodeCommandKindOrNone.Arm, new SafetyViolation(SafetyTrigger.StaleSensor, float.PositiveInfinity, _settings.Limits.SensorTimeoutS * 1000f), nowNs);
                else Arm(nowNs);
                break;
            case NodeCommandKind.Land or NodeCommandKind.Disarm:
                // The whole swarm lands with the classical controller, each vehicle where it is.
                for (int v = 0; v < _n; v++)
                    if (_mode[v] == VehicleMode.Policy)
                    {
                        _mode[v] = VehicleMode.Fallback;
                        _fallbacks[v].Engage(in _state[v], nowNs, landNow: true);
                    }
                break;
            default:
                // A swarm flies to the goals of its node config; a single setpoint means nothing for N vehicles.
                _node.Refuse(NodeCommandKindOrNone.Setpoint, default, nowNs, ModeReason.AlreadyFlying);
                break;
        }
    }

    public void DescribeTick(ref TickRecord record, Span<byte> state)
    {
        record.Source = ActionSource.Policy;
        record.PolicyRan = _armed;
        _log.Capture(state, _state, _has, _goals, _actions, _mode, _groundTruth);
    }

    public void PublishTelemetry(long nowNs, in TickStatistics window) { }

    public void Stopped(long nowNs)
    {
        // Leave every motor off (a simulated swarm; a real one is landed by crazyswarm2's own land service).
        for (int v = 0; v < _n; v++)
        {
            var off = new ActuatorCommand { TimestampNs = nowNs, Sequence = ++_sequence, Action = new Vector4(-1), Source = ActionSource.Fallback };
            _commands.Send(v, in off);
        }
    }

    public string Progress()
    {
        int policy = 0, reached = 0;
        for (int v = 0; v < _n; v++)
        {
            if (_mode[v] == VehicleMode.Policy) policy++;
            if (_reachedAtTick[v] >= 0) reached++;
        }
        return string.Create(CultureInfo.InvariantCulture,
            $"{policy}/{_n} on the policy  goals reached {reached}/{_n}  contacts {TotalContacts}  min separation {(float.IsFinite(_minSeparation) ? _minSeparation.ToString("0.000", CultureInfo.InvariantCulture) : "-")} m");
    }

    /// <summary>Vehicle contacts counted once per pair (each vehicle counts its own), plus column contacts.</summary>
    public int TotalContacts
    {
        get
        {
            int pairs = 0, columns = 0;
            for (int v = 0; v < _n; v++) { pairs += _vehicleContacts[v]; columns += _columnContacts[v]; }
            return pairs / 2 + columns;
        }
    }

    public string Summary()
    {
        int reached = 0;
        for (int v = 0; v < _n; v++) if (_reachedAtTick[v] >= 0) reached++;
        return string.Create(CultureInfo.InvariantCulture,
            $"swarm of {_n}: goals reached {reached}/{_n}, contacts {TotalContacts}, min separation {(float.IsFinite(_minSeparation) ? _minSeparation.ToString("0.000", CultureInfo.InvariantCulture) : "-")} m");
    }

    public void AddSummary(JsonObject result)
    {
        var vehicles = new JsonArray();
        for (int v = 0; v < _n; v++)
        {
            var entry = new JsonObject
            {
                ["name"] = _settings.Vehicles[v].Name,
                ["mode"] = _mode[v].ToString().ToUpperInvariant(),
                ["goal_reached"] = _reachedAtTick[v] >= 0,
                ["time_to_goal_s"] = TimeToGoal(v),
                ["distance_to_goal_m"] = Vector3.Distance(_state[v].Position, _goals[v]),
                ["contacts_vehicles"] = _vehicleContacts[v],
                ["contacts_columns"] = _columnContacts[v],
            };
            if (_groundTruth is not null)
            {
                var (quads, columns) = _groundTruth.Contacts(v);
                entry["sim_contacts_vehicles"] = quads;
                entry["sim_contacts_columns"] = columns;
            }
            if (_trip[v].Tripped) entry["fallback"] = _trip[v].ToString();
            vehicles.Add(entry);
        }
        int reached = 0;
        for (int v = 0; v < _n; v++) if (_reachedAtTick[v] >= 0) reached++;
        result["swarm"] = new JsonObject
        {
            ["vehicles_count"] = _n,
            ["goals_reached"] = reached,
            ["contacts"] = TotalContacts,
            ["min_separation_m"] = float.IsFinite(_minSeparation) ? _minSeparation : null,
            ["vehicles"] = vehicles,
        };
    }

    public string? Failure()
    {
        // The first safety stop, as the quadrotor says it ("at tick 23: vehicle 1: FALLBACK: tilt …"), then contacts.
        foreach (NodeEvent e in _node.Events)
            if ((e.Kind == NodeEventKind.VehicleFallback && e.Violation.Tripped) || (e.Kind == NodeEventKind.ModeChange && e.Mode == NodeMode.Killed))
                return string.Create(CultureInfo.InvariantCulture, $"at tick {e.Tick}: {e.Describe()}");
        for (int v = 0; v < _n; v++)
            if (_trip[v].Tripped) return $"{_settings.Vehicles[v].Name}: safety fallback ({_trip[v]})";
        int contacts = TotalContacts;
        return contacts > 0 ? $"with {contacts} contact{(contacts == 1 ? "" : "s")} between vehicles or with columns" : null;
    }

    public IEnumerable<string> ReportLines()
    {
        for (int v = 0; v < _n; v++)
        {
            double? t = TimeToGoal(v);
            yield return string.Create(CultureInfo.InvariantCulture,
                $"  {_settings.Vehicles[v].Name}: {_mode[v].ToString().ToUpperInvariant()}, goal {(t is { } s ? $"reached at {s:0.00} s" : "not reached")}, {Vector3.Distance(_state[v].Position, _goals[v]):0.000} m from it, contacts {_vehicleContacts[v]} vehicle / {_columnContacts[v]} column");
        }
    }

    public void Dispose() { }
}
