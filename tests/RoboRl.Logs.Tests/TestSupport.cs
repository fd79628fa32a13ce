using System.Diagnostics;
using System.Text.Json.Nodes;
using RoboRl.Core.Messages;
using RoboRl.Logs;
using RoboRl.Tests.Shared;

namespace RoboRl.Logs.Tests;

/// <summary>A scratch directory per test, removed afterwards.</summary>
public abstract class LogTestBase
{
    protected string Dir = "";

    [SetUp]
    public void MakeDir()
    {
        Dir = Path.Combine(Path.GetTempPath(), "roborl-logs-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Dir);
    }

    [TearDown]
    public void RemoveDir()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }

    protected string PathFor(string name) => Path.Combine(Dir, name);
}

/// <summary>What a sample file holds, for comparison with what readers find.</summary>
public sealed record WrittenMessage(string Topic, string TypeName, uint Sequence, ulong LogTime, ulong PublishTime, DynamicMessage Message);

public static class SampleLogs
{
    /// <summary>
    /// Writes <paramref name="perType"/> random messages of every registered type (one topic per type, through the
    /// dynamic codec) plus hot-path struct messages; returns them in write order.
    /// </summary>
    public static List<WrittenMessage> WriteEveryType(string path, int perType, int seed, McapWriterOptions? options = null)
    {
        var rng = new Random(seed);
        var written = new List<WrittenMessage>();
        var registry = MessageRegistry.Default;
        using var writer = McapWriter.Create(path, options ?? new McapWriterOptions { BackgroundFlush = false });
        var channels = registry.All.ToDictionary(d => d.FullName,
            d => writer.RegisterRos2Channel($"/all/{d.Package}/{d.Name}", d.FullName, Ros2Qos.Default));
        ushort hotPose = writer.RegisterRos2Channel<PoseStampedMsg>("/hot/pose", Ros2Qos.SensorData);
        ushort hotAction = writer.RegisterRos2Channel<ActionMsg>("/hot/action");
        var sequences = new Dictionary<string, uint>();
        ulong time = 1_700_000_000_000_000_000UL;
        for (int i = 0; i < perType; i++)
        {
            foreach (var def in registry.All)
            {
                var m = RandomMessages.Create(def, rng);
                time += (ulong)rng.Next(1, 5_000_000);
                writer.WriteMessage(channels[def.FullName], time, time - 1000, m);
                string topic = $"/all/{def.Package}/{def.Name}";
                written.Add(new WrittenMessage(topic, def.FullName, Next(sequences, topic), time, time - 1000, m));
            }
            time += 1_000_000;
            var pose = new PoseStampedMsg
            {
                Header = new HeaderMsg { Stamp = TimeMsg.FromNanoseconds((long)time), FrameId = "map" },
                Pose = new PoseMsg { Position = new PointMsg { X = i, Y = -i, Z = 0.5 }, Orientation = QuaternionMsg.Identity },
            };
            writer.WriteMessage(hotPose, time, time, pose);
            written.Add(new WrittenMessage("/hot/pose", RosTypes.PoseStamped, Next(sequences, "/hot/pose"), time, time,
                CdrDynamic.Read(registry.Get(RosTypes.PoseStamped), new CdrWriter().Write(pose))));
            var action = new ActionMsg
            {
                Header = pose.Header,
                Tick = (ulong)i,
                Values = new[] { 0.1f * i, -0.2f },
                PolicyValues = new[] { 0.3f, 0.4f },
                Intervention = i % 2 == 1,
                HumanValues = i % 2 == 1 ? new[] { 1f, 2f } : Array.Empty<float>(),
                Source = i % 2 == 1 ? ActionSource.Human : ActionSource.Policy,
            };
            writer.WriteMessage(hotAction, time, time, action);
            written.Add(new WrittenMessage("/hot/action", RosTypes.Action, Next(sequences, "/hot/action"), time, time,
                CdrDynamic.Read(registry.Get(RosTypes.Action), new CdrWriter().Write(action))));
        }
        return written;
    }

    private static uint Next(Dictionary<string, uint> sequences, string topic)
    {
        uint s = sequences.GetValueOrDefault(topic);
        sequences[topic] = s + 1;
        return s;
    }

    /// <summary>Writes <paramref name="count"/> small pose messages with log times 1 ms apart, in chunks of about <paramref name="chunkSize"/> bytes.</summary>
    public static void WritePoses(string path, int count, int chunkSize, McapCompression compression = McapCompression.None)
    {
        using var writer = McapWriter.Create(path, new McapWriterOptions
        {
            ChunkSize = chunkSize,
            BackgroundFlush = false,
            FlushInterval = TimeSpan.FromHours(1),
            Compression = compression,
        });
        ushort pose = writer.RegisterRos2Channel<PoseStampedMsg>("/pose");
        ushort twist = writer.RegisterRos2Channel<TwistStampedMsg>("/twist");
        for (int i = 0; i < count; i++)
        {
            ulong t = 1_000_000_000UL + (ulong)i * 1_000_000UL;
            var header = new HeaderMsg { Stamp = TimeMsg.FromNanoseconds((long)t), FrameId = "odom" };
            if (i % 3 == 2) writer.WriteMessage(twist, t, t, new TwistStampedMsg { Header = header, Twist = new TwistMsg { Linear = new Vector3Msg { X = i } } });
            else writer.WriteMessage(pose, t, t, new PoseStampedMsg { Header = header, Pose = new PoseMsg { Position = new PointMsg { X = i } } });
        }
    }
}
