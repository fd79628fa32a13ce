using RoboRl.Core.Messages;
using RoboRl.Core.Robots;
using RoboRl.Core.Tasks;
using RoboRl.Hosting;
using RoboRl.Node;
using RoboRl.Ros2;
using RoboRl.Ros2.Native;
using RoboRl.Sims.DiffDrive;

namespace RoboRl.Faults.Scenarios;

/// <summary>
/// Issue #9, scenario 2 for ground robots: the sensor stream stops → stop. The ground-robot node
/// (the real-time node with <see cref="DiffDriveController"/>, configs/nodes/diffbot-ros2.json with the DWA planner: no training) drives the simulated
/// diffbot (<see cref="DiffBotRos2SimPeer"/>, a held-out map) over real Cyclone DDS on loopback, in real time at the
/// config's 10 Hz; mid-drive the robot's /scan publisher goes away (its DDS writer deleted; odometry keeps coming).
/// Expected: the node's stale-scan rule stops the robot — a FALLBACK event and zero /cmd_vel within scan_timeout_ms (500 ms)
/// plus a tick — and the simulated robot comes to rest without hitting anything — and the run's flight log records the
/// stop (/mode FALLBACK with the stale-scan reason) and the zero /cmd_vel.
/// </summary>
public sealed class GroundSensorStops : IFaultScenario
{
    public string Name => "ground-sensor-stops";
    public string Description => "diffbot driving over ROS 2 loses its /scan publisher: zero /cmd_vel within the stale-scan timeout, robot at rest";

    public FaultResult Run(FaultBudget budget)
    {
        string taskFile = RepoFiles.Find("configs/tasks/diffbot-nav.json");
        NavTaskConfig task = NavTaskConfig.Load(taskFile);
        ulong scenario = MapDwaDrivesLong(task);
        int domain = Random.Shared.Next(100, 230);
        string directory = RepoFiles.ScratchDirectory("ground-sensor");
        try
        {
            string configFile = RepoFiles.EditedCopy(RepoFiles.Find("configs/nodes/diffbot-ros2.json"), directory, root =>
            {
                root["planner"] = "dwa";
                root["task"] = taskFile;
                root["ros2"]!["domain_id"] = domain;
            });
            NodeConfig config = NodeConfig.Load(configFile);
            Ros2GroundRobotOptions options = Ros2GroundRobotOptions.Read(config.Section("ros2")!) with { CycloneConfigXml = Ros2Loopback.ConfigXml };
            Ros2GroundRobotLink link;
            try { link = new Ros2GroundRobotLink(options); }
            catch (Exception e) when (e is DllNotFoundException or DdsException)
            {
                throw new FaultCheckException($"Cyclone DDS (libddsc) is not usable here: {e.Message} (Debian: apt-get install libddsc0debian)");
            }
            string logPath = Path.Combine(directory, "ground.mcap");
            var controller = new DiffDriveController(config, new DwaLocalPlanner(new DwaPlanner(task)), task.ActorObservationSize, link, link);
            var recorder = NodeRecorder.Create(logPath, controller.ObservationSize, 1 << 14);
            FaultResult result;
            using (link)
            using (var node = new InferenceNode(config, controller, recorder))
            using (var robot = new DiffBotRos2SimPeer(task, scenario, new Ros2Options { DomainId = domain, CycloneConfigXml = Ros2Loopback.ConfigXml }))
                result = DriveThenLoseTheScan(config, node, controller, link, robot);
            recorder.Dispose();
            return CheckTheLog(result, logPath, recorder);
        }
        finally { Directory.Delete(directory, recursive: true); }
    }

