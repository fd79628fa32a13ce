using System.CommandLine;
using System.Text.Json.Nodes;

namespace RoboRl.Cli.Tests;

/// <summary>
/// docs/cli.md's convention, enforced on every command of the tree (a command added later is checked too): `--json` on
/// every command, `-o, --output` for written outputs (the old `--out` hidden), exit code 2 and one line for a malformed
/// number, groups that name all their subcommands, and the document itself naming every command.
/// </summary>
public class ConventionTests
{
    /// <summary>Commands that write files or directories the user names: they take them with -o, --output.</summary>
    static readonly string[] Writers = ["quickstart", "train", "log recover", "sysid", "finetune", "export c", "mqtt mosquitto-config", "bench hil", "sweep"];

    static List<(Command Command, string Path)> Leaves() =>
        CliConventions.Walk(Program.BuildRootCommand()).Where(c => c.Command.Subcommands.Count == 0).ToList();

    static (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Program.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    static string Help(string path) => Run([.. path.Split(' '), "--help"]).Out;

    [Test]
    public void EveryCommandsHelpShowsJsonAndTheOutputFlag()
    {
        var leaves = Leaves();
        Assert.That(leaves.Count, Is.GreaterThanOrEqualTo(23));
        foreach (var (_, path) in leaves)
        {
            string help = Help(path);
            Assert.That(help, Does.Contain("--json"), $"roborl {path} --help: every command prints one JSON object with --json");
            Assert.That(help, Does.Not.Match(@"(^|[\s,])--out\b"), $"roborl {path} --help: the output flag is -o, --output (--out only as a hidden alias)");
            if (Writers.Contains(path)) Assert.That(help, Does.Contain("-o, --output <path>"), $"roborl {path} --help");
        }
        Assert.That(Help("run"), Does.Contain("--uri <uri>").And.Contain("cflib"));
        Assert.That(Help("run"), Does.Contain("--duration <seconds>"));
    }

    [Test]
    public void TheOldOutFlagStillWorksWhereItExisted()
    {
        foreach (string path in new[] { "train", "quickstart", "bench hil" })
        {
            Command command = Leaves().Single(l => l.Path == path).Command;
            Assert.That(command.Options.Single(o => o.Name == "--out").Hidden, Is.True, path);
        }
        RootCommand root = Program.BuildRootCommand();
        Assert.That(root.Parse(["train", "task.json", "--out", "runs/x"]).Errors, Is.Empty);
        Assert.That(root.Parse(["train", "task.json", "-o", "runs/x"]).Errors, Is.Empty);
        Assert.That(root.Parse(["quickstart", "--out", "qs"]).Errors, Is.Empty);
    }

    [Test]
    public void GroupsNameEveryOneOfTheirSubcommands()
    {
        // `roborl --help` shows a group's description only: "log: check, recover, info." hid `log cat`.
        foreach (var (command, path) in CliConventions.Walk(Program.BuildRootCommand()).Where(c => c.Command.Subcommands.Count > 0))
            foreach (Command sub in command.Subcommands)
                Assert.That(command.Description, Does.Contain(sub.Name), $"roborl {path}: its description should name `{sub.Name}`");
        Assert.That(Help("log"), Does.Contain("check, recover, info, cat"));
    }

    [Test]
    public void EveryNumberOptionRejectsAMalformedValueInOneLineWithExitCodeTwo()
    {
        int checkedOptions = 0;
        foreach (var (command, path) in Leaves())
        {
            foreach (Option option in command.Options.Where(o => o.ValueType is { } t && (Nullable.GetUnderlyingType(t) ?? t) is var u
                         && (u == typeof(double) || u == typeof(float) || u == typeof(int) || u == typeof(long) || u == typeof(ulong) || u == typeof(int[]))))
            {
                var (code, output, error) = Run([.. path.Split(' '), option.Name, "abc", "--json"]);
                Assert.That(code, Is.EqualTo(ExitCodes.BadInput), $"roborl {path} {option.Name} abc");
                string[] lines = error.TrimEnd().Split('\n');
                Assert.That(lines, Has.Length.EqualTo(1), error);
                Assert.That(lines[0], Does.StartWith($"{path}: ").And.Contain($"{option.Name}: 'abc' is not a"), error);
                Assert.That(error, Does.Not.Contain("System."), "no .NET type names");
                JsonNode result = JsonNode.Parse(output.TrimEnd().Split('\n')[^1])!;
                Assert.That((int)result["exit_code"]!, Is.EqualTo(ExitCodes.BadInput));
                checkedOptions++;
            }
        }
        Assert.That(checkedOptions, Is.GreaterThan(30));
        Assert.That(Run("run", "configs/nodes/crazyflie-sim.json", "--duration", "abc").Err, Does.Contain("--duration: 'abc' is not a number of seconds"));
    }

    [Test]
    public void JsonKeysCarryTheirUnits()
    {
        // log check/info/cat (records and result), policy inspect, export c: every time, offset or duration key says its unit.
        string dir = Directory.CreateTempSubdirectory("roborl-units-").FullName;
        try
        {
            string log = Path.Combine(dir, "flight.mcap");
            using (var writer = RoboRl.Logs.McapWriter.Create(log, new RoboRl.Logs.McapWriterOptions { BackgroundFlush = false }))
            {
                ushort pose = writer.RegisterRos2Channel<RoboRl.Core.Messages.PoseStampedMsg>("/pose", RoboRl.Core.Messages.Ros2Qos.SensorData);
                for (int i = 0; i < 10; i++) writer.WriteMessage(pose, (ulong)i * 10_000_000UL, 0, new RoboRl.Core.Messages.PoseStampedMsg());
            }
            string bundle = Path.Combine(dir, "hover.safetensors");
            Commands.BenchNodeCommand.HoverShapedBundle(RepoPaths.Find("configs/robots/crazyflie21.json")).Write(bundle);
            var keys = new List<string>();
            void Collect(JsonNode? node, bool message)
            {
                if (node is JsonObject o)
                    foreach (var (k, v) in o) { if (!message) keys.Add(k); Collect(v, message || k is "message" or "training_config"); }
                else if (node is JsonArray a) foreach (JsonNode? item in a) Collect(item, message);
            }
            foreach (string[] args in new[] { new[] { "log", "check", log }, ["log", "info", log], ["log", "cat", log], ["policy", "inspect", bundle], ["export", "c", bundle, "-o", dir] })
            {
                var (code, output, error) = Run([.. args, "--json"]);
                Assert.That(code, Is.Zero, error);
                foreach (string line in output.TrimEnd().Split('\n')) Collect(JsonNode.Parse(line), message: false);
            }
            Assert.That(keys, Does.Contain("log_time_ns").And.Contain("duration_s").And.Contain("exit_code"));
            foreach (string key in keys.Distinct())
            {
                if (key.Contains("time")) Assert.That(key, Does.EndWith("_ns").Or.EndWith("_s"), key);
                if (key.Contains("offset") || key.StartsWith("file_length", StringComparison.Ordinal)) Assert.That(key, Does.EndWith("_bytes"), key);
                Assert.That(key, Is.Not.AnyOf("seconds", "duration", "hz", "mass", "latency", "rtt"), key);
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Test]
    public void TheDocumentStatesTheConventionAndNamesEveryCommand()
    {
        string doc = File.ReadAllText(RepoPaths.Find("docs/cli.md"));
        foreach (string needle in new[] { "-o, --output", "--json", "exit_code", "| 0 |", "| 1 |", "| 2 |", "| 3 |", "log_time_ns", "_s", "_m", "_ns", "--no-drop", "--checkpoint-replay" })
            Assert.That(doc, Does.Contain(needle), needle);
        foreach (var (_, path) in Leaves())
            Assert.That(doc, Does.Contain($"`{path}`"), $"docs/cli.md should list `{path}`");
    }
}
