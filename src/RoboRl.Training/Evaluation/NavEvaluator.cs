using System.Globalization;
using RoboRl.Core.Policy;
using RoboRl.Core.Tasks;
using RoboRl.Sims.DiffDrive;

namespace RoboRl.Training.Evaluation;

/// <summary>How to evaluate local planners on the navigation task.</summary>
/// <param name="Episodes">Held-out scenarios per simulator seed: seeds <see cref="NavMaps.HeldOutSeedBase"/> + FirstScenario + k.</param>
/// <param name="Seeds">Simulator seeds (sensor noise, slip); every seed replays the same scenarios. Strata of the bootstrap.</param>
/// <param name="FirstScenario">Offset of the first held-out scenario.</param>
/// <param name="PathsKept">Scenarios (the first ones) whose paths are kept for the plot.</param>
public sealed record NavEvalOptions(int Episodes = 100, IReadOnlyList<ulong>? Seeds = null, ulong FirstScenario = 0, int PathsKept = 4)
{
    public IReadOnlyList<ulong> SeedList => Seeds ?? [12345UL];
}

/// <summary>One evaluation episode.</summary>
/// <param name="Stratum">Which run × seed it belongs to (bootstrap stratum).</param>
/// <param name="TimeToGoal">Seconds until the goal was reached; NaN when it was not.</param>
/// <param name="StraightDistance">Start–goal distance, metres.</param>
public sealed record NavEpisode(int Stratum, ulong ScenarioSeed, NavOutcome Outcome, int Steps, double TimeToGoal, double PathLength, double StraightDistance);

/// <summary>A path kept for plotting: the robot's positions in one scenario.</summary>
public sealed record NavPath(int Scenario, ulong ScenarioSeed, float[] X, float[] Y, NavOutcome Outcome);

/// <summary>Metrics of one planner over all its strata, with IQMs and 95 % stratified-bootstrap intervals.</summary>
public sealed record NavEvalResult
{
    public required string Planner { get; init; }
    public required int Episodes { get; init; }
    public required int Strata { get; init; }
    public required double SuccessRate { get; init; }
    public required (double Low, double High) SuccessRateCi { get; init; }
    public required double CollisionRate { get; init; }
    public required double TimeoutRate { get; init; }
    /// <summary>Over successful episodes (NaN when none).</summary>
    public required double MedianTimeToGoal { get; init; }
    public required double IqmTimeToGoal { get; init; }
    public required (double Low, double High) IqmTimeToGoalCi { get; init; }
    public required double IqmPathLength { get; init; }
    public required (double Low, double High) IqmPathLengthCi { get; init; }
    /// <summary>Path length / straight start–goal distance, IQM over successful episodes.</summary>
    public required double IqmPathRatio { get; init; }
    public required IReadOnlyList<NavEpisode> EpisodeList { get; init; }
    /// <summary>Paths of the first kept scenarios, from the first stratum.</summary>
    public required IReadOnlyList<NavPath> Paths { get; init; }
}

/// <summary>A learned policy as a planner: the bundle's engine on the actor observation row (clamped to [−1, 1]).</summary>
public sealed class PolicyNavPlanner(PolicyBundle bundle, string name = "policy") : INavPlanner
{
    private readonly PolicyEngine _engine = new(bundle);

    public string Name => name;

    public void Act(in NavPlannerInput input, Span<float> action)
    {
        _engine.Forward(input.Observation, action);
        for (int k = 0; k < action.Length; k++) action[k] = Math.Clamp(action[k], -1f, 1f);
    }
}

