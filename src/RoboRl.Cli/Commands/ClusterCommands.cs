using System.CommandLine;
using System.Text.Json.Nodes;
using RoboRl.Cluster;

namespace RoboRl.Cli.Commands;

/// <summary>
/// Training across processes and machines (docs/cluster.md): the options `roborl train` gets for it (--cluster CONN and
/// the shard layout) and `roborl worker --cluster CONN [--task TASK] [--json]`.
/// </summary>
public static class ClusterCommands
{
    /// <summary>The cluster options of `roborl train`.</summary>
    public sealed class TrainOptions
    {
        public Option<string?> Cluster { get; } = new("--cluster") { Description = "Train as the learner of a cluster: localhost[:PORT] (workers on this machine connect to PORT, default 30000) or a PostgreSQL connection string (docs/cluster.md). Workers: roborl worker --cluster CONN." };
        public Option<int> Shards { get; } = new("--shards") { Description = "With --cluster: work items per iteration (divides training.num_envs).", DefaultValueFactory = _ => 4 };
        public Option<int?> StepsPerShard { get; } = new("--steps-per-shard") { Description = "With --cluster, TD3 (hover tasks): environment steps each shard simulates per iteration; episodes run on across iterations (default: 10)." };
        public Option<int?> CheckpointEvery { get; } = new("--checkpoint-every") { Description = "With --cluster: a checkpoint every K iterations (--resume continues from it); default 10 for PPO, the task's checkpoint_every_env_steps for TD3 (its checkpoint holds the replay memory)." };
        public Option<double> LeaseTimeout { get; } = new("--lease-timeout-s") { Description = "With --cluster: a shard not submitted within this is handed to another worker.", DefaultValueFactory = _ => 30.0 };
        public Option<int?> GatewayPort { get; } = new("--gateway-port") { Description = "With --cluster and PostgreSQL membership: the learner's gateway port (default 30000)." };
        public Option<int?> SiloPort { get; } = new("--silo-port") { Description = "With --cluster: the learner's silo port (default: a free one on localhost, 11111 with PostgreSQL)." };

        public void AddTo(Command command)
        {
            command.Options.Add(Cluster);
            command.Options.Add(Shards);
            command.Options.Add(StepsPerShard);
            command.Options.Add(CheckpointEvery);
            command.Options.Add(LeaseTimeout);
            command.Options.Add(GatewayPort);
            command.Options.Add(SiloPort);
        }
    }

    /// <summary>The cluster options of `roborl sweep`.</summary>
    public sealed class SweepOptions
    {
        public Option<string?> Cluster { get; } = new("--cluster") { Description = "Host the sweep on a cluster: localhost[:PORT] or a PostgreSQL connection string (docs/cluster.md); `roborl worker --cluster CONN` processes train its trials." };
        public Option<double> LeaseTimeout { get; } = new("--lease-timeout-s") { Description = "With --cluster: a trial whose worker stops renewing its lease for this long is handed to another.", DefaultValueFactory = _ => 30.0 };
        public Option<int?> GatewayPort { get; } = new("--gateway-port") { Description = "With --cluster and PostgreSQL membership: the host's gateway port (default 30000)." };
        public Option<int?> SiloPort { get; } = new("--silo-port") { Description = "With --cluster: the host's silo port (default: a free one on localhost, 11111 with PostgreSQL)." };

        public void AddTo(Command command)
        {
            command.Options.Add(Cluster);
            command.Options.Add(LeaseTimeout);
            command.Options.Add(GatewayPort);
            command.Options.Add(SiloPort);
        }
    }

