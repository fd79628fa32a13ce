using System.Buffers.Binary;

namespace RoboRl.Serial;

/// <summary>Running counts of a receiver (PROTOCOL.md "Receiver error classes" and "Sequence numbers").</summary>
public readonly record struct LinkCounters(
    long FramesOk, long CrcErrors, long FramingErrors, long Oversize, long BadVersion, long UnknownType,
    long BadLength, long Duplicates, long OutOfOrder, long Lost, long Resyncs, long BytesReceived)
{
    /// <summary>Frames rejected for any reason (sequence rejections included).</summary>
    public long Rejected => CrcErrors + FramingErrors + Oversize + BadVersion + UnknownType + BadLength + Duplicates + OutOfOrder;
}

/// <summary>A decoded, in-sequence frame. Its payload lives in the decoder and is valid until the next TryDecode.</summary>
public readonly ref struct LinkFrame
{
    public MessageType Type { get; }
    public FrameFlags Flags { get; }
    public ushort Sequence { get; }
    public ReadOnlySpan<byte> Payload { get; }

    internal LinkFrame(MessageType type, FrameFlags flags, ushort sequence, ReadOnlySpan<byte> payload)
    {
        Type = type;
        Flags = flags;
        Sequence = sequence;
        Payload = payload;
    }

    public HeartbeatMessage ReadHeartbeat() => Payloads.ReadHeartbeat(Payload);
    public StateMessage ReadState() => Payloads.ReadState(Payload);
    public ActuatorCommand ReadActuatorCommand() => Payloads.ReadActuatorCommand(Payload);
    public int ObservationCount => Payloads.ObservationCount(Payload);
    public int ReadObservation(Span<float> destination) => Payloads.ReadObservation(Payload, destination);
    public ActionMessage ReadAction() => Payloads.ReadAction(Payload);
    public ParamSetMessage ReadParamSet() => Payloads.ReadParamSet(Payload);
    public ParamAckMessage ReadParamAck() => Payloads.ReadParamAck(Payload);
    public StatusMessage ReadStatus() => Payloads.ReadStatus(Payload);
}

/// <summary>
/// Incremental receiver: feed it byte chunks of any size and pull out valid, in-sequence frames.
/// It never throws on input, never waits for more than the next 0x00 to resynchronise, holds at most
/// one raw frame (MaxRawFrame bytes), and allocates nothing after construction. Every rejected frame
/// is counted in exactly one class. Single-threaded: one reader feeds it.
/// <code>
/// ReadOnlySpan&lt;byte&gt; chunk = ...;
/// while (decoder.TryDecode(ref chunk, out LinkFrame frame)) { switch (frame.Type) { ... } }
/// </code>
/// </summary>
public sealed class FrameDecoder
{
    private readonly byte[] _buf = new byte[LinkProtocol.MaxRawFrame];
    private int _len;            // decoded bytes of the current frame
    private int _code;           // current COBS block code
    private int _remaining;      // data bytes left in the block
    private bool _pendingZero;   // a block ended below 0xFF: a zero follows unless the frame ends
    private bool _started;       // any byte of this frame seen
    private bool _discarding;    // oversize: drop up to the next delimiter
    private bool _haveSequence;
    private ushort _lastSequence;

    private long _framesOk, _crcErrors, _framingErrors, _oversize, _badVersion, _unknownType, _badLength,
        _duplicates, _outOfOrder, _lost, _resyncs, _bytes;

    public LinkCounters Counters => new(_framesOk, _crcErrors, _framingErrors, _oversize, _badVersion, _unknownType,
        _badLength, _duplicates, _outOfOrder, _lost, _resyncs, _bytes);

    /// <summary>Decoded bytes held for the frame in progress (never more than MaxRawFrame).</summary>
    public int BufferedBytes => _len;

    /// <summary>Forgets the frame in progress and the sequence history (counters stay).</summary>
    public void Reset()
    {
        ResetFrame();
        _discarding = false;
        _haveSequence = false;
    }

