using RoboRl.Core.Configs;
using RoboRl.Core.Messages;
using RoboRl.Core.Policy;
using RoboRl.Core.Robots;
using RoboRl.Core.Tasks;
using RoboRl.Sims.DiffDrive;

namespace RoboRl.Node.Tests;

/// <summary>A planner that returns a fixed action (or NaN), to put the node's safety rules under test.</summary>
sealed class FixedPlanner(float linear, float angular) : ILocalPlanner
{
    public float Linear = linear, Angular = angular;
    public int Calls;
    public void Plan(in LocalPlannerInput input, Span<float> action)
    {
        Calls++;
        action[0] = Linear;
        action[1] = Angular;
    }
}

/// <summary>Sensor data the test sets by hand: one scan of chosen ranges, odometry, a goal; and the commands the node sent.</summary>
sealed class ScriptedGround : IGroundSensorSource, IVelocityCommandSink
{
    public float[] Ranges = Enumerable.Repeat(float.PositiveInfinity, 360).ToArray();
    public ScanSample Scan = new() { AngleMin = 0, AngleIncrement = 2 * MathF.PI / 360, RangeMin = 0.12f, RangeMax = 3.5f, Count = 360 };
    public OdometrySample Odometry;
    public GoalSample Goal;
    public bool HasScan = true, HasOdometry = true, HasGoal = true;
    public VelocityCommand Last;
    public int Sent;

    public void Stamp(long nowNs)
    {
        Scan.TimestampNs = nowNs;
        Scan.Sequence++;
        Odometry.TimestampNs = nowNs;
        Odometry.Sequence++;
    }

    public bool TryGetOdometry(out OdometrySample odometry) { odometry = Odometry; return HasOdometry; }
    public bool TryGetScan(Span<float> ranges, out ScanSample scan)
    {
        scan = Scan;
        if (!HasScan) return false;
        Ranges.AsSpan(0, Math.Min(ranges.Length, Ranges.Length)).CopyTo(ranges);
        return true;
    }
    public bool TryGetGoal(out GoalSample goal) { goal = Goal; return HasGoal; }
    public void Send(in VelocityCommand command) { Last = command; Sent++; }
}

/// <summary>The simulated diffbot (one <see cref="NavEnv"/> scenario) as the node's sensors and wheels, in lock step.</summary>
sealed class SimulatedGround : IGroundSensorSource, IVelocityCommandSink, IDisposable
{
    readonly NavTaskConfig _task;
    public readonly NavEnv Env;
    long _nowNs;
    uint _sequence;
    VelocityCommand _command;
    public NavOutcome Outcome;

    public SimulatedGround(NavTaskConfig task, ulong scenario)
    {
        this._task = task;
        Env = new NavEnv(task, 1, threadCount: 1);
        Env.Reset(7);
        Env.ResetScenario(0, scenario);
    }

    public void Now(long ns) { _nowNs = ns; _sequence++; }

    public bool TryGetOdometry(out OdometrySample o)
    {
        o = new OdometrySample { TimestampNs = _nowNs, Sequence = _sequence, X = Env.X(0), Y = Env.Y(0), Yaw = Env.Yaw(0), LinearVelocity = Env.LinearVelocity(0), AngularVelocity = Env.AngularVelocity(0) };
        return true;
    }

    public bool TryGetScan(Span<float> ranges, out ScanSample scan)
    {
        Env.Scan(0).CopyTo(ranges);
        var lidar = _task.Robot.Lidar;
        scan = new ScanSample { TimestampNs = _nowNs, Sequence = _sequence, AngleMin = 0, AngleIncrement = lidar.AngleIncrement, RangeMin = lidar.RangeMin, RangeMax = lidar.RangeMax, Count = lidar.Beams };
        return true;
    }

    public bool TryGetGoal(out GoalSample goal)
    {
        goal = new GoalSample { TimestampNs = _nowNs, Sequence = 1, X = Env.Maps.GoalX[0], Y = Env.Maps.GoalY[0] };
        return true;
    }

    public void Send(in VelocityCommand c) => _command = c;

    /// <summary>Steps the simulator with the last command; false once the episode ended.</summary>
    public bool Step()
    {
        if (Outcome != NavOutcome.None) return false;
        Env.Step([_command.LinearVelocity / _task.Robot.MaxLinearVelocity, _command.AngularVelocity / _task.Robot.MaxAngularVelocity]);
        if (Env.Terminated[0] || Env.Truncated[0]) Outcome = Env.FinishedEpisodeOutcomes[0];
        return Outcome == NavOutcome.None;
    }

