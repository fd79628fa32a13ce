using System.Security.Cryptography;
using RoboRl.Core.Configs;
using RoboRl.Core.Policy;
using RoboRl.Core.Tasks;
using RoboRl.Sims;
using RoboRl.Sims.Quadrotor;
using RoboRl.Training;
using RoboRl.Training.Kernels;

namespace RoboRl.Cluster;

/// <summary>
/// TD3 on the cluster for a hover task (<see cref="HoverEnv"/>), the shape of Ape-X and RLlib's off-policy env runners
/// made synchronous: workers fly the published actor with TD3's Gaussian exploration noise (random actions around the
/// hover action while the normalisers are measured) and send their transitions; the learner adds them to its replay
/// memory in shard order and runs the critic and actor updates that many environment steps make due, with the
/// in-process trainer's update (<see cref="Td3Update"/>) and hyperparameters (<see cref="Td3Config"/>).
///
/// Episodes run on across iterations: a fragment carries its environments' snapshot after the last step, and the next
/// iteration's policy carries it back to whichever worker leases the shard (which keeps a shard a pure function of its
/// lease, so re-leases and worker counts do not change the result). What differs from `roborl train` without --cluster
/// (<see cref="Training.Td3"/>): the policy changes between iterations (every num_envs × steps-per-shard environment steps)
/// instead of every vector step, and the updates an iteration makes due run after it; n-step returns are cut (and
/// bootstrapped) at an iteration's end. Logging, periodic evaluation, keep_best_policy and the final evaluation are the
/// in-process trainer's (<see cref="TrainingSession"/>: progress.csv, TensorBoard, learning_curve.png in the run directory).
/// </summary>
public sealed class HoverTd3Learner : ClusterLearner
{
    readonly HoverTaskConfig _task;
    readonly Td3Config _c;
    FlatMlp _actor = null!, _critic = null!;
    Td3Update _update = null!;
    ReplayBuffer _replay = null!;
    NStepReturns _nStep = null!;
    RunningNormalizer _actorNormalizer = null!, _criticNormalizer = null!;
    SeededRandom _random = null!;
    long _globalStep, _criticUpdates, _actorUpdates;
    int[] _batchRows = [];
    byte[][] _shardStates = [];
    int _stateBytes;
    TrainingSession? _session;
    Training.Evaluation.EvalResult? _finalEvaluation;
    float _criticLoss = float.NaN, _actorLoss = float.NaN;

    HoverTd3Learner(string taskPath, ConfigNode root, HoverTaskConfig task, Td3Config c, IVectorEnv probe)
        : base(taskPath, root, Td3.ConfigJson(c), 1, probe, c.Run)
    {
        _task = task;
        _c = c;
    }

    /// <summary>Reads the task as `roborl train` does for a hover task; SAC is refused (its rollouts are not distributed).</summary>
    public static HoverTd3Learner Read(string taskPath, ConfigNode root, int? seed, long? totalEnvSteps)
    {
        HoverTaskConfig task = HoverTaskConfig.Read(root);
        string algorithm = task.Training?.Choice("algorithm", "td3", "sac") ?? "td3";
        if (algorithm != "td3")
            throw new ConfigException(taskPath, "$.training.algorithm", $"\"{algorithm}\": --cluster trains hover tasks with TD3 (SAC's rollouts are not distributed); set \"td3\", or train it in-process, without --cluster");
        Td3Config c = Td3Config.Read(task.Training);
        c = c with { Run = c.Run with { Seed = seed ?? c.Run.Seed, TotalEnvSteps = totalEnvSteps ?? c.Run.TotalEnvSteps } };
        using var probe = new HoverEnv(task, 1, threadCount: 1);
        return new HoverTd3Learner(taskPath, root, task, c, probe);
    }

    /// <summary>Steps per environment of an iteration unless --steps-per-shard says otherwise: the policy workers fly is
    /// at most this many steps old (in-process TD3 updates it every step).</summary>
    public const int DefaultStepsPerShard = 10;

