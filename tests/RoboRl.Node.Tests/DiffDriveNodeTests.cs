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
    readonly NavTaskConfig task;
    public readonly NavEnv Env;
    long nowNs;
    uint sequence;
    VelocityCommand command;
    public NavOutcome Outcome;

    public SimulatedGround(NavTaskConfig task, ulong scenario)
    {
        this.task = task;
        Env = new NavEnv(task, 1, threadCount: 1);
        Env.Reset(7);
        Env.ResetScenario(0, scenario);
    }

    public void Now(long ns) { nowNs = ns; sequence++; }

    public bool TryGetOdometry(out OdometrySample o)
    {
        o = new OdometrySample { TimestampNs = nowNs, Sequence = sequence, X = Env.X(0), Y = Env.Y(0), Yaw = Env.Yaw(0), LinearVelocity = Env.LinearVelocity(0), AngularVelocity = Env.AngularVelocity(0) };
        return true;
    }

    public bool TryGetScan(Span<float> ranges, out ScanSample scan)
    {
        Env.Scan(0).CopyTo(ranges);
        var lidar = task.Robot.Lidar;
        scan = new ScanSample { TimestampNs = nowNs, Sequence = sequence, AngleMin = 0, AngleIncrement = lidar.AngleIncrement, RangeMin = lidar.RangeMin, RangeMax = lidar.RangeMax, Count = lidar.Beams };
        return true;
    }

    public bool TryGetGoal(out GoalSample goal)
    {
        goal = new GoalSample { TimestampNs = nowNs, Sequence = 1, X = Env.Maps.GoalX[0], Y = Env.Maps.GoalY[0] };
        return true;
    }

    public void Send(in VelocityCommand c) => command = c;

    /// <summary>Steps the simulator with the last command; false once the episode ended.</summary>
    public bool Step()
    {
        if (Outcome != NavOutcome.None) return false;
        Env.Step([command.LinearVelocity / task.Robot.MaxLinearVelocity, command.AngularVelocity / task.Robot.MaxAngularVelocity]);
        if (Env.Terminated[0] || Env.Truncated[0]) Outcome = Env.FinishedEpisodeOutcomes[0];
        return Outcome == NavOutcome.None;
    }

    public void Dispose() => Env.Dispose();
}

/// <summary>The ground-robot node: safety rules (stale scan and odometry, obstacle distance, speed limits, NaN), goals, no allocation, config errors.</summary>
public class DiffDriveNodeTests
{
    const long Period = 100_000_000; // 10 Hz

    static string NodeConfigFile => RepoFiles.Path("configs/nodes/diffbot-ros2.json");

    static DiffDriveNodeConfig Config(Action<System.Text.Json.Nodes.JsonObject>? edit = null) =>
        DiffDriveNodeConfig.Load(RepoFiles.EditedCopy(NodeConfigFile, edit ?? (_ => { })));

    static (DiffDriveNode Node, ScriptedGround Ground, FixedPlanner Planner) Scripted(float linear = 1, float angular = 0, DiffDriveNodeConfig? config = null)
    {
        var ground = new ScriptedGround();
        ground.Goal = new GoalSample { Sequence = 1, X = 3, Y = 0 };
        var planner = new FixedPlanner(linear, angular);
        var node = new DiffDriveNode(config ?? Config(), planner, NavObservation.ActorSize(36), ground, ground);
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
    }

