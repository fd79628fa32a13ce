using System.IO.Hashing;
using System.Text.Json;
using System.Text.Json.Nodes;
using RoboRl.Core.Messages;

namespace RoboRl.Logs;

/// <summary>What <see cref="LogChecker.Check(string)"/> found. Valid means no errors (warnings are allowed).</summary>
public sealed record LogCheckReport(
    string Path,
    long FileLength,
    IReadOnlyList<McapIssue> Errors,
    IReadOnlyList<McapIssue> Warnings,
    McapReadStop Stop,
    ulong MessageCount,
    int ChunkCount,
    IReadOnlyDictionary<string, ulong> MessagesPerTopic,
    ulong FirstLogTime,
    ulong LastLogTime,
    bool HasSummary)
{
    public bool IsValid => Errors.Count == 0;

    public JsonObject ToJson() => new()
    {
        ["path"] = Path,
        ["valid"] = IsValid,
        ["file_length_bytes"] = FileLength,
        ["stop"] = new JsonObject { ["kind"] = Stop.Kind.ToString(), ["offset_bytes"] = Stop.Offset, ["reason"] = Stop.Reason },
        ["errors"] = new JsonArray(Errors.Select(e => (JsonNode)new JsonObject { ["offset_bytes"] = e.Offset, ["message"] = e.Message }).ToArray()),
        ["warnings"] = new JsonArray(Warnings.Select(e => (JsonNode)new JsonObject { ["offset_bytes"] = e.Offset, ["message"] = e.Message }).ToArray()),
        ["message_count"] = MessageCount,
        ["chunk_count"] = ChunkCount,
        ["has_summary"] = HasSummary,
        ["first_log_time_ns"] = FirstLogTime,
        ["last_log_time_ns"] = LastLogTime,
        ["messages_per_topic"] = new JsonObject(MessagesPerTopic.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value)))),
    };

    public string ToJsonString() => ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true });
}

/// <summary>
/// Checks an MCAP file against the spec and against itself: magic at both ends, Header first, record framing, every
/// chunk's CRC and inner records, MessageIndex entries pointing at the right messages, the data-section CRC in
/// DataEnd, the summary CRC, Statistics and ChunkIndexes matching what the data section holds, SummaryOffsets
/// pointing at their groups. Never throws on file content; every finding names its byte offset.
/// </summary>
public static class LogChecker
{
    public static LogCheckReport Check(string path)
    {
        RoboRl.Core.InputFiles.EnsureReadable(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16);
        return Check(stream, path);
    }

    private sealed class ChunkSeen
    {
        public long Offset, Length;
        public ulong Start, End, CompressedSize, UncompressedSize;
        public string Compression = "";
        public readonly List<(ushort Channel, ulong LogTime, ulong Offset)> Messages = [];
        public readonly Dictionary<ushort, ulong> IndexOffsets = [];
        public long IndexLength;
    }

