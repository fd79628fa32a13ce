using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace RoboRl.Mqtt;

/// <summary>
/// MQTTnet's broker inside the node's process, bound to one address (127.0.0.1 by default). It
/// authenticates every connection against the user list (<see cref="MqttUser.CheckPassword"/>); a
/// connection without a user name is anonymous and allowed only when <c>allowAnonymous</c> (it can read
/// telemetry; its commands are ignored by the transport). Because the broker knows which user each
/// connection authenticated as, it tells <see cref="PublishIntercepted"/> who sent each message.
/// Failed logins are refused, counted and logged; they run on the broker's I/O threads only.
/// </summary>
public sealed class EmbeddedBroker : IAsyncDisposable
{
    private readonly IPAddress _address;
    private readonly IReadOnlyDictionary<string, MqttUser> _users;
    private readonly bool _allowAnonymous;
    private readonly X509Certificate2? _certificate;
    private readonly Action<string>? _log;
    private readonly Dictionary<string, string> _internalUsers = new(StringComparer.Ordinal);
    private MqttServer? _server;
    private long _failedLogins, _acceptedLogins;

    /// <param name="host">Address to bind (an IP address; "localhost" means 127.0.0.1).</param>
    /// <param name="port">Port to listen on; 0 picks a free one (see <see cref="Port"/> after start).</param>
    /// <param name="tlsCertificate">When given, the broker serves TLS only, with this certificate (and its private key).</param>
    public EmbeddedBroker(string host, int port, IReadOnlyList<MqttUser> users, bool allowAnonymous,
        X509Certificate2? tlsCertificate = null, Action<string>? log = null)
    {
        _address = host == "localhost" ? IPAddress.Loopback
            : IPAddress.TryParse(host, out IPAddress? a) ? a
            : throw new ArgumentException($"embedded broker: host must be an IP address to bind, found \"{host}\"", nameof(host));
        Port = port;
        _users = users.ToDictionary(u => u.Name, StringComparer.Ordinal);
        _allowAnonymous = allowAnonymous;
        _certificate = tlsCertificate;
        _log = log;
    }

    /// <summary>Builds the broker the "mqtt" options describe (host, port, users, anonymous, TLS cert).</summary>
    public static EmbeddedBroker FromOptions(MqttTransportOptions options, Action<string>? log = null)
    {
        X509Certificate2? certificate = null;
        if (options.Tls is { CertFile: { } cert, KeyFile: { } key })
            certificate = X509Certificate2.CreateFromPemFile(cert, key);
        return new EmbeddedBroker(options.Host, options.Port, options.Users, options.AllowAnonymous, certificate, log);
    }

    public string Host => _address.ToString();
    public int Port { get; private set; }
    public bool IsTls => _certificate is not null;
    public bool IsRunning => _server?.IsStarted == true;
    public long FailedLogins => Interlocked.Read(ref _failedLogins);
    public long AcceptedLogins => Interlocked.Read(ref _acceptedLogins);

    /// <summary>
    /// Called on the broker's thread for every published message: topic, payload, and the user the
    /// sending connection authenticated as (null: anonymous). Must not throw.
    /// </summary>
    public Action<string, ReadOnlyMemory<byte>, string?>? PublishIntercepted { get; set; }

    /// <summary>A credential known only inside the process (the node's own client); it carries no command rights.</summary>
    public void AddInternalUser(string name, string password)
    {
        if (_users.ContainsKey(name)) throw new ArgumentException($"internal user \"{name}\" clashes with a configured user", nameof(name));
        lock (_internalUsers) _internalUsers[name] = password;
    }

