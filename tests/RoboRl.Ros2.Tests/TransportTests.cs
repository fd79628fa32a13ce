using System.Collections.Concurrent;
using System.Numerics;
using RoboRl.Core.Configs;
using RoboRl.Core.Messages;
using RoboRl.Core.Robots;

namespace RoboRl.Ros2.Tests;

/// <summary>Ros2Transport (the node's "ros2" transport) against a second ROS 2 node on loopback.</summary>
public class TransportTests
{
    [OneTimeSetUp]
    public void Setup() => Env.RequireLibddsc();

    private static int _counter;

    private static Ros2TransportOptions Options(bool allowArm = false) => new()
    {
        DomainId = Env.DomainId,
        CycloneConfigXml = Ros2Loopback.ConfigXml,
        AllowArm = allowArm,
        Namespace = $"cf_t{Interlocked.Increment(ref _counter)}",
        JoyTopic = "joy",
        SensorDataQos = false,
    };

    private static PoseStampedMsg Pose(double x, double y, double z, QuaternionMsg? q = null) =>
        new() { Header = new HeaderMsg { FrameId = "world" }, Pose = new PoseMsg { Position = new PointMsg { X = x, Y = y, Z = z }, Orientation = q ?? QuaternionMsg.Identity } };

    [Test]
    public void PoseAndOdometryBecomeTheSensorSampleAndMalformedPosesAreDropped()
    {
        var o = Options();
        using var transport = new Ros2Transport(o);
        using var robot = new Ros2Node("robot", o.Namespace, Env.Options());
        using var pose = robot.CreatePublisher<PoseStampedMsg>("pose");
        using var odom = robot.CreatePublisher<OdometryMsg>("odom");
        Assert.That(pose.WaitForMatch(Env.MatchTimeout) && odom.WaitForMatch(Env.MatchTimeout), Is.True);
        Assert.That(transport.TryGetLatest(out RobotStateSample _), Is.False, "no sample before the first pose");

        // Yaw 90°: body x is world y, so a body-frame twist of +1 m/s in x is +1 m/s world y.
        var yaw90 = new QuaternionMsg { Z = Math.Sqrt(0.5), W = Math.Sqrt(0.5) };
        odom.Publish(new OdometryMsg
        {
            Header = new HeaderMsg { FrameId = "world" },
            ChildFrameId = "base_link",
            Pose = new PoseWithCovarianceMsg { Pose = new PoseMsg { Orientation = yaw90 } },
            Twist = new TwistWithCovarianceMsg { Twist = new TwistMsg { Linear = new Vector3Msg { X = 1 }, Angular = new Vector3Msg { Z = 0.25 } } },
        });
        pose.Publish(Pose(0.5, -1, 1.25, yaw90));
        RobotStateSample s = default;
        Assert.That(Env.Eventually(() => transport.TryGetLatest(out s) && s.VelocityWorld.Y > 0.5f), Is.True);
        Assert.That(s.Position, Is.EqualTo(new Vector3(0.5f, -1, 1.25f)));
        Assert.That(s.VelocityWorld.X, Is.EqualTo(0).Within(1e-5));
        Assert.That(s.VelocityWorld.Y, Is.EqualTo(1).Within(1e-5));
        Assert.That(s.AngularVelocityBody.Z, Is.EqualTo(0.25f));
        uint sequence = s.Sequence;

        pose.Publish(Pose(double.NaN, 0, 1));
        pose.Publish(Pose(0, 0, 1, new QuaternionMsg { X = 0.5, W = 0.5 }));
        Assert.That(Env.Eventually(() => transport.MalformedSensorCount == 2), Is.True, $"malformed {transport.MalformedSensorCount}");
        Assert.That(transport.TryGetLatest(out s) && s.Sequence == sequence && s.Position.X == 0.5f, Is.True,
            "malformed poses leave the last good sample (which ages into the supervisor's stale-sensor fallback)");

        // The tick-side call allocates nothing.
        for (int i = 0; i < 100; i++) transport.TryGetLatest(out s);
        Assert.That(AllocationMeter.FewestBytes(() =>
        {
            for (int i = 0; i < 10_000; i++) { transport.TryGetLatest(out RobotStateSample _); transport.TryGetLatest(out TeleopSample _); transport.TryDequeue(out _); }
        }), Is.Zero);
    }

