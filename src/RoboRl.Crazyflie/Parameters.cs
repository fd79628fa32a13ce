using System.Buffers.Binary;
using System.Text;

namespace RoboRl.Crazyflie;

/// <summary>
/// A parameter's type byte (crazyflie-firmware src/modules/interface/param.h): bits 0–1 size
/// (1, 2, 4, 8 bytes), bit 2 float, bit 3 unsigned, bit 5 core, bit 6 read-only.
/// </summary>
public readonly record struct ParamType(byte Raw)
{
    public int Size => 1 << (Raw & 0x03);
    public bool IsFloat => (Raw & 0x04) != 0;
    public bool IsUnsigned => (Raw & 0x08) != 0;
    public bool IsReadOnly => (Raw & 0x40) != 0;
    /// <summary>The type without the flag bits, as <c>PARAM_FLOAT</c>, <c>PARAM_UINT8</c>… are defined.</summary>
    public byte Value => (byte)(Raw & 0x0F);

    public static readonly ParamType UInt8 = new(0x08), Int8 = new(0x00), UInt16 = new(0x09), Int16 = new(0x01),
        UInt32 = new(0x0A), Int32 = new(0x02), Float = new(0x06);
}

public readonly record struct ParamTocEntry(ushort Id, ParamType Type, string Group, string Name)
{
    public string FullName => $"{Group}.{Name}";
}

/// <summary>
/// The parameter port (2): TOC on channel 0, read on 1, write on 2, misc on 3
/// (crazyflie-firmware src/modules/src/param_logic.c: <c>TOC_CH</c>, <c>READ_CH</c>, <c>WRITE_CH</c>,
/// <c>MISC_CH</c>, <c>MISC_SETBYNAME</c>; V2 16-bit ids as <c>paramReadProcess</c>/<c>paramWriteProcess</c>
/// use once a client asked for the V2 TOC).
/// </summary>
public static class Parameters
{
    public const byte TocChannel = 0, ReadChannel = 1, WriteChannel = 2, MiscChannel = 3;
    public const byte CmdGetItemV2 = 2, CmdGetInfoV2 = 3, MiscSetByName = 0;

    public static CrtpPacket GetTocInfo() => new(CrtpPort.Param, TocChannel, [CmdGetInfoV2]);

    public static CrtpPacket GetTocItem(ushort id)
    {
        var p = new CrtpPacket(CrtpPort.Param, TocChannel, [CmdGetItemV2]);
        p.AppendUInt16(id);
        return p;
    }

    public static CrtpPacket Read(ushort id)
    {
        var p = new CrtpPacket(CrtpPort.Param, ReadChannel);
        p.AppendUInt16(id);
        return p;
    }

    /// <summary>Writes <paramref name="value"/> encoded as <paramref name="type"/>: <c>[id(2), value]</c>.</summary>
    public static CrtpPacket Write(ushort id, ParamType type, double value)
    {
        var p = new CrtpPacket(CrtpPort.Param, WriteChannel);
        p.AppendUInt16(id);
        Span<byte> v = stackalloc byte[8];
        p.Append(v[..EncodeValue(type, value, v)]);
        return p;
    }

    /// <summary>Set by name on the misc channel: <c>[0, group\0, name\0, type, value]</c>.</summary>
    public static CrtpPacket SetByName(string group, string name, ParamType type, double value)
    {
        var p = new CrtpPacket(CrtpPort.Param, MiscChannel, [MiscSetByName]);
        p.Append(Encoding.ASCII.GetBytes(group)); p.AppendByte(0);
        p.Append(Encoding.ASCII.GetBytes(name)); p.AppendByte(0);
        p.AppendByte(type.Value);
        Span<byte> v = stackalloc byte[8];
        p.Append(v[..EncodeValue(type, value, v)]);
        return p;
    }

    public static (ushort Count, uint Crc) ParseTocInfo(in CrtpPacket packet)
    {
        ReadOnlySpan<byte> d = Expect(packet, TocChannel);
        if (d[0] != CmdGetInfoV2 || d.Length < 7) throw new CrtpFormatException($"param TOC info reply malformed ({d.Length} bytes)");
        return (BinaryPrimitives.ReadUInt16LittleEndian(d[1..]), BinaryPrimitives.ReadUInt32LittleEndian(d[3..]));
    }

