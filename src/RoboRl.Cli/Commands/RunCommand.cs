using System.CommandLine;
using RoboRl.Core.Configs;
using RoboRl.Core.Robots;
using RoboRl.Node;

namespace RoboRl.Cli.Commands;

/// <summary>`roborl run NODE_CONFIG --policy BUNDLE [--duration S] [--record FILE] [--sim-robot ROBOT.json]`: fly a policy with the real-time node.</summary>
public static class RunCommand
{
    public static Command Create()
    {
        var config = new Argument<string>("node-config") { Description = "Node config (configs/nodes/*.json)." };
        var policy = new Option<string?>("--policy") { Description = "Policy bundle (.safetensors) trained for the node's robot (not needed by a ground node with planner \"dwa\")." };
        var duration = new Option<double>("--duration") { Description = "Seconds to fly (Ctrl+C stops earlier).", DefaultValueFactory = _ => 10 };
        var record = new Option<string?>("--record") { Description = "Record the flight to this MCAP file (overrides the config's recording section)." };
        var simRobot = new Option<string?>("--sim-robot") { Description = "Fly a simulated plant with these parameters (robot config) instead of the policy's robot." };
        var keyboard = new Option<bool>("--keyboard") { Description = "Teleop from this terminal: arrows/W/S move the setpoint, A arm, L land, K kill." };
        var simPeer = new Option<bool>("--sim-peer") { Description = "Ground robots: the simulated diffbot joins over ROS 2 (publishes /scan, /odom, /goal_pose; drives on /cmd_vel)." };
        var scenario = new Option<int>("--scenario") { Description = "Ground robots with --sim-peer: which held-out map (0, 1, …).", DefaultValueFactory = _ => 0 };
        var simTask = new Option<string>("--sim-task") { Description = "Ground robots with --sim-peer: the navigation task whose maps the peer simulates.", DefaultValueFactory = _ => "configs/tasks/diffbot-nav.json" };
        var command = new Command("run", "Run a policy with the real-time node: a quadrotor (default transport: the simulated Crazyflie in process) or a ground robot (\"node\": \"diff_drive\" configs; ROS 2 or serial wheels).")
        {
            config, policy, duration, record, simRobot, keyboard, simPeer, scenario, simTask,
        };
        command.SetAction(parse =>
        {
            string path = RepoPaths.Find(parse.GetValue(config)!);
            bool ground;
            try { ground = File.Exists(path) && DiffDriveNodeConfig.IsDiffDriveNode(path); }
            catch (ConfigException e) { parse.InvocationConfiguration.Error.WriteLine($"run: {e.Message}"); return 2; }
            if (ground)
                return DiffDriveRun.Run(path, parse.GetValue(policy), parse.GetValue(duration), parse.GetValue(simPeer), parse.GetValue(scenario),
                    parse.GetValue(simTask)!, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error);
            if (parse.GetValue(policy) is not { } bundle)
            {
                parse.InvocationConfiguration.Error.WriteLine("run: --policy BUNDLE is required");
                return 2;
            }
            return Run(parse.GetValue(config)!, bundle, parse.GetValue(duration), parse.GetValue(record),
                parse.GetValue(simRobot), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, parse.GetValue(keyboard));
        });
        return command;
    }

    public static int Run(string configPath, string policyPath, double seconds, string? record, string? simRobot, TextWriter output, TextWriter progress,
        bool keyboard = false)
    {
        if (!(seconds > 0)) { progress.WriteLine("run: --duration must be positive"); return 2; }
        NodeSession session;
        try { session = NodeSession.Open(configPath, policyPath, record, simRobot); }
        catch (NodeSession.SetupException e) { progress.WriteLine($"run: {e.Message}"); return 2; }
        using (session)
        {
            using var keys = new RoboRl.Node.KeyboardTeleop();
            if (keyboard)
            {
                if (keys.Start())
                {
                    session.Node.AddTeleop(keys);
                    session.Node.AddCommands(keys);
                    progress.WriteLine("keyboard: arrows/W/S move the setpoint, A arm, L land, K kill");
                }
                else progress.WriteLine("run: --keyboard needs an interactive terminal; flying without it");
            }
            using var cancel = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
            Console.CancelKeyPress += onCancel;
            var start = DateTime.UtcNow;
            try { session.Fly(seconds, progress, cancel: cancel.Token); }
            finally { Console.CancelKeyPress -= onCancel; }
            session.Summarise("run", (DateTime.UtcNow - start).TotalSeconds, output);
            if (session.FlightFailure() is { } failure)
            {
                progress.WriteLine($"run: the flight failed {failure}");
                return 3;
            }
            return session.Recorder?.Error is null ? 0 : 1;
        }
    }
}
