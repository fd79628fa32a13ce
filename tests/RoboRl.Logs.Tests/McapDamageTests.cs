using RoboRl.Core.Messages;

namespace RoboRl.Logs.Tests;

/// <summary>Truncated, corrupted and mutated files: readers keep what is intact and say where and why they stopped.</summary>
public class McapDamageTests : LogTestBase
{
    [Test]
    public void TruncatedAtEveryOffsetYieldsTheMessagesOfCompleteChunks()
    {
        string path = PathFor("full.mcap");
        SampleLogs.WritePoses(path, 120, chunkSize: 1024);
        byte[] full = File.ReadAllBytes(path);
        List<McapMessage> all;
        List<McapChunkIndex> chunks;
        using (var indexed = McapIndexedReader.Open(path))
        {
            all = indexed.ReadMessages().ToList();
            chunks = indexed.ChunkIndexes.ToList();
        }
        Assert.That(chunks.Count, Is.GreaterThan(5));
        int recovered = 0;
        for (int cut = 0; cut <= full.Length; cut++)
        {
            using var stream = new MemoryStream(full, 0, cut, writable: false);
            using var reader = new McapStreamReader(stream);
            var got = reader.ReadMessages().ToList();

            // Expected: every message of every chunk that ends at or before the cut (log times are strictly increasing).
            var complete = chunks.Where(c => c.ChunkStartOffset + c.ChunkLength <= (ulong)cut).ToList();
            int expected = all.Count(m => complete.Any(c => m.LogTime >= c.MessageStartTime && m.LogTime <= c.MessageEndTime));
            Assert.That(got.Count, Is.EqualTo(expected), $"cut at {cut}");
            for (int i = 0; i < got.Count; i++)
                Assert.That(got[i].Data.ToArray(), Is.EqualTo(all[i].Data.ToArray()), $"cut at {cut}, message {i}");

            var stop = reader.Stop!;
            Assert.That(stop.Reason, Is.Not.Empty);
            if (cut == full.Length) Assert.That(stop.Kind, Is.EqualTo(McapStopKind.Complete));
            else
            {
                Assert.That(stop.Kind, Is.EqualTo(McapStopKind.Truncated), $"cut at {cut}: {stop}");
                Assert.That(stop.Offset, Is.LessThanOrEqualTo(cut));
            }

            if (cut % 211 == 0 || cut == full.Length - 1)
            {
                var check = LogChecker.Check(new MemoryStream(full, 0, cut, writable: false), "cut");
                Assert.That(check.IsValid, Is.False, $"cut at {cut} must not check as valid");
                if (cut >= 8 + 9 + 14)
                {
                    File.WriteAllBytes(PathFor("cut.mcap"), full[..cut]);
                    var report = LogRecovery.Recover(PathFor("cut.mcap"), PathFor("recovered.mcap"));
                    Assert.That(report.MessagesRecovered, Is.EqualTo((ulong)expected), $"cut at {cut}");
                    var again = LogChecker.Check(PathFor("recovered.mcap"));
                    Assert.That(again.Errors, Is.Empty, $"recovered file of cut {cut}: {string.Join("; ", again.Errors)}");
                    Assert.That(again.MessageCount, Is.EqualTo((ulong)expected));
                    recovered++;
                }
            }
        }
        Assert.That(recovered, Is.GreaterThan(10));
    }

    [Test]
    public void CorruptedChunkFailsItsCrcAndOnlyThatChunkIsLost()
    {
        string path = PathFor("crc.mcap");
        SampleLogs.WritePoses(path, 200, chunkSize: 1024);
        List<McapChunkIndex> chunks;
        int total;
        using (var indexed = McapIndexedReader.Open(path))
        {
            chunks = indexed.ChunkIndexes.ToList();
            total = indexed.ReadMessages().Count();
        }
        var victim = chunks[2];
        byte[] bytes = File.ReadAllBytes(path);
        long inside = (long)(victim.ChunkStartOffset + victim.ChunkLength) - 40; // inside the last message's payload
        bytes[inside] ^= 0x10;
        File.WriteAllBytes(path, bytes);

        var report = LogChecker.Check(path);
        Assert.That(report.IsValid, Is.False);
        Assert.That(report.Errors.Any(e => e.Message.Contains("Chunk CRC mismatch")), string.Join("\n", report.Errors));
        Assert.That(report.Errors.Any(e => e.Message.Contains("data section CRC mismatch")), string.Join("\n", report.Errors));

        using (var reader = McapStreamReader.Open(path))
        {
            var got = reader.ReadMessages().ToList();
            int lost = (int)(victim.MessageEndTime - victim.MessageStartTime) / 1_000_000 + 1;
            Assert.That(got.Count, Is.EqualTo(total - lost));
            Assert.That(reader.ChunksSkipped, Is.EqualTo(1));
            Assert.That(reader.Issues.Single().Offset, Is.EqualTo((long)victim.ChunkStartOffset));
            Assert.That(reader.Stop!.Kind, Is.EqualTo(McapStopKind.Complete));
        }
        Assert.Throws<McapFormatException>(() =>
        {
            using var indexed = McapIndexedReader.Open(path);
            indexed.ReadMessages().ToList();
        });

        var recovery = LogRecovery.Recover(path, PathFor("fixed.mcap"));
        Assert.That(recovery.ChunksSkipped, Is.EqualTo(1));
        Assert.That(recovery.Summary, Does.Contain("1 damaged chunks skipped").And.Contain($"byte {victim.ChunkStartOffset}"));
        Assert.That(LogChecker.Check(PathFor("fixed.mcap")).IsValid);
    }

