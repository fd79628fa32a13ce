using RoboRl.Core.Messages;

namespace RoboRl.Ros2.Tests;

/// <summary>Wrong names, types and settings fail with a message that says what was expected.</summary>
public class BadInputTests
{
    [OneTimeSetUp]
    public void Setup() => Env.RequireLibddsc();

    [TestCase("9lives")]
    [TestCase("has-dash")]
    [TestCase("")]
    public void InvalidNodeNameIsRejected(string name)
    {
        var e = Assert.Throws<ArgumentException>(() => new Ros2Node(name, "/", Env.Options(announce: false)));
        Assert.That(e!.Message, Does.Contain("node name").And.Contain("letters, digits and '_'"));
    }

    [Test]
    public void TopicNamesResolveLikeRclcppAndBadOnesAreRejected()
    {
        using var node = new Ros2Node("names", "/cf1", Env.Options(announce: false));
        Assert.That(node.ResolveTopic("pose"), Is.EqualTo(("/cf1/pose", "rt/cf1/pose")));
        Assert.That(node.ResolveTopic("/tf"), Is.EqualTo(("/tf", "rt/tf")));
        Assert.That(node.ResolveTopic("~/status"), Is.EqualTo(("/cf1/names/status", "rt/cf1/names/status")));
        var e = Assert.Throws<ArgumentException>(() => node.ResolveTopic("bad topic"));
        Assert.That(e!.Message, Does.Contain("'bad topic'").And.Contain("not a valid ROS name token"));
    }

    [Test]
    public void UnknownTypeNameIsATypedError()
    {
        using var node = new Ros2Node("types", "/", Env.Options(announce: false));
        var e = Assert.Throws<MsgDefinitionException>(() => node.CreatePublisher("x", "nope_msgs/msg/Missing"));
        Assert.That(e!.Message, Does.Contain("nope_msgs/msg/Missing"));
    }

    [Test]
    public void OneTopicCarriesOneType()
    {
        using var node = new Ros2Node("one_type", "/", Env.Options(announce: false));
        using var pub = node.CreatePublisher<TwistMsg>("shared");
        var e = Assert.Throws<ArgumentException>(() => node.CreatePublisher<PoseStampedMsg>("shared"));
        Assert.That(e!.Message, Does.Contain("geometry_msgs/msg/Twist").And.Contain("geometry_msgs/msg/PoseStamped"));
    }

    [Test]
    public void BadRosDomainIdNamesTheVariable()
    {
        string? saved = Environment.GetEnvironmentVariable("ROS_DOMAIN_ID");
        try
        {
            Environment.SetEnvironmentVariable("ROS_DOMAIN_ID", "lots");
            var e = Assert.Throws<ArgumentException>(() => Ros2Options.DomainIdFromEnvironment());
            Assert.That(e!.Message, Does.Contain("ROS_DOMAIN_ID='lots'").And.Contain("0..232"));
            Environment.SetEnvironmentVariable("ROS_DOMAIN_ID", "17");
            Assert.That(Ros2Options.DomainIdFromEnvironment(), Is.EqualTo(17));
        }
        finally { Environment.SetEnvironmentVariable("ROS_DOMAIN_ID", saved); }
    }

    [Test]
    public void PublishingAPayloadThatIsNotTheTopicsTypeThrows()
    {
        using var node = new Ros2Node("bad_payload", "/", Env.Options(announce: false));
        using var pub = node.CreatePublisher("bad_payload", RosTypes.Joy);
        var e = Assert.Throws<CdrFormatException>(() => pub.PublishCdr(new byte[] { 0, 1, 0, 0, 1, 0, 0, 0 }));
        Assert.That(e!.Message, Does.Contain("payload ends"));
        using var sub = node.CreateSubscription<TwistMsg>("cb", QosProfile.Default, (in TwistMsg _) => { });
        Assert.Throws<InvalidOperationException>(() => sub.TryTake(out _));
    }
}
