using RoboRl.Core.Robots;
using RoboRl.Foxglove;
using RoboRl.Ros2;

namespace RoboRl.Replay;

/// <summary>What a replay sink is asked to open (`roborl replay LOG --to NAME`).</summary>
public sealed record ReplaySinkRequest
{
    public required FlightLog Log { get; init; }
    public required ReplayOptions Options { get; init; }
    /// <summary>Where a stream sink writes (stdout).</summary>
    public required TextWriter Output { get; init; }
    /// <summary>MQTT: "embedded" (a broker on port 1883 in this process) or HOST:PORT.</summary>
    public string Broker { get; init; } = "embedded";
    public string MqttPrefix { get; init; } = "roborl/replay";
    /// <summary>Foxglove: `--foxglove [ADDR:]PORT` and `--foxglove-token`.</summary>
    public string Foxglove { get; init; } = "8765";
    public string? FoxgloveToken { get; init; }
    /// <summary>Where a sink says what it serves (stderr).</summary>
    public Action<string> Notice { get; init; } = _ => { };
}

/// <summary>A place a log can be played to, by name, reusing the transports (a ROS 2 node, RoboRl.Mqtt's broker).</summary>
public sealed record ReplaySinkPlugin(string Name, string Description, Func<ReplaySinkRequest, IReplaySink> Open) : INamedPlugin;

/// <summary>The replay sinks this repository ships; a new one is a class and one line here.</summary>
public static class ReplaySinks
{
    public static PluginRegistry<ReplaySinkPlugin> Standard { get; } = new PluginRegistry<ReplaySinkPlugin>("replay sink")
        .Add(new("stdout", "JSON lines, every message", r => new JsonLinesSink(r.Output)))
        .Add(new("ros2", "raw CDR on the recorded topics with the recorded QoS (Cyclone DDS)", OpenRos2))
        .Add(new("mqtt", "JSON on PREFIX/topic through an embedded broker or HOST:PORT", OpenMqtt))
        .Add(new("foxglove", "the Foxglove WebSocket protocol on [ADDR:]PORT (--foxglove), the log's schemas and bytes, plus a 3D scene", OpenFoxglove));

    /// <summary>A bad value, a port in use or an address this computer does not have: <see cref="FormatException"/> (bad input, naming the flag).</summary>
    private static IReplaySink OpenFoxglove(ReplaySinkRequest r)
    {
        FoxgloveEndpoint endpoint = FoxgloveEndpoint.Parse(r.Foxglove, r.FoxgloveToken);
        FoxgloveServer server;
        try { server = FoxgloveServer.Start(endpoint, $"roborl replay ({Path.GetFileName(r.Log.Path)})"); }
        catch (System.Net.Sockets.SocketException e)
        {
            throw new FormatException($"--foxglove {r.Foxglove}: cannot listen on {endpoint.Address}:{endpoint.Port}: {e.Message}");
        }
        r.Notice($"foxglove: serving {server.Url}{(server.NeedsToken ? "/?token=…" : "")} (Foxglove: Open connection → Foxglove WebSocket)");
        return new FoxgloveReplaySink(server, r.Log, r.Options.Topics);
    }

    private static IReplaySink OpenRos2(ReplaySinkRequest r)
    {
        Ros2Node node;
        try { node = new Ros2Node("roborl_replay"); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or Ros2.Native.DdsException)
        {
            throw new RobotLinkException($"cannot start ROS 2 (Cyclone DDS, libddsc): {e.Message}", e);
        }
        var sink = new Ros2ReplaySink(node, ownsNode: true);
        sink.Advertise(r.Log, r.Options.Topics);
        return sink;
    }

    /// <summary>"embedded" or HOST:PORT → (host, port); null host for the embedded broker; a bad value is a <see cref="FormatException"/>.</summary>
    public static (string? Host, int Port) ParseBroker(string broker)
    {
        if (broker == "embedded") return (null, 1883);
        int colon = broker.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(broker[(colon + 1)..], out int port) || port is <= 0 or > 65535)
            throw new FormatException($"--broker {broker}: expected HOST:PORT or 'embedded'");
        return (broker[..colon], port);
    }

    private static IReplaySink OpenMqtt(ReplaySinkRequest r)
    {
        var (host, port) = ParseBroker(r.Broker);
        try { return host is null ? MqttReplaySink.StartEmbedded(port, r.MqttPrefix) : MqttReplaySink.Connect(host, port, r.MqttPrefix); }
        catch (IOException e) { throw new RobotLinkException(e.Message, e); }
    }
}
