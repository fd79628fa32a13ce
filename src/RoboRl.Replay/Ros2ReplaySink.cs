using System.Text.RegularExpressions;
using RoboRl.Core.Messages;
using RoboRl.Logs;
using RoboRl.Ros2;

namespace RoboRl.Replay;

/// <summary>
/// Publishes each message's recorded CDR bytes unchanged on its recorded topic, with the recorded type (types the
/// registry lacks are registered from the log's ros2msg schema) and the recorded QoS (the channel's
/// offered_qos_profiles: reliability, durability, depth).
/// </summary>
public sealed partial class Ros2ReplaySink(Ros2Node node, bool ownsNode = false) : IReplaySink
{
    private readonly Dictionary<ushort, DynamicPublisher> _publishers = new();

    /// <summary>Creates the publishers of the channels that will be played, before playing (so subscribers can match first).</summary>
    public void Advertise(FlightLog log, IReadOnlyCollection<string>? topics = null)
    {
        foreach (McapMessage m in log.Messages)
            if ((topics is null || topics.Contains(m.Channel.Topic)) && IsRos2(m) && !_publishers.ContainsKey(m.Channel.Id)) Publisher(in m);
    }

    // Foxglove's own topics in a log (the 3D scene: JSON) have no ROS 2 type to publish them as.
    private static bool IsRos2(in McapMessage m) => m.Channel.MessageEncoding == McapConstants.CdrMessageEncoding;

    /// <summary>Waits until every publisher has at least one matched subscriber (false on timeout).</summary>
    public bool WaitForSubscribers(TimeSpan timeout) => _publishers.Values.All(p => p.WaitForMatch(timeout));

    public void Write(in McapMessage message)
    {
        if (IsRos2(in message)) Publisher(in message).PublishCdr(message.Data.Span);
    }

    /// <summary>ROS 2 subscribers want messages on time: behind the log's pace a message is dropped (counted), unless --wait.</summary>
    public bool RealTime => true;

    private DynamicPublisher Publisher(in McapMessage message)
    {
        if (_publishers.TryGetValue(message.Channel.Id, out DynamicPublisher? publisher)) return publisher;
        McapSchema schema = message.Schema ?? throw new FlightLogException($"{message.Channel.Topic}: the log has no schema for this channel");
        if (!node.Options.Registry.TryGet(schema.Name, out _))
            node.Options.Registry.RegisterRos2MsgSchema(schema.Name, schema.DataText);
        publisher = node.CreatePublisher(message.Channel.Topic, schema.Name, RecordedQos(message.Channel));
        _publishers[message.Channel.Id] = publisher;
        return publisher;
    }

    /// <summary>The first offered profile of a rosbag2 channel (reliability 1 = reliable, 2 = best effort; durability 1 = transient local).</summary>
    public static QosProfile RecordedQos(McapChannel channel)
    {
        if (!channel.Metadata.TryGetValue("offered_qos_profiles", out string? yaml) || yaml.Length == 0) return QosProfile.Default;
        int Field(string name, int fallback) => FieldRegex(name).Match(yaml) is { Success: true } m ? int.Parse(m.Groups[1].Value) : fallback;
        return new QosProfile(Field("reliability", 1) == 2 ? Reliability.BestEffort : Reliability.Reliable,
            Field("durability", 2) == 1 ? Durability.TransientLocal : Durability.Volatile, Math.Max(1, Field("depth", 10)));
    }

    private static Regex FieldRegex(string name) => new($@"(?m)^\s*-?\s*{name}:\s*(\d+)");

    public void Dispose()
    {
        foreach (DynamicPublisher p in _publishers.Values) p.Dispose();
        if (ownsNode) node.Dispose();
    }
}
