using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Protocol;
using RoboRl.Core.Messages;
using RoboRl.Core.Robots;

namespace RoboRl.Mqtt.Tests;

/// <summary>Generous waits for a loaded 2-core machine; tests assert what happened, never how fast.</summary>
internal static class Wait
{
    public static readonly TimeSpan Long = TimeSpan.FromSeconds(30);

    public static void Until(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            if (deadline.Elapsed > (timeout ?? Long)) Assert.Fail($"timed out waiting for: {what}");
            Thread.Sleep(10);
        }
    }
}

/// <summary>Thread-safe log capture.</summary>
internal sealed class LogLines
{
    private readonly ConcurrentQueue<string> _lines = new();
    public void Add(string line) => _lines.Enqueue(line);
    public bool Any(string fragment) => _lines.Any(l => l.Contains(fragment, StringComparison.Ordinal));
    public bool Any(string a, string b) => _lines.Any(l => l.Contains(a, StringComparison.Ordinal) && l.Contains(b, StringComparison.Ordinal));
    public override string ToString() => string.Join("\n", _lines);
}

/// <summary>An independent MQTT client (MQTTnet) that records what it receives.</summary>
internal sealed class TestClient : IDisposable
{
    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();
    public readonly ConcurrentQueue<(string Topic, string Payload, long ReceivedNs)> Messages = new();

    private TestClient() { }

    public static TestClient Connect(string host, int port, string? user = null, string? password = null, X509Certificate2? ca = null, string? clientId = null)
    {
        var c = new TestClient();
        c._client.ApplicationMessageReceivedAsync += e =>
        {
            c.Messages.Enqueue((e.ApplicationMessage.Topic, Encoding.UTF8.GetString(e.ApplicationMessage.Payload), NodeClock.NowNs));
            return Task.CompletedTask;
        };
        MqttClientConnectResult result = c._client.ConnectAsync(Options(host, port, user, password, ca, clientId)).GetAwaiter().GetResult();
        Assert.That(result.ResultCode, Is.EqualTo(MqttClientConnectResultCode.Success));
        return c;
    }

    public static MqttClientOptions Options(string host, int port, string? user, string? password, X509Certificate2? ca, string? clientId = null)
    {
        var b = new MqttClientOptionsBuilder().WithTcpServer(host, port).WithClientId(clientId ?? "test-" + Guid.NewGuid().ToString("N")[..8])
            .WithTimeout(TimeSpan.FromSeconds(20));
        if (user is not null) b = b.WithCredentials(user, password);
        if (ca is not null)
            b = b.WithTlsOptions(o => o.UseTls().WithTargetHost(host)
                .WithCertificateValidationHandler(a => MqttTransport.ServerCertificateIsTrusted(a.Certificate, a.SslPolicyErrors, ca)));
        return b.Build();
    }

    /// <summary>Tries to connect; true when the broker accepted (a refusal may come as a result or an exception).</summary>
    public static bool TryConnect(string host, int port, string? user, string? password, X509Certificate2? ca = null)
        => TryConnectAsync(host, port, user, password, ca).GetAwaiter().GetResult();

    public static async Task<bool> TryConnectAsync(string host, int port, string? user, string? password, X509Certificate2? ca = null)
    {
        using IMqttClient client = new MqttClientFactory().CreateMqttClient();
        try
        {
            MqttClientConnectResult r = await client.ConnectAsync(Options(host, port, user, password, ca));
            return r.ResultCode == MqttClientConnectResultCode.Success;
        }
        catch (Exception e) when (e is MQTTnet.Adapter.MqttConnectingFailedException or MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException)
        {
            return false;
        }
    }

    public void Subscribe(string filter)
    {
        _client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(filter, MqttQualityOfServiceLevel.AtMostOnce).Build())
            .GetAwaiter().GetResult();
    }

    public void Send(string topic, string payload)
    {
        _client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build()).GetAwaiter().GetResult();
    }

    public List<JsonElement> On(string topic)
        => Messages.Where(m => m.Topic == topic).Select(m => JsonDocument.Parse(m.Payload).RootElement.Clone()).ToList();

    public void Dispose()
    {
        try { _client.DisconnectAsync().Wait(TimeSpan.FromSeconds(5)); } catch { }
        _client.Dispose();
    }
}

/// <summary>Plays the node's tick thread: calls Publish at about <c>hz</c> with the node clock as timestamp.</summary>
internal sealed class TelemetryPump : IDisposable
{
    private readonly Thread _thread;
    private volatile bool _stop;
    public long Published;

    public TelemetryPump(ITelemetrySink sink, double hz = 100)
    {
        _thread = new Thread(() =>
        {
            uint i = 0;
            var period = TimeSpan.FromSeconds(1 / hz);
            while (!_stop)
            {
                TelemetryFrame f = Frames.Make(i++);
                sink.Publish(f);
                Interlocked.Increment(ref Published);
                Thread.Sleep(period);
            }
        })
        { IsBackground = true };
        _thread.Start();
    }

    public void Dispose() { _stop = true; _thread.Join(); }
}

internal static class Frames
{
    public static TelemetryFrame Make(uint i, long? tNs = null) => new()
    {
        TimestampNs = tNs ?? NodeClock.NowNs,
        State = new RobotStateSample
        {
            TimestampNs = NodeClock.NowNs,
            Sequence = i,
            Position = new Vector3(1, 2, 0.5f + i * 1e-3f),
            Orientation = Quaternion.Identity,
            VelocityWorld = new Vector3(0.1f, 0, 0),
            AngularVelocityBody = new Vector3(0, 0, 0.2f),
            RotorRpm = new Vector4(float.NaN),
        },
        Command = new ActuatorCommand { Sequence = i, Action = new Vector4(0.1f, 0.2f, 0.3f, 0.4f), RotorRpm = new Vector4(12000), Source = ActionSource.Policy },
        Setpoint = new Vector3(0, 0, 1),
        Mode = NodeMode.Policy,
        Ticks = new TickStatistics { Ticks = i, RateHz = 100, LatencyP50Us = 20, LatencyP99Us = 50, LatencyMaxUs = 80, JitterP99Us = 5 },
    };
}

internal static class Ports
{
    public static int Free()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}

internal static class TempDir
{
    public static string Create(string name)
    {
        string d = Path.Combine(Path.GetTempPath(), "roborl-mqtt-tests", name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(d);
        return d;
    }
}
