using System.Numerics;
using RoboRl.Core.Configs;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Tasks;

namespace RoboRl.Core.Swarm;

/// <summary>The room: x and y in [−size/2, size/2], z in [0, size_z] (floor at 0), world ENU, metres.</summary>
public readonly record struct SwarmRoom(Vector3 SizeM)
{
    public Vector3 Min => new(-SizeM.X / 2, -SizeM.Y / 2, 0);
    public Vector3 Max => new(SizeM.X / 2, SizeM.Y / 2, SizeM.Z);
}

/// <summary>
/// Floor-to-ceiling columns of <see cref="DiameterM"/> on the centres of <see cref="CellM"/> cells of the central
/// <see cref="AreaM"/> of the room; round(<see cref="Density"/> · cells) cells hold one, drawn per episode (QuadSwarm:
/// 0.6 m columns on 1 m cells of the central 8 × 8 m, density 20 %).
/// </summary>
public readonly record struct SwarmObstacles(float Density, float DiameterM, float CellM, Vector2 AreaM, float SdfResolutionM, float SdfClipM)
{
    public float RadiusM => DiameterM / 2;
    public int CellsX => (int)MathF.Round(AreaM.X / CellM);
    public int CellsY => (int)MathF.Round(AreaM.Y / CellM);
    public int CellCount => CellsX * CellsY;
    /// <summary>Columns per episode.</summary>
    public int ColumnCount => (int)MathF.Round(Density * CellCount);
    /// <summary>Centre of cell (ix, iy), world x/y.</summary>
    public Vector2 CellCenter(int ix, int iy) => new((ix + 0.5f) * CellM - AreaM.X / 2, (iy + 0.5f) * CellM - AreaM.Y / 2);
}

/// <summary>Elastic contacts with noise (QuadSwarm's collision model, quad-swarm-rl gym_art/quadrotor_multi/collisions:
/// pair noise N(0, 0.8) m/s opposite on the two quads, independent noise N(0, 0.15) m/s, a random body-rate kick of
/// 10π–20π rad/s). Here the exchange conserves the pair's momentum for unequal masses, and a restitution drawn per
/// contact stands for QuadSwarm's random speed decay (×0.2–0.8).</summary>
public readonly record struct SwarmContactModel(float RestitutionLow, float RestitutionHigh, float PairNoiseStd, float IndependentNoiseStd,
    float RateKickLow, float RateKickHigh);

/// <summary>Reward weights per quad and step (QuadSwarm, arXiv 2309.13285, and quad-swarm-rl's defaults; sources in the task file).
/// r = dt·(alive − position·|p − goal| − velocity·|v| + precision·exp(−|p − goal|²/precision_radius²) − action·|f|
/// − body_rate·|ω| + upright·R₂₂) − s·collision·(new contacts)
/// − s·dt·Σ_neighbours proximity_max·max(0, 1 − d/(proximity_falloff_arms·arm)), s the annealing factor the trainer sets;
/// alive, velocity and precision (optional, default 0) are the hover task's constant, speed cost and precision bonus.</summary>
public readonly record struct SwarmRewardWeights(float Position, float Action, float BodyRate, float Upright, float Collision,
    float ProximityMax, float ProximityFalloffArms, long CollisionAnnealEnvSteps, float Alive = 0, float Velocity = 0, float Precision = 0, float PrecisionRadiusM = 0.1f)
{
    /// <summary>The collision-weight factor at <paramref name="globalStep"/> env steps: a linear ramp from 0 to 1 (QuadSwarm anneals over 3e8 steps).</summary>
    public float CollisionScaleAt(long globalStep) => CollisionAnnealEnvSteps <= 0 ? 1f : (float)Math.Min(1.0, globalStep / (double)CollisionAnnealEnvSteps);
}

/// <summary>A scenario file and its share of the episodes.</summary>
public sealed record SwarmScenarioShare(SwarmScenarioConfig Scenario, float Weight);

