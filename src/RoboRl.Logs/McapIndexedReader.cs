using System.IO.Hashing;

namespace RoboRl.Logs;

/// <summary>
/// Reads a complete MCAP file through its summary (Footer → Schemas, Channels, Statistics, ChunkIndexes) and reads
/// only the chunks a query needs. Throws <see cref="McapFormatException"/> when the file has no usable summary;
/// use <see cref="McapStreamReader"/> (or <see cref="McapReader.ReadAllMessages"/>) for damaged files.
/// </summary>
public sealed class McapIndexedReader : IDisposable
{
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly Dictionary<ushort, McapSchema> _schemas = [];
    private readonly Dictionary<ushort, McapChannel> _channels = [];
    private readonly List<McapChunkIndex> _chunkIndexes = [];

    private McapIndexedReader(Stream stream, bool leaveOpen)
    {
        _stream = stream;
        _leaveOpen = leaveOpen;
    }

    public McapHeader Header { get; private set; } = new("", "");
    public McapFooter Footer { get; private set; } = new(0, 0, 0);
    public McapStatistics? Statistics { get; private set; }
    public IReadOnlyDictionary<ushort, McapSchema> Schemas => _schemas;
    public IReadOnlyDictionary<ushort, McapChannel> Channels => _channels;
    public IReadOnlyList<McapChunkIndex> ChunkIndexes => _chunkIndexes;

