using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using RoboRl.Core.Messages;
using RoboRl.Core.Robots;
using RoboRl.Logs;

namespace RoboRl.Node;

/// <summary>
/// A ground robot's topics in the flight log, as a TurtleBot3 bag has them: nav_msgs/Odometry (/odom, frame "odom",
/// child "base_footprint"), sensor_msgs/LaserScan (/scan, frame "base_scan"), the command as geometry_msgs/Twist
/// (/cmd_vel) and the goal as geometry_msgs/PoseStamped (/goal_pose, when it changes). Odometry and scans are written
/// when a new one arrived (not repeated each tick); the command every tick.
/// </summary>
public sealed class DiffDriveNodeLog(int beams, float rateHz) : INodeLog
{
    public const string OdomFrame = "odom", BaseFrame = "base_footprint", ScanFrame = "base_scan";

    /// <summary>What the tick thread captures for one tick (the ranges follow it).</summary>
    private struct State
    {
        public bool HasOdometry, HasScan, HasGoal;
        public OdometrySample Odometry;
        public ScanSample Scan;
        public float GoalX, GoalY;
        public VelocityCommand Command;
    }

    private static readonly int HeaderBytes = Unsafe.SizeOf<State>();
    private ushort _odom, _scan, _cmdVel, _goal;
    private readonly float[] _ranges = new float[beams];
    private uint _lastOdometry = uint.MaxValue, _lastScan = uint.MaxValue;
    private bool _goalWritten;
    private float _goalX, _goalY;

    public int StateBytes => HeaderBytes + beams * sizeof(float);

    /// <summary>Tick thread: the newest odometry, scan (with its ranges), goal and command. Allocation-free.</summary>
    public void Capture(Span<byte> destination, bool hasOdometry, in OdometrySample odometry, bool hasScan, in ScanSample scan,
        ReadOnlySpan<float> ranges, bool hasGoal, float goalX, float goalY, in VelocityCommand command)
    {
        var captured = new State
        {
            HasOdometry = hasOdometry,
            Odometry = odometry,
            HasScan = hasScan,
            Scan = scan,
            HasGoal = hasGoal,
            GoalX = goalX,
            GoalY = goalY,
            Command = command,
        };
        MemoryMarshal.Write(destination, in captured);
        MemoryMarshal.AsBytes(ranges[..Math.Min(ranges.Length, beams)]).CopyTo(destination[HeaderBytes..]);
    }

    public void Register(McapWriter writer)
    {
        _odom = writer.RegisterRos2Channel<OdometryMsg>("/odom", Ros2Qos.SensorData);
        _scan = writer.RegisterRos2Channel<LaserScanMsg>("/scan", Ros2Qos.SensorData);
        _cmdVel = writer.RegisterRos2Channel<TwistMsg>("/cmd_vel", Ros2Qos.Default);
        _goal = writer.RegisterRos2Channel<PoseStampedMsg>("/goal_pose", Ros2Qos.Default);
    }

    public void Write(McapWriter w, in TickRecord r, ReadOnlySpan<byte> bytes, NodeLogClock clock)
    {
        State s = MemoryMarshal.Read<State>(bytes);
        ulong time = clock.LogTime(r.TimestampNs);
        if (s.HasOdometry && s.Odometry.Sequence != _lastOdometry)
        {
            _lastOdometry = s.Odometry.Sequence;
            OdometrySample o = s.Odometry;
            ulong stamp = clock.LogTime(o.TimestampNs);
            w.WriteMessage(_odom, time, stamp, new OdometryMsg
            {
                Header = NodeLogClock.Header(stamp, OdomFrame),
                ChildFrameId = BaseFrame,
                Pose = new PoseWithCovarianceMsg
                {
                    Pose = new PoseMsg
                    {
                        Position = new PointMsg { X = o.X, Y = o.Y },
                        Orientation = new QuaternionMsg { Z = MathF.Sin(o.Yaw / 2), W = MathF.Cos(o.Yaw / 2) },
                    },
                },
                // nav_msgs/Odometry: the twist is in the child (body) frame.
                Twist = new TwistWithCovarianceMsg { Twist = new TwistMsg { Linear = new Vector3Msg { X = o.LinearVelocity }, Angular = new Vector3Msg { Z = o.AngularVelocity } } },
            });
        }
        if (s.HasScan && s.Scan.Sequence != _lastScan)
        {
            _lastScan = s.Scan.Sequence;
            ScanSample scan = s.Scan;
            int count = Math.Min(scan.Count, beams);
            MemoryMarshal.Cast<byte, float>(bytes[HeaderBytes..])[..count].CopyTo(_ranges);
            ulong stamp = clock.LogTime(scan.TimestampNs);
            w.WriteMessage(_scan, time, stamp, new LaserScanMsg
            {
                Header = NodeLogClock.Header(stamp, ScanFrame),
                AngleMin = scan.AngleMin,
                AngleMax = scan.AngleMin + scan.AngleIncrement * (count - 1),
                AngleIncrement = scan.AngleIncrement,
                ScanTime = 1f / rateHz,
                RangeMin = scan.RangeMin,
                RangeMax = scan.RangeMax,
                Ranges = _ranges.AsMemory(0, count),
                Intensities = ReadOnlyMemory<float>.Empty,
            });
        }
        if (s.HasGoal && (!_goalWritten || s.GoalX != _goalX || s.GoalY != _goalY))
        {
            (_goalWritten, _goalX, _goalY) = (true, s.GoalX, s.GoalY);
            w.WriteMessage(_goal, time, time, new PoseStampedMsg
            {
                Header = NodeLogClock.Header(time, OdomFrame),
                Pose = new PoseMsg { Position = new PointMsg { X = s.GoalX, Y = s.GoalY }, Orientation = QuaternionMsg.Identity },
            });
        }
        w.WriteMessage(_cmdVel, time, time, new TwistMsg
        {
            Linear = new Vector3Msg { X = s.Command.LinearVelocity },
            Angular = new Vector3Msg { Z = s.Command.AngularVelocity },
        });
    }
}
