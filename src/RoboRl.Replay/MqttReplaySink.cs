using System.Net;
using System.Net.Sockets;
using System.Text;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;
using RoboRl.Logs;

namespace RoboRl.Replay;

/// <summary>
/// Publishes each message as the JSON line of <see cref="JsonLinesSink"/> (topic, log time, type, decoded fields) on
/// MQTT topic <c>prefix + ROS topic</c> (e.g. roborl/replay/pose), QoS 0, through an MQTTnet 5 client connected to a
/// broker at host:port — or to an embedded MQTTnet broker this sink starts (<see cref="StartEmbedded"/>).
/// </summary>
public sealed class MqttReplaySink : IReplaySink
{
    private readonly IMqttClient _client;
    private readonly MqttServer? _broker;
    private readonly string _prefix;
    private readonly McapMessageDecoder _decoder = new();

    private MqttReplaySink(IMqttClient client, MqttServer? broker, string prefix)
    {
        _client = client; _broker = broker; _prefix = prefix.TrimEnd('/');
    }

    /// <summary>Connects to <paramref name="host"/>:<paramref name="port"/>; throws IOException naming the broker when it cannot.</summary>
    public static MqttReplaySink Connect(string host, int port, string prefix = "roborl/replay") => Connect(host, port, prefix, null);

    /// <summary>Starts an embedded broker on <paramref name="port"/> (0: any free port) and connects to it.</summary>
    public static MqttReplaySink StartEmbedded(int port, string prefix = "roborl/replay")
    {
        if (port == 0)
        {
            using var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        var options = new MqttServerFactory().CreateServerOptionsBuilder().WithDefaultEndpoint().WithDefaultEndpointPort(port).Build();
        MqttServer broker = new MqttServerFactory().CreateMqttServer(options);
        try { broker.StartAsync().GetAwaiter().GetResult(); }
        catch (Exception e) when (e is SocketException || e.InnerException is SocketException)
        {
            broker.Dispose();
            throw new IOException($"embedded MQTT broker cannot listen on port {port}: {(e.InnerException ?? e).Message}", e);
        }
        return Connect("127.0.0.1", port, prefix, broker);
    }

    private static MqttReplaySink Connect(string host, int port, string prefix, MqttServer? broker)
    {
        IMqttClient client = new MqttClientFactory().CreateMqttClient();
        try
        {
            client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(host, port).WithClientId($"roborl-replay-{Environment.ProcessId}")
                .WithTimeout(TimeSpan.FromSeconds(10)).Build()).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or SocketException or OperationCanceledException or TimeoutException)
        {
            client.Dispose();
            broker?.Dispose();
            throw new IOException($"cannot connect to the MQTT broker at {host}:{port}: {e.Message}", e);
        }
        return new MqttReplaySink(client, broker, prefix);
    }

    public int Port { get; init; }

    /// <summary>MQTT subscribers want messages on time: behind the log's pace a message is dropped (counted), unless --wait.</summary>
    public bool RealTime => true;

    public void Write(in McapMessage message)
    {
        System.Text.Json.Nodes.JsonObject line = _decoder.JsonLine(message);
        var mqtt = new MqttApplicationMessageBuilder().WithTopic(_prefix + message.Channel.Topic)
            .WithPayload(Encoding.UTF8.GetBytes(line.ToJsonString())).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtMostOnce).Build();
        _client.PublishAsync(mqtt).GetAwaiter().GetResult();
    }

    public void Dispose()
    {
        try { _client.DisconnectAsync().GetAwaiter().GetResult(); } catch (Exception) { /* already gone */ }
        _client.Dispose();
        if (_broker is not null)
        {
            _broker.StopAsync().GetAwaiter().GetResult();
            _broker.Dispose();
        }
    }
}
