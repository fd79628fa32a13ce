using System.Runtime.CompilerServices;

namespace RoboRl.Core.Messages;

// Allocation-free structs for the messages the node records every tick. Field order and types follow the registered
// definitions (StandardMessages); HotMessageTests checks each one against CdrDynamic, which is derived from them.
// Variable-length fields are ReadOnlyMemory so the caller's buffers are written without copies.

/// <summary>builtin_interfaces/Time.</summary>
public struct TimeMsg : ICdrMessage<TimeMsg>
{
    public int Sec;
    public uint Nanosec;

    public static string TypeName => RosTypes.Time;

    /// <summary>Splits nanoseconds since the epoch into whole seconds (rounded down) and nanoseconds in [0, 1e9).</summary>
    public static TimeMsg FromNanoseconds(long nanoseconds)
    {
        long sec = Math.DivRem(nanoseconds, 1_000_000_000L, out long rem);
        if (rem < 0) { sec--; rem += 1_000_000_000L; }
        return new TimeMsg { Sec = (int)sec, Nanosec = (uint)rem };
    }

    public readonly long ToNanoseconds() => Sec * 1_000_000_000L + Nanosec;

    public readonly void WriteFields(CdrWriter w) { w.WriteInt32(Sec); w.WriteUInt32(Nanosec); }
    public static TimeMsg ReadFields(ref CdrReader r) => new() { Sec = r.ReadInt32(), Nanosec = r.ReadUInt32() };
}

/// <summary>std_msgs/Header.</summary>
public struct HeaderMsg : ICdrMessage<HeaderMsg>
{
    public TimeMsg Stamp;
    public string? FrameId;

    public static string TypeName => RosTypes.Header;
    public readonly void WriteFields(CdrWriter w) { Stamp.WriteFields(w); w.WriteString(FrameId); }
    public static HeaderMsg ReadFields(ref CdrReader r) => new() { Stamp = TimeMsg.ReadFields(ref r), FrameId = r.ReadString() };
}

/// <summary>geometry_msgs/Vector3.</summary>
public struct Vector3Msg : ICdrMessage<Vector3Msg>
{
    public double X, Y, Z;
    public static string TypeName => RosTypes.Vector3;
    public readonly void WriteFields(CdrWriter w) { w.WriteFloat64(X); w.WriteFloat64(Y); w.WriteFloat64(Z); }
    public static Vector3Msg ReadFields(ref CdrReader r) => new() { X = r.ReadFloat64(), Y = r.ReadFloat64(), Z = r.ReadFloat64() };
}

/// <summary>geometry_msgs/Point.</summary>
public struct PointMsg : ICdrMessage<PointMsg>
{
    public double X, Y, Z;
    public static string TypeName => RosTypes.Point;
    public readonly void WriteFields(CdrWriter w) { w.WriteFloat64(X); w.WriteFloat64(Y); w.WriteFloat64(Z); }
    public static PointMsg ReadFields(ref CdrReader r) => new() { X = r.ReadFloat64(), Y = r.ReadFloat64(), Z = r.ReadFloat64() };
}

/// <summary>geometry_msgs/Quaternion (ROS order x, y, z, w).</summary>
public struct QuaternionMsg : ICdrMessage<QuaternionMsg>
{
    public double X, Y, Z, W;
    public static string TypeName => RosTypes.Quaternion;
    public static QuaternionMsg Identity => new() { W = 1 };
    public readonly void WriteFields(CdrWriter w) { w.WriteFloat64(X); w.WriteFloat64(Y); w.WriteFloat64(Z); w.WriteFloat64(W); }
    public static QuaternionMsg ReadFields(ref CdrReader r) =>
        new() { X = r.ReadFloat64(), Y = r.ReadFloat64(), Z = r.ReadFloat64(), W = r.ReadFloat64() };
}

/// <summary>geometry_msgs/Pose.</summary>
public struct PoseMsg : ICdrMessage<PoseMsg>
{
    public PointMsg Position;
    public QuaternionMsg Orientation;
    public static string TypeName => RosTypes.Pose;
    public readonly void WriteFields(CdrWriter w) { Position.WriteFields(w); Orientation.WriteFields(w); }
    public static PoseMsg ReadFields(ref CdrReader r) =>
        new() { Position = PointMsg.ReadFields(ref r), Orientation = QuaternionMsg.ReadFields(ref r) };
}

