using RoboRl.Core.Messages;
using RoboRl.Ros2.Types;
using RoboRl.Tests.Shared;

namespace RoboRl.Ros2.Tests;

/// <summary>RoboRl against C code that idlc generated from the same IDL: descriptors identical, payloads both ways.</summary>
public class CPeerTests
{
    private CPeer _peer = null!;

    [OneTimeSetUp]
    public void Setup()
    {
        Env.RequireLibddsc();
        _peer = CPeer.Build();
    }

    [Test]
    public void RuntimeDescriptorsEqualIdlcsForEveryType()
    {
        var (rc, stdout, stderr) = Env.Run(_peer.Exe, ["dump"], Path.GetTempPath(), TimeSpan.FromMinutes(1));
        Assert.That(rc, Is.EqualTo(0), stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(_peer.Types.Count));
        for (int i = 0; i < lines.Length; i++)
        {
            var parts = lines[i].Split(' ');
            var ours = DdsTypeSupport.For(_peer.Types[i]);
            string what = ours.DdsTypeName;
            Assert.That(parts[0], Is.EqualTo(ours.DdsTypeName), "type name");
            Assert.That(int.Parse(parts[1]), Is.EqualTo(ours.Size), what + " size");
            Assert.That(int.Parse(parts[2]), Is.EqualTo(ours.Align), what + " align");
            Assert.That(uint.Parse(parts[3]), Is.EqualTo(ours.FlagSet), what + " flags");
            Assert.That(int.Parse(parts[4]), Is.EqualTo(ours.OpCount), what + " op count");
            Assert.That(parts.Skip(5).Select(uint.Parse).ToArray(), Is.EqualTo(ours.Ops.ToArray()), what + " ops");
        }
    }

    [Test]
    public void CPeerEchoesEveryTypeBothDirections()
    {
        using var peer = _peer.Start("echo", "c_in", "c_out", "120");
        try
        {
            Assert.That(peer.StandardOutput.ReadLine(), Is.EqualTo("ready"), peer.HasExited ? peer.StandardError.ReadToEnd() : "");
            var rng = new Random(5);
            using var node = new Ros2Node("cpeer_test", "/", Env.Options());
            var pubs = new List<(MsgDefinition Def, DynamicPublisher Pub, DynamicSubscription Sub)>();
            foreach (var def in _peer.Types)
                pubs.Add((def, node.CreatePublisher($"/c_in/{def.Package}/{def.Name}", def.FullName),
                    node.CreateSubscription($"/c_out/{def.Package}/{def.Name}", def.FullName)));
            foreach (var (def, pub, sub) in pubs)
            {
                Assert.That(pub.WaitForMatch(Env.MatchTimeout), Is.True, $"{def.FullName}: C reader matched");
                Assert.That(sub.WaitForMatch(Env.MatchTimeout), Is.True, $"{def.FullName}: C writer matched");
            }
            foreach (var (def, pub, sub) in pubs)
            {
                var sent = new[] { RandomMessages.Create(def, rng), RandomMessages.Create(def, rng) };
                foreach (var m in sent) pub.Publish(m);
                var got = new List<DynamicMessage>();
                Assert.That(Env.Eventually(() =>
                {
                    while (sub.TryTake(out var m)) got.Add(m);
                    return got.Count >= sent.Length;
                }), Is.True, $"{def.FullName}: {got.Count} of {sent.Length} came back from the C peer");
                for (int i = 0; i < sent.Length; i++) Env.AssertSame(sent[i], got[i], $"{def.FullName} #{i} via C");
                Assert.That(sub.MalformedCount, Is.Zero);
            }
        }
        finally { if (!peer.HasExited) peer.Kill(); }
    }

    [Test]
    public void PayloadWithWrongLengthsIsDroppedAndCountedAndTheTopicKeepsWorking()
    {
        string impostor = CPeer.BuildImpostor();
        using var node = new Ros2Node("wrong_lengths_test", "/", Env.Options());
        var got = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var sub = node.CreateSubscription<JoyMsg>("/bad/joy", QosProfile.Default, (in JoyMsg m) => got.Enqueue(m.Header.FrameId ?? ""));
        using var peer = CPeer.StartProgram(impostor, "rt/bad/joy");
        try
        {
            Assert.That(peer.StandardOutput.ReadLine(), Is.EqualTo("matched 1"), "the impostor writer matched (same type name)");
            Assert.That(peer.StandardOutput.ReadLine(), Is.EqualTo("wrote 3"));
            Assert.That(Env.Eventually(() => sub.MalformedCount == 3), Is.True, $"malformed counted: {sub.MalformedCount}");
            Assert.That(sub.LastMalformedReason, Does.Contain("rt/bad/joy").And.Contain("sensor_msgs::msg::dds_::Joy_"));
            Assert.That(got, Is.Empty, "nothing malformed was delivered");

            // A well-formed message on the same topic still gets through.
            using var pub = node.CreatePublisher<JoyMsg>("/bad/joy");
            Assert.That(pub.WaitForMatch(Env.MatchTimeout), Is.True);
            pub.Publish(new JoyMsg { Header = new HeaderMsg { FrameId = "good" }, Axes = new[] { 0.5f }, Buttons = new[] { 1 } });
            Assert.That(Env.Eventually(() => got.Contains("good")), Is.True);
            Assert.That(sub.MalformedCount, Is.EqualTo(3));
        }
        finally { if (!peer.HasExited) peer.Kill(); }
    }

    [Test]
    public void Xcdr2PayloadFromAPeerIsDroppedAndCounted()
    {
        // ROS 2 speaks XCDR1; a DDS peer that writes XCDR2 (encapsulation 00 07) reaches the reader but cannot be decoded
        // by ROS 2 decoders. It must be dropped and counted, and must not stop the subscription.
        using var peer = _peer.Start("echo", "x_in", "x_out", "120", "xcdr2");
        try
        {
            Assert.That(peer.StandardOutput.ReadLine(), Is.EqualTo("ready"));
            using var node = new Ros2Node("xcdr2_test", "/", Env.Options());
            var pub = node.CreatePublisher<TwistMsg>("/x_in/geometry_msgs/Twist");
            int received = 0;
            var sub = node.CreateSubscription<TwistMsg>("/x_out/geometry_msgs/Twist", QosProfile.Default, (in TwistMsg _) => received++);
            Assert.That(pub.WaitForMatch(Env.MatchTimeout) && sub.WaitForMatch(Env.MatchTimeout), Is.True);
            for (int i = 0; i < 3; i++) pub.Publish(new TwistMsg { Linear = new Vector3Msg { X = i } });
            Assert.That(Env.Eventually(() => sub.MalformedCount == 3), Is.True, $"malformed {sub.MalformedCount}, received {received}");
            Assert.That(received, Is.Zero);
            Assert.That(sub.LastMalformedReason, Does.Contain("encapsulation"));
        }
        finally { if (!peer.HasExited) peer.Kill(); }
    }
}
