using RoboRl.Core.Messages;

namespace RoboRl.Ros2;

/// <summary>
/// Announces a node on <c>ros_discovery_info</c> the way rmw_cyclonedds does, so <c>ros2 node list</c> shows it and
/// <c>ros2 node info</c> lists its topics: one <c>rmw_dds_common/ParticipantEntitiesInfo</c> per participant
/// (reliable, transient-local, keep-last 1; DDS topic name without the <c>rt/</c> prefix), re-sent whenever the node
/// gains or loses a publisher or subscription. Gids are the DDS GUIDs, zero-padded to 24 bytes (Humble) or 16 (Jazzy).
/// </summary>
public sealed class Ros2Discovery : IDisposable
{
    public const string DdsTopicName = "ros_discovery_info";

    private readonly Ros2Node _node;
    private readonly DynamicPublisher _publisher;
    private readonly MsgDefinition _info;
    private readonly object _gate = new();

    internal Ros2Discovery(Ros2Node node)
    {
        _node = node;
        Registry = RegistryFor(node.Options.Distro);
        _info = Registry.Get(RosTypes.ParticipantEntitiesInfo);
        _publisher = new DynamicPublisher(node, DdsTopicName, "/" + DdsTopicName, _info, QosProfile.DiscoveryInfo);
        Publish();
    }

    /// <summary>The registry holding the distro's rmw_dds_common types.</summary>
    public MessageRegistry Registry { get; }

    /// <summary>Bytes in a Gid: 24 on Humble (rmw_gid_t's RMW_GID_STORAGE_SIZE then), 16 from Jazzy on.</summary>
    public static int GidSize(RosDistro distro) => distro == RosDistro.Humble ? 24 : 16;

    /// <summary>The default registry for Humble; for Jazzy a registry whose Gid is <c>char[16]</c>.</summary>
    public static MessageRegistry RegistryFor(RosDistro distro)
    {
        if (distro == RosDistro.Humble) return MessageRegistry.Default;
        lock (JazzyGate)
        {
            if (_jazzy is not null) return _jazzy;
            var r = new MessageRegistry();
            r.Register(RosTypes.Gid, "char[16] data", "ros2/rmw_dds_common (jazzy) rmw_dds_common/msg/Gid.msg");
            foreach (var name in new[] { RosTypes.NodeEntitiesInfo, RosTypes.ParticipantEntitiesInfo })
            {
                var d = MessageRegistry.Default.Get(name);
                r.Register(name, d.Text, d.Source.Replace("(humble)", "(jazzy)"));
            }
            r.Get(RosTypes.ParticipantEntitiesInfo);
            return _jazzy = r;
        }
    }

    private static readonly object JazzyGate = new();
    private static MessageRegistry? _jazzy;

    /// <summary>The gid of a 16-byte GUID: the GUID then zeros up to the distro's size (rmw_cyclonedds' convert_guid_to_gid).</summary>
    public static byte[] ToGid(ReadOnlySpan<byte> guid, RosDistro distro)
    {
        var gid = new byte[GidSize(distro)];
        guid[..Math.Min(16, gid.Length)].CopyTo(gid);
        return gid;
    }

    /// <summary>The current announcement, as it goes on the wire.</summary>
    public DynamicMessage BuildInfo()
    {
        var distro = _node.Options.Distro;
        var gidDef = Registry.Get(RosTypes.Gid);
        DynamicMessage Gid(byte[] guid) => DynamicMessage.Create(gidDef).Set("data", ToGid(guid, distro));

        var entities = _node.Entities;
        var nodeInfo = DynamicMessage.Create(Registry.Get(RosTypes.NodeEntitiesInfo))
            .Set("node_namespace", _node.Namespace)
            .Set("node_name", _node.Name)
            .Set("reader_gid_seq", entities.Where(e => !e.IsPublisher).Select(e => Gid(e.Guid)).ToArray())
            .Set("writer_gid_seq", entities.Where(e => e.IsPublisher).Select(e => Gid(e.Guid)).ToArray());
        return DynamicMessage.Create(_info)
            .Set("gid", Gid(_node.Guid))
            .Set("node_entities_info_seq", new[] { nodeInfo });
    }

    /// <summary>A subscription to <c>ros_discovery_info</c> with rmw's QoS: how graph tools see every node on the domain.</summary>
    public static DynamicSubscription CreateDiscoverySubscription(Ros2Node node, MsgDefinition participantEntitiesInfo, Action<DynamicMessage> callback) =>
        new(node, DdsTopicName, "/" + DdsTopicName, participantEntitiesInfo, QosProfile.DiscoveryInfo, callback);

    internal void Publish()
    {
        lock (_gate) _publisher.Publish(BuildInfo());
    }

    public void Dispose() => _publisher.Dispose();
}