/// <summary>geometry_msgs/PoseStamped.</summary>
public struct PoseStampedMsg : ICdrMessage<PoseStampedMsg>
{
    public HeaderMsg Header;
    public PoseMsg Pose;
    public static string TypeName => RosTypes.PoseStamped;
    public readonly void WriteFields(CdrWriter w) { Header.WriteFields(w); Pose.WriteFields(w); }
    public static PoseStampedMsg ReadFields(ref CdrReader r) =>
        new() { Header = HeaderMsg.ReadFields(ref r), Pose = PoseMsg.ReadFields(ref r) };
}

/// <summary>geometry_msgs/Twist.</summary>
public struct TwistMsg : ICdrMessage<TwistMsg>
{
    public Vector3Msg Linear, Angular;
    public static string TypeName => RosTypes.Twist;
    public readonly void WriteFields(CdrWriter w) { Linear.WriteFields(w); Angular.WriteFields(w); }
    public static TwistMsg ReadFields(ref CdrReader r) =>
        new() { Linear = Vector3Msg.ReadFields(ref r), Angular = Vector3Msg.ReadFields(ref r) };
}

/// <summary>geometry_msgs/TwistStamped.</summary>
public struct TwistStampedMsg : ICdrMessage<TwistStampedMsg>
{
    public HeaderMsg Header;
    public TwistMsg Twist;
    public static string TypeName => RosTypes.TwistStamped;
    public readonly void WriteFields(CdrWriter w) { Header.WriteFields(w); Twist.WriteFields(w); }
    public static TwistStampedMsg ReadFields(ref CdrReader r) =>
        new() { Header = HeaderMsg.ReadFields(ref r), Twist = TwistMsg.ReadFields(ref r) };
}

/// <summary>A row-major 3x3 covariance (float64[9]), stored inline.</summary>
[InlineArray(9)]
public struct Covariance3x3
{
    private double _element0;
    public static Covariance3x3 From(ReadOnlySpan<double> values) { var c = new Covariance3x3(); values.CopyTo(c); return c; }
    public readonly double[] ToArray() => ((ReadOnlySpan<double>)this).ToArray();
}

/// <summary>A row-major 6x6 covariance (float64[36]), stored inline.</summary>
[InlineArray(36)]
public struct Covariance6x6
{
    private double _element0;
    public static Covariance6x6 From(ReadOnlySpan<double> values) { var c = new Covariance6x6(); values.CopyTo(c); return c; }
    public readonly double[] ToArray() => ((ReadOnlySpan<double>)this).ToArray();
}

/// <summary>geometry_msgs/PoseWithCovariance.</summary>
public struct PoseWithCovarianceMsg : ICdrMessage<PoseWithCovarianceMsg>
{
    public PoseMsg Pose;
    public Covariance6x6 Covariance;
    public static string TypeName => RosTypes.PoseWithCovariance;
    public readonly void WriteFields(CdrWriter w) { Pose.WriteFields(w); w.WriteFloat64Array(Covariance); }
    public static PoseWithCovarianceMsg ReadFields(ref CdrReader r)
    {
        var m = new PoseWithCovarianceMsg { Pose = PoseMsg.ReadFields(ref r) };
        r.ReadFloat64Array(m.Covariance);
        return m;
    }
}

/// <summary>geometry_msgs/TwistWithCovariance.</summary>
public struct TwistWithCovarianceMsg : ICdrMessage<TwistWithCovarianceMsg>
{
    public TwistMsg Twist;
    public Covariance6x6 Covariance;
    public static string TypeName => RosTypes.TwistWithCovariance;
    public readonly void WriteFields(CdrWriter w) { Twist.WriteFields(w); w.WriteFloat64Array(Covariance); }
    public static TwistWithCovarianceMsg ReadFields(ref CdrReader r)
    {
        var m = new TwistWithCovarianceMsg { Twist = TwistMsg.ReadFields(ref r) };
        r.ReadFloat64Array(m.Covariance);
        return m;
    }
}

