using System.Text.Json;
using System.Text.Json.Nodes;
using RoboRl.Core.Configs;
using RoboRl.Core.Policy;
using RoboRl.Core.Swarm;
using RoboRl.Sims.Swarm;
using TorchSharp;
using static TorchSharp.torch;

namespace RoboRl.Training;

/// <summary>
/// The swarm part of a swarm task's "training" section ("training.swarm"): the actor's encoder widths and QuadSwarm's
/// hard-state replay (Huang et al., ICRA 2024, arXiv 2309.13285: on a collision the state 1.5 s earlier is kept, buffer
/// 20, each replayed at most 10 times, episodes start from one with p = 0.75 once the swarm can fly). The PPO keys are
/// <see cref="PpoConfig"/>'s ("training.ppo"; ppo.actor_hidden = the head's hidden layers).
/// </summary>
public sealed record SwarmTrainingConfig
{
    public int SelfHidden { get; init; } = 64;
    public int NeighbourHidden { get; init; } = 32;
    public int SdfHidden { get; init; } = 16;
    public bool Replay { get; init; } = true;
    public double ReplayProbability { get; init; } = 0.75;
    public int ReplayBuffer { get; init; } = 20;
    public int ReplayMaxUses { get; init; } = 10;
    public double ReplaySecondsBefore { get; init; } = 1.5;
    /// <summary>"Once the swarm can fly": replay starts when the finished training episodes' mean final distance to goal
    /// (over the last rollout) falls below this.</summary>
    public double ReplayFlyDistanceM { get; init; } = 1.0;
    /// <summary>σ of the position-error inputs in the frozen normaliser (their mean is set to 0); 0 keeps the warm-up's
    /// statistics. Why: the warm-up sees the quads at their starts, so its mean is the start–goal offset and its σ the
    /// spread of the starts: the goal itself then lies many σ out, where the tanh encoders saturate.</summary>
    public double PositionErrorScaleM { get; init; }
    /// <summary>Ceiling of the frozen normaliser's σ (as the hover trainers: warm-up tumbles would otherwise scale the
    /// body rates and attitude that matter in flight down to a sliver of the input range); 0 = no ceiling.</summary>
    public double NormalizerMaxStd { get; init; }

    public static SwarmTrainingConfig Read(ConfigNode? training)
    {
        var d = new SwarmTrainingConfig();
        if (training is null || !training.Has("swarm")) return d;
        ConfigNode s = training.Object("swarm");
        var config = new SwarmTrainingConfig
        {
            SelfHidden = (int)s.Integer("self_hidden", 1, 4096, d.SelfHidden),
            NeighbourHidden = (int)s.Integer("neighbour_hidden", 1, 4096, d.NeighbourHidden),
            SdfHidden = (int)s.Integer("sdf_hidden", 1, 4096, d.SdfHidden),
            Replay = s.Has("replay") ? s.Boolean("replay") : d.Replay,
            ReplayProbability = s.Number("replay_probability", 0, 1, d.ReplayProbability),
            ReplayBuffer = (int)s.Integer("replay_buffer", 1, 10_000, d.ReplayBuffer),
            ReplayMaxUses = (int)s.Integer("replay_max_uses", 1, 1_000_000, d.ReplayMaxUses),
            ReplaySecondsBefore = s.Number("replay_seconds_before", 0.05, 100, d.ReplaySecondsBefore),
            ReplayFlyDistanceM = s.Number("replay_fly_distance_m", 0, 1000, d.ReplayFlyDistanceM),
            PositionErrorScaleM = s.Number("position_error_scale_m", 0, 1000, d.PositionErrorScaleM),
            NormalizerMaxStd = s.Number("normalizer_max_std", 0, 1e6, d.NormalizerMaxStd),
        };
        s.EnsureNoUnknownKeys();
        return config;
    }
}

/// <summary>What the hard-state replay did in a run: states filed, episodes started from one, whether it was switched on.</summary>
public sealed record SwarmReplayStats(long HardStatesSaved, long ReplayedEpisodes, bool Enabled);

