using System.Diagnostics;
using RoboRl.Core.Tasks;

namespace RoboRl.Sims.Quadrotor;

/// <summary>
/// One throughput figure: env-steps per wall-clock second, and the CPU time the process used per wall-clock
/// second meanwhile (≈ the thread count on an idle machine; less when other processes hold the cores).
/// </summary>
public readonly record struct SimThroughput(double StepsPerSecond, double CoresUsed);

/// <summary>
/// Measures simulator throughput in environment-steps per second: (a) dynamics only (RK4 with motor lag)
/// and (b) the full task step (actions, history, latency, dynamics, reward, termination, noise, both
/// observations, auto-reset). Shared by `roborl bench sim` and the BenchmarkDotNet project.
/// </summary>
public static class SimBenchmark
{
    /// <summary>Fixed pseudo-random actions around hover (a policy-like load: some episodes end early).</summary>
    public static float[] MakeActions(HoverTaskConfig task, int envs, int variants, int seed = 1)
    {
        var random = new System.Random(seed);
        float hover = task.Robot.HoverAction();
        var actions = new float[variants * envs * 4];
        for (int k = 0; k < actions.Length; k++) actions[k] = hover + 0.2f * (float)(random.NextDouble() * 2 - 1);
        return actions;
    }

    /// <summary>Full task steps per second on <paramref name="threads"/> threads; best of <paramref name="repeats"/> runs of about <paramref name="seconds"/> each.</summary>
    public static SimThroughput TaskStepsPerSecond(HoverTaskConfig task, int envs, int threads, double seconds, int repeats = 3)
    {
        using var env = new HoverEnv(task, envs, threads);
        const int variants = 8;
        float[] actions = MakeActions(task, envs, variants);
        env.Reset(42);
        int stride = envs * 4;
        long step = 0;
        return BestOf(repeats, seconds, envs, () => env.Step(actions.AsSpan((int)(step++ % variants) * stride, stride)));
    }

    /// <summary>Dynamics-only steps per second (one control step of RK4 with motor lag per vehicle).</summary>
    public static SimThroughput DynamicsStepsPerSecond(HoverTaskConfig task, int envs, int threads, double seconds, int repeats = 3)
    {
        var batch = new QuadrotorBatch(task.Robot, envs);
        float hover = task.Robot.HoverRpm();
        for (int i = 0; i < batch.PaddedCount; i++)
        {
            batch.SetPose(i, task.TargetPosition, System.Numerics.Quaternion.Identity);
            batch.SetRotors(i, hover);
            batch.CommandRpm[i % 4][i] = hover * 1.01f; // a little torque so the maths is not trivial
        }
        using var pool = new WorkerPool(threads);
        var work = new IntegrateWork(batch, task.ControlDt, task.Substeps);
        return BestOf(repeats, seconds, envs, () => pool.Run(work, batch.BlockCount, 16));
    }

    private sealed class IntegrateWork(QuadrotorBatch batch, float dt, int substeps) : IParallelWork
    {
        public void Execute(int begin, int end)
        {
            for (int b = begin; b < end; b++) batch.IntegrateBlock(b, dt, substeps);
        }
    }

    /// <summary>Best steps-per-second of <paramref name="repeats"/> timed runs of <paramref name="step"/> (after a warm-up); shared with the navigation benchmark.</summary>
    public static SimThroughput BestOf(int repeats, double seconds, int envs, Action step)
    {
        for (int k = 0; k < 20; k++) step(); // warm-up (tiered JIT)
        var best = new SimThroughput(0, 0);
        using Process process = Process.GetCurrentProcess();
        for (int r = 0; r < repeats; r++)
        {
            long steps = 0;
            process.Refresh();
            TimeSpan cpuStart = process.TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            long limit = (long)(seconds / repeats * Stopwatch.Frequency);
            while (clock.ElapsedTicks < limit)
            {
                for (int k = 0; k < 16; k++) step();
                steps += 16;
            }
            double wall = clock.Elapsed.TotalSeconds;
            process.Refresh();
            double cpu = (process.TotalProcessorTime - cpuStart).TotalSeconds;
            double rate = steps * (double)envs / wall;
            if (rate > best.StepsPerSecond) best = new SimThroughput(rate, cpu / wall);
        }
        return best;
    }
}
