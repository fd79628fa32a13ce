using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Concurrency;
using RoboRl.Core.Configs;
using RoboRl.Core.Swarm;
using RoboRl.Core.Tasks;
using RoboRl.Sims.DiffDrive;
using RoboRl.Sims.Quadrotor;
using RoboRl.Sims.Swarm;
using RoboRl.Training;

namespace RoboRl.Cluster;

/// <summary>What `roborl worker --cluster CONN` runs.</summary>
public sealed record ClusterWorkerOptions(ClusterConnection Connection)
{
    /// <summary>When set, the learner's task must be this file's (same hash), or the worker is refused.</summary>
    public string? TaskPath { get; init; }
    /// <summary>How long to keep trying to reach the learner (at start, and after it went away) before giving up.</summary>
    public double ConnectTimeoutSeconds { get; init; } = 60;
    /// <summary>Fault injection for tests and `bench cluster`: submit every fragment twice (the second must be dropped).</summary>
    public bool SubmitTwice { get; init; }
    /// <summary>Fault injection: after this many accepted fragments, take one more lease and hang holding it (a dead worker
    /// whose lease must be handed out again).</summary>
    public int? HangAfterFragments { get; init; }
    /// <summary>Fault injection: this worker announces another build (it must be refused).</summary>
    public string? BuildOverride { get; init; }
    public string WorkerId { get; init; } = $"{Environment.MachineName}-{Environment.ProcessId}";
    public TextWriter? Console { get; init; }
}

/// <summary>What a worker did before the run finished.</summary>
public sealed record ClusterWorkerResult(string WorkerId, int Fragments, long EnvSteps, int Duplicates, int Malformed, double SimulationSeconds);

/// <summary>No learner answered within the connect timeout.</summary>
public sealed class LearnerUnreachableException(string message) : TimeoutException(message);

/// <summary>The learner refused this worker (another protocol, build or task).</summary>
public sealed class WorkerRefusedException(string message) : Exception(message);

