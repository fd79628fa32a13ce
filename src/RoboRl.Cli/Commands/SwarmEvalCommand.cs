using System.Globalization;
using System.Text.Json.Nodes;
using RoboRl.Core.Configs;
using RoboRl.Core.Policy;
using RoboRl.Core.Swarm;
using RoboRl.Hosting;
using RoboRl.Training;
using RoboRl.Training.Evaluation;

namespace RoboRl.Cli.Commands;

/// <summary>
/// `roborl eval SWARM_BUNDLE [--task configs/swarm/….json] [--seeds N] [--episodes E] [--seed S] [--plot PNG] [--json]`:
/// the swarm policy through the torch-free engine on the task's held-out scenarios and seeds (docs/swarm.md), with the
/// classical baseline on the same episodes under "baseline".
/// </summary>
public static class SwarmEvalCommand
{
    public const int DefaultSeeds = 5;
    public const int DefaultEpisodesPerSeed = 16;
    public const string PlotFileName = "eval_swarm_trajectories.png";

    /// <summary>The swarm task's evaluation (<see cref="EvalKinds"/>): held-out scenarios and seeds of its task, the classical baseline beside it.</summary>
    public static int Evaluate(EvalRequest r)
    {
        if (r.BundlePath is null) throw CliException.BadInput("a swarm evaluation takes exactly one BUNDLE (not --runs)");
        r.Refuse("swarm", ("--planner", r.Planner is not null), ("--sweep", r.Sweep is not null), ("--dynamics", r.DynamicsPath is not null),
            ("--initial-states", r.InitialStates is not null));
        return Run(r.BundlePath, r.TaskPath is null ? null : RepoPaths.Find(r.TaskPath), r.Seeds, r.Episodes ?? DefaultEpisodesPerSeed,
            r.Seed == EvalCommand.DefaultSeed ? null : (long)r.Seed, r.PlotPath, baseline: true, r.AsJson, r.Output, r.Error);
    }

    /// <summary>The task a swarm bundle was trained on (its training config's "task_file"), when that file is here.</summary>
    public static string? TrainedTask(PolicyBundle bundle)
    {
        try
        {
            string? file = JsonNode.Parse(bundle.TrainingConfigJson)?["task_file"]?.GetValue<string>();
            return file is not null && File.Exists(RepoPaths.Find(file)) ? RepoPaths.Find(file) : null;
        }
        catch (System.Text.Json.JsonException) { return null; }
    }

    public static int Run(string bundlePath, string? taskPath, int seeds, int episodesPerSeed, long? firstSeed, string? plotPath, bool baseline,
        bool asJson, TextWriter output, TextWriter error)
    {
        if (seeds < 1) throw CliException.BadInput($"--seeds {seeds}: must be ≥ 1");
        if (episodesPerSeed < 1) throw CliException.BadInput($"--episodes {episodesPerSeed}: must be ≥ 1");
        PolicyBundle bundle = PolicyBundle.Read(bundlePath);
        string task = taskPath ?? TrainedTask(bundle)
            ?? throw CliException.BadInput($"{bundlePath}: the bundle does not name a task file found here; pass --task configs/swarm/….json");
        SwarmTaskConfig config = SwarmTaskConfig.Load(task);
        SwarmPolicySpec.CheckBundle(bundle, config, bundlePath);
        if (firstSeed is { } s && (s < config.HeldOutSeeds.First || s + seeds - 1 > config.HeldOutSeeds.Last))
            throw CliException.BadInput($"--seed {s} with --seeds {seeds}: the seeds must lie in {task} held_out.seeds [{config.HeldOutSeeds.First}, {config.HeldOutSeeds.Last}]");
        var options = new SwarmEvalOptions(seeds, episodesPerSeed, firstSeed);

        var results = new List<SwarmEvalResult> { SwarmEvaluator.Evaluate(new PolicyPilot(bundle), "policy", config, options) };
        if (baseline) results.Add(SwarmEvaluator.Evaluate(new SwarmBaselinePilot(config), SwarmBaselinePilot.Name, config, options));
        string png = plotPath ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(bundlePath))!, PlotFileName);
        SwarmEvaluator.WriteTrajectoryPlot(config, results[0], png);
        if (baseline) SwarmEvaluator.WriteTrajectoryPlot(config, results[1], Path.ChangeExtension(png, null) + "_baseline.png");

        JsonObject json = SwarmEvaluator.ToJson(results[0]);
        json.Remove("pilot");
        json["task"] = task;
        json["bundle"] = bundlePath;
        json["first_seed"] = firstSeed ?? config.HeldOutSeeds.First;
        json["plot"] = png;
        if (baseline) json["baseline"] = SwarmEvaluator.ToJson(results[1]);
        if (!asJson)
        {
            foreach (SwarmEvalResult r in results) output.WriteLine(SwarmEvaluator.Summary(r));
            output.WriteLine($"plot    {png}");
        }
        error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"eval: {string.Join("; ", results.Select(r => $"{r.Pilot} {r.SuccessRate:P1} success, {r.CollisionRate:P1} collided"))} ({seeds} held-out seeds × {episodesPerSeed} episodes × {results[0].Quads} quads)"));
        return new CommandIo("eval", output, error, asJson).Result(json);
    }
}