    public override string Algorithm => "td3";

    /// <summary>The task's checkpoint_every_env_steps in iterations: a TD3 checkpoint holds the replay memory (hundreds of
    /// MB late in a run), too much to write every few iterations of a few hundred steps.</summary>
    public override int DefaultCheckpointEvery(RunSpec run) => _c.Run.CheckpointEveryEnvSteps <= 0 ? int.MaxValue
        : (int)Math.Clamp(_c.Run.CheckpointEveryEnvSteps / run.EnvStepsPerIteration, 1, int.MaxValue);
    public override string RobotJson => _task.RobotConfigJson;
    public override string CheckpointFileName => Checkpoint.FileName;
    public Td3Config Config => _c;
    public override int StateBytesPerShard => _stateBytes;

    /// <summary>Iterations of num_envs × steps-per-shard steps (default 10 steps per environment: the policy changes every
    /// 10·num_envs steps); the first ones act randomly until warmup_env_steps are in.</summary>
    public override (int StepsPerShard, int WarmupStepsPerShard, int Iterations, int RandomIterations) Layout(int shards, int? stepsPerShard)
    {
        int steps = stepsPerShard ?? DefaultStepsPerShard;
        using (var shard = new HoverEnv(_task, _c.Run.NumEnvs / shards, threadCount: 1)) _stateBytes = shard.StateBytes;
        _shardStates = [.. Enumerable.Range(0, shards).Select(_ => Array.Empty<byte>())];
        long perIteration = (long)_c.Run.NumEnvs * steps;
        int iterations = (int)Math.Max(1, (_c.Run.TotalEnvSteps + perIteration - 1) / perIteration);
        int random = (int)Math.Max(1, (_c.WarmupEnvSteps + perIteration - 1) / perIteration);
        if (iterations <= random)
            throw new ArgumentException($"{TaskPath}: {iterations} iteration{(iterations == 1 ? "" : "s")} of {perIteration} env steps (training.num_envs × steps per shard {steps}) leave none after the {random} of the warm-up (training.td3.warmup_env_steps = {_c.WarmupEnvSteps}); train longer or shorten --steps-per-shard");
        if (_c.ReplayCapacity < random * perIteration)
            throw new ArgumentException($"{TaskPath}: training.td3.replay_capacity {_c.ReplayCapacity} must hold the warm-up's {random * perIteration} env steps (the normalisers are measured on them)");
        return (steps, 0, iterations, random);
    }

    /// <summary>The networks, update and replay memory as <see cref="Training.Td3.Train"/> builds them from the same seed.</summary>
    public override void Build()
    {
        int obs = ObservationSize, critic = CriticObservationSize, act = ActionSize;
        _random = new SeededRandom((ulong)_c.Run.Seed * 0x9E3779B97F4A7C15UL + 1);
        _actor = new FlatMlp([obs, .. _c.ActorHidden, act], Activation.Relu, Activation.Tanh, seed: _c.Run.Seed * 7 + 1);
        _critic = new FlatMlp([critic + act, .. _c.CriticHidden, 1], Activation.Relu, Activation.Identity, ensembleSize: 2, seed: _c.Run.Seed * 7 + 2);
        _update = new Td3Update(_actor, _critic, _c, actingRows: 1, threads: _c.UpdateThreads);
        _replay = new ReplayBuffer(Math.Min(_c.ReplayCapacity, _c.Run.TotalEnvSteps), obs, critic, act);
        _actorNormalizer = new RunningNormalizer(obs, minStd: 1e-2f, maxStd: 1f);
        _criticNormalizer = new RunningNormalizer(critic, minStd: 1e-6f, maxStd: 1f);
        _nStep = new NStepReturns(_c.Run.NumEnvs, _c.NStep, _c.Gamma, obs, critic, act);
        _batchRows = new int[_c.BatchSize];
    }

