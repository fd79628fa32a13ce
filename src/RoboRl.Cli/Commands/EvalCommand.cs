using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using RoboRl.Core.Configs;
using RoboRl.Core.Policy;
using RoboRl.Core.Swarm;
using RoboRl.Core.Tasks;
using RoboRl.Training;
using RoboRl.Training.Evaluation;

namespace RoboRl.Cli.Commands;

/// <summary>
/// `roborl eval BUNDLE [--episodes 1000] [--dynamics FILE] [--seed S] [--task TASK] [--plot PNG] [--initial-states task|l2f] [--json]`,
/// `roborl eval BUNDLE --sweep PARAMETER [--values V,…] [--episodes N] [--initial-states task|l2f] [--plot PNG] [--json]` and
/// `roborl eval --runs DIR…`: flies the bundle (C# engine, as deployed) for exactly N five-second episodes.
/// Success = no crash and position error &lt; 0.1 m at every step from 3 s to 5 s. The plot goes beside the (first)
/// bundle as eval.png, never over the eval_trajectories.png its training wrote.
/// </summary>
public static class EvalCommand
{
    /// <summary>Episodes per swept value by default: a default sweep (≤ 12 values) takes about a minute on a 2-core machine.</summary>
    public const int DefaultSweepEpisodes = 4000;

    /// <summary>The `--initial-states` choices: the task's evaluation starts, or L2F's start distribution.</summary>
    public static readonly string[] InitialStateChoices = ["task", "l2f"];

    public static Command Create()
    {
        var bundle = new Argument<string?>("bundle") { Description = "Policy bundle (.safetensors).", Arity = ArgumentArity.ZeroOrOne };
        var runs = new Option<string[]>("--runs") { Description = "Run directories (one per training seed), each holding policy.safetensors: adds the IQM with a 95 % stratified-bootstrap interval.", AllowMultipleArgumentsPerToken = true };
        var episodes = new Option<int?>("--episodes") { Description = $"Episodes per policy (hover: 1000; per swept value: {DefaultSweepEpisodes}; navigation: {NavEvalCommand.DefaultEpisodes} held-out scenarios per seed)." };
        var planner = new Option<string?>("--planner") { HelpName = "dwa|nav2like|dwa,nav2like", Description = "Navigation: evaluate these classical planners too (dwa: DWA alone; nav2like: costmap + A* + DWA, docs/nav-baseline.md; comma-separated for both); alone, without a bundle, it evaluates only the planners." };
        planner.Validators.Add(result =>
        {
            if (result.Tokens.Count == 1 && ParsePlanners(result.Tokens[0].Value) is null)
                result.AddError($"--planner: '{result.Tokens[0].Value}' is not a planner list; expected {string.Join(", ", Sims.DiffDrive.NavPlanners.Names)} or several comma-separated");
        });
        var seeds = new Option<int>("--seeds") { Description = "Navigation: simulator seeds from --seed on (bootstrap strata).", DefaultValueFactory = _ => NavEvalCommand.DefaultSeeds };
        var dynamics = new Option<string?>("--dynamics") { Description = "JSON file with a \"domain_randomization\" section (mass, inertia, thrust_coefficient, motor_time_constant, latency_steps); default: the task's." };
        var seed = new Option<ulong>("--seed") { Description = "Simulator seed.", DefaultValueFactory = _ => DefaultSeed };
        var task = new Option<string?>("--task") { Description = $"Task config (default {BenchSimCommand.DefaultTask}; {BenchSimCommand.DefaultNavTask} for navigation bundles and --planner)." };
        var plot = new Option<string?>("--plot") { Description = $"PNG to write (default beside the (first) bundle: {PlotFileName}, or sweep_PARAMETER.png with --sweep; navigation with --planner alone: none unless given)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object." };
        var sweep = new Option<string?>("--sweep") { HelpName = "PARAMETER", Description = $"Robustness envelope: vary one parameter ({string.Join(", ", RobustnessSweep.Names)}) across and beyond its training range, everything else nominal; success and crash rate per value (table, PNG, --json)." };
        var values = new Option<string?>("--values") { HelpName = "V1,V2,…", Description = "With --sweep: the values to fly, comma-separated (factors of the robot config or of the evaluation's disturbance / noise std; latency in control steps); default: a grid well beyond the training range." };
        var initialStates = new Option<string?>("--initial-states") { HelpName = "task|l2f", Description = "Where episodes start: task (the task's evaluation initial states, default) or l2f (\"Learning to Fly in Seconds\": 10 % at rest at the target, else ±0.2 m, any rotation up to 90°, ±1 m/s, ±1 rad/s)." };
        var command = new Command("eval", "Evaluate a policy bundle in the simulator (hover: success, crashes, position error, robustness sweeps; navigation: the policy against DWA on held-out maps).")
        {
            bundle, runs, episodes, dynamics, seed, task, plot, json, planner, seeds, sweep, values, initialStates,
        };
        command.SetAction(parse => Dispatch(parse.GetValue(bundle), parse.GetValue(runs) ?? [], parse.GetValue(episodes), parse.GetValue(dynamics),
            parse.GetValue(seed), parse.GetValue(task), parse.GetValue(plot), parse.GetValue(json), parse.GetValue(planner), parse.GetValue(seeds),
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error,
            parse.GetValue(sweep), parse.GetValue(values), parse.GetValue(initialStates)));
        return command;
    }

