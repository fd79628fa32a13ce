using System.CommandLine;
using System.Globalization;
using RoboRl.Logs;

namespace RoboRl.Cli.Commands;

/// <summary><c>roborl log check|recover|info</c>: flight logs (MCAP) checked, repaired and summarised.</summary>
public static class LogCommands
{
    public static Command Create()
    {
        var log = new Command("log", "Flight logs (MCAP, ros2 profile): check, recover, info.");
        log.Subcommands.Add(Check());
        log.Subcommands.Add(Recover());
        log.Subcommands.Add(Info());
        log.Subcommands.Add(Cat());
        return log;
    }

    private static Argument<FileInfo> FileArgument() => new("file") { Description = "An MCAP file." };

    private static Command Check()
    {
        var file = FileArgument();
        var json = new Option<bool>("--json") { Description = "Print the report as JSON." };
        var cmd = new Command("check", "Check magic, CRCs, chunks, indexes and statistics. Exit code 0 = valid, 1 = invalid.") { file, json };
        cmd.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            var path = parse.GetValue(file)!.FullName;
            if (!File.Exists(path)) return Fail(parse, $"{path}: no such file");
            var report = LogChecker.Check(path);
            if (parse.GetValue(json))
            {
                output.WriteLine(report.ToJsonString());
                return report.IsValid ? 0 : 1;
            }
            foreach (var e in report.Errors) output.WriteLine($"  error   {e}");
            foreach (var w in report.Warnings) output.WriteLine($"  warning {w}");
            output.WriteLine(report.IsValid
                ? $"{path}: valid — {report.MessageCount} messages, {report.ChunkCount} chunks, {report.MessagesPerTopic.Count} topics"
                : $"{path}: INVALID — {report.Errors.Count} errors; readable up to byte {report.Stop.Offset} ({report.Stop.Reason}); try `roborl log recover`");
            return report.IsValid ? 0 : 1;
        });
        return cmd;
    }

    private static Command Recover()
    {
        var file = FileArgument();
        var output = new Option<FileInfo?>("--output", "-o") { Description = "The new file (default: FILE.recovered.mcap)." };
        var cmd = new Command("recover", "Rewrite every readable message of a damaged or truncated file into a new valid file.") { file, output };
        cmd.SetAction(parse =>
        {
            var outWriter = parse.InvocationConfiguration.Output;
            var input = parse.GetValue(file)!.FullName;
            if (!File.Exists(input)) return Fail(parse, $"{input}: no such file");
            var target = parse.GetValue(output)?.FullName ?? Path.ChangeExtension(input, null) + ".recovered.mcap";
            int lastPercent = -1;
            var progress = new SyncProgress(p =>
            {
                int percent = (int)(p * 100) / 10 * 10;
                if (percent == lastPercent) return;
                lastPercent = percent;
                outWriter.WriteLine($"  reading {input}: {percent}%");
            });
            try
            {
                var report = LogRecovery.Recover(input, target, progress);
                foreach (var d in report.Damage) outWriter.WriteLine($"  damage  {d}");
                outWriter.WriteLine(report.Summary);
                return 0;
            }
            catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException)
            {
                return Fail(parse, $"{input}: {e.Message}");
            }
        });
        return cmd;
    }

    private static Command Info()
    {
        var file = FileArgument();
        var cmd = new Command("info", "Summarise a file like `mcap info`: duration, channels with counts, schemas.") { file };
        cmd.SetAction(parse =>
        {
            var o = parse.InvocationConfiguration.Output;
            var path = parse.GetValue(file)!.FullName;
            if (!File.Exists(path)) return Fail(parse, $"{path}: no such file");

            McapHeader? header; IReadOnlyDictionary<ushort, McapSchema> schemas; IReadOnlyDictionary<ushort, McapChannel> channels;
            Dictionary<ushort, ulong> counts; ulong start, end, total; int chunks; string compression; string? note = null;
            try
            {
                using var r = McapIndexedReader.Open(path);
                header = r.Header; schemas = r.Schemas; channels = r.Channels; chunks = r.ChunkIndexes.Count;
                var stats = r.Statistics ?? throw new McapFormatException("no Statistics record", 0);
                counts = stats.ChannelMessageCounts.ToDictionary(kv => kv.Key, kv => kv.Value);
                start = stats.MessageStartTime; end = stats.MessageEndTime; total = stats.MessageCount;
                compression = string.Join(", ", r.ChunkIndexes.GroupBy(c => c.Compression == "" ? "none" : c.Compression).Select(g => $"{g.Key}: {g.Count()} chunks"));
            }
            catch (McapFormatException e)
            {
                note = $"no usable summary ({e.Reason}); figures come from a full scan";
                using var r = McapStreamReader.Open(path);
                counts = [];
                start = ulong.MaxValue; end = 0; total = 0;
                foreach (var m in r.ReadMessages())
                {
                    counts[m.Channel.Id] = counts.GetValueOrDefault(m.Channel.Id) + 1;
                    start = Math.Min(start, m.LogTime); end = Math.Max(end, m.LogTime); total++;
                }
                if (total == 0) start = 0;
                header = r.Header; schemas = r.Schemas; channels = r.Channels; chunks = r.ChunksRead;
                compression = "-";
                note += $"; stopped: {r.Stop}";
            }
            double seconds = total > 0 ? (end - start) / 1e9 : 0;
            o.WriteLine($"library:     {header?.Library}");
            o.WriteLine($"profile:     {header?.Profile}");
            o.WriteLine($"messages:    {total}");
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"duration:    {seconds:F3} s"));
            o.WriteLine($"start:       {FormatTime(start)}");
            o.WriteLine($"end:         {FormatTime(end)}");
            o.WriteLine($"chunks:      {chunks} ({compression})");
            o.WriteLine($"channels:    {channels.Count}");
            int width = channels.Values.Select(c => c.Topic.Length).DefaultIfEmpty(0).Max();
            foreach (var c in channels.Values.OrderBy(c => c.Id))
            {
                ulong n = counts.GetValueOrDefault(c.Id);
                string rate = seconds > 0 ? string.Create(CultureInfo.InvariantCulture, $"{n / seconds:F1} Hz") : "-";
                string schema = schemas.TryGetValue(c.SchemaId, out var s) ? $"{s.Name} [{s.Encoding}]" : "(no schema)";
                o.WriteLine($"  ({c.Id}) {c.Topic.PadRight(width)}  {n,8} msgs ({rate}) : {schema}");
            }
            o.WriteLine($"schemas:     {schemas.Count}");
            foreach (var s in schemas.Values.OrderBy(s => s.Id)) o.WriteLine($"  ({s.Id}) {s.Name} [{s.Encoding}]");
            if (note is not null) o.WriteLine($"note:        {note}");
            return 0;
        });
        return cmd;
    }

    private static Command Cat()
    {
        var file = FileArgument();
        var topics = new Option<string[]>("--topics") { Description = "Only these topics.", AllowMultipleArgumentsPerToken = true };
        var limit = new Option<int>("--limit") { Description = "Stop after this many messages (0 = all).", DefaultValueFactory = _ => 0 };
        var cmd = new Command("cat", "Print messages as JSON lines (topic, log time, decoded fields), like `mcap cat --json`.") { file, topics, limit };
        cmd.SetAction(parse =>
        {
            var o = parse.InvocationConfiguration.Output;
            var path = parse.GetValue(file)!.FullName;
            if (!File.Exists(path)) return Fail(parse, $"{path}: no such file");
            var wanted = parse.GetValue(topics) is { Length: > 0 } t ? t.ToHashSet() : null;
            int max = parse.GetValue(limit);
            var decoder = new McapMessageDecoder();
            int printed = 0;
            using var reader = McapStreamReader.Open(path);
            foreach (var m in reader.ReadMessages())
            {
                if (wanted is not null && !wanted.Contains(m.Channel.Topic)) continue;
                var line = new System.Text.Json.Nodes.JsonObject
                {
                    ["topic"] = m.Channel.Topic, ["sequence"] = m.Sequence, ["log_time"] = m.LogTime, ["publish_time"] = m.PublishTime,
                };
                try { line["message"] = decoder.Decode(m).ToJson(); }
                catch (Exception e) when (e is Core.Messages.MsgDefinitionException or Core.Messages.CdrFormatException) { line["error"] = e.Message; }
                o.WriteLine(line.ToJsonString());
                if (++printed == max) break;
            }
            return 0;
        });
        return cmd;
    }

    private static string FormatTime(ulong ns) =>
        ns == 0 ? "0" : $"{DateTime.UnixEpoch.AddTicks((long)(ns / 100)):yyyy-MM-dd HH:mm:ss.fff} UTC ({ns} ns)";

    private static int Fail(ParseResult parse, string message)
    {
        parse.InvocationConfiguration.Error.WriteLine(message);
        return 1;
    }

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool and interleave output).</summary>
    private sealed class SyncProgress(Action<double> report) : IProgress<double>
    {
        public void Report(double value) => report(value);
    }
}