    /// <summary>The actor (ReLU hidden layers, tanh output) and the normalisers; workers need no critic.</summary>
    public override PolicyWeights Weights(int version)
    {
        TensorCopy.From(_actor.Parameters, _update.Actor.Parameters);
        return new PolicyWeights(version, _actor.Sizes, Flatten(_actor.ExportLayers()), [], [], [],
            _actorNormalizer.Mean, _actorNormalizer.Std, _criticNormalizer.Mean, _criticNormalizer.Std)
        { ActorHiddenActivation = Activation.Relu, ActorOutputActivation = Activation.Tanh, ShardStates = _shardStates };
    }

    public override double Learn(int iteration, Fragment[] fragments, RunSpec run)
    {
        int n = run.EnvsPerShard, T = run.StepsPerShard, obs = ObservationSize, critic = CriticObservationSize, act = ActionSize;
        double returnSum = 0;
        int episodes = 0;
        // ---- Store: every shard's transitions in shard order, each environment's n-step returns in step order. The
        // iteration's last step ends every episode for the n-step returns (truncated: bootstrapped from its next state).
        for (int s = 0; s < fragments.Length; s++)
        {
            Fragment f = fragments[s];
            for (int t = 0; t < T; t++)
                for (int i = 0; i < n; i++)
                {
                    int row = t * n + i;
                    _nStep.Add(s * n + i, f.Observations.AsSpan(row * obs, obs), f.CriticObservations.AsSpan(row * critic, critic),
                        f.Actions.AsSpan(row * act, act), f.Rewards[row], f.NextObservations.AsSpan(row * obs, obs),
                        f.NextCriticObservations.AsSpan(row * critic, critic), f.Terminated[row], f.EpisodeEnds[row] || t == T - 1, Store);
                }
            foreach (float r in f.EpisodeReturns) returnSum += r;
            episodes += f.EpisodeReturns.Length;
            for (int e = 0; e < f.EpisodeReturns.Length; e++) _session?.EpisodeFinished(f.EpisodeReturns[e], f.EpisodeLengths[e]);
            _shardStates[s] = f.FinalState;
        }
        _globalStep = (iteration + 1) * run.EnvStepsPerIteration;

        // ---- Warm-up over: the normalisers are measured on the random iterations' observations (all still raw in the
        // replay memory, so a resumed learner measures the same), frozen, and the stored rows normalised in place.
        if (iteration == run.RandomIterations - 1)
        {
            _actorNormalizer.Update(_replay.ActorObservations.AsSpan(0, _replay.Count * obs));
            _criticNormalizer.Update(_replay.CriticObservations.AsSpan(0, _replay.Count * critic));
            _actorNormalizer.Freeze();
            _criticNormalizer.Freeze();
            _replay.NormaliseStoredRows(_actorNormalizer, _criticNormalizer);
        }

        // ---- Train: the critic updates the iteration's env steps make due (one per env_steps_per_critic_update after the
        // warm-up), the actor and both targets every policy_delay-th once the actor's warm-up is over (as Td3.Train).
        if (iteration >= run.RandomIterations)
        {
            long due = (_globalStep - run.RandomIterations * run.EnvStepsPerIteration) / _c.EnvStepsPerCriticUpdate;
            double factor = 1 - (1 - _c.LearningRateFinalFraction) * Math.Min(1.0, (double)_globalStep / _c.Run.TotalEnvSteps);
            _update.ActorAdam.LearningRate = _c.ActorLearningRate * factor;
            _update.CriticAdam.LearningRate = _c.CriticLearningRate * factor;
            while (_criticUpdates < due)
            {
                _replay.SampleRows(_random, _batchRows);
                _criticLoss = _update.UpdateCritic(_replay, _batchRows, update: _criticUpdates);
                _criticUpdates++;
                if (_criticUpdates % _c.PolicyDelay == 0 && _globalStep >= _c.ActorWarmupEnvSteps)
                {
                    _actorLoss = _update.UpdateActor(update: _actorUpdates);
                    _actorUpdates++;
                    _update.UpdateTargets(_c.Tau);
                }
            }
        }
        // ---- Log and evaluate as the in-process trainer (the periodic evaluations compete for the bundle: keep_best_policy).
        if (_session is { } session)
        {
            session.Step(_globalStep, (int)run.EnvStepsPerIteration, _criticLoss, _actorLoss, _criticUpdates, _actorUpdates);
            if (_actorNormalizer.Frozen && session.EvaluationDue(_globalStep, (int)run.EnvStepsPerIteration, _c.Run.EvalEveryEnvSteps, _c.Run.EvalFromEnvSteps))
                session.Score(Export(), _globalStep, _c.Run.EvalEpisodes);
        }
        return episodes > 0 ? returnSum / episodes : double.NaN;
    }

