using RoboRl.Core.Policy;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RoboRl.Training.Tests;

public class FlatMlpTests
{
    [OneTimeSetUp]
    public void LoadTorch() => TorchSetup.Initialize();

    /// <summary>The textbook equivalent: nn.Linear layers holding member <paramref name="member"/>'s weights.</summary>
    static Linear[] NaiveCopy(FlatMlp flat, int member = 0)
    {
        var layers = new Linear[flat.LayerCount];
        using (no_grad())
        {
            for (int l = 0; l < flat.LayerCount; l++)
            {
                layers[l] = nn.Linear(flat.Sizes[l], flat.Sizes[l + 1]);
                Tensor w = flat.EnsembleSize == 1 ? flat.Weight(l) : flat.Weight(l)[member];
                Tensor b = flat.EnsembleSize == 1 ? flat.Bias(l) : flat.Bias(l)[member].squeeze(0);
                layers[l].weight!.copy_(w.t());
                layers[l].bias!.copy_(b);
            }
        }
        return layers;
    }

    static Tensor NaiveForward(Linear[] layers, Tensor x, Activation hidden, Activation output)
    {
        for (int l = 0; l < layers.Length; l++)
        {
            x = layers[l].forward(x);
            Activation a = l == layers.Length - 1 ? output : hidden;
            x = a == Activation.Relu ? nn.functional.relu(x) : a == Activation.Tanh ? x.tanh() : x;
        }
        return x;
    }

    static float MaxDifference(Tensor a, Tensor b) => (a - b).abs().max().item<float>();

    [TestCase(Activation.Relu, Activation.Tanh, 1)]
    [TestCase(Activation.Tanh, Activation.Tanh, 1)]
    [TestCase(Activation.Relu, Activation.Identity, 2)]
    [TestCase(Activation.Tanh, Activation.Identity, 3)]
    public void ForwardAndGradientsMatchNaiveModules(Activation hidden, Activation output, int ensemble)
    {
        using var scope = NewDisposeScope();
        using var flat = new FlatMlp([7, 16, 12, 3], hidden, output, ensemble, seed: 3);
        var generator = new Generator(42);
        Tensor x = randn([32, 7], generator: generator);
        Tensor weights = randn([32, 3], generator: generator); // a loss with a non-trivial gradient: sum(w ⊙ y)

        flat.ZeroGrad();
        Tensor y = flat.Forward(x);
        Assert.That(y.shape, Is.EqualTo(ensemble == 1 ? new long[] { 32, 3 } : new long[] { ensemble, 32, 3 }));
        (y * weights).sum().backward();

        for (int member = 0; member < ensemble; member++)
        {
            Linear[] naive = NaiveCopy(flat, member);
            Tensor expected = NaiveForward(naive, x, hidden, output);
            Tensor actual = ensemble == 1 ? y : y[member];
            Assert.That(MaxDifference(actual, expected), Is.LessThan(1e-6f), $"forward, member {member}");
            (expected * weights).sum().backward();
            for (int l = 0; l < flat.LayerCount; l++)
            {
                // The flat gradient buffer, seen through the layer's view, holds what autograd gave the naive weights.
                Tensor flatWeightGrad = ensemble == 1 ? flat.Weight(l).grad! : flat.Weight(l).grad![member];
                Tensor flatBiasGrad = ensemble == 1 ? flat.Bias(l).grad! : flat.Bias(l).grad![member].squeeze(0);
                Assert.That(MaxDifference(flatWeightGrad.t(), naive[l].weight!.grad!), Is.LessThan(1e-5f), $"weight grad, layer {l}, member {member}");
                Assert.That(MaxDifference(flatBiasGrad, naive[l].bias!.grad!), Is.LessThan(1e-5f), $"bias grad, layer {l}, member {member}");
            }
        }
        // The grads really live in the flat buffer.
        Assert.That(flat.Gradients.abs().sum().item<float>(), Is.GreaterThan(0f));
        flat.ZeroGrad();
        Assert.That(flat.Weight(0).grad!.abs().sum().item<float>(), Is.EqualTo(0f));
    }

