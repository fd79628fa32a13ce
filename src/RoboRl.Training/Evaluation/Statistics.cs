namespace RoboRl.Training.Evaluation;

/// <summary>
/// Small, pure statistics for evaluation reports: percentiles, the interquartile mean (IQM) and its
/// stratified-bootstrap confidence interval, as recommended by Agarwal et al., "Deep Reinforcement Learning at
/// the Edge of the Statistical Precipice" (NeurIPS 2021): the IQM is robust to outlier runs yet uses half the
/// data, and the bootstrap gives an interval from few runs. Definitions follow the paper's library (rliable):
/// IQM = scipy.stats.trim_mean(x, 0.25), percentile = numpy's default (linear interpolation).
/// </summary>
public static class Statistics
{
    /// <summary>The <paramref name="percent"/>-th percentile (0–100) by linear interpolation between order statistics (numpy's default).</summary>
    public static double Percentile(IReadOnlyList<double> values, double percent)
    {
        if (values.Count == 0) throw new ArgumentException("no values", nameof(values));
        if (percent is < 0 or > 100 || double.IsNaN(percent)) throw new ArgumentOutOfRangeException(nameof(percent), percent, "must be in [0, 100]");
        double[] sorted = values.ToArray();
        Array.Sort(sorted);
        return SortedPercentile(sorted, percent);
    }

    static double SortedPercentile(double[] sorted, double percent)
    {
        double rank = percent / 100 * (sorted.Length - 1);
        int below = (int)Math.Floor(rank);
        int above = Math.Min(below + 1, sorted.Length - 1);
        double fraction = rank - below;
        return sorted[below] + fraction * (sorted[above] - sorted[below]);
    }

    /// <summary>
    /// Interquartile mean: sort, drop ⌊n/4⌋ values at each end, average the rest (scipy.stats.trim_mean(x, 0.25)).
    /// </summary>
    public static double InterquartileMean(IReadOnlyList<double> values)
    {
        if (values.Count == 0) throw new ArgumentException("no values", nameof(values));
        double[] sorted = values.ToArray();
        Array.Sort(sorted);
        return SortedInterquartileMean(sorted);
    }

    static double SortedInterquartileMean(double[] sorted)
    {
        int cut = sorted.Length / 4;
        double sum = 0;
        for (int i = cut; i < sorted.Length - cut; i++) sum += sorted[i];
        return sum / (sorted.Length - 2 * cut);
    }

    /// <summary>
    /// Percentile confidence interval of the IQM of all runs' scores pooled, by the stratified bootstrap: each
    /// resample draws, for every run separately, as many scores as that run has, with replacement, from that run
    /// (strata = runs, so every resample keeps every run's weight), then takes the pooled IQM.
    /// </summary>
    /// <param name="runs">Per run (e.g. per training seed), its per-episode scores.</param>
    /// <param name="resamples">Bootstrap resamples (rliable uses 2000 by default… 50 000 in the paper's figures).</param>
    /// <param name="confidence">Two-sided coverage, e.g. 0.95 → the 2.5th and 97.5th percentiles.</param>
    /// <param name="seed">Seed of the resampling (same seed, same interval).</param>
    public static (double Low, double High) StratifiedBootstrapIqmInterval(IReadOnlyList<IReadOnlyList<double>> runs,
        int resamples = 2000, double confidence = 0.95, ulong seed = 0)
        => StratifiedBootstrapInterval(runs, SortedInterquartileMean, resamples, confidence, seed);

    /// <summary>The same stratified bootstrap for the pooled mean (e.g. a success rate from 0/1 scores).</summary>
    public static (double Low, double High) StratifiedBootstrapMeanInterval(IReadOnlyList<IReadOnlyList<double>> runs,
        int resamples = 2000, double confidence = 0.95, ulong seed = 0)
        => StratifiedBootstrapInterval(runs, sorted => sorted.Average(), resamples, confidence, seed);

    static (double Low, double High) StratifiedBootstrapInterval(IReadOnlyList<IReadOnlyList<double>> runs, Func<double[], double> sortedEstimator,
        int resamples, double confidence, ulong seed)
    {
        if (runs.Count == 0 || runs.Any(r => r.Count == 0)) throw new ArgumentException("need at least one run, each with at least one score", nameof(runs));
        if (resamples < 1) throw new ArgumentOutOfRangeException(nameof(resamples));
        if (confidence is <= 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(confidence), confidence, "must be in (0, 1)");
        var random = new SeededRandom(seed);
        int total = runs.Sum(r => r.Count);
        var pooled = new double[total];
        var estimates = new double[resamples];
        for (int b = 0; b < resamples; b++)
        {
            int at = 0;
            foreach (IReadOnlyList<double> run in runs)
                for (int i = 0; i < run.Count; i++) pooled[at++] = run[random.NextInt(run.Count)];
            Array.Sort(pooled);
            estimates[b] = sortedEstimator(pooled);
        }
        Array.Sort(estimates);
        double tail = (1 - confidence) / 2 * 100;
        return (SortedPercentile(estimates, tail), SortedPercentile(estimates, 100 - tail));
    }
}
