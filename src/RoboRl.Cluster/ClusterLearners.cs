using RoboRl.Core.Configs;
using RoboRl.Core.Policy;
using RoboRl.Core.Swarm;
using RoboRl.Core.Tasks;
using RoboRl.Sims;
using RoboRl.Sims.DiffDrive;
using RoboRl.Sims.Swarm;
using RoboRl.Training;

namespace RoboRl.Cluster;

/// <summary>
/// The task- and algorithm-specific half of the cluster learner: the task and its hyperparameters, the networks and
/// optimisers (as the in-process trainer builds them), what the learner does with an iteration's fragments, its
/// checkpoint and the bundle. <see cref="ClusterTrainer"/> runs the rest — leases, the iteration loop, progress — the
/// same way for every task. PPO learners (<see cref="PpoClusterLearner"/>: navigation, swarm) consume each rollout once;
/// the TD3 learner (<see cref="HoverTd3Learner"/>: hover) keeps every transition in its replay memory.
/// </summary>
public abstract class ClusterLearner : IDisposable
{
    protected ClusterLearner(string taskPath, ConfigNode root, string configJson, int rowsPerEnvironment, IVectorEnv probe, RunConfig run)
    {
        TaskPath = taskPath;
        Root = root;
        ConfigJson = configJson;
        RowsPerEnvironment = rowsPerEnvironment;
        ObservationSize = probe.ActorObservationSize;
        CriticObservationSize = probe.CriticObservationSize;
        ActionSize = probe.ActionSize;
        Run = run;
    }

    public string TaskPath { get; }
    public ConfigNode Root { get; }
    /// <summary>The run keys (seed, num_envs, total_env_steps) after the command line's overrides.</summary>
    public RunConfig Run { get; }
    /// <summary>"ppo" or "td3".</summary>
    public abstract string Algorithm { get; }
    /// <summary>The hyperparameters as training.json (and the bundle) record them, as the in-process trainer writes them.</summary>
    public string ConfigJson { get; }
    /// <summary>Rows one training environment adds to a rollout step: 1 (a robot) or a swarm's quads.</summary>
    public int RowsPerEnvironment { get; }
    public int ObservationSize { get; }
    public int CriticObservationSize { get; }
    public int ActionSize { get; }
    /// <summary>The robot file's JSON, as workers receive it.</summary>
    public abstract string RobotJson { get; }
    /// <summary>The checkpoint's file name in the run directory.</summary>
    public abstract string CheckpointFileName { get; }

    /// <summary>The learner for the task file: navigation or swarm with PPO, hover with TD3; anything else is refused.</summary>
    public static ClusterLearner Read(string taskPath, int? seed, long? totalEnvSteps)
    {
        ConfigNode root = ConfigNode.LoadFile(taskPath);
        if (SwarmTaskConfig.IsSwarmTask(root)) return SwarmLearner.Read(taskPath, root, seed, totalEnvSteps);
        if (NavTaskConfig.IsNavigationTask(root)) return NavLearner.Read(taskPath, root, seed, totalEnvSteps);
        return HoverTd3Learner.Read(taskPath, root, seed, totalEnvSteps);
    }

    /// <summary>The iteration layout for <paramref name="shards"/> shards: rollout steps per shard (<paramref name="stepsPerShard"/>
    /// when the algorithm lets the user choose it), PPO's warm-up steps, the iteration count and the off-policy random iterations.</summary>
    public abstract (int StepsPerShard, int WarmupStepsPerShard, int Iterations, int RandomIterations) Layout(int shards, int? stepsPerShard);

    /// <summary>Iterations between checkpoints unless --checkpoint-every says otherwise.</summary>
    public virtual int DefaultCheckpointEvery(RunSpec run) => 10;

    /// <summary>Off-policy: bytes of one shard's environment snapshot, known after <see cref="Layout"/> (0: none, PPO).</summary>
    public virtual int StateBytesPerShard => 0;

    /// <summary>Builds the networks and optimisers, seeded as the in-process trainer does.</summary>
    public abstract void Build();

    /// <summary>The policy of <paramref name="version"/> for workers (<see cref="MlpCopy"/> runs it).</summary>
    public abstract PolicyWeights Weights(int version);

    /// <summary>Learns from iteration <paramref name="iteration"/>'s fragments (in shard order); returns the mean return of the
    /// episodes they finished (NaN when none).</summary>
    public abstract double Learn(int iteration, Fragment[] fragments, RunSpec run);

