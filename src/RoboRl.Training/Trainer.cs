using System.Globalization;
using RoboRl.Core.Configs;
using RoboRl.Core.Policy;
using RoboRl.Core.Swarm;
using RoboRl.Core.Tasks;
using RoboRl.Sims.DiffDrive;
using RoboRl.Training.Evaluation;

namespace RoboRl.Training;

/// <summary>What to train (the library form of `roborl train`).</summary>
public sealed record TrainOptions(string TaskPath)
{
    /// <summary>Overrides the task's training.seed.</summary>
    public int? Seed { get; init; }
    /// <summary>Run directory; default runs/&lt;task&gt;-&lt;algorithm&gt;-seed&lt;S&gt;-&lt;UTC time&gt;.</summary>
    public string? OutDirectory { get; init; }
    /// <summary>"td3", "sac" or "ppo"; overrides training.algorithm (default td3 for hover tasks, ppo for navigation tasks).</summary>
    public string? Algorithm { get; init; }
    /// <summary>Overrides training.total_env_steps.</summary>
    public long? TotalEnvSteps { get; init; }
    /// <summary>Overrides training.final_eval_episodes.</summary>
    public int? FinalEvalEpisodes { get; init; }
    /// <summary>Continue from the checkpoint in <see cref="OutDirectory"/> (required then; the checkpoint must hold the replay memory).</summary>
    public bool Resume { get; init; }
    /// <summary>Checkpoints also hold the replay memory (hundreds of MB; what --resume needs). Default: networks, optimiser
    /// moments, normalisers and counters only (about 0.5 MB for the default hover task).</summary>
    public bool CheckpointReplay { get; init; }
    /// <summary>Where the progress line goes (null = nowhere).</summary>
    public TextWriter? Console { get; init; }
    /// <summary>True when <see cref="Console"/> is a terminal: one line rewritten in place; else plain lines every few seconds.</summary>
    public bool Interactive { get; init; }
}

/// <summary>What a finished run produced.</summary>
/// <param name="PolicyEnvSteps">Env steps at which the exported policy was taken (&lt; EnvSteps when keep_best_policy chose an earlier one).</param>
/// <param name="FinalEval">The hover evaluation (null for navigation tasks).</param>
/// <param name="FinalScore">The final evaluation's success, failure (crash, collision) rate and cost (hover: error p50 at 5 s, m;
/// navigation: median time to goal, s, on held-out maps).</param>
public sealed record TrainResult(string RunDirectory, string BundlePath, string Algorithm, int Seed, long EnvSteps,
    double WallSeconds, double CpuSeconds, EvalResult? FinalEval, long PolicyEnvSteps)
{
    public required PolicyScore FinalScore { get; init; }
    /// <summary>"hover", "navigation" or "swarm".</summary>
    public string TaskKind { get; init; } = "hover";
    /// <summary>Which policy the bundle holds (the best periodic evaluation's, or the last).</summary>
    public required BundleSnapshot Snapshot { get; init; }
}

/// <summary>
/// Entry point of training (the CLI's `train` and `quickstart` call it): loads the task, binds its "training"
/// section to the chosen algorithm, runs it in a run directory, writes the policy bundle and evaluates it.
/// Run directory: policy.safetensors, checkpoint.bin, progress.csv, tensorboard/, learning_curve.png,
/// eval_trajectories.png, training.json (the hyperparameters used).
/// </summary>
public static class Trainer
{
    public const string BundleFileName = "policy.safetensors";

