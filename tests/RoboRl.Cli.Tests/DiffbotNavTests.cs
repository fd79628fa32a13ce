using System.Text.Json;
using System.Text.Json.Nodes;
using RoboRl.Cli.Commands;
using RoboRl.Core.Policy;
using RoboRl.Core.Robots;
using RoboRl.Core.Tasks;
using RoboRl.Node;
using RoboRl.Ros2;
using RoboRl.Serial;
using RoboRl.Sims.DiffDrive;
using RoboRl.Training;

namespace RoboRl.Cli.Tests;

/// <summary>
/// The ground robot end to end: `roborl train configs/tasks/diffbot-nav.json` (PPO, a small budget) writes a bundle with
/// the navigation specs; the ground-robot node then drives the simulated diffbot through ROS 2 (real Cyclone DDS on
/// loopback, a random domain: the sim peer publishes /scan and /odom and drives on /cmd_vel) to the goal of a held-out map;
/// the same with the wheels on a serial link (a socat pty pair).
/// </summary>
[NonParallelizable]
public class DiffbotNavTests
{
    static readonly int DomainId = Random.Shared.Next(100, 230);
    static Ros2Options Options => new() { DomainId = DomainId, CycloneConfigXml = Ros2Loopback.ConfigXml };
    static readonly string TempRoot = Path.Combine(Path.GetTempPath(), "roborl-cli-diffbot", Guid.NewGuid().ToString("N"));
    static string _taskFile = "", _bundlePath = "", _runDir = "";
    static JsonObject _trainJson = new();
    static NavTaskConfig _task = null!;
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    /// <summary>The node's DDS participants on loopback (the test's domain), as injected plugin settings.</summary>
    static PluginSettings Loopback => new PluginSettings().Set(new Ros2LinkSettings { CycloneConfigXml = Ros2Loopback.ConfigXml });

    /// <summary>A ground node session as `roborl run` opens it, on loopback DDS.</summary>
    static NodeSession Open(string config, string? policy) => NodeSession.Open(config, policy, null, new NodeSessionOptions { Settings = Loopback });

    static Ros2GroundRobotLink GroundLink(NodeSession session) => session.SensorLink.Port<Ros2GroundRobotLink>()!;

    static DiffDriveController Controller(NodeSession session) => (DiffDriveController)session.Controller;

    [OneTimeSetUp]
    public void TrainOnce()
    {
        TorchSetup.Initialize();
        _taskFile = RepoPaths.Find("configs/tasks/diffbot-nav.json");
        _task = NavTaskConfig.Load(_taskFile);
        _runDir = Path.Combine(TempRoot, "run");
        var output = new StringWriter();
        var error = new StringWriter();
        // 250 k steps: ~20 s on an idle core; the periodic evaluation is off (the final one scores held-out maps).
        int code = TrainCommand.Run(new TrainOptions(_taskFile) { OutDirectory = _runDir, TotalEnvSteps = 250_000, FinalEvalEpisodes = 100 }, true, output, error);
        Assert.That(code, Is.EqualTo(0), error.ToString());
        _trainJson = JsonNode.Parse(output.ToString())!.AsObject();
        _bundlePath = _trainJson["bundle"]!.GetValue<string>();
    }

    [OneTimeTearDown]
    public void Clean()
    {
        if (Directory.Exists(TempRoot)) Directory.Delete(TempRoot, recursive: true);
    }

    static void RequireLibddsc()
    {
        try { using var probe = new Ros2Node("probe", "/", Options with { AnnounceNode = false }); }
        catch (RoboRl.Ros2.Native.DdsException e) when (e.ReturnCode == 0)
        {
            if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail($"required tool missing in CI: {e.Message} (tests/prerequisites.txt)");
            Assert.Inconclusive(e.Message);
        }
    }

