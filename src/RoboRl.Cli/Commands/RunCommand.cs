using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using RoboRl.Core.Robots;
using RoboRl.Core.Tasks;
using RoboRl.Crazyflie;
using RoboRl.Node;
using RoboRl.Ros2;
using RoboRl.Sims.DiffDrive;

namespace RoboRl.Cli.Commands;

/// <summary>
/// `roborl run NODE_CONFIG [--policy BUNDLE] [--duration S] [--record FILE] [--sim-robot ROBOT.json] [--uri URI]
/// [--keyboard] [--sim-peer [--scenario K] [--sim-task TASK]] [--foxglove [ADDR:]PORT [--foxglove-token T]] [--json]`: run a policy (or a ground robot's DWA planner)
/// with the real-time node, for any robot kind the config's robot names. Exit 0 after the run; 2 on bad input (before
/// anything arms); 3 when the robot's state never arrived (the last line says what was waited for), the recording failed,
/// or the supervisor or the kill switch ended a flight; 1 when the simulated ground robot of --sim-peer collided.
/// </summary>
public static class RunCommand
{
    /// <summary>What one `roborl run` is asked to do.</summary>
    public sealed record Request
    {
        public required string ConfigPath { get; init; }
        public string? PolicyPath { get; init; }
        public double Seconds { get; init; } = 10;
        public string? Record { get; init; }
        public string? SimRobot { get; init; }
        public string? Uri { get; init; }
        public bool Keyboard { get; init; }
        public bool SimPeer { get; init; }
        public int Scenario { get; init; }
        public string SimTask { get; init; } = "configs/tasks/diffbot-nav.json";
        public bool Json { get; init; }
        /// <summary>`--foxglove [ADDR:]PORT` and `--foxglove-token`: a live view in Foxglove (docs/foxglove.md).</summary>
        public string? Foxglove { get; init; }
        public string? FoxgloveToken { get; init; }
        /// <summary>The plugins' settings (tests: a loopback DDS configuration); null: defaults, notices to stderr.</summary>
        public PluginSettings? Settings { get; init; }
    }

