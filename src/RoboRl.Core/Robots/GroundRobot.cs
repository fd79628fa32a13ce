using RoboRl.Core.Messages;

namespace RoboRl.Core.Robots;

// The contracts between a ground robot's controller in the node (DiffDriveController) and whatever carries its data:
// ROS 2 (/scan, /odom, /goal_pose in, /cmd_vel out), a serial wheel controller, the simulator. Same rules as
// Transport.cs: never block, allocate nothing per call, be thread-safe against your own I/O thread. Timestamps are
// NodeClock nanoseconds.

/// <summary>Wheel odometry: planar pose in the odometry frame (x, y, yaw; REP 105 "odom") and body velocities.</summary>
public struct OdometrySample
{
    public long TimestampNs;
    public uint Sequence;
    public float X, Y, Yaw;
    /// <summary>Forward speed, m/s, and yaw rate, rad/s (body frame, REP 103).</summary>
    public float LinearVelocity, AngularVelocity;
}

/// <summary>The geometry and time of one planar laser scan (the ranges themselves are copied separately).</summary>
public struct ScanSample
{
    public long TimestampNs;
    public uint Sequence;
    /// <summary>Angle of beam 0 (rad, counter-clockwise from forward) and between beams.</summary>
    public float AngleMin, AngleIncrement;
    public float RangeMin, RangeMax;
    /// <summary>Beams in the scan.</summary>
    public int Count;
}

/// <summary>A navigation goal in the odometry frame (RViz's "2D Goal Pose": geometry_msgs/PoseStamped on /goal_pose).</summary>
public struct GoalSample
{
    public long TimestampNs;
    public uint Sequence;
    public float X, Y;
}

/// <summary>Where a ground robot's newest sensor data comes from.</summary>
public interface IGroundSensorSource
{
    bool TryGetOdometry(out OdometrySample odometry);

    /// <summary>Copies the newest scan's ranges (REP 117 values: +∞ no return, −∞ too close, NaN invalid) into
    /// <paramref name="ranges"/> (at most its length) and describes it; false before the first scan.</summary>
    bool TryGetScan(Span<float> ranges, out ScanSample scan);

    /// <summary>The newest goal; false when none was ever received.</summary>
    bool TryGetGoal(out GoalSample goal);
}

/// <summary>A body-velocity command (geometry_msgs/Twist on /cmd_vel: linear.x, angular.z), with the wheel speeds it implies.</summary>
public struct VelocityCommand
{
    public long TimestampNs;
    public uint Sequence;
    /// <summary>m/s forward, rad/s counter-clockwise.</summary>
    public float LinearVelocity, AngularVelocity;
    /// <summary>Left and right wheel angular speeds, rad/s (v ∓ ω·track/2) / r.</summary>
    public float LeftWheelRadS, RightWheelRadS;
    public ActionSource Source;
}

/// <summary>Where velocity commands go (ROS 2 /cmd_vel, a serial wheel controller, the simulator).</summary>
public interface IVelocityCommandSink
{
    /// <summary>Hands the command over; must not block the tick.</summary>
    void Send(in VelocityCommand command);
}