    /// <summary>Writes everything a resumed learner needs after <paramref name="iteration"/> (temporary file, then rename).</summary>
    public abstract void WriteCheckpoint(string path, int iteration, ClusterCounters counters, string runIdentity);

    /// <summary>Restores a checkpoint; returns its last finished iteration and the counters.</summary>
    public abstract (int Iteration, ClusterCounters Counters) ReadCheckpoint(string path, string runIdentity);

    /// <summary>SHA-256 over the trained parameters' float32 bytes.</summary>
    public abstract string WeightsHash();

    /// <summary>The bundle, as the in-process trainer exports it.</summary>
    public abstract PolicyBundle Export();

    /// <summary>Called once the run directory exists, before <see cref="Build"/>: a learner that logs or evaluates like the
    /// in-process trainer opens its session there.</summary>
    public virtual void Open(string runDirectory, bool resume) { }

    /// <summary>The bundle the run ends with (default: <see cref="Export"/> of the final policy).</summary>
    public virtual PolicyBundle Finish() => Export();

    /// <summary>The final bundle's evaluation on the task's held-out episodes, where the learner runs one (else null).</summary>
    public virtual Training.Evaluation.EvalResult? FinalEvaluation => null;

    public abstract void Dispose();

    /// <summary>Chan et al.'s parallel combination of per-shard (count, mean, M2), in shard order; then the frozen std as RunningNormalizer computes it.</summary>
    protected static void MergeAndFreeze(RunningNormalizer normalizer, (long Count, double[] Stats)[] shards)
    {
        int size = normalizer.Size;
        var mean = new double[size];
        var m2 = new double[size];
        long count = 0;
        foreach (var (k, stats) in shards)
        {
            long total = count + k;
            for (int j = 0; j < size; j++)
            {
                double delta = stats[j] - mean[j];
                mean[j] += delta * k / total;
                m2[j] += stats[size + j] + delta * delta * count * k / total;
            }
            count = total;
        }
        normalizer.Restore(mean.Select(m => (float)m).ToArray(),
            m2.Select(v => Math.Clamp((float)Math.Sqrt(v / count), normalizer.MinStd, normalizer.MaxStd)).ToArray());
    }

    /// <summary>Layers flattened as <see cref="PolicyWeights"/> carries them: per layer weights row-major [out, in], then biases.</summary>
    protected static float[] Flatten(IEnumerable<DenseLayer> layers) => layers.SelectMany(l => l.Weights.Concat(l.Biases)).ToArray();

    protected static float[] Values(Tensor t)
    {
        float[] values = new float[t.numel()];
        using (torch.no_grad()) TensorCopy.To(t, values);
        return values;
    }
}

/// <summary>
/// Synchronous PPO on the cluster: iteration 0 is the normaliser warm-up (statistics only), every later iteration a
/// rollout of num_steps per environment that GAE and the in-process trainer's own update consume once.
/// </summary>
public abstract class PpoClusterLearner : ClusterLearner
{
    float[] _observations = [], _criticObservations = [], _preSquashActions = [], _logProbs = [], _values = [], _advantages = [], _returns = [];

    protected PpoClusterLearner(string taskPath, ConfigNode root, PpoConfig ppo, string configJson, int rowsPerEnvironment, IVectorEnv probe)
        : base(taskPath, root, configJson, rowsPerEnvironment, probe, ppo.Run) => Ppo = ppo;

    public PpoConfig Ppo { get; }
    public override string Algorithm => "ppo";
    public override string CheckpointFileName => ClusterTrainer.CheckpointFileName;
    /// <summary>The trained tensors, in checkpoint and hash order.</summary>
    public abstract IReadOnlyList<Tensor> Parameters { get; }
    /// <summary>One Adam per trained tensor group, in checkpoint order.</summary>
    public abstract IReadOnlyList<FlatAdam> Optimizers { get; }
    public abstract RunningNormalizer ActorNormalizer { get; }
    public abstract RunningNormalizer CriticNormalizer { get; }

    /// <summary>Merges the warm-up fragments' statistics and freezes the normalisers.</summary>
    public abstract void Freeze(Fragment[] warmup);

    /// <summary>The PPO update on one gathered rollout (the in-process trainer's own update method).</summary>
    public abstract void Update(float[] observations, float[] criticObservations, float[] preSquashActions, float[] logProbs,
        float[] advantages, float[] returns, float[] values, int batch);

