using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MQTTnet;
using MQTTnet.Protocol;
using RoboRl.Cli.Commands;

namespace RoboRl.Cli.Tests;

/// <summary>`roborl run` with an "mqtt" section: the real node flies the simulated Crazyflie and talks MQTT (embedded broker).</summary>
public class MqttNodeTests
{
    [Test]
    public void NodePublishesTelemetryAndObeysAnAuthenticatedLandCommand()
    {
        string dir = Path.Combine(Path.GetTempPath(), "roborl-cli-mqtt-node", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0)) { probe.Start(); port = ((IPEndPoint)probe.LocalEndpoint).Port; }
        string mqtt = $$"""
            "mqtt": { "robot": "cf1", "port": {{port}},
                      "users": [ { "name": "pilot", "password_sha256": "{{RoboRl.Mqtt.MqttUser.HashPassword("pilot-pw")}}", "rights": ["land"] } ] },
            "commands": ["mqtt"], "teleop": ["mqtt"], "telemetry": ["mqtt"],
            """;
        string config = Path.Combine(dir, "node.json");
        File.WriteAllText(config, File.ReadAllText(RepoPaths.Find("configs/nodes/crazyflie-sim.json"))
            .Replace("\"robot\": \"../robots/crazyflie21.json\",", mqtt + "\"robot\": \"" + RepoPaths.Find("configs/robots/crazyflie21.json") + "\","));
        string bundle = Path.Combine(dir, "hover.safetensors");
        BenchNodeCommand.HoverShapedBundle(RepoPaths.Find("configs/robots/crazyflie21.json")).Write(bundle);

        var output = new StringWriter();
        var progress = new StringWriter();
        var run = Task.Run(() => RunCommand.Run(config, bundle, 8, null, null, output, progress));

