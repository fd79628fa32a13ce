using System.Buffers.Binary;

namespace RoboRl.Serial;

/// <summary>
/// Encodes messages into wire frames (header, payload, CRC, COBS, 0x00) with the sender's sequence
/// counter. Each Encode returns a span over one reusable buffer, valid until the next call; nothing
/// is allocated per frame. Not thread-safe: one encoder per sending thread (SerialLink locks).
/// </summary>
public sealed class FrameEncoder
{
    private readonly byte[] _payload = new byte[LinkProtocol.MaxPayload];
    private readonly byte[] _wire = new byte[LinkProtocol.MaxWireFrame];
    private bool _started;

    /// <summary>Sequence number the next frame will carry.</summary>
    public ushort NextSequence { get; private set; }

    /// <summary>Sequence number of the last frame encoded.</summary>
    public ushort LastSequence => unchecked((ushort)(NextSequence - 1));

    public ReadOnlySpan<byte> Encode(scoped in HeartbeatMessage m) => Frame(MessageType.Heartbeat, Payloads.Write(m, _payload));
    public ReadOnlySpan<byte> Encode(scoped in StateMessage m) => Frame(MessageType.State, Payloads.Write(m, _payload));
    public ReadOnlySpan<byte> Encode(scoped in ActuatorCommand m) => Frame(MessageType.ActuatorCommand, Payloads.Write(m, _payload));
    public ReadOnlySpan<byte> Encode(scoped in ActionMessage m) => Frame(MessageType.Action, Payloads.Write(m, _payload));
    public ReadOnlySpan<byte> Encode(scoped in ParamSetMessage m) => Frame(MessageType.ParamSet, Payloads.Write(m, _payload));
    public ReadOnlySpan<byte> Encode(scoped in ParamAckMessage m) => Frame(MessageType.ParamAck, Payloads.Write(m, _payload));
    public ReadOnlySpan<byte> Encode(scoped in StatusMessage m) => Frame(MessageType.Status, Payloads.Write(m, _payload));
    public ReadOnlySpan<byte> EncodeObservation(ReadOnlySpan<float> observation) =>
        Frame(MessageType.Observation, Payloads.WriteObservation(observation, _payload));

    /// <summary>Encodes a payload written by the caller (any type id, for tests of the receiver).</summary>
    public ReadOnlySpan<byte> EncodeRaw(MessageType type, ReadOnlySpan<byte> payload)
    {
        payload.CopyTo(_payload);
        return Frame(type, payload.Length);
    }

    private ReadOnlySpan<byte> Frame(MessageType type, int payloadLength)
    {
        // The first frame after start carries SEQ_RESET so the receiver accepts whatever sequence it has.
        var flags = _started ? FrameFlags.None : FrameFlags.SequenceReset;
        int n = WriteFrame(type, flags, NextSequence, _payload.AsSpan(0, payloadLength), _wire);
        _started = true;
        NextSequence++;
        return _wire.AsSpan(0, n);
    }

    /// <summary>
    /// Stateless frame writer: returns the number of wire bytes written (delimiter included).
    /// Throws <see cref="ArgumentException"/> if the payload exceeds MaxPayload or the destination is too small.
    /// </summary>
    public static int WriteFrame(MessageType type, FrameFlags flags, ushort sequence, ReadOnlySpan<byte> payload, Span<byte> destination,
        byte version = LinkProtocol.Version)
    {
        if (payload.Length > LinkProtocol.MaxPayload)
            throw new ArgumentException($"payload of {payload.Length} bytes exceeds the maximum {LinkProtocol.MaxPayload}", nameof(payload));
        Span<byte> header = stackalloc byte[LinkProtocol.HeaderSize];
        header[0] = version;
        header[1] = (byte)type;
        header[2] = (byte)flags;
        BinaryPrimitives.WriteUInt16LittleEndian(header[3..], sequence);
        BinaryPrimitives.WriteUInt16LittleEndian(header[5..], (ushort)payload.Length);
        Span<byte> crc = stackalloc byte[LinkProtocol.CrcSize];
        BinaryPrimitives.WriteUInt16LittleEndian(crc, Crc16.Update(Crc16.Compute(header), payload));

        var cobs = new Cobs.Writer(destination);
        cobs.Append(header);
        cobs.Append(payload);
        cobs.Append(crc);
        int n = cobs.Finish();
        if (n < 0 || n >= destination.Length)
            throw new ArgumentException($"destination of {destination.Length} bytes is too small for this frame", nameof(destination));
        destination[n] = LinkProtocol.Delimiter;
        return n + 1;
    }
}
