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

        var missing = Run("log", "check", Path.Combine(_dir, "nope.mcap"));
        Assert.That(missing.Code, Is.EqualTo(1));
        Assert.That(missing.Err, Does.Contain("no such file"));
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
        Assert.That(result.Out, Does.Contain("100%"));

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
        Assert.That(lines[2]["log_time"]!.GetValue<ulong>(), Is.EqualTo(20_000_000UL));
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
}
