using System.Globalization;
using RoboRl.Core.Configs;
using RoboRl.Core.Messages;
using RoboRl.Core.Robots;

namespace RoboRl.Ros2;

/// <summary>
/// The "ros2" section of a ground-robot node config (configs/nodes/diffbot-ros2.json). Defaults are the topics a
/// TurtleBot3 bringup and RViz use: /scan (sensor_msgs/LaserScan), /odom (nav_msgs/Odometry), /goal_pose
/// (geometry_msgs/PoseStamped, RViz's "2D Goal Pose" tool) in; /cmd_vel (geometry_msgs/Twist) out.
/// </summary>
public sealed record Ros2GroundRobotOptions
{
    /// <summary>DDS domain; null reads ROS_DOMAIN_ID.</summary>
    public int? DomainId { get; init; }
    public RosDistro Distro { get; init; } = RosDistro.Humble;
    public string NodeName { get; init; } = "roborl_nav";
    public string Namespace { get; init; } = "/";
    public string ScanTopic { get; init; } = "/scan";
    public string OdomTopic { get; init; } = "/odom";
    public string GoalTopic { get; init; } = "/goal_pose";
    /// <summary>diagnostic_msgs/DiagnosticArray: the start-up state (waiting for sensors, waiting for a goal, goal received) and the node's events.</summary>
    public string DiagnosticsTopic { get; init; } = "/diagnostics";
    /// <summary>Null when the commands go elsewhere (a serial wheel controller).</summary>
    public string? CmdVelTopic { get; init; } = "/cmd_vel";
    /// <summary>Sensor subscriptions with the sensor-data QoS (best effort, keep-last 5), else the default (reliable).</summary>
    public bool SensorDataQos { get; init; } = true;
    /// <summary>Cyclone DDS XML (tests: <see cref="Ros2Loopback.ConfigXml"/>); null: CYCLONEDDS_URI.</summary>
    public string? CycloneConfigXml { get; init; }

    public static Ros2GroundRobotOptions Read(ConfigNode s, bool commandsOnRos2 = true)
    {
        string Topic(string key, string fallback) => s.Has(key) ? CheckName(s, key, s.String(key)) : fallback;
        var o = new Ros2GroundRobotOptions
        {
            DomainId = s.Has("domain_id") ? (int)s.Integer("domain_id", 0, 232) : null,
            Distro = !s.Has("distro") ? RosDistro.Humble : s.Choice("distro", "humble", "jazzy") == "jazzy" ? RosDistro.Jazzy : RosDistro.Humble,
            NodeName = s.Has("node_name") ? CheckName(s, "node_name", s.String("node_name")) : "roborl_nav",
            Namespace = s.Has("namespace") ? CheckName(s, "namespace", s.String("namespace")) : "/",
            ScanTopic = Topic("scan_topic", "/scan"),
            OdomTopic = Topic("odom_topic", "/odom"),
            GoalTopic = Topic("goal_topic", "/goal_pose"),
            DiagnosticsTopic = Topic("diagnostics_topic", "/diagnostics"),
            CmdVelTopic = commandsOnRos2 ? Topic("cmd_vel_topic", "/cmd_vel") : null,
            SensorDataQos = !s.Has("sensor_qos") || s.Choice("sensor_qos", "sensor_data", "default") == "sensor_data",
        };
        if (!commandsOnRos2 && s.Has("cmd_vel_topic"))
            throw s.Error("cmd_vel_topic", "the commands go to the serial wheel controller with transport \"serial\"; remove this key");
        s.EnsureNoUnknownKeys();
        return o;
    }

