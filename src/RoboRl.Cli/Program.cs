using System.CommandLine;

namespace RoboRl.Cli;

/// <summary>The `roborl` command. Each sub-command lives in its own file and adds itself here, in the order of the loop:
/// train → evaluate → fly → record/replay → deploy, then the benchmarks.</summary>
public static class Program
{
    public static int Main(string[] args) => BuildRootCommand().Parse(args).Invoke();

    public static RootCommand BuildRootCommand()
    {
        var root = new RootCommand("RoboRl: train robot policies in a fast simulator and fly them on real hardware.");
        root.Subcommands.Add(Commands.QuickstartCommand.Create());
        root.Subcommands.Add(Commands.TrainCommand.Create());
        root.Subcommands.Add(Commands.EvalCommand.Create());
        root.Subcommands.Add(Commands.PolicyInspectCommand.CreateGroup());
        root.Subcommands.Add(Commands.RunCommand.Create());
        root.Subcommands.Add(Commands.LogCommands.Create());
        root.Subcommands.Add(Commands.ReplayCommand.Create());
        root.Subcommands.Add(Commands.SysidCommand.Create());
        root.Subcommands.Add(Commands.FinetuneCommand.Create());
        root.Subcommands.Add(Commands.ExportCCommand.CreateGroup());
        root.Subcommands.Add(Commands.MqttCommands.CreateGroup());

        var bench = new Command("bench", "Benchmarks that print figures (never pass/fail).");
        bench.Subcommands.Add(Commands.BenchSimCommand.Create());
        bench.Subcommands.Add(Commands.BenchNodeCommand.Create());
        bench.Subcommands.Add(Commands.Ros2BenchCommand.Create());
        bench.Subcommands.Add(Commands.BenchMqttCommand.Create());
        bench.Subcommands.Add(Commands.BenchSerialCommand.Create());
        bench.Subcommands.Add(Commands.BenchMcuCommand.Create());
        bench.Subcommands.Add(Commands.BenchFaultsCommand.Create());
        bench.Subcommands.Add(Commands.BenchHilCommand.Create());
        root.Subcommands.Add(bench);
        return root;
    }
}