/// <summary>
/// Multi-agent PPO for the swarm, CleanRL style (everything that runs is in <see cref="Train"/>, top to bottom): every quad
/// is a row of <see cref="SwarmEnv"/> and one shared policy acts for all of them (parameter sharing; each quad's advantage
/// is its own, from its own reward). The PPO core is <see cref="Ppo"/>'s — tanh-squashed Gaussian with state-independent
/// σ, GAE(λ), clipped surrogate and value loss, global gradient clip, Adam per network — with three swarm parts:
/// <list type="bullet">
/// <item>the actor is <see cref="SwarmActor"/> (deep sets over the neighbour tokens); the critic a plain MLP on the same
///   observation. The observation normaliser shares one mean and σ across the K neighbour tokens, so swapping tokens swaps
///   normalised tokens and the actor stays permutation-invariant end to end;</item>
/// <item>collision-weight annealing: <see cref="SwarmEnv.CollisionWeightScale"/> = reward.collision_anneal_env_steps's ramp
///   at the current step;</item>
/// <item>hard-state replay: each environment keeps a snapshot every <c>replay_seconds_before</c>/3 s; on a contact, the one
///   at least replay_seconds_before old joins the buffer (FIFO, at most one per environment and that interval); once the
///   swarm can fly, an environment whose episode ended starts from a buffered state with replay_probability.</item>
/// </list>
/// Steps are quad steps (one row): 8 quads advancing one control step are 8 env steps.
/// </summary>
public static class SwarmPpo
{
    static readonly double HalfLog2Pi = 0.5 * Math.Log(2 * Math.PI);

    public static PolicyBundle Train(SwarmTaskConfig task, PpoConfig c, SwarmTrainingConfig s, TrainingSession session) =>
        Train(task, c, s, session, out _);

