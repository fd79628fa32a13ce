using System.Runtime.InteropServices;
using RoboRl.Core.Messages;
using RoboRl.Ros2.Native;

namespace RoboRl.Ros2;

/// <summary>A QoS mismatch Cyclone DDS reported: a remote endpoint on the same topic could not be matched.</summary>
/// <param name="TotalCount">Incompatible endpoints seen so far on this publisher or subscription.</param>
/// <param name="LastPolicyId">The DDS QoS policy id that failed last (11 = reliability, 2 = durability; DDS spec table 2.65).</param>
public readonly record struct IncompatibleQosEvent(string Topic, int TotalCount, int LastPolicyId)
{
    public string PolicyName => LastPolicyId switch
    {
        2 => "durability",
        4 => "deadline",
        6 => "latency budget",
        7 => "ownership",
        8 => "liveliness",
        11 => "reliability",
        12 => "destination order",
        23 => "data representation",
        _ => $"policy {LastPolicyId}",
    };
}

/// <summary>What publishers and subscriptions share: topic, type, QoS, matching and QoS-mismatch reporting.</summary>
public abstract unsafe class Ros2Entity : IDisposable
{
    private GCHandle _self;
    private IntPtr _listener;
    private int _incompatibleQosCount;
    private bool _disposed;

    private protected Ros2Entity(Ros2Node node, string topic, MsgDefinition type, QosProfile qos)
    {
        Node = node;
        (Topic, DdsTopic) = node.ResolveTopic(topic);
        Type = type;
        Qos = qos;
    }

    /// <summary>For <c>ros_discovery_info</c> and graph tools: topics outside the <c>rt/</c> convention.</summary>
    private protected Ros2Entity(Ros2Node node, string ddsTopic, string rosTopic, MsgDefinition type, QosProfile qos)
    {
        Node = node;
        Topic = rosTopic;
        DdsTopic = ddsTopic;
        Type = type;
        Qos = qos;
    }

    public Ros2Node Node { get; }
    /// <summary>The fully qualified ROS topic name, e.g. <c>/cf1/pose</c>.</summary>
    public string Topic { get; }
    /// <summary>The DDS topic name, e.g. <c>rt/cf1/pose</c>.</summary>
    public string DdsTopic { get; }
    public MsgDefinition Type { get; }
    public QosProfile Qos { get; }
    internal int Handle { get; private set; }
    /// <summary>The DDS GUID of the reader or writer (the ROS 2 gid of this endpoint).</summary>
    public byte[] Guid { get; private set; } = [];
    public abstract bool IsPublisher { get; }

    /// <summary>Remote (or local) endpoints this one could not match because of their QoS.</summary>
    public int IncompatibleQosCount => Volatile.Read(ref _incompatibleQosCount);
    /// <summary>Raised on a Cyclone DDS thread each time a QoS mismatch is found.</summary>
    public event Action<IncompatibleQosEvent>? IncompatibleQos;

    /// <summary>Creates the reader or writer; called by the derived constructor once its own state is ready.</summary>
    private protected void Create(bool dataAvailable)
    {
        int topic = Node.Topic(DdsTopic, Type);
        _self = GCHandle.Alloc(this);
        _listener = Dds.dds_create_listener(GCHandle.ToIntPtr(_self));
        if (IsPublisher) Dds.dds_lset_offered_incompatible_qos(_listener, &OnIncompatibleQos);
        else Dds.dds_lset_requested_incompatible_qos(_listener, &OnIncompatibleQos);
        if (dataAvailable) Dds.dds_lset_data_available(_listener, &OnDataAvailable);

        var qos = Dds.dds_create_qos();
        try
        {
            Dds.dds_qset_reliability(qos, Qos.Reliability == Reliability.Reliable ? 1 : 0, 100_000_000 /* 100 ms, Cyclone's default */);
            Dds.dds_qset_durability(qos, Qos.Durability == Durability.TransientLocal ? 1 : 0);
            Dds.dds_qset_history(qos, 0 /* keep last */, Math.Max(1, Qos.Depth));
            if (IsPublisher) Dds.dds_qset_writer_data_lifecycle(qos, false); // rmw_cyclonedds: autodispose off
            Handle = IsPublisher
                ? Dds.Check(Dds.dds_create_writer(Node.Participant, topic, qos, _listener), $"create writer on '{DdsTopic}'")
                : Dds.Check(Dds.dds_create_reader(Node.Participant, topic, qos, _listener), $"create reader on '{DdsTopic}'");
        }
        catch
        {
            Dds.dds_delete_listener(_listener);
            _listener = IntPtr.Zero;
            _self.Free();
            throw;
        }
        finally { Dds.dds_delete_qos(qos); }
        Guid = Ros2Node.GetGuid(Handle);
        OnCreated();
    }

    private protected virtual void OnCreated() { }
    private protected virtual void OnDeleting() { }

    /// <summary>Endpoints on the other side currently matched.</summary>
    public int MatchedCount
    {
        get
        {
            DdsMatchedStatus s;
            int ret = IsPublisher ? Dds.dds_get_publication_matched_status(Handle, &s) : Dds.dds_get_subscription_matched_status(Handle, &s);
            Dds.Check(ret, "get matched status");
            return (int)s.CurrentCount;
        }
    }

    /// <summary>
    /// Waits until at least <paramref name="count"/> endpoints have matched (discovery takes a moment; on volatile
    /// topics a message published before the match is lost). Returns false on timeout.
    /// </summary>
    public bool WaitForMatch(TimeSpan timeout, int count = 1)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (MatchedCount < count)
        {
            if (Environment.TickCount64 > deadline) return false;
            Thread.Sleep(1);
        }
        return true;
    }

    private protected virtual void DataAvailable() { }

    [UnmanagedCallersOnly]
    private static void OnDataAvailable(int reader, IntPtr arg)
    {
        if (GCHandle.FromIntPtr(arg).Target is Ros2Entity e && !e._disposed) e.DataAvailable();
    }

    [UnmanagedCallersOnly]
    private static void OnIncompatibleQos(int entity, DdsIncompatibleQosStatus status, IntPtr arg)
    {
        if (GCHandle.FromIntPtr(arg).Target is not Ros2Entity e) return;
        Volatile.Write(ref e._incompatibleQosCount, (int)status.TotalCount);
        try { e.IncompatibleQos?.Invoke(new IncompatibleQosEvent(e.Topic, (int)status.TotalCount, (int)status.LastPolicyId)); }
        catch (Exception) { /* a handler's failure must not unwind into Cyclone's thread */ }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        OnDeleting();
        if (Handle > 0) Dds.dds_delete(Handle); // returns after any listener call in progress has finished
        if (_listener != IntPtr.Zero) Dds.dds_delete_listener(_listener);
        if (_self.IsAllocated) _self.Free();
        OnDisposed();
        Node.Remove(this);
    }

    private protected virtual void OnDisposed() { }

    public override string ToString() => $"{(IsPublisher ? "publisher" : "subscription")} {Topic} [{Type.RosTypeName}] ({Qos})";
}
