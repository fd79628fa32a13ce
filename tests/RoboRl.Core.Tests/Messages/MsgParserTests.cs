using RoboRl.Core.Messages;
using RoboRl.Tests.Shared;

namespace RoboRl.Core.Tests.Messages;

public class MsgParserTests
{
    [Test]
    public void ParsesEveryKindOfLine()
    {
        var def = MsgParser.Parse("test_msgs/msg/All", """
            # leading comment
            uint8 MODE_A=1   # constant with comment
            string GREETING="hi # not a comment"
            float64 PI=3.14159
            bool FLAG=true

            bool b
            byte by
            char c
            int8 i8
            uint64 u64 42
            float32[4] fixed
            float64[] unbounded
            int32[<=3] bounded
            string<=8 short_text
            string<=5[<=2] short_texts
            Other other         # same package
            geometry_msgs/Pose pose
            Header header
            """, "unit test");

        Assert.That(def.FullName, Is.EqualTo("test_msgs/All"));
        Assert.That(def.RosTypeName, Is.EqualTo("test_msgs/msg/All"));
        Assert.That(def.DdsTypeName, Is.EqualTo("test_msgs::msg::dds_::All_"));
        Assert.That(def.Constants.Select(c => c.Name), Is.EqualTo(new[] { "MODE_A", "GREETING", "PI", "FLAG" }));
        Assert.That(def.Constants[0].Value, Is.EqualTo(1L));
        Assert.That(def.Constants[1].Value, Is.EqualTo("hi # not a comment"));
        Assert.That(def.Constants[2].Value, Is.EqualTo(3.14159));
        Assert.That(def.Constants[3].Value, Is.EqualTo(true));

        string[] types = def.Fields.Select(f => f.Type.ToString()).ToArray();
        Assert.That(types, Is.EqualTo(new[]
        {
            "bool", "byte", "char", "int8", "uint64", "float32[4]", "float64[]", "int32[<=3]", "string<=8", "string<=5[<=2]",
            "test_msgs/Other", "geometry_msgs/Pose", "std_msgs/Header",
        }));
        Assert.That(def.FindField("u64")!.DefaultValue, Is.EqualTo("42"));
        Assert.That(def.FindField("fixed")!.Type.ArrayKind, Is.EqualTo(MsgArrayKind.Fixed));
        Assert.That(def.FindField("fixed")!.Type.ArrayLength, Is.EqualTo(4));
        Assert.That(def.FindField("bounded")!.Type.ArrayKind, Is.EqualTo(MsgArrayKind.Bounded));
        Assert.That(def.FindField("short_texts")!.Type.StringBound, Is.EqualTo(5));
        Assert.That(def.FindField("other")!.Type.IsPrimitive, Is.False);
    }

    [TestCase("float64", "'float64'")]
    [TestCase("float64[x] a", "bound")]
    [TestCase("float64[0] a", "bound")]
    [TestCase("wstring a", "wstring")]
    [TestCase("int8 a\nint8 a", "declared twice")]
    [TestCase("uint8 BIG=300", "outside")]
    [TestCase("bool B=maybe", "true/false")]
    [TestCase("a/b/c/d x", "is not")]
    [TestCase("int8 9lives", "not a valid name")]
    public void RejectsBadLinesNamingTypeAndLine(string text, string expected)
    {
        var e = Assert.Throws<MsgDefinitionException>(() => MsgParser.Parse("pkg/Bad", text))!;
        Assert.That(e.Message, Does.Contain("pkg/Bad line"));
        Assert.That(e.Message, Does.Contain(expected));
    }

    [Test]
    public void RejectsBadTypeNames()
    {
        Assert.Throws<MsgDefinitionException>(() => MsgParser.Parse("NoPackage", "int8 a"));
        Assert.Throws<MsgDefinitionException>(() => MsgParser.Parse("pkg/srv/X", "int8 a"));
    }
}

public class MessageRegistryTests
{
    [Test]
    public void DefaultRegistryHoldsEveryTypeTheBriefNames()
    {
        string[] names =
        [
            RosTypes.Time, RosTypes.Header, RosTypes.Vector3, RosTypes.Quaternion, RosTypes.Point, RosTypes.Pose,
            RosTypes.PoseStamped, RosTypes.Twist, RosTypes.TwistStamped, RosTypes.Odometry, RosTypes.PoseWithCovariance,
            RosTypes.TwistWithCovariance, RosTypes.Imu, RosTypes.LaserScan, RosTypes.Joy, RosTypes.DiagnosticArray,
            RosTypes.DiagnosticStatus, RosTypes.KeyValue, RosTypes.Observation, RosTypes.Action, RosTypes.Mode, RosTypes.TickStats, RosTypes.GroundTruth,
        ];
        foreach (var n in names)
        {
            var def = MessageRegistry.Default.Get(n);
            Assert.That(def.Source, Is.Not.Empty, n);
            foreach (var f in def.Fields)
                Assert.That(f.Type.IsPrimitive || f.Type.Definition is not null, $"{n}.{f.Name} resolved");
        }
        Assert.That(MessageRegistry.Default.Get("nav_msgs/msg/Odometry"), Is.SameAs(MessageRegistry.Default.Get(RosTypes.Odometry)));
    }

