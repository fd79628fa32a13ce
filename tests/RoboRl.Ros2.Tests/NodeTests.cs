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

    // A reader asks for more than the writer offers: reliable from best effort, transient-local from volatile.
    [TestCase(Reliability.Reliable, Durability.Volatile, Reliability.BestEffort, Durability.Volatile, "reliability")]
    [TestCase(Reliability.Reliable, Durability.TransientLocal, Reliability.Reliable, Durability.Volatile, "durability")]
    public void IncompatibleQosIsReportedOnBothSidesAndNotMatched(Reliability readerReliability, Durability readerDurability,
        Reliability writerReliability, Durability writerDurability, string policy)
    {
        using var a = new Ros2Node("mismatched_talker", "/", Env.Options());
        using var b = new Ros2Node("mismatched_listener", "/", Env.Options());
        var events = new ConcurrentQueue<IncompatibleQosEvent>();
        string topic = "qos_mismatch_" + policy;
        using var sub = b.CreateSubscription<TwistMsg>(topic, new QosProfile(readerReliability, readerDurability, 10));
        sub.IncompatibleQos += events.Enqueue;
        using var pub = a.CreatePublisher<TwistMsg>(topic, new QosProfile(writerReliability, writerDurability, 10));
        Assert.That(Env.Eventually(() => sub.IncompatibleQosCount >= 1 && pub.IncompatibleQosCount >= 1), Is.True,
            $"mismatch reported: reader {sub.IncompatibleQosCount}, writer {pub.IncompatibleQosCount}");
        Assert.That(Env.Eventually(() => !events.IsEmpty), Is.True, "event raised");
        Assert.That(events.First().PolicyName, Is.EqualTo(policy));
        Assert.That(events.First().Topic, Is.EqualTo("/" + topic));
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

        // Three batches of 300 each way (AllocationMeter), within the reader's history depth of 1000.
        long publishBytes = AllocationMeter.FewestBytes(() => { for (int i = 0; i < 300; i++) { msg.Linear.X = i; pub.Publish(msg); } });
        Assert.That(publishBytes, Is.Zero, "Publish(in TwistMsg) allocated");

        Assert.That(Env.Eventually(() => sub.MatchedCount == 1 && sub.ReceivedCount + 0 >= 200), Is.True);
        Thread.Sleep(200); // let the samples arrive; TryTake below must find them
        int taken = 0;
        long takeBytes = AllocationMeter.FewestBytes(() =>
        {
            int goal = taken + 300;
            for (int spin = 0; spin < 100_000 && taken < goal; spin++) if (sub.TryTake(out _)) taken++;
        });
        Assert.That(taken, Is.EqualTo(900));
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

        var result = RoboRl.Logs.Tests.NodeVerifier.Verify(path);
        var decoded = result["messages"]!.AsArray();
        Assert.That(decoded.Count, Is.EqualTo(sent.Count));
        foreach (var group in sent.GroupBy(s => s.Topic))
        {
            var got = decoded.Where(d => d!["topic"]!.GetValue<string>() == group.Key).ToArray();
            Assert.That(got, Has.Length.EqualTo(group.Count()), group.Key);
            int i = 0;
            foreach (var (_, m) in group)
                RoboRl.Logs.Tests.NodeVerifier.AssertEquivalent(System.Text.Json.Nodes.JsonNode.Parse(m.ToJson().ToJsonString())!, got[i++]!["data"]!, $"{group.Key}#{i}");
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

public class Crazyswarm2Tests
{
    [OneTimeSetUp]
    public void Setup() => Env.RequireLibddsc();

    [Test]
    public void CrazyswarmTopicsCarryTheirCrazyflieInterfacesTypes()
    {
        using var client = new Ros2Node("roborl_policy", "/", Env.Options());
        using var server = new Ros2Node("crazyflie_server", "/", Env.Options());
        const string cf = "cf231";
        var fullStates = new ConcurrentQueue<FullStateMsg>();
        var positions = new ConcurrentQueue<PositionMsg>();
        var legacy = new ConcurrentQueue<TwistMsg>();
        var poses = new ConcurrentQueue<PoseStampedMsg>();
        using var s1 = server.CreateSubscription<FullStateMsg>(Crazyswarm2Topics.CmdFullState(cf), QosProfile.Default, (in FullStateMsg m) => fullStates.Enqueue(m));
        using var s2 = server.CreateSubscription<PositionMsg>(Crazyswarm2Topics.CmdPosition(cf), QosProfile.Default, (in PositionMsg m) => positions.Enqueue(m));
        using var s3 = server.CreateSubscription<TwistMsg>(Crazyswarm2Topics.CmdVelLegacy(cf), QosProfile.Default, (in TwistMsg m) => legacy.Enqueue(m));
        using var s4 = client.CreateSubscription<PoseStampedMsg>(Crazyswarm2Topics.Pose(cf), QosProfile.Default, (in PoseStampedMsg m) => poses.Enqueue(m));
        using var p1 = client.CreatePublisher<FullStateMsg>(Crazyswarm2Topics.CmdFullState(cf));
        using var p2 = client.CreatePublisher<PositionMsg>(Crazyswarm2Topics.CmdPosition(cf));
        using var p3 = client.CreatePublisher<TwistMsg>(Crazyswarm2Topics.CmdVelLegacy(cf));
        using var p4 = server.CreatePublisher<PoseStampedMsg>(Crazyswarm2Topics.Pose(cf));
        foreach (var p in new Ros2Publisher[] { p1, p2, p3, p4 }) Assert.That(p.WaitForMatch(Env.MatchTimeout), Is.True, p.Topic);
        Assert.That(p1.DdsTopic, Is.EqualTo("rt/cf231/cmd_full_state"));
        Assert.That(p1.Type.DdsTypeName, Is.EqualTo("crazyflie_interfaces::msg::dds_::FullState_"));

        var header = new HeaderMsg { Stamp = TimeMsg.FromNanoseconds(1_700_000_000_123_456_789), FrameId = "world" };
        p1.Publish(new FullStateMsg
        {
            Header = header,
            Pose = new PoseMsg { Position = new PointMsg { X = 1, Y = 2, Z = 0.5 }, Orientation = QuaternionMsg.Identity },
            Twist = new TwistMsg { Linear = new Vector3Msg { X = 0.1 } },
            Acc = new Vector3Msg { Z = -0.2 },
        });
        p2.Publish(new PositionMsg { Header = header, X = 1.5f, Y = -1, Z = 0.75f, Yaw = 90 });
        p3.Publish(new TwistMsg { Linear = new Vector3Msg { X = 5, Y = -5, Z = 40000 }, Angular = new Vector3Msg { Z = 10 } });
        p4.Publish(new PoseStampedMsg { Header = header, Pose = new PoseMsg { Position = new PointMsg { Z = 1.25 }, Orientation = QuaternionMsg.Identity } });

        Assert.That(Env.Eventually(() => fullStates.Count == 1 && positions.Count == 1 && legacy.Count == 1 && poses.Count == 1), Is.True);
        fullStates.TryPeek(out var fs);
        Assert.That((fs.Pose.Position.Y, fs.Acc.Z, fs.Header.FrameId, fs.Header.Stamp.Nanosec), Is.EqualTo((2.0, -0.2, "world", 123_456_789u)));
        positions.TryPeek(out var pos);
        Assert.That((pos.X, pos.Yaw), Is.EqualTo((1.5f, 90f)));
        legacy.TryPeek(out var tw);
        Assert.That(tw.Linear.Z, Is.EqualTo(40000.0));
        poses.TryPeek(out var pose);
        Assert.That(pose.Pose.Position.Z, Is.EqualTo(1.25));
    }
}
