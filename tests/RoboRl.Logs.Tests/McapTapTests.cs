using System.Text;
using RoboRl.Core.Messages;

namespace RoboRl.Logs.Tests;

/// <summary>
/// A tap on <see cref="McapWriter"/> sees every channel (those registered before it was added too) and every message's
/// encoded bytes as written, and may add messages of its own after each one; a JSON channel with a JSON schema in a ros2
/// log (Foxglove's 3D scene) is checked as JSON.
/// </summary>
public class McapTapTests : LogTestBase
{
    private sealed class RecordingTap : IMcapTap
    {
        public readonly List<string> Channels = [];
        public readonly List<(string Topic, ulong Time, byte[] Payload)> Messages = [];
        public ushort Derived;

        public void ChannelAdded(McapChannel channel, McapSchema? schema) => Channels.Add($"{channel.Topic} {schema?.Name}");

        public void MessageWritten(McapChannel channel, ulong logTimeNs, ReadOnlySpan<byte> payload) =>
            Messages.Add((channel.Topic, logTimeNs, payload.ToArray()));

        public void AfterMessage(McapWriter writer, ulong logTimeNs)
        {
            if (Derived == 0)
            {
                ushort schema = writer.RegisterSchema("foxglove.Example", McapConstants.JsonSchemaEncoding, "{\"type\":\"object\"}"u8);
                Derived = writer.RegisterChannel(schema, "/derived", McapConstants.JsonMessageEncoding, new Dictionary<string, string> { ["offered_qos_profiles"] = "" });
            }
            writer.WriteMessage(Derived, logTimeNs, logTimeNs, Encoding.UTF8.GetBytes($"{{\"t\":{logTimeNs}}}"));
        }
    }

    [Test]
    public void ATapSeesChannelsAndEncodedMessagesAndAddsItsOwn()
    {
        string path = PathFor("tapped.mcap");
        var tap = new RecordingTap();
        using (var writer = McapWriter.Create(path, new McapWriterOptions { BackgroundFlush = false }))
        {
            ushort pose = writer.RegisterRos2Channel<PoseStampedMsg>("/pose");
            writer.AddTap(tap);
            ushort twist = writer.RegisterRos2Channel<TwistMsg>("/cmd_vel");
            writer.WriteMessage(pose, 10, 10, new PoseStampedMsg { Pose = new PoseMsg { Position = new PointMsg { X = 1.5 } } });
            writer.WriteMessage(twist, 20, 20, new TwistMsg());
        }
        Assert.That(tap.Channels, Is.EqualTo(new[] { "/pose geometry_msgs/msg/PoseStamped", "/cmd_vel geometry_msgs/msg/Twist", "/derived foxglove.Example" }));
        Assert.That(tap.Messages.Select(m => $"{m.Topic}@{m.Time}"), Is.EqualTo(new[] { "/pose@10", "/derived@10", "/cmd_vel@20", "/derived@20" }),
            "each derived message follows the one it was derived from, and a derived message derives nothing");
        Assert.That(Cdr.Read<PoseStampedMsg>(tap.Messages[0].Payload).Pose.Position.X, Is.EqualTo(1.5));

        var file = McapStreamReader.Open(path).ReadMessages().ToList();
        Assert.That(file.Select(m => m.Data.ToArray()), Is.EqualTo(tap.Messages.Select(m => m.Payload)), "the tap saw the bytes the file holds");
        LogCheckReport report = LogChecker.Check(path);
        Assert.That(report.Errors, Is.Empty);
        Assert.That(report.Warnings.Select(w => w.Message).Where(m => m.Contains("/derived")), Is.Empty, "a Foxglove JSON channel is expected in a ros2 log");
        Assert.That(new McapMessageDecoder().JsonLine(file[1])["message"]!["t"]!.GetValue<long>(), Is.EqualTo(10), "log cat prints it");
    }

    [Test]
    public void AJsonSchemaChannelWhosePayloadIsNotJsonIsAnError()
    {
        string path = PathFor("bad-json.mcap");
        using (var writer = McapWriter.Create(path, new McapWriterOptions { BackgroundFlush = false }))
        {
            ushort schema = writer.RegisterSchema("foxglove.SceneUpdate", McapConstants.JsonSchemaEncoding, "{}"u8);
            ushort scene = writer.RegisterChannel(schema, "/scene", McapConstants.JsonMessageEncoding, new Dictionary<string, string> { ["offered_qos_profiles"] = "" });
            writer.WriteMessage(scene, 1, 1, "{\"entities\":"u8);
        }
        Assert.That(LogChecker.Check(path).Errors.Select(e => e.Message), Has.One.Contains("/scene is not JSON"));
    }
}
