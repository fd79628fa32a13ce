using System.Text.Json.Serialization;
using RoboRl.Core.Configs;
using RoboRl.Core.Policy;
using RoboRl.Core.Tasks;
using RoboRl.Sims;
using RoboRl.Sims.Quadrotor;
using RoboRl.Training.Kernels;

namespace RoboRl.Training;

/// <summary>
/// TD3 hyperparameters (Fujimoto et al., "Addressing Function Approximation Error in Actor-Critic Methods", 2018),
/// bound from the task file's "training" section (run keys) and its "td3" subsection. Defaults are the values of
/// configs/tasks/crazyflie-hover.json, whose comments say why each was chosen. Absent keys take the default;
/// unknown keys and out-of-range values are <see cref="ConfigException"/>s naming the file and JSON path.
/// </summary>
public sealed record Td3Config : IAlgorithmConfig
{
    // ---- the run: the "training" section's shared keys (RunConfig), with TD3's defaults
    public static RunConfig DefaultRun { get; } = new();
    [JsonIgnore] public RunConfig Run { get; init; } = DefaultRun;
    [JsonIgnore] public string Algorithm => "td3";
    [JsonIgnore] public bool Checkpoints => true;
    public string ToJson() => Td3.ConfigJson(this);

    // ---- TD3
    /// <summary>Replay capacity in transitions (L2F keeps every transition: capacity = total steps).</summary>
    public long ReplayCapacity { get; init; } = 300_000;
    /// <summary>Std of the warm-up actions around the hover action (see <see cref="WarmupEnvSteps"/>).</summary>
    public double WarmupActionStd { get; init; } = 0.3;
    /// <summary>Random actions (hover action + Gaussian noise) for this many env steps; observation normalisation is measured on them, then frozen.</summary>
    public long WarmupEnvSteps { get; init; } = 15_000;
    /// <summary>No actor update before this many env steps: the critic must first fit something (L2F: 30 k).</summary>
    public long ActorWarmupEnvSteps { get; init; } = 30_000;
    /// <summary>One critic update per this many env steps (L2F: 10; ours 7 on half the batch, see the task config).</summary>
    public int EnvStepsPerCriticUpdate { get; init; } = 7;
    /// <summary>Actor and target networks are updated once per this many critic updates (TD3's policy delay; L2F: 2).</summary>
    public int PolicyDelay { get; init; } = 2;
    public int BatchSize { get; init; } = 128;
    public double ActorLearningRate { get; init; } = 1e-3;
    public double CriticLearningRate { get; init; } = 1e-3;
    /// <summary>Both learning rates fall linearly with the env step to this fraction of their start value at
    /// <see cref="TotalEnvSteps"/> (1 = constant): late, smaller steps stop the policy oscillating between evaluations.</summary>
    public double LearningRateFinalFraction { get; init; } = 1;
    /// <summary>L2 weight decay of both Adam optimisers (L2F: 1e-4).</summary>
    public double WeightDecay { get; init; } = 1e-4;
    public double Gamma { get; init; } = 0.99;
    /// <summary>n of the n-step returns the critic learns from (1 = one-step TD, as the TD3 paper).</summary>
    public int NStep { get; init; } = 1;
    /// <summary>Polyak rate of the target networks.</summary>
    public double Tau { get; init; } = 0.005;
    /// <summary>The actor that periodic evaluations score and the bundle exports: "target", the Polyak average of the
    /// recent actors (rate <see cref="Tau"/> per actor update), or "online", the latest gradient step. TD3's latest
    /// actor swings from update to update; its average flies more steadily (docs/experiments.md, tenth round).</summary>
    public string ExportedActor { get; init; } = "target";
    /// <summary>Std of the Gaussian exploration noise added to the actor's actions (action units, [−1, 1]).</summary>
    public double ExplorationNoise { get; init; } = 0.1;
    /// <summary>Target policy smoothing: noise std and clip on the target action.</summary>
    public double TargetNoise { get; init; } = 0.2;
    public double TargetNoiseClip { get; init; } = 0.5;
    /// <summary>CAPS temporal smoothness weight λ_T (Mysore et al., "Regularizing Action Policies for Smooth Control with
    /// Reinforcement Learning", ICRA 2021): the actor loss adds λ_T·|π(s_t) − π(s_t+1)|² (0 = off).</summary>
    public double SmoothnessTemporal { get; init; }
    /// <summary>CAPS spatial smoothness weight λ_S: the actor loss adds λ_S·|π(s) − π(s + ε)|², ε ~ N(0, σ²) in
    /// normalised observation units (σ = <see cref="SmoothnessSpatialStd"/>; 0 = off).</summary>
    public double SmoothnessSpatial { get; init; }
    public double SmoothnessSpatialStd { get; init; } = 0.05;
    /// <summary>Rows of each actor batch the smoothness terms are measured on (0 = all): each term costs one more actor
    /// forward and backward pass on these rows.</summary>
    public int SmoothnessBatch { get; init; } = 32;
    /// <summary>Threads of each gradient update, the trainer's own included (0 = one per block of the batch, at most the
    /// machine's cores: 2 on a 2-core machine). The result does not depend on it (see <see cref="Td3Update"/>).</summary>
    public int UpdateThreads { get; init; }
    public int[] ActorHidden { get; init; } = [64, 64];
    public int[] CriticHidden { get; init; } = [64, 64];

