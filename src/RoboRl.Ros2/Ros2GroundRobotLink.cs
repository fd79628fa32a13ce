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
/// </summary>
public sealed class Ros2GroundRobotLink : IGroundSensorSource, IVelocityCommandSink, ISensorDiagnostics, IDisposable
{
    readonly object gate = new();
    float[] scanRanges = [];
    ScanSample scan;
    bool hasScan, hasOdometry, hasGoal;
    OdometrySample odometry;
    GoalSample goal;
    long malformed, publishErrors;

    readonly Publisher<TwistMsg>? cmdVel;
    readonly object outGate = new();
    VelocityCommand pending;
    bool commandPending;
    readonly AutoResetEvent wake = new(false);
    readonly Thread? publisherThread;
    volatile bool stopping;

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
            Node.CreateSubscription<PoseStampedMsg>(options.GoalTopic, QosProfile.Default, OnGoal);
            // Reliable: matches both reliable and best-effort readers (a TurtleBot3 bringup's /cmd_vel is reliable).
            if (options.CmdVelTopic is { } topic) cmdVel = Node.CreatePublisher<TwistMsg>(topic, QosProfile.Default);
        }
        catch
        {
            Node.Dispose();
            throw;
        }
        if (cmdVel is not null)
        {
            publisherThread = new Thread(PublishLoop) { IsBackground = true, Name = "roborl-ros2-cmd-vel", Priority = ThreadPriority.AboveNormal };
            publisherThread.Start();
        }
    }

    public Ros2GroundRobotOptions Options { get; }
    public Ros2Node Node { get; }
    public Subscription<LaserScanMsg> ScanSubscription { get; }
    public Subscription<OdometryMsg> OdomSubscription { get; }
    /// <summary>The /cmd_vel publisher (null when commands go to a serial wheel controller).</summary>
    public Publisher<TwistMsg>? CmdVelPublisher => cmdVel;
    /// <summary>Scans, odometry and goals dropped for non-finite values.</summary>
    public long MalformedCount => Interlocked.Read(ref malformed);
    /// <summary>Failed /cmd_vel writes, and the last one's message.</summary>
    public long PublishErrorCount => Interlocked.Read(ref publishErrors);
    public string? LastPublishError { get; private set; }

    void OnScan(in LaserScanMsg m)
    {
        ReadOnlySpan<float> ranges = m.Ranges.Span;
        if (!(float.IsFinite(m.AngleMin) && float.IsFinite(m.AngleIncrement) && m.RangeMax > m.RangeMin && m.RangeMin >= 0))
        {
            Interlocked.Increment(ref malformed);
            return;
        }
        lock (gate)
        {
            if (scanRanges.Length != ranges.Length) scanRanges = new float[ranges.Length];
            ranges.CopyTo(scanRanges);
            scan = new ScanSample
            {
                TimestampNs = NodeClock.NowNs,
                Sequence = scan.Sequence + 1,
                AngleMin = m.AngleMin,
                AngleIncrement = m.AngleIncrement,
                RangeMin = m.RangeMin,
                RangeMax = m.RangeMax,
                Count = ranges.Length,
            };
            hasScan = true;
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
            Interlocked.Increment(ref malformed);
            return;
        }
        lock (gate)
        {
            sample.TimestampNs = NodeClock.NowNs;
            sample.Sequence = odometry.Sequence + 1;
            odometry = sample;
            hasOdometry = true;
        }
    }

    void OnGoal(in PoseStampedMsg m)
    {
        float x = (float)m.Pose.Position.X, y = (float)m.Pose.Position.Y;
        if (!float.IsFinite(x) || !float.IsFinite(y))
        {
            Interlocked.Increment(ref malformed);
            return;
        }
        lock (gate)
        {
            goal = new GoalSample { TimestampNs = NodeClock.NowNs, Sequence = goal.Sequence + 1, X = x, Y = y };
            hasGoal = true;
        }
    }

    /// <summary>True once both odometry and a scan have arrived (the node drives only then).</summary>
    public bool HasSensors
    {
        get { lock (gate) return hasOdometry && hasScan; }
    }

    /// <summary>What the node waits for on /scan and /odom and what arrived, for the message when the robot stays silent.</summary>
    public string DescribeSensor()
    {
        uint scans, odoms;
        lock (gate) { scans = hasScan ? scan.Sequence : 0; odoms = hasOdometry ? odometry.Sequence : 0; }
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
        lock (gate)
        {
            sample = odometry;
            return hasOdometry;
        }
    }

    public bool TryGetScan(Span<float> ranges, out ScanSample sample)
    {
        lock (gate)
        {
            sample = scan;
            if (!hasScan) return false;
            int n = Math.Min(ranges.Length, scanRanges.Length);
            scanRanges.AsSpan(0, n).CopyTo(ranges);
            return true;
        }
    }

    public bool TryGetGoal(out GoalSample sample)
    {
        lock (gate)
        {
            sample = goal;
            return hasGoal;
        }
    }

    public void Send(in VelocityCommand command)
    {
        if (cmdVel is null) return;
        lock (outGate)
        {
            pending = command;
            commandPending = true;
        }
        wake.Set();
    }

    void PublishLoop()
    {
        while (!stopping)
        {
            wake.WaitOne(100);
            VelocityCommand command;
            lock (outGate)
            {
                if (!commandPending) continue;
                command = pending;
                commandPending = false;
            }
            var twist = new TwistMsg
            {
                Linear = new Vector3Msg { X = command.LinearVelocity },
                Angular = new Vector3Msg { Z = command.AngularVelocity },
            };
            try { cmdVel!.Publish(twist); }
            // Whatever a write throws, the node keeps ticking (and stops the robot on stale sensors): count it.
            catch (Exception e) when (!stopping)
            {
                Interlocked.Increment(ref publishErrors);
                LastPublishError = e.Message;
            }
        }
    }

    public void Dispose()
    {
        stopping = true;
        wake.Set();
        publisherThread?.Join();
        Node.Dispose();
        wake.Dispose();
    }
}