    [Test]
    public void TrainWritesANavigationBundleAndReportsHeldOutFigures()
    {
        Assert.That(_trainJson["task"]!.GetValue<string>(), Is.EqualTo("navigation"));
        Assert.That(_trainJson["algorithm"]!.GetValue<string>(), Is.EqualTo("ppo"));
        double success = _trainJson["final_eval"]!["success_rate"]!.GetValue<double>();
        TestContext.Out.WriteLine(_trainJson.ToJsonString());
        Assert.That(success, Is.GreaterThan(0.5), "PPO learns to reach most goals in 250 k steps (measured here: 85–90 %)");

        PolicyBundle bundle = PolicyBundle.Read(_bundlePath);
        Assert.That(bundle.ObservationNames, Is.EqualTo(NavPolicySpec.ActorNames(36)));
        Assert.That(bundle.ActionNames, Is.EqualTo(new[] { "linear_velocity", "angular_velocity" }));
        Assert.That(bundle.ActionUnit, Is.EqualTo("m/s, rad/s"));
        Assert.That(bundle.ActionHigh, Is.EqualTo(new[] { 0.22f, 2.84f }));
        Assert.That(bundle.ControlRateHz, Is.EqualTo(10));
        Assert.That(bundle.RobotConfigSha256, Is.EqualTo(PolicyBundle.RobotConfigHash(_task.RobotConfigJson)));
        Assert.That(new PolicyEngine(bundle).MaxGoldenError(), Is.LessThan(1e-5f));
        foreach (string file in new[] { "progress.csv", "learning_curve.png", "training.json" })
            Assert.That(File.Exists(Path.Combine(_runDir, file)), file);
        Assert.That(Directory.EnumerateFiles(Path.Combine(_runDir, "tensorboard")).Any());
        Assert.That(File.ReadLines(Path.Combine(_runDir, "progress.csv")).First(), Does.EndWith("eval_time_to_goal_p50_s,eval"));
    }

    [Test]
    public void TheHoverAlgorithmsRefuseTheNavigationTaskClearly()
    {
        var error = new StringWriter();
        int code = TrainCommand.Run(new TrainOptions(_taskFile) { OutDirectory = Path.Combine(TempRoot, "td3"), Algorithm = "td3" }, false, new StringWriter(), error);
        Assert.That(code, Is.EqualTo(2), "bad input");
        Assert.That(error.ToString(), Does.Contain("td3").And.Contain("ppo"));
    }

    /// <summary>A held-out map the trained policy solves in process (the C# engine on NavEnv), to replay over ROS 2.</summary>
    static ulong SolvedScenario(PolicyBundle bundle)
    {
        var engine = new PolicyEngine(bundle);
        var action = new float[2];
        for (ulong k = 0; k < 50; k++)
        {
            using var env = new NavEnv(_task, 1, threadCount: 1);
            env.Reset(NavMaps.HeldOutSeedBase + k ^ 0x5EEDUL);
            env.ResetScenario(0, NavMaps.HeldOutSeedBase + k);
            while (true)
            {
                engine.Forward(env.ActorObservations, action);
                env.Step(action);
                if (env.Terminated[0] || env.Truncated[0]) break;
            }
            if (env.FinishedEpisodeOutcomes[0] == NavOutcome.Goal) return NavMaps.HeldOutSeedBase + k;
        }
        Assert.Fail("the trained policy solved none of 50 held-out maps");
        return 0;
    }

