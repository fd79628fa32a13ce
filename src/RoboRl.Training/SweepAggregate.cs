using System.Globalization;
using System.Text.Json.Nodes;
using RoboRl.Training.Evaluation;

namespace RoboRl.Training;

/// <summary>
/// The rliable aggregate of a sweep (Agarwal et al., "Deep Reinforcement Learning at the Edge of the Statistical
/// Precipice", NeurIPS 2021), per configuration over its seeds' scores: the interquartile mean with a 95 % stratified
/// bootstrap interval (one task, so the stratum is the configuration's runs: rliable's bootstrap over runs), the mean
/// with its interval, the optimality gap (mean shortfall below a success rate of 1), and the performance profile —
/// the fraction of runs scoring above τ, for τ over [0, 1] — with a 95 % bootstrap band. Written as aggregate.json,
/// iqm.png and performance_profile.png in the sweep directory.
/// </summary>
public static class SweepAggregate
{
    public const string FileName = "aggregate.json";
    public const int Resamples = 2000;
    public const ulong BootstrapSeed = 0;
    /// <summary>τ of the performance profile: 0, 0.05, …, 1 (success rates).</summary>
    public static readonly double[] Thresholds = Enumerable.Range(0, 21).Select(i => i / 20.0).ToArray();

    /// <summary>One configuration's scores (one per seed, or per PBT member), in seed order.</summary>
    public sealed record Group(string Id, IReadOnlyDictionary<string, JsonNode> Parameters, IReadOnlyList<double> Scores);

    /// <summary>The groups of a finished sweep: per configuration its trials' scores; PBT: the population's final segment scores.</summary>
    public static IReadOnlyList<Group> Groups(SweepState state)
    {
        if (state.Pbt is { } pbt)
        {
            var finals = pbt.Members.Select(m => m.Segments.OrderBy(s => s.Generation).LastOrDefault(s => s.Status == SweepState.Finished)?.Score?.SuccessRate)
                .Where(s => s is not null).Select(s => s!.Value).ToList();
            return finals.Count == 0 ? [] : [new Group("population", new Dictionary<string, JsonNode>(), finals)];
        }
        return state.Configurations.Select(c => new Group(c.Id, c.Parameters,
                state.Trials.Where(t => t.Configuration == c.Id && t.Score is not null).OrderBy(t => t.Seed).Select(t => t.Score!.SuccessRate).ToList()))
            .Where(g => g.Scores.Count > 0).ToList();
    }

