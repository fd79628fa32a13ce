using System.CommandLine;
using RoboRl.Hosting;

namespace RoboRl.NodeHost;

/// <summary>
/// `roborl-node NODE_CONFIG [--policy BUNDLE] [--duration S] [--record FILE] [--foxglove [ADDR:]PORT [--foxglove-token T]] [--json]`: the real-time node and nothing
/// else, for the robot's own computer. The same session, flags, output, events and exit codes as `roborl run`
/// (docs/cli.md): 0 after the run; 2 on bad input, before anything arms; 3 when the robot's state never arrived, the
/// recording failed, or the supervisor or the kill switch ended a flight.
/// </summary>
public static class Program
{
    public static int Main(string[] args) => Run(args);

    /// <summary>Parses and runs a command line; a parse error is one line on stderr and exit code 2.</summary>
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
        var config = new Argument<string>("node-config") { Description = "Node config (configs/nodes/*.json); its robot's \"kind\" selects the controller." };
        var policy = new Option<string?>("--policy") { Description = "Policy bundle (.safetensors) trained for the node's robot (not needed by a ground node with planner \"dwa\")." };
        var duration = new Option<double>("--duration") { Description = "Seconds to run (simulated seconds with a lock-step simulated robot; Ctrl+C stops earlier).", DefaultValueFactory = _ => 10 };
        var record = new Option<string?>("--record") { Description = "Record the run to this MCAP file (overrides the config's recording section)." };
        var json = new Option<bool>("--json") { Description = "Print the run's figures as one JSON object (progress and events go to stderr)." };
        var foxglove = new Option<string?>("--foxglove")
        {
            Description = "Serve a live view to Foxglove (foxglove.websocket.v1) on [ADDR:]PORT: 127.0.0.1 unless ADDR is given; another address needs --foxglove-token.",
        };
        var foxgloveToken = new Option<string?>("--foxglove-token")
        {
            Description = "With --foxglove: the secret a viewer must send (ws://HOST:PORT/?token=TOKEN); required to listen beyond loopback.",
        };
        var root = new RootCommand("roborl-node: run a policy with RoboRl's real-time node on the robot's computer (no training, no libtorch).")
        {
            config, policy, duration, record, foxglove, foxgloveToken, json,
        };
        root.SetAction(parse => RunNode(parse.GetValue(config)!, parse.GetValue(policy), parse.GetValue(duration), parse.GetValue(record),
            parse.GetValue(json), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error,
            parse.GetValue(foxglove), parse.GetValue(foxgloveToken)));
        return CliConventions.Apply(root);
    }

    public static int RunNode(string configPath, string? policyPath, double seconds, string? record, bool json, TextWriter output, TextWriter progress,
        string? foxglove = null, string? foxgloveToken = null)
    {
        var io = new CommandIo("roborl-node", output, progress, json);
        return io.Run(() =>
        {
            if (!(seconds > 0)) throw CliException.BadInput($"--duration {seconds}: must be a positive number of seconds");
            using NodeSession session = NodeSession.Open(configPath, policyPath, record,
                new NodeSessionOptions { Foxglove = foxglove, FoxgloveToken = foxgloveToken, Settings = new() { Log = progress.WriteLine } });
            using var cancel = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
            Console.CancelKeyPress += onCancel;
            var start = DateTime.UtcNow;
            try { session.Fly(seconds, progress, cancel: cancel.Token); }
            finally { Console.CancelKeyPress -= onCancel; }
            double ran = session.LockStep is null ? (DateTime.UtcNow - start).TotalSeconds : session.Node.TickCount / session.Config.RateHz;
            session.Summarise("roborl-node", ran, io.Text);
            var (code, problem) = session.Outcome(ran);
            return io.Finish(session.SummaryJson(ran), code, problem);
        });
    }
}