    string NodeConfig(string source, Action<JsonObject>? edit = null)
    {
        var root = JsonNode.Parse(File.ReadAllText(RepoPaths.Find(source)), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip })!.AsObject();
        root["robot"] = RepoPaths.Find("configs/robots/diffbot.json");
        root["ros2"]!["domain_id"] = DomainId;
        edit?.Invoke(root);
        Directory.CreateDirectory(TempRoot);
        string path = Path.Combine(TempRoot, Guid.NewGuid().ToString("N") + ".json");
        File.WriteAllText(path, root.ToJsonString());
        return path;
    }

    /// <summary>Lock step: the peer publishes scan and odometry, the node ticks once they arrived, the peer steps on the /cmd_vel that comes back.</summary>
    static void DriveEpisode(NodeSession setup, DiffBotRos2SimPeer peer, Func<long> commandsSeen, int maxSteps = 600)
    {
        Ros2GroundRobotLink link = GroundLink(setup);
        Assert.That(peer.WaitForNode(Timeout), Is.True, "the node's subscriptions match the peer's publishers");
        peer.PublishGoal();
        Assert.That(Eventually(() => link.TryGetGoal(out _)), Is.True, "goal received");
        for (int step = 0; step < maxSteps && peer.Outcome == NavOutcome.None; step++)
        {
            long scans = link.ScanSubscription.ReceivedCount, odoms = link.OdomSubscription.ReceivedCount;
            // Best-effort sensor topics: publish again if a message did not make it (rare on loopback).
            bool arrived = false;
            for (int attempt = 0; attempt < 20 && !arrived; attempt++)
            {
                peer.PublishState();
                arrived = Eventually(() => link.ScanSubscription.ReceivedCount > scans && link.OdomSubscription.ReceivedCount > odoms, TimeSpan.FromMilliseconds(500));
            }
            Assert.That(arrived, Is.True, $"step {step}: scan and odometry reached the node");
            long before = commandsSeen();
            long now = NodeClock.NowNs;
            setup.Node.Tick(now, now);
            Assert.That(Eventually(() => commandsSeen() > before), Is.True, $"step {step}: the command reached the robot");
            peer.Step();
        }
    }

    static bool Eventually(Func<bool> condition, TimeSpan? timeout = null)
    {
        var until = DateTime.UtcNow + (timeout ?? Timeout);
        while (DateTime.UtcNow < until)
        {
            if (condition()) return true;
            Thread.Sleep(1);
        }
        return condition();
    }

    [Test]
    public void TheNodeDrivesTheSimulatedRobotToTheGoalOverRos2()
    {
        RequireLibddsc();
        ulong scenario = SolvedScenario(PolicyBundle.Read(_bundlePath));
        using NodeSession setup = Open(NodeConfig("configs/nodes/diffbot-ros2.json"), _bundlePath);
        using var peer = new DiffBotRos2SimPeer(_task, scenario, Options);
        Assert.That(GroundLink(setup).CmdVelPublisher!.WaitForMatch(Timeout), Is.True);
        DriveEpisode(setup, peer, () => peer.CommandsReceived);
        TestContext.Out.WriteLine($"{peer.Outcome} after {peer.Seconds:F1} s, path {peer.PathLength:F2} m, {Controller(setup).SafetyTicks} safety ticks");
        Assert.That(peer.Outcome, Is.EqualTo(NavOutcome.Goal), "the policy, run by the node over ROS 2, reached the goal");
        Assert.That(setup.Node.Events.Count(e => e.Violation.Trigger is SafetyTrigger.StaleScan or SafetyTrigger.StaleOdometry), Is.EqualTo(0));
        Assert.That(GroundLink(setup).MalformedCount, Is.EqualTo(0));
    }

    /// <summary>A held-out map DWA solves in process.</summary>
    static ulong DwaSolvedScenario()
    {
        var dwa = new DwaPlanner(_task);
        var action = new float[2];
        int goalAt = NavObservation.GoalOffset(_task.ScanBins);
        for (ulong k = 0; k < 50; k++)
        {
            using var env = new NavEnv(_task, 1, threadCount: 1);
            env.Reset(NavMaps.HeldOutSeedBase + k ^ 0x5EEDUL);
            env.ResetScenario(0, NavMaps.HeldOutSeedBase + k);
            while (true)
            {
                ReadOnlySpan<float> o = env.ActorObservations;
                dwa.Act(new NavPlannerInput
                {
                    Observation = o,
                    Scan = env.Scan(0),
                    GoalDistance = o[goalAt],
                    GoalBearing = MathF.Atan2(o[goalAt + 1], o[goalAt + 2]),
                    LinearVelocity = env.LinearVelocity(0),
                    AngularVelocity = env.AngularVelocity(0),
                }, action);
                env.Step(action);
                if (env.Terminated[0] || env.Truncated[0]) break;
            }
            if (env.FinishedEpisodeOutcomes[0] == NavOutcome.Goal) return NavMaps.HeldOutSeedBase + k;
        }
        Assert.Fail("DWA solved none of 50 held-out maps");
        return 0;
    }

    [Test]
    public void WithPlannerDwaTheNodeDrivesWithoutABundle()
    {
        RequireLibddsc();
        ulong scenario = DwaSolvedScenario();
        string config = NodeConfig("configs/nodes/diffbot-ros2.json", root =>
        {
            root["planner"] = "dwa";
            root["task"] = _taskFile;
        });
        using NodeSession setup = Open(config, policy: null);
        using var peer = new DiffBotRos2SimPeer(_task, scenario, Options);
        Assert.That(GroundLink(setup).CmdVelPublisher!.WaitForMatch(Timeout), Is.True);
        DriveEpisode(setup, peer, () => peer.CommandsReceived);
        TestContext.Out.WriteLine($"DWA: {peer.Outcome} after {peer.Seconds:F1} s");
        Assert.That(peer.Outcome, Is.EqualTo(NavOutcome.Goal));

        var e = Assert.Throws<NodeSession.SetupException>(() => Open(NodeConfig("configs/nodes/diffbot-ros2.json"), policy: null))!;
        Assert.That(e.Message, Does.Contain("--policy"));
        var noTask = Assert.Throws<NodeSession.SetupException>(() => Open(NodeConfig("configs/nodes/diffbot-ros2.json", root => root["planner"] = "dwa"), null))!;
        Assert.That(noTask.Message, Does.Contain("task"));
    }

    [Test]
    public void AGroundNodeWhoseSensorsNeverArriveSaysWhichAndExitsThree()
    {
        RequireLibddsc();
        string config = NodeConfig("configs/nodes/diffbot-ros2.json", root =>
        {
            root["planner"] = "dwa";
            root["task"] = _taskFile;
            string quiet = "silent_" + Guid.NewGuid().ToString("N")[..6]; // topics nobody publishes
            root["ros2"]!["scan_topic"] = $"/{quiet}/scan";
            root["ros2"]!["odom_topic"] = $"/{quiet}/odom";
        });
        var output = new StringWriter();
        var progress = new StringWriter();
        int code = RunCommand.Run(new RunCommand.Request { ConfigPath = config, Seconds = 2.5, Settings = Loopback }, output, progress);
        Assert.That(code, Is.EqualTo(3), progress.ToString());
        string last = progress.ToString().TrimEnd().Split('\n')[^1];
        Assert.That(last, Does.StartWith("run: no odometry and scan arrived in ").And.Contain("(nav_msgs/msg/Odometry): no publisher matched")
            .And.Contain("(sensor_msgs/msg/LaserScan): no publisher matched").And.Contain($"ROS 2 domain {DomainId}"));
        Assert.That(progress.ToString(), Does.Contain("waiting for the robot's state: "));
    }

    [Test]
    public void RunWithTheSimPeerReachesTheGoalInRealTime()
    {
        RequireLibddsc();
        ulong scenario = SolvedScenario(PolicyBundle.Read(_bundlePath)) - NavMaps.HeldOutSeedBase;
        var output = new StringWriter();
        var progress = new StringWriter();
        string log = Path.Combine(TempRoot, "sim-peer.mcap");
        int code = RunCommand.Run(new RunCommand.Request
        {
            ConfigPath = NodeConfig("configs/nodes/diffbot-ros2.json"),
            PolicyPath = _bundlePath,
            Seconds = 90,
            SimPeer = true,
            Scenario = (int)scenario,
            Record = log,
            Settings = Loopback,
        }, output, progress);
        TestContext.Out.WriteLine(progress.ToString());
        TestContext.Out.WriteLine(output.ToString());
        Assert.That(code, Is.EqualTo(0));
        // Real time on a loaded machine: ticks may come late, so the exact path can differ from lock step; a collision fails above.
        Assert.That(output.ToString(), Does.Contain("sim robot: goal after").Or.Contain("sim robot: timeout"));
        Assert.That(progress.ToString(), Does.Contain("POLICY"));
        // The ground run is supervised and recorded like a flight: tick statistics in the summary, a log `roborl log check` accepts.
        Assert.That(output.ToString(), Does.Contain("tick p50").And.Contain("overruns").And.Contain($"recorded {log}"));
        var check = new StringWriter();
        Assert.That(Program.Run(["log", "check", log], check, new StringWriter()), Is.EqualTo(0), check.ToString());
        var info = new StringWriter();
        Assert.That(Program.Run(["log", "info", log], info, new StringWriter()), Is.EqualTo(0), info.ToString());
        Assert.That(info.ToString(), Does.Contain("/scan").And.Contain("/odom").And.Contain("/cmd_vel"));
    }

    [Test]
    public void TheDwaConfigRunsWithoutABundleAndRecordsALogThatLogCheckAndLogInfoAccept()
    {
        // The command: roborl run configs/nodes/diffbot-ros2-dwa.json --sim-peer --duration 10 --record run.mcap (5 s here).
        RequireLibddsc();
        var output = new StringWriter();
        var progress = new StringWriter();
        string log = Path.Combine(TempRoot, "dwa.mcap");
        string config = NodeConfig("configs/nodes/diffbot-ros2-dwa.json", root => root["task"] = RepoPaths.Find("configs/tasks/diffbot-nav.json"));
        int code = RunCommand.Run(new RunCommand.Request { ConfigPath = config, Seconds = 5, SimPeer = true, Record = log, Settings = Loopback }, output, progress);
        Assert.That(code, Is.EqualTo(0), progress.ToString() + output);
        Assert.That(output.ToString(), Does.Contain("tick p50").And.Contain($"recorded {log}"));
        var check = new StringWriter();
        Assert.That(Program.Run(["log", "check", log], check, new StringWriter()), Is.EqualTo(0), check.ToString());
        var info = new StringWriter();
        Assert.That(Program.Run(["log", "info", log], info, new StringWriter()), Is.EqualTo(0), info.ToString());
        Assert.That(info.ToString(), Does.Contain("/scan").And.Contain("/odom").And.Contain("/cmd_vel").And.Contain("/tick_stats").And.Contain("profile:     ros2"));
    }

    [Test]
    public void WithTransportSerialTheWheelCommandsGoOutAsActuatorFrames()
    {
        RequireLibddsc();
        if (!SocatPtyPair.IsAvailable())
        {
            if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail("required tool missing in CI: socat (tests/prerequisites.txt)");
            Assert.Inconclusive("socat not installed");
        }
        using var pair = SocatPtyPair.Start();
        var frames = new System.Collections.Concurrent.ConcurrentQueue<RoboRl.Serial.ActuatorCommand>();
        using var mcu = SerialLink.OpenPty(pair.PathB, frame =>
        {
            if (frame.Type == MessageType.ActuatorCommand) frames.Enqueue(frame.ReadActuatorCommand());
        });
        using NodeSession setup = Open(NodeConfig("configs/nodes/diffbot-serial.json", root => root["serial"]!["port"] = pair.PathA), _bundlePath);
        Assert.That(GroundLink(setup).CmdVelPublisher, Is.Null, "no /cmd_vel with transport serial");
        ulong scenario = SolvedScenario(PolicyBundle.Read(_bundlePath));
        using var peer = new DiffBotRos2SimPeer(_task, scenario, Options);
        // The wheels are the peer's: each frame's rpm becomes its (v, ω) command (v = r(ωl + ωr)/2, ω = r(ωr − ωl)/track).
        long applied = 0;
        DriveEpisode(setup, peer, () =>
        {
            while (frames.TryDequeue(out RoboRl.Serial.ActuatorCommand f))
            {
                float left = f.Motors.X * 2 * MathF.PI / 60, right = f.Motors.Y * 2 * MathF.PI / 60;
                Assert.That((f.Mode, f.Motors.Z, f.Motors.W), Is.EqualTo((ActuatorMode.Rpm, 0f, 0f)));
                peer.SetCommand(_task.Robot.WheelRadius * (left + right) / 2, _task.Robot.WheelRadius * (right - left) / _task.Robot.TrackWidth);
                applied++;
            }
            return applied;
        });
        TestContext.Out.WriteLine($"{peer.Outcome} after {peer.Seconds:F1} s over serial wheels, {applied} frames");
        Assert.That(peer.Outcome, Is.EqualTo(NavOutcome.Goal));
        Assert.That(setup.Links.Single(l => l.Transport == "serial").Port<SerialWheelSink>()!.FramesFailed, Is.EqualTo(0));
    }
}
