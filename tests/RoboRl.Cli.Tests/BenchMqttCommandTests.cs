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
        Assert.That(sent, Is.EqualTo(200));
        Assert.That(root.GetProperty("rate_limited").GetInt64(), Is.Zero);
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

public class MqttCommandsTests
{
    [Test]
    public void MosquittoConfigWritesFilesFromTheNodeConfig()
    {
        string dir = Path.Combine(Path.GetTempPath(), "roborl-cli-mqtt-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        string config = Path.Combine(dir, "node.json");
        File.WriteAllText(config, $$"""
        { "mqtt": { "robot": "cf1", "broker": "external", "port": 1883, "username": "node", "password": "np",
            "users": [ { "name": "alice", "password_sha256": "{{RoboRl.Mqtt.MqttUser.HashPassword("apw")}}", "rights": ["arm", "setpoint"] },
                       { "name": "bob", "password_sha256": "{{RoboRl.Mqtt.MqttUser.HashPassword("bpw")}}", "rights": [] } ] } }
        """);
        var env = new Dictionary<string, string> { ["ROBORL_MQTT_PASSWORD_ALICE"] = "apw" };
        var output = new StringWriter();
        var errors = new StringWriter();
        int code = MqttCommands.RunMosquittoConfig(config, Path.Combine(dir, "out"), v => env.GetValueOrDefault(v), output, errors);
        Assert.That(code, Is.EqualTo(0), errors.ToString());
        string passwd = File.ReadAllText(Path.Combine(dir, "out", "passwd"));
        Assert.That(passwd, Does.Contain("alice:$7$101$").And.Contain("node:$7$").And.Not.Contain("bob:"));
        string acl = File.ReadAllText(Path.Combine(dir, "out", "acl"));
        Assert.That(acl, Does.Contain("user alice\ntopic read roborl/cf1/telemetry/#").And.Contain("topic write roborl/cf1/cmd/setpoint"));
        Assert.That(errors.ToString(), Does.Contain("ROBORL_MQTT_PASSWORD_BOB"));

        env["ROBORL_MQTT_PASSWORD_BOB"] = "not-bobs";
        Assert.That(MqttCommands.RunMosquittoConfig(config, Path.Combine(dir, "out2"), v => env.GetValueOrDefault(v), TextWriter.Null, errors = new StringWriter()), Is.EqualTo(2));
        Assert.That(errors.ToString(), Does.Contain("does not match"));

        File.WriteAllText(config, """{ "mqtt": { "telemetry_hz": 5000 } }""");
        Assert.That(MqttCommands.RunMosquittoConfig(config, dir, _ => null, TextWriter.Null, errors = new StringWriter()), Is.EqualTo(2));
        Assert.That(errors.ToString(), Does.Contain("$.mqtt.telemetry_hz").And.Contain("[0.1, 1000]"));
        Assert.That(Program.BuildRootCommand().Parse(["mqtt", "mosquitto-config", config, "-o", dir]).Errors, Is.Empty);
    }
}