    [Test]
    public void JoyTakesOverOnlyWithTheDeadmanHeld()
    {
        var o = Options() with { DeadmanButton = 2, ActionAxes = [0, 1, 2, 3] };
        using var transport = new Ros2Transport(o);
        using var human = new Ros2Node("human", o.Namespace, Env.Options());
        using var joy = human.CreatePublisher<JoyMsg>("joy");
        Assert.That(joy.WaitForMatch(Env.MatchTimeout), Is.True);
        joy.Publish(new JoyMsg { Axes = new float[] { 0.1f, -0.2f, 0.3f, 2f }, Buttons = new[] { 1, 1, 0 } });
        TeleopSample t = default;
        Assert.That(Env.Eventually(() => transport.TryGetLatest(out t)), Is.True);
        Assert.That(t.Kind, Is.EqualTo(TeleopKind.None), "dead-man (button 2) not held");
        joy.Publish(new JoyMsg { Axes = new float[] { 0.1f, -0.2f, 0.3f, 2f }, Buttons = new[] { 0, 0, 1 } });
        Assert.That(Env.Eventually(() => transport.TryGetLatest(out t) && t.Kind == TeleopKind.TakeOver), Is.True);
        Assert.That(t.Action, Is.EqualTo(new Vector4(0.1f, -0.2f, 0.3f, 1f)), "axes mapped, clamped to [-1, 1]");
        joy.Publish(new JoyMsg { Axes = new float[] { 0.1f, -0.2f, 0.3f, 2f }, Buttons = new[] { 0, 0, 0 } });
        Assert.That(Env.Eventually(() => transport.TryGetLatest(out t) && t.Kind == TeleopKind.None), Is.True, "dead-man released");
    }

    [TestCase(false)]
    [TestCase(true)]
    public void ArmFromATopicOnlyWithAllowArm(bool allowArm)
    {
        var o = Options(allowArm);
        using var transport = new Ros2Transport(o);
        using var op = new Ros2Node("operator", o.Namespace, Env.Options());
        using var mode = op.CreatePublisher<ModeMsg>("cmd_mode");
        using var goal = op.CreatePublisher<PoseStampedMsg>("goal_pose");
        Assert.That(mode.WaitForMatch(Env.MatchTimeout) && goal.WaitForMatch(Env.MatchTimeout), Is.True);
        mode.Publish(new ModeMsg { Mode = NodeMode.Policy });
        mode.Publish(new ModeMsg { Mode = NodeMode.Fallback });
        goal.Publish(Pose(0.5, 0.25, 1));
        var got = new List<NodeCommand>();
        Assert.That(Env.Eventually(() => { while (transport.TryDequeue(out var c)) got.Add(c); return got.Count >= (allowArm ? 3 : 2); }), Is.True);
        var kinds = got.Select(c => c.Kind).ToList();
        Assert.That(kinds.Contains(NodeCommandKind.Arm), Is.EqualTo(allowArm));
        Assert.That(transport.RefusedArmCount, Is.EqualTo(allowArm ? 0 : 1));
        Assert.That(kinds, Does.Contain(NodeCommandKind.Land));
        Assert.That(got.Single(c => c.Kind == NodeCommandKind.Setpoint).Setpoint, Is.EqualTo(new Vector3(0.5f, 0.25f, 1)));
        Assert.That(got[0].Principal, Does.StartWith("ros2:/" + o.Namespace));
    }

    [Test]
    public void CommandAndTelemetryArePublished()
    {
        var o = Options();
        using var transport = new Ros2Transport(o);
        using var listener = new Ros2Node("listener", o.Namespace, Env.Options());
        var actions = new ConcurrentQueue<ActionMsg>();
        var modes = new ConcurrentQueue<ModeMsg>();
        var ticks = new ConcurrentQueue<TickStatsMsg>();
        var diagnostics = new ConcurrentQueue<DynamicMessage>();
        using var a = listener.CreateSubscription<ActionMsg>("cmd_action", QosProfile.Default, (in ActionMsg m) => actions.Enqueue(m));
        using var m = listener.CreateSubscription<ModeMsg>("roborl/mode", QosProfile.Default, (in ModeMsg x) => modes.Enqueue(x));
        using var t = listener.CreateSubscription<TickStatsMsg>("roborl/tick_stats", QosProfile.Default, (in TickStatsMsg x) => ticks.Enqueue(x));
        using var d = listener.CreateSubscription("/diagnostics", RosTypes.DiagnosticArray, QosProfile.Default, diagnostics.Enqueue);
        Assert.That(Env.Eventually(() => a.WaitForMatch(Env.MatchTimeout) && m.WaitForMatch(Env.MatchTimeout) && t.WaitForMatch(Env.MatchTimeout) && d.WaitForMatch(Env.MatchTimeout)), Is.True);
        var command = new ActuatorCommand { Sequence = 7, Action = new Vector4(0.1f, 0.2f, 0.3f, 0.4f), Source = ActionSource.Policy };
        var frame = new TelemetryFrame { Mode = NodeMode.Fallback, Command = command, Ticks = new TickStatistics { Ticks = 50, RateHz = 499.5, Overruns = 3 } };
        Assert.That(Env.Eventually(() =>
        {
            transport.Send(in command);
            transport.Publish(in frame);
            Thread.Sleep(20);
            return !actions.IsEmpty && !modes.IsEmpty && !ticks.IsEmpty && !diagnostics.IsEmpty;
        }), Is.True, $"actions {actions.Count} modes {modes.Count} ticks {ticks.Count} diagnostics {diagnostics.Count}");
        actions.TryPeek(out var action);
        Assert.That(action.Tick, Is.EqualTo(7));
        Assert.That(action.Values.ToArray(), Is.EqualTo(new[] { 0.1f, 0.2f, 0.3f, 0.4f }));
        modes.TryPeek(out var mode);
        Assert.That((mode.Mode, mode.Name), Is.EqualTo((NodeMode.Fallback, "FALLBACK")));
        ticks.TryPeek(out var tick);
        Assert.That((tick.Ticks, tick.RateHz, tick.Overruns), Is.EqualTo((50UL, 499.5f, 3U)));
        diagnostics.TryPeek(out var diag);
        Assert.That(diag, Is.Not.Null);
        var status = diag!.Get<DynamicMessage[]>("status").Single();
        Assert.That((status.Get<byte>("level"), status.Get<string>("message")), Is.EqualTo(((byte)1, "FALLBACK")), "WARN on entering fallback");

        // The tick-side calls allocate nothing.
        Assert.That(AllocationMeter.FewestBytes(() => { for (int i = 0; i < 1000; i++) { transport.Send(in command); transport.Publish(in frame); } }), Is.Zero);
    }