    [Test]
    public void CorruptedSummaryAndIndexesAreReported()
    {
        string path = PathFor("summary.mcap");
        SampleLogs.WritePoses(path, 50, chunkSize: 512);
        byte[] clean = File.ReadAllBytes(path);
        McapFooter footer;
        using (var r = McapIndexedReader.Open(path)) footer = r.Footer;

        byte[] bad = (byte[])clean.Clone();
        bad[(int)footer.SummaryStart + 20] ^= 1;
        File.WriteAllBytes(path, bad);
        var report = LogChecker.Check(path);
        Assert.That(report.Errors.Any(e => e.Message.Contains("summary CRC mismatch")), string.Join("\n", report.Errors));
        Assert.Throws<McapFormatException>(() => McapIndexedReader.Open(path).Dispose());

        // A MessageIndex entry that points at the wrong place (the data CRC catches it too).
        using var ms = new MemoryStream(clean);
        int firstIndex = FindFirstRecord(clean, McapOpcode.MessageIndex);
        byte[] badIndex = (byte[])clean.Clone();
        badIndex[firstIndex + 9 + 2 + 4 + 8] ^= 0x01; // first entry's offset
        var indexReport = LogChecker.Check(new MemoryStream(badIndex), "index");
        Assert.That(indexReport.Errors.Any(e => e.Message.Contains("MessageIndex")), string.Join("\n", indexReport.Errors));
    }

    private static int FindFirstRecord(byte[] file, McapOpcode op)
    {
        int pos = 8;
        while (pos < file.Length)
        {
            if (file[pos] == (byte)op) return pos;
            pos += 9 + (int)BitConverter.ToUInt64(file, pos + 1);
        }
        throw new InvalidOperationException($"no {op} record");
    }

