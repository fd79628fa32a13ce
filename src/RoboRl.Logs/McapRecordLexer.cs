using System.Buffers.Binary;
using System.IO.Hashing;

namespace RoboRl.Logs;

/// <summary>How a pass over a file ended.</summary>
public enum McapStopKind
{
    /// <summary>Footer and closing magic were read: the file is complete.</summary>
    Complete,
    /// <summary>The file ends inside a record or before the footer (a recorder that was killed, a copy cut short).</summary>
    Truncated,
    /// <summary>Bytes that cannot be a record (bad magic, opcode 0, a length that cannot be right).</summary>
    Corrupt,
}

/// <summary>Where and why reading stopped. <see cref="Offset"/> is the start of the first byte not used.</summary>
public sealed record McapReadStop(long Offset, McapStopKind Kind, string Reason)
{
    public override string ToString() => $"{Kind} at byte {Offset}: {Reason}";
}

/// <summary>A problem found while reading that did not stop the pass (e.g. a chunk skipped for a bad CRC).</summary>
public sealed record McapIssue(long Offset, string Message)
{
    public override string ToString() => $"byte {Offset}: {Message}";
}

/// <summary>
/// Splits a stream into records (opcode, offset, content) one at a time without trusting any length: a record that
/// claims more bytes than the file holds is reported as truncation before anything is allocated for it.
/// </summary>
internal sealed class McapRecordLexer
{
    private readonly Stream _stream;
    private readonly long _length; // -1 if unknown
    private byte[] _buffer = new byte[4096];
    private readonly byte[] _head = new byte[McapConstants.RecordHeaderSize];

    public McapRecordLexer(Stream stream)
    {
        _stream = stream;
        _length = stream.CanSeek ? stream.Length : -1;
        Position = stream.CanSeek ? stream.Position : 0;
    }

    public long Position { get; private set; }
    public long Length => _length;

    /// <summary>Data-section CRC over every byte consumed so far, when <see cref="TrackCrc"/> is on.</summary>
    public Crc32? Crc { get; private set; }
    public bool TrackCrc { set => Crc = value ? new Crc32() : null; }
    public void StopCrc() => Crc = null;

    /// <summary>Reads and checks the 8-byte magic; null on success, else the stop.</summary>
    public McapReadStop? ReadMagic(string where)
    {
        long at = Position;
        int n = ReadFully(_head.AsSpan(0, McapConstants.MagicSize));
        if (n < McapConstants.MagicSize)
            return new McapReadStop(at, McapStopKind.Truncated, $"file ends inside the {where} magic ({n} of 8 bytes)");
        if (!_head.AsSpan(0, McapConstants.MagicSize).SequenceEqual(McapConstants.Magic))
            return new McapReadStop(at, McapStopKind.Corrupt, $"{where} magic is {Convert.ToHexString(_head, 0, 8)}, expected 894D434150300D0A");
        Crc?.Append(_head.AsSpan(0, McapConstants.MagicSize));
        return null;
    }

    /// <summary>Reads the next record. Returns false with <paramref name="stop"/> set when no complete record follows.</summary>
    public bool Next(out McapOpcode opcode, out long offset, out ReadOnlyMemory<byte> content, out McapReadStop? stop)
    {
        opcode = 0; content = default; stop = null;
        offset = Position;
        int n = ReadFully(_head);
        if (n == 0) { stop = new McapReadStop(offset, McapStopKind.Truncated, "file ends without DataEnd/Footer"); return false; }
        if (n < _head.Length) { stop = new McapReadStop(offset, McapStopKind.Truncated, $"file ends inside a record header ({n} of 9 bytes)"); return false; }
        opcode = (McapOpcode)_head[0];
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(_head.AsSpan(1));
        if (_head[0] == 0)
        {
            stop = new McapReadStop(offset, McapStopKind.Corrupt, "opcode 0x00 is not a record (zero-filled or overwritten bytes?)");
            return false;
        }
        long left = _length >= 0 ? _length - Position : long.MaxValue;
        if (length > (ulong)Math.Min(left, int.MaxValue - 64))
        {
            stop = _length >= 0 && length > (ulong)left && length < (1UL << 40)
                ? new McapReadStop(offset, McapStopKind.Truncated, $"{Name(opcode)} record of {length} bytes, only {left} left in the file")
                : new McapReadStop(offset, McapStopKind.Corrupt, $"{Name(opcode)} record claims {length} bytes, impossible here");
            return false;
        }
        int got = ReadContent((int)length);
        if (got < (int)length)
        {
            stop = new McapReadStop(offset, McapStopKind.Truncated, $"file ends inside a {Name(opcode)} record ({got} of {length} bytes)");
            return false;
        }
        Crc?.Append(_head);
        Crc?.Append(_buffer.AsSpan(0, (int)length));
        content = _buffer.AsMemory(0, (int)length);
        return true;
    }