    /// <summary>Rows: a step of a swarm environment is one row per quad, so the warm-up and the batch count rows.</summary>
    public override (int StepsPerShard, int WarmupStepsPerShard, int Iterations, int RandomIterations) Layout(int shards, int? stepsPerShard)
    {
        PpoConfig c = Ppo;
        if (stepsPerShard is { } steps && steps != c.NumSteps)
            throw new ArgumentException($"--steps-per-shard {steps}: a PPO rollout is training.ppo.num_steps = {c.NumSteps} steps per environment");
        int rows = c.Run.NumEnvs * RowsPerEnvironment, batch = c.NumSteps * rows;
        int warmupSteps = (int)((c.NormalizerWarmupEnvSteps + rows - 1) / rows);
        long warmupTotal = (long)warmupSteps * rows;
        int iterations = 1 + (int)Math.Max(1, (c.Run.TotalEnvSteps - warmupTotal + batch - 1) / batch);
        return (c.NumSteps, warmupSteps, iterations, 0);
    }

    public override double Learn(int iteration, Fragment[] fragments, RunSpec run)
    {
        if (iteration == 0)
        {
            // Warm-up: merge the shards' statistics in shard order (Chan et al.'s parallel Welford), freeze.
            Freeze(fragments);
            return double.NaN;
        }
        PpoConfig c = Ppo;
        int shardRows = run.EnvsPerShard * run.StepsPerShard, batch = run.Shards * shardRows;
        int obsSize = run.ObservationSize, criticSize = run.CriticObservationSize, act = run.ActionSize;
        if (_logProbs.Length != batch)
        {
            _observations = new float[batch * obsSize];
            _criticObservations = new float[batch * criticSize];
            _preSquashActions = new float[batch * act];
            _logProbs = new float[batch];
            _values = new float[batch];
            _advantages = new float[batch];
            _returns = new float[batch];
        }
        // GAE per shard (each shard is its own [T × envs] block), gathered into one batch in shard order.
        double returnSum = 0;
        int episodes = 0;
        for (int s = 0; s < fragments.Length; s++)
        {
            Fragment f = fragments[s];
            int offset = s * shardRows;
            f.Observations.CopyTo(_observations, offset * obsSize);
            f.CriticObservations.CopyTo(_criticObservations, offset * criticSize);
            f.Actions.CopyTo(_preSquashActions, offset * act);
            f.LogProbs.CopyTo(_logProbs, offset);
            f.Values.CopyTo(_values, offset);
            Training.Ppo.ComputeGae(f.Rewards, f.Values, f.EpisodeEnds, f.NextValues, run.EnvsPerShard, (float)c.Gamma, (float)c.GaeLambda,
                _advantages.AsSpan(offset, shardRows), _returns.AsSpan(offset, shardRows));
            foreach (float r in f.EpisodeReturns) returnSum += r;
            episodes += f.EpisodeReturns.Length;
        }
        double fraction = c.AnnealLearningRate ? Math.Max(0, 1.0 - (double)(iteration - 1) / Math.Max(1, run.Iterations - 1)) : 1;
        foreach (FlatAdam adam in Optimizers) adam.LearningRate = Math.Max(1e-12, c.LearningRate * fraction);
        // The minibatch order is seeded by the iteration: a resumed learner repeats an update exactly.
        torch.random.manual_seed((long)(ShardSeeds.Mix((ulong)c.Run.Seed, (ulong)iteration) >> 1));
        Update(_observations, _criticObservations, _preSquashActions, _logProbs, _advantages, _returns, _values, batch);
        return episodes > 0 ? returnSum / episodes : double.NaN;
    }

    public override void WriteCheckpoint(string path, int iteration, ClusterCounters counters, string runIdentity) =>
        ClusterCheckpoint.Write(path, iteration, counters, Parameters, Optimizers, ActorNormalizer, CriticNormalizer, runIdentity);

    public override (int Iteration, ClusterCounters Counters) ReadCheckpoint(string path, string runIdentity)
    {
        var state = ClusterCheckpoint.Read(path, runIdentity, Parameters.Count, Optimizers.Count);
        state.Restore(Parameters, Optimizers, ActorNormalizer, CriticNormalizer);
        return (state.Iteration, state.Counters);
    }