    static string CheckName(ConfigNode s, string key, string name)
    {
        if (name == "/") return name;
        foreach (string part in name.TrimStart('/').Split('/'))
            if (part.Length == 0 || char.IsAsciiDigit(part[0]) || !part.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
                throw s.Error(key, $"\"{name}\" is not a valid ROS name (letters, digits and '_', not starting with a digit, separated by '/')");
        return name;
    }
}

/// <summary>
/// A differential-drive robot over ROS 2, through one <see cref="Ros2Node"/>: LaserScan, Odometry and goal PoseStamped
/// in, Twist out. Subscription callbacks run on Cyclone DDS threads and copy under a short lock (a scan of a new size
/// reallocates its buffer there, never in the tick); the tick's Send only stores the command, which this link's
/// publisher thread writes. Sample ages are judged on the receive time (node clock): the robot's header stamps come
/// from another clock.
/// Start-up is explicit (docs/transports.md, "Start-up and one-shot goals"): goals are read by a
/// <see cref="GoalSubscription"/> (a transient-local writer's last goal is not lost), and the publisher thread keeps a
/// latched diagnostic_msgs/DiagnosticArray on /diagnostics saying "waiting for /odom, /scan", then "ready, waiting for
/// a goal", then "goal received", with how many goal writers the node knows ("goal_publishers": a one-shot volatile goal
/// written after that count includes its writer is not lost to the DDS discovery race).
/// </summary>
public sealed class Ros2GroundRobotLink : IGroundSensorSource, IVelocityCommandSink, ISensorDiagnostics, INodeEventSink, IDisposable
{
    /// <summary>The name of the start-up status in the DiagnosticArray: "/roborl_nav: start-up".</summary>
    public string StartupStatusName => Node.FullyQualifiedName + ": start-up";
    /// <summary>Reliable, transient-local, keep-last 1: a late-joining reader gets the current state; volatile readers (rqt_robot_monitor) match too.</summary>
    public static QosProfile DiagnosticsQos { get; } = new(Reliability.Reliable, Durability.TransientLocal, 1);

    readonly object _gate = new();
    float[] _scanRanges = [];
    ScanSample _scan;
    bool _hasScan, _hasOdometry, _hasGoal;
    OdometrySample _odometry;
    GoalSample _goal;
    long _malformed, _publishErrors;

    readonly Publisher<TwistMsg>? _cmdVel;
    readonly DynamicPublisher _diagnostics;
    readonly System.Collections.Concurrent.ConcurrentQueue<NodeStatusEvent> _events = new();
    long _goalsReceived;
    readonly object _outGate = new();
    VelocityCommand _pending;
    bool _commandPending;
    readonly AutoResetEvent _wake = new(false);
    readonly Thread _publisherThread;
    volatile bool _stopping;

    public Ros2GroundRobotLink(Ros2GroundRobotOptions options)
    {
        Options = options;
        Node = new Ros2Node(options.NodeName, options.Namespace, new Ros2Options
        {
            DomainId = options.DomainId,
            Distro = options.Distro,
            CycloneConfigXml = options.CycloneConfigXml,
        });
        try
        {
            QosProfile sensorQos = options.SensorDataQos ? QosProfile.SensorData : QosProfile.Default;
            ScanSubscription = Node.CreateSubscription<LaserScanMsg>(options.ScanTopic, sensorQos, OnScan);
            OdomSubscription = Node.CreateSubscription<OdometryMsg>(options.OdomTopic, sensorQos, OnOdometry);
            Goals = new GoalSubscription(Node, options.GoalTopic, OnGoal);
            // Reliable: matches both reliable and best-effort readers (a TurtleBot3 bringup's /cmd_vel is reliable).
            if (options.CmdVelTopic is { } topic) _cmdVel = Node.CreatePublisher<TwistMsg>(topic, QosProfile.Default);
            _diagnostics = Node.CreatePublisher(options.DiagnosticsTopic, RosTypes.DiagnosticArray, DiagnosticsQos);
        }
        catch
        {
            Node.Dispose();
            throw;
        }
        _publisherThread = new Thread(PublishLoop) { IsBackground = true, Name = "roborl-ros2-ground", Priority = ThreadPriority.AboveNormal };
        _publisherThread.Start();
    }

