using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using RoboRl.Core.Messages;
using RoboRl.Core.Robots;
using RoboRl.Logs;

namespace RoboRl.Node;

/// <summary>
/// A quadrotor's topics in the flight log: the measured state as geometry_msgs/PoseStamped (/pose), TwistStamped
/// (/velocity, world frame) and sensor_msgs/Imu (/imu), the setpoint (/setpoint, PoseStamped), measured rotor speeds
/// (/rotor_rpm) where the robot reports them, and with a simulated robot (<see cref="IGroundTruthSource"/>) its true
/// state on /ground_truth (roborl_msgs/GroundTruth), read when the tick is recorded — after the tick's command was sent,
/// so it says when that command took effect.
/// </summary>
public sealed class QuadrotorNodeLog(IGroundTruthSource? groundTruth) : INodeLog
{
    /// <summary>Measured rotor speeds, rpm (roborl_msgs/Observation layout: values = M1..M4), written with each state that has them.</summary>
    public const string RotorRpmTopic = "/rotor_rpm";
    public const string WorldFrame = NodeRecorder.WorldFrame, BodyFrame = NodeRecorder.BodyFrame;

    /// <summary>What the tick thread captures for one tick.</summary>
    private struct State
    {
        public bool HasState;
        public RobotStateSample Sample;
        public Vector3 Setpoint;
        public bool HasGroundTruth;
        public GroundTruthSample GroundTruth;
    }

    private ushort _pose, _velocity, _imu, _setpoint, _rotorRpm, _groundTruth;
    private readonly float[] _rotorRpmValues = new float[4], _groundTruthRpm = new float[4];

    public int StateBytes => Unsafe.SizeOf<State>();

    /// <summary>Tick thread: the newest state and setpoint, and the simulator's true state when there is one. Allocation-free.</summary>
    public void Capture(Span<byte> destination, bool hasState, in RobotStateSample state, Vector3 setpoint)
    {
        var captured = new State { HasState = hasState, Sample = state, Setpoint = setpoint };
        captured.HasGroundTruth = groundTruth is not null && groundTruth.TryGetGroundTruth(out captured.GroundTruth);
        MemoryMarshal.Write(destination, in captured);
    }

    public void Register(McapWriter writer)
    {
        _pose = writer.RegisterRos2Channel<PoseStampedMsg>("/pose", Ros2Qos.SensorData);
        _velocity = writer.RegisterRos2Channel<TwistStampedMsg>("/velocity", Ros2Qos.SensorData);
        _imu = writer.RegisterRos2Channel<ImuMsg>("/imu", Ros2Qos.SensorData);
        _setpoint = writer.RegisterRos2Channel<PoseStampedMsg>("/setpoint", Ros2Qos.Default);
        // Measured rotor speeds (rpm, M1..M4) where the robot reports them: fine-tuning rebuilds the critic's
        // privileged observation (which holds the rotor speeds) from the log. roborl_msgs/Observation's layout
        // (header, tick, float32[] values) is reused for it.
        _rotorRpm = writer.RegisterRos2Channel<ObservationMsg>(RotorRpmTopic, Ros2Qos.SensorData);
        if (groundTruth is not null)
            _groundTruth = writer.RegisterRos2Channel<GroundTruthMsg>(FlightLogMetadata.GroundTruthTopic, Ros2Qos.SensorData, new Dictionary<string, string>
            {
                [FlightLogMetadata.PhysicsStepNs] = groundTruth.PhysicsStepNs.ToString(CultureInfo.InvariantCulture),
            });
    }

