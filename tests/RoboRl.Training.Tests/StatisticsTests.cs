using RoboRl.Training.Evaluation;

namespace RoboRl.Training.Tests;

/// <summary>Percentiles, IQM and the stratified bootstrap on hand-made data with known answers.</summary>
public class StatisticsTests
{
    [Test]
    public void PercentileInterpolatesLinearlyLikeNumpy()
    {
        // numpy.percentile([1, 2, 3, 4], 50) = 2.5; ([1..5], 95) = 4.8; ([10, 20], 25) = 12.5
        Assert.That(Statistics.Percentile([4, 1, 3, 2], 50), Is.EqualTo(2.5).Within(1e-12));
        Assert.That(Statistics.Percentile([1, 2, 3, 4, 5], 95), Is.EqualTo(4.8).Within(1e-12));
        Assert.That(Statistics.Percentile([20, 10], 25), Is.EqualTo(12.5).Within(1e-12));
        Assert.That(Statistics.Percentile([7], 95), Is.EqualTo(7));
        Assert.That(Statistics.Percentile([1, 2, 3], 0), Is.EqualTo(1));
        Assert.That(Statistics.Percentile([1, 2, 3], 100), Is.EqualTo(3));
        Assert.Throws<ArgumentException>(() => Statistics.Percentile([], 50));
        Assert.Throws<ArgumentOutOfRangeException>(() => Statistics.Percentile([1], 101));
    }

    [Test]
    public void InterquartileMeanTrimsAQuarterAtEachEndLikeScipyTrimMean()
    {
        // scipy.stats.trim_mean(range(1, 9), 0.25) = mean(3, 4, 5, 6) = 4.5
        Assert.That(Statistics.InterquartileMean([8, 1, 7, 2, 6, 3, 5, 4]), Is.EqualTo(4.5).Within(1e-12));
        // n = 5: cut ⌊5/4⌋ = 1 each end → mean(2, 3, 4) = 3, whatever the outlier
        Assert.That(Statistics.InterquartileMean([1, 2, 3, 4, 1000]), Is.EqualTo(3).Within(1e-12));
        // n = 3: nothing trimmed
        Assert.That(Statistics.InterquartileMean([1, 2, 6]), Is.EqualTo(3).Within(1e-12));
        // 12 values, 3 trimmed each end: mean of 4..9 = 6.5
        Assert.That(Statistics.InterquartileMean(Enumerable.Range(1, 12).Select(i => (double)i).ToArray()), Is.EqualTo(6.5).Within(1e-12));
    }

    [Test]
    public void BootstrapOfConstantRunsCollapsesToTheConstant()
    {
        var runs = new[] { new double[] { 2, 2, 2 }, new double[] { 2, 2 } };
        var (low, high) = Statistics.StratifiedBootstrapIqmInterval(runs, resamples: 200);
        Assert.That(low, Is.EqualTo(2));
        Assert.That(high, Is.EqualTo(2));
    }

    [Test]
    public void BootstrapOfTwoValuesSpansTheirExactResamplingDistribution()
    {
        // One run {0, 1}: resamples {0,0} (p = 1/4, IQM 0), {0,1} (1/2, IQM 0.5), {1,1} (1/4, IQM 1).
        // The 2.5th and 97.5th percentiles of that distribution are 0 and 1.
        var (low, high) = Statistics.StratifiedBootstrapIqmInterval([new double[] { 0, 1 }], resamples: 4000, seed: 3);
        Assert.That(low, Is.EqualTo(0));
        Assert.That(high, Is.EqualTo(1));
        // A 40 % interval excludes both tails (each 25 %): it is exactly the middle value.
        var (low40, high40) = Statistics.StratifiedBootstrapIqmInterval([new double[] { 0, 1 }], resamples: 4000, confidence: 0.4, seed: 3);
        Assert.That(low40, Is.EqualTo(0.5));
        Assert.That(high40, Is.EqualTo(0.5));
    }

    [Test]
    public void BootstrapIsStratifiedByRun()
    {
        // Run A is all 0, run B all 10. Resampling within runs keeps 4 zeros and 4 tens in every resample, so the
        // pooled IQM (middle 4 of 8 = two 0s and two 10s) is always 5; pooled resampling would spread it.
        var runs = new[] { new double[] { 0, 0, 0, 0 }, new double[] { 10, 10, 10, 10 } };
        var (low, high) = Statistics.StratifiedBootstrapIqmInterval(runs, resamples: 500, seed: 9);
        Assert.That(low, Is.EqualTo(5));
        Assert.That(high, Is.EqualTo(5));
    }

    [Test]
    public void BootstrapIntervalContainsTheEstimateAndNarrowsWithMoreEpisodes()
    {
        var random = new Random(5);
        double[][] Runs(int episodes) => Enumerable.Range(0, 3)
            .Select(r => Enumerable.Range(0, episodes).Select(_ => r + random.NextDouble() * 10).ToArray()).ToArray();
        double[][] few = Runs(20), many = Runs(2000);
        double estimate = Statistics.InterquartileMean(few.SelectMany(r => r).ToArray());
        var (low, high) = Statistics.StratifiedBootstrapIqmInterval(few, seed: 1);
        Assert.That(estimate, Is.InRange(low, high));
        var (manyLow, manyHigh) = Statistics.StratifiedBootstrapIqmInterval(many, resamples: 300, seed: 1);
        Assert.That(manyHigh - manyLow, Is.LessThan((high - low) / 3), "10 % of the episodes' √100 = 10× wider interval, roughly");
        // Same seed, same interval.
        Assert.That(Statistics.StratifiedBootstrapIqmInterval(few, seed: 1), Is.EqualTo((low, high)));
    }
}
