using System.Diagnostics;
using System.IO.Hashing;
using System.Text;
using RoboRl.Core.Messages;

namespace RoboRl.Logs;

public sealed record McapWriterOptions
{
    /// <summary>Header profile; "ros2" makes Foxglove and <c>ros2 bag</c> treat the file as a ROS 2 bag.</summary>
    public string Profile { get; init; } = McapConstants.Ros2Profile;
    public string Library { get; init; } = "roborl";
    /// <summary>A chunk is closed once its records reach this many bytes.</summary>
    public int ChunkSize { get; init; } = 64 * 1024;
    /// <summary>
    /// A chunk is also closed once it spans this much log time or has been open this long (wall clock), so a process
    /// killed with SIGKILL loses at most about twice this interval of messages.
    /// </summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromSeconds(0.5);
    /// <summary>When true a timer closes a chunk that is due even if no further message arrives.</summary>
    public bool BackgroundFlush { get; init; } = true;
    public McapCompression Compression { get; init; } = McapCompression.None;
    /// <summary>Where <see cref="McapWriter.RegisterRos2Channel(string, string, string)"/> finds message definitions.</summary>
    public MessageRegistry Registry { get; init; } = MessageRegistry.Default;
}

/// <summary>
/// Writes an MCAP file (mcap.dev/spec): magic, Header, Schema and Channel records as they are registered, Messages in
/// Chunks (each followed by its MessageIndex records), DataEnd with the data-section CRC, then a Summary (Schemas,
/// Channels, Statistics, ChunkIndexes), SummaryOffsets, Footer and magic. Chunks close by size and by time and are
/// pushed to the operating system at once, so a killed process leaves every closed chunk readable
/// (<see cref="McapStreamReader"/>, <see cref="LogRecovery"/>). Thread-safe; writing a message allocates nothing
/// once buffers have grown.
/// </summary>
public sealed class McapWriter : IDisposable
{
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly McapWriterOptions _options;
    private readonly object _gate = new();
    private readonly Crc32 _dataCrc = new();
    private readonly McapBuffer _record = new(256);   // non-chunk records are assembled here
    private readonly McapBuffer _chunk;               // the open chunk's records
    private readonly CdrWriter _cdr = new(1024);
    private readonly ZstdSharp.Compressor? _zstd;
    private byte[] _compressed = [];
    private readonly Timer? _timer;
    private readonly long _flushIntervalTicks;
    private readonly ulong _flushIntervalNs;
    private long _position;
    private bool _finished;

    // Schemas and channels, indexed by id (ids start at 1; schema id 0 means "no schema").
    private readonly List<McapSchema> _schemas = [];
    private readonly List<McapChannel> _channels = [];
    private readonly Dictionary<string, ushort> _ros2SchemaIds = new(StringComparer.Ordinal);
    private ChannelState[] _channelState = new ChannelState[8];
    private IMcapTap[] _taps = [];
    [ThreadStatic] private static int _afterDepthOnThisThread;

    // The open chunk.
    private ulong _chunkStartTime, _chunkEndTime;
    private long _chunkOpenedAtTicks;
    private ulong _chunkFirstLogTime;
    private ushort[] _channelsInChunk = new ushort[8];
    private int _channelsInChunkCount;

    // Summary material.
    private readonly List<ChunkIndexEntry> _chunkIndexes = [];
    private readonly List<(int Chunk, ushort Channel, ulong Offset)> _messageIndexOffsets = [];
    private ulong _messageCount, _messageStartTime = ulong.MaxValue, _messageEndTime;

    private struct ChannelState
    {
        public ulong[] Index;     // (log time, offset in chunk) pairs of the open chunk
        public int IndexCount;    // pairs used
        public uint NextSequence;
        public ulong MessageCount;
        public string? Ros2TypeName;
    }

    private readonly record struct ChunkIndexEntry(ulong StartTime, ulong EndTime, ulong ChunkStart, ulong ChunkLength,
        int FirstIndexOffset, int IndexOffsetCount, ulong MessageIndexLength, ulong CompressedSize, ulong UncompressedSize);

