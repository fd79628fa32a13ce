using System.Text.Json.Nodes;
using RoboRl.Cli.Commands;
using RoboRl.Core.Messages;
using RoboRl.Core.Policy;
using RoboRl.Core.Quadrotor;
using RoboRl.Logs;

namespace RoboRl.Replay.Tests;

public class ReplayTests
{
    /// <summary>Collects what it is given; <paramref name="realTime"/> makes it behave as a network sink (drops when behind).</summary>
    private sealed class CollectingSink(int delayMs = 0, bool realTime = false) : IReplaySink
    {
        public readonly List<McapMessage> Messages = [];
        public int Count { get { lock (Messages) return Messages.Count; } }
        public void Write(in McapMessage message) { if (delayMs > 0) Thread.Sleep(delayMs); lock (Messages) Messages.Add(message); }
        public bool RealTime => realTime;
        public void Dispose() { }
    }

    /// <summary>A writer that takes its time per line, as a slow pipe reader or a full disk cache would.</summary>
    private sealed class SlowWriter(int delayMs) : StringWriter
    {
        public override void WriteLine(string? value) { Thread.Sleep(delayMs); base.WriteLine(value); }
    }

    /// <summary>Two chunks overlapping in time, with equal timestamps inside and across them (rosbag2 #2173).</summary>
    private static string OverlappingChunks(string dir)
    {
        string path = Path.Combine(dir, "overlap.mcap");
        using var w = McapWriter.Create(path, new McapWriterOptions { ChunkSize = 1 << 20, BackgroundFlush = false });
        ushort ch = w.RegisterRos2Channel<PoseStampedMsg>("/pose", Ros2Qos.Default);
        void Write(int id, ulong t) => w.WriteMessage(ch, t, t, new PoseStampedMsg { Pose = new PoseMsg { Position = new PointMsg { X = id } } });
        Write(0, 10); Write(1, 20); Write(2, 30); Write(3, 50);
        w.Flush(); // closes the first chunk: [10, 50]
        Write(4, 30); Write(5, 30); Write(6, 40); Write(7, 20);
        return path;
    }

    private static int Id(McapMessage m) => (int)Cdr.Read<PoseStampedMsg>(m.Data.Span).Pose.Position.X;

    [Test]
    public void Equal_timestamps_in_overlapping_chunks_keep_file_order()
    {
        string path = OverlappingChunks(Flights.TempDir());
        FlightLog log = FlightLog.Load(path);
        Assert.That(log.IsComplete, Is.True);
        var sink = new CollectingSink();
        ReplayResult result = new LogPlayer(log, new ReplayOptions { Rate = 0 }).Play(sink);
        Assert.That(sink.Messages.Select(Id), Is.EqualTo(new[] { 0, 1, 7, 2, 4, 5, 6, 3 }));
        Assert.That(result.Played, Is.EqualTo(8));
        // The per-chunk order of the indexed reader interleaves wrongly here: the merge above is what fixes it.
        using var indexed = McapIndexedReader.Open(path);
        Assert.That(indexed.ReadMessages().Select(Id), Is.Not.EqualTo(new[] { 0, 1, 7, 2, 4, 5, 6, 3 }));
    }

    [Test]
    public void Stdout_prints_one_json_line_per_message_of_the_chosen_topics_and_window()
    {
        string dir = Flights.TempDir(), path = Path.Combine(dir, "flight.mcap");
        NodeFlights.Fly(path, NodeFlights.Bundle(), seconds: 1);
        var output = new StringWriter();
        int rc = ReplayCommand.Play(path, "stdout", new ReplayOptions { Rate = 0, Topics = ["/pose", "/action"], StartS = 0.2, EndS = 0.6 }, output, new StringWriter());
        Assert.That(rc, Is.EqualTo(0));
        string[] lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var parsed = lines.Select(l => JsonNode.Parse(l)!).ToList();
        Assert.That(parsed.Select(p => (string)p["topic"]!).Distinct(), Is.EquivalentTo(new[] { "/pose", "/action" }));
        ulong first = FlightLog.Load(path).FirstLogTime;
        Assert.That(parsed.All(p => (ulong)p["log_time_ns"]! >= first + 200_000_000 && (ulong)p["log_time_ns"]! <= first + 600_000_000));
        Assert.That(parsed.Count, Is.EqualTo(2 * 201).Within(4)); // 500 Hz × 0.4 s, both ends included
        Assert.That((double)parsed.First(p => (string)p["topic"]! == "/pose")["message"]!["pose"]!["position"]!["z"]!, Is.EqualTo(1.0).Within(0.05));
    }

