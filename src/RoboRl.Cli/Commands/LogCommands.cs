using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using RoboRl.Logs;

namespace RoboRl.Cli.Commands;

/// <summary>
/// <c>roborl log check|recover|info|cat|compare</c>: flight logs (MCAP) checked, repaired, summarised, printed and compared. A file that is
/// not MCAP at all is bad input (exit 2) for recover, info and cat, and a failed check (1) for check; a damaged MCAP is
/// read as far as it goes, with a note saying where and why reading stopped.
/// </summary>
public static class LogCommands
{
    public static Command Create()
    {
        var log = new Command("log", "Flight logs (MCAP, ros2 profile): check, recover, info, cat, compare.");
        log.Subcommands.Add(Check());
        log.Subcommands.Add(Recover());
        log.Subcommands.Add(Info());
        log.Subcommands.Add(Cat());
        log.Subcommands.Add(Compare());
        return log;
    }

    /// <summary>
    /// `roborl log compare A B [--topics T …] [--tolerance X] [--json]`: the same run recorded twice (x64 and arm64, two
    /// builds, two machines) agrees message by message on the topics within the tolerance. Exit 0 when it does, 1 when a
    /// number differs by more or a topic has another message count, 2 on bad input.
    /// </summary>
    private static Command Compare()
    {
        var a = new Argument<string>("a") { Description = "An MCAP file." };
        var b = new Argument<string>("b") { Description = "The MCAP file to compare it with." };
        var topics = new Option<string[]>("--topics") { Description = "Topics to compare (default: /action).", AllowMultipleArgumentsPerToken = true };
        var tolerance = new Option<double>("--tolerance") { Description = "Largest |a − b| allowed for every number of every message (stamps are not compared).", DefaultValueFactory = _ => 1e-5 };
        var json = JsonOption("Print the comparison as one JSON object.");
        var cmd = new Command("compare", "Compare two logs message by message on some topics (numbers within --tolerance, stamps skipped). Exit 0 = same, 1 = different.")
        {
            a, b, topics, tolerance, json,
        };
        cmd.SetAction(parse =>
        {
            CommandIo io = Io(parse, "log compare", json);
            return io.Run(() =>
            {
                double tol = parse.GetValue(tolerance);
                if (!(tol >= 0)) throw CliException.BadInput($"--tolerance {tol}: expected a number ≥ 0");
                string pathA = PathArguments.InputFile(parse.GetValue(a)!, "A", "an MCAP file"), pathB = PathArguments.InputFile(parse.GetValue(b)!, "B", "an MCAP file");
                RequireMcap(pathA);
                RequireMcap(pathB);
                string[] selected = parse.GetValue(topics) is { Length: > 0 } t ? t : ["/action"];
                IReadOnlyList<TopicComparison> results = LogComparison.Compare(pathA, pathB, selected, tol);
                bool same = results.All(r => r.SameCount && r.FirstOver is null && r.MessagesA > 0);
                foreach (TopicComparison r in results)
                    io.Text.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  {r.Topic}: {r.MessagesA} vs {r.MessagesB} messages, {r.Values} numbers, max |Δ| {r.MaxAbsDiff:G3}{(r.FirstOver is null ? "" : $"; first over {tol:G3}: {r.FirstOver}")}"));
                string empty = results.FirstOrDefault(r => r.MessagesA == 0) is { } none ? $"; {none.Topic} has no messages" : "";
                io.Text.WriteLine(same ? $"log compare: same within {tol:G3} on {string.Join(", ", selected)}" : $"log compare: DIFFERENT{empty}");
                var result = new JsonObject
                {
                    ["same"] = same,
                    ["tolerance"] = tol,
                    ["topics"] = new JsonArray(results.Select(r => (JsonNode)new JsonObject
                    {
                        ["topic"] = r.Topic,
                        ["messages_a"] = r.MessagesA,
                        ["messages_b"] = r.MessagesB,
                        ["values"] = r.Values,
                        ["max_abs_diff"] = double.IsFinite(r.MaxAbsDiff) ? r.MaxAbsDiff : null,
                        ["first_over"] = r.FirstOver,
                    }).ToArray()),
                };
                return io.Result(result, same ? ExitCodes.Ok : ExitCodes.Failed);
            });
        });
        return cmd;
    }

