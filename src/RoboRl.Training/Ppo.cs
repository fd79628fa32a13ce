using System.Text.Json.Serialization;
using RoboRl.Core.Configs;
using RoboRl.Core.Policy;
using RoboRl.Sims;
using TorchSharp;
using static TorchSharp.torch;

namespace RoboRl.Training;

/// <summary>
/// PPO hyperparameters (Schulman et al., "Proximal Policy Optimization Algorithms", 2017; defaults of CleanRL's
/// ppo_continuous_action.py unless the task file says otherwise), bound from the task file's "training" section (run
/// keys) and its "ppo" subsection. Absent keys take the default; unknown keys and out-of-range values are
/// <see cref="ConfigException"/>s naming the file and JSON path.
/// </summary>
public sealed record PpoConfig : IAlgorithmConfig
{
    // ---- the run: the "training" section's shared keys (RunConfig), with PPO's defaults
    public static RunConfig DefaultRun { get; } = new() { TotalEnvSteps = 1_000_000, NumEnvs = 64, EvalEveryEnvSteps = 100_000, FinalEvalEpisodes = 500, CheckpointEveryEnvSteps = 0 };
    [JsonIgnore] public RunConfig Run { get; init; } = DefaultRun;
    [JsonIgnore] public string Algorithm => "ppo";
    [JsonIgnore] public bool Checkpoints => false;
    public string ToJson() => Ppo.ConfigJson(this);

    // ---- PPO
    /// <summary>Steps per environment in one rollout; a rollout holds NumSteps × NumEnvs transitions.</summary>
    public int NumSteps { get; init; } = 128;
    /// <summary>Minibatches per epoch over the rollout.</summary>
    public int NumMinibatches { get; init; } = 8;
    /// <summary>Passes over each rollout.</summary>
    public int UpdateEpochs { get; init; } = 10;
    public double LearningRate { get; init; } = 3e-4;
    /// <summary>Anneal the learning rate linearly to 0 over the run (CleanRL's anneal_lr).</summary>
    public bool AnnealLearningRate { get; init; } = true;
    public double Gamma { get; init; } = 0.99;
    /// <summary>λ of generalised advantage estimation (Schulman et al. 2016).</summary>
    public double GaeLambda { get; init; } = 0.95;
    /// <summary>Normalise advantages per minibatch.</summary>
    public bool NormalizeAdvantages { get; init; } = true;
    /// <summary>ε of the clipped surrogate: the ratio π_new/π_old is clipped to [1 − ε, 1 + ε].</summary>
    public double ClipCoefficient { get; init; } = 0.2;
    /// <summary>Clip the value update around the rollout's values by the same ε (PPO2's value clipping).</summary>
    public bool ClipValueLoss { get; init; } = true;
    /// <summary>Weight of the entropy bonus.</summary>
    public double EntropyCoefficient { get; init; } = 0.0;
    /// <summary>Weight of the value loss.</summary>
    public double ValueCoefficient { get; init; } = 0.5;
    /// <summary>Global gradient-norm clip over all parameters.</summary>
    public double MaxGradNorm { get; init; } = 0.5;
    /// <summary>Stop the epochs of an update early once the approximate KL exceeds this (0 = never).</summary>
    public double TargetKl { get; init; } = 0;
    /// <summary>Initial log σ of the state-independent Gaussian (before the tanh squash).</summary>
    public double InitialLogStd { get; init; } = 0;
    /// <summary>Rewards are multiplied by this before GAE (keeps value targets near unit scale).</summary>
    public double RewardScale { get; init; } = 1;
    /// <summary>Random actions from the initial policy's distribution for this many env steps measure the observation
    /// statistics (then frozen and written into the bundle); these steps are not learned from.</summary>
    public long NormalizerWarmupEnvSteps { get; init; } = 10_000;
    public int[] ActorHidden { get; init; } = [64, 64];
    public int[] CriticHidden { get; init; } = [64, 64];