    [Test]
    public void Pacing_pause_and_single_step()
    {
        string path = OverlappingChunks(Flights.TempDir());
        FlightLog log = FlightLog.Load(path);
        var control = new ReplayControl();
        control.Step(); control.Step(); // paused, two messages let through
        var sink = new CollectingSink();
        var play = Task.Run(() => new LogPlayer(log, new ReplayOptions { Rate = 1 }).Play(sink, control));
        SpinWait.SpinUntil(() => sink.Count == 2, TimeSpan.FromSeconds(60));
        Thread.Sleep(300);
        Assert.That(sink.Count, Is.EqualTo(2), "paused after two steps");
        Assert.That(play.IsCompleted, Is.False);
        control.Resume();
        Assert.That(play.Wait(TimeSpan.FromSeconds(60)), Is.True);
        Assert.That(sink.Count, Is.EqualTo(8));
    }

    [Test]
    public void A_slow_network_subscriber_drops_with_a_count_or_is_waited_for()
    {
        string dir = Flights.TempDir(), path = Path.Combine(dir, "flight.mcap");
        NodeFlights.Fly(path, NodeFlights.Bundle(), seconds: 0.2);
        FlightLog log = FlightLog.Load(path);
        var slow = new CollectingSink(delayMs: 2, realTime: true);
        ReplayResult dropped = new LogPlayer(log, new ReplayOptions { Rate = 0, QueueCapacity = 4 }).Play(slow);
        Assert.That(dropped.Dropped, Is.GreaterThan(0));
        Assert.That(dropped.Played + dropped.Dropped, Is.EqualTo(log.Messages.Count));
        Assert.That(slow.Count, Is.EqualTo(dropped.Played));
        var waited = new CollectingSink(delayMs: 1, realTime: true);
        ReplayResult all = new LogPlayer(log, new ReplayOptions { Rate = 0, QueueCapacity = 4, WaitForSink = true }).Play(waited);
        Assert.That(all.Dropped, Is.EqualTo(0));
        Assert.That(waited.Count, Is.EqualTo(log.Messages.Count));
    }

    [Test]
    public void A_slow_stream_gets_every_message_without_being_asked()
    {
        // A file or pipe applies back-pressure: it is not a real-time subscriber, so nothing may be dropped for it.
        string dir = Flights.TempDir(), path = Path.Combine(dir, "flight.mcap");
        NodeFlights.Fly(path, NodeFlights.Bundle(), seconds: 0.2);
        FlightLog log = FlightLog.Load(path);
        var slow = new CollectingSink(delayMs: 1);
        ReplayResult result = new LogPlayer(log, new ReplayOptions { Rate = 0, QueueCapacity = 4 }).Play(slow);
        Assert.That(result.Dropped, Is.EqualTo(0));
        Assert.That(slow.Count, Is.EqualTo(log.Messages.Count));

        // Through the command, to a slow stdout at --rate 0 and at the log's pace: every message, exit 0, "none dropped".
        foreach (double rate in new[] { 0.0, 1.0 })
        {
            var output = new SlowWriter(delayMs: 1);
            var progress = new StringWriter();
            Assert.That(ReplayCommand.Play(path, "stdout", new ReplayOptions { Rate = rate, QueueCapacity = 4 }, output, progress), Is.EqualTo(0), progress.ToString());
            Assert.That(output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(log.Messages.Count), $"--rate {rate}");
            Assert.That(progress.ToString(), Does.Contain($"{log.Messages.Count} messages played to stdout, none dropped"));
            Assert.That(progress.ToString(), Does.Not.Contain("\r"), "plain progress lines when stderr is not a terminal");
        }
    }

    [Test]
    public void Json_prints_the_message_lines_then_one_result_object()
    {
        string dir = Flights.TempDir(), path = Path.Combine(dir, "flight.mcap");
        NodeFlights.Fly(path, NodeFlights.Bundle(), seconds: 0.2);
        var output = new StringWriter();
        Assert.That(ReplayCommand.Play(path, "stdout", new ReplayOptions { Rate = 0, Topics = ["/pose"] }, output, new StringWriter(), json: true), Is.EqualTo(0));
        string[] lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        JsonNode last = JsonNode.Parse(lines[^1])!;
        Assert.That((long)last["played"]!, Is.EqualTo(lines.Length - 1));
        Assert.That((long)last["dropped"]!, Is.Zero);
        Assert.That((int)last["exit_code"]!, Is.Zero);
        Assert.That(lines[..^1].All(l => JsonNode.Parse(l)!["log_time_ns"] is not null && JsonNode.Parse(l)!["exit_code"] is null));
    }

    [TestCase(100.0, null, null, "--start 100 s is past the log's end")]
    [TestCase(0.5, 0.2, null, "--end 0.2 s is before --start 0.5 s")]
    [TestCase(0.0, null, "/nonexistent", "--topics /nonexistent: not in the log")]
    public void A_selection_that_plays_nothing_is_bad_input_naming_the_span_and_topics(double start, double? end, string? topic, string problem)
    {
        string dir = Flights.TempDir(), path = Path.Combine(dir, "flight.mcap");
        NodeFlights.Fly(path, NodeFlights.Bundle(), seconds: 0.5);
        var output = new StringWriter();
        var progress = new StringWriter();
        var options = new ReplayOptions { Rate = 0, StartS = start, EndS = end ?? double.PositiveInfinity, Topics = topic is null ? null : [topic] };
        int rc = ReplayCommand.Play(path, "stdout", options, output, progress);
        Assert.That(rc, Is.EqualTo(2), "nothing to play is an error, not \"log complete\"");
        Assert.That(output.ToString(), Is.Empty);
        string message = progress.ToString().TrimEnd();
        Assert.That(message.Split('\n'), Has.Length.EqualTo(1), message);
        Assert.That(message, Does.StartWith("replay: nothing to play: " + problem));
        Assert.That(message, Does.Contain("the log spans 0 to 0.").And.Contain("/pose (").And.Contain("/action ("));
    }