/// <summary>nav_msgs/Odometry.</summary>
public struct OdometryMsg : ICdrMessage<OdometryMsg>
{
    public HeaderMsg Header;
    public string? ChildFrameId;
    public PoseWithCovarianceMsg Pose;
    public TwistWithCovarianceMsg Twist;
    public static string TypeName => RosTypes.Odometry;
    public readonly void WriteFields(CdrWriter w)
    {
        Header.WriteFields(w); w.WriteString(ChildFrameId); Pose.WriteFields(w); Twist.WriteFields(w);
    }
    public static OdometryMsg ReadFields(ref CdrReader r) => new()
    {
        Header = HeaderMsg.ReadFields(ref r),
        ChildFrameId = r.ReadString(),
        Pose = PoseWithCovarianceMsg.ReadFields(ref r),
        Twist = TwistWithCovarianceMsg.ReadFields(ref r),
    };
}

/// <summary>sensor_msgs/Imu.</summary>
public struct ImuMsg : ICdrMessage<ImuMsg>
{
    public HeaderMsg Header;
    public QuaternionMsg Orientation;
    public Covariance3x3 OrientationCovariance;
    public Vector3Msg AngularVelocity;
    public Covariance3x3 AngularVelocityCovariance;
    public Vector3Msg LinearAcceleration;
    public Covariance3x3 LinearAccelerationCovariance;
    public static string TypeName => RosTypes.Imu;
    public readonly void WriteFields(CdrWriter w)
    {
        Header.WriteFields(w);
        Orientation.WriteFields(w); w.WriteFloat64Array(OrientationCovariance);
        AngularVelocity.WriteFields(w); w.WriteFloat64Array(AngularVelocityCovariance);
        LinearAcceleration.WriteFields(w); w.WriteFloat64Array(LinearAccelerationCovariance);
    }
    public static ImuMsg ReadFields(ref CdrReader r)
    {
        var m = new ImuMsg { Header = HeaderMsg.ReadFields(ref r), Orientation = QuaternionMsg.ReadFields(ref r) };
        r.ReadFloat64Array(m.OrientationCovariance);
        m.AngularVelocity = Vector3Msg.ReadFields(ref r);
        r.ReadFloat64Array(m.AngularVelocityCovariance);
        m.LinearAcceleration = Vector3Msg.ReadFields(ref r);
        r.ReadFloat64Array(m.LinearAccelerationCovariance);
        return m;
    }
}

/// <summary>sensor_msgs/LaserScan.</summary>
public struct LaserScanMsg : ICdrMessage<LaserScanMsg>
{
    public HeaderMsg Header;
    public float AngleMin, AngleMax, AngleIncrement, TimeIncrement, ScanTime, RangeMin, RangeMax;
    public ReadOnlyMemory<float> Ranges, Intensities;
    public static string TypeName => RosTypes.LaserScan;
    public readonly void WriteFields(CdrWriter w)
    {
        Header.WriteFields(w);
        w.WriteFloat32(AngleMin); w.WriteFloat32(AngleMax); w.WriteFloat32(AngleIncrement);
        w.WriteFloat32(TimeIncrement); w.WriteFloat32(ScanTime); w.WriteFloat32(RangeMin); w.WriteFloat32(RangeMax);
        w.WriteFloat32Sequence(Ranges.Span); w.WriteFloat32Sequence(Intensities.Span);
    }
    public static LaserScanMsg ReadFields(ref CdrReader r) => new()
    {
        Header = HeaderMsg.ReadFields(ref r),
        AngleMin = r.ReadFloat32(),
        AngleMax = r.ReadFloat32(),
        AngleIncrement = r.ReadFloat32(),
        TimeIncrement = r.ReadFloat32(),
        ScanTime = r.ReadFloat32(),
        RangeMin = r.ReadFloat32(),
        RangeMax = r.ReadFloat32(),
        Ranges = r.ReadFloat32Sequence(),
        Intensities = r.ReadFloat32Sequence(),
    };
}

/// <summary>sensor_msgs/Joy.</summary>
public struct JoyMsg : ICdrMessage<JoyMsg>
{
    public HeaderMsg Header;
    public ReadOnlyMemory<float> Axes;
    public ReadOnlyMemory<int> Buttons;
    public static string TypeName => RosTypes.Joy;
    public readonly void WriteFields(CdrWriter w) { Header.WriteFields(w); w.WriteFloat32Sequence(Axes.Span); w.WriteInt32Sequence(Buttons.Span); }
    public static JoyMsg ReadFields(ref CdrReader r) =>
        new() { Header = HeaderMsg.ReadFields(ref r), Axes = r.ReadFloat32Sequence(), Buttons = r.ReadInt32Sequence() };
}