    public McapWriter(Stream stream, McapWriterOptions? options = null, bool leaveOpen = false)
    {
        if (stream.CanSeek && stream.Position != 0)
            throw new ArgumentException("MCAP offsets count from the start of the file: the stream must be at position 0", nameof(stream));
        _stream = stream;
        _leaveOpen = leaveOpen;
        _options = options ?? new McapWriterOptions();
        if (_options.ChunkSize < 64) throw new ArgumentOutOfRangeException(nameof(options), "ChunkSize must be at least 64 bytes");
        if (_options.FlushInterval <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(options), "FlushInterval must be positive");
        _chunk = new McapBuffer(_options.ChunkSize + 1024);
        _flushIntervalTicks = (long)(_options.FlushInterval.TotalSeconds * Stopwatch.Frequency);
        _flushIntervalNs = (ulong)(_options.FlushInterval.TotalSeconds * 1e9);
        if (_options.Compression == McapCompression.Zstd) _zstd = new ZstdSharp.Compressor(3);

        _record.Clear();
        _record.Bytes(McapConstants.Magic);
        int at = _record.BeginRecord(McapOpcode.Header);
        _record.String(_options.Profile);
        _record.String(_options.Library);
        _record.EndRecord(at);
        WriteData(_record.Span);
        _stream.Flush();

        if (_options.BackgroundFlush)
            _timer = new Timer(_ => BackgroundFlush(), null, _options.FlushInterval, _options.FlushInterval);
    }

    // A failure on the timer thread (disk full, device gone) must not kill the process: it is kept and thrown by
    // the next call on the writer, on the caller's thread.
    private Exception? _backgroundError;

    private void BackgroundFlush()
    {
        try { FlushIfDue(); }
        catch (Exception e) { lock (_gate) _backgroundError ??= e; }
    }