    /// <summary>Transitions per rollout.</summary>
    public int BatchSize => NumSteps * Run.NumEnvs;
    public int MinibatchSize => BatchSize / NumMinibatches;

    /// <summary>Binds the "training" section (null = all defaults).</summary>
    public static PpoConfig Read(ConfigNode? training)
    {
        var d = new PpoConfig();
        if (training is null) return d;
        var config = new PpoConfig { Run = RunConfig.Read(training, DefaultRun) };
        if (config.Run.CheckpointEveryEnvSteps != 0)
            throw training.Error("checkpoint_every_env_steps", "PPO runs do not write checkpoints (they take minutes); expected 0 or no key");
        if (training.Has("ppo"))
        {
            ConfigNode p = training.Object("ppo");
            config = config with
            {
                NumSteps = (int)p.Integer("num_steps", 1, 100_000, d.NumSteps),
                NumMinibatches = (int)p.Integer("num_minibatches", 1, 100_000, d.NumMinibatches),
                UpdateEpochs = (int)p.Integer("update_epochs", 1, 1000, d.UpdateEpochs),
                LearningRate = p.Number("learning_rate", 1e-8, 1, d.LearningRate),
                AnnealLearningRate = p.Has("anneal_learning_rate") ? p.Boolean("anneal_learning_rate") : d.AnnealLearningRate,
                Gamma = p.Number("gamma", 0, 1, d.Gamma),
                GaeLambda = p.Number("gae_lambda", 0, 1, d.GaeLambda),
                NormalizeAdvantages = p.Has("normalize_advantages") ? p.Boolean("normalize_advantages") : d.NormalizeAdvantages,
                ClipCoefficient = p.Number("clip_coefficient", 0, 10, d.ClipCoefficient),
                ClipValueLoss = p.Has("clip_value_loss") ? p.Boolean("clip_value_loss") : d.ClipValueLoss,
                EntropyCoefficient = p.Number("entropy_coefficient", 0, 10, d.EntropyCoefficient),
                ValueCoefficient = p.Number("value_coefficient", 0, 100, d.ValueCoefficient),
                MaxGradNorm = p.Number("max_grad_norm", 1e-6, 1e6, d.MaxGradNorm),
                TargetKl = p.Number("target_kl", 0, 10, d.TargetKl),
                InitialLogStd = p.Number("initial_log_std", -5, 2, d.InitialLogStd),
                RewardScale = p.Number("reward_scale", 1e-6, 1e6, d.RewardScale),
                NormalizerWarmupEnvSteps = p.Integer("normalizer_warmup_env_steps", 1, long.MaxValue, d.NormalizerWarmupEnvSteps),
                ActorHidden = p.Has("actor_hidden") ? p.Integers("actor_hidden", 1, 8, 1, 4096) : d.ActorHidden,
                CriticHidden = p.Has("critic_hidden") ? p.Integers("critic_hidden", 1, 8, 1, 4096) : d.CriticHidden,
            };
            if (config.BatchSize % config.NumMinibatches != 0 || config.MinibatchSize < 2)
                throw p.Error("num_minibatches", $"must divide num_steps × num_envs = {config.BatchSize} into minibatches of at least 2");
            if (config.NormalizerWarmupEnvSteps < 2L * config.Run.NumEnvs)
                throw p.Error("normalizer_warmup_env_steps", $"must be at least 2 × num_envs = {2L * config.Run.NumEnvs}");
            p.EnsureNoUnknownKeys();
        }
        training.EnsureNoUnknownKeys();
        return config;
    }
}

