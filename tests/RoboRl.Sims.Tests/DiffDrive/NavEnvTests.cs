using System.Text.Json.Nodes;
using RoboRl.Core.Tasks;
using RoboRl.Sims.DiffDrive;

namespace RoboRl.Sims.Tests.DiffDrive;

public class NavEnvTests
{
    internal static string TaskFile => RepoFiles.Path("configs/tasks/diffbot-nav.json");

    internal static NavTaskConfig Task(Action<JsonObject>? edit = null)
        => edit == null ? NavTaskConfig.Load(TaskFile) : NavTaskConfig.Load(RepoFiles.EditedCopy(TaskFile, edit));

    /// <summary>Deterministic actions depending only on (environment, step), slightly beyond [−1, 1] so some are clamped.</summary>
    internal static void FillActions(Span<float> actions, int envs, int step)
    {
        for (int i = 0; i < envs; i++)
            for (int m = 0; m < 2; m++)
            {
                uint h = (uint)(i * 73856093) ^ (uint)(step / 7 * 19349663) ^ (uint)(m * 83492791);
                h ^= h >> 13; h *= 0x5bd1e995; h ^= h >> 15;
                actions[i * 2 + m] = 1.1f * ((h & 0xFFFF) / 32768f - 1f) + (m == 0 ? 0.5f : 0f);
            }
    }

    [Test]
    public void SizesFollowTheTask()
    {
        using var env = new NavEnv(Task(), 5, 1);
        env.Reset(1);
        Assert.That(env.ActionSize, Is.EqualTo(2));
        Assert.That(env.ActorObservationSize, Is.EqualTo(36 + 3 + 2 + 2));
        Assert.That(env.CriticObservationSize, Is.EqualTo(env.ActorObservationSize));
        Assert.That(env.ActorObservations.Length, Is.EqualTo(5 * 43));
        Assert.That(env.Scan(0).Length, Is.EqualTo(360));
    }

    [Test]
    public void StepsRunAndEpisodesFinish()
    {
        using var env = new NavEnv(Task(), 16, 1);
        env.Reset(3);
        var actions = new float[32];
        var outcomes = new Dictionary<NavOutcome, int>();
        for (int t = 0; t < 700; t++)
        {
            FillActions(actions, 16, t);
            env.Step(actions);
            for (int i = 0; i < 16; i++)
                if (env.Terminated[i] || env.Truncated[i])
                    outcomes[env.FinishedEpisodeOutcomes[i]] = outcomes.GetValueOrDefault(env.FinishedEpisodeOutcomes[i]) + 1;
            foreach (float o in env.ActorObservations) Assert.That(float.IsFinite(o), Is.True, $"step {t}");
        }
        TestContext.Out.WriteLine(string.Join(", ", outcomes.Select(kv => $"{kv.Key}: {kv.Value}")));
        Assert.That(env.CompletedEpisodes, Is.GreaterThan(0));
        Assert.That(outcomes.GetValueOrDefault(NavOutcome.Collision), Is.GreaterThan(0), "random driving hits things");
    }
}

public class NavEnvBehaviourTests
{
    private static NavTaskConfig Task(Action<System.Text.Json.Nodes.JsonObject>? edit = null) => NavEnvTests.Task(edit);

    private static void EmptyMaps(System.Text.Json.Nodes.JsonObject o)
    {
        o["map"]!["circles"] = new System.Text.Json.Nodes.JsonArray(0, 0);
        o["map"]!["boxes"] = new System.Text.Json.Nodes.JsonArray(0, 0);
    }

    private static int Bits(float f) => BitConverter.SingleToInt32Bits(f);

