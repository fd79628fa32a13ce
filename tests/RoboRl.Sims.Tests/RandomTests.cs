using System.Runtime.Intrinsics;
using RoboRl.Sims.Random;

namespace RoboRl.Sims.Tests;

public class RandomTests
{
    [Test]
    public void TableNormalsHaveUnitVarianceZeroMeanAndNormalTails()
    {
        var random = new LaneRandom(8);
        random.Seed(5, 3);
        const int n = 2_000_000;
        double sum = 0, squares = 0; int beyondOne = 0, beyondTwo = 0;
        for (int k = 0; k < n; k++)
        {
            double x = random.Normal(3);
            sum += x; squares += x * x;
            if (Math.Abs(x) > 1) beyondOne++;
            if (Math.Abs(x) > 2) beyondTwo++;
        }
        Assert.That(sum / n, Is.EqualTo(0).Within(0.003));
        Assert.That(Math.Sqrt(squares / n), Is.EqualTo(1).Within(0.003));
        Assert.That(beyondOne / (double)n, Is.EqualTo(0.3173).Within(0.002));
        Assert.That(beyondTwo / (double)n, Is.EqualTo(0.0455).Within(0.001));
    }

    [Test]
    public void WideAndScalarPathsDrawTheSameNumbers()
    {
        var a = new LaneRandom(16); var b = new LaneRandom(16);
        for (int i = 0; i < 16; i++) { a.Seed(77, i); b.Seed(77, i); }
        LaneRandom.Wide wide = a.Load(8);
        for (int draw = 0; draw < 100; draw++)
        {
            Vector256<float> w = wide.Normal();
            for (int lane = 0; lane < 8; lane++) Assert.That(w[lane], Is.EqualTo(b.Normal(8 + lane)));
        }
        a.Store(in wide, 8);
        for (int lane = 0; lane < 8; lane++) Assert.That(a.NextBits24(8 + lane), Is.EqualTo(b.NextBits24(8 + lane)));
    }

    [Test]
    public void StreamsDependOnSeedAndIndexOnly()
    {
        var a = new LaneRandom(8); var b = new LaneRandom(24);
        a.Seed(1, 5); b.Seed(1, 5); b.Seed(1, 6);
        for (int k = 0; k < 10; k++) Assert.That(a.NextBits24(5), Is.EqualTo(b.NextBits24(5)));
        Assert.That(b.NextBits24(6), Is.Not.EqualTo(a.NextBits24(5)));
    }
}
