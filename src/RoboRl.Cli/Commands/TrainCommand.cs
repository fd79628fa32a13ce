using System.CommandLine;
using System.Text.Json;
using RoboRl.Core.Configs;
using RoboRl.Training;

namespace RoboRl.Cli.Commands;

/// <summary>
/// `roborl train TASK [--seed S] [--out DIR] [--algo td3|sac|ppo] [--steps N] [--resume] [--json]`: trains a policy on the
/// task (hyperparameters from its "training" section), writes the run directory and the policy bundle, evaluates it.
/// </summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var task = new Argument<string>("task") { Description = "Task config, e.g. configs/tasks/crazyflie-hover.json." };
        var seed = new Option<int?>("--seed") { Description = "Seed (overrides training.seed)." };
        var outDir = new Option<string?>("--out") { Description = "Run directory (default runs/<task>-<algo>-seed<S>-<time>)." };
        var algo = new Option<string?>("--algo") { Description = "td3 or sac for hover tasks, ppo for navigation tasks (overrides training.algorithm)." };
        algo.AcceptOnlyFromAmong("td3", "sac", "ppo");
        var steps = new Option<long?>("--steps") { Description = "Environment steps (overrides training.total_env_steps)." };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out from its checkpoint." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object at the end (progress goes to stderr)." };
        var command = new Command("train", "Train a policy in the simulator and write its bundle (policy.safetensors).")
        {
            task, seed, outDir, algo, steps, resume, json,
        };
        command.SetAction(parse => Run(new TrainOptions(RepoPaths.Find(parse.GetValue(task)!))
        {
            Seed = parse.GetValue(seed),
            OutDirectory = parse.GetValue(outDir),
            Algorithm = parse.GetValue(algo),
            TotalEnvSteps = parse.GetValue(steps),
            Resume = parse.GetValue(resume),
        }, parse.GetValue(json), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return command;
    }

    /// <summary>The command's work, callable without the parser. Returns the exit code.</summary>
    public static int Run(TrainOptions options, bool asJson, TextWriter output, TextWriter error)
    {
        if (options.Resume && options.OutDirectory is null)
        {
            error.WriteLine("error: --resume needs --out DIR (the run to continue)");
            return 2;
        }
        if (options.TotalEnvSteps is <= 0)
        {
            error.WriteLine("error: --steps must be positive");
            return 2;
        }
        // The progress line goes to stdout for people, to stderr when stdout carries JSON; a terminal gets one
        // line rewritten in place, a pipe or file a plain line every few seconds.
        TextWriter progressWriter = asJson ? error : output;
        bool interactive = asJson ? !Console.IsErrorRedirected && ReferenceEquals(error, Console.Error)
                                  : !Console.IsOutputRedirected && ReferenceEquals(output, Console.Out);
        TrainResult result;
        try
        {
            result = Trainer.Run(options with { Console = progressWriter, Interactive = interactive });
        }
        catch (Exception e) when (e is ConfigException or ArgumentException or InvalidDataException or IOException or InvalidOperationException)
        {
            error.WriteLine($"error: {e.Message}");
            return 1;
        }

        if (asJson)
        {
            output.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["wall_s"] = Math.Round(result.WallSeconds, 2),
                ["cpu_s"] = Math.Round(result.CpuSeconds, 2),
                ["env_steps"] = result.EnvSteps,
                ["policy_env_steps"] = result.PolicyEnvSteps,
                ["algorithm"] = result.Algorithm,
                ["seed"] = result.Seed,
                ["run_dir"] = result.RunDirectory,
                ["bundle"] = result.BundlePath,
                ["task"] = result.TaskKind,
                ["final_eval"] = result.FinalEval is { } eval ? EvalCommand.JsonObject(eval) : new Dictionary<string, object?>
                {
                    // Navigation: held-out maps, the policy through the C# engine.
                    ["success_rate"] = result.FinalScore.SuccessRate,
                    ["collision_rate"] = result.FinalScore.FailureRate,
                    ["time_to_goal_p50_s"] = double.IsFinite(result.FinalScore.Cost) ? result.FinalScore.Cost : null,
                },
            }));
        }
        else
        {
            output.WriteLine($"trained {result.Algorithm} seed {result.Seed}: {result.EnvSteps:N0} env steps in {result.WallSeconds:F1} s wall ({result.CpuSeconds:F1} s CPU)");
            output.WriteLine($"bundle  {result.BundlePath} (policy of env step {result.PolicyEnvSteps:N0})");
            output.WriteLine(result.FinalEval is { } eval ? $"eval    {EvalCommand.Summary(eval)}"
                : $"eval    held-out maps: {NavValidation.Summary(result.FinalScore)}");
        }
        return 0;
    }
}
