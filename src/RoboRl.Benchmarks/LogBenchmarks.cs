using BenchmarkDotNet.Attributes;
using RoboRl.Core.Messages;
using RoboRl.Logs;

namespace RoboRl.Benchmarks;

/// <summary>The recorder's per-tick cost: CDR encoding (hot struct vs definition-driven) and appending to an MCAP chunk.</summary>
[MemoryDiagnoser]
public class LogBenchmarks
{
    private readonly CdrWriter _cdr = new();
    private PoseStampedMsg _pose;
    private ObservationMsg _observation;
    private DynamicMessage _dynamicPose = null!;
    private McapWriter _writer = null!;
    private ushort _poseChannel, _observationChannel;
    private ulong _time;

    [GlobalSetup]
    public void Setup()
    {
        var header = new HeaderMsg { Stamp = TimeMsg.FromNanoseconds(1_700_000_000_000_000_000), FrameId = "world" };
        _pose = new PoseStampedMsg { Header = header, Pose = new PoseMsg { Position = new PointMsg { X = 1, Y = 2, Z = 3 }, Orientation = QuaternionMsg.Identity } };
        _observation = new ObservationMsg { Header = header, Tick = 1, Values = new float[149] };
        _dynamicPose = CdrDynamic.Read(MessageRegistry.Default.Get(RosTypes.PoseStamped), _cdr.Write(_pose));
        _writer = new McapWriter(Stream.Null, new McapWriterOptions { BackgroundFlush = false });
        _poseChannel = _writer.RegisterRos2Channel<PoseStampedMsg>("/pose");
        _observationChannel = _writer.RegisterRos2Channel<ObservationMsg>("/observation");
    }

    [GlobalCleanup]
    public void Cleanup() => _writer.Dispose();

    [Benchmark(Baseline = true)]
    public int EncodePoseStampedStruct() => _cdr.Write(_pose).Length;

    [Benchmark]
    public int EncodePoseStampedDynamic() => CdrDynamic.Write(_cdr, _dynamicPose).Length;

    [Benchmark]
    public void RecordPoseAndObservation()
    {
        _time += 10_000_000; // 100 Hz
        _writer.WriteMessage(_poseChannel, _time, _time, _pose);
        _writer.WriteMessage(_observationChannel, _time, _time, _observation);
    }
}