    public Ros2GroundRobotOptions Options { get; }
    public Ros2Node Node { get; }
    public Subscription<LaserScanMsg> ScanSubscription { get; }
    public Subscription<OdometryMsg> OdomSubscription { get; }
    public GoalSubscription Goals { get; }
    /// <summary>The latched /diagnostics publisher (start-up state and node events).</summary>
    public DynamicPublisher Diagnostics => _diagnostics;
    /// <summary>The /cmd_vel publisher (null when commands go to a serial wheel controller).</summary>
    public Publisher<TwistMsg>? CmdVelPublisher => _cmdVel;
    /// <summary>Scans, odometry and goals dropped for non-finite values.</summary>
    public long MalformedCount => Interlocked.Read(ref _malformed);
    /// <summary>Failed /cmd_vel writes, and the last one's message.</summary>
    public long PublishErrorCount => Interlocked.Read(ref _publishErrors);
    public string? LastPublishError { get; private set; }

    void OnScan(in LaserScanMsg m)
    {
        ReadOnlySpan<float> ranges = m.Ranges.Span;
        if (!(float.IsFinite(m.AngleMin) && float.IsFinite(m.AngleIncrement) && m.RangeMax > m.RangeMin && m.RangeMin >= 0))
        {
            Interlocked.Increment(ref _malformed);
            return;
        }
        lock (_gate)
        {
            if (_scanRanges.Length != ranges.Length) _scanRanges = new float[ranges.Length];
            ranges.CopyTo(_scanRanges);
            _scan = new ScanSample
            {
                TimestampNs = NodeClock.NowNs,
                Sequence = _scan.Sequence + 1,
                AngleMin = m.AngleMin,
                AngleIncrement = m.AngleIncrement,
                RangeMin = m.RangeMin,
                RangeMax = m.RangeMax,
                Count = ranges.Length,
            };
            _hasScan = true;
        }
    }

    void OnOdometry(in OdometryMsg m)
    {
        PoseMsg p = m.Pose.Pose;
        QuaternionMsg q = p.Orientation;
        // Yaw of a planar robot's orientation (ZYX Euler angles' first).
        double yaw = Math.Atan2(2 * (q.W * q.Z + q.X * q.Y), 1 - 2 * (q.Y * q.Y + q.Z * q.Z));
        var sample = new OdometrySample
        {
            X = (float)p.Position.X,
            Y = (float)p.Position.Y,
            Yaw = (float)yaw,
            LinearVelocity = (float)m.Twist.Twist.Linear.X,
            AngularVelocity = (float)m.Twist.Twist.Angular.Z,
        };
        if (!(float.IsFinite(sample.X) && float.IsFinite(sample.Y) && float.IsFinite(sample.Yaw) && float.IsFinite(sample.LinearVelocity) && float.IsFinite(sample.AngularVelocity)))
        {
            Interlocked.Increment(ref _malformed);
            return;
        }
        lock (_gate)
        {
            sample.TimestampNs = NodeClock.NowNs;
            sample.Sequence = _odometry.Sequence + 1;
            _odometry = sample;
            _hasOdometry = true;
        }
    }

    void OnGoal(in PoseStampedMsg m)
    {
        float x = (float)m.Pose.Position.X, y = (float)m.Pose.Position.Y;
        if (!float.IsFinite(x) || !float.IsFinite(y))
        {
            Interlocked.Increment(ref _malformed);
            return;
        }
        lock (_gate)
        {
            _goal = new GoalSample { TimestampNs = NodeClock.NowNs, Sequence = _goal.Sequence + 1, X = x, Y = y };
            _hasGoal = true;
        }
        Interlocked.Increment(ref _goalsReceived);
        _wake.Set(); // the start-up status changes now, not at the next period
    }

