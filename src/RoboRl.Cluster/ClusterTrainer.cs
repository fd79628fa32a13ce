using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
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
    /// <summary>Run directory; default runs/&lt;task&gt;-&lt;algorithm&gt;-cluster-seed&lt;S&gt;-&lt;UTC time&gt;.</summary>
    public string? OutDirectory { get; init; }
    /// <summary>Work items per iteration; divides training.num_envs (each shard simulates num_envs / shards environments).</summary>
    public int Shards { get; init; } = 4;
    /// <summary>--algo: must be the algorithm the cluster trains the task with (PPO for navigation and swarm tasks, TD3 for hover tasks).</summary>
    public string? Algorithm { get; init; }
    /// <summary>Off-policy (TD3): environment steps each shard simulates per iteration (null: <see cref="HoverTd3Learner.DefaultStepsPerShard"/>).</summary>
    public int? StepsPerShard { get; init; }
    /// <summary>A checkpoint every this many iterations (and after the last); null: the learner's default
    /// (<see cref="ClusterLearner.DefaultCheckpointEvery"/>: PPO 10, TD3 the task's checkpoint_every_env_steps).</summary>
    public int? CheckpointEvery { get; init; }
    /// <summary>A lease not completed within this is handed to another worker.</summary>
    public double LeaseTimeoutSeconds { get; init; } = 30;
    public bool Resume { get; init; }
    public int? SiloPort { get; init; }
    public TextWriter? Console { get; init; }
}

/// <summary>What a finished cluster run produced.</summary>
public sealed record ClusterTrainResult(string Algorithm, string RunDirectory, string BundlePath, int Seed, int Iterations, long EnvSteps, double WallSeconds,
    ClusterCounters Counters, string FinalWeightsSha256, int ResumedFromIteration, double LearnerSecondsPerFragment, long BytesPerEnvStep,
    double RolloutStepsPerSecond)
{
    /// <summary>TD3 (hover): the bundle's evaluation on the task's final_eval_episodes, as `roborl train` reports it.</summary>
    public Training.Evaluation.EvalResult? FinalEvaluation { get; init; }
}

/// <summary>
/// Synchronous distributed training (the shape of RLlib's env runners with a learner): each iteration the learner
/// publishes the policy as version = iteration, the shards of the rollout are leased to workers, and once every shard
/// is in, the learner learns from them (<see cref="ClusterLearner.Learn"/>) and moves on: PPO runs GAE and the update
/// exactly as the in-process trainer does (<see cref="Ppo"/> for navigation tasks, <see cref="SwarmPpo"/> for swarm
/// tasks); TD3 adds the transitions to its replay memory and runs the critic and actor updates they make due (hover
/// tasks). Everything the learner uses is a pure function of the weights, the iteration and the shard, and its own
/// randomness is seeded, so the final weights do not depend on which worker did what, in which order, or how often a
/// shard was re-leased. Checkpoint (every K iterations): networks, optimiser state, normalisers, counters (TD3: and
/// the replay memory).
/// </summary>
public static class ClusterTrainer
{
    public const string CheckpointFileName = "cluster-checkpoint.bin";