    /// <summary>Computes the aggregate, writes aggregate.json and the two plots, and returns the JSON.</summary>
    public static JsonObject Write(SweepState state, string directory)
    {
        IReadOnlyList<Group> groups = Groups(state);
        var configurations = new JsonArray();
        var profiles = new List<(string Id, double[] Fraction, double[] Low, double[] High)>();
        foreach (Group group in groups)
        {
            JsonObject entry = Compute(group, out double[] fraction, out double[] low, out double[] high);
            configurations.Add(entry);
            profiles.Add((group.Id, fraction, low, high));
        }
        var json = new JsonObject
        {
            ["sweep"] = state.Name,
            ["mode"] = state.Mode,
            ["score"] = state.Score,
            ["confidence"] = 0.95,
            ["bootstrap_resamples"] = Resamples,
            ["configurations"] = configurations,
        };
        if (groups.Count > 0)
        {
            JsonNode best = configurations.OrderByDescending(c => c!["iqm"]!.GetValue<double>()).First()!;
            json["best_configuration"] = best["id"]!.GetValue<string>();
        }
        if (state.Pbt is { } pbt)
        {
            json["pbt_exploits"] = pbt.Lineage.Count;
            json["pbt_final_parameters"] = new JsonObject(pbt.Members.Select(m =>
                KeyValuePair.Create(m.Id, (JsonNode?)new JsonObject(m.Parameters.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value.DeepClone()))))));
        }
        string temporary = Path.Combine(directory, FileName + ".tmp");
        File.WriteAllText(temporary, json.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        File.Move(temporary, Path.Combine(directory, FileName), overwrite: true);
        if (groups.Count > 0)
        {
            WriteIqmPlot(groups, configurations, Path.Combine(directory, "iqm.png"), state.Score);
            WriteProfilePlot(profiles, Path.Combine(directory, "performance_profile.png"), state.Score);
        }
        return json;
    }

    /// <summary>One configuration's entry: IQM, mean and optimality gap with 95 % bootstrap intervals, and its profile.</summary>
    public static JsonObject Compute(Group group, out double[] fraction, out double[] low, out double[] high)
    {
        IReadOnlyList<double> scores = group.Scores;
        // One task: the stratum is the configuration's runs, resampled with replacement (rliable's stratified bootstrap).
        IReadOnlyList<IReadOnlyList<double>> strata = [scores];
        var iqmCi = Statistics.StratifiedBootstrapIqmInterval(strata, Resamples, 0.95, BootstrapSeed);
        var meanCi = Statistics.StratifiedBootstrapMeanInterval(strata, Resamples, 0.95, BootstrapSeed);
        double gap = scores.Average(s => Math.Max(0, 1 - s));
        // The profile's band: the same resamples of the runs, each giving a profile; 2.5th and 97.5th percentile per τ.
        fraction = Thresholds.Select(t => Above(scores, t)).ToArray();
        var resampled = new double[Thresholds.Length][];
        for (int k = 0; k < Thresholds.Length; k++) resampled[k] = new double[Resamples];
        var random = new SeededRandom(BootstrapSeed ^ 0xBA5EUL);
        var sample = new double[scores.Count];
        for (int b = 0; b < Resamples; b++)
        {
            for (int i = 0; i < sample.Length; i++) sample[i] = scores[random.NextInt(scores.Count)];
            for (int k = 0; k < Thresholds.Length; k++) resampled[k][b] = Above(sample, Thresholds[k]);
        }
        low = resampled.Select(r => Statistics.Percentile(r, 2.5)).ToArray();
        high = resampled.Select(r => Statistics.Percentile(r, 97.5)).ToArray();
        var profile = new JsonArray();
        for (int k = 0; k < Thresholds.Length; k++)
            profile.Add(new JsonObject { ["tau"] = Thresholds[k], ["fraction"] = fraction[k], ["ci_low"] = low[k], ["ci_high"] = high[k] });
        return new JsonObject
        {
            ["id"] = group.Id,
            ["parameters"] = new JsonObject(group.Parameters.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value.DeepClone()))),
            ["runs"] = scores.Count,
            ["scores"] = new JsonArray(scores.Select(s => (JsonNode?)s).ToArray()),
            ["iqm"] = Statistics.InterquartileMean(scores),
            ["iqm_ci_low"] = iqmCi.Low,
            ["iqm_ci_high"] = iqmCi.High,
            ["mean"] = scores.Average(),
            ["mean_ci_low"] = meanCi.Low,
            ["mean_ci_high"] = meanCi.High,
            ["optimality_gap"] = gap,
            ["performance_profile"] = profile,
        };
    }

    static double Above(IReadOnlyList<double> scores, double threshold) => scores.Count(s => s > threshold) / (double)scores.Count;

    /// <summary>The table printed at the end: one row per configuration.</summary>
    public static IEnumerable<string> Table(JsonObject aggregate)
    {
        yield return $"{"config",-10} {"runs",4} {"IQM",7} {"95 % CI",17} {"mean",7} {"opt. gap",8}  parameters";
        foreach (JsonNode? c in aggregate["configurations"]!.AsArray())
        {
            var parameters = c!["parameters"]!.AsObject().ToDictionary(p => p.Key, p => p.Value!);
            yield return string.Create(CultureInfo.InvariantCulture,
                $"{c["id"]!.GetValue<string>(),-10} {c["runs"]!.GetValue<int>(),4} {c["iqm"]!.GetValue<double>(),7:F3} [{c["iqm_ci_low"]!.GetValue<double>(),6:F3}, {c["iqm_ci_high"]!.GetValue<double>(),6:F3}] {c["mean"]!.GetValue<double>(),7:F3} {c["optimality_gap"]!.GetValue<double>(),8:F3}  {Sweep.Describe(parameters)}");
        }
    }

    static void WriteIqmPlot(IReadOnlyList<Group> groups, JsonArray entries, string path, string score)
    {
        var plot = new ScottPlot.Plot();
        for (int i = 0; i < groups.Count; i++)
        {
            JsonNode e = entries[i]!;
            double iqm = e["iqm"]!.GetValue<double>(), low = e["iqm_ci_low"]!.GetValue<double>(), high = e["iqm_ci_high"]!.GetValue<double>();
            var interval = plot.Add.Line(i, low, i, high);
            interval.LineWidth = 6;
            interval.LineColor = ScottPlot.Colors.SteelBlue.WithAlpha(0.5);
            var point = plot.Add.Scatter(new[] { (double)i }, new[] { iqm });
            point.MarkerSize = 10;
            point.LineWidth = 0;
            point.Color = ScottPlot.Colors.Black;
        }
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, groups.Count).Select(i => (double)i).ToArray(),
            groups.Select(g => g.Parameters.Count == 0 ? g.Id : $"{g.Id}: {Sweep.Describe(g.Parameters)}").ToArray());
        plot.Axes.SetLimitsX(-0.5, groups.Count - 0.5);
        plot.Axes.SetLimitsY(-0.05, 1.05);
        plot.Title($"IQM of {score} (bars: 95 % bootstrap CI)");
        plot.YLabel(score);
        plot.SavePng(path, Math.Max(800, 200 * groups.Count), 450);
    }

    static void WriteProfilePlot(List<(string Id, double[] Fraction, double[] Low, double[] High)> profiles, string path, string score)
    {
        var plot = new ScottPlot.Plot();
        ScottPlot.IPalette palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < profiles.Count; i++)
        {
            var (id, fraction, low, high) = profiles[i];
            ScottPlot.Color color = palette.GetColor(i);
            var line = plot.Add.ScatterLine(Thresholds, fraction);
            line.LegendText = id;
            line.Color = color;
            line.LineWidth = 2;
            // A profile is a step function of τ: the value at τ_k holds until τ_k+1.
            line.ConnectStyle = ScottPlot.ConnectStyle.StepHorizontal;
            foreach (double[] band in new[] { low, high })
            {
                var edge = plot.Add.ScatterLine(Thresholds, band);
                edge.Color = color.WithAlpha(0.5);
                edge.LinePattern = ScottPlot.LinePattern.Dashed;
                edge.ConnectStyle = ScottPlot.ConnectStyle.StepHorizontal;
            }
        }
        plot.Title($"Runs with {score} > τ (dashed: 95 % bootstrap band)");
        plot.XLabel("τ");
        plot.YLabel("fraction of runs");
        plot.Axes.SetLimits(0, 1, -0.05, 1.05);
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        plot.SavePng(path, 900, 500);
    }
}