    /// <summary>`roborl sweep`: in this process, or with --cluster as the host whose workers train the trials.</summary>
    public static Training.SweepRunResult Sweep(ParseResult parse, SweepOptions cluster, Training.SweepOptions options)
    {
        if (parse.GetValue(cluster.Cluster) is not { } text) return Training.Sweep.Run(options);
        ClusterConnection connection;
        try { connection = ClusterConnection.Parse(text, parse.GetValue(cluster.GatewayPort)); }
        catch (FormatException e) { throw CliException.BadInput(e.Message); }
        double lease = parse.GetValue(cluster.LeaseTimeout);
        if (!(lease > 0)) throw CliException.BadInput($"--lease-timeout-s {lease}: must be > 0");
        // The sweep file is checked before the silo starts: bad input never opens a port.
        Training.SweepConfig config = Training.SweepConfig.Load(options.SweepPath);
        using var executor = new ClusterSweepExecutor(connection, config.Name, lease, parse.GetValue(cluster.SiloPort), options.Console);
        Training.SweepRunResult result = Training.Sweep.Run(options, executor);
        SweepCounters counters = executor.Counters;
        options.Console?.WriteLine($"sweep host: {counters.Accepted} results accepted, {counters.Duplicates} duplicates rejected, {counters.Released} leases re-issued, {counters.Refused} workers refused");
        return result with
        {
            Cluster = new JsonObject
            {
                ["results_accepted"] = counters.Accepted,
                ["duplicates_rejected"] = counters.Duplicates,
                ["leases_reissued"] = counters.Released,
                ["workers_refused"] = counters.Refused,
            },
        };
    }

    /// <summary>`roborl train TASK --cluster CONN …`: the learner. Returns the exit code.</summary>
    public static int Train(ParseResult parse, TrainOptions cluster, Training.TrainOptions options, bool asJson, TextWriter output, TextWriter error)
    {
        var io = new CommandIo("train", output, error, asJson);
        return io.Run(() =>
        {
            PathArguments.InputFile(options.TaskPath, "TASK", "a task config (configs/tasks/*.json)");
            if (options.Resume && options.OutDirectory is null) throw CliException.BadInput("--resume needs -o DIR (the run to continue)");
            if (options.TotalEnvSteps is <= 0) throw CliException.BadInput($"--steps {options.TotalEnvSteps}: must be positive");
            if (options.OutDirectory is { } dir)
            {
                if (options.Resume) PathArguments.InputDirectory(dir, "--output", "the run directory to continue");
                else PathArguments.OutputDirectory(dir, "--output");
            }
            ClusterConnection connection;
            try { connection = ClusterConnection.Parse(parse.GetValue(cluster.Cluster)!, parse.GetValue(cluster.GatewayPort)); }
            catch (FormatException e) { throw CliException.BadInput(e.Message); }
            ClusterTrainResult result;
            try
            {
                result = ClusterTrainer.Run(new ClusterTrainOptions(options.TaskPath, connection)
                {
                    Seed = options.Seed,
                    TotalEnvSteps = options.TotalEnvSteps,
                    OutDirectory = options.OutDirectory,
                    Shards = parse.GetValue(cluster.Shards),
                    StepsPerShard = parse.GetValue(cluster.StepsPerShard),
                    Algorithm = options.Algorithm,
                    CheckpointEvery = parse.GetValue(cluster.CheckpointEvery),
                    LeaseTimeoutSeconds = parse.GetValue(cluster.LeaseTimeout),
                    Resume = options.Resume,
                    SiloPort = parse.GetValue(cluster.SiloPort),
                    Console = io.Text,
                });
            }
            catch (Exception e) when (e is ArgumentException or InvalidDataException) { throw CliException.BadInput(e.Message); }
            io.Text.WriteLine($"trained {result.Algorithm} seed {result.Seed} on the cluster: {result.EnvSteps:N0} env steps in {result.WallSeconds:F1} s; bundle {result.BundlePath}");
            io.Text.WriteLine($"final weights sha256 {result.FinalWeightsSha256}");
            if (result.FinalEvaluation is { } evaluation)
                io.Text.WriteLine($"final evaluation ({evaluation.Episodes} held-out episodes): success {evaluation.SuccessRate:P1}, crashes {evaluation.CrashRate:P1}");
            return io.Result(new JsonObject
            {
                ["wall_s"] = Math.Round(result.WallSeconds, 2),
                ["env_steps"] = result.EnvSteps,
                ["iterations"] = result.Iterations,
                ["resumed_from_iteration"] = result.ResumedFromIteration,
                ["algorithm"] = result.Algorithm,
                ["seed"] = result.Seed,
                ["run_dir"] = result.RunDirectory,
                ["bundle"] = result.BundlePath,
                ["final_weights_sha256"] = result.FinalWeightsSha256,
                ["fragments_accepted"] = result.Counters.Accepted,
                ["duplicates_rejected"] = result.Counters.Duplicates,
                ["malformed_rejected"] = result.Counters.Malformed,
                ["leases_reissued"] = result.Counters.Released,
                ["workers_refused"] = result.Counters.Refused,
                ["policy_lag_max"] = result.Counters.MaxPolicyLag,
                ["bytes_per_env_step"] = result.BytesPerEnvStep,
                ["rollout_steps_per_s"] = double.IsFinite(result.RolloutStepsPerSecond) ? Math.Round(result.RolloutStepsPerSecond, 1) : null,
                ["learner_s_per_fragment"] = double.IsFinite(result.LearnerSecondsPerFragment) ? Math.Round(result.LearnerSecondsPerFragment, 6) : null,
                // TD3 (hover): the bundle on the task's held-out episodes, as `roborl train` without --cluster reports it.
                ["final_eval"] = result.FinalEvaluation is { } final
                    ? new JsonObject { ["success_rate"] = final.SuccessRate, ["crash_rate"] = final.CrashRate, ["episodes"] = final.Episodes }
                    : null,
            });
        });
    }

