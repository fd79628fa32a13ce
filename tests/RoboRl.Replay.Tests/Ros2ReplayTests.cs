using System.Collections.Concurrent;
using RoboRl.Core.Messages;
using RoboRl.Ros2;

namespace RoboRl.Replay.Tests;

public class Ros2ReplayTests
{
    [Test]
    public void Replays_raw_cdr_on_the_recorded_topic_type_and_qos()
    {
        var options = new Ros2Options { DomainId = Random.Shared.Next(100, 230), CycloneConfigXml = Ros2Loopback.ConfigXml };
        Ros2Node player;
        try { player = new Ros2Node("roborl_replay", "/", options); }
        catch (RoboRl.Ros2.Native.DdsException e) when (e.ReturnCode == 0)
        {
            if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail($"libddsc missing in CI: {e.Message}");
            Assert.Inconclusive(e.Message);
            return;
        }
        string dir = Flights.TempDir(), path = Path.Combine(dir, "flight.mcap");
        NodeFlights.Fly(path, NodeFlights.Bundle(), seconds: 0.2);
        FlightLog log = FlightLog.Load(path);
        using (player)
        using (var listener = new Ros2Node("listener", "/", options))
        {
            var got = new ConcurrentQueue<DynamicMessage>();
            using var sub = listener.CreateSubscription("/pose", RosTypes.PoseStamped, QosProfile.SensorData, got.Enqueue);
            using var sink = new Ros2ReplaySink(player);
            sink.Advertise(log, ["/pose"]);
            Assert.That(Ros2ReplaySink.RecordedQos(log.ChannelsByTopic["/pose"]), Is.EqualTo(QosProfile.SensorData));
            Assert.That(Ros2ReplaySink.RecordedQos(log.ChannelsByTopic["/mode"]).Durability, Is.EqualTo(Durability.TransientLocal));
            Assert.That(sink.WaitForSubscribers(TimeSpan.FromSeconds(20)), Is.True);
            ReplayResult result = new LogPlayer(log, new ReplayOptions { Rate = 1, Topics = ["/pose"], WaitForSink = true }).Play(sink);
            Assert.That(result.Played, Is.GreaterThan(50));
            SpinWait.SpinUntil(() => got.Count >= result.Played * 0.8, TimeSpan.FromSeconds(30));
            Assert.That(got.Count, Is.GreaterThan(0));
            var recorded = log.Messages.Where(m => m.Channel.Topic == "/pose").Select(m => Convert.ToHexString(m.Data.Span)).ToHashSet();
            foreach (DynamicMessage m in got) Assert.That(recorded, Does.Contain(Convert.ToHexString(CdrDynamic.Serialize(m))));
        }
    }
}
