using System.Numerics;
using RoboRl.Core.Configs;
using RoboRl.Core.Messages;
using RoboRl.Core.Robots;
using RoboRl.Core.Swarm;

namespace RoboRl.Ros2;

/// <summary>
/// The "ros2" section of a swarm node (docs/swarm.md, "Over ROS 2: crazyswarm2's per-drone topics"): per vehicle NAME
/// (the node config's "vehicles", as crazyswarm2's crazyflies.yaml names them) its pose comes in on /NAME/pose_topic and
/// its command goes out on /NAME/action_topic.
/// </summary>
public sealed record Ros2SwarmOptions
{
    public int? DomainId { get; init; }
    public RosDistro Distro { get; init; } = RosDistro.Humble;
    public string NodeName { get; init; } = "roborl_swarm";
    /// <summary>geometry_msgs/PoseStamped per vehicle, world ENU: what crazyswarm2's crazyflie_server publishes from the motion capture or the state estimate.</summary>
    public string PoseTopic { get; init; } = "pose";
    /// <summary>Optional nav_msgs/Odometry per vehicle (velocity, body rates); without it they are differenced from consecutive poses.</summary>
    public string? OdomTopic { get; init; }
    /// <summary>roborl_msgs/Action per vehicle: the four normalised rotor actions (force = (a + 1)/2 · thrust_max_n).</summary>
    public string ActionTopic { get; init; } = "cmd_action";
    public bool SensorDataQos { get; init; }
    public string? CycloneConfigXml { get; init; }

    public static Ros2SwarmOptions Read(ConfigNode s)
    {
        string Name(string key, string fallback)
        {
            if (!s.Has(key)) return fallback;
            string v = s.String(key);
            if (v.Length == 0 || char.IsAsciiDigit(v[0]) || !v.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
                throw s.Error(key, $"\"{v}\" is not a relative ROS name (letters, digits and '_', not starting with a digit): it is resolved under each vehicle's name");
            return v;
        }
        var o = new Ros2SwarmOptions
        {
            DomainId = s.Has("domain_id") ? (int)s.Integer("domain_id", 0, 232) : null,
            Distro = !s.Has("distro") ? RosDistro.Humble : s.Choice("distro", "humble", "jazzy") == "jazzy" ? RosDistro.Jazzy : RosDistro.Humble,
            NodeName = Name("node_name", "roborl_swarm"),
            PoseTopic = Name("pose_topic", "pose"),
            OdomTopic = s.Has("odom_topic") ? Name("odom_topic", "odom") : null,
            ActionTopic = Name("action_topic", "cmd_action"),
            // crazyflie_server publishes pose reliable, depth 10 (Crazyswarm2Topics): "default" matches it.
            SensorDataQos = s.Has("sensor_qos") && s.Choice("sensor_qos", "sensor_data", "default") == "sensor_data",
        };
        s.EnsureNoUnknownKeys();
        return o;
    }
}

/// <summary>
/// A swarm over ROS 2 with crazyswarm2's per-drone topics, through one <see cref="Ros2Node"/>: /NAME/pose
/// (geometry_msgs/PoseStamped) in for every vehicle, /NAME/cmd_action (roborl_msgs/Action, the same command the
/// single-Crazyflie ROS 2 transport sends) out. Why not a crazyswarm2 command: crazyflie_server's per-drone commands are
/// cmd_full_state, cmd_position, cmd_velocity_world, cmd_hover and cmd_vel_legacy (roll, pitch, yaw rate, thrust) — all
/// setpoints for the on-board controller, none a rotor command (crazyswarm2 issues #469, #246; crazyflie-firmware #1332),
/// while the swarm policy outputs four rotor forces; sending them as a setpoint would not be what the policy decided.
/// The vehicle side takes cmd_action into the firmware's force mode (controlModeForce: normalizedForces = (a + 1)/2),
/// like RoboRl's single-Crazyflie setups. Velocity and body rates come from /NAME/odom when configured, else from the
/// difference of consecutive poses (their header stamps). Callbacks copy under a short lock; the tick's calls only copy.
/// </summary>
public sealed class Ros2SwarmLink : ISwarmStateSource, ISwarmCommandSink, ISensorDiagnostics, IDisposable
{
    private readonly Ros2SwarmOptions _options;
    private readonly string[] _names;
    private readonly object _gate = new();
    private readonly RobotStateSample[] _state;
    private readonly bool[] _has;
    private readonly long[] _stampNs;           // the newest pose's header stamp (sender's clock), for differencing
    private readonly Subscription<PoseStampedMsg>[] _poses;
    private readonly Publisher<ActionMsg>[] _actions;
    private readonly ActuatorCommand[] _pending;
    private readonly bool[] _isPending;
    private readonly float[] _values = new float[4];
    private readonly AutoResetEvent _wake = new(false);
    private readonly Thread _publisher;
    private volatile bool _stopping;
    private long _malformed;
    private uint _sequence;

