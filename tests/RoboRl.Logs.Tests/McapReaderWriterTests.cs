using RoboRl.Core.Messages;

namespace RoboRl.Logs.Tests;

public class McapReaderWriterTests : LogTestBase
{
    [TestCase(McapCompression.None)]
    [TestCase(McapCompression.Zstd)]
    public void IndexedAndStreamingReadersReturnWhatWasWritten(McapCompression compression)
    {
        string path = PathFor("rt.mcap");
        var written = SampleLogs.WriteEveryType(path, perType: 3, seed: 3,
            new McapWriterOptions { BackgroundFlush = false, ChunkSize = 1500, Compression = compression });

        var check = LogChecker.Check(path);
        Assert.That(check.Errors, Is.Empty, string.Join("\n", check.Errors));
        Assert.That(check.Warnings, Is.Empty);
        Assert.That(check.IsValid && check.HasSummary);
        Assert.That(check.MessageCount, Is.EqualTo((ulong)written.Count));
        Assert.That(check.ChunkCount, Is.GreaterThan(3));

        using var indexed = McapIndexedReader.Open(path);
        var fromIndex = indexed.ReadMessages().ToList();
        using var streaming = McapStreamReader.Open(path);
        var fromStream = streaming.ReadMessages().ToList();
        Assert.That(streaming.Stop!.Kind, Is.EqualTo(McapStopKind.Complete));
        Assert.That(streaming.Issues, Is.Empty);
        Assert.That(indexed.Statistics!.MessageCount, Is.EqualTo((ulong)written.Count));

        foreach (var messages in new[] { fromIndex, fromStream })
        {
            Assert.That(messages.Count, Is.EqualTo(written.Count));
            var byKey = messages.ToDictionary(m => (m.Channel.Topic, m.Sequence));
            foreach (var w in written)
            {
                var m = byKey[(w.Topic, w.Sequence)];
                Assert.That((m.LogTime, m.PublishTime), Is.EqualTo((w.LogTime, w.PublishTime)));
                Assert.That(m.Schema!.Name, Is.EqualTo(MessageRegistry.Default.Get(w.TypeName).RosTypeName));
                Assert.That(m.Data.ToArray(), Is.EqualTo(CdrDynamic.Serialize(w.Message)), $"{w.Topic}#{w.Sequence}");
            }
        }
        Assert.That(fromIndex.Select(m => m.LogTime), Is.Ordered, "indexed reader yields log-time order");
    }

    [Test]
    public void IndexedReaderFiltersByTopicAndTime()
    {
        string path = PathFor("filter.mcap");
        SampleLogs.WritePoses(path, 300, chunkSize: 1024);
        using var reader = McapIndexedReader.Open(path);
        var twists = reader.ReadMessages(["/twist"]).ToList();
        Assert.That(twists.Count, Is.EqualTo(100));
        Assert.That(twists.All(m => m.Channel.Topic == "/twist"));
        var window = reader.ReadMessages(startTime: 1_010_000_000, endTime: 1_019_000_000).ToList();
        Assert.That(window.Count, Is.EqualTo(10));
    }

    [Test]
    public void ChunksCloseByLogTimeAsWellAsBySize()
    {
        string path = PathFor("time.mcap");
        using (var writer = McapWriter.Create(path, new McapWriterOptions
        { BackgroundFlush = false, ChunkSize = 1 << 20, FlushInterval = TimeSpan.FromSeconds(0.5) }))
        {
            ushort ch = writer.RegisterRos2Channel<TimeMsg>("/clock");
            for (int i = 0; i < 300; i++) // 3 s of log time at 100 Hz, far below the size limit
                writer.WriteMessage(ch, 1_000_000_000UL + (ulong)i * 10_000_000UL, 0, new TimeMsg { Sec = i });
        }
        using var reader = McapIndexedReader.Open(path);
        Assert.That(reader.ChunkIndexes.Count, Is.InRange(6, 7));
        Assert.That(reader.ChunkIndexes.All(c => c.MessageEndTime - c.MessageStartTime <= 500_000_000UL));
    }

    [Test]
    public void BackgroundFlushPutsAnIdleChunkOnDisk()
    {
        string path = PathFor("idle.mcap");
        using var writer = McapWriter.Create(path, new McapWriterOptions { FlushInterval = TimeSpan.FromMilliseconds(100) });
        ushort ch = writer.RegisterRos2Channel<TimeMsg>("/clock");
        writer.WriteMessage(ch, 5, 5, new TimeMsg { Sec = 5 });
        // No further message: only the timer can close the chunk. Wait generously (loaded machines).
        var found = new List<McapMessage>();
        for (int attempt = 0; attempt < 300 && found.Count == 0; attempt++)
        {
            Thread.Sleep(50);
            using var reader = McapStreamReader.Open(path);
            found = reader.ReadMessages().ToList();
            if (found.Count > 0) Assert.That(reader.Stop!.Kind, Is.EqualTo(McapStopKind.Truncated));
        }
        Assert.That(found.Select(m => m.LogTime), Is.EqualTo(new[] { 5UL }));
    }

