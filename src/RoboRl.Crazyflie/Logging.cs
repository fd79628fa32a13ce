using System.Buffers.Binary;
using System.Text;

namespace RoboRl.Crazyflie;

/// <summary>Types of log variables as the log TOC reports them (crazyflie-firmware src/modules/interface/log.h).</summary>
public enum LogVariableType : byte
{
    UInt8 = 1, UInt16 = 2, UInt32 = 3, Int8 = 4, Int16 = 5, Int32 = 6, Float = 7, Float16 = 8,
}

/// <summary>One entry of the log table of contents: <c>group.name</c>, its 16-bit id and type.</summary>
public readonly record struct LogTocEntry(ushort Id, LogVariableType Type, string Group, string Name)
{
    public string FullName => $"{Group}.{Name}";
}

/// <summary>A log data packet: block id, the firmware's 24-bit millisecond timestamp, the packed values.</summary>
public readonly ref struct LogDataPacket(byte blockId, uint timestampMs, ReadOnlySpan<byte> values)
{
    public byte BlockId { get; } = blockId;
    public uint TimestampMs { get; } = timestampMs;
    public ReadOnlySpan<byte> Values { get; } = values;
}

/// <summary>
/// The logging port (5): TOC on channel 0, block control on channel 1, data on channel 2
/// (crazyflie-firmware src/modules/src/log.c: <c>TOC_CH</c>, <c>CONTROL_CH</c>, <c>LOG_CH</c>, the
/// <c>CMD_*</c> and <c>CONTROL_*</c> codes, <c>struct ops_setting_v2 { uint8 logType; uint16 id; }</c>).
/// Only the V2 (16-bit id) commands are built, as cflib does for current firmware.
/// </summary>
public static class Logging
{
    public const byte TocChannel = 0, ControlChannel = 1, DataChannel = 2;
    public const byte CmdGetItemV2 = 2, CmdGetInfoV2 = 3;
    public const byte ControlDeleteBlock = 2, ControlStartBlock = 3, ControlStopBlock = 4, ControlReset = 5,
        ControlCreateBlockV2 = 6, ControlAppendBlockV2 = 7;
    /// <summary>Data bytes per log packet after block id and timestamp (log.c <c>LOG_MAX_LEN 26</c>).</summary>
    public const int MaxValueBytes = 26;
    /// <summary>Variables per create/append packet: (30 − command − block id) / 3 bytes each.</summary>
    public const int MaxVariablesPerPacket = (CrtpPacket.MaxDataLength - 2) / 3;

    public static int SizeOf(LogVariableType type) => type switch
    {
        LogVariableType.UInt8 or LogVariableType.Int8 => 1,
        LogVariableType.UInt16 or LogVariableType.Int16 or LogVariableType.Float16 => 2,
        LogVariableType.UInt32 or LogVariableType.Int32 or LogVariableType.Float => 4,
        _ => throw new CrtpFormatException($"log variable type {(byte)type} is unknown; expected 1..8"),
    };

    public static CrtpPacket GetTocInfo() => new(CrtpPort.Logging, TocChannel, [CmdGetInfoV2]);

    public static CrtpPacket GetTocItem(ushort id)
    {
        var p = new CrtpPacket(CrtpPort.Logging, TocChannel, [CmdGetItemV2]);
        p.AppendUInt16(id);
        return p;
    }

    /// <summary>Creates block <paramref name="blockId"/> with up to 9 variables (use <see cref="AppendBlock"/> for more).</summary>
    public static CrtpPacket CreateBlock(byte blockId, ReadOnlySpan<LogTocEntry> variables) =>
        BlockVariables(ControlCreateBlockV2, blockId, variables);

    public static CrtpPacket AppendBlock(byte blockId, ReadOnlySpan<LogTocEntry> variables) =>
        BlockVariables(ControlAppendBlockV2, blockId, variables);

    /// <summary>Starts a block; the firmware's period unit is 10 ms, so 10..2550 ms.</summary>
    public static CrtpPacket StartBlock(byte blockId, int periodMs)
    {
        if (periodMs < 10 || periodMs > 2550 || periodMs % 10 != 0)
            throw new ArgumentOutOfRangeException(nameof(periodMs), periodMs, "log period must be a multiple of 10 ms in 10..2550");
        return new CrtpPacket(CrtpPort.Logging, ControlChannel, [ControlStartBlock, blockId, (byte)(periodMs / 10)]);
    }

