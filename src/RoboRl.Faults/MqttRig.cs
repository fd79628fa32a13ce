using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;
using MQTTnet.Protocol;
using RoboRl.Mqtt;

namespace RoboRl.Faults;

/// <summary>An MQTT client playing someone else on the network (a pilot, a viewer, an attacker): MQTTnet, as the node's own.</summary>
public sealed class MqttPeer : IDisposable
{
    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();
    public ConcurrentQueue<string> Topics { get; } = new();

    private MqttPeer() { }

    public static MqttClientOptions Options(string host, int port, string? user, string? password, X509Certificate2? ca)
    {
        var b = new MqttClientOptionsBuilder().WithTcpServer(host, port).WithClientId("faults-" + Guid.NewGuid().ToString("N")[..8])
            .WithTimeout(TimeSpan.FromSeconds(20));
        if (user is not null) b = b.WithCredentials(user, password);
        if (ca is not null)
            b = b.WithTlsOptions(o => o.UseTls().WithTargetHost(host)
                .WithCertificateValidationHandler(a => MqttTransport.ServerCertificateIsTrusted(a.Certificate, a.SslPolicyErrors, ca)));
        return b.Build();
    }

    /// <summary>Connects or throws <see cref="FaultCheckException"/>.</summary>
    public static MqttPeer Connect(string host, int port, string? user = null, string? password = null, X509Certificate2? ca = null)
    {
        var peer = new MqttPeer();
        peer._client.ApplicationMessageReceivedAsync += e => { peer.Topics.Enqueue(e.ApplicationMessage.Topic); return Task.CompletedTask; };
        MqttClientConnectResult r = peer._client.ConnectAsync(Options(host, port, user, password, ca)).GetAwaiter().GetResult();
        Check.That(r.ResultCode == MqttClientConnectResultCode.Success, $"{user ?? "anonymous"} could not connect: {r.ResultCode}");
        return peer;
    }

    /// <summary>True when the broker accepted the connection (a refusal comes as a result code or an exception).</summary>
    public static async Task<bool> TryConnectAsync(string host, int port, string? user, string? password, X509Certificate2? ca = null)
    {
        using IMqttClient client = new MqttClientFactory().CreateMqttClient();
        try
        {
            MqttClientConnectResult r = await client.ConnectAsync(Options(host, port, user, password, ca)).ConfigureAwait(false);
            return r.ResultCode == MqttClientConnectResultCode.Success;
        }
        catch (Exception e) when (e is MQTTnet.Adapter.MqttConnectingFailedException or MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException or System.Security.Authentication.AuthenticationException)
        {
            return false;
        }
    }

    public void Subscribe(string filter) =>
        _client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(filter, MqttQualityOfServiceLevel.AtMostOnce).Build()).GetAwaiter().GetResult();

    public void Send(string topic, string payload) =>
        _client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build()).GetAwaiter().GetResult();

    public int Count(string topic) => Topics.Count(t => t == topic);

    public void Dispose()
    {
        try { _client.DisconnectAsync().Wait(TimeSpan.FromSeconds(5)); } catch (Exception) { /* already gone with its broker */ }
        _client.Dispose();
    }
}

/// <summary>Transport log lines, kept for the scenario to check (what `roborl run` prints).</summary>
public sealed class LogLines
{
    private readonly ConcurrentQueue<string> _lines = new();
    public void Add(string line) => _lines.Enqueue(line);
    public bool Any(params string[] fragments) => _lines.Any(l => fragments.All(f => l.Contains(f, StringComparison.Ordinal)));
    public int Count(string fragment) => _lines.Count(l => l.Contains(fragment, StringComparison.Ordinal));
    public string? First(string fragment) => _lines.FirstOrDefault(l => l.Contains(fragment, StringComparison.Ordinal));
}
