using System.Numerics;
using RoboRl.Core.Configs;

namespace RoboRl.Core.Swarm;

/// <summary>How the goals of one swarm episode are set and move (QuadSwarm's scenario list, arXiv 2309.13285).</summary>
public enum SwarmScenarioKind
{
    /// <summary>"static_same_goal": every quad has the same fixed goal point.</summary>
    StaticSameGoal,
    /// <summary>"static_different_goals": a fixed grid formation, one slot per quad.</summary>
    StaticDifferentGoals,
    /// <summary>"swap_goals": a grid formation whose slots are mirrored through its centre every period (quads cross).</summary>
    SwapGoals,
    /// <summary>"dynamic_goals": the formation's centre jumps to a new random point of the goal area every period.</summary>
    DynamicGoals,
    /// <summary>"random_bezier": the formation's centre follows random cubic Bézier curves, one per period.</summary>
    RandomBezier,
    /// <summary>"obstacles_random": each quad its own random goal (separated), fixed for the episode.</summary>
    ObstaclesRandom,
    /// <summary>"pursuit_evasion": the formation's centre is an evader on Bézier curves that end, each period, at the
    /// candidate point farthest from the swarm's centroid.</summary>
    PursuitEvasion,
}

/// <summary>An axis-aligned box of the room (world ENU, metres): centre ± half extent.</summary>
public readonly record struct SwarmBox(Vector3 Center, Vector3 HalfExtent)
{
    public Vector3 Min => Center - HalfExtent;
    public Vector3 Max => Center + HalfExtent;

    public static SwarmBox Read(ConfigNode node)
    {
        double[] c = node.Numbers("center", 3, -1000, 1000);
        double[] h = node.Numbers("half_extent", 3, 0, 1000);
        node.EnsureNoUnknownKeys();
        return new SwarmBox(new Vector3((float)c[0], (float)c[1], (float)c[2]), new Vector3((float)h[0], (float)h[1], (float)h[2]));
    }
}

/// <summary>
/// One scenario file (configs/swarm/scenarios/*.json, <c>"kind": "swarm_scenario"</c>): where the quads start, where
/// their goals are and how the goals move. Starts sit on a grid of <see cref="StartSeparationM"/> inside
/// <see cref="StartArea"/> (random slots); goals are a formation around a centre drawn in <see cref="GoalArea"/>. The
/// task that uses the scenario checks it against its room, obstacles and quad count (<see cref="SwarmTaskConfig"/>).
/// </summary>
public sealed record SwarmScenarioConfig
{
    public required string File { get; init; }
    public required SwarmScenarioKind Kind { get; init; }
    public required SwarmBox StartArea { get; init; }
    /// <summary>Spacing of the start slots, m (at least the collision distance: two arm lengths).</summary>
    public required float StartSeparationM { get; init; }
    public required SwarmBox GoalArea { get; init; }
    /// <summary>Spacing of the goal formation's grid (and the least distance between obstacles_random goals), m; 0 for static_same_goal.</summary>
    public required float GoalSpacingM { get; init; }
    /// <summary>Seconds between goal changes (swap, jump, Bézier segment); 0 for the static kinds.</summary>
    public required float PeriodS { get; init; }

    public static readonly IReadOnlyDictionary<string, SwarmScenarioKind> Names = new Dictionary<string, SwarmScenarioKind>
    {
        ["static_same_goal"] = SwarmScenarioKind.StaticSameGoal,
        ["static_different_goals"] = SwarmScenarioKind.StaticDifferentGoals,
        ["swap_goals"] = SwarmScenarioKind.SwapGoals,
        ["dynamic_goals"] = SwarmScenarioKind.DynamicGoals,
        ["random_bezier"] = SwarmScenarioKind.RandomBezier,
        ["obstacles_random"] = SwarmScenarioKind.ObstaclesRandom,
        ["pursuit_evasion"] = SwarmScenarioKind.PursuitEvasion,
    };

    public string Name => Names.First(p => p.Value == Kind).Key;

