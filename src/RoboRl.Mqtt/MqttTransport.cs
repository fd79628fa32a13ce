using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;
using MQTTnet.Protocol;
using RoboRl.Core.Messages;
using RoboRl.Core.Robots;

namespace RoboRl.Mqtt;

/// <summary>Counters of one transport (a snapshot; see <see cref="MqttTransport.Status"/>).</summary>
public readonly record struct MqttTransportStatus(
    bool Connected,
    long Reconnects,
    long ConnectFailures,
    long FramesOffered,
    long FramesRateLimited,
    long FramesDelivered,
    long FramesOverwritten,
    long FramesFailed,
    long CommandsAccepted,
    long CommandsMalformed,
    long CommandsAnonymous,
    long CommandsUnauthenticated,
    long CommandsForbidden,
    long CommandsDropped,
    long TeleopAccepted,
    long BrokerFailedLogins,
    string? LastError,
    long RobotStatesAccepted = 0,
    long ActuatorCommandsSent = 0,
    long ActuatorCommandsSkipped = 0)
{
    /// <summary>Frames accepted for sending that never reached the broker: overwritten in the ring (buffer full, broker away) or failed to send.</summary>
    public long TelemetryGapFrames => FramesOverwritten + FramesFailed;
    public long CommandsRejected => CommandsMalformed + CommandsAnonymous + CommandsUnauthenticated + CommandsForbidden + CommandsDropped;
}

/// <summary>
/// RoboRl's MQTT transport: the node's <see cref="ITelemetrySink"/>, <see cref="ICommandSource"/> and
/// <see cref="ITeleopSource"/> over an MQTT broker — and, for a robot whose own sensors and actuators
/// travel over MQTT, its <see cref="ISensorSource"/> (robot/state) and <see cref="IActuatorSink"/> (robot/command) — (MQTTnet client; MQTTnet's broker embedded by default,
/// or an external one such as Mosquitto). Topics and payloads: <see cref="MqttTopics"/>.
///
/// Threads: the node's tick thread calls <see cref="Publish"/>, <see cref="TryDequeue"/> and
/// <see cref="TryGetLatest"/>; they copy into / out of preallocated structures and never wait or allocate.
/// One I/O thread owned here connects (with capped exponential back-off), drains the telemetry ring,
/// writes JSON and publishes; commands arrive on MQTTnet's threads (client receive loop, or the embedded
/// broker's publish interception, which knows the authenticated sender). Nothing thrown on those threads
/// reaches the node: failures become counters, <see cref="Status"/> and log lines.
/// </summary>
public sealed class MqttTransport : ITelemetrySink, ICommandSource, ITeleopSource, ISensorSource, IActuatorSink, INodeEventSink, ISensorDiagnostics, IDisposable
{
    private const string NodeUserName = "roborl-node";
    private const long MaxBurstFrames = 4;

    private readonly MqttTransportOptions _options;
    private readonly Action<string>? _log;
    private readonly OverwritingRing<TelemetryFrame> _ring;
    // Actuator commands: only the newest matters to a robot, and an old one must never be replayed late.
    private const long MaxActuatorAgeNs = 100_000_000;
    private readonly LatestValue<ActuatorCommand> _actuatorLatest = new();
    private long _actuatorWritten;                  // tick thread increments
    private long _actuatorHandled;                  // I/O thread: how many of those it has dealt with
    private long _actuatorSent, _actuatorSkipped;
    private readonly CommandIntake _intake;
    private readonly TelemetryJson _json = new();
    private readonly ManualResetEventSlim _wake = new(false);
    private readonly CancellationTokenSource _stop = new();   // cuts a connect or send short on Dispose
    private readonly long _periodNs;
    private readonly string? _internalPassword;
    private readonly X509Certificate2? _caCertificate;
    private IMqttClient? _client;
    private Thread? _ioThread;
    private volatile bool _stopping;

    // Tick thread only (read racily by Status, which is fine for counters).
    private long _nextDueNs = long.MinValue / 2;
    private long _framesOffered, _framesRateLimited;

