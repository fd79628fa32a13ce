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

/// <summary>A self-signed CA and a server certificate it signed for 127.0.0.1/localhost, as PEM files (for TLS end to end); and another CA nobody trusts.</summary>
public sealed record SelfSignedPki(string CaFile, string CertFile, string KeyFile, string OtherCaFile)
{
    public static SelfSignedPki Create(string directory)
    {
        using RSA caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=RoboRl faults CA", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        using X509Certificate2 ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(7));

        using RSA serverKey = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", serverKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false)); // server authentication
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        byte[] serial = RandomNumberGenerator.GetBytes(12);
        serial[0] &= 0x7F;
        using X509Certificate2 server = request.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(6), serial);

        using RSA otherKey = RSA.Create(2048);
        var otherRequest = new CertificateRequest("CN=Some other CA", otherKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        otherRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using X509Certificate2 other = otherRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(7));

        var pki = new SelfSignedPki(Path.Combine(directory, "ca.crt"), Path.Combine(directory, "server.crt"), Path.Combine(directory, "server.key"),
            Path.Combine(directory, "other-ca.crt"));
        File.WriteAllText(pki.CaFile, ca.ExportCertificatePem());
        File.WriteAllText(pki.CertFile, server.ExportCertificatePem());
        File.WriteAllText(pki.KeyFile, serverKey.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(pki.OtherCaFile, other.ExportCertificatePem());
        return pki;
    }
}
