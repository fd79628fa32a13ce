using System.Reflection;
using RoboRl.Core.Messages;
using RoboRl.Tests.Shared;

namespace RoboRl.Core.Tests.Messages;

public class CdrTests
{
    private static readonly MessageRegistry Registry = MessageRegistry.Default;

    [Test]
    public void PoseStampedHasTheXcdr1LittleEndianLayout()
    {
        var msg = new PoseStampedMsg
        {
            Header = new HeaderMsg { Stamp = new TimeMsg { Sec = 1, Nanosec = 2 }, FrameId = "ab" },
            Pose = new PoseMsg { Position = new PointMsg { X = 1, Y = 2, Z = 3 }, Orientation = QuaternionMsg.Identity },
        };
        byte[] bytes = new CdrWriter().Write(msg).ToArray();

        byte[] expectedStart = [0x00, 0x01, 0x00, 0x00, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, (byte)'a', (byte)'b', 0, 0 /* pad to 8 */];
        Assert.That(bytes.Take(20), Is.EqualTo(expectedStart));
        Assert.That(bytes.Length, Is.EqualTo(20 + 7 * 8));
        Assert.That(BitConverter.ToDouble(bytes, 20), Is.EqualTo(1.0));
        Assert.That(BitConverter.ToDouble(bytes, 20 + 6 * 8), Is.EqualTo(1.0)); // w
    }

    [Test]
    public void ReadsBigEndianAndIgnoresOptionBytes()
    {
        // Header (00 00 = CDR_BE, option bytes 00 03 as Cyclone may write), Time {sec=-2, nanosec=5}.
        byte[] be = [0x00, 0x00, 0x00, 0x03, 0xFF, 0xFF, 0xFF, 0xFE, 0, 0, 0, 5];
        var t = Cdr.Read<TimeMsg>(be);
        Assert.That((t.Sec, t.Nanosec), Is.EqualTo((-2, 5u)));
        var dyn = CdrDynamic.Read(Registry.Get(RosTypes.Time), be);
        Assert.That(dyn.Get<int>("sec"), Is.EqualTo(-2));

        var e = Assert.Throws<CdrFormatException>(() => Cdr.Read<TimeMsg>([0x00, 0x03, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]))!;
        Assert.That(e.Message, Does.Contain("not plain CDR"));
    }

    [Test]
    public void StringsCountTheirNulAndSequencesTheirElements()
    {
        var w = new CdrWriter();
        w.WriteString("hé");
        w.WriteFloat32Sequence([1f, 2f]);
        Assert.That(w.WrittenSpan.ToArray(), Is.EqualTo(new byte[]
        {
            0, 1, 0, 0, 4, 0, 0, 0, (byte)'h', 0xC3, 0xA9, 0, 2, 0, 0, 0, 0, 0, 0x80, 0x3F, 0, 0, 0, 0x40,
        }));
    }

    [Test]
    public void DynamicCodecRoundTripsEveryRegisteredType()
    {
        var rng = new Random(1);
        foreach (var def in Registry.All)
            for (int i = 0; i < 20; i++)
            {
                var m = RandomMessages.Create(def, rng);
                byte[] bytes = CdrDynamic.Serialize(m);
                var back = CdrDynamic.Read(def, bytes);
                Assert.That(back.ToJson().ToJsonString(), Is.EqualTo(m.ToJson().ToJsonString()), def.FullName);
                Assert.That(CdrDynamic.Serialize(back), Is.EqualTo(bytes), def.FullName);
            }
    }

    [Test]
    public void DynamicMessageRejectsWrongTypesAndLengths()
    {
        var imu = DynamicMessage.Create(Registry.Get(RosTypes.Imu));
        Assert.That(imu.Get<double[]>("orientation_covariance").Length, Is.EqualTo(9));
        Assert.That(imu.Get<DynamicMessage>("orientation").Get<double>("w"), Is.EqualTo(1.0), ".msg default w = 1");
        Assert.Throws<MsgDefinitionException>(() => imu["orientation_covariance"] = new double[8]);
        Assert.Throws<MsgDefinitionException>(() => imu["orientation_covariance"] = new float[9]);
        Assert.Throws<MsgDefinitionException>(() => imu["nope"] = 1.0);
    }

    [Test]
    public void WriterAllocatesNothingOnceWarm()
    {
        var w = new CdrWriter();
        float[] values = new float[64];
        var obs = new ObservationMsg { Header = new HeaderMsg { FrameId = "base_link" }, Values = values };
        for (int i = 0; i < 100; i++) w.Write(obs);
        Assert.That(AllocationMeter.FewestBytes(() => { for (int i = 0; i < 10_000; i++) { obs.Tick = (ulong)i; w.Write(obs); } }), Is.Zero);
    }
}