/// <summary>
/// PPO with a tanh-squashed, state-independent-σ Gaussian policy, CleanRL style: everything that runs is in
/// <see cref="Train"/>, top to bottom. Rollout of NumSteps × NumEnvs → GAE(λ) → UpdateEpochs passes of shuffled
/// minibatches (clipped surrogate, clipped value loss, entropy bonus, global gradient clipping, Adam).
///
/// The squash: the policy samples u ~ N(μ(s), σ²) and the environment gets a = tanh(u) ∈ (−1, 1). The rollout
/// stores u, so the probability ratio π_new(u)/π_old(u) is exact (tanh's Jacobian is the same for both policies and
/// cancels); the entropy bonus is that of the Gaussian. The deployed action is tanh(μ(s)), which the bundle encodes
/// as the actor's tanh output layer, so the C# engine, the firmware and the trainer compute the same action.
/// The value function reads the environment's critic observation (the actor's, or privileged state where the
/// environment offers it).
/// </summary>
public static class Ppo
{
    static readonly double HalfLog2Pi = 0.5 * Math.Log(2 * Math.PI);

    /// <summary>
    /// Trains a policy and returns its bundle. <paramref name="makeEnv"/> builds the vectorized environment for
    /// <see cref="RunConfig.NumEnvs"/> environments (and <see cref="RunConfig.SimThreads"/>); <paramref name="describe"/>
    /// gives the bundle's specs for a training-config JSON; <paramref name="session"/> logs and scores
    /// (<see cref="TrainingSession.Score"/>).
    /// </summary>
    public static PolicyBundle Train(Func<int, int, IVectorEnv> makeEnv, PpoConfig c, Func<string, PolicyDescription> describe, TrainingSession session)
    {
        // ---- 1. Seed everything. Torch draws the initial weights and the minibatch order; SeededRandom the action noise.
        torch.random.manual_seed(c.Run.Seed);
        var random = new SeededRandom((ulong)c.Run.Seed * 0x9E3779B97F4A7C15UL + 3);

        // ---- 2. Environments.
        using IVectorEnv env = makeEnv(c.Run.NumEnvs, c.Run.SimThreads);
        int n = env.NumEnvs, obsSize = env.ActorObservationSize, criticSize = env.CriticObservationSize, act = env.ActionSize;
        env.Reset((ulong)c.Run.Seed);

        // ---- 3. Networks: actor obs → hidden (tanh) → μ (identity; tanh is applied after sampling), critic → V,
        // a state-independent log σ, orthogonal initialisation (gain √2, policy head 0.01, value head 1).
        using var actor = new FlatMlp([obsSize, .. c.ActorHidden, act], Activation.Tanh, Activation.Identity, seed: c.Run.Seed * 7 + 1);
        using var critic = new FlatMlp([criticSize, .. c.CriticHidden, 1], Activation.Tanh, Activation.Identity, seed: c.Run.Seed * 7 + 2);
        actor.InitializeOrthogonal(Math.Sqrt(2), 0.01);
        critic.InitializeOrthogonal(Math.Sqrt(2), 1.0);
        using Tensor logStd = full([act], (float)c.InitialLogStd).requires_grad_(true);
        using Tensor logStdGradient = zeros(act);
        logStd.grad = logStdGradient;
        // One Adam per parameter buffer is the same arithmetic as one Adam over all of them (Adam is per element).
        using var actorAdam = new FlatAdam(actor, c.LearningRate, epsilon: 1e-5);
        using var criticAdam = new FlatAdam(critic, c.LearningRate, epsilon: 1e-5);
        using var logStdAdam = new FlatAdam(logStd, logStdGradient, c.LearningRate, epsilon: 1e-5);

        // ---- 4. Observation normalisers (measured during warm-up, then frozen and exported) and the rollout storage.
        var actorNormalizer = new RunningNormalizer(obsSize, minStd: 1e-2f);
        var criticNormalizer = new RunningNormalizer(criticSize, minStd: 1e-2f);
        int T = c.NumSteps, batch = c.BatchSize;
        var observations = new float[batch * obsSize];        // normalised, row t·n + i
        var criticObservations = new float[batch * criticSize];
        var preSquashActions = new float[batch * act];        // u, before tanh
        var logProbs = new float[batch];
        var rewards = new float[batch];
        var episodeEnds = new bool[batch];                     // the episode ended (terminated or truncated) in this step
        var values = new float[batch];
        var advantages = new float[batch];
        var returns = new float[batch];
        var nextValues = new float[n];
        var actions = new float[n * act];
        var noise = new float[n * act];
        var stepMeans = new float[n * act];
        var stepValues = new float[n];
        var finalValues = new float[n];
        var normalisedFinal = new float[n * criticSize];
        var logStdValues = new float[act];
        using Tensor actingT = zeros(n, obsSize), valuingT = zeros(n, criticSize);
        long globalStep = 0, updates = 0;
        float lastValueLoss = float.NaN, lastPolicyLoss = float.NaN;

        // Warm-up: actions from the initial policy's distribution (μ ≈ 0 by the 0.01 head gain, σ = e^initial_log_std)
        // measure the observation statistics; then they are frozen, so the networks' inputs never drift under them.
        float initialStd = (float)Math.Exp(c.InitialLogStd);
        while (globalStep < c.NormalizerWarmupEnvSteps)
        {
            actorNormalizer.Update(env.ActorObservations);
            criticNormalizer.Update(env.CriticObservations);
            for (int k = 0; k < actions.Length; k++) actions[k] = MathF.Tanh(initialStd * random.NextNormal());
            env.Step(actions);
            globalStep += n;
        }
        actorNormalizer.Freeze();
        criticNormalizer.Freeze();

        // ---- 5. The loop: rollout → GAE → update epochs → log.
        long learningSteps = c.Run.TotalEnvSteps - globalStep;
        while (globalStep < c.Run.TotalEnvSteps)
        {
            // Learning rate annealed linearly to 0 over the learning steps (CleanRL's anneal_lr).
            double fraction = c.AnnealLearningRate ? Math.Max(0, 1.0 - (double)(globalStep - c.NormalizerWarmupEnvSteps) / Math.Max(1, learningSteps)) : 1;
            actorAdam.LearningRate = criticAdam.LearningRate = logStdAdam.LearningRate = Math.Max(1e-12, c.LearningRate * fraction);
            using (no_grad()) TensorCopy.To(logStd, logStdValues);

            // Rollout: T vector steps with the current policy.
            for (int t = 0; t < T; t++)
            {
                env.GlobalStep = globalStep;
                int row = t * n;
                Span<float> obsRows = observations.AsSpan(row * obsSize, n * obsSize);
                Span<float> criticRows = criticObservations.AsSpan(row * criticSize, n * criticSize);
                actorNormalizer.Normalize(env.ActorObservations, obsRows);
                criticNormalizer.Normalize(env.CriticObservations, criticRows);
                using (var scope = NewDisposeScope())
                using (no_grad())
                {
                    TensorCopy.From(actingT, obsRows);
                    TensorCopy.From(valuingT, criticRows);
                    TensorCopy.To(actor.Forward(actingT), stepMeans);
                    TensorCopy.To(critic.Forward(valuingT), stepValues);
                }
                // Sample u = μ + σ·ε, a = tanh(u); log π(u) = Σ_j −ε_j²/2 − log σ_j − ½ log 2π.
                for (int i = 0; i < n; i++)
                {
                    double logProb = 0;
                    for (int j = 0; j < act; j++)
                    {
                        int k = i * act + j;
                        float eps = random.NextNormal();
                        float u = stepMeans[k] + MathF.Exp(logStdValues[j]) * eps;
                        preSquashActions[(row + i) * act + j] = u;
                        actions[k] = MathF.Tanh(u);
                        logProb += -0.5 * eps * eps - logStdValues[j] - HalfLog2Pi;
                    }
                    logProbs[row + i] = (float)logProb;
                    values[row + i] = stepValues[i];
                }

                env.Step(actions);
                globalStep += n;

                // CRUCIAL STEP EASY TO OVERLOOK: an episode cut by the time limit (truncated) did not reach a terminal
                // state; its future value is not zero. GAE treats every episode end as a cut, so the truncated step's
                // reward gets γ·V(final observation) added — the environment already shows the NEXT episode's first
                // observation in that row; the finished episode's last one is in Final*Observations.
                ReadOnlySpan<bool> terminated = env.Terminated, truncated = env.Truncated;
                bool anyTruncated = false;
                for (int i = 0; i < n; i++) anyTruncated |= truncated[i] & !terminated[i];
                if (anyTruncated)
                {
                    criticNormalizer.Normalize(env.FinalCriticObservations, normalisedFinal);
                    using var scope = NewDisposeScope();
                    using (no_grad())
                    {
                        TensorCopy.From(valuingT, normalisedFinal);
                        TensorCopy.To(critic.Forward(valuingT), finalValues);
                    }
                }
                for (int i = 0; i < n; i++)
                {
                    float reward = (float)(env.Rewards[i] * c.RewardScale);
                    if (truncated[i] && !terminated[i]) reward += (float)c.Gamma * finalValues[i];
                    rewards[row + i] = reward;
                    episodeEnds[row + i] = terminated[i] | truncated[i];
                    if (episodeEnds[row + i]) session.EpisodeFinished(env.FinishedEpisodeReturns[i], env.FinishedEpisodeLengths[i]);
                }
            }

            // GAE(λ): bootstrap from V of the observation after the rollout.
            using (var scope = NewDisposeScope())
            using (no_grad())
            {
                criticNormalizer.Normalize(env.CriticObservations, normalisedFinal);
                TensorCopy.From(valuingT, normalisedFinal);
                TensorCopy.To(critic.Forward(valuingT), nextValues);
            }
            ComputeGae(rewards, values, episodeEnds, nextValues, n, (float)c.Gamma, (float)c.GaeLambda, advantages, returns);

            // Update: UpdateEpochs passes over the rollout in shuffled minibatches (Update, below).
            var (minibatches, valueLoss, policyLoss) = Update(c, actor, critic, logStd, logStdGradient, actorAdam, criticAdam, logStdAdam,
                observations, criticObservations, preSquashActions, logProbs, advantages, returns, values, batch, obsSize, criticSize, act);
            updates += minibatches;
            if (!float.IsNaN(valueLoss)) (lastValueLoss, lastPolicyLoss) = (valueLoss, policyLoss); // NaN: stopped early, no full pass

            // Log, evaluate.
            session.Step(globalStep, batch, lastValueLoss, lastPolicyLoss, updates, updates);
            if (session.EvaluationDue(globalStep, batch, c.Run.EvalEveryEnvSteps, c.Run.EvalFromEnvSteps))
                session.Score(Export(), globalStep, c.Run.EvalEpisodes);
        }
        return Export();

        // The deterministic policy tanh(μ(s)) as a bundle; golden vectors are the environments' current raw observations.
        PolicyBundle Export()
        {
            int golden = Math.Min(8, n);
            float[] goldenObservations = env.ActorObservations[..(golden * obsSize)].ToArray();
            return PolicyExport.Export(actor, describe(ConfigJson(c)), actorNormalizer.Mean, actorNormalizer.Std, goldenObservations,
                ActorHead.SquashedGaussianMean(act));
        }
    }

