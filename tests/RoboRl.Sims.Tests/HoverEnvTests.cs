using System.Numerics;
using System.Text.Json.Nodes;
using RoboRl.Core.Configs;
using RoboRl.Core.Tasks;
using RoboRl.Sims.Quadrotor;

namespace RoboRl.Sims.Tests;

public class HoverEnvTests
{
    // The default task keeps K = 32 past actions: 18 state values, 128 history values, then the 3-value position-error integral.
    private static readonly int Obs = HoverObservation.ActorSize(32);
    private static readonly int IntegralAt = HoverObservation.IntegralOffset(32);
    private static readonly int NewestActionAt = IntegralAt - HoverObservation.ActionSize;

    private static HoverTaskConfig Task(Action<JsonObject>? edit = null)
        => edit == null ? HoverTaskConfig.Load(RepoFiles.TaskFile) : HoverTaskConfig.Load(RepoFiles.EditedCopy(RepoFiles.TaskFile, edit));

    private static void NoNoise(JsonObject o)
    {
        foreach (string k in new[] { "position", "rotation", "linear_velocity", "angular_velocity" }) o["observation_noise_std"]![k] = 0;
    }

    private static void NoRandomisation(JsonObject o)
    {
        foreach (string k in new[] { "mass", "inertia", "thrust_coefficient", "motor_time_constant" }) o["domain_randomization"]![k] = new JsonArray(1, 1);
        o["domain_randomization"]!["latency_steps"] = new JsonArray(0, 0);
    }

    /// <summary>Deterministic test actions that depend only on (environment, step), in [−1.2, 1.2] so some get clamped.</summary>
    private static void FillActions(Span<float> actions, int envs, int step, float amplitude = 1.2f)
    {
        for (int i = 0; i < envs; i++)
            for (int m = 0; m < 4; m++)
            {
                uint h = (uint)(i * 73856093) ^ (uint)(step * 19349663) ^ (uint)(m * 83492791);
                h ^= h >> 13; h *= 0x5bd1e995; h ^= h >> 15;
                actions[i * 4 + m] = 0.1f + amplitude * ((h & 0xFFFF) / 32768f - 1f) * 0.5f;
            }
    }

    [Test]
    public void TheScalarRewardThatScoresLoggedTransitionsAgreesWithTheEnvironment()
    {
        HoverTaskConfig task = Task(o => { NoNoise(o); NoRandomisation(o); });
        using var env = new HoverEnv(task, 16, 1);
        env.GlobalStep = task.Curriculum[^1].FromStep; // the weights fine-tuning scores logs with
        env.Reset(3);
        int size = env.ActorObservationSize, compared = 0;
        var actions = new float[16 * 4];
        var previous = new float[16 * 4];
        float hover = task.Robot.HoverAction();
        for (int step = 0; step < 20; step++)
        {
            FillActions(actions, 16, step, amplitude: 0.3f);
            for (int i = 0; i < 16; i++) env.ActorObservations.Slice(i * size + HoverObservation.IntegralOffset(task.ActionHistoryLength) - 4, 4).CopyTo(previous.AsSpan(i * 4));
            env.Step(actions);
            for (int i = 0; i < 16; i++)
            {
                if (env.Terminated[i] || env.Truncated[i]) continue;
                float expected = HoverReward.Compute(task, task.WeightsAt(env.GlobalStep), env.Batch.Position(i) - task.TargetPosition,
                    env.Batch.Orientation(i).W, env.Batch.Velocity(i), actions.AsSpan(i * 4, 4), previous.AsSpan(i * 4, 4), hover, terminated: false);
                Assert.That(env.Rewards[i], Is.EqualTo(expected).Within(1e-3f), $"env {i}, step {step}");
                compared++;
            }
        }
        Assert.That(compared, Is.GreaterThan(200));
    }

    [Test]
    public void TheStepThatTerminatesAnEpisodePaysTheTerminationPenalty()
    {
        // From rest at the target with the motors off, the vehicle falls out of the 0.6 m box within half a second.
        HoverTaskConfig task = Task(o =>
        {
            NoNoise(o); NoRandomisation(o);
            o["disturbance"] = new JsonObject { ["force_std"] = 0, ["torque_std"] = 0 };
            o["initial_state"]!["rest_fraction"] = 1.0;
            o["reward"]!["termination_penalty"] = 100;
        });
        using var env = new HoverEnv(task, 8, 1);
        env.GlobalStep = task.Curriculum[^1].FromStep;
        env.Reset(5);
        var off = new float[8 * 4];
        Array.Fill(off, -1f);
        float hover = task.Robot.HoverAction();
        int cs = env.CriticObservationSize, terminatedSteps = 0;
        for (int step = 0; step < 100 && terminatedSteps == 0; step++)
        {
            env.Step(off);
            for (int i = 0; i < 8; i++)
            {
                bool ended = env.Terminated[i] || env.Truncated[i];
                ReadOnlySpan<float> c = (ended ? env.FinalCriticObservations : env.CriticObservations).Slice(i * cs, cs);
                // Upright throughout (no torque, no disturbance): qw = 1.
                float expected = HoverReward.Compute(task, task.WeightsAt(env.GlobalStep), new Vector3(c[0], c[1], c[2]), 1f,
                    new Vector3(c[12], c[13], c[14]), off.AsSpan(i * 4, 4), off.AsSpan(i * 4, 4), hover, env.Terminated[i]);
                Assert.That(env.Rewards[i], Is.EqualTo(expected).Within(1e-3f), $"env {i}, step {step}");
                if (env.Terminated[i])
                {
                    Assert.That(env.Rewards[i], Is.LessThan(task.RewardConstant - 100 + 1e-3f), "the penalty is paid on the terminating step");
                    terminatedSteps++;
                }
                else Assert.That(env.Rewards[i], Is.GreaterThan(task.RewardConstant - 100), "no penalty while the episode goes on");
            }
        }
        Assert.That(terminatedSteps, Is.EqualTo(8), "all eight fell out at the same step");
    }

    [Test]
    public void SizesFollowTheTask()
    {
        using var env = new HoverEnv(Task(), 10, 1);
        env.Reset(1);
        Assert.That(env.ActorObservationSize, Is.EqualTo(149), "18 state + 4 × 32 past actions + 3 integral");
        Assert.That(env.CriticObservationSize, Is.EqualTo(32));
        Assert.That(env.ActionSize, Is.EqualTo(4));
        Assert.That(env.ActorObservations.Length, Is.EqualTo(10 * 149));
        Assert.That(env.CriticObservations.Length, Is.EqualTo(10 * 32));
        Assert.That(env.FinalActorObservations.Length, Is.EqualTo(10 * 149));
        Assert.That(env.Rewards.Length, Is.EqualTo(10));
        Assert.That(env.Batch.PaddedCount, Is.EqualTo(16));
    }

