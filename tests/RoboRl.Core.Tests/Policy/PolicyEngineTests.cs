using System.Runtime.Intrinsics;
using RoboRl.Core.Policy;

namespace RoboRl.Core.Tests.Policy;

public class PolicyEngineTests
{
    static readonly PolicyKernel[] AllKernels = [PolicyKernel.Vector256, PolicyKernel.Vector128, PolicyKernel.Scalar];

    static IEnumerable<TestCaseData> Shapes()
    {
        foreach (PolicyKernel kernel in new[] { PolicyKernel.Vector256, PolicyKernel.Vector128, PolicyKernel.Scalar })
        {
            yield return new TestCaseData(new[] { 149, 64, 64, 4 }, Activation.Relu, kernel).SetArgDisplayNames("149-64-64-4 relu", kernel.ToString());
            yield return new TestCaseData(new[] { 149, 64, 64, 4 }, Activation.Tanh, kernel).SetArgDisplayNames("149-64-64-4 tanh", kernel.ToString());
            // 70 outputs = one 64-block + one single vector (Vector128: 2 × 32-blocks + one pair); 33 = 32-block + one
            // more; 13 and 5 inputs hit every remainder of the input splits.
            yield return new TestCaseData(new[] { 13, 70, 33, 5 }, Activation.Relu, kernel).SetArgDisplayNames("13-70-33-5 relu", kernel.ToString());
            yield return new TestCaseData(new[] { 3, 2 }, Activation.Relu, kernel).SetArgDisplayNames("3-2 linear-tanh", kernel.ToString());
        }
    }

    [TestCaseSource(nameof(Shapes))]
    public void MatchesADoublePrecisionReference(int[] sizes, Activation hidden, PolicyKernel kernel)
    {
        PolicyBundle bundle = TestBundles.Create(sizes, seed: 11, hidden);
        var engine = new PolicyEngine(bundle, kernel);
        Assert.That(engine.Kernel, Is.EqualTo(kernel));
        var random = new Random(5);
        var observation = new float[sizes[0]];
        var action = new float[sizes[^1]];
        double worst = 0;
        for (int n = 0; n < 1000; n++)
        {
            for (int i = 0; i < observation.Length; i++) observation[i] = (float)(random.NextDouble() * 6 - 3);
            engine.Forward(observation, action);
            float[] expected = TestBundles.ReferenceForward(bundle, observation);
            for (int j = 0; j < action.Length; j++) worst = Math.Max(worst, Math.Abs(action[j] - expected[j]));
            Assert.That(action.All(a => a is >= -1f and <= 1f), "tanh output stays in [-1, 1]");
        }
        Assert.That(worst, Is.LessThanOrEqualTo(1e-5));
        Assert.That(worst, Is.GreaterThanOrEqualTo(0)); // guards against NaN slipping through Max
    }

    [Test]
    public void SelfCheckPassesOnTheBundlesGoldenVectorsAndFailsOnTamperedOnes()
    {
        PolicyBundle bundle = TestBundles.Create([149, 64, 64, 4]);
        Assert.That(new PolicyEngine(bundle).Kernel, Is.EqualTo(Vector256.IsHardwareAccelerated ? PolicyKernel.Vector256 : PolicyKernel.Vector128));
        foreach (PolicyKernel kernel in AllKernels) new PolicyEngine(bundle, kernel).SelfCheck();

        float[] tampered = bundle.GoldenActions.ToArray();
        tampered[2] += 1e-3f;
        var error = Assert.Throws<PolicyBundleException>(() => new PolicyEngine(bundle.WithGoldenVectors(bundle.GoldenObservations, tampered)).SelfCheck())!;
        Assert.That(error.Field, Is.EqualTo("golden.actions"));
    }

    [Test]
    public void TanhKernelIsAccurateOverTheWholeRange()
    {
        double worst = 0;
        for (float x = -12f; x <= 12f; x += 0.00173f)
        {
            worst = Math.Max(worst, Math.Abs(PolicyEngine.Tanh(Vector256.Create(x)).GetElement(3) - Math.Tanh(x)));
            worst = Math.Max(worst, Math.Abs(PolicyEngine.Tanh(Vector128.Create(x)).GetElement(1) - Math.Tanh(x)));
        }
        Assert.That(worst, Is.LessThan(3e-7));
        Assert.That(PolicyEngine.Tanh(Vector256.Create(-0f)).GetElement(0), Is.EqualTo(0f));
        Assert.That(PolicyEngine.Tanh(Vector128.Create(0f)).GetElement(0), Is.EqualTo(0f));
    }

    [Test]
    public void NaNObservationGivesNaNActionsForTheSupervisorToCatch()
    {
        PolicyBundle bundle = TestBundles.Create([6, 16, 4]);
        foreach (PolicyKernel kernel in AllKernels)
        {
            var action = new float[4];
            new PolicyEngine(bundle, kernel).Forward([0, 0, float.NaN, 0, 0, 0], action);
            Assert.That(action.All(float.IsNaN), $"{kernel}: {string.Join(", ", action)}");
        }
    }

    [Test]
    public void ForwardScaledGivesRpm()
    {
        PolicyBundle bundle = TestBundles.Create([6, 16, 4]);
        var engine = new PolicyEngine(bundle);
        float[] observation = [0.1f, -0.2f, 0.3f, 0.4f, 0.5f, 0.6f];
        var action = new float[4];
        var rpm = new float[4];
        engine.Forward(observation, action);
        engine.ForwardScaled(observation, rpm);
        for (int j = 0; j < 4; j++) Assert.That(rpm[j], Is.EqualTo((action[j] + 1) / 2 * 21702f).Within(1e-2));
    }

    [Test]
    public void WrongSizesAreRejected()
    {
        var engine = new PolicyEngine(TestBundles.Create([6, 16, 4]));
        Assert.Throws<ArgumentException>(() => engine.Forward(new float[5], new float[4]));
        Assert.Throws<ArgumentException>(() => engine.Forward(new float[6], new float[3]));
    }

    [Test]
    public void ForwardAllocatesNothing()
    {
        foreach (PolicyKernel kernel in AllKernels)
        {
            var engine = new PolicyEngine(TestBundles.Create([149, 64, 64, 4], hidden: Activation.Tanh), kernel);
            var observation = new float[149];
            var action = new float[4];
            for (int n = 0; n < 1000; n++) engine.Forward(observation, action); // warm up: tiering, JIT
            long allocated = AllocationMeter.FewestBytes(() =>
            {
                for (int n = 0; n < 10_000; n++)
                {
                    observation[n % 149] = n * 1e-4f;
                    engine.Forward(observation, action);
                    engine.ForwardScaled(observation, action);
                }
            });
            Assert.That(allocated, Is.Zero, kernel.ToString());
        }
    }
}