    /// <summary>Binds the "training" section (null = all defaults).</summary>
    public static Td3Config Read(ConfigNode? training)
    {
        var d = new Td3Config();
        if (training is null) return d;
        var config = new Td3Config { Run = RunConfig.Read(training, DefaultRun, "td3", "sac") };
        if (training.Has("td3"))
        {
            ConfigNode t = training.Object("td3");
            config = config with
            {
                ReplayCapacity = t.Integer("replay_capacity", 1, 100_000_000, d.ReplayCapacity),
                WarmupEnvSteps = t.Integer("warmup_env_steps", 1, long.MaxValue, d.WarmupEnvSteps),
                WarmupActionStd = t.Number("warmup_action_std", 0, 10, d.WarmupActionStd),
                ActorWarmupEnvSteps = t.Integer("actor_warmup_env_steps", 0, long.MaxValue, d.ActorWarmupEnvSteps),
                EnvStepsPerCriticUpdate = (int)t.Integer("env_steps_per_critic_update", 1, 1_000_000, d.EnvStepsPerCriticUpdate),
                PolicyDelay = (int)t.Integer("policy_delay", 1, 1000, d.PolicyDelay),
                BatchSize = (int)t.Integer("batch_size", 1, 1_000_000, d.BatchSize),
                ActorLearningRate = t.Number("actor_learning_rate", 1e-8, 1, d.ActorLearningRate),
                CriticLearningRate = t.Number("critic_learning_rate", 1e-8, 1, d.CriticLearningRate),
                LearningRateFinalFraction = t.Number("learning_rate_final_fraction", 0, 1, d.LearningRateFinalFraction),
                WeightDecay = t.Number("weight_decay", 0, 1, d.WeightDecay),
                Gamma = t.Number("gamma", 0, 1, d.Gamma),
                NStep = (int)t.Integer("n_step", 1, 100, d.NStep),
                Tau = t.Number("tau", 0, 1, d.Tau),
                ExportedActor = t.Has("exported_actor") ? t.Choice("exported_actor", "target", "online") : d.ExportedActor,
                ExplorationNoise = t.Number("exploration_noise", 0, 10, d.ExplorationNoise),
                TargetNoise = t.Number("target_noise", 0, 10, d.TargetNoise),
                TargetNoiseClip = t.Number("target_noise_clip", 0, 10, d.TargetNoiseClip),
                SmoothnessTemporal = t.Number("smoothness_temporal", 0, 1e6, d.SmoothnessTemporal),
                SmoothnessSpatial = t.Number("smoothness_spatial", 0, 1e6, d.SmoothnessSpatial),
                SmoothnessSpatialStd = t.Number("smoothness_spatial_std", 0, 100, d.SmoothnessSpatialStd),
                SmoothnessBatch = (int)t.Integer("smoothness_batch", 0, 1_000_000, d.SmoothnessBatch),
                UpdateThreads = (int)t.Integer("update_threads", 0, 1024, d.UpdateThreads),
                ActorHidden = t.Has("actor_hidden") ? t.Integers("actor_hidden", 1, 8, 1, 4096) : d.ActorHidden,
                CriticHidden = t.Has("critic_hidden") ? t.Integers("critic_hidden", 1, 8, 1, 4096) : d.CriticHidden,
            };
            t.EnsureNoUnknownKeys();
            if (config.WarmupEnvSteps < 2L * config.Run.NumEnvs)
                throw t.Error("warmup_env_steps", $"must be at least 2 × num_envs = {2L * config.Run.NumEnvs} (observation statistics are measured during warm-up)");
        }
        training.EnsureNoUnknownKeys();
        return config;
    }
}