    public void Dispose() => Env.Dispose();
}

/// <summary>The one real-time node with the differential-drive controller, ticked by the test.</summary>
sealed class GroundNode(InferenceNode node) : IDisposable
{
    public InferenceNode Node => node;
    public DiffDriveController Controller => (DiffDriveController)node.Controller;
    public NodeMode Mode => node.Mode;
    public NodeEvent[] Events => node.Events;
    public ulong TickCount => node.TickCount;
    public int GoalsReached => Controller.GoalsReached;
    public void Tick(long nowNs, long lateNs = 0) => node.Tick(nowNs, nowNs + lateNs);
    public void Dispose() => node.Dispose();
}

/// <summary>The ground robot in the one real-time node: safety rules (stale scan and odometry, obstacle distance, speed limits, NaN, overruns, the kill switch), goals, recording, no allocation, config errors.</summary>
public class DiffDriveNodeTests
{
    const long Period = 100_000_000; // 10 Hz

    static string NodeConfigFile => RepoFiles.Path("configs/nodes/diffbot-ros2.json");

    static NodeConfig Config(Action<System.Text.Json.Nodes.JsonObject>? edit = null) =>
        NodeConfig.Load(RepoFiles.EditedCopy(NodeConfigFile, edit ?? (_ => { })));

    static GroundNode Node(NodeConfig config, ILocalPlanner planner, int observationSize, IGroundSensorSource sensors, IVelocityCommandSink sink, NodeRecorder? recorder = null) =>
        new(new InferenceNode(config, new DiffDriveController(config, planner, observationSize, sensors, sink), recorder));

    static (GroundNode Node, ScriptedGround Ground, FixedPlanner Planner) Scripted(float linear = 1, float angular = 0, NodeConfig? config = null)
    {
        var ground = new ScriptedGround();
        ground.Goal = new GoalSample { Sequence = 1, X = 3, Y = 0 };
        var planner = new FixedPlanner(linear, angular);
        var node = Node(config ?? Config(), planner, NavObservation.ActorSize(36), ground, ground);
        return (node, ground, planner);
    }

    [Test]
    public void DrivesWhatThePlannerSaysScaledToTheRobot()
    {
        var (node, ground, _) = Scripted(0.5f, -0.25f);
        ground.Stamp(Period);
        node.Tick(Period);
        Assert.That(node.Mode, Is.EqualTo(NodeMode.Policy));
        Assert.That(ground.Last.LinearVelocity, Is.EqualTo(0.5f * 0.22f).Within(1e-6f));
        Assert.That(ground.Last.AngularVelocity, Is.EqualTo(-0.25f * 2.84f).Within(1e-6f));
        // Wheels: (v ∓ ω·track/2) / r with track 0.160 m, r 0.033 m.
        Assert.That(ground.Last.LeftWheelRadS, Is.EqualTo((0.11f + 0.71f * 0.08f) / 0.033f).Within(1e-3f));
        Assert.That(ground.Last.RightWheelRadS, Is.EqualTo((0.11f - 0.71f * 0.08f) / 0.033f).Within(1e-3f));
        Assert.That(node.Events[^1].Describe(), Is.EqualTo("POLICY: driving to the goal"));
    }

    [Test]
    public void NoScanOrAStaleScanStopsTheRobotAndAFreshOneResumes()
    {
        var (node, ground, _) = Scripted();
        ground.HasScan = false;
        ground.Stamp(Period);
        node.Tick(Period);
        Assert.That((node.Mode, ground.Last.LinearVelocity, ground.Last.AngularVelocity), Is.EqualTo((NodeMode.Fallback, 0f, 0f)));
        Assert.That(node.Events[^1].Describe(), Is.EqualTo("FALLBACK: stale scan: no scan yet"));

        ground.HasScan = true;
        ground.Stamp(2 * Period);
        node.Tick(2 * Period);
        Assert.That(node.Mode, Is.EqualTo(NodeMode.Policy));
        Assert.That(ground.Last.LinearVelocity, Is.GreaterThan(0));

        // 600 ms without a new scan (limit 500 ms); odometry keeps coming.
        long now = 8 * Period;
        ground.Odometry.TimestampNs = now;
        node.Tick(now);
        Assert.That((node.Mode, ground.Last.LinearVelocity, ground.Last.Source), Is.EqualTo((NodeMode.Fallback, 0f, ActionSource.Fallback)));
        Assert.That(node.Events[^1].Violation.Trigger, Is.EqualTo(SafetyTrigger.StaleScan));
        Assert.That(node.Events[^1].Describe(), Is.EqualTo("FALLBACK: stale scan: newest 600 ms old > 500 ms"));

        ground.Stamp(9 * Period);
        node.Tick(9 * Period);
        Assert.That(node.Mode, Is.EqualTo(NodeMode.Policy));
    }

