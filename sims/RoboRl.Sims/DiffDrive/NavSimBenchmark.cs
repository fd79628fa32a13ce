using RoboRl.Core.Tasks;
using RoboRl.Sims.Quadrotor;

namespace RoboRl.Sims.DiffDrive;

/// <summary>
/// Throughput of the navigation simulator in environment-steps per second: (a) dynamics only (the differential-drive
/// step with its substeps) and (b) the full task step (dynamics, collision, reward, 360-beam lidar with noise, both
/// observations, auto-reset). Shared by `roborl bench sim --robot diffbot` and the BenchmarkDotNet project.
/// </summary>
public static class NavSimBenchmark
{
    /// <summary>Fixed pseudo-random actions, mostly forward (a policy-like load: episodes end by collisions and timeouts).</summary>
    public static float[] MakeActions(int envs, int variants, int seed = 1)
    {
        var random = new System.Random(seed);
        var actions = new float[variants * envs * 2];
        for (int k = 0; k < actions.Length; k += 2)
        {
            actions[k] = 0.3f + 0.7f * (float)random.NextDouble();
            actions[k + 1] = (float)(random.NextDouble() * 2 - 1);
        }
        return actions;
    }

    /// <summary>Full task steps per second; best of <paramref name="repeats"/> runs of about <paramref name="seconds"/> in all.</summary>
    public static SimThroughput TaskStepsPerSecond(NavTaskConfig task, int envs, int threads, double seconds, int repeats = 3)
    {
        using var env = new NavEnv(task, envs, threads);
        const int variants = 8;
        float[] actions = MakeActions(envs, variants);
        env.Reset(42);
        int stride = envs * 2;
        long step = 0;
        // Each action variant is held for 10 steps so the robots drive somewhere rather than jitter in place.
        return SimBenchmark.BestOf(repeats, seconds, envs, () => env.Step(actions.AsSpan((int)(step++ / 10 % variants) * stride, stride)));
    }

    /// <summary>Dynamics-only steps per second (one control step of the drive per robot).</summary>
    public static SimThroughput DynamicsStepsPerSecond(NavTaskConfig task, int envs, int threads, double seconds, int repeats = 3)
    {
        var state = new float[6 * envs];
        using var pool = new WorkerPool(threads);
        var work = new DynamicsWork(task, state, envs);
        return SimBenchmark.BestOf(repeats, seconds, envs, () => pool.Run(work, envs, 256));
    }

    private sealed class DynamicsWork(NavTaskConfig task, float[] state, int envs) : IParallelWork
    {
        public void Execute(int begin, int end)
        {
            float dt = task.ControlDt;
            for (int i = begin; i < end; i++)
            {
                // State per robot: x, y, yaw, v, w, path; a command that differs per robot so the maths is not uniform.
                float commandV = 0.2f * ((i & 3) - 1.5f), commandW = 0.5f * ((i % 5) - 2f);
                DiffDriveKinematics.Step(task.Robot, commandV, commandW, dt, task.Substeps, 0.01f, -0.01f,
                    ref state[i], ref state[envs + i], ref state[2 * envs + i], ref state[3 * envs + i], ref state[4 * envs + i], ref state[5 * envs + i]);
            }
        }
    }
}