/// <summary>
/// TD3 on a vectorized task (the hover task's environments here), CleanRL style: everything that runs is in <see cref="Train"/>, top to bottom.
/// Asymmetric actor-critic: the actor sees the 149-value observation it will see on the robot (noisy, with its
/// action history); the twin critics see the 32-value privileged state (noise-free, disturbance, rotor speeds, randomised dynamics)
/// plus the action. Shared plumbing (replay memory, normaliser, logging, checkpoints, export) lives outside.
/// </summary>
public static class Td3
{
    /// <summary>
    /// Trains a policy and returns its bundle. <paramref name="makeEnv"/>(environments, threads) builds the vectorized
    /// environments (the task's curriculum follows <see cref="IVectorEnv.GlobalStep"/>); <paramref name="describe"/>
    /// gives the bundle's specs for a training-config JSON; warm-up explores around <paramref name="warmupAction"/> (the
    /// hover action for a quadrotor); <paramref name="session"/> logs, scores and checkpoints.
    /// </summary>
    public static PolicyBundle Train(Func<int, int, IVectorEnv> makeEnv, Td3Config c, Func<string, PolicyDescription> describe, float warmupAction, TrainingSession session)
    {
        // ---- 1. Seed everything: SeededRandom draws replay rows, warm-up actions and exploration noise; the update's
        // noise (target smoothing, CAPS) is addressed by seed, update and row (CounterNoise), so it needs no state.
        var random = new SeededRandom((ulong)c.Run.Seed * 0x9E3779B97F4A7C15UL + 1);

        // ---- 2. Environments. GlobalStep drives the reward curriculum.
        using IVectorEnv env = makeEnv(c.Run.NumEnvs, c.Run.SimThreads);
        int n = env.NumEnvs, obsSize = env.ActorObservationSize, criticSize = env.CriticObservationSize, act = env.ActionSize;
        env.Reset((ulong)c.Run.Seed);

        // ---- 3. Networks: actor 149 → hidden → 4 (tanh), twin critics (32 + 4) → hidden → 1, their targets (copies) and
        // Adam for both. Initialised as TorchSharp's nn.Linear (FlatMlp, which also exports the bundle); trained by
        // Td3Update's fused kernels on both cores, the same maths as autograd (Td3UpdateTests).
        using var actor = new FlatMlp([obsSize, .. c.ActorHidden, act], Activation.Relu, Activation.Tanh, seed: c.Run.Seed * 7 + 1);
        using var critic = new FlatMlp([criticSize + act, .. c.CriticHidden, 1], Activation.Relu, Activation.Identity, ensembleSize: 2, seed: c.Run.Seed * 7 + 2);
        using var learner = new Td3Update(actor, critic, c, actingRows: n, threads: c.UpdateThreads);

        // ---- 4. Replay memory (normalised observations) and the observation normalisers (measured in warm-up, then frozen).
        var replay = new ReplayBuffer(Math.Min(c.ReplayCapacity, c.Run.TotalEnvSteps), obsSize, criticSize, act);
        var actorNormalizer = new RunningNormalizer(obsSize, minStd: 1e-2f, maxStd: 1f);
        var criticNormalizer = new RunningNormalizer(criticSize, minStd: 1e-6f, maxStd: 1f); // disturbance torques are ~1e-5 N·m
        long globalStep = 0, criticUpdates = 0, actorUpdates = 0;

        if (session.ResumeFrom is { } checkpoint)
        {
            var saved = checkpoint.Load(learner.NamedState(), replay, actorNormalizer, criticNormalizer);
            learner.Restored();
            globalStep = saved.GlobalStep;
            criticUpdates = saved.Counter("critic_updates");
            actorUpdates = saved.Counter("actor_updates");
            learner.ActorAdam.StepCount = saved.Counter("actor_adam_t");
            learner.CriticAdam.StepCount = saved.Counter("critic_adam_t");
            random.State = (ulong)saved.Counter("random_state");
            // The simulators' mid-episode state is not saved: resumed runs start fresh episodes from a seed derived from the step.
            env.Reset((ulong)c.Run.Seed ^ (ulong)globalStep);
        }

        // Buffers allocated once: the step's inputs, a copy of the observations the actions were taken from,
        // and the replay rows of a batch (the update's threads gather them).
        var actions = new float[n * act];
        var observationsTaken = new float[n * obsSize];
        var criticObservationsTaken = new float[n * criticSize];
        var normalisedActing = new float[n * obsSize];
        var batchRows = new int[c.BatchSize];
        float lastCriticLoss = float.NaN, lastActorLoss = float.NaN;

        // n-step returns per environment; finished transitions go to the replay memory, normalised once the statistics
        // are frozen (rows stored earlier are normalised in place when they freeze).
        var nStep = new NStepReturns(n, c.NStep, c.Gamma, obsSize, criticSize, act);
        TransitionSink store = (o, co, a, r, no, nco, discount) => replay.Add(actorNormalizer, criticNormalizer, o, co, a, r, no, nco, discount);

        // ---- 5. The loop: act → step → store → train → log.
        while (globalStep < c.Run.EndEnvSteps)
        {
            env.GlobalStep = globalStep;
            bool warmingUp = globalStep < c.WarmupEnvSteps;

            // Act: random actions during warm-up, then the actor plus Gaussian exploration noise.
            if (warmingUp)
            {
                // Warm-up: the hover action plus Gaussian noise. Uniform random motor commands tumble the vehicle (body
                // rates of ~20 rad/s), which would teach the critic little and give the normaliser unrepresentative statistics.
                for (int k = 0; k < actions.Length; k++) actions[k] = Math.Clamp(warmupAction + (float)c.WarmupActionStd * random.NextNormal(), -1f, 1f);
            }
            else
            {
                actorNormalizer.Normalize(env.ActorObservations, normalisedActing);
                learner.Act(normalisedActing, actions);
                for (int k = 0; k < actions.Length; k++)
                    actions[k] = Math.Clamp(actions[k] + (float)c.ExplorationNoise * random.NextNormal(), -1f, 1f);
            }

            env.ActorObservations.CopyTo(observationsTaken);
            env.CriticObservations.CopyTo(criticObservationsTaken);
            env.Step(actions);
            globalStep += n;

            // Store. CRUCIAL STEP EASY TO OVERLOOK: where an episode ended, the env already shows the NEXT episode's
            // first observation; the transition's next observation is the finished episode's LAST one (Final*).
            // Only termination (crash, out of bounds) cuts the bootstrap; a truncated episode (time limit) bootstraps
            // from its final observation like any other step, because the state itself is not terminal.
            ReadOnlySpan<bool> terminated = env.Terminated, truncated = env.Truncated;
            for (int i = 0; i < n; i++)
            {
                bool ended = terminated[i] | truncated[i];
                ReadOnlySpan<float> nextActor = (ended ? env.FinalActorObservations : env.ActorObservations).Slice(i * obsSize, obsSize);
                ReadOnlySpan<float> nextCritic = (ended ? env.FinalCriticObservations : env.CriticObservations).Slice(i * criticSize, criticSize);
                nStep.Add(i, observationsTaken.AsSpan(i * obsSize, obsSize), criticObservationsTaken.AsSpan(i * criticSize, criticSize),
                    actions.AsSpan(i * act, act), env.Rewards[i], nextActor, nextCritic, terminated[i], ended, store);
                if (ended) session.EpisodeFinished(env.FinishedEpisodeReturns[i], env.FinishedEpisodeLengths[i]);
            }

            // Warm-up measures the observation statistics; at its end they are frozen and the rows stored so far
            // are normalised in place, so the replay memory holds what the networks see.
            if (!actorNormalizer.Frozen)
            {
                actorNormalizer.Update(observationsTaken);
                criticNormalizer.Update(criticObservationsTaken);
                if (globalStep >= c.WarmupEnvSteps)
                {
                    actorNormalizer.Freeze();
                    criticNormalizer.Freeze();
                    replay.NormaliseStoredRows(actorNormalizer, criticNormalizer);
                }
            }

            // Train: one critic update per EnvStepsPerCriticUpdate env steps after warm-up (a few per vector step),
            // the actor and both targets every PolicyDelay-th critic update once the actor's warm-up is over.
            long criticUpdatesDue = warmingUp ? 0 : (globalStep - c.WarmupEnvSteps) / c.EnvStepsPerCriticUpdate;
            double learningRateFactor = 1 - (1 - c.LearningRateFinalFraction) * Math.Min(1.0, (double)globalStep / c.Run.TotalEnvSteps);
            learner.ActorAdam.LearningRate = c.ActorLearningRate * learningRateFactor;
            learner.CriticAdam.LearningRate = c.CriticLearningRate * learningRateFactor;
            while (criticUpdates < criticUpdatesDue)
            {
                // A batch: BatchSize transitions drawn uniformly with replacement (observations already normalised).
                replay.SampleRows(random, batchRows);

                // Critic: y = R + γ^n·(1 − terminated)·min_i Q'_i(s', clip(π'(s') + clip(ε, −c, c), −1, 1)), R the n-step return
                // (the replay memory's discount is γ^n, or 0 after termination); loss Σ_i mean (Q_i(s, a) − y)², one Adam step.
                float criticLoss = learner.UpdateCritic(replay, batchRows, update: criticUpdates);
                criticUpdates++;

                if (criticUpdates % c.PolicyDelay == 0 && globalStep >= c.ActorWarmupEnvSteps)
                {
                    // Actor: maximise Q1(s, π(s)) on the same batch; the critic only passes the gradient through.
                    // CAPS (when its weights are set): penalise action changes between consecutive and between nearby
                    // observations, which the critic does not see (the rotor lag filters chattering, so it barely costs
                    // reward) but which wastes control authority and shakes the vehicle off the target.
                    float actorLoss = learner.UpdateActor(update: actorUpdates);
                    actorUpdates++;
                    // Both targets move with the delayed actor (TD3 paper).
                    learner.UpdateTargets(c.Tau);
                    if (criticUpdates % 100 == 0) lastActorLoss = actorLoss;
                }
                if (criticUpdates % 100 == 0) lastCriticLoss = criticLoss;
            }

            // Log, evaluate, checkpoint.
            session.Step(globalStep, n, lastCriticLoss, lastActorLoss, criticUpdates, actorUpdates);
            if (session.EvaluationDue(globalStep, n, c.Run.EvalEveryEnvSteps, c.Run.EvalFromEnvSteps) && actorNormalizer.Frozen)
                session.Score(Export(), globalStep, c.Run.EvalEpisodes);
            if (session.CheckpointDue(globalStep, n, c.Run.CheckpointEveryEnvSteps) || globalStep >= c.Run.EndEnvSteps)
                SaveCheckpoint();
        }
        return Export();

        // The current actor as a bundle; golden vectors are the environments' current raw observations.
        PolicyBundle Export()
        {
            int golden = Math.Min(8, n);
            float[] goldenObservations = env.ActorObservations[..(golden * obsSize)].ToArray();
            TensorCopy.From(actor.Parameters, learner.ExportedActor.Parameters); // the trained weights into the TorchSharp actor the export reads
            return PolicyExport.Export(actor, describe(ConfigJson(c)), actorNormalizer.Mean, actorNormalizer.Std, goldenObservations);
        }

        void SaveCheckpoint() => session.SaveCheckpoint(globalStep, learner.NamedState(), new Dictionary<string, long>
        {
            ["critic_updates"] = criticUpdates,
            ["actor_updates"] = actorUpdates,
            ["actor_adam_t"] = learner.ActorAdam.StepCount,
            ["critic_adam_t"] = learner.CriticAdam.StepCount,
            ["random_state"] = (long)random.State,
        }, replay, actorNormalizer, criticNormalizer);
    }

    /// <summary>The hyperparameters as JSON (recorded in the bundle and the run directory).</summary>
    public static string ConfigJson(Td3Config c) => RunConfig.HyperparametersJson("td3", c.Run, c);
}