    public static CrtpPacket StopBlock(byte blockId) => new(CrtpPort.Logging, ControlChannel, [ControlStopBlock, blockId]);
    public static CrtpPacket DeleteBlock(byte blockId) => new(CrtpPort.Logging, ControlChannel, [ControlDeleteBlock, blockId]);
    public static CrtpPacket Reset() => new(CrtpPort.Logging, ControlChannel, [ControlReset]);

    /// <summary>Parses a TOC info reply: variable count and TOC CRC (used by cflib to cache the TOC).</summary>
    public static (ushort Count, uint Crc) ParseTocInfo(in CrtpPacket packet)
    {
        ReadOnlySpan<byte> d = Expect(packet, TocChannel, CmdGetInfoV2, minLength: 7);
        return (BinaryPrimitives.ReadUInt16LittleEndian(d[1..]), BinaryPrimitives.ReadUInt32LittleEndian(d[3..]));
    }

    /// <summary>Parses a TOC item reply: <c>[cmd, id(2), type, group\0, name\0]</c>.</summary>
    public static LogTocEntry ParseTocItem(in CrtpPacket packet)
    {
        ReadOnlySpan<byte> d = Expect(packet, TocChannel, CmdGetItemV2, minLength: 4);
        if (d.Length == 1) throw new CrtpFormatException("log TOC item reply is empty: the requested id is past the end of the TOC");
        ushort id = BinaryPrimitives.ReadUInt16LittleEndian(d[1..]);
        var type = (LogVariableType)(d[3] & 0x0F);
        (string group, string name) = TocStrings.ParseGroupAndName(d[4..], "log TOC item");
        return new LogTocEntry(id, type, group, name);
    }

    /// <summary>Parses a control reply <c>[command, block id, errno]</c>; errno 0 is success.</summary>
    public static (byte Command, byte BlockId, byte Errno) ParseControlReply(in CrtpPacket packet)
    {
        if (packet.Port != CrtpPort.Logging || packet.Channel != ControlChannel)
            throw new CrtpFormatException($"not a log control reply: {packet.Port}/{packet.Channel}");
        ReadOnlySpan<byte> d = packet.ReadOnlyData;
        if (d.Length < 3) throw new CrtpFormatException($"log control reply has {d.Length} bytes; expected 3");
        return (d[0], d[1], d[2]);
    }

    /// <summary>Parses a data packet: <c>[block id, timestamp (uint24 LE, ms), values…]</c>.</summary>
    public static LogDataPacket ParseData(in CrtpPacket packet)
    {
        if (packet.Port != CrtpPort.Logging || packet.Channel != DataChannel)
            throw new CrtpFormatException($"not a log data packet: {packet.Port}/{packet.Channel}; expected Logging/2");
        ReadOnlySpan<byte> d = packet.ReadOnlyData;
        if (d.Length < 4) throw new CrtpFormatException($"log data packet has {d.Length} bytes; expected at least 4 (block id + timestamp)");
        uint timestamp = (uint)(d[1] | d[2] << 8 | d[3] << 16);
        return new LogDataPacket(d[0], timestamp, d[4..]);
    }

