using RoboRl.Core.Policy;
using static TorchSharp.torch;

namespace RoboRl.Training.Tests;

/// <summary>DESIGN.md invariant 3: TorchSharp's forward and the C# engine agree (|Δ| ≤ 1e-5).</summary>
public class PolicyParityTests
{
    [OneTimeSetUp]
    public void LoadTorch() => TorchSetup.Initialize();

    static PolicyDescription Quadrotor(int observations) => new(
        ObservationNames: Enumerable.Range(0, observations).Select(i => $"obs_{i}").ToArray(),
        ActionNames: ["motor_1", "motor_2", "motor_3", "motor_4"],
        ActionLow: new float[4],
        ActionHigh: [21702f, 21702f, 21702f, 21702f],
        ActionUnit: "rpm",
        ControlRateHz: 100,
        ActionHistoryLength: 32,
        RobotConfigJson: """{"name":"crazyflie21","mass_kg":0.027}""",
        TrainingConfigJson: """{"algorithm":"td3"}""",
        GitCommit: "test");

    [Test]
    public void EngineMatchesTorchSharpOn1000RandomInputs(
        [Values(Activation.Relu, Activation.Tanh)] Activation hidden,
        [Values(PolicyKernel.Vector256, PolicyKernel.Vector128, PolicyKernel.Scalar)] PolicyKernel kernel)
    {
        using var actor = new FlatMlp([149, 64, 64, 4], hidden, Activation.Tanh, seed: 17);
        // Scale the weights up so that pre-activations cover tanh's curved range, not just its linear middle.
        using (no_grad()) actor.Parameters.mul_(hidden == Activation.Relu ? 1.5 : 3);
        var random = new Random(4);
        float[] mean = Enumerable.Range(0, 149).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        float[] std = Enumerable.Range(0, 149).Select(_ => 0.1f + (float)random.NextDouble()).ToArray();
        float[] inputs = Enumerable.Range(0, 1000 * 149).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();

        float[] expected = PolicyExport.TorchForward(actor, mean, std, inputs);
        PolicyBundle bundle = PolicyExport.Export(actor, Quadrotor(149), mean, std);
        var engine = new PolicyEngine(bundle, kernel);
        var action = new float[4];
        float worst = 0;
        int saturated = 0;
        for (int k = 0; k < 1000; k++)
        {
            engine.Forward(inputs.AsSpan(k * 149, 149), action);
            for (int j = 0; j < 4; j++)
            {
                worst = MathF.Max(worst, MathF.Abs(action[j] - expected[k * 4 + j]));
                if (MathF.Abs(expected[k * 4 + j]) > 0.999f) saturated++;
            }
        }
        Assert.That(worst, Is.LessThanOrEqualTo(1e-5f));
        TestContext.Out.WriteLine($"max |engine − torch| = {worst:G3}, saturated outputs {saturated} of 4000");
        Assert.That(saturated, Is.LessThan(2000), "outputs are not all saturated at ±1 (that would hide differences)");
    }

    [Test]
    public void ExportedBundleRoundTripsAndPassesItsSelfCheck()
    {
        using var actor = new FlatMlp([149, 64, 64, 4], Activation.Relu, Activation.Tanh, seed: 23);
        float[] mean = new float[149];
        float[] std = Enumerable.Repeat(0.5f, 149).ToArray();
        PolicyBundle bundle = PolicyExport.Export(actor, Quadrotor(149), mean, std, goldenCount: 16, seed: 1);
        string path = Path.Combine(Path.GetTempPath(), $"roborl-export-{Guid.NewGuid():N}.safetensors");
        try
        {
            bundle.Write(path);
            PolicyBundle read = PolicyBundle.Read(path);
            Assert.That(read.GoldenCount, Is.EqualTo(16));
            new PolicyEngine(read).SelfCheck(1e-5f);
            new PolicyEngine(read, PolicyKernel.Scalar).SelfCheck(1e-5f);
            new PolicyEngine(read, PolicyKernel.Vector128).SelfCheck(1e-5f);
            Assert.That(read.Layers[0].Weights, Is.EqualTo(actor.ExportLayers()[0].Weights));
        }
        finally { File.Delete(path); }
    }

    [Test]
    public void SacGaussianHeadDeploysAsTanhOfTheMean()
    {
        // SAC's actor outputs [mean (4), log σ (4)] with identity output; the deployed action is tanh(mean).
        using var actor = new FlatMlp([149, 64, 64, 8], Activation.Relu, Activation.Identity, seed: 29);
        using (no_grad()) actor.Parameters.mul_(2);
        float[] mean = new float[149];
        float[] std = Enumerable.Repeat(1f, 149).ToArray();
        PolicyBundle bundle = PolicyExport.Export(actor, Quadrotor(149), mean, std, goldenCount: 32, seed: 2,
            head: ActorHead.SquashedGaussianMean(4));
        Assert.That(bundle.Layers[^1].OutputSize, Is.EqualTo(4));
        Assert.That(bundle.Layers[^1].Activation, Is.EqualTo(Activation.Tanh));

        float[] raw;
        using (no_grad()) raw = actor.Forward(tensor(bundle.GoldenObservations).view(-1, 149)).contiguous().data<float>().ToArray();
        for (int k = 0; k < 32; k++)
            for (int j = 0; j < 4; j++)
                Assert.That(bundle.GoldenActions[k * 4 + j], Is.EqualTo(MathF.Tanh(raw[k * 8 + j])).Within(1e-6f), "golden = tanh(mean), never log σ");
        new PolicyEngine(bundle).SelfCheck(1e-5f);
        new PolicyEngine(bundle, PolicyKernel.Scalar).SelfCheck(1e-5f);
    }

    [Test]
    public void ExportOfAnEnsembleMemberMatchesThatMember()
    {
        using var critics = new FlatMlp([6, 8, 1], Activation.Relu, Activation.Identity, ensembleSize: 2, seed: 3);
        var layers0 = critics.ExportLayers(0);
        var layers1 = critics.ExportLayers(1);
        Assert.That(layers0[0].Weights, Is.Not.EqualTo(layers1[0].Weights));
        using (no_grad())
        {
            // Member 1, layer 0 weight [in=6, out=8] → exported [out, in]: element (o=2, i=5) = flat W[1, 5, 2].
            Assert.That(layers1[0].Weights[2 * 6 + 5], Is.EqualTo(critics.Weight(0)[1, 5, 2].item<float>()));
        }
    }
}