    /// <summary>
    /// Generalised advantage estimation over a rollout stored row-major [T × n] (row t·n + i = env i at step t):
    /// δ_t = r_t + γ·V(s_{t+1})·(1 − end_t) − V(s_t), A_t = δ_t + γλ·(1 − end_t)·A_{t+1}, returns = A + V.
    /// <paramref name="episodeEnds"/>[t] marks that the episode ended in step t (s_{t+1} then belongs to the next
    /// episode, so nothing flows back across it); <paramref name="nextValues"/> = V(s_T) for each env.
    /// </summary>
    public static void ComputeGae(ReadOnlySpan<float> rewards, ReadOnlySpan<float> values, ReadOnlySpan<bool> episodeEnds,
        ReadOnlySpan<float> nextValues, int numEnvs, float gamma, float lambda, Span<float> advantages, Span<float> returns)
    {
        int steps = rewards.Length / numEnvs;
        if (steps * numEnvs != rewards.Length || values.Length != rewards.Length || episodeEnds.Length != rewards.Length
            || nextValues.Length != numEnvs || advantages.Length != rewards.Length || returns.Length != rewards.Length)
            throw new ArgumentException($"need T × {numEnvs} rewards, values, ends, advantages and returns and {numEnvs} next values");
        for (int i = 0; i < numEnvs; i++)
        {
            float nextAdvantage = 0, nextValue = nextValues[i];
            for (int t = steps - 1; t >= 0; t--)
            {
                int k = t * numEnvs + i;
                float notEnded = episodeEnds[k] ? 0f : 1f;
                float delta = rewards[k] + gamma * nextValue * notEnded - values[k];
                nextAdvantage = delta + gamma * lambda * notEnded * nextAdvantage;
                advantages[k] = nextAdvantage;
                returns[k] = nextAdvantage + values[k];
                nextValue = values[k];
            }
        }
    }

