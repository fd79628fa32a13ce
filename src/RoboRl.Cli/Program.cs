using System.CommandLine;

namespace RoboRl.Cli;

/// <summary>The `roborl` command. Each sub-command lives in its own file and adds itself here, in the order of the loop:
/// train → evaluate → fly → record/replay → deploy, then the benchmarks.</summary>
public static class Program
{
    public static int Main(string[] args) => Run(args);

    /// <summary>
    /// Parses and runs a command line (what Main does; tests pass their own writers). A parse error is one line on stderr
    /// and exit code 2 (docs/cli.md), not the parser's help dump and 1.
    /// </summary>
    public static int Run(IReadOnlyList<string> args, TextWriter? output = null, TextWriter? error = null)
    {
        RootCommand root = BuildRootCommand();
        ParseResult parse = root.Parse(args);
        output ??= Console.Out;
        error ??= Console.Error;
        if (parse.Action is System.CommandLine.Invocation.ParseErrorAction) return CliConventions.ReportParseErrors(parse, root, output, error);
        return parse.Invoke(new InvocationConfiguration { Output = output, Error = error });
    }

    public static RootCommand BuildRootCommand()
    {
        var root = new RootCommand("RoboRl: train robot policies in a fast simulator and fly them on real hardware.");
        root.Subcommands.Add(Commands.QuickstartCommand.Create());
        root.Subcommands.Add(Commands.TrainCommand.Create());
        root.Subcommands.Add(Commands.ClusterCommands.CreateWorker());
        root.Subcommands.Add(Commands.SweepCommand.Create());
        root.Subcommands.Add(Commands.EvalCommand.Create());
        root.Subcommands.Add(Commands.PolicyInspectCommand.CreateGroup());
        root.Subcommands.Add(Commands.RunCommand.Create());
        root.Subcommands.Add(Commands.LogCommands.Create());
        root.Subcommands.Add(Commands.ReplayCommand.Create());
        root.Subcommands.Add(Commands.SysidCommand.Create());
        root.Subcommands.Add(Commands.FinetuneCommand.Create());
        root.Subcommands.Add(Commands.ExportCCommand.CreateGroup());
        root.Subcommands.Add(Commands.MqttCommands.CreateGroup());

        var bench = new Command("bench", "Benchmarks: sim, node, ros2, mqtt, serial, mcu, cluster print figures; faults and hil are suites with a verdict.");
        bench.Subcommands.Add(Commands.BenchSimCommand.Create());
        bench.Subcommands.Add(Commands.BenchNodeCommand.Create());
        bench.Subcommands.Add(Commands.Ros2BenchCommand.Create());
        bench.Subcommands.Add(Commands.BenchMqttCommand.Create());
        bench.Subcommands.Add(Commands.BenchSerialCommand.Create());
        bench.Subcommands.Add(Commands.BenchMcuCommand.Create());
        bench.Subcommands.Add(Commands.BenchFaultsCommand.Create());
        bench.Subcommands.Add(Commands.BenchHilCommand.Create());
        bench.Subcommands.Add(Commands.BenchClusterCommand.Create());
        root.Subcommands.Add(bench);
        return CliConventions.Apply(root);
    }
}
