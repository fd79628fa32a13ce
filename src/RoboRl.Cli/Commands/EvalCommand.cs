using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using RoboRl.Core.Configs;
using RoboRl.Core.Policy;
using RoboRl.Core.Tasks;
using RoboRl.Training;
using RoboRl.Training.Evaluation;

namespace RoboRl.Cli.Commands;

/// <summary>
/// `roborl eval BUNDLE [--episodes 1000] [--dynamics FILE] [--seed S] [--task TASK] [--plot PNG] [--json]` and
/// `roborl eval --runs DIR…`: flies the bundle (C# engine, as deployed) for exactly N five-second episodes.
/// Success = no crash and position error &lt; 0.1 m at every step from 3 s to 5 s. The plot goes beside the (first)
/// bundle as eval.png, never over the eval_trajectories.png its training wrote.
/// </summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var bundle = new Argument<string?>("bundle") { Description = "Policy bundle (.safetensors).", Arity = ArgumentArity.ZeroOrOne };
        var runs = new Option<string[]>("--runs") { Description = "Run directories (one per training seed), each holding policy.safetensors: adds the IQM with a 95 % stratified-bootstrap interval.", AllowMultipleArgumentsPerToken = true };
        var episodes = new Option<int?>("--episodes") { Description = $"Episodes per policy (hover: 1000; navigation: {NavEvalCommand.DefaultEpisodes} held-out scenarios per seed)." };
        var planner = new Option<string?>("--planner") { Description = "Navigation: evaluate this classical planner too (dwa); alone, without a bundle, it evaluates only the planner." };
        planner.AcceptOnlyFromAmong("dwa");
        var seeds = new Option<int>("--seeds") { Description = "Navigation: simulator seeds from --seed on (bootstrap strata).", DefaultValueFactory = _ => NavEvalCommand.DefaultSeeds };
        var dynamics = new Option<string?>("--dynamics") { Description = "JSON file with a \"domain_randomization\" section (mass, inertia, thrust_coefficient, motor_time_constant, latency_steps); default: the task's." };
        var seed = new Option<ulong>("--seed") { Description = "Simulator seed.", DefaultValueFactory = _ => 12345UL };
        var task = new Option<string?>("--task") { Description = $"Task config (default {BenchSimCommand.DefaultTask}; {BenchSimCommand.DefaultNavTask} for navigation bundles and --planner)." };
        var plot = new Option<string?>("--plot") { Description = $"Trajectory PNG (default: {PlotFileName} beside the (first) bundle; navigation with --planner alone: none unless given)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object." };
        var command = new Command("eval", "Evaluate a policy bundle in the simulator (hover: success, crashes, position error; navigation: the policy against DWA on held-out maps).")
        {
            bundle, runs, episodes, dynamics, seed, task, plot, json, planner, seeds,
        };
        command.SetAction(parse => Dispatch(parse.GetValue(bundle), parse.GetValue(runs) ?? [], parse.GetValue(episodes), parse.GetValue(dynamics),
            parse.GetValue(seed), parse.GetValue(task), parse.GetValue(plot), parse.GetValue(json), parse.GetValue(planner), parse.GetValue(seeds),
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return command;
    }

    /// <summary>The default plot's name: eval's own, so it never overwrites the eval_trajectories.png that training wrote.</summary>
    public const string PlotFileName = "eval.png";

    /// <summary>Navigation (a planner asked for, a navigation task, or a bundle for a differential-drive robot) or hover.</summary>
    public static int Dispatch(string? bundlePath, string[] runDirectories, int? episodes, string? dynamicsPath, ulong seed, string? taskPath,
        string? plotPath, bool asJson, string? planner, int seeds, TextWriter output, TextWriter error) =>
        new CommandIo("eval", output, error, asJson).Run(() =>
    {
        CheckPaths(bundlePath, runDirectories, dynamicsPath, taskPath, plotPath);
        string[] bundles = bundlePath is not null ? [bundlePath] : runDirectories.Select(d => Path.Combine(d, Trainer.BundleFileName)).ToArray();
        {
            bool navigation = planner is not null
                || (taskPath is not null && NavTaskConfig.IsNavigationTask(ConfigNode.LoadFile(RepoPaths.Find(taskPath))))
                || (bundles.Length > 0 && NavEvalCommand.IsNavigationBundle(bundles[0]));
            if (navigation)
            {
                if (bundlePath is not null && runDirectories.Length > 0) throw CliException.BadInput("give either a BUNDLE or --runs DIR…");
                if (dynamicsPath is not null) throw CliException.BadInput("--dynamics applies to the hover task only");
                return NavEvalCommand.Run(bundles, withDwa: true, episodes ?? NavEvalCommand.DefaultEpisodes, seed, seeds,
                    RepoPaths.Find(taskPath ?? BenchSimCommand.DefaultNavTask), plotPath, asJson, output, error);
            }
        }
        return Run(bundlePath, runDirectories, episodes ?? 1000, dynamicsPath, seed, RepoPaths.Find(taskPath ?? BenchSimCommand.DefaultTask),
            plotPath, asJson, output, error);
    });

    /// <summary>Every path eval reads or writes, checked before any work (bad input names the argument).</summary>
    static void CheckPaths(string? bundlePath, string[] runDirectories, string? dynamicsPath, string? taskPath, string? plotPath)
    {
        if (bundlePath is not null) PathArguments.InputFile(bundlePath, "BUNDLE", "a policy bundle (.safetensors)");
        foreach (string run in runDirectories)
            PathArguments.InputFile(Path.Combine(PathArguments.InputDirectory(run, "--runs", "a run directory holding policy.safetensors"), Trainer.BundleFileName),
                "--runs", "a run directory holding policy.safetensors");
        if (dynamicsPath is not null) PathArguments.InputFile(dynamicsPath, "--dynamics", "a JSON file with a \"domain_randomization\" section");
        if (taskPath is not null) PathArguments.InputFile(RepoPaths.Find(taskPath), "--task", "a task config (configs/tasks/*.json)");
        if (plotPath is not null) PathArguments.OutputFile(plotPath, "--plot");
    }

    public static int Run(string? bundlePath, string[] runDirectories, int episodes, string? dynamicsPath, ulong seed, string taskPath,
        string? plotPath, bool asJson, TextWriter output, TextWriter error) =>
        new CommandIo("eval", output, error, asJson).Run(() =>
    {
        if ((bundlePath is null) == (runDirectories.Length == 0)) throw CliException.BadInput("give either a BUNDLE or --runs DIR…");
        if (episodes < 1) throw CliException.BadInput($"--episodes {episodes}: must be ≥ 1");
        CheckPaths(bundlePath, runDirectories, dynamicsPath, null, plotPath);
        string[] bundles = bundlePath is not null ? [bundlePath] : runDirectories.Select(d => Path.Combine(d, Trainer.BundleFileName)).ToArray();
        {
            HoverTaskConfig task = HoverTaskConfig.Load(taskPath);
            DomainRandomizationConfig? dynamics = dynamicsPath is null ? null : DomainRandomizationConfig.Load(dynamicsPath);
            var results = new List<EvalResult>();
            for (int k = 0; k < bundles.Length; k++)
            {
                PolicyBundle policy = PolicyBundle.Read(bundles[k]);
                results.Add(PolicyEvaluator.Evaluate(policy, task, new EvalOptions(Episodes: episodes, Seed: seed, Dynamics: dynamics,
                    TrajectoriesKept: k == 0 ? 20 : 0)));
            }
            string png = plotPath ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(bundles[0]))!, PlotFileName);
            PolicyEvaluator.WriteTrajectoryPlot(results[0], png, $"{Path.GetFileName(bundles[0])}: 20 evaluation episodes");

            var io = new CommandIo("eval", output, error, asJson);
            if (bundlePath is not null)
            {
                JsonObject one = JsonNode(results[0]);
                one["plot"] = png;
                if (!asJson)
                {
                    output.WriteLine($"policy  {bundlePath}");
                    output.WriteLine($"eval    {Summary(results[0])}");
                    output.WriteLine($"plot    {png}");
                }
                return io.Result(one);
            }

            // Several training seeds: pooled figures, per-run success, IQM with stratified-bootstrap intervals.
            EvalResult pooled = Pool(results);
            var returns = results.Select(r => (IReadOnlyList<double>)r.EpisodeReturns).ToArray();
            var lateErrors = results.Select(r => (IReadOnlyList<double>)r.LatePositionErrors).ToArray();
            double iqmReturn = Statistics.InterquartileMean(returns.SelectMany(r => r).ToArray());
            var returnCi = Statistics.StratifiedBootstrapIqmInterval(returns, seed: seed);
            double iqmLate = Statistics.InterquartileMean(lateErrors.SelectMany(r => r).ToArray());
            var lateCi = Statistics.StratifiedBootstrapIqmInterval(lateErrors, seed: seed);
            if (asJson)
            {
                Dictionary<string, object?> o = JsonObject(pooled);
                o["runs"] = runDirectories.Zip(results, (dir, r) => new Dictionary<string, object?> { ["run"] = dir, ["success_rate"] = r.SuccessRate, ["crash_rate"] = r.CrashRate }).ToArray();
                o["iqm_return"] = iqmReturn;
                o["iqm_return_ci95"] = new[] { returnCi.Low, returnCi.High };
                o["iqm_late_pos_err_m"] = iqmLate;
                o["iqm_late_pos_err_m_ci95"] = new[] { lateCi.Low, lateCi.High };
                o["plot"] = png;
                return io.Result(o);
            }
            else
            {
                foreach (var (dir, r) in runDirectories.Zip(results))
                    output.WriteLine($"run     {dir}: {Summary(r)}");
                output.WriteLine($"pooled  {Summary(pooled)}");
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"IQM     return {iqmReturn:F1} [95 % CI {returnCi.Low:F1}, {returnCi.High:F1}]; worst error from {pooled.SettleSeconds} s {iqmLate:F3} m [{lateCi.Low:F3}, {lateCi.High:F3}] ({results.Count} runs × {episodes} episodes, stratified bootstrap)"));
                output.WriteLine($"plot    {png}");
            }
            return 0;
        }
    });

    /// <summary>All runs' episodes as one evaluation (percentiles over every episode).</summary>
    static EvalResult Pool(List<EvalResult> results)
    {
        EvalResult first = results[0];
        int total = results.Sum(r => r.Episodes);
        double Weighted(Func<EvalResult, double> f) => results.Sum(r => f(r) * r.Episodes) / total;
        // Percentiles need the per-episode values; recomputing them from per-run percentiles would be wrong, so the
        // pooled percentiles are the episode-weighted mean of the runs' percentiles only as a summary line.
        return first with
        {
            Episodes = total,
            SuccessRate = Weighted(r => r.SuccessRate),
            CrashRate = Weighted(r => r.CrashRate),
            PositionErrorP50At2s = Weighted(r => r.PositionErrorP50At2s),
            PositionErrorP95At2s = Weighted(r => r.PositionErrorP95At2s),
            PositionErrorP50At5s = Weighted(r => r.PositionErrorP50At5s),
            PositionErrorP95At5s = Weighted(r => r.PositionErrorP95At5s),
            EpisodeReturns = results.SelectMany(r => r.EpisodeReturns).ToArray(),
            LatePositionErrors = results.SelectMany(r => r.LatePositionErrors).ToArray(),
            Successes = results.SelectMany(r => r.Successes).ToArray(),
        };
    }

    /// <summary>The eval JSON object: success_rate, crash_rate, pos_err_p50_2s_m, pos_err_p95_2s_m, pos_err_p50_5s_m, pos_err_p95_5s_m (position
    /// error percentiles at 2 s and 5 s, metres), episodes.</summary>
    public static Dictionary<string, object?> JsonObject(EvalResult r) => new()
    {
        ["success_rate"] = r.SuccessRate,
        ["crash_rate"] = r.CrashRate,
        ["pos_err_p50_2s_m"] = Finite(r.PositionErrorP50At2s),
        ["pos_err_p95_2s_m"] = Finite(r.PositionErrorP95At2s),
        ["pos_err_p50_5s_m"] = Finite(r.PositionErrorP50At5s),
        ["pos_err_p95_5s_m"] = Finite(r.PositionErrorP95At5s),
        ["episodes"] = r.Episodes,
    };

    /// <summary><see cref="JsonObject(EvalResult)"/> as a JSON node.</summary>
    public static JsonObject JsonNode(EvalResult r) => JsonSerializer.SerializeToNode(JsonObject(r))!.AsObject();

    static double? Finite(double v) => double.IsFinite(v) ? Math.Round(v, 5) : null;

    /// <summary>One line: success, crashes, error percentiles.</summary>
    public static string Summary(EvalResult r) => string.Create(CultureInfo.InvariantCulture,
        $"{r.Episodes} episodes: success {r.SuccessRate:P1}, crashes {r.CrashRate:P1}, position error p50/p95 at 2 s {r.PositionErrorP50At2s:F3}/{r.PositionErrorP95At2s:F3} m, at 5 s {r.PositionErrorP50At5s:F3}/{r.PositionErrorP95At5s:F3} m");
}