    [Test]
    public void TheSetpointGoesOutAsCrazyswarm2CmdPosition()
    {
        var o = Options() with { Crazyswarm2Setpoint = "cmd_position" };
        using var transport = new Ros2Transport(o);
        using var server = new Ros2Node("crazyflie_server", "/", Env.Options());
        var got = new ConcurrentQueue<DynamicMessage>();
        using var sub = server.CreateSubscription(Crazyswarm2Topics.CmdPosition(o.Namespace), RosTypes.CrazyfliePosition, QosProfile.Default, got.Enqueue);
        Assert.That(sub.WaitForMatch(Env.MatchTimeout), Is.True);
        var frame = new TelemetryFrame { Mode = NodeMode.Policy, Setpoint = new Vector3(0.25f, -0.5f, 1.25f) };
        Assert.That(Env.Eventually(() => { transport.Publish(in frame); Thread.Sleep(20); return !got.IsEmpty; }), Is.True);
        got.TryPeek(out var p);
        Assert.That((p!.Get<float>("x"), p.Get<float>("y"), p.Get<float>("z")), Is.EqualTo((0.25f, -0.5f, 1.25f)));
    }

    [Test]
    public void TheRos2SectionIsSchemaChecked()
    {
        ConfigNode Section(string json) => ConfigNode.Parse("{\"ros2\": " + json + "}", "node.json").Object("ros2");
        var o = Ros2TransportOptions.Read(Section("""{ "namespace": "cf7", "domain_id": 12, "allow_arm": true, "imu_topic": "imu", "joy": { "deadman_button": 5, "mode": "nudge_setpoint", "nudge_axes": [0, 1, 2] } }"""));
        Assert.That((o.Namespace, o.DomainId, o.AllowArm, o.ImuTopic, o.DeadmanButton, o.JoyMode), Is.EqualTo(("cf7", (int?)12, true, "imu", 5, TeleopKind.NudgeSetpoint)));
        Assert.That(Ros2TransportOptions.Read(Section("{}")).AllowArm, Is.False, "arming from ROS 2 is off by default");
        var e = Assert.Throws<ConfigException>(() => Ros2TransportOptions.Read(Section("""{ "domain_id": 300 }""")))!;
        Assert.That(e.Message, Does.Contain("node.json").And.Contain("$.ros2.domain_id").And.Contain("232"));
        e = Assert.Throws<ConfigException>(() => Ros2TransportOptions.Read(Section("""{ "pose_topic": "bad-name" }""")))!;
        Assert.That(e.Message, Does.Contain("$.ros2.pose_topic"));
        e = Assert.Throws<ConfigException>(() => Ros2TransportOptions.Read(Section("""{ "alow_arm": true }""")))!;
        Assert.That(e.Message, Does.Contain("alow_arm"));
        e = Assert.Throws<ConfigException>(() => Ros2TransportOptions.Read(Section("""{ "crazyswarm2_setpoint": "cmd_vel" }""")))!;
        Assert.That(e.Message, Does.Contain("$.ros2.crazyswarm2_setpoint"));
        e = Assert.Throws<ConfigException>(() => Ros2TransportOptions.Read(Section("""{ "joy": { "deadman_button": 1, "mode": "take_over", "action_axes": [0, 1] } }""")))!;
        Assert.That(e.Message, Does.Contain("$.ros2.joy.action_axes"));
    }
}
