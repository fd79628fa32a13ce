using System.Globalization;
using System.Text.Json.Nodes;
using RoboRl.Core.Configs;
using RoboRl.Core.Policy;
using RoboRl.Core.Robots;
using RoboRl.Core.Tasks;
using RoboRl.Faults;
using RoboRl.Node;
using RoboRl.Ros2;
using RoboRl.Serial;
using RoboRl.Sims.DiffDrive;

namespace RoboRl.Cli.Commands;

/// <summary>
/// `roborl run` for a ground-robot node config ("node": "diff_drive"): the <see cref="DiffDriveNode"/> with the policy
/// bundle as its planner, sensors over ROS 2, commands on /cmd_vel or to a serial wheel controller. With
/// <c>--sim-peer</c> the simulated diffbot joins as a ROS 2 peer (<see cref="DiffBotRos2SimPeer"/>, one held-out map),
/// so the whole path runs on one machine without a robot.
/// </summary>
public static class DiffDriveRun
{
    /// <summary>Cyclone DDS XML for the node's and the sim peer's participants (tests: loopback); null: CYCLONEDDS_URI.</summary>
    public static string? CycloneConfigXml { get; set; }

    public sealed class Setup(DiffDriveNodeConfig config, DiffDriveNode node, Ros2GroundRobotLink link, SerialLink? serial, SerialWheelSink? wheels) : IDisposable
    {
        public DiffDriveNodeConfig Config => config;
        public DiffDriveNode Node => node;
        public Ros2GroundRobotLink Link => link;
        public SerialWheelSink? Wheels => wheels;

        public void Dispose()
        {
            node.Dispose();
            wheels?.Dispose();
            serial?.Dispose();
            link.Dispose();
        }
    }

