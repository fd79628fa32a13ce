using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace RoboRl.Foxglove;

/// <summary>
/// A Foxglove WebSocket server (subprotocol <c>foxglove.websocket.v1</c>, spec: github.com/foxglove/ws-protocol
/// docs/spec.md): serverInfo on connect, advertise/unadvertise, the client's subscribe/unsubscribe, binary message data
/// (opcode 0x01, uint32 subscription id, uint64 receive time in ns, payload; little-endian), status. A
/// <see cref="TcpListener"/> and <see cref="WebSocket.CreateFromStream(Stream, WebSocketCreationOptions)"/> from the base
/// library: no ASP.NET. <see cref="Publish"/> never blocks: each viewer has a bounded queue of message frames, and a
/// frame that does not fit is dropped and counted (<see cref="FramesDropped"/>), so a slow viewer loses frames, never the
/// publisher's time.
/// </summary>
public sealed class FoxgloveServer : IDisposable
{
    public const string Subprotocol = "foxglove.websocket.v1";
    private const byte MessageDataOpcode = 0x01;
    private const int MessageDataHeader = 1 + 4 + 8;

    private sealed record ChannelInfo(int Id, string Topic, string Encoding, string SchemaName, string Schema, string SchemaEncoding);

    private readonly record struct Frame(byte[] Buffer, int Length, bool Text, bool Data);

    private sealed class Client(WebSocket socket, int queueFrames)
    {
        public readonly WebSocket Socket = socket;
        public readonly Channel<Frame> Queue = System.Threading.Channels.Channel.CreateUnbounded<Frame>(new UnboundedChannelOptions { SingleReader = true });
        public readonly Dictionary<int, uint> SubscriptionByChannel = [];
        public readonly int QueueFrames = queueFrames;
        public int QueuedData;
        public long Dropped;
    }

    private readonly TcpListener _listener;
    private readonly FoxgloveEndpoint _endpoint;
    private readonly string _name;
    private readonly int _queueFrames;
    private readonly CancellationTokenSource _stop = new();
    private readonly object _gate = new();
    private readonly List<ChannelInfo> _channels = [];
    private readonly ConcurrentDictionary<string, int> _channelByTopic = new(StringComparer.Ordinal);
    private volatile Client[] _clients = [];
    private readonly List<Task> _tasks = [];
    private long _sent, _dropped, _connected, _refused;

    private FoxgloveServer(TcpListener listener, FoxgloveEndpoint endpoint, string name, int queueFrames)
    {
        _listener = listener;
        _endpoint = endpoint;
        _name = name;
        _queueFrames = queueFrames;
        Port = ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Listens now (a port in use or an address this computer does not have throws <see cref="SocketException"/>).</summary>
    /// <param name="queueFrames">Message frames a viewer may have waiting before further ones are dropped for it.</param>
    public static FoxgloveServer Start(FoxgloveEndpoint endpoint, string name, int queueFrames = 256)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(queueFrames, 1);
        var listener = new TcpListener(endpoint.Address, endpoint.Port);
        listener.Start();
        var server = new FoxgloveServer(listener, endpoint, name, queueFrames);
        server._tasks.Add(Task.Run(server.AcceptLoop));
        return server;
    }