    [Test]
    public void SimObservationEqualsTheCoreBuilderOnTheSameState()
    {
        HoverTaskConfig task = Task(NoNoise);
        const int n = 11;
        using var env = new HoverEnv(task, n, 2, minEnvsPerThread: 1);
        env.Reset(7);
        int k = task.ActionHistoryLength;
        float hover = task.Robot.HoverAction();
        var history = new float[n][];
        var integral = new float[n][];
        var expectedActor = new float[env.ActorObservationSize];
        var expectedCritic = new float[env.CriticObservationSize];
        for (int i = 0; i < n; i++)
        {
            history[i] = Enumerable.Repeat(hover, 4 * k).ToArray();
            // An episode's first observation already integrates its own error once (from zero).
            integral[i] = new float[HoverObservation.IntegralSize];
            QuadrotorBatch b = env.Batch;
            HoverObservation.BuildActor(b.Position(i), b.Orientation(i), b.Velocity(i), b.AngularVelocity(i), task.TargetPosition, history[i], integral[i], task.ControlDt, expectedActor);
            Assert.That(env.ActorObservations.Slice(i * Obs, Obs).ToArray(), Is.EqualTo(expectedActor), $"actor row {i} after reset");
        }
        var actions = new float[n * 4];
        int checkedRows = 0, resets = 0, saturated = 0;
        for (int step = 0; step < 60; step++)
        {
            FillActions(actions, n, step, 0.6f);
            env.Step(actions);
            for (int i = 0; i < n; i++)
            {
                if (env.Terminated[i] || env.Truncated[i])
                {
                    Array.Fill(history[i], hover); // a new episode starts with a hover-filled history and a zero integral
                    Array.Clear(integral[i]);
                    resets++;
                }
                else
                {
                    HoverObservation.PushAction(history[i], actions.AsSpan(i * 4, 4).ToArray().Select(a => Math.Clamp(a, -1f, 1f)).ToArray());
                }
                QuadrotorBatch b = env.Batch;
                HoverObservation.BuildActor(b.Position(i), b.Orientation(i), b.Velocity(i), b.AngularVelocity(i), task.TargetPosition, history[i], integral[i], task.ControlDt, expectedActor);
                if (integral[i].Any(v => MathF.Abs(v) == HoverObservation.PositionIntegralLimit)) saturated++;
                HoverObservation.BuildCritic(b.Position(i), b.Orientation(i), b.Velocity(i), b.AngularVelocity(i), task.TargetPosition,
                    new Vector3(b.ForceX[i], b.ForceY[i], b.ForceZ[i]), new Vector3(b.TorqueX[i], b.TorqueY[i], b.TorqueZ[i]), HoverObservation.RotorsAsActions(task.Robot, b.RotorRpm(i)), env.DynamicsFactors(i), expectedCritic);
                Assert.That(env.ActorObservations.Slice(i * Obs, Obs).ToArray(), Is.EqualTo(expectedActor), $"actor row {i} after step {step}");
                Assert.That(env.CriticObservations.Slice(i * 32, 32).ToArray(), Is.EqualTo(expectedCritic), $"critic row {i} after step {step}");
                checkedRows++;
            }
        }
        Assert.That(checkedRows, Is.EqualTo(60 * n));
        Assert.That(resets, Is.GreaterThan(0), "the check should cover auto-reset rows too");
        Assert.That(saturated, Is.GreaterThan(0), "the check should cover a clamped integral too");
    }

    [Test]
    public void TheIntegralAddsTheNoisyErrorEachStepAndRestartsFromZeroAtReset()
    {
        HoverTaskConfig task = Task(); // observation noise on
        const int n = 24;
        using var env = new HoverEnv(task, n, 2, minEnvsPerThread: 1);
        env.Reset(21);
        float dt = task.ControlDt;
        // Reference: the same update applied to the error the policy sees (the row's noisy first 3 values), and, to show
        // that the noise matters, to the true error (the critic's first 3 values).
        var integral = new float[n][];
        var fromTrueError = new float[n][];
        for (int i = 0; i < n; i++)
        {
            integral[i] = new float[3];
            fromTrueError[i] = new float[3];
            HoverObservation.IntegratePositionError(integral[i], env.ActorObservations.Slice(i * Obs, 3), dt);
            HoverObservation.IntegratePositionError(fromTrueError[i], env.CriticObservations.Slice(i * 32, 3), dt);
            Assert.That(env.ActorObservations.Slice(i * Obs + IntegralAt, 3).ToArray(), Is.EqualTo(integral[i]), $"env {i} after reset");
        }
        var actions = new float[n * 4];
        int resets = 0, differs = 0, compared = 0;
        for (int step = 0; step < 150; step++)
        {
            FillActions(actions, n, step, 0.5f);
            env.Step(actions);
            for (int i = 0; i < n; i++)
            {
                bool ended = env.Terminated[i] || env.Truncated[i];
                ReadOnlySpan<float> row = (ended ? env.FinalActorObservations : env.ActorObservations).Slice(i * Obs, Obs);
                ReadOnlySpan<float> critic = (ended ? env.FinalCriticObservations : env.CriticObservations).Slice(i * 32, 32);
                HoverObservation.IntegratePositionError(integral[i], row[..3], dt);
                HoverObservation.IntegratePositionError(fromTrueError[i], critic[..3], dt);
                Assert.That(row[IntegralAt..].ToArray(), Is.EqualTo(integral[i]), $"env {i} step {step}{(ended ? " (final observation)" : "")}");
                if (!row[IntegralAt..].SequenceEqual(fromTrueError[i])) differs++;
                compared++;
                if (!ended) continue;
                // The new episode's first observation: the integral restarted from zero with that observation's error.
                resets++;
                Array.Clear(integral[i]);
                Array.Clear(fromTrueError[i]);
                HoverObservation.IntegratePositionError(integral[i], env.ActorObservations.Slice(i * Obs, 3), dt);
                HoverObservation.IntegratePositionError(fromTrueError[i], env.CriticObservations.Slice(i * 32, 3), dt);
                Assert.That(env.ActorObservations.Slice(i * Obs + IntegralAt, 3).ToArray(), Is.EqualTo(integral[i]), $"env {i} first observation after step {step}");
            }
        }
        Assert.That(resets, Is.GreaterThan(0), "episodes should end within the run");
        Assert.That(differs, Is.GreaterThan(compared / 2), "the integral follows the noisy error, not the true one");

        // An explicit Reset restarts every integral as well.
        env.Reset(22);
        var expected = new float[3];
        for (int i = 0; i < n; i++)
        {
            Array.Clear(expected);
            HoverObservation.IntegratePositionError(expected, env.ActorObservations.Slice(i * Obs, 3), dt);
            Assert.That(env.ActorObservations.Slice(i * Obs + IntegralAt, 3).ToArray(), Is.EqualTo(expected), $"env {i} after Reset");
            Assert.That(expected.Select(MathF.Abs).Max(), Is.LessThan(0.2f * dt + 1e-3f), "one step of at most the initial offset");
        }
    }