/// <summary>
/// A swarm task (configs/swarm/*.json, <c>"kind": "swarm"</c>): robot, quads per environment, neighbours observed, room,
/// obstacles, contacts, downwash, randomisation, reward, the training scenario mix, the held-out scenario mix and the
/// held-out seeds (never trained on). Every cross-field problem — overlapping starts or goals, goals outside the room or
/// where a column may stand, more quads than a start area holds — is refused naming the file and the field.
/// </summary>
public sealed record SwarmTaskConfig
{
    public const int MaxQuads = 32;
    public const int MaxNeighbours = 6;

    public required string File { get; init; }
    public required QuadrotorConfig Robot { get; init; }
    public string RobotConfigJson { get; init; } = "";
    public required int Quads { get; init; }
    /// <summary>K, the nearest neighbours each quad observes.</summary>
    public required int Neighbours { get; init; }
    /// <summary>Arm length (body centre to rotor), m: contact at 2 arm lengths, proximity penalty inside 4.</summary>
    public required float ArmLengthM { get; init; }
    /// <summary>H, the last actions each quad observes (0 = none; <see cref="SwarmObservation"/>).</summary>
    public int ActionHistoryLength { get; init; }
    /// <summary>Values in one quad's observation row.</summary>
    public int ObservationSize => SwarmObservation.Size(Neighbours, ActionHistoryLength);
    public required SwarmRoom Room { get; init; }
    public required SwarmObstacles Obstacles { get; init; }
    public required float ControlFrequencyHz { get; init; }
    public required int Substeps { get; init; }
    public required float EpisodeSeconds { get; init; }
    public required DomainRandomizationConfig DomainRandomization { get; init; }
    public required SwarmContactModel Contact { get; init; }
    public required bool Downwash { get; init; }
    /// <summary>Each body-rate component is clipped to ± this after every integration step, rad/s (QuadSwarm's omega_max).</summary>
    public required float BodyRateLimitRadS { get; init; }
    public required SwarmRewardWeights Reward { get; init; }
    public required IReadOnlyList<SwarmScenarioShare> Scenarios { get; init; }
    public required IReadOnlyList<SwarmScenarioShare> HeldOutScenarios { get; init; }
    /// <summary>Seeds reserved for held-out evaluation, inclusive; training refuses them (<see cref="CheckTrainingSeed"/>).</summary>
    public required (long First, long Last) HeldOutSeeds { get; init; }

    /// <summary>The "training" section (algorithm and hyperparameters; bound by the trainer), or null.</summary>
    public ConfigNode? Training { get; init; }

    /// <summary>True for a swarm task file (<c>"kind": "swarm"</c>).</summary>
    public static bool IsSwarmTask(ConfigNode node) => node.Has("kind") && node.String("kind") == "swarm";

    public float ControlDt => 1f / ControlFrequencyHz;
    public int EpisodeSteps => (int)MathF.Round(EpisodeSeconds * ControlFrequencyHz);
    public float CollisionDistanceM => 2 * ArmLengthM;

    /// <summary>Throws when <paramref name="seed"/> is one of the held-out seeds (a training run must never see them).</summary>
    public void CheckTrainingSeed(long seed)
    {
        if (seed >= HeldOutSeeds.First && seed <= HeldOutSeeds.Last)
            throw new ConfigException(File, "$.held_out.seeds", $"seed {seed} is held out for evaluation ([{HeldOutSeeds.First}, {HeldOutSeeds.Last}]); train with another seed");
    }

    public static SwarmTaskConfig Load(string file) => Read(ConfigNode.LoadFile(file));

