using System.Numerics;
using RoboRl.Core.Configs;
using RoboRl.Core.Swarm;

namespace RoboRl.Node;

/// <summary>One vehicle of a swarm node: its name (crazyswarm2's, from crazyflies.yaml: cf1 … cfN), where it starts and its goal.</summary>
public sealed record SwarmVehicle(string Name, Vector3 InitialPosition, Vector3 Goal);

/// <summary>
/// A swarm node's keys (configs/nodes/crazyflie-swarm8-sim.json): the node's "robot" is a swarm task file
/// (<c>"kind": "swarm"</c>, configs/swarm/*.json: robot, quads, neighbours, arm length, room, columns' size, physics);
/// here come the vehicles by name with their initial positions (crazyswarm2's <c>initial_position</c>) and goals, the
/// goal swap period (QuadSwarm's swap_goals: vehicle i and N−1−i trade goals every period), the known columns, and per
/// vehicle the quadrotor's geofence, limits and fallback. Every problem names the file and the field.
/// </summary>
public sealed record SwarmNodeSettings : ISwarmVehicleNames
{
    public required SwarmTaskConfig Task { get; init; }
    public required bool AutoArm { get; init; }
    public required IReadOnlyList<SwarmVehicle> Vehicles { get; init; }
    /// <summary>Vehicle i and N−1−i swap goals every this many seconds of flight; 0: goals stay.</summary>
    public required float SwapPeriodS { get; init; }
    /// <summary>A vehicle within this distance of its goal has reached it.</summary>
    public required float GoalToleranceM { get; init; }
    /// <summary>Column centres (x, y, world) of the room; diameter from the task's obstacles.</summary>
    public required IReadOnlyList<Vector2> Columns { get; init; }
    /// <summary>Every vehicle's geofence, supervisor limits and fallback (the quadrotor node's sections).</summary>
    public required Geofence Geofence { get; init; }
    public required SafetyLimits Limits { get; init; }
    public required FallbackConfig Fallback { get; init; }

    public int Count => Vehicles.Count;
    public IReadOnlyList<string> VehicleNames => Vehicles.Select(v => v.Name).ToList();

    public static SwarmNodeSettings Read(ConfigNode node, SwarmTaskConfig task, float rateHz)
    {
        if (Math.Abs(rateHz - task.ControlFrequencyHz) > 1e-3)
            throw node.Error("rate_hz", $"{rateHz} Hz; a swarm node ticks at its task's control rate ({task.ControlFrequencyHz} Hz, {task.File} field 'control_frequency_hz')");
        Geofence geofence = QuadrotorNodeSettings.ReadGeofence(node);
        SafetyLimits limits = QuadrotorNodeSettings.ReadLimits(node, geofence);
        FallbackConfig fallback = QuadrotorNodeSettings.ReadFallback(node);

        IReadOnlyList<ConfigNode> items = node.Objects("vehicles", 1, SwarmTaskConfig.MaxQuads);
        var vehicles = new List<SwarmVehicle>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < items.Count; i++)
        {
            ConfigNode v = items[i];
            string name = v.String("name");
            // ROS 2 names: a letter, then letters, digits, underscores (crazyswarm2 uses them as topic namespaces).
            if (name.Length == 0 || !char.IsAsciiLetter(name[0]) || !name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
                throw v.Error("name", $"\"{name}\" is not a ROS 2 name (a letter, then letters, digits or '_'), as crazyswarm2's crazyflies.yaml names robots (cf1, cf2, …)");
            if (seen.TryGetValue(name, out int earlier))
                throw v.Error("name", $"duplicate name \"{name}\": vehicle {earlier + 1} has it too; every vehicle needs its own (its topics are /{name}/…)");
            seen[name] = i;
            Vector3 start = QuadrotorNodeSettings.V(v.Numbers("initial_position", 3, -1e4, 1e4));
            Vector3 goal = QuadrotorNodeSettings.V(v.Numbers("goal", 3, -1e4, 1e4));
            v.EnsureNoUnknownKeys();
            if (geofence.Clamp(goal, limits.SetpointMarginM) != goal)
                throw v.Error("goal", $"{goal} is not inside the geofence shrunk by setpoint_margin_m ({limits.SetpointMarginM} m)");
            if (!geofence.Contains(start))
                throw v.Error("initial_position", $"{start} is outside the geofence ({geofence.Min} – {geofence.Max})");
            vehicles.Add(new SwarmVehicle(name, start, goal));
        }
        if (vehicles.Count != task.Quads)
            throw node.Error("vehicles", vehicles.Count < task.Quads
                ? $"names {vehicles.Count} vehicles, but the swarm task flies {task.Quads} ({task.File} field 'quads'): more vehicles than the node config's names"
                : $"names {vehicles.Count} vehicles, but the swarm task flies {task.Quads} ({task.File} field 'quads')");
        float contact = task.CollisionDistanceM;
        for (int i = 0; i < vehicles.Count; i++)
            for (int j = i + 1; j < vehicles.Count; j++)
                if (Vector3.Distance(vehicles[i].InitialPosition, vehicles[j].InitialPosition) < contact)
                    throw node.Error("vehicles", $"{vehicles[i].Name} and {vehicles[j].Name} start {Vector3.Distance(vehicles[i].InitialPosition, vehicles[j].InitialPosition):G3} m apart, in contact (< 2 arm lengths = {contact:G3} m)");

        var columns = new List<Vector2>();
        if (node.Has("columns"))
        {
            foreach (ConfigNode c in node.Objects("columns", 0, 4096))
            {
                double[] xy = c.Numbers("center_m", 2, -1e4, 1e4);
                c.EnsureNoUnknownKeys();
                columns.Add(new Vector2((float)xy[0], (float)xy[1]));
            }
            if (columns.Count > 0 && task.Obstacles.DiameterM <= 0)
                throw node.Error("columns", $"the task {task.File} gives columns no diameter");
        }

        return new SwarmNodeSettings
        {
            Task = task,
            AutoArm = node.Boolean("auto_arm"),
            Vehicles = vehicles,
            SwapPeriodS = node.Has("swap_period_s") ? (float)node.Number("swap_period_s", 0, 3600) : 0,
            GoalToleranceM = node.Has("goal_tolerance_m") ? (float)node.Number("goal_tolerance_m", 0.01, 10) : 0.2f,
            Columns = columns,
            Geofence = geofence,
            Limits = limits,
            Fallback = fallback,
        };
    }
}

/// <summary>The "sim" section for a swarm: the seed of the simulated swarm, and lock-step or real time.</summary>
public sealed record SwarmSimConfig(ulong Seed, bool LockStep)
{
    public static SwarmSimConfig Read(ConfigNode s)
    {
        var config = new SwarmSimConfig((ulong)s.Integer("seed", 0, long.MaxValue), s.Has("lock_step") && s.Boolean("lock_step"));
        s.EnsureNoUnknownKeys();
        return config;
    }
}