    [Test]
    public void TenThousandMutatedFilesOnlyGiveTypedErrors()
    {
        var seeds = new List<byte[]>();
        foreach (var compression in new[] { McapCompression.None, McapCompression.Zstd })
        {
            string p = PathFor($"seed-{compression}.mcap");
            SampleLogs.WriteEveryType(p, perType: 1, seed: 5, new McapWriterOptions { BackgroundFlush = false, ChunkSize = 700, Compression = compression });
            seeds.Add(File.ReadAllBytes(p));
        }
        var rng = new Random(2024);
        int streamed = 0, checkedValid = 0, indexedOpened = 0, decoded = 0;
        for (int i = 0; i < 10_000; i++)
        {
            byte[] file = Mutate(seeds[i % seeds.Count], rng);
            try
            {
                using var reader = new McapStreamReader(new MemoryStream(file, writable: false));
                foreach (var m in reader.ReadMessages())
                {
                    streamed++;
                    if (m.Schema is { Encoding: "ros2msg" } s && MessageRegistry.Default.TryGet(s.Name, out var def))
                        try { CdrDynamic.Read(def, m.Data.Span); decoded++; } catch (CdrFormatException) { }
                }
                Assert.That(reader.Stop, Is.Not.Null);

                if (LogChecker.Check(new MemoryStream(file, writable: false), "fuzz").IsValid) checkedValid++;

                try
                {
                    using var indexed = McapIndexedReader.Open(new MemoryStream(file, writable: false));
                    indexedOpened++;
                    foreach (var _ in indexed.ReadMessages()) { }
                }
                catch (McapFormatException) { }
            }
            catch (Exception e) when (e is not AssertionException)
            {
                File.WriteAllBytes(PathFor("crash.mcap"), file);
                Assert.Fail($"mutation {i}: {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            }
        }
        TestContext.Out.WriteLine($"streamed {streamed} messages ({decoded} decoded), {checkedValid} files still valid, {indexedOpened} opened by index");
        Assert.That(checkedValid, Is.LessThan(1000), "mutations must damage most files");
        Assert.That(streamed, Is.GreaterThan(0));
    }

    private static byte[] Mutate(byte[] seed, Random rng)
    {
        var b = (byte[])seed.Clone();
        switch (rng.Next(5))
        {
            case 0: // bit flips
                for (int k = rng.Next(1, 4); k > 0; k--) b[rng.Next(b.Length)] ^= (byte)(1 << rng.Next(8));
                return b;
            case 1: // truncation
                return b[..rng.Next(b.Length)];
            case 2: // a length-sized field overwritten with something absurd
                {
                    int at = rng.Next(b.Length - 8);
                    ulong v = rng.Next(4) switch { 0 => ulong.MaxValue, 1 => uint.MaxValue, 2 => (ulong)rng.Next(1, 1 << 20), _ => 0 };
                    BitConverter.GetBytes(v).AsSpan(0, rng.Next(2) == 0 ? 8 : 4).CopyTo(b.AsSpan(at));
                    return b;
                }
            case 3: // a run of random bytes
                {
                    int at = rng.Next(b.Length);
                    int n = Math.Min(rng.Next(1, 64), b.Length - at);
                    rng.NextBytes(b.AsSpan(at, n));
                    return b;
                }
            default: // bytes removed from the middle
                {
                    int at = rng.Next(b.Length);
                    int n = Math.Min(rng.Next(1, 32), b.Length - at);
                    return [.. b[..at], .. b[(at + n)..]];
                }
        }
    }
}

/// <summary>Streams without a length (pipes) are read the same way, and a corrupt length cannot make the reader allocate it.</summary>
public class McapPipeTests : LogTestBase
{
    private sealed class PipeLikeStream(byte[] data) : MemoryStream(data, writable: false)
    {
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    }

    [Test]
    public void ReadsFromANonSeekableStreamAndSurvivesAHugeClaimedLength()
    {
        string path = PathFor("pipe.mcap");
        SampleLogs.WritePoses(path, 100, chunkSize: 1024);
        byte[] bytes = File.ReadAllBytes(path);
        using (var reader = new McapStreamReader(new PipeLikeStream(bytes)))
        {
            Assert.That(reader.ReadMessages().Count(), Is.EqualTo(100));
            Assert.That(reader.Stop!.Kind, Is.EqualTo(McapStopKind.Complete));
        }

        // The first chunk claims 2 GB - 100 bytes: on a pipe that is only discovered by reading.
        int chunkAt = 8;
        while (bytes[chunkAt] != (byte)McapOpcode.Chunk) chunkAt += 9 + (int)BitConverter.ToUInt64(bytes, chunkAt + 1);
        BitConverter.GetBytes((ulong)int.MaxValue - 100).CopyTo(bytes, chunkAt + 1);
        long before = GC.GetAllocatedBytesForCurrentThread();
        using (var reader = new McapStreamReader(new PipeLikeStream(bytes)))
        {
            Assert.That(reader.ReadMessages().Count(), Is.Zero);
            Assert.That(reader.Stop!.Kind, Is.EqualTo(McapStopKind.Truncated));
            Assert.That(reader.Stop.Offset, Is.EqualTo(chunkAt));
        }
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(64L << 20));
    }
}

public class Ros2ProfileCheckTests : LogTestBase
{
    [Test]
    public void APayloadThatDoesNotMatchItsSchemaIsAnError()
    {
        string path = PathFor("bad-payload.mcap");
        using (var writer = McapWriter.Create(path, new McapWriterOptions { BackgroundFlush = false }))
        {
            ushort pose = writer.RegisterRos2Channel<PoseStampedMsg>("/pose");
            writer.WriteMessage(pose, 1, 1, new PoseStampedMsg());
            writer.WriteMessage(pose, 2, 2, new byte[] { 0, 1, 0, 0, 1, 2, 3 }); // CRCs will be right, the CDR is not
            ushort raw = writer.RegisterChannel(0, "/raw", "json");
            writer.WriteMessage(raw, 3, 3, "{}"u8);
        }
        var report = LogChecker.Check(path);
        Assert.That(report.Errors.Select(e => e.Message), Has.Exactly(1).Contains("does not decode as geometry_msgs/PoseStamped"));
        Assert.That(report.Warnings.Select(w => w.Message), Has.Some.Contains("'json', expected 'cdr'"));
        Assert.That(report.Warnings.Select(w => w.Message), Has.Some.Contains("offered_qos_profiles"));
    }
}