    [Test]
    public void StaleOdometryStopsTheRobot()
    {
        var (node, ground, _) = Scripted();
        ground.Stamp(Period);
        node.Tick(Period);
        ground.Scan.TimestampNs = 4 * Period; // fresh scan, odometry 300 ms old (limit 200 ms)
        node.Tick(4 * Period);
        Assert.That((node.Mode, ground.Last.LinearVelocity), Is.EqualTo((NodeMode.Fallback, 0f)));
        Assert.That(node.Events[^1].Describe(), Is.EqualTo("FALLBACK: stale odometry: newest 300 ms old > 200 ms"));
    }

    [Test]
    public void AStreakOfOverrunTicksStopsTheRobot()
    {
        var (node, ground, _) = Scripted();
        // limits.overrun_streak 5: four late ticks in a row drive on, the fifth stops the robot; an on-time tick clears the streak.
        for (int i = 1; i <= 4; i++)
        {
            ground.Stamp(i * Period);
            node.Tick(i * Period, lateNs: 2 * Period);
            Assert.That(node.Mode, Is.EqualTo(NodeMode.Policy), $"late tick {i}");
        }
        ground.Stamp(5 * Period);
        node.Tick(5 * Period, lateNs: 2 * Period);
        Assert.That((node.Mode, ground.Last.LinearVelocity), Is.EqualTo((NodeMode.Fallback, 0f)));
        Assert.That(node.Events[^1].Describe(), Is.EqualTo("FALLBACK: 5 overrun ticks in a row (limit 5)"));
        ground.Stamp(6 * Period);
        node.Tick(6 * Period);
        Assert.That(node.Mode, Is.EqualTo(NodeMode.Policy), "on time again: driving");
        Assert.That(node.Node.RunStatistics.Overruns, Is.EqualTo(5u), "the node's tick statistics count the overruns");
    }

    [Test]
    public void TheKillSwitchStopsTheRobotForGoodAndAnOperatorSetpointIsAGoal()
    {
        var (node, ground, _) = Scripted();
        var commands = new QueueCommandSource();
        node.Node.AddCommands(commands);
        ground.HasGoal = false;
        ground.Stamp(Period);
        node.Tick(Period);
        Assert.That(node.Mode, Is.EqualTo(NodeMode.Idle), "no goal yet");
        commands.Enqueue(NodeCommandKind.Setpoint, new System.Numerics.Vector3(2, 1, 0));
        ground.Stamp(2 * Period);
        node.Tick(2 * Period);
        Assert.That((node.Mode, node.Controller.Goal), Is.EqualTo((NodeMode.Policy, ((float, float)?)(2f, 1f))));

        commands.Enqueue(NodeCommandKind.Kill);
        ground.Stamp(3 * Period);
        node.Tick(3 * Period);
        Assert.That((node.Mode, ground.Last.LinearVelocity, ground.Last.AngularVelocity), Is.EqualTo((NodeMode.Killed, 0f, 0f)));
        Assert.That(node.Events.Single(e => e.Mode == NodeMode.Killed).Describe(), Is.EqualTo("KILLED: kill switch"));
        commands.Enqueue(NodeCommandKind.Setpoint, new System.Numerics.Vector3(3, 0, 0));
        for (int i = 4; i < 10; i++) { ground.Stamp(i * Period); node.Tick(i * Period); }
        Assert.That((node.Mode, ground.Last.LinearVelocity), Is.EqualTo((NodeMode.Killed, 0f)), "latched: a new goal does not restart a killed robot");
    }