    private static Argument<string> FileArgument() => new("file") { Description = "An MCAP file." };

    private static Option<bool> JsonOption(string what) => new("--json") { Description = what };

    private static CommandIo Io(ParseResult parse, string command, Option<bool> json) =>
        new(command, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, parse.GetValue(json));

    private static string McapInput(string path) => PathArguments.InputFile(path, "FILE", "an MCAP file");

    /// <summary>Bad input unless the file starts with the MCAP magic.</summary>
    private static void RequireMcap(string path)
    {
        if (!McapStreamReader.HasMagic(path))
            throw CliException.BadInput($"{path}: not an MCAP file (it does not start with the MCAP magic 89 4D 43 41 50 30 0D 0A)");
    }

    private static Command Check()
    {
        var file = FileArgument();
        var json = JsonOption("Print the report as one JSON object.");
        var cmd = new Command("check", "Check magic, CRCs, chunks, indexes and statistics. Exit code 0 = valid, 1 = invalid, 2 = no readable file.") { file, json };
        cmd.SetAction(parse =>
        {
            CommandIo io = Io(parse, "log check", json);
            string path = McapInput(parse.GetValue(file)!);
            var report = LogChecker.Check(path);
            int code = report.IsValid ? ExitCodes.Ok : ExitCodes.Failed;
            if (!io.Json)
            {
                foreach (var e in report.Errors) io.Output.WriteLine($"  error   {e}");
                foreach (var w in report.Warnings) io.Output.WriteLine($"  warning {w}");
                io.Output.WriteLine(report.IsValid
                    ? $"{path}: valid — {report.MessageCount} messages, {report.ChunkCount} chunks, {report.MessagesPerTopic.Count} topics"
                    : $"{path}: INVALID — {report.Errors.Count} errors; readable up to byte {report.Stop.Offset} ({report.Stop.Reason}); try `roborl log recover`");
            }
            return io.Finish(report.ToJson(), code, report.IsValid ? null
                : $"{path}: INVALID — {report.Errors.Count} errors, the first at byte {report.Errors[0].Offset}: {report.Errors[0].Message}");
        });
        return cmd;
    }

    private static Command Recover()
    {
        var file = FileArgument();
        var output = new OutputOption("The new file (default: FILE.recovered.mcap).");
        var json = JsonOption("Print what was recovered as one JSON object.");
        var cmd = new Command("recover", "Rewrite every readable message of a damaged or truncated file into a new valid file.") { file, json };
        output.AddTo(cmd);
        cmd.SetAction(parse =>
        {
            CommandIo io = Io(parse, "log recover", json);
            string input = McapInput(parse.GetValue(file)!);
            RequireMcap(input);
            string target = PathArguments.OutputFile(output.Get(parse) ?? Path.ChangeExtension(input, null) + ".recovered.mcap", "--output");
            if (Path.GetFullPath(target) == Path.GetFullPath(input)) throw CliException.BadInput($"--output {target}: is the input; recovery writes a new file");
            var progress = ProgressLine.For(io.Error, plainIntervalS: 2);
            var report = LogRecovery.Recover(input, target, new SyncProgress(p => progress.Report($"  reading {input}: {p * 100:F0}%", force: p >= 1)));
            progress.End();
            var result = new JsonObject
            {
                ["input"] = input,
                ["output"] = target,
                ["messages_recovered"] = report.MessagesRecovered,
                ["chunks_recovered"] = report.ChunksRecovered,
                ["chunks_skipped"] = report.ChunksSkipped,
                ["input_intact"] = report.InputWasIntact,
                ["stop"] = new JsonObject { ["kind"] = report.Stop.Kind.ToString(), ["offset_bytes"] = report.Stop.Offset, ["reason"] = report.Stop.Reason },
                ["damage"] = new JsonArray(report.Damage.Select(d => (JsonNode)new JsonObject { ["offset_bytes"] = d.Offset, ["message"] = d.Message }).ToArray()),
            };
            foreach (var d in report.Damage) io.Text.WriteLine($"  damage  {d}");
            io.Text.WriteLine(report.Summary);
            if (report.MessagesRecovered == 0 && report.ChunksRecovered == 0)
            {
                // Nothing to keep: no empty "recovered" file left behind to be mistaken for a flight.
                File.Delete(target);
                result["output"] = null;
                return io.Finish(result, ExitCodes.Failed, $"{input}: nothing recoverable ({report.Stop}); no file written");
            }
            return io.Result(result);
        });
        return cmd;
    }

