namespace RoboRl.Logs;

/// <summary>
/// Reads an MCAP file front to back, record by record, needing neither summary nor footer: every message of every
/// intact chunk (and every message outside chunks) is yielded in file order. A chunk that fails its CRC or framing is
/// skipped and listed in <see cref="Issues"/>; the pass ends at the footer or at the first bytes that are not a
/// complete record, and <see cref="Stop"/> says where and why. Nothing here throws on bad file content.
/// </summary>
public sealed class McapStreamReader : IDisposable
{
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly Dictionary<ushort, McapSchema> _schemas = [];
    private readonly Dictionary<ushort, McapChannel> _channels = [];
    private readonly List<McapIssue> _issues = [];
    private McapRecordLexer? _lexer;

    public McapStreamReader(Stream stream, bool leaveOpen = false)
    {
        _stream = stream;
        _leaveOpen = leaveOpen;
    }

    /// <summary>True when the file starts with the 8-byte MCAP magic (an empty, random or other file does not).</summary>
    public static bool HasMagic(string path)
    {
        RoboRl.Core.InputFiles.EnsureReadable(path);
        Span<byte> head = stackalloc byte[McapConstants.MagicSize];
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false) == head.Length && head.SequenceEqual(McapConstants.Magic);
    }

    /// <summary>Opens a file; a missing path, a directory or a named pipe is an <see cref="IOException"/> naming it (a FIFO would block).</summary>
    public static McapStreamReader Open(string path)
    {
        RoboRl.Core.InputFiles.EnsureReadable(path);
        return new(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16));
    }

    public McapHeader? Header { get; private set; }
    public IReadOnlyDictionary<ushort, McapSchema> Schemas => _schemas;
    public IReadOnlyDictionary<ushort, McapChannel> Channels => _channels;
    public IReadOnlyList<McapIssue> Issues => _issues;
    /// <summary>Set when <see cref="ReadMessages"/> has finished.</summary>
    public McapReadStop? Stop { get; private set; }
    /// <summary>Bytes consumed so far (for progress).</summary>
    public long Position => _lexer?.Position ?? 0;
    public long Length => _lexer?.Length ?? -1;
    public int ChunksRead { get; private set; }
    public int ChunksSkipped { get; private set; }
    /// <summary>True once DataEnd was read (messages after it are not expected).</summary>
    public bool SawDataEnd { get; private set; }
    /// <summary>True once the leading MCAP magic was read: false after a pass means the file is not MCAP at all (or empty).</summary>
    public bool StartsWithMagic { get; private set; }

    /// <summary>Yields the messages; each message's <see cref="McapMessage.Data"/> is its own copy.</summary>
    public IEnumerable<McapMessage> ReadMessages()
    {
        if (_lexer is not null) throw new InvalidOperationException("ReadMessages can be enumerated once");
        _lexer = new McapRecordLexer(_stream);
        Stop = _lexer.ReadMagic("leading");
        if (Stop is not null) yield break;
        StartsWithMagic = true;

        var pending = new List<McapMessage>();
        while (true)
        {
            if (!_lexer.Next(out var op, out long offset, out var content, out var stop))
            {
                Stop = stop;
                yield break;
            }
            pending.Clear();
            if (op == McapOpcode.Footer)
            {
                Stop = _lexer.ReadMagic("closing") ?? new McapReadStop(_lexer.Position, McapStopKind.Complete, "footer and closing magic read");
                yield break;
            }
            HandleRecord(op, offset, content, pending);
            foreach (var m in pending) yield return m;
        }
    }

    private void HandleRecord(McapOpcode op, long offset, ReadOnlyMemory<byte> content, List<McapMessage> output)
    {
        long contentAt = offset + McapConstants.RecordHeaderSize;
        try
        {
            switch (op)
            {
                case McapOpcode.Header:
                    Header = McapParse.Header(content.Span, contentAt);
                    break;
                case McapOpcode.Schema:
                    AddSchema(McapParse.Schema(content.Span, contentAt), offset);
                    break;
                case McapOpcode.Channel:
                    AddChannel(McapParse.Channel(content.Span, contentAt), offset);
                    break;
                case McapOpcode.Message:
                    if (TryMessage(content, contentAt, out var m)) output.Add(m);
                    break;
                case McapOpcode.Chunk:
                    ReadChunk(content, offset, output);
                    break;
                case McapOpcode.DataEnd:
                    SawDataEnd = true;
                    break;
            }
        }
        catch (McapFormatException e)
        {
            _issues.Add(new McapIssue(e.Offset, e.Reason));
        }
    }

    private void ReadChunk(ReadOnlyMemory<byte> content, long offset, List<McapMessage> output)
    {
        // All or nothing: a chunk whose records do not check out yields none of them.
        var chunkMessages = new List<McapMessage>();
        try
        {
            var records = McapChunks.Records(content.Span, offset, out _);
            foreach (var (op, at, inner) in McapChunks.Split(records, offset))
            {
                switch (op)
                {
                    case McapOpcode.Schema: AddSchema(McapParse.Schema(inner.Span, offset), offset); break;
                    case McapOpcode.Channel: AddChannel(McapParse.Channel(inner.Span, offset), offset); break;
                    case McapOpcode.Message:
                        if (TryMessage(inner, offset, out var m)) chunkMessages.Add(m);
                        break;
                }
            }
        }
        catch (McapFormatException e)
        {
            ChunksSkipped++;
            _issues.Add(new McapIssue(offset, $"chunk skipped: {e.Reason}"));
            return;
        }
        ChunksRead++;
        output.AddRange(chunkMessages);
    }

    private bool TryMessage(ReadOnlyMemory<byte> content, long at, out McapMessage message)
    {
        var (channelId, sequence, logTime, publishTime) = McapParse.MessageHeader(content.Span, at);
        message = default;
        if (!_channels.TryGetValue(channelId, out var channel))
        {
            _issues.Add(new McapIssue(at, $"message on channel {channelId}, which no Channel record declared; dropped"));
            return false;
        }
        _schemas.TryGetValue(channel.SchemaId, out var schema);
        message = new McapMessage(channel, schema, sequence, logTime, publishTime,
            content[McapParse.MessageHeaderSize..].ToArray());
        return true;
    }

    private void AddSchema(McapSchema schema, long offset)
    {
        if (schema.Id == 0) { _issues.Add(new McapIssue(offset, "Schema record with id 0 (reserved); ignored")); return; }
        _schemas[schema.Id] = schema;
    }

    private void AddChannel(McapChannel channel, long offset)
    {
        if (channel.SchemaId != 0 && !_schemas.ContainsKey(channel.SchemaId))
            _issues.Add(new McapIssue(offset, $"Channel {channel.Id} ({channel.Topic}) refers to schema {channel.SchemaId}, not declared before it"));
        _channels[channel.Id] = channel;
    }

    public void Dispose()
    {
        if (!_leaveOpen) _stream.Dispose();
    }
}