    [Test]
    public void EnsembleTakesPerMemberInputs()
    {
        using var scope = NewDisposeScope();
        using var flat = new FlatMlp([4, 8, 1], Activation.Relu, Activation.Identity, ensembleSize: 2, seed: 5);
        Tensor x = randn(2, 10, 4);
        Tensor y = flat.Forward(x);
        for (int m = 0; m < 2; m++)
            Assert.That(MaxDifference(y[m], NaiveForward(NaiveCopy(flat, m), x[m], Activation.Relu, Activation.Identity)), Is.LessThan(1e-6f));
    }

    [Test]
    public void RequiresGradOffLeavesTheGradientsAloneButPassesGradientThrough()
    {
        using var scope = NewDisposeScope();
        using var critic = new FlatMlp([5, 8, 1], Activation.Relu, Activation.Identity, 2, seed: 1);
        critic.ZeroGrad();
        critic.RequiresGrad = false;
        Tensor action = randn(6, 5).requires_grad_(true);
        critic.Forward(action).mean().backward();
        Assert.That(critic.Gradients.abs().sum().item<float>(), Is.EqualTo(0f));
        Assert.That(action.grad!.abs().sum().item<float>(), Is.GreaterThan(0f));
        critic.RequiresGrad = true;
        critic.Forward(action).mean().backward();
        Assert.That(critic.Gradients.abs().sum().item<float>(), Is.GreaterThan(0f));
    }

    [Test]
    public void ForwardMemberFrozenMatchesThatMemberAndTrainsNothing()
    {
        using var scope = NewDisposeScope();
        using var critic = new FlatMlp([5, 8, 8, 1], Activation.Relu, Activation.Identity, 2, seed: 4);
        Tensor x = randn(6, 5);
        for (int member = 0; member < 2; member++)
        {
            Tensor input = x.clone().requires_grad_(true);
            critic.ZeroGrad();
            Tensor q = critic.ForwardMemberFrozen(input, member);
            Assert.That(MaxDifference(q, critic.Forward(x)[member]), Is.LessThan(1e-6f));
            q.sum().backward();
            Assert.That(critic.Gradients.abs().sum().item<float>(), Is.EqualTo(0f), "no parameter gradient");

            Tensor reference = x.clone().requires_grad_(true);
            NaiveForward(NaiveCopy(critic, member), reference, Activation.Relu, Activation.Identity).sum().backward();
            Assert.That(MaxDifference(input.grad!, reference.grad!), Is.LessThan(1e-6f), "gradient reaches the input");
        }
        // The frozen views follow parameter updates (they share storage).
        using (no_grad()) critic.Parameters.mul_(2);
        Assert.That(MaxDifference(critic.ForwardMemberFrozen(x, 1), critic.Forward(x)[1]), Is.LessThan(1e-5f));
    }

    [Test]
    public void AdamMatchesTorchOptimAdamWithWeightDecay()
    {
        using var scope = NewDisposeScope();
        using var flat = new FlatMlp([6, 16, 16, 2], Activation.Relu, Activation.Tanh, seed: 9);
        Linear[] naive = NaiveCopy(flat);
        using var adam = new FlatAdam(flat, learningRate: 1e-2, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 1e-2);
        var reference = optim.Adam(naive.SelectMany(l => l.parameters()), lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 1e-2);
        var generator = new Generator(7);
        for (int step = 0; step < 25; step++)
        {
            using var stepScope = NewDisposeScope();
            Tensor x = randn([64, 6], generator: generator);
            Tensor target = randn([64, 2], generator: generator).tanh();

            flat.ZeroGrad();
            (flat.Forward(x) - target).pow(2).mean().backward();
            adam.Step();

            reference.zero_grad();
            (NaiveForward(naive, x, Activation.Relu, Activation.Tanh) - target).pow(2).mean().backward();
            reference.step();
        }
        Assert.That(adam.StepCount, Is.EqualTo(25));
        for (int l = 0; l < flat.LayerCount; l++)
        {
            Assert.That(MaxDifference(flat.Weight(l).t(), naive[l].weight!), Is.LessThan(2e-6f), $"layer {l} weight");
            Assert.That(MaxDifference(flat.Bias(l), naive[l].bias!), Is.LessThan(2e-6f), $"layer {l} bias");
        }
        // And the parameters did move: the comparison is not between two untouched copies.
        using var untouched = new FlatMlp([6, 16, 16, 2], Activation.Relu, Activation.Tanh, seed: 9);
        Assert.That(MaxDifference(flat.Parameters, untouched.Parameters), Is.GreaterThan(1e-2f));
    }

