using RoboRl.Core.Messages;
using RoboRl.Ros2.Native;

namespace RoboRl.Ros2;

/// <summary>Receives one message of a hot-path struct type.</summary>
public delegate void MessageHandler<T>(in T message);

/// <summary>Receives one payload's CDR bytes (valid only during the call) and the writer's source timestamp [ns since the epoch].</summary>
public delegate void RawMessageHandler(ReadOnlySpan<byte> cdr, long sourceTimestampNs);

/// <summary>
/// A DDS reader on a ROS 2 topic. Samples are taken as serialized data (<c>dds_takecdr</c>), copied out with
/// <c>ddsi_serdata_to_ser</c> and decoded by RoboRl's CDR decoders, so the exact bytes are also available (recorders).
/// A payload that does not decode is dropped and counted in <see cref="MalformedCount"/>, never thrown.
/// </summary>
public abstract unsafe class Ros2Subscription : Ros2Entity
{
    private readonly object _takeGate = new();
    private byte[] _buffer = new byte[256];
    private long _received, _malformed, _callbackErrors;
    private readonly bool _hasCallback;

    private protected Ros2Subscription(Ros2Node node, string topic, MsgDefinition type, QosProfile qos, bool hasCallback)
        : base(node, topic, type, qos)
    {
        _hasCallback = hasCallback;
    }

    private protected Ros2Subscription(Ros2Node node, string ddsTopic, string rosTopic, MsgDefinition type, QosProfile qos, bool hasCallback)
        : base(node, ddsTopic, rosTopic, type, qos)
    {
        _hasCallback = hasCallback;
    }

    private protected void Start()
    {
        Create(dataAvailable: _hasCallback);
        // A transient-local writer in this process hands its history to a transient-local reader inside
        // dds_create_reader, when the listener cannot take yet (no reader handle): deliver what is waiting now.
        if (_hasCallback && Qos.Durability == Durability.TransientLocal) Drain(int.MaxValue);
    }

    public override bool IsPublisher => false;
    /// <summary>Payloads decoded and delivered.</summary>
    public long ReceivedCount => Interlocked.Read(ref _received);
    /// <summary>
    /// Payloads dropped because they did not decode as the topic's type: wrong lengths or counts (rejected inside Cyclone
    /// DDS, seen through its log) and payloads Cyclone accepts but ROS 2 cannot read (e.g. XCDR2 encoding).
    /// </summary>
    public long MalformedCount => Interlocked.Read(ref _malformed);
    /// <summary>The decoder's message for the last malformed payload.</summary>
    public string? LastMalformedReason { get; private set; }
    /// <summary>Exceptions thrown by the callback (caught: they must not unwind into Cyclone's thread).</summary>
    public long CallbackErrorCount => Interlocked.Read(ref _callbackErrors);
    public Exception? LastCallbackError { get; private set; }

    /// <summary>Takes every waiting sample and delivers each; returns how many were delivered.</summary>
    private protected int Drain(int max)
    {
        int delivered = 0;
        lock (_takeGate)
        {
            while (delivered < max && TakeOne(out int length, out long timestamp))
            {
                try
                {
                    if (!Deliver(new ReadOnlySpan<byte>(_buffer, 0, length), timestamp)) continue;
                    delivered++;
                    Interlocked.Increment(ref _received);
                }
                catch (CdrFormatException e) { Malformed(e.Message); }
                catch (MsgDefinitionException e) { Malformed(e.Message); }
            }
        }
        return delivered;
    }

    /// <summary>Called by <see cref="Native.DdsLog"/> when Cyclone dropped a payload on this topic that did not fit the type.</summary>
    internal void DroppedByDds(string reason) => Malformed(reason);

    private protected override void OnCreated() => Native.DdsLog.Register(DdsTopic, this);
    private protected override void OnDeleting() => Native.DdsLog.Unregister(DdsTopic, this);

    private void Malformed(string reason)
    {
        LastMalformedReason = reason;
        Interlocked.Increment(ref _malformed);
    }

    private protected void CallbackFailed(Exception e)
    {
        LastCallbackError = e;
        Interlocked.Increment(ref _callbackErrors);
    }

    /// <summary>Decodes and hands over one payload; false when it was held for <see cref="TryTake"/>-style callers instead.</summary>
    private protected abstract bool Deliver(ReadOnlySpan<byte> cdr, long sourceTimestampNs);