    /// <summary>Creates (or overwrites) <paramref name="path"/>.</summary>
    public static McapWriter Create(string path, McapWriterOptions? options = null) =>
        new(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16), options);

    public long MessageCount { get { lock (_gate) return (long)_messageCount; } }

    /// <summary>Adds a tap (<see cref="IMcapTap"/>): it is told the channels registered so far at once, then every new
    /// channel and message.</summary>
    public void AddTap(IMcapTap tap)
    {
        lock (_gate)
        {
            _taps = [.. _taps, tap];
            foreach (McapChannel channel in _channels) tap.ChannelAdded(channel, SchemaOf(channel));
        }
    }

    private McapSchema? SchemaOf(McapChannel channel) => channel.SchemaId == 0 ? null : _schemas[channel.SchemaId - 1];

    // Lets the taps derive messages of their own once the writer's lock is released (not for a tap's own writes: depth).
    private void AfterMessage(ulong logTime)
    {
        if (_taps.Length == 0 || _afterDepthOnThisThread > 0) return;
        _afterDepthOnThisThread++;
        try { foreach (IMcapTap tap in _taps) tap.AfterMessage(this, logTime); }
        finally { _afterDepthOnThisThread--; }
    }
    public IReadOnlyList<McapChannel> Channels { get { lock (_gate) return _channels.ToList(); } }

    /// <summary>Adds a schema and writes its record at once; returns its id (1, 2, ...).</summary>
    public ushort RegisterSchema(string name, string encoding, ReadOnlySpan<byte> data)
    {
        lock (_gate)
        {
            ThrowIfFinished();
            if (_schemas.Count >= ushort.MaxValue) throw new InvalidOperationException("MCAP allows at most 65535 schemas");
            var schema = new McapSchema((ushort)(_schemas.Count + 1), name, encoding, data.ToArray());
            _schemas.Add(schema);
            _record.Clear();
            WriteSchemaRecord(_record, schema);
            WriteData(_record.Span);
            _stream.Flush();
            return schema.Id;
        }
    }

    /// <summary>Adds a channel and writes its record at once; returns its id (1, 2, ...).</summary>
    public ushort RegisterChannel(ushort schemaId, string topic, string messageEncoding, IReadOnlyDictionary<string, string>? metadata = null)
    {
        lock (_gate)
        {
            ThrowIfFinished();
            if (schemaId > _schemas.Count) throw new ArgumentException($"schema id {schemaId} is not registered", nameof(schemaId));
            if (_channels.Count >= ushort.MaxValue - 1) throw new InvalidOperationException("MCAP allows at most 65535 channels");
            var channel = new McapChannel((ushort)(_channels.Count + 1), schemaId, topic, messageEncoding,
                new Dictionary<string, string>(metadata ?? new Dictionary<string, string>()));
            _channels.Add(channel);
            if (_channelState.Length <= channel.Id) Array.Resize(ref _channelState, Math.Max(channel.Id + 1, _channelState.Length * 2));
            if (_channelsInChunk.Length < _channels.Count) Array.Resize(ref _channelsInChunk, _channels.Count * 2);
            _channelState[channel.Id].Index = new ulong[64];
            _record.Clear();
            WriteChannelRecord(_record, channel);
            WriteData(_record.Span);
            _stream.Flush();
            foreach (IMcapTap tap in _taps) tap.ChannelAdded(channel, SchemaOf(channel));
            return channel.Id;
        }
    }

    /// <summary>
    /// Registers a ROS 2 topic of a registered type (<c>pkg/Type</c> or <c>pkg/msg/Type</c>): a ros2msg schema
    /// (shared between topics of one type) and a cdr channel with <c>offered_qos_profiles</c> metadata
    /// (<see cref="Ros2Qos"/>; empty is allowed).
    /// </summary>
    public ushort RegisterRos2Channel(string topic, string typeName, string offeredQosProfiles = "",
        IReadOnlyDictionary<string, string>? extraMetadata = null)
    {
        var def = _options.Registry.Get(typeName);
        lock (_gate)
        {
            if (!_ros2SchemaIds.TryGetValue(def.RosTypeName, out ushort schemaId))
            {
                schemaId = RegisterSchema(def.RosTypeName, McapConstants.Ros2MsgSchemaEncoding,
                    Encoding.UTF8.GetBytes(MessageRegistry.Ros2MsgSchemaText(def)));
                _ros2SchemaIds[def.RosTypeName] = schemaId;
            }
            var metadata = new Dictionary<string, string> { ["offered_qos_profiles"] = offeredQosProfiles };
            if (extraMetadata is not null) foreach (var (key, value) in extraMetadata) metadata[key] = value;
            ushort id = RegisterChannel(schemaId, topic, McapConstants.CdrMessageEncoding, metadata);
            _channelState[id].Ros2TypeName = def.FullName;
            return id;
        }
    }

    /// <summary>Registers a ROS 2 topic for a hot-path message struct.</summary>
    public ushort RegisterRos2Channel<T>(string topic, string offeredQosProfiles = "", IReadOnlyDictionary<string, string>? extraMetadata = null)
        where T : struct, ICdrMessage<T> =>
        RegisterRos2Channel(topic, T.TypeName, offeredQosProfiles, extraMetadata);

    /// <summary>Encodes <paramref name="message"/> as CDR and appends it; allocation-free.</summary>
    public void WriteMessage<T>(ushort channelId, ulong logTimeNs, ulong publishTimeNs, in T message) where T : struct, ICdrMessage<T>
    {
        lock (_gate)
        {
            CheckType(channelId, T.TypeName);
            _cdr.Write(in message);
            AppendMessage(channelId, logTimeNs, publishTimeNs, _cdr.WrittenSpan);
        }
        AfterMessage(logTimeNs);
    }

    /// <summary>Encodes a <see cref="DynamicMessage"/> (any registered type) and appends it.</summary>
    public void WriteMessage(ushort channelId, ulong logTimeNs, ulong publishTimeNs, DynamicMessage message)
    {
        lock (_gate)
        {
            CheckType(channelId, message.Definition.FullName);
            CdrDynamic.Write(_cdr, message);
            AppendMessage(channelId, logTimeNs, publishTimeNs, _cdr.WrittenSpan);
        }
        AfterMessage(logTimeNs);
    }

    /// <summary>Appends an already encoded payload (for ros2 channels: full CDR with its 4-byte header).</summary>
    public void WriteMessage(ushort channelId, ulong logTimeNs, ulong publishTimeNs, ReadOnlySpan<byte> payload)
    {
        lock (_gate)
        {
            if (channelId == 0 || channelId > _channels.Count)
                throw new ArgumentException($"channel id {channelId} is not registered", nameof(channelId));
            AppendMessage(channelId, logTimeNs, publishTimeNs, payload);
        }
        AfterMessage(logTimeNs);
    }

    /// <summary>As above with an explicit sequence number (copying or recovering a file keeps the original ones).</summary>
    public void WriteMessage(ushort channelId, uint sequence, ulong logTimeNs, ulong publishTimeNs, ReadOnlySpan<byte> payload)
    {
        lock (_gate)
        {
            if (channelId == 0 || channelId > _channels.Count)
                throw new ArgumentException($"channel id {channelId} is not registered", nameof(channelId));
            AppendMessage(channelId, logTimeNs, publishTimeNs, payload, sequence);
        }
        AfterMessage(logTimeNs);
    }

    private void CheckType(ushort channelId, string typeName)
    {
        if (channelId == 0 || channelId > _channels.Count)
            throw new ArgumentException($"channel id {channelId} is not registered", nameof(channelId));
        string? expected = _channelState[channelId].Ros2TypeName;
        if (expected is not null && !string.Equals(expected, typeName, StringComparison.Ordinal))
            throw new ArgumentException($"channel {channelId} ({_channels[channelId - 1].Topic}) carries {expected}, not {typeName}");
    }

    // The hot path: one Message record into the open chunk, one index entry, counters. No allocation once warm.
    private void AppendMessage(ushort channelId, ulong logTime, ulong publishTime, ReadOnlySpan<byte> payload, uint? sequence = null)
    {
        ThrowIfFinished();
        ref var state = ref _channelState[channelId];
        if (_chunk.Length == 0)
        {
            _chunkOpenedAtTicks = Stopwatch.GetTimestamp();
            _chunkFirstLogTime = logTime;
            _chunkStartTime = logTime;
            _chunkEndTime = logTime;
        }

        ulong offsetInChunk = (ulong)_chunk.Length;
        _chunk.U8((byte)McapOpcode.Message);
        _chunk.U64((ulong)(McapParse.MessageHeaderSize + payload.Length));
        _chunk.U16(channelId);
        _chunk.U32(sequence ?? state.NextSequence++);
        _chunk.U64(logTime);
        _chunk.U64(publishTime);
        _chunk.Bytes(payload);

        if (state.IndexCount == 0) _channelsInChunk[_channelsInChunkCount++] = channelId;
        if (state.IndexCount * 2 + 2 > state.Index.Length) Array.Resize(ref state.Index, state.Index.Length * 2);
        state.Index[state.IndexCount * 2] = logTime;
        state.Index[state.IndexCount * 2 + 1] = offsetInChunk;
        state.IndexCount++;
        state.MessageCount++;

        _chunkStartTime = Math.Min(_chunkStartTime, logTime);
        _chunkEndTime = Math.Max(_chunkEndTime, logTime);
        _messageStartTime = Math.Min(_messageStartTime, logTime);
        _messageEndTime = Math.Max(_messageEndTime, logTime);
        _messageCount++;
        if (_taps.Length != 0)
        {
            McapChannel channel = _channels[channelId - 1];
            foreach (IMcapTap tap in _taps) tap.MessageWritten(channel, logTime, payload);
        }

        if (_chunk.Length >= _options.ChunkSize
            || (logTime >= _chunkFirstLogTime && logTime - _chunkFirstLogTime >= _flushIntervalNs)
            || Stopwatch.GetTimestamp() - _chunkOpenedAtTicks >= _flushIntervalTicks)
            CloseChunk();
    }

    /// <summary>Closes the open chunk if it has been open longer than the flush interval (the timer calls this too).</summary>
    public void FlushIfDue()
    {
        lock (_gate)
        {
            if (_finished || _backgroundError is not null || _chunk.Length == 0) return;
            if (Stopwatch.GetTimestamp() - _chunkOpenedAtTicks >= _flushIntervalTicks) CloseChunk();
        }
    }

    /// <summary>Closes the open chunk and pushes everything to the OS; with <paramref name="toDisk"/> also to the disk (fsync).</summary>
    public void Flush(bool toDisk = false)
    {
        lock (_gate)
        {
            ThrowIfFinished();
            CloseChunk();
            if (toDisk && _stream is FileStream fs) fs.Flush(true);
        }
    }

    private void CloseChunk()
    {
        if (_chunk.Length == 0) return;
        var records = _chunk.Span;
        uint crc = Crc32.HashToUInt32(records);
        string compression = "";
        if (_zstd is not null)
        {
            int bound = ZstdSharp.Compressor.GetCompressBound(records.Length);
            if (_compressed.Length < bound) _compressed = new byte[bound];
            int n = _zstd.Wrap(records, _compressed);
            records = _compressed.AsSpan(0, n);
            compression = "zstd";
        }

        ulong chunkStart = (ulong)_position;
        _record.Clear();
        int at = _record.BeginRecord(McapOpcode.Chunk);
        _record.U64(_chunkStartTime);
        _record.U64(_chunkEndTime);
        _record.U64((ulong)_chunk.Length);
        _record.U32(crc);
        _record.String(compression);
        _record.U64((ulong)records.Length);
        _record.PatchU64(at, (ulong)(_record.Length - at - 8 + records.Length));
        WriteData(_record.Span);
        WriteData(records);
        ulong chunkLength = (ulong)_position - chunkStart;

        // One MessageIndex per channel present in the chunk, in channel-id order.
        _channelsInChunk.AsSpan(0, _channelsInChunkCount).Sort();
        ulong indexStart = (ulong)_position;
        int firstIndexOffset = _messageIndexOffsets.Count;
        for (int i = 0; i < _channelsInChunkCount; i++)
        {
            ushort id = _channelsInChunk[i];
            ref var state = ref _channelState[id];
            _messageIndexOffsets.Add((_chunkIndexes.Count, id, (ulong)_position));
            _record.Clear();
            int ia = _record.BeginRecord(McapOpcode.MessageIndex);
            _record.U16(id);
            _record.U32((uint)(state.IndexCount * 16));
            for (int k = 0; k < state.IndexCount * 2; k++) _record.U64(state.Index[k]);
            _record.EndRecord(ia);
            WriteData(_record.Span);
            state.IndexCount = 0;
        }

        _chunkIndexes.Add(new ChunkIndexEntry(_chunkStartTime, _chunkEndTime, chunkStart, chunkLength, firstIndexOffset,
            _channelsInChunkCount, (ulong)_position - indexStart, (ulong)records.Length, (ulong)_chunk.Length));
        _channelsInChunkCount = 0;
        _chunk.Clear();
        _stream.Flush(); // to the OS: survives a killed process
    }

    /// <summary>Closes the last chunk and writes DataEnd, the summary, the footer and the closing magic.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_finished) return;
            _timer?.Dispose();
            try { Finish(); }
            finally
            {
                _finished = true;
                if (!_leaveOpen) _stream.Dispose();
            }
        }
    }

    private void Finish()
    {
        CloseChunk();
        _record.Clear();
        int at = _record.BeginRecord(McapOpcode.DataEnd);
        _record.U32(_dataCrc.GetCurrentHashAsUInt32());
        _record.EndRecord(at);
        WriteRaw(_record.Span);

        // Summary section: each group's extent is remembered for its SummaryOffset record.
        var summary = new McapBuffer(4096);
        ulong summaryStart = (ulong)_position;
        var groups = new List<(McapOpcode Op, int Start, int Length)>();
        void Group(McapOpcode op, Action write)
        {
            int start = summary.Length;
            write();
            if (summary.Length > start) groups.Add((op, start, summary.Length - start));
        }
        Group(McapOpcode.Schema, () => { foreach (var s in _schemas) WriteSchemaRecord(summary, s); });
        Group(McapOpcode.Channel, () => { foreach (var c in _channels) WriteChannelRecord(summary, c); });
        Group(McapOpcode.Statistics, () => WriteStatistics(summary));
        Group(McapOpcode.ChunkIndex, () => { foreach (var ci in _chunkIndexes) WriteChunkIndex(summary, ci); });

        ulong summaryOffsetStart = summaryStart + (ulong)summary.Length;
        foreach (var (op, start, length) in groups)
        {
            int so = summary.BeginRecord(McapOpcode.SummaryOffset);
            summary.U8((byte)op);
            summary.U64(summaryStart + (ulong)start);
            summary.U64((ulong)length);
            summary.EndRecord(so);
        }
        summary.U8((byte)McapOpcode.Footer);
        summary.U64(McapConstants.FooterContentSize); // known now: the CRC below covers this length field
        summary.U64(summaryStart);
        summary.U64(summaryOffsetStart);
        // summary_crc covers the summary and summary-offset sections and the footer up to this field.
        summary.U32(Crc32.HashToUInt32(summary.Span));
        summary.Bytes(McapConstants.Magic);
        WriteRaw(summary.Span);
        _stream.Flush();
    }

    private void WriteStatistics(McapBuffer b)
    {
        int at = b.BeginRecord(McapOpcode.Statistics);
        b.U64(_messageCount);
        b.U16((ushort)_schemas.Count);
        b.U32((uint)_channels.Count);
        b.U32(0); // attachments
        b.U32(0); // metadata
        b.U32((uint)_chunkIndexes.Count);
        b.U64(_messageCount == 0 ? 0 : _messageStartTime);
        b.U64(_messageEndTime);
        int counted = 0;
        foreach (var c in _channels) if (_channelState[c.Id].MessageCount > 0) counted++;
        b.U32((uint)(counted * 10));
        foreach (var c in _channels)
        {
            if (_channelState[c.Id].MessageCount == 0) continue;
            b.U16(c.Id);
            b.U64(_channelState[c.Id].MessageCount);
        }
        b.EndRecord(at);
    }

    private void WriteChunkIndex(McapBuffer b, ChunkIndexEntry ci)
    {
        int at = b.BeginRecord(McapOpcode.ChunkIndex);
        b.U64(ci.StartTime);
        b.U64(ci.EndTime);
        b.U64(ci.ChunkStart);
        b.U64(ci.ChunkLength);
        b.U32((uint)(ci.IndexOffsetCount * 10));
        for (int i = 0; i < ci.IndexOffsetCount; i++)
        {
            var (_, channel, offset) = _messageIndexOffsets[ci.FirstIndexOffset + i];
            b.U16(channel);
            b.U64(offset);
        }
        b.U64(ci.MessageIndexLength);
        b.String(McapConstants.CompressionName(_options.Compression));
        b.U64(ci.CompressedSize);
        b.U64(ci.UncompressedSize);
        b.EndRecord(at);
    }

    private static void WriteSchemaRecord(McapBuffer b, McapSchema s)
    {
        int at = b.BeginRecord(McapOpcode.Schema);
        b.U16(s.Id);
        b.String(s.Name);
        b.String(s.Encoding);
        b.U32((uint)s.Data.Length);
        b.Bytes(s.Data.Span);
        b.EndRecord(at);
    }

    private static void WriteChannelRecord(McapBuffer b, McapChannel c)
    {
        int at = b.BeginRecord(McapOpcode.Channel);
        b.U16(c.Id);
        b.U16(c.SchemaId);
        b.String(c.Topic);
        b.String(c.MessageEncoding);
        int mapAt = b.Length;
        b.U32(0);
        foreach (var (k, v) in c.Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) { b.String(k); b.String(v); }
        b.PatchU32(mapAt, (uint)(b.Length - mapAt - 4));
        b.EndRecord(at);
    }

    /// <summary>Writes data-section bytes: they count towards the DataEnd CRC (which starts at the leading magic).</summary>
    private void WriteData(ReadOnlySpan<byte> bytes)
    {
        _dataCrc.Append(bytes);
        WriteRaw(bytes);
    }

    private void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        _stream.Write(bytes);
        _position += bytes.Length;
    }

    private void ThrowIfFinished()
    {
        if (_finished) throw new ObjectDisposedException(nameof(McapWriter), "the MCAP file is already finished");
        if (_backgroundError is { } e)
            throw new IOException($"writing the MCAP file failed in the background flush: {e.Message}", e);
    }
}
