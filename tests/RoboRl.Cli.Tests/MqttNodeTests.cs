using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
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
        while (!modes.Contains("fallback"))
        {
            Assert.That(DateTime.UtcNow < deadline && !run.IsCompleted, Is.True, () => "the node did not land on the MQTT command: " + progress + output);
            Thread.Sleep(20);
        }
        Assert.That(run.Wait(TimeSpan.FromSeconds(60)), Is.True);
        Assert.That(run.Result, Is.EqualTo(0), progress.ToString());
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }
}