    [Test]
    public void TinyRegressionLossDrops()
    {
        using var scope = NewDisposeScope();
        using var net = new FlatMlp([2, 32, 32, 1], Activation.Relu, Activation.Identity, seed: 2);
        using var adam = new FlatAdam(net, learningRate: 3e-3);
        var generator = new Generator(3);
        Tensor x = rand([512, 2], generator: generator) * 4 - 2;
        Tensor y = (x[.., 0].sin() + 0.5 * x[.., 1] * x[.., 0]).unsqueeze(1);
        float Loss()
        {
            using (no_grad()) return (net.Forward(x) - y).pow(2).mean().item<float>();
        }
        float before = Loss();
        for (int step = 0; step < 600; step++)
        {
            using var stepScope = NewDisposeScope();
            net.ZeroGrad();
            (net.Forward(x) - y).pow(2).mean().backward();
            adam.Step();
        }
        float after = Loss();
        Assert.That(after, Is.LessThan(before / 10), $"loss {before} → {after}");
    }

    [Test]
    public void PolyakAndCopyAreWholeBufferOps()
    {
        using var scope = NewDisposeScope();
        using var online = new FlatMlp([3, 8, 2], Activation.Relu, Activation.Tanh, seed: 1);
        using var target = new FlatMlp([3, 8, 2], Activation.Relu, Activation.Tanh, seed: 2);
        Tensor before = target.Parameters.clone();
        target.PolyakFrom(online, 0.005);
        Tensor expected = before * 0.995 + online.Parameters * 0.005;
        Assert.That(MaxDifference(target.Parameters, expected), Is.LessThan(1e-6f));
        // The layer views see the change (they share storage with the flat buffer).
        Assert.That(MaxDifference(target.Weight(0).flatten(), expected.narrow(0, 0, 24)), Is.LessThan(1e-6f));

        target.CopyFrom(online);
        Assert.That(MaxDifference(target.Parameters, online.Parameters), Is.EqualTo(0f));
        using FlatMlp clone = online.Clone();
        Assert.That(MaxDifference(clone.Parameters, online.Parameters), Is.EqualTo(0f));
        using var other = new FlatMlp([3, 9, 2], Activation.Relu, Activation.Tanh);
        Assert.Throws<ArgumentException>(() => target.PolyakFrom(other, 0.1));
    }

    [Test]
    public void LoadLayersIsTheInverseOfExportLayers()
    {
        using var source = new FlatMlp([10, 8, 8, 3], Activation.Relu, Activation.Tanh, seed: 3);
        using var loaded = new FlatMlp([10, 8, 8, 3], Activation.Relu, Activation.Tanh, seed: 99);
        loaded.LoadLayers(source.ExportLayers());
        using var x = randn(5, 10);
        using Tensor a = source.Forward(x), b = loaded.Forward(x);
        Assert.That(a.allclose(b, rtol: 0, atol: 1e-6), Is.True);
        Assert.That(loaded.ExportLayers()[1].Weights, Is.EqualTo(source.ExportLayers()[1].Weights));

        using var other = new FlatMlp([10, 8, 3], Activation.Relu, Activation.Tanh);
        Assert.Throws<ArgumentException>(() => other.LoadLayers(source.ExportLayers()));
        using var tanhHidden = new FlatMlp([10, 8, 8, 3], Activation.Tanh, Activation.Tanh);
        Assert.That(Assert.Throws<ArgumentException>(() => tanhHidden.LoadLayers(source.ExportLayers()))!.Message, Does.Contain("Relu"));
    }
}