    public override void Open(string runDirectory, bool resume) =>
        _session = new TrainingSession(runDirectory, _task, _c.Run.TotalEnvSteps, _c.Run.Seed, resume ? Checkpoint.Find(runDirectory) : null,
            console: null, interactive: false, progress: null);

    /// <summary>As `roborl train`: with keep_best_policy the best periodic policy (the last one competing), else the last;
    /// the bundle says which; scored on final_eval_episodes held-out episodes; the learning curve drawn.</summary>
    public override PolicyBundle Finish()
    {
        PolicyBundle bundle = Export();
        if (_session is not { } session) return bundle;
        var snapshot = new BundleSnapshot(BundleSnapshot.Last, _globalStep, null, _globalStep);
        if (_c.Run.KeepBestPolicy)
        {
            if (session.LastPeriodicEvalStep != _globalStep) session.Score(bundle, _globalStep, _c.Run.EvalEpisodes);
            if (session.BestBundle is { } best)
            {
                bundle = best;
                snapshot = new BundleSnapshot(BundleSnapshot.BestEvaluation, session.BestEnvSteps, session.BestSuccessRate, _globalStep);
            }
        }
        bundle = bundle.WithTrainingConfig(snapshot.AddTo(bundle.TrainingConfigJson));
        session.Snapshot = snapshot;
        session.Score(bundle, snapshot.EnvSteps, _c.Run.FinalEvalEpisodes, final: true);
        _finalEvaluation = session.FinalEvaluation;
        session.Finish();
        return bundle;
    }

    public override Training.Evaluation.EvalResult? FinalEvaluation => _finalEvaluation;

    /// <summary>A finished n-step transition into the replay memory: raw during the warm-up, normalised after.</summary>
    void Store(ReadOnlySpan<float> o, ReadOnlySpan<float> co, ReadOnlySpan<float> a, float r, ReadOnlySpan<float> no, ReadOnlySpan<float> nco, float discount) =>
        _replay.Add(_actorNormalizer, _criticNormalizer, o, co, a, r, no, nco, discount);

    /// <summary>The networks and the shards' environment snapshots (as floats: the checkpoint stores named float arrays).</summary>
    Dictionary<string, float[]> CheckpointArrays(bool forLoading)
    {
        Dictionary<string, float[]> arrays = _update.NamedState();
        for (int s = 0; s < _shardStates.Length; s++)
            arrays[$"shard_state_{s}"] = forLoading ? new float[_stateBytes / sizeof(float)]
                : System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(_shardStates[s]).ToArray();
        return arrays;
    }