    public static TrainResult Run(TrainOptions options, IProgress<TrainProgress>? progress = null)
    {
        ConfigNode root = ConfigNode.LoadFile(options.TaskPath);
        if (SwarmTaskConfig.IsSwarmTask(root)) return RunSwarm(options, progress);
        if (NavTaskConfig.IsNavigationTask(root)) return RunNavigation(options, progress);
        HoverTaskConfig task = HoverTaskConfig.Load(options.TaskPath);
        string algorithm = options.Algorithm ?? TrainingAlgorithm(task) ?? "td3";
        if (algorithm is not ("td3" or "sac"))
            throw new ArgumentException($"algorithm '{algorithm}' does not train the hover task; expected td3 or sac (ppo trains navigation tasks)");

        // Bind the hyperparameters (schema errors name the task file) and apply the command-line overrides.
        Td3Config? td3 = null;
        SacConfig? sac = null;
        if (algorithm == "td3")
        {
            td3 = Td3Config.Read(task.Training);
            td3 = td3 with
            {
                Seed = options.Seed ?? td3.Seed,
                TotalEnvSteps = options.TotalEnvSteps ?? td3.TotalEnvSteps,
                FinalEvalEpisodes = options.FinalEvalEpisodes ?? td3.FinalEvalEpisodes,
            };
        }
        else
        {
            sac = SacConfig.Read(task.Training);
            sac = sac with
            {
                Seed = options.Seed ?? sac.Seed,
                TotalEnvSteps = options.TotalEnvSteps ?? sac.TotalEnvSteps,
                FinalEvalEpisodes = options.FinalEvalEpisodes ?? sac.FinalEvalEpisodes,
            };
        }
        int seed = td3?.Seed ?? sac!.Seed;
        long totalSteps = td3?.TotalEnvSteps ?? sac!.TotalEnvSteps;
        int finalEpisodes = td3?.FinalEvalEpisodes ?? sac!.FinalEvalEpisodes;
        int evalEpisodes = td3?.EvalEpisodes ?? sac!.EvalEpisodes;
        bool keepBest = td3?.KeepBestPolicy ?? sac!.KeepBestPolicy;

        string runDirectory = options.OutDirectory ?? Path.Combine("runs", string.Create(CultureInfo.InvariantCulture,
            $"{Path.GetFileNameWithoutExtension(options.TaskPath)}-{algorithm}-seed{seed}-{DateTime.UtcNow:yyyyMMdd-HHmmss}"));
        Checkpoint? checkpoint = Checkpoint.Find(runDirectory);
        if (options.Resume && checkpoint is null)
            throw new ArgumentException($"--resume: no {Checkpoint.FileName} in '{runDirectory}'");
        if (!options.Resume && checkpoint is not null)
            throw new ArgumentException($"'{runDirectory}' already holds a run ({Checkpoint.FileName}); pass --resume to continue it or choose another --out");

        TorchSetup.Initialize(intraOpThreads: 1);
        Directory.CreateDirectory(runDirectory);
        File.WriteAllText(Path.Combine(runDirectory, "training.json"), td3 is not null ? Td3.ConfigJson(td3) : Sac.ConfigJson(sac!));

        using var session = new TrainingSession(runDirectory, task, totalSteps, seed, options.Resume ? checkpoint : null,
            options.Console, options.Interactive, progress)
        { CheckpointReplay = options.CheckpointReplay };
        PolicyBundle bundle = td3 is not null ? Td3.Train(task, td3, session) : Sac.Train(task, sac!, session);
        BundleSnapshot snapshot = new(BundleSnapshot.Last, totalSteps, null, totalSteps);
        if (keepBest)
        {
            // The last policy competes with the periodic ones on the same evaluation (unless the last periodic evaluation
            // was of it already: one row per policy); the best is exported.
            if (session.LastPeriodicEvalStep != totalSteps) session.Evaluate(bundle, totalSteps, evalEpisodes);
            if (session.BestBundle is { } best)
            {
                bundle = best;
                snapshot = new BundleSnapshot(BundleSnapshot.BestEvaluation, session.BestEnvSteps, session.BestSuccessRate, snapshot.TotalEnvSteps);
            }
        }
        long policySteps = snapshot.EnvSteps;
        bundle = bundle.WithTrainingConfig(snapshot.AddTo(bundle.TrainingConfigJson));
        session.Snapshot = snapshot;
        string bundlePath = Path.Combine(runDirectory, BundleFileName);
        bundle.Write(bundlePath);

        EvalResult final = session.Evaluate(bundle, policySteps, finalEpisodes, final: true);
        double wall = session.WallSeconds, cpu = session.CpuSeconds;
        session.Finish();
        EvalResult withTraces = PolicyEvaluator.Evaluate(bundle, task, new EvalOptions(Episodes: 20, Seed: 7, TrajectoriesKept: 20));
        PolicyEvaluator.WriteTrajectoryPlot(withTraces, Path.Combine(runDirectory, "eval_trajectories.png"), $"{algorithm} seed {seed}: 20 evaluation episodes");
        return new TrainResult(runDirectory, bundlePath, algorithm, seed, totalSteps, wall, cpu, final, policySteps)
        {
            FinalScore = new PolicyScore(final.SuccessRate, final.CrashRate, final.PositionErrorP50At5s),
            Snapshot = snapshot,
        };
    }

