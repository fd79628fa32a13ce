using System.Net.Sockets;
using System.Text;
using MQTTnet;
using MQTTnet.Protocol;
using RoboRl.Logs;
using RoboRl.Mqtt;

namespace RoboRl.Replay;

/// <summary>
/// Publishes each message as the JSON line of <see cref="JsonLinesSink"/> (topic, log time, type, decoded fields) on
/// MQTT topic <c>prefix + ROS topic</c> (e.g. roborl/replay/pose), QoS 0, through an MQTTnet 5 client connected to a
/// broker at host:port — or to the node's own embedded broker (RoboRl.Mqtt's <see cref="EmbeddedBroker"/>, anonymous
/// clients allowed, every address) that this sink starts (<see cref="StartEmbedded"/>).
/// </summary>
public sealed class MqttReplaySink : IReplaySink
{
    private readonly IMqttClient _client;
    private readonly EmbeddedBroker? _broker;
    private readonly string _prefix;
    private readonly McapMessageDecoder _decoder = new();

    private MqttReplaySink(IMqttClient client, EmbeddedBroker? broker, string prefix)
    {
        _client = client; _broker = broker; _prefix = prefix.TrimEnd('/');
    }

    /// <summary>Connects to <paramref name="host"/>:<paramref name="port"/>; throws IOException naming the broker when it cannot.</summary>
    public static MqttReplaySink Connect(string host, int port, string prefix = "roborl/replay") => Connect(host, port, prefix, null);

    /// <summary>Starts an embedded broker on <paramref name="port"/> (0: any free port) and connects to it.</summary>
    public static MqttReplaySink StartEmbedded(int port, string prefix = "roborl/replay")
    {
        var broker = new EmbeddedBroker("0.0.0.0", port, users: [], allowAnonymous: true);
        try { broker.StartAsync().GetAwaiter().GetResult(); }
        catch (InvalidOperationException e) { throw new IOException(e.Message, e); }
        return Connect("127.0.0.1", broker.Port, prefix, broker);
    }

    private static MqttReplaySink Connect(string host, int port, string prefix, EmbeddedBroker? broker)
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
            broker?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw new IOException($"cannot connect to the MQTT broker at {host}:{port}: {e.Message}", e);
        }
        return new MqttReplaySink(client, broker, prefix);
    }

    /// <summary>The embedded broker's port (null when connected to another broker).</summary>
    public int? BrokerPort => _broker?.Port;

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
        _broker?.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