/// <summary>
/// The hand-written hot-path structs are checked against the definitions: every field of the struct is set to a
/// distinct value, the struct's bytes are decoded by the definition-driven codec, and each decoded field must equal
/// the struct field of the same name (snake_case → PascalCase); the bytes must also re-encode identically.
/// </summary>
public class HotMessageTests
{
    private static IEnumerable<Type> HotTypes() => typeof(ICdrMessage<>).Assembly.GetTypes()
        .Where(t => t.IsValueType && t.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(ICdrMessage<>)));

    [Test]
    public void TheHotPathCoversTheRecordedTypes()
    {
        var names = HotTypes().Select(t => (string)t.GetProperty("TypeName", BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!).ToHashSet();
        Assert.That(names, Is.SupersetOf(new[]
        {
            RosTypes.PoseStamped, RosTypes.TwistStamped, RosTypes.Odometry, RosTypes.Imu, RosTypes.Joy, RosTypes.LaserScan,
            RosTypes.Observation, RosTypes.Action, RosTypes.Mode, RosTypes.TickStats, RosTypes.GroundTruth,
        }));
    }

    [TestCaseSource(nameof(HotTypes))]
    public void StructCodecMatchesTheDefinition(Type type)
    {
        string typeName = (string)type.GetProperty("TypeName", BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;
        var def = MessageRegistry.Default.Get(typeName);
        int counter = 1;
        object sample = Fill(type, ref counter);

        byte[] bytes = (byte[])typeof(HotMessageTests).GetMethod(nameof(WriteStruct), BindingFlags.NonPublic | BindingFlags.Static)!
            .MakeGenericMethod(type).Invoke(null, [sample])!;
        var dynamic = CdrDynamic.Read(def, bytes);
        AssertSame(dynamic, sample, def.FullName);
        Assert.That(CdrDynamic.Serialize(dynamic), Is.EqualTo(bytes), "re-encoding by the definition gives the same bytes");

        object back = typeof(HotMessageTests).GetMethod(nameof(ReadStruct), BindingFlags.NonPublic | BindingFlags.Static)!
            .MakeGenericMethod(type).Invoke(null, [bytes])!;
        AssertSame(dynamic, back, def.FullName + " (struct read)");
    }

    private static byte[] WriteStruct<T>(object sample) where T : struct, ICdrMessage<T> => new CdrWriter().Write((T)sample).ToArray();
    private static object ReadStruct<T>(byte[] bytes) where T : struct, ICdrMessage<T> => Cdr.Read<T>(bytes);

    private static string Pascal(string snake) => string.Concat(snake.Split('_').Select(p => char.ToUpperInvariant(p[0]) + p[1..]));

    private static void AssertSame(DynamicMessage dyn, object structValue, string path)
    {
        var type = structValue.GetType();
        var structFields = type.GetFields(BindingFlags.Public | BindingFlags.Instance);
        Assert.That(structFields.Length, Is.EqualTo(dyn.Definition.Fields.Count), $"{path}: field count");
        foreach (var f in dyn.Definition.Fields)
        {
            var sf = type.GetField(Pascal(f.Name)) ?? throw new AssertionException($"{path}: struct {type.Name} lacks field {Pascal(f.Name)}");
            object? sv = sf.GetValue(structValue);
            object dv = dyn[f.Name];
            string where = $"{path}.{f.Name}";
            switch (sv)
            {
                case null: Assert.That(dv, Is.EqualTo(string.Empty), where); break;
                case ReadOnlyMemory<float> rf: Assert.That(dv, Is.EqualTo(rf.ToArray()), where); break;
                case ReadOnlyMemory<int> ri: Assert.That(dv, Is.EqualTo(ri.ToArray()), where); break;
                case Covariance3x3 c3: Assert.That(dv, Is.EqualTo(c3.ToArray()), where); break;
                case Covariance6x6 c6: Assert.That(dv, Is.EqualTo(c6.ToArray()), where); break;
                case Enum e: Assert.That(dv, Is.EqualTo(Convert.ToByte(e)), where); break;
                default:
                    if (dv is DynamicMessage nested) AssertSame(nested, sv, where);
                    else Assert.That(dv, Is.EqualTo(sv), where);
                    break;
            }
        }
    }

    /// <summary>Sets every field to a distinct value so that swapped or missing fields show.</summary>
    private static object Fill(Type type, ref int counter)
    {
        object obj = Activator.CreateInstance(type)!;
        foreach (var f in type.GetFields(BindingFlags.Public | BindingFlags.Instance))
        {
            int c = counter++;
            var ft = f.FieldType;
            object value =
                ft == typeof(double) ? c + 0.5 :
                ft == typeof(float) ? c + 0.25f :
                ft == typeof(int) ? -c :
                ft == typeof(uint) ? (uint)c * 3 :
                ft == typeof(ulong) ? (ulong)c << 33 :
                ft == typeof(bool) ? true :
                ft == typeof(string) ? $"s{c}é" :
                ft.IsEnum ? Enum.ToObject(ft, 1 + c % 2) :
                ft == typeof(ReadOnlyMemory<float>) ? new ReadOnlyMemory<float>(Enumerable.Range(c, c % 4 + 1).Select(x => x * 1.5f).ToArray()) :
                ft == typeof(ReadOnlyMemory<int>) ? new ReadOnlyMemory<int>(Enumerable.Range(c, 3).ToArray()) :
                ft == typeof(Covariance3x3) ? Covariance3x3.From(Enumerable.Range(c, 9).Select(x => x * 0.1).ToArray()) :
                ft == typeof(Covariance6x6) ? Covariance6x6.From(Enumerable.Range(c, 36).Select(x => x * 0.1).ToArray()) :
                Fill(ft, ref counter);
            f.SetValue(obj, value);
        }
        return obj;
    }
}

public class TimeMsgTests
{
    [TestCase(0L, 0, 0u)]
    [TestCase(1_795_601_778_999_999_999L, 1_795_601_778, 999_999_999u)]
    [TestCase(-1L, -1, 999_999_999u)]
    [TestCase(-1_000_000_000L, -1, 0u)]
    public void FromNanosecondsSplitsExactly(long ns, int sec, uint nanosec)
    {
        var t = TimeMsg.FromNanoseconds(ns);
        Assert.That((t.Sec, t.Nanosec), Is.EqualTo((sec, nanosec)));
        Assert.That(t.ToNanoseconds(), Is.EqualTo(ns));
    }
}
