using System.Text.Json;
using RoboRl.Cli.Commands;

namespace RoboRl.Cli.Tests;

public class BenchMqttCommandTests
{
    [Test]
    public void BenchMqttIsRegisteredWithItsOptions()
    {
        var parse = Program.BuildRootCommand().Parse(["bench", "mqtt", "--seconds", "2", "--hz", "50", "--broker", "mosquitto", "--json"]);
        Assert.That(parse.Errors, Is.Empty);
        Assert.That(Program.BuildRootCommand().Parse(["bench", "mqtt", "--broker", "cloud"]).Errors, Is.Not.Empty);
    }

    [Test]
    public void ShortRunPrintsTheJsonKeys()
    {
        var output = new StringWriter();
        var progress = new StringWriter();
        int code = BenchMqttCommand.Run("embedded", hz: 100, seconds: 2, json: true, output, progress);
        Assert.That(code, Is.EqualTo(0), progress.ToString());
        using JsonDocument doc = JsonDocument.Parse(output.ToString());
        JsonElement root = doc.RootElement;
        long sent = root.GetProperty("sent").GetInt64();
        Assert.That(sent, Is.InRange(190, 200));
        Assert.That(root.GetProperty("received").GetInt64(), Is.EqualTo(sent));
        Assert.That(root.GetProperty("lost").GetInt64(), Is.Zero);
        Assert.That(root.GetProperty("latency_p50_us").GetDouble(), Is.GreaterThan(0));
        Assert.That(root.GetProperty("latency_p99_us").GetDouble(), Is.GreaterThanOrEqualTo(root.GetProperty("latency_p50_us").GetDouble()));
        Assert.That(progress.ToString(), Does.Contain("frames received"));
    }

    [Test]
    public void BadArgumentsExitWithTwo()
    {
        Assert.That(BenchMqttCommand.Run("embedded", hz: 0, seconds: 1, json: true, TextWriter.Null, TextWriter.Null), Is.EqualTo(2));
        Assert.That(BenchMqttCommand.Run("embedded", hz: 100, seconds: -1, json: true, TextWriter.Null, TextWriter.Null), Is.EqualTo(2));
    }
}