    public void Write(McapWriter w, in TickRecord r, ReadOnlySpan<byte> bytes, NodeLogClock clock)
    {
        State captured = MemoryMarshal.Read<State>(bytes);
        ulong time = clock.LogTime(r.TimestampNs);
        if (captured.HasState)
        {
            RobotStateSample s = captured.Sample;
            ulong stateTime = clock.LogTime(s.TimestampNs);
            var orientation = new QuaternionMsg { X = s.Orientation.X, Y = s.Orientation.Y, Z = s.Orientation.Z, W = s.Orientation.W };
            w.WriteMessage(_pose, time, stateTime, new PoseStampedMsg
            {
                Header = NodeLogClock.Header(stateTime, WorldFrame),
                Pose = new PoseMsg { Position = new PointMsg { X = s.Position.X, Y = s.Position.Y, Z = s.Position.Z }, Orientation = orientation },
            });
            // REP 105: a twist in the world frame has its angular part in the world frame too.
            Vector3 angularWorld = Vector3.Transform(s.AngularVelocityBody, s.Orientation);
            w.WriteMessage(_velocity, time, stateTime, new TwistStampedMsg
            {
                Header = NodeLogClock.Header(stateTime, WorldFrame),
                Twist = new TwistMsg
                {
                    Linear = new Vector3Msg { X = s.VelocityWorld.X, Y = s.VelocityWorld.Y, Z = s.VelocityWorld.Z },
                    Angular = new Vector3Msg { X = angularWorld.X, Y = angularWorld.Y, Z = angularWorld.Z },
                },
            });
            var imu = new ImuMsg
            {
                Header = NodeLogClock.Header(stateTime, BodyFrame),
                Orientation = orientation,
                AngularVelocity = new Vector3Msg { X = s.AngularVelocityBody.X, Y = s.AngularVelocityBody.Y, Z = s.AngularVelocityBody.Z },
            };
            imu.LinearAccelerationCovariance[0] = -1; // sensor_msgs/Imu: element 0 = -1 means "no linear acceleration estimate"
            w.WriteMessage(_imu, time, stateTime, imu);
            Vector4 rpm = s.RotorRpm;
            if (float.IsFinite(rpm.X) && float.IsFinite(rpm.Y) && float.IsFinite(rpm.Z) && float.IsFinite(rpm.W))
            {
                Copy(rpm, _rotorRpmValues);
                w.WriteMessage(_rotorRpm, time, stateTime, new ObservationMsg { Header = NodeLogClock.Header(stateTime, BodyFrame), Tick = r.Tick, Values = _rotorRpmValues });
            }
        }
        Vector3 sp = captured.Setpoint;
        w.WriteMessage(_setpoint, time, time, new PoseStampedMsg
        {
            Header = NodeLogClock.Header(time, WorldFrame),
            Pose = new PoseMsg { Position = new PointMsg { X = sp.X, Y = sp.Y, Z = sp.Z }, Orientation = QuaternionMsg.Identity },
        });
        if (captured.HasGroundTruth) WriteGroundTruth(w, in r, in captured.GroundTruth, clock);
    }

    private void WriteGroundTruth(McapWriter w, in TickRecord r, in GroundTruthSample truth, NodeLogClock clock)
    {
        ulong time = clock.LogTime(r.TimestampNs), stateTime = clock.LogTime(truth.State.TimestampNs);
        RobotStateSample s = truth.State;
        Copy(s.RotorRpm, _groundTruthRpm);
        w.WriteMessage(_groundTruth, time, stateTime, new GroundTruthMsg
        {
            Header = NodeLogClock.Header(stateTime, WorldFrame),
            Tick = r.Tick,
            Pose = new PoseMsg
            {
                Position = new PointMsg { X = s.Position.X, Y = s.Position.Y, Z = s.Position.Z },
                Orientation = new QuaternionMsg { X = s.Orientation.X, Y = s.Orientation.Y, Z = s.Orientation.Z, W = s.Orientation.W },
            },
            LinearVelocity = new Vector3Msg { X = s.VelocityWorld.X, Y = s.VelocityWorld.Y, Z = s.VelocityWorld.Z },
            AngularVelocity = new Vector3Msg { X = s.AngularVelocityBody.X, Y = s.AngularVelocityBody.Y, Z = s.AngularVelocityBody.Z },
            RotorRpm = _groundTruthRpm,
            CommandEffective = TimeMsg.FromNanoseconds((long)clock.LogTime(truth.CommandEffectiveNs)),
        });
    }

    private static void Copy(Vector4 v, float[] destination) { destination[0] = v.X; destination[1] = v.Y; destination[2] = v.Z; destination[3] = v.W; }
}