    private static (float[] Actor, float[] Critic, float[] Rewards, bool[] Done, float[] Final) Record(HoverTaskConfig task, int n, int threads, int steps, int keep)
    {
        using var env = new HoverEnv(task, n, threads, minEnvsPerThread: 1); // force a split even for few envs
        env.Reset(1234);
        var actions = new float[n * 4];
        var actor = new List<float>(); var critic = new List<float>(); var rewards = new List<float>(); var done = new List<bool>(); var final = new List<float>();
        for (int step = 0; step < steps; step++)
        {
            FillActions(actions, n, step);
            env.Step(actions);
            actor.AddRange(env.ActorObservations[..(keep * Obs)].ToArray());
            critic.AddRange(env.CriticObservations[..(keep * 32)].ToArray());
            rewards.AddRange(env.Rewards[..keep].ToArray());
            for (int i = 0; i < keep; i++)
            {
                done.Add(env.Terminated[i]); done.Add(env.Truncated[i]);
                if (env.Terminated[i] || env.Truncated[i]) final.AddRange(env.FinalActorObservations.Slice(i * Obs, Obs).ToArray());
            }
        }
        return (actor.ToArray(), critic.ToArray(), rewards.ToArray(), done.ToArray(), final.ToArray());
    }

    [Test]
    public void SameSeedIsBitIdenticalWhateverTheThreadCountOrBatchSize()
    {
        HoverTaskConfig task = Task();
        var one = Record(task, 16, 1, 120, 13);
        var two = Record(task, 16, 2, 120, 13);
        var three = Record(task, 16, 3, 120, 13);
        var smaller = Record(task, 13, 2, 120, 13); // same 13 environments in a different batch (and padding)
        var larger = Record(task, 40, 3, 120, 13);
        Assert.That(one.Done.Count(d => d), Is.GreaterThan(0), "episodes should end within the run");
        foreach (var other in new[] { two, three, smaller, larger })
        {
            Assert.That(other.Actor, Is.EqualTo(one.Actor));
            Assert.That(other.Critic, Is.EqualTo(one.Critic));
            Assert.That(other.Rewards, Is.EqualTo(one.Rewards));
            Assert.That(other.Done, Is.EqualTo(one.Done));
            Assert.That(other.Final, Is.EqualTo(one.Final));
        }
        var otherSeed = new HoverEnv(task, 16, 1);
        otherSeed.Reset(1235);
        Assert.That(otherSeed.ActorObservations[..Obs].ToArray(), Is.Not.EqualTo(one.Actor[..Obs]));
        otherSeed.Dispose();
    }

    /// <summary>A snapshot restored into other environments of the same task continues bit for bit (episodes that end and
    /// restart, latency and noise included): what lets the cluster hand a shard's episodes from one worker to another.</summary>
    [Test]
    public void ASnapshotContinuesBitForBitInOtherEnvironments()
    {
        HoverTaskConfig task = Task(o => o["domain_randomization"]!["latency_steps"] = new JsonArray(0, 3));
        const int envs = 11, before = 60, after = 150;
        var actions = new float[envs * 4];
        using var original = new HoverEnv(task, envs, 1);
        original.Reset(99);
        for (int t = 0; t < before; t++)
        {
            FillActions(actions, envs, t);
            original.Step(actions);
        }
        byte[] snapshot = original.SaveState();
        Assert.That(snapshot, Has.Length.EqualTo(original.StateBytes));

        using var restored = new HoverEnv(task, envs, 2);
        restored.Reset(12345); // some other state first: everything must come from the snapshot
        restored.RestoreState(snapshot);
        int ended = 0;
        for (int t = before; t < before + after; t++)
        {
            FillActions(actions, envs, t);
            original.Step(actions);
            restored.Step(actions);
            Assert.That(restored.ActorObservations.ToArray(), Is.EqualTo(original.ActorObservations.ToArray()), $"actor observations at step {t}");
            Assert.That(restored.CriticObservations.ToArray(), Is.EqualTo(original.CriticObservations.ToArray()), $"critic observations at step {t}");
            Assert.That(restored.Rewards.ToArray(), Is.EqualTo(original.Rewards.ToArray()), $"rewards at step {t}");
            Assert.That(restored.Terminated.ToArray(), Is.EqualTo(original.Terminated.ToArray()), $"terminations at step {t}");
            for (int i = 0; i < envs; i++) ended += original.Terminated[i] || original.Truncated[i] ? 1 : 0;
        }
        Assert.That(ended, Is.GreaterThan(0), "episodes should end (and restart from the restored generators) within the run");

        using var otherCount = new HoverEnv(task, envs + 1, 1);
        otherCount.Reset(1);
        Assert.Throws<ArgumentException>(() => otherCount.RestoreState(snapshot), "a snapshot of another number of environments");
    }

    [TestCase(1)]
    [TestCase(2)]
    public void StepAllocatesNothingAfterWarmUp(int threads)
    {
        using var env = new HoverEnv(Task(), 64, threads, minEnvsPerThread: 8);
        env.Reset(3);
        var actions = new float[64 * 4];
        for (int step = 0; step < 100; step++) { FillActions(actions, 64, step); env.Step(actions); }
        long completedBefore = env.CompletedEpisodes;
        FillActions(actions, 64, 7);
        Assert.That(AllocationMeter.FewestBytes(() => { for (int step = 0; step < 300; step++) env.Step(actions); }), Is.EqualTo(0));
        Assert.That(env.CompletedEpisodes, Is.GreaterThan(completedBefore), "the measured steps should include auto-resets");
    }

