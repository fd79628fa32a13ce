namespace RoboRl.Sims.DiffDrive;

/// <summary>What a local planner sees of one robot at one control step (all views into the environment's buffers).</summary>
public readonly ref struct NavPlannerInput
{
    /// <summary>The actor observation row (<see cref="RoboRl.Core.Tasks.NavObservation"/> layout), what a learned policy sees.</summary>
    public ReadOnlySpan<float> Observation { get; init; }
    /// <summary>The full lidar scan (REP 117 values: +∞ no return, −∞ too close, NaN dropout), beam 0 straight ahead.</summary>
    public ReadOnlySpan<float> Scan { get; init; }
    /// <summary>Goal in the robot frame: distance (m) and bearing (rad, counter-clockwise from forward).</summary>
    public float GoalDistance { get; init; }
    public float GoalBearing { get; init; }
    /// <summary>Odometry: forward speed (m/s) and yaw rate (rad/s).</summary>
    public float LinearVelocity { get; init; }
    public float AngularVelocity { get; init; }
    /// <summary>Which robot this is (0 … robotCount − 1 of the last <see cref="INavPlanner.Reset"/>): planners with memory keep it per robot.</summary>
    public int Robot { get; init; }
}

/// <summary>
/// A local planner for the navigation task: maps one robot's input to an action (v, ω) normalised to [−1, 1] like
/// the environment's actions. The evaluator calls it for every robot and step on one thread.
/// </summary>
public interface INavPlanner
{
    /// <summary>Short name for reports ("dwa", "nav2like", "policy").</summary>
    string Name { get; }

    /// <summary>
    /// Starts a new episode for robots 0 … <paramref name="robotCount"/> − 1: a planner with memory (a map, a path) forgets
    /// it and sizes its per-robot state here, never in <see cref="Act"/>. Stateless planners need not implement it.
    /// </summary>
    void Reset(int robotCount) { }

    void Act(in NavPlannerInput input, Span<float> action);
}

/// <summary>The classical planners by the names `roborl eval --planner` takes, with their default tuning.</summary>
public static class NavPlanners
{
    /// <summary>"dwa": <see cref="DwaPlanner"/> alone; "nav2like": <see cref="Nav2LikePlanner"/> (costmap + A* + DWA).</summary>
    public static IReadOnlyList<string> Names { get; } = ["dwa", "nav2like"];

    public static INavPlanner Create(string name, RoboRl.Core.Tasks.NavTaskConfig task) => name switch
    {
        "dwa" => new DwaPlanner(task),
        "nav2like" => new Nav2LikePlanner(task),
        _ => throw new ArgumentException($"unknown planner '{name}'; expected one of: {string.Join(", ", Names)}", nameof(name)),
    };
}