    [Test]
    public void AnObstacleAheadStopsForwardMotionButTurningAndReversingStayAllowed()
    {
        var (node, ground, planner) = Scripted(1, 0.5f);
        ground.Ranges[358] = 0.15f; // 2° to the right: 0.15·cos 2° − √(0.105² − (0.15·sin 2°)²) = 0.045 m ahead of the footprint, < 0.06 m
        ground.Stamp(Period);
        node.Tick(Period);
        Assert.That(ground.Last.LinearVelocity, Is.EqualTo(0f));
        Assert.That(ground.Last.AngularVelocity, Is.EqualTo(0.5f * 2.84f).Within(1e-5f), "the planner may still turn away");
        Assert.That(node.Events[^1].Describe(), Is.EqualTo("LIMIT: obstacle 0.045 m ahead of the footprint in the direction of travel < 0.06 m: translation stopped"));

        planner.Linear = -1; // backwards: the sector behind is clear
        ground.Stamp(2 * Period);
        node.Tick(2 * Period);
        Assert.That(ground.Last.LinearVelocity, Is.EqualTo(-0.22f).Within(1e-6f));
        Assert.That(node.Events[^1].Describe(), Is.EqualTo("limit lifted"));

        // Beside the corridor (90° to the left: it is not in the path), or below the lidar's range_min (unreliable): no limit.
        ground.Ranges[358] = float.PositiveInfinity;
        ground.Ranges[90] = 0.13f;
        ground.Ranges[45] = 0.2f; // (0.141, 0.141): |y| > 0.105, beside the path
        ground.Ranges[0] = 0.05f;
        planner.Linear = 1;
        ground.Stamp(3 * Period);
        node.Tick(3 * Period);
        Assert.That(ground.Last.LinearVelocity, Is.EqualTo(0.22f).Within(1e-6f));
    }

    [Test]
    public void TheObstacleRuleKeepsARobotThatDrivesStraightAheadFromCollidingInTheSimulator()
    {
        var task = NavTaskConfig.Load(RepoFiles.Path("configs/tasks/diffbot-nav.json"));
        int stoppedEpisodes = 0;
        for (ulong scenario = 0; scenario < 10; scenario++)
        {
            using var sim = new SimulatedGround(task, NavMaps.HeldOutSeedBase + scenario);
            using var node = Node(Config(), new FixedPlanner(1, 0), NavObservation.ActorSize(task.ScanBins), sim, sim);
            long now = 0;
            for (int step = 0; step < 300; step++)
            {
                now += Period;
                sim.Now(now);
                node.Tick(now);
                if (!sim.Step()) break;
            }
            Assert.That(sim.Outcome, Is.Not.EqualTo(NavOutcome.Collision), $"scenario {scenario}: drove into something");
            if (node.Events.Any(e => e.Violation.Trigger == SafetyTrigger.ObstacleTooClose)) stoppedEpisodes++;
        }
        // Straight ahead at full speed hits a wall or an obstacle within 300 steps (30 s, 6.6 m) in a 5 m arena unless the goal is in line.
        Assert.That(stoppedEpisodes, Is.GreaterThanOrEqualTo(5));
    }

    [Test]
    public void SpeedLimitsOfTheConfigClampThePlanner()
    {
        var config = Config(root =>
        {
            root["limits"]!["max_linear_velocity_m_s"] = 0.1;
            root["limits"]!["max_angular_velocity_rad_s"] = 1.0;
        });
        var (node, ground, _) = Scripted(1, -1, config);
        ground.Stamp(Period);
        node.Tick(Period);
        Assert.That((ground.Last.LinearVelocity, ground.Last.AngularVelocity), Is.EqualTo((0.1f, -1f)));
    }

    [Test]
    public void NonFiniteActionOrAScanOfTheWrongSizeStops()
    {
        var (node, ground, planner) = Scripted(float.NaN, 0);
        ground.Stamp(Period);
        node.Tick(Period);
        Assert.That((node.Mode, ground.Last.LinearVelocity), Is.EqualTo((NodeMode.Fallback, 0f)));
        Assert.That(node.Events[^1].Describe(), Is.EqualTo("FALLBACK: NaN/Inf in policy action element 0"));

        planner.Linear = 1;
        ground.Scan.Count = 180;
        ground.Stamp(2 * Period);
        node.Tick(2 * Period);
        Assert.That((node.Mode, ground.Last.LinearVelocity), Is.EqualTo((NodeMode.Fallback, 0f)));
        Assert.That(node.Events[^1].Describe(), Is.EqualTo("FALLBACK: scan has 180 beams, the policy was trained on 360"));
    }

