using RoboRl.Core.Messages;

namespace RoboRl.Ros2;

/// <summary>
/// The per-drone topics of crazyswarm2's crazyflie_server (IMRCLab/crazyswarm2, crazyflie/src/crazyflie_server.cpp), by
/// drone name (e.g. <c>cf231</c>), so a RoboRl node drops into an existing crazyswarm2 setup. The server subscribes to
/// the <c>cmd_*</c> topics with SystemDefaultsQoS (which any of RoboRl's profiles can feed) and publishes <c>pose</c>
/// with depth 10, reliable (<see cref="QosProfile.Default"/>).
/// </summary>
public static class Crazyswarm2Topics
{
    /// <summary>geometry_msgs/PoseStamped: the drone's estimated pose.</summary>
    public static string Pose(string cf) => $"/{cf}/pose";
    /// <summary>crazyflie_interfaces/FullState: position, velocity, acceleration, attitude and rates setpoint.</summary>
    public static string CmdFullState(string cf) => $"/{cf}/cmd_full_state";
    /// <summary>crazyflie_interfaces/Position: x, y, z [m], yaw [deg].</summary>
    public static string CmdPosition(string cf) => $"/{cf}/cmd_position";
    /// <summary>crazyflie_interfaces/VelocityWorld.</summary>
    public static string CmdVelocityWorld(string cf) => $"/{cf}/cmd_velocity_world";
    /// <summary>crazyflie_interfaces/Hover.</summary>
    public static string CmdHover(string cf) => $"/{cf}/cmd_hover";
    /// <summary>geometry_msgs/Twist: roll, pitch [deg] in linear.y/x, yaw rate in angular.z, thrust in linear.z (legacy commander).</summary>
    public static string CmdVelLegacy(string cf) => $"/{cf}/cmd_vel_legacy";
    /// <summary>crazyflie_interfaces/Status.</summary>
    public static string Status(string cf) => $"/{cf}/status";

    /// <summary>Every topic with its message type, for tools that bridge or record a whole drone.</summary>
    public static IReadOnlyList<(string Topic, string Type)> All(string cf) =>
    [
        (Pose(cf), RosTypes.PoseStamped), (CmdFullState(cf), RosTypes.CrazyflieFullState), (CmdPosition(cf), RosTypes.CrazyfliePosition),
        (CmdVelocityWorld(cf), RosTypes.CrazyflieVelocityWorld), (CmdHover(cf), RosTypes.CrazyflieHover),
        (CmdVelLegacy(cf), RosTypes.Twist), (Status(cf), RosTypes.CrazyflieStatus),
    ];
}
