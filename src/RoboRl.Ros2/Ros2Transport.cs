using System.Collections.Concurrent;
using System.Numerics;
using RoboRl.Core.Configs;
using RoboRl.Core.Messages;
using RoboRl.Core.Robots;

namespace RoboRl.Ros2;

/// <summary>
/// The node config's "ros2" section (docs/transports.md, "Node transport ros2"). Topic names without a leading '/' resolve under
/// <see cref="Namespace"/>, as in rclcpp.
/// </summary>
public sealed record Ros2TransportOptions
{
    /// <summary>DDS domain; null reads ROS_DOMAIN_ID.</summary>
    public int? DomainId { get; init; }
    public RosDistro Distro { get; init; } = RosDistro.Humble;
    public string NodeName { get; init; } = "roborl_node";
    /// <summary>The robot's namespace, e.g. "cf1" (crazyswarm2's drone name).</summary>
    public string Namespace { get; init; } = "cf1";
    /// <summary>geometry_msgs/PoseStamped, world ENU; null uses the odometry's pose.</summary>
    public string? PoseTopic { get; init; } = "pose";
    /// <summary>nav_msgs/Odometry: velocity (twist in the body frame, REP 105) and, without a pose topic, pose.</summary>
    public string? OdomTopic { get; init; } = "odom";
    /// <summary>sensor_msgs/Imu: body rates (replace the odometry's angular velocity).</summary>
    public string? ImuTopic { get; init; }
    /// <summary>sensor_msgs/Joy.</summary>
    public string? JoyTopic { get; init; } = "/joy";
    /// <summary>roborl_msgs/Action: the command, normalised per-motor action (force = (a + 1) / 2 · thrust_max_n, the robot's actuator).</summary>
    public string ActionTopic { get; init; } = "cmd_action";
    /// <summary>roborl_msgs/Mode requests: KILLED → kill, FALLBACK → land, IDLE → disarm, POLICY → arm (only with <see cref="AllowArm"/>).</summary>
    public string? ModeCommandTopic { get; init; } = "cmd_mode";
    /// <summary>geometry_msgs/PoseStamped: a new setpoint (position only).</summary>
    public string? SetpointTopic { get; init; } = "goal_pose";
    /// <summary>Prefix of the telemetry topics (pose, action, mode, tick_stats) under the namespace.</summary>
    public string TelemetryPrefix { get; init; } = "roborl";
    /// <summary>diagnostic_msgs/DiagnosticArray on mode changes (safety events).</summary>
    public string DiagnosticsTopic { get; init; } = "/diagnostics";
    /// <summary>QoS of the sensor subscriptions: SensorData (best effort) or Default (reliable).</summary>
    public bool SensorDataQos { get; init; } = true;
    /// <summary>Joy button that must be held for any human input (dead-man).</summary>
    public int DeadmanButton { get; init; } = 4;
    public TeleopKind JoyMode { get; init; } = TeleopKind.TakeOver;
    /// <summary>Joy axes for the four motor actions (take-over).</summary>
    public int[] ActionAxes { get; init; } = [1, 1, 1, 1];
    /// <summary>Joy axes for setpoint velocity x, y, z (nudge).</summary>
    public int[] NudgeAxes { get; init; } = [4, 3, 1];
    public float NudgeSpeedMS { get; init; } = 0.5f;
    /// <summary>
    /// Also publish the node's setpoint at the telemetry rate as crazyswarm2's <c>cmd_full_state</c> or <c>cmd_position</c>
    /// (for a policy or controller running on the vehicle): "none" (default), "cmd_full_state", "cmd_position".
    /// </summary>
    public string Crazyswarm2Setpoint { get; init; } = "none";
    /// <summary>DDS has no authentication here: arming from a topic is refused unless the config says otherwise.</summary>
    public bool AllowArm { get; init; }
    /// <summary>The joystick keys as the mapping shared with the MQTT transport.</summary>
    public JoyTeleopMapping Joy => new() { DeadmanButton = DeadmanButton, Mode = JoyMode, ActionAxes = ActionAxes, NudgeAxes = NudgeAxes, NudgeSpeedMS = NudgeSpeedMS };
    /// <summary>Cyclone DDS XML (tests: <see cref="Ros2Loopback.ConfigXml"/>); null: CYCLONEDDS_URI.</summary>
    public string? CycloneConfigXml { get; init; }

