using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using RoboRl.Core.Policy;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Tasks;
using RoboRl.Sims.Quadrotor;
using RoboRl.Training.Evaluation;
using TorchSharp;
using static TorchSharp.torch;

namespace RoboRl.Training;

/// <summary>
/// Fine-tuning hyperparameters. The TD3 part (learning rates, γ, τ, noise, batch size, schedule) is the task's own
/// <see cref="Td3Config"/>; these are what fine-tuning adds.
/// </summary>
public sealed record FinetuneConfig
{
    public int Seed { get; init; } = 1;
    /// <summary>Fresh simulation steps (summed over the parallel environments), critic warm-up included.</summary>
    public long TotalEnvSteps { get; init; } = 60_000;
    /// <summary>Steps flown by the unchanged bundle actor (plus exploration noise) before any update: they fill the online
    /// replay memory (the critic's normalisation is measured separately, on random warm-up flights).</summary>
    public long CriticWarmupEnvSteps { get; init; } = 5_000;
    /// <summary>Critic-only updates after that warm-up: the new critic learns the bundle actor's values before the actor moves.</summary>
    public int CriticWarmupUpdates { get; init; } = 2_000;
    /// <summary>Share of each batch drawn from the log transitions; the rest from fresh simulation (RLPD's symmetric sampling: 0.5).</summary>
    public double LogFraction { get; init; } = 0.5;
    /// <summary>α of TD3+BC: the actor maximises α·Q/mean|Q| − |π(s) − a_human|² on intervened steps (Fujimoto &amp; Gu 2021: 2.5).</summary>
    public double BcAlpha { get; init; } = 2.5;
    /// <summary>Weight of the trust region: the squared distance between the actor's and the input bundle's actions on
    /// the batch's states. The new critic is fitted on little data, and an actor following only its gradient (or only the
    /// human's few corrections) leaves the states it flew well; the anchor keeps it there where nobody corrected it.</summary>
    public double AnchorWeight { get; init; } = 1.0;
    /// <summary>Actor learning rate; lower than training's, so the bundle actor is refined rather than replaced.</summary>
    public double ActorLearningRate { get; init; } = 3e-4;
    /// <summary>Candidates judged in simulation (the input policy after the critic warm-up, then evenly spaced to the end):
    /// the best one is exported, so fine-tuning never hands back a policy worse in simulation than the one it was given.
    /// Measured without it: a third fine-tuning round undid the gains of the first two (10 of 10 flights held → 1 of 10).</summary>
    public int Candidates { get; init; } = 6;
    /// <summary>Episodes of each candidate's evaluation (the task's evaluation on the simulated robot, fixed seed).</summary>
    public int CandidateEpisodes { get; init; } = 200;
    /// <summary>A run directory whose checkpoint.bin holds the critic to continue (the policy's training run, or an earlier
    /// fine-tuning's <see cref="SaveCriticTo"/>): its twin critic, target and critic normaliser replace the new critic and the
    /// random warm-up statistics. Null: a new critic. Why: a critic fitted from scratch on the 5 k warm-up steps could not
    /// lead a policy that had not finished learning (a 200 k-step one: 0 % success in simulation before and after).</summary>
    public string? CriticFrom { get; init; }
    /// <summary>Write the fine-tuned critic (checkpoint.bin, no replay memory) into this directory, for a next round's
    /// <see cref="CriticFrom"/>. It is the critic at the end of the run; the exported actor may be an earlier candidate, and
    /// the next round's critic-only warm-up refits the critic to that actor before it moves.</summary>
    public string? SaveCriticTo { get; init; }
}

/// <summary>What fine-tuning produced.</summary>
public sealed record FinetuneResult(PolicyBundle Bundle, long EnvSteps, long CriticUpdates, long ActorUpdates, int LogTransitions,
    int InterventionTransitions, double WallSeconds, double LastBcLoss);