    [Test]
    public void NoScanOrAStaleScanStopsTheRobotAndAFreshOneResumes()
    {
        var (node, ground, _) = Scripted();
        ground.HasScan = false;
        ground.Stamp(Period);
        node.Tick(Period);
        Assert.That((node.Mode, ground.Last.LinearVelocity, ground.Last.AngularVelocity), Is.EqualTo((NodeMode.Fallback, 0f, 0f)));
        Assert.That(node.Events[^1].Describe(), Is.EqualTo("STOP: no scan yet"));

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
        Assert.That(node.Events[^1].Trigger, Is.EqualTo(GroundSafetyTrigger.StaleScan));
        Assert.That(node.Events[^1].Describe(), Is.EqualTo("STOP: stale scan, newest 600 ms old > 500 ms"));

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
        Assert.That(node.Events[^1].Describe(), Is.EqualTo("STOP: stale odometry, newest 300 ms old > 200 ms"));
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
            var node = new DiffDriveNode(Config(), new FixedPlanner(1, 0), NavObservation.ActorSize(task.ScanBins), sim, sim);
            long now = 0;
            for (int step = 0; step < 300; step++)
            {
                now += Period;
                sim.Now(now);
                node.Tick(now);
                if (!sim.Step()) break;
            }
            Assert.That(sim.Outcome, Is.Not.EqualTo(NavOutcome.Collision), $"scenario {scenario}: drove into something");
            if (node.Events.Any(e => e.Trigger == GroundSafetyTrigger.ObstacleTooClose)) stoppedEpisodes++;
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
        Assert.That(node.Events[^1].Describe(), Is.EqualTo("STOP: NaN/Inf in planner action element 0"));

        planner.Linear = 1;
        ground.Scan.Count = 180;
        ground.Stamp(2 * Period);
        node.Tick(2 * Period);
        Assert.That((node.Mode, ground.Last.LinearVelocity), Is.EqualTo((NodeMode.Fallback, 0f)));
        Assert.That(node.Events[^1].Describe(), Is.EqualTo("STOP: scan has 180 beams, the policy was trained on 360"));
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
        Assert.That(node.Events.Any(e => e.GoalReached));

        ground.Goal = new GoalSample { Sequence = 2, X = 2, Y = 0 };
        ground.Stamp(3 * Period);
        node.Tick(3 * Period);
        Assert.That((node.Mode, ground.Last.LinearVelocity), Is.EqualTo((NodeMode.Policy, 0.22f)));
    }

    [Test]
    public void ATickAllocatesNothing()
    {
        var task = NavTaskConfig.Load(RepoFiles.Path("configs/tasks/diffbot-nav.json"));
        using var sim = new SimulatedGround(task, NavMaps.HeldOutSeedBase + 3);
        var bundle = ConstantNavBundle(task);
        var node = new DiffDriveNode(Config(), new PolicyLocalPlanner(bundle), bundle.ObservationSize, sim, sim);
        long now = 0;
        for (int i = 0; i < 50; i++) { now += Period; sim.Now(now); node.Tick(now); }
        Assert.That(AllocationMeter.FewestBytes(() => { for (int i = 0; i < 1000; i++) { now += Period; sim.Now(now); node.Tick(now); } }), Is.EqualTo(0));
        Assert.That(node.TickCount, Is.EqualTo(3050UL), "50 warm-up ticks, then three measured batches of 1000");
    }

    [Test]
    public void ABundleForAnotherRobotOrObservationIsRefused()
    {
        var task = NavTaskConfig.Load(RepoFiles.Path("configs/tasks/diffbot-nav.json"));
        DiffDriveNodeConfig config = Config();
        Assert.DoesNotThrow(() => DiffDriveNode.CheckBundle(config, ConstantNavBundle(task)));
        var hover = TestPolicies.ConstantHover(RepoFiles.RobotFile);
        Assert.Throws<PolicyMismatchException>(() => DiffDriveNode.CheckBundle(config, hover));
        var otherRate = Config(root => root["rate_hz"] = 20);
        var e = Assert.Throws<PolicyMismatchException>(() => DiffDriveNode.CheckBundle(otherRate, ConstantNavBundle(task)))!;
        Assert.That(e.Message, Does.Contain("10 Hz").And.Contain("20 Hz"));
    }

    [Test]
    public void ConfigErrorsNameTheFileAndTheKey()
    {
        var e = Assert.Throws<ConfigException>(() => Config(root => root["limits"]!["max_linear_velocity_m_s"] = 0.5))!;
        Assert.That(e.Message, Does.Contain("max_linear_velocity_m_s").And.Contain("0.22"));
        e = Assert.Throws<ConfigException>(() => Config(root => root["limits"]!["scan_timout_ms"] = 5))!;
        Assert.That(e.Message, Does.Contain("scan_timout_ms"));
        e = Assert.Throws<ConfigException>(() => Config(root => root["transport"] = "serial"))!;
        Assert.That(e.Message, Does.Contain("serial"));
        e = Assert.Throws<ConfigException>(() => Config(root => root["planner"] = "teb"))!;
        Assert.That(e.Message, Does.Contain("planner").And.Contain("dwa"));
        Assert.That(DiffDriveNodeConfig.IsDiffDriveNode(NodeConfigFile), Is.True);
        Assert.That(DiffDriveNodeConfig.IsDiffDriveNode(RepoFiles.NodeFile), Is.False);
        Assert.That(DiffDriveNodeConfig.Load(RepoFiles.Path("configs/nodes/diffbot-serial.json")).Serial!.Port, Is.EqualTo("/dev/ttyACM0"));
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
