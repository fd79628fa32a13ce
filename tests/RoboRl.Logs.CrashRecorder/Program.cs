using RoboRl.Core.Messages;
using RoboRl.Logs;

// Usage: RoboRl.Logs.CrashRecorder OUT.mcap
// Records a pose and an observation every ~5 ms with log time = wall-clock time, and after each write returns prints
// "W <sequence> <logTimeNs>" so that the test knows what the writer has accepted. Runs until killed.
if (args.Length != 1)
{
    Console.Error.WriteLine("usage: RoboRl.Logs.CrashRecorder OUT.mcap");
    return 2;
}

using var writer = McapWriter.Create(args[0]);
ushort pose = writer.RegisterRos2Channel<PoseStampedMsg>("/crash/pose", Ros2Qos.SensorData);
ushort obs = writer.RegisterRos2Channel<ObservationMsg>("/crash/observation", Ros2Qos.Default);
var values = new float[18];
var stdout = Console.Out;
for (uint seq = 0; ; seq++)
{
    ulong now = (ulong)(DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
    var header = new HeaderMsg { Stamp = TimeMsg.FromNanoseconds((long)now), FrameId = "world" };
    writer.WriteMessage(pose, now, now, new PoseStampedMsg { Header = header, Pose = new PoseMsg { Position = new PointMsg { X = seq } } });
    values[0] = seq;
    writer.WriteMessage(obs, now, now, new ObservationMsg { Header = header, Tick = seq, Values = values });
    stdout.WriteLine($"W {seq} {now}");
    stdout.Flush();
    Thread.Sleep(5);
}
