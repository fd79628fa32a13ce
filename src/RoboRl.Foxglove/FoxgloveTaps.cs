using System.Text;
using RoboRl.Core.Messages;
using RoboRl.Logs;

namespace RoboRl.Foxglove;

/// <summary>
/// Serves what a <see cref="McapWriter"/> records to Foxglove viewers: each channel advertised with the log's topic,
/// schema name, schema text and encodings, each message's bytes as written. Runs on the writer's thread (the node's
/// recorder thread), never on the tick. Once a second, when viewers have dropped frames since the last report, it records
/// a warning on /diagnostics (so the log and the viewers both show it).
/// </summary>
public sealed class FoxgloveTap(FoxgloveServer server) : IMcapTap
{
    private int[] _serverChannel = new int[16]; // by MCAP channel id
    private ushort _diagnostics;
    private ulong _nextReportNs;
    private long _reportedDropped;

    public void ChannelAdded(McapChannel channel, McapSchema? schema)
    {
        if (_serverChannel.Length <= channel.Id) System.Array.Resize(ref _serverChannel, channel.Id * 2);
        string text = schema is null ? "" : Encoding.UTF8.GetString(schema.Data.Span);
        _serverChannel[channel.Id] = server.Advertise(channel.Topic, channel.MessageEncoding, schema?.Name ?? "", text, schema?.Encoding ?? "");
        if (channel.Topic == "/diagnostics" && schema is not null && schema.Name.EndsWith("DiagnosticArray", StringComparison.Ordinal))
            _diagnostics = channel.Id;
    }

    public void MessageWritten(McapChannel channel, ulong logTimeNs, ReadOnlySpan<byte> payload)
    {
        if (channel.Id < _serverChannel.Length && _serverChannel[channel.Id] is int id and > 0) server.Publish(id, logTimeNs, payload);
    }

    public void AfterMessage(McapWriter writer, ulong logTimeNs)
    {
        if (logTimeNs < _nextReportNs) return;
        _nextReportNs = logTimeNs + 1_000_000_000;
        long dropped = server.FramesDropped;
        if (dropped == _reportedDropped || _diagnostics == 0) return;
        long since = dropped - _reportedDropped;
        _reportedDropped = dropped;
        writer.WriteMessage(_diagnostics, logTimeNs, logTimeNs, DropReport(logTimeNs, since, dropped, server.Viewers));
    }

    /// <summary>diagnostic_msgs/DiagnosticArray: one WARN status "roborl_node: foxglove" with the counts.</summary>
    public static DynamicMessage DropReport(ulong timeNs, long since, long total, int viewers)
    {
        MessageRegistry registry = MessageRegistry.Default;
        DynamicMessage KeyValue(string key, string value) => DynamicMessage.Create(registry.Get(RosTypes.KeyValue)).Set("key", key).Set("value", value);
        DynamicMessage status = DynamicMessage.Create(registry.Get(RosTypes.DiagnosticStatus))
            .Set("level", (byte)1) // diagnostic_msgs/DiagnosticStatus WARN
            .Set("name", "roborl_node: foxglove")
            .Set("message", $"a slow Foxglove viewer dropped {since} frames ({total} in all)")
            .Set("hardware_id", "")
            .Set("values", new[] { KeyValue("frames_dropped", total.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                KeyValue("viewers", viewers.ToString(System.Globalization.CultureInfo.InvariantCulture)) });
        DynamicMessage header = DynamicMessage.Create(registry.Get(RosTypes.Header));
        header.Get<DynamicMessage>("stamp").Set("sec", (int)(timeNs / 1_000_000_000)).Set("nanosec", (uint)(timeNs % 1_000_000_000));
        header.Set("frame_id", "world");
        return DynamicMessage.Create(registry.Get(RosTypes.DiagnosticArray)).Set("header", header).Set("status", new[] { status });
    }
}

/// <summary>
/// Adds the 3D scene (<see cref="SceneBuilder"/>) to what a <see cref="McapWriter"/> records: /scene
/// (foxglove.SceneUpdate, JSON) at <paramref name="rateHz"/> of log time, from the vehicle's recorded state. Added before
/// a <see cref="FoxgloveTap"/>'s writer registers its channels, it is recorded and served like every other topic.
/// </summary>
public sealed class SceneTap(SceneBuilder scene, double rateHz = 20) : IMcapTap
{
    private readonly ulong _periodNs = (ulong)(1e9 / rateHz);
    private ushort _channel;
    private ulong _nextNs;

    public void ChannelAdded(McapChannel channel, McapSchema? schema) { }

    public void MessageWritten(McapChannel channel, ulong logTimeNs, ReadOnlySpan<byte> payload)
    {
        if (channel.Id != _channel) scene.Observe(channel.Topic, payload);
    }

    public void AfterMessage(McapWriter writer, ulong logTimeNs)
    {
        if (_channel == 0)
        {
            ushort schema = writer.RegisterSchema(SceneBuilder.SchemaName, McapConstants.JsonSchemaEncoding, Encoding.UTF8.GetBytes(SceneBuilder.JsonSchema));
            _channel = writer.RegisterChannel(schema, SceneBuilder.Topic, McapConstants.JsonMessageEncoding,
                new Dictionary<string, string> { ["offered_qos_profiles"] = "" });
        }
        if (!scene.HasContent || logTimeNs < _nextNs) return;
        _nextNs = logTimeNs + _periodNs;
        writer.WriteMessage(_channel, logTimeNs, logTimeNs, scene.Build(logTimeNs));
    }
}