/// <summary>
/// A rollout worker: an Orleans client of the learner's gateway. It joins the run, builds the task's environments
/// locally, and loops: lease a shard → pull that version's weights (cached) → simulate → submit. The simulation runs on
/// this thread, never in a grain. The run finishing ends the loop; a learner that goes away is waited for (it may be
/// restarting from its checkpoint) up to <see cref="ClusterWorkerOptions.ConnectTimeoutSeconds"/>.
/// </summary>
public static class ClusterWorker
{
    public static ClusterWorkerResult Run(ClusterWorkerOptions options, CancellationToken cancel = default)
    {
        string? taskHash = options.TaskPath is { } path ? ClusterTrainer.TaskHash(path) : null;
        var hello = new WorkerHello(options.WorkerId, ClusterProtocol.Version, options.BuildOverride ?? ClusterProtocol.Build, taskHash);
        int fragments = 0, duplicates = 0, malformed = 0;
        long steps = 0;
        double simulationSeconds = 0;
        IShardRollout? rollout = null;
        string? rolloutTask = null;
        PolicyWeights? cached = null;
        string? temporary = null;
        var connectDeadline = DateTime.UtcNow + TimeSpan.FromSeconds(options.ConnectTimeoutSeconds);
        using IHost client = Connect(options, connectDeadline, cancel)
            ?? throw new LearnerUnreachableException($"no learner reachable at the cluster's gateway within {options.ConnectTimeoutSeconds:F0} s");
        var coordinator = client.Services.GetRequiredService<IClusterClient>().GetGrain<IRolloutCoordinator>(ClusterProtocol.RunKey);
        // One worker command for both kinds of work: a sweep host's trials, or a learner's rollouts.
        if (ClusterSweepWorker.ServeIfSweep(client.Services.GetRequiredService<IClusterClient>(), options, hello, connectDeadline, cancel) is { } swept) return swept;
        DateTime? lostSince = null;
        var lineClock = System.Diagnostics.Stopwatch.StartNew();
        double lastLineAt = double.NegativeInfinity;
        try
        {
            while (true)
            {
                try
                {
                    // Join: the learner may still be opening the run (or restarting from its checkpoint); ask again until it answers.
                    RunSpec run;
                    while (true)
                    {
                        cancel.ThrowIfCancellationRequested();
                        JoinReply reply = coordinator.Join(hello).GetAwaiter().GetResult();
                        if (reply.Refusal is { } why) throw new WorkerRefusedException($"refused by the learner: {why}");
                        if (reply.Run is { } r) { run = r; break; }
                        if (DateTime.UtcNow > connectDeadline) throw new LearnerUnreachableException("the learner did not open its run in time");
                        Thread.Sleep(50);
                    }
                    lostSince = null;
                    if (rollout is null || rolloutTask != run.TaskHash + run.PpoJson)
                    {
                        rollout?.Dispose();
                        (rollout, temporary) = MakeRollout(run, temporary);
                        rolloutTask = run.TaskHash + run.PpoJson;
                        cached = null;
                        options.Console?.WriteLine($"worker {options.WorkerId}: joined {run.TaskName}: {run.EnvsPerShard} envs × {run.StepsPerShard} steps a shard");
                    }

                    int idle = 0;
                    while (true)
                    {
                        cancel.ThrowIfCancellationRequested();
                        // Waits in the grain (up to 250 ms) while the learner updates: the next iteration's first lease comes
                        // as soon as it is published, with no polling between.
                        long asked = System.Diagnostics.Stopwatch.GetTimestamp();
                        Lease? lease = coordinator.WaitForLease(options.WorkerId, 250).GetAwaiter().GetResult();
                        if (lease is { Finished: true })
                        {
                            options.Console?.WriteLine($"worker {options.WorkerId}: the run finished; {fragments} fragments, {steps:N0} env steps");
                            return new ClusterWorkerResult(options.WorkerId, fragments, steps, duplicates, malformed, simulationSeconds);
                        }
                        if (lease is null)
                        {
                            // Nothing yet after the wait (a long update, or every shard leased to others): ask again at once;
                            // should the call come back without waiting, back off from 1 to 20 ms.
                            if (System.Diagnostics.Stopwatch.GetElapsedTime(asked).TotalMilliseconds < 50) Thread.Sleep(Math.Min(20, 1 + idle++));
                            continue;
                        }
                        idle = 0;
                        if (fragments >= options.HangAfterFragments)
                        {
                            options.Console?.WriteLine($"worker {options.WorkerId}: hanging with iteration {lease.Iteration} shard {lease.Shard}");
                            Thread.Sleep(Timeout.Infinite);
                        }
                        PolicyWeights? policy = null;
                        if (rollout.NeedsPolicy(lease.Iteration))
                        {
                            if (cached?.Version != lease.PolicyVersion)
                                cached = coordinator.GetPolicy(lease.PolicyVersion).GetAwaiter().GetResult()?.Value;
                            if (cached?.Version != lease.PolicyVersion) continue; // superseded meanwhile: lease again
                            policy = cached;
                        }
                        var clock = System.Diagnostics.Stopwatch.StartNew();
                        Fragment fragment = rollout.Run(lease, policy, options.WorkerId);
                        simulationSeconds += clock.Elapsed.TotalSeconds;
                        SubmitOutcome outcome = coordinator.Submit(new Immutable<Fragment>(fragment)).GetAwaiter().GetResult();
                        Tally(outcome, ref duplicates, ref malformed);
                        // Fault injection: the same fragment again, which the learner must drop as a duplicate.
                        if (options.SubmitTwice) Tally(coordinator.Submit(new Immutable<Fragment>(fragment)).GetAwaiter().GetResult(), ref duplicates, ref malformed);
                        if (outcome == SubmitOutcome.Accepted)
                        {
                            fragments++;
                            steps += fragment.EnvSteps(run);
                        }
                        // A line per fragment, or (TD3's thousands of short iterations) one a second.
                        if (run.Iterations <= 200 || outcome != SubmitOutcome.Accepted || lineClock.Elapsed.TotalSeconds - lastLineAt >= 1)
                        {
                            lastLineAt = lineClock.Elapsed.TotalSeconds;
                            options.Console?.WriteLine($"worker {options.WorkerId}: iteration {lease.Iteration} shard {lease.Shard}: {outcome.ToString().ToLowerInvariant()}");
                        }
                    }
                }
                catch (Exception e) when (e is not (WorkerRefusedException or LearnerUnreachableException or OperationCanceledException) && IsConnectionLoss(e))
                {
                    // The learner went away (killed, restarting from its checkpoint): the client reconnects to its gateway
                    // once it is back; keep asking until the connect timeout.
                    DateTime now = DateTime.UtcNow;
                    if (lostSince is null) options.Console?.WriteLine($"worker {options.WorkerId}: lost the learner ({e.GetType().Name}); waiting up to {options.ConnectTimeoutSeconds:F0} s for it");
                    lostSince ??= now;
                    if (now - lostSince > TimeSpan.FromSeconds(options.ConnectTimeoutSeconds))
                        throw new LearnerUnreachableException($"lost the learner and it did not come back within {options.ConnectTimeoutSeconds:F0} s");
                    connectDeadline = now + TimeSpan.FromSeconds(options.ConnectTimeoutSeconds);
                    Thread.Sleep(500);
                }
            }
        }
        finally
        {
            rollout?.Dispose();
            if (temporary is not null) try { Directory.Delete(temporary, recursive: true); } catch (IOException) { }
        }
    }

    static SubmitOutcome Tally(SubmitOutcome outcome, ref int duplicates, ref int malformed)
    {
        if (outcome == SubmitOutcome.Duplicate) duplicates++;
        else if (outcome == SubmitOutcome.Malformed) malformed++;
        return outcome;
    }

    static bool IsConnectionLoss(Exception e) =>
        e is Orleans.Runtime.SiloUnavailableException or Orleans.Runtime.OrleansMessageRejectionException
            or TimeoutException or System.Net.Sockets.SocketException or Orleans.Runtime.OrleansException
        || (e.InnerException is { } inner && IsConnectionLoss(inner));

