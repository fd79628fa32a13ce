using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace RoboRl.Crazyflie;

/// <summary>CRTP ports (crazyflie-firmware src/modules/interface/crtp.h, enum CRTPPort).</summary>
public enum CrtpPort : byte
{
    Console = 0,
    Param = 2,
    Commander = 3,
    Memory = 4,
    Logging = 5,
    Localization = 6,
    GenericCommander = 7,
    Platform = 13,
    LinkControl = 15,
}

/// <summary>The data bytes of one CRTP packet, stored inline so packets are plain values (no allocation).</summary>
[InlineArray(CrtpPacket.MaxDataLength)]
public struct CrtpPayload
{
    private byte _first;
}

/// <summary>Thrown when bytes do not form a valid CRTP packet or a packet does not have the layout its port expects.</summary>
public sealed class CrtpFormatException(string message) : Exception(message);

/// <summary>
/// One CRTP packet: a header byte <c>port &lt;&lt; 4 | link bits | channel</c> and at most 30 data bytes
/// (crazyflie-firmware crtp.h: <c>CRTP_MAX_DATA_SIZE 30</c>, <c>CRTP_HEADER(port, channel)</c>).
/// cflib also sets header bits 2–3 (cflib crtp/crtpstack.py, <c>CRTPPacket._update_header</c>); the
/// firmware ignores them, so <see cref="Encode"/> sets them like cflib and <see cref="Decode"/> accepts any value.
/// </summary>
public struct CrtpPacket
{
    public const int MaxDataLength = 30;
    public const int MaxEncodedLength = MaxDataLength + 1;
    private const byte LinkBits = 0b0000_1100;

    private CrtpPayload _data;

    public CrtpPort Port { get; }
    public byte Channel { get; }
    public int Length { get; private set; }

    public CrtpPacket(CrtpPort port, byte channel)
    {
        if ((byte)port > 15) throw new ArgumentOutOfRangeException(nameof(port), port, "CRTP port is 4 bits (0..15)");
        if (channel > 3) throw new ArgumentOutOfRangeException(nameof(channel), channel, "CRTP channel is 2 bits (0..3)");
        Port = port;
        Channel = channel;
    }

    public CrtpPacket(CrtpPort port, byte channel, ReadOnlySpan<byte> data) : this(port, channel) => Append(data);

    public readonly byte Header => (byte)(((byte)Port << 4) | LinkBits | Channel);

    /// <summary>The packet's data bytes (mutable view of the inline buffer, up to <see cref="Length"/>).</summary>
    [UnscopedRef]
    public Span<byte> Data => ((Span<byte>)_data)[..Length];

    [UnscopedRef]
    public readonly ReadOnlySpan<byte> ReadOnlyData => ((ReadOnlySpan<byte>)_data)[..Length];

    /// <summary>Appends bytes; a packet never grows past 30 data bytes.</summary>
    public void Append(ReadOnlySpan<byte> bytes)
    {
        if (Length + bytes.Length > MaxDataLength)
            throw new CrtpFormatException($"CRTP data would be {Length + bytes.Length} bytes; at most {MaxDataLength} fit in one packet");
        bytes.CopyTo(((Span<byte>)_data)[Length..]);
        Length += bytes.Length;
    }

    public void AppendByte(byte value) => Append([value]);

    public void AppendUInt16(ushort value)
    {
        Span<byte> b = stackalloc byte[2];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(b, value);
        Append(b);
    }

    public void AppendInt16(short value) => AppendUInt16(unchecked((ushort)value));

    public void AppendUInt32(uint value)
    {
        Span<byte> b = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        Append(b);
    }

    public void AppendSingle(float value)
    {
        Span<byte> b = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(b, value);
        Append(b);
    }

    /// <summary>Writes header + data; returns the number of bytes written.</summary>
    public readonly int Encode(Span<byte> destination)
    {
        if (destination.Length < 1 + Length)
            throw new ArgumentException($"destination holds {destination.Length} bytes; the packet needs {1 + Length}", nameof(destination));
        destination[0] = Header;
        ReadOnlyData.CopyTo(destination[1..]);
        return 1 + Length;
    }

    /// <summary>Parses header + data as received from a link.</summary>
    public static CrtpPacket Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length == 0) throw new CrtpFormatException("CRTP packet is empty; expected a header byte");
        if (bytes.Length > MaxEncodedLength)
            throw new CrtpFormatException($"CRTP packet is {bytes.Length} bytes; expected at most {MaxEncodedLength} (header + 30 data)");
        byte header = bytes[0];
        return new CrtpPacket((CrtpPort)(header >> 4), (byte)(header & 0x03), bytes[1..]);
    }

    public override readonly string ToString() =>
        $"CRTP {Port}/{Channel} [{Convert.ToHexString(ReadOnlyData)}]";
}
