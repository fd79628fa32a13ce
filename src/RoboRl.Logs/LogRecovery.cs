using System.Text;

namespace RoboRl.Logs;

/// <summary>What <see cref="LogRecovery.Recover"/> did.</summary>
public sealed record LogRecoveryReport(
    string Input,
    string Output,
    ulong MessagesRecovered,
    int ChunksRecovered,
    int ChunksSkipped,
    IReadOnlyList<McapIssue> Damage,
    McapReadStop Stop)
{
    /// <summary>True when the input was complete and nothing was skipped.</summary>
    public bool InputWasIntact => Stop.Kind == McapStopKind.Complete && Damage.Count == 0;

    /// <summary>One line for the command line.</summary>
    public string Summary
    {
        get
        {
            var sb = new StringBuilder($"{MessagesRecovered} messages recovered from {ChunksRecovered} chunks into {Output}");
            if (ChunksSkipped > 0) sb.Append($"; {ChunksSkipped} damaged chunks skipped");
            sb.Append(Stop.Kind == McapStopKind.Complete
                ? "; input ended cleanly"
                : $"; input {Stop.Kind.ToString().ToLowerInvariant()} at byte {Stop.Offset} ({Stop.Reason})");
            if (Damage.Count > 0) sb.Append($"; first damage at byte {Damage[0].Offset}: {Damage[0].Message}");
            return sb.ToString();
        }
    }
}

/// <summary>
/// Rewrites a damaged or truncated MCAP file (a recorder killed mid-flight, a copy cut short, flipped bits) into a new
/// valid file holding every message that can still be read: every message of every intact chunk, with original
/// channels, schemas, timestamps and sequence numbers. The input is never modified.
/// </summary>
public static class LogRecovery
{
    public static LogRecoveryReport Recover(string inputPath, string outputPath, IProgress<double>? progress = null)
    {
        if (Path.GetFullPath(inputPath) == Path.GetFullPath(outputPath))
            throw new ArgumentException($"recovery writes a new file; output '{outputPath}' is the input");

        using var reader = McapStreamReader.Open(inputPath);
        var schemaIds = new Dictionary<ushort, ushort>();
        var channelIds = new Dictionary<ushort, ushort>();
        ulong recovered = 0;
        McapWriter? writer = null;
        try
        {
            long lastReport = 0;
            foreach (var m in reader.ReadMessages())
            {
                writer ??= new McapWriter(new FileStream(outputPath, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16),
                    new McapWriterOptions { Profile = reader.Header?.Profile ?? McapConstants.Ros2Profile, Library = "roborl log recover", BackgroundFlush = false });
                if (!channelIds.TryGetValue(m.Channel.Id, out ushort channelId))
                {
                    ushort schemaId = 0;
                    if (m.Schema is { } s && !schemaIds.TryGetValue(s.Id, out schemaId))
                        schemaIds[s.Id] = schemaId = writer.RegisterSchema(s.Name, s.Encoding, s.Data.Span);
                    channelIds[m.Channel.Id] = channelId = writer.RegisterChannel(schemaId, m.Channel.Topic, m.Channel.MessageEncoding, m.Channel.Metadata);
                }
                writer.WriteMessage(channelId, m.Sequence, m.LogTime, m.PublishTime, m.Data.Span);
                recovered++;
                if (progress is not null && reader.Length > 0 && reader.Position - lastReport > reader.Length / 100)
                {
                    lastReport = reader.Position;
                    progress.Report((double)reader.Position / reader.Length);
                }
            }
            // A file may hold channels without messages: keep them so tools list every topic.
            writer ??= new McapWriter(new FileStream(outputPath, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16),
                new McapWriterOptions { Profile = reader.Header?.Profile ?? McapConstants.Ros2Profile, Library = "roborl log recover", BackgroundFlush = false });
            foreach (var ch in reader.Channels.Values.OrderBy(c => c.Id))
            {
                if (channelIds.ContainsKey(ch.Id)) continue;
                ushort schemaId = 0;
                if (reader.Schemas.TryGetValue(ch.SchemaId, out var s) && !schemaIds.TryGetValue(s.Id, out schemaId))
                    schemaIds[s.Id] = schemaId = writer.RegisterSchema(s.Name, s.Encoding, s.Data.Span);
                channelIds[ch.Id] = writer.RegisterChannel(schemaId, ch.Topic, ch.MessageEncoding, ch.Metadata);
            }
        }
        finally
        {
            writer?.Dispose();
        }
        progress?.Report(1.0);
        return new LogRecoveryReport(inputPath, outputPath, recovered, reader.ChunksRead, reader.ChunksSkipped, reader.Issues.ToList(),
            reader.Stop ?? new McapReadStop(0, McapStopKind.Corrupt, "not read"));
    }
}
