using System.Diagnostics;
using RoboRl.Core.Tasks;

namespace RoboRl.Sims.Quadrotor;

/// <summary>One throughput figure of <see cref="SimBenchmark"/>.</summary>
public readonly record struct SimThroughput(string Workload, int Envs, int Threads, double StepsPerSecond);

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
    public static double TaskStepsPerSecond(HoverTaskConfig task, int envs, int threads, double seconds, int repeats = 3)
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
    public static double DynamicsStepsPerSecond(HoverTaskConfig task, int envs, int threads, double seconds, int repeats = 3)
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

    private static double BestOf(int repeats, double seconds, int envs, Action step)
    {
        for (int k = 0; k < 20; k++) step(); // warm-up (tiered JIT)
        double best = 0;
        for (int r = 0; r < repeats; r++)
        {
            long steps = 0;
            var clock = Stopwatch.StartNew();
            long limit = (long)(seconds / repeats * Stopwatch.Frequency);
            while (clock.ElapsedTicks < limit)
            {
                for (int k = 0; k < 16; k++) step();
                steps += 16;
            }
            best = Math.Max(best, steps * (double)envs / clock.Elapsed.TotalSeconds);
        }
        return best;
    }
}