    /// <summary>
    /// Reads a record's content into the buffer. When the stream's length is unknown the buffer grows only as bytes
    /// actually arrive, so a corrupt length on a pipe cannot make it allocate gigabytes.
    /// </summary>
    private int ReadContent(int length)
    {
        const int Step = 1 << 20;
        int got = 0;
        while (got < length)
        {
            int step = _length >= 0 ? length - got : Math.Min(length - got, Step);
            if (_buffer.Length < got + step)
            {
                var bigger = new byte[Math.Max(got + step, Math.Min(length, _buffer.Length * 2))];
                _buffer.AsSpan(0, got).CopyTo(bigger);
                _buffer = bigger;
            }
            int n = ReadFully(_buffer.AsSpan(got, step));
            got += n;
            if (n < step) break;
        }
        return got;
    }

    private int ReadFully(Span<byte> destination)
    {
        int total = 0;
        while (total < destination.Length)
        {
            int n = _stream.Read(destination[total..]);
            if (n <= 0) break;
            total += n;
        }
        Position += total;
        return total;
    }

    public static string Name(McapOpcode op) => Enum.IsDefined(op) ? op.ToString() : $"opcode 0x{(byte)op:X2}";
}

/// <summary>Decompresses and checks a chunk's records, then splits them; shared by every reader.</summary>
internal static class McapChunks
{
    /// <summary>Larger decompressed chunks are refused (a writer closes chunks at tens of KiB).</summary>
    public const long MaxUncompressedSize = 1L << 30;

    /// <summary>The chunk's uncompressed records, CRC-checked (when the CRC is not 0).</summary>
    public static ReadOnlyMemory<byte> Records(ReadOnlySpan<byte> content, long offset, out McapChunkHeader header)
    {
        header = McapParse.ChunkHeader(content, offset + McapConstants.RecordHeaderSize);
        var stored = content[header.RecordsOffsetInContent..];
        if (header.UncompressedSize > MaxUncompressedSize)
            throw new McapFormatException($"Chunk claims {header.UncompressedSize} bytes uncompressed, more than the {MaxUncompressedSize} accepted", offset);
        byte[] records;
        switch (header.Compression)
        {
            case "":
                if ((ulong)stored.Length != header.UncompressedSize)
                    throw new McapFormatException($"uncompressed Chunk holds {stored.Length} bytes but uncompressed_size says {header.UncompressedSize}", offset);
                records = stored.ToArray();
                break;
            case "zstd":
                try
                {
                    // The frame header states its content size: check it before allocating what the chunk claims.
                    ulong frameSize = ZstdSharp.Decompressor.GetDecompressedSize(stored);
                    if (frameSize != 0 && frameSize != header.UncompressedSize)
                        throw new McapFormatException($"zstd frame holds {frameSize} bytes, uncompressed_size says {header.UncompressedSize}", offset);
                }
                catch (ZstdSharp.ZstdException e)
                {
                    throw new McapFormatException($"zstd Chunk has no valid frame header: {e.Message}", offset);
                }
                records = new byte[header.UncompressedSize];
                try
                {
                    using var zstd = new ZstdSharp.Decompressor();
                    int n = zstd.Unwrap(stored, records);
                    if ((ulong)n != header.UncompressedSize)
                        throw new McapFormatException($"zstd Chunk decompressed to {n} bytes, uncompressed_size says {header.UncompressedSize}", offset);
                }
                catch (ZstdSharp.ZstdException e)
                {
                    throw new McapFormatException($"zstd Chunk does not decompress: {e.Message}", offset);
                }
                break;
            default:
                throw new McapFormatException($"Chunk compression '{header.Compression}' is not supported (only none and zstd)", offset);
        }
        if (header.UncompressedCrc != 0)
        {
            uint crc = Crc32.HashToUInt32(records);
            if (crc != header.UncompressedCrc)
                throw new McapFormatException($"Chunk CRC mismatch: records hash to {crc:X8}, chunk says {header.UncompressedCrc:X8}", offset);
        }
        return records;
    }

    /// <summary>Splits chunk records into (opcode, offset in chunk, content); throws on broken framing.</summary>
    public static List<(McapOpcode Op, int Offset, ReadOnlyMemory<byte> Content)> Split(ReadOnlyMemory<byte> records, long chunkOffset)
    {
        var list = new List<(McapOpcode, int, ReadOnlyMemory<byte>)>();
        var span = records.Span;
        int pos = 0;
        while (pos < span.Length)
        {
            if (span.Length - pos < McapConstants.RecordHeaderSize)
                throw new McapFormatException($"Chunk records end inside a record header at chunk offset {pos}", chunkOffset);
            var op = (McapOpcode)span[pos];
            ulong len = BinaryPrimitives.ReadUInt64LittleEndian(span[(pos + 1)..]);
            if (span[pos] == 0) throw new McapFormatException($"opcode 0x00 inside Chunk at chunk offset {pos}", chunkOffset);
            if (len > (ulong)(span.Length - pos - McapConstants.RecordHeaderSize))
                throw new McapFormatException($"{McapRecordLexer.Name(op)} record at chunk offset {pos} claims {len} bytes, {span.Length - pos - 9} left in the chunk", chunkOffset);
            list.Add((op, pos, records.Slice(pos + McapConstants.RecordHeaderSize, (int)len)));
            pos += McapConstants.RecordHeaderSize + (int)len;
        }
        return list;
    }
}
