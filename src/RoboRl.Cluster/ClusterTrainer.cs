using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Concurrency;
using RoboRl.Core.Configs;
using RoboRl.Core.Tasks;
using RoboRl.Sims.DiffDrive;
using RoboRl.Training;

namespace RoboRl.Cluster;

/// <summary>What `roborl train TASK --cluster CONN` runs.</summary>
public sealed record ClusterTrainOptions(string TaskPath, ClusterConnection Connection)
{
    public int? Seed { get; init; }
    public long? TotalEnvSteps { get; init; }
    /// <summary>Run directory; default runs/&lt;task&gt;-ppo-cluster-seed&lt;S&gt;-&lt;UTC time&gt;.</summary>
    public string? OutDirectory { get; init; }
    /// <summary>Work items per iteration; divides training.num_envs (each shard simulates num_envs / shards environments).</summary>
    public int Shards { get; init; } = 4;
    /// <summary>A checkpoint every this many iterations (and after the last).</summary>
    public int CheckpointEvery { get; init; } = 10;
    /// <summary>A lease not completed within this is handed to another worker.</summary>
    public double LeaseTimeoutSeconds { get; init; } = 30;
    public bool Resume { get; init; }
    public int? SiloPort { get; init; }
    public TextWriter? Console { get; init; }
}

/// <summary>What a finished cluster run produced.</summary>
public sealed record ClusterTrainResult(string RunDirectory, string BundlePath, int Seed, int Iterations, long EnvSteps, double WallSeconds,
    ClusterCounters Counters, string FinalWeightsSha256, int ResumedFromIteration, double LearnerSecondsPerFragment, long BytesPerEnvStep,
    double RolloutStepsPerSecond);

/// <summary>
/// Synchronous distributed PPO (the shape of RLlib's env runners with a learner): each iteration the learner publishes
/// the policy as version = iteration, the shards of the rollout are leased to workers, and once every shard is in,
/// the learner runs GAE and the PPO update exactly as <see cref="Ppo"/> does and moves on. Everything the update uses
/// is a pure function of the weights, the iteration and the shard, and the update itself is seeded per iteration, so
/// the final weights do not depend on which worker did what, in which order, or how often a shard was re-leased.
/// Checkpoint (every K iterations): networks, Adam moments, normalisers, counters.
/// </summary>
public static class ClusterTrainer
{
    public const string CheckpointFileName = "cluster-checkpoint.bin";