        var modes = new ConcurrentQueue<string>();
        using IMqttClient client = new MqttClientFactory().CreateMqttClient();
        client.ApplicationMessageReceivedAsync += e =>
        {
            using var doc = JsonDocument.Parse(Encoding.UTF8.GetString(e.ApplicationMessage.Payload));
            modes.Enqueue(doc.RootElement.GetProperty("mode").GetString()!);
            return Task.CompletedTask;
        };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            Assert.That(run.IsCompleted, Is.False, () => "the run ended early: " + progress + output);
            try
            {
                client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithCredentials("pilot", "pilot-pw").Build()).GetAwaiter().GetResult();
                break;
            }
            catch (Exception) when (DateTime.UtcNow < deadline) { Thread.Sleep(50); }
        }
        client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("roborl/cf1/telemetry/state", MqttQualityOfServiceLevel.AtMostOnce).Build())
            .GetAwaiter().GetResult();
        while (!modes.Contains("policy"))
        {
            Assert.That(DateTime.UtcNow < deadline && !run.IsCompleted, Is.True, () => "no policy-mode telemetry: " + progress + output);
            Thread.Sleep(20);
        }
        client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("roborl/cf1/cmd/land").WithPayload("{}")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build()).GetAwaiter().GetResult();
        while (!modes.Contains("landing"))
        {
            Assert.That(DateTime.UtcNow < deadline && !run.IsCompleted, Is.True, () => "the node did not land on the MQTT command: " + progress + output);
            Thread.Sleep(20);
        }
        Assert.That(run.Wait(TimeSpan.FromSeconds(60)), Is.True);
        Assert.That(run.Result, Is.EqualTo(0), progress.ToString());
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }

    [Test]
    public void NodeFliesARobotWhoseSensorsAndMotorsTravelOverMqtt()
    {
        // The robot's side: a simulated Crazyflie behind an MQTT bridge (user "bridge", right "robot") that
        // publishes robot/state and applies robot/command. The node runs with transport "mqtt".
        string dir = Path.Combine(Path.GetTempPath(), "roborl-cli-mqtt-robot", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0)) { probe.Start(); port = ((IPEndPoint)probe.LocalEndpoint).Port; }
        string robotFile = RepoPaths.Find("configs/robots/crazyflie21.json");
        string mqtt = $$"""
            "mqtt": { "robot": "cf1", "port": {{port}},
                      "users": [ { "name": "bridge", "password_sha256": "{{RoboRl.Mqtt.MqttUser.HashPassword("bridge-pw")}}", "rights": ["robot"] } ] },
            """;
        string config = Path.Combine(dir, "node.json");
        File.WriteAllText(config, WithoutSimSection(File.ReadAllText(RepoPaths.Find("configs/nodes/crazyflie-sim.json")))
            .Replace("\"transport\": \"sim\"", "\"transport\": \"mqtt\"")
            // The bridge is a test thread publishing JSON through MQTTnet: on a loaded 2-core machine its stream stalls for
            // hundreds of ms (seen: 400 ms), which would end the flight; this test is about what travels, not its timing.
            .Replace("\"sensor_timeout_ms\": 100", "\"sensor_timeout_ms\": 2000")
            .Replace("\"robot\": \"../robots/crazyflie21.json\",", mqtt + "\"robot\": \"" + robotFile + "\","));
        string bundle = Path.Combine(dir, "hover.safetensors");
        BenchNodeCommand.HoverShapedBundle(robotFile).Write(bundle);

        var output = new StringWriter();
        var progress = new StringWriter();
        var run = Task.Run(() => RunCommand.Run(config, bundle, 6, null, null, output, progress));

        using var robot = new RoboRl.Sims.Quadrotor.SimulatedQuadrotor(RoboRl.Core.Quadrotor.QuadrotorConfig.Load(robotFile),
            new RoboRl.Sims.Quadrotor.SimulatedQuadrotorOptions { StartPosition = System.Numerics.Vector3.Zero }); // on the floor: the node takes off
        var modes = new ConcurrentQueue<string>();
        using IMqttClient bridge = new MqttClientFactory().CreateMqttClient();
        bridge.ApplicationMessageReceivedAsync += e =>
        {
            using var doc = JsonDocument.Parse(Encoding.UTF8.GetString(e.ApplicationMessage.Payload));
            JsonElement root = doc.RootElement;
            if (e.ApplicationMessage.Topic.EndsWith("telemetry/state", StringComparison.Ordinal)) { modes.Enqueue(root.GetProperty("mode").GetString()!); return Task.CompletedTask; }
            JsonElement a = root.GetProperty("action"), r = root.GetProperty("rotor_rpm");
            robot.Send(new RoboRl.Core.Robots.ActuatorCommand
            {
                TimestampNs = RoboRl.Core.Robots.NodeClock.NowNs,
                Sequence = root.GetProperty("command_seq").GetUInt32(),
                Action = new System.Numerics.Vector4(a[0].GetSingle(), a[1].GetSingle(), a[2].GetSingle(), a[3].GetSingle()),
                RotorRpm = new System.Numerics.Vector4(r[0].GetSingle(), r[1].GetSingle(), r[2].GetSingle(), r[3].GetSingle()),
            });
            return Task.CompletedTask;
        };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            Assert.That(run.IsCompleted, Is.False, () => "the run ended early: " + progress + output);
            try
            {
                bridge.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithCredentials("bridge", "bridge-pw").Build()).GetAwaiter().GetResult();
                break;
            }
            catch (Exception) when (DateTime.UtcNow < deadline) { Thread.Sleep(50); }
        }
        bridge.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter("roborl/cf1/robot/command", MqttQualityOfServiceLevel.AtMostOnce)
            .WithTopicFilter("roborl/cf1/telemetry/state", MqttQualityOfServiceLevel.AtMostOnce).Build()).GetAwaiter().GetResult();
        robot.Start();
        while (!run.IsCompleted)
        {
            // The bridge's sensor loop (~500 Hz): the simulator's newest state onto robot/state.
            if (robot.TryGetLatest(out RoboRl.Core.Robots.RobotStateSample s))
            {
                string json = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"{{\"position\":[{s.Position.X},{s.Position.Y},{s.Position.Z}],\"orientation\":[{s.Orientation.X},{s.Orientation.Y},{s.Orientation.Z},{s.Orientation.W}],\"velocity_world\":[{s.VelocityWorld.X},{s.VelocityWorld.Y},{s.VelocityWorld.Z}],\"angular_velocity_body\":[{s.AngularVelocityBody.X},{s.AngularVelocityBody.Y},{s.AngularVelocityBody.Z}]}}");
                // The node stops its embedded broker when the run ends: the bridge then loses its connection.
                try { bridge.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("roborl/cf1/robot/state").WithPayload(json).Build()).GetAwaiter().GetResult(); }
                catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException or ObjectDisposedException) { break; }
            }
            Thread.Sleep(2);
        }
        robot.Stop();
        Assert.That(run.Wait(TimeSpan.FromSeconds(60)), Is.True);
        Assert.That(run.Result, Is.EqualTo(0), progress.ToString() + output);
        Assert.That(modes, Does.Contain("policy"), "the node armed on states that came over MQTT");
        Assert.That(robot.CommandCount, Is.GreaterThan(100), "the node's commands reached the robot over MQTT");
        Assert.That(output.ToString(), Does.Contain("run: "));
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }

    [Test]
    public void AnAuthorisedArmTheNodeRefusesIsPrintedPublishedAndRecordedAndANodeThatNeverHearsItsRobotExitsThree()
    {
        // transport "mqtt" and nobody publishes robot/state: the node can never arm. Alice's arm is authorised by the
        // transport ("arm from alice accepted") and then refused by the node (stale sensor): that refusal must be on the
        // console, on the status topic and in the flight log; and the run must end non-zero saying what it waited for.
        string dir = Path.Combine(Path.GetTempPath(), "roborl-cli-mqtt-silent", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0)) { probe.Start(); port = ((IPEndPoint)probe.LocalEndpoint).Port; }
        string robotFile = RepoPaths.Find("configs/robots/crazyflie21.json");
        string mqtt = $$"""
            "mqtt": { "robot": "cf1", "port": {{port}},
                      "users": [ { "name": "alice", "password_sha256": "{{RoboRl.Mqtt.MqttUser.HashPassword("alice-pw")}}", "rights": ["arm"] } ] },
            """;
        string config = Path.Combine(dir, "node.json");
        File.WriteAllText(config, WithoutSimSection(File.ReadAllText(RepoPaths.Find("configs/nodes/crazyflie-sim.json")))
            .Replace("\"transport\": \"sim\"", "\"transport\": \"mqtt\"")
            .Replace("\"robot\": \"../robots/crazyflie21.json\",", mqtt + "\"robot\": \"" + robotFile + "\","));
        string bundle = Path.Combine(dir, "hover.safetensors"), log = Path.Combine(dir, "flight.mcap");
        BenchNodeCommand.HoverShapedBundle(robotFile).Write(bundle);

        var output = new StringWriter();
        var progress = new StringWriter();
        var run = Task.Run(() => RunCommand.Run(config, bundle, 5, log, null, output, progress, json: true));

        var statuses = new ConcurrentQueue<JsonNode>();
        using IMqttClient alice = new MqttClientFactory().CreateMqttClient();
        alice.ApplicationMessageReceivedAsync += e =>
        {
            statuses.Enqueue(JsonNode.Parse(Encoding.UTF8.GetString(e.ApplicationMessage.Payload))!);
            return Task.CompletedTask;
        };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            Assert.That(run.IsCompleted, Is.False, () => "the run ended early: " + progress + output);
            try
            {
                alice.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithCredentials("alice", "alice-pw").Build()).GetAwaiter().GetResult();
                break;
            }
            catch (Exception) when (DateTime.UtcNow < deadline) { Thread.Sleep(50); }
        }
        alice.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("roborl/cf1/status", MqttQualityOfServiceLevel.AtMostOnce).Build()).GetAwaiter().GetResult();
        alice.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("roborl/cf1/cmd/arm").WithPayload("{}")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build()).GetAwaiter().GetResult();

        Assert.That(run.Wait(TimeSpan.FromSeconds(60)), Is.True);
        string console = progress.ToString();
        // 1. The console says it as it happens (stderr), not only the mode column.
        Assert.That(console, Does.Contain("event at tick").And.Contain("Arm refused: stale sensor: no sample yet"), console);
        Assert.That(console, Does.Contain("waiting for the robot's state: roborl/cf1/robot/state"), console);
        // 2. The status topic carries it.
        Assert.That(SpinWait.SpinUntil(() => statuses.Any(j => j["last_event"] is JsonObject e && (string)e["kind"]! == "command_refused"), TimeSpan.FromSeconds(10)),
            Is.True, () => "no refusal on roborl/cf1/status: " + string.Join("\n", statuses.Select(j => j.ToJsonString())));
        JsonNode refused = statuses.First(j => j["last_event"] is JsonObject e && (string)e["kind"]! == "command_refused")["last_event"]!;
        Assert.That((string)refused["text"]!, Does.StartWith("Arm refused"));
        Assert.That((string)refused["level"]!, Is.EqualTo("warn"));
        // 3. The flight log records it (/diagnostics).
        var decoder = new RoboRl.Logs.McapMessageDecoder();
        using (var reader = RoboRl.Logs.McapStreamReader.Open(log))
        {
            var diagnostics = reader.ReadMessages().Where(m => m.Channel.Topic == "/diagnostics").Select(m => decoder.JsonLine(m).ToJsonString()).ToList();
            Assert.That(diagnostics, Has.Some.Contains("Arm refused"));
        }
        // 4. The run ends with a runtime fault naming what it waited for, as the last line and in the JSON result.
        Assert.That(run.Result, Is.EqualTo(3), console);
        string last = console.TrimEnd().Split('\n')[^1];
        Assert.That(last, Does.StartWith("run: no robot state arrived in ").And.Contain($"roborl/cf1/robot/state (JSON robot state) on the embedded MQTT broker 127.0.0.1:{port}: no message received"));
        JsonNode result = JsonNode.Parse(output.ToString().TrimEnd().Split('\n')[^1])!;
        Assert.That((int)result["exit_code"]!, Is.EqualTo(3));
        Assert.That((bool)result["state_received"]!, Is.False);
        Assert.That(result["events"]!.AsArray().Select(e => (string)e!["kind"]!), Does.Contain("command_refused"));
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }

    /// <summary>The shipped sim config without its "sim" section (a transport no role uses is an error), as indented JSON.</summary>
    private static string WithoutSimSection(string json)
    {
        var root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip })!.AsObject();
        root.Remove("sim");
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }
}