    /// <summary>The default plot's name: eval's own, so it never overwrites the eval_trajectories.png that training wrote.</summary>
    public const string PlotFileName = "eval.png";
    /// <summary>--seed when not given (a swarm evaluation then starts at its task's first held-out seed).</summary>
    public const ulong DefaultSeed = 12345UL;

    /// <summary>Checks the flags that cannot go together and every path, then hands the request to the evaluation of its task kind (<see cref="EvalKinds"/>).</summary>
    public static int Dispatch(string? bundlePath, string[] runDirectories, int? episodes, string? dynamicsPath, ulong seed, string? taskPath,
        string? plotPath, bool asJson, string? planner, int seeds, TextWriter output, TextWriter error,
        string? sweep = null, string? values = null, string? initialStates = null) =>
        new CommandIo("eval", output, error, asJson).Run(() =>
    {
        // Flags that cannot go together first: their message says more than a path check of one of them.
        if (initialStates is not null && !InitialStateChoices.Contains(initialStates))
            throw CliException.BadInput($"--initial-states: unknown start distribution '{initialStates}'; expected one of: {string.Join(", ", InitialStateChoices)}");
        if (values is not null && sweep is null) throw CliException.BadInput("--values needs --sweep PARAMETER (the parameter the values are for)");
        if (sweep is not null)
        {
            if (planner is not null) throw CliException.BadInput("--sweep applies to hover policies, not to --planner");
            if (bundlePath is null || runDirectories.Length > 0) throw CliException.BadInput("--sweep takes exactly one BUNDLE (not --runs)");
            if (dynamicsPath is not null)
                throw CliException.BadInput("--dynamics does not combine with --sweep: the sweep holds every parameter but the swept one nominal");
        }
        if (bundlePath is not null && runDirectories.Length > 0) throw CliException.BadInput("give either a BUNDLE or --runs DIR…");
        CheckPaths(bundlePath, runDirectories, dynamicsPath, taskPath, plotPath);
        var request = new EvalRequest(bundlePath, runDirectories, episodes, dynamicsPath, seed, taskPath, plotPath, asJson, planner, seeds, sweep, values,
            initialStates, output, error);
        return EvalKinds.For(request).Evaluate(request);
    });

    /// <summary>A bundle for a quadrotor that is not a swarm's (a robot config without "kind" predates kinds and is a quadrotor).</summary>
    public static bool IsHoverBundle(PolicyBundle bundle) =>
        RobotKindOf(bundle) == "quadrotor" && !SwarmPolicySpec.IsSwarmBundle(bundle);