    [Test]
    public void StopsAtTheGoalAndDrivesToTheNextOne()
    {
        var (node, ground, _) = Scripted();
        ground.HasGoal = false;
        ground.Stamp(Period);
        node.Tick(Period);
        Assert.That((node.Mode, ground.Last.LinearVelocity), Is.EqualTo((NodeMode.Idle, 0f)), "no goal yet");

        ground.HasGoal = true;
        ground.Goal = new GoalSample { Sequence = 1, X = 0.1f, Y = 0.1f }; // 0.14 m away, tolerance 0.2 m
        ground.Stamp(2 * Period);
        node.Tick(2 * Period);
        Assert.That((node.Mode, ground.Last.LinearVelocity, node.GoalsReached), Is.EqualTo((NodeMode.Idle, 0f, 1)));
        Assert.That(node.Events.Single(e => e.Kind == NodeEventKind.GoalReached).Describe(), Is.EqualTo("goal (0.1, 0.1) reached (0.141 m from it): stopped"));

        ground.Goal = new GoalSample { Sequence = 2, X = 2, Y = 0 };
        ground.Stamp(3 * Period);
        node.Tick(3 * Period);
        Assert.That((node.Mode, ground.Last.LinearVelocity), Is.EqualTo((NodeMode.Policy, 0.22f)));
    }

    [Test]
    public void ATickAllocatesNothingWhileRecording()
    {
        var task = NavTaskConfig.Load(RepoFiles.Path("configs/tasks/diffbot-nav.json"));
        using var sim = new SimulatedGround(task, NavMaps.HeldOutSeedBase + 3);
        var bundle = ConstantNavBundle(task);
        using var recorder = NodeRecorder.Create(Path.Combine(RepoFiles.TempDir(), "alloc.mcap"), bundle.ObservationSize, 1 << 14);
        using var node = Node(Config(), new PolicyLocalPlanner(bundle), bundle.ObservationSize, sim, sim, recorder);
        long now = 0;
        for (int i = 0; i < 50; i++) { now += Period; sim.Now(now); node.Tick(now); }
        Assert.That(AllocationMeter.FewestBytes(() => { for (int i = 0; i < 1000; i++) { now += Period; sim.Now(now); node.Tick(now); } }), Is.EqualTo(0));
        Assert.That(node.TickCount, Is.EqualTo(3050UL), "50 warm-up ticks, then three measured batches of 1000");
    }

    [Test]
    public void AGroundRunIsRecordedAsARos2McapThatLogCheckAndFoxglovesReadersAccept()
    {
        var task = NavTaskConfig.Load(RepoFiles.Path("configs/tasks/diffbot-nav.json"));
        string path = Path.Combine(RepoFiles.TempDir(), "ground.mcap");
        NodeConfig config = Config(root => { root["planner"] = "dwa"; root["task"] = RepoFiles.Path("configs/tasks/diffbot-nav.json"); });
        var metadata = RoboRl.Logs.FlightLogMetadata.Build(NavPolicySpec.ActorNames(task.ScanBins), NavPolicySpec.ActionNames, 0, 10, "dwa", config.RobotConfigJson, 10);
        var recorder = NodeRecorder.Create(path, task.ActorObservationSize, 1 << 12, flightMetadata: metadata);
        ulong ticks;
        using (var sim = new SimulatedDiffBot(task, NavMaps.HeldOutSeedBase + 1, startTimeNs: 0))
        using (var node = new InferenceNode(config, new DiffDriveController(config, new DwaLocalPlanner(new DwaPlanner(task)), task.ActorObservationSize, sim, sim,
            metadata), recorder))
        {
            long now = 0;
            for (int i = 0; i < 40 && sim.Outcome == NavOutcome.None; i++) { now += Period; sim.AdvanceTo(now); node.Tick(now, now); }
            Assert.That(node.Mode, Is.EqualTo(NodeMode.Policy).Or.EqualTo(NodeMode.Idle), string.Join("; ", node.Events.Select(e => e.Describe())));
            ticks = node.TickCount;
        }
        recorder.Dispose();
        Assert.That((recorder.Error, recorder.Dropped), Is.EqualTo(((string?)null, 0L)));

        RoboRl.Logs.LogCheckReport report = RoboRl.Logs.LogChecker.Check(path);
        Assert.That(report.IsValid, Is.True, string.Join("\n", report.Errors));
        System.Text.Json.Nodes.JsonObject result = RoboRl.Logs.Tests.NodeVerifier.Verify(path);
        Assert.That(result["header"]!["profile"]!.GetValue<string>(), Is.EqualTo("ros2"));
        var topics = result["topics"]!.AsObject();
        foreach (string topic in new[] { "/odom", "/scan", "/cmd_vel", "/action" })
            Assert.That(topics[topic]?.GetValue<int>(), Is.EqualTo((int)ticks), topic);
        Assert.That(topics["/goal_pose"]!.GetValue<int>(), Is.EqualTo(1), "the goal, once");
        Assert.That(topics["/mode"]!.GetValue<int>(), Is.GreaterThanOrEqualTo(1));
        var schemas = result["schemas"]!.AsArray().Select(s => s!["name"]!.GetValue<string>()).ToHashSet();
        Assert.That(schemas, Is.SupersetOf(new[] { "nav_msgs/msg/Odometry", "sensor_msgs/msg/LaserScan", "geometry_msgs/msg/Twist", "roborl_msgs/msg/Action" }));
    }

