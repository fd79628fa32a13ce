using System.Runtime.InteropServices;
using RoboRl.Core.Messages;
using RoboRl.Ros2.Native;
using RoboRl.Ros2.Types;

namespace RoboRl.Ros2;

/// <summary>
/// A ROS 2 node on a real ROS 2 network, without a ROS 2 install: one Cyclone DDS participant speaking
/// rmw_cyclonedds' conventions (topic <c>/x</c> is DDS topic <c>rt/x</c>, type <c>pkg::msg::dds_::Name_</c>, XCDR1,
/// keyless topics, autodispose off, <c>ROS_DOMAIN_ID</c>), announced on <c>ros_discovery_info</c> so
/// <c>ros2 node list</c> and <c>ros2 topic list/echo</c> see it. Shaped like rclcpp: create publishers and
/// subscriptions on the node; dispose the node to leave the network.
/// </summary>
public sealed unsafe class Ros2Node : IDisposable
{
    private static readonly object DomainGate = new();
    private static readonly HashSet<int> ConfiguredDomains = [];

    private readonly Dictionary<string, (int Topic, MsgDefinition Type)> _topics = new(StringComparer.Ordinal);
    private readonly List<Ros2Entity> _entities = [];
    private readonly object _gate = new();
    private readonly Ros2Discovery? _discovery;
    private bool _disposed;

    public Ros2Node(string name, string @namespace = "/", Ros2Options? options = null)
    {
        Options = options ?? new Ros2Options();
        if (string.IsNullOrEmpty(name) || !IsValidName(name))
            throw new ArgumentException($"node name '{name}': expected letters, digits and '_', not starting with a digit", nameof(name));
        Name = name;
        Namespace = NormalizeNamespace(@namespace);
        DomainId = Options.DomainId ?? Ros2Options.DomainIdFromEnvironment();
        if (DomainId is < 0 or > 232) throw new ArgumentException($"domain id {DomainId}: expected 0..232");

        Dds.EnsureLoaded();
        DdsLog.Install();
        ConfigureDomain(DomainId, Options.CycloneConfigXml);

        // rmw_cyclonedds puts "enclave=<enclave>;" into the participant's user data (the ROS 2 security enclave).
        var qos = Dds.dds_create_qos();
        try
        {
            var userData = "enclave=/;"u8;
            fixed (byte* p = userData) Dds.dds_qset_userdata(qos, p, (nuint)userData.Length);
            Participant = Dds.Check(Dds.dds_create_participant((uint)DomainId, qos, IntPtr.Zero), $"create participant on domain {DomainId}");
        }
        finally { Dds.dds_delete_qos(qos); }
        Guid = GetGuid(Participant);
        if (Options.AnnounceNode) _discovery = new Ros2Discovery(this);
    }

    public string Name { get; }
    public string Namespace { get; }
    /// <summary><c>/ns/name</c>.</summary>
    public string FullyQualifiedName => Namespace == "/" ? "/" + Name : $"{Namespace}/{Name}";
    public int DomainId { get; }
    public Ros2Options Options { get; }
    internal int Participant { get; }
    /// <summary>The participant's 16-byte DDS GUID (its ROS 2 gid, zero-padded to the distro's Gid size).</summary>
    public byte[] Guid { get; }

    /// <summary>Publishers and subscriptions created on this node (what ros_discovery_info announces).</summary>
    public IReadOnlyList<Ros2Entity> Entities { get { lock (_gate) return _entities.ToArray(); } }

    /// <summary>A publisher of a hot-path struct type, e.g. <c>CreatePublisher&lt;TwistMsg&gt;("cmd_vel")</c>.</summary>
    public Publisher<T> CreatePublisher<T>(string topic, QosProfile? qos = null) where T : struct, ICdrMessage<T> =>
        Add(new Publisher<T>(this, topic, Options.Registry.Get(T.TypeName), qos ?? QosProfile.Default));

    /// <summary>A publisher of any registered type by name (<c>pkg/Type</c> or <c>pkg/msg/Type</c>), sending <see cref="DynamicMessage"/>s or raw CDR.</summary>
    public DynamicPublisher CreatePublisher(string topic, string typeName, QosProfile? qos = null) =>
        Add(new DynamicPublisher(this, topic, Options.Registry.Get(typeName), qos ?? QosProfile.Default));

    /// <summary>
    /// A subscription of a hot-path struct type. With a callback, messages are delivered on a Cyclone DDS thread as
    /// they arrive; without one, call <see cref="Subscription{T}.TryTake"/>.
    /// </summary>
    public Subscription<T> CreateSubscription<T>(string topic, QosProfile? qos = null, MessageHandler<T>? callback = null)
        where T : struct, ICdrMessage<T> =>
        Add(new Subscription<T>(this, topic, Options.Registry.Get(T.TypeName), qos ?? QosProfile.Default, callback));