    public static SwarmTaskConfig Read(ConfigNode node)
    {
        if (node.String("kind") != "swarm")
            throw node.Error("kind", $"expected \"swarm\" in a swarm task file, found \"{node.String("kind")}\"");
        string robotPath = node.String("robot");
        string robotFile = Path.IsPathRooted(robotPath) ? robotPath : Path.Combine(node.Directory, robotPath);
        QuadrotorConfig robot = QuadrotorConfig.Load(robotFile);
        int quads = (int)node.Integer("quads", 1, MaxQuads);
        int neighbours = (int)node.Integer("neighbours", 0, MaxNeighbours);
        if (neighbours > quads - 1)
            throw node.Error("neighbours", $"{neighbours} neighbours observed, but each quad has only {quads - 1} other quads (quads = {quads})");
        float arm = (float)node.Number("arm_length_m", 0.005, 1);
        float hub = robot.Rotors.Max(r => new Vector2(r.Position.X, r.Position.Y).Length());
        if (arm < hub)
            throw node.Error("arm_length_m", $"{arm} m is shorter than the robot's rotor hub radius {hub:G4} m ({robotPath}); the collision body must enclose the rotors");

        ConfigNode roomNode = node.Object("room");
        double[] size = roomNode.Numbers("size_m", 3, 0.5, 1000);
        roomNode.EnsureNoUnknownKeys();
        var room = new SwarmRoom(new Vector3((float)size[0], (float)size[1], (float)size[2]));

        ConfigNode o = node.Object("obstacles");
        double[] area = o.Numbers("area_m", 2, 0, 1000);
        var obstacles = new SwarmObstacles(
            (float)o.Number("density", 0, 1), (float)o.Number("diameter_m", 0.01, 10), (float)o.Number("cell_m", 0.05, 100),
            new Vector2((float)area[0], (float)area[1]), (float)o.Number("sdf_resolution_m", 0.01, 1), (float)o.Number("sdf_clip_m", 0.1, 100));
        o.EnsureNoUnknownKeys();
        if (obstacles.DiameterM >= obstacles.CellM) throw o.Error("diameter_m", $"{obstacles.DiameterM} m columns do not fit {obstacles.CellM} m cells");
        if (MathF.Abs(obstacles.CellsX * obstacles.CellM - obstacles.AreaM.X) > 1e-4f || MathF.Abs(obstacles.CellsY * obstacles.CellM - obstacles.AreaM.Y) > 1e-4f)
            throw o.Error("area_m", $"must be a whole number of {obstacles.CellM} m cells per side");
        if (obstacles.AreaM.X > room.SizeM.X || obstacles.AreaM.Y > room.SizeM.Y)
            throw o.Error("area_m", $"[{obstacles.AreaM.X}, {obstacles.AreaM.Y}] m does not fit the {room.SizeM.X} × {room.SizeM.Y} m room");
        if (obstacles.CellCount > 4096) throw o.Error("area_m", $"{obstacles.CellCount} cells; at most 4096");

        ConfigNode contactNode = node.Object("contact");
        var (rLow, rHigh) = contactNode.Range("restitution", 0, 1);
        var (kLow, kHigh) = contactNode.Range("rate_kick_rad_s", 0, 1000);
        var contact = new SwarmContactModel((float)rLow, (float)rHigh, (float)contactNode.Number("pair_noise_std_m_s", 0, 10),
            (float)contactNode.Number("independent_noise_std_m_s", 0, 10), (float)kLow, (float)kHigh);
        contactNode.EnsureNoUnknownKeys();

        DomainRandomizationConfig dr = DomainRandomizationConfig.Read(node.Object("domain_randomization"));
        if (dr.LatencySteps != (0, 0))
            throw new ConfigException(node.File, "$.domain_randomization.latency_steps", "the swarm simulator has no action latency yet; use [0, 0]");

        ConfigNode rewardNode = node.Object("reward");
        var reward = new SwarmRewardWeights(
            (float)rewardNode.Number("position", 0, 1000), (float)rewardNode.Number("action", 0, 1000),
            (float)rewardNode.Number("body_rate", 0, 1000), (float)rewardNode.Number("upright", 0, 1000),
            (float)rewardNode.Number("collision", 0, 1000), (float)rewardNode.Number("proximity_max", 0, 1000),
            (float)rewardNode.Number("proximity_falloff_arms", 0, 100), rewardNode.Integer("collision_anneal_env_steps", 0, long.MaxValue),
            rewardNode.Has("alive") ? (float)rewardNode.Number("alive", 0, 10000) : 0f,
            rewardNode.Has("velocity") ? (float)rewardNode.Number("velocity", 0, 1000) : 0f,
            rewardNode.Has("precision") ? (float)rewardNode.Number("precision", 0, 10000) : 0f,
            rewardNode.Has("precision_radius_m") ? (float)rewardNode.Number("precision_radius_m", 0.001, 10) : 0.1f);
        rewardNode.EnsureNoUnknownKeys();

        var config = new SwarmTaskConfig
        {
            File = node.File,
            Robot = robot,
            RobotConfigJson = ConfigNode.LoadFile(robotFile).RawJson,
            Quads = quads,
            Neighbours = neighbours,
            ArmLengthM = arm,
            ActionHistoryLength = node.Has("action_history_length") ? (int)node.Integer("action_history_length", 0, 64) : 0,
            Room = room,
            Obstacles = obstacles,
            ControlFrequencyHz = (float)node.Number("control_frequency_hz", 10, 10000),
            Substeps = (int)node.Integer("substeps", 1, 100),
            EpisodeSeconds = (float)node.Number("episode_seconds", 0.01, 3600),
            DomainRandomization = dr,
            Contact = contact,
            Downwash = node.Boolean("downwash"),
            BodyRateLimitRadS = (float)node.Number("body_rate_limit_rad_s", 1, 1e6),
            Reward = reward,
            Scenarios = [],
            HeldOutScenarios = [],
            HeldOutSeeds = (0, -1),
            Training = node.Has("training") ? node.Object("training") : null,
        };

        var scenarios = ReadMix(node, "scenarios", config);
        ConfigNode heldOut = node.Object("held_out");
        var heldOutScenarios = ReadMix(heldOut, "scenarios", config);
        var (first, last) = heldOut.IntegerRange("seeds", 0, long.MaxValue);
        heldOut.EnsureNoUnknownKeys();
        node.EnsureNoUnknownKeys();
        return config with { Scenarios = scenarios, HeldOutScenarios = heldOutScenarios, HeldOutSeeds = (first, last) };
    }

