using System.CommandLine;
using System.Text.Json.Nodes;
using RoboRl.Core.Messages;
using RoboRl.Logs;

namespace RoboRl.Cli.Tests;

public class LogCommandTests
{
    private string _dir = "";

    [SetUp]
    public void MakeDir()
    {
        _dir = Path.Combine(Path.GetTempPath(), "roborl-cli-log-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void RemoveDir()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Program.BuildRootCommand().Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>A complete file of 300 poses in several chunks, and a copy cut in the middle of its data.</summary>
    private (string Complete, string Truncated) WriteFiles()
    {
        string complete = Path.Combine(_dir, "flight.mcap");
        using (var writer = McapWriter.Create(complete, new McapWriterOptions { ChunkSize = 2048, BackgroundFlush = false }))
        {
            ushort pose = writer.RegisterRos2Channel<PoseStampedMsg>("/pose", Ros2Qos.SensorData);
            for (int i = 0; i < 300; i++)
                writer.WriteMessage(pose, (ulong)i * 10_000_000UL, 0, new PoseStampedMsg { Pose = new PoseMsg { Position = new PointMsg { X = i } } });
        }
        byte[] bytes = File.ReadAllBytes(complete);
        string truncated = Path.Combine(_dir, "cut.mcap");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        return (complete, truncated);
    }

    [Test]
    public void CheckExitsZeroForAValidFileAndOneForADamagedOne()
    {
        var (complete, truncated) = WriteFiles();
        var ok = Run("log", "check", complete);
        Assert.That(ok.Code, Is.EqualTo(0), ok.Out + ok.Err);
        Assert.That(ok.Out, Does.Contain("valid").And.Contain("300 messages"));

        var bad = Run("log", "check", truncated);
        Assert.That(bad.Code, Is.EqualTo(1));
        Assert.That(bad.Out, Does.Contain("INVALID").And.Contain("truncated"));

        var json = Run("log", "check", truncated, "--json");
        Assert.That(json.Code, Is.EqualTo(1));
        var report = JsonNode.Parse(json.Out)!;
        Assert.That(report["valid"]!.GetValue<bool>(), Is.False);
        Assert.That(report["stop"]!["kind"]!.GetValue<string>(), Is.EqualTo("Truncated"));
        Assert.That(report["errors"]!.AsArray(), Is.Not.Empty);

        Assert.That(bad.Err.TrimEnd(), Does.StartWith("log check: ").And.Contain("INVALID"), "the reason as the last line on stderr");

        // No file to check is bad input (2), not a failed check; a directory is named as one (it was "no such file").
        var missing = Run("log", "check", Path.Combine(_dir, "nope.mcap"));
        Assert.That(missing.Code, Is.EqualTo(2));
        Assert.That(missing.Err, Does.Contain("no such file"));
        var directory = Run("log", "check", _dir);
        Assert.That(directory.Code, Is.EqualTo(2));
        Assert.That(directory.Err, Does.Contain(_dir + ": is a directory"));
    }

    [Test]
    public void RecoverWritesAValidFileAndSaysWhatItFound()
    {
        var (_, truncated) = WriteFiles();
        string output = Path.Combine(_dir, "fixed.mcap");
        var result = Run("log", "recover", truncated, "-o", output);
        Assert.That(result.Code, Is.EqualTo(0), result.Err);
        string summary = result.Out.TrimEnd().Split('\n')[^1];
        Assert.That(summary, Does.Match(@"^\d+ messages recovered from \d+ chunks into .*; input truncated at byte \d+"));
        Assert.That(result.Err, Does.Contain("100%"), "progress on stderr");
        Assert.That(result.Err, Does.Not.Contain("\r"), "plain progress lines when stderr is not a terminal");

        var check = LogChecker.Check(output);
        Assert.That(check.IsValid, string.Join("\n", check.Errors));
        Assert.That(check.MessageCount, Is.GreaterThan(0UL).And.LessThan(300UL));
        Assert.That(summary, Does.StartWith($"{check.MessageCount} messages recovered"));
        Assert.That(Run("log", "check", output).Code, Is.EqualTo(0));
    }

    [Test]
    public void CatPrintsDecodedMessagesAsJsonLines()
    {
        var (complete, _) = WriteFiles();
        var cat = Run("log", "cat", complete, "--topics", "/pose", "--limit", "3");
        Assert.That(cat.Code, Is.EqualTo(0), cat.Err);
        var lines = cat.Out.TrimEnd().Split('\n').Select(l => JsonNode.Parse(l)!).ToList();
        Assert.That(lines.Count, Is.EqualTo(3));
        Assert.That(lines[2]["topic"]!.GetValue<string>(), Is.EqualTo("/pose"));
        Assert.That(lines[2]["message"]!["pose"]!["position"]!["x"]!.GetValue<double>(), Is.EqualTo(2.0));
        Assert.That(lines[2]["log_time_ns"]!.GetValue<ulong>(), Is.EqualTo(20_000_000UL), "the same key as replay's");
        Assert.That(lines[2]["type"]!.GetValue<string>(), Is.EqualTo("geometry_msgs/msg/PoseStamped"));
    }

    [Test]
    public void InfoListsChannelsWithCountsAndSchemas()
    {
        var (complete, truncated) = WriteFiles();
        var info = Run("log", "info", complete);
        Assert.That(info.Code, Is.EqualTo(0), info.Err);
        Assert.That(info.Out, Does.Contain("messages:    300"));
        Assert.That(info.Out, Does.Contain("duration:    2.990 s"));
        Assert.That(info.Out, Does.Match(@"\(1\) /pose\s+300 msgs"));
        Assert.That(info.Out, Does.Contain("geometry_msgs/msg/PoseStamped [ros2msg]"));

        var partial = Run("log", "info", truncated);
        Assert.That(partial.Code, Is.EqualTo(0));
        Assert.That(partial.Out, Does.Contain("full scan"));
    }

    [Test]
    public void CatOnATruncatedFilePrintsWhatItReadAndSaysWhereItStopped()
    {
        var (complete, truncated) = WriteFiles();
        var cat = Run("log", "cat", truncated);
        Assert.That(cat.Code, Is.EqualTo(0), cat.Err);
        int printed = cat.Out.TrimEnd().Split('\n').Length;
        Assert.That(printed, Is.GreaterThan(0).And.LessThan(300));
        string note = cat.Err.TrimEnd().Split('\n')[^1];
        Assert.That(note, Does.StartWith($"log cat: {printed} messages from {truncated}, which is damaged: reading stopped (Truncated at byte"));
        Assert.That(note, Does.Contain("roborl log recover"));

        var json = Run("log", "cat", truncated, "--json");
        var result = JsonNode.Parse(json.Out.TrimEnd().Split('\n')[^1])!;
        Assert.That(result["complete"]!.GetValue<bool>(), Is.False);
        Assert.That(result["messages"]!.GetValue<long>(), Is.EqualTo(printed));
        Assert.That(result["stop"]!["kind"]!.GetValue<string>(), Is.EqualTo("Truncated"));

        var whole = Run("log", "cat", complete, "--json");
        Assert.That(JsonNode.Parse(whole.Out.TrimEnd().Split('\n')[^1])!["complete"]!.GetValue<bool>(), Is.True);
        Assert.That(whole.Err, Does.Contain("300 messages from").And.Not.Contain("damaged"));
    }

    [Test]
    public void AFileThatIsNotMcapIsBadInputForCatInfoAndRecoverAndRecoverWritesNothing()
    {
        string random = Path.Combine(_dir, "random.mcap");
        File.WriteAllBytes(random, Enumerable.Range(0, 4096).Select(i => (byte)(i * 37 % 251)).ToArray());
        foreach (string command in new[] { "cat", "info", "recover" })
        {
            var result = Run("log", command, random);
            Assert.That(result.Code, Is.EqualTo(2), $"log {command} on a file that is not MCAP: was 0");
            Assert.That(result.Err.TrimEnd(), Is.EqualTo($"log {command}: {random}: not an MCAP file (it does not start with the MCAP magic 89 4D 43 41 50 30 0D 0A)"));
            Assert.That(result.Out, Is.Empty);
        }
        Assert.That(Directory.GetFiles(_dir, "random.recovered*"), Is.Empty, "no 178-byte 'recovered' file");

        // MCAP magic, then nothing readable: recover says so and writes nothing either (a failed job, exit 1).
        string husk = Path.Combine(_dir, "husk.mcap");
        File.WriteAllBytes(husk, [0x89, 0x4D, 0x43, 0x41, 0x50, 0x30, 0x0D, 0x0A, 0xFF, 0x13]);
        var recovered = Run("log", "recover", husk);
        Assert.That(recovered.Code, Is.EqualTo(1), recovered.Err);
        Assert.That(recovered.Err.TrimEnd().Split('\n')[^1], Does.Contain("nothing recoverable"));
        Assert.That(File.Exists(Path.Combine(_dir, "husk.recovered.mcap")), Is.False);
    }

    [Test]
    public void InfoJsonIsOneObjectWithUnitsInItsKeys()
    {
        var (complete, truncated) = WriteFiles();
        var info = Run("log", "info", complete, "--json");
        Assert.That(info.Code, Is.EqualTo(0), info.Err);
        var o = JsonNode.Parse(info.Out)!;
        Assert.That(o["messages"]!.GetValue<ulong>(), Is.EqualTo(300UL));
        Assert.That(o["duration_s"]!.GetValue<double>(), Is.EqualTo(2.99).Within(1e-9));
        Assert.That(o["channels"]![0]!["topic"]!.GetValue<string>(), Is.EqualTo("/pose"));
        Assert.That(o["complete"]!.GetValue<bool>(), Is.True);
        Assert.That(o["exit_code"]!.GetValue<int>(), Is.Zero);

        var partial = Run("log", "info", truncated);
        Assert.That(partial.Err, Does.StartWith($"log info: {truncated} is damaged"), "a note where the summary is missing");
    }
}
