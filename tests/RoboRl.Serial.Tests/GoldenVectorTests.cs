using System.Globalization;
using System.Numerics;

namespace RoboRl.Serial.Tests;

/// <summary>
/// The golden vectors shared with the C tests (firmware-bridge/tests/vectors/link_v1.txt, produced by
/// an independent Python implementation): exact wire bytes out of the encoder, exact fields (bit for
/// bit) out of the decoder, and each reject case in its named error class.
/// </summary>
public class GoldenVectorTests
{
    private static readonly string VectorFile = Path.Combine(TestContext.CurrentContext.TestDirectory, "vectors", "link_v1.txt");

    private static IEnumerable<Dictionary<string, string>> Cases(string kind) =>
        File.ReadLines(VectorFile)
            .Where(l => l.Length > 0 && l[0] != '#')
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(t => t.Split('=', 2)).ToDictionary(t => t[0], t => t[1]))
            .Where(d => d["kind"] == kind);

    public static IEnumerable<TestCaseData> FrameCases() => Cases("frame").Select(d => new TestCaseData(d).SetName("frame_" + d["name"]));
    public static IEnumerable<TestCaseData> RejectCases() => Cases("reject").Select(d => new TestCaseData(d).SetName("reject_" + d["name"]));
    public static IEnumerable<TestCaseData> CobsCases() => Cases("cobs").Select(d => new TestCaseData(d).SetName("cobs_" + d["name"]));

    private static float[] Floats(Dictionary<string, string> d, string key) =>
        d[key].Split(',').Select(s => float.Parse(s, CultureInfo.InvariantCulture)).ToArray();

    private static ulong U(Dictionary<string, string> d, string key) => ulong.Parse(d[key], CultureInfo.InvariantCulture);

    private static Vector3 V3(float[] f) => new(f[0], f[1], f[2]);
    private static Vector4 V4(float[] f) => new(f[0], f[1], f[2], f[3]);

    [Test]
    public void VectorFileCoversEveryMessageTypeAndEdgeCase()
    {
        var types = Cases("frame").Select(d => d["type"]).Distinct().ToList();
        Assert.That(types, Has.Count.EqualTo(8));
        Assert.That(Cases("frame").Select(d => d["name"]), Does.Contain("observation_max_payload").And.Contain("heartbeat_all_zero_seq_reset"));
        Assert.That(Cases("reject").Count(), Is.GreaterThanOrEqualTo(10));
    }

    [Test]
    public void CrcCheckValue()
    {
        var d = Cases("crc").Single();
        Assert.That(Crc16.Compute(System.Text.Encoding.ASCII.GetBytes(d["ascii"])), Is.EqualTo(Convert.ToUInt16(d["crc"], 16)).And.EqualTo(0x29B1));
    }

    [TestCaseSource(nameof(CobsCases))]
    public void Cobs_MatchesVector(Dictionary<string, string> d)
    {
        byte[] raw = d["raw"] == "-" ? [] : Convert.FromHexString(d["raw"]);
        byte[] encoded = Convert.FromHexString(d["encoded"]);
        var buf = new byte[Cobs.MaxEncodedLength(raw.Length)];
        int n = Cobs.Encode(raw, buf);
        Assert.That(buf.AsSpan(0, n).ToArray(), Is.EqualTo(encoded));
        var back = new byte[raw.Length + 4];
        int m = Cobs.Decode(encoded, back);
        Assert.That(back.AsSpan(0, m).ToArray(), Is.EqualTo(raw));
    }

    [TestCaseSource(nameof(FrameCases))]
    public void Frame_EncodesToExactBytesAndDecodesToExactFields(Dictionary<string, string> d)
    {
        byte[] wire = Convert.FromHexString(d["wire"]);
        var payload = new byte[LinkProtocol.MaxPayload];
        var type = Enum.Parse<MessageType>(d["type"].Replace("_", ""), ignoreCase: true);
        int length = type switch
        {
            MessageType.Heartbeat => Payloads.Write(new HeartbeatMessage((uint)U(d, "uptime_ms"), (LinkStatusFlags)U(d, "status_flags")), payload),
            MessageType.State => Payloads.Write(State(d), payload),
            MessageType.ActuatorCommand => Payloads.Write(new ActuatorCommand((ActuatorMode)U(d, "mode"), V4(Floats(d, "motor"))), payload),
            MessageType.Observation => Payloads.WriteObservation(Floats(d, "obs"), payload),
            MessageType.Action => Payloads.Write(new ActionMessage((ushort)U(d, "observation_sequence"), (uint)U(d, "inference_us"), V4(Floats(d, "action"))), payload),
            MessageType.ParamSet => Payloads.Write(new ParamSetMessage((ushort)U(d, "param_id"), Floats(d, "value")[0]), payload),
            MessageType.ParamAck => Payloads.Write(new ParamAckMessage((ushort)U(d, "param_id"), (ParamResult)U(d, "result"), Floats(d, "value")[0]), payload),
            MessageType.Status => Payloads.Write(new StatusMessage((StatusCode)U(d, "code"), (StatusSeverity)U(d, "severity"), (uint)U(d, "detail")), payload),
            _ => throw new AssertionException("unknown type " + d["type"]),
        };
        var flags = (FrameFlags)U(d, "flags");
        var seq = (ushort)U(d, "seq");
        var encoded = new byte[LinkProtocol.MaxWireFrame];
        int n = FrameEncoder.WriteFrame(type, flags, seq, payload.AsSpan(0, length), encoded);
        Assert.That(Convert.ToHexStringLower(encoded, 0, n), Is.EqualTo(d["wire"]), "encoder output");

        var decoder = new FrameDecoder();
        ReadOnlySpan<byte> input = wire;
        Assert.That(decoder.TryDecode(ref input, out var frame), Is.True, "decoder accepts the vector");
        Assert.That(frame.Type, Is.EqualTo(type));
        Assert.That(frame.Flags, Is.EqualTo(flags));
        Assert.That(frame.Sequence, Is.EqualTo(seq));
        Assert.That(input.Length, Is.Zero);
        Assert.That(frame.Payload.ToArray(), Is.EqualTo(payload.AsSpan(0, length).ToArray()));
        // Fields, bit for bit (so -0.0 and the last ulp count).
        switch (type)
        {
            case MessageType.State:
                var s = frame.ReadState();
                var e = State(d);
                Assert.That(s.TimestampUs, Is.EqualTo(e.TimestampUs));
                Assert.That(Bits(s.Position.X, s.Position.Y, s.Position.Z, s.Orientation.W, s.Orientation.X, s.Orientation.Y, s.Orientation.Z,
                        s.Velocity.X, s.Velocity.Y, s.Velocity.Z, s.AngularVelocity.X, s.AngularVelocity.Y, s.AngularVelocity.Z),
                    Is.EqualTo(Bits([.. Floats(d, "position"), .. Floats(d, "quaternion"), .. Floats(d, "velocity"), .. Floats(d, "angular_velocity")])));
                break;
            case MessageType.Observation:
                var obs = new float[LinkProtocol.MaxObservation];
                int count = frame.ReadObservation(obs);
                Assert.That(Bits(obs[..count]), Is.EqualTo(Bits(Floats(d, "obs"))));
                break;
            case MessageType.Heartbeat:
                Assert.That(frame.ReadHeartbeat(), Is.EqualTo(new HeartbeatMessage((uint)U(d, "uptime_ms"), (LinkStatusFlags)U(d, "status_flags"))));
                break;
            case MessageType.Action:
                var a = frame.ReadAction();
                Assert.That(a.ObservationSequence, Is.EqualTo((ushort)U(d, "observation_sequence")));
                Assert.That(a.InferenceUs, Is.EqualTo((uint)U(d, "inference_us")));
                Assert.That(Bits(a.Action.X, a.Action.Y, a.Action.Z, a.Action.W), Is.EqualTo(Bits(Floats(d, "action"))));
                break;
            case MessageType.ActuatorCommand:
                var c = frame.ReadActuatorCommand();
                Assert.That(c.Mode, Is.EqualTo((ActuatorMode)U(d, "mode")));
                Assert.That(Bits(c.Motors.X, c.Motors.Y, c.Motors.Z, c.Motors.W), Is.EqualTo(Bits(Floats(d, "motor"))));
                break;
            case MessageType.ParamSet:
                Assert.That(frame.ReadParamSet(), Is.EqualTo(new ParamSetMessage((ushort)U(d, "param_id"), Floats(d, "value")[0])));
                break;
            case MessageType.ParamAck:
                Assert.That(frame.ReadParamAck(), Is.EqualTo(new ParamAckMessage((ushort)U(d, "param_id"), (ParamResult)U(d, "result"), Floats(d, "value")[0])));
                break;
            case MessageType.Status:
                Assert.That(frame.ReadStatus(), Is.EqualTo(new StatusMessage((StatusCode)U(d, "code"), (StatusSeverity)U(d, "severity"), (uint)U(d, "detail"))));
                break;
        }
    }

    [TestCaseSource(nameof(RejectCases))]
    public void Reject_CountedInItsClass(Dictionary<string, string> d)
    {
        var decoder = new FrameDecoder();
        ReadOnlySpan<byte> input = Convert.FromHexString(d["wire"]);
        Assert.That(decoder.TryDecode(ref input, out _), Is.False);
        var c = decoder.Counters;
        long hit = d["expect"] switch
        {
            "crc" => c.CrcErrors,
            "framing" => c.FramingErrors,
            "oversize" => c.Oversize,
            "bad_version" => c.BadVersion,
            "unknown_type" => c.UnknownType,
            "bad_length" => c.BadLength,
            _ => throw new AssertionException("unknown class " + d["expect"]),
        };
        Assert.That(hit, Is.EqualTo(1), d["expect"]);
        Assert.That(c.Rejected, Is.EqualTo(1), "exactly one class counted");
        Assert.That(c.FramesOk, Is.Zero);
    }

    private static StateMessage State(Dictionary<string, string> d)
    {
        var q = Floats(d, "quaternion");
        return new StateMessage(U(d, "timestamp_us"), V3(Floats(d, "position")), new Quaternion(q[1], q[2], q[3], q[0]),
            V3(Floats(d, "velocity")), V3(Floats(d, "angular_velocity")));
    }

    private static int[] Bits(params float[] f) => f.Select(BitConverter.SingleToInt32Bits).ToArray();
}
