using System.Text.Json.Serialization;
using RoboRl.Core.Configs;
using RoboRl.Core.Policy;
using RoboRl.Core.Tasks;
using RoboRl.Sims;
using RoboRl.Sims.Quadrotor;
using TorchSharp;
using static TorchSharp.torch;

namespace RoboRl.Training;

/// <summary>
/// SAC hyperparameters (Haarnoja et al., "Soft Actor-Critic Algorithms and Applications", 2018, with automatic
/// entropy tuning), bound from the task file's "training" section (run keys) and its "sac" subsection.
/// Absent keys take the default; unknown keys and out-of-range values are <see cref="ConfigException"/>s.
/// </summary>
public sealed record SacConfig : IAlgorithmConfig
{
    // ---- the run: the "training" section's shared keys (RunConfig), with SAC's defaults
    public static RunConfig DefaultRun { get; } = new();
    [JsonIgnore] public RunConfig Run { get; init; } = DefaultRun;
    [JsonIgnore] public string Algorithm => "sac";
    [JsonIgnore] public bool Checkpoints => true;
    public string ToJson() => Sac.ConfigJson(this);

    // ---- SAC
    public long ReplayCapacity { get; init; } = 300_000;
    /// <summary>Std of the warm-up actions around the hover action (see <see cref="WarmupEnvSteps"/>).</summary>
    public double WarmupActionStd { get; init; } = 0.3;
    /// <summary>Random actions (hover action + Gaussian noise) for this many env steps (observation statistics are measured on them).</summary>
    public long WarmupEnvSteps { get; init; } = 15_000;
    /// <summary>One update (critics, actor, temperature, targets) per this many env steps.</summary>
    public int EnvStepsPerUpdate { get; init; } = 10;
    public int BatchSize { get; init; } = 256;
    public double ActorLearningRate { get; init; } = 3e-4;
    public double CriticLearningRate { get; init; } = 1e-3;
    public double AlphaLearningRate { get; init; } = 1e-3;
    public double Gamma { get; init; } = 0.99;
    public double Tau { get; init; } = 0.005;
    /// <summary>Initial entropy temperature α.</summary>
    public double InitialAlpha { get; init; } = 0.2;
    /// <summary>Tune α so the policy's entropy tracks <see cref="TargetEntropy"/> (default −|A| = −4).</summary>
    public bool AutotuneAlpha { get; init; } = true;
    public double TargetEntropy { get; init; } = -4;
    /// <summary>Clamp of the Gaussian head's log σ.</summary>
    public double LogStdMin { get; init; } = -5;
    public double LogStdMax { get; init; } = 2;
    public int[] ActorHidden { get; init; } = [64, 64];
    public int[] CriticHidden { get; init; } = [64, 64];

    public static SacConfig Read(ConfigNode? training)
    {
        var d = new SacConfig();
        if (training is null) return d;
        var config = new SacConfig { Run = RunConfig.Read(training, DefaultRun, "td3", "sac") };
        if (training.Has("sac"))
        {
            ConfigNode s = training.Object("sac");
            config = config with
            {
                ReplayCapacity = s.Integer("replay_capacity", 1, 100_000_000, d.ReplayCapacity),
                WarmupEnvSteps = s.Integer("warmup_env_steps", 1, long.MaxValue, d.WarmupEnvSteps),
                WarmupActionStd = s.Number("warmup_action_std", 0, 10, d.WarmupActionStd),
                EnvStepsPerUpdate = (int)s.Integer("env_steps_per_update", 1, 1_000_000, d.EnvStepsPerUpdate),
                BatchSize = (int)s.Integer("batch_size", 1, 1_000_000, d.BatchSize),
                ActorLearningRate = s.Number("actor_learning_rate", 1e-8, 1, d.ActorLearningRate),
                CriticLearningRate = s.Number("critic_learning_rate", 1e-8, 1, d.CriticLearningRate),
                AlphaLearningRate = s.Number("alpha_learning_rate", 1e-8, 1, d.AlphaLearningRate),
                Gamma = s.Number("gamma", 0, 1, d.Gamma),
                Tau = s.Number("tau", 0, 1, d.Tau),
                InitialAlpha = s.Number("initial_alpha", 1e-8, 100, d.InitialAlpha),
                AutotuneAlpha = s.Has("autotune_alpha") ? s.Boolean("autotune_alpha") : d.AutotuneAlpha,
                TargetEntropy = s.Number("target_entropy", -100, 100, d.TargetEntropy),
                LogStdMin = s.Number("log_std_min", -20, 0, d.LogStdMin),
                LogStdMax = s.Number("log_std_max", -5, 5, d.LogStdMax),
                ActorHidden = s.Has("actor_hidden") ? s.Integers("actor_hidden", 1, 8, 1, 4096) : d.ActorHidden,
                CriticHidden = s.Has("critic_hidden") ? s.Integers("critic_hidden", 1, 8, 1, 4096) : d.CriticHidden,
            };
            s.EnsureNoUnknownKeys();
        }
        training.EnsureNoUnknownKeys();
        if (config.WarmupEnvSteps < 2L * config.Run.NumEnvs)
            throw training.Error("sac", $"warmup_env_steps must be at least 2 × num_envs = {2L * config.Run.NumEnvs} (observation statistics are measured during warm-up)");
        return config;
    }
}

