using RoboRl.Core.Configs;

namespace RoboRl.Core.DiffDrive;

/// <summary>
/// A 2D scanning lidar (the robot file's "lidar" object). Beam k points at angle k·2π/<see cref="Beams"/> from the
/// robot's forward axis (counter-clockwise, REP 103), as a ROS LaserScan with angle_min = 0. Range noise has a
/// standard deviation of <see cref="NoiseStd"/> + <see cref="NoiseFraction"/>·range; a beam drops out with
/// probability <see cref="DropoutProbability"/>.
/// </summary>
public sealed record LidarConfig(int Beams, float RangeMin, float RangeMax, float NoiseStd, float NoiseFraction, float DropoutProbability)
{
    /// <summary>Angle between neighbouring beams, radians.</summary>
    public float AngleIncrement => 2f * MathF.PI / Beams;
}

/// <summary>
/// Physical parameters of a differential-drive robot (configs/robots/*.json with "kind": "diff_drive"), each with a
/// source. Body frame FLU (x forward, z up), yaw counter-clockwise; wheel speeds are rim speeds in m/s.
/// </summary>
public sealed record DiffDriveConfig
{
    public required string Name { get; init; }
    public required float WheelRadius { get; init; }
    /// <summary>Distance between the two wheels' contact points, metres.</summary>
    public required float TrackWidth { get; init; }
    /// <summary>Radius of the circle that encloses the footprint (collision checks), metres.</summary>
    public required float RobotRadius { get; init; }
    public required float MaxLinearVelocity { get; init; }
    public required float MaxAngularVelocity { get; init; }
    /// <summary>Largest |dv/dt| the drive achieves, m/s².</summary>
    public required float LinearAccelerationLimit { get; init; }
    /// <summary>Largest |dω/dt| the drive achieves, rad/s².</summary>
    public required float AngularAccelerationLimit { get; init; }
    /// <summary>First-order lag of the wheel speed controllers, seconds.</summary>
    public required float MotorTimeConstant { get; init; }
    /// <summary>Relative standard deviation of wheel slip (ground speed = encoder speed · (1 + ε)), drawn per wheel per step.</summary>
    public required float SlipNoiseStd { get; init; }
    public required LidarConfig Lidar { get; init; }
    public required IReadOnlyDictionary<string, string> Sources { get; init; }

    /// <summary>Largest wheel rim speed: the speed at which the robot drives straight at its maximum, m/s.</summary>
    public float MaxWheelSpeed => MaxLinearVelocity;

    public static DiffDriveConfig Load(string file) => Read(ConfigNode.LoadFile(file));

    /// <summary>Reads a robot config from a parsed node. Every top-level value key must have an entry in "sources".</summary>
    public static DiffDriveConfig Read(ConfigNode node)
    {
        node.Choice("kind", "diff_drive");
        ConfigNode lidar = node.Object("lidar");
        var lidarConfig = new LidarConfig(
            (int)lidar.Integer("beams", 8, 4096),
            (float)lidar.Number("range_min", 0, 100),
            (float)lidar.Number("range_max", 0.01, 100),
            (float)lidar.Number("noise_std", 0, 1),
            (float)lidar.Number("noise_fraction", 0, 1),
            (float)lidar.Number("dropout_probability", 0, 1));
        // Informational (the simulator scans every control step; the node holds the last scan).
        lidar.Number("scan_frequency_hz", 0.1, 1000);
        lidar.EnsureNoUnknownKeys();
        if (lidarConfig.RangeMin >= lidarConfig.RangeMax)
            throw lidar.Error("range_min", $"must be below range_max ({lidarConfig.RangeMax})");

        var config = new DiffDriveConfig
        {
            Name = node.String("name"),
            WheelRadius = (float)node.Number("wheel_radius", 1e-3, 10),
            TrackWidth = (float)node.Number("track_width", 1e-3, 10),
            RobotRadius = (float)node.Number("robot_radius", 1e-3, 10),
            MaxLinearVelocity = (float)node.Number("max_linear_velocity", 1e-3, 100),
            MaxAngularVelocity = (float)node.Number("max_angular_velocity", 1e-3, 100),
            LinearAccelerationLimit = (float)node.Number("linear_acceleration_limit", 1e-3, 1000),
            AngularAccelerationLimit = (float)node.Number("angular_acceleration_limit", 1e-3, 1000),
            MotorTimeConstant = (float)node.Number("motor_time_constant", 1e-4, 10),
            SlipNoiseStd = (float)node.Number("slip_noise_std", 0, 1),
            Lidar = lidarConfig,
            Sources = node.StringMap("sources"),
        };
        if (config.RobotRadius < config.TrackWidth / 2)
            throw node.Error("robot_radius", $"must enclose the wheels: at least track_width / 2 = {config.TrackWidth / 2}");
        node.EnsureNoUnknownKeys();
        foreach (string key in node.Keys)
        {
            if (key is not ("sources" or "name" or "kind") && !config.Sources.ContainsKey(key))
                throw node.Error("sources", $"no source given for \"{key}\"; every value needs one");
        }
        foreach (string key in config.Sources.Keys)
        {
            if (key == "sources" || !node.Keys.Contains(key))
                throw new ConfigException(node.File, $"$.sources.{key}", "names no key of this file");
        }
        return config;
    }
}