    public override string WeightsHash() => ClusterTrainer.WeightsHash(Parameters);
}

/// <summary>A navigation task (<see cref="NavEnv"/>): MLP actor and critic on their own observations, as <see cref="Ppo"/>.</summary>
public sealed class NavLearner : PpoClusterLearner
{
    readonly NavTaskConfig _task;
    FlatMlp _actor = null!, _critic = null!;
    Tensor _logStd = null!, _logStdGradient = null!;
    FlatAdam _actorAdam = null!, _criticAdam = null!, _logStdAdam = null!;
    RunningNormalizer _actorNormalizer = null!, _criticNormalizer = null!;

    NavLearner(string taskPath, ConfigNode root, NavTaskConfig task, PpoConfig c, IVectorEnv probe)
        : base(taskPath, root, c, Training.Ppo.ConfigJson(c), 1, probe) => _task = task;

    public static NavLearner Read(string taskPath, ConfigNode root, int? seed, long? totalEnvSteps)
    {
        NavTaskConfig task = NavTaskConfig.Read(root);
        PpoConfig c = PpoConfig.Read(task.Training);
        c = c with { Run = c.Run with { Seed = seed ?? c.Run.Seed, TotalEnvSteps = totalEnvSteps ?? c.Run.TotalEnvSteps } };
        using var probe = new NavEnv(task, 1, 1);
        return new NavLearner(taskPath, root, task, c, probe);
    }

    public override string RobotJson => _task.RobotConfigJson;
    public override IReadOnlyList<Tensor> Parameters => [_actor.Parameters, _critic.Parameters, _logStd];
    public override IReadOnlyList<FlatAdam> Optimizers => [_actorAdam, _criticAdam, _logStdAdam];
    public override RunningNormalizer ActorNormalizer => _actorNormalizer;
    public override RunningNormalizer CriticNormalizer => _criticNormalizer;

    public override void Build()
    {
        PpoConfig c = Ppo;
        torch.random.manual_seed(c.Run.Seed);
        _actor = new FlatMlp([ObservationSize, .. c.ActorHidden, ActionSize], Activation.Tanh, Activation.Identity, seed: c.Run.Seed * 7 + 1);
        _critic = new FlatMlp([CriticObservationSize, .. c.CriticHidden, 1], Activation.Tanh, Activation.Identity, seed: c.Run.Seed * 7 + 2);
        _actor.InitializeOrthogonal(Math.Sqrt(2), 0.01);
        _critic.InitializeOrthogonal(Math.Sqrt(2), 1.0);
        _logStd = torch.full([ActionSize], (float)c.InitialLogStd).requires_grad_(true);
        _logStdGradient = torch.zeros(ActionSize);
        _logStd.grad = _logStdGradient;
        _actorAdam = new FlatAdam(_actor, c.LearningRate, epsilon: 1e-5);
        _criticAdam = new FlatAdam(_critic, c.LearningRate, epsilon: 1e-5);
        _logStdAdam = new FlatAdam(_logStd, _logStdGradient, c.LearningRate, epsilon: 1e-5);
        _actorNormalizer = new RunningNormalizer(ObservationSize, minStd: 1e-2f);
        _criticNormalizer = new RunningNormalizer(CriticObservationSize, minStd: 1e-2f);
    }

    public override PolicyWeights Weights(int version) =>
        new(version, _actor.Sizes, Flatten(_actor.ExportLayers()), _critic.Sizes, Flatten(_critic.ExportLayers()), Values(_logStd),
            _actorNormalizer.Mean, _actorNormalizer.Std, _criticNormalizer.Mean, _criticNormalizer.Std);

    public override void Freeze(Fragment[] warmup)
    {
        MergeAndFreeze(_actorNormalizer, warmup.Select(f => (f.StatisticsCount, f.ActorStatistics)).ToArray());
        MergeAndFreeze(_criticNormalizer, warmup.Select(f => (f.StatisticsCount, f.CriticStatistics)).ToArray());
    }

    public override void Update(float[] observations, float[] criticObservations, float[] preSquashActions, float[] logProbs,
        float[] advantages, float[] returns, float[] values, int batch) =>
        Training.Ppo.Update(Ppo, _actor, _critic, _logStd, _logStdGradient, _actorAdam, _criticAdam, _logStdAdam,
            observations, criticObservations, preSquashActions, logProbs, advantages, returns, values, batch, ObservationSize, CriticObservationSize, ActionSize);