    /// <summary>A navigation task (configs/tasks/diffbot-nav.json): PPO on <see cref="NavEnv"/>, scored on validation maps
    /// while training and on held-out maps at the end (<see cref="NavValidation"/>).</summary>
    static TrainResult RunNavigation(TrainOptions options, IProgress<TrainProgress>? progress)
    {
        NavTaskConfig task = NavTaskConfig.Load(options.TaskPath);
        string algorithm = options.Algorithm ?? task.Training?.Choice("algorithm", "td3", "sac", "ppo") ?? "ppo";
        if (algorithm != "ppo")
            throw new ArgumentException($"algorithm '{algorithm}' does not train navigation tasks yet; expected ppo");
        PpoConfig ppo = PpoConfig.Read(task.Training);
        ppo = ppo with
        {
            Seed = options.Seed ?? ppo.Seed,
            TotalEnvSteps = options.TotalEnvSteps ?? ppo.TotalEnvSteps,
            FinalEvalEpisodes = options.FinalEvalEpisodes ?? ppo.FinalEvalEpisodes,
        };
        if (options.Resume) throw new ArgumentException("--resume: PPO runs do not write checkpoints yet (they take minutes); start a new run");
        string runDirectory = options.OutDirectory ?? Path.Combine("runs", string.Create(CultureInfo.InvariantCulture,
            $"{Path.GetFileNameWithoutExtension(options.TaskPath)}-ppo-seed{ppo.Seed}-{DateTime.UtcNow:yyyyMMdd-HHmmss}"));
        if (Checkpoint.Find(runDirectory) is not null || File.Exists(Path.Combine(runDirectory, BundleFileName)))
            throw new ArgumentException($"'{runDirectory}' already holds a run; choose another --out");

        TorchSetup.Initialize(intraOpThreads: 1);
        Directory.CreateDirectory(runDirectory);
        File.WriteAllText(Path.Combine(runDirectory, "training.json"), Ppo.ConfigJson(ppo));
        using var session = new TrainingSession(runDirectory, (bundle, episodes, final) => NavValidation.Score(bundle, task, episodes, final),
            "eval_time_to_goal_p50_s", ppo.TotalEnvSteps, ppo.Seed, null, options.Console, options.Interactive, progress);
        PolicyBundle trained = Ppo.Train((n, threads) => new NavEnv(task, n, threads), ppo, json => NavValidation.Describe(task, json), session);
        long steps = session.EnvSteps;
        BundleSnapshot snapshot = new(BundleSnapshot.Last, steps, null, steps);
        if (ppo.KeepBestPolicy)
        {
            if (session.LastPeriodicEvalStep != steps) session.Score(trained, steps, ppo.EvalEpisodes);
            if (session.BestBundle is { } best)
            {
                trained = best;
                snapshot = new BundleSnapshot(BundleSnapshot.BestEvaluation, session.BestEnvSteps, session.BestSuccessRate, snapshot.TotalEnvSteps);
            }
        }
        long policySteps = snapshot.EnvSteps;
        trained = trained.WithTrainingConfig(snapshot.AddTo(trained.TrainingConfigJson));
        session.Snapshot = snapshot;
        string bundlePath = Path.Combine(runDirectory, BundleFileName);
        trained.Write(bundlePath);
        PolicyScore final = session.Score(trained, policySteps, ppo.FinalEvalEpisodes, final: true);
        double wall = session.WallSeconds, cpu = session.CpuSeconds;
        session.Finish();
        return new TrainResult(runDirectory, bundlePath, "ppo", ppo.Seed, steps, wall, cpu, null, policySteps)
        {
            FinalScore = final,
            TaskKind = "navigation",
            Snapshot = snapshot,
        };
    }