    [Test]
    public void DynamicsAllocateNothing()
    {
        var batch = new QuadrotorBatch(Task().Robot, 64);
        batch.Integrate(0.01f, 1);
        Assert.That(AllocationMeter.FewestBytes(() => { for (int k = 0; k < 100; k++) batch.Integrate(0.01f, 2); }), Is.EqualTo(0));
    }

    [Test]
    public void NanActionEndsOnlyThatEpisodeAndIsCounted()
    {
        HoverTaskConfig task = Task();
        using var clean = new HoverEnv(task, 16, 2, minEnvsPerThread: 1);
        using var poisoned = new HoverEnv(task, 16, 2, minEnvsPerThread: 1);
        clean.Reset(99); poisoned.Reset(99);
        var actions = new float[16 * 4];
        for (int step = 0; step < 40; step++)
        {
            FillActions(actions, 16, step, 0.3f);
            clean.Step(actions);
            if (step == 10) actions[5 * 4 + 2] = float.NaN;
            poisoned.Step(actions);
            if (step == 10)
            {
                Assert.That(poisoned.Terminated[5], Is.True);
                Assert.That(poisoned.NanActionCount, Is.EqualTo(1));
            }
            for (int i = 0; i < 16; i++)
            {
                if (i == 5 && step >= 10) continue;
                Assert.That(poisoned.ActorObservations.Slice(i * Obs, Obs).ToArray(), Is.EqualTo(clean.ActorObservations.Slice(i * Obs, Obs).ToArray()), $"env {i} step {step}");
                Assert.That(poisoned.Rewards[i], Is.EqualTo(clean.Rewards[i]));
            }
        }
        Assert.That(poisoned.NanActionCount, Is.EqualTo(1));
        Assert.That(clean.NanActionCount, Is.EqualTo(0));
        foreach (float v in poisoned.ActorObservations) Assert.That(float.IsFinite(v));
        foreach (float v in poisoned.CriticObservations) Assert.That(float.IsFinite(v));
        foreach (float v in poisoned.Rewards) Assert.That(float.IsFinite(v));
    }

    [Test]
    public void TruncationKeepsTheFinalObservationAndStartsANewEpisode()
    {
        HoverTaskConfig task = Task(o => { NoNoise(o); NoRandomisation(o); o["episode_steps"] = 5; o["initial_state"]!["rest_fraction"] = 1; o["disturbance"]!["force_std"] = 0; o["disturbance"]!["torque_std"] = 0; });
        using var env = new HoverEnv(task, 3, 1);
        env.Reset(5);
        float hover = task.Robot.HoverAction();
        var actions = new float[3 * 4];
        float expectedReturn = 0;
        for (int step = 1; step <= 5; step++)
        {
            for (int j = 0; j < actions.Length; j++) actions[j] = hover + 0.001f * step * ((j % 4) - 1.5f);
            env.Step(actions);
            expectedReturn += env.Rewards[1];
            bool last = step == 5;
            Assert.That(env.Truncated[1], Is.EqualTo(last));
            Assert.That(env.Terminated[1], Is.False);
        }
        Assert.That(env.CompletedEpisodes, Is.EqualTo(3));
        Assert.That(env.FinishedEpisodeLengths[1], Is.EqualTo(5));
        Assert.That(env.FinishedEpisodeReturns[1], Is.EqualTo(expectedReturn));
        ReadOnlySpan<float> final = env.FinalActorObservations.Slice(Obs, Obs);
        ReadOnlySpan<float> fresh = env.ActorObservations.Slice(Obs, Obs);
        // Final observation: the last action pushed is the newest history entry; the position has moved a little.
        Assert.That(final[NewestActionAt..IntegralAt].ToArray(), Is.EqualTo(actions[4..8]));
        Assert.That(final[..3].ToArray(), Is.Not.EqualTo(new float[3]));
        // First observation of the new episode: at rest on the target with a hover-filled history.
        Assert.That(fresh[..3].ToArray(), Is.EqualTo(new float[3]));
        Assert.That(fresh[18..IntegralAt].ToArray(), Is.All.EqualTo(hover));
        Assert.That(fresh[IntegralAt..].ToArray(), Is.EqualTo(new float[3]), "the integral restarts from zero (at rest on the target: it stays zero)");
        Assert.That(final[IntegralAt..].ToArray(), Is.Not.EqualTo(new float[3]), "the finished episode had integrated its small errors");
        Assert.That(env.CriticObservations.Slice(32 + 24, 4).ToArray(), Is.All.EqualTo(hover).Within(1e-6f));
        Assert.That(env.FinalCriticObservations.Slice(32, 3).ToArray(), Is.EqualTo(final[..3].ToArray()));
    }

    [Test]
    public void FallingBelowTheErrorLimitTerminates()
    {
        HoverTaskConfig task = Task(o => { NoNoise(o); NoRandomisation(o); o["initial_state"]!["rest_fraction"] = 1; });
        using var env = new HoverEnv(task, 2, 1);
        env.Reset(5);
        var off = Enumerable.Repeat(-1f, 8).ToArray(); // motors off
        int steps = 0;
        while (!env.Terminated[0] && steps < 200) { env.Step(off); steps++; Assert.That(env.Truncated[0], Is.False); }
        Assert.That(env.Terminated[0], Is.True);
        Assert.That(env.FinalCriticObservations[2], Is.LessThan(-0.6f));
        Assert.That(env.FinalCriticObservations[2], Is.GreaterThan(-0.7f));
        Assert.That(env.FinishedEpisodeLengths[0], Is.EqualTo(steps));
        Assert.That(env.CriticObservations[2], Is.EqualTo(0f)); // new episode at the target
        Assert.That(env.EpisodeLength(0), Is.EqualTo(0));
    }

