using System.Buffers.Binary;
using System.Text;

namespace RoboRl.Logs;

// The MCAP container (mcap.dev/spec, "MCAP Format Specification"): magic, then records of
// opcode (1 byte) + content length (uint64 LE) + content; strings are uint32 length + UTF-8, byte arrays and
// maps/arrays carry a uint32 byte length (chunk records a uint64). All integers little-endian.

/// <summary>Record opcodes (MCAP spec, "Records").</summary>
public enum McapOpcode : byte
{
    Header = 0x01, Footer = 0x02, Schema = 0x03, Channel = 0x04, Message = 0x05, Chunk = 0x06,
    MessageIndex = 0x07, ChunkIndex = 0x08, Attachment = 0x09, AttachmentIndex = 0x0A, Statistics = 0x0B,
    Metadata = 0x0C, MetadataIndex = 0x0D, SummaryOffset = 0x0E, DataEnd = 0x0F,
}

/// <summary>Chunk compression; MCAP names them "" (none), "zstd", "lz4".</summary>
public enum McapCompression { None, Zstd }

public static class McapConstants
{
    /// <summary><c>89 4D 43 41 50 30 0D 0A</c>: "\x89MCAP0\r\n" at both ends of the file.</summary>
    public static ReadOnlySpan<byte> Magic => [0x89, 0x4D, 0x43, 0x41, 0x50, 0x30, 0x0D, 0x0A];
    public const int MagicSize = 8;
    /// <summary>Opcode + uint64 length.</summary>
    public const int RecordHeaderSize = 9;
    /// <summary>Footer content: summary_start, summary_offset_start (uint64 each), summary_crc (uint32).</summary>
    public const int FooterContentSize = 20;
    /// <summary>A complete footer record followed by the closing magic.</summary>
    public const int FooterAndMagicSize = RecordHeaderSize + FooterContentSize + MagicSize;
    public const string Ros2Profile = "ros2";
    public const string Ros2MsgSchemaEncoding = "ros2msg";
    public const string CdrMessageEncoding = "cdr";
    /// <summary>Foxglove's own schemas (a 3D scene: foxglove.SceneUpdate) ride in a ros2 log as JSON with a JSON schema, as
    /// Foxglove reads them; every other topic stays cdr/ros2msg.</summary>
    public const string JsonMessageEncoding = "json", JsonSchemaEncoding = "jsonschema";

    public static string CompressionName(McapCompression c) => c switch
    {
        McapCompression.None => "",
        McapCompression.Zstd => "zstd",
        _ => throw new ArgumentOutOfRangeException(nameof(c)),
    };
}

/// <summary>A file that is not valid MCAP at <see cref="Offset"/>; the message says what was expected.</summary>
public sealed class McapFormatException(string message, long offset, string? path = null)
    : Exception(path is null ? $"MCAP byte {offset}: {message}" : $"{path}: MCAP byte {offset}: {message}")
{
    public long Offset { get; } = offset;
    public string Reason { get; } = message;
}

public sealed record McapHeader(string Profile, string Library);

public sealed record McapSchema(ushort Id, string Name, string Encoding, ReadOnlyMemory<byte> Data)
{
    public string DataText => Encoding == McapConstants.Ros2MsgSchemaEncoding || Encoding == "ros1msg"
        ? System.Text.Encoding.UTF8.GetString(Data.Span) : $"<{Data.Length} bytes>";
}

public sealed record McapChannel(ushort Id, ushort SchemaId, string Topic, string MessageEncoding,
    IReadOnlyDictionary<string, string> Metadata);

/// <summary>One message; <see cref="Data"/> is the full CDR payload (encapsulation header included for ros2).</summary>
public readonly record struct McapMessage(McapChannel Channel, McapSchema? Schema, uint Sequence, ulong LogTime,
    ulong PublishTime, ReadOnlyMemory<byte> Data);

public sealed record McapChunkIndex(ulong MessageStartTime, ulong MessageEndTime, ulong ChunkStartOffset, ulong ChunkLength,
    IReadOnlyDictionary<ushort, ulong> MessageIndexOffsets, ulong MessageIndexLength, string Compression,
    ulong CompressedSize, ulong UncompressedSize);

public sealed record McapStatistics(ulong MessageCount, ushort SchemaCount, uint ChannelCount, uint AttachmentCount,
    uint MetadataCount, uint ChunkCount, ulong MessageStartTime, ulong MessageEndTime,
    IReadOnlyDictionary<ushort, ulong> ChannelMessageCounts);

public sealed record McapSummaryOffset(McapOpcode GroupOpcode, ulong GroupStart, ulong GroupLength);

public sealed record McapFooter(ulong SummaryStart, ulong SummaryOffsetStart, uint SummaryCrc);