    [Test]
    public void ABundleForAnotherRobotOrObservationIsRefused()
    {
        var task = NavTaskConfig.Load(RepoFiles.Path("configs/tasks/diffbot-nav.json"));
        NodeConfig config = Config();
        Assert.DoesNotThrow(() => DiffDriveController.CheckBundle(config, ConstantNavBundle(task)));
        var hover = TestPolicies.ConstantHover(RepoFiles.RobotFile);
        Assert.Throws<PolicyMismatchException>(() => DiffDriveController.CheckBundle(config, hover));
        var otherRate = Config(root => root["rate_hz"] = 20);
        var e = Assert.Throws<PolicyMismatchException>(() => DiffDriveController.CheckBundle(otherRate, ConstantNavBundle(task)))!;
        Assert.That(e.Message, Does.Contain("10 Hz").And.Contain("20 Hz"));
    }

    [Test]
    public void ConfigErrorsNameTheFileAndTheKey()
    {
        var e = Assert.Throws<ConfigException>(() => Config(root => root["limits"]!["max_linear_velocity_m_s"] = 0.5))!;
        Assert.That(e.Message, Does.Contain("max_linear_velocity_m_s").And.Contain("0.22"));
        e = Assert.Throws<ConfigException>(() => Config(root => root["limits"]!["scan_timout_ms"] = 5))!;
        Assert.That(e.Message, Does.Contain("scan_timout_ms"));
        e = Assert.Throws<ConfigException>(() => Config(root => root["planner"] = "teb"))!;
        Assert.That(e.Message, Does.Contain("planner").And.Contain("dwa"));
        // The robot's kind selects the node; the old switch is named with what to do instead.
        e = Assert.Throws<ConfigException>(() => Config(root => root["node"] = "diff_drive"))!;
        Assert.That((e.JsonPath, e.Problem), Is.EqualTo(("$.node",
            "no longer used: the robot config's \"kind\" selects the node (configs/robots/diffbot.json has \"kind\": \"diff_drive\"); remove this key")));
        Assert.That(NodeConfig.Load(NodeConfigFile).Kind, Is.EqualTo("diff_drive"));
        Assert.That(NodeConfig.Load(RepoFiles.NodeFile).Kind, Is.EqualTo("quadrotor"));
        NodeConfig serial = NodeConfig.Load(RepoFiles.Path("configs/nodes/diffbot-serial.json"));
        Assert.That((serial.Transport, serial.Sensors, serial.RolesOf("ros2"), serial.Section("serial")!.String("port")),
            Is.EqualTo(("serial", "ros2", TransportRoles.Sensors | TransportRoles.Commands | TransportRoles.Teleop | TransportRoles.Telemetry, "/dev/ttyACM0")));
    }

    /// <summary>A 43 → 2 tanh network driving forward gently, with the navigation specs (no training needed).</summary>
    internal static PolicyBundle ConstantNavBundle(NavTaskConfig task)
    {
        int obs = NavObservation.ActorSize(task.ScanBins);
        var (low, high) = NavPolicySpec.ActionScaling(task.Robot);
        var bundle = new PolicyBundle
        {
            Layers = [new DenseLayer(obs, 2, new float[2 * obs], [0.3f, 0.1f], Activation.Tanh)],
            ObservationNames = NavPolicySpec.ActorNames(task.ScanBins),
            ActionNames = NavPolicySpec.ActionNames,
            ObservationMean = new float[obs],
            ObservationStd = Enumerable.Repeat(1f, obs).ToArray(),
            ActionLow = low,
            ActionHigh = high,
            ActionUnit = NavPolicySpec.ActionUnit,
            ControlRateHz = task.ControlFrequencyHz,
            ActionHistoryLength = NavPolicySpec.ActionHistoryLength,
            RobotConfigJson = task.RobotConfigJson,
            TrainingConfigJson = "{}",
            GitCommit = "test",
            GoldenObservations = new float[obs],
            GoldenActions = [MathF.Tanh(0.3f), MathF.Tanh(0.1f)],
        };
        bundle.Validate();
        return bundle;
    }
}