    public static LogCheckReport Check(Stream stream, string name)
    {
        var errors = new List<McapIssue>();
        var warnings = new List<McapIssue>();
        var schemas = new Dictionary<ushort, McapSchema>();
        var channels = new Dictionary<ushort, McapChannel>();
        var chunks = new List<ChunkSeen>();
        var perChannel = new Dictionary<ushort, ulong>();
        ulong messageCount = 0, first = ulong.MaxValue, last = 0;
        long fileLength = stream.CanSeek ? stream.Length : -1;

        var lexer = new McapRecordLexer(stream) { TrackCrc = true };
        McapReadStop? stop = lexer.ReadMagic("leading");
        bool sawHeader = false, sawDataEnd = false, ros2Profile = false;
        var decoders = new Dictionary<ushort, MsgDefinition?>();
        int undecodable = 0;
        long summaryStart = -1, summaryOffsetStart = -1, footerOffset = -1;
        McapFooter? footer = null;
        McapStatistics? statistics = null;
        var summaryChunkIndexes = new List<(long Offset, McapChunkIndex Index)>();
        var summaryOffsets = new List<(long Offset, McapSummaryOffset Value)>();
        var summaryRecords = new List<(long Offset, long Length, McapOpcode Op)>();
        ChunkSeen? lastChunk = null; // MessageIndex records must directly follow their chunk

        void CountMessage(ushort channel, ulong logTime, long at)
        {
            if (!channels.ContainsKey(channel)) errors.Add(new McapIssue(at, $"message on channel {channel}, which no earlier Channel record declares"));
            messageCount++;
            perChannel[channel] = perChannel.GetValueOrDefault(channel) + 1;
            first = Math.Min(first, logTime);
            last = Math.Max(last, logTime);
        }

        // With the ros2 profile every payload must decode as CDR by its channel's ros2msg schema.
        var jsonChannels = new HashSet<ushort>();
        MsgDefinition? DecoderFor(ushort channelId, long at)
        {
            if (decoders.TryGetValue(channelId, out var known)) return known;
            MsgDefinition? def = null;
            // Foxglove's own schemas (the 3D scene) are JSON with a JSON schema in a ros2 log: checked as JSON.
            if (channels.TryGetValue(channelId, out var jc) && jc.MessageEncoding == McapConstants.JsonMessageEncoding
                && schemas.TryGetValue(jc.SchemaId, out var js) && js.Encoding == McapConstants.JsonSchemaEncoding)
                jsonChannels.Add(channelId);
            else if (channels.TryGetValue(channelId, out var ch))
            {
                if (ch.MessageEncoding != McapConstants.CdrMessageEncoding)
                    warnings.Add(new McapIssue(at, $"ros2 profile: channel {ch.Topic} has message encoding '{ch.MessageEncoding}', expected 'cdr'"));
                if (!ch.Metadata.ContainsKey("offered_qos_profiles"))
                    warnings.Add(new McapIssue(at, $"ros2 profile: channel {ch.Topic} lacks the offered_qos_profiles metadata"));
                if (schemas.TryGetValue(ch.SchemaId, out var schema) && schema.Encoding == McapConstants.Ros2MsgSchemaEncoding
                    && ch.MessageEncoding == McapConstants.CdrMessageEncoding)
                {
                    try { def = new MessageRegistry().RegisterRos2MsgSchema(schema.Name, System.Text.Encoding.UTF8.GetString(schema.Data.Span)); }
                    catch (MsgDefinitionException e) { warnings.Add(new McapIssue(at, $"schema {schema.Name} cannot be used to decode payloads: {e.Message}")); }
                }
                else if (schema is not null)
                    warnings.Add(new McapIssue(at, $"ros2 profile: schema {schema.Name} has encoding '{schema.Encoding}', expected 'ros2msg'"));
            }
            decoders[channelId] = def;
            return def;
        }

        void CheckPayload(ushort channelId, ReadOnlySpan<byte> payload, long at)
        {
            if (!ros2Profile) return;
            MsgDefinition? def = DecoderFor(channelId, at);
            if (jsonChannels.Contains(channelId))
            {
                try { System.Text.Json.JsonDocument.Parse(payload.ToArray()).Dispose(); }
                catch (System.Text.Json.JsonException e)
                {
                    if (++undecodable <= 10) errors.Add(new McapIssue(at, $"message on {channels[channelId].Topic} is not JSON: {e.Message}"));
                }
                return;
            }
            if (def is null) return;
            try { CdrDynamic.Read(def, payload); }
            catch (CdrFormatException e)
            {
                if (++undecodable <= 10) errors.Add(new McapIssue(at, $"message on {channels[channelId].Topic} does not decode as {def.FullName}: {e.Message}"));
            }
        }

        while (stop is null)
        {
            uint crcBefore = lexer.Crc?.GetCurrentHashAsUInt32() ?? 0;
            if (!lexer.Next(out var op, out long offset, out var content, out stop)) break;
            long c = offset + McapConstants.RecordHeaderSize;
            if (!sawHeader && op != McapOpcode.Header)
                errors.Add(new McapIssue(offset, $"first record is {McapRecordLexer.Name(op)}, the spec requires Header"));
            if (op != McapOpcode.MessageIndex) lastChunk = null;
            if (sawDataEnd && op is McapOpcode.Message or McapOpcode.Chunk or McapOpcode.MessageIndex)
                errors.Add(new McapIssue(offset, $"{op} record after DataEnd (in the summary section)"));
            if (sawDataEnd && op != McapOpcode.Footer)
            {
                summaryStart = summaryStart < 0 ? offset : summaryStart;
                summaryRecords.Add((offset, McapConstants.RecordHeaderSize + content.Length, op));
            }
            try
            {
                switch (op)
                {
                    case McapOpcode.Header:
                        if (sawHeader) errors.Add(new McapIssue(offset, "second Header record"));
                        ros2Profile = McapParse.Header(content.Span, c).Profile == McapConstants.Ros2Profile;
                        sawHeader = true;
                        break;
                    case McapOpcode.Schema:
                        {
                            var s = McapParse.Schema(content.Span, c);
                            if (s.Id == 0) errors.Add(new McapIssue(offset, "Schema id 0 is reserved"));
                            if (schemas.TryGetValue(s.Id, out var old) && (old.Name != s.Name || !old.Data.Span.SequenceEqual(s.Data.Span)))
                                errors.Add(new McapIssue(offset, $"Schema {s.Id} redefined with different content"));
                            if (sawDataEnd && !schemas.ContainsKey(s.Id)) errors.Add(new McapIssue(offset, $"summary Schema {s.Id} does not appear in the data section"));
                            schemas[s.Id] = s;
                            break;
                        }
                    case McapOpcode.Channel:
                        {
                            var ch = McapParse.Channel(content.Span, c);
                            if (ch.SchemaId != 0 && !schemas.ContainsKey(ch.SchemaId))
                                errors.Add(new McapIssue(offset, $"Channel {ch.Id} ({ch.Topic}) refers to undeclared schema {ch.SchemaId}"));
                            if (channels.TryGetValue(ch.Id, out var old) && (old.Topic != ch.Topic || old.SchemaId != ch.SchemaId))
                                errors.Add(new McapIssue(offset, $"Channel {ch.Id} redefined with a different topic or schema"));
                            if (sawDataEnd && !channels.ContainsKey(ch.Id)) errors.Add(new McapIssue(offset, $"summary Channel {ch.Id} does not appear in the data section"));
                            channels[ch.Id] = ch;
                            break;
                        }
                    case McapOpcode.Message:
                        {
                            var (channel, _, logTime, _) = McapParse.MessageHeader(content.Span, c);
                            CountMessage(channel, logTime, offset);
                            CheckPayload(channel, content.Span[McapParse.MessageHeaderSize..], offset);
                            break;
                        }
                    case McapOpcode.Chunk:
                        {
                            var seen = new ChunkSeen { Offset = offset, Length = McapConstants.RecordHeaderSize + content.Length };
                            var records = McapChunks.Records(content.Span, offset, out var header);
                            seen.Start = header.MessageStartTime; seen.End = header.MessageEndTime; seen.Compression = header.Compression;
                            seen.UncompressedSize = header.UncompressedSize; seen.CompressedSize = header.RecordsLength;
                            ulong min = ulong.MaxValue, max = 0;
                            foreach (var (innerOp, at, inner) in McapChunks.Split(records, offset))
                            {
                                switch (innerOp)
                                {
                                    case McapOpcode.Schema: { var s = McapParse.Schema(inner.Span, offset); schemas[s.Id] = s; break; }
                                    case McapOpcode.Channel: { var ch = McapParse.Channel(inner.Span, offset); channels[ch.Id] = ch; break; }
                                    case McapOpcode.Message:
                                        var (channel, _, logTime, _) = McapParse.MessageHeader(inner.Span, offset);
                                        CountMessage(channel, logTime, offset);
                                        CheckPayload(channel, inner.Span[McapParse.MessageHeaderSize..], offset);
                                        seen.Messages.Add((channel, logTime, (ulong)at));
                                        min = Math.Min(min, logTime); max = Math.Max(max, logTime);
                                        break;
                                    default:
                                        errors.Add(new McapIssue(offset, $"{McapRecordLexer.Name(innerOp)} record inside a Chunk (only Schema, Channel, Message belong there)"));
                                        break;
                                }
                            }
                            if (seen.Messages.Count > 0 && (min != header.MessageStartTime || max != header.MessageEndTime))
                                errors.Add(new McapIssue(offset, $"Chunk says messages span [{header.MessageStartTime}, {header.MessageEndTime}], they span [{min}, {max}]"));
                            chunks.Add(seen);
                            lastChunk = seen;
                            break;
                        }
                    case McapOpcode.MessageIndex:
                        {
                            var (channel, entries) = McapParse.MessageIndex(content.Span, c);
                            if (lastChunk is null) { errors.Add(new McapIssue(offset, "MessageIndex that does not follow a Chunk")); break; }
                            lastChunk.IndexOffsets[channel] = (ulong)offset;
                            lastChunk.IndexLength += McapConstants.RecordHeaderSize + content.Length;
                            var actual = lastChunk.Messages.Where(m => m.Channel == channel).Select(m => (m.LogTime, m.Offset)).ToHashSet();
                            if (actual.Count != entries.Count)
                                errors.Add(new McapIssue(offset, $"MessageIndex for channel {channel} lists {entries.Count} messages, the chunk holds {actual.Count}"));
                            foreach (var e in entries)
                                if (!actual.Contains(e))
                                {
                                    errors.Add(new McapIssue(offset, $"MessageIndex for channel {channel}: no message with log time {e.LogTime} at chunk offset {e.Offset}"));
                                    break;
                                }
                            break;
                        }
                    case McapOpcode.DataEnd:
                        {
                            uint crc = McapParse.DataEnd(content.Span, c);
                            if (crc != 0 && crc != crcBefore)
                                errors.Add(new McapIssue(offset, $"data section CRC mismatch: bytes hash to {crcBefore:X8}, DataEnd says {crc:X8}"));
                            sawDataEnd = true;
                            lexer.StopCrc();
                            break;
                        }
                    case McapOpcode.Statistics: statistics = McapParse.Statistics(content.Span, c); break;
                    case McapOpcode.ChunkIndex: summaryChunkIndexes.Add((offset, McapParse.ChunkIndex(content.Span, c))); break;
                    case McapOpcode.SummaryOffset:
                        summaryOffsetStart = summaryOffsetStart < 0 ? offset : summaryOffsetStart;
                        summaryOffsets.Add((offset, McapParse.SummaryOffset(content.Span, c)));
                        break;
                    case McapOpcode.Footer:
                        footer = McapParse.Footer(content.Span, c);
                        footerOffset = offset;
                        stop = lexer.ReadMagic("closing");
                        if (stop is null)
                        {
                            stop = new McapReadStop(lexer.Position, McapStopKind.Complete, "footer and closing magic read");
                            if (fileLength >= 0 && lexer.Position != fileLength)
                                errors.Add(new McapIssue(lexer.Position, $"{fileLength - lexer.Position} bytes after the closing magic"));
                        }
                        break;
                    case McapOpcode.Attachment or McapOpcode.AttachmentIndex or McapOpcode.Metadata or McapOpcode.MetadataIndex:
                        break;
                    default:
                        warnings.Add(new McapIssue(offset, $"unknown {McapRecordLexer.Name(op)} record skipped"));
                        break;
                }
            }
            catch (McapFormatException e)
            {
                errors.Add(new McapIssue(e.Offset, $"{McapRecordLexer.Name(op)} record at byte {offset}: {e.Reason}"));
            }
        }
        stop ??= new McapReadStop(lexer.Position, McapStopKind.Truncated, "no footer");

        if (undecodable > 10) errors.Add(new McapIssue(0, $"{undecodable} messages in all do not decode by their schema"));
        if (stop.Kind != McapStopKind.Complete) errors.Add(new McapIssue(stop.Offset, $"file is {stop.Kind.ToString().ToLowerInvariant()}: {stop.Reason}"));
        if (stop.Kind == McapStopKind.Complete && !sawDataEnd) errors.Add(new McapIssue(footerOffset, "no DataEnd record before the summary"));

        // Every chunk should carry one MessageIndex per channel it holds.
        foreach (var ch in chunks)
            foreach (var channel in ch.Messages.Select(m => m.Channel).Distinct())
                if (!ch.IndexOffsets.ContainsKey(channel))
                    warnings.Add(new McapIssue(ch.Offset, $"Chunk has no MessageIndex for channel {channel}"));

        bool hasSummary = footer is { SummaryStart: not 0 };
        if (footer is not null && stop.Kind == McapStopKind.Complete)
            CheckSummary(stream, footer, footerOffset, summaryStart, summaryOffsetStart, summaryRecords, summaryOffsets, statistics,
                summaryChunkIndexes, chunks, schemas, channels, perChannel, messageCount, first, last, errors);

        var perTopic = new SortedDictionary<string, ulong>(StringComparer.Ordinal);
        foreach (var (id, count) in perChannel)
        {
            string topic = channels.TryGetValue(id, out var ch) ? ch.Topic : $"<channel {id}>";
            perTopic[topic] = perTopic.GetValueOrDefault(topic) + count;
        }
        return new LogCheckReport(name, fileLength, errors, warnings, stop, messageCount, chunks.Count, perTopic,
            messageCount == 0 ? 0 : first, last, hasSummary);
    }