    private bool TakeOne(out int length, out long sourceTimestamp)
    {
        while (true)
        {
            IntPtr serdata;
            DdsSampleInfo info;
            int n = Dds.dds_takecdr(Handle, &serdata, 1, &info, Dds.AnyState);
            if (n <= 0) { length = 0; sourceTimestamp = 0; return false; }
            try
            {
                if (!info.ValidData) continue; // an unregister/dispose notice, no payload
                length = (int)Dds.ddsi_serdata_size(serdata);
                if (length > _buffer.Length) _buffer = new byte[Math.Max(length, _buffer.Length * 2)];
                fixed (byte* p = _buffer) Dds.ddsi_serdata_to_ser(serdata, 0, (nuint)length, p);
                sourceTimestamp = info.SourceTimestamp;
                return true;
            }
            finally { Dds.ddsi_serdata_unref(serdata); }
        }
    }

    private protected override void DataAvailable() => Drain(int.MaxValue);
}

/// <summary>A subscription of a hot-path struct type: a callback, or <see cref="TryTake"/> when created without one.</summary>
public sealed class Subscription<T> : Ros2Subscription where T : struct, ICdrMessage<T>
{
    private readonly MessageHandler<T>? _callback;
    private readonly object _pollGate = new();
    private T _taken;

    internal Subscription(Ros2Node node, string topic, MsgDefinition type, QosProfile qos, MessageHandler<T>? callback)
        : base(node, topic, type, qos, callback is not null)
    {
        _callback = callback;
        Start();
    }

    /// <summary>Takes the oldest waiting message (malformed ones are skipped and counted).</summary>
    public bool TryTake(out T message)
    {
        if (_callback is not null) throw new InvalidOperationException($"{Topic}: this subscription delivers to its callback; TryTake is for subscriptions created without one");
        lock (_pollGate)
        {
            bool got = Drain(1) == 1;
            message = got ? _taken : default;
            return got;
        }
    }

    private protected override bool Deliver(ReadOnlySpan<byte> cdr, long sourceTimestampNs)
    {
        var message = Cdr.Read<T>(cdr);
        if (_callback is null) { _taken = message; return true; }
        try { _callback(in message); }
        catch (Exception e) { CallbackFailed(e); }
        return true;
    }
}

/// <summary>A subscription of any registered type, decoded into <see cref="DynamicMessage"/>s.</summary>
public sealed class DynamicSubscription : Ros2Subscription
{
    private readonly Action<DynamicMessage>? _callback;
    private readonly object _pollGate = new();
    private DynamicMessage? _taken;

    internal DynamicSubscription(Ros2Node node, string topic, MsgDefinition type, QosProfile qos, Action<DynamicMessage>? callback)
        : base(node, topic, type, qos, callback is not null)
    {
        _callback = callback;
        Start();
    }

    internal DynamicSubscription(Ros2Node node, string ddsTopic, string rosTopic, MsgDefinition type, QosProfile qos, Action<DynamicMessage>? callback)
        : base(node, ddsTopic, rosTopic, type, qos, callback is not null)
    {
        _callback = callback;
        Start();
    }

    public bool TryTake(out DynamicMessage message)
    {
        if (_callback is not null) throw new InvalidOperationException($"{Topic}: this subscription delivers to its callback; TryTake is for subscriptions created without one");
        lock (_pollGate)
        {
            bool got = Drain(1) == 1;
            message = got ? _taken! : null!;
            _taken = null;
            return got;
        }
    }

    private protected override bool Deliver(ReadOnlySpan<byte> cdr, long sourceTimestampNs)
    {
        var message = CdrDynamic.Read(Type, cdr);
        if (_callback is null) { _taken = message; return true; }
        try { _callback(message); }
        catch (Exception e) { CallbackFailed(e); }
        return true;
    }
}

/// <summary>
/// A subscription that passes each payload's bytes on unchanged (after checking that they decode as the topic's type,
/// so a recorder never stores what no reader could read).
/// </summary>
public sealed class RawSubscription : Ros2Subscription
{
    private RawMessageHandler? _handler;
    private readonly object _pollGate = new();
    private readonly Types.CSample _validator;

    internal RawSubscription(Ros2Node node, string topic, MsgDefinition type, QosProfile qos, RawMessageHandler? callback)
        : base(node, topic, type, qos, callback is not null)
    {
        _handler = callback;
        _validator = new Types.CSample(Types.DdsTypeSupport.For(type));
        Start();
    }

    /// <summary>Takes up to <paramref name="max"/> waiting payloads into <paramref name="handler"/> (poll mode).</summary>
    public int Take(RawMessageHandler handler, int max = int.MaxValue)
    {
        lock (_pollGate)
        {
            var saved = _handler;
            _handler = handler;
            try { return Drain(max); }
            finally { _handler = saved; }
        }
    }

    private protected override bool Deliver(ReadOnlySpan<byte> cdr, long sourceTimestampNs)
    {
        _validator.Validate(cdr);
        try { _handler?.Invoke(cdr, sourceTimestampNs); }
        catch (Exception e) { CallbackFailed(e); }
        return true;
    }

    private protected override void OnDisposed() => _validator.Dispose();
}
