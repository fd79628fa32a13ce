using System.CommandLine;
using System.Text.Json.Nodes;
using RoboRl.Training;

namespace RoboRl.Cli.Commands;

/// <summary>
/// `roborl train TASK [--seed S] [-o DIR] [--algo td3|sac|ppo] [--steps N] [--resume] [--checkpoint-replay] [--json]
/// [--cluster CONN --shards N --steps-per-shard T --checkpoint-every K]`: trains
/// a policy on the task (hyperparameters from its "training" section), writes the run directory and the policy bundle,
/// evaluates it, and says which snapshot the bundle holds. With --cluster it is the learner of distributed PPO
/// (navigation, swarm) or TD3 (hover) (<see cref="ClusterCommands"/>, docs/cluster.md).
/// </summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var task = new Argument<string>("task") { Description = "Task config, e.g. configs/tasks/crazyflie-hover.json." };
        var seed = new Option<int?>("--seed") { Description = "Seed (overrides training.seed)." };
        var output = new OutputOption("Run directory (default runs/<task>-<algo>-seed<S>-<time>).", keepOldOut: true);
        var algo = new Option<string?>("--algo") { Description = "td3 or sac for hover tasks, ppo for navigation tasks (overrides training.algorithm)." };
        algo.AcceptOnlyFromAmong("td3", "sac", "ppo");
        var steps = new Option<long?>("--steps") { Description = "Environment steps (overrides training.total_env_steps)." };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in -o DIR from its checkpoint (written with --checkpoint-replay)." };
        var checkpointReplay = new Option<bool>("--checkpoint-replay") { Description = "Checkpoints also hold the replay memory (~440 MB for the default hover task; --resume needs it). Default: networks, optimiser moments, normalisers and counters (~0.5 MB)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object at the end (progress goes to stderr)." };
        var command = new Command("train", "Train a policy in the simulator and write its bundle (policy.safetensors).")
        {
            task, seed, algo, steps, resume, checkpointReplay, json,
        };
        output.AddTo(command);
        var cluster = new ClusterCommands.TrainOptions();
        cluster.AddTo(command);
        command.SetAction(parse => parse.GetValue(cluster.Cluster) is null ? Run(new TrainOptions(RepoPaths.Find(parse.GetValue(task)!))
        {
            Seed = parse.GetValue(seed),
            OutDirectory = output.Get(parse),
            Algorithm = parse.GetValue(algo),
            TotalEnvSteps = parse.GetValue(steps),
            Resume = parse.GetValue(resume),
            CheckpointReplay = parse.GetValue(checkpointReplay),
        }, parse.GetValue(json), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error)
            : ClusterCommands.Train(parse, cluster, new TrainOptions(RepoPaths.Find(parse.GetValue(task)!))
            {
                Seed = parse.GetValue(seed),
                OutDirectory = output.Get(parse),
                Algorithm = parse.GetValue(algo),
                TotalEnvSteps = parse.GetValue(steps),
                Resume = parse.GetValue(resume),
            }, parse.GetValue(json), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return command;
    }

    /// <summary>"bundle: best periodic evaluation at 290,000 steps (98.0 % success)" or "bundle: the last policy, at 300,000 steps".</summary>
    public static string DescribeSnapshot(TrainResult result) => "bundle: " + result.Snapshot.Describe();

    /// <summary>The command's work, callable without the parser. Returns the exit code.</summary>
    public static int Run(TrainOptions options, bool asJson, TextWriter output, TextWriter error)
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
            // The progress line goes to stdout for people, to stderr when stdout carries JSON; a terminal gets one
            // line rewritten in place, a pipe or file a plain line every few seconds.
            TextWriter progressWriter = io.Json ? error : output;
            TrainResult result;
            try
            {
                result = Trainer.Run(options with { Console = progressWriter, Interactive = ProgressLine.IsTerminal(progressWriter) });
            }
            // The run directory, the checkpoint or the algorithm do not fit what was asked: the user's to fix.
            catch (Exception e) when (e is ArgumentException or InvalidDataException) { throw CliException.BadInput(e.Message); }

            var json = new JsonObject
            {
                ["wall_s"] = Math.Round(result.WallSeconds, 2),
                ["cpu_s"] = Math.Round(result.CpuSeconds, 2),
                ["env_steps"] = result.EnvSteps,
                ["policy_env_steps"] = result.PolicyEnvSteps,
                ["bundle_snapshot"] = result.Snapshot.ToJson(),
                ["algorithm"] = result.Algorithm,
                ["seed"] = result.Seed,
                ["run_dir"] = result.RunDirectory,
                ["bundle"] = result.BundlePath,
                ["task"] = result.TaskKind,
                ["final_eval"] = result.FinalEval is { } eval ? EvalCommand.JsonNode(eval) : new JsonObject
                {
                    // Navigation: held-out maps, the policy through the C# engine.
                    ["success_rate"] = result.FinalScore.SuccessRate,
                    ["collision_rate"] = result.FinalScore.FailureRate,
                    // Swarm: held-out scenarios and seed, per quad; its time to goal is an IQM.
                    [result.TaskKind == "swarm" ? "time_to_goal_iqm_s" : "time_to_goal_p50_s"] = double.IsFinite(result.FinalScore.Cost) ? result.FinalScore.Cost : null,
                },
            };
            TextWriter text = io.Text;
            text.WriteLine($"trained {result.Algorithm} seed {result.Seed}: {result.EnvSteps:N0} env steps in {result.WallSeconds:F1} s wall ({result.CpuSeconds:F1} s CPU)");
            text.WriteLine($"bundle  {result.BundlePath}: {result.Snapshot.Describe()}");
            text.WriteLine(result.FinalEval is { } e2 ? $"eval    {EvalCommand.Summary(e2)} (the bundle's policy, held-out seed)"
                : result.TaskKind == "swarm" ? $"eval    held-out scenarios and seed, per quad: success {result.FinalScore.SuccessRate:P1}, collision rate {result.FinalScore.FailureRate:P1}, time to goal IQM {result.FinalScore.Cost:F1} s (roborl eval BUNDLE for the full report)"
                : $"eval    held-out maps: {NavValidation.Summary(result.FinalScore)}");
            return io.Result(json);
        });
    }
}