    /// <summary>
    /// Loads the config and the planner — the bundle (checked against the robot, the observation and the rate), or with
    /// planner "dwa" the classical planner of the config's task — and opens the transports.
    /// </summary>
    public static Setup Open(string configPath, string? policyPath)
    {
        DiffDriveNodeConfig config;
        Ros2GroundRobotOptions options;
        ILocalPlanner planner;
        int observationSize;
        try
        {
            config = DiffDriveNodeConfig.Load(configPath);
            options = Ros2GroundRobotOptions.Read(config.Ros2, commandsOnRos2: config.Transport == GroundTransportKind.Ros2) with { CycloneConfigXml = CycloneConfigXml };
            if (config.Planner == "dwa")
            {
                NavTaskConfig task = NavTaskConfig.Load(config.TaskPath!);
                if (PolicyBundle.RobotConfigHash(task.RobotConfigJson) != PolicyBundle.RobotConfigHash(config.RobotConfigJson))
                    throw new NodeSession.SetupException($"{config.File}: the task {config.TaskPath} is for another robot than {config.RobotPath}");
                if (task.ControlFrequencyHz != config.RateHz)
                    throw new NodeSession.SetupException($"{config.File}: rate_hz {config.RateHz} differs from the task's control_frequency_hz {task.ControlFrequencyHz} (DWA's window assumes it)");
                planner = new DwaLocalPlanner(new DwaPlanner(task));
                observationSize = task.ActorObservationSize;
            }
            else
            {
                if (policyPath is null) throw new NodeSession.SetupException($"{config.File}: planner \"policy\" needs --policy BUNDLE");
                PathArguments.InputFile(policyPath, "--policy", "a policy bundle (.safetensors) trained for the ground robot");
                PolicyBundle bundle = PolicyBundle.Read(policyPath);
                try { DiffDriveNode.CheckBundle(config, bundle); }
                catch (PolicyMismatchException e) { throw new NodeSession.SetupException($"refused before driving: {e.Message}"); }
                planner = new PolicyLocalPlanner(bundle);
                observationSize = bundle.ObservationSize;
            }
        }
        catch (Exception e) when (e is ConfigException or PolicyBundleException) { throw new NodeSession.SetupException(e.Message); }

        var link = new Ros2GroundRobotLink(options);
        SerialLink? serial = null;
        SerialWheelSink? wheels = null;
        try
        {
            if (config.Transport == GroundTransportKind.Serial)
            {
                SerialWheelConfig s = config.Serial!;
                // A pty (a socat pair, an emulated MCU) through its file handle; a real UART through System.IO.Ports.
                string resolved = new FileInfo(s.Port).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? s.Port;
                serial = resolved.StartsWith("/dev/pts/", StringComparison.Ordinal) ? SerialLink.OpenPty(s.Port, null) : SerialLink.OpenSerialPort(s.Port, s.BaudRate, null);
                wheels = new SerialWheelSink(serial);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            serial?.Dispose();
            link.Dispose();
            throw new NodeSession.SetupException($"{config.File}: cannot open serial port {config.Serial!.Port}: {e.Message}", ExitCodes.Fault);
        }
        IVelocityCommandSink sink = wheels is not null ? wheels : link;
        var node = new DiffDriveNode(config, planner, observationSize, link, sink);
        return new Setup(config, node, link, serial, wheels);
    }

    public static int Run(string configPath, string? policyPath, double seconds, bool simPeer, int scenario, string simTask, TextWriter output, TextWriter progress,
        bool json = false)
    {
        var io = new CommandIo("run", output, progress, json);
        return io.Run(() => Drive(configPath, policyPath, seconds, simPeer, scenario, simTask, io));
    }

    private static int Drive(string configPath, string? policyPath, double seconds, bool simPeer, int scenario, string simTask, CommandIo io)
    {
        TextWriter progress = io.Error;
        if (!(seconds > 0)) throw CliException.BadInput($"--duration {seconds}: must be a positive number of seconds");
        if (scenario < 0) throw CliException.BadInput($"--scenario {scenario}: must be 0 or more");
        NavTaskConfig? peerTask = simPeer ? NavTaskConfig.Load(PathArguments.InputFile(RepoPaths.Find(simTask), "--sim-task", "a navigation task (configs/tasks/diffbot-nav.json)")) : null;
        using Setup setup = Open(configPath, policyPath);
        {
            DiffBotRos2SimPeer? peer = null;
            try
            {
                if (peerTask is { } task)
                {
                    Ros2GroundRobotOptions o = setup.Link.Options;
                    peer = new DiffBotRos2SimPeer(task, NavMaps.HeldOutSeedBase + (ulong)scenario,
                        new Ros2Options { DomainId = o.DomainId, Distro = o.Distro, CycloneConfigXml = CycloneConfigXml }, o.ScanTopic, o.OdomTopic, o.GoalTopic, o.CmdVelTopic ?? "/cmd_vel");
                    if (!peer.WaitForNode(TimeSpan.FromSeconds(20))) throw CliException.Fault("the simulated robot's topics found no node within 20 s");
                    peer.PublishGoal();
                    progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"sim peer: held-out map {scenario}, start ({peer.Env.X(0):F2}, {peer.Env.Y(0):F2}), goal ({peer.GoalPosition.X:F2}, {peer.GoalPosition.Y:F2})"));
                    peer.Start();
                }
                using var cancel = new CancellationTokenSource();
                ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
                Console.CancelKeyPress += onCancel;
                var start = DateTime.UtcNow;
                var nextLine = start;
                bool waitShown = false;
                int eventsShown = 0;
                // A progress line each second on a terminal, every 5 s to a file, a pipe or a CI log.
                double lineEveryS = ProgressLine.IsTerminal(progress) ? 1 : 5;
                setup.Node.Start();
                try
                {
                    while (!cancel.IsCancellationRequested)
                    {
                        double t = (DateTime.UtcNow - start).TotalSeconds;
                        if (t >= seconds || peer is { Outcome: not NavOutcome.None }) break;
                        // The node's events (safety stops, goals), printed as they happen.
                        IReadOnlyList<GroundNodeEvent> happened = setup.Node.Events;
                        for (; eventsShown < happened.Count; eventsShown++)
                            progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  event at tick {happened[eventsShown].Tick}: {happened[eventsShown].Describe()}"));
                        if (!waitShown && !setup.Link.HasSensors && t >= NodeSession.StateWaitNotice.TotalSeconds)
                        {
                            progress.WriteLine($"  waiting for the robot's sensors: {setup.Link.DescribeSensor()}");
                            waitShown = true;
                        }
                        if (DateTime.UtcNow >= nextLine)
                        {
                            progress.WriteLine(Line(setup.Node, t, seconds));
                            nextLine += TimeSpan.FromSeconds(lineEveryS);
                        }
                        Thread.Sleep(20);
                    }
                }
                finally
                {
                    Console.CancelKeyPress -= onCancel;
                    setup.Node.Stop();
                }
                double elapsed = (DateTime.UtcNow - start).TotalSeconds;
                TextWriter output = io.Text;
                var events = new JsonArray();
                foreach (GroundNodeEvent e in setup.Node.Events)
                {
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  event at tick {e.Tick}: {e.Describe()}"));
                    events.Add(new JsonObject { ["tick"] = e.Tick, ["mode"] = e.Mode.ToString().ToUpperInvariant(), ["text"] = e.Describe() });
                }
                string peerText = peer is null ? "" : string.Create(CultureInfo.InvariantCulture,
                    $"; sim robot: {(peer.Outcome == NavOutcome.None ? "still driving" : peer.Outcome.ToString().ToLowerInvariant())} after {peer.Seconds:F1} s, path {peer.PathLength:F2} m");
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"run: {elapsed:F1} s, {setup.Node.TickCount} ticks; final mode {setup.Node.Mode.ToString().ToUpperInvariant()}; goals reached {setup.Node.GoalsReached}; {setup.Node.SafetyTicks} ticks stopped or limited by safety{peerText}"));
                var result = new JsonObject
                {
                    ["duration_s"] = Math.Round(elapsed, 3), ["ticks"] = setup.Node.TickCount, ["final_mode"] = setup.Node.Mode.ToString().ToUpperInvariant(),
                    ["sensors_received"] = setup.Link.HasSensors, ["goals_reached"] = setup.Node.GoalsReached, ["safety_ticks"] = setup.Node.SafetyTicks,
                    ["events"] = events,
                    ["sim_robot"] = peer is null ? null : new JsonObject
                    {
                        ["outcome"] = peer.Outcome == NavOutcome.None ? "driving" : peer.Outcome.ToString().ToLowerInvariant(),
                        ["duration_s"] = Math.Round(peer.Seconds, 3), ["path_length_m"] = Math.Round(peer.PathLength, 3),
                    },
                };
                // The robot's sensors never arrived: a runtime fault that says what was waited for. A simulated robot that
                // collided (or got an invalid command) fails the run's check.
                if (!setup.Link.HasSensors)
                    return io.Finish(result, ExitCodes.Fault, string.Create(CultureInfo.InvariantCulture, $"no odometry and scan arrived in {elapsed:F1} s; the node waited for {setup.Link.DescribeSensor()}"));
                if (peer is { Outcome: NavOutcome.Collision or NavOutcome.InvalidAction })
                    return io.Finish(result, ExitCodes.Failed, $"the simulated robot ended in {peer.Outcome.ToString().ToLowerInvariant()}");
                return io.Finish(result, ExitCodes.Ok, null);
            }
            finally { peer?.Dispose(); }
        }
    }

    static string Line(DiffDriveNode node, double t, double seconds)
    {
        OdometrySample o = node.LastOdometry;
        VelocityCommand c = node.LastCommand;
        string goal = node.Goal is { } g ? string.Create(CultureInfo.InvariantCulture, $"goal ({g.X:F2}, {g.Y:F2}) {MathF.Sqrt((g.X - o.X) * (g.X - o.X) + (g.Y - o.Y) * (g.Y - o.Y)):F2} m away") : "no goal";
        return string.Create(CultureInfo.InvariantCulture,
            $"[{t,5:F1}/{seconds:F0} s] {node.Mode.ToString().ToUpperInvariant(),-8} pose ({o.X,5:F2}, {o.Y,5:F2}, {o.Yaw,5:F2} rad)  cmd v {c.LinearVelocity,5:F2} m/s ω {c.AngularVelocity,5:F2} rad/s  {goal}");
    }
}
