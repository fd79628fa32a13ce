using System.Collections.Concurrent;
using RoboRl.Core.Messages;
using RoboRl.Logs;
using RoboRl.Tests.Shared;

namespace RoboRl.Ros2.Tests;

/// <summary>Graph announcement, QoS mismatch reporting, allocation-free publishing, the recorder path to MCAP.</summary>
public class NodeTests
{
    [OneTimeSetUp]
    public void Setup() => Env.RequireLibddsc();

    [TestCase(RosDistro.Humble, 24)]
    [TestCase(RosDistro.Jazzy, 16)]
    public void NodeIsAnnouncedOnRosDiscoveryInfo(RosDistro distro, int gidSize)
    {
        var registry = Ros2Discovery.RegistryFor(distro);
        var infoType = registry.Get(RosTypes.ParticipantEntitiesInfo);
        using var observer = new Ros2Node("observer", "/", Env.Options(distro, announce: false));
        // A plain DDS reader on the rmw topic, as another ROS 2 process would have one.
        var infos = new ConcurrentQueue<DynamicMessage>();
        var reader = new DiscoveryReader(observer, infoType, infos);

        using var node = new Ros2Node("drone_bridge", "/cf1", Env.Options(distro));
        using var pub = node.CreatePublisher<PoseStampedMsg>("pose", QosProfile.SensorData);
        using var sub = node.CreateSubscription<TwistMsg>("cmd_vel_legacy");

        byte[] expectedGid = Ros2Discovery.ToGid(node.Guid, distro);
        bool Complete(DynamicMessage m) =>
            m.Get<DynamicMessage>("gid").Get<byte[]>("data").SequenceEqual(expectedGid)
            && m.Get<DynamicMessage[]>("node_entities_info_seq") is [var n]
            && n.Get<DynamicMessage[]>("writer_gid_seq").Length == 1 && n.Get<DynamicMessage[]>("reader_gid_seq").Length == 1;
        Assert.That(Env.Eventually(() => infos.Any(Complete)), Is.True, "the node's full announcement arrived");

        var info = infos.Last(Complete);
        Assert.That(info.Get<DynamicMessage>("gid").Get<byte[]>("data"), Has.Length.EqualTo(gidSize));
        Assert.That(node.Guid.Any(b => b != 0), Is.True);
        var nodeInfo = info.Get<DynamicMessage[]>("node_entities_info_seq")[0];
        Assert.That(nodeInfo.Get<string>("node_namespace"), Is.EqualTo("/cf1"));
        Assert.That(nodeInfo.Get<string>("node_name"), Is.EqualTo("drone_bridge"));
        Assert.That(nodeInfo.Get<DynamicMessage[]>("writer_gid_seq")[0].Get<byte[]>("data"), Is.EqualTo(Ros2Discovery.ToGid(pub.Guid, distro)));
        Assert.That(nodeInfo.Get<DynamicMessage[]>("reader_gid_seq")[0].Get<byte[]>("data"), Is.EqualTo(Ros2Discovery.ToGid(sub.Guid, distro)));
        reader.Dispose();
    }

    /// <summary>Subscribes to ros_discovery_info with the rmw QoS (a subscription outside the rt/ prefix).</summary>
    private sealed class DiscoveryReader : IDisposable
    {
        private readonly DynamicSubscription _sub;
        public DiscoveryReader(Ros2Node node, MsgDefinition type, ConcurrentQueue<DynamicMessage> into) =>
            _sub = Ros2Discovery.CreateDiscoverySubscription(node, type, into.Enqueue);
        public void Dispose() => _sub.Dispose();
    }

    [Test]
    public void ReliableReaderAgainstBestEffortWriterIsReportedNotMatched()
    {
        using var a = new Ros2Node("best_effort_talker", "/", Env.Options());
        using var b = new Ros2Node("reliable_listener", "/", Env.Options());
        var events = new ConcurrentQueue<IncompatibleQosEvent>();
        using var sub = b.CreateSubscription<TwistMsg>("qos_mismatch", QosProfile.Default);
        sub.IncompatibleQos += events.Enqueue;
        using var pub = a.CreatePublisher<TwistMsg>("qos_mismatch", QosProfile.SensorData);
        Assert.That(Env.Eventually(() => sub.IncompatibleQosCount >= 1 && pub.IncompatibleQosCount >= 1), Is.True,
            $"mismatch reported: reader {sub.IncompatibleQosCount}, writer {pub.IncompatibleQosCount}");
        Assert.That(events.First().PolicyName, Is.EqualTo("reliability"));
        Assert.That(events.First().Topic, Is.EqualTo("/qos_mismatch"));
        Assert.That(pub.MatchedCount, Is.Zero);
        Assert.That(pub.WaitForMatch(TimeSpan.FromMilliseconds(200)), Is.False);
    }