    /// <summary>True for the kinds whose goals change during the episode (they need a period).</summary>
    public bool Moves => Kind is SwarmScenarioKind.SwapGoals or SwarmScenarioKind.DynamicGoals or SwarmScenarioKind.RandomBezier or SwarmScenarioKind.PursuitEvasion;

    /// <summary>Half the side of the goal formation in x and y for <paramref name="quads"/> quads, m (0 for a point).</summary>
    public float FormationHalfSize(int quads) => Kind switch
    {
        SwarmScenarioKind.StaticSameGoal or SwarmScenarioKind.ObstaclesRandom => 0,
        _ => 0.5f * (FormationColumns(quads) - 1) * GoalSpacingM,
    };

    /// <summary>Columns of the square grid formation that holds <paramref name="quads"/> slots.</summary>
    public static int FormationColumns(int quads) => (int)MathF.Ceiling(MathF.Sqrt(quads));

    /// <summary>Grid slot <paramref name="slot"/> of the formation, relative to its centre (x, y; the formation is level).</summary>
    public Vector3 FormationOffset(int slot, int quads)
    {
        if (Kind is SwarmScenarioKind.StaticSameGoal or SwarmScenarioKind.ObstaclesRandom) return Vector3.Zero;
        int columns = FormationColumns(quads);
        int rows = (quads + columns - 1) / columns;
        float x = (slot % columns - 0.5f * (columns - 1)) * GoalSpacingM;
        float y = (slot / columns - 0.5f * (rows - 1)) * GoalSpacingM;
        return new Vector3(x, y, 0);
    }

    /// <summary>Start slots along one axis of the start area at the start separation.</summary>
    public int StartSlots(int axis) => 1 + (int)MathF.Floor(2 * Component(StartArea.HalfExtent, axis) / StartSeparationM + 1e-4f);

    /// <summary>All start slots (the most quads the start area holds).</summary>
    public long StartCapacity => (long)StartSlots(0) * StartSlots(1) * StartSlots(2);

    /// <summary>Separated goal slots in the goal area (obstacles_random).</summary>
    public long GoalCapacity => GoalSpacingM <= 0 ? 1 :
        (long)(1 + (int)MathF.Floor(2 * GoalArea.HalfExtent.X / GoalSpacingM + 1e-4f))
        * (1 + (int)MathF.Floor(2 * GoalArea.HalfExtent.Y / GoalSpacingM + 1e-4f))
        * (1 + (int)MathF.Floor(2 * GoalArea.HalfExtent.Z / GoalSpacingM + 1e-4f));

    internal static float Component(Vector3 v, int axis) => axis switch { 0 => v.X, 1 => v.Y, _ => v.Z };

    public static SwarmScenarioConfig Load(string file) => Read(ConfigNode.LoadFile(file));

    public static SwarmScenarioConfig Read(ConfigNode node)
    {
        if (node.String("kind") != "swarm_scenario")
            throw node.Error("kind", $"expected \"swarm_scenario\" in a scenario file, found \"{node.String("kind")}\"");
        string name = node.Choice("scenario", Names.Keys.ToArray());
        SwarmScenarioKind kind = Names[name];
        var config = new SwarmScenarioConfig
        {
            File = node.File,
            Kind = kind,
            StartArea = SwarmBox.Read(node.Object("start_area")),
            StartSeparationM = (float)node.Number("start_separation_m", 0.01, 10),
            GoalArea = SwarmBox.Read(node.Object("goal_area")),
            GoalSpacingM = kind == SwarmScenarioKind.StaticSameGoal ? 0 : (float)node.Number("goal_spacing_m", 0.01, 10),
            PeriodS = 0,
        };
        bool moves = config.Moves;
        if (moves) config = config with { PeriodS = (float)node.Number("period_s", 0.1, 1000) };
        else if (node.Has("period_s")) throw node.Error("period_s", $"\"{name}\" has static goals; period_s applies to swap_goals, dynamic_goals, random_bezier and pursuit_evasion");
        if (kind == SwarmScenarioKind.StaticSameGoal && node.Has("goal_spacing_m"))
            throw node.Error("goal_spacing_m", "static_same_goal gives every quad the same goal point; remove goal_spacing_m");
        node.EnsureNoUnknownKeys();
        return config;
    }
}
