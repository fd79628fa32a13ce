using System.Collections.Concurrent;
using RoboRl.Core.Messages;
using RoboRl.Core.Robots;

namespace RoboRl.Ros2.Tests;

/// <summary>The ground link's explicit start-up: its latched /diagnostics states, and goals from volatile and transient-local writers.</summary>
public class StartupTests
{
    [OneTimeSetUp]
    public void Setup() => Env.RequireLibddsc();

    private static (string Message, string Level, Dictionary<string, string> Values)? Startup(DynamicMessage array)
    {
        foreach (var s in array.Get<DynamicMessage[]>("status"))
            if (s.Get<string>("name").EndsWith(": start-up", StringComparison.Ordinal))
                return (s.Get<string>("message"), s.Get<byte>("level").ToString(),
                    s.Get<DynamicMessage[]>("values").ToDictionary(kv => kv.Get<string>("key"), kv => kv.Get<string>("value")));
        return null;
    }

    [Test]
    public void DiagnosticsSayWaitingForSensorsThenWaitingForAGoalThenGoalReceived()
    {
        int domain = FastDdsPeerTests.UniqueDomain();
        var options = Env.Options() with { DomainId = domain };
        using var link = new Ros2GroundRobotLink(new Ros2GroundRobotOptions { DomainId = domain, CycloneConfigXml = Ros2Loopback.ConfigXml, NodeName = "nav_startup" });
        using var robot = new Ros2Node("robot", "/", options);
        var seen = new ConcurrentQueue<DynamicMessage>();
        // A late-joining transient-local reader: handed the current state at once.
        Thread.Sleep(300);
        using var monitor = robot.CreateSubscription("/diagnostics", RosTypes.DiagnosticArray, Ros2GroundRobotLink.DiagnosticsQos, seen.Enqueue);
        string Last() => seen.LastOrDefault() is { } m && Startup(m) is { } s ? s.Message : "";
        Assert.That(Env.Eventually(() => Last() == "waiting for /odom, /scan"), Is.True, Last());
        Assert.That(Startup(seen.Last())!.Value.Level, Is.EqualTo("1"), "WARN while the sensors are missing");
        Assert.That(Startup(seen.Last())!.Value.Values["ready"], Is.EqualTo("false"));

        using var odom = robot.CreatePublisher<OdometryMsg>("/odom", QosProfile.SensorData);
        using var scan = robot.CreatePublisher<LaserScanMsg>("/scan", QosProfile.SensorData);
        using var goal = robot.CreatePublisher<PoseStampedMsg>("/goal_pose");
        Assert.That(odom.WaitForMatch(Env.MatchTimeout) && scan.WaitForMatch(Env.MatchTimeout) && goal.WaitForMatch(Env.MatchTimeout), Is.True);
        Assert.That(Env.Eventually(() =>
        {
            odom.Publish(new OdometryMsg { Pose = new PoseWithCovarianceMsg { Pose = new PoseMsg { Orientation = QuaternionMsg.Identity } } });
            scan.Publish(new LaserScanMsg { AngleIncrement = 0.1f, RangeMin = 0.1f, RangeMax = 3.5f, Ranges = new float[36] });
            return Last() == "ready, waiting for a goal on /goal_pose";
        }), Is.True, Last());
        var waiting = Startup(seen.Last())!.Value;
        Assert.That((waiting.Level, waiting.Values["ready"], waiting.Values["goal_publishers"], waiting.Values["goals_received"]), Is.EqualTo(("0", "true", "1", "0")));

        goal.Publish(new PoseStampedMsg { Pose = new PoseMsg { Position = new PointMsg { X = 2, Y = -1 }, Orientation = QuaternionMsg.Identity } });
        Assert.That(Env.Eventually(() => Last() == "goal (2, -1) received"), Is.True, Last());
        Assert.That(Startup(seen.Last())!.Value.Values["goals_received"], Is.EqualTo("1"));

        // Node events ride along with the start-up status.
        link.Publish(new NodeStatusEvent(NodeClock.NowNs, 7, NodeStatusLevel.Ok, "goal_reached", NodeMode.Idle, "goal (2, -1) reached"));
        Assert.That(Env.Eventually(() => seen.Any(m => m.Get<DynamicMessage[]>("status").Any(s => s.Get<string>("name") == "/nav_startup: goal_reached"))), Is.True);
    }

    [Test]
    public void ATransientLocalGoalWrittenBeforeTheNodeStartedArrivesOnce()
    {
        int domain = FastDdsPeerTests.UniqueDomain();
        using var robot = new Ros2Node("mission", "/", Env.Options() with { DomainId = domain });
        using var goal = robot.CreatePublisher<PoseStampedMsg>("/goal_pose", GoalSubscription.LatchedQos);
        goal.Publish(new PoseStampedMsg { Header = new HeaderMsg { FrameId = "map" }, Pose = new PoseMsg { Position = new PointMsg { X = 3, Y = 4 }, Orientation = QuaternionMsg.Identity } });

        var got = new ConcurrentQueue<PoseStampedMsg>();
        using var node = new Ros2Node("late_node", "/", Env.Options() with { DomainId = domain });
        using var goals = new GoalSubscription(node, "/goal_pose", (in PoseStampedMsg m) => got.Enqueue(m));
        Assert.That(Env.Eventually(() => got.Count >= 1), Is.True, "the latched goal reached the late node");
        Assert.That(Env.Eventually(() => goals.Volatile.MatchedCount == 1 && goals.Latched.MatchedCount == 1), Is.True);
        // A new goal from the same writer reaches both readers: delivered once.
        goal.Publish(new PoseStampedMsg { Header = new HeaderMsg { FrameId = "map" }, Pose = new PoseMsg { Position = new PointMsg { X = 5 }, Orientation = QuaternionMsg.Identity } });
        Assert.That(Env.Eventually(() => goals.Volatile.ReceivedCount >= 1 && goals.Latched.ReceivedCount >= 2), Is.True);
        Thread.Sleep(300);
        Assert.That(got.Select(m => m.Pose.Position.X), Is.EqualTo(new[] { 3.0, 5.0 }));
        Assert.That(goals.DuplicateCount, Is.EqualTo(1));
    }
}
