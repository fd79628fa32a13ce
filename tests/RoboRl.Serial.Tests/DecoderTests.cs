using System.Numerics;

namespace RoboRl.Serial.Tests;

/// <summary>The incremental decoder on chunked, garbled, duplicated and reordered input, and its allocation budget.</summary>
public class DecoderTests
{
    private static byte[] Heartbeat(FrameFlags flags, ushort seq, uint uptime)
    {
        var payload = new byte[LinkProtocol.HeartbeatSize];
        Payloads.Write(new HeartbeatMessage(uptime, LinkStatusFlags.Armed), payload);
        var wire = new byte[LinkProtocol.MaxWireFrame];
        int n = FrameEncoder.WriteFrame(MessageType.Heartbeat, flags, seq, payload, wire);
        return wire[..n];
    }

    private static List<ushort> DecodeAll(FrameDecoder decoder, ReadOnlySpan<byte> input)
    {
        var seqs = new List<ushort>();
        while (decoder.TryDecode(ref input, out var f)) seqs.Add(f.Sequence);
        return seqs;
    }

    [Test]
    public void ChunksOfAnySize_GiveTheSameFrames()
    {
        var encoder = new FrameEncoder();
        var stream = new List<byte>();
        var obs = new float[146];
        for (int i = 0; i < 50; i++)
        {
            obs[0] = i;
            stream.AddRange(i % 2 == 0 ? encoder.EncodeObservation(obs).ToArray() : encoder.Encode(new HeartbeatMessage((uint)i, 0)).ToArray());
        }
        byte[] bytes = [.. stream];
        foreach (int chunk in new[] { 1, 2, 3, 7, 64, 1000, bytes.Length })
        {
            var decoder = new FrameDecoder();
            var seqs = new List<ushort>();
            for (int at = 0; at < bytes.Length; at += chunk)
                seqs.AddRange(DecodeAll(decoder, bytes.AsSpan(at, Math.Min(chunk, bytes.Length - at))));
            Assert.That(seqs, Is.EqualTo(Enumerable.Range(0, 50).Select(i => (ushort)i)), $"chunk {chunk}");
            Assert.That(decoder.Counters.Rejected, Is.Zero);
        }
    }

    [Test]
    public void DuplicatedAndReorderedFrames_AreDroppedAndCounted()
    {
        var decoder = new FrameDecoder();
        byte[] f10 = Heartbeat(FrameFlags.SequenceReset, 10, 1), f11 = Heartbeat(0, 11, 2), f12 = Heartbeat(0, 12, 3), f15 = Heartbeat(0, 15, 4);
        var seqs = DecodeAll(decoder, [.. f10, .. f12, .. f11, .. f12, .. f15, .. f15]);
        Assert.That(seqs, Is.EqualTo(new ushort[] { 10, 12, 15 }));
        var c = decoder.Counters;
        Assert.That(c.OutOfOrder, Is.EqualTo(1), "11 after 12");
        Assert.That(c.Duplicates, Is.EqualTo(2), "12 and 15 twice");
        Assert.That(c.Lost, Is.EqualTo(1 + 2), "11 skipped, 13 and 14 missing");
    }

    [Test]
    public void SenderRestart_IsAcceptedWithOrWithoutSequenceReset()
    {
        var decoder = new FrameDecoder();
        DecodeAll(decoder, Heartbeat(FrameFlags.SequenceReset, 5000, 1));
        Assert.That(DecodeAll(decoder, Heartbeat(0, 3, 2)), Is.EqualTo(new ushort[] { 3 }), "far behind: restart");
        Assert.That(decoder.Counters.Resyncs, Is.EqualTo(1));
        Assert.That(DecodeAll(decoder, Heartbeat(FrameFlags.SequenceReset, 1, 3)), Is.EqualTo(new ushort[] { 1 }), "SEQ_RESET inside the replay window");
        Assert.That(DecodeAll(decoder, Heartbeat(0, 65535, 4)), Is.Empty, "2 behind: replay");
        Assert.That(DecodeAll(decoder, Heartbeat(0, 2, 5)), Is.EqualTo(new ushort[] { 2 }));
    }

    [Test]
    public void GarbageBeforeAFrame_CostsAtMostThatFrame()
    {
        var rng = new Random(3);
        for (int trial = 0; trial < 200; trial++)
        {
            var decoder = new FrameDecoder();
            var garbage = new byte[rng.Next(0, 3000)];
            rng.NextBytes(garbage);
            byte[] a = Heartbeat(FrameFlags.SequenceReset, 40000, 1), b = Heartbeat(0, 40001, 2);
            var seqs = DecodeAll(decoder, [.. garbage, .. a, .. b]);
            Assert.That(seqs, Does.Contain((ushort)40001), $"trial {trial}");
            Assert.That(decoder.BufferedBytes, Is.Zero);
        }
    }