    [Test]
    public void BitIdenticalForAnyThreadCountAndBatchSize()
    {
        NavTaskConfig task = Task();
        using var one = new NavEnv(task, 13, 1);
        using var two = new NavEnv(task, 13, 2, minEnvsPerThread: 1);
        using var small = new NavEnv(task, 5, 1);
        one.Reset(77); two.Reset(77); small.Reset(77);
        var actions = new float[26];
        for (int t = 0; t < 400; t++)
        {
            NavEnvTests.FillActions(actions, 13, t);
            one.Step(actions); two.Step(actions); small.Step(actions.AsSpan(0, 10));
            for (int k = 0; k < one.ActorObservations.Length; k++)
            {
                Assert.That(Bits(two.ActorObservations[k]), Is.EqualTo(Bits(one.ActorObservations[k])), $"step {t}, value {k}");
                Assert.That(Bits(two.CriticObservations[k]), Is.EqualTo(Bits(one.CriticObservations[k])));
            }
            for (int k = 0; k < small.ActorObservations.Length; k++)
                Assert.That(Bits(small.ActorObservations[k]), Is.EqualTo(Bits(one.ActorObservations[k])), $"N = 5 vs 13, step {t}, value {k}");
            for (int i = 0; i < 13; i++)
            {
                Assert.That(Bits(two.Rewards[i]), Is.EqualTo(Bits(one.Rewards[i])));
                Assert.That(two.Terminated[i], Is.EqualTo(one.Terminated[i]));
            }
        }
        Assert.That(one.CompletedEpisodes, Is.GreaterThan(5));
        Assert.That(two.CompletedEpisodes, Is.EqualTo(one.CompletedEpisodes));
        // Another seed, other scenarios.
        one.Reset(77);
        using var other = new NavEnv(task, 13, 1);
        other.Reset(78);
        Assert.That(other.Maps.Seed[0], Is.Not.EqualTo(one.Maps.Seed[0]));
        Assert.That(other.X(0), Is.Not.EqualTo(one.X(0)));
    }

    [Test]
    public void StepAllocatesNothing()
    {
        using var env = new NavEnv(Task(), 32, 1);
        env.Reset(1);
        var actions = new float[64];
        for (int t = 0; t < 200; t++) { NavEnvTests.FillActions(actions, 32, t); env.Step(actions); }
        long episodes = env.CompletedEpisodes;
        int step = 200;
        Assert.That(AllocationMeter.FewestBytes(() => { for (int end = step + 1000; step < end; step++) { NavEnvTests.FillActions(actions, 32, step); env.Step(actions); } }), Is.EqualTo(0));
        Assert.That(env.CompletedEpisodes, Is.GreaterThan(episodes), "auto-resets (map generation) happened inside the measured steps");
    }

    [Test]
    public void ObservationsAreTheCoreBuilderOnTheEnvState()
    {
        NavTaskConfig task = Task();
        using var env = new NavEnv(task, 7, 1);
        env.Reset(9);
        var actions = new float[14];
        var expected = new float[env.ActorObservationSize];
        var lidar = task.Robot.Lidar;
        for (int t = 0; t < 50; t++)
        {
            NavEnvTests.FillActions(actions, 7, t);
            env.Step(actions);
            for (int i = 0; i < 7; i++)
            {
                float previousV = env.EpisodeLength(i) == 0 ? 0 : Math.Clamp(actions[2 * i], -1, 1);
                float previousW = env.EpisodeLength(i) == 0 ? 0 : Math.Clamp(actions[2 * i + 1], -1, 1);
                NavObservation.Build(env.Scan(i), lidar.RangeMin, lidar.RangeMax, task.ScanBins, env.X(i), env.Y(i), env.Yaw(i),
                    env.Maps.GoalX[i], env.Maps.GoalY[i], env.LinearVelocity(i), env.AngularVelocity(i),
                    task.Robot.MaxLinearVelocity, task.Robot.MaxAngularVelocity, previousV, previousW, expected);
                Assert.That(env.ActorObservations.Slice(i * expected.Length, expected.Length).ToArray(), Is.EqualTo(expected), $"step {t}, env {i}");
                NavObservation.Build(env.CleanScan(i), lidar.RangeMin, lidar.RangeMax, task.ScanBins, env.X(i), env.Y(i), env.Yaw(i),
                    env.Maps.GoalX[i], env.Maps.GoalY[i], env.LinearVelocity(i), env.AngularVelocity(i),
                    task.Robot.MaxLinearVelocity, task.Robot.MaxAngularVelocity, previousV, previousW, expected);
                Assert.That(env.CriticObservations.Slice(i * expected.Length, expected.Length).ToArray(), Is.EqualTo(expected));
            }
        }
    }

    [Test]
    public void ScanNoiseAndDropoutsMatchTheConfig()
    {
        NavTaskConfig task = Task();
        using var env = new NavEnv(task, 64, 1);
        env.Reset(4);
        var lidar = task.Robot.Lidar;
        double sumZ = 0, sumZ2 = 0;
        long valid = 0, dropped = 0, total = 0;
        var actions = new float[128];
        for (int t = 0; t < 20; t++)
        {
            env.Step(actions);
            for (int i = 0; i < 64; i++)
            {
                ReadOnlySpan<float> noisy = env.Scan(i), clean = env.CleanScan(i);
                for (int k = 0; k < noisy.Length; k++)
                {
                    total++;
                    if (float.IsNaN(noisy[k])) { dropped++; continue; }
                    if (!float.IsFinite(noisy[k]) || !float.IsFinite(clean[k])) continue;
                    double z = (noisy[k] - clean[k]) / (lidar.NoiseStd + lidar.NoiseFraction * clean[k]);
                    sumZ += z; sumZ2 += z * z; valid++;
                }
            }
        }
        double mean = sumZ / valid, std = Math.Sqrt(sumZ2 / valid - mean * mean);
        Assert.That(valid, Is.GreaterThan(100_000));
        Assert.That(mean, Is.EqualTo(0).Within(0.02));
        Assert.That(std, Is.EqualTo(1).Within(0.03), "range noise std = noise_std + noise_fraction·range");
        Assert.That(dropped / (double)total, Is.EqualTo(lidar.DropoutProbability).Within(0.002));
    }

