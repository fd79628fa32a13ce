namespace RoboRl.Ros2;

public enum Reliability { Reliable, BestEffort }
public enum Durability { Volatile, TransientLocal }

/// <summary>
/// A ROS 2 QoS profile (keep-last history). <see cref="Default"/> and <see cref="SensorData"/> are rclcpp's
/// <c>rclcpp::QoS(10)</c> / <c>rclcpp::SensorDataQoS()</c> (rmw/qos_profiles.h).
/// </summary>
public sealed record QosProfile(Reliability Reliability, Durability Durability, int Depth)
{
    /// <summary>Reliable, volatile, keep-last 10.</summary>
    public static QosProfile Default { get; } = new(Reliability.Reliable, Durability.Volatile, 10);
    /// <summary>Best effort, volatile, keep-last 5.</summary>
    public static QosProfile SensorData { get; } = new(Reliability.BestEffort, Durability.Volatile, 5);
    /// <summary>What rmw uses for <c>ros_discovery_info</c>: reliable, transient-local, keep-last 1.</summary>
    public static QosProfile DiscoveryInfo { get; } = new(Reliability.Reliable, Durability.TransientLocal, 1);

    /// <summary>The rosbag2 <c>offered_qos_profiles</c> text for MCAP channel metadata.</summary>
    public string ToOfferedQosYaml() =>
        RoboRl.Core.Messages.Ros2Qos.Profile(Reliability == Reliability.Reliable, Durability == Durability.TransientLocal, Depth);

    public override string ToString() => $"{Reliability}, {Durability}, keep-last {Depth}";
}

/// <summary>The ROS 2 release whose wire conventions to follow where they differ (the Gid size in ros_discovery_info).</summary>
public enum RosDistro { Humble, Jazzy }

/// <summary>How a <see cref="Ros2Node"/> joins the DDS network.</summary>
public sealed record Ros2Options
{
    /// <summary>The DDS domain; null reads <c>ROS_DOMAIN_ID</c> (default 0), as rmw does.</summary>
    public int? DomainId { get; init; }
    public RosDistro Distro { get; init; } = RosDistro.Humble;
    /// <summary>
    /// Cyclone DDS XML configuration for the domain, applied when this process first uses it; null leaves Cyclone to
    /// read <c>CYCLONEDDS_URI</c>. <see cref="Ros2Loopback.ConfigXml"/> isolates a test on the loopback interface.
    /// </summary>
    public string? CycloneConfigXml { get; init; }
    /// <summary>Announce the node on <c>ros_discovery_info</c> so <c>ros2 node list</c> shows it (default on).</summary>
    public bool AnnounceNode { get; init; } = true;
    /// <summary>Where message types are looked up by name.</summary>
    public RoboRl.Core.Messages.MessageRegistry Registry { get; init; } = RoboRl.Core.Messages.MessageRegistry.Default;

    /// <summary><c>ROS_DOMAIN_ID</c> from the environment (0 when unset); a bad value names the variable.</summary>
    public static int DomainIdFromEnvironment()
    {
        var text = Environment.GetEnvironmentVariable("ROS_DOMAIN_ID");
        if (string.IsNullOrWhiteSpace(text)) return 0;
        if (!int.TryParse(text, out int id) || id < 0 || id > 232)
            throw new ArgumentException($"ROS_DOMAIN_ID='{text}': expected an integer in 0..232");
        return id;
    }
}

/// <summary>A Cyclone DDS configuration that keeps all traffic on 127.0.0.1, unicast only (tests, benchmarks, one-machine setups).</summary>
public static class Ros2Loopback
{
    /// <summary>
    /// lo only, no multicast, unicast discovery to 127.0.0.1 with automatic participant indices (up to 32 participants
    /// per domain on this host). Put it in <c>CYCLONEDDS_URI</c> for other processes (Cyclone accepts the XML inline).
    /// </summary>
    public const string ConfigXml =
        "<CycloneDDS><Domain Id=\"any\"><General><Interfaces><NetworkInterface name=\"lo\"/></Interfaces>" +
        "<AllowMulticast>false</AllowMulticast></General><Discovery><ParticipantIndex>auto</ParticipantIndex>" +
        "<MaxAutoParticipantIndex>32</MaxAutoParticipantIndex><Peers><Peer address=\"127.0.0.1\"/></Peers></Discovery>" +
        "</Domain></CycloneDDS>";
}