    [Test]
    public void RewardFollowsTheFormulaAndTheCurriculum()
    {
        HoverTaskConfig task = Task(NoNoise);
        using var env = new HoverEnv(task, 8, 1);
        env.Reset(11);
        var actions = new float[8 * 4];
        float hover = task.Robot.HoverAction();
        var previous = Enumerable.Repeat(hover, 8 * 4).ToArray(); // a fresh episode's history holds the hover action
        foreach (long globalStep in new long[] { 0, 150_000, 250_000 })
        {
            env.GlobalStep = globalStep;
            HoverRewardWeights w = task.WeightsAt(globalStep);
            FillActions(actions, 8, (int)(globalStep / 1000), 0.4f);
            env.Step(actions);
            for (int i = 0; i < 8; i++)
            {
                float[] flown = Enumerable.Range(0, 4).Select(m => Math.Clamp(actions[i * 4 + m], -1f, 1f)).ToArray();
                if (env.Terminated[i] || env.Truncated[i]) { Enumerable.Repeat(hover, 4).ToArray().CopyTo(previous, i * 4); continue; }
                Assert.That(env.Rewards[i], Is.EqualTo(ExpectedReward(task, w, env.Batch, i, flown, previous.AsSpan(i * 4, 4))).Within(1e-4f),
                    $"env {i} at global step {globalStep}");
                flown.CopyTo(previous, i * 4);
            }
        }
    }

    /// <summary>The reward of HoverTaskConfig's documented formula, computed the slow way from the batch's state.</summary>
    private static float ExpectedReward(HoverTaskConfig task, HoverRewardWeights w, QuadrotorBatch b, int i, ReadOnlySpan<float> action, ReadOnlySpan<float> previous)
    {
        float hover = task.Robot.HoverAction();
        Vector3 e = b.Position(i) - task.TargetPosition;
        float actionCost = 0, changeCost = 0;
        for (int m = 0; m < 4; m++)
        {
            float d = action[m] - hover; actionCost += d * d;
            float c = action[m] - previous[m]; changeCost += c * c;
        }
        float qw = b.Qw[i];
        float cost = w.Position * e.LengthSquared() + w.Orientation * (1 - qw * qw) + w.LinearVelocity * b.Velocity(i).LengthSquared()
                     + w.Action * actionCost + w.ActionChange * changeCost
                     - w.Precision * MathF.Exp(-e.LengthSquared() / (task.PrecisionRadius * task.PrecisionRadius))
                     + w.PositionDistance * e.Length();
        return task.RewardConstant - task.RewardScale * cost;
    }

    [Test]
    public void ActionChangeAndPrecisionTermsEnterTheReward()
    {
        // One stage with only the two optional terms, so each is seen on its own in the reward.
        HoverTaskConfig task = Task(o =>
        {
            NoNoise(o); NoRandomisation(o);
            o["initial_state"]!["rest_fraction"] = 1;
            o["reward"]!["precision_radius"] = 0.07;
            o["reward"]!["curriculum"] = JsonNode.Parse("""[{ "from_step": 0, "weights": { "position": 0, "orientation": 0, "linear_velocity": 0, "action": 0, "action_change": 3, "precision": 4 } }]""");
        });
        Assert.That(task.PrecisionRadius, Is.EqualTo(0.07f));
        Assert.That(task.WeightsAt(0), Is.EqualTo(new HoverRewardWeights(0, 0, 0, 0, 3, 4)));
        using var env = new HoverEnv(task, 1, 1);
        env.Reset(3);
        float hover = task.Robot.HoverAction();
        // Step 1: hover (no change from the hover-filled history) at the target: the full precision bonus, nothing else.
        env.Step([hover, hover, hover, hover]);
        float bonus = 4 * MathF.Exp(-(env.Batch.Position(0) - task.TargetPosition).LengthSquared() / (0.07f * 0.07f));
        Assert.That(bonus, Is.GreaterThan(3.99f));
        Assert.That(env.Rewards[0], Is.EqualTo(task.RewardConstant + task.RewardScale * bonus).Within(1e-4f));
        // Step 2: a jump of +0.1 on every motor costs 3 * 4 * 0.01 = 0.12 (before the scale).
        float[] jump = [hover + 0.1f, hover + 0.1f, hover + 0.1f, hover + 0.1f];
        env.Step(jump);
        Assert.That(env.Rewards[0], Is.EqualTo(ExpectedReward(task, task.WeightsAt(0), env.Batch, 0, jump, [hover, hover, hover, hover])).Within(1e-4f));
        bonus = 4 * MathF.Exp(-(env.Batch.Position(0) - task.TargetPosition).LengthSquared() / (0.07f * 0.07f));
        Assert.That(env.Rewards[0], Is.EqualTo(task.RewardConstant - task.RewardScale * (0.12f - bonus)).Within(1e-4f));
        // Step 3: the same action again: no change cost.
        env.Step(jump);
        bonus = 4 * MathF.Exp(-(env.Batch.Position(0) - task.TargetPosition).LengthSquared() / (0.07f * 0.07f));
        Assert.That(env.Rewards[0], Is.EqualTo(task.RewardConstant + task.RewardScale * bonus).Within(1e-4f));
    }

    [Test]
    public void PositionDistanceTermCostsTheDistanceItself()
    {
        HoverTaskConfig task = Task(o =>
        {
            NoNoise(o); NoRandomisation(o);
            o["initial_state"]!["rest_fraction"] = 0;
            o["reward"]!["curriculum"] = JsonNode.Parse("""[{ "from_step": 0, "weights": { "position": 0, "orientation": 0, "linear_velocity": 0, "action": 0, "position_distance": 5 } }]""");
        });
        Assert.That(task.WeightsAt(0), Is.EqualTo(new HoverRewardWeights(0, 0, 0, 0, 0, 0, 5)));
        using var env = new HoverEnv(task, 16, 1);
        env.Reset(11);
        float hover = task.Robot.HoverAction();
        env.Step(Enumerable.Repeat(hover, 16 * 4).ToArray());
        for (int i = 0; i < 16; i++)
        {
            float distance = (env.Batch.Position(i) - task.TargetPosition).Length();
            if (env.Terminated[i] || env.Truncated[i]) continue;
            Assert.That(distance, Is.GreaterThan(0.01f), "episodes start off target");
            Assert.That(env.Rewards[i], Is.EqualTo(task.RewardConstant - task.RewardScale * 5 * distance).Within(1e-4f), $"env {i}");
        }
    }