    /// <summary>Reads and schema-checks the "ros2" section; errors name the file, the JSON path and the range.</summary>
    public static Ros2TransportOptions Read(ConfigNode s)
    {
        string? Topic(string key, string? fallback) => !s.Has(key) ? fallback : s.String(key) is { Length: > 0 } t ? CheckTopic(s, key, t) : null;
        var o = new Ros2TransportOptions
        {
            DomainId = s.Has("domain_id") ? (int)s.Integer("domain_id", 0, 232) : null,
            Distro = !s.Has("distro") ? RosDistro.Humble : s.Choice("distro", "humble", "jazzy") == "jazzy" ? RosDistro.Jazzy : RosDistro.Humble,
            NodeName = s.Has("node_name") ? CheckToken(s, "node_name", s.String("node_name")) : "roborl_node",
            Namespace = s.Has("namespace") ? CheckTopic(s, "namespace", s.String("namespace")) : "cf1",
            PoseTopic = Topic("pose_topic", "pose"),
            OdomTopic = Topic("odom_topic", "odom"),
            ImuTopic = Topic("imu_topic", null),
            JoyTopic = Topic("joy_topic", "/joy"),
            ActionTopic = Topic("action_topic", "cmd_action") ?? throw s.Error("action_topic", "must not be empty"),
            ModeCommandTopic = Topic("mode_command_topic", "cmd_mode"),
            SetpointTopic = Topic("setpoint_topic", "goal_pose"),
            TelemetryPrefix = Topic("telemetry_prefix", "roborl") ?? throw s.Error("telemetry_prefix", "must not be empty"),
            DiagnosticsTopic = Topic("diagnostics_topic", "/diagnostics") ?? throw s.Error("diagnostics_topic", "must not be empty"),
            SensorDataQos = !s.Has("sensor_qos") || s.Choice("sensor_qos", "sensor_data", "default") == "sensor_data",
            AllowArm = s.Has("allow_arm") && s.Boolean("allow_arm"),
            Crazyswarm2Setpoint = s.Has("crazyswarm2_setpoint") ? s.Choice("crazyswarm2_setpoint", "none", "cmd_full_state", "cmd_position") : "none",
        };
        if (o.PoseTopic is null && o.OdomTopic is null) throw s.Error("pose_topic", "pose_topic and odom_topic are both empty: the node needs a pose");
        if (s.Has("joy"))
        {
            JoyTeleopMapping j = JoyTeleopMapping.Read(s.Object("joy"));
            o = o with { DeadmanButton = j.DeadmanButton, JoyMode = j.Mode, ActionAxes = j.ActionAxes, NudgeAxes = j.NudgeAxes, NudgeSpeedMS = j.NudgeSpeedMS };
        }
        s.EnsureNoUnknownKeys();
        return o;
    }

    private static string CheckTopic(ConfigNode s, string key, string topic)
    {
        foreach (var part in topic.TrimStart('/').TrimStart('~').TrimStart('/').Split('/'))
            CheckToken(s, key, part);
        return topic;
    }

    private static string CheckToken(ConfigNode s, string key, string token)
    {
        if (token.Length == 0 || char.IsAsciiDigit(token[0]) || !token.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
            throw s.Error(key, $"\"{token}\" is not a valid ROS name (letters, digits and '_', not starting with a digit, separated by '/')");
        return token;
    }
}

/// <summary>
/// ROS 2 as the node's transport, through one <see cref="Ros2Node"/>: the robot's state comes in on PoseStamped /
/// Odometry / Imu, the command goes out as roborl_msgs/Action, a Joy with its dead-man held is the human, roborl_msgs/Mode
/// and PoseStamped requests are commands (never Arm unless <see cref="Ros2TransportOptions.AllowArm"/>), and telemetry
/// goes out as pose, Action, Mode, TickStats and DiagnosticArray.
/// Subscription callbacks run on Cyclone DDS threads and copy into slots under a short lock; the tick's calls
/// (TryGetLatest, Send, Publish, TryDequeue) only copy structs and never block on I/O: the writes happen on this
/// transport's publisher thread.
/// </summary>
public sealed class Ros2Transport : ISensorSource, IActuatorSink, ITeleopSource, ICommandSource, ITelemetrySink, INodeEventSink, ISensorDiagnostics, IDisposable
{
    private readonly Ros2TransportOptions _options;
    private readonly object _stateGate = new(), _teleopGate = new(), _outGate = new();
    private RobotStateSample _state;
    private bool _hasPose;
    private uint _sequence;
    private TeleopSample _teleop;
    private readonly JoyTeleopMapping _joy;
    private bool _hasTeleop;
    private readonly ConcurrentQueue<NodeCommand> _commands = new();