    /// <summary>
    /// Consumes bytes from <paramref name="input"/> until one valid frame completes (true; input then
    /// holds the bytes after it) or the input is used up (false).
    /// </summary>
    public bool TryDecode(ref ReadOnlySpan<byte> input, out LinkFrame frame)
    {
        int i = 0;
        while (i < input.Length)
        {
            byte b = input[i++];
            if (b == LinkProtocol.Delimiter)
            {
                bool ok = false;
                if (_discarding) _discarding = false;
                else if (_started) ok = FinishFrame(); // 0x00 0x00: an empty frame, ignored
                ResetFrame();
                if (ok)
                {
                    _bytes += i;
                    input = input[i..];
                    var buf = _buf;
                    ushort payloadLength = BinaryPrimitives.ReadUInt16LittleEndian(buf.AsSpan(5));
                    frame = new LinkFrame((MessageType)buf[1], (FrameFlags)buf[2], BinaryPrimitives.ReadUInt16LittleEndian(buf.AsSpan(3)),
                        buf.AsSpan(LinkProtocol.HeaderSize, payloadLength));
                    return true;
                }
                continue;
            }
            if (_discarding) continue;
            _started = true;
            if (_remaining == 0)
            {
                // A code byte: the previous block's implied zero is data only now that the frame goes on.
                if (_pendingZero && !Append(0)) continue;
                _code = b;
                _remaining = b - 1;
                _pendingZero = _remaining == 0 && b < 0xFF;
                continue;
            }
            if (!Append(b)) continue;
            if (--_remaining == 0) _pendingZero = _code < 0xFF;
        }
        _bytes += input.Length;
        input = ReadOnlySpan<byte>.Empty;
        frame = default;
        return false;
    }

    private bool Append(byte b)
    {
        if (_len >= _buf.Length)
        {
            _oversize++;
            _discarding = true;
            return false;
        }
        _buf[_len++] = b;
        return true;
    }

    private void ResetFrame()
    {
        _len = 0;
        _code = 0;
        _remaining = 0;
        _pendingZero = false;
        _started = false;
    }

    // The checks of PROTOCOL.md "Receiver error classes", in its order.
    private bool FinishFrame()
    {
        var frame = _buf.AsSpan(0, _len);
        if (_remaining != 0 || frame.Length < LinkProtocol.HeaderSize + LinkProtocol.CrcSize) { _framingErrors++; return false; }
        int body = frame.Length - LinkProtocol.CrcSize;
        if (Crc16.Compute(frame[..body]) != BinaryPrimitives.ReadUInt16LittleEndian(frame[body..])) { _crcErrors++; return false; }
        if (frame[0] != LinkProtocol.Version) { _badVersion++; return false; }
        int payloadLength = BinaryPrimitives.ReadUInt16LittleEndian(frame[5..]);
        if (payloadLength != body - LinkProtocol.HeaderSize) { _framingErrors++; return false; }
        var type = (MessageType)frame[1];
        if (type is < MessageType.Heartbeat or > MessageType.Status) { _unknownType++; return false; }
        if (!Payloads.IsValid(type, frame.Slice(LinkProtocol.HeaderSize, payloadLength))) { _badLength++; return false; }

        var flags = (FrameFlags)frame[2];
        ushort sequence = BinaryPrimitives.ReadUInt16LittleEndian(frame[3..]);
        if (_haveSequence)
        {
            short diff = unchecked((short)(ushort)(sequence - _lastSequence));
            if (diff == 0) { _duplicates++; return false; }
            if ((flags & FrameFlags.SequenceReset) == 0)
            {
                if (diff < 0 && diff >= -LinkProtocol.SequenceReplayWindow) { _outOfOrder++; return false; }
                if (diff < 0) _resyncs++;
                else _lost += diff - 1;
            }
        }
        _haveSequence = true;
        _lastSequence = sequence;
        _framesOk++;
        return true;
    }
}
