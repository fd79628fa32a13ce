using RoboRl.Core.Configs;
using RoboRl.Core.DiffDrive;

namespace RoboRl.Core.Tasks;

/// <summary>
/// How maps are generated (the task file's "map" section): a square walled arena of side <see cref="Size"/> centred
/// on the origin, with a random number of circles and axis-aligned boxes inside; start and goal are drawn in free
/// space at least <see cref="Clearance"/> from every obstacle surface and wall, their distance in
/// <see cref="StartGoalDistance"/>.
/// </summary>
public sealed record NavMapConfig(
    float Size,
    (int Low, int High) Circles,
    (float Low, float High) CircleRadius,
    (int Low, int High) Boxes,
    (float Low, float High) BoxHalfSize,
    (float Low, float High) StartGoalDistance,
    float Clearance)
{
    public int MaxCircles => Circles.High;
    public int MaxBoxes => Boxes.High;

    public static NavMapConfig Read(ConfigNode node)
    {
        float size = (float)node.Number("size", 0.5, 1000);
        var circles = node.IntegerRange("circles", 0, 256);
        var circleRadius = node.Range("circle_radius", 0.01, 100);
        var boxes = node.IntegerRange("boxes", 0, 256);
        var boxHalfSize = node.Range("box_half_size", 0.01, 100);
        var distance = node.Range("start_goal_distance", 0, 1000);
        float clearance = (float)node.Number("clearance", 0, 100);
        node.EnsureNoUnknownKeys();
        if (distance.High > size * 1.4142f - 2 * clearance)
            throw node.Error("start_goal_distance", $"the upper bound {distance.High} does not fit in a {size} m arena with clearance {clearance}");
        return new NavMapConfig(size, ((int)circles.Low, (int)circles.High), ((float)circleRadius.Low, (float)circleRadius.High),
            ((int)boxes.Low, (int)boxes.High), ((float)boxHalfSize.Low, (float)boxHalfSize.High),
            ((float)distance.Low, (float)distance.High), clearance);
    }
}

/// <summary>
/// Reward of the navigation task: r = progress·(d_{t−1} − d_t) − time + goal·[reached] − collision·[collided]
/// − proximity·max(0, 1 − gap / proximity_margin_m) − reverse·max(0, −v / v_max) (d = distance to the goal, metres;
/// gap = clearance between the robot's outline and the nearest obstacle or wall; v = the robot's linear velocity).
/// The last two terms are off by default. Proximity is QuadSwarm's linear proximity penalty (Huang et al., ICRA 2024)
/// for a ground robot: it charges for driving close, not only for touching. Reverse charges for driving backwards.
/// </summary>
public readonly record struct NavReward(float Progress, float Goal, float Collision, float Time, float Proximity = 0, float ProximityMarginM = 0,
    float Reverse = 0)
{
    /// <summary>The proximity penalty at a gap (metres) between the robot's outline and the nearest obstacle.</summary>
    public float ProximityPenalty(float gap) =>
        Proximity == 0 ? 0f : Proximity * MathF.Max(0f, 1f - MathF.Max(gap, 0f) / ProximityMarginM);
}

/// <summary>
/// The goal-reaching task for a differential-drive robot with a lidar (configs/tasks/diffbot-nav.json). Observation
/// and action layouts are <see cref="NavObservation"/>'s; see docs/simulator.md, "Ground robot".
/// </summary>
public sealed record NavTaskConfig
{
    public required DiffDriveConfig Robot { get; init; }
    /// <summary>The robot file's JSON (comments dropped), for policy bundles.</summary>
    public string RobotConfigJson { get; init; } = "";
    public required float ControlFrequencyHz { get; init; }
    /// <summary>Integration steps per control step (motor lag and pose).</summary>
    public required int Substeps { get; init; }
    /// <summary>Truncation after this many control steps.</summary>
    public required int EpisodeSteps { get; init; }
    /// <summary>Bins of the min-pooled scan in the observation; divides the lidar's beam count.</summary>
    public required int ScanBins { get; init; }
    /// <summary>The goal counts as reached within this distance of the robot's centre, metres.</summary>
    public required float GoalRadius { get; init; }
    public required NavMapConfig Map { get; init; }
    public required NavReward Reward { get; init; }
    /// <summary>The optional "training" section, unread (the trainer binds it); null when absent.</summary>
    public ConfigNode? Training { get; init; }

    public float ControlDt => 1f / ControlFrequencyHz;
    public int ActorObservationSize => NavObservation.ActorSize(ScanBins);

    public static NavTaskConfig Load(string file) => Read(ConfigNode.LoadFile(file));

    /// <summary>True when the file is a navigation task (its "kind" is "navigation").</summary>
    public static bool IsNavigationTask(ConfigNode node) => TaskKinds.Of(node) == TaskKinds.Navigation;

    public static NavTaskConfig Read(ConfigNode node)
    {
        if (TaskKinds.Of(node) != TaskKinds.Navigation) node.Choice(TaskKinds.KindKey, TaskKinds.Navigation); // names the key and the expected value
        string robotPath = node.String("robot");
        string robotFile = Path.IsPathRooted(robotPath) ? robotPath : Path.Combine(node.Directory, robotPath);
        DiffDriveConfig robot = DiffDriveConfig.Load(robotFile);

        int bins = (int)node.Integer("scan_bins", 1, 4096);
        if (robot.Lidar.Beams % bins != 0)
            throw node.Error("scan_bins", $"must divide the lidar's {robot.Lidar.Beams} beams");

        ConfigNode reward = node.Object("reward");
        var rewardConfig = new NavReward(
            (float)reward.Number("progress", 0, 1e6),
            (float)reward.Number("goal", 0, 1e6),
            (float)reward.Number("collision", 0, 1e6),
            (float)reward.Number("time", 0, 1e6),
            reward.Has("proximity") ? (float)reward.Number("proximity", 0, 1e6) : 0f,
            reward.Has("proximity_margin_m") ? (float)reward.Number("proximity_margin_m", 1e-3, 10) : 0f,
            reward.Has("reverse") ? (float)reward.Number("reverse", 0, 1e6) : 0f);
        if (rewardConfig.Proximity > 0 && rewardConfig.ProximityMarginM == 0)
            throw new ConfigException(node.File, "$.reward.proximity_margin_m", "is required when $.reward.proximity is above 0 (the gap in metres at which the penalty starts)");
        reward.EnsureNoUnknownKeys();

        var config = new NavTaskConfig
        {
            Robot = robot,
            RobotConfigJson = ConfigNode.LoadFile(robotFile).RawJson,
            ControlFrequencyHz = (float)node.Number("control_frequency_hz", 1, 10000),
            Substeps = (int)node.Integer("substeps", 1, 100),
            EpisodeSteps = (int)node.Integer("episode_steps", 1, 1_000_000),
            ScanBins = bins,
            GoalRadius = (float)node.Number("goal_radius", 1e-3, 100),
            Map = NavMapConfig.Read(node.Object("map")),
            Reward = rewardConfig,
            Training = node.Has("training") ? node.Object("training") : null,
        };
        if (config.Map.Clearance < robot.RobotRadius)
            throw new ConfigException(node.File, "$.map.clearance", $"must be at least the robot radius ({robot.RobotRadius} m), or episodes start in collision");
        node.EnsureNoUnknownKeys();
        return config;
    }
}