    /// <summary>Reads one value of <paramref name="type"/> at the start of <paramref name="bytes"/>.</summary>
    public static double ReadValue(LogVariableType type, ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < SizeOf(type))
            throw new CrtpFormatException($"log value of type {type} needs {SizeOf(type)} bytes; {bytes.Length} left");
        return type switch
        {
            LogVariableType.UInt8 => bytes[0],
            LogVariableType.Int8 => (sbyte)bytes[0],
            LogVariableType.UInt16 => BinaryPrimitives.ReadUInt16LittleEndian(bytes),
            LogVariableType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(bytes),
            LogVariableType.UInt32 => BinaryPrimitives.ReadUInt32LittleEndian(bytes),
            LogVariableType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(bytes),
            LogVariableType.Float => BinaryPrimitives.ReadSingleLittleEndian(bytes),
            LogVariableType.Float16 => (double)BinaryPrimitives.ReadHalfLittleEndian(bytes),
            _ => throw new CrtpFormatException($"log variable type {(byte)type} is unknown; expected 1..8"),
        };
    }

    private static CrtpPacket BlockVariables(byte command, byte blockId, ReadOnlySpan<LogTocEntry> variables)
    {
        if (variables.Length == 0 || variables.Length > MaxVariablesPerPacket)
            throw new ArgumentOutOfRangeException(nameof(variables), variables.Length, $"a block packet carries 1..{MaxVariablesPerPacket} variables");
        var p = new CrtpPacket(CrtpPort.Logging, ControlChannel, [command, blockId]);
        foreach (LogTocEntry v in variables)
        {
            p.AppendByte((byte)v.Type);
            p.AppendUInt16(v.Id);
        }
        return p;
    }

    private static ReadOnlySpan<byte> Expect(in CrtpPacket packet, byte channel, byte command, int minLength)
    {
        if (packet.Port != CrtpPort.Logging || packet.Channel != channel)
            throw new CrtpFormatException($"expected a Logging/{channel} packet, got {packet.Port}/{packet.Channel}");
        ReadOnlySpan<byte> d = packet.ReadOnlyData;
        if (d.Length == 0 || d[0] != command)
            throw new CrtpFormatException($"expected log command {command}, got {(d.Length == 0 ? "nothing" : d[0].ToString())}");
        if (d.Length != 1 && d.Length < minLength)
            throw new CrtpFormatException($"log reply to command {command} has {d.Length} bytes; expected at least {minLength}");
        return d;
    }
}

/// <summary>
/// cflib-style log configuration: a named block of variables sampled every <see cref="PeriodMs"/>
/// (cflib crazyflie/log.py <c>LogConfig(name, period_in_ms)</c>, <c>add_variable</c>).
/// </summary>
public sealed class LogConfig(string name, int periodMs)
{
    private readonly List<LogTocEntry> _variables = [];

    public string Name { get; } = name;
    public int PeriodMs { get; } = periodMs;
    public IReadOnlyList<LogTocEntry> Variables => _variables;
    public int ValueBytes => _variables.Sum(v => Logging.SizeOf(v.Type));

    /// <summary>Adds a variable found in the TOC; a block's values must fit one packet (26 bytes).</summary>
    public void AddVariable(LogTocEntry entry)
    {
        if (ValueBytes + Logging.SizeOf(entry.Type) > Logging.MaxValueBytes)
            throw new InvalidOperationException(
                $"log block '{Name}' would carry {ValueBytes + Logging.SizeOf(entry.Type)} bytes; at most {Logging.MaxValueBytes} fit in one packet");
        _variables.Add(entry);
    }

    /// <summary>The packets that create this block: one create, then appends for more than 9 variables.</summary>
    public IEnumerable<CrtpPacket> CreatePackets(byte blockId)
    {
        LogTocEntry[] all = [.. _variables];
        for (int start = 0; start < all.Length; start += Logging.MaxVariablesPerPacket)
        {
            ReadOnlySpan<LogTocEntry> chunk = all.AsSpan(start, Math.Min(Logging.MaxVariablesPerPacket, all.Length - start));
            yield return start == 0 ? Logging.CreateBlock(blockId, chunk) : Logging.AppendBlock(blockId, chunk);
        }
    }

    /// <summary>Decodes a data packet's values in the order the variables were added.</summary>
    public void ReadValues(LogDataPacket data, Span<double> values)
    {
        if (data.Values.Length != ValueBytes)
            throw new CrtpFormatException($"log block '{Name}' data has {data.Values.Length} bytes; expected {ValueBytes}");
        int offset = 0;
        for (int i = 0; i < _variables.Count; i++)
        {
            values[i] = Logging.ReadValue(_variables[i].Type, data.Values[offset..]);
            offset += Logging.SizeOf(_variables[i].Type);
        }
    }
}

internal static class TocStrings
{
    /// <summary>Reads <c>group\0name\0</c> as both TOCs encode names.</summary>
    public static (string Group, string Name) ParseGroupAndName(ReadOnlySpan<byte> bytes, string what)
    {
        int groupEnd = bytes.IndexOf((byte)0);
        if (groupEnd < 0) throw new CrtpFormatException($"{what}: group name is not NUL-terminated");
        ReadOnlySpan<byte> rest = bytes[(groupEnd + 1)..];
        int nameEnd = rest.IndexOf((byte)0);
        if (nameEnd < 0) throw new CrtpFormatException($"{what}: variable name is not NUL-terminated");
        return (Encoding.ASCII.GetString(bytes[..groupEnd]), Encoding.ASCII.GetString(rest[..nameEnd]));
    }
}
