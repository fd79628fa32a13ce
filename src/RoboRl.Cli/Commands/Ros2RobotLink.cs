using RoboRl.Core.Configs;
using RoboRl.Node;
using RoboRl.Ros2;

namespace RoboRl.Cli.Commands;

/// <summary>
/// RoboRl.Ros2 as the node's <see cref="RobotLink"/>: one <see cref="Ros2Transport"/> built from the node config's
/// "ros2" section is the sensor (pose/odom/imu), actuator (cmd_action), command source (cmd_mode, goal_pose; arming
/// only with "allow_arm": true), teleop source (Joy) and telemetry sink.
/// </summary>
public static class Ros2RobotLink
{
    /// <summary>Cyclone DDS XML for every link this process creates (tests: Ros2Loopback.ConfigXml); null reads CYCLONEDDS_URI.</summary>
    public static string? CycloneConfigXml { get; set; }

    public static RobotLink Create(NodeConfig config)
    {
        ConfigNode section = config.Ros2 ?? throw new NodeSession.SetupException($"{config.File}: $.ros2: missing required key");
        Ros2TransportOptions options;
        try { options = Ros2TransportOptions.Read(section) with { CycloneConfigXml = CycloneConfigXml }; }
        catch (ConfigException e) { throw new NodeSession.SetupException(e.Message); }
        Ros2Transport transport;
        // Created here rather than with the flight, so that a missing libddsc or a bad ROS_DOMAIN_ID is a setup error before arming.
        try { transport = new Ros2Transport(options) { Log = line => Console.Error.WriteLine(line), ModeDiagnosticsFromEvents = true }; }
        catch (Exception e) when (e is RoboRl.Ros2.Native.DdsException or ArgumentException or DllNotFoundException)
        {
            throw new NodeSession.SetupException($"{config.File}: $.ros2: {e.Message}", e is ArgumentException ? ExitCodes.BadInput : ExitCodes.Fault);
        }
        return new RobotLink(transport, transport, Start: () => { }, Stop: transport.Dispose, Owner: transport)
        {
            Commands = transport,
            Teleop = transport,
            Telemetry = transport,
            Events = transport,
        };
    }
}
