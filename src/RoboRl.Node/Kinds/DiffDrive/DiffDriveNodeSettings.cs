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
    /// <summary>This many overrun ticks in a row stop the robot.</summary>
    public required int OverrunStreak { get; init; }
}

/// <summary>
/// What a ground robot's node config sets besides the common keys (<see cref="NodeConfig"/>; configs/nodes/diffbot-*.json):
/// the planner, an initial goal, the goal tolerance and the limits.
/// </summary>
public sealed record DiffDriveNodeSettings
{
    public required DiffDriveConfig Robot { get; init; }
    /// <summary>"policy" (the bundle) or "dwa" (the classical planner, for comparison and bring-up; needs <see cref="TaskPath"/>).</summary>
    public required string Planner { get; init; }
    /// <summary>Absolute path of the navigation task whose observation and control period a classical planner uses (key "task"), or null.</summary>
    public string? TaskPath { get; init; }
    /// <summary>A goal to drive to before any goal arrives (odometry frame, m), or null to wait for one.</summary>
    public (float X, float Y)? Goal { get; init; }
    /// <summary>The goal counts as reached (the robot stops and waits for the next) within this distance, m.</summary>
    public required float GoalToleranceM { get; init; }
    public required DiffDriveLimits Limits { get; init; }

    public static DiffDriveNodeSettings Read(ConfigNode node, DiffDriveConfig robot)
    {
        ConfigNode limits = node.Object("limits");
        var safety = new DiffDriveLimits
        {
            MaxLinearVelocityMS = (float)limits.Number("max_linear_velocity_m_s", 0, Ceiling(robot.MaxLinearVelocity)),
            MaxAngularVelocityRadS = (float)limits.Number("max_angular_velocity_rad_s", 0, Ceiling(robot.MaxAngularVelocity)),
            MinObstacleDistanceM = (float)limits.Number("min_obstacle_distance_m", 0, robot.Lidar.RangeMax),
            ScanTimeoutS = (float)limits.Number("scan_timeout_ms", 1, 60_000) / 1000f,
            OdometryTimeoutS = (float)limits.Number("odom_timeout_ms", 1, 60_000) / 1000f,
            OverrunStreak = (int)limits.Integer("overrun_streak", 1, 100_000),
        };
        limits.EnsureNoUnknownKeys();

        (float, float)? goal = null;
        if (node.Has("goal"))
        {
            double[] g = node.Numbers("goal", 2, -1e4, 1e4);
            goal = ((float)g[0], (float)g[1]);
        }
        var settings = new DiffDriveNodeSettings
        {
            Robot = robot,
            Planner = node.Choice("planner", "policy", "dwa"),
            TaskPath = node.Has("task") ? Path.GetFullPath(Path.Combine(node.Directory, node.String("task"))) : null,
            Goal = goal,
            GoalToleranceM = (float)node.Number("goal_tolerance_m", 0.01, 10),
            Limits = safety,
        };
        if (settings.Planner == "dwa" && settings.TaskPath is null)
            throw node.Error("task", "planner \"dwa\" needs the navigation task it plans for (e.g. \"../tasks/diffbot-nav.json\")");
        return settings;
    }

    // The robot's limits are floats: 0.22f reads back as 0.2199999988, below the 0.22 the node config may repeat.
    static double Ceiling(float robotLimit) => robotLimit * (1 + 1e-6);
}