/// <summary>
/// Evaluates local planners on held-out navigation scenarios (scenario seeds from <see cref="NavMaps.HeldOutSeedBase"/>,
/// never drawn in training): success rate, collisions, time to goal and path length, with the interquartile mean and
/// 95 % stratified-bootstrap intervals (<see cref="Statistics"/>, Agarwal et al. 2021) whose strata are the runs
/// (e.g. training seeds) × simulator seeds. Every planner sees the same scenarios.
/// </summary>
public static class NavEvaluator
{
    /// <summary>Evaluates <paramref name="runs"/> (one planner per run: the same planner once, or one per training seed) as one result.</summary>
    public static NavEvalResult Evaluate(NavTaskConfig task, IReadOnlyList<INavPlanner> runs, NavEvalOptions options, Action<string>? progress = null)
    {
        if (runs.Count == 0) throw new ArgumentException("need at least one planner run", nameof(runs));
        if (options.Episodes < 1) throw new ArgumentOutOfRangeException(nameof(options), options.Episodes, "episodes must be >= 1");
        var episodes = new List<NavEpisode>();
        var paths = new List<NavPath>();
        int stratum = 0;
        foreach (INavPlanner planner in runs)
        {
            foreach (ulong seed in options.SeedList)
            {
                progress?.Invoke($"{planner.Name}: stratum {stratum + 1}/{runs.Count * options.SeedList.Count} (seed {seed}), {options.Episodes} scenarios");
                RunStratum(task, planner, options, seed, stratum, episodes, stratum == 0 ? paths : null);
                stratum++;
            }
        }
        return Summarise(runs[0].Name, stratum, episodes, paths);
    }

    private static void RunStratum(NavTaskConfig task, INavPlanner planner, NavEvalOptions options, ulong seed, int stratum,
        List<NavEpisode> episodes, List<NavPath>? paths)
    {
        int n = options.Episodes;
        using var env = new NavEnv(task, n, threadCount: 1);
        env.Reset(seed);
        var scenario = new ulong[n];
        var straight = new double[n];
        for (int i = 0; i < n; i++)
        {
            scenario[i] = NavMaps.HeldOutSeedBase + options.FirstScenario + (ulong)i;
            env.ResetScenario(i, scenario[i]);
            straight[i] = env.GoalDistance(i);
        }
        int kept = paths is null ? 0 : Math.Min(options.PathsKept, n);
        var xs = new List<float>[kept];
        var ys = new List<float>[kept];
        for (int i = 0; i < kept; i++) { xs[i] = [env.X(i)]; ys[i] = [env.Y(i)]; }

        planner.Reset(n); // every slot starts a fresh episode: a planner's maps and paths are per episode
        var done = new bool[n];
        var actions = new float[2 * n];
        int remaining = n, obs = env.ActorObservationSize, goalOffset = NavObservation.GoalOffset(task.ScanBins);
        while (remaining > 0)
        {
            for (int i = 0; i < n; i++)
            {
                if (done[i]) { actions[2 * i] = 0; actions[2 * i + 1] = 0; continue; }
                ReadOnlySpan<float> row = env.ActorObservations.Slice(i * obs, obs);
                var input = new NavPlannerInput
                {
                    Observation = row,
                    Scan = env.Scan(i),
                    GoalDistance = row[goalOffset],
                    GoalBearing = MathF.Atan2(row[goalOffset + 1], row[goalOffset + 2]),
                    LinearVelocity = env.LinearVelocity(i),
                    AngularVelocity = env.AngularVelocity(i),
                    Robot = i,
                };
                planner.Act(input, actions.AsSpan(2 * i, 2));
            }
            env.Step(actions);
            for (int i = 0; i < n; i++)
            {
                if (done[i]) continue;
                bool finished = env.Terminated[i] || env.Truncated[i];
                if (i < kept && !finished) { xs[i].Add(env.X(i)); ys[i].Add(env.Y(i)); }
                if (!finished) continue;
                done[i] = true;
                remaining--;
                NavOutcome outcome = env.FinishedEpisodeOutcomes[i];
                int steps = env.FinishedEpisodeLengths[i];
                episodes.Add(new NavEpisode(stratum, scenario[i], outcome, steps,
                    outcome == NavOutcome.Goal ? steps * (double)task.ControlDt : double.NaN, env.FinishedPathLengths[i], straight[i]));
                if (i < kept) paths!.Add(new NavPath(i, scenario[i], xs[i].ToArray(), ys[i].ToArray(), outcome));
            }
        }
        paths?.Sort((a, b) => a.Scenario.CompareTo(b.Scenario));
    }

