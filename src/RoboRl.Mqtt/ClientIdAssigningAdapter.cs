using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MQTTnet.Adapter;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Server;
using MQTTnet.Server.Internal.Adapter;

namespace RoboRl.Mqtt;

/// <summary>
/// MQTTnet's TCP listener with one change: an MQTT 3.1.x CONNECT with an empty client id and a clean
/// session gets an id assigned by the broker, as MQTT 3.1.1 §3.1.3.1 allows and Mosquitto does.
/// mosquitto_sub and mosquitto_pub send exactly that by default; MQTTnet assigns ids for MQTT 5 only
/// (through <see cref="ValidatingConnectionEventArgs.AssignedClientIdentifier"/>, which also tells the
/// client its id in the CONNACK) and refuses the 3.1.1 case with "identifier rejected".
/// An empty id without a clean session stays empty, so the broker still refuses it (MQTT-3.1.3-8).
/// </summary>
internal sealed class ClientIdAssigningAdapter : IMqttServerAdapter
{
    private readonly MqttTcpServerAdapter _tcp = new();
    private Func<IMqttChannelAdapter, Task>? _clientHandler;

    public Func<IMqttChannelAdapter, Task>? ClientHandler
    {
        get => _clientHandler;
        set
        {
            _clientHandler = value;
            _tcp.ClientHandler = value is null ? null : channel => value(new Channel(channel));
        }
    }

    public Task StartAsync(MqttServerOptions options, IMqttNetLogger logger) => _tcp.StartAsync(options, logger);
    public Task StopAsync() => _tcp.StopAsync();
    public void Dispose() => _tcp.Dispose();

    /// <summary>A broker-assigned client id: unique within the process, unguessable across restarts.</summary>
    internal static string NewClientId() => "roborl-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(8)).ToLowerInvariant();

    /// <summary>The connection as MQTTnet gives it, with the CONNECT packet's empty id filled in.</summary>
    private sealed class Channel(IMqttChannelAdapter inner) : IMqttChannelAdapter
    {
        public long BytesReceived => inner.BytesReceived;
        public long BytesSent => inner.BytesSent;
        public X509Certificate2 ClientCertificate => inner.ClientCertificate;
        public EndPoint RemoteEndPoint => inner.RemoteEndPoint;
        public EndPoint LocalEndPoint => inner.LocalEndPoint;
        public bool IsSecureConnection => inner.IsSecureConnection;
        public MqttPacketFormatterAdapter PacketFormatterAdapter => inner.PacketFormatterAdapter;
        public Task ConnectAsync(CancellationToken cancellationToken) => inner.ConnectAsync(cancellationToken);
        public Task DisconnectAsync(CancellationToken cancellationToken) => inner.DisconnectAsync(cancellationToken);
        public Task SendPacketAsync(MqttPacket packet, CancellationToken cancellationToken) => inner.SendPacketAsync(packet, cancellationToken);
        public void ResetStatistics() => inner.ResetStatistics();
        public void Dispose() => inner.Dispose();

        public async Task<MqttPacket> ReceivePacketAsync(CancellationToken cancellationToken)
        {
            MqttPacket packet = await inner.ReceivePacketAsync(cancellationToken).ConfigureAwait(false);
            if (packet is MqttConnectPacket { CleanSession: true } connect && string.IsNullOrEmpty(connect.ClientId)
                && inner.PacketFormatterAdapter.ProtocolVersion != MqttProtocolVersion.V500)
                connect.ClientId = NewClientId();
            return packet;
        }
    }
}