/// <summary>A chunk's header fields (its records stay in the file).</summary>
public readonly record struct McapChunkHeader(ulong MessageStartTime, ulong MessageEndTime, ulong UncompressedSize,
    uint UncompressedCrc, string Compression, ulong RecordsLength, int RecordsOffsetInContent);

/// <summary>Growable little-endian byte buffer, reused between records so that steady-state writing allocates nothing.</summary>
internal sealed class McapBuffer(int capacity)
{
    private byte[] _data = new byte[Math.Max(capacity, 64)];
    public int Length { get; private set; }
    public ReadOnlySpan<byte> Span => _data.AsSpan(0, Length);
    public byte[] RawArray => _data;

    public void Clear() => Length = 0;

    public Span<byte> Reserve(int size)
    {
        if (Length + size > _data.Length)
        {
            var bigger = new byte[Math.Max(Length + size, _data.Length * 2)];
            _data.AsSpan(0, Length).CopyTo(bigger);
            _data = bigger;
        }
        var span = _data.AsSpan(Length, size);
        Length += size;
        return span;
    }

    public void U8(byte v) => Reserve(1)[0] = v;
    public void U16(ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(Reserve(2), v);
    public void U32(uint v) => BinaryPrimitives.WriteUInt32LittleEndian(Reserve(4), v);
    public void U64(ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(Reserve(8), v);
    public void Bytes(ReadOnlySpan<byte> v) => v.CopyTo(Reserve(v.Length));
    public void PatchU64(int at, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(_data.AsSpan(at, 8), v);
    public void PatchU32(int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(_data.AsSpan(at, 4), v);

    public void String(string s)
    {
        int n = Encoding.UTF8.GetByteCount(s);
        U32((uint)n);
        Encoding.UTF8.GetBytes(s, Reserve(n));
    }

    /// <summary>Starts a record; returns the position to pass to <see cref="EndRecord"/>.</summary>
    public int BeginRecord(McapOpcode op)
    {
        U8((byte)op);
        int lengthAt = Length;
        U64(0);
        return lengthAt;
    }

    public void EndRecord(int lengthAt) => PatchU64(lengthAt, (ulong)(Length - lengthAt - 8));
}

/// <summary>Bounds-checked little-endian reads over a record's content; every failure is a <see cref="McapFormatException"/>.</summary>
internal ref struct McapSpanReader(ReadOnlySpan<byte> data, long baseOffset, string what)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _pos;
    public readonly int Position => _pos;
    public readonly int Remaining => _data.Length - _pos;

    private ReadOnlySpan<byte> Take(int n, string field)
    {
        if (n < 0 || n > _data.Length - _pos)
            throw new McapFormatException($"{what}: field '{field}' needs {n} bytes, {_data.Length - _pos} left in the record", baseOffset + _pos);
        var s = _data.Slice(_pos, n);
        _pos += n;
        return s;
    }

    public byte U8(string field) => Take(1, field)[0];
    public ushort U16(string field) => BinaryPrimitives.ReadUInt16LittleEndian(Take(2, field));
    public uint U32(string field) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, field));
    public ulong U64(string field) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, field));

    public string String(string field)
    {
        uint n = U32(field);
        if (n > Remaining) throw new McapFormatException($"{what}: string '{field}' of {n} bytes, {Remaining} left", baseOffset + _pos - 4);
        try { return new UTF8Encoding(false, true).GetString(Take((int)n, field)); }
        catch (DecoderFallbackException) { throw new McapFormatException($"{what}: string '{field}' is not UTF-8", baseOffset + _pos - n); }
    }

    public ReadOnlySpan<byte> PrefixedBytes(string field)
    {
        uint n = U32(field);
        if (n > Remaining) throw new McapFormatException($"{what}: '{field}' of {n} bytes, {Remaining} left", baseOffset + _pos - 4);
        return Take((int)n, field);
    }

    public ReadOnlySpan<byte> Rest() => Take(Remaining, "data");

    public Dictionary<string, string> StringMap(string field)
    {
        var bytes = PrefixedBytes(field);
        var inner = new McapSpanReader(bytes, baseOffset + _pos - bytes.Length, what);
        var map = new Dictionary<string, string>();
        while (inner.Remaining > 0) map[inner.String(field + " key")] = inner.String(field + " value");
        return map;
    }

    public Dictionary<ushort, ulong> U16U64Map(string field)
    {
        var bytes = PrefixedBytes(field);
        if (bytes.Length % 10 != 0)
            throw new McapFormatException($"{what}: '{field}' map of {bytes.Length} bytes is not a multiple of 10", baseOffset + _pos - bytes.Length);
        var map = new Dictionary<ushort, ulong>();
        for (int i = 0; i < bytes.Length; i += 10)
            map[BinaryPrimitives.ReadUInt16LittleEndian(bytes[i..])] = BinaryPrimitives.ReadUInt64LittleEndian(bytes[(i + 2)..]);
        return map;
    }
}