    /// <summary>True once both odometry and a scan have arrived (the node drives only then).</summary>
    public bool HasSensors
    {
        get { lock (_gate) return _hasOdometry && _hasScan; }
    }

    /// <summary>What the node waits for on /scan and /odom and what arrived, for the message when the robot stays silent.</summary>
    public string DescribeSensor()
    {
        uint scans, odoms;
        lock (_gate) { scans = _hasScan ? _scan.Sequence : 0; odoms = _hasOdometry ? _odometry.Sequence : 0; }
        static string Seen(Ros2Entity sub, uint received, string type)
        {
            int matched = sub.MatchedCount;
            string seen = received > 0 ? $"{received} received"
                : matched == 0 ? "no publisher matched" : $"{matched} publisher{(matched == 1 ? "" : "s")} matched, no sample received";
            if (sub.IncompatibleQosCount > 0) seen += $", {sub.IncompatibleQosCount} publishers with incompatible QoS";
            return $"{sub.Topic} ({type}): {seen}";
        }
        string malformedText = MalformedCount > 0 ? $"; {MalformedCount} malformed messages dropped" : "";
        return $"{Seen(OdomSubscription, odoms, "nav_msgs/msg/Odometry")} and {Seen(ScanSubscription, scans, "sensor_msgs/msg/LaserScan")} on ROS 2 domain {Node.DomainId}{malformedText}";
    }

    public bool TryGetOdometry(out OdometrySample sample)
    {
        lock (_gate)
        {
            sample = _odometry;
            return _hasOdometry;
        }
    }

    public bool TryGetScan(Span<float> ranges, out ScanSample sample)
    {
        lock (_gate)
        {
            sample = _scan;
            if (!_hasScan) return false;
            int n = Math.Min(ranges.Length, _scanRanges.Length);
            _scanRanges.AsSpan(0, n).CopyTo(ranges);
            return true;
        }
    }

    public bool TryGetGoal(out GoalSample sample)
    {
        lock (_gate)
        {
            sample = _goal;
            return _hasGoal;
        }
    }

    public void Send(in VelocityCommand command)
    {
        if (_cmdVel is null) return;
        lock (_outGate)
        {
            _pending = command;
            _commandPending = true;
        }
        _wake.Set();
    }

    /// <summary>A node event (a mode change with its reason, a reached goal, a refusal): published on /diagnostics with the start-up status.</summary>
    public void Publish(in NodeStatusEvent e)
    {
        _events.Enqueue(e);
        _wake.Set();
    }

    /// <summary>
    /// Where start-up stands: WARN "waiting for /odom, /scan" until both have arrived; then OK "ready, waiting for a goal
    /// on /goal_pose"; then OK "goal (x, y) received". Ready means the node can drive once it has a goal.
    /// </summary>
    public (NodeStatusLevel Level, string Message, bool Ready) StartupState()
    {
        bool odom, scanned, goalKnown;
        float gx, gy;
        lock (_gate) (odom, scanned, goalKnown, gx, gy) = (_hasOdometry, _hasScan, _hasGoal, _goal.X, _goal.Y);
        if (!odom || !scanned)
        {
            string missing = !odom && !scanned ? $"{Options.OdomTopic}, {Options.ScanTopic}" : !odom ? Options.OdomTopic : Options.ScanTopic;
            return (NodeStatusLevel.Warn, $"waiting for {missing}", false);
        }
        if (!goalKnown) return (NodeStatusLevel.Ok, $"ready, waiting for a goal on {Goals.Topic}", true);
        return (NodeStatusLevel.Ok, string.Create(CultureInfo.InvariantCulture, $"goal ({gx:0.###}, {gy:0.###}) received"), true);
    }

