using System.Collections.Concurrent;
using RoboRl.Core.Messages;
using RoboRl.Tests.Shared;

namespace RoboRl.Ros2.Tests;

/// <summary>C# node to C# node over Cyclone DDS on loopback.</summary>
public class LoopbackTests
{
    [OneTimeSetUp]
    public void Setup() => Env.RequireLibddsc();

    [Test]
    public void HotTwistArrivesWithEveryValue()
    {
        using var a = new Ros2Node("talker", "/test", Env.Options());
        using var b = new Ros2Node("listener", "/test", Env.Options());
        var got = new ConcurrentQueue<TwistMsg>();
        using var sub = b.CreateSubscription<TwistMsg>("cmd_vel", QosProfile.Default, (in TwistMsg m) => got.Enqueue(m));
        using var pub = a.CreatePublisher<TwistMsg>("cmd_vel");
        Assert.That(pub.Topic, Is.EqualTo("/test/cmd_vel"));
        Assert.That(pub.DdsTopic, Is.EqualTo("rt/test/cmd_vel"));
        Assert.That(pub.WaitForMatch(Env.MatchTimeout), Is.True, "publisher matched the subscription");
        for (int i = 0; i < 20; i++)
            pub.Publish(new TwistMsg { Linear = new Vector3Msg { X = i, Y = -0.5 * i, Z = 1e-300 }, Angular = new Vector3Msg { Z = Math.PI * i } });
        Assert.That(Env.Eventually(() => got.Count == 20), Is.True, $"received {got.Count} of 20");
        var list = got.ToArray();
        for (int i = 0; i < 20; i++)
        {
            Assert.That(list[i].Linear.X, Is.EqualTo((double)i));
            Assert.That(list[i].Linear.Y, Is.EqualTo(-0.5 * i));
            Assert.That(list[i].Linear.Z, Is.EqualTo(1e-300));
            Assert.That(list[i].Angular.Z, Is.EqualTo(Math.PI * i));
        }
        Assert.That(sub.MalformedCount, Is.Zero);
    }

    [Test]
    public void EveryRegisteredTypeRoundTripsDynamically()
    {
        var registry = MessageRegistry.Default;
        var rng = new Random(11);
        using var a = new Ros2Node("pub_all", "/", Env.Options());
        using var b = new Ros2Node("sub_all", "/", Env.Options());
        foreach (var def in registry.All)
        {
            string topic = $"/all/{def.Package}/{def.Name}";
            using var sub = b.CreateSubscription(topic, def.FullName, QosProfile.Default);
            using var pub = a.CreatePublisher(topic, def.RosTypeName);
            Assert.That(pub.WaitForMatch(Env.MatchTimeout), Is.True, $"{def.FullName} matched");
            var sent = Enumerable.Range(0, 3).Select(_ => RandomMessages.Create(def, rng)).ToArray();
            foreach (var m in sent) pub.Publish(m);
            var received = new List<DynamicMessage>();
            Assert.That(Env.Eventually(() =>
            {
                while (sub.TryTake(out var m)) received.Add(m);
                return received.Count >= sent.Length;
            }), Is.True, $"{def.FullName}: received {received.Count} of {sent.Length}");
            for (int i = 0; i < sent.Length; i++) Env.AssertSame(sent[i], received[i], $"{def.FullName} #{i}");
            Assert.That(sub.MalformedCount, Is.Zero, def.FullName);
        }
    }
}