    public int Port { get; }
    /// <summary>What a viewer opens (the token is not shown).</summary>
    public string Url => $"ws://{(_endpoint.Address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{_endpoint.Address}]" : _endpoint.Address.ToString())}:{Port}";
    public bool NeedsToken => _endpoint.Token is not null;
    public long FramesSent => Interlocked.Read(ref _sent);
    /// <summary>Message frames dropped because a viewer's queue was full, all viewers together.</summary>
    public long FramesDropped => Interlocked.Read(ref _dropped);
    public long ViewersConnected => Interlocked.Read(ref _connected);
    /// <summary>Connections refused (no or a wrong token, not a foxglove.websocket.v1 handshake).</summary>
    public long ConnectionsRefused => Interlocked.Read(ref _refused);
    public int Viewers => _clients.Length;

    /// <summary>Advertises a channel to every viewer, now and later; returns its id (or the id it already has).</summary>
    public int Advertise(string topic, string encoding, string schemaName, string schema, string schemaEncoding)
    {
        ChannelInfo info;
        lock (_gate)
        {
            if (_channelByTopic.TryGetValue(topic, out int existing)) return existing;
            info = new ChannelInfo(_channels.Count + 1, topic, encoding, schemaName, schema, schemaEncoding);
            _channels.Add(info);
            _channelByTopic[topic] = info.Id;
            foreach (Client c in _clients) EnqueueText(c, AdvertiseJson([info]));
        }
        return info.Id;
    }

    /// <summary>The channel id of an advertised topic, or 0.</summary>
    public int ChannelOf(string topic) => _channelByTopic.TryGetValue(topic, out int id) ? id : 0;

    /// <summary>Sends a message to the viewers subscribed to <paramref name="channelId"/>; never blocks.</summary>
    public void Publish(int channelId, ulong timestampNs, ReadOnlySpan<byte> payload)
    {
        foreach (Client c in _clients)
        {
            uint subscription;
            lock (c.SubscriptionByChannel)
                if (!c.SubscriptionByChannel.TryGetValue(channelId, out subscription)) continue;
            if (Volatile.Read(ref c.QueuedData) >= c.QueueFrames)
            {
                Interlocked.Increment(ref c.Dropped);
                Interlocked.Increment(ref _dropped);
                continue;
            }
            byte[] buffer = ArrayPool<byte>.Shared.Rent(MessageDataHeader + payload.Length);
            buffer[0] = MessageDataOpcode;
            BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(1), subscription);
            BinaryPrimitives.WriteUInt64LittleEndian(buffer.AsSpan(5), timestampNs);
            payload.CopyTo(buffer.AsSpan(MessageDataHeader));
            Interlocked.Increment(ref c.QueuedData);
            if (!c.Queue.Writer.TryWrite(new Frame(buffer, MessageDataHeader + payload.Length, Text: false, Data: true)))
            {
                Interlocked.Decrement(ref c.QueuedData);
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>A status message to every viewer (level 0 info, 1 warning, 2 error), shown in Foxglove's problems list.</summary>
    public void Status(int level, string message)
    {
        string json = new JsonObject { ["op"] = "status", ["level"] = level, ["message"] = message }.ToJsonString();
        foreach (Client c in _clients) EnqueueText(c, json);
    }

    private static void EnqueueText(Client c, string json)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(json);
        c.Queue.Writer.TryWrite(new Frame(bytes, bytes.Length, Text: true, Data: false));
    }

    private static string AdvertiseJson(IEnumerable<ChannelInfo> channels)
    {
        var list = new JsonArray();
        foreach (ChannelInfo ch in channels)
        {
            list.Add(new JsonObject
            {
                ["id"] = ch.Id,
                ["topic"] = ch.Topic,
                ["encoding"] = ch.Encoding,
                ["schemaName"] = ch.SchemaName,
                ["schema"] = ch.Schema,
                ["schemaEncoding"] = ch.SchemaEncoding,
            });
        }
        return new JsonObject { ["op"] = "advertise", ["channels"] = list }.ToJsonString();
    }

    // ---------------------------------------------------------------------------------------------
    // Connections.

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient tcp;
            try { tcp = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException) { return; }
            Task serve = Task.Run(() => Serve(tcp));
            lock (_tasks) { _tasks.RemoveAll(t => t.IsCompleted); _tasks.Add(serve); }
        }
    }

    private async Task Serve(TcpClient tcp)
    {
        using (tcp)
        {
            tcp.NoDelay = true;
            // A modest kernel buffer: what a viewer cannot take piles up in its bounded queue (dropped and counted there),
            // not in megabytes of socket buffer that would show the robot seconds late. 256 KB still carries several MB/s
            // over a 50 ms Wi-Fi round trip.
            tcp.SendBufferSize = 256 * 1024;
            NetworkStream stream = tcp.GetStream();
            WebSocket? socket = null;
            try
            {
                using var handshakeTimeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                handshakeTimeout.CancelAfter(TimeSpan.FromSeconds(10));
                socket = await Handshake(stream, handshakeTimeout.Token);
                if (socket is null) return;
                await Run(new Client(socket, _queueFrames));
            }
            catch (Exception e) when (e is IOException or WebSocketException or OperationCanceledException or SocketException or ObjectDisposedException) { }
            finally { socket?.Dispose(); }
        }
    }

    /// <summary>Reads the HTTP upgrade request; answers 101 with the subprotocol, or refuses (401 without the token, 400 otherwise).</summary>
    private async Task<WebSocket?> Handshake(NetworkStream stream, CancellationToken cancel)
    {
        // Byte by byte up to the blank line: a client sends no WebSocket frame before the 101, and nothing is over-read.
        var request = new List<byte>(512);
        var one = new byte[1];
        while (request.Count < 16 * 1024)
        {
            if (await stream.ReadAsync(one, cancel) == 0) return null;
            request.Add(one[0]);
            int n = request.Count;
            if (n >= 4 && request[n - 4] == '\r' && request[n - 3] == '\n' && request[n - 2] == '\r' && request[n - 1] == '\n') break;
        }
        string[] lines = Encoding.ASCII.GetString(request.ToArray()).Split("\r\n");
        string[] requestLine = lines[0].Split(' ');
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (string line in lines.Skip(1))
        {
            int colon = line.IndexOf(':');
            if (colon > 0) headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }
        if (requestLine.Length < 3 || requestLine[0] != "GET" || !headers.TryGetValue("Sec-WebSocket-Key", out string? key)
            || !(headers.GetValueOrDefault("Upgrade")?.Equals("websocket", StringComparison.OrdinalIgnoreCase) ?? false))
            return await Refuse(stream, "400 Bad Request", "expected a WebSocket upgrade (foxglove.websocket.v1)", cancel);
        if (_endpoint.Token is { } token && !TokenMatches(requestLine[1], token))
            return await Refuse(stream, "401 Unauthorized", "missing or wrong token: connect to ws://HOST:PORT/?token=TOKEN", cancel);
        bool offered = headers.GetValueOrDefault("Sec-WebSocket-Protocol", "").Split(',').Any(p => p.Trim() == Subprotocol);
        if (!offered) return await Refuse(stream, "400 Bad Request", $"the client must offer the subprotocol {Subprotocol}", cancel);

        // RFC 6455 §4.2.2: the accept value is base64(SHA-1(key + the protocol's GUID)).
        string accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
        string response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            $"Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: {Subprotocol}\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(response), cancel);
        return WebSocket.CreateFromStream(stream, new WebSocketCreationOptions
        {
            IsServer = true,
            SubProtocol = Subprotocol,
            KeepAliveInterval = TimeSpan.FromSeconds(10),
        });
    }

    private async Task<WebSocket?> Refuse(NetworkStream stream, string status, string why, CancellationToken cancel)
    {
        Interlocked.Increment(ref _refused);
        byte[] body = Encoding.UTF8.GetBytes($"roborl foxglove server: {why}\n");
        string head = $"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head), cancel);
        await stream.WriteAsync(body, cancel);
        return null;
    }

    private static bool TokenMatches(string target, string token)
    {
        int q = target.IndexOf('?');
        if (q < 0) return false;
        foreach (string pair in target[(q + 1)..].Split('&'))
        {
            int eq = pair.IndexOf('=');
            if (eq < 0 || Uri.UnescapeDataString(pair[..eq]) != "token") continue;
            // Compared in constant time: the answer's timing says nothing about how much of a guess was right.
            byte[] given = Encoding.UTF8.GetBytes(Uri.UnescapeDataString(pair[(eq + 1)..]));
            return CryptographicOperations.FixedTimeEquals(given, Encoding.UTF8.GetBytes(token));
        }
        return false;
    }

    private async Task Run(Client client)
    {
        Interlocked.Increment(ref _connected);
        lock (_gate)
        {
            EnqueueText(client, new JsonObject
            {
                ["op"] = "serverInfo",
                ["name"] = _name,
                ["capabilities"] = new JsonArray(),
                ["supportedEncodings"] = new JsonArray(),
                ["metadata"] = new JsonObject(),
                ["sessionId"] = DateTime.UtcNow.Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture),
            }.ToJsonString());
            if (_channels.Count > 0) EnqueueText(client, AdvertiseJson(_channels));
            _clients = [.. _clients, client];
        }
        Task send = Task.Run(() => SendLoop(client));
        try { await ReceiveLoop(client); }
        finally
        {
            lock (_gate) _clients = _clients.Where(c => c != client).ToArray();
            client.Queue.Writer.TryComplete();
            try { await send; } catch (Exception e) when (e is WebSocketException or IOException or OperationCanceledException or ObjectDisposedException) { }
            while (client.Queue.Reader.TryRead(out Frame f)) if (f.Data) ArrayPool<byte>.Shared.Return(f.Buffer);
        }
    }

    private async Task SendLoop(Client client)
    {
        ChannelReader<Frame> reader = client.Queue.Reader;
        while (await reader.WaitToReadAsync(_stop.Token))
        {
            while (reader.TryRead(out Frame f))
            {
                try
                {
                    await client.Socket.SendAsync(f.Buffer.AsMemory(0, f.Length), f.Text ? WebSocketMessageType.Text : WebSocketMessageType.Binary,
                        endOfMessage: true, _stop.Token);
                    if (f.Data) Interlocked.Increment(ref _sent);
                }
                finally
                {
                    if (f.Data)
                    {
                        Interlocked.Decrement(ref client.QueuedData);
                        ArrayPool<byte>.Shared.Return(f.Buffer);
                    }
                }
            }
        }
    }

    private async Task ReceiveLoop(Client client)
    {
        var buffer = new byte[64 * 1024];
        var message = new MemoryStream();
        while (client.Socket.State == WebSocketState.Open)
        {
            ValueWebSocketReceiveResult r = await client.Socket.ReceiveAsync(buffer.AsMemory(), _stop.Token);
            if (r.MessageType == WebSocketMessageType.Close)
            {
                try { await client.Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", _stop.Token); }
                catch (Exception e) when (e is WebSocketException or IOException) { }
                return;
            }
            message.Write(buffer, 0, r.Count);
            if (message.Length > 1 << 20) return; // a client has nothing this large to say; not a viewer
            if (!r.EndOfMessage) continue;
            if (r.MessageType == WebSocketMessageType.Text) Handle(client, message.GetBuffer().AsSpan(0, (int)message.Length));
            message.SetLength(0);
        }
    }

    /// <summary>subscribe / unsubscribe; other operations (client publishing, parameters, services) are not offered.</summary>
    private void Handle(Client client, ReadOnlySpan<byte> json)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(json); }
        catch (JsonException) { EnqueueText(client, StatusJson(2, "not JSON")); return; }
        string? op = node?["op"]?.GetValueKind() == JsonValueKind.String ? node!["op"]!.GetValue<string>() : null;
        try
        {
            switch (op)
            {
                case "subscribe":
                    foreach (JsonNode? s in node!["subscriptions"]!.AsArray())
                    {
                        uint id = s!["id"]!.GetValue<uint>();
                        int channel = s["channelId"]!.GetValue<int>();
                        if (channel < 1 || channel > _channels.Count) { EnqueueText(client, StatusJson(1, $"no channel {channel}")); continue; }
                        lock (client.SubscriptionByChannel) client.SubscriptionByChannel[channel] = id;
                    }
                    break;
                case "unsubscribe":
                    foreach (JsonNode? s in node!["subscriptionIds"]!.AsArray())
                    {
                        uint id = s!.GetValue<uint>();
                        lock (client.SubscriptionByChannel)
                            foreach (var (channel, sub) in client.SubscriptionByChannel.ToArray())
                                if (sub == id) client.SubscriptionByChannel.Remove(channel);
                    }
                    break;
                default:
                    EnqueueText(client, StatusJson(1, $"operation '{op}' is not supported by this server"));
                    break;
            }
        }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException)
        {
            EnqueueText(client, StatusJson(2, $"malformed {op} message"));
        }
    }

    private static string StatusJson(int level, string message) =>
        new JsonObject { ["op"] = "status", ["level"] = level, ["message"] = message }.ToJsonString();

    public void Dispose()
    {
        if (_stop.IsCancellationRequested) return;
        _stop.Cancel();
        _listener.Stop();
        foreach (Client c in _clients)
        {
            c.Queue.Writer.TryComplete();
            try { c.Socket.Abort(); } catch (ObjectDisposedException) { }
        }
        Task[] tasks;
        lock (_tasks) tasks = [.. _tasks];
        try { Task.WaitAll(tasks, TimeSpan.FromSeconds(2)); }
        catch (AggregateException) { /* connections end with the cancellation */ }
    }
}