    public Ros2SwarmLink(Ros2SwarmOptions options, IReadOnlyList<string> names)
    {
        _options = options;
        _names = names.ToArray();
        int n = _names.Length;
        _state = new RobotStateSample[n];
        _has = new bool[n];
        _stampNs = new long[n];
        _poses = new Subscription<PoseStampedMsg>[n];
        _actions = new Publisher<ActionMsg>[n];
        _pending = new ActuatorCommand[n];
        _isPending = new bool[n];
        Node = new Ros2Node(options.NodeName, "/", new Ros2Options { DomainId = options.DomainId, Distro = options.Distro, CycloneConfigXml = options.CycloneConfigXml });
        try
        {
            QosProfile sensorQos = options.SensorDataQos ? QosProfile.SensorData : QosProfile.Default;
            for (int v = 0; v < n; v++)
            {
                int vehicle = v;
                string ns = "/" + _names[v] + "/";
                _poses[v] = Node.CreateSubscription<PoseStampedMsg>(ns + options.PoseTopic, sensorQos, (in PoseStampedMsg m) => OnPose(vehicle, m));
                if (options.OdomTopic is { } odom) Node.CreateSubscription<OdometryMsg>(ns + odom, sensorQos, (in OdometryMsg m) => OnOdometry(vehicle, m));
                _actions[v] = Node.CreatePublisher<ActionMsg>(ns + options.ActionTopic, QosProfile.Default);
            }
        }
        catch
        {
            Node.Dispose();
            throw;
        }
        _publisher = new Thread(PublishLoop) { IsBackground = true, Name = "roborl-ros2-swarm-publisher", Priority = ThreadPriority.AboveNormal };
        _publisher.Start();
    }

    public Ros2Node Node { get; }
    public int Vehicles => _names.Length;
    /// <summary>Poses and odometry dropped for non-finite values or a non-unit quaternion.</summary>
    public long MalformedSensorCount => Interlocked.Read(ref _malformed);

    public bool TryGetLatest(int vehicle, out RobotStateSample sample)
    {
        lock (_gate)
        {
            sample = _state[vehicle];
            return _has[vehicle];
        }
    }

    public void Send(int vehicle, in ActuatorCommand command)
    {
        lock (_gate)
        {
            _pending[vehicle] = command;
            _isPending[vehicle] = true;
        }
        if (vehicle == _names.Length - 1) _wake.Set(); // the tick sends every vehicle in order: one wake-up per tick
    }

    public string DescribeSensor()
    {
        int matched = 0, received = 0;
        for (int v = 0; v < _names.Length; v++)
        {
            if (_poses[v].MatchedCount > 0) matched++;
            lock (_gate) if (_has[v]) received++;
        }
        return $"/{{{string.Join(",", _names)}}}/{_options.PoseTopic} (geometry_msgs/msg/PoseStamped) on ROS 2 domain {Node.DomainId}: " +
               $"{matched} of {_names.Length} matched a publisher, {received} sent a pose{(MalformedSensorCount > 0 ? $"; {MalformedSensorCount} malformed dropped" : "")}";
    }