    public static McapIndexedReader Open(string path)
    {
        RoboRl.Core.InputFiles.EnsureReadable(path);
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16);
        try { return Open(stream); }
        catch (McapFormatException e) { stream.Dispose(); throw new McapFormatException(e.Reason, e.Offset, path); }
        catch { stream.Dispose(); throw; }
    }

    /// <summary>Reads magic, header, footer and summary from a seekable stream.</summary>
    public static McapIndexedReader Open(Stream stream, bool leaveOpen = false)
    {
        if (!stream.CanSeek) throw new ArgumentException("the indexed reader needs a seekable stream", nameof(stream));
        var reader = new McapIndexedReader(stream, leaveOpen);
        reader.ReadSummary();
        return reader;
    }

    private void ReadSummary()
    {
        long length = _stream.Length;
        long minimum = 2L * McapConstants.MagicSize + McapConstants.RecordHeaderSize + McapConstants.FooterContentSize;
        if (length < minimum) throw new McapFormatException($"file of {length} bytes is shorter than an empty MCAP ({minimum})", length);

        _stream.Position = 0;
        var lexer = new McapRecordLexer(_stream);
        if (lexer.ReadMagic("leading") is { } badStart) throw new McapFormatException(badStart.Reason, 0);
        if (!lexer.Next(out var op, out long at, out var content, out var stop))
            throw new McapFormatException(stop!.Reason, stop.Offset);
        if (op != McapOpcode.Header) throw new McapFormatException($"first record is {McapRecordLexer.Name(op)}, expected Header", at);
        Header = McapParse.Header(content.Span, at + 9);

        long footerAt = length - McapConstants.FooterAndMagicSize;
        var tail = new byte[McapConstants.FooterAndMagicSize];
        _stream.Position = footerAt;
        _stream.ReadExactly(tail);
        if (!tail.AsSpan(tail.Length - 8).SequenceEqual(McapConstants.Magic))
            throw new McapFormatException("file does not end with the MCAP magic (truncated or still being written?)", length - 8);
        if (tail[0] != (byte)McapOpcode.Footer || BitConverter.ToUInt64(tail, 1) != McapConstants.FooterContentSize)
            throw new McapFormatException("no Footer record before the closing magic", footerAt);
        Footer = McapParse.Footer(tail.AsSpan(9, 20), footerAt + 9);
        if (Footer.SummaryStart == 0) throw new McapFormatException("file has no summary section (summary_start = 0)", footerAt);
        if (Footer.SummaryStart > (ulong)footerAt || Footer.SummaryOffsetStart > (ulong)footerAt
            || (Footer.SummaryOffsetStart != 0 && Footer.SummaryOffsetStart < Footer.SummaryStart))
            throw new McapFormatException($"Footer offsets {Footer.SummaryStart}/{Footer.SummaryOffsetStart} lie outside the file", footerAt);

        var summary = new byte[footerAt - (long)Footer.SummaryStart];
        _stream.Position = (long)Footer.SummaryStart;
        _stream.ReadExactly(summary);
        if (Footer.SummaryCrc != 0)
        {
            var crc = new Crc32();
            crc.Append(summary);
            crc.Append(tail.AsSpan(0, 9 + 16));
            if (crc.GetCurrentHashAsUInt32() != Footer.SummaryCrc)
                throw new McapFormatException($"summary CRC mismatch: {crc.GetCurrentHashAsUInt32():X8}, footer says {Footer.SummaryCrc:X8}", (long)Footer.SummaryStart);
        }

        using var ms = new MemoryStream(summary, writable: false);
        var summaryLexer = new McapRecordLexer(ms);
        long baseOffset = (long)Footer.SummaryStart;
        while (summaryLexer.Next(out op, out at, out content, out _))
        {
            long c = baseOffset + at + 9;
            switch (op)
            {
                case McapOpcode.Schema: { var s = McapParse.Schema(content.Span, c); _schemas[s.Id] = s; break; }
                case McapOpcode.Channel: { var ch = McapParse.Channel(content.Span, c); _channels[ch.Id] = ch; break; }
                case McapOpcode.Statistics: Statistics = McapParse.Statistics(content.Span, c); break;
                case McapOpcode.ChunkIndex: _chunkIndexes.Add(McapParse.ChunkIndex(content.Span, c)); break;
            }
        }
        if (summaryLexer.Position != summary.Length)
            throw new McapFormatException("summary section does not split into whole records", baseOffset + summaryLexer.Position);
    }

    /// <summary>
    /// Messages whose log time lies in [<paramref name="startTime"/>, <paramref name="endTime"/>] on the given topics
    /// (all when null), chunk by chunk in chunk start-time order and log-time order inside a chunk.
    /// </summary>
    public IEnumerable<McapMessage> ReadMessages(IReadOnlyCollection<string>? topics = null, ulong startTime = 0, ulong endTime = ulong.MaxValue)
    {
        var wanted = new HashSet<ushort>(_channels.Values.Where(c => topics is null || topics.Contains(c.Topic)).Select(c => c.Id));
        foreach (var ci in _chunkIndexes.OrderBy(c => c.MessageStartTime).ThenBy(c => c.ChunkStartOffset))
        {
            if (ci.MessageEndTime < startTime || ci.MessageStartTime > endTime) continue;
            if (ci.MessageIndexOffsets.Count > 0 && !ci.MessageIndexOffsets.Keys.Any(wanted.Contains)) continue;
            foreach (var m in ReadChunk(ci, wanted, startTime, endTime)) yield return m;
        }
    }

    private List<McapMessage> ReadChunk(McapChunkIndex ci, HashSet<ushort> wanted, ulong startTime, ulong endTime)
    {
        if (ci.ChunkStartOffset + ci.ChunkLength > (ulong)_stream.Length || ci.ChunkLength < McapConstants.RecordHeaderSize || ci.ChunkLength > int.MaxValue)
            throw new McapFormatException($"ChunkIndex points at {ci.ChunkStartOffset}+{ci.ChunkLength}, outside the file", (long)ci.ChunkStartOffset);
        var bytes = new byte[ci.ChunkLength];
        _stream.Position = (long)ci.ChunkStartOffset;
        _stream.ReadExactly(bytes);
        if (bytes[0] != (byte)McapOpcode.Chunk)
            throw new McapFormatException($"ChunkIndex points at a {McapRecordLexer.Name((McapOpcode)bytes[0])} record, not a Chunk", (long)ci.ChunkStartOffset);
        var records = McapChunks.Records(bytes.AsSpan(9), (long)ci.ChunkStartOffset, out _);
        var messages = new List<McapMessage>();
        foreach (var (op, _, inner) in McapChunks.Split(records, (long)ci.ChunkStartOffset))
        {
            if (op != McapOpcode.Message) continue;
            var (channelId, seq, logTime, publishTime) = McapParse.MessageHeader(inner.Span, (long)ci.ChunkStartOffset);
            if (!wanted.Contains(channelId) || logTime < startTime || logTime > endTime) continue;
            if (!_channels.TryGetValue(channelId, out var channel))
                throw new McapFormatException($"message on channel {channelId}, which the summary does not declare", (long)ci.ChunkStartOffset);
            _schemas.TryGetValue(channel.SchemaId, out var schema);
            messages.Add(new McapMessage(channel, schema, seq, logTime, publishTime, inner[McapParse.MessageHeaderSize..].ToArray()));
        }
        // Stable: equal log times keep their file order.
        return messages.Select((m, i) => (m, i)).OrderBy(x => x.m.LogTime).ThenBy(x => x.i).Select(x => x.m).ToList();
    }

    public void Dispose()
    {
        if (!_leaveOpen) _stream.Dispose();
    }
}

/// <summary>Convenience entry points.</summary>
public static class McapReader
{
    /// <summary>
    /// Every readable message of a file: through the summary when the file is complete and valid, else by streaming
    /// (which also reads truncated files). Use the readers directly to learn where a damaged file stops.
    /// </summary>
    public static List<McapMessage> ReadAllMessages(string path)
    {
        try
        {
            using var indexed = McapIndexedReader.Open(path);
            return indexed.ReadMessages().ToList();
        }
        catch (McapFormatException)
        {
            using var stream = McapStreamReader.Open(path);
            return stream.ReadMessages().ToList();
        }
    }
}