    public static ClusterTrainResult Run(ClusterTrainOptions options, CancellationToken cancel = default)
    {
        var wall = System.Diagnostics.Stopwatch.StartNew();
        // ---- 1. The task, the hyperparameters and the shard layout.
        using ClusterLearner learner = ClusterLearner.Read(options.TaskPath, options.Seed, options.TotalEnvSteps);
        RunConfig runKeys = learner.Run;
        if (options.Algorithm is { } algorithm && algorithm != learner.Algorithm)
            throw new ArgumentException($"--algo {algorithm}: --cluster trains this task with {learner.Algorithm} (PPO: navigation and swarm tasks; TD3: hover tasks)");
        if (options.Shards < 1 || runKeys.NumEnvs % options.Shards != 0)
            throw new ArgumentException($"--shards {options.Shards}: must divide training.num_envs = {runKeys.NumEnvs}");
        if (options.StepsPerShard is < 1) throw new ArgumentException($"--steps-per-shard {options.StepsPerShard}: must be ≥ 1");
        if (options.CheckpointEvery is < 1) throw new ArgumentException($"--checkpoint-every {options.CheckpointEvery}: must be ≥ 1");
        if (!(options.LeaseTimeoutSeconds > 0)) throw new ArgumentException($"--lease-timeout-s {options.LeaseTimeoutSeconds}: must be > 0");
        RunSpec run = MakeSpec(options, learner);
        int checkpointEvery = options.CheckpointEvery ?? learner.DefaultCheckpointEvery(run);
        string runDirectory = options.OutDirectory ?? Path.Combine("runs", string.Create(CultureInfo.InvariantCulture,
            $"{Path.GetFileNameWithoutExtension(options.TaskPath)}-{learner.Algorithm}-cluster-seed{runKeys.Seed}-{DateTime.UtcNow:yyyyMMdd-HHmmss}"));
        string checkpointPath = Path.Combine(runDirectory, learner.CheckpointFileName);
        if (options.Resume && !File.Exists(checkpointPath)) throw new ArgumentException($"--resume: no {learner.CheckpointFileName} in '{runDirectory}'");
        if (!options.Resume && (File.Exists(checkpointPath) || File.Exists(Path.Combine(runDirectory, Trainer.BundleFileName))))
            throw new ArgumentException($"'{runDirectory}' already holds a run; pass --resume to continue it or choose another --output");
        Directory.CreateDirectory(runDirectory);
        File.WriteAllText(Path.Combine(runDirectory, "training.json"), learner.ConfigJson);
        TorchSetup.Initialize(intraOpThreads: 1);

        // ---- 2. Networks, optimisers, normalisers: as the in-process trainer (same initialisation from the same seed).
        learner.Open(runDirectory, options.Resume);
        learner.Build();
        var counters = new ClusterCounters(0, 0, 0, 0, 0, 0, 0, 0);
        int firstIteration = 0;
        string runIdentity = RunIdentity(run);
        if (options.Resume)
        {
            var (lastIteration, saved) = learner.ReadCheckpoint(checkpointPath, runIdentity);
            firstIteration = lastIteration + 1;
            counters = saved;
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

        using var acceptedLog = new StreamWriter(Path.Combine(runDirectory, "accepted.csv"), append: options.Resume) { AutoFlush = true };
        if (!options.Resume) acceptedLog.WriteLine("iteration,shard,worker");
        using var progressLog = new StreamWriter(Path.Combine(runDirectory, "cluster_progress.csv"), append: options.Resume) { AutoFlush = true };
        if (!options.Resume) progressLog.WriteLine("iteration,env_steps,accepted,duplicates,malformed,released,refused,workers,steps_per_s,policy_lag,mean_episode_return");
        long envSteps = counters.AcceptedEnvSteps, fragmentBytes = 0, fragmentSteps = 0;
        double learnerSeconds = 0, rolloutSecondsTotal = 0;
        long learnerFragments = 0, rolloutStepsTotal = 0;
        var serializer = silo.Services.GetRequiredService<Orleans.Serialization.Serializer>();
        // A line per iteration, or (TD3's thousands of short iterations) one a second and the last.
        var lineClock = System.Diagnostics.Stopwatch.StartNew();
        double lastLineAt = double.NegativeInfinity;

        // ---- 4. The loop: publish → wait for every shard → learn (PPO: warm-up statistics | GAE → update; TD3: replay → updates) → checkpoint.
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

            double meanReturn = learner.Learn(iteration, fragments, run);
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
            bool line = run.Iterations <= 200 || iteration == run.Iterations - 1 || lineClock.Elapsed.TotalSeconds - lastLineAt >= 1;
            if (line) lastLineAt = lineClock.Elapsed.TotalSeconds;
            if (line) console?.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"iteration {iteration + 1}/{run.Iterations}  env steps {envSteps:N0}  {stepsPerSecond:N0} steps/s  workers {counters.Workers}  policy lag {counters.MaxPolicyLag}  accepted {counters.Accepted}  duplicates {counters.Duplicates}  malformed {counters.Malformed}  re-leased {counters.Released}{(double.IsNaN(meanReturn) ? "" : $"  return {meanReturn:F2}")}"));
            if ((iteration + 1) % checkpointEvery == 0 || iteration == run.Iterations - 1)
                learner.WriteCheckpoint(checkpointPath, iteration, counters, runIdentity);
        }
        coordinator.Finish().GetAwaiter().GetResult();

        // ---- 5. The bundle, as the in-process trainer exports it.
        PolicyBundle bundle = learner.Finish();
        string bundlePath = Path.Combine(runDirectory, Trainer.BundleFileName);
        bundle.Write(bundlePath);
        string hash = learner.WeightsHash();
        File.WriteAllText(Path.Combine(runDirectory, "final_weights.sha256"), hash + "\n");
        // Workers poll every few ms and see "finished" within a poll; give them that before the gateway goes.
        Thread.Sleep(300);
        silo.StopAsync(CancellationToken.None).GetAwaiter().GetResult();
        long bytesPerStep = fragmentSteps > 0 ? (long)Math.Round((double)fragmentBytes / fragmentSteps) : 0;
        return new ClusterTrainResult(learner.Algorithm, runDirectory, bundlePath, runKeys.Seed, run.Iterations, envSteps, wall.Elapsed.TotalSeconds, counters, hash,
            firstIteration, learnerFragments > 0 ? learnerSeconds / learnerFragments : double.NaN, bytesPerStep,
            rolloutSecondsTotal > 0 ? rolloutStepsTotal / rolloutSecondsTotal : double.NaN)
        { FinalEvaluation = learner.FinalEvaluation };
    }

    /// <summary>The run as workers see it; <see cref="RunSpec.TaskHash"/> is over the task, robot and scenario JSON as sent.
    /// Rows: a step of a swarm environment is one row per quad, so the shard layout counts rows.</summary>
    static RunSpec MakeSpec(ClusterTrainOptions options, ClusterLearner learner)
    {
        var (taskText, files) = ForWorkers(learner.Root);
        string hash = TaskHash(taskText, learner.RobotJson, files);
        int rowsPerShard = learner.Run.NumEnvs / options.Shards * learner.RowsPerEnvironment;
        var (steps, warmupSteps, iterations, randomIterations) = learner.Layout(options.Shards, options.StepsPerShard);
        return new RunSpec(ClusterProtocol.Version, ClusterProtocol.Build, Path.GetFileName(options.TaskPath), taskText, learner.RobotJson, hash,
            learner.ConfigJson, options.Shards, rowsPerShard, steps, warmupSteps, learner.ObservationSize, learner.CriticObservationSize,
            learner.ActionSize, iterations, options.LeaseTimeoutSeconds)
        { Files = files, Algorithm = learner.Algorithm, RandomIterations = randomIterations, StateBytes = learner.StateBytesPerShard };
    }

    /// <summary>What ties a checkpoint to its run: the task, the hyperparameters and the shard layout.</summary>
    static string RunIdentity(RunSpec run) =>
        run.TaskHash + run.PpoJson + run.Shards + (run.Algorithm == "ppo" ? "" : $"/{run.StepsPerShard}");

    /// <summary>
    /// The task as workers receive it, self-contained: its robot reference replaced by "robot.json" and (a swarm task) each
    /// scenario reference by a file name beside the task, with that file's JSON.
    /// </summary>
    static (string TaskJson, TaskFile[] Files) ForWorkers(ConfigNode root)
    {
        // Task files may carry comments (ours do); workers get plain JSON.
        JsonNode taskJson = JsonNode.Parse(root.RawJson, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }) ?? throw new InvalidDataException($"{root.File}: empty");
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
        string robotJson = SwarmTaskConfig.IsSwarmTask(root) ? SwarmTaskConfig.Read(root).RobotConfigJson
            : NavTaskConfig.IsNavigationTask(root) ? NavTaskConfig.Read(root).RobotConfigJson : HoverTaskConfig.Read(root).RobotConfigJson;
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