    /// <summary>`roborl worker --cluster CONN [--task TASK] [--connect-timeout-s S] [--json]`.</summary>
    public static Command CreateWorker()
    {
        var cluster = new Option<string>("--cluster") { Description = "The learner's cluster: localhost[:PORT] or the PostgreSQL connection string it was started with.", Required = true };
        var task = new Option<string?>("--task") { Description = "Refuse to work unless the learner trains this task file (same task and robot JSON)." };
        var connectTimeout = new Option<double>("--connect-timeout-s") { Description = "How long to wait for the learner (at start, and while it restarts from its checkpoint).", DefaultValueFactory = _ => 60.0 };
        var id = new Option<string?>("--id") { Description = "This worker's name in the learner's logs (default HOST-PID)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object at the end." };
        // Fault injection (tests, `roborl bench cluster`): every fragment submitted twice; another build announced; a worker
        // that hangs holding a lease.
        var submitTwice = new Option<bool>("--submit-twice") { Hidden = true };
        var build = new Option<string?>("--announce-build") { Hidden = true };
        var hangAfter = new Option<int?>("--hang-after-fragments") { Hidden = true };
        var command = new Command("worker", "Run rollouts for a learner started with `roborl train TASK --cluster CONN` until its run finishes.")
        {
            cluster, task, connectTimeout, id, json, submitTwice, build, hangAfter,
        };
        command.SetAction(parse =>
        {
            var io = new CommandIo("worker", parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, parse.GetValue(json));
            return io.Run(() =>
            {
                ClusterConnection connection;
                try { connection = ClusterConnection.Parse(parse.GetValue(cluster)!); }
                catch (FormatException e) { throw CliException.BadInput(e.Message); }
                string? taskPath = parse.GetValue(task) is { } t ? RepoPaths.Find(t) : null;
                if (taskPath is not null) PathArguments.InputFile(taskPath, "--task", "a task config (configs/tasks/*.json)");
                ClusterWorkerResult result;
                try
                {
                    result = ClusterWorker.Run(new ClusterWorkerOptions(connection)
                    {
                        TaskPath = taskPath,
                        ConnectTimeoutSeconds = parse.GetValue(connectTimeout),
                        SubmitTwice = parse.GetValue(submitTwice),
                        BuildOverride = parse.GetValue(build),
                        HangAfterFragments = parse.GetValue(hangAfter),
                        WorkerId = parse.GetValue(id) ?? $"{Environment.MachineName}-{Environment.ProcessId}",
                        Console = io.Text,
                    });
                }
                catch (WorkerRefusedException e) { throw CliException.BadInput(e.Message); }
                catch (TimeoutException e) { throw CliException.Fault(e.Message); }
                return io.Result(new JsonObject
                {
                    ["worker"] = result.WorkerId,
                    ["fragments_accepted"] = result.Fragments,
                    ["env_steps"] = result.EnvSteps,
                    ["duplicates_rejected"] = result.Duplicates,
                    ["malformed_rejected"] = result.Malformed,
                    ["simulation_s"] = Math.Round(result.SimulationSeconds, 3),
                });
            });
        });
        return command;
    }
}