    private static Command Info()
    {
        var file = FileArgument();
        var json = JsonOption("Print the summary as one JSON object.");
        var cmd = new Command("info", "Summarise a file like `mcap info`: duration, channels with counts, schemas.") { file, json };
        cmd.SetAction(parse =>
        {
            CommandIo io = Io(parse, "log info", json);
            string path = McapInput(parse.GetValue(file)!);
            RequireMcap(path);

            McapHeader? header; IReadOnlyDictionary<ushort, McapSchema> schemas; IReadOnlyDictionary<ushort, McapChannel> channels;
            Dictionary<ushort, ulong> counts; ulong start, end, total; int chunks; string compression; string? note = null;
            McapReadStop? stop = null;
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
                stop = r.Stop;
                note += $"; stopped: {r.Stop}";
            }
            double seconds = total > 0 ? (end - start) / 1e9 : 0;
            TextWriter o = io.Text;
            o.WriteLine($"library:     {header?.Library}");
            o.WriteLine($"profile:     {header?.Profile}");
            o.WriteLine($"messages:    {total}");
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"duration:    {seconds:F3} s"));
            o.WriteLine($"start:       {FormatTime(start)}");
            o.WriteLine($"end:         {FormatTime(end)}");
            o.WriteLine($"chunks:      {chunks} ({compression})");
            o.WriteLine($"channels:    {channels.Count}");
            int width = channels.Values.Select(c => c.Topic.Length).DefaultIfEmpty(0).Max();
            var channelJson = new JsonArray();
            foreach (var c in channels.Values.OrderBy(c => c.Id))
            {
                ulong n = counts.GetValueOrDefault(c.Id);
                string rate = seconds > 0 ? string.Create(CultureInfo.InvariantCulture, $"{n / seconds:F1} Hz") : "-";
                string schema = schemas.TryGetValue(c.SchemaId, out var s) ? $"{s.Name} [{s.Encoding}]" : "(no schema)";
                o.WriteLine($"  ({c.Id}) {c.Topic.PadRight(width)}  {n,8} msgs ({rate}) : {schema}");
                channelJson.Add(new JsonObject
                {
                    ["id"] = c.Id,
                    ["topic"] = c.Topic,
                    ["messages"] = n,
                    ["rate_hz"] = seconds > 0 ? Math.Round(n / seconds, 3) : null,
                    ["type"] = s?.Name,
                    ["schema_encoding"] = s?.Encoding,
                    ["message_encoding"] = c.MessageEncoding,
                });
            }
            o.WriteLine($"schemas:     {schemas.Count}");
            foreach (var s in schemas.Values.OrderBy(s => s.Id)) o.WriteLine($"  ({s.Id}) {s.Name} [{s.Encoding}]");
            if (note is not null)
            {
                o.WriteLine($"note:        {note}");
                if (!io.Json) io.Note($"{path} is damaged; the figures above are what a full scan could read ({stop}); `roborl log recover` rewrites it");
            }
            return io.Result(new JsonObject
            {
                ["file"] = path,
                ["library"] = header?.Library,
                ["profile"] = header?.Profile,
                ["messages"] = total,
                ["duration_s"] = Math.Round(seconds, 6),
                ["start_time_ns"] = start,
                ["end_time_ns"] = end,
                ["chunks"] = chunks,
                ["compression"] = compression,
                ["channels"] = channelJson,
                ["complete"] = note is null,
                ["note"] = note,
            });
        });
        return cmd;
    }

    private static Command Cat()
    {
        var file = FileArgument();
        var topics = new Option<string[]>("--topics") { Description = "Only these topics.", AllowMultipleArgumentsPerToken = true };
        var limit = new Option<int>("--limit") { Description = "Stop after this many messages (0 = all).", DefaultValueFactory = _ => 0 };
        var json = JsonOption("After the message lines, print one JSON object summarising what was read (messages, complete, stop).");
        var cmd = new Command("cat", "Print messages as JSON lines (topic, type, sequence, log_time_ns, publish_time_ns, decoded fields), like `mcap cat --json`.")
        {
            file, topics, limit, json,
        };
        cmd.SetAction(parse =>
        {
            CommandIo io = Io(parse, "log cat", json);
            string path = McapInput(parse.GetValue(file)!);
            RequireMcap(path);
            var wanted = parse.GetValue(topics) is { Length: > 0 } t ? t.ToHashSet() : null;
            int max = parse.GetValue(limit);
            if (max < 0) throw CliException.BadInput($"--limit {max}: must be 0 (all) or more");
            var decoder = new McapMessageDecoder();
            long printed = 0;
            using var reader = McapStreamReader.Open(path);
            bool stoppedAtLimit = false;
            foreach (var m in reader.ReadMessages())
            {
                if (wanted is not null && !wanted.Contains(m.Channel.Topic)) continue;
                io.Output.WriteLine(decoder.JsonLine(m).ToJsonString());
                if (++printed == max) { stoppedAtLimit = true; break; }
            }
            if (wanted is not null && wanted.Except(reader.Channels.Values.Select(c => c.Topic)).ToList() is { Count: > 0 } unknown)
                io.Note($"no such topic in {path}: {string.Join(", ", unknown)} (topics: {string.Join(", ", reader.Channels.Values.Select(c => c.Topic).Distinct().Order())})");
            // A damaged file: say where reading stopped (the lines above are everything before it).
            bool complete = stoppedAtLimit || (reader.Stop?.Kind == McapStopKind.Complete && reader.ChunksSkipped == 0);
            string summary = complete ? $"{printed} messages from {path}"
                : $"{printed} messages from {path}, which is damaged: reading stopped ({reader.Stop}){(reader.ChunksSkipped > 0 ? $", {reader.ChunksSkipped} corrupted chunks skipped" : "")}; `roborl log recover` rewrites what is readable";
            io.Note(summary);
            return io.Result(new JsonObject
            {
                ["file"] = path,
                ["messages"] = printed,
                ["complete"] = complete,
                ["chunks_skipped"] = reader.ChunksSkipped,
                ["stop"] = stoppedAtLimit || reader.Stop is null ? null : new JsonObject { ["kind"] = reader.Stop.Kind.ToString(), ["offset_bytes"] = reader.Stop.Offset, ["reason"] = reader.Stop.Reason },
            });
        });
        return cmd;
    }

    private static string FormatTime(ulong ns) =>
        ns == 0 ? "0" : $"{DateTime.UnixEpoch.AddTicks((long)(ns / 100)):yyyy-MM-dd HH:mm:ss.fff} UTC ({ns} ns)";

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool and interleave output).</summary>
    private sealed class SyncProgress(Action<double> report) : IProgress<double>
    {
        public void Report(double value) => report(value);
    }
}
