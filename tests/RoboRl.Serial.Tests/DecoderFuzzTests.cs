using System.Numerics;

namespace RoboRl.Serial.Tests;

/// <summary>
/// One million random inputs through one decoder: pure random bytes and mutated valid frames (bit
/// flips, truncation, duplication, insertion, deletion, swapped halves), cut into random chunks.
/// Every tenth input is followed by a delimiter and a marker frame, which must come out.
/// </summary>
public class DecoderFuzzTests
{
    [Test]
    public void MillionRandomInputs_NoException_BoundedState_MarkersDecoded([Values(1, 2)] int seed)
    {
        const int Inputs = 500_000; // per seed: 1 M over both
        var rng = new Random(seed);
        var decoder = new FrameDecoder();
        var wire = new byte[LinkProtocol.MaxWireFrame];
        var payload = new byte[LinkProtocol.MaxPayload];
        var scratch = new byte[LinkProtocol.MaxWireFrame * 3];
        var obs = new float[LinkProtocol.MaxObservation];
        var obsOut = new float[LinkProtocol.MaxObservation];
        int markersSent = 0, markersSeen = 0;
        ushort markerSeq = 32768;

        void Feed(ReadOnlySpan<byte> bytes, bool marker)
        {
            // Random chunking: the decoder must not care where reads split the stream.
            while (bytes.Length > 0)
            {
                int take = Math.Min(bytes.Length, 1 + rng.Next(bytes.Length));
                ReadOnlySpan<byte> chunk = bytes[..take];
                bytes = bytes[take..];
                while (decoder.TryDecode(ref chunk, out var frame))
                {
                    // Reading any accepted frame must succeed: the decoder validated its length.
                    switch (frame.Type)
                    {
                        case MessageType.Observation: frame.ReadObservation(obsOut); break;
                        case MessageType.State: frame.ReadState(); break;
                        case MessageType.Heartbeat:
                            var hb = frame.ReadHeartbeat();
                            if (marker && hb.UptimeMs == 0xC0FFEE00u + (uint)markersSent) markersSeen++;
                            break;
                        case MessageType.Action: frame.ReadAction(); break;
                        case MessageType.ActuatorCommand: frame.ReadActuatorCommand(); break;
                        case MessageType.ParamSet: frame.ReadParamSet(); break;
                        case MessageType.ParamAck: frame.ReadParamAck(); break;
                        case MessageType.Status: frame.ReadStatus(); break;
                        default: Assert.Fail($"decoder delivered unknown type {frame.Type}"); break;
                    }
                }
                if (decoder.BufferedBytes > LinkProtocol.MaxRawFrame) Assert.Fail("decoder state grew past one frame");
            }
        }

        int ValidFrame()
        {
            // Random valid message, with sequence numbers below 32768 (markers use the upper half).
            var type = (MessageType)rng.Next(1, 9);
            int length = type switch
            {
                MessageType.Observation => Payloads.WriteObservation(obs.AsSpan(0, rng.Next(1, 256)), payload),
                MessageType.State => Payloads.Write(new StateMessage((ulong)rng.NextInt64(), new Vector3(rng.NextSingle()), Quaternion.Identity, Vector3.Zero, Vector3.One), payload),
                MessageType.Heartbeat => Payloads.Write(new HeartbeatMessage((uint)rng.Next(), 0), payload),
                MessageType.Action => Payloads.Write(new ActionMessage(1, 2, new Vector4(rng.NextSingle())), payload),
                MessageType.ActuatorCommand => Payloads.Write(new ActuatorCommand(ActuatorMode.Rpm, Vector4.One), payload),
                MessageType.ParamSet => Payloads.Write(new ParamSetMessage(1, rng.NextSingle()), payload),
                MessageType.ParamAck => Payloads.Write(new ParamAckMessage(1, ParamResult.Ok, 1), payload),
                _ => Payloads.Write(new StatusMessage(StatusCode.Watchdog, StatusSeverity.Error, 5), payload),
            };
            return FrameEncoder.WriteFrame(type, (FrameFlags)rng.Next(2), (ushort)rng.Next(32768), payload.AsSpan(0, length), wire);
        }

        for (int i = 0; i < obs.Length; i++) obs[i] = i * 0.25f - 3f;

        for (int input = 0; input < Inputs; input++)
        {
            int n;
            if (rng.Next(2) == 0)
            {
                n = rng.Next(0, 80);
                rng.NextBytes(scratch.AsSpan(0, n));
            }
            else
            {
                int f = ValidFrame();
                wire.AsSpan(0, f).CopyTo(scratch);
                n = f;
                switch (rng.Next(7))
                {
                    case 0: for (int k = rng.Next(1, 4); k > 0; k--) scratch[rng.Next(n)] ^= (byte)(1 << rng.Next(8)); break;
                    case 1: n = rng.Next(n); break;                                          // truncated
                    case 2: scratch.AsSpan(0, n).CopyTo(scratch.AsSpan(n)); n *= 2; break;   // duplicated
                    case 3: { int at = rng.Next(n); int k = rng.Next(1, 8); scratch.AsSpan(at, n - at).CopyTo(scratch.AsSpan(at + k)); rng.NextBytes(scratch.AsSpan(at, k)); n += k; break; }
                    case 4: { int at = rng.Next(n); int k = Math.Min(rng.Next(1, 8), n - at); scratch.AsSpan(at + k, n - at - k).CopyTo(scratch.AsSpan(at)); n -= k; break; }
                    case 5: { int half = n / 2; var tmp = scratch.AsSpan(0, half).ToArray(); scratch.AsSpan(half, n - half).CopyTo(scratch); tmp.CopyTo(scratch.AsSpan(n - half)); break; }
                    default: break;                                                          // intact
                }
            }
            Feed(scratch.AsSpan(0, n), marker: false);

            if (input % 10 == 9)
            {
                // Delimiter, then a marker frame: it must be decoded whatever came before.
                var markerPayload = new byte[LinkProtocol.HeartbeatSize];
                Payloads.Write(new HeartbeatMessage(0xC0FFEE00u + (uint)markersSent, 0), markerPayload);
                int m = FrameEncoder.WriteFrame(MessageType.Heartbeat, FrameFlags.SequenceReset, markerSeq++, markerPayload, wire.AsSpan(1));
                wire[0] = 0;
                if (markerSeq == 0) markerSeq = 32768;
                int before = markersSeen;
                Feed(wire.AsSpan(0, m + 1), marker: true);
                Assert.That(markersSeen, Is.EqualTo(before + 1), $"marker {markersSent} after input {input} not decoded");
                markersSent++;
            }
        }

        var c = decoder.Counters;
        TestContext.Out.WriteLine($"seed {seed}: {c}");
        Assert.That(markersSeen, Is.EqualTo(Inputs / 10));
        Assert.That(c.FramesOk, Is.GreaterThan(Inputs / 10), "mutated-but-intact frames were decoded too");
        Assert.That(c.CrcErrors, Is.GreaterThan(0));
        Assert.That(c.FramingErrors, Is.GreaterThan(0));
        Assert.That(c.Duplicates + c.OutOfOrder, Is.GreaterThan(0));
        Assert.That(decoder.BufferedBytes, Is.LessThanOrEqualTo(LinkProtocol.MaxRawFrame));
    }
}