    /// <summary>Trains, and says how much the hard-state replay did.</summary>
    public static PolicyBundle Train(SwarmTaskConfig task, PpoConfig c, SwarmTrainingConfig s, TrainingSession session, out SwarmReplayStats replay)
    {
        // ---- 1. Seed everything.
        task.CheckTrainingSeed(c.Run.Seed);
        manual_seed(c.Run.Seed);
        var random = new SeededRandom((ulong)c.Run.Seed * 0x9E3779B97F4A7C15UL + 5);

        // ---- 2. Environments: NumEnvs swarms, one row per quad.
        using var env = new SwarmEnv(task, c.Run.NumEnvs, c.Run.SimThreads);
        int n = env.NumEnvs, quads = env.QuadsPerEnv, obsSize = env.ActorObservationSize, act = env.ActionSize, k = task.Neighbours;
        env.Reset((ulong)c.Run.Seed);

        // ---- 3. Networks: deep-sets actor, MLP critic, log σ; orthogonal initialisation (CleanRL).
        using var actor = new SwarmActor(k, s.SelfHidden, s.NeighbourHidden, s.SdfHidden, c.ActorHidden, c.Run.Seed);
        using var critic = new FlatMlp([obsSize, .. c.CriticHidden, 1], Activation.Tanh, Activation.Identity, seed: c.Run.Seed * 7 + 2);
        actor.InitializeOrthogonal();
        critic.InitializeOrthogonal(Math.Sqrt(2), 1.0);
        using Tensor logStd = full([act], (float)c.InitialLogStd).requires_grad_(true);
        using Tensor logStdGradient = zeros(act);
        logStd.grad = logStdGradient;
        FlatAdam[] actorAdams = actor.Networks.Select(net => new FlatAdam(net, c.LearningRate, epsilon: 1e-5)).ToArray();
        using var criticAdam = new FlatAdam(critic, c.LearningRate, epsilon: 1e-5);
        using var logStdAdam = new FlatAdam(logStd, logStdGradient, c.LearningRate, epsilon: 1e-5);
        FlatAdam[] allAdams = [.. actorAdams, criticAdam, logStdAdam];

        // ---- 4. Normaliser and rollout storage (actor and critic read the same observation).
        var normalizer = new RunningNormalizer(obsSize, minStd: 1e-2f, maxStd: s.NormalizerMaxStd > 0 ? Math.Max(1e-2f, (float)s.NormalizerMaxStd) : float.PositiveInfinity);
        int T = c.NumSteps, batch = T * n;
        var observations = new float[batch * obsSize];
        var preSquashActions = new float[batch * act];
        var logProbs = new float[batch];
        var rewards = new float[batch];
        var episodeEnds = new bool[batch];
        var values = new float[batch];
        var advantages = new float[batch];
        var returns = new float[batch];
        var nextValues = new float[n];
        var actions = new float[n * act];
        var stepMeans = new float[n * act];
        var stepValues = new float[n];
        var finalValues = new float[n];
        var normalisedFinal = new float[n * obsSize];
        var logStdValues = new float[act];
        using Tensor actingT = zeros(n, obsSize);
        long globalStep = 0, updates = 0;
        float lastValueLoss = float.NaN, lastPolicyLoss = float.NaN;

        // Hard-state replay: per environment a ring of 4 snapshots one third of replay_seconds_before apart, so the oldest
        // is 1 to 4/3 × replay_seconds_before old; the buffer of hard states and their uses.
        int snapshotEvery = Math.Max(1, (int)Math.Round(s.ReplaySecondsBefore * task.ControlFrequencyHz / 3));
        const int Ring = 4;
        SwarmEnvSnapshot[] ring = s.Replay ? Enumerable.Range(0, c.Run.NumEnvs * Ring).Select(_ => env.CreateSnapshot()).ToArray() : [];
        var ringSteps = new int[c.Run.NumEnvs * Ring];
        var lastHardStateStep = new int[c.Run.NumEnvs];
        SwarmEnvSnapshot[] hardStates = s.Replay ? Enumerable.Range(0, s.ReplayBuffer).Select(_ => env.CreateSnapshot()).ToArray() : [];
        var hardStateUses = new int[hardStates.Length];
        int hardStateCount = 0, hardStateNext = 0;
        bool replayOn = false;
        long replayedEpisodes = 0, hardStatesSaved = 0;
        double finalDistanceSum = 0;
        int finalDistanceCount = 0;
        const int Never = -1_000_000; // a step long before any episode's start (differences with it do not overflow)
        Array.Fill(ringSteps, Never);
        Array.Fill(lastHardStateStep, Never);

        // Warm-up: actions from the initial policy's distribution measure the observation statistics, then frozen; the K
        // neighbour tokens share one set (pooled over tokens).
        float initialStd = (float)Math.Exp(c.InitialLogStd);
        while (globalStep < c.NormalizerWarmupEnvSteps)
        {
            normalizer.Update(env.ActorObservations);
            for (int i = 0; i < actions.Length; i++) actions[i] = MathF.Tanh(initialStd * random.NextNormal());
            env.Step(actions);
            globalStep += n;
        }
        normalizer.Freeze();
        TieNeighbourStatistics(normalizer, k);
        if (s.PositionErrorScaleM > 0) CentrePositionError(normalizer, (float)s.PositionErrorScaleM);

        // ---- 5. The loop: rollout → GAE → update epochs → log.
        long warmup = globalStep, learningSteps = c.Run.TotalEnvSteps - globalStep;
        while (globalStep < c.Run.TotalEnvSteps)
        {
            double fraction = c.AnnealLearningRate ? Math.Max(0, 1.0 - (double)(globalStep - warmup) / Math.Max(1, learningSteps)) : 1;
            foreach (FlatAdam adam in allAdams) adam.LearningRate = Math.Max(1e-12, c.LearningRate * fraction);
            using (no_grad()) TensorCopy.To(logStd, logStdValues);

            for (int t = 0; t < T; t++)
            {
                env.GlobalStep = globalStep;
                env.CollisionWeightScale = task.Reward.CollisionScaleAt(globalStep);
                int row = t * n;
                Span<float> obsRows = observations.AsSpan(row * obsSize, n * obsSize);
                normalizer.Normalize(env.ActorObservations, obsRows);
                using (var scope = NewDisposeScope())
                using (no_grad())
                {
                    TensorCopy.From(actingT, obsRows);
                    TensorCopy.To(actor.Forward(actingT), stepMeans);
                    TensorCopy.To(critic.Forward(actingT), stepValues);
                }
                for (int i = 0; i < n; i++)
                {
                    double logProb = 0;
                    for (int j = 0; j < act; j++)
                    {
                        int a = i * act + j;
                        float eps = random.NextNormal();
                        float u = stepMeans[a] + MathF.Exp(logStdValues[j]) * eps;
                        preSquashActions[(row + i) * act + j] = u;
                        actions[a] = MathF.Tanh(u);
                        logProb += -0.5 * eps * eps - logStdValues[j] - HalfLog2Pi;
                    }
                    logProbs[row + i] = (float)logProb;
                    values[row + i] = stepValues[i];
                }

                env.Step(actions);
                globalStep += n;

                // Truncated episodes bootstrap from V(final observation) (see Ppo.Train); contacts never end episodes.
                ReadOnlySpan<bool> terminated = env.Terminated, truncated = env.Truncated;
                bool anyTruncated = false;
                for (int i = 0; i < n; i++) anyTruncated |= truncated[i] & !terminated[i];
                if (anyTruncated)
                {
                    normalizer.Normalize(env.FinalActorObservations, normalisedFinal);
                    using var scope = NewDisposeScope();
                    using (no_grad())
                    {
                        TensorCopy.From(actingT, normalisedFinal);
                        TensorCopy.To(critic.Forward(actingT), finalValues);
                    }
                }
                for (int i = 0; i < n; i++)
                {
                    float reward = (float)(env.Rewards[i] * c.RewardScale);
                    if (truncated[i] && !terminated[i]) reward += (float)c.Gamma * finalValues[i];
                    rewards[row + i] = reward;
                    episodeEnds[row + i] = terminated[i] | truncated[i];
                    if (episodeEnds[row + i])
                    {
                        session.EpisodeFinished(env.FinishedEpisodeReturns[i], env.FinishedEpisodeLengths[i]);
                        ReadOnlySpan<float> last = env.FinalActorObservations.Slice(i * obsSize, 3); // position error
                        float finalDistance = MathF.Sqrt(last[0] * last[0] + last[1] * last[1] + last[2] * last[2]);
                        if (float.IsFinite(finalDistance)) { finalDistanceSum += finalDistance; finalDistanceCount++; }
                    }
                }

                // Hard-state replay, per environment: keep snapshots; a contact files the old one; a new episode may start
                // from a filed one. (Rows of a replaced episode's next state are rewritten; the finished episode's final
                // observation, used above, is untouched.)
                if (!s.Replay) continue;
                for (int e = 0; e < c.Run.NumEnvs; e++)
                {
                    int step = env.EpisodeStep(e);
                    bool ended = episodeEnds[row + e * quads];
                    if (ended)
                    {
                        for (int r = 0; r < Ring; r++) ringSteps[e * Ring + r] = Never;
                        lastHardStateStep[e] = Never;
                        if (replayOn && hardStateCount > 0 && random.NextFloat() < s.ReplayProbability)
                        {
                            int pick = random.NextInt(hardStateCount);
                            env.RestoreEnvironment(e, hardStates[pick]);
                            replayedEpisodes++;
                            if (++hardStateUses[pick] >= s.ReplayMaxUses)
                            {
                                // Retire it: the last filed state takes its place.
                                hardStateCount--;
                                if (pick != hardStateCount)
                                {
                                    (hardStates[pick], hardStates[hardStateCount]) = (hardStates[hardStateCount], hardStates[pick]);
                                    hardStateUses[pick] = hardStateUses[hardStateCount];
                                }
                                hardStateNext = hardStateCount;
                            }
                            step = env.EpisodeStep(e);
                        }
                        continue;
                    }
                    if (env.NewContacts(e) > 0 && step - lastHardStateStep[e] >= 3 * snapshotEvery)
                    {
                        // The oldest snapshot of the ring that is at least replay_seconds_before old.
                        int best = -1;
                        for (int r = 0; r < Ring; r++)
                        {
                            int at = ringSteps[e * Ring + r];
                            if (at != Never && step - at >= 3 * snapshotEvery && (best < 0 || at > ringSteps[e * Ring + best])) best = r;
                        }
                        if (best >= 0)
                        {
                            int slot = hardStateCount < hardStates.Length ? hardStateCount++ : hardStateNext;
                            hardStateNext = (slot + 1) % hardStates.Length;
                            ring[e * Ring + best].CopyTo(hardStates[slot]);
                            hardStateUses[slot] = 0;
                            lastHardStateStep[e] = step;
                            hardStatesSaved++;
                        }
                    }
                    if (step % snapshotEvery == 0)
                    {
                        int r = step / snapshotEvery % Ring;
                        env.SaveEnvironment(e, ring[e * Ring + r]);
                        ringSteps[e * Ring + r] = step;
                    }
                }
            }

            // "Once the swarm can fly": the last rollout's finished episodes ended near their goals on average.
            if (s.Replay && !replayOn && finalDistanceCount > 0 && finalDistanceSum / finalDistanceCount < s.ReplayFlyDistanceM) replayOn = true;
            finalDistanceSum = 0;
            finalDistanceCount = 0;

            // GAE(λ) from V of the observation after the rollout.
            using (var scope = NewDisposeScope())
            using (no_grad())
            {
                normalizer.Normalize(env.ActorObservations, normalisedFinal);
                TensorCopy.From(actingT, normalisedFinal);
                TensorCopy.To(critic.Forward(actingT), nextValues);
            }
            Ppo.ComputeGae(rewards, values, episodeEnds, nextValues, n, (float)c.Gamma, (float)c.GaeLambda, advantages, returns);

            // Update: UpdateEpochs passes over the rollout in shuffled minibatches (Update, below).
            var (minibatches, valueLoss, policyLoss) = Update(c, actor, critic, logStd, logStdGradient, allAdams,
                observations, preSquashActions, logProbs, advantages, returns, values, batch, obsSize, act);
            updates += minibatches;
            if (!float.IsNaN(valueLoss)) (lastValueLoss, lastPolicyLoss) = (valueLoss, policyLoss); // NaN: stopped early, no full pass

            session.Step(globalStep, batch, lastValueLoss, lastPolicyLoss, updates, updates);
            session.Scalar("swarm/collision_weight_scale", env.CollisionWeightScale, globalStep);
            session.Scalar("swarm/replayed_episodes", replayedEpisodes, globalStep);
            session.Scalar("swarm/hard_states_saved", hardStatesSaved, globalStep);
            session.Scalar("swarm/non_finite_episodes", env.NonFiniteEpisodes, globalStep);
            if (session.EvaluationDue(globalStep, batch, c.Run.EvalEveryEnvSteps, c.Run.EvalFromEnvSteps))
                session.Score(Export(), globalStep, c.Run.EvalEpisodes);
        }
        foreach (FlatAdam adam in actorAdams) adam.Dispose();
        replay = new SwarmReplayStats(hardStatesSaved, replayedEpisodes, replayOn);
        return Export();

        // Golden observations: the first 16 rows of the environments' current observation.
        PolicyBundle Export() => ExportBundle(actor, task, c, s, normalizer, env.ActorObservations[..(Math.Min(16, n) * obsSize)].ToArray());
    }