    // Outgoing: the newest command and telemetry frame, published by _publisherThread.
    private ActuatorCommand _pendingCommand;
    private bool _commandPending;
    private TelemetryFrame _pendingFrame;
    private bool _framePending;
    private readonly AutoResetEvent _wake = new(false);
    private readonly Thread _publisherThread;
    private volatile bool _stopping;

    private readonly Publisher<ActionMsg> _action, _telemetryAction;
    private readonly Publisher<PoseStampedMsg> _telemetryPose;
    private readonly Publisher<ModeMsg> _telemetryMode;
    private readonly Publisher<TickStatsMsg> _telemetryTicks;
    private readonly DynamicPublisher _diagnostics;
    private readonly Publisher<FullStateMsg>? _fullState;
    private readonly DynamicPublisher? _position;
    private readonly float[] _actionValues = new float[ActuatorValues.Capacity], _telemetryValues = new float[ActuatorValues.Capacity];
    private NodeMode _lastPublishedMode = (NodeMode)255;
    private long _malformed, _refusedArms;
    // The subscription the robot's pose arrives on (the pose topic, else the odometry), for DescribeSensor.
    private readonly Ros2Entity? _stateSubscription;
    private readonly string _stateType = "";
    // Node events (refusals, mode changes with their reason), published on /diagnostics by the publisher thread.
    private readonly ConcurrentQueue<NodeStatusEvent> _events = new();
    private volatile bool _eventsConnected;
    private string _modeReason = "";
    private NodeMode _lastEventMode = (NodeMode)255;

    public Ros2Transport(Ros2TransportOptions options)
    {
        _options = options;
        _joy = options.Joy;
        Node = new Ros2Node(options.NodeName, options.Namespace, new Ros2Options
        {
            DomainId = options.DomainId,
            Distro = options.Distro,
            CycloneConfigXml = options.CycloneConfigXml,
        });
        try
        {
            QosProfile sensorQos = options.SensorDataQos ? QosProfile.SensorData : QosProfile.Default;
            if (options.PoseTopic is { } pose) (_stateSubscription, _stateType) = (Node.CreateSubscription<PoseStampedMsg>(pose, sensorQos, OnPose), "geometry_msgs/msg/PoseStamped");
            if (options.OdomTopic is { } odom)
            {
                var odometry = Node.CreateSubscription<OdometryMsg>(odom, sensorQos, OnOdometry);
                if (_stateSubscription is null) (_stateSubscription, _stateType) = (odometry, "nav_msgs/msg/Odometry");
            }
            if (options.ImuTopic is { } imu) Node.CreateSubscription<ImuMsg>(imu, sensorQos, OnImu);
            if (options.JoyTopic is { } joy) Node.CreateSubscription<JoyMsg>(joy, QosProfile.Default, OnJoy);
            if (options.ModeCommandTopic is { } mode) Node.CreateSubscription<ModeMsg>(mode, QosProfile.Default, OnModeRequest);
            // Volatile and transient-local readers: a latched setpoint is not lost at start-up (GoalSubscription).
            if (options.SetpointTopic is { } setpoint) Setpoints = new GoalSubscription(Node, setpoint, OnSetpoint);
            // Reliable: matches both reliable and best-effort readers.
            _action = Node.CreatePublisher<ActionMsg>(options.ActionTopic, QosProfile.Default);
            string t = options.TelemetryPrefix.TrimEnd('/');
            _telemetryPose = Node.CreatePublisher<PoseStampedMsg>($"{t}/pose");
            _telemetryAction = Node.CreatePublisher<ActionMsg>($"{t}/action");
            _telemetryMode = Node.CreatePublisher<ModeMsg>($"{t}/mode");
            _telemetryTicks = Node.CreatePublisher<TickStatsMsg>($"{t}/tick_stats");
            _diagnostics = Node.CreatePublisher(options.DiagnosticsTopic, RosTypes.DiagnosticArray);
            // Relative names: /<ns>/cmd_full_state and /<ns>/cmd_position, as crazyflie_server subscribes (Crazyswarm2Topics).
            if (options.Crazyswarm2Setpoint == "cmd_full_state") _fullState = Node.CreatePublisher<FullStateMsg>("cmd_full_state");
            else if (options.Crazyswarm2Setpoint == "cmd_position") _position = Node.CreatePublisher("cmd_position", RosTypes.CrazyfliePosition);
        }
        catch
        {
            Node.Dispose();
            throw;
        }
        _publisherThread = new Thread(PublishLoop) { IsBackground = true, Name = "roborl-ros2-publisher", Priority = ThreadPriority.AboveNormal };
        _publisherThread.Start();
    }