/// <summary>Parses record contents into the public record types.</summary>
internal static class McapParse
{
    public static McapHeader Header(ReadOnlySpan<byte> c, long at)
    {
        var r = new McapSpanReader(c, at, "Header");
        return new McapHeader(r.String("profile"), r.String("library"));
    }

    public static McapSchema Schema(ReadOnlySpan<byte> c, long at)
    {
        var r = new McapSpanReader(c, at, "Schema");
        return new McapSchema(r.U16("id"), r.String("name"), r.String("encoding"), r.PrefixedBytes("data").ToArray());
    }

    public static McapChannel Channel(ReadOnlySpan<byte> c, long at)
    {
        var r = new McapSpanReader(c, at, "Channel");
        return new McapChannel(r.U16("id"), r.U16("schema_id"), r.String("topic"), r.String("message_encoding"), r.StringMap("metadata"));
    }

    /// <summary>The fixed part of a Message record; the payload is the rest of the content after 22 bytes.</summary>
    public static (ushort Channel, uint Sequence, ulong LogTime, ulong PublishTime) MessageHeader(ReadOnlySpan<byte> c, long at)
    {
        var r = new McapSpanReader(c, at, "Message");
        return (r.U16("channel_id"), r.U32("sequence"), r.U64("log_time"), r.U64("publish_time"));
    }

    public const int MessageHeaderSize = 2 + 4 + 8 + 8;

    public static McapChunkHeader ChunkHeader(ReadOnlySpan<byte> c, long at)
    {
        var r = new McapSpanReader(c, at, "Chunk");
        ulong start = r.U64("message_start_time"), end = r.U64("message_end_time"), size = r.U64("uncompressed_size");
        uint crc = r.U32("uncompressed_crc");
        string compression = r.String("compression");
        ulong recordsLength = r.U64("records length");
        if (recordsLength != (ulong)r.Remaining)
            throw new McapFormatException($"Chunk: records length {recordsLength} does not match the {r.Remaining} bytes left in the record", at + r.Position - 8);
        return new McapChunkHeader(start, end, size, crc, compression, recordsLength, r.Position);
    }

    public static (ushort Channel, List<(ulong LogTime, ulong Offset)> Entries) MessageIndex(ReadOnlySpan<byte> c, long at)
    {
        var r = new McapSpanReader(c, at, "MessageIndex");
        ushort channel = r.U16("channel_id");
        var bytes = r.PrefixedBytes("records");
        if (bytes.Length % 16 != 0)
            throw new McapFormatException($"MessageIndex: records of {bytes.Length} bytes is not a multiple of 16", at + 6);
        var list = new List<(ulong, ulong)>(bytes.Length / 16);
        for (int i = 0; i < bytes.Length; i += 16)
            list.Add((BinaryPrimitives.ReadUInt64LittleEndian(bytes[i..]), BinaryPrimitives.ReadUInt64LittleEndian(bytes[(i + 8)..])));
        return (channel, list);
    }

    public static McapChunkIndex ChunkIndex(ReadOnlySpan<byte> c, long at)
    {
        var r = new McapSpanReader(c, at, "ChunkIndex");
        return new McapChunkIndex(r.U64("message_start_time"), r.U64("message_end_time"), r.U64("chunk_start_offset"),
            r.U64("chunk_length"), r.U16U64Map("message_index_offsets"), r.U64("message_index_length"), r.String("compression"),
            r.U64("compressed_size"), r.U64("uncompressed_size"));
    }

    public static McapStatistics Statistics(ReadOnlySpan<byte> c, long at)
    {
        var r = new McapSpanReader(c, at, "Statistics");
        return new McapStatistics(r.U64("message_count"), r.U16("schema_count"), r.U32("channel_count"), r.U32("attachment_count"),
            r.U32("metadata_count"), r.U32("chunk_count"), r.U64("message_start_time"), r.U64("message_end_time"),
            r.U16U64Map("channel_message_counts"));
    }

    public static McapSummaryOffset SummaryOffset(ReadOnlySpan<byte> c, long at)
    {
        var r = new McapSpanReader(c, at, "SummaryOffset");
        return new McapSummaryOffset((McapOpcode)r.U8("group_opcode"), r.U64("group_start"), r.U64("group_length"));
    }

    public static McapFooter Footer(ReadOnlySpan<byte> c, long at)
    {
        var r = new McapSpanReader(c, at, "Footer");
        return new McapFooter(r.U64("summary_start"), r.U64("summary_offset_start"), r.U32("summary_crc"));
    }

    public static uint DataEnd(ReadOnlySpan<byte> c, long at)
    {
        var r = new McapSpanReader(c, at, "DataEnd");
        return r.U32("data_section_crc");
    }
}