    /// <summary>A swarm task (configs/swarm/*.json): multi-agent PPO with one shared deep-sets policy (<see cref="SwarmPpo"/>),
    /// scored on the held-out scenarios with a validation seed while training and on the held-out seeds at the end; the
    /// run directory also gets the top-view trajectory plot (eval_trajectories.png).</summary>
    static TrainResult RunSwarm(TrainOptions options, IProgress<TrainProgress>? progress)
    {
        SwarmTaskConfig task = SwarmTaskConfig.Load(options.TaskPath);
        string algorithm = options.Algorithm ?? task.Training?.Choice("algorithm", "td3", "sac", "ppo") ?? "ppo";
        if (algorithm != "ppo")
            throw new ArgumentException($"algorithm '{algorithm}' does not train swarm tasks; expected ppo");
        SwarmTrainingConfig swarm = SwarmTrainingConfig.Read(task.Training); // before PpoConfig: it marks training.swarm as known
        PpoConfig ppo = PpoConfig.Read(task.Training);
        ppo = ppo with
        {
            Seed = options.Seed ?? ppo.Seed,
            TotalEnvSteps = options.TotalEnvSteps ?? ppo.TotalEnvSteps,
            FinalEvalEpisodes = options.FinalEvalEpisodes ?? ppo.FinalEvalEpisodes,
        };
        task.CheckTrainingSeed(ppo.Seed);
        if (options.Resume) throw new ArgumentException("--resume: PPO runs do not write checkpoints yet; start a new run");
        string runDirectory = options.OutDirectory ?? Path.Combine("runs", string.Create(CultureInfo.InvariantCulture,
            $"{Path.GetFileNameWithoutExtension(options.TaskPath)}-ppo-seed{ppo.Seed}-{DateTime.UtcNow:yyyyMMdd-HHmmss}"));
        if (Checkpoint.Find(runDirectory) is not null || File.Exists(Path.Combine(runDirectory, BundleFileName)))
            throw new ArgumentException($"'{runDirectory}' already holds a run; choose another --out");

        TorchSetup.Initialize(intraOpThreads: 1);
        Directory.CreateDirectory(runDirectory);
        File.WriteAllText(Path.Combine(runDirectory, "training.json"), SwarmPpo.ConfigJson(ppo, swarm));
        using var session = new TrainingSession(runDirectory, (bundle, episodes, final) => SwarmEvaluator.Score(bundle, task, episodes, final),
            "eval_time_to_goal_iqm_s", ppo.TotalEnvSteps, ppo.Seed, null, options.Console, options.Interactive, progress);
        PolicyBundle trained = SwarmPpo.Train(task, ppo, swarm, session);
        long steps = session.EnvSteps;
        BundleSnapshot snapshot = new(BundleSnapshot.Last, steps, null, steps);
        if (ppo.KeepBestPolicy)
        {
            if (session.LastPeriodicEvalStep != steps) session.Score(trained, steps, ppo.EvalEpisodes);
            if (session.BestBundle is { } best)
            {
                trained = best;
                snapshot = new BundleSnapshot(BundleSnapshot.BestEvaluation, session.BestEnvSteps, session.BestSuccessRate, snapshot.TotalEnvSteps);
            }
        }
        long policySteps = snapshot.EnvSteps;
        trained = trained.WithTrainingConfig(snapshot.AddTo(trained.TrainingConfigJson));
        session.Snapshot = snapshot;
        string bundlePath = Path.Combine(runDirectory, BundleFileName);
        trained.Write(bundlePath);
        PolicyScore final = session.Score(trained, policySteps, ppo.FinalEvalEpisodes, final: true);
        double wall = session.WallSeconds, cpu = session.CpuSeconds;
        session.Finish();
        SwarmEvalResult traces = SwarmEvaluator.Evaluate(new PolicyPilot(trained), "policy", task, new SwarmEvalOptions(Seeds: 1, EpisodesPerSeed: 8));
        SwarmEvaluator.WriteTrajectoryPlot(task, traces, Path.Combine(runDirectory, "eval_trajectories.png"));
        return new TrainResult(runDirectory, bundlePath, "ppo", ppo.Seed, steps, wall, cpu, null, policySteps)
        {
            FinalScore = final,
            TaskKind = "swarm",
            Snapshot = snapshot,
        };
    }

    /// <summary>training.algorithm of the task file, or null when it has no training section.</summary>
    static string? TrainingAlgorithm(HoverTaskConfig task)
    {
        if (task.Training is not { } training) return null;
        // PPO trains navigation tasks (RunNavigation); a hover task's file may name only td3 or sac.
        return training.Choice("algorithm", "td3", "sac"); // the algorithm's reader checks every other key

    }
}