    [Test]
    public void WritingIntoTheOpenChunkAllocatesNothing()
    {
        using var writer = new McapWriter(Stream.Null, new McapWriterOptions
        { BackgroundFlush = false, ChunkSize = 32 << 20, FlushInterval = TimeSpan.FromDays(1) });
        ushort pose = writer.RegisterRos2Channel<PoseStampedMsg>("/pose");
        ushort obs = writer.RegisterRos2Channel<ObservationMsg>("/obs");
        ushort raw = writer.RegisterRos2Channel<TimeMsg>("/raw");
        var values = new float[32];
        byte[] payload = new CdrWriter().Write(new TimeMsg { Sec = 1 }).ToArray();
        var header = new HeaderMsg { FrameId = "map" };
        void WriteSome(int n, ulong t0)
        {
            for (int i = 0; i < n; i++)
            {
                ulong t = t0 + (ulong)i;
                writer.WriteMessage(pose, t, t, new PoseStampedMsg { Header = header });
                writer.WriteMessage(obs, t, t, new ObservationMsg { Header = header, Tick = t, Values = values });
                writer.WriteMessage(raw, t, t, payload);
            }
        }
        WriteSome(20_000, 0); // warm-up: buffers grow to their working size
        ulong next = 20_000;
        Assert.That(AllocationMeter.FewestBytes(() => { WriteSome(5_000, next); next += 5_000; }), Is.Zero);
    }

    /// <summary>A stream whose writes fail once <see cref="Fail"/> is set, like a full disk.</summary>
    private sealed class FailingStream : MemoryStream
    {
        public volatile bool Fail;
        public volatile bool FailedOnce;
        public override void Write(ReadOnlySpan<byte> buffer) => Write(buffer.ToArray(), 0, buffer.Length);
        public override void Write(byte[] buffer, int offset, int count)
        {
            if (Fail) { FailedOnce = true; throw new IOException("disk full"); }
            base.Write(buffer, offset, count);
        }
    }

    [Test]
    public void ABackgroundFlushFailureSurfacesOnTheNextCallInsteadOfKillingTheProcess()
    {
        var stream = new FailingStream();
        var writer = new McapWriter(stream, new McapWriterOptions { FlushInterval = TimeSpan.FromMilliseconds(50) });
        ushort ch = writer.RegisterRos2Channel<TimeMsg>("/clock");
        stream.Fail = true;
        writer.WriteMessage(ch, 1, 1, new TimeMsg()); // goes into the open chunk; only the timer will try to write it
        for (int i = 0; i < 600 && !stream.FailedOnce; i++) Thread.Sleep(50);
        Assert.That(stream.FailedOnce, "the timer tried to write the chunk");
        var e = Assert.Throws<IOException>(() => writer.WriteMessage(ch, 2, 2, new TimeMsg()))!;
        Assert.That(e.Message, Does.Contain("background flush").And.Contain("disk full"));
        Assert.Throws<IOException>(() => writer.Dispose(), "closing a file that cannot be written reports it");
    }

    [Test]
    public void WrongTypeOnAChannelIsRejected()
    {
        using var writer = new McapWriter(new MemoryStream(), new McapWriterOptions { BackgroundFlush = false });
        ushort pose = writer.RegisterRos2Channel<PoseStampedMsg>("/pose");
        var e = Assert.Throws<ArgumentException>(() => writer.WriteMessage(pose, 1, 1, new TwistStampedMsg()))!;
        Assert.That(e.Message, Does.Contain("geometry_msgs/PoseStamped"));
        Assert.Throws<ArgumentException>(() => writer.WriteMessage(99, 1, 1, new byte[4]));
        Assert.Throws<MsgDefinitionException>(() => writer.RegisterRos2Channel("/x", "nope_msgs/Nothing"));
    }

    [Test]
    public void TypesUnknownToTheReaderDecodeFromTheSchemaInTheFile()
    {
        string path = PathFor("custom.mcap");
        var registry = MessageRegistry.CreateDefault();
        var battery = registry.Register("my_msgs/msg/Battery", "std_msgs/Header header\nfloat32 voltage\nstring<=16[<=4] cells");
        var sent = DynamicMessage.Create(registry.Get("my_msgs/Battery")).Set("voltage", 3.7f).Set("cells", new[] { "c1", "c2" });
        using (var writer = McapWriter.Create(path, new McapWriterOptions { BackgroundFlush = false, Registry = registry }))
        {
            ushort ch = writer.RegisterRos2Channel("/battery", battery.FullName, Ros2Qos.Default);
            writer.WriteMessage(ch, 10, 10, sent);
        }
        Assert.That(MessageRegistry.Default.TryGet("my_msgs/Battery", out _), Is.False);
        var message = McapReader.ReadAllMessages(path).Single();
        var decoded = new McapMessageDecoder().Decode(message);
        Assert.That(decoded.Definition.FullName, Is.EqualTo("my_msgs/Battery"));
        Assert.That(decoded.ToJson().ToJsonString(), Is.EqualTo(sent.ToJson().ToJsonString()));
        Assert.That(LogChecker.Check(path).IsValid);
    }

    [Test]
    public void AnEmptyFileIsValid()
    {
        string path = PathFor("empty.mcap");
        new McapWriter(File.Create(path), new McapWriterOptions { BackgroundFlush = false }).Dispose();
        var report = LogChecker.Check(path);
        Assert.That(report.Errors, Is.Empty, string.Join("\n", report.Errors));
        using var reader = McapIndexedReader.Open(path);
        Assert.That(reader.ReadMessages(), Is.Empty);
    }
}
