using RoboRl.Core.Configs;
using RoboRl.Core.Policy;
using RoboRl.Core.Tasks;
using RoboRl.Sims;
using RoboRl.Sims.DiffDrive;
using RoboRl.Sims.Quadrotor;
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
    /// <summary>Stop with a checkpoint at this env step (one segment of the run; TD3 and SAC, <see cref="RunConfig.StopAtEnvSteps"/>).</summary>
    public long? StopAtEnvSteps { get; init; }
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

    /// <summary>Trains the task file's kind (<see cref="TrainingTasks"/>).</summary>
    public static TrainResult Run(TrainOptions options, IProgress<TrainProgress>? progress = null)
        => TrainingTasks.For(options.TaskPath).Train(options, progress);

    /// <summary>A hover task (configs/tasks/crazyflie-hover.json): TD3 or SAC on <see cref="HoverEnv"/>, scored on the task's
    /// own randomisation; the final evaluation's trajectories are drawn.</summary>
    internal static TrainResult RunHover(TrainOptions options, IProgress<TrainProgress>? progress)
    {
        HoverTaskConfig task = HoverTaskConfig.Load(options.TaskPath);
        string algorithm = options.Algorithm ?? TrainingAlgorithm(task) ?? "td3";
        // Bind the hyperparameters (schema errors name the task file) and apply the command-line overrides.
        IAlgorithmConfig config;
        if (algorithm == "td3")
        {
            Td3Config td3 = Td3Config.Read(task.Training);
            config = td3 with { Run = td3.Run.With(options) };
        }
        else if (algorithm == "sac")
        {
            SacConfig sac = SacConfig.Read(task.Training);
            config = sac with { Run = sac.Run.With(options) };
        }
        else throw new ArgumentException($"algorithm '{algorithm}' does not train the hover task; expected td3 or sac (ppo trains navigation tasks)");
        Func<int, int, IVectorEnv> environments = (n, threads) => new HoverEnv(task, n, threadCount: threads);
        Func<string, PolicyDescription> describe = json => TrainingSession.Describe(task, json);
        float hoverAction = task.Robot.HoverAction();

        var (result, bundle) = Train(options, config, "hover",
            (directory, resumeFrom) => new TrainingSession(directory, task, config.Run.TotalEnvSteps, config.Run.Seed, resumeFrom,
                options.Console, options.Interactive, progress)
            { CheckpointReplay = options.CheckpointReplay },
            session => config is Td3Config td3
                ? Td3.Train(environments, td3, describe, hoverAction, session)
                : Sac.Train(environments, (SacConfig)config, describe, hoverAction, session));
        EvalResult withTraces = PolicyEvaluator.Evaluate(bundle, task, new EvalOptions(Episodes: 20, Seed: 7, TrajectoriesKept: 20));
        PolicyEvaluator.WriteTrajectoryPlot(withTraces, Path.Combine(result.RunDirectory, "eval_trajectories.png"), $"{algorithm} seed {result.Seed}: 20 evaluation episodes");
        return result;
    }

    /// <summary>A navigation task (configs/tasks/diffbot-nav.json): PPO on <see cref="NavEnv"/>, scored on validation maps
    /// while training and on held-out maps at the end (<see cref="NavValidation"/>).</summary>
    internal static TrainResult RunNavigation(TrainOptions options, IProgress<TrainProgress>? progress)
    {
        NavTaskConfig task = NavTaskConfig.Load(options.TaskPath);
        string algorithm = options.Algorithm ?? task.Training?.Choice("algorithm", "td3", "sac", "ppo") ?? "ppo";
        if (algorithm != "ppo")
            throw new ArgumentException($"algorithm '{algorithm}' does not train navigation tasks yet; expected ppo");
        if (options.StopAtEnvSteps is not null)
            throw new ArgumentException("ppo does not stop at a segment end (it writes no mid-run checkpoints to continue from); td3 and sac do");
        PpoConfig ppo = PpoConfig.Read(task.Training);
        ppo = ppo with { Run = ppo.Run.With(options) };
        return Train(options, ppo, "navigation",
            (directory, resumeFrom) => new TrainingSession(directory, (bundle, episodes, final) => NavValidation.Score(bundle, task, episodes, final),
                "eval_time_to_goal_p50_s", ppo.Run.TotalEnvSteps, ppo.Run.Seed, resumeFrom, options.Console, options.Interactive, progress),
            session => Ppo.Train((n, threads) => new NavEnv(task, n, threads), ppo, json => NavValidation.Describe(task, json), session)).Result;
    }

    /// <summary>
    /// One run of any task and algorithm, the run directory written here only: checks it (a new run needs a directory
    /// without a run; --resume one with a checkpoint), writes training.json, trains, exports the best periodic policy
    /// (or the last; <c>keep_best_policy</c>) as the bundle, saying which snapshot it holds, and scores it on the task's
    /// final (held-out) episodes.
    /// </summary>
    public static (TrainResult Result, PolicyBundle Bundle) Train(TrainOptions options, IAlgorithmConfig config, string taskKind,
        Func<string, Checkpoint?, TrainingSession> openSession, Func<TrainingSession, PolicyBundle> train)
    {
        RunConfig run = config.Run;
        string runDirectory = options.OutDirectory ?? run.DefaultRunDirectory(options.TaskPath, config.Algorithm);
        Checkpoint? checkpoint = Checkpoint.Find(runDirectory);
        if (options.Resume && !config.Checkpoints)
            throw new ArgumentException($"--resume: {config.Algorithm} runs do not write checkpoints (they take minutes); start a new run");
        if (options.Resume && checkpoint is null)
            throw new ArgumentException($"--resume: no {Checkpoint.FileName} in '{runDirectory}'");
        if (!options.Resume && checkpoint is not null)
            throw new ArgumentException($"'{runDirectory}' already holds a run ({Checkpoint.FileName}); pass --resume to continue it or choose another --out");
        if (!options.Resume && File.Exists(Path.Combine(runDirectory, BundleFileName)))
            throw new ArgumentException($"'{runDirectory}' already holds a run ({BundleFileName}); choose another --out");

        TorchSetup.Initialize(intraOpThreads: 1);
        Directory.CreateDirectory(runDirectory);
        File.WriteAllText(Path.Combine(runDirectory, "training.json"), config.ToJson());
        using TrainingSession session = openSession(runDirectory, options.Resume ? checkpoint : null);
        PolicyBundle bundle = train(session);

        long steps = session.EnvSteps;
        BundleSnapshot snapshot = new(BundleSnapshot.Last, steps, null, steps);
        if (run.KeepBestPolicy)
        {
            // The last policy competes with the periodic ones on the same evaluation (unless the last periodic evaluation
            // was of it already: one row per policy); the best is exported.
            if (session.LastPeriodicEvalStep != steps) session.Score(bundle, steps, run.EvalEpisodes);
            if (session.BestBundle is { } best)
            {
                bundle = best;
                snapshot = new BundleSnapshot(BundleSnapshot.BestEvaluation, session.BestEnvSteps, session.BestSuccessRate, steps);
            }
        }
        bundle = bundle.WithTrainingConfig(snapshot.AddTo(bundle.TrainingConfigJson));
        session.Snapshot = snapshot;
        string bundlePath = Path.Combine(runDirectory, BundleFileName);
        bundle.Write(bundlePath);

        PolicyScore final = session.Score(bundle, snapshot.EnvSteps, run.FinalEvalEpisodes, final: true);
        double wall = session.WallSeconds, cpu = session.CpuSeconds;
        session.Finish();
        var result = new TrainResult(runDirectory, bundlePath, config.Algorithm, run.Seed, steps, wall, cpu, session.FinalEvaluation, snapshot.EnvSteps)
        {
            FinalScore = final,
            TaskKind = taskKind,
            Snapshot = snapshot,
        };
        return (result, bundle);
    }

    /// <summary>training.algorithm of the task file, or null when it has no training section.</summary>
    static string? TrainingAlgorithm(HoverTaskConfig task)
    {
        if (task.Training is not { } training) return null;
        // PPO trains navigation tasks (RunNavigation); a hover task's file may name only td3 or sac.
        return training.Choice("algorithm", "td3", "sac"); // the algorithm's reader checks every other key
    }
}