    public static Command Create()
    {
        var config = new Argument<string>("node-config") { Description = "Node config (configs/nodes/*.json); its robot's \"kind\" selects the controller." };
        var policy = new Option<string?>("--policy") { Description = "Policy bundle (.safetensors) trained for the node's robot (not needed by a ground node with planner \"dwa\")." };
        var duration = new Option<double>("--duration") { Description = "Seconds to run (simulated seconds with a lock-step simulated robot; Ctrl+C stops earlier).", DefaultValueFactory = _ => 10 };
        var record = new Option<string?>("--record") { Description = "Record the run to this MCAP file (overrides the config's recording section)." };
        var simRobot = new Option<string?>("--sim-robot") { Description = "Transport \"sim\": simulate a plant with these parameters (robot config) instead of the policy's robot." };
        var uri = new Option<string?>("--uri") { Description = "Crazyflie link, as cflib's URI (radio://0/80/2M/E7E7E7E7E7, serial:///dev/ttyUSB0): overrides the config's crazyflie.link." };
        var keyboard = new Option<bool>("--keyboard") { Description = "Teleop from this terminal: arrows/W/S move the setpoint, A arm, L land, K kill." };
        var simPeer = new Option<bool>("--sim-peer") { Description = "Ground robots on ROS 2: the simulated diffbot joins as a ROS 2 peer (publishes /scan, /odom, /goal_pose; drives on /cmd_vel)." };
        var scenario = new Option<int>("--scenario") { Description = "With --sim-peer: which held-out map (0, 1, …).", DefaultValueFactory = _ => 0 };
        var simTask = new Option<string>("--sim-task") { Description = "With --sim-peer: the navigation task whose maps the peer simulates.", DefaultValueFactory = _ => "configs/tasks/diffbot-nav.json" };
        var json = new Option<bool>("--json") { Description = "Print the run's figures as one JSON object (progress and events go to stderr)." };
        var foxglove = FoxgloveOption();
        var foxgloveToken = FoxgloveTokenOption();
        var command = new Command("run", "Run a policy with the real-time node, for any robot kind: a quadrotor (default transport: the simulated Crazyflie in process) or a ground robot (ROS 2, serial wheels, or simulated).")
        {
            config, policy, duration, record, simRobot, uri, keyboard, simPeer, scenario, simTask, foxglove, foxgloveToken, json,
        };
        command.SetAction(parse => Run(new Request
        {
            ConfigPath = parse.GetValue(config)!,
            PolicyPath = parse.GetValue(policy),
            Seconds = parse.GetValue(duration),
            Record = parse.GetValue(record),
            SimRobot = parse.GetValue(simRobot),
            Uri = parse.GetValue(uri),
            Keyboard = parse.GetValue(keyboard),
            SimPeer = parse.GetValue(simPeer),
            Scenario = parse.GetValue(scenario),
            SimTask = parse.GetValue(simTask)!,
            Json = parse.GetValue(json),
            Foxglove = parse.GetValue(foxglove),
            FoxgloveToken = parse.GetValue(foxgloveToken),
        }, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return command;
    }

    /// <summary>`--foxglove [ADDR:]PORT`, shared with `replay` (and by name with roborl-node).</summary>
    public static Option<string?> FoxgloveOption() => new("--foxglove")
    {
        Description = "Serve a live view to Foxglove (foxglove.websocket.v1) on [ADDR:]PORT: 127.0.0.1 unless ADDR is given; another address needs --foxglove-token.",
    };

    public static Option<string?> FoxgloveTokenOption() => new("--foxglove-token")
    {
        Description = "With --foxglove: the secret a viewer must send (ws://HOST:PORT/?token=TOKEN); required to listen beyond loopback.",
    };

    /// <summary>`roborl run` with these flags (what the command line does; tests pass their writers and plugin settings).</summary>
    public static int Run(string configPath, string? policyPath, double seconds, string? record, string? simRobot, TextWriter output, TextWriter progress,
        bool keyboard = false, string? uri = null, bool json = false, PluginSettings? settings = null) =>
        Run(new Request
        {
            ConfigPath = configPath,
            PolicyPath = policyPath,
            Seconds = seconds,
            Record = record,
            SimRobot = simRobot,
            Keyboard = keyboard,
            Uri = uri,
            Json = json,
            Settings = settings,
        }, output, progress);

    public static int Run(Request r, TextWriter output, TextWriter progress)
    {
        var io = new CommandIo("run", output, progress, r.Json);
        return io.Run(() => Fly(r, io));
    }

    private static int Fly(Request r, CommandIo io)
    {
        TextWriter progress = io.Error;
        if (!(r.Seconds > 0)) throw CliException.BadInput($"--duration {r.Seconds}: must be a positive number of seconds");
        if (r.Scenario < 0) throw CliException.BadInput($"--scenario {r.Scenario}: must be 0 or more");
        if (r.SimRobot is not null) PathArguments.InputFile(r.SimRobot, "--sim-robot", "a robot config (configs/robots/*.json)");
        if (r.Uri is not null && CrazyflieTransportOptions.UriProblem(r.Uri) is { } uriProblem) throw CliException.BadInput($"--uri: {uriProblem}");
        NavTaskConfig? peerTask = r.SimPeer ? NavTaskConfig.Load(PathArguments.InputFile(RepoPaths.Find(r.SimTask), "--sim-task", "a navigation task (configs/tasks/diffbot-nav.json)")) : null;

        PluginSettings settings = r.Settings ?? new PluginSettings { Log = line => Console.Error.WriteLine(line) };
        if (r.Uri is not null) settings.Set(new CrazyflieLinkSettings { Uri = r.Uri });
        if (r.SimRobot is not null) settings.Set(new SimTransportSettings { PlantPath = r.SimRobot });
        using NodeSession session = NodeSession.Open(r.ConfigPath, r.PolicyPath, r.Record, new NodeSessionOptions
        {
            Settings = settings,
            Foxglove = r.Foxglove,
            FoxgloveToken = r.FoxgloveToken,
            CheckConfig = c =>
            {
                if (r.Uri is not null && c.Transport != CrazyflieTransportPlugin.Name)
                    throw CliException.BadInput($"--uri sets the Crazyflie link, but {c.File} has transport \"{c.Transport}\"; use a config with transport \"crazyflie\" (configs/nodes/crazyflie-radio.json)");
                if (r.SimRobot is not null && c.Transport != SimTransport.Name) throw CliException.BadInput("--sim-robot needs transport \"sim\"");
                if (r.SimPeer && (c.Robot is not RoboRl.Core.DiffDrive.DiffDriveConfig || c.Sensors != Ros2TransportPlugin.Name))
                    throw CliException.BadInput($"--sim-peer: the simulated diffbot joins a ground robot's node over ROS 2; {c.File} has robot kind \"{c.Kind}\" with sensors on \"{c.Sensors}\"");
            },
        });
        using var keys = new KeyboardTeleop();
        if (r.Keyboard)
        {
            if (keys.Start())
            {
                session.Node.AddTeleop(keys);
                session.Node.AddCommands(keys);
                progress.WriteLine("keyboard: arrows/W/S move the setpoint, A arm, L land, K kill");
            }
            else io.Note("--keyboard needs an interactive terminal; running without it");
        }

        using DiffBotRos2SimPeer? peer = peerTask is null ? null : StartPeer(session, peerTask, r, settings, progress);
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
        Console.CancelKeyPress += onCancel;
        var start = DateTime.UtcNow;
        try { session.Fly(r.Seconds, progress, cancel: cancel.Token, done: peer is null ? null : () => peer.Outcome != NavOutcome.None); }
        finally { Console.CancelKeyPress -= onCancel; }
        double flown = session.LockStep is null ? (DateTime.UtcNow - start).TotalSeconds : session.Node.TickCount / session.Config.RateHz;

        string peerText = peer is null ? "" : string.Create(CultureInfo.InvariantCulture,
            $"; sim robot: {(peer.Outcome == NavOutcome.None ? "still driving" : peer.Outcome.ToString().ToLowerInvariant())} after {peer.Seconds:F1} s, path {peer.PathLength:F2} m");
        session.Summarise("run", flown, io.Text, peerText);
        JsonObject result = session.SummaryJson(flown);
        if (peer is not null)
            result["sim_robot"] = new JsonObject
            {
                ["outcome"] = peer.Outcome == NavOutcome.None ? "driving" : peer.Outcome.ToString().ToLowerInvariant(),
                ["duration_s"] = Math.Round(peer.Seconds, 3),
                ["path_length_m"] = Math.Round(peer.PathLength, 3),
            };
        var (code, problem) = session.Outcome(flown);
        // A simulated robot that collided (or got an invalid command) fails the run's check.
        if (code == ExitCodes.Ok && peer is { Outcome: NavOutcome.Collision or NavOutcome.InvalidAction })
            (code, problem) = (ExitCodes.Failed, $"the simulated robot ended in {peer.Outcome.ToString().ToLowerInvariant()}");
        return io.Finish(result, code, problem);
    }

    /// <summary>The simulated diffbot as a ROS 2 peer on the node's domain and topics (one held-out map), started once the node's topics match.</summary>
    private static DiffBotRos2SimPeer StartPeer(NodeSession session, NavTaskConfig task, Request r, PluginSettings settings, TextWriter progress)
    {
        Ros2GroundRobotOptions o = Ros2GroundRobotOptions.Read(session.Config.Section(Ros2TransportPlugin.Name)!, commandsOnRos2: session.Config.Transport == Ros2TransportPlugin.Name);
        var peer = new DiffBotRos2SimPeer(task, NavMaps.HeldOutSeedBase + (ulong)r.Scenario,
            new Ros2Options { DomainId = o.DomainId, Distro = o.Distro, CycloneConfigXml = settings.Get<Ros2LinkSettings>().CycloneConfigXml },
            o.ScanTopic, o.OdomTopic, o.GoalTopic, o.CmdVelTopic ?? "/cmd_vel");
        if (!peer.WaitForNode(TimeSpan.FromSeconds(20)))
        {
            peer.Dispose();
            throw CliException.Fault("the simulated robot's topics found no node within 20 s");
        }
        peer.PublishGoal();
        progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"sim peer: held-out map {r.Scenario}, start ({peer.Env.X(0):F2}, {peer.Env.Y(0):F2}), goal ({peer.GoalPosition.X:F2}, {peer.GoalPosition.Y:F2})"));
        peer.Start();
        return peer;
    }
}