    /// <summary>Reads a mix: an array of { "file": scenario path (relative to this file), "weight": share }.</summary>
    private static List<SwarmScenarioShare> ReadMix(ConfigNode node, string key, SwarmTaskConfig task)
    {
        var mix = new List<SwarmScenarioShare>();
        foreach (ConfigNode item in node.Objects(key, 1, 32))
        {
            string path = item.String("file");
            string file = Path.IsPathRooted(path) ? path : Path.Combine(node.Directory, path);
            float weight = (float)item.Number("weight", 0, 1e6);
            item.EnsureNoUnknownKeys();
            SwarmScenarioConfig scenario = SwarmScenarioConfig.Load(file);
            CheckScenario(scenario, task);
            mix.Add(new SwarmScenarioShare(scenario, weight));
        }
        if (!(mix.Sum(s => s.Weight) > 0)) throw node.Error(key, "the weights must not all be 0");
        return mix;
    }

    /// <summary>Checks a scenario against the task: starts fit and do not overlap, goals are inside the room and clear of
    /// every cell where a column may stand (with obstacles on), and the start area holds the quads.</summary>
    public static void CheckScenario(SwarmScenarioConfig s, SwarmTaskConfig task)
    {
        ConfigException Error(string field, string problem) => new(s.File, "$." + field, problem);
        float contactDistance = task.CollisionDistanceM;
        if (s.StartSeparationM < contactDistance)
            throw Error("start_separation_m", $"{s.StartSeparationM} m puts starts in contact (overlapping starts): quads touch below 2 arm lengths = {contactDistance:G4} m ({task.File})");
        if (s.StartCapacity < task.Quads)
            throw Error("start_area", $"holds only {s.StartCapacity} quads {s.StartSeparationM} m apart, the task flies {task.Quads} ({task.File}): more quads than the room holds there; enlarge the area or lower the separation");
        CheckInsideRoom("start_area", s.StartArea.Min, s.StartArea.Max, "starts");

        Vector3 formation = new(s.FormationHalfSize(task.Quads), s.FormationHalfSize(task.Quads), 0);
        if (s.Kind != SwarmScenarioKind.StaticSameGoal && s.GoalSpacingM < contactDistance)
            throw Error("goal_spacing_m", $"{s.GoalSpacingM} m puts goals in contact (overlapping goals): quads touch below {contactDistance:G4} m");
        if (s.Kind == SwarmScenarioKind.ObstaclesRandom && s.GoalCapacity < task.Quads)
            throw Error("goal_area", $"holds only {s.GoalCapacity} goals {s.GoalSpacingM} m apart, the task flies {task.Quads} ({task.File})");
        Vector3 goalMin = s.GoalArea.Min - formation, goalMax = s.GoalArea.Max + formation;
        CheckInsideRoom("goal_area", goalMin, goalMax, "goals");

        if (task.Obstacles.ColumnCount > 0)
        {
            float clearance = task.Obstacles.RadiusM + task.ArmLengthM;
            if (NearestCell(task.Obstacles, s.StartArea.Min, s.StartArea.Max, clearance) is { } startCell)
                throw Error("start_area", $"reaches within {clearance:G3} m (column radius + arm) of the cell at ({startCell.X:G3}, {startCell.Y:G3}) where a column may stand ({task.File}, obstacles.density {task.Obstacles.Density}); keep starts outside the obstacle area");
            if (NearestCell(task.Obstacles, goalMin, goalMax, clearance) is { } goalCell)
                throw Error("goal_area", $"unreachable goals: the goals (with the formation) reach within {clearance:G3} m of the cell at ({goalCell.X:G3}, {goalCell.Y:G3}) where a column may stand ({task.File}, obstacles.density {task.Obstacles.Density}); keep goals outside the obstacle area");
        }

        void CheckInsideRoom(string field, Vector3 min, Vector3 max, string what)
        {
            Vector3 roomMin = task.Room.Min + new Vector3(task.ArmLengthM), roomMax = task.Room.Max - new Vector3(task.ArmLengthM);
            if (min.X < roomMin.X || min.Y < roomMin.Y || min.Z < roomMin.Z || max.X > roomMax.X || max.Y > roomMax.Y || max.Z > roomMax.Z)
                throw Error(field, $"{what} reach [{min.X:G4}, {min.Y:G4}, {min.Z:G4}]–[{max.X:G4}, {max.Y:G4}, {max.Z:G4}] m, outside the room less one arm length " +
                                   $"([{roomMin.X:G4}, {roomMin.Y:G4}, {roomMin.Z:G4}]–[{roomMax.X:G4}, {roomMax.Y:G4}, {roomMax.Z:G4}] m, {task.File}): unreachable");
        }
    }

    /// <summary>The centre of a cell whose column (grown by <paramref name="clearance"/>) would touch the box's x/y footprint, or null.</summary>
    private static Vector2? NearestCell(SwarmObstacles obstacles, Vector3 min, Vector3 max, float clearance)
    {
        for (int ix = 0; ix < obstacles.CellsX; ix++)
            for (int iy = 0; iy < obstacles.CellsY; iy++)
            {
                Vector2 c = obstacles.CellCenter(ix, iy);
                float dx = MathF.Max(0, MathF.Max(min.X - c.X, c.X - max.X));
                float dy = MathF.Max(0, MathF.Max(min.Y - c.Y, c.Y - max.Y));
                if (dx * dx + dy * dy < clearance * clearance) return c;
            }
        return null;
    }
}