    /// <summary>A subscription of any registered type by name, decoded into <see cref="DynamicMessage"/>s.</summary>
    public DynamicSubscription CreateSubscription(string topic, string typeName, QosProfile? qos = null, Action<DynamicMessage>? callback = null) =>
        Add(new DynamicSubscription(this, topic, Options.Registry.Get(typeName), qos ?? QosProfile.Default, callback));

    /// <summary>A subscription that hands over each payload's CDR bytes unchanged (recorders: straight into MCAP).</summary>
    public RawSubscription CreateRawSubscription(string topic, string typeName, QosProfile? qos = null, RawMessageHandler? callback = null) =>
        Add(new RawSubscription(this, topic, Options.Registry.Get(typeName), qos ?? QosProfile.Default, callback));

    private T Add<T>(T entity) where T : Ros2Entity
    {
        lock (_gate) _entities.Add(entity);
        _discovery?.Publish();
        return entity;
    }

    internal void Remove(Ros2Entity entity)
    {
        bool removed;
        lock (_gate) removed = _entities.Remove(entity);
        if (removed && !_disposed) _discovery?.Publish();
    }

    /// <summary>
    /// The fully qualified ROS name of <paramref name="topic"/> (relative names go under the node's namespace, <c>~/</c>
    /// under the node) and its DDS topic name (<c>rt</c> + the ROS name).
    /// </summary>
    public (string RosName, string DdsName) ResolveTopic(string topic)
    {
        if (string.IsNullOrEmpty(topic)) throw new ArgumentException("topic name is empty");
        string ros = topic.StartsWith('/') ? topic
            : topic.StartsWith("~/", StringComparison.Ordinal) ? $"{FullyQualifiedName}/{topic[2..]}"
            : Namespace == "/" ? "/" + topic : $"{Namespace}/{topic}";
        foreach (var part in ros[1..].Split('/'))
            if (!IsValidName(part)) throw new ArgumentException($"topic '{topic}': '{part}' is not a valid ROS name token");
        return (ros, "rt" + ros);
    }

    /// <summary>The DDS topic for a name, created once per participant (a name carries one type).</summary>
    internal int Topic(string ddsName, MsgDefinition type)
    {
        lock (_gate)
        {
            if (_topics.TryGetValue(ddsName, out var existing))
            {
                if (existing.Type != type)
                    throw new ArgumentException($"topic '{ddsName}' is already used with type {existing.Type.RosTypeName} on this node, not {type.RosTypeName}");
                return existing.Topic;
            }
            var support = DdsTypeSupport.For(type);
            var name = DdsTypeSupport.Utf8(ddsName);
            try
            {
                int topic = Dds.Check(Dds.dds_create_topic(Participant, support.Descriptor, name, IntPtr.Zero, IntPtr.Zero),
                    $"create topic '{ddsName}' ({type.DdsTypeName})");
                _topics[ddsName] = (topic, type);
                return topic;
            }
            finally { NativeMemory.Free(name); }
        }
    }

    internal static byte[] GetGuid(int entity)
    {
        DdsGuid guid;
        Dds.Check(Dds.dds_get_guid(entity, &guid), "get guid");
        return new ReadOnlySpan<byte>(guid.V, 16).ToArray();
    }

    private static void ConfigureDomain(int domain, string? xml)
    {
        if (xml is null) return;
        lock (DomainGate)
        {
            if (!ConfiguredDomains.Add(domain)) return;
            var config = DdsTypeSupport.Utf8(xml);
            try
            {
                int ret = Dds.dds_create_domain((uint)domain, config);
                // Already created in this process (by another node, possibly with CYCLONEDDS_URI) is fine.
                if (ret < 0 && ret != -4 /* DDS_RETCODE_PRECONDITION_NOT_MET */)
                    Dds.Check(ret, $"create domain {domain} with the given Cyclone DDS configuration");
            }
            finally { NativeMemory.Free(config); }
        }
    }

    private static bool IsValidName(string s) =>
        s.Length > 0 && !char.IsAsciiDigit(s[0]) && s.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    private static string NormalizeNamespace(string ns)
    {
        if (string.IsNullOrEmpty(ns) || ns == "/") return "/";
        if (!ns.StartsWith('/')) ns = "/" + ns;
        ns = ns.TrimEnd('/');
        foreach (var part in ns[1..].Split('/'))
            if (!IsValidName(part)) throw new ArgumentException($"namespace '{ns}': '{part}' is not a valid ROS name token");
        return ns;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var e in Entities) e.Dispose();
        _discovery?.Dispose();
        Dds.dds_delete(Participant); // deletes topics, readers and writers still inside
    }

    public override string ToString() => $"{FullyQualifiedName} (domain {DomainId})";
}
