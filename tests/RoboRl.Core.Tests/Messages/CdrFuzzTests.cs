using RoboRl.Core.Messages;
using RoboRl.Tests.Shared;

namespace RoboRl.Core.Tests.Messages;

/// <summary>Malformed payloads must end in <see cref="CdrFormatException"/>: never another exception, a hang or a huge allocation.</summary>
public class CdrFuzzTests
{
    [Test]
    public void HundredThousandMutatedPayloadsOnlyRaiseTypedErrors()
    {
        var rng = new Random(12345);
        var defs = MessageRegistry.Default.All;
        var seeds = defs.Select(d => (Def: d, Bytes: CdrDynamic.Serialize(RandomMessages.Create(d, rng)))).ToArray();
        int decoded = 0, rejected = 0;
        for (int i = 0; i < 100_000; i++)
        {
            var (def, seed) = seeds[rng.Next(seeds.Length)];
            byte[] payload = Mutate(seed, rng);
            try
            {
                CdrDynamic.Read(def, payload);
                decoded++;
            }
            catch (CdrFormatException)
            {
                rejected++;
            }
            if (def.FullName == RosTypes.Action)
                try { Cdr.Read<ActionMsg>(payload); } catch (CdrFormatException) { }
            if (def.FullName == RosTypes.LaserScan)
                try { Cdr.Read<LaserScanMsg>(payload); } catch (CdrFormatException) { }
        }
        TestContext.Out.WriteLine($"decoded {decoded}, rejected {rejected}");
        Assert.That(rejected, Is.GreaterThan(10_000), "mutations must actually break payloads");
    }

    [Test]
    public void AbsurdCountsAreRejectedBeforeAllocating()
    {
        var def = MessageRegistry.Default.Get(RosTypes.Joy);
        var w = new CdrWriter();
        new JoyMsg { Header = new HeaderMsg { FrameId = "j" } }.WriteFields(w);
        byte[] bytes = w.ToArray();
        // The axes count follows the header: 4 (encapsulation) + 8 (stamp) + 4 + 2 ("j\0") -> padded to 20.
        BitConverter.GetBytes(uint.MaxValue).CopyTo(bytes, 20);
        var e = Assert.Throws<CdrFormatException>(() => CdrDynamic.Read(def, bytes))!;
        Assert.That(e.Message, Does.Contain("sequence count"));
        Assert.That(e.Offset, Is.EqualTo(20));
        Assert.Throws<CdrFormatException>(() => Cdr.Read<JoyMsg>(bytes));
        Assert.Throws<CdrFormatException>(() => CdrDynamic.Read(def, bytes.AsSpan(0, 9)));
        Assert.Throws<CdrFormatException>(() => CdrDynamic.Read(def, []));
    }

    private static byte[] Mutate(byte[] seed, Random rng)
    {
        var b = seed.ToList();
        int edits = rng.Next(1, 4);
        for (int e = 0; e < edits; e++)
        {
            switch (rng.Next(6))
            {
                case 0 when b.Count > 0: b[rng.Next(b.Count)] ^= (byte)(1 << rng.Next(8)); break;
                case 1 when b.Count > 0: b.RemoveRange(rng.Next(b.Count), 1); break;
                case 2: b.Insert(rng.Next(b.Count + 1), (byte)rng.Next(256)); break;
                case 3 when b.Count > 0: { int cut = rng.Next(b.Count); b.RemoveRange(cut, b.Count - cut); break; } // truncate
                case 4 when b.Count >= 8:
                    {
                        int at = rng.Next(b.Count - 4);
                        uint v = rng.Next(3) switch { 0 => uint.MaxValue, 1 => 0x7FFFFFFF, _ => (uint)rng.Next(1, 100_000) };
                        var bytes = BitConverter.GetBytes(v);
                        for (int k = 0; k < 4; k++) b[at + k] = bytes[k];
                        break;
                    }
                default: if (b.Count > 0) b[rng.Next(b.Count)] = (byte)rng.Next(256); break;
            }
        }
        return b.ToArray();
    }
}