    [Test]
    public void InitialHeadingStaysWithinMaxYaw()
    {
        static float Yaw(Quaternion q) => MathF.Atan2(2 * (q.W * q.Z + q.X * q.Y), 1 - 2 * (q.Y * q.Y + q.Z * q.Z));
        HoverTaskConfig bounded = Task(o => { o["initial_state"]!["max_tilt_deg"] = 0; o["initial_state"]!["max_yaw_deg"] = 20; });
        Assert.That(bounded.InitialState.MaxYawDeg, Is.EqualTo(20));
        using var env = new HoverEnv(bounded, 512, 1);
        env.Reset(5);
        float largest = 0;
        for (int i = 0; i < 512; i++) largest = Math.Max(largest, MathF.Abs(Yaw(env.Batch.Orientation(i))));
        Assert.That(largest * 180 / MathF.PI, Is.LessThanOrEqualTo(20.001f).And.GreaterThan(15f));
        // Absent, the heading is uniform: some start facing backwards.
        HoverTaskConfig any = Task(o => { o["initial_state"]!["max_tilt_deg"] = 0; o["initial_state"]!.AsObject().Remove("max_yaw_deg"); });
        Assert.That(any.InitialState.MaxYawDeg, Is.EqualTo(180));
        using var anyEnv = new HoverEnv(any, 512, 1);
        anyEnv.Reset(5);
        largest = 0;
        for (int i = 0; i < 512; i++) largest = Math.Max(largest, MathF.Abs(Yaw(anyEnv.Batch.Orientation(i))));
        Assert.That(largest * 180 / MathF.PI, Is.GreaterThan(170f));
        var bad = Assert.Throws<ConfigException>(() => Task(o => o["initial_state"]!["max_yaw_deg"] = 200));
        Assert.That(bad!.Message, Does.Contain("max_yaw_deg"));
    }

    [Test]
    public void CriticSeesTheEpisodeDynamics()
    {
        HoverTaskConfig task = Task();
        using var env = new HoverEnv(task, 64, 1);
        env.Reset(9);
        var masses = new HashSet<float>();
        for (int i = 0; i < 64; i++)
        {
            ReadOnlySpan<float> critic = env.CriticObservations.Slice(i * HoverObservation.CriticSize, HoverObservation.CriticSize);
            Assert.That(critic[28], Is.EqualTo(env.Batch.Mass[i] / task.Robot.Mass).Within(1e-6f));
            Assert.That(critic[29], Is.EqualTo(env.Batch.ThrustScale[i]));
            Assert.That(critic[30], Is.EqualTo(env.Batch.MotorTimeConstant[i] / task.Robot.MotorTimeConstant).Within(1e-6f));
            Assert.That(critic[31], Is.EqualTo(env.LatencySteps(i)));
            masses.Add(critic[28]);
        }
        Assert.That(masses, Has.Count.GreaterThan(32), "mass is randomised per episode");
    }

    [Test]
    public void WideningRandomisationDrawsFromTheRangesInForceAtTheGlobalStep()
    {
        HoverTaskConfig task = Task();
        task = task with
        {
            DomainRandomization = task.DomainRandomization with
            {
                Mass = (0.6f, 1.5f),
                LatencySteps = (0, 3),
                Start = task.DomainRandomization with { Mass = (0.95f, 1.05f), LatencySteps = (0, 0) },
                WidenSteps = (1000, 2000),
            },
        };
        (float Min, float Max, int MaxLatency) Draw(long globalStep)
        {
            using var env = new HoverEnv(task, 256, 1) { GlobalStep = globalStep };
            env.Reset(4);
            float min = float.MaxValue, max = 0;
            int latency = 0;
            for (int i = 0; i < 256; i++)
            {
                float m = env.Batch.Mass[i] / task.Robot.Mass;
                min = Math.Min(min, m); max = Math.Max(max, m); latency = Math.Max(latency, env.LatencySteps(i));
            }
            return (min, max, latency);
        }
        var early = Draw(0);
        Assert.That(early.Min, Is.GreaterThanOrEqualTo(0.95f - 1e-6f));
        Assert.That(early.Max, Is.LessThanOrEqualTo(1.05f + 1e-6f));
        Assert.That(early.MaxLatency, Is.EqualTo(0));
        var late = Draw(long.MaxValue);
        Assert.That(late.Min, Is.LessThan(0.7f), "the full range once widened");
        Assert.That(late.Max, Is.GreaterThan(1.4f));
        Assert.That(late.MaxLatency, Is.EqualTo(3));
    }

    [Test]
    public void OptionalRewardKeysAreCheckedAndDefaultToOff()
    {
        HoverTaskConfig plain = Task(o => o["reward"]!["curriculum"] = JsonNode.Parse("""[{ "from_step": 0, "weights": { "position": 1, "orientation": 1, "linear_velocity": 1, "action": 1 } }]"""));
        Assert.That(plain.WeightsAt(0), Is.EqualTo(new HoverRewardWeights(1, 1, 1, 1, 0, 0)));
        var bad = Assert.Throws<ConfigException>(() => Task(o => o["reward"]!["curriculum"]![0]!["weights"]!["precision"] = -1));
        Assert.That(bad!.Message, Does.Contain("precision"));
        bad = Assert.Throws<ConfigException>(() => Task(o => o["reward"]!["precision_radius"] = 0));
        Assert.That(bad!.Message, Does.Contain("precision_radius"));
    }

    [Test]
    public void LatencyFliesTheActionFromStepsAgo()
    {
        HoverTaskConfig task = Task(o => { NoNoise(o); NoRandomisation(o); o["domain_randomization"]!["latency_steps"] = new JsonArray(2, 2); o["initial_state"]!["rest_fraction"] = 1; });
        using var env = new HoverEnv(task, 1, 1);
        env.Reset(1);
        Assert.That(env.LatencySteps(0), Is.EqualTo(2));
        float hover = task.Robot.HoverAction();
        float[][] sent = [[0.1f, 0.2f, 0.3f, 0.4f], [0.5f, 0.5f, 0.5f, 0.5f], [-0.2f, 0, 0.2f, 0.4f], [0.3f, 0.3f, 0.3f, 0.3f]];
        for (int t = 0; t < sent.Length; t++)
        {
            env.Step(sent[t]);
            float[] flown = t >= 2 ? sent[t - 2] : [hover, hover, hover, hover];
            for (int m = 0; m < 4; m++)
                Assert.That(env.Batch.CommandRpm[m][0], Is.EqualTo(task.Robot.RpmFromAction(flown[m])), $"step {t} motor {m}");
        }
    }