/// <summary>roborl_msgs/Observation.</summary>
public struct ObservationMsg : ICdrMessage<ObservationMsg>
{
    public HeaderMsg Header;
    public ulong Tick;
    public ReadOnlyMemory<float> Values;
    public static string TypeName => RosTypes.Observation;
    public readonly void WriteFields(CdrWriter w) { Header.WriteFields(w); w.WriteUInt64(Tick); w.WriteFloat32Sequence(Values.Span); }
    public static ObservationMsg ReadFields(ref CdrReader r) =>
        new() { Header = HeaderMsg.ReadFields(ref r), Tick = r.ReadUInt64(), Values = r.ReadFloat32Sequence() };
}

/// <summary>roborl_msgs/Action (constants SOURCE_POLICY/HUMAN/FALLBACK in <see cref="ActionSource"/>).</summary>
public struct ActionMsg : ICdrMessage<ActionMsg>
{
    public HeaderMsg Header;
    public ulong Tick;
    public ReadOnlyMemory<float> Values;
    public ReadOnlyMemory<float> PolicyValues;
    public bool Intervention;
    public ReadOnlyMemory<float> HumanValues;
    public ActionSource Source;
    public static string TypeName => RosTypes.Action;
    public readonly void WriteFields(CdrWriter w)
    {
        Header.WriteFields(w); w.WriteUInt64(Tick);
        w.WriteFloat32Sequence(Values.Span); w.WriteFloat32Sequence(PolicyValues.Span);
        w.WriteBool(Intervention); w.WriteFloat32Sequence(HumanValues.Span); w.WriteUInt8((byte)Source);
    }
    public static ActionMsg ReadFields(ref CdrReader r) => new()
    {
        Header = HeaderMsg.ReadFields(ref r),
        Tick = r.ReadUInt64(),
        Values = r.ReadFloat32Sequence(),
        PolicyValues = r.ReadFloat32Sequence(),
        Intervention = r.ReadBool(),
        HumanValues = r.ReadFloat32Sequence(),
        Source = (ActionSource)r.ReadUInt8(),
    };
}

/// <summary>roborl_msgs/Action SOURCE_* constants.</summary>
public enum ActionSource : byte { Policy = 0, Human = 1, Fallback = 2 }

/// <summary>roborl_msgs/Mode constants.</summary>
public enum NodeMode : byte { Idle = 0, Policy = 1, Human = 2, Fallback = 3, Killed = 4, TakingOff = 5, Landing = 6 }

/// <summary>roborl_msgs/Mode.</summary>
public struct ModeMsg : ICdrMessage<ModeMsg>
{
    public HeaderMsg Header;
    public NodeMode Mode;
    public string? Name;
    public string? Reason;
    public static string TypeName => RosTypes.Mode;
    public readonly void WriteFields(CdrWriter w) { Header.WriteFields(w); w.WriteUInt8((byte)Mode); w.WriteString(Name); w.WriteString(Reason); }
    public static ModeMsg ReadFields(ref CdrReader r) => new()
    {
        Header = HeaderMsg.ReadFields(ref r),
        Mode = (NodeMode)r.ReadUInt8(),
        Name = r.ReadString(),
        Reason = r.ReadString(),
    };
}

/// <summary>roborl_msgs/TickStats.</summary>
public struct TickStatsMsg : ICdrMessage<TickStatsMsg>
{
    public HeaderMsg Header;
    public ulong Ticks;
    public float RateHz, LatencyP50Us, LatencyP99Us, LatencyMaxUs, JitterP99Us;
    public uint Overruns;
    public static string TypeName => RosTypes.TickStats;
    public readonly void WriteFields(CdrWriter w)
    {
        Header.WriteFields(w); w.WriteUInt64(Ticks);
        w.WriteFloat32(RateHz); w.WriteFloat32(LatencyP50Us); w.WriteFloat32(LatencyP99Us);
        w.WriteFloat32(LatencyMaxUs); w.WriteFloat32(JitterP99Us); w.WriteUInt32(Overruns);
    }
    public static TickStatsMsg ReadFields(ref CdrReader r) => new()
    {
        Header = HeaderMsg.ReadFields(ref r),
        Ticks = r.ReadUInt64(),
        RateHz = r.ReadFloat32(),
        LatencyP50Us = r.ReadFloat32(),
        LatencyP99Us = r.ReadFloat32(),
        LatencyMaxUs = r.ReadFloat32(),
        JitterP99Us = r.ReadFloat32(),
        Overruns = r.ReadUInt32(),
    };
}

