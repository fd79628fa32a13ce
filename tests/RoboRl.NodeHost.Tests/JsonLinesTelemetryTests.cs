using System.Text.Json;
using System.Text.Json.Nodes;

namespace RoboRl.NodeHost.Tests;

/// <summary>The "jsonl" transport (docs/extending.md's example): telemetry and events as JSON lines, named in "telemetry".</summary>
public class JsonLinesTelemetryTests
{
    static readonly string Dir = Path.Combine(Path.GetTempPath(), "roborl-node-jsonl", Guid.NewGuid().ToString("N"));

    [OneTimeTearDown]
    public void Clean()
    {
        if (Directory.Exists(Dir)) Directory.Delete(Dir, recursive: true);
    }

    static string Config(string telemetryJson, string jsonlSection, string transport = "sim")
    {
        var root = JsonNode.Parse(File.ReadAllText(LeanNodeTests.LockStepConfig(Dir)))!.AsObject();
        root["transport"] = transport;
        root["sensors"] = "sim";
        root["telemetry"] = JsonNode.Parse(telemetryJson);
        if (jsonlSection.Length > 0) root["jsonl"] = JsonNode.Parse(jsonlSection);
        string path = Path.Combine(Dir, Guid.NewGuid().ToString("N") + ".json");
        File.WriteAllText(path, root.ToJsonString());
        return path;
    }

    [Test]
    public void ALockStepFlightWritesItsTelemetryAndEventsAsJsonLines()
    {
        string lines = Path.Combine(Dir, "telemetry.jsonl");
        string config = Config("""["sim", "jsonl"]""", $$"""{"path": {{JsonSerializer.Serialize(lines)}}}""");
        var progress = new StringWriter();
        Assert.That(Program.Run([config, "--policy", LeanNodeTests.AnalyticBundle(Dir), "--duration", "5"], new StringWriter(), progress), Is.EqualTo(0), progress.ToString());

        JsonObject[] records = File.ReadAllLines(lines).Select(l => JsonNode.Parse(l)!.AsObject()).ToArray();
        JsonObject[] telemetry = records.Where(r => (string)r["type"]! == "telemetry").ToArray();
        Assert.That(telemetry, Has.Length.EqualTo(50), "5 s at the config's telemetry_rate_hz (10)");
        Assert.That(telemetry.Select(t => (long)t["t_ns"]!), Is.Ordered.Ascending);
        JsonObject last = telemetry[^1];
        Assert.That((string)last["mode"]!, Is.EqualTo("POLICY"));
        Assert.That(last["position"]!.AsArray().Select(v => (double)v!).ToArray()[2], Is.EqualTo(1.0).Within(0.05), "hovering at the setpoint");
        Assert.That(last["action"]!.AsArray(), Has.Count.EqualTo(4));
        string[] events = records.Where(r => (string)r["type"]! == "event").Select(r => $"{r["mode"]}: {r["text"]}").ToArray();
        Assert.That(events, Has.Some.StartsWith("TAKING_OFF").And.Some.StartsWith("POLICY: "));
    }

    [Test]
    public void ItCarriesTelemetryOnlyAndNeedsItsPath()
    {
        var progress = new StringWriter();
        string asRobot = Config("""["sim"]""", """{"path": "x.jsonl"}""", transport: "jsonl");
        Assert.That(Program.Run([asRobot, "--policy", LeanNodeTests.AnalyticBundle(Dir)], new StringWriter(), progress), Is.EqualTo(2));
        Assert.That(progress.ToString(), Does.Contain("transport \"jsonl\" carries telemetry only"));

        progress = new StringWriter();
        Assert.That(Program.Run([Config("""["sim", "jsonl"]""", ""), "--policy", LeanNodeTests.AnalyticBundle(Dir)], new StringWriter(), progress), Is.EqualTo(2));
        Assert.That(progress.ToString(), Does.Contain("$.jsonl: transport \"jsonl\" needs a \"jsonl\" section"));
    }
}