    [Test]
    public void TheModeMessageNamesEveryModeTheNodeSends()
    {
        // Readers decode roborl_msgs/Mode with its constants; a mode the node sends without one is a number they cannot name.
        var constants = MessageRegistry.Default.Get(RosTypes.Mode).Constants.ToDictionary(c => c.Name, c => Convert.ToInt32(c.Value));
        foreach (NodeMode mode in Enum.GetValues<NodeMode>())
        {
            string name = System.Text.RegularExpressions.Regex.Replace(mode.ToString(), "(?<=[a-z])(?=[A-Z])", "_").ToUpperInvariant();
            Assert.That(constants.TryGetValue(name, out int value) && value == (int)mode, $"roborl_msgs/Mode lacks {name}={(int)mode}");
        }
    }

    [Test]
    public void DependenciesAreDepthFirstAndUnique()
    {
        var odom = MessageRegistry.Default.Get(RosTypes.Odometry);
        Assert.That(MessageRegistry.Dependencies(odom).Select(d => d.FullName), Is.EqualTo(new[]
        {
            "std_msgs/Header", "builtin_interfaces/Time", "geometry_msgs/PoseWithCovariance", "geometry_msgs/Pose",
            "geometry_msgs/Point", "geometry_msgs/Quaternion", "geometry_msgs/TwistWithCovariance", "geometry_msgs/Twist",
            "geometry_msgs/Vector3",
        }));
    }

    [Test]
    public void Ros2MsgSchemaTextHasTheTopLevelTextThenEachDependencyAfterA80EqualsLine()
    {
        var def = MessageRegistry.Default.Get(RosTypes.PoseStamped);
        string text = MessageRegistry.Ros2MsgSchemaText(def);
        string separator = new string('=', 80);
        var parts = text.Split(separator + "\n");
        Assert.That(parts.Length, Is.EqualTo(1 + MessageRegistry.Dependencies(def).Count));
        Assert.That(parts[0], Is.EqualTo(def.Text + "\n"));
        Assert.That(parts[1], Does.StartWith("MSG: std_msgs/Header\n"));
        Assert.That(parts.Skip(1).Select(p => p.Split('\n')[0]), Is.EqualTo(new[]
        {
            "MSG: std_msgs/Header", "MSG: builtin_interfaces/Time", "MSG: geometry_msgs/Pose", "MSG: geometry_msgs/Point",
            "MSG: geometry_msgs/Quaternion",
        }));
    }

    [Test]
    public void UnknownAndUnresolvableTypesAreClearErrors()
    {
        var registry = new MessageRegistry();
        registry.Register("a_msgs/Outer", "b_msgs/Missing inner");
        var e = Assert.Throws<MsgDefinitionException>(() => registry.Get("a_msgs/Outer"))!;
        Assert.That(e.Message, Does.Contain("a_msgs/Outer").And.Contain("inner").And.Contain("b_msgs/Missing"));
        Assert.Throws<MsgDefinitionException>(() => registry.Get("nope/Nothing"));
        Assert.Throws<MsgDefinitionException>(() => registry.Register("a_msgs/Outer", "int8 x"));

        var cyclic = new MessageRegistry();
        cyclic.Register("c_msgs/A", "B b");
        cyclic.Register("c_msgs/B", "A a");
        Assert.That(Assert.Throws<MsgDefinitionException>(() => cyclic.Get("c_msgs/A"))!.Message, Does.Contain("contains itself"));
    }

    [Test]
    public void SchemaTextParsesBackIntoTheSameTypes()
    {
        var rng = new Random(9);
        foreach (var def in MessageRegistry.Default.All)
        {
            var fresh = new MessageRegistry();
            var parsed = fresh.RegisterRos2MsgSchema(def.RosTypeName, MessageRegistry.Ros2MsgSchemaText(def));
            Assert.That(parsed.FullName, Is.EqualTo(def.FullName));
            Assert.That(fresh.All.Count, Is.EqualTo(1 + MessageRegistry.Dependencies(def).Count), def.FullName);
            Assert.That(parsed.Fields.Select(f => $"{f.Type} {f.Name}"), Is.EqualTo(def.Fields.Select(f => $"{f.Type} {f.Name}")));
            var m = RandomMessages.Create(def, rng);
            byte[] bytes = CdrDynamic.Serialize(m);
            Assert.That(CdrDynamic.Read(parsed, bytes).ToJson().ToJsonString(), Is.EqualTo(m.ToJson().ToJsonString()), def.FullName);
        }
        var bad = new MessageRegistry();
        Assert.Throws<MsgDefinitionException>(() => bad.RegisterRos2MsgSchema("a/msg/B", "int8 x\n" + new string('=', 80) + "\nint8 y"));
    }

    [Test]
    public void AddingATypeIsAddingADefinition()
    {
        var registry = MessageRegistry.CreateDefault();
        var def = registry.Register("my_msgs/msg/Battery", "std_msgs/Header header\nfloat32 voltage\nuint8[<=4] cells");
        var m = DynamicMessage.Create(registry.Get("my_msgs/Battery")).Set("voltage", 3.7f).Set("cells", new byte[] { 1, 2 });
        var back = CdrDynamic.Read(def, CdrDynamic.Serialize(m));
        Assert.That(back.Get<float>("voltage"), Is.EqualTo(3.7f));
        Assert.That(back.Get<byte[]>("cells"), Is.EqualTo(new byte[] { 1, 2 }));
        Assert.That(MessageRegistry.Ros2MsgSchemaText(def), Does.Contain("MSG: builtin_interfaces/Time"));
    }
}