    public static ClusterTrainResult Run(ClusterTrainOptions options, CancellationToken cancel = default)
    {
        var wall = System.Diagnostics.Stopwatch.StartNew();
        // ---- 1. The task, the hyperparameters and the shard layout.
        ConfigNode root = ConfigNode.LoadFile(options.TaskPath);
        if (!NavTaskConfig.IsNavigationTask(root))
            throw new ArgumentException($"{options.TaskPath}: --cluster trains navigation tasks with PPO (\"kind\": \"navigation\"); hover tasks train in-process");
        NavTaskConfig task = NavTaskConfig.Read(root);
        PpoConfig c = PpoConfig.Read(task.Training);
        c = c with { Run = c.Run with { Seed = options.Seed ?? c.Run.Seed, TotalEnvSteps = options.TotalEnvSteps ?? c.Run.TotalEnvSteps } };
        if (options.Shards < 1 || c.Run.NumEnvs % options.Shards != 0)
            throw new ArgumentException($"--shards {options.Shards}: must divide training.num_envs = {c.Run.NumEnvs}");
        if (options.CheckpointEvery < 1) throw new ArgumentException($"--checkpoint-every {options.CheckpointEvery}: must be ≥ 1");
        if (!(options.LeaseTimeoutSeconds > 0)) throw new ArgumentException($"--lease-timeout-s {options.LeaseTimeoutSeconds}: must be > 0");
        RunSpec run = MakeSpec(options, root, task, c);
        string runDirectory = options.OutDirectory ?? Path.Combine("runs", string.Create(CultureInfo.InvariantCulture,
            $"{Path.GetFileNameWithoutExtension(options.TaskPath)}-ppo-cluster-seed{c.Run.Seed}-{DateTime.UtcNow:yyyyMMdd-HHmmss}"));
        string checkpointPath = Path.Combine(runDirectory, CheckpointFileName);
        if (options.Resume && !File.Exists(checkpointPath)) throw new ArgumentException($"--resume: no {CheckpointFileName} in '{runDirectory}'");
        if (!options.Resume && (File.Exists(checkpointPath) || File.Exists(Path.Combine(runDirectory, Trainer.BundleFileName))))
            throw new ArgumentException($"'{runDirectory}' already holds a run; pass --resume to continue it or choose another --output");
        Directory.CreateDirectory(runDirectory);
        File.WriteAllText(Path.Combine(runDirectory, "training.json"), Ppo.ConfigJson(c));
        TorchSetup.Initialize(intraOpThreads: 1);

        // ---- 2. Networks, optimisers, normalisers: as Ppo.Train (same initialisation from the same seed).
        torch.random.manual_seed(c.Run.Seed);
        int obsSize = run.ObservationSize, criticSize = run.CriticObservationSize, act = run.ActionSize;
        using var actor = new FlatMlp([obsSize, .. c.ActorHidden, act], Activation.Tanh, Activation.Identity, seed: c.Run.Seed * 7 + 1);
        using var critic = new FlatMlp([criticSize, .. c.CriticHidden, 1], Activation.Tanh, Activation.Identity, seed: c.Run.Seed * 7 + 2);
        actor.InitializeOrthogonal(Math.Sqrt(2), 0.01);
        critic.InitializeOrthogonal(Math.Sqrt(2), 1.0);
        using Tensor logStd = torch.full([act], (float)c.InitialLogStd).requires_grad_(true);
        using Tensor logStdGradient = torch.zeros(act);
        logStd.grad = logStdGradient;
        using var actorAdam = new FlatAdam(actor, c.LearningRate, epsilon: 1e-5);
        using var criticAdam = new FlatAdam(critic, c.LearningRate, epsilon: 1e-5);
        using var logStdAdam = new FlatAdam(logStd, logStdGradient, c.LearningRate, epsilon: 1e-5);
        var actorNormalizer = new RunningNormalizer(obsSize, minStd: 1e-2f);
        var criticNormalizer = new RunningNormalizer(criticSize, minStd: 1e-2f);
        var counters = new ClusterCounters(0, 0, 0, 0, 0, 0, 0, 0);
        int firstIteration = 0;
        if (options.Resume)
        {
            var state = ClusterCheckpoint.Read(checkpointPath, run.TaskHash + run.PpoJson + run.Shards);
            firstIteration = state.Iteration + 1;
            counters = state.Counters;
            state.Restore(actor, critic, logStd, actorAdam, criticAdam, logStdAdam, actorNormalizer, criticNormalizer);
        }

        // ---- 3. The silo and the run's coordinator (on PostgreSQL: Orleans' membership schema first, idempotent).
        if (options.Connection.PostgresConnectionString is { } database) ClusterDatabase.EnsureSchema(database);
        using IHost silo = options.Connection.BuildSilo(options.SiloPort);
        silo.StartAsync(cancel).GetAwaiter().GetResult();
        var coordinator = silo.Services.GetRequiredService<IGrainFactory>().GetGrain<IRolloutCoordinator>(ClusterProtocol.RunKey);
        coordinator.Open(run, counters).GetAwaiter().GetResult();
        TextWriter? console = options.Console;
        console?.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"learner: {run.TaskName}, {run.Iterations} iterations of {run.Shards} shards × {run.EnvsPerShard} envs × {run.StepsPerShard} steps; gateway port {options.Connection.GatewayPort}{(firstIteration > 0 ? $"; resumed after iteration {firstIteration - 1}" : "")}"));

        int T = c.NumSteps, n = c.Run.NumEnvs, batch = c.BatchSize, shardRows = run.EnvsPerShard * T;
        var observations = new float[batch * obsSize];
        var criticObservations = new float[batch * criticSize];
        var preSquashActions = new float[batch * act];
        var logProbs = new float[batch];
        var values = new float[batch];
        var advantages = new float[batch];
        var returns = new float[batch];
        using var acceptedLog = new StreamWriter(Path.Combine(runDirectory, "accepted.csv"), append: options.Resume) { AutoFlush = true };
        if (!options.Resume) acceptedLog.WriteLine("iteration,shard,worker");
        using var progressLog = new StreamWriter(Path.Combine(runDirectory, "cluster_progress.csv"), append: options.Resume) { AutoFlush = true };
        if (!options.Resume) progressLog.WriteLine("iteration,env_steps,accepted,duplicates,malformed,released,refused,workers,steps_per_s,policy_lag,mean_episode_return");
        long envSteps = counters.AcceptedEnvSteps, fragmentBytes = 0, fragmentSteps = 0;
        double learnerSeconds = 0, rolloutSecondsTotal = 0;
        long learnerFragments = 0, rolloutStepsTotal = 0;
        var serializer = silo.Services.GetRequiredService<Orleans.Serialization.Serializer>();

        // ---- 4. The loop: publish → wait for every shard → (warm-up: freeze the normalisers | GAE → update) → checkpoint.
        for (int iteration = firstIteration; iteration < run.Iterations; iteration++)
        {
            cancel.ThrowIfCancellationRequested();
            PolicyWeights policy = Weights(iteration, actor, critic, logStd, actorNormalizer, criticNormalizer);
            coordinator.Publish(iteration, new Immutable<PolicyWeights>(policy)).GetAwaiter().GetResult();
            var iterationClock = System.Diagnostics.Stopwatch.StartNew();
            Fragment[] fragments = WaitForShards(coordinator, iteration, console, cancel);
            double rolloutSeconds = iterationClock.Elapsed.TotalSeconds;
            var learnerClock = System.Diagnostics.Stopwatch.StartNew();
            if (fragmentBytes == 0 && iteration > 0)
            {
                fragmentBytes = serializer.SerializeToArray(fragments[0]).Length;
                fragmentSteps = fragments[0].EnvSteps(run);
            }
            foreach (Fragment f in fragments) acceptedLog.WriteLine($"{f.Iteration},{f.Shard},{f.WorkerId}");

            double meanReturn = double.NaN;
            if (iteration == 0)
            {
                // Warm-up: merge the shards' statistics in shard order (Chan et al.'s parallel Welford), freeze.
                MergeAndFreeze(actorNormalizer, fragments.Select(f => (f.StatisticsCount, f.ActorStatistics)).ToArray());
                MergeAndFreeze(criticNormalizer, fragments.Select(f => (f.StatisticsCount, f.CriticStatistics)).ToArray());
            }
            else
            {
                // GAE per shard (each shard is its own [T × envs] block), gathered into one batch in shard order.
                double returnSum = 0;
                int episodes = 0;
                for (int s = 0; s < fragments.Length; s++)
                {
                    Fragment f = fragments[s];
                    int offset = s * shardRows;
                    f.Observations.CopyTo(observations, offset * obsSize);
                    f.CriticObservations.CopyTo(criticObservations, offset * criticSize);
                    f.Actions.CopyTo(preSquashActions, offset * act);
                    f.LogProbs.CopyTo(logProbs, offset);
                    f.Values.CopyTo(values, offset);
                    Ppo.ComputeGae(f.Rewards, f.Values, f.EpisodeEnds, f.NextValues, run.EnvsPerShard, (float)c.Gamma, (float)c.GaeLambda,
                        advantages.AsSpan(offset, shardRows), returns.AsSpan(offset, shardRows));
                    foreach (float r in f.EpisodeReturns) returnSum += r;
                    episodes += f.EpisodeReturns.Length;
                }
                meanReturn = episodes > 0 ? returnSum / episodes : double.NaN;
                double fraction = c.AnnealLearningRate ? Math.Max(0, 1.0 - (double)(iteration - 1) / Math.Max(1, run.Iterations - 1)) : 1;
                actorAdam.LearningRate = criticAdam.LearningRate = logStdAdam.LearningRate = Math.Max(1e-12, c.LearningRate * fraction);
                // The minibatch order is seeded by the iteration: a resumed learner repeats an update exactly.
                torch.random.manual_seed((long)(ShardSeeds.Mix((ulong)c.Run.Seed, (ulong)iteration) >> 1));
                Ppo.Update(c, actor, critic, logStd, logStdGradient, actorAdam, criticAdam, logStdAdam,
                    observations, criticObservations, preSquashActions, logProbs, advantages, returns, values, batch, obsSize, criticSize, act);
            }
            if (iteration > 0)
            {
                learnerSeconds += learnerClock.Elapsed.TotalSeconds;
                learnerFragments += fragments.Length;
            }

            counters = coordinator.Counters().GetAwaiter().GetResult();
            envSteps = counters.AcceptedEnvSteps;
            long iterationSteps = fragments.Sum(f => f.EnvSteps(run));
            if (iteration > 0)
            {
                // Rollout throughput: publish → last shard in (the warm-up iteration also waits for workers to start).
                rolloutSecondsTotal += rolloutSeconds;
                rolloutStepsTotal += iterationSteps;
            }
            double stepsPerSecond = iterationSteps / Math.Max(1e-9, rolloutSeconds);
            progressLog.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{iteration},{envSteps},{counters.Accepted},{counters.Duplicates},{counters.Malformed},{counters.Released},{counters.Refused},{counters.Workers},{stepsPerSecond:F0},{counters.MaxPolicyLag},{meanReturn:G6}"));
            console?.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"iteration {iteration + 1}/{run.Iterations}  env steps {envSteps:N0}  {stepsPerSecond:N0} steps/s  workers {counters.Workers}  policy lag {counters.MaxPolicyLag}  accepted {counters.Accepted}  duplicates {counters.Duplicates}  malformed {counters.Malformed}  re-leased {counters.Released}{(double.IsNaN(meanReturn) ? "" : $"  return {meanReturn:F2}")}"));
            if ((iteration + 1) % options.CheckpointEvery == 0 || iteration == run.Iterations - 1)
                ClusterCheckpoint.Write(checkpointPath, iteration, counters, actor, critic, logStd, actorAdam, criticAdam, logStdAdam, actorNormalizer, criticNormalizer,
                    run.TaskHash + run.PpoJson + run.Shards);
        }
        coordinator.Finish().GetAwaiter().GetResult();

        // ---- 5. The bundle: tanh(μ(s)) as Ppo.Train exports it; golden observations from a seeded reset of the task.
        string trainingJson = Ppo.ConfigJson(c);
        float[] golden;
        using (var env = new NavEnv(task, 8, 1))
        {
            env.Reset((ulong)c.Run.Seed);
            golden = env.ActorObservations.ToArray();
        }
        var bundle = PolicyExport.Export(actor, NavValidation.Describe(task, trainingJson), actorNormalizer.Mean, actorNormalizer.Std, golden,
            ActorHead.SquashedGaussianMean(act));
        string bundlePath = Path.Combine(runDirectory, Trainer.BundleFileName);
        bundle.Write(bundlePath);
        string hash = WeightsHash(actor, critic, logStd);
        File.WriteAllText(Path.Combine(runDirectory, "final_weights.sha256"), hash + "\n");
        // Workers poll every few ms and see "finished" within a poll; give them that before the gateway goes.
        Thread.Sleep(300);
        silo.StopAsync(CancellationToken.None).GetAwaiter().GetResult();
        long bytesPerStep = fragmentSteps > 0 ? (long)Math.Round((double)fragmentBytes / fragmentSteps) : 0;
        return new ClusterTrainResult(runDirectory, bundlePath, c.Run.Seed, run.Iterations, envSteps, wall.Elapsed.TotalSeconds, counters, hash,
            firstIteration, learnerFragments > 0 ? learnerSeconds / learnerFragments : double.NaN, bytesPerStep,
            rolloutSecondsTotal > 0 ? rolloutStepsTotal / rolloutSecondsTotal : double.NaN);
    }

    /// <summary>The run as workers see it; <see cref="RunSpec.TaskHash"/> is over the task and robot JSON as loaded.</summary>
    static RunSpec MakeSpec(ClusterTrainOptions options, ConfigNode root, NavTaskConfig task, PpoConfig c)
    {
        // The task goes to workers self-contained: its robot reference is replaced by the robot file's JSON name.
        JsonNode taskJson = JsonNode.Parse(root.RawJson) ?? throw new InvalidDataException($"{options.TaskPath}: empty");
        taskJson["robot"] = "robot.json";
        string taskText = taskJson.ToJsonString();
        string hash = TaskHash(taskText, task.RobotConfigJson);
        int envsPerShard = c.Run.NumEnvs / options.Shards;
        int warmupSteps = (int)((c.NormalizerWarmupEnvSteps + c.Run.NumEnvs - 1) / c.Run.NumEnvs);
        long warmupTotal = (long)warmupSteps * c.Run.NumEnvs;
        int iterations = 1 + (int)Math.Max(1, (c.Run.TotalEnvSteps - warmupTotal + c.BatchSize - 1) / c.BatchSize);
        using var probe = new NavEnv(task, 1, 1);
        return new RunSpec(ClusterProtocol.Version, ClusterProtocol.Build, Path.GetFileName(options.TaskPath), taskText, task.RobotConfigJson, hash,
            Ppo.ConfigJson(c), options.Shards, envsPerShard, c.NumSteps, warmupSteps, probe.ActorObservationSize, probe.CriticObservationSize,
            probe.ActionSize, iterations, options.LeaseTimeoutSeconds);
    }

    /// <summary>SHA-256 of the task as workers receive it (the task JSON with "robot": "robot.json", then the robot JSON).</summary>
    public static string TaskHash(string taskJson, string robotJson) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(taskJson + "\n" + robotJson)));

    /// <summary>The hash of the task file <paramref name="taskPath"/> as a learner would publish it (a worker's --task).</summary>
    public static string TaskHash(string taskPath)
    {
        ConfigNode root = ConfigNode.LoadFile(taskPath);
        NavTaskConfig task = NavTaskConfig.Read(root);
        JsonNode taskJson = JsonNode.Parse(root.RawJson)!;
        taskJson["robot"] = "robot.json";
        return TaskHash(taskJson.ToJsonString(), task.RobotConfigJson);
    }

    static Fragment[] WaitForShards(IRolloutCoordinator coordinator, int iteration, TextWriter? console, CancellationToken cancel)
    {
        var waiting = System.Diagnostics.Stopwatch.StartNew();
        double nextNote = 10;
        while (true)
        {
            cancel.ThrowIfCancellationRequested();
            if (coordinator.TakeIteration(iteration).GetAwaiter().GetResult() is { } all) return all.Value;
            if (waiting.Elapsed.TotalSeconds > nextNote)
            {
                ClusterCounters k = coordinator.Counters().GetAwaiter().GetResult();
                console?.WriteLine($"learner: waiting for the shards of iteration {iteration + 1} ({k.Workers} workers seen in the last 10 s; start some with `roborl worker --cluster CONN`)");
                nextNote += 10;
            }
            Thread.Sleep(2);
        }
    }

    /// <summary>Chan et al.'s parallel combination of per-shard (count, mean, M2), in shard order; then the frozen std as RunningNormalizer computes it.</summary>
    static void MergeAndFreeze(RunningNormalizer normalizer, (long Count, double[] Stats)[] shards)
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

    /// <summary>The policy of <paramref name="version"/> for workers (layers as <see cref="FlatMlp.ExportLayers"/> gives them).</summary>
    static PolicyWeights Weights(int version, FlatMlp actor, FlatMlp critic, Tensor logStd, RunningNormalizer actorNormalizer, RunningNormalizer criticNormalizer)
    {
        float[] logStdValues = new float[logStd.numel()];
        using (torch.no_grad()) TensorCopy.To(logStd, logStdValues);
        return new PolicyWeights(version, actor.Sizes, Flatten(actor), critic.Sizes, Flatten(critic), logStdValues,
            actorNormalizer.Mean, actorNormalizer.Std, criticNormalizer.Mean, criticNormalizer.Std);

        static float[] Flatten(FlatMlp network) => network.ExportLayers().SelectMany(l => l.Weights.Concat(l.Biases)).ToArray();
    }

    /// <summary>SHA-256 over the actor's, the critic's and log σ's float32 bytes.</summary>
    public static string WeightsHash(FlatMlp actor, FlatMlp critic, Tensor logStd)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using (torch.no_grad())
        {
            sha.AppendData(actor.Parameters.bytes);
            sha.AppendData(critic.Parameters.bytes);
            sha.AppendData(logStd.detach().contiguous().bytes);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}
