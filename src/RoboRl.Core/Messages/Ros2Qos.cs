using System.Globalization;

namespace RoboRl.Core.Messages;

/// <summary>
/// The <c>offered_qos_profiles</c> channel metadata rosbag2 writes (a YAML list of the publishers' QoS, numeric values
/// of the rmw enums: history 1 keep-last; reliability 1 reliable, 2 best-effort; durability 1 transient-local,
/// 2 volatile; liveliness 1 automatic; "infinite" durations as rosbag2 on Humble writes them). <c>ros2 bag play</c>
/// uses it to pick the publisher QoS; an empty string is allowed.
/// </summary>
public static class Ros2Qos
{
    /// <summary>ROS 2 default QoS: reliable, volatile, keep-last 10.</summary>
    public static string Default { get; } = Profile(reliable: true, transientLocal: false, depth: 10);
    /// <summary>ROS 2 sensor-data QoS: best effort, volatile, keep-last 5.</summary>
    public static string SensorData { get; } = Profile(reliable: false, transientLocal: false, depth: 5);

    public static string Profile(bool reliable, bool transientLocal, int depth)
    {
        const string infinite = "\n    sec: 9223372036\n    nsec: 854775807";
        string d = depth.ToString(CultureInfo.InvariantCulture);
        return $"- history: 1\n  depth: {d}\n  reliability: {(reliable ? "1" : "2")}\n  durability: {(transientLocal ? "1" : "2")}\n" +
            $"  deadline:{infinite}\n  lifespan:{infinite}\n  liveliness: 1\n  liveliness_lease_duration:{infinite}\n" +
            "  avoid_ros_namespace_conventions: false";
    }
}