    private static NavEvalResult Summarise(string name, int strata, List<NavEpisode> episodes, List<NavPath> paths)
    {
        IReadOnlyList<double>[] PerStratum(Func<NavEpisode, bool> where, Func<NavEpisode, double> value)
            => Enumerable.Range(0, strata).Select(s => (IReadOnlyList<double>)episodes.Where(e => e.Stratum == s && where(e)).Select(value).ToArray())
                .Where(r => r.Count > 0).ToArray();
        double Rate(NavOutcome o) => episodes.Count(e => e.Outcome == o) / (double)episodes.Count;

        var success = PerStratum(_ => true, e => e.Outcome == NavOutcome.Goal ? 1 : 0);
        var times = PerStratum(e => e.Outcome == NavOutcome.Goal, e => e.TimeToGoal);
        var lengths = PerStratum(e => e.Outcome == NavOutcome.Goal, e => e.PathLength);
        var ratios = PerStratum(e => e.Outcome == NavOutcome.Goal, e => e.PathLength / Math.Max(1e-6, e.StraightDistance));
        (double, double) None = (double.NaN, double.NaN);
        double[] allTimes = times.SelectMany(t => t).ToArray();
        return new NavEvalResult
        {
            Planner = name,
            Episodes = episodes.Count,
            Strata = strata,
            SuccessRate = Rate(NavOutcome.Goal),
            SuccessRateCi = Statistics.StratifiedBootstrapMeanInterval(success),
            CollisionRate = Rate(NavOutcome.Collision),
            TimeoutRate = Rate(NavOutcome.Timeout),
            MedianTimeToGoal = allTimes.Length == 0 ? double.NaN : Statistics.Percentile(allTimes, 50),
            IqmTimeToGoal = allTimes.Length == 0 ? double.NaN : Statistics.InterquartileMean(allTimes),
            IqmTimeToGoalCi = times.Length == 0 ? None : Statistics.StratifiedBootstrapIqmInterval(times),
            IqmPathLength = lengths.Length == 0 ? double.NaN : Statistics.InterquartileMean(lengths.SelectMany(l => l).ToArray()),
            IqmPathLengthCi = lengths.Length == 0 ? None : Statistics.StratifiedBootstrapIqmInterval(lengths),
            IqmPathRatio = ratios.Length == 0 ? double.NaN : Statistics.InterquartileMean(ratios.SelectMany(l => l).ToArray()),
            EpisodeList = episodes,
            Paths = paths,
        };
    }

    /// <summary>One line of figures.</summary>
    public static string Summary(NavEvalResult r) => string.Create(CultureInfo.InvariantCulture,
        $"{r.Planner}: {r.Episodes} episodes ({r.Strata} strata): success {r.SuccessRate:P1} [95 % CI {r.SuccessRateCi.Low:P1}, {r.SuccessRateCi.High:P1}], " +
        $"collisions {r.CollisionRate:P1}, timeouts {r.TimeoutRate:P1}; time to goal median {r.MedianTimeToGoal:F1} s, IQM {r.IqmTimeToGoal:F1} s " +
        $"[{r.IqmTimeToGoalCi.Low:F1}, {r.IqmTimeToGoalCi.High:F1}]; path IQM {r.IqmPathLength:F2} m [{r.IqmPathLengthCi.Low:F2}, {r.IqmPathLengthCi.High:F2}], " +
        $"{r.IqmPathRatio:F2}× the straight line");

    /// <summary>The figures as a JSON-ready dictionary (NaN → null).</summary>
    public static Dictionary<string, object?> JsonObject(NavEvalResult r)
    {
        static double? F(double v) => double.IsFinite(v) ? Math.Round(v, 4) : null;
        return new Dictionary<string, object?>
        {
            ["planner"] = r.Planner,
            ["episodes"] = r.Episodes,
            ["strata"] = r.Strata,
            ["success_rate"] = F(r.SuccessRate),
            ["success_rate_ci95"] = new[] { F(r.SuccessRateCi.Low), F(r.SuccessRateCi.High) },
            ["collision_rate"] = F(r.CollisionRate),
            ["timeout_rate"] = F(r.TimeoutRate),
            ["time_to_goal_median_s"] = F(r.MedianTimeToGoal),
            ["time_to_goal_iqm_s"] = F(r.IqmTimeToGoal),
            ["time_to_goal_iqm_ci95"] = new[] { F(r.IqmTimeToGoalCi.Low), F(r.IqmTimeToGoalCi.High) },
            ["path_length_iqm_m"] = F(r.IqmPathLength),
            ["path_length_iqm_ci95"] = new[] { F(r.IqmPathLengthCi.Low), F(r.IqmPathLengthCi.High) },
            ["path_ratio_iqm"] = F(r.IqmPathRatio),
        };
    }