    [Test]
    public void TheCriticCanSeeTheActionsALatencyKeepsInFlight()
    {
        // Latency 0-3: the critic gets the newest 3 actions, newest first, after its 32 values; the actor and the flight are
        // the same as without the option.
        void Edit(JsonObject o) { NoNoise(o); o["domain_randomization"]!["latency_steps"] = new JsonArray(0, 3); }
        HoverTaskConfig plain = Task(Edit);
        HoverTaskConfig task = Task(o => { Edit(o); o["critic_sees_actions_in_flight"] = true; });
        Assert.That(plain.CriticActionsInFlight, Is.EqualTo(0), "off by default");
        Assert.That(task.CriticActionsInFlight, Is.EqualTo(3));
        using var withActions = new HoverEnv(task, 8, 1);
        using var without = new HoverEnv(plain, 8, 1);
        Assert.That(withActions.CriticObservationSize, Is.EqualTo(32 + 3 * 4));
        withActions.Reset(5);
        without.Reset(5);
        float[][] sent = [[0.1f, 0.2f, 0.3f, 0.4f], [0.5f, 0.5f, 0.5f, 0.5f], [-0.2f, 0, 0.2f, 0.4f], [0.3f, 0.3f, 0.3f, 0.35f]];
        for (int t = 0; t < sent.Length; t++)
        {
            float[] actions = Enumerable.Range(0, 8).SelectMany(_ => sent[t]).ToArray();
            withActions.Step(actions);
            without.Step(actions);
            Assert.That(withActions.ActorObservations.ToArray(), Is.EqualTo(without.ActorObservations.ToArray()), $"step {t}: the actor is unchanged");
            for (int i = 0; i < 8; i++)
            {
                ReadOnlySpan<float> critic = withActions.CriticObservations.Slice(i * 44, 44);
                Assert.That(critic[..32].ToArray(), Is.EqualTo(without.CriticObservations.Slice(i * 32, 32).ToArray()), $"step {t} env {i}");
                for (int k = 0; k < 3 && t - k >= 0; k++)
                    Assert.That(critic.Slice(32 + 4 * k, 4).ToArray(), Is.EqualTo(sent[t - k]), $"step {t} env {i}: in-flight action {k}, newest first");
            }
        }
        var bad = Assert.Throws<ConfigException>(() => Task(o => o["critic_sees_actions_in_flight"] = 1));
        Assert.That(bad!.Message, Does.Contain("critic_sees_actions_in_flight"));
    }

    [Test]
    public void ActionsAreClampedToTheUnitBox()
    {
        HoverTaskConfig task = Task(o => { NoNoise(o); NoRandomisation(o); });
        using var env = new HoverEnv(task, 1, 1);
        env.Reset(1);
        env.Step([5f, -7f, 1f, float.PositiveInfinity]);
        Assert.That(env.ActorObservations[NewestActionAt..IntegralAt].ToArray(), Is.EqualTo(new[] { 1f, -1f, 1f, 1f }));
        Assert.That(env.Batch.CommandRpm[0][0], Is.EqualTo(task.Robot.RpmForThrust(task.Robot.Actuator.ThrustMaxN)), "a full command is THRUST_MAX");
        Assert.That(env.Batch.CommandRpm[1][0], Is.EqualTo(0f));
        Assert.That(env.NanActionCount, Is.EqualTo(0));
    }

    [Test]
    public void InitialStatesAndRandomisationFollowTheTask()
    {
        HoverTaskConfig task = Task();
        const int n = 4096;
        using var env = new HoverEnv(task, n, 2);
        env.Reset(2024);
        QuadrotorBatch b = env.Batch;
        int atRest = 0; var latencies = new int[2]; double massSum = 0, forceSquares = 0, torqueSquares = 0;
        for (int i = 0; i < n; i++)
        {
            Vector3 offset = b.Position(i) - task.TargetPosition;
            Assert.That(MathF.Max(MathF.Abs(offset.X), MathF.Max(MathF.Abs(offset.Y), MathF.Abs(offset.Z))), Is.LessThanOrEqualTo(0.2f));
            Quaternion q = b.Orientation(i);
            Assert.That(q.Length(), Is.EqualTo(1f).Within(1e-6f));
            Assert.That(1 - 2 * (q.X * q.X + q.Y * q.Y), Is.GreaterThanOrEqualTo(-1e-6f), "tilt ≤ 90°");
            Assert.That(MathF.Abs(b.Vx[i]), Is.LessThanOrEqualTo(1f));
            Assert.That(MathF.Abs(b.Wz[i]), Is.LessThanOrEqualTo(1f));
            Assert.That(b.Rpm[2][i], Is.EqualTo(task.Robot.HoverRpm()));
            if (offset == Vector3.Zero && q == Quaternion.Identity && b.Velocity(i) == Vector3.Zero) atRest++;
            float massFactor = b.Mass[i] / task.Robot.Mass;
            Assert.That(massFactor, Is.InRange(task.DomainRandomization.Mass.Low - 1e-6f, task.DomainRandomization.Mass.High + 1e-6f));
            massSum += massFactor;
            Assert.That(b.MotorTimeConstant[i] / task.Robot.MotorTimeConstant, Is.InRange(0.7f - 1e-6f, 1.3f + 1e-6f));
            Assert.That(b.ThrustScale[i], Is.InRange(task.DomainRandomization.ThrustCoefficient.Low, task.DomainRandomization.ThrustCoefficient.High));
            latencies[env.LatencySteps(i)]++;
            forceSquares += b.ForceX[i] * b.ForceX[i];
            torqueSquares += b.TorqueY[i] * b.TorqueY[i];
        }
        Assert.That(atRest / (double)n, Is.EqualTo(0.1).Within(0.02));
        Assert.That(massSum / n, Is.EqualTo((task.DomainRandomization.Mass.Low + task.DomainRandomization.Mass.High) / 2).Within(0.01));
        Assert.That(latencies[0], Is.InRange(1800, 2300));
        Assert.That(Math.Sqrt(forceSquares / n), Is.EqualTo(task.DisturbanceForceStd).Within(task.DisturbanceForceStd * 0.05));
        Assert.That(Math.Sqrt(torqueSquares / n), Is.EqualTo(2.65e-5).Within(2.65e-5 * 0.05));
        // Tilts fill the cap: some are beyond 60°.
        int steep = Enumerable.Range(0, n).Count(i => 1 - 2 * (b.Qx[i] * b.Qx[i] + b.Qy[i] * b.Qy[i]) < 0.5f);
        Assert.That(steep, Is.GreaterThan(n / 4));
    }

    /// <summary>Total rotation angle of a unit quaternion, radians (q and −q are the same rotation).</summary>
    private static double RotationAngle(Quaternion q) => 2 * Math.Acos(Math.Min(1.0, Math.Abs((double)q.W)));

