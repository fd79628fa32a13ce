using System.CommandLine;
using System.Text.Json.Nodes;
using RoboRl.Cli.Commands;
using RoboRl.Core.Messages;
using RoboRl.Logs;

namespace RoboRl.Cli.Tests;

/// <summary>
/// Every command run with the arguments a user gets wrong: a directory where a file is expected, an existing file where a
/// directory or a new file is expected, a missing file, a file nobody can read (a named pipe with no writer: the tests run
/// as root, so permissions cannot make a file unreadable; a FIFO also blocks a naive reader forever), a file of the wrong
/// kind. Each must end, within seconds, with one line on stderr naming the argument and the documented exit code — never
/// a stack trace — and with --json one error object on stdout. The table must cover every command of the tree.
/// </summary>
[NonParallelizable]
public class HostileArgumentTests
{
    static string _root = "", _dir = "", _file = "", _fifo = "", _missing = "", _bundle = "", _mcap = "";

    [OneTimeSetUp]
    public void MakeFiles()
    {
        _root = Directory.CreateTempSubdirectory("roborl-hostile-").FullName;
        _dir = Directory.CreateDirectory(Path.Combine(_root, "a-directory")).FullName;
        _file = Path.Combine(_root, "notes.txt");
        File.WriteAllText(_file, "these are notes, not a config, a bundle or a log");
        _fifo = Path.Combine(_root, "pipe");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", _fifo)) mkfifo.WaitForExit();
        _missing = Path.Combine(_root, "no-such-file");
        _bundle = Path.Combine(_root, "hover.safetensors");
        BenchNodeCommand.HoverShapedBundle(RepoPaths.Find("configs/robots/crazyflie21.json")).Write(_bundle);
        _mcap = Path.Combine(_root, "flight.mcap");
        using var writer = McapWriter.Create(_mcap, new McapWriterOptions { BackgroundFlush = false });
        ushort pose = writer.RegisterRos2Channel<PoseStampedMsg>("/pose", Ros2Qos.SensorData);
        for (int i = 0; i < 300; i++) writer.WriteMessage(pose, (ulong)i * 10_000_000UL, 0, new PoseStampedMsg { Pose = new PoseMsg { Position = new PointMsg { Z = 1 } } });
    }

