using System.Text;
using RoboRl.Foxglove;
using RoboRl.Logs;

namespace RoboRl.Replay;

/// <summary>
/// `roborl replay LOG --foxglove [ADDR:]PORT`: plays a log to Foxglove viewers over the Foxglove WebSocket protocol, each
/// topic with the log's own schema and encoding and each message's recorded bytes (receive time = log time). A log
/// recorded without a scene gets one, drawn from its /pose, /setpoint, /odom, /scan and /goal_pose
/// (<see cref="SceneBuilder"/>; no geofence: the log does not carry it). A real-time sink: a slow viewer loses frames,
/// counted, and the replay keeps the log's pace.
/// </summary>
public sealed class FoxgloveReplaySink : IReplaySink
{
    private readonly FoxgloveServer _server;
    private readonly Dictionary<ushort, int> _channels = [];
    private readonly SceneBuilder? _scene;
    private readonly int _sceneChannel;
    private ulong _nextSceneNs;

    public FoxgloveReplaySink(FoxgloveServer server, FlightLog log, IReadOnlyCollection<string>? topics)
    {
        _server = server;
        foreach (McapMessage m in log.Messages)
        {
            if (_channels.ContainsKey(m.Channel.Id) || (topics is not null && !topics.Contains(m.Channel.Topic))) continue;
            McapSchema? schema = m.Schema;
            _channels[m.Channel.Id] = server.Advertise(m.Channel.Topic, m.Channel.MessageEncoding, schema?.Name ?? "",
                schema is null ? "" : Encoding.UTF8.GetString(schema.Data.Span), schema?.Encoding ?? "");
        }
        if (!log.ChannelsByTopic.ContainsKey(SceneBuilder.Topic) && (topics is null || topics.Contains(SceneBuilder.Topic)))
        {
            _scene = new SceneBuilder();
            _sceneChannel = server.Advertise(SceneBuilder.Topic, McapConstants.JsonMessageEncoding, SceneBuilder.SchemaName,
                SceneBuilder.JsonSchema, McapConstants.JsonSchemaEncoding);
        }
    }

    public FoxgloveServer Server => _server;
    public bool RealTime => true;

    public void Write(in McapMessage message)
    {
        if (_channels.TryGetValue(message.Channel.Id, out int id)) _server.Publish(id, message.LogTime, message.Data.Span);
        if (_scene is null || message.Channel.MessageEncoding != McapConstants.CdrMessageEncoding) return;
        _scene.Observe(message.Channel.Topic, message.Data.Span);
        if (!_scene.HasContent || message.LogTime < _nextSceneNs) return;
        _nextSceneNs = message.LogTime + 50_000_000; // 20 Hz, as the node records it
        _server.Publish(_sceneChannel, message.LogTime, _scene.Build(message.LogTime));
    }

    public void Dispose() => _server.Dispose();
}
