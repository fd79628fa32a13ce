using System.Globalization;
using System.Text.Json;
using RoboRl.Core.Policy;
using RoboRl.Core.Tasks;
using RoboRl.Sims.DiffDrive;
using RoboRl.Training;
using RoboRl.Training.Evaluation;

namespace RoboRl.Cli.Commands;

/// <summary>
/// The navigation side of `roborl eval` (chosen by `--planner dwa`, a navigation task or a bundle trained for a
/// differential-drive robot): the learned policy (one bundle, or one per training seed with --runs) and the classical
/// planners named by --planner (DWA by default; nav2like: docs/nav-baseline.md) on the same held-out scenarios; success, collisions, time to goal, path length, IQM with 95 %
/// stratified-bootstrap intervals; a PNG of paths on the first four scenarios, beside the (first) bundle — with the planner
/// alone only where --plot says (never into the current directory unasked).
/// </summary>
public static class NavEvalCommand
{
    public const int DefaultEpisodes = 100;
    public const int DefaultSeeds = 3;

    /// <summary>True when <paramref name="bundlePath"/> was trained for a differential-drive robot (its robot config says so).</summary>
    /// <summary>A bundle for a differential-drive robot: the navigation task's.</summary>
    public static bool IsNavigationBundle(PolicyBundle bundle) => EvalCommand.RobotKindOf(bundle) == "diff_drive";

    /// <summary>The navigation task's evaluation (<see cref="EvalKinds"/>): the policies and/or classical planners on held-out maps.</summary>
    public static int Evaluate(EvalRequest r)
    {
        r.Refuse("navigation", ("--sweep", r.Sweep is not null), ("--dynamics", r.DynamicsPath is not null), ("--initial-states", r.InitialStates is not null));
        string[] planners = r.Planner is null ? ["dwa"] : EvalCommand.ParsePlanners(r.Planner)
            ?? throw CliException.BadInput($"--planner: '{r.Planner}' is not a planner list; expected {string.Join(", ", Sims.DiffDrive.NavPlanners.Names)} or several comma-separated");
        return Run(r.Bundles, planners, r.Episodes ?? DefaultEpisodes, r.Seed, r.Seeds, RepoPaths.Find(r.TaskPath ?? BenchSimCommand.DefaultNavTask),
            r.PlotPath, r.AsJson, r.Output, r.Error);
    }

    public static int Run(string[] bundles, string[] plannerNames, int episodes, ulong firstSeed, int seeds, string taskPath, string? plotPath, bool asJson,
        TextWriter output, TextWriter error)
    {
        if (episodes < 1) throw CliException.BadInput($"--episodes {episodes}: must be ≥ 1");
        if (seeds < 1) throw CliException.BadInput($"--seeds {seeds}: must be ≥ 1");
        NavTaskConfig task = NavTaskConfig.Load(taskPath);
        var options = new NavEvalOptions(episodes, Enumerable.Range(0, seeds).Select(k => firstSeed + (ulong)k).ToArray());
        var results = new List<NavEvalResult>();
        void Progress(string line) => error.WriteLine(line);

        if (bundles.Length > 0)
        {
            var planners = new List<INavPlanner>();
            foreach (string path in bundles)
            {
                PolicyBundle bundle = PolicyBundle.Read(path);
                if (bundle.ObservationNames.Count != task.ActorObservationSize || bundle.ActionNames.Count != NavObservation.ActionSize)
                    throw new PolicyBundleException(path, "observation.names",
                        $"the bundle takes {bundle.ObservationNames.Count} observations and gives {bundle.ActionNames.Count} actions; the task {taskPath} needs {task.ActorObservationSize} and {NavObservation.ActionSize}");
                planners.Add(new PolicyNavPlanner(bundle));
            }
            results.Add(NavEvaluator.Evaluate(task, planners, options, Progress));
        }
        foreach (string name in plannerNames) results.Add(NavEvaluator.Evaluate(task, [NavPlanners.Create(name, task)], options, Progress));

        string? png = plotPath ?? (bundles.Length > 0 ? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(bundles[0]))!, "eval_paths.png") : null);
        if (png is not null) NavEvaluator.WritePathPlot(task, results, png);

        var o = new Dictionary<string, object?>
        {
            ["task"] = taskPath,
            ["episodes_per_seed"] = episodes,
            ["seeds"] = options.SeedList,
            // Held-out scenarios: seeds first_scenario_seed … first_scenario_seed + episodes_per_seed − 1 (training never draws them).
            ["first_scenario_seed"] = NavMaps.HeldOutSeedBase,
            ["planners"] = results.Select(NavEvaluator.JsonObject).ToArray(),
            ["plot"] = png,
        };
        if (!asJson)
        {
            foreach (NavEvalResult r in results) output.WriteLine(NavEvaluator.Summary(r));
            output.WriteLine(png is null ? "plot    none (--plot PNG draws the paths)" : $"plot    {png}");
        }
        error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"eval: {string.Join("; ", results.Select(r => $"{r.Planner} {r.SuccessRate:P1} success, median time to goal {r.MedianTimeToGoal:F1} s"))} ({episodes} held-out scenarios × {seeds} seeds)"));
        return new CommandIo("eval", output, error, asJson).Result(JsonSerializer.SerializeToNode(o)!.AsObject());
    }
}