    [OneTimeTearDown]
    public void RemoveFiles()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }

    static string Out(string name) => Path.Combine(_root, "out-" + Guid.NewGuid().ToString("N")[..8], name);

    /// <summary>(command, arguments, exit code, text the message must hold). {dir} {file} {fifo} {missing} {bundle} {mcap} {out} are filled in.</summary>
    static readonly (string Command, string Args, int Code, string Mentions)[] Cases =
    [
        ("quickstart", "--policy {bundle} -o {file}", 2, "--output {file}: is a file"),   // the issue's stack trace
        ("quickstart", "--policy {dir}", 2, "--policy {dir}: is a directory"),
        ("quickstart", "--policy {fifo}", 2, "named pipe"),
        ("quickstart", "--policy {missing}", 2, "no such file"),
        ("train", "{missing}", 2, "TASK {missing}: no such file"),
        ("train", "{dir}", 2, "is a directory"),
        ("train", "{fifo}", 2, "named pipe"),
        ("train", "{file}", 2, "not valid JSON"),
        ("train", "configs/tasks/crazyflie-hover.json -o {file}", 2, "--output {file}: is a file"),
        ("eval", "{dir}", 2, "BUNDLE {dir}: is a directory"),
        ("eval", "{fifo}", 2, "named pipe"),
        ("eval", "{file}", 2, "{file}"),
        ("eval", "{bundle} --plot {dir}", 2, "--plot {dir}: is a directory"),
        ("eval", "--runs {file}", 2, "--runs {file}: is a file"),
        ("eval", "{bundle} --dynamics {fifo}", 2, "--dynamics"),
        ("policy inspect", "{dir}", 2, "is a directory"),
        ("policy inspect", "{missing}", 2, "no such file"),
        ("policy inspect", "{fifo}", 2, "named pipe"),
        ("policy inspect", "{file}", 1, "{file}"),
        ("policy export-onnx", "{dir} -o {out}", 2, "BUNDLE {dir}: is a directory"),
        ("policy export-onnx", "{file} -o {out}", 2, "{file}"),
        ("policy export-onnx", "{bundle} -o {dir}", 2, "--output {dir}: is a directory"),
        ("policy import-onnx", "{dir} -o {out}", 2, "MODEL {dir}: is a directory"),
        ("policy import-onnx", "{fifo} -o {out}", 2, "named pipe"),
        ("policy import-onnx", "{file} -o {out}", 2, "{file}: file: not an ONNX model"),
        ("policy import-onnx", "{file} --spec {missing} -o {out}", 2, "--spec {missing}: no such file"),
        ("policy import-onnx", "{file} --spec {file} -o {out}", 2, "not valid JSON"),
        ("run", "{dir} --policy {bundle}", 2, "NODE_CONFIG {dir}: is a directory"),
        ("run", "{missing} --policy {bundle}", 2, "no such file"),
        ("run", "configs/nodes/crazyflie-sim.json --policy {dir}", 2, "--policy {dir}: is a directory"),   // was "Access to the path is denied"
        ("run", "configs/nodes/crazyflie-sim.json --policy {fifo}", 2, "named pipe"),
        ("run", "configs/nodes/crazyflie-sim.json --policy {bundle} --record {dir}", 2, "--record {dir}: is a directory"),
        ("run", "configs/nodes/crazyflie-sim.json --policy {bundle} --sim-robot {dir}", 2, "--sim-robot"),
        ("run", "configs/nodes/crazyflie-sim.json --policy {bundle} --uri radio://0/80/2M/E7E7E7E7E7", 2, "--uri"),
        ("run", "configs/nodes/crazyflie-sim.json --policy {bundle} --duration -1", 2, "--duration"),
        ("log check", "{dir}", 2, "FILE {dir}: is a directory"),   // was "no such file"
        ("log check", "{missing}", 2, "no such file"),
        ("log check", "{fifo}", 2, "named pipe"),
        ("log check", "{file}", 1, "INVALID"),
        ("log recover", "{file}", 2, "not an MCAP file"),
        ("log recover", "{dir}", 2, "is a directory"),
        ("log recover", "{mcap} -o {dir}", 2, "--output {dir}: is a directory"),
        ("log recover", "{mcap} -o {mcap}", 2, "is the input"),
        ("log info", "{file}", 2, "not an MCAP file"),
        ("log info", "{fifo}", 2, "named pipe"),
        ("log cat", "{file}", 2, "not an MCAP file"),
        ("log cat", "{dir}", 2, "is a directory"),
        ("log cat", "{mcap} --limit -1", 2, "--limit"),
        ("log compare", "{missing} {mcap}", 2, "A {missing}: no such file"),
        ("log compare", "{mcap} {dir}", 2, "B {dir}: is a directory"),
        ("log compare", "{mcap} {fifo}", 2, "named pipe"),
        ("log compare", "{mcap} {file}", 2, "not an MCAP file"),
        ("log compare", "{mcap} {mcap} --tolerance -1", 2, "--tolerance"),
        ("replay", "{dir}", 2, "LOG {dir}: is a directory"),
        ("replay", "{file}", 2, "not an MCAP file"),
        ("replay", "{fifo}", 2, "named pipe"),
        ("replay", "{mcap} --start 100", 2, "nothing to play"),
        ("replay", "{mcap} --policy {dir}", 2, "--policy {dir}: is a directory"),
        ("replay", "{mcap} --sim --robot {dir}", 2, "--robot {dir}: is a directory"),
        ("replay", "{mcap} --policy {bundle} --plot {dir}", 2, "--plot {dir}: is a directory"),
        ("sysid", "{mcap} --robot configs/robots/diffbot.json -o {out}", 2, "differential-drive robot"),
        ("sysid", "{dir} --robot configs/robots/crazyflie21.json -o {out}", 2, "LOG {dir}: is a directory"),
        ("sysid", "{mcap} --robot configs/robots/crazyflie21.json -o {dir}", 2, "--output {dir}: is a directory"),
        ("finetune", "--policy {dir} --logs {mcap} -o {out}", 2, "--policy {dir}: is a directory"),
        ("finetune", "--policy {bundle} --logs {fifo} -o {out}", 2, "named pipe"),
        ("finetune", "--policy {bundle} --logs {mcap} -o {dir}", 2, "--output {dir}: is a directory"),
        ("finetune", "--policy {bundle} --logs {mcap} -o {out} --critic-from {file}", 2, "--critic-from {file}"),
        ("export c", "{dir} -o {out}", 2, "BUNDLE {dir}: is a directory"),
        ("export c", "{file} -o {out}", 2, "{file}"),
        ("export c", "{bundle} -o {file}", 2, "--output {file}: is a file"),
        ("mqtt mosquitto-config", "{dir} -o {out}", 2, "is a directory"),
        ("mqtt mosquitto-config", "configs/nodes/crazyflie-sim.json -o {out}", 2, "$.mqtt: missing required key"),
        ("mqtt mosquitto-config", "{fifo} -o {out}", 2, "named pipe"),
        ("mqtt hash-password", "--bogus", 2, "'--bogus'"),
        ("bench sim", "--task {dir}", 2, "--task {dir}: is a directory"),
        ("bench sim", "--task {fifo}", 2, "named pipe"),
        ("bench sim", "--seconds 0", 2, "--seconds"),
        ("bench node", "--seconds -1", 2, "--seconds"),
        ("bench ros2", "--messages 0", 2, "--messages"),
        ("bench mqtt", "--hz 0", 2, "--hz"),
        ("bench serial", "--port {dir}", 2, "--port {dir}: is a directory"),
        ("bench serial", "--port {missing}", 2, "no such device"),
        ("bench mcu", "--bundle {dir}", 2, "--bundle {dir}: is a directory"),
        ("bench mcu", "--bundle {file}", 2, "{file}"),
        ("bench faults", "--only no-such-scenario", 2, "no-such-scenario"),
        ("bench hil", "--policy {dir}", 2, "--policy {dir}: is a directory"),
        ("bench hil", "--policy {bundle} -o {file}", 2, "--output {file}: is a file"),
        ("bench hil", "--seeds 0", 2, "--seeds"),
        ("bench cluster", "--shards 7", 2, "--shards 7"),
        ("bench cluster", "--iterations 0", 2, "--iterations 0"),
        ("worker", "--cluster nonsense", 2, "--cluster 'nonsense'"),
        ("worker", "--cluster localhost --task {dir}", 2, "--task {dir}: is a directory"),
        ("worker", "--cluster localhost --task {missing}", 2, "--task {missing}: no such file"),
        ("train", "configs/tasks/diffbot-nav.json --cluster nonsense", 2, "--cluster 'nonsense'"),
        ("train", "configs/tasks/diffbot-nav.json --cluster localhost --shards 7", 2, "--shards 7"),
        ("train", "configs/tasks/crazyflie-hover.json --cluster localhost --algo sac", 2, "--algo sac"),
        ("train", "configs/tasks/crazyflie-hover.json --cluster localhost --steps-per-shard 0", 2, "--steps-per-shard 0"),
        ("sweep", "{missing}", 2, "SWEEP {missing}: no such file"),
        ("sweep", "{dir}", 2, "is a directory"),
        ("sweep", "{fifo}", 2, "named pipe"),
        ("sweep", "{file}", 2, "not valid JSON"),
        ("sweep", "configs/sweeps/hover-lr.json -o {file}", 2, "--output {file}: is a file"),
        ("sweep", "configs/sweeps/hover-lr.json --parallel 0", 2, "--parallel 0"),
        ("sweep", "configs/sweeps/hover-lr.json --cluster nonsense", 2, "--cluster 'nonsense'"),
    ];

    /// <summary>The placeholders filled in; repository files (configs/…) as absolute paths, as a user in the clone would reach them.</summary>
    static string Fill(string text) => string.Join(' ', text.Replace("{dir}", _dir).Replace("{file}", _file).Replace("{fifo}", _fifo).Replace("{missing}", _missing)
        .Replace("{bundle}", _bundle).Replace("{mcap}", _mcap).Replace("{out}", Out("result"))
        .Split(' ').Select(t => t.StartsWith("configs/", StringComparison.Ordinal) ? RepoPaths.Find(t) : t));

    static IEnumerable<TestCaseData> All() => Cases.Select(c => new TestCaseData(c.Command, c.Args, c.Code, c.Mentions).SetName($"{c.Command} {c.Args} → {c.Code}"));

    [TestCaseSource(nameof(All))]
    public void EndsInOneLineAndTheDocumentedExitCode(string command, string args, int code, string mentions)
    {
        string[] argv = [.. command.Split(' '), .. Fill(args).Split(' ', StringSplitOptions.RemoveEmptyEntries)];
        foreach (bool json in new[] { false, true })
        {
            var output = new StringWriter();
            var error = new StringWriter();
            var run = Task.Run(() => Program.Run(json ? [.. argv, "--json"] : argv, output, error));
            Assert.That(run.Wait(TimeSpan.FromSeconds(120)), Is.True, $"roborl {string.Join(' ', argv)} did not end (a read that blocks?)");
            string err = error.ToString();
            Assert.That(run.Result, Is.EqualTo(code), $"exit code of roborl {string.Join(' ', argv)}{(json ? " --json" : "")}\n{err}");
            Assert.That(err, Does.Not.Contain("Unhandled").And.Not.Contain("   at ").And.Not.Contain("Exception"), "no stack trace, no exception type");
            string[] lines = err.TrimEnd().Split('\n');
            Assert.That(lines, Has.Length.EqualTo(1), $"one line:\n{err}");
            Assert.That(lines[0], Does.StartWith($"{command}: ").And.Contain(Fill(mentions)));
            if (json)
            {
                string[] outLines = output.ToString().TrimEnd().Split('\n');
                JsonNode result = JsonNode.Parse(outLines[^1])!;
                Assert.That((int)result["exit_code"]!, Is.EqualTo(code));
                if (code == ExitCodes.BadInput) Assert.That((string)result["error"]!, Does.Contain(Fill(mentions)));
            }
        }
    }

    [Test]
    public void TheTableCoversEveryCommand()
    {
        var covered = Cases.Select(c => c.Command).ToHashSet();
        foreach (var (command, path) in CliConventions.Walk(Program.BuildRootCommand()).Where(c => c.Command.Subcommands.Count == 0))
            Assert.That(covered, Does.Contain(path), $"add hostile cases for `roborl {path}`");
    }
}