/// <summary>
/// Fine-tuning a deployed policy on flight logs with human corrections, CleanRL style: everything that runs is in
/// <see cref="Run"/>, top to bottom. The recipe combines
/// <list type="bullet">
/// <item>RLPD (Ball et al., "Efficient Online Reinforcement Learning with Offline Data", 2023): every batch is half
///   log transitions, half fresh simulation transitions (symmetric sampling), so the few logged steps keep their weight
///   next to a growing online memory;</item>
/// <item>TD3+BC (Fujimoto &amp; Gu, "A Minimalist Approach to Offline Reinforcement Learning", 2021): the actor's loss
///   is −α·Q(s, π(s))/mean|Q| plus the squared distance to the human's action on intervened steps, as HIL-SERL
///   (Luo et al. 2024) learns from interventions;</item>
/// <item>TD3 continued from the bundle's actor (its observation normalisation stays frozen: the actor was trained on
///   it) with a new critic, warm-started by a critic-only phase on data of the unchanged actor;</item>
/// <item>a trust region: the squared distance to the input bundle's actions on the batch's states (see
///   <see cref="FinetuneConfig.AnchorWeight"/>).</item>
/// </list>
/// Fresh data comes from the simulator with <paramref name="simRobot"/> (e.g. the robot fitted by `roborl sysid`). The
/// output is a normal bundle: same specs and robot identity as the input, new weights, its training config records
/// the fine-tuning and the input bundle's checksum.
/// </summary>
public static class Finetune
{
    public static FinetuneResult Run(PolicyBundle bundle, HoverTransitions logs, HoverTaskConfig task, QuadrotorConfig simRobot,
        FinetuneConfig f, TextWriter? progress = null)
    {
        if (logs.Count == 0) throw new ArgumentException("the logs hold no usable transitions (policy or human flying, whole control steps)");
        if (logs.ActorSize != bundle.ObservationSize) throw new ArgumentException($"log observations have {logs.ActorSize} values, the policy takes {bundle.ObservationSize}");
        Td3Config c = Td3Config.Read(task.Training);
        TorchSetup.Initialize(intraOpThreads: 1);
        var clock = Stopwatch.StartNew();

        // ---- 1. Seed everything.
        torch.random.manual_seed(f.Seed);
        var random = new SeededRandom((ulong)f.Seed * 0x9E3779B97F4A7C15UL + 3);

        // ---- 2. Environments: the task on the given robot, rewarded by the last curriculum stage (the policy is past it).
        HoverTaskConfig simTask = task with { Robot = simRobot };
        using var env = new HoverEnv(simTask, c.Run.NumEnvs, threadCount: c.Run.SimThreads);
        int n = env.NumEnvs, obsSize = env.ActorObservationSize, criticSize = env.CriticObservationSize, act = env.ActionSize;
        if (obsSize != bundle.ObservationSize) throw new ArgumentException($"the task builds {obsSize} observation values, the policy takes {bundle.ObservationSize}");
        env.GlobalStep = task.Curriculum[^1].FromStep;
        env.Reset((ulong)f.Seed);

        // ---- 3. Networks: the bundle's actor (continued), a new twin critic, their targets.
        IReadOnlyList<DenseLayer> layers = bundle.Layers;
        int[] sizes = [layers[0].InputSize, .. layers.Select(l => l.OutputSize)];
        using var actor = new FlatMlp(sizes, layers[0].Activation, layers[^1].Activation, seed: f.Seed * 7 + 1);
        actor.LoadLayers(layers);
        using var critic = new FlatMlp([criticSize + act, .. c.CriticHidden, 1], Activation.Relu, Activation.Identity, ensembleSize: 2, seed: f.Seed * 7 + 2);
        using FlatMlp actorTarget = actor.Clone(), criticTarget = critic.Clone(), anchor = actor.Clone();
        // No weight decay on the actor: with Adam, decay on the small fine-tuning gradients would shrink every weight
        // of the trained network at the learning rate per step.
        using var actorAdam = new FlatAdam(actor, f.ActorLearningRate);
        using var criticAdam = new FlatAdam(critic, c.CriticLearningRate, weightDecay: c.WeightDecay);

        // ---- 4. Normalisers: the actor's is the bundle's (frozen). The critic's comes with a continued critic (CriticFrom);
        // for a new critic it is measured as training measures it, on
        // warm-up flights with random actions (hover + Gaussian noise) in a separate simulator. CRUCIAL: measured on the
        // bundle actor's own flights instead, the statistics are those of a near-hover (tiny spreads), and every larger
        // deviation reaches the new critic as an input of hundreds of standard deviations: its gradients then wreck the actor.
        var actorNormalizer = new RunningNormalizer(obsSize, minStd: 1e-2f, maxStd: 1f);
        actorNormalizer.Restore(bundle.ObservationMean, bundle.ObservationStd);
        var criticNormalizer = new RunningNormalizer(criticSize, minStd: 1e-6f, maxStd: 1f);
        float hoverAction = simRobot.HoverAction();
        if (f.CriticFrom is { } criticRun)
        {
            // Continue a trained critic: its weights, target and the normaliser it was trained with.
            Checkpoint checkpoint = Checkpoint.Find(criticRun) ?? throw new FileNotFoundException($"{criticRun}: no {Checkpoint.FileName} to take the critic from", Path.Combine(criticRun, Checkpoint.FileName));
            checkpoint.LoadCritic(new Dictionary<string, Tensor> { ["critic"] = critic.Parameters, ["critic_target"] = criticTarget.Parameters }, criticNormalizer);
        }
        else
        {
            using var statisticsEnv = new HoverEnv(simTask, c.Run.NumEnvs, threadCount: c.Run.SimThreads);
            statisticsEnv.GlobalStep = env.GlobalStep;
            statisticsEnv.Reset((ulong)f.Seed + 17);
            var warmupActions = new float[n * act];
            for (long step = 0; step < c.WarmupEnvSteps; step += n)
            {
                for (int k = 0; k < warmupActions.Length; k++) warmupActions[k] = Math.Clamp(hoverAction + (float)c.WarmupActionStd * random.NextNormal(), -1f, 1f);
                criticNormalizer.Update(statisticsEnv.CriticObservations);
                statisticsEnv.Step(warmupActions);
            }
            criticNormalizer.Freeze();
        }

        // ---- 5. Replay memories: online (simulation, stored raw until the critic normaliser freezes) and the logs.
        var online = new ReplayBuffer(Math.Min(c.ReplayCapacity, f.TotalEnvSteps), obsSize, criticSize, act);
        var offline = new ReplayBuffer(logs.Count, obsSize, criticSize, act);
        // Intervened steps for the behaviour-cloning term: normalised observation and the human's action.
        int interventions = logs.InterventionCount;
        var bcObservations = new float[Math.Max(1, interventions) * obsSize];
        var bcActions = new float[Math.Max(1, interventions) * act];

        int b = c.BatchSize, bLog = Math.Clamp((int)Math.Round(b * f.LogFraction), 1, b - 1), bSim = b - bLog;
        var batchObservations = new float[b * obsSize];
        var batchCriticInputs = new float[b * (criticSize + act)];
        var batchCriticObservations = new float[b * criticSize];
        var batchNextObservations = new float[b * obsSize];
        var batchNextCriticObservations = new float[b * criticSize];
        var batchRewards = new float[b];
        var batchDiscounts = new float[b];
        int bBc = Math.Max(1, bLog);
        var batchBcObservations = new float[bBc * obsSize];
        var batchBcActions = new float[bBc * act];
        using Tensor observationT = zeros(b, obsSize), criticInputT = zeros(b, criticSize + act), criticObservationT = zeros(b, criticSize);
        using Tensor nextObservationT = zeros(b, obsSize), nextCriticObservationT = zeros(b, criticSize);
        using Tensor rewardT = zeros(b, 1), discountT = zeros(b, 1), actingT = zeros(n, obsSize);
        using Tensor bcObservationT = zeros(bBc, obsSize), bcActionT = zeros(bBc, act);

        var actions = new float[n * act];
        var observationsTaken = new float[n * obsSize];
        var criticObservationsTaken = new float[n * criticSize];
        var normalisedActing = new float[n * obsSize];
        var row = new float[obsSize];
        var nextRow = new float[obsSize];
        var criticRow = new float[criticSize];
        var nextCriticRow = new float[criticSize];
        long globalStep = 0, criticUpdates = 0, actorUpdates = 0;
        float lastCriticLoss = float.NaN, lastBcLoss = float.NaN;
        double nextLineAt = 0;
        int golden = Math.Min(8, n);
        var description = new PolicyDescription(bundle.ObservationNames, bundle.ActionNames, bundle.ActionLow, bundle.ActionHigh, bundle.ActionUnit,
            bundle.ControlRateHz, bundle.ActionHistoryLength, bundle.RobotConfigJson, ConfigJson(f, c, bundle, simRobot, logs), GitInfo.Commit);
        PolicyBundle? best = null;
        double bestScore = double.NegativeInfinity;
        int candidatesJudged = 0;
        long judgeEvery = Math.Max(1, (f.TotalEnvSteps - f.CriticWarmupEnvSteps) / Math.Max(1, f.Candidates - 1));

        // ---- 6. The loop: act → step → store → (critic warm-up once) → train → log.
        while (globalStep < f.TotalEnvSteps)
        {
            // Act: the current actor plus Gaussian exploration noise (during warm-up the actor is still the bundle's).
            actorNormalizer.Normalize(env.ActorObservations, normalisedActing);
            using (NewDisposeScope())
            using (no_grad())
            {
                TensorCopy.From(actingT, normalisedActing);
                TensorCopy.To(actor.Forward(actingT), actions);
            }
            for (int k = 0; k < actions.Length; k++)
                actions[k] = Math.Clamp(actions[k] + (float)c.ExplorationNoise * random.NextNormal(), -1f, 1f);

            env.ActorObservations.CopyTo(observationsTaken);
            env.CriticObservations.CopyTo(criticObservationsTaken);
            env.Step(actions);
            globalStep += n;

            // Store. CRUCIAL STEP EASY TO OVERLOOK: where an episode ended, the next observation is the finished episode's
            // final one (Final*), and only termination (not the time limit) cuts the bootstrap.
            ReadOnlySpan<bool> terminated = env.Terminated, truncated = env.Truncated;
            for (int i = 0; i < n; i++)
            {
                bool ended = terminated[i] | truncated[i];
                ReadOnlySpan<float> o = observationsTaken.AsSpan(i * obsSize, obsSize), co = criticObservationsTaken.AsSpan(i * criticSize, criticSize);
                ReadOnlySpan<float> no = (ended ? env.FinalActorObservations : env.ActorObservations).Slice(i * obsSize, obsSize);
                ReadOnlySpan<float> nco = (ended ? env.FinalCriticObservations : env.CriticObservations).Slice(i * criticSize, criticSize);
                float discount = terminated[i] ? 0f : (float)c.Gamma;
                actorNormalizer.Normalize(o, row); actorNormalizer.Normalize(no, nextRow);
                criticNormalizer.Normalize(co, criticRow); criticNormalizer.Normalize(nco, nextCriticRow);
                online.Add(row, criticRow, actions.AsSpan(i * act, act), env.Rewards[i], nextRow, nextCriticRow, discount);
            }

            // Warm-up over: fill the log memories and fit the new critic to the unchanged actor before anything else moves.
            if (globalStep < f.CriticWarmupEnvSteps) continue;
            if (offline.Count == 0)
            {
                FillLogMemories();
                for (int u = 0; u < f.CriticWarmupUpdates; u++) CriticUpdate();
                Judge(); // the input policy is the first candidate
            }

            // Train: the task's schedule (one critic update per EnvStepsPerCriticUpdate env steps, the actor and the
            // targets every PolicyDelay-th), counted from the end of the warm-up.
            long due = f.CriticWarmupUpdates + (globalStep - f.CriticWarmupEnvSteps) / c.EnvStepsPerCriticUpdate;
            while (criticUpdates < due)
            {
                CriticUpdate();
                if (criticUpdates % c.PolicyDelay == 0) ActorUpdate();
            }

            if (globalStep - f.CriticWarmupEnvSteps >= candidatesJudged * judgeEvery && globalStep < f.TotalEnvSteps) Judge();

            if (progress is not null && clock.Elapsed.TotalSeconds >= nextLineAt)
            {
                progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"finetune: {globalStep}/{f.TotalEnvSteps} env steps, {criticUpdates} critic / {actorUpdates} actor updates, critic loss {lastCriticLoss:G3}, BC loss {lastBcLoss:G3}, {clock.Elapsed.TotalSeconds:F0} s"));
                nextLineAt = clock.Elapsed.TotalSeconds + 5;
            }
        }

        // ---- 7. Export: the bundle's specs and robot identity, the best candidate's weights (the last one is judged too).
        Judge();
        if (f.SaveCriticTo is { } criticDirectory)
        {
            Directory.CreateDirectory(criticDirectory);
            var noReplay = new ReplayBuffer(1, obsSize, criticSize, act);
            Checkpoint.Save(criticDirectory, globalStep, new Dictionary<string, Tensor> { ["critic"] = critic.Parameters, ["critic_target"] = criticTarget.Parameters },
                new Dictionary<string, long>(), noReplay, actorNormalizer, criticNormalizer);
        }
        return new FinetuneResult(best!, globalStep, criticUpdates, actorUpdates, logs.Count, interventions, clock.Elapsed.TotalSeconds, lastBcLoss);

        // Scores the current actor in simulation on the fine-tuning robot (success first, then fewer crashes) and keeps the best.
        void Judge()
        {
            candidatesJudged++;
            PolicyBundle candidate = PolicyExport.Export(actor, description, bundle.ObservationMean, bundle.ObservationStd, env.ActorObservations[..(golden * obsSize)].ToArray());
            if (f.Candidates <= 1) { best = candidate; return; }
            EvalResult judged = PolicyEvaluator.Evaluate(candidate, simTask, new EvalOptions(f.CandidateEpisodes, Seed: (ulong)f.Seed * 31 + 7));
            double score = judged.SuccessRate - judged.CrashRate;
            progress?.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"finetune: candidate at {globalStep} env steps: {judged.SuccessRate:P1} success, {judged.CrashRate:P1} crashes in simulation"));
            if (score >= bestScore) { bestScore = score; best = candidate; } // ties: the later, more fine-tuned one
        }

        // Normalised log transitions into the offline memory (discount 0 where the task terminated), intervened steps into the BC set.
        void FillLogMemories()
        {
            int bc = 0;
            for (int i = 0; i < logs.Count; i++)
            {
                actorNormalizer.Normalize(logs.Observations.Slice(i * obsSize, obsSize), row);
                actorNormalizer.Normalize(logs.NextObservations.Slice(i * obsSize, obsSize), nextRow);
                criticNormalizer.Normalize(logs.CriticObservations.Slice(i * criticSize, criticSize), criticRow);
                criticNormalizer.Normalize(logs.NextCriticObservations.Slice(i * criticSize, criticSize), nextCriticRow);
                ReadOnlySpan<float> a = logs.Actions.Slice(i * act, act);
                offline.Add(row, criticRow, a, logs.Rewards[i], nextRow, nextCriticRow, logs.Terminated[i] ? 0f : (float)c.Gamma);
                if (!logs.Intervened[i]) continue;
                row.CopyTo(bcObservations.AsSpan(bc * obsSize));
                a.CopyTo(bcActions.AsSpan(bc * act));
                bc++;
            }
        }

        // Symmetric sampling: the first bLog rows of the batch from the logs, the rest from simulation.
        void SampleBatch()
        {
            int cs = criticSize, ci = criticSize + act;
            offline.SampleInto(random, bLog, batchObservations.AsSpan(0, bLog * obsSize), batchCriticInputs.AsSpan(0, bLog * ci),
                batchCriticObservations.AsSpan(0, bLog * cs), batchNextObservations.AsSpan(0, bLog * obsSize),
                batchNextCriticObservations.AsSpan(0, bLog * cs), batchRewards.AsSpan(0, bLog), batchDiscounts.AsSpan(0, bLog));
            online.SampleInto(random, bSim, batchObservations.AsSpan(bLog * obsSize), batchCriticInputs.AsSpan(bLog * ci),
                batchCriticObservations.AsSpan(bLog * cs), batchNextObservations.AsSpan(bLog * obsSize),
                batchNextCriticObservations.AsSpan(bLog * cs), batchRewards.AsSpan(bLog), batchDiscounts.AsSpan(bLog));
            TensorCopy.From(observationT, batchObservations);
            TensorCopy.From(criticInputT, batchCriticInputs);
            TensorCopy.From(criticObservationT, batchCriticObservations);
            TensorCopy.From(nextObservationT, batchNextObservations);
            TensorCopy.From(nextCriticObservationT, batchNextCriticObservations);
            TensorCopy.From(rewardT, batchRewards);
            TensorCopy.From(discountT, batchDiscounts);
        }

        // TD3's critic step: y = r + discount · min_i Q'_i(s', clip(π'(s') + clip(ε, −c, c), −1, 1)).
        void CriticUpdate()
        {
            SampleBatch();
            using var scope = NewDisposeScope();
            Tensor target;
            using (no_grad())
            {
                Tensor noise = randn(b, act).mul_(c.TargetNoise).clamp_(-c.TargetNoiseClip, c.TargetNoiseClip);
                Tensor nextAction = actorTarget.Forward(nextObservationT).add_(noise).clamp_(-1, 1);
                Tensor nextQ = criticTarget.Forward(cat([nextCriticObservationT, nextAction], 1)).amin(0);
                target = nextQ.mul_(discountT).add_(rewardT);
            }
            Tensor criticLoss = (critic.Forward(criticInputT) - target).pow(2).mean(dimensions: [1, 2]).sum();
            critic.ZeroGrad();
            criticLoss.backward();
            criticAdam.Step();
            criticUpdates++;
            if (criticUpdates % 100 == 0) lastCriticLoss = criticLoss.item<float>();
            // During the critic-only phase the targets follow the critic (the actor target is the actor: unchanged).
            if (actorUpdates == 0 && criticUpdates % c.PolicyDelay == 0) criticTarget.PolyakFrom(critic, c.Tau);
        }

        // TD3+BC's actor step on the symmetric batch, behaviour cloning on a batch of intervened steps; then both targets.
        void ActorUpdate()
        {
            using var scope = NewDisposeScope();
            Tensor q = critic.ForwardMemberFrozen(cat([criticObservationT, actor.Forward(observationT)], 1), member: 0);
            Tensor lambda = q.abs().mean().detach().clamp_min(1e-6).reciprocal().mul_(f.BcAlpha);
            Tensor actorLoss = q.mean().mul(lambda).neg();
            if (f.AnchorWeight > 0)
            {
                // On the whole batch (an anchor on the simulated half only did worse: the logged states then drift freely).
                Tensor anchored;
                using (no_grad()) anchored = anchor.Forward(observationT);
                actorLoss = actorLoss + (actor.Forward(observationT) - anchored).pow(2).sum(1).mean().mul(f.AnchorWeight);
            }
            Tensor? bcLoss = null;
            if (interventions > 0)
            {
                for (int k = 0; k < bBc; k++)
                {
                    int r = random.NextInt(interventions);
                    bcObservations.AsSpan(r * obsSize, obsSize).CopyTo(batchBcObservations.AsSpan(k * obsSize));
                    bcActions.AsSpan(r * act, act).CopyTo(batchBcActions.AsSpan(k * act));
                }
                TensorCopy.From(bcObservationT, batchBcObservations);
                TensorCopy.From(bcActionT, batchBcActions);
                bcLoss = (actor.Forward(bcObservationT) - bcActionT).pow(2).sum(1).mean();
                actorLoss = actorLoss + bcLoss;
            }
            actor.ZeroGrad();
            actorLoss.backward();
            actorAdam.Step();
            actorUpdates++;
            actorTarget.PolyakFrom(actor, c.Tau);
            criticTarget.PolyakFrom(critic, c.Tau);
            if (bcLoss is not null && actorUpdates % 100 == 0) lastBcLoss = bcLoss.item<float>();
        }
    }

    /// <summary>What the output bundle records as its training config.</summary>
    public static string ConfigJson(FinetuneConfig f, Td3Config c, PolicyBundle from, QuadrotorConfig simRobot, HoverTransitions logs) =>
        JsonSerializer.Serialize(new
        {
            algorithm = "td3-finetune-rlpd-bc",
            from_policy_sha256 = from.StoredContentSha256 ?? from.ComputeContentSha256(),
            sim_robot = simRobot.Name,
            sim_robot_mass = simRobot.Mass,
            log_transitions = logs.Count,
            intervention_transitions = logs.InterventionCount,
            finetune = f,
            hyperparameters = c,
        }, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower });
}