    /// <summary>A started client, or null when none connected before <paramref name="deadline"/>.</summary>
    static IHost? Connect(ClusterWorkerOptions options, DateTime deadline, CancellationToken cancel)
    {
        while (DateTime.UtcNow < deadline)
        {
            cancel.ThrowIfCancellationRequested();
            IHost client = options.Connection.BuildClient();
            // A client whose gateway is not up may retry inside StartAsync: bound each attempt, then start afresh.
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            attempt.CancelAfter(TimeSpan.FromSeconds(15));
            try
            {
                client.StartAsync(attempt.Token).GetAwaiter().GetResult();
                return client;
            }
            catch (Exception e) when (!cancel.IsCancellationRequested)
            {
                if (Environment.GetEnvironmentVariable("ROBORL_DEBUG") is { Length: > 0 }) options.Console?.WriteLine($"worker: connect: {e.GetType().Name}: {e.Message}");
                client.Dispose();
                Thread.Sleep(500);
            }
        }
        return null;
    }

    /// <summary>The shard's environments, built from the task as the learner published it (written to a temporary directory).</summary>
    static (IShardRollout, string) MakeRollout(RunSpec run, string? previous)
    {
        if (previous is not null) try { Directory.Delete(previous, recursive: true); } catch (IOException) { }
        string directory = Path.Combine(Path.GetTempPath(), $"roborl-worker-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "robot.json"), run.RobotJson);
        foreach (TaskFile file in run.Files) File.WriteAllText(Path.Combine(directory, Path.GetFileName(file.Name)), file.Json);
        string taskPath = Path.Combine(directory, run.TaskName);
        File.WriteAllText(taskPath, run.TaskJson);
        ConfigNode root = ConfigNode.LoadFile(taskPath);
        if (run.Algorithm == "td3")
        {
            // A hover task: TD3's warm-up and exploration noise from the learner's hyperparameters.
            HoverTaskConfig hover = HoverTaskConfig.Read(root);
            using var document = JsonDocument.Parse(run.PpoJson);
            JsonElement h = document.RootElement.GetProperty("hyperparameters");
            var hoverEnv = new HoverEnv(hover, run.EnvsPerShard, threadCount: 1);
            return (new OffPolicyShardRollout(run, hoverEnv, hover.Robot.HoverAction(), h.GetProperty("warmup_action_std").GetDouble(),
                h.GetProperty("exploration_noise").GetDouble()), directory);
        }
        PpoConfig config = ReadPpo(run.PpoJson);
        if (SwarmTaskConfig.IsSwarmTask(root)) return (SwarmRollout(run, config, SwarmTaskConfig.Load(taskPath)), directory);
        NavTaskConfig task = NavTaskConfig.Load(taskPath);
        var env = new NavEnv(task, run.EnvsPerShard, threadCount: 1);
        return (new ShardRollout(run, config, env), directory);
    }

    /// <summary>
    /// A swarm shard: its environments' quads are the rows (<see cref="RunSpec.EnvsPerShard"/> = environments × quads).
    /// Before each step the collision weight follows its anneal at the global step in-process training would be at
    /// (warm-up rows, then whole rollouts of every shard's rows), as <see cref="SwarmPpo"/> sets it.
    /// </summary>
    public static ShardRollout SwarmRollout(RunSpec run, PpoConfig config, SwarmTaskConfig task)
    {
        var env = new SwarmEnv(task, run.EnvsPerShard / task.Quads, threadCount: 1);
        long rows = (long)run.Shards * run.EnvsPerShard, warmup = run.WarmupStepsPerShard * rows;
        return new ShardRollout(run, config, env)
        {
            BeforeStep = (iteration, t) =>
            {
                long globalStep = warmup + ((long)(iteration - 1) * run.StepsPerShard + t) * rows;
                env.GlobalStep = globalStep;
                env.CollisionWeightScale = task.Reward.CollisionScaleAt(globalStep);
            },
        };
    }

    /// <summary>The hyperparameters the rollout uses, from the learner's training.json form.</summary>
    static PpoConfig ReadPpo(string json)
    {
        using var document = JsonDocument.Parse(json);
        JsonElement h = document.RootElement.GetProperty("hyperparameters");
        return new PpoConfig
        {
            Run = new RunConfig { Seed = h.GetProperty("seed").GetInt32(), NumEnvs = h.GetProperty("num_envs").GetInt32() },
            NumSteps = h.GetProperty("num_steps").GetInt32(),
            NumMinibatches = h.GetProperty("num_minibatches").GetInt32(),
            Gamma = h.GetProperty("gamma").GetDouble(),
            InitialLogStd = h.GetProperty("initial_log_std").GetDouble(),
            RewardScale = h.GetProperty("reward_scale").GetDouble(),
            NormalizerWarmupEnvSteps = h.GetProperty("normalizer_warmup_env_steps").GetInt64(),
        };
    }
}