    void PublishLoop()
    {
        // As diagnostic_updater does: once a second, and at once when the state changes.
        const long periodNs = 1_000_000_000;
        long lastStatusNs = 0;
        string lastStatus = "";
        while (!_stopping)
        {
            _wake.WaitOne(100);
            try
            {
                PublishCommand();
                var (level, message, ready) = StartupState();
                bool hasEvent = _events.TryDequeue(out NodeStatusEvent e);
                long now = NodeClock.NowNs;
                if (hasEvent || message != lastStatus || now - lastStatusNs >= periodNs)
                {
                    PublishDiagnostics(level, message, ready, hasEvent ? e : null);
                    (lastStatus, lastStatusNs) = (message, now);
                    while (_events.TryDequeue(out e)) PublishDiagnostics(level, message, ready, e);
                }
            }
            // Whatever a write throws, the node keeps ticking (and stops the robot on stale sensors): count it.
            catch (Exception ex) when (!_stopping)
            {
                Interlocked.Increment(ref _publishErrors);
                LastPublishError = ex.Message;
            }
        }
    }

    void PublishCommand()
    {
        if (_cmdVel is null) return;
        VelocityCommand command;
        lock (_outGate)
        {
            if (!_commandPending) return;
            command = _pending;
            _commandPending = false;
        }
        _cmdVel.Publish(new TwistMsg
        {
            Linear = new Vector3Msg { X = command.LinearVelocity },
            Angular = new Vector3Msg { Z = command.AngularVelocity },
        });
    }

    /// <summary>One DiagnosticArray: the start-up status, and the event's status after it when there is one (the publisher thread only: it allocates).</summary>
    void PublishDiagnostics(NodeStatusLevel level, string message, bool ready, NodeStatusEvent? e)
    {
        var registry = Node.Options.Registry;
        string Count(long n) => n.ToString(CultureInfo.InvariantCulture);
        DynamicMessage KeyValue(string k, string v) => DynamicMessage.Create(registry.Get(RosTypes.KeyValue)).Set("key", k).Set("value", v);
        DynamicMessage Status(NodeStatusLevel l, string name, string text, DynamicMessage[] values) =>
            DynamicMessage.Create(registry.Get(RosTypes.DiagnosticStatus))
                .Set("level", (byte)l).Set("name", name).Set("message", text).Set("hardware_id", Node.Namespace).Set("values", values);
        var startup = Status(level, StartupStatusName, message,
        [
            KeyValue("ready", ready ? "true" : "false"),
            KeyValue("goal_topic", Goals.Topic),
            KeyValue("goal_publishers", Count(Goals.MatchedCount)),
            KeyValue("goals_received", Count(Interlocked.Read(ref _goalsReceived))),
            KeyValue("odom_publishers", Count(OdomSubscription.MatchedCount)),
            KeyValue("scan_publishers", Count(ScanSubscription.MatchedCount)),
            KeyValue("cmd_vel_subscribers", Count(_cmdVel?.MatchedCount ?? 0)),
        ]);
        DynamicMessage[] statuses = e is not { } ev ? [startup] :
        [
            startup,
            Status(ev.Level, $"{Node.FullyQualifiedName}: {ev.Kind}", ev.Text,
                [KeyValue("kind", ev.Kind), KeyValue("mode", ev.Mode.ToString().ToUpperInvariant()), KeyValue("tick", Count((long)ev.Tick))]),
        ];
        long ns = DateTime.UtcNow.Ticks * 100 - DateTime.UnixEpoch.Ticks * 100;
        DynamicMessage header = DynamicMessage.Create(registry.Get(RosTypes.Header)).Set("frame_id", "");
        header.Get<DynamicMessage>("stamp").Set("sec", (int)(ns / 1_000_000_000)).Set("nanosec", (uint)(ns % 1_000_000_000));
        _diagnostics.Publish(DynamicMessage.Create(registry.Get(RosTypes.DiagnosticArray)).Set("header", header).Set("status", statuses));
    }

    public void Dispose()
    {
        _stopping = true;
        _wake.Set();
        _publisherThread.Join();
        Node.Dispose();
        _wake.Dispose();
    }
}
