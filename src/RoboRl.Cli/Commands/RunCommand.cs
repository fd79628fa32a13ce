using System.CommandLine;
using RoboRl.Core.Robots;

namespace RoboRl.Cli.Commands;

/// <summary>`roborl run NODE_CONFIG --policy BUNDLE [--duration S] [--record FILE] [--sim-robot ROBOT.json]`: fly a policy with the real-time node.</summary>
public static class RunCommand
{
    public static Command Create()
    {
        var config = new Argument<string>("node-config") { Description = "Node config (configs/nodes/*.json)." };
        var policy = new Option<string>("--policy") { Description = "Policy bundle (.safetensors) trained for the node's robot.", Required = true };
        var duration = new Option<double>("--duration") { Description = "Seconds to fly (Ctrl+C stops earlier).", DefaultValueFactory = _ => 10 };
        var record = new Option<string?>("--record") { Description = "Record the flight to this MCAP file (overrides the config's recording section)." };
        var simRobot = new Option<string?>("--sim-robot") { Description = "Fly a simulated plant with these parameters (robot config) instead of the policy's robot." };
        var keyboard = new Option<bool>("--keyboard") { Description = "Teleop from this terminal: arrows/W/S move the setpoint, A arm, L land, K kill." };
        var command = new Command("run", "Fly a policy with the real-time node (default transport: the simulated Crazyflie in process).")
        {
            config, policy, duration, record, simRobot, keyboard,
        };
        command.SetAction(parse => Run(parse.GetValue(config)!, parse.GetValue(policy)!, parse.GetValue(duration), parse.GetValue(record),
            parse.GetValue(simRobot), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, parse.GetValue(keyboard)));
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
            return session.Recorder?.Error is null ? 0 : 1;
        }
    }
}