    public static ParamTocEntry ParseTocItem(in CrtpPacket packet)
    {
        ReadOnlySpan<byte> d = Expect(packet, TocChannel);
        if (d[0] != CmdGetItemV2) throw new CrtpFormatException($"expected param TOC item reply (command {CmdGetItemV2}), got command {d[0]}");
        if (d.Length == 1) throw new CrtpFormatException("param TOC item reply is empty: the requested id is past the end of the TOC");
        if (d.Length < 4) throw new CrtpFormatException($"param TOC item reply has {d.Length} bytes; expected at least 4");
        (string group, string name) = TocStrings.ParseGroupAndName(d[4..], "param TOC item");
        return new ParamTocEntry(BinaryPrimitives.ReadUInt16LittleEndian(d[1..]), new ParamType(d[3]), group, name);
    }

    /// <summary>Parses a read reply <c>[id(2), status, value]</c>; a non-zero status (errno) is an error.</summary>
    public static (ushort Id, double Value) ParseReadReply(in CrtpPacket packet, ParamType type)
    {
        ReadOnlySpan<byte> d = Expect(packet, ReadChannel);
        if (d.Length < 3) throw new CrtpFormatException($"param read reply has {d.Length} bytes; expected at least 3");
        ushort id = BinaryPrimitives.ReadUInt16LittleEndian(d);
        if (d[2] != 0) throw new CrtpFormatException($"param {id}: the Crazyflie answered errno {d[2]}");
        if (d.Length != 3 + type.Size) throw new CrtpFormatException($"param {id} read reply carries {d.Length - 3} value bytes; expected {type.Size}");
        return (id, DecodeValue(type, d[3..]));
    }

    public static double DecodeValue(ParamType type, ReadOnlySpan<byte> bytes) => (type.IsFloat, type.Size, type.IsUnsigned) switch
    {
        (true, 4, _) => BinaryPrimitives.ReadSingleLittleEndian(bytes),
        (true, 8, _) => BinaryPrimitives.ReadDoubleLittleEndian(bytes),
        (false, 1, true) => bytes[0],
        (false, 1, false) => (sbyte)bytes[0],
        (false, 2, true) => BinaryPrimitives.ReadUInt16LittleEndian(bytes),
        (false, 2, false) => BinaryPrimitives.ReadInt16LittleEndian(bytes),
        (false, 4, true) => BinaryPrimitives.ReadUInt32LittleEndian(bytes),
        (false, 4, false) => BinaryPrimitives.ReadInt32LittleEndian(bytes),
        (false, 8, true) => BinaryPrimitives.ReadUInt64LittleEndian(bytes),
        (false, 8, false) => BinaryPrimitives.ReadInt64LittleEndian(bytes),
        _ => throw new CrtpFormatException($"param type 0x{type.Raw:X2} is not a known layout"),
    };

    private static int EncodeValue(ParamType type, double value, Span<byte> destination)
    {
        switch (type.IsFloat, type.Size, type.IsUnsigned)
        {
            case (true, 4, _): BinaryPrimitives.WriteSingleLittleEndian(destination, (float)value); return 4;
            case (true, 8, _): BinaryPrimitives.WriteDoubleLittleEndian(destination, value); return 8;
            case (false, 1, true): destination[0] = checked((byte)value); return 1;
            case (false, 1, false): destination[0] = unchecked((byte)checked((sbyte)value)); return 1;
            case (false, 2, true): BinaryPrimitives.WriteUInt16LittleEndian(destination, checked((ushort)value)); return 2;
            case (false, 2, false): BinaryPrimitives.WriteInt16LittleEndian(destination, checked((short)value)); return 2;
            case (false, 4, true): BinaryPrimitives.WriteUInt32LittleEndian(destination, checked((uint)value)); return 4;
            case (false, 4, false): BinaryPrimitives.WriteInt32LittleEndian(destination, checked((int)value)); return 4;
            default: throw new CrtpFormatException($"param type 0x{type.Raw:X2} cannot be written");
        }
    }

    private static ReadOnlySpan<byte> Expect(in CrtpPacket packet, byte channel)
    {
        if (packet.Port != CrtpPort.Param || packet.Channel != channel)
            throw new CrtpFormatException($"expected a Param/{channel} packet, got {packet.Port}/{packet.Channel}");
        if (packet.Length == 0) throw new CrtpFormatException($"Param/{channel} packet is empty");
        return packet.ReadOnlyData;
    }
}