    /// <summary>tanh(μ(s)) as Ppo.Train exports it; golden observations from a seeded reset of the task.</summary>
    public override PolicyBundle Export()
    {
        float[] golden;
        using (var env = new NavEnv(_task, 8, 1))
        {
            env.Reset((ulong)Ppo.Run.Seed);
            golden = env.ActorObservations.ToArray();
        }
        return PolicyExport.Export(_actor, NavValidation.Describe(_task, ConfigJson), _actorNormalizer.Mean, _actorNormalizer.Std, golden,
            ActorHead.SquashedGaussianMean(ActionSize));
    }

    public override void Dispose()
    {
        _actorAdam?.Dispose();
        _criticAdam?.Dispose();
        _logStdAdam?.Dispose();
        _logStdGradient?.Dispose();
        _logStd?.Dispose();
        _actor?.Dispose();
        _critic?.Dispose();
    }
}

/// <summary>
/// A swarm task (<see cref="SwarmEnv"/>, every quad a row): <see cref="SwarmPpo"/>'s multi-agent PPO — one shared
/// deep-sets actor, an MLP critic on the same observation, one normaliser with the neighbour tokens tied. Refused here:
/// TD3/SAC (their rollouts are not distributed) and hard-state replay (below).
/// </summary>
public sealed class SwarmLearner : PpoClusterLearner
{
    readonly SwarmTaskConfig _task;
    readonly SwarmTrainingConfig _swarm;
    SwarmActor _actor = null!;
    FlatMlp _critic = null!;
    Tensor _logStd = null!, _logStdGradient = null!;
    FlatAdam[] _adams = [];
    RunningNormalizer _normalizer = null!;

    SwarmLearner(string taskPath, ConfigNode root, SwarmTaskConfig task, PpoConfig c, SwarmTrainingConfig swarm, SwarmEnv probe)
        : base(taskPath, root, c, SwarmPpo.ConfigJson(c, swarm), probe.QuadsPerEnv, probe)
    {
        _task = task;
        _swarm = swarm;
    }

    /// <summary>Reads the task as <see cref="SwarmTraining"/> does, with the cluster's refusals.</summary>
    public static SwarmLearner Read(string taskPath, ConfigNode root, int? seed, long? totalEnvSteps)
    {
        SwarmTaskConfig task = SwarmTaskConfig.Read(root);
        string algorithm = task.Training?.Choice("algorithm", "td3", "sac", "ppo") ?? "ppo";
        if (algorithm != "ppo")
            throw new ConfigException(task.File, "$.training.algorithm", $"\"{algorithm}\": --cluster trains swarm tasks with PPO only (the swarm's TD3/SAC trainer, with its hard-state replay and action histories, is not distributed); train it in-process, without --cluster");
        if (task.ActionHistoryLength > 0)
            throw new ConfigException(task.File, "$.action_history_length", "the PPO swarm trainer's deep-sets actor does not read an action history; set it to 0");
        SwarmTrainingConfig swarm = SwarmTrainingConfig.Read(task.Training); // before PpoConfig: it marks training.swarm as known
        // Why no replay here: every iteration restarts a shard's episodes from a reset seeded by its lease (what makes a
        // shard a pure function of its lease), so no state outlives an iteration for the hard-state buffer to hold.
        if (swarm.Replay)
            throw new ConfigException(task.File, "$.training.swarm.replay", "hard-state replay does not run on the cluster (each iteration restarts the shards' episodes from a seeded reset, so no hard state outlives an iteration); set \"replay\": false, or train in-process");
        PpoConfig c = PpoConfig.Read(task.Training);
        c = c with { Run = c.Run with { Seed = seed ?? c.Run.Seed, TotalEnvSteps = totalEnvSteps ?? c.Run.TotalEnvSteps } };
        task.CheckTrainingSeed(c.Run.Seed);
        using var probe = new SwarmEnv(task, 1, 1);
        return new SwarmLearner(taskPath, root, task, c, swarm, probe);
    }

    public override string RobotJson => _task.RobotConfigJson;
    public override IReadOnlyList<Tensor> Parameters => [.. _actor.Networks.Select(n => n.Parameters), _critic.Parameters, _logStd];
    public override IReadOnlyList<FlatAdam> Optimizers => _adams;
    public override RunningNormalizer ActorNormalizer => _normalizer;
    // The critic reads the actor's observation, normalised the same way.
    public override RunningNormalizer CriticNormalizer => _normalizer;