    private static void CheckSummary(Stream stream, McapFooter footer, long footerOffset, long summaryStart, long summaryOffsetStart,
        List<(long Offset, long Length, McapOpcode Op)> summaryRecords, List<(long Offset, McapSummaryOffset Value)> summaryOffsets,
        McapStatistics? statistics, List<(long Offset, McapChunkIndex Index)> chunkIndexes, List<ChunkSeen> chunks,
        Dictionary<ushort, McapSchema> schemas, Dictionary<ushort, McapChannel> channels, Dictionary<ushort, ulong> perChannel,
        ulong messageCount, ulong first, ulong last, List<McapIssue> errors)
    {
        if (footer.SummaryStart == 0)
        {
            if (summaryStart >= 0) errors.Add(new McapIssue(footerOffset, "Footer says there is no summary, but records follow DataEnd"));
            return;
        }
        if (summaryStart < 0 || (ulong)summaryStart != footer.SummaryStart)
            errors.Add(new McapIssue(footerOffset, $"Footer summary_start {footer.SummaryStart}, the summary starts at {summaryStart}"));
        if (footer.SummaryOffsetStart != 0 && (summaryOffsetStart < 0 || (ulong)summaryOffsetStart != footer.SummaryOffsetStart))
            errors.Add(new McapIssue(footerOffset, $"Footer summary_offset_start {footer.SummaryOffsetStart}, summary offsets start at {summaryOffsetStart}"));

        if (footer.SummaryCrc != 0 && stream.CanSeek && footer.SummaryStart < (ulong)footerOffset)
        {
            var bytes = new byte[footerOffset + McapConstants.RecordHeaderSize + 16 - (long)footer.SummaryStart];
            stream.Position = (long)footer.SummaryStart;
            stream.ReadExactly(bytes);
            uint crc = Crc32.HashToUInt32(bytes);
            if (crc != footer.SummaryCrc)
                errors.Add(new McapIssue(footerOffset, $"summary CRC mismatch: bytes hash to {crc:X8}, Footer says {footer.SummaryCrc:X8}"));
        }

        foreach (var (at, so) in summaryOffsets)
        {
            long start = (long)so.GroupStart, end = start + (long)so.GroupLength;
            var inGroup = summaryRecords.Where(r => r.Offset >= start && r.Offset < end).ToList();
            bool aligned = inGroup.Count > 0 && inGroup[0].Offset == start && inGroup[^1].Offset + inGroup[^1].Length == end;
            if (!aligned || inGroup.Any(r => r.Op != so.GroupOpcode))
                errors.Add(new McapIssue(at, $"SummaryOffset for {McapRecordLexer.Name(so.GroupOpcode)} [{start}, {end}) does not cover exactly a group of those records"));
        }

        if (statistics is not null)
        {
            void Expect<T>(string field, T stated, T actual) where T : IEquatable<T>
            {
                if (!stated.Equals(actual)) errors.Add(new McapIssue((long)footer.SummaryStart, $"Statistics {field} = {stated}, the file holds {actual}"));
            }
            Expect("message_count", statistics.MessageCount, messageCount);
            Expect("schema_count", (int)statistics.SchemaCount, schemas.Count);
            Expect("channel_count", (int)statistics.ChannelCount, channels.Count);
            Expect("chunk_count", (int)statistics.ChunkCount, chunks.Count);
            if (messageCount > 0)
            {
                Expect("message_start_time", statistics.MessageStartTime, first);
                Expect("message_end_time", statistics.MessageEndTime, last);
            }
            foreach (var id in perChannel.Keys.Union(statistics.ChannelMessageCounts.Keys))
                Expect($"channel_message_counts[{id}]", statistics.ChannelMessageCounts.GetValueOrDefault(id), perChannel.GetValueOrDefault(id));
        }

        if (chunkIndexes.Count > 0 || chunks.Count > 0)
        {
            if (chunkIndexes.Count != chunks.Count)
                errors.Add(new McapIssue((long)footer.SummaryStart, $"summary has {chunkIndexes.Count} ChunkIndex records for {chunks.Count} chunks"));
            var byOffset = chunks.ToDictionary(c => c.Offset);
            foreach (var (at, ci) in chunkIndexes)
            {
                if (!byOffset.TryGetValue((long)ci.ChunkStartOffset, out var ch))
                {
                    errors.Add(new McapIssue(at, $"ChunkIndex points at byte {ci.ChunkStartOffset}, where no chunk starts"));
                    continue;
                }
                var problems = new List<string>();
                if (ci.ChunkLength != (ulong)ch.Length) problems.Add($"chunk_length {ci.ChunkLength} (actual {ch.Length})");
                if (ci.MessageStartTime != ch.Start || ci.MessageEndTime != ch.End) problems.Add("message times differ from the chunk's");
                if (ci.Compression != ch.Compression) problems.Add($"compression '{ci.Compression}' (chunk '{ch.Compression}')");
                if (ci.CompressedSize != ch.CompressedSize || ci.UncompressedSize != ch.UncompressedSize) problems.Add("sizes differ from the chunk's");
                if (ci.MessageIndexLength != (ulong)ch.IndexLength) problems.Add($"message_index_length {ci.MessageIndexLength} (actual {ch.IndexLength})");
                if (ci.MessageIndexOffsets.Count != ch.IndexOffsets.Count
                    || ci.MessageIndexOffsets.Any(kv => ch.IndexOffsets.GetValueOrDefault(kv.Key) != kv.Value))
                    problems.Add("message_index_offsets do not match the MessageIndex records");
                if (problems.Count > 0) errors.Add(new McapIssue(at, $"ChunkIndex for chunk at {ch.Offset}: {string.Join("; ", problems)}"));
            }
        }
    }
}