    /// <summary>
    /// The PPO update on one rollout of <paramref name="batch"/> transitions: <see cref="PpoConfig.UpdateEpochs"/> passes of
    /// shuffled minibatches (clipped surrogate, optionally clipped value loss, entropy bonus, global gradient-norm clip,
    /// Adam), stopped early past <see cref="PpoConfig.TargetKl"/>. Returns the minibatch steps taken and the last
    /// minibatch's value and policy losses. The distributed learner (RoboRl.Cluster) runs the same method.
    /// </summary>
    public static (long Minibatches, float ValueLoss, float PolicyLoss) Update(PpoConfig c, FlatMlp actor, FlatMlp critic, Tensor logStd,
        Tensor logStdGradient, FlatAdam actorAdam, FlatAdam criticAdam, FlatAdam logStdAdam, float[] observations, float[] criticObservations,
        float[] preSquashActions, float[] logProbs, float[] advantages, float[] returns, float[] values, int batch, int obsSize, int criticSize, int act)
    {
        long updates = 0;
        float lastValueLoss = float.NaN, lastPolicyLoss = float.NaN;
        using (var updateScope = NewDisposeScope())
        {
            Tensor bObs = tensor(observations).view(batch, obsSize);
            Tensor bCritic = tensor(criticObservations).view(batch, criticSize);
            Tensor bU = tensor(preSquashActions).view(batch, act);
            Tensor bLogProb = tensor(logProbs);
            Tensor bAdvantage = tensor(advantages);
            Tensor bReturn = tensor(returns);
            Tensor bValue = tensor(values);
            int mb = c.MinibatchSize;
            bool stop = false;
            // Every constant the minibatch maths needs, as Scalars held for the whole update, and every add with
            // its alpha given explicitly. TorchSharp turns a number into a temporary Scalar (also the hidden alpha = 1
            // of add(x)) and passes its raw handle to libtorch; the GC may finalise the temporary before
            // libtorch reads it (seen as rare "Scalar.h: Expected false to be true" failures in long runs).
            using Scalar minusHalf = (-0.5).ToScalar(), half = 0.5.ToScalar(), halfLog2Pi = HalfLog2Pi.ToScalar(),
                advantageEpsilon = 1e-8.ToScalar(), normEpsilon = 1e-6.ToScalar(), one = 1.0.ToScalar(),
                ratioLow = (1 - c.ClipCoefficient).ToScalar(), ratioHigh = (1 + c.ClipCoefficient).ToScalar(),
                valueLow = (-c.ClipCoefficient).ToScalar(), valueHigh = c.ClipCoefficient.ToScalar(),
                entropyWeight = c.EntropyCoefficient.ToScalar(), valueWeight = c.ValueCoefficient.ToScalar(), maxNorm = c.MaxGradNorm.ToScalar();
            for (int epoch = 0; epoch < c.UpdateEpochs && !stop; epoch++)
            {
                Tensor order = randperm(batch);
                for (int start = 0; start < batch; start += mb)
                {
                    using var scope = NewDisposeScope();
                    Tensor index = order.narrow(0, start, mb);
                    Tensor mean = actor.Forward(bObs.index_select(0, index));
                    Tensor u = bU.index_select(0, index);
                    Tensor std = logStd.exp();
                    Tensor newLogProb = u.sub(mean).div(std).Squared().mul(minusHalf).sub(logStd).sub(halfLog2Pi).sum(1);
                    Tensor entropy = logStd.add(half, one).add(halfLog2Pi, one).sum();
                    Tensor logRatio = newLogProb.sub(bLogProb.index_select(0, index));
                    Tensor ratio = logRatio.exp();

                    Tensor advantage = bAdvantage.index_select(0, index);
                    if (c.NormalizeAdvantages) advantage = advantage.sub(advantage.mean()).div(advantage.std().add(advantageEpsilon, one));

                    // Clipped surrogate: max of the two negated objectives = min of the two objectives.
                    Tensor policyLoss = maximum(-advantage * ratio, -advantage * ratio.clamp(ratioLow, ratioHigh)).mean();

                    // Value loss, optionally clipped around the rollout's own value estimates.
                    Tensor newValue = critic.Forward(bCritic.index_select(0, index)).view(-1);
                    Tensor target = bReturn.index_select(0, index);
                    Tensor valueLoss;
                    if (c.ClipValueLoss)
                    {
                        Tensor oldValue = bValue.index_select(0, index);
                        Tensor clipped = oldValue.add(newValue.sub(oldValue).clamp(valueLow, valueHigh), one);
                        valueLoss = maximum(newValue.sub(target).Squared(), clipped.sub(target).Squared()).mean().mul(half);
                    }
                    else valueLoss = newValue.sub(target).Squared().mean().mul(half);

                    Tensor loss = policyLoss.sub(entropy.mul(entropyWeight)).add(valueLoss.mul(valueWeight), one);
                    actor.ZeroGrad();
                    critic.ZeroGrad();
                    using (no_grad()) logStdGradient.zero_();
                    loss.backward();

                    // Global gradient-norm clip over every parameter (actor, critic, log σ together).
                    using (no_grad())
                    {
                        Tensor norm = actor.Gradients.Squared().sum().add(critic.Gradients.Squared().sum(), one).add(logStdGradient.Squared().sum(), one).sqrt();
                        Tensor coefficient = norm.add_(normEpsilon, one).reciprocal_().mul_(maxNorm).clamp_max_(one);
                        actor.Gradients.mul_(coefficient);
                        critic.Gradients.mul_(coefficient);
                        logStdGradient.mul_(coefficient);
                    }
                    actorAdam.Step();
                    criticAdam.Step();
                    logStdAdam.Step();
                    updates++;

                    if (c.TargetKl > 0)
                    {
                        // Approximate KL of the new policy from the old (Schulman's k3 estimator): early stop.
                        using (no_grad())
                            if (ratio.sub(logRatio).mean().item<float>() - 1 > c.TargetKl) stop = true;
                    }
                    if (start + mb >= batch && (stop || epoch == c.UpdateEpochs - 1))
                    {
                        lastValueLoss = valueLoss.item<float>();
                        lastPolicyLoss = policyLoss.item<float>();
                    }
                    if (stop) break;
                }
            }
        }
        return (updates, lastValueLoss, lastPolicyLoss);
    }

    /// <summary>The hyperparameters as JSON (recorded in the bundle and the run directory).</summary>
    public static string ConfigJson(PpoConfig c) => RunConfig.HyperparametersJson("ppo", c.Run, c);
}