    [Test]
    public void ZeroFreeGarbage_IsOversizeAndDecodingResumes()
    {
        var decoder = new FrameDecoder();
        byte[] noise = Enumerable.Repeat((byte)0x55, 5000).ToArray();
        Assert.That(DecodeAll(decoder, noise), Is.Empty);
        Assert.That(decoder.Counters.Oversize, Is.EqualTo(1));
        Assert.That(decoder.BufferedBytes, Is.LessThanOrEqualTo(LinkProtocol.MaxRawFrame));
        // The first frame's bytes end the discarded run; the next one decodes.
        Assert.That(DecodeAll(decoder, [.. Heartbeat(FrameFlags.SequenceReset, 1, 1), .. Heartbeat(0, 2, 2)]), Is.EqualTo(new ushort[] { 2 }));
    }

    [Test]
    public void TruncatedFrame_IsAFramingOrCrcErrorAndTheNextFrameDecodes()
    {
        byte[] full = Heartbeat(FrameFlags.SequenceReset, 7, 7);
        for (int cut = 1; cut < full.Length - 1; cut++)
        {
            var decoder = new FrameDecoder();
            var seqs = DecodeAll(decoder, [.. full[..cut], 0x00, .. Heartbeat(0, 8, 8)]);
            Assert.That(seqs, Is.EqualTo(new ushort[] { 8 }), $"cut {cut}");
            Assert.That(decoder.Counters.FramingErrors + decoder.Counters.CrcErrors, Is.EqualTo(1), $"cut {cut}");
        }
    }

    [Test]
    public void EmptyFrames_AreIgnored()
    {
        var decoder = new FrameDecoder();
        Assert.That(DecodeAll(decoder, [0, 0, 0, .. Heartbeat(FrameFlags.SequenceReset, 1, 1), 0, 0]), Has.Count.EqualTo(1));
        Assert.That(decoder.Counters.Rejected, Is.Zero);
    }

    [Test]
    public void EncodeAndDecode_AllocateNothingPerFrame()
    {
        var encoder = new FrameEncoder();
        var decoder = new FrameDecoder();
        var obs = new float[146];
        var obsOut = new float[LinkProtocol.MaxObservation];
        var state = new StateMessage(1, Vector3.One, Quaternion.Identity, Vector3.Zero, Vector3.UnitZ);
        float sum = 0;
        void RoundTrip(int i)
        {
            obs[0] = i;
            ReadOnlySpan<byte> wire = encoder.EncodeObservation(obs);
            while (decoder.TryDecode(ref wire, out var f)) sum += f.ReadObservation(obsOut) + obsOut[0];
            wire = encoder.Encode(state);
            while (decoder.TryDecode(ref wire, out var f)) sum += f.ReadState().Position.X;
            wire = encoder.Encode(new ActionMessage((ushort)i, 10, Vector4.One));
            while (decoder.TryDecode(ref wire, out var f)) sum += f.ReadAction().Action.X;
        }
        for (int i = 0; i < 2000; i++) RoundTrip(i); // warm-up (tiering, statics)
        long allocated = AllocationMeter.FewestBytes(() => { for (int i = 0; i < 10000; i++) RoundTrip(i); });
        Assert.That(allocated, Is.Zero);
        Assert.That(decoder.Counters.FramesOk, Is.EqualTo(96000), "3 frames per round trip: 2000 warm-up, then three batches of 10000");
        Assert.That(sum, Is.Not.Zero);
    }

    [Test]
    public void EncoderRejectsBadObservationSizes()
    {
        var encoder = new FrameEncoder();
        Assert.Throws<ArgumentOutOfRangeException>(() => encoder.EncodeObservation(ReadOnlySpan<float>.Empty));
        Assert.Throws<ArgumentOutOfRangeException>(() => encoder.EncodeObservation(new float[256]));
        Assert.That(encoder.EncodeObservation(new float[255]).Length, Is.LessThanOrEqualTo(LinkProtocol.MaxWireFrame));
    }

    [Test]
    public void FirstFrameCarriesSequenceReset()
    {
        var encoder = new FrameEncoder();
        var decoder = new FrameDecoder();
        ReadOnlySpan<byte> w = encoder.Encode(new HeartbeatMessage(1, 0));
        Assert.That(decoder.TryDecode(ref w, out var f) && f.Flags == FrameFlags.SequenceReset && f.Sequence == 0);
        w = encoder.Encode(new HeartbeatMessage(2, 0));
        Assert.That(decoder.TryDecode(ref w, out f) && f.Flags == FrameFlags.None && f.Sequence == 1);
    }
}