    /// <summary>The run's log is valid and records the stop: /mode FALLBACK for the stale scan, and a zero /cmd_vel after it.</summary>
    private static FaultResult CheckTheLog(FaultResult result, string logPath, NodeRecorder recorder)
    {
        Check.That(recorder.Error is null && recorder.Dropped == 0, $"recording: {recorder.Error ?? $"{recorder.Dropped} records dropped"}");
        RoboRl.Logs.LogCheckReport report = RoboRl.Logs.LogChecker.Check(logPath);
        Check.That(report.IsValid, $"the ground run's log fails `roborl log check`: {string.Join("; ", report.Errors.Take(3))}");
        bool stopLogged = false, zeroAfter = false;
        ulong stopTime = 0;
        foreach (RoboRl.Logs.McapMessage m in RoboRl.Logs.McapReader.ReadAllMessages(logPath).OrderBy(m => m.LogTime))
        {
            if (m.Channel.Topic == "/mode" && !stopLogged)
            {
                ModeMsg mode = Cdr.Read<ModeMsg>(m.Data.Span);
                if (mode.Mode == NodeMode.Fallback && mode.Reason is { } reason && reason.StartsWith("stale scan", StringComparison.Ordinal) && !reason.Contains("no scan yet"))
                    (stopLogged, stopTime) = (true, m.LogTime);
            }
            else if (stopLogged && m.Channel.Topic == "/cmd_vel" && m.LogTime >= stopTime)
            {
                TwistMsg twist = Cdr.Read<TwistMsg>(m.Data.Span);
                zeroAfter |= twist.Linear.X == 0 && twist.Angular.Z == 0;
            }
        }
        Check.That(stopLogged, "the log has no /mode FALLBACK for the stale scan");
        Check.That(zeroAfter, "the log has no zero /cmd_vel after the stop");
        return result with
        {
            LostLogMessages = recorder.Dropped,
            Detail = result.Detail + $"; the log ({report.MessageCount} messages) records the stop and the zero /cmd_vel",
        };
    }

