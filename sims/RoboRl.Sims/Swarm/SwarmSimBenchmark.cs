using RoboRl.Core.Swarm;
using RoboRl.Sims.Quadrotor;

namespace RoboRl.Sims.Swarm;

/// <summary>
/// Throughput of the swarm simulator in quad-steps per second (one quad advanced one control step, with downwash,
/// contacts, neighbours, the SDF, observation and reward — everything <see cref="SwarmEnv.Step"/> does), on one core and
/// on all cores: issue 18's `roborl bench sim --robot swarm --json` keys. The CLI only parses options and prints.
/// </summary>
public static class SwarmSimBenchmark
{
    public const string DefaultTask = "configs/swarm/crazyflie-swarm8.json";

    /// <summary>Quad-steps per second of <paramref name="environments"/> environments on <paramref name="threads"/> threads;
    /// best of <paramref name="repeats"/> runs of about <paramref name="seconds"/> in all.</summary>
    public static SimThroughput QuadStepsPerSecond(SwarmTaskConfig task, int environments, int threads, double seconds, int repeats = 3)
    {
        using var env = new SwarmEnv(task, environments, threads);
        // Fixed pseudo-random actions around hover, each held for 10 steps so the quads fly somewhere (a policy-like load).
        const int variants = 8;
        var random = new System.Random(1);
        float hover = task.Robot.HoverAction();
        int stride = env.NumEnvs * env.ActionSize;
        var actions = new float[variants * stride];
        for (int k = 0; k < actions.Length; k++) actions[k] = hover + 0.3f * (float)(random.NextDouble() * 2 - 1);
        env.Reset(42);
        long step = 0;
        SimThroughput envSteps = SimBenchmark.BestOf(repeats, seconds, environments, () => env.Step(actions.AsSpan((int)(step++ / 10 % variants) * stride, stride)));
        return envSteps with { StepsPerSecond = envSteps.StepsPerSecond * task.Quads };
    }

    /// <summary>The figures issue 18 asks for, as one JSON-ready dictionary.</summary>
    public static Dictionary<string, object> Measure(SwarmTaskConfig task, int environments, double seconds, TextWriter progress)
    {
        int cores = Environment.ProcessorCount;
        progress.WriteLine($"[1/2] swarm step, {environments} envs x {task.Quads} quads, 1 thread");
        SimThroughput one = QuadStepsPerSecond(task, environments, 1, seconds);
        progress.WriteLine($"[2/2] swarm step, {environments} envs x {task.Quads} quads, {cores} threads");
        SimThroughput all = QuadStepsPerSecond(task, environments, cores, seconds);
        progress.WriteLine($"bench sim (swarm): {environments} envs x {task.Quads} quads, K = {task.Neighbours}, column density {task.Obstacles.Density}: " +
                           $"{one.StepsPerSecond / 1e6:F2} M quad-steps/s on 1 core, {all.StepsPerSecond / 1e6:F2} M/s on {cores} cores ({all.CoresUsed:F2} cores used)");
        return new Dictionary<string, object>
        {
            ["quad_steps_per_s_1core"] = Math.Round(one.StepsPerSecond),
            ["quad_steps_per_s_allcores"] = Math.Round(all.StepsPerSecond),
            ["quads_per_env"] = task.Quads,
            ["robot"] = "swarm",
            ["envs"] = environments,
            ["neighbours"] = task.Neighbours,
            ["obstacle_density"] = task.Obstacles.Density,
            ["downwash"] = task.Downwash,
            ["cores"] = cores,
            ["ns_per_quad_step_1core"] = Math.Round(1e9 / one.StepsPerSecond, 1),
            // CPU seconds per wall second during the all-cores run: below `cores` means other processes held the cores.
            ["allcores_cores_used"] = Math.Round(all.CoresUsed, 2),
            ["measurement_s"] = seconds,
        };
    }
}