    // I/O thread counters.
    private long _framesDelivered, _framesFailed, _reconnects, _connectFailures;
    private volatile bool _connected;
    private volatile string? _lastError;
    private long _lastTicksNs = long.MinValue / 2, _lastStatusNs = long.MinValue / 2;
    private NodeMode? _lastMode;
    // The node's events (Publish(in NodeStatusEvent), off the tick thread): each goes out on the status topic at once.
    private readonly System.Collections.Concurrent.ConcurrentQueue<NodeStatusEvent> _events = new();
    private NodeStatusEvent? _lastEvent;
    private long _eventsPublished;

    /// <summary>Creates the transport (and, for broker "embedded", its broker); call <see cref="Start"/>.</summary>
    /// <param name="log">Receives one line per event (connection changes, refused commands); called on I/O threads.</param>
    public MqttTransport(MqttTransportOptions options, Action<string>? log = null)
    {
        _options = options;
        _log = log;
        Topics = new MqttTopics(options.Robot);
        _ring = new OverwritingRing<TelemetryFrame>(options.BufferFrames);
        _intake = new CommandIntake(Topics, options, log);
        _periodNs = (long)(1e9 / options.TelemetryHz);
        if (options.Tls is not null) _caCertificate = LoadCertificate(options.Tls.CaFile);
        if (options.Broker == BrokerKind.Embedded)
        {
            Broker = EmbeddedBroker.FromOptions(options, log);
            _internalPassword = Convert.ToHexString(RandomNumberGenerator.GetBytes(24));
            Broker.AddInternalUser(NodeUserName, _internalPassword);
            // The broker knows who sent each message: commands are taken here, with that identity.
            Broker.PublishIntercepted = (topic, payload, user) =>
            {
                if (Topics.IsInput(topic)) _intake.Handle(topic, payload.Span, user);
            };
        }
    }

    /// <summary>Reads the "mqtt" config section, builds the transport and starts it.</summary>
    public static MqttTransport StartFromConfig(RoboRl.Core.Configs.ConfigNode mqttSection, Action<string>? log = null)
    {
        var transport = new MqttTransport(MqttTransportOptions.Read(mqttSection), log);
        transport.Start();
        return transport;
    }

    public MqttTransportOptions Options => _options;
    public MqttTopics Topics { get; }
    /// <summary>The embedded broker (null with an external one). Its port is known after <see cref="Start"/>.</summary>
    public EmbeddedBroker? Broker { get; }
    public CommandIntake Intake => _intake;
    public bool IsConnected => _connected;

    /// <summary>Starts the embedded broker (if any) and the I/O thread; returns without waiting for the connection.</summary>
    public void Start()
    {
        if (_ioThread is not null) throw new InvalidOperationException("transport already started");
        Broker?.StartAsync().GetAwaiter().GetResult();
        _ioThread = new Thread(IoLoop) { IsBackground = true, Name = $"mqtt-{Topics.Robot}" };
        _ioThread.Start();
    }

