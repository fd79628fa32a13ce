using RoboRl.Core.Configs;
using RoboRl.Core.DiffDrive;

namespace RoboRl.Node;

/// <summary>What the ground-robot node enforces every tick (the "limits" section).</summary>
public sealed record DiffDriveLimits
{
    /// <summary>Commands are clamped to these speeds (at most the robot's own limits), m/s and rad/s.</summary>
    public required float MaxLinearVelocityMS { get; init; }
    public required float MaxAngularVelocityRadS { get; init; }
    /// <summary>Forward (backward) motion stops when a return in the corridor the footprint (a circle of the robot's radius)
    /// sweeps ahead (behind) is nearer to the footprint than this, metres.</summary>
    public required float MinObstacleDistanceM { get; init; }
    /// <summary>A scan (odometry) older than this stops the robot, seconds.</summary>
    public required float ScanTimeoutS { get; init; }
    public required float OdometryTimeoutS { get; init; }
}

/// <summary>Where the ground robot's data travels: all over ROS 2, or wheel commands over a serial link (sensors on ROS 2).</summary>
public enum GroundTransportKind { Ros2, Serial }

/// <summary>The serial wheel-controller link (the "serial" section).</summary>
public sealed record SerialWheelConfig
{
    /// <summary>Device, e.g. /dev/ttyACM0 (a pty path works too).</summary>
    public required string Port { get; init; }
    public required int BaudRate { get; init; }
}

/// <summary>
/// A ground-robot node config (configs/nodes/diffbot-*.json: top-level "node": "diff_drive"), schema-checked through
/// <see cref="ConfigNode"/>: unknown keys and out-of-range values are errors naming the file, the JSON path and the range.
/// </summary>
public sealed record DiffDriveNodeConfig
{
    public required string File { get; init; }
    /// <summary>Absolute path of the robot config (the policy bundle must have been trained for it).</summary>
    public required string RobotPath { get; init; }
    public required DiffDriveConfig Robot { get; init; }
    /// <summary>The robot file's JSON (comments dropped), as training records it in a bundle.</summary>
    public required string RobotConfigJson { get; init; }
    /// <summary>Tick rate, Hz: the policy's control rate (the observation's velocities and previous action assume it).</summary>
    public required float RateHz { get; init; }
    /// <summary>"policy" (the bundle) or "dwa" (the classical planner, for comparison and bring-up; needs <see cref="TaskPath"/>).</summary>
    public required string Planner { get; init; }
    /// <summary>Absolute path of the navigation task whose observation and control period a classical planner uses (key "task"), or null.</summary>
    public string? TaskPath { get; init; }
    /// <summary>A goal to drive to before any /goal_pose arrives (odometry frame, m), or null to wait for one.</summary>
    public (float X, float Y)? Goal { get; init; }
    /// <summary>The goal counts as reached (the robot stops and waits for the next) within this distance, m.</summary>
    public required float GoalToleranceM { get; init; }
    public required DiffDriveLimits Limits { get; init; }
    public required GroundTransportKind Transport { get; init; }
    /// <summary>The "ros2" section, unread: RoboRl.Ros2 (Ros2GroundRobotOptions.Read) checks it.</summary>
    public required ConfigNode Ros2 { get; init; }
    public SerialWheelConfig? Serial { get; init; }

    /// <summary>True when the file is a ground-robot node config ("node": "diff_drive").</summary>
    public static bool IsDiffDriveNode(string file)
    {
        ConfigNode node = ConfigNode.LoadFile(file);
        return node.Keys.Contains("node") && node.String("node") == "diff_drive";
    }

    public static DiffDriveNodeConfig Load(string file) => Read(ConfigNode.LoadFile(file));

    public static DiffDriveNodeConfig Read(ConfigNode node)
    {
        node.Choice("node", "diff_drive");
        string robotPath = node.String("robot");
        robotPath = Path.GetFullPath(Path.IsPathRooted(robotPath) ? robotPath : Path.Combine(node.Directory, robotPath));
        DiffDriveConfig robot = DiffDriveConfig.Load(robotPath);

        ConfigNode limits = node.Object("limits");
        var safety = new DiffDriveLimits
        {
            MaxLinearVelocityMS = (float)limits.Number("max_linear_velocity_m_s", 0, Ceiling(robot.MaxLinearVelocity)),
            MaxAngularVelocityRadS = (float)limits.Number("max_angular_velocity_rad_s", 0, Ceiling(robot.MaxAngularVelocity)),
            MinObstacleDistanceM = (float)limits.Number("min_obstacle_distance_m", 0, robot.Lidar.RangeMax),
            ScanTimeoutS = (float)limits.Number("scan_timeout_ms", 1, 60_000) / 1000f,
            OdometryTimeoutS = (float)limits.Number("odom_timeout_ms", 1, 60_000) / 1000f,
        };
        limits.EnsureNoUnknownKeys();

        (float, float)? goal = null;
        if (node.Has("goal"))
        {
            double[] g = node.Numbers("goal", 2, -1e4, 1e4);
            goal = ((float)g[0], (float)g[1]);
        }
        GroundTransportKind transport = node.Choice("transport", "ros2", "serial") == "serial" ? GroundTransportKind.Serial : GroundTransportKind.Ros2;
        SerialWheelConfig? serial = null;
        if (node.Has("serial") || transport == GroundTransportKind.Serial)
        {
            ConfigNode s = node.Object("serial");
            serial = new SerialWheelConfig { Port = s.String("port"), BaudRate = (int)s.Integer("baud", 1200, 12_000_000) };
            if (serial.Port.Length == 0) throw s.Error("port", "must name a device, e.g. /dev/ttyACM0");
            s.EnsureNoUnknownKeys();
        }
        var config = new DiffDriveNodeConfig
        {
            File = node.File,
            RobotPath = robotPath,
            Robot = robot,
            RobotConfigJson = ConfigNode.LoadFile(robotPath).RawJson,
            RateHz = (float)node.Number("rate_hz", 0.1, 1000),
            Planner = node.Choice("planner", "policy", "dwa"),
            TaskPath = node.Has("task") ? Path.GetFullPath(Path.Combine(node.Directory, node.String("task"))) : null,
            Goal = goal,
            GoalToleranceM = (float)node.Number("goal_tolerance_m", 0.01, 10),
            Limits = safety,
            Transport = transport,
            Ros2 = node.Object("ros2"), // the sensors (and for transport ros2 /cmd_vel) travel on ROS 2 in both setups
            Serial = serial,
        };
        if (config.Planner == "dwa" && config.TaskPath is null)
            throw node.Error("task", "planner \"dwa\" needs the navigation task it plans for (e.g. \"../tasks/diffbot-nav.json\")");
        node.EnsureNoUnknownKeys();
        return config;
    }

    // The robot's limits are floats: 0.22f reads back as 0.2199999988, below the 0.22 the node config may repeat.
    static double Ceiling(float robotLimit) => robotLimit * (1 + 1e-6);
}