    /// <summary>The "kind" of the robot config a bundle carries ("quadrotor" when it names none).</summary>
    public static string? RobotKindOf(PolicyBundle bundle)
    {
        try
        {
            System.Text.Json.Nodes.JsonNode? kind = System.Text.Json.Nodes.JsonNode.Parse(bundle.RobotConfigJson, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip })?["kind"];
            return kind is null ? "quadrotor" : kind.GetValue<string>();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException) { return null; }
    }

    /// <summary>The hover task's evaluation: the success/crash evaluation of one or more bundles, or a robustness sweep of one.</summary>
    public static int EvaluateHover(EvalRequest r)
    {
        r.Refuse("hover", ("--planner", r.Planner is not null));
        string taskPath = RepoPaths.Find(r.TaskPath ?? BenchSimCommand.DefaultTask);
        if (r.Sweep is not null)
            return RunSweep(r.BundlePath, r.RunDirectories, r.Sweep, r.Values, r.Episodes ?? DefaultSweepEpisodes, r.DynamicsPath, r.Seed,
                taskPath, r.PlotPath, r.InitialStates ?? "task", r.AsJson, r.Output, r.Error);
        return Run(r.BundlePath, r.RunDirectories, r.Episodes ?? 1000, r.DynamicsPath, r.Seed, taskPath, r.PlotPath, r.AsJson, r.Output, r.Error,
            r.InitialStates ?? "task");
    }

    /// <summary>`--planner`'s value as planner names (comma-separated, each known, no repeats); null when it is not such a list.</summary>
    public static string[]? ParsePlanners(string value)
    {
        string[] names = value.Split(',', StringSplitOptions.TrimEntries);
        bool valid = names.All(n => Sims.DiffDrive.NavPlanners.Names.Contains(n)) && names.Distinct().Count() == names.Length;
        return valid ? names : null;
    }

    /// <summary>The start distribution an `--initial-states` choice names: null = the task's evaluation initial states.</summary>
    public static InitialStateConfig? InitialStatesFor(string choice) => choice == "l2f" ? InitialStateConfig.LearningToFly : null;

    /// <summary>One line saying where the episodes started.</summary>
    public static string DescribeInitialStates(string choice) => choice == "l2f"
        ? "l2f: \"Learning to Fly in Seconds\" starts (10 % at rest at the target; else ±0.2 m, any rotation up to 90°, ±1 m/s, ±1 rad/s)"
        : "task: the task's evaluation initial states";

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
        string? plotPath, bool asJson, TextWriter output, TextWriter error, string initialStates = "task") =>
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
                    TrajectoriesKept: k == 0 ? 20 : 0, InitialStates: InitialStatesFor(initialStates))));
            }
            string png = plotPath ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(bundles[0]))!, PlotFileName);
            PolicyEvaluator.WriteTrajectoryPlot(results[0], png, $"{Path.GetFileName(bundles[0])}: 20 evaluation episodes");

            var io = new CommandIo("eval", output, error, asJson);
            if (bundlePath is not null)
            {
                JsonObject one = JsonNode(results[0]);
                one["plot"] = png;
                one["initial_states"] = initialStates;
                if (!asJson)
                {
                    output.WriteLine($"policy  {bundlePath}");
                    output.WriteLine($"starts  {DescribeInitialStates(initialStates)}");
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
                o["initial_states"] = initialStates;
                return io.Result(o);
            }
            else
            {
                output.WriteLine($"starts  {DescribeInitialStates(initialStates)}");
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

    /// <summary>
    /// `--sweep PARAMETER`: the robustness envelope of one bundle (<see cref="RobustnessSweep"/>). Exit codes follow the CLI
    /// convention: 0 done, 2 bad input (flags, values, bundle, task), 3 a fault while running (e.g. the PNG cannot be written).
    /// Called inside <see cref="CommandIo.Run"/>: bad input is thrown as <see cref="CliException"/>.
    /// </summary>
    public static int RunSweep(string? bundlePath, string[] runDirectories, string parameterName, string? valuesText, int episodes,
        string? dynamicsPath, ulong seed, string taskPath, string? plotPath, string initialStates, bool asJson, TextWriter output, TextWriter error)
    {
        static int BadInput(string message) => throw CliException.BadInput(message);
        var io = new CommandIo("eval", output, error, asJson);
        if (!RobustnessSweep.TryParse(parameterName, out SweepParameter parameter))
            return BadInput($"--sweep: unknown parameter '{parameterName}'; expected one of: {string.Join(", ", RobustnessSweep.Names)}");
        if (bundlePath is null || runDirectories.Length > 0)
            return BadInput("--sweep takes exactly one BUNDLE (not --runs)");
        if (dynamicsPath is not null)
            return BadInput("--dynamics does not combine with --sweep: the sweep holds every parameter but the swept one nominal");
        if (episodes < 1) return BadInput("--episodes must be ≥ 1");
        if (!InitialStateChoices.Contains(initialStates))
            return BadInput($"--initial-states: unknown start distribution '{initialStates}'; expected one of: {string.Join(", ", InitialStateChoices)}");

        HoverTaskConfig task;
        PolicyBundle policy;
        try
        {
            task = HoverTaskConfig.Load(taskPath);
            policy = PolicyBundle.Read(bundlePath);
        }
        catch (Exception e) when (e is ConfigException or PolicyBundleException or IOException or UnauthorizedAccessException)
        {
            return BadInput(e.Message);
        }

        double[] values = RobustnessSweep.DefaultValues(parameter);
        if (valuesText is not null)
        {
            var parsed = new List<double>();
            foreach (string part in valuesText.Split(',', StringSplitOptions.TrimEntries))
            {
                if (!double.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
                    return BadInput($"--values: '{part}' is not a number; expected comma-separated numbers such as 0.5,1,1.5");
                parsed.Add(v);
            }
            values = parsed.ToArray();
        }
        foreach (double v in values)
            if (RobustnessSweep.Check(parameter, v, task) is { } problem) return BadInput($"--values: {problem}");

        string png = plotPath ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(bundlePath))!, $"sweep_{parameterName}.png");
        SweepResult result;
        try
        {
            result = RobustnessSweep.Run(policy, task, parameter, values, episodes, seed, InitialStatesFor(initialStates),
                (row, done, total) => error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"sweep {parameterName} {RobustnessSweep.Format(parameter, row.Value)}: success {row.SuccessRate * 100:F1} %, crashes {row.CrashRate * 100:F1} % ({done}/{total})")));
        }
        catch (Exception e) when (e is PolicyBundleException or ArgumentException)
        {
            return BadInput(e.Message); // a bundle for another robot or observation, a task the sweep cannot scale
        }
        try
        {
            RobustnessSweep.WritePlot(result, png, $"{Path.GetFileName(bundlePath)}: {parameterName} sweep ({result.Episodes} episodes per value, starts: {initialStates})");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw CliException.Fault($"--plot: cannot write {png}: {e.Message}");
        }

        var (low, high) = result.TrainingRange;
        (double Low, double High)? envelope = result.SuccessRange(0.9);
        if (asJson)
        {
            var o = new Dictionary<string, object?>
            {
                ["parameter"] = parameterName,
                ["training_range"] = new[] { low, high },
                ["rows"] = result.Rows.Select(r => new Dictionary<string, object?>
                {
                    ["value"] = r.Value,
                    ["success_rate"] = r.SuccessRate,
                    ["crash_rate"] = r.CrashRate,
                    ["inside_training_range"] = r.InsideTrainingRange,
                }).ToArray(),
                ["episodes"] = result.Episodes,
                ["seed"] = result.Seed,
                ["initial_states"] = initialStates,
                ["task"] = taskPath,
                ["unit"] = RobustnessSweep.Unit(parameter),
                ["success_90_range"] = envelope is { } e ? new[] { e.Low, e.High } : null,
                ["plot"] = png,
            };
            return io.Result(o);
        }
        output.WriteLine($"policy  {bundlePath}");
        output.WriteLine($"task    {taskPath} (evaluation rules and training ranges)");
        output.WriteLine($"starts  {DescribeInitialStates(initialStates)}");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"sweep   {parameterName} ({RobustnessSweep.Unit(parameter)}); {result.Episodes} episodes per value, seed {result.Seed}, everything else nominal"));
        output.WriteLine($"{"value",8}  {"success",8}  {"crashes",8}");
        foreach (SweepRow r in result.Rows)
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{RobustnessSweep.Format(parameter, r.Value),8}  {r.SuccessRate * 100,6:F1} %  {r.CrashRate * 100,6:F1} %{(r.InsideTrainingRange ? "  *" : "")}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"",8}  * inside the training range {low:G4}–{high:G4}"));
        output.WriteLine($"plot    {png}");
        SweepRow worst = result.Rows.MinBy(r => r.SuccessRate)!;
        string summary = envelope is { } range
            ? string.Create(CultureInfo.InvariantCulture, $"success ≥ 90 % from {range.Low:G4} to {range.High:G4}")
            : "success below 90 % at the nominal value";
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"sweep {parameterName}: {summary} (training range {low:G4}–{high:G4}); lowest {worst.SuccessRate:P1} at {worst.Value:G4}"));
        return 0;
    }

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
