using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Concurrency;
using RoboRl.Core.Configs;
using RoboRl.Core.Swarm;
using RoboRl.Core.Tasks;
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
/// the learner runs GAE and the PPO update exactly as the in-process trainer does (<see cref="Ppo"/> for navigation tasks,
/// <see cref="SwarmPpo"/> for swarm tasks, through <see cref="ClusterLearner"/>) and moves on. Everything the update uses
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
        using ClusterLearner learner = ClusterLearner.Read(options.TaskPath, options.Seed, options.TotalEnvSteps);
        PpoConfig c = learner.Ppo;
        if (options.Shards < 1 || c.Run.NumEnvs % options.Shards != 0)
            throw new ArgumentException($"--shards {options.Shards}: must divide training.num_envs = {c.Run.NumEnvs}");
        if (options.CheckpointEvery < 1) throw new ArgumentException($"--checkpoint-every {options.CheckpointEvery}: must be ≥ 1");
        if (!(options.LeaseTimeoutSeconds > 0)) throw new ArgumentException($"--lease-timeout-s {options.LeaseTimeoutSeconds}: must be > 0");
        RunSpec run = MakeSpec(options, learner);
        string runDirectory = options.OutDirectory ?? Path.Combine("runs", string.Create(CultureInfo.InvariantCulture,
            $"{Path.GetFileNameWithoutExtension(options.TaskPath)}-ppo-cluster-seed{c.Run.Seed}-{DateTime.UtcNow:yyyyMMdd-HHmmss}"));
        string checkpointPath = Path.Combine(runDirectory, CheckpointFileName);
        if (options.Resume && !File.Exists(checkpointPath)) throw new ArgumentException($"--resume: no {CheckpointFileName} in '{runDirectory}'");
        if (!options.Resume && (File.Exists(checkpointPath) || File.Exists(Path.Combine(runDirectory, Trainer.BundleFileName))))
            throw new ArgumentException($"'{runDirectory}' already holds a run; pass --resume to continue it or choose another --output");
        Directory.CreateDirectory(runDirectory);
        File.WriteAllText(Path.Combine(runDirectory, "training.json"), learner.ConfigJson);
        TorchSetup.Initialize(intraOpThreads: 1);

        // ---- 2. Networks, optimisers, normalisers: as the in-process trainer (same initialisation from the same seed).
        learner.Build();
        var counters = new ClusterCounters(0, 0, 0, 0, 0, 0, 0, 0);
        int firstIteration = 0;
        if (options.Resume)
        {
            var state = ClusterCheckpoint.Read(checkpointPath, run.TaskHash + run.PpoJson + run.Shards, learner.Parameters.Count, learner.Optimizers.Count);
            firstIteration = state.Iteration + 1;
            counters = state.Counters;
            state.Restore(learner.Parameters, learner.Optimizers, learner.ActorNormalizer, learner.CriticNormalizer);
        }

        // ---- 3. The silo and the run's coordinator (on PostgreSQL: Orleans' membership schema first, idempotent).
        if (options.Connection.PostgresConnectionString is { } database) ClusterDatabase.EnsureSchema(database);
        using IHost silo = options.Connection.BuildSilo(options.SiloPort);
        silo.StartAsync(cancel).GetAwaiter().GetResult();
        var coordinator = silo.Services.GetRequiredService<IGrainFactory>().GetGrain<IRolloutCoordinator>(ClusterProtocol.RunKey);
        coordinator.Open(run, counters).GetAwaiter().GetResult();
        TextWriter? console = options.Console;
        console?.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"learner: {run.TaskName}, {run.Iterations} iterations of {run.Shards} shards × {ShardEnvironments(run, learner)} × {run.StepsPerShard} steps; gateway port {options.Connection.GatewayPort}{(firstIteration > 0 ? $"; resumed after iteration {firstIteration - 1}" : "")}"));

        int T = c.NumSteps, shardRows = run.EnvsPerShard * T, batch = run.Shards * shardRows;
        int obsSize = run.ObservationSize, criticSize = run.CriticObservationSize, act = run.ActionSize;
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
            PolicyWeights policy = learner.Weights(iteration);
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
                learner.Freeze(fragments);
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
                foreach (FlatAdam adam in learner.Optimizers) adam.LearningRate = Math.Max(1e-12, c.LearningRate * fraction);
                // The minibatch order is seeded by the iteration: a resumed learner repeats an update exactly.
                torch.random.manual_seed((long)(ShardSeeds.Mix((ulong)c.Run.Seed, (ulong)iteration) >> 1));
                learner.Update(observations, criticObservations, preSquashActions, logProbs, advantages, returns, values, batch);
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
                ClusterCheckpoint.Write(checkpointPath, iteration, counters, learner.Parameters, learner.Optimizers, learner.ActorNormalizer, learner.CriticNormalizer,
                    run.TaskHash + run.PpoJson + run.Shards);
        }
        coordinator.Finish().GetAwaiter().GetResult();

        // ---- 5. The bundle, as the in-process trainer exports it.
        PolicyBundle bundle = learner.Export();
        string bundlePath = Path.Combine(runDirectory, Trainer.BundleFileName);
        bundle.Write(bundlePath);
        string hash = WeightsHash(learner.Parameters);
        File.WriteAllText(Path.Combine(runDirectory, "final_weights.sha256"), hash + "\n");
        // Workers poll every few ms and see "finished" within a poll; give them that before the gateway goes.
        Thread.Sleep(300);
        silo.StopAsync(CancellationToken.None).GetAwaiter().GetResult();
        long bytesPerStep = fragmentSteps > 0 ? (long)Math.Round((double)fragmentBytes / fragmentSteps) : 0;
        return new ClusterTrainResult(runDirectory, bundlePath, c.Run.Seed, run.Iterations, envSteps, wall.Elapsed.TotalSeconds, counters, hash,
            firstIteration, learnerFragments > 0 ? learnerSeconds / learnerFragments : double.NaN, bytesPerStep,
            rolloutSecondsTotal > 0 ? rolloutStepsTotal / rolloutSecondsTotal : double.NaN);
    }

    /// <summary>The run as workers see it; <see cref="RunSpec.TaskHash"/> is over the task, robot and scenario JSON as sent.
    /// Rows: a step of a swarm environment is one row per quad, so the shard layout, the warm-up and the batch count rows.</summary>
    static RunSpec MakeSpec(ClusterTrainOptions options, ClusterLearner learner)
    {
        PpoConfig c = learner.Ppo;
        var (taskText, files) = ForWorkers(learner.Root);
        string hash = TaskHash(taskText, learner.RobotJson, files);
        int rows = c.Run.NumEnvs * learner.RowsPerEnvironment, batch = c.NumSteps * rows;
        int rowsPerShard = c.Run.NumEnvs / options.Shards * learner.RowsPerEnvironment;
        int warmupSteps = (int)((c.NormalizerWarmupEnvSteps + rows - 1) / rows);
        long warmupTotal = (long)warmupSteps * rows;
        int iterations = 1 + (int)Math.Max(1, (c.Run.TotalEnvSteps - warmupTotal + batch - 1) / batch);
        return new RunSpec(ClusterProtocol.Version, ClusterProtocol.Build, Path.GetFileName(options.TaskPath), taskText, learner.RobotJson, hash,
            learner.ConfigJson, options.Shards, rowsPerShard, c.NumSteps, warmupSteps, learner.ObservationSize, learner.CriticObservationSize,
            learner.ActionSize, iterations, options.LeaseTimeoutSeconds)
        { Files = files };
    }

    /// <summary>
    /// The task as workers receive it, self-contained: its robot reference replaced by "robot.json" and (a swarm task) each
    /// scenario reference by a file name beside the task, with that file's JSON.
    /// </summary>
    static (string TaskJson, TaskFile[] Files) ForWorkers(ConfigNode root)
    {
        JsonNode taskJson = JsonNode.Parse(root.RawJson) ?? throw new InvalidDataException($"{root.File}: empty");
        taskJson["robot"] = "robot.json";
        var files = new List<TaskFile>();
        if (SwarmTaskConfig.IsSwarmTask(root))
        {
            var names = new Dictionary<string, string>();
            foreach (JsonNode? mix in new[] { taskJson["scenarios"], taskJson["held_out"]?["scenarios"] })
                foreach (JsonNode? share in mix?.AsArray() ?? [])
                {
                    string path = share!["file"]!.GetValue<string>();
                    string full = Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(root.Directory, path));
                    if (!names.TryGetValue(full, out string? name))
                    {
                        name = $"scenario-{names.Count}-{Path.GetFileName(full)}";
                        names[full] = name;
                        files.Add(new TaskFile(name, ConfigNode.LoadFile(full).RawJson));
                    }
                    share["file"] = name;
                }
        }
        return (taskJson.ToJsonString(), [.. files]);
    }

    /// <summary>SHA-256 of the task as workers receive it (the task JSON with "robot": "robot.json", the robot JSON, then
    /// each referred file's name and JSON).</summary>
    public static string TaskHash(string taskJson, string robotJson, IEnumerable<TaskFile>? files = null) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(taskJson + "\n" + robotJson
            + string.Concat((files ?? []).Select(f => "\n" + f.Name + "\n" + f.Json)))));

    /// <summary>The hash of the task file <paramref name="taskPath"/> as a learner would publish it (a worker's --task).</summary>
    public static string TaskHash(string taskPath)
    {
        ConfigNode root = ConfigNode.LoadFile(taskPath);
        string robotJson = SwarmTaskConfig.IsSwarmTask(root) ? SwarmTaskConfig.Read(root).RobotConfigJson : NavTaskConfig.Read(root).RobotConfigJson;
        var (taskJson, files) = ForWorkers(root);
        return TaskHash(taskJson, robotJson, files);
    }

    /// <summary>"8 envs", or for a swarm "2 envs of 4 quads".</summary>
    static string ShardEnvironments(RunSpec run, ClusterLearner learner)
    {
        if (learner.RowsPerEnvironment == 1) return $"{run.EnvsPerShard} envs";
        int environments = run.EnvsPerShard / learner.RowsPerEnvironment;
        return $"{environments} env{(environments == 1 ? "" : "s")} of {learner.RowsPerEnvironment} quads";
    }

    static Fragment[] WaitForShards(IRolloutCoordinator coordinator, int iteration, TextWriter? console, CancellationToken cancel)
    {
        var waiting = System.Diagnostics.Stopwatch.StartNew();
        double nextNote = 10;
        while (true)
        {
            cancel.ThrowIfCancellationRequested();
            long seen = IterationSignal.Pulses;
            if (coordinator.TakeIteration(iteration).GetAwaiter().GetResult() is { } all) return all.Value;
            if (waiting.Elapsed.TotalSeconds > nextNote)
            {
                ClusterCounters k = coordinator.Counters().GetAwaiter().GetResult();
                console?.WriteLine($"learner: waiting for the shards of iteration {iteration + 1} ({k.Workers} workers seen in the last 10 s; start some with `roborl worker --cluster CONN`)");
                nextNote += 10;
            }
            // The grain pulses when the last shard is in (no polling while workers simulate); the bound keeps the note
            // above and the cancellation check going.
            IterationSignal.Wait(seen, TimeSpan.FromMilliseconds(250));
        }
    }

    /// <summary>SHA-256 over the trained tensors' float32 bytes (navigation: actor, critic, log σ).</summary>
    public static string WeightsHash(IEnumerable<Tensor> parameters)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using (torch.no_grad())
            foreach (Tensor t in parameters) sha.AppendData(t.detach().contiguous().bytes);
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}