    private void OnPose(int v, in PoseStampedMsg m)
    {
        var p = new Vector3((float)m.Pose.Position.X, (float)m.Pose.Position.Y, (float)m.Pose.Position.Z);
        var q = new Quaternion((float)m.Pose.Orientation.X, (float)m.Pose.Orientation.Y, (float)m.Pose.Orientation.Z, (float)m.Pose.Orientation.W);
        if (!Finite(p) || !(float.IsFinite(q.X) && float.IsFinite(q.Y) && float.IsFinite(q.Z) && float.IsFinite(q.W)) || MathF.Abs(q.Length() - 1) > 0.01f)
        {
            Interlocked.Increment(ref _malformed);
            return;
        }
        q = Quaternion.Normalize(q);
        long stamp = m.Header.Stamp.ToNanoseconds(), now = NodeClock.NowNs;
        lock (_gate)
        {
            ref RobotStateSample s = ref _state[v];
            double dt = (stamp - _stampNs[v]) * 1e-9;
            if (_options.OdomTopic is null && _has[v] && dt > 0 && dt < 0.5)
            {
                // Velocity and body rates from consecutive poses: v = Δp/Δt; ω_body = 2·vec(q_prev⁻¹ q)/Δt (small rotation).
                s.VelocityWorld = (p - s.Position) / (float)dt;
                Quaternion d = Quaternion.Conjugate(s.Orientation) * q;
                if (d.W < 0) d = Quaternion.Negate(d);
                s.AngularVelocityBody = new Vector3(d.X, d.Y, d.Z) * (float)(2 / dt);
            }
            s.Position = p;
            s.Orientation = q;
            s.RotorRpm = new Vector4(float.NaN);
            s.TimestampNs = now; // staleness on arrival (the stamp is on the sender's clock)
            s.Sequence = ++_sequence;
            _stampNs[v] = stamp;
            _has[v] = true;
        }
    }

    private void OnOdometry(int v, in OdometryMsg m)
    {
        var q = new Quaternion((float)m.Pose.Pose.Orientation.X, (float)m.Pose.Pose.Orientation.Y, (float)m.Pose.Pose.Orientation.Z, (float)m.Pose.Pose.Orientation.W);
        var vBody = new Vector3((float)m.Twist.Twist.Linear.X, (float)m.Twist.Twist.Linear.Y, (float)m.Twist.Twist.Linear.Z);
        var w = new Vector3((float)m.Twist.Twist.Angular.X, (float)m.Twist.Twist.Angular.Y, (float)m.Twist.Twist.Angular.Z);
        if (!Finite(vBody) || !Finite(w) || !(MathF.Abs(q.Length() - 1) < 0.01f)) { Interlocked.Increment(ref _malformed); return; }
        lock (_gate)
        {
            _state[v].VelocityWorld = Vector3.Transform(vBody, Quaternion.Normalize(q)); // REP 105: the twist is in the body frame
            _state[v].AngularVelocityBody = w;
        }
    }

    private static bool Finite(Vector3 v) => float.IsFinite(v.X) && float.IsFinite(v.Y) && float.IsFinite(v.Z);

    private void PublishLoop()
    {
        while (!_stopping)
        {
            _wake.WaitOne(50);
            for (int v = 0; v < _names.Length; v++)
            {
                ActuatorCommand c;
                lock (_gate)
                {
                    if (!_isPending[v]) continue;
                    c = _pending[v];
                    _isPending[v] = false;
                }
                _values[0] = c.Action[0]; _values[1] = c.Action[1]; _values[2] = c.Action[2]; _values[3] = c.Action[3];
                _actions[v].Publish(new ActionMsg
                {
                    Header = new HeaderMsg { Stamp = TimeMsg.FromNanoseconds(c.TimestampNs), FrameId = _names[v] },
                    Tick = c.Sequence,
                    Values = _values,
                    Source = c.Source,
                });
            }
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _wake.Set();
        _publisher.Join();
        Node.Dispose();
    }
}