    /// <summary>The in-process TD3 checkpoint (<see cref="Checkpoint"/>, replay memory included) with the shards'
    /// environments, and the cluster's iteration, counters and a hash of the run identity among its counters.</summary>
    public override void WriteCheckpoint(string path, int iteration, ClusterCounters counters, string runIdentity) =>
        Checkpoint.Save(Path.GetDirectoryName(Path.GetFullPath(path))!, _globalStep, CheckpointArrays(forLoading: false), new Dictionary<string, long>
        {
            ["critic_updates"] = _criticUpdates,
            ["actor_updates"] = _actorUpdates,
            ["actor_adam_t"] = _update.ActorAdam.StepCount,
            ["critic_adam_t"] = _update.CriticAdam.StepCount,
            ["random_state"] = (long)_random.State,
            ["cluster_iteration"] = iteration,
            ["cluster_run_identity"] = (long)ShardSeeds.Mix(runIdentity, 0, 0),
            ["cluster_accepted"] = counters.Accepted,
            ["cluster_duplicates"] = counters.Duplicates,
            ["cluster_malformed"] = counters.Malformed,
            ["cluster_released"] = counters.Released,
            ["cluster_refused"] = counters.Refused,
            ["cluster_env_steps"] = counters.AcceptedEnvSteps,
            ["cluster_policy_lag"] = counters.MaxPolicyLag,
        }, _replay, _actorNormalizer, _criticNormalizer, includeReplay: true);

    public override (int Iteration, ClusterCounters Counters) ReadCheckpoint(string path, string runIdentity)
    {
        var checkpoint = Checkpoint.Find(Path.GetDirectoryName(Path.GetFullPath(path))!) ?? throw new ArgumentException($"--resume: no {Checkpoint.FileName} beside '{path}'");
        Dictionary<string, float[]> arrays = CheckpointArrays(forLoading: true);
        Checkpoint.Saved saved = checkpoint.Load(arrays, _replay, _actorNormalizer, _criticNormalizer);
        for (int s = 0; s < _shardStates.Length; s++)
            _shardStates[s] = System.Runtime.InteropServices.MemoryMarshal.AsBytes(arrays[$"shard_state_{s}"].AsSpan()).ToArray();
        if (!saved.Counters.TryGetValue("cluster_run_identity", out long identity))
            throw new InvalidDataException($"{path}: an in-process training checkpoint, not a cluster learner's; resume it without --cluster");
        if (identity != (long)ShardSeeds.Mix(runIdentity, 0, 0))
            throw new InvalidDataException($"{path}: the checkpoint belongs to another task or hyperparameters than this run's; resume with the same TASK, --seed, --shards and --steps-per-shard");
        _update.Restored();
        _globalStep = saved.GlobalStep;
        _criticUpdates = saved.Counter("critic_updates");
        _actorUpdates = saved.Counter("actor_updates");
        _update.ActorAdam.StepCount = saved.Counter("actor_adam_t");
        _update.CriticAdam.StepCount = saved.Counter("critic_adam_t");
        _random.State = (ulong)saved.Counter("random_state");
        var counters = new ClusterCounters(saved.Counter("cluster_accepted"), saved.Counter("cluster_duplicates"), saved.Counter("cluster_malformed"),
            saved.Counter("cluster_released"), saved.Counter("cluster_refused"), 0, saved.Counter("cluster_env_steps"), (int)saved.Counter("cluster_policy_lag"));
        return ((int)saved.Counter("cluster_iteration"), counters);
    }

    public override string WeightsHash()
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (MlpWeights network in new[] { _update.Actor, _update.ActorTarget, _update.Critic, _update.CriticTarget })
            sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(network.Parameters.AsSpan()));
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>The actor as <see cref="Training.Td3.Train"/> exports it; golden observations from a seeded reset of the task.</summary>
    public override PolicyBundle Export()
    {
        float[] golden;
        using (var env = new HoverEnv(_task, 8, threadCount: 1))
        {
            env.Reset((ulong)_c.Run.Seed);
            golden = env.ActorObservations.ToArray();
        }
        TensorCopy.From(_actor.Parameters, _update.ExportedActor.Parameters);
        return PolicyExport.Export(_actor, TrainingSession.Describe(_task, ConfigJson), _actorNormalizer.Mean, _actorNormalizer.Std, golden);
    }

    public override void Dispose()
    {
        _session?.Dispose();
        _update?.Dispose();
        _actor?.Dispose();
        _critic?.Dispose();
    }
}