    [Test]
    public void DrivingIntoAWallCollidesTerminatesAndRestarts()
    {
        NavTaskConfig task = Task(EmptyMaps);
        using var env = new NavEnv(task, 1, 1);
        env.Reset(2);
        float[] forward = [1, 0];
        int collisions = 0;
        // Straight ahead in an empty arena ends at a wall unless the goal happens to lie on the way; check every wall hit.
        for (int episode = 0; episode < 10; episode++)
        {
            ulong scenario = env.Maps.Seed[0];
            int steps = 0;
            do { env.Step(forward); steps++; } while (!env.Terminated[0] && !env.Truncated[0]);
            if (env.FinishedEpisodeOutcomes[0] != NavOutcome.Collision) continue;
            collisions++;
            Assert.That(env.Terminated[0], Is.True);
            Assert.That(env.Rewards[0], Is.LessThan(-task.Reward.Collision + 1));
            // The final (noiseless) observation shows the wall within a robot radius of the lidar (1° beams: + 0.1 %),
            // or at range_min (0.12 m), the closest the observation reports.
            float nearest = env.FinalCriticObservations[..task.ScanBins].ToArray().Min() * task.Robot.Lidar.RangeMax;
            Assert.That(nearest, Is.LessThanOrEqualTo(MathF.Max(task.Robot.RobotRadius * 1.001f, task.Robot.Lidar.RangeMin) + 1e-6f));
            Assert.That(env.Maps.Seed[0], Is.Not.EqualTo(scenario), "auto-reset into a new scenario");
            Assert.That(env.EpisodeLength(0), Is.EqualTo(0));
            Assert.That(env.FinishedEpisodeLengths[0], Is.EqualTo(steps));
            Assert.That(env.FinishedPathLengths[0], Is.GreaterThan(0.1f));
        }
        Assert.That(collisions, Is.GreaterThan(5));
    }

    [Test]
    public void ProximityAndReverseTermsChargeTheirFormulaAndNothingElse()
    {
        // The same seed and actions with and without the two terms: identical motion, rewards apart by exactly
        // proximity·max(0, 1 − gap/margin) + reverse·max(0, −v/v_max), gap from the map's exact clearance.
        NavTaskConfig plain = Task(o => { EmptyMaps(o); o["reward"]!["proximity"] = 0; o["reward"]!["reverse"] = 0; });
        NavTaskConfig shaped = Task(o => { EmptyMaps(o); o["reward"]!["proximity"] = 2.0; o["reward"]!["proximity_margin_m"] = 0.25; o["reward"]!["reverse"] = 0.5; });
        Assert.That(plain.Reward.ProximityPenalty(0.01f), Is.Zero);
        using var a = new NavEnv(plain, 4, 1);
        using var b = new NavEnv(shaped, 4, 1);
        a.Reset(3); b.Reset(3);
        float[] actions = new float[8];
        int charged = 0, reversing = 0, near = 0;
        for (int step = 0; step < 400; step++)
        {
            for (int i = 0; i < 4; i++) { actions[2 * i] = (step / 40 + i) % 2 == 0 ? 1f : -1f; actions[2 * i + 1] = 0.1f * i; }
            a.Step(actions); b.Step(actions);
            for (int i = 0; i < 4; i++)
            {
                Assert.That((a.X(i), a.Y(i), a.LinearVelocity(i)), Is.EqualTo((b.X(i), b.Y(i), b.LinearVelocity(i))), "the terms do not change the motion");
                if (a.Terminated[i] || a.Truncated[i]) continue; // the pose is already the next episode's
                float gap = b.Maps.Clearance(i, b.X(i), b.Y(i)) - shaped.Robot.RobotRadius;
                float v = b.LinearVelocity(i);
                float expected = 2.0f * MathF.Max(0f, 1f - gap / 0.25f) + 0.5f * MathF.Max(0f, -v / shaped.Robot.MaxLinearVelocity);
                Assert.That(a.Rewards[i] - b.Rewards[i], Is.EqualTo(expected).Within(1e-4f), $"step {step}, env {i}: gap {gap}, v {v}");
                if (expected > 0) charged++;
                if (v < 0) reversing++;
                if (gap < 0.25f) near++;
            }
        }
        Assert.That(reversing, Is.GreaterThan(50), "the reverse term was exercised");
        Assert.That(near, Is.GreaterThan(20), "the proximity term was exercised");
        Assert.That(charged, Is.GreaterThan(70));
    }