/// <summary>roborl_msgs/GroundTruth.</summary>
public struct GroundTruthMsg : ICdrMessage<GroundTruthMsg>
{
    public HeaderMsg Header;
    public ulong Tick;
    public PoseMsg Pose;
    public Vector3Msg LinearVelocity;
    public Vector3Msg AngularVelocity;
    public ReadOnlyMemory<float> RotorRpm;
    public TimeMsg CommandEffective;
    public static string TypeName => RosTypes.GroundTruth;
    public readonly void WriteFields(CdrWriter w)
    {
        Header.WriteFields(w); w.WriteUInt64(Tick); Pose.WriteFields(w); LinearVelocity.WriteFields(w); AngularVelocity.WriteFields(w);
        w.WriteFloat32Sequence(RotorRpm.Span); CommandEffective.WriteFields(w);
    }
    public static GroundTruthMsg ReadFields(ref CdrReader r) => new()
    {
        Header = HeaderMsg.ReadFields(ref r),
        Tick = r.ReadUInt64(),
        Pose = PoseMsg.ReadFields(ref r),
        LinearVelocity = Vector3Msg.ReadFields(ref r),
        AngularVelocity = Vector3Msg.ReadFields(ref r),
        RotorRpm = r.ReadFloat32Sequence(),
        CommandEffective = TimeMsg.ReadFields(ref r),
    };
}

/// <summary>crazyflie_interfaces/FullState (crazyswarm2's cmd_full_state).</summary>
public struct FullStateMsg : ICdrMessage<FullStateMsg>
{
    public HeaderMsg Header;
    public PoseMsg Pose;
    public TwistMsg Twist;
    public Vector3Msg Acc;
    public static string TypeName => RosTypes.CrazyflieFullState;
    public readonly void WriteFields(CdrWriter w) { Header.WriteFields(w); Pose.WriteFields(w); Twist.WriteFields(w); Acc.WriteFields(w); }
    public static FullStateMsg ReadFields(ref CdrReader r) => new()
    {
        Header = HeaderMsg.ReadFields(ref r),
        Pose = PoseMsg.ReadFields(ref r),
        Twist = TwistMsg.ReadFields(ref r),
        Acc = Vector3Msg.ReadFields(ref r),
    };
}

/// <summary>crazyflie_interfaces/Position (crazyswarm2's cmd_position; yaw in degrees).</summary>
public struct PositionMsg : ICdrMessage<PositionMsg>
{
    public HeaderMsg Header;
    public float X, Y, Z, Yaw;
    public static string TypeName => RosTypes.CrazyfliePosition;
    public readonly void WriteFields(CdrWriter w) { Header.WriteFields(w); w.WriteFloat32(X); w.WriteFloat32(Y); w.WriteFloat32(Z); w.WriteFloat32(Yaw); }
    public static PositionMsg ReadFields(ref CdrReader r) => new()
    {
        Header = HeaderMsg.ReadFields(ref r),
        X = r.ReadFloat32(),
        Y = r.ReadFloat32(),
        Z = r.ReadFloat32(),
        Yaw = r.ReadFloat32(),
    };
}

/// <summary>crazyflie_interfaces/VelocityWorld (crazyswarm2's cmd_velocity_world; yaw rate in deg/s).</summary>
public struct VelocityWorldMsg : ICdrMessage<VelocityWorldMsg>
{
    public HeaderMsg Header;
    public Vector3Msg Vel;
    public float YawRate;
    public static string TypeName => RosTypes.CrazyflieVelocityWorld;
    public readonly void WriteFields(CdrWriter w) { Header.WriteFields(w); Vel.WriteFields(w); w.WriteFloat32(YawRate); }
    public static VelocityWorldMsg ReadFields(ref CdrReader r) =>
        new() { Header = HeaderMsg.ReadFields(ref r), Vel = Vector3Msg.ReadFields(ref r), YawRate = r.ReadFloat32() };
}