    [Test]
    public void TwistPublishAndTakeAllocateNothingAfterWarmUp()
    {
        using var a = new Ros2Node("alloc_pub", "/", Env.Options());
        using var b = new Ros2Node("alloc_sub", "/", Env.Options());
        using var sub = b.CreateSubscription<TwistMsg>("alloc_twist", new QosProfile(Reliability.Reliable, Durability.Volatile, 1000));
        using var pub = a.CreatePublisher<TwistMsg>("alloc_twist", new QosProfile(Reliability.Reliable, Durability.Volatile, 1000));
        Assert.That(pub.WaitForMatch(Env.MatchTimeout), Is.True);
        var msg = new TwistMsg { Linear = new Vector3Msg { X = 1 }, Angular = new Vector3Msg { Z = 2 } };
        for (int i = 0; i < 200; i++) pub.Publish(msg);
        Assert.That(Env.Eventually(() => { while (sub.TryTake(out _)) { } return sub.ReceivedCount == 200; }), Is.True);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 500; i++) { msg.Linear.X = i; pub.Publish(msg); }
        long publishBytes = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(publishBytes, Is.Zero, "Publish(in TwistMsg) allocated");

        Assert.That(Env.Eventually(() => sub.MatchedCount == 1 && sub.ReceivedCount + 0 >= 200), Is.True);
        Thread.Sleep(200); // let the samples arrive; TryTake below must find them
        before = GC.GetAllocatedBytesForCurrentThread();
        int taken = 0;
        for (int spin = 0; spin < 100_000 && taken < 500; spin++) if (sub.TryTake(out _)) taken++;
        long takeBytes = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(taken, Is.EqualTo(500));
        Assert.That(takeBytes, Is.Zero, "TryTake(out TwistMsg) allocated");
    }

    [Test]
    public void RecorderWritesTheRawCdrToMcapAndFoxgloveDecodesTheSameValues()
    {
        var rng = new Random(3);
        string dir = Path.Combine(Path.GetTempPath(), "roborl-ros2-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "recorded.mcap");
        var types = new[] { RosTypes.PoseStamped, RosTypes.CrazyflieFullState, RosTypes.DiagnosticArray, RosTypes.LaserScan, RosTypes.ParticipantEntitiesInfo };
        var sent = new List<(string Topic, DynamicMessage Message)>();
        using (var a = new Ros2Node("flight", "/cf1", Env.Options()))
        using (var b = new Ros2Node("recorder", "/", Env.Options()))
        using (var mcap = McapWriter.Create(path, new McapWriterOptions { BackgroundFlush = false }))
        {
            var gate = new object();
            var subs = new List<RawSubscription>();
            foreach (var typeName in types)
            {
                var def = MessageRegistry.Default.Get(typeName);
                string topic = $"/cf1/rec_{def.Name.ToLowerInvariant()}";
                ushort channel = mcap.RegisterRos2Channel(topic, def.FullName, QosProfile.Default.ToOfferedQosYaml());
                subs.Add(b.CreateRawSubscription(topic, def.FullName, QosProfile.Default, (cdr, stampNs) =>
                {
                    lock (gate) mcap.WriteMessage(channel, (ulong)stampNs, (ulong)stampNs, cdr);
                }));
                using var pub = a.CreatePublisher(topic, def.FullName);
                Assert.That(pub.WaitForMatch(Env.MatchTimeout), Is.True);
                for (int i = 0; i < 3; i++)
                {
                    var m = RandomMessages.Create(def, rng);
                    pub.Publish(m);
                    sent.Add((topic, m));
                }
                Assert.That(Env.Eventually(() => subs[^1].ReceivedCount == 3), Is.True, typeName);
            }
            foreach (var s in subs) s.Dispose();
        }

        var result = McapVerifier.Verify(path);
        var decoded = result["messages"]!.AsArray();
        Assert.That(decoded.Count, Is.EqualTo(sent.Count));
        foreach (var group in sent.GroupBy(s => s.Topic))
        {
            var got = decoded.Where(d => d!["topic"]!.GetValue<string>() == group.Key).ToArray();
            Assert.That(got, Has.Length.EqualTo(group.Count()), group.Key);
            int i = 0;
            foreach (var (_, m) in group)
                McapVerifier.AssertEquivalent(System.Text.Json.Nodes.JsonNode.Parse(m.ToJson().ToJsonString())!, got[i++]!["data"]!, $"{group.Key}#{i}");
        }
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }
}

public class BenchmarkTests
{
    [OneTimeSetUp]
    public void Setup() => Env.RequireLibddsc();

    [Test]
    public void RoundTripBenchmarkGetsEveryEchoBack()
    {
        var r = Ros2Benchmark.RoundTrips(100, Env.DomainId, pongProcess: null, warmup: 10);
        Assert.That(r.Lost, Is.Zero);
        Assert.That(r.Messages, Is.EqualTo(100));
        Assert.That(r.RttP50Us, Is.GreaterThan(0));
        Assert.That(r.RttP99Us, Is.GreaterThanOrEqualTo(r.RttP50Us));
    }
}