/// <summary>
/// SAC on a vectorized task (the hover task's environments here), CleanRL style (everything that runs is in <see cref="Train"/>). The actor is a
/// squashed Gaussian: the network outputs [mean, log σ] (identity), the action is tanh(mean + σ·ε); the deployed
/// policy is its deterministic mode tanh(mean) (<see cref="ActorHead.SquashedGaussianMean"/>). Asymmetric: twin
/// critics see the 32-value privileged state + action, the actor the 149-value observation.
/// </summary>
public static class Sac
{
    /// <summary>Trains a policy and returns its bundle; the arguments mean what they mean for <see cref="Td3.Train"/>.</summary>
    public static PolicyBundle Train(Func<int, int, IVectorEnv> makeEnv, SacConfig c, Func<string, PolicyDescription> describe, float warmupAction, TrainingSession session)
    {
        // ---- 1. Seed everything.
        torch.random.manual_seed(c.Run.Seed);
        var random = new SeededRandom((ulong)c.Run.Seed * 0x9E3779B97F4A7C15UL + 2);

        // ---- 2. Environments.
        using IVectorEnv env = makeEnv(c.Run.NumEnvs, c.Run.SimThreads);
        int n = env.NumEnvs, obsSize = env.ActorObservationSize, criticSize = env.CriticObservationSize, act = env.ActionSize;
        env.Reset((ulong)c.Run.Seed);

        // ---- 3. Networks: Gaussian actor 149 → hidden → 2·4 ([mean, log σ]); twin critics and their targets.
        using var actor = new FlatMlp([obsSize, .. c.ActorHidden, 2 * act], Activation.Relu, Activation.Identity, seed: c.Run.Seed * 7 + 1);
        using var critic = new FlatMlp([criticSize + act, .. c.CriticHidden, 1], Activation.Relu, Activation.Identity, ensembleSize: 2, seed: c.Run.Seed * 7 + 2);
        using FlatMlp criticTarget = critic.Clone();
        using var actorAdam = new FlatAdam(actor, c.ActorLearningRate);
        using var criticAdam = new FlatAdam(critic, c.CriticLearningRate);
        // The temperature as log α, a one-element "network" with its own Adam.
        using Tensor logAlpha = tensor(new[] { (float)Math.Log(c.InitialAlpha) }).requires_grad_(true);
        using Tensor logAlphaGradient = zeros(1);
        logAlpha.grad = logAlphaGradient;
        using var alphaAdam = new FlatAdam(logAlpha, logAlphaGradient, c.AlphaLearningRate);

        // ---- 4. Replay memory and normalisers (as TD3).
        var replay = new ReplayBuffer(Math.Min(c.ReplayCapacity, c.Run.TotalEnvSteps), obsSize, criticSize, act);
        var actorNormalizer = new RunningNormalizer(obsSize, minStd: 1e-2f, maxStd: 1f);
        var criticNormalizer = new RunningNormalizer(criticSize, minStd: 1e-6f, maxStd: 1f);
        long globalStep = 0, updates = 0;

        Dictionary<string, Tensor> State() => new()
        {
            ["actor"] = actor.Parameters,
            ["critic"] = critic.Parameters,
            ["critic_target"] = criticTarget.Parameters,
            ["actor_adam_m"] = actorAdam.FirstMoment,
            ["actor_adam_v"] = actorAdam.SecondMoment,
            ["critic_adam_m"] = criticAdam.FirstMoment,
            ["critic_adam_v"] = criticAdam.SecondMoment,
            ["log_alpha"] = logAlpha,
            ["alpha_adam_m"] = alphaAdam.FirstMoment,
            ["alpha_adam_v"] = alphaAdam.SecondMoment,
        };
        if (session.ResumeFrom is { } checkpoint)
        {
            var saved = checkpoint.Load(State(), replay, actorNormalizer, criticNormalizer);
            globalStep = saved.GlobalStep;
            updates = saved.Counter("updates");
            actorAdam.RestoreStepCount(saved.Counter("actor_adam_t"));
            criticAdam.RestoreStepCount(saved.Counter("critic_adam_t"));
            alphaAdam.RestoreStepCount(saved.Counter("alpha_adam_t"));
            random.State = (ulong)saved.Counter("random_state");
            env.Reset((ulong)c.Run.Seed ^ (ulong)globalStep); // simulator state is not saved: fresh episodes
            torch.random.manual_seed(c.Run.Seed ^ globalStep);
        }

        var actions = new float[n * act];
        var observationsTaken = new float[n * obsSize];
        var criticObservationsTaken = new float[n * criticSize];
        var normalisedActing = new float[n * obsSize];
        var row0 = new float[obsSize];
        var row1 = new float[obsSize];
        var criticRow0 = new float[criticSize];
        var criticRow1 = new float[criticSize];
        int b = c.BatchSize, cin = criticSize + act;
        var batchObservations = new float[b * obsSize];
        var batchCriticInputs = new float[b * cin];
        var batchCriticObservations = new float[b * criticSize];
        var batchNextObservations = new float[b * obsSize];
        var batchNextCriticObservations = new float[b * criticSize];
        var batchRewards = new float[b];
        var batchDiscounts = new float[b];
        using Tensor observationT = zeros(b, obsSize), criticInputT = zeros(b, cin), criticObservationT = zeros(b, criticSize);
        using Tensor nextObservationT = zeros(b, obsSize), nextCriticObservationT = zeros(b, criticSize);
        using Tensor rewardT = zeros(b, 1), discountT = zeros(b, 1), actingT = zeros(n, obsSize);
        float lastCriticLoss = float.NaN, lastActorLoss = float.NaN;

        // ---- 5. The loop: act → step → store → train → log.
        while (globalStep < c.Run.EndEnvSteps)
        {
            env.GlobalStep = globalStep;
            bool warmingUp = globalStep < c.WarmupEnvSteps;
            if (warmingUp)
            {
                // Warm-up: the hover action plus Gaussian noise. Uniform random motor commands tumble the vehicle (body
                // rates of ~20 rad/s), which would teach the critic little and give the normaliser unrepresentative statistics.
                for (int k = 0; k < actions.Length; k++) actions[k] = Math.Clamp(warmupAction + (float)c.WarmupActionStd * random.NextNormal(), -1f, 1f);
            }
            else
            {
                // Explore by sampling the policy: tanh(mean + σ·ε).
                actorNormalizer.Normalize(env.ActorObservations, normalisedActing);
                using var scope = NewDisposeScope();
                using (no_grad())
                {
                    TensorCopy.From(actingT, normalisedActing);
                    var (action, _) = SampleAction(actor.Forward(actingT));
                    TensorCopy.To(action.contiguous(), actions);
                }
            }

            env.ActorObservations.CopyTo(observationsTaken);
            env.CriticObservations.CopyTo(criticObservationsTaken);
            env.Step(actions);
            globalStep += n;

            // Store. CRUCIAL STEP EASY TO OVERLOOK: an ended episode's next observation is its LAST one (Final*), not
            // the auto-reset's first; only termination cuts the bootstrap, truncation (time limit) bootstraps.
            ReadOnlySpan<bool> terminated = env.Terminated, truncated = env.Truncated;
            for (int i = 0; i < n; i++)
            {
                bool ended = terminated[i] | truncated[i];
                ReadOnlySpan<float> nextActor = (ended ? env.FinalActorObservations : env.ActorObservations).Slice(i * obsSize, obsSize);
                ReadOnlySpan<float> nextCritic = (ended ? env.FinalCriticObservations : env.CriticObservations).Slice(i * criticSize, criticSize);
                ReadOnlySpan<float> actor0 = observationsTaken.AsSpan(i * obsSize, obsSize);
                ReadOnlySpan<float> critic0 = criticObservationsTaken.AsSpan(i * criticSize, criticSize);
                if (actorNormalizer.Frozen)
                {
                    actorNormalizer.Normalize(actor0, row0);
                    actorNormalizer.Normalize(nextActor, row1);
                    criticNormalizer.Normalize(critic0, criticRow0);
                    criticNormalizer.Normalize(nextCritic, criticRow1);
                    replay.Add(row0, criticRow0, actions.AsSpan(i * act, act), env.Rewards[i], row1, criticRow1, terminated[i] ? 0 : (float)c.Gamma);
                }
                else replay.Add(actor0, critic0, actions.AsSpan(i * act, act), env.Rewards[i], nextActor, nextCritic, terminated[i] ? 0 : (float)c.Gamma);
                if (ended) session.EpisodeFinished(env.FinishedEpisodeReturns[i], env.FinishedEpisodeLengths[i]);
            }
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

            // Train: one full SAC update per EnvStepsPerUpdate env steps after warm-up.
            long updatesDue = warmingUp ? 0 : (globalStep - c.WarmupEnvSteps) / c.EnvStepsPerUpdate;
            while (updates < updatesDue)
            {
                replay.SampleInto(random, b, batchObservations, batchCriticInputs, batchCriticObservations,
                    batchNextObservations, batchNextCriticObservations, batchRewards, batchDiscounts);
                TensorCopy.From(observationT, batchObservations);
                TensorCopy.From(criticInputT, batchCriticInputs);
                TensorCopy.From(criticObservationT, batchCriticObservations);
                TensorCopy.From(nextObservationT, batchNextObservations);
                TensorCopy.From(nextCriticObservationT, batchNextCriticObservations);
                TensorCopy.From(rewardT, batchRewards);
                TensorCopy.From(discountT, batchDiscounts);
                using var scope = NewDisposeScope();
                Tensor alpha = logAlpha.detach().exp();

                // Critic: y = r + γ·(1 − terminated)·(min_i Q'_i(s', a') − α·log π(a'|s')), a' ~ π(·|s').
                Tensor target;
                using (no_grad())
                {
                    var (nextAction, nextLogProb) = SampleAction(actor.Forward(nextObservationT));
                    Tensor nextQ = criticTarget.Forward(cat([nextCriticObservationT, nextAction], 1)).amin(0);
                    target = nextQ.sub_(alpha * nextLogProb).mul_(discountT).add_(rewardT); // discount = γ, or 0 after termination
                }
                Tensor criticLoss = (critic.Forward(criticInputT) - target).pow(2).mean(dimensions: [1, 2]).sum();
                critic.ZeroGrad();
                criticLoss.backward();
                criticAdam.Step();

                // Actor: minimise α·log π(a|s) − min_i Q_i(s, a), a ~ π(·|s) (reparameterised); critics only pass gradient.
                var (newAction, logProb) = SampleAction(actor.Forward(observationT));
                critic.RequiresGrad = false;
                Tensor qNew = critic.Forward(cat([criticObservationT, newAction], 1)).amin(0);
                critic.RequiresGrad = true;
                Tensor actorLoss = (alpha * logProb - qNew).mean();
                actor.ZeroGrad();
                actorLoss.backward();
                actorAdam.Step();

                // Temperature: minimise −log α·(log π + target entropy), pushing the entropy towards its target.
                if (c.AutotuneAlpha)
                {
                    Tensor alphaLoss = (logAlpha * (logProb.detach() + c.TargetEntropy).neg()).mean();
                    logAlphaGradient.zero_();
                    alphaLoss.backward();
                    alphaAdam.Step();
                }
                criticTarget.PolyakFrom(critic, c.Tau);
                updates++;
                if (updates % 100 == 0)
                {
                    lastCriticLoss = criticLoss.item<float>();
                    lastActorLoss = actorLoss.item<float>();
                }
            }

            session.Step(globalStep, n, lastCriticLoss, lastActorLoss, updates, updates);
            if (session.EvaluationDue(globalStep, n, c.Run.EvalEveryEnvSteps, c.Run.EvalFromEnvSteps) && actorNormalizer.Frozen)
                session.Score(Export(), globalStep, c.Run.EvalEpisodes);
            if (session.CheckpointDue(globalStep, n, c.Run.CheckpointEveryEnvSteps) || globalStep >= c.Run.EndEnvSteps)
                session.SaveCheckpoint(globalStep, State(), new Dictionary<string, long>
                {
                    ["updates"] = updates,
                    ["actor_adam_t"] = actorAdam.StepCount,
                    ["critic_adam_t"] = criticAdam.StepCount,
                    ["alpha_adam_t"] = alphaAdam.StepCount,
                    ["random_state"] = (long)random.State,
                }, replay, actorNormalizer, criticNormalizer);
        }
        return Export();

        // a = tanh(u), u = mean + σ·ε; log π(a) = log N(u; mean, σ) − Σ log(1 − tanh²(u)) (change of variables).
        (Tensor Action, Tensor LogProb) SampleAction(Tensor head)
        {
            Tensor mean = head.narrow(1, 0, act);
            Tensor logStd = head.narrow(1, act, act).clamp(c.LogStdMin, c.LogStdMax);
            Tensor noise = randn_like(mean);
            Tensor u = mean + logStd.exp() * noise;
            Tensor action = u.tanh();
            Tensor logProb = (noise.pow(2).mul(-0.5) - logStd - 0.5 * Math.Log(2 * Math.PI)
                              - (1 - action.pow(2) + 1e-6).log()).sum(1, keepdim: true);
            return (action, logProb);
        }

        PolicyBundle Export()
        {
            int golden = Math.Min(8, n);
            float[] goldenObservations = env.ActorObservations[..(golden * obsSize)].ToArray();
            return PolicyExport.Export(actor, describe(ConfigJson(c)), actorNormalizer.Mean, actorNormalizer.Std,
                goldenObservations, ActorHead.SquashedGaussianMean(act));
        }
    }

    public static string ConfigJson(SacConfig c) => RunConfig.HyperparametersJson("sac", c.Run, c);
}