    public Ros2Node Node { get; }
    /// <summary>The setpoint (goal_pose) readers; null without a setpoint topic.</summary>
    public GoalSubscription? Setpoints { get; }
    /// <summary>Pose/odometry messages dropped because they held non-finite values or a non-unit quaternion.</summary>
    public long MalformedSensorCount => Interlocked.Read(ref _malformed);
    /// <summary>Arm requests refused because the config does not set allow_arm.</summary>
    public long RefusedArmCount => Interlocked.Read(ref _refusedArms);
    /// <summary>Called (on a Cyclone DDS thread) for every refused request, e.g. to print it.</summary>
    public Action<string>? Log { get; init; }

    // ---- sensor ----

    /// <summary>
    /// What the node waits for and what arrived, for the message when no state ever came:
    /// "/cf1/pose (geometry_msgs/msg/PoseStamped) on ROS 2 domain 0: no publisher matched".
    /// </summary>
    public string DescribeSensor()
    {
        if (_stateSubscription is not { } sub) return $"no pose or odometry topic configured (ROS 2 domain {Node.DomainId})";
        uint received;
        lock (_stateGate) received = _sequence;
        int matched = sub.MatchedCount;
        string seen = received > 0 ? $"{received} samples received"
            : matched == 0 ? "no publisher matched"
            : $"{matched} publisher{(matched == 1 ? "" : "s")} matched, no sample received";
        if (sub.IncompatibleQosCount > 0) seen += $"; {sub.IncompatibleQosCount} publishers with incompatible QoS (this subscription is {(_options.SensorDataQos ? "best effort, sensor_qos \"sensor_data\"" : "reliable, sensor_qos \"default\"")})";
        if (MalformedSensorCount > 0) seen += $"; {MalformedSensorCount} malformed samples dropped (non-finite values or a non-unit quaternion)";
        return $"{sub.Topic} ({_stateType}) on ROS 2 domain {Node.DomainId}: {seen}";
    }

    public bool TryGetLatest(out RobotStateSample sample)
    {
        lock (_stateGate)
        {
            sample = _state;
            return _hasPose;
        }
    }

    private void OnPose(in PoseStampedMsg m) => StorePose(m.Pose, null, null);

    private void OnOdometry(in OdometryMsg m)
    {
        // REP 105 / nav_msgs: the twist is in the child (body) frame; the node wants world velocity.
        var q = Quat(m.Pose.Pose.Orientation);
        var vBody = new Vector3((float)m.Twist.Twist.Linear.X, (float)m.Twist.Twist.Linear.Y, (float)m.Twist.Twist.Linear.Z);
        var w = new Vector3((float)m.Twist.Twist.Angular.X, (float)m.Twist.Twist.Angular.Y, (float)m.Twist.Twist.Angular.Z);
        if (!Finite(vBody) || !Finite(w) || !ValidRotation(q)) { Interlocked.Increment(ref _malformed); return; }
        var vWorld = Vector3.Transform(vBody, q);
        if (_options.PoseTopic is null) StorePose(m.Pose.Pose, vWorld, _options.ImuTopic is null ? w : null);
        else
            lock (_stateGate)
            {
                _state.VelocityWorld = vWorld;
                if (_options.ImuTopic is null) _state.AngularVelocityBody = w;
            }
    }

    private void OnImu(in ImuMsg m)
    {
        var w = new Vector3((float)m.AngularVelocity.X, (float)m.AngularVelocity.Y, (float)m.AngularVelocity.Z);
        if (!Finite(w)) { Interlocked.Increment(ref _malformed); return; }
        lock (_stateGate) _state.AngularVelocityBody = w;
    }

    private void StorePose(in PoseMsg pose, Vector3? velocity, Vector3? rates)
    {
        var p = new Vector3((float)pose.Position.X, (float)pose.Position.Y, (float)pose.Position.Z);
        var q = Quat(pose.Orientation);
        // A malformed pose is dropped: the node then sees its last sample age and the supervisor's stale-sensor fallback acts.
        if (!Finite(p) || !ValidRotation(q)) { Interlocked.Increment(ref _malformed); return; }
        long now = NodeClock.NowNs;
        lock (_stateGate)
        {
            _state.Position = p;
            _state.Orientation = Quaternion.Normalize(q);
            if (velocity is { } v) _state.VelocityWorld = v;
            if (rates is { } r) _state.AngularVelocityBody = r;
            _state.RotorRpm = new Vector4(float.NaN);
            _state.TimestampNs = now; // the header stamp is on the sender's clock; staleness is judged on arrival
            _state.Sequence = ++_sequence;
            _hasPose = true;
        }
    }

    private static Quaternion Quat(in QuaternionMsg q) => new((float)q.X, (float)q.Y, (float)q.Z, (float)q.W);
    private static bool Finite(Vector3 v) => float.IsFinite(v.X) && float.IsFinite(v.Y) && float.IsFinite(v.Z);
    private static bool ValidRotation(Quaternion q) =>
        float.IsFinite(q.X) && float.IsFinite(q.Y) && float.IsFinite(q.Z) && float.IsFinite(q.W) && MathF.Abs(q.Length() - 1) < 0.01f;

    // ---- teleop ----

    public bool TryGetLatest(out TeleopSample sample)
    {
        lock (_teleopGate)
        {
            sample = _teleop;
            return _hasTeleop;
        }
    }

    private void OnJoy(in JoyMsg m)
    {
        TeleopSample sample = _joy.ToSample(m.Axes.Span, m.Buttons.Span, NodeClock.NowNs);
        lock (_teleopGate)
        {
            _teleop = sample;
            _hasTeleop = true;
        }
    }

    // ---- commands ----

    public bool TryDequeue(out NodeCommand command) => _commands.TryDequeue(out command);

    private void OnModeRequest(in ModeMsg m)
    {
        string principal = "ros2:" + Node.ResolveTopic(_options.ModeCommandTopic!).RosName;
        long now = NodeClock.NowNs;
        NodeCommandKind? kind = m.Mode switch
        {
            NodeMode.Killed => NodeCommandKind.Kill,
            NodeMode.Fallback => NodeCommandKind.Land,
            NodeMode.Idle => NodeCommandKind.Disarm,
            NodeMode.Policy => NodeCommandKind.Arm,
            _ => null,
        };
        if (kind is null) { Log?.Invoke($"{principal}: mode request {m.Mode} ignored (allowed: KILLED, FALLBACK, IDLE, POLICY)"); return; }
        if (kind == NodeCommandKind.Arm && !_options.AllowArm)
        {
            Interlocked.Increment(ref _refusedArms);
            string text = $"{principal}: arm refused: the ros2 section does not set \"allow_arm\": true (DDS is not authenticated)";
            Log?.Invoke(text);
            // Also on /diagnostics, where a ROS 2 operator looks.
            Publish(new NodeStatusEvent(now, 0, NodeStatusLevel.Warn, "command_refused", _lastPublishedMode == (NodeMode)255 ? NodeMode.Idle : _lastPublishedMode, text));
            return;
        }
        _commands.Enqueue(new NodeCommand(kind.Value, default, 0, principal, now));
    }

    private void OnSetpoint(in PoseStampedMsg m)
    {
        var p = new Vector3((float)m.Pose.Position.X, (float)m.Pose.Position.Y, (float)m.Pose.Position.Z);
        // Non-finite setpoints go through: the node refuses and logs them.
        _commands.Enqueue(new NodeCommand(NodeCommandKind.Setpoint, p, 0, "ros2:" + Node.ResolveTopic(_options.SetpointTopic!).RosName, NodeClock.NowNs));
    }

    // ---- outgoing ----

    /// <summary>
    /// A node event (a refused command, a mode change with its reason): one diagnostic_msgs/DiagnosticArray on the
    /// diagnostics topic, sent by the publisher thread; a mode change's reason also goes into the next Mode telemetry.
    /// From then on mode changes are reported by these events (with their reason) instead of from the telemetry frames.
    /// </summary>
    public void Publish(in NodeStatusEvent e)
    {
        if (e.Kind == "mode_change") _eventsConnected = true;
        _events.Enqueue(e);
        _wake.Set();
    }

    /// <summary>Mode changes reach /diagnostics only through <see cref="Publish(in NodeStatusEvent)"/> (with their reason), none
    /// from the telemetry frames: set by a host that forwards the node's events (the CLI), so that none is reported twice.</summary>
    public bool ModeDiagnosticsFromEvents { init => _eventsConnected = value; }

    public void Send(in ActuatorCommand command)
    {
        lock (_outGate)
        {
            _pendingCommand = command;
            _commandPending = true;
        }
        _wake.Set();
    }

    public void Publish(in TelemetryFrame frame)
    {
        lock (_outGate)
        {
            _pendingFrame = frame;
            _framePending = true;
        }
        _wake.Set();
    }

    private void PublishLoop()
    {
        while (!_stopping)
        {
            _wake.WaitOne(100);
            ActuatorCommand command = default;
            TelemetryFrame frame = default;
            bool hasCommand, hasFrame;
            lock (_outGate)
            {
                hasCommand = _commandPending;
                hasFrame = _framePending;
                if (hasCommand) command = _pendingCommand;
                if (hasFrame) frame = _pendingFrame;
                _commandPending = _framePending = false;
            }
            try
            {
                if (hasCommand) PublishCommand(in command);
                while (_events.TryDequeue(out NodeStatusEvent e)) PublishEvent(in e);
                if (hasFrame) PublishTelemetry(in frame);
            }
            // Whatever a write throws, the node keeps flying (its supervisor judges the robot, not this thread): report it.
            catch (Exception e) when (!_stopping)
            {
                Log?.Invoke($"ros2 publish failed: {e.Message}");
            }
        }
    }

    private static HeaderMsg Header(string frame) => new() { Stamp = TimeMsg.FromNanoseconds(DateTime.UtcNow.Ticks * 100 - DateTime.UnixEpoch.Ticks * 100), FrameId = frame };

    private void PublishCommand(in ActuatorCommand c)
    {
        c.Action.CopyTo(_actionValues);
        _action.Publish(new ActionMsg { Header = Header("base_link"), Tick = c.Sequence, Values = _actionValues.AsMemory(0, c.Action.Count), Source = c.Source });
    }

    private void PublishTelemetry(in TelemetryFrame f)
    {
        var header = Header("world");
        var s = f.State;
        _telemetryPose.Publish(new PoseStampedMsg
        {
            Header = header,
            Pose = new PoseMsg
            {
                Position = new PointMsg { X = s.Position.X, Y = s.Position.Y, Z = s.Position.Z },
                Orientation = new QuaternionMsg { X = s.Orientation.X, Y = s.Orientation.Y, Z = s.Orientation.Z, W = s.Orientation.W },
            },
        });
        f.Command.Action.CopyTo(_telemetryValues);
        _telemetryAction.Publish(new ActionMsg
        {
            Header = header,
            Tick = f.Command.Sequence,
            Values = _telemetryValues.AsMemory(0, f.Command.Action.Count),
            Source = f.Command.Source,
            Intervention = f.Command.Source == ActionSource.Human,
        });
        _telemetryMode.Publish(new ModeMsg { Header = header, Mode = f.Mode, Name = ModeName(f.Mode), Reason = _modeReason });
        var t = f.Ticks;
        _telemetryTicks.Publish(new TickStatsMsg
        {
            Header = header,
            Ticks = t.Ticks,
            RateHz = (float)t.RateHz,
            LatencyP50Us = (float)t.LatencyP50Us,
            LatencyP99Us = (float)t.LatencyP99Us,
            LatencyMaxUs = (float)t.LatencyMaxUs,
            JitterP99Us = (float)t.JitterP99Us,
            Overruns = t.Overruns,
        });
        if (_fullState is not null)
            _fullState.Publish(new FullStateMsg
            {
                Header = header,
                Pose = new PoseMsg { Position = new PointMsg { X = f.Setpoint.X, Y = f.Setpoint.Y, Z = f.Setpoint.Z }, Orientation = QuaternionMsg.Identity },
            });
        if (_position is not null)
        {
            // A background thread at the telemetry rate: the dynamic message's allocation is acceptable here.
            DynamicMessage position = DynamicMessage.Create(_position.Type).Set("x", f.Setpoint.X).Set("y", f.Setpoint.Y).Set("z", f.Setpoint.Z).Set("yaw", 0f);
            position.Get<DynamicMessage>("header").Set("frame_id", "world");
            _position.Publish(position);
        }
        if (f.Mode != _lastPublishedMode)
        {
            if (!_eventsConnected) PublishDiagnostics(f.Mode, _lastPublishedMode);
            _lastPublishedMode = f.Mode;
        }
    }

    private static string ModeName(NodeMode m) => m switch
    {
        NodeMode.Idle => "IDLE",
        NodeMode.Policy => "POLICY",
        NodeMode.Human => "HUMAN",
        NodeMode.Fallback => "FALLBACK",
        NodeMode.Killed => "KILLED",
        NodeMode.TakingOff => "TAKING_OFF",
        NodeMode.Landing => "LANDING",
        _ => "UNKNOWN",
    };

    /// <summary>A mode change as a diagnostic_msgs/DiagnosticStatus (OK for policy/human/idle, WARN fallback, ERROR killed).</summary>
    private void PublishDiagnostics(NodeMode mode, NodeMode previous, string? reason = null)
    {
        var registry = Node.Options.Registry;
        byte level = mode switch { NodeMode.Killed => 2, NodeMode.Fallback => 1, _ => 0 };
        DynamicMessage KeyValue(string k, string v) => DynamicMessage.Create(registry.Get(RosTypes.KeyValue)).Set("key", k).Set("value", v);
        DynamicMessage status = DynamicMessage.Create(registry.Get(RosTypes.DiagnosticStatus))
            .Set("level", level).Set("name", $"{Node.FullyQualifiedName}: mode").Set("message", ModeName(mode)).Set("hardware_id", Node.Namespace)
            .Set("values", reason is null
                ? new[] { KeyValue("mode", ModeName(mode)), KeyValue("previous", previous == (NodeMode)255 ? "" : ModeName(previous)) }
                : new[] { KeyValue("mode", ModeName(mode)), KeyValue("previous", previous == (NodeMode)255 ? "" : ModeName(previous)), KeyValue("reason", reason) });
        DynamicMessage header = DynamicMessage.Create(registry.Get(RosTypes.Header));
        var stamp = Header("world").Stamp;
        header.Get<DynamicMessage>("stamp").Set("sec", stamp.Sec).Set("nanosec", stamp.Nanosec);
        header.Set("frame_id", "world");
        _diagnostics.Publish(DynamicMessage.Create(registry.Get(RosTypes.DiagnosticArray)).Set("header", header).Set("status", new[] { status }));
    }

    /// <summary>A node event as a diagnostic_msgs/DiagnosticStatus: level, "NODE: kind", the event's text, and tick/kind/mode values.</summary>
    private void PublishEvent(in NodeStatusEvent e)
    {
        if (e.Kind == "mode_change")
        {
            // The same status as a mode change seen in telemetry (message: the mode's name), with the node's reason added.
            _modeReason = e.Text;
            PublishDiagnostics(e.Mode, _lastEventMode, e.Text);
            _lastEventMode = e.Mode;
            return;
        }
        var registry = Node.Options.Registry;
        DynamicMessage KeyValue(string k, string v) => DynamicMessage.Create(registry.Get(RosTypes.KeyValue)).Set("key", k).Set("value", v);
        DynamicMessage status = DynamicMessage.Create(registry.Get(RosTypes.DiagnosticStatus))
            .Set("level", (byte)e.Level).Set("name", $"{Node.FullyQualifiedName}: {e.Kind}").Set("message", e.Text).Set("hardware_id", Node.Namespace)
            .Set("values", new[] { KeyValue("kind", e.Kind), KeyValue("mode", ModeName(e.Mode)), KeyValue("tick", e.Tick.ToString(System.Globalization.CultureInfo.InvariantCulture)) });
        DynamicMessage header = DynamicMessage.Create(registry.Get(RosTypes.Header));
        var stamp = Header("world").Stamp;
        header.Get<DynamicMessage>("stamp").Set("sec", stamp.Sec).Set("nanosec", stamp.Nanosec);
        header.Set("frame_id", "world");
        _diagnostics.Publish(DynamicMessage.Create(registry.Get(RosTypes.DiagnosticArray)).Set("header", header).Set("status", new[] { status }));
    }


    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        _wake.Set();
        _publisherThread.Join(TimeSpan.FromSeconds(5));
        Node.Dispose();
        _wake.Dispose();
    }
}