    /// <summary>Waits (not on the tick!) until the client is connected; false on timeout.</summary>
    public bool WaitConnected(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!_connected)
        {
            if (DateTime.UtcNow > deadline) return false;
            Thread.Sleep(10);
        }
        return true;
    }

    // ---- tick-thread API: no waits, no allocation ----

    /// <inheritdoc />
    public void Publish(in TelemetryFrame frame)
    {
        _framesOffered++;
        long t = frame.TimestampNs;
        // Rate limit: each accepted frame moves the next due time one period on. A node that falls behind
        // may catch up with a short burst (up to MaxBurstFrames), so a node ticking at exactly
        // telemetry_hz loses nothing to jitter or a late tick; a faster node is thinned to telemetry_hz.
        if (t < _nextDueNs - _periodNs / 2) { _framesRateLimited++; return; }
        _nextDueNs = Math.Max(_nextDueNs + _periodNs, t - MaxBurstFrames * _periodNs);
        _ring.Write(frame);
        if (!_wake.IsSet) _wake.Set();
    }

    /// <summary>
    /// Hands the newest actuator command to the I/O thread for robot/command. Not rate-limited; if the I/O
    /// thread is behind, older commands are superseded by newer ones, and a command older than 100 ms when
    /// the I/O thread gets to it (broker away) is dropped, never sent late. Both count as skipped.
    /// </summary>
    public void Send(in ActuatorCommand command)
    {
        _actuatorLatest.Write(command);
        Volatile.Write(ref _actuatorWritten, _actuatorWritten + 1);
        if (!_wake.IsSet) _wake.Set();
    }

    /// <summary>
    /// A node event (refusal, mode change with its reason) for the status topic: published at once by the I/O thread, and
    /// kept as "last_event" in every later status message (retained). Not for the tick thread (it queues an object).
    /// </summary>
    public void Publish(in NodeStatusEvent e)
    {
        _events.Enqueue(e);
        _wake.Set();
    }

    /// <summary>What the node waits for from robot/state and what arrived, for the message when no state ever came.</summary>
    public string DescribeSensor()
    {
        MqttTransportStatus s = Status;
        string received = s.RobotStatesAccepted > 0 ? $"{s.RobotStatesAccepted} states received" : "no message received";
        string link = s.Connected ? "the node's client is connected" : $"the node's client is not connected ({s.LastError ?? "no connection yet"})";
        string refused = s.CommandsRejected > 0 ? $"; {s.CommandsRejected} inputs refused (the lines above say why; the bridge needs the right \"robot\")" : "";
        string broker = Broker is not null ? $"the embedded MQTT broker {Broker.Host}:{Broker.Port}" : $"the MQTT broker {_options.Host}:{_options.Port}";
        return $"{Topics.RobotState} (JSON robot state) on {broker}: {received}; {link}{refused}";
    }

    /// <summary>The newest robot state received on robot/state (stamped with the node clock on arrival).</summary>
    public bool TryGetLatest(out RobotStateSample sample) => _intake.TryGetRobotState(out sample);

    /// <inheritdoc />
    public bool TryDequeue(out NodeCommand command) => _intake.TryDequeue(out command);

    /// <inheritdoc />
    public bool TryGetLatest(out TeleopSample sample) => _intake.TryGetTeleop(out sample);

    /// <summary>A snapshot of the counters (any thread; allocates nothing).</summary>
    public MqttTransportStatus Status => new(
        _connected,
        Interlocked.Read(ref _reconnects),
        Interlocked.Read(ref _connectFailures),
        Volatile.Read(ref _framesOffered),
        Volatile.Read(ref _framesRateLimited),
        Interlocked.Read(ref _framesDelivered),
        _ring.Overwritten,
        Interlocked.Read(ref _framesFailed),
        _intake.Count(CommandOutcome.Accepted) - _intake.TeleopAccepted - _intake.RobotStatesAccepted,
        _intake.Count(CommandOutcome.Malformed),
        _intake.Count(CommandOutcome.Anonymous),
        _intake.Count(CommandOutcome.Unauthenticated),
        _intake.Count(CommandOutcome.Forbidden),
        _intake.Count(CommandOutcome.QueueFull),
        _intake.TeleopAccepted,
        Broker?.FailedLogins ?? 0,
        _lastError,
        _intake.RobotStatesAccepted,
        Interlocked.Read(ref _actuatorSent),
        Interlocked.Read(ref _actuatorSkipped));

    // ---- I/O thread ----

    private void IoLoop()
    {
        int backoffMs = _options.ReconnectInitialMs;
        bool everConnected = false;
        long gapAtDisconnect = 0;
        long disconnectedAtNs = 0;
        while (!_stopping)
        {
            if (_client is not { IsConnected: true })
            {
                if (_connected)
                {
                    _connected = false;
                    gapAtDisconnect = Status.TelemetryGapFrames;
                    disconnectedAtNs = NodeClock.NowNs;
                    Log($"mqtt: connection to {Endpoint} lost; reconnecting (back-off {_options.ReconnectInitialMs}..{_options.ReconnectMaxMs} ms)");
                }
                if (TryConnect())
                {
                    backoffMs = _options.ReconnectInitialMs;
                    _connected = true;
                    if (everConnected)
                    {
                        Interlocked.Increment(ref _reconnects);
                        long gap = Status.TelemetryGapFrames - gapAtDisconnect;
                        Log($"mqtt: reconnected to {Endpoint} after {(NodeClock.NowNs - disconnectedAtNs) / 1_000_000} ms; {gap} telemetry frames not delivered meanwhile (ring overwrites + failed sends)");
                    }
                    else Log($"mqtt: connected to {Endpoint}");
                    everConnected = true;
                    _lastStatusNs = long.MinValue / 2;
                }
                else
                {
                    Interlocked.Increment(ref _connectFailures);
                    // Not on _wake: every telemetry frame sets it, which would turn the back-off into a retry per frame.
                    _stop.Token.WaitHandle.WaitOne(backoffMs);   // Dispose cancels _stop to cut the wait short
                    backoffMs = Math.Min(backoffMs * 2, _options.ReconnectMaxMs);
                    continue;
                }
            }

            _wake.Reset();
            DrainActuatorCommands();
            DrainTelemetry();
            long now = NodeClock.NowNs;
            while (_events.TryDequeue(out NodeStatusEvent e))
            {
                _lastEvent = e;
                _eventsPublished++;
                _lastStatusNs = now;
                PublishStatus(now);
            }
            if (now - _lastStatusNs > 1_000_000_000L) { _lastStatusNs = now; PublishStatus(now); }
            _wake.Wait(50);
        }
    }

    private string Endpoint => Broker is not null ? $"embedded broker {Broker.Host}:{Broker.Port}" : $"{_options.Host}:{_options.Port}";

    private void DrainTelemetry()
    {
        while (!_stopping && _ring.TryRead(out TelemetryFrame frame, out long seq))
        {
            DrainActuatorCommands();   // a robot's command must not wait behind a backlog of telemetry
            try
            {
                Send(Topics.TelemetryState, _json.State(frame, seq), retain: false);
                Send(Topics.TelemetryAction, _json.Action(frame, seq), retain: false);
                if (frame.TimestampNs - _lastTicksNs >= 1_000_000_000L)
                {
                    _lastTicksNs = frame.TimestampNs;
                    Send(Topics.TelemetryTicks, _json.Ticks(frame, seq), retain: false);
                }
                if (_lastMode != frame.Mode)
                {
                    Send(Topics.TelemetryMode, _json.Mode(frame.TimestampNs, frame.Mode), retain: true);
                    _lastMode = frame.Mode;
                }
                Interlocked.Increment(ref _framesDelivered);
            }
            catch (Exception e)
            {
                Interlocked.Increment(ref _framesFailed);
                _lastError = e.Message;
                return; // the loop sees the disconnection and reconnects
            }
        }
    }

    private void DrainActuatorCommands()
    {
        long written = Volatile.Read(ref _actuatorWritten);
        if (written == _actuatorHandled || !_actuatorLatest.TryRead(out ActuatorCommand command)) return;
        long pending = written - _actuatorHandled;
        _actuatorHandled = written;
        bool fresh = NodeClock.NowNs - command.TimestampNs <= MaxActuatorAgeNs;
        Interlocked.Add(ref _actuatorSkipped, fresh ? pending - 1 : pending);
        if (!fresh) return;
        try
        {
            Send(Topics.RobotCommand, _json.ActuatorCommand(command, written - 1), retain: false);
            Interlocked.Increment(ref _actuatorSent);
        }
        catch (Exception e)
        {
            Interlocked.Increment(ref _actuatorSkipped);
            _lastError = e.Message;
        }
    }

    private void PublishStatus(long now)
    {
        try { Send(Topics.Status, _json.Status(now, Status, _eventsPublished, _lastEvent), retain: true); }
        catch (Exception e) { _lastError = e.Message; }
    }

    private void Send(string topic, byte[] payload, bool retain)
    {
        var message = new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtMostOnce).WithRetainFlag(retain).Build();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        _client!.PublishAsync(message, timeout.Token).GetAwaiter().GetResult();
    }

    private bool TryConnect()
    {
        try
        {
            _client?.Dispose();
            _client = new MqttClientFactory().CreateMqttClient();
            if (_options.Broker == BrokerKind.External)
            {
                // An external broker cannot tell us who published: only signed commands carry an identity.
                _client.ApplicationMessageReceivedAsync += e =>
                {
                    var payload = e.ApplicationMessage.Payload;
                    byte[] bytes = System.Buffers.BuffersExtensions.ToArray(payload);
                    _intake.Handle(e.ApplicationMessage.Topic, bytes, brokerUser: null);
                    return Task.CompletedTask;
                };
            }
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            MqttClientConnectResult result = _client.ConnectAsync(BuildClientOptions(), timeout.Token).GetAwaiter().GetResult();
            if (result.ResultCode != MqttClientConnectResultCode.Success)
                throw new InvalidOperationException($"broker refused the connection: {result.ResultCode} {result.ReasonString}");
            if (_options.Broker == BrokerKind.External)
            {
                var subscribe = new MqttClientSubscribeOptionsBuilder()
                    .WithTopicFilter(Topics.CommandFilter, MqttQualityOfServiceLevel.AtLeastOnce)
                    .WithTopicFilter(Topics.Teleop, MqttQualityOfServiceLevel.AtMostOnce)
                    .WithTopicFilter(Topics.Joy, MqttQualityOfServiceLevel.AtMostOnce)
                    .WithTopicFilter(Topics.RobotState, MqttQualityOfServiceLevel.AtMostOnce)
                    .Build();
                _client.SubscribeAsync(subscribe, timeout.Token).GetAwaiter().GetResult();
            }
            return true;
        }
        catch (Exception e)
        {
            string message = e is OperationCanceledException ? "connect timed out" : (e.InnerException?.Message ?? e.Message);
            if (_lastError != message || Interlocked.Read(ref _connectFailures) % 50 == 0)
                Log($"mqtt: cannot connect to {Endpoint}: {message}");
            _lastError = message;
            return false;
        }
    }

    private MqttClientOptions BuildClientOptions()
    {
        string host = Broker?.Host ?? _options.Host;
        int port = Broker?.Port ?? _options.Port;
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(host, port)
            .WithClientId(_options.EffectiveClientId)
            .WithCleanSession(true)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(5))
            .WithTimeout(TimeSpan.FromSeconds(5))
            .WithWillTopic(Topics.Status).WithWillPayload("{\"online\":false}").WithWillRetain(true);
        if (Broker is not null) builder = builder.WithCredentials(NodeUserName, _internalPassword);
        else if (_options.Username is not null) builder = builder.WithCredentials(_options.Username, _options.Password ?? "");
        if (_options.Tls is { } tls)
        {
            X509Certificate2 ca = _caCertificate!;
            builder = builder.WithTlsOptions(o =>
            {
                o.UseTls().WithTargetHost(tls.ServerName ?? host)
                    .WithCertificateValidationHandler(args => ServerCertificateIsTrusted(args.Certificate, args.SslPolicyErrors, ca));
                if (Broker is null && tls.CertFile is not null)
                    o.WithClientCertificates([X509Certificate2.CreateFromPemFile(tls.CertFile, tls.KeyFile)]);
            });
        }
        return builder.Build();
    }

    /// <summary>The server certificate must chain to the configured CA (and only to it) and match the host name.</summary>
    internal static bool ServerCertificateIsTrusted(X509Certificate? certificate, SslPolicyErrors errors, X509Certificate2 ca)
    {
        if (certificate is null) return false;
        if ((errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using X509Certificate2 leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(leaf);
    }

    /// <summary>Loads a certificate (no key) from a PEM or DER file.</summary>
    public static X509Certificate2 LoadCertificate(string file)
    {
        string text = File.ReadAllText(file);
        return text.Contains("-----BEGIN", StringComparison.Ordinal)
            ? X509Certificate2.CreateFromPem(text)
            : X509CertificateLoader.LoadCertificateFromFile(file);
    }

    private void Log(string line)
    {
        try { _log?.Invoke(line); } catch { /* a broken logger must not stop the transport */ }
    }

    /// <summary>Stops the I/O thread, publishes offline status, disconnects, stops the embedded broker. Publish after Dispose stays harmless (frames stay in the ring, unsent).</summary>
    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        _wake.Set();
        _stop.Cancel();
        _ioThread?.Join(TimeSpan.FromSeconds(15));
        try
        {
            if (_client is { IsConnected: true })
            {
                // A clean disconnect: publish offline status ourselves (the will fires only on unclean loss).
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                var offline = new MqttApplicationMessageBuilder().WithTopic(Topics.Status).WithPayload("{\"online\":false}")
                    .WithRetainFlag(true).Build();
                _client.PublishAsync(offline, timeout.Token).GetAwaiter().GetResult();
                _client.DisconnectAsync(new MqttClientDisconnectOptions(), timeout.Token).GetAwaiter().GetResult();
            }
        }
        catch (Exception e) { Log($"mqtt: disconnect: {e.Message}"); }
        _client?.Dispose();
        _connected = false;
        _stop.Dispose();
        try { Broker?.StopAsync().GetAwaiter().GetResult(); } catch (Exception e) { Log($"mqtt: broker stop: {e.Message}"); }
    }
}