    [Test]
    public void A_truncated_log_replays_everything_readable_and_says_where_it_stopped()
    {
        string dir = Flights.TempDir(), path = Path.Combine(dir, "flight.mcap"), cut = Path.Combine(dir, "cut.mcap");
        NodeFlights.Fly(path, NodeFlights.Bundle(), seconds: 2);
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(cut, bytes[..(bytes.Length * 6 / 10)]);
        FlightLog whole = FlightLog.Load(path), partial = FlightLog.Load(cut);
        Assert.That(partial.IsComplete, Is.False);
        Assert.That(partial.Messages.Count, Is.GreaterThan(0).And.LessThan(whole.Messages.Count));
        Assert.That(partial.Messages.Select(m => m.LogTime), Is.EqualTo(whole.Messages.Take(partial.Messages.Count).Select(m => m.LogTime)));
        var output = new StringWriter(); var progress = new StringWriter();
        Assert.That(ReplayCommand.Play(cut, "stdout", new ReplayOptions { Rate = 0, WaitForSink = true }, output, progress), Is.EqualTo(0));
        Assert.That(output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length, Is.EqualTo(partial.Messages.Count));
        Assert.That(progress.ToString(), Does.Contain("damaged").And.Contain("byte"));
    }

    [Test]
    public void A_corrupted_chunk_is_skipped_and_reported()
    {
        string dir = Flights.TempDir(), path = Path.Combine(dir, "flight.mcap");
        NodeFlights.Fly(path, NodeFlights.Bundle(), seconds: 2);
        byte[] bytes = File.ReadAllBytes(path);
        // Corrupt the middle of a chunk's record body (not whatever happens to sit mid-file: a MessageIndex there is
        // not needed for reading, so damage to it would rightly go unnoticed by a streaming replay).
        RoboRl.Logs.McapChunkIndex chunk;
        using (var index = RoboRl.Logs.McapIndexedReader.Open(path))
            chunk = index.ChunkIndexes.OrderBy(c => c.ChunkStartOffset).ElementAt(index.ChunkIndexes.Count / 2);
        long middle = (long)chunk.ChunkStartOffset + (long)chunk.ChunkLength / 2;
        for (long i = middle; i < middle + 64; i++) bytes[i] ^= 0x5A;
        string bad = Path.Combine(dir, "bad.mcap");
        File.WriteAllBytes(bad, bytes);
        FlightLog log = FlightLog.Load(bad);
        TestContext.Out.WriteLine(log.DescribeStop());
        Assert.That(log.IsComplete, Is.False);
        Assert.That(log.Messages.Count, Is.GreaterThan(0));
        Assert.That(log.DescribeStop(), Does.StartWith("partial"));
    }

    [Test]
    public void Not_a_log_is_refused_naming_the_file()
    {
        string dir = Flights.TempDir(), path = Path.Combine(dir, "notes.mcap");
        File.WriteAllText(path, "these are not MCAP bytes");
        var e = Assert.Throws<FlightLogException>(() => FlightLog.Load(path))!;
        Assert.That(e.Message, Does.Contain("notes.mcap").And.Contain("not an MCAP file"));
        Assert.That(Assert.Throws<FlightLogException>(() => FlightLog.Load(Path.Combine(dir, "missing.mcap")))!.Message, Does.Contain("no such file"));
        Assert.That(Assert.Throws<FlightLogException>(() => FlightLog.Load(dir))!.Message, Does.Contain("is a directory"));
    }

    [Test]
    public void The_recorder_stores_the_robot_and_policy_spec()
    {
        string dir = Flights.TempDir(), path = Path.Combine(dir, "flight.mcap");
        PolicyBundle bundle = NodeFlights.Bundle();
        NodeFlights.Fly(path, bundle, seconds: 0.1);
        FlightLog log = FlightLog.Load(path);
        Assert.That(log.Metadata[FlightLogMetadata.RobotSha256], Is.EqualTo(bundle.RobotConfigSha256));
        Assert.That(log.MetadataNames(FlightLogMetadata.ObservationNames), Is.EqualTo(bundle.ObservationNames));
        Assert.That(log.Metadata[FlightLogMetadata.ActionHistoryLength], Is.EqualTo(bundle.ActionHistoryLength.ToString()));
        Assert.That(log.RecordedRobot()!.Mass, Is.EqualTo(QuadrotorConfig.Load(Flights.RobotFile).Mass));
    }
}
