using System.Collections.Concurrent;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;
using RoboRl.Core.Messages;
using RoboRl.Core.Robots;
using RoboRl.Hosting;

namespace RoboRl.Ros2.Tests;

/// <summary>
/// The node against a robot on Fast DDS, ROS 2's default middleware (FastDdsPeer: libfastrtps, types from fastddsgen,
/// UDP on 127.0.0.1, no shared memory), each test on a DDS domain of its own.
/// </summary>
[NonParallelizable]
public class FastDdsPeerTests
{
    private static readonly HashSet<int> UsedDomains = [Env.DomainId];

    /// <summary>A domain no other test of this run uses.</summary>
    internal static int UniqueDomain()
    {
        lock (UsedDomains)
        {
            int d;
            do d = Random.Shared.Next(100, 230); while (!UsedDomains.Add(d));
            return d;
        }
    }

    [OneTimeSetUp]
    public void Setup()
    {
        Env.RequireLibddsc();
        FastDdsPeer.Build();
    }

    private static string GroundNodeConfig(int domain)
    {
        string root = Env.RepoRoot();
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(root, "configs/nodes/diffbot-ros2-dwa.json")),
            documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip })!.AsObject();
        json["robot"] = Path.Combine(root, "configs/robots/diffbot.json");
        json["task"] = Path.Combine(root, "configs/tasks/diffbot-nav.json");
        json["ros2"]!["domain_id"] = domain;
        string dir = Path.Combine(Path.GetTempPath(), "roborl-ros2-fastdds-configs");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, Guid.NewGuid().ToString("N") + ".json");
        File.WriteAllText(path, json.ToJsonString());
        return path;
    }

    [Test]
    public void TheGroundNodeDrivesAFastDdsRobotToTheGoalItLatchedRightAfterStart()
    {
        int domain = UniqueDomain();
        (double X, double Y) goal = (1.0, 0.5);
        using NodeSession session = NodeSession.Open(GroundNodeConfig(domain), null, null, new NodeSessionOptions
        {
            Settings = new PluginSettings().Set(new Ros2LinkSettings { CycloneConfigXml = Ros2Loopback.ConfigXml }),
        });
        var link = session.SensorLink.Port<Ros2GroundRobotLink>()!;
        // The robot's side starts after the node, writes its goal at once (transient-local, as `ros2 topic pub --once
        // --qos-durability transient_local` or a latched mission goal), then drives on /cmd_vel.
        using var peer = FastDdsPeer.Start(domain, "diffbot", "1.0", "0.5", "transient_local", "45");
        Assert.That(peer.WaitForLine("goal_sent", TimeSpan.FromSeconds(20)), Is.Not.Null, peer.Describe());

        long startNs = NodeClock.NowNs, goalAtNs = 0;
        (double X, double Y) position = (0, 0);
        var progress = new StringWriter();
        bool Reached()
        {
            if (goalAtNs == 0 && link.TryGetGoal(out _)) goalAtNs = NodeClock.NowNs;
            if (peer.Lines.LastOrDefault(l => l.StartsWith("state ", StringComparison.Ordinal)) is { } state)
            {
                double[] n = FastDdsPeer.Numbers(state);
                position = (n[1], n[2]);
            }
            return session.Node.Events.Any(e => e.Kind == RoboRl.Node.NodeEventKind.GoalReached) || peer.HasExited;
        }
        session.Fly(45, progress, done: Reached);
        Thread.Sleep(700); // the robot has stopped: its next state line (2 Hz) is where it stays
        Reached();
        double goalDelayS = (goalAtNs - startNs) * 1e-9;
        TestContext.Out.WriteLine($"goal after {goalDelayS:F2} s; robot at ({position.X:F2}, {position.Y:F2}); goal copies on the volatile/latched readers {link.Goals.Volatile.ReceivedCount}/{link.Goals.Latched.ReceivedCount}, {link.Goals.DuplicateCount} dropped as duplicates");
        TestContext.Out.WriteLine(progress.ToString());

        Assert.That(goalAtNs, Is.GreaterThan(0), "the goal written right after start reached the node\n" + peer.Describe());
        Assert.That(link.TryGetGoal(out GoalSample g) && Math.Abs(g.X - goal.X) < 1e-6 && Math.Abs(g.Y - goal.Y) < 1e-6, Is.True);
        Assert.That(session.Node.Events.Count(e => e.Kind == RoboRl.Node.NodeEventKind.GoalReached), Is.EqualTo(1), "the node reached the goal\n" + progress + peer.Describe());
        Assert.That(Math.Sqrt((position.X - goal.X) * (position.X - goal.X) + (position.Y - goal.Y) * (position.Y - goal.Y)), Is.LessThan(0.3),
            "the robot's own integrator is at the goal\n" + peer.Describe());
        Assert.That(link.Goals.Latched.ReceivedCount, Is.GreaterThanOrEqualTo(1), "the latched reader carried the goal");
        Assert.That(link.MalformedCount + link.PublishErrorCount, Is.Zero);
        // The node's latched /diagnostics reached the Fast DDS robot, and said the goal was received.
        Assert.That(Env.Eventually(() => peer.Lines.Any(l => l.StartsWith("status ", StringComparison.Ordinal) && l.Contains("goal (1, 0.5) received"))), Is.True,
            peer.Describe());
    }

    [Test]
    public void QuadrotorPoseComesInAndCommandsGoOutToAFastDdsPeer()
    {
        int domain = UniqueDomain();
        using var transport = new Ros2Transport(new Ros2TransportOptions { DomainId = domain, CycloneConfigXml = Ros2Loopback.ConfigXml });
        using var peer = FastDdsPeer.Start(domain, "quad", "40");

        // Pose in: the peer's /cf1/pose (best effort, 100 Hz) as the node's robot state.
        RobotStateSample state = default;
        Assert.That(Env.Eventually(() => transport.TryGetLatest(out state)), Is.True, transport.DescribeSensor() + "\n" + peer.Describe());
        Assert.That((state.Position.X, state.Position.Y, state.Position.Z), Is.EqualTo((1.25f, -0.5f, 1.0f)));
        Assert.That(state.Orientation, Is.EqualTo(Quaternion.Identity));

        // The latched setpoint it wrote at start: one Setpoint command, whichever reader got it first.
        var commands = new List<NodeCommand>();
        Assert.That(Env.Eventually(() =>
        {
            while (transport.TryDequeue(out NodeCommand c)) commands.Add(c);
            return commands.Count > 0;
        }), Is.True, "the latched goal_pose arrived");
        Thread.Sleep(500);
        while (transport.TryDequeue(out NodeCommand c)) commands.Add(c);
        Assert.That(commands, Has.Count.EqualTo(1), "delivered once, though both readers matched the transient-local writer");
        Assert.That((commands[0].Kind, commands[0].Setpoint), Is.EqualTo((NodeCommandKind.Setpoint, new Vector3(0.5f, -0.25f, 1.0f))));

        // Commands out, and back in the pose: the peer lifts its z by the first action value.
        for (uint tick = 1; tick <= 5; tick++)
        {
            float a0 = 0.1f * tick;
            transport.Send(new ActuatorCommand { Sequence = tick, Action = new Vector4(a0, -0.2f, 0.3f, -0.4f), Source = ActionSource.Policy });
            string? line = peer.WaitForLine($"action {tick}", TimeSpan.FromSeconds(20));
            Assert.That(line, Is.Not.Null, $"tick {tick} reached the Fast DDS peer\n" + peer.Describe());
            double[] n = FastDdsPeer.Numbers(line!);
            Assert.That(n[1..6], Is.EqualTo(new double[] { 4, a0, -0.2, 0.3, -0.4 }).Within(1e-6));
            Assert.That(Env.Eventually(() => transport.TryGetLatest(out state) && Math.Abs(state.Position.Z - (1 + a0)) < 1e-6), Is.True,
                $"tick {tick}: the pose carried the command back (z {state.Position.Z})");
        }
        Assert.That(transport.MalformedSensorCount, Is.Zero);
    }

    [Test]
    public void AOneShotVolatileGoalSentAfterTheNodeSaysItKnowsTheWriterArrives()
    {
        // The readiness signal: a sender that waits until the node's latched /diagnostics counts its writer
        // (goal_publishers >= 1) is past the discovery race, so a volatile one-shot goal is not lost or held back.
        int domain = UniqueDomain();
        using var link = new Ros2GroundRobotLink(new Ros2GroundRobotOptions { DomainId = domain, CycloneConfigXml = Ros2Loopback.ConfigXml });
        using var peer = FastDdsPeer.Start(domain, "goal_once", "volatile", "ready", "5");
        string? sent = peer.WaitForLine("sent", TimeSpan.FromSeconds(30));
        Assert.That(sent, Is.Not.Null, peer.Describe());
        Assert.That(Env.Eventually(() => link.TryGetGoal(out _), TimeSpan.FromSeconds(10)), Is.True, "the goal arrived\n" + peer.Describe());
        link.TryGetGoal(out GoalSample g);
        Assert.That((g.X, g.Y, g.Sequence), Is.EqualTo((1.5f, -0.5f, 1u)));
        Assert.That(link.Goals.Latched.ReceivedCount, Is.Zero, "a volatile writer matches the volatile reader only");
        TestContext.Out.WriteLine($"goal arrived {(DateTime.UtcNow.Ticks * 100 - DateTime.UnixEpoch.Ticks * 100 - (long)FastDdsPeer.Numbers(sent!)[0]) * 1e-9:F3} s after it was sent (upper bound)");
    }
}