    /// <summary>
    /// A PNG of the kept scenarios side by side (each map shifted right by its size + 0.5 m): walls, obstacles, start
    /// (circle), goal (star, goal radius dashed) and every planner's path in its own colour.
    /// </summary>
    public static void WritePathPlot(NavTaskConfig task, IReadOnlyList<NavEvalResult> results, string path)
    {
        var plot = new ScottPlot.Plot();
        int maps = results.Max(r => r.Paths.Count);
        float size = task.Map.Size, h = size / 2, gap = 0.5f;
        var scenarioMaps = new NavMaps(task.Map, task.Robot.RobotRadius, 1);
        ScottPlot.Color[] colours = [ScottPlot.Colors.Blue, ScottPlot.Colors.OrangeRed, ScottPlot.Colors.Green, ScottPlot.Colors.Purple];
        for (int m = 0; m < maps; m++)
        {
            NavPath? any = results.Select(r => m < r.Paths.Count ? r.Paths[m] : null).FirstOrDefault(p => p is not null);
            if (any is null) continue;
            scenarioMaps.Generate(0, any.ScenarioSeed);
            double dx = m * (size + gap);
            var wall = plot.Add.Rectangle(dx - h, dx + h, -h, h);
            wall.FillStyle.Color = ScottPlot.Colors.Transparent;
            wall.LineStyle.Color = ScottPlot.Colors.Black;
            for (int k = 0; k < scenarioMaps.CircleCount[0]; k++)
            {
                var c = plot.Add.Circle(dx + scenarioMaps.CircleX[k], scenarioMaps.CircleY[k], scenarioMaps.CircleRadius[k]);
                c.FillStyle.Color = ScottPlot.Colors.Gray;
                c.LineStyle.Color = ScottPlot.Colors.DimGray;
            }
            for (int k = 0; k < scenarioMaps.BoxCount[0]; k++)
            {
                var b = plot.Add.Rectangle(dx + scenarioMaps.BoxMinX[k], dx + scenarioMaps.BoxMaxX[k], scenarioMaps.BoxMinY[k], scenarioMaps.BoxMaxY[k]);
                b.FillStyle.Color = ScottPlot.Colors.Gray;
                b.LineStyle.Color = ScottPlot.Colors.DimGray;
            }
            plot.Add.Marker(dx + scenarioMaps.StartX[0], scenarioMaps.StartY[0], ScottPlot.MarkerShape.FilledCircle, 8, ScottPlot.Colors.Black);
            plot.Add.Marker(dx + scenarioMaps.GoalX[0], scenarioMaps.GoalY[0], ScottPlot.MarkerShape.FilledDiamond, 10, ScottPlot.Colors.Gold);
            var goal = plot.Add.Circle(dx + scenarioMaps.GoalX[0], scenarioMaps.GoalY[0], task.GoalRadius);
            goal.FillStyle.Color = ScottPlot.Colors.Transparent;
            goal.LineStyle.Color = ScottPlot.Colors.DarkGoldenRod;
            goal.LineStyle.Pattern = ScottPlot.LinePattern.Dashed;
            for (int r = 0; r < results.Count; r++)
            {
                if (m >= results[r].Paths.Count) continue;
                NavPath p = results[r].Paths[m];
                var line = plot.Add.ScatterLine(p.X.Select(v => dx + v).ToArray(), p.Y.Select(v => (double)v).ToArray());
                line.Color = colours[r % colours.Length];
                line.LineWidth = 2;
                if (m == 0) line.LegendText = results[r].Planner;
                if (p.Outcome == NavOutcome.Collision)
                    plot.Add.Marker(dx + p.X[^1], p.Y[^1], ScottPlot.MarkerShape.Eks, 12, colours[r % colours.Length]);
            }
        }
        plot.Title(string.Create(CultureInfo.InvariantCulture, $"held-out scenarios: {string.Join(" vs ", results.Select(r => $"{r.Planner} {r.SuccessRate:P0} success"))} (x = collision)"));
        plot.XLabel("x (m), maps side by side");
        plot.YLabel("y (m)");
        plot.Axes.SquareUnits();
        plot.ShowLegend();
        plot.SavePng(path, Math.Max(600, 300 * maps), 420);
    }
}
