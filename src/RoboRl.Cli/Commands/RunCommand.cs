using System.CommandLine;
using RoboRl.Node;

namespace RoboRl.Cli.Commands;

/// <summary>
/// `roborl run NODE_CONFIG --policy BUNDLE [--duration S] [--record FILE] [--sim-robot ROBOT.json] [--uri URI] [--json]`:
/// fly a policy with the real-time node. Exit 0 after the flight; 2 on bad input (before anything arms); 3 when the
/// robot's state never arrived (the last line says what was waited for) or the recording failed.
/// </summary>
public static class RunCommand
{
    public static Command Create()
    {
        var config = new Argument<string>("node-config") { Description = "Node config (configs/nodes/*.json)." };
        var policy = new Option<string?>("--policy") { Description = "Policy bundle (.safetensors) trained for the node's robot (not needed by a ground node with planner \"dwa\")." };
        var duration = new Option<double>("--duration") { Description = "Seconds to fly (Ctrl+C stops earlier).", DefaultValueFactory = _ => 10 };
        var record = new Option<string?>("--record") { Description = "Record the flight to this MCAP file (overrides the config's recording section)." };
        var simRobot = new Option<string?>("--sim-robot") { Description = "Fly a simulated plant with these parameters (robot config) instead of the policy's robot." };
        var uri = new Option<string?>("--uri") { Description = "Crazyflie link, as cflib's URI (radio://0/80/2M/E7E7E7E7E7, serial:///dev/ttyUSB0): overrides the config's crazyflie.link." };
        var keyboard = new Option<bool>("--keyboard") { Description = "Teleop from this terminal: arrows/W/S move the setpoint, A arm, L land, K kill." };
        var simPeer = new Option<bool>("--sim-peer") { Description = "Ground robots: the simulated diffbot joins over ROS 2 (publishes /scan, /odom, /goal_pose; drives on /cmd_vel)." };
        var scenario = new Option<int>("--scenario") { Description = "Ground robots with --sim-peer: which held-out map (0, 1, …).", DefaultValueFactory = _ => 0 };
        var simTask = new Option<string>("--sim-task") { Description = "Ground robots with --sim-peer: the navigation task whose maps the peer simulates.", DefaultValueFactory = _ => "configs/tasks/diffbot-nav.json" };
        var json = new Option<bool>("--json") { Description = "Print the flight's figures as one JSON object (progress and events go to stderr)." };
        var command = new Command("run", "Run a policy with the real-time node: a quadrotor (default transport: the simulated Crazyflie in process) or a ground robot (\"node\": \"diff_drive\" configs; ROS 2 or serial wheels).")
        {
            config, policy, duration, record, simRobot, uri, keyboard, simPeer, scenario, simTask, json,
        };
        command.SetAction(parse =>
        {
            TextWriter output = parse.InvocationConfiguration.Output, error = parse.InvocationConfiguration.Error;
            var io = new CommandIo("run", output, error, parse.GetValue(json));
            return io.Run(() =>
            {
                string path = PathArguments.InputFile(RepoPaths.Find(parse.GetValue(config)!), "NODE_CONFIG", "a node config (configs/nodes/*.json)");
                if (DiffDriveNodeConfig.IsDiffDriveNode(path))
                    return DiffDriveRun.Run(path, parse.GetValue(policy), parse.GetValue(duration), parse.GetValue(simPeer), parse.GetValue(scenario),
                        parse.GetValue(simTask)!, output, error, io.Json);
                if (parse.GetValue(policy) is not { } bundle) throw CliException.BadInput("--policy BUNDLE is required");
                return Run(path, bundle, parse.GetValue(duration), parse.GetValue(record), parse.GetValue(simRobot), output, error,
                    parse.GetValue(keyboard), parse.GetValue(uri), io.Json);
            });
        });
        return command;
    }

    public static int Run(string configPath, string policyPath, double seconds, string? record, string? simRobot, TextWriter output, TextWriter progress,
        bool keyboard = false, string? uri = null, bool json = false)
    {
        var io = new CommandIo("run", output, progress, json);
        return io.Run(() =>
        {
            if (!(seconds > 0)) throw CliException.BadInput($"--duration {seconds}: must be a positive number of seconds");
            using NodeSession session = NodeSession.Open(configPath, policyPath, record, simRobot, uri);
            using var keys = new KeyboardTeleop();
            if (keyboard)
            {
                if (keys.Start())
                {
                    session.Node.AddTeleop(keys);
                    session.Node.AddCommands(keys);
                    progress.WriteLine("keyboard: arrows/W/S move the setpoint, A arm, L land, K kill");
                }
                else io.Note("--keyboard needs an interactive terminal; flying without it");
            }
            using var cancel = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
            Console.CancelKeyPress += onCancel;
            var start = DateTime.UtcNow;
            try { session.Fly(seconds, progress, cancel: cancel.Token); }
            finally { Console.CancelKeyPress -= onCancel; }
            double flown = (DateTime.UtcNow - start).TotalSeconds;
            session.Summarise("run", flown, io.Text);
            var (code, problem) = session.Outcome(flown);
            return io.Finish(session.SummaryJson(flown), code, problem);
        });
    }
}