    [Test]
    public void LearningToFlyStartsAreL2FsDistribution()
    {
        // InitialStateConfig.LearningToFly: 10 % at rest at the target; else ±0.2 m, any rotation of total angle ≤ 90°
        // (heading included), ±1 m/s, ±1 rad/s per axis.
        HoverTaskConfig task = Task() with { InitialState = InitialStateConfig.LearningToFly };
        const int n = 8192;
        using var env = new HoverEnv(task, n, 2);
        env.Reset(77);
        QuadrotorBatch b = env.Batch;
        int atRest = 0;
        var angles = new List<double>();
        double largestOffset = 0, largestVelocity = 0, largestRate = 0, largestHeading = 0;
        for (int i = 0; i < n; i++)
        {
            Vector3 offset = b.Position(i) - task.TargetPosition;
            Quaternion q = b.Orientation(i);
            Vector3 v = b.Velocity(i), w = b.AngularVelocity(i);
            if (offset == Vector3.Zero && q == Quaternion.Identity && v == Vector3.Zero && w == Vector3.Zero) { atRest++; continue; }
            double angle = RotationAngle(q);
            Assert.That(angle * 180 / Math.PI, Is.LessThanOrEqualTo(90.0001), $"env {i}: total rotation");
            angles.Add(angle);
            largestOffset = Math.Max(largestOffset, MathF.Max(MathF.Abs(offset.X), MathF.Max(MathF.Abs(offset.Y), MathF.Abs(offset.Z))));
            largestVelocity = Math.Max(largestVelocity, MathF.Max(MathF.Abs(v.X), MathF.Max(MathF.Abs(v.Y), MathF.Abs(v.Z))));
            largestRate = Math.Max(largestRate, MathF.Max(MathF.Abs(w.X), MathF.Max(MathF.Abs(w.Y), MathF.Abs(w.Z))));
            largestHeading = Math.Max(largestHeading, Math.Abs(Math.Atan2(2 * (q.W * q.Z + q.X * q.Y), 1 - 2 * (q.Y * q.Y + q.Z * q.Z))));
        }
        Assert.That(atRest / (double)n, Is.EqualTo(0.1).Within(0.015), "10 % start at rest at the target");
        Assert.That(largestOffset, Is.InRange(0.19, 0.2 + 1e-6), "position fills ±0.2 m");
        Assert.That(largestVelocity, Is.InRange(0.98, 1.0), "velocity fills ±1 m/s");
        Assert.That(largestRate, Is.InRange(0.98, 1.0), "body rates fill ±1 rad/s");
        Assert.That(angles.Max() * 180 / Math.PI, Is.GreaterThan(89), "rotations reach 90°");
        Assert.That(largestHeading * 180 / Math.PI, Is.GreaterThan(80), "the heading turns too: any axis");
        // Uniform over rotations (L2F rejects uniform random quaternions): the angle has density ∝ 1 − cos θ on [0, 90°],
        // CDF (θ − sin θ) / (π/2 − 1), median ≈ 70.4°; an angle drawn uniformly in [0, 90°] would have its median at 45°.
        double lo = 0, hi = Math.PI / 2;
        for (int k = 0; k < 60; k++) { double mid = (lo + hi) / 2; if (mid - Math.Sin(mid) < 0.5 * (Math.PI / 2 - 1)) lo = mid; else hi = mid; }
        angles.Sort();
        Assert.That(angles[angles.Count / 2] * 180 / Math.PI, Is.EqualTo(lo * 180 / Math.PI).Within(1.5), "median total rotation");
        Assert.That(angles[angles.Count / 10] * 180 / Math.PI, Is.GreaterThan(35), "few small rotations: 10th percentile");
    }

    [Test]
    public void InitialOrientationIsAConfigChoice()
    {
        HoverTaskConfig total = Task(o => { o["initial_state"]!["orientation"] = "total_rotation"; o["initial_state"]!.AsObject().Remove("max_yaw_deg"); });
        Assert.That(total.InitialState.Orientation, Is.EqualTo(InitialOrientation.TotalRotation));
        Assert.That(Task().InitialState.Orientation, Is.EqualTo(InitialOrientation.TiltAndHeading), "default");
        var both = Assert.Throws<ConfigException>(() => Task(o => { o["initial_state"]!["orientation"] = "total_rotation"; o["initial_state"]!["max_yaw_deg"] = 30; }));
        Assert.That(both!.Message, Does.Contain("$.initial_state.max_yaw_deg").And.Contain("tilt_and_heading"));
        var unknown = Assert.Throws<ConfigException>(() => Task(o => o["initial_state"]!["orientation"] = "random"));
        Assert.That(unknown!.Message, Does.Contain("$.initial_state.orientation").And.Contain("total_rotation"));
        // A tiny bound still draws (no endless rejection in float) and stays within it.
        using var env = new HoverEnv(Task() with { InitialState = InitialStateConfig.LearningToFly with { MaxTiltDeg = 0.01f, RestFraction = 0 } }, 64, 1);
        env.Reset(3);
        for (int i = 0; i < 64; i++) Assert.That(RotationAngle(env.Batch.Orientation(i)) * 180 / Math.PI, Is.LessThanOrEqualTo(0.0101));
    }

    [Test]
    public void ActorNoiseHasTheConfiguredSpread()
    {
        HoverTaskConfig task = Task();
        const int n = 4096;
        using var env = new HoverEnv(task, n, 2);
        env.Reset(8);
        env.Step(Enumerable.Repeat(task.Robot.HoverAction(), n * 4).ToArray());
        double[] squares = new double[18];
        for (int i = 0; i < n; i++)
            for (int k = 0; k < 18; k++)
            {
                double d = env.ActorObservations[i * Obs + k] - env.CriticObservations[i * 32 + k];
                squares[k] += d * d;
            }
        float[] expected = [0.001f, 0.001f, 0.001f, .. Enumerable.Repeat(0.001f, 9), 0.002f, 0.002f, 0.002f, 0.002f, 0.002f, 0.002f];
        for (int k = 0; k < 18; k++) Assert.That(Math.Sqrt(squares[k] / n), Is.EqualTo(expected[k]).Within(expected[k] * 0.05), $"component {k}");
    }

    [Test]
    public void MisuseIsReported()
    {
        using var env = new HoverEnv(Task(), 4, 1);
        Assert.Throws<InvalidOperationException>(() => env.Step(new float[16]));
        env.Reset(1);
        var e = Assert.Throws<ArgumentException>(() => env.Step(new float[15]))!;
        Assert.That(e.Message, Does.Contain("4 × 4 = 16"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HoverEnv(Task(), 0, 1));
    }
}
