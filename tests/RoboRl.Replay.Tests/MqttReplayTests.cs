using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using MQTTnet;
using RoboRl.Cli.Commands;

namespace RoboRl.Replay.Tests;

public class MqttReplayTests
{
    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    [Test]
    public async Task Replays_json_to_an_mqtt_broker()
    {
        string dir = Flights.TempDir(), path = Path.Combine(dir, "flight.mcap");
        NodeFlights.Fly(path, NodeFlights.Bundle(), seconds: 0.2);
        FlightLog log = FlightLog.Load(path);
        int port = FreePort();
        // The embedded MQTTnet broker, started by the sink; a separate client subscribes to it.
        using var sink = MqttReplaySink.StartEmbedded(port, "test/replay");
        using IMqttClient listener = new MqttClientFactory().CreateMqttClient();
        await listener.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).Build());
        var got = new ConcurrentQueue<(string Topic, string Payload)>();
        listener.ApplicationMessageReceivedAsync += e =>
        {
            got.Enqueue((e.ApplicationMessage.Topic, Encoding.UTF8.GetString(e.ApplicationMessage.Payload)));
            return Task.CompletedTask;
        };
        await listener.SubscribeAsync(new MqttClientFactory().CreateSubscribeOptionsBuilder().WithTopicFilter("test/replay/#").Build());
        ReplayResult result = new LogPlayer(log, new ReplayOptions { Rate = 0, Topics = ["/pose"], WaitForSink = true }).Play(sink);
        SpinWait.SpinUntil(() => got.Count >= result.Played, TimeSpan.FromSeconds(30));
        Assert.That(got.Count, Is.EqualTo(result.Played));
        Assert.That(got.All(m => m.Topic == "test/replay/pose"));
        JsonNode first = JsonNode.Parse(got.First().Payload)!;
        Assert.That((double)first["message"]!["pose"]!["position"]!["z"]!, Is.EqualTo(1.0).Within(0.05));
    }

    [Test]
    public void An_unreachable_broker_is_a_clear_error()
    {
        string dir = Flights.TempDir(), path = Path.Combine(dir, "flight.mcap");
        NodeFlights.Fly(path, NodeFlights.Bundle(), seconds: 0.05);
        var progress = new StringWriter();
        int port = FreePort();
        int rc = ReplayCommand.Play(path, "mqtt", new ReplayOptions { Rate = 0 }, new StringWriter(), progress, default, $"127.0.0.1:{port}");
        Assert.That(rc, Is.EqualTo(3), "a broker that cannot be reached is a runtime fault");
        Assert.That(progress.ToString(), Does.Contain($"127.0.0.1:{port}"));
        Assert.That(ReplayCommand.Play(path, "mqtt", new ReplayOptions(), new StringWriter(), progress, default, "nowhere"), Is.EqualTo(2));
    }

    [Test]
    public void A_network_sink_that_falls_behind_counts_its_drops_and_no_drop_fails_the_run()
    {
        string dir = Flights.TempDir(), path = Path.Combine(dir, "flight.mcap");
        NodeFlights.Fly(path, NodeFlights.Bundle(), seconds: 1);
        int total = FlightLog.Load(path).Messages.Count;
        int port = FreePort();
        using var broker = MqttReplaySink.StartEmbedded(port, "unused"); // the broker the command's client connects to

        // As fast as possible into MQTT: the sink cannot keep up, the drops are counted and said; exit 0 (real-time semantics).
        var progress = new StringWriter();
        Assert.That(ReplayCommand.Play(path, "mqtt", new ReplayOptions { Rate = 0 }, new StringWriter(), progress, default, $"127.0.0.1:{port}"), Is.EqualTo(0), progress.ToString());
        Assert.That(progress.ToString(), Does.Contain("DROPPED").And.Contain("--wait"));

        // --no-drop: the same replay fails its check (exit 1), and the JSON result carries the counts.
        var output = new StringWriter();
        progress = new StringWriter();
        int rc = ReplayCommand.Play(path, "mqtt", new ReplayOptions { Rate = 0 }, output, progress, default, $"127.0.0.1:{port}", json: true, failOnDrop: true);
        Assert.That(rc, Is.EqualTo(1), progress.ToString());
        JsonNode result = JsonNode.Parse(output.ToString().Trim().Split('\n')[^1])!;
        Assert.That((long)result["dropped"]!, Is.GreaterThan(0));
        Assert.That((long)result["played"]! + (long)result["dropped"]!, Is.EqualTo(total));
        Assert.That((int)result["exit_code"]!, Is.EqualTo(1));
        Assert.That(progress.ToString().TrimEnd().Split('\n')[^1], Does.StartWith("replay: --no-drop: "));

        // --wait: every message goes out, so --no-drop passes.
        progress = new StringWriter();
        Assert.That(ReplayCommand.Play(path, "mqtt", new ReplayOptions { Rate = 0, WaitForSink = true }, new StringWriter(), progress, default, $"127.0.0.1:{port}",
            failOnDrop: true), Is.EqualTo(0), progress.ToString());
        Assert.That(progress.ToString(), Does.Contain($"{total} messages played to mqtt, none dropped"));
    }
}