    private FaultResult DriveThenLoseTheScan(NodeConfig config, InferenceNode node, DiffDriveController controller, Ros2GroundRobotLink link, DiffBotRos2SimPeer robot)
    {
        var wait = TimeSpan.FromSeconds(30);
        Check.That(robot.WaitForNode(wait) && link.CmdVelPublisher!.WaitForMatch(wait), "the node's and the simulated robot's topics did not match within 30 s");
        robot.PublishGoal();
        Check.That(Check.WaitFor(() => link.TryGetGoal(out _), wait), "the goal (/goal_pose) did not reach the node");
        robot.Start();
        node.Start();
        try
        {
            Check.That(Check.WaitFor(() => node.Mode == NodeMode.Policy && robot.Env.LinearVelocity(0) > 0.05f, TimeSpan.FromSeconds(20)),
                $"the node is not driving the robot (mode {node.Mode}, robot v {robot.Env.LinearVelocity(0):0.###} m/s, outcome {robot.Outcome}; events: {string.Join("; ", node.Events.Select(e => e.Describe()))})");
            Check.That(robot.Outcome == NavOutcome.None, $"the drive ended before the fault ({robot.Outcome})");
            float speedBefore = robot.Env.LinearVelocity(0);
            ulong cutTick = node.TickCount;
            long scansBefore = robot.ScansPublished;

            robot.StopScanPublisher();

            Check.That(Check.WaitFor(() => node.Mode == NodeMode.Fallback, TimeSpan.FromSeconds(5)),
                $"the node kept driving 5 s after /scan went away (mode {node.Mode})");
            // The newest scan that reached the node (stamped on arrival with the node clock) is where the timeout counts from.
            var ranges = new float[controller.Settings.Robot.Lidar.Beams];
            Check.That(link.TryGetScan(ranges, out ScanSample last), "no scan ever reached the node");
            NodeEvent stop = node.Events.FirstOrDefault(e => e.Tick > cutTick && e.Kind == NodeEventKind.ModeChange && e.Mode == NodeMode.Fallback);
            Check.That(stop.Tick > cutTick, "no FALLBACK event after /scan went away");
            Check.That(stop.Violation.Trigger == SafetyTrigger.StaleScan, $"stopped for another reason: {stop.Describe()}");
            double stopMs = (stop.TimestampNs - last.TimestampNs) / 1e6;
            double timeoutMs = controller.Settings.Limits.ScanTimeoutS * 1000, periodMs = 1000 / config.RateHz;
            // The node looks at the scan's age once a tick: the documented bound is the timeout plus one period; real time
            // on a shared machine may make that tick a period late (the same allowance as the quadrotor's real-time legs).
            double boundMs = timeoutMs + periodMs;
            Check.That(stopMs > timeoutMs, $"FALLBACK {stopMs:0.#} ms after the last scan, before the {timeoutMs:0} ms timeout: not the stale-scan rule");
            Check.That(stopMs <= boundMs + periodMs + 50, $"FALLBACK {stopMs:0.#} ms after the last scan (bound {boundMs:0} ms)");

            Check.That(Check.WaitFor(() => robot.StopCommandSinceNs != 0, TimeSpan.FromSeconds(5)), $"no zero /cmd_vel reached the robot (last {robot.LastCommand})");
            double zeroCmdMs = (robot.StopCommandSinceNs - last.TimestampNs) / 1e6;
            Check.That(zeroCmdMs >= stopMs, $"a zero /cmd_vel arrived {zeroCmdMs:0.#} ms after the last scan, before the FALLBACK ({stopMs:0.#} ms)");
            Check.That(zeroCmdMs <= boundMs + periodMs + 50 + 200, $"the zero /cmd_vel reached the robot {zeroCmdMs:0.#} ms after the last scan (bound {boundMs:0} ms + delivery)");

            // The simulated robot brakes to rest and stays there (no collision on the way).
            Check.That(Check.WaitFor(() => MathF.Abs(robot.Env.LinearVelocity(0)) < 1e-3f && MathF.Abs(robot.Env.AngularVelocity(0)) < 1e-3f, TimeSpan.FromSeconds(5)),
                $"the simulated robot did not come to rest (v {robot.Env.LinearVelocity(0):0.###} m/s, ω {robot.Env.AngularVelocity(0):0.###} rad/s)");
            long restSteps = robot.Steps;
            float restX = robot.Env.X(0), restY = robot.Env.Y(0);
            Check.That(Check.WaitFor(() => robot.Steps >= restSteps + 5 || robot.Outcome != NavOutcome.None, TimeSpan.FromSeconds(10)), "the simulated robot stopped stepping");
            float drift = MathF.Sqrt((robot.Env.X(0) - restX) * (robot.Env.X(0) - restX) + (robot.Env.Y(0) - restY) * (robot.Env.Y(0) - restY));
            Check.That(robot.Outcome == NavOutcome.None, $"the drive ended in {robot.Outcome} after the scan loss");
            Check.That(drift < 1e-3f, $"the robot crept {drift * 1000:0.#} mm over 5 steps at rest");
            Check.That(robot.LastCommand == (0f, 0f), $"the robot's newest command is {robot.LastCommand}, not a stop");
            Check.That(node.Mode == NodeMode.Fallback && robot.ScansPublished == scansBefore, $"the node left the stop (mode {node.Mode}) or scans came back");

            return new FaultResult(Name, true, stopMs, null,
                $"diffbot driving at {speedBefore:0.###} m/s (DWA, ROS 2 loopback, 10 Hz), /scan publisher deleted: \"{stop.Describe()}\" {stopMs:0.#} ms after the last scan " +
                $"(timeout {timeoutMs:0} ms, bound {boundMs:0} ms, real time), zero /cmd_vel at the robot after {zeroCmdMs:0.#} ms, robot at rest, no collision");
        }
        finally
        {
            node.Stop();
            robot.Stop();
        }
    }

    /// <summary>
    /// The first held-out map on which DWA, run in process, drives for at least 4 s without a collision before reaching
    /// its goal: the fault then lands mid-drive with room ahead.
    /// </summary>
    private static ulong MapDwaDrivesLong(NavTaskConfig task)
    {
        var dwa = new DwaPlanner(task);
        var action = new float[NavObservation.ActionSize];
        int goalAt = NavObservation.GoalOffset(task.ScanBins);
        int minSteps = (int)(4 * task.ControlFrequencyHz);
        for (ulong k = 0; k < 50; k++)
        {
            ulong seed = NavMaps.HeldOutSeedBase + k;
            using var env = new NavEnv(task, 1, threadCount: 1);
            env.Reset(seed ^ 0x5EEDUL); // as DiffBotRos2SimPeer starts it
            env.ResetScenario(0, seed);
            int steps = 0;
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
                steps++;
                if (env.Terminated[0] || env.Truncated[0]) break;
            }
            if (env.FinishedEpisodeOutcomes[0] == NavOutcome.Goal && steps >= minSteps) return seed;
        }
        throw new FaultCheckException("DWA drove none of 50 held-out maps for 4 s to its goal");
    }
}
