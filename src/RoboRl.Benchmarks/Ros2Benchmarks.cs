using BenchmarkDotNet.Attributes;
using RoboRl.Core.Messages;
using RoboRl.Ros2;

namespace RoboRl.Benchmarks;

/// <summary>
/// The node's cost per published message: CDR encoding, C-struct layout and <c>dds_write</c> (no subscriber, so no
/// network): what a control tick pays to publish. Round-trip latency is <c>roborl bench ros2</c>.
/// </summary>
[MemoryDiagnoser]
public class Ros2Benchmarks
{
    private Ros2Node _node = null!;
    private Publisher<TwistMsg> _twist = null!;
    private Publisher<PoseStampedMsg> _pose = null!;
    private TwistMsg _twistMsg;
    private PoseStampedMsg _poseMsg;

    [GlobalSetup]
    public void Setup()
    {
        _node = new Ros2Node("bench_publish", "/", new Ros2Options
        {
            DomainId = Random.Shared.Next(100, 230),
            CycloneConfigXml = Ros2Loopback.ConfigXml,
            AnnounceNode = false,
        });
        _twist = _node.CreatePublisher<TwistMsg>("bench_twist");
        _pose = _node.CreatePublisher<PoseStampedMsg>("bench_pose", QosProfile.SensorData);
        _twistMsg = new TwistMsg { Linear = new Vector3Msg { X = 0.5 }, Angular = new Vector3Msg { Z = 0.1 } };
        _poseMsg = new PoseStampedMsg
        {
            Header = new HeaderMsg { Stamp = TimeMsg.FromNanoseconds(1_700_000_000_000_000_000), FrameId = "world" },
            Pose = new PoseMsg { Position = new PointMsg { X = 1, Y = 2, Z = 3 }, Orientation = QuaternionMsg.Identity },
        };
    }

    [GlobalCleanup]
    public void Cleanup() => _node.Dispose();

    [Benchmark(Baseline = true)]
    public void PublishTwist() => _twist.Publish(_twistMsg);

    [Benchmark]
    public void PublishPoseStamped() => _pose.Publish(_poseMsg);
}