    public async Task StartAsync()
    {
        if (_server is not null) throw new InvalidOperationException("embedded broker already started");
        if (Port == 0) Port = FreePort(_address);
        var builder = new MqttServerFactory().CreateServerOptionsBuilder();
        builder = _certificate is null
            ? builder.WithDefaultEndpoint().WithDefaultEndpointBoundIPAddress(_address).WithDefaultEndpointPort(Port).WithDefaultEndpointReuseAddress()
            : builder.WithoutDefaultEndpoint().WithEncryptedEndpoint().WithEncryptedEndpointBoundIPAddress(_address)
                .WithEncryptedEndpointPort(Port).WithEncryptionCertificate(_certificate).WithTlsEndpointReuseAddress();
        MqttServer server = new MqttServerFactory().CreateMqttServer(builder.Build(), [new ClientIdAssigningAdapter()]);
        server.ValidatingConnectionAsync += ValidateConnection;
        server.InterceptingPublishAsync += InterceptPublish;
        try
        {
            await server.StartAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException || e.InnerException is System.Net.Sockets.SocketException)
        {
            server.Dispose();
            throw new InvalidOperationException(
                $"embedded MQTT broker cannot listen on {Host}:{Port}: {(e.InnerException ?? e).Message} (choose another mqtt.port, 0 for any free one)", e);
        }
        _server = server;
        _log?.Invoke($"mqtt: embedded broker listening on {(IsTls ? "mqtts" : "mqtt")}://{Host}:{Port}");
    }

    /// <summary>Stops the broker (connected clients are dropped); <see cref="StartAsync"/> may be called again.</summary>
    public async Task StopAsync()
    {
        MqttServer? server = Interlocked.Exchange(ref _server, null);
        if (server is null) return;
        try { await server.StopAsync(new MqttServerStopOptions()).ConfigureAwait(false); }
        finally { server.Dispose(); }
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private Task ValidateConnection(ValidatingConnectionEventArgs e)
    {
        // An empty client id asks the broker to assign one (MQTT 3.1.1 and 5, §3.1.3.1); mosquitto_sub and
        // mosquitto_pub send one by default. MQTTnet refuses it unless the validator assigns an id.
        // MQTT 5 here (the CONNACK tells the client its id); MQTT 3.1.1 in ClientIdAssigningAdapter.
        if (string.IsNullOrEmpty(e.ClientId)) e.AssignedClientIdentifier = ClientIdAssigningAdapter.NewClientId();
        string? name = e.UserName;
        if (string.IsNullOrEmpty(name))
        {
            if (_allowAnonymous) { Interlocked.Increment(ref _acceptedLogins); return Task.CompletedTask; }
            return Refuse(e, MqttConnectReasonCode.NotAuthorized, "anonymous connections are not allowed");
        }
        bool ok;
        string? internalPassword;
        lock (_internalUsers) _internalUsers.TryGetValue(name, out internalPassword);
        if (internalPassword is not null) ok = System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.UTF8.GetBytes(internalPassword), System.Text.Encoding.UTF8.GetBytes(e.Password ?? ""));
        else ok = _users.TryGetValue(name, out MqttUser? user) && user.CheckPassword(e.Password);
        if (!ok) return Refuse(e, MqttConnectReasonCode.BadUserNameOrPassword, $"bad user name or password for \"{name}\"");
        Interlocked.Increment(ref _acceptedLogins);
        return Task.CompletedTask;
    }

    private Task Refuse(ValidatingConnectionEventArgs e, MqttConnectReasonCode code, string reason)
    {
        e.ReasonCode = code;
        long failed = Interlocked.Increment(ref _failedLogins);
        // A burst of bad logins must not flood the log: the first ten, then every hundredth.
        if (failed <= 10 || failed % 100 == 0)
            _log?.Invoke($"mqtt: login refused from {e.RemoteEndPoint} (client \"{e.ClientId}\"): {reason} [{failed} refused so far]");
        return Task.CompletedTask;
    }

    private Task InterceptPublish(InterceptingPublishEventArgs e)
    {
        Action<string, ReadOnlyMemory<byte>, string?>? handler = PublishIntercepted;
        if (handler is null) return Task.CompletedTask;
        try
        {
            string? user = string.IsNullOrEmpty(e.UserName) ? null : e.UserName;
            ReadOnlyMemory<byte> payload = e.ApplicationMessage.Payload.IsSingleSegment
                ? e.ApplicationMessage.Payload.First
                : System.Buffers.BuffersExtensions.ToArray(e.ApplicationMessage.Payload);
            handler(e.ApplicationMessage.Topic, payload, user);
        }
        catch (Exception ex)
        {
            _log?.Invoke($"mqtt: publish interceptor failed: {ex.Message}");
        }
        return Task.CompletedTask;
    }

    private static int FreePort(IPAddress address)
    {
        using var listener = new TcpListener(address, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
