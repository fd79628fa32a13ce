namespace RoboRl.Training.Tests;

/// <summary>n-step transitions on a hand-made reward stream (γ = 0.5 so the sums are exact in binary).</summary>
public class NStepReturnsTests
{
    readonly List<(float Obs, float Action, float Return, float Next, float Discount)> _emitted = [];

    [SetUp]
    public void Clear() => _emitted.Clear(); // NUnit shares one fixture instance between tests

    void Sink(ReadOnlySpan<float> o, ReadOnlySpan<float> co, ReadOnlySpan<float> a, float r, ReadOnlySpan<float> no, ReadOnlySpan<float> nco, float discount)
    {
        Assert.That(co[0], Is.EqualTo(o[0] + 100), "critic observation travels with its observation");
        _emitted.Add((o[0], a[0], r, no[0], discount));
    }

    void Step(NStepReturns n, float t, float reward, bool terminated = false, bool ended = false) =>
        n.Add(0, [t], [t + 100], [-t], reward, [t + 1], [t + 101], terminated, ended, Sink);

    [Test]
    public void ThreeStepReturnsAndFlushOnTruncation()
    {
        var n = new NStepReturns(numEnvs: 1, steps: 3, gamma: 0.5, observationSize: 1, criticObservationSize: 1, actionSize: 1);
        Step(n, 0, 1);
        Step(n, 1, 2);
        Assert.That(_emitted, Is.Empty, "nothing complete yet");
        Step(n, 2, 4);
        // s0: R = 1 + 0.5·2 + 0.25·4 = 3, bootstrapped from s3 with γ³ = 0.125
        Assert.That(_emitted, Is.EqualTo(new[] { (0f, -0f, 3f, 3f, 0.125f) }));
        Step(n, 3, 8, ended: true); // truncated: flush s1, s2, s3 with horizons 3, 2, 1, all from s4
        Assert.That(_emitted.Skip(1), Is.EqualTo(new[]
        {
            (1f, -1f, 2 + 0.5f * 4 + 0.25f * 8, 4f, 0.125f),
            (2f, -2f, 4 + 0.5f * 8, 4f, 0.25f),
            (3f, -3f, 8f, 4f, 0.5f),
        }));
    }

    [Test]
    public void TerminationCutsTheBootstrapAndStartsAfresh()
    {
        var n = new NStepReturns(1, 3, 0.5, 1, 1, 1);
        Step(n, 0, 1);
        Step(n, 1, 2, terminated: true, ended: true);
        Assert.That(_emitted, Is.EqualTo(new[] { (0f, -0f, 2f, 2f, 0f), (1f, -1f, 2f, 2f, 0f) }));
        _emitted.Clear();
        Step(n, 10, 1); Step(n, 11, 1);
        Assert.That(_emitted, Is.Empty, "the new episode does not mix with the old one");
        Step(n, 12, 1);
        Assert.That(_emitted.Single().Obs, Is.EqualTo(10f));
    }

    [Test]
    public void OneStepIsPlainTd()
    {
        var n = new NStepReturns(1, 1, 0.5, 1, 1, 1);
        Step(n, 0, 3);
        Step(n, 1, 5, terminated: true, ended: true);
        Assert.That(_emitted, Is.EqualTo(new[] { (0f, -0f, 3f, 1f, 0.5f), (1f, -1f, 5f, 2f, 0f) }));
    }
}
