using RoboRl.Core.Messages;
using RoboRl.Ros2.Native;
using RoboRl.Ros2.Types;

namespace RoboRl.Ros2;

/// <summary>
/// A DDS writer on a ROS 2 topic. Every message goes the same way: its CDR encoding (from the hot struct's codec or
/// <see cref="CdrDynamic"/>) is laid out as idlc's C struct and handed to <c>dds_write</c>, which serializes it again
/// on the wire. Thread-safe; allocation-free after warm-up for hot structs.
/// </summary>
public abstract unsafe class Ros2Publisher : Ros2Entity
{
    private readonly CSample _sample;
    private protected readonly CdrWriter _writer = new(256);
    private protected readonly object _gate = new();
    private long _published;

    private protected Ros2Publisher(Ros2Node node, string topic, MsgDefinition type, QosProfile qos) : base(node, topic, type, qos)
    {
        _sample = new CSample(DdsTypeSupport.For(type));
        Create(dataAvailable: false);
    }

    private protected Ros2Publisher(Ros2Node node, string ddsTopic, string rosTopic, MsgDefinition type, QosProfile qos)
        : base(node, ddsTopic, rosTopic, type, qos)
    {
        _sample = new CSample(DdsTypeSupport.For(type));
        Create(dataAvailable: false);
    }

    public override bool IsPublisher => true;
    public long PublishedCount => Interlocked.Read(ref _published);

    /// <summary>
    /// Publishes a complete CDR payload (4-byte encapsulation header, then the fields) of this topic's type, e.g. a
    /// message read from an MCAP file. A payload that does not decode as the type throws <see cref="CdrFormatException"/>.
    /// </summary>
    public void PublishCdr(ReadOnlySpan<byte> cdr)
    {
        lock (_gate) WriteLocked(cdr);
    }

    private protected void WriteLocked(ReadOnlySpan<byte> cdr)
    {
        byte* sample = _sample.Load(cdr);
        int ret = Dds.dds_write(Handle, sample);
        if (ret < 0) Dds.Check(ret, $"write on '{DdsTopic}'"); // the message text is built only on failure
        Interlocked.Increment(ref _published);
    }

    private protected override void OnDisposed() => _sample.Dispose();
}

/// <summary>A publisher of a hot-path struct type (<see cref="ICdrMessage{T}"/>).</summary>
public sealed class Publisher<T> : Ros2Publisher where T : struct, ICdrMessage<T>
{
    internal Publisher(Ros2Node node, string topic, MsgDefinition type, QosProfile qos) : base(node, topic, type, qos) { }

    public void Publish(in T message)
    {
        lock (_gate)
        {
            _writer.Reset();
            message.WriteFields(_writer);
            WriteLocked(_writer.WrittenSpan);
        }
    }
}

/// <summary>A publisher of any registered type, by name.</summary>
public sealed class DynamicPublisher : Ros2Publisher
{
    internal DynamicPublisher(Ros2Node node, string topic, MsgDefinition type, QosProfile qos) : base(node, topic, type, qos) { }

    internal DynamicPublisher(Ros2Node node, string ddsTopic, string rosTopic, MsgDefinition type, QosProfile qos)
        : base(node, ddsTopic, rosTopic, type, qos) { }

    public void Publish(DynamicMessage message)
    {
        if (message.Definition.FullName != Type.FullName)
            throw new ArgumentException($"message is {message.Definition.FullName}, topic {Topic} carries {Type.FullName}");
        lock (_gate) WriteLocked(CdrDynamic.Write(_writer, message));
    }
}