    /// <summary>As <see cref="SwarmPpo.Train(SwarmTaskConfig, PpoConfig, SwarmTrainingConfig, TrainingSession)"/> builds them.</summary>
    public override void Build()
    {
        PpoConfig c = Ppo;
        SwarmTrainingConfig s = _swarm;
        torch.random.manual_seed(c.Run.Seed);
        _actor = new SwarmActor(_task.Neighbours, s.SelfHidden, s.NeighbourHidden, s.SdfHidden, c.ActorHidden, c.Run.Seed);
        _critic = new FlatMlp([ObservationSize, .. c.CriticHidden, 1], Activation.Tanh, Activation.Identity, seed: c.Run.Seed * 7 + 2);
        _actor.InitializeOrthogonal();
        _critic.InitializeOrthogonal(Math.Sqrt(2), 1.0);
        _logStd = torch.full([ActionSize], (float)c.InitialLogStd).requires_grad_(true);
        _logStdGradient = torch.zeros(ActionSize);
        _logStd.grad = _logStdGradient;
        _adams = [.. _actor.Networks.Select(net => new FlatAdam(net, c.LearningRate, epsilon: 1e-5)),
            new FlatAdam(_critic, c.LearningRate, epsilon: 1e-5), new FlatAdam(_logStd, _logStdGradient, c.LearningRate, epsilon: 1e-5)];
        _normalizer = new RunningNormalizer(ObservationSize, minStd: 1e-2f,
            maxStd: s.NormalizerMaxStd > 0 ? Math.Max(1e-2f, (float)s.NormalizerMaxStd) : float.PositiveInfinity);
    }

    /// <summary>The actor as its bundle's dense chain (<see cref="SwarmActor.ExportLayers"/>: the encoders side by side, the
    /// mean pooling folded into the head); its last layer's tanh is the squash, so the worker's identity output is μ.</summary>
    public override PolicyWeights Weights(int version)
    {
        IReadOnlyList<DenseLayer> chain = _actor.ExportLayers();
        int[] sizes = [chain[0].InputSize, .. chain.Select(l => l.OutputSize)];
        return new PolicyWeights(version, sizes, Flatten(chain), _critic.Sizes, Flatten(_critic.ExportLayers()), Values(_logStd),
            _normalizer.Mean, _normalizer.Std, _normalizer.Mean, _normalizer.Std);
    }

    /// <summary>The shards' actor statistics merged and frozen, then tied over the neighbour tokens and the position error
    /// centred, as <see cref="SwarmPpo"/>'s warm-up.</summary>
    public override void Freeze(Fragment[] warmup)
    {
        MergeAndFreeze(_normalizer, warmup.Select(f => (f.StatisticsCount, f.ActorStatistics)).ToArray());
        SwarmPpo.TieNeighbourStatistics(_normalizer, _task.Neighbours);
        if (_swarm.PositionErrorScaleM > 0) SwarmPpo.CentrePositionError(_normalizer, (float)_swarm.PositionErrorScaleM);
    }

    public override void Update(float[] observations, float[] criticObservations, float[] preSquashActions, float[] logProbs,
        float[] advantages, float[] returns, float[] values, int batch) =>
        SwarmPpo.Update(Ppo, _actor, _critic, _logStd, _logStdGradient, _adams, observations, preSquashActions, logProbs, advantages, returns,
            values, batch, ObservationSize, ActionSize);

    /// <summary>The bundle <see cref="SwarmPpo"/> exports; golden observations: the first 16 quads of a seeded reset.</summary>
    public override PolicyBundle Export()
    {
        float[] golden;
        using (var env = new SwarmEnv(_task, (16 + RowsPerEnvironment - 1) / RowsPerEnvironment, 1))
        {
            env.Reset((ulong)Ppo.Run.Seed);
            golden = env.ActorObservations[..(Math.Min(16, env.NumEnvs) * ObservationSize)].ToArray();
        }
        return SwarmPpo.ExportBundle(_actor, _task, Ppo, _swarm, _normalizer, golden);
    }

    public override void Dispose()
    {
        foreach (FlatAdam adam in _adams) adam.Dispose();
        _logStdGradient?.Dispose();
        _logStd?.Dispose();
        _actor?.Dispose();
        _critic?.Dispose();
    }
}