    [Test]
    public void SteeringToTheGoalReachesIt()
    {
        NavTaskConfig task = Task(EmptyMaps);
        const int n = 20;
        using var env = new NavEnv(task, n, 1);
        env.Reset(11);
        var actions = new float[2 * n];
        var outcome = new NavOutcome[n];
        var returns = new float[n];
        var pathLength = new float[n];
        var straight = new float[n];
        for (int i = 0; i < n; i++) straight[i] = env.GoalDistance(i);
        int goalOffset = NavObservation.GoalOffset(task.ScanBins);
        for (int t = 0; t < 600 && outcome.Contains(NavOutcome.None); t++)
        {
            for (int i = 0; i < n; i++)
            {
                // Turn towards the goal; drive when roughly facing it.
                ReadOnlySpan<float> o = env.ActorObservations.Slice(i * env.ActorObservationSize, env.ActorObservationSize);
                float bearing = MathF.Atan2(o[goalOffset + 1], o[goalOffset + 2]);
                actions[2 * i] = MathF.Abs(bearing) < 0.5f ? 1 : 0;
                actions[2 * i + 1] = Math.Clamp(2 * bearing, -1, 1);
            }
            env.Step(actions);
            for (int i = 0; i < n; i++)
                if ((env.Terminated[i] || env.Truncated[i]) && outcome[i] == NavOutcome.None)
                {
                    outcome[i] = env.FinishedEpisodeOutcomes[i];
                    returns[i] = env.FinishedEpisodeReturns[i];
                    pathLength[i] = env.FinishedPathLengths[i];
                }
        }
        for (int i = 0; i < n; i++)
        {
            Assert.That(outcome[i], Is.EqualTo(NavOutcome.Goal), $"env {i}");
            Assert.That(pathLength[i], Is.GreaterThan(straight[i] - task.GoalRadius - 1e-3f));
            // Return = progress·(d0 − d_end) + goal − time·steps: positive and near progress·d0 + goal.
            Assert.That(returns[i], Is.GreaterThan(task.Reward.Progress * (straight[i] - task.GoalRadius) + task.Reward.Goal - 600 * task.Reward.Time));
        }
    }

    [Test]
    public void TimeoutTruncatesAndNanTerminates()
    {
        using var env = new NavEnv(Task(o => o["episode_steps"] = 5), 2, 1);
        env.Reset(3);
        float[] stop = [0, 0, 0, 0];
        for (int t = 0; t < 4; t++) { env.Step(stop); Assert.That(env.Truncated[0], Is.False); }
        env.Step(stop);
        Assert.That(env.Truncated[0], Is.True);
        Assert.That(env.Terminated[0], Is.False);
        Assert.That(env.FinishedEpisodeOutcomes[0], Is.EqualTo(NavOutcome.Timeout));
        env.Step([float.NaN, 0, 0, 0]);
        Assert.That(env.Terminated[0], Is.True);
        Assert.That(env.FinishedEpisodeOutcomes[0], Is.EqualTo(NavOutcome.InvalidAction));
        Assert.That(env.Terminated[1], Is.False);
        Assert.That(env.NanActionCount, Is.EqualTo(1));
    }

    [Test]
    public void ResetScenarioReplaysAHeldOutMap()
    {
        using var env = new NavEnv(Task(), 3, 1);
        env.Reset(1);
        env.ResetScenario(0, NavMaps.HeldOutSeedBase + 17);
        env.ResetScenario(2, NavMaps.HeldOutSeedBase + 17);
        Assert.That(env.Maps.Seed[0], Is.EqualTo(NavMaps.HeldOutSeedBase + 17));
        Assert.That((env.X(2), env.Y(2), env.Yaw(2), env.GoalDistance(2)), Is.EqualTo((env.X(0), env.Y(0), env.Yaw(0), env.GoalDistance(0))));
        Assert.That(env.CleanScan(2).ToArray(), Is.EqualTo(env.CleanScan(0).ToArray()));
    }
}
