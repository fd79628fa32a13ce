using RoboRl.Core.Configs;
using RoboRl.Core.DiffDrive;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Robots;

namespace RoboRl.Ros2;

/// <summary>Options the host gives the "ros2" transport.</summary>
public sealed class Ros2LinkSettings
{
    /// <summary>Cyclone DDS XML for every participant the transport creates (tests: <see cref="Ros2Loopback.ConfigXml"/>); null reads CYCLONEDDS_URI.</summary>
    public string? CycloneConfigXml { get; init; }
}

/// <summary>
/// The "ros2" transport (Cyclone DDS, ROS 2 conventions), by robot kind: a quadrotor through one <see cref="Ros2Transport"/>
/// (pose/odom/imu in, cmd_action out, cmd_mode and goal_pose commands — arming only with "allow_arm": true —, Joy teleop,
/// telemetry and /diagnostics); a differential-drive robot through one <see cref="Ros2GroundRobotLink"/> (/scan, /odom,
/// /goal_pose in; /cmd_vel out when it is the robot's transport, else its sensors only); a swarm through one
/// <see cref="Ros2SwarmLink"/> (crazyswarm2's per-drone topics).
/// </summary>
public static class Ros2TransportPlugin
{
    public const string Name = "ros2";

    public static TransportPlugin Plugin { get; } = new(Name, "ROS 2 over Cyclone DDS: a quadrotor's pose and rotor commands, or a ground robot's /scan, /odom, /goal_pose and /cmd_vel", Open);

    /// <summary>
    /// How this transport carries each robot kind (keyed by the robot config's "kind"): a kind it should carry is a method
    /// here and one line in this table.
    /// </summary>
    private static readonly IReadOnlyDictionary<string, Func<TransportRequest, ConfigNode, string?, RobotLink>> LinksByKind =
        new Dictionary<string, Func<TransportRequest, ConfigNode, string?, RobotLink>>(StringComparer.Ordinal)
        {
            ["quadrotor"] = OpenQuadrotor,
            ["diff_drive"] = OpenGroundRobot,
            ["swarm"] = OpenSwarm,
        };

    private static RobotLink Open(TransportRequest request)
    {
        ConfigNode section = request.RequireSection();
        string? cyclone = request.Settings.Get<Ros2LinkSettings>().CycloneConfigXml;
        if (!LinksByKind.TryGetValue(request.RobotKind, out var open))
            throw new ConfigException(request.NodeFile, "$.transport",
                $"transport \"{Name}\" carries robots of the kinds {string.Join(", ", LinksByKind.Keys)}; the robot here is of kind \"{request.RobotKind}\"");
        // Created here rather than with the run, so that a missing libddsc or a bad ROS_DOMAIN_ID is a setup error before arming.
        try { return open(request, section, cyclone); }
        catch (ArgumentException e) { throw new ConfigException(request.NodeFile, $"$.{Name}", e.Message); }
        catch (Exception e) when (e is Native.DdsException or DllNotFoundException)
        {
            throw new RobotLinkException($"{request.NodeFile}: $.{Name}: {e.Message}", e);
        }
    }

    private static RobotLink OpenQuadrotor(TransportRequest request, ConfigNode section, string? cyclone)
    {
        var transport = new Ros2Transport(Ros2TransportOptions.Read(section) with { CycloneConfigXml = cyclone })
        {
            Log = request.Settings.Log,
            ModeDiagnosticsFromEvents = true,
        };
        return new RobotLink(Name, transport, transport) { Stop = transport.Dispose };
    }

    private static RobotLink OpenGroundRobot(TransportRequest request, ConfigNode section, string? cyclone)
    {
        bool commands = (request.Roles & TransportRoles.Actuators) != 0;
        var link = new Ros2GroundRobotLink(Ros2GroundRobotOptions.Read(section, commandsOnRos2: commands) with { CycloneConfigXml = cyclone });
        return new RobotLink(Name, link, link);
    }

    /// <summary>A swarm: crazyswarm2's per-drone topics under each vehicle's name (the swarm kind's settings).</summary>
    private static RobotLink OpenSwarm(TransportRequest request, ConfigNode section, string? cyclone)
    {
        IReadOnlyList<string> names = ((Core.Swarm.ISwarmVehicleNames)request.KindSettings).VehicleNames;
        var link = new Ros2SwarmLink(Ros2SwarmOptions.Read(section) with { CycloneConfigXml = cyclone }, names);
        return new RobotLink(Name, link, link);
    }
}