    /// <summary>
    /// The deterministic policy tanh(μ(s)) as a dense swarm bundle, with the training config (hyperparameters, network, task
    /// file) it records; golden actions from this network's TorchSharp forward on <paramref name="goldenObservations"/> (raw).
    /// The distributed learner (RoboRl.Cluster) exports through it too.
    /// </summary>
    public static PolicyBundle ExportBundle(SwarmActor actor, SwarmTaskConfig task, PpoConfig c, SwarmTrainingConfig s, RunningNormalizer normalizer,
        float[] goldenObservations)
    {
        var config = JsonNode.Parse(ConfigJson(c, s))!.AsObject();
        config["network"] = actor.Describe();
        config["task_file"] = task.File; // `roborl eval` finds the task (and its held-out scenarios) from it
        return SwarmPolicySpec.Export(actor, task, normalizer.Mean, normalizer.Std, goldenObservations, config.ToJsonString());
    }

    /// <summary>
    /// The swarm's PPO update on one rollout of <paramref name="batch"/> quad steps (<see cref="Ppo.Update"/>'s, with the
    /// deep-sets actor and the critic reading the same observation): <see cref="PpoConfig.UpdateEpochs"/> passes of shuffled
    /// minibatches, stopped early past <see cref="PpoConfig.TargetKl"/>. <paramref name="allAdams"/> = one Adam per actor
    /// network, then the critic's, then log σ's. Returns the minibatch steps taken and the last minibatch's value and policy
    /// losses (NaN when none ran). The distributed learner (RoboRl.Cluster) runs the same method.
    /// </summary>
    public static (long Minibatches, float ValueLoss, float PolicyLoss) Update(PpoConfig c, SwarmActor actor, FlatMlp critic, Tensor logStd,
        Tensor logStdGradient, IReadOnlyList<FlatAdam> allAdams, float[] observations, float[] preSquashActions, float[] logProbs,
        float[] advantages, float[] returns, float[] values, int batch, int obsSize, int act)
    {
        int mb = batch / c.NumMinibatches;
        long updates = 0;
        float lastValueLoss = float.NaN, lastPolicyLoss = float.NaN;
        using (var updateScope = NewDisposeScope())
        {
            Tensor bObs = tensor(observations).view(batch, obsSize);
            Tensor bU = tensor(preSquashActions).view(batch, act);
            Tensor bLogProb = tensor(logProbs);
            Tensor bAdvantage = tensor(advantages);
            Tensor bReturn = tensor(returns);
            Tensor bValue = tensor(values);
            bool stop = false;
            // Constants as Scalars held for the whole update, every add with its alpha (see Ppo.Train: TorchSharp's
            // temporary Scalars may be finalised before libtorch reads them).
            using Scalar minusHalf = (-0.5).ToScalar(), half = 0.5.ToScalar(), halfLog2Pi = HalfLog2Pi.ToScalar(),
                advantageEpsilon = 1e-8.ToScalar(), normEpsilon = 1e-6.ToScalar(), one = 1.0.ToScalar(),
                ratioLow = (1 - c.ClipCoefficient).ToScalar(), ratioHigh = (1 + c.ClipCoefficient).ToScalar(),
                valueLow = (-c.ClipCoefficient).ToScalar(), valueHigh = c.ClipCoefficient.ToScalar(),
                entropyWeight = c.EntropyCoefficient.ToScalar(), valueWeight = c.ValueCoefficient.ToScalar(), maxNorm = c.MaxGradNorm.ToScalar();
            for (int epoch = 0; epoch < c.UpdateEpochs && !stop; epoch++)
            {
                Tensor order = randperm(batch);
                for (int start = 0; start + mb <= batch; start += mb)
                {
                    using var scope = NewDisposeScope();
                    Tensor index = order.narrow(0, start, mb);
                    Tensor x = bObs.index_select(0, index);
                    Tensor mean = actor.Forward(x);
                    Tensor u = bU.index_select(0, index);
                    Tensor std = logStd.exp();
                    Tensor newLogProb = u.sub(mean).div(std).Squared().mul(minusHalf).sub(logStd).sub(halfLog2Pi).sum(1);
                    Tensor entropy = logStd.add(half, one).add(halfLog2Pi, one).sum();
                    Tensor logRatio = newLogProb.sub(bLogProb.index_select(0, index));
                    Tensor ratio = logRatio.exp();
                    Tensor advantage = bAdvantage.index_select(0, index);
                    if (c.NormalizeAdvantages) advantage = advantage.sub(advantage.mean()).div(advantage.std().add(advantageEpsilon, one));
                    Tensor policyLoss = maximum(-advantage * ratio, -advantage * ratio.clamp(ratioLow, ratioHigh)).mean();

                    Tensor newValue = critic.Forward(x).view(-1);
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

                    using (no_grad())
                    {
                        Tensor norm = critic.Gradients.Squared().sum().add(logStdGradient.Squared().sum(), one);
                        foreach (FlatMlp net in actor.Networks) norm = norm.add(net.Gradients.Squared().sum(), one);
                        Tensor coefficient = norm.sqrt().add_(normEpsilon, one).reciprocal_().mul_(maxNorm).clamp_max_(one);
                        foreach (FlatMlp net in actor.Networks) net.Gradients.mul_(coefficient);
                        critic.Gradients.mul_(coefficient);
                        logStdGradient.mul_(coefficient);
                    }
                    foreach (FlatAdam adam in allAdams) adam.Step();
                    updates++;

                    if (c.TargetKl > 0)
                        using (no_grad())
                            if (ratio.sub(logRatio).mean().item<float>() - 1 > c.TargetKl) stop = true;
                    if (start + 2 * mb > batch && (stop || epoch == c.UpdateEpochs - 1))
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

    /// <summary>The deployed action tanh(actor((obs − mean) / std)) in TorchSharp float32, row-major [k, 4] (the bundle's golden actions).</summary>
    public static float[] TorchForward(SwarmActor actor, float[] mean, float[] std, float[] observations)
    {
        using var scope = NewDisposeScope();
        using (no_grad())
        {
            Tensor x = tensor(observations).view(-1, actor.ObservationSize);
            Tensor normalised = (x - tensor(mean)) / tensor(std);
            return actor.Forward(normalised).tanh().contiguous().data<float>().ToArray();
        }
    }

    /// <summary>One mean and σ per neighbour feature, pooled over the K tokens (equal counts), written back into every token.</summary>
    public static void TieNeighbourStatistics(RunningNormalizer normalizer, int neighbours)
    {
        if (neighbours < 2) return;
        float[] mean = normalizer.Mean.ToArray(), std = normalizer.Std.ToArray();
        for (int f = 0; f < SwarmObservation.NeighbourSize; f++)
        {
            double m = 0, second = 0;
            for (int t = 0; t < neighbours; t++)
            {
                int i = SwarmObservation.NeighbourOffset(t) + f;
                m += mean[i];
                second += (double)std[i] * std[i] + (double)mean[i] * mean[i];
            }
            m /= neighbours;
            float sd = (float)Math.Sqrt(Math.Max(second / neighbours - m * m, 0));
            sd = Math.Max(sd, normalizer.MinStd);
            for (int t = 0; t < neighbours; t++)
            {
                int i = SwarmObservation.NeighbourOffset(t) + f;
                mean[i] = (float)m;
                std[i] = sd;
            }
        }
        normalizer.Restore(mean, std);
    }

    /// <summary>Sets the frozen normaliser's position-error inputs (observation 0–2) to mean 0 and σ <paramref name="scaleM"/>:
    /// "at the goal" is the input 0 whatever the scenarios' start–goal layout.</summary>
    public static void CentrePositionError(RunningNormalizer normalizer, float scaleM)
    {
        float[] mean = normalizer.Mean.ToArray(), std = normalizer.Std.ToArray();
        for (int i = 0; i < 3; i++) { mean[i] = 0; std[i] = scaleM; }
        normalizer.Restore(mean, std);
    }

    /// <summary>The hyperparameters as JSON (recorded in the bundle and the run directory).</summary>
    public static string ConfigJson(PpoConfig c, SwarmTrainingConfig s)
    {
        JsonObject json = JsonNode.Parse(Ppo.ConfigJson(c))!.AsObject(); // algorithm and one flat hyperparameters object, as every run
        json["multi_agent"] = "shared_policy";
        json["swarm"] = JsonSerializer.SerializeToNode(s, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower });
        return json.ToJsonString();
    }
}
