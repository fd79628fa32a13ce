using RoboRl.Core.Policy;
using RoboRl.Training.Kernels;
using static TorchSharp.torch;

namespace RoboRl.Training.Tests;

/// <summary>
/// The fused TD3 kernels (<see cref="Td3Update"/>, <see cref="MlpKernels"/>) against TorchSharp's autograd on
/// <see cref="FlatMlp"/> / <see cref="FlatAdam"/>, the gradient reference: same random weights, same batches, same
/// noise. Two shapes: the hover task's (149 → 64 → 64 → 4, (32 + 4) → 64 → 64 → 1 × 2, batch 128) and an odd one
/// whose widths fill no SIMD vector evenly (every remainder path of the kernels).
/// </summary>
public unsafe class Td3UpdateTests
{
    [OneTimeSetUp]
    public void LoadTorch() => TorchSetup.Initialize();

    public sealed record Shape(int Observations, int CriticObservations, int Actions, int[] ActorHidden, int[] CriticHidden, int Batch)
    {
        public override string ToString() => $"obs {Observations}, critic obs {CriticObservations}, actions {Actions}, actor [{string.Join(",", ActorHidden)}], critic [{string.Join(",", CriticHidden)}], batch {Batch}";
    }

    static readonly Shape Hover = new(149, 32, 4, [64, 64], [64, 64], 128);
    static readonly Shape Odd = new(13, 5, 3, [20, 12], [11, 19], 7);
    public static readonly Shape[] Shapes = [Hover, Odd];

    /// <summary>max |a − b| over max |b|: the error relative to the reference's scale.</summary>
    static double RelativeError(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        Assert.That(actual.Length, Is.EqualTo(expected.Length));
        double difference = 0, scale = 1e-30;
        for (int i = 0; i < actual.Length; i++)
        {
            difference = Math.Max(difference, Math.Abs(actual[i] - expected[i]));
            scale = Math.Max(scale, Math.Abs(expected[i]));
        }
        return difference / scale;
    }

    /// <summary>‖actual − expected‖ / ‖expected − before‖: how far two updates of the same parameters disagree,
    /// relative to how far they moved them.</summary>
    static double ChangeError(float[] actual, float[] expected, float[] before)
    {
        double difference = 0, change = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            difference += Math.Pow(actual[i] - expected[i], 2);
            change += Math.Pow(expected[i] - before[i], 2);
        }
        Assert.That(change, Is.GreaterThan(0), "the update moved the parameters");
        return Math.Sqrt(difference / change);
    }

    static float[] Values(Tensor t) => t.contiguous().data<float>().ToArray();

    static float[] Noise(ulong stream, long counter, int count)
    {
        var values = new float[count];
        fixed (float* p = values) CounterNoise.FillNormal(stream, counter, 0, p, count);
        return values;
    }

    /// <summary>A replay memory of random transitions (some terminated: discount 0).</summary>
    static ReplayBuffer RandomReplay(Shape s, int rows, int seed)
    {
        var random = new Random(seed);
        float Normal() => (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        var replay = new ReplayBuffer(rows, s.Observations, s.CriticObservations, s.Actions);
        for (int r = 0; r < rows; r++)
        {
            float[] o = Enumerable.Range(0, s.Observations).Select(_ => Normal()).ToArray();
            float[] no = Enumerable.Range(0, s.Observations).Select(_ => Normal()).ToArray();
            float[] co = Enumerable.Range(0, s.CriticObservations).Select(_ => Normal()).ToArray();
            float[] nco = Enumerable.Range(0, s.CriticObservations).Select(_ => Normal()).ToArray();
            float[] a = Enumerable.Range(0, s.Actions).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
            replay.Add(o, co, a, Normal(), no, nco, random.NextDouble() < 0.1 ? 0f : 0.99f);
        }
        return replay;
    }

    static Td3Config Config(Shape s, double temporal = 0, double spatial = 0) => new()
    {
        Run = Td3Config.DefaultRun with { Seed = 5 },
        BatchSize = s.Batch,
        ActorHidden = s.ActorHidden,
        CriticHidden = s.CriticHidden,
        ActorLearningRate = 1e-3,
        CriticLearningRate = 2e-3,
        WeightDecay = 1e-4,
        TargetNoise = 0.2,
        TargetNoiseClip = 0.5,
        SmoothnessTemporal = temporal,
        SmoothnessSpatial = spatial,
        SmoothnessSpatialStd = 0.05,
        SmoothnessBatch = s.Batch > 8 ? 32 : 3,
    };

    static FlatMlp NewActor(Shape s, int seed = 11) => new([s.Observations, .. s.ActorHidden, s.Actions], Activation.Relu, Activation.Tanh, seed: seed);
    static FlatMlp NewCritic(Shape s, int seed = 12) => new([s.CriticObservations + s.Actions, .. s.CriticHidden, 1], Activation.Relu, Activation.Identity, ensembleSize: 2, seed: seed);

    /// <summary>
    /// The TorchSharp TD3 update, as Td3.cs computed it before the fused kernels (autograd on FlatMlp, FlatAdam): the
    /// reference the kernels must reproduce.
    /// </summary>
    sealed class TorchTd3 : IDisposable
    {
        readonly Shape _s;
        readonly Td3Config _c;
        public readonly FlatMlp Actor, Critic, ActorTarget, CriticTarget;
        public readonly FlatAdam ActorAdam, CriticAdam;
        Tensor _observation = null!, _criticInput = null!, _criticObservation = null!, _nextObservation = null!, _nextCriticObservation = null!, _reward = null!, _discount = null!;
        public float[] CriticGradient = [], ActorGradient = [];

        public TorchTd3(Shape shape, Td3Config config, FlatMlp actor, FlatMlp critic)
        {
            _s = shape;
            _c = config;
            Actor = actor.Clone();
            Critic = critic.Clone();
            ActorTarget = actor.Clone();
            CriticTarget = critic.Clone();
            ActorAdam = new FlatAdam(Actor, _c.ActorLearningRate, weightDecay: _c.WeightDecay);
            CriticAdam = new FlatAdam(Critic, _c.CriticLearningRate, weightDecay: _c.WeightDecay);
        }

        public float CriticStep(ReplayBuffer replay, int[] rows, float[] targetNoise)
        {
            int b = _s.Batch, o = _s.Observations, co = _s.CriticObservations, a = _s.Actions;
            var obs = new float[b * o]; var next = new float[b * o]; var ci = new float[b * (co + a)]; var cob = new float[b * co];
            var ncob = new float[b * co]; var r = new float[b]; var d = new float[b];
            for (int k = 0; k < b; k++)
            {
                int row = rows[k];
                Array.Copy(replay.ActorObservations, row * o, obs, k * o, o);
                Array.Copy(replay.NextActorObservations, row * o, next, k * o, o);
                Array.Copy(replay.CriticObservations, row * co, ci, k * (co + a), co);
                Array.Copy(replay.Actions, row * a, ci, k * (co + a) + co, a);
                Array.Copy(replay.CriticObservations, row * co, cob, k * co, co);
                Array.Copy(replay.NextCriticObservations, row * co, ncob, k * co, co);
                r[k] = replay.Rewards[row];
                d[k] = replay.Discounts[row];
            }
            foreach (Tensor t in new[] { _observation, _criticInput, _criticObservation, _nextObservation, _nextCriticObservation, _reward, _discount }) t?.Dispose();
            _observation = tensor(obs).view(b, o).DetachFromDisposeScope();
            _criticInput = tensor(ci).view(b, co + a).DetachFromDisposeScope();
            _criticObservation = tensor(cob).view(b, co).DetachFromDisposeScope();
            _nextObservation = tensor(next).view(b, o).DetachFromDisposeScope();
            _nextCriticObservation = tensor(ncob).view(b, co).DetachFromDisposeScope();
            _reward = tensor(r).view(b, 1).DetachFromDisposeScope();
            _discount = tensor(d).view(b, 1).DetachFromDisposeScope();

            using var scope = NewDisposeScope();
            Tensor target;
            using (no_grad())
            {
                Tensor noise = tensor(targetNoise).view(b, a).mul_(_c.TargetNoise).clamp_(-_c.TargetNoiseClip, _c.TargetNoiseClip);
                Tensor nextAction = ActorTarget.Forward(_nextObservation).add_(noise).clamp_(-1, 1);
                Tensor nextQ = CriticTarget.Forward(cat([_nextCriticObservation, nextAction], 1)).amin(0);
                target = nextQ.mul_(_discount).add_(_reward);
            }
            Tensor q = Critic.Forward(_criticInput);
            Tensor loss = (q - target).pow(2).mean(dimensions: [1, 2]).sum();
            Critic.ZeroGrad();
            loss.backward();
            CriticGradient = Values(Critic.Gradients);
            CriticAdam.Step();
            return loss.item<float>();
        }

        public float ActorStep(float[] spatialNoise)
        {
            int b = _s.Batch;
            using var scope = NewDisposeScope();
            int rows = _c.SmoothnessBatch == 0 ? b : Math.Min(b, _c.SmoothnessBatch);
            bool temporal = _c.SmoothnessTemporal > 0, spatial = _c.SmoothnessSpatial > 0;
            Tensor actorInput = _observation;
            if (temporal) actorInput = cat([actorInput, _nextObservation[..rows]], 0);
            if (spatial) actorInput = cat([actorInput, _observation[..rows] + tensor(spatialNoise).view(rows, _s.Observations).mul_(_c.SmoothnessSpatialStd)], 0);
            Tensor outputs = Actor.Forward(actorInput);
            Tensor policy = temporal || spatial ? outputs[..b] : outputs;
            Tensor loss = Critic.ForwardMemberFrozen(cat([_criticObservation, policy], 1), member: 0).mean().neg();
            if (temporal) loss = loss + (policy[..rows] - outputs[b..(b + rows)]).pow(2).sum(1).mean().mul(_c.SmoothnessTemporal);
            if (spatial)
            {
                int first = temporal ? b + rows : b;
                loss = loss + (policy[..rows] - outputs[first..(first + rows)]).pow(2).sum(1).mean().mul(_c.SmoothnessSpatial);
            }
            Actor.ZeroGrad();
            loss.backward();
            ActorGradient = Values(Actor.Gradients);
            ActorAdam.Step();
            return loss.item<float>();
        }

        public void Targets()
        {
            ActorTarget.PolyakFrom(Actor, _c.Tau);
            CriticTarget.PolyakFrom(Critic, _c.Tau);
        }

        public void Dispose()
        {
            foreach (IDisposable d in new IDisposable[] { Actor, Critic, ActorTarget, CriticTarget, ActorAdam, CriticAdam })
                d.Dispose();
            foreach (Tensor t in new[] { _observation, _criticInput, _criticObservation, _nextObservation, _nextCriticObservation, _reward, _discount }) t?.Dispose();
        }
    }

    static int[] Rows(ReplayBuffer replay, int batch, ulong seed)
    {
        var rows = new int[batch];
        replay.SampleRows(new SeededRandom(seed), rows);
        return rows;
    }

    static int SmoothRows(Td3Config c) => c.SmoothnessBatch == 0 ? c.BatchSize : Math.Min(c.BatchSize, c.SmoothnessBatch);

    [Test]
    public void ForwardAndBackwardMatchAutogradIncludingTheInputGradient(
        [Values(Activation.Relu, Activation.Tanh)] Activation hidden,
        [Values(Activation.Tanh, Activation.Identity)] Activation output,
        [Values(1, 2)] int ensemble)
    {
        using var scope = NewDisposeScope();
        // Odd widths and a 1-wide output exercise every remainder path; the scaled weights reach tanh's curved range.
        foreach (int[] sizes in new[] { new[] { 149, 64, 64, 4 }, new[] { 36, 64, 64, 1 }, new[] { 13, 21, 9, 3 } })
        {
            int rows = 37, inputs = sizes[0], outputs = sizes[^1];
            using var torchNet = new FlatMlp(sizes, hidden, output, ensemble, seed: 3);
            using (no_grad()) torchNet.Parameters.mul_(1.5);
            var layout = MlpLayout.Of(torchNet);
            var net = new MlpWeights(torchNet);
            var work = new MlpWorkspace(layout, rows);
            var generator = new Generator(9);
            Tensor x = randn([rows, inputs], generator: generator);
            Tensor lossWeights = randn([rows, outputs], generator: generator);
            var input = new PinnedArray(rows * inputs);
            Values(x).CopyTo(input.Array, 0);
            var gradients = new PinnedArray(layout.ParameterCount);
            var outputGradient = new PinnedArray(rows * outputs);
            int from = Math.Max(0, inputs - 4), count = inputs - from; // an input gradient for the last columns (a critic's action)
            var inputGradient = new PinnedArray(rows * count);
            net.RefreshTransposes();

            for (int member = 0; member < ensemble; member++)
            {
                string where = $"[{string.Join(", ", sizes)}] member {member}";
                // Reference: L = Σ w ⊙ y through autograd, member alone, with the input's gradient.
                Tensor xGrad = x.clone().requires_grad_(true);
                torchNet.ZeroGrad();
                Tensor y = torchNet.Forward(xGrad);
                if (ensemble > 1) y = y[member];
                (y * lossWeights).sum().backward();

                MlpKernels.Forward(net, member, input.Pointer, inputs, rows, work);
                float[] actual = new ReadOnlySpan<float>(work.Output, rows * outputs).ToArray();
                Assert.That(RelativeError(actual, Values(y.detach())), Is.LessThan(1e-5), $"forward, {where}");

                float[] dy = Values(lossWeights);
                dy.CopyTo(outputGradient.Array, 0);
                MlpKernels.ThroughOutputActivation(output, work.Output, outputGradient.Pointer, rows * outputs);
                gradients.Span.Clear();
                MlpKernels.Backward(net, member, input.Pointer, inputs, rows, work, outputGradient.Pointer, gradients.Pointer,
                    inputGradient.Pointer, count, from, count);
                float[] expectedGradients = Values(torchNet.Gradients);
                Assert.That(RelativeError(gradients.Span, expectedGradients), Is.LessThan(1e-5), $"parameter gradients, {where}");
                float[] expectedInput = Values(xGrad.grad!.narrow(1, from, count));
                Assert.That(RelativeError(inputGradient.Span, expectedInput), Is.LessThan(1e-5), $"input gradient, {where}");
                Assert.That(expectedGradients.Max(Math.Abs), Is.GreaterThan(1e-3f), "a gradient that is not trivially zero");
            }
        }
    }

    [Test]
    public void AdamAndPolyakMatchFlatAdamAndFlatMlp()
    {
        using var scope = NewDisposeScope();
        using var torchNet = new FlatMlp([13, 21, 9, 3], Activation.Relu, Activation.Tanh, ensembleSize: 2, seed: 4);
        using var adam = new FlatAdam(torchNet, learningRate: 3e-3, weightDecay: 1e-2);
        var net = new MlpWeights(torchNet);
        var state = new AdamState(net.Layout.ParameterCount, 3e-3, 1e-2);
        int count = net.Layout.ParameterCount;
        var half1 = new PinnedArray(count);
        var half2 = new PinnedArray(count);
        var generator = new Generator(2);
        for (int step = 0; step < 20; step++)
        {
            // A gradient in two parts, as the two blocks of a batch give it; FlatAdam gets their sum.
            float[] g1 = Values(randn([count], generator: generator)), g2 = Values(randn([count], generator: generator).mul_(0.1));
            g1.CopyTo(half1.Array, 0);
            g2.CopyTo(half2.Array, 0);
            using (no_grad()) torchNet.Gradients.copy_(tensor(g1.Zip(g2, (a, b) => a + b).ToArray()));
            adam.Step();
            AdamCoefficients k = state.NextStep();
            MlpKernels.Adam(net.Pointer, state.FirstMoment.Pointer, state.SecondMoment.Pointer, half1.Pointer, half2.Pointer, count, k);
        }
        Assert.That(RelativeError(net.Parameters, Values(torchNet.Parameters)), Is.LessThan(1e-6), "parameters");
        Assert.That(RelativeError(state.FirstMoment.Span, Values(adam.FirstMoment)), Is.LessThan(1e-5), "first moment");
        Assert.That(RelativeError(state.SecondMoment.Span, Values(adam.SecondMoment)), Is.LessThan(1e-5), "second moment");
        Assert.That(state.StepCount, Is.EqualTo(adam.StepCount));

        using var torchTarget = new FlatMlp([13, 21, 9, 3], Activation.Relu, Activation.Tanh, ensembleSize: 2, seed: 8);
        var target = new MlpWeights(torchTarget);
        for (int step = 0; step < 3; step++)
        {
            torchTarget.PolyakFrom(torchNet, 0.005);
            MlpKernels.Polyak(target.Pointer, net.Pointer, count, 0.005f);
        }
        Assert.That(RelativeError(target.Parameters, Values(torchTarget.Parameters)), Is.LessThan(1e-6), "Polyak");
    }

    [TestCaseSource(nameof(Shapes))]
    public void OneCriticAndActorStepMatchAutograd(Shape s)
    {
        using var scope = NewDisposeScope();
        Td3Config c = Config(s);
        ReplayBuffer replay = RandomReplay(s, 300, seed: 1);
        using FlatMlp actor = NewActor(s), critic = NewCritic(s);
        using var fused = new Td3Update(actor, critic, c, actingRows: 4, threads: 2);
        using var reference = new TorchTd3(s, c, actor, critic);
        int[] rows = Rows(replay, s.Batch, 3);

        float criticLoss = fused.UpdateCritic(replay, rows, update: 0);
        float expectedCriticLoss = reference.CriticStep(replay, rows, Noise(fused.TargetNoiseStream, 0, s.Batch * s.Actions));
        Assert.That(criticLoss, Is.EqualTo(expectedCriticLoss).Within(1e-5).Percent.Or.EqualTo(expectedCriticLoss).Within(1e-6), "critic loss");
        var gradient = new float[fused.Critic.Layout.ParameterCount];
        fused.CriticGradient(gradient);
        Assert.That(RelativeError(gradient, reference.CriticGradient), Is.LessThan(1e-5), "critic gradient");
        // Adam's first step is ±lr·g/|g| per parameter, ill-conditioned where g ≈ 0: compare the whole step in norm.
        Assert.That(ChangeError(fused.Critic.Parameters, Values(reference.Critic.Parameters), Values(critic.Parameters)), Is.LessThan(1e-4), "critic after Adam");

        float actorLoss = fused.UpdateActor(update: 0);
        float expectedActorLoss = reference.ActorStep([]);
        Assert.That(actorLoss, Is.EqualTo(expectedActorLoss).Within(1e-4).Percent, "actor loss");
        gradient = new float[fused.Actor.Layout.ParameterCount];
        fused.ActorGradient(gradient);
        Assert.That(RelativeError(gradient, reference.ActorGradient), Is.LessThan(1e-5), "actor gradient (through the frozen critic)");
        Assert.That(ChangeError(fused.Actor.Parameters, Values(reference.Actor.Parameters), Values(actor.Parameters)), Is.LessThan(1e-4), "actor after Adam");

        fused.UpdateTargets(c.Tau);
        reference.Targets();
        Assert.That(ChangeError(fused.ActorTarget.Parameters, Values(reference.ActorTarget.Parameters), Values(actor.Parameters)), Is.LessThan(1e-4), "actor target");
        Assert.That(ChangeError(fused.CriticTarget.Parameters, Values(reference.CriticTarget.Parameters), Values(critic.Parameters)), Is.LessThan(1e-4), "critic target");
    }

    [TestCase(0.0, 0.0)]
    [TestCase(1.0, 1.0)]
    [TestCase(0.5, 0.0)]
    [TestCase(0.0, 2.0)]
    public void SeveralWholeUpdatesMatchTheTorchSharpUpdate(double temporal, double spatial)
    {
        foreach (Shape s in Shapes)
        {
            using var scope = NewDisposeScope();
            Td3Config c = Config(s, temporal, spatial);
            ReplayBuffer replay = RandomReplay(s, 400, seed: 2);
            using FlatMlp actor = NewActor(s), critic = NewCritic(s);
            using var fused = new Td3Update(actor, critic, c, actingRows: 4);
            using var reference = new TorchTd3(s, c, actor, critic);
            long actorUpdates = 0;
            for (int update = 0; update < 8; update++)
            {
                int[] rows = Rows(replay, s.Batch, 100 + (ulong)update);
                float loss = fused.UpdateCritic(replay, rows, update);
                float expected = reference.CriticStep(replay, rows, Noise(fused.TargetNoiseStream, update, s.Batch * s.Actions));
                Assert.That(loss, Is.EqualTo(expected).Within(1e-3).Percent, $"critic loss, update {update}, {s}");
                if (update % 2 == 1)
                {
                    float actorLoss = fused.UpdateActor(actorUpdates);
                    float expectedActor = reference.ActorStep(Noise(fused.SmoothingNoiseStream, actorUpdates, SmoothRows(c) * s.Observations));
                    actorUpdates++;
                    Assert.That(actorLoss, Is.EqualTo(expectedActor).Within(1e-3).Percent, $"actor loss, update {update}, {s}");
                    fused.UpdateTargets(c.Tau);
                    reference.Targets();
                }
            }
            // Over several steps Adam amplifies rounding where a parameter's gradients nearly cancel (m ≈ 0, so m/√v is
            // ill-conditioned): single elements drift by a few % of one step. So the test compares the whole change each
            // network made, in norm; a wrong term in any gradient would show as an O(1) difference.
            float[] actor0 = Values(actor.Parameters), critic0 = Values(critic.Parameters);
            Assert.That(ChangeError(fused.Critic.Parameters, Values(reference.Critic.Parameters), critic0), Is.LessThan(1e-3), $"critic, {s}");
            Assert.That(ChangeError(fused.Actor.Parameters, Values(reference.Actor.Parameters), actor0), Is.LessThan(1e-3), $"actor, {s}");
            Assert.That(ChangeError(fused.CriticTarget.Parameters, Values(reference.CriticTarget.Parameters), critic0), Is.LessThan(1e-3), $"critic target, {s}");
            Assert.That(ChangeError(fused.ActorTarget.Parameters, Values(reference.ActorTarget.Parameters), actor0), Is.LessThan(1e-3), $"actor target, {s}");
            Assert.That(RelativeError(fused.CriticAdam.SecondMoment.Span, Values(reference.CriticAdam.SecondMoment)), Is.LessThan(1e-4), $"critic Adam v, {s}");
        }
    }

    [Test]
    public void SmoothnessTermsChangeTheActorStep()
    {
        // The CAPS terms reach the gradient: with them on, the same batch gives another actor gradient.
        Shape s = Hover;
        ReplayBuffer replay = RandomReplay(s, 300, seed: 4);
        using FlatMlp actor = NewActor(s), critic = NewCritic(s);
        float[] Gradient(Td3Config c)
        {
            using var fused = new Td3Update(actor, critic, c, actingRows: 1);
            fused.UpdateCritic(replay, Rows(replay, s.Batch, 5), 0);
            fused.UpdateActor(0);
            var g = new float[fused.Actor.Layout.ParameterCount];
            fused.ActorGradient(g);
            return g;
        }
        float[] off = Gradient(Config(s)), on = Gradient(Config(s, temporal: 1, spatial: 1));
        Assert.That(RelativeError(on, off), Is.GreaterThan(1e-3));
    }

    [Test]
    public void OneThreadAndTwoThreadsGiveIdenticalNetworks()
    {
        Shape s = Hover;
        Td3Config c = Config(s, temporal: 0.5, spatial: 0.5);
        ReplayBuffer replay = RandomReplay(s, 300, seed: 6);
        using FlatMlp actor = NewActor(s), critic = NewCritic(s);
        using var one = new Td3Update(actor, critic, c, actingRows: 1, threads: 1);
        using var two = new Td3Update(actor, critic, c, actingRows: 1, threads: 2);
        Assert.That(one.Threads, Is.EqualTo(1));
        Assert.That(two.Threads, Is.EqualTo(Math.Min(2, Environment.ProcessorCount)));
        for (int update = 0; update < 20; update++)
        {
            int[] rows = Rows(replay, s.Batch, (ulong)update);
            Assert.That(two.UpdateCritic(replay, rows, update), Is.EqualTo(one.UpdateCritic(replay, rows, update)));
            if (update % 2 == 1)
            {
                Assert.That(two.UpdateActor(update / 2), Is.EqualTo(one.UpdateActor(update / 2)));
                one.UpdateTargets(c.Tau);
                two.UpdateTargets(c.Tau);
            }
        }
        Assert.That(two.Actor.Parameters, Is.EqualTo(one.Actor.Parameters));
        Assert.That(two.Critic.Parameters, Is.EqualTo(one.Critic.Parameters));
        Assert.That(two.ActorTarget.Parameters, Is.EqualTo(one.ActorTarget.Parameters));
        Assert.That(two.CriticTarget.Parameters, Is.EqualTo(one.CriticTarget.Parameters));
    }

    [Test]
    public void BatchRowsOutsideTheReplayMemoryAreRefused()
    {
        Shape s = Odd;
        ReplayBuffer replay = RandomReplay(s, 20, seed: 8);
        using FlatMlp actor = NewActor(s), critic = NewCritic(s);
        using var fused = new Td3Update(actor, critic, Config(s), actingRows: 1);
        int[] rows = Rows(replay, s.Batch, 2);
        rows[3] = 20;
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => fused.UpdateCritic(replay, rows, 0))!;
        Assert.That(error.Message, Does.Contain("batch row 3").And.Contain("20 rows"));
        Assert.Throws<ArgumentException>(() => fused.UpdateCritic(replay, new int[s.Batch - 1], 0));
        using var fresh = new Td3Update(actor, critic, Config(s), actingRows: 1);
        Assert.Throws<InvalidOperationException>(() => fresh.UpdateActor(0), "the actor step needs a critic step's batch");
    }

    [Test]
    public void ActMatchesTheTorchSharpActor()
    {
        using var scope = NewDisposeScope();
        Shape s = Hover;
        using FlatMlp actor = NewActor(s), critic = NewCritic(s);
        using var fused = new Td3Update(actor, critic, Config(s), actingRows: 32);
        Tensor x = randn([32, s.Observations], generator: new Generator(3));
        var actions = new float[32 * s.Actions];
        fused.Act(Values(x), actions);
        using (no_grad()) Assert.That(RelativeError(actions, Values(actor.Forward(x))), Is.LessThan(1e-5));
        Assert.Throws<ArgumentException>(() => fused.Act(new float[33 * s.Observations], new float[33 * s.Actions]));
    }

    [TestCase(1)]
    [TestCase(2)]
    public void AnUpdateAllocatesNothing(int threads)
    {
        Shape s = Hover;
        Td3Config c = Config(s, temporal: 1, spatial: 1);
        ReplayBuffer replay = RandomReplay(s, 300, seed: 7);
        using FlatMlp actor = NewActor(s), critic = NewCritic(s);
        using var fused = new Td3Update(actor, critic, c, actingRows: 32, threads: threads);
        int[] rows = Rows(replay, s.Batch, 1);
        var observations = new float[32 * s.Observations];
        var actions = new float[32 * s.Actions];
        long update = 0;
        Action batch = () =>
        {
            for (int k = 0; k < 10; k++)
            {
                fused.UpdateCritic(replay, rows, update++);
                fused.UpdateActor(update);
                fused.UpdateTargets(0.005);
                fused.Act(observations, actions);
            }
        };
        batch(); // warm up (tiering, first-use)
        Assert.That(AllocationMeter.FewestBytes(batch), Is.EqualTo(0));
    }

    [Test]
    public void CounterNoiseIsStandardNormalAndAddressedByIndex()
    {
        const int count = 200_003;
        float[] z = Noise(42, 7, count);
        double mean = z.Average(v => (double)v), variance = z.Average(v => (v - mean) * (v - mean));
        Assert.That(mean, Is.EqualTo(0).Within(0.01));
        Assert.That(Math.Sqrt(variance), Is.EqualTo(1).Within(0.01));
        double beyond2 = z.Count(v => Math.Abs(v) > 2) / (double)count;
        Assert.That(beyond2, Is.EqualTo(0.0455).Within(0.003), "Gaussian tails (P(|z| > 2) = 4.55 %)");

        // Any slice gives the same numbers as the whole; another counter or stream gives others.
        var slice = new float[11];
        fixed (float* p = slice) CounterNoise.FillNormal(42, 7, 1000, p, slice.Length);
        Assert.That(slice, Is.EqualTo(z.AsSpan(1000, 11).ToArray()));
        Assert.That(Noise(42, 8, 16), Is.Not.EqualTo(z.AsSpan(0, 16).ToArray()));
        Assert.That(Noise(43, 7, 16), Is.Not.EqualTo(z.AsSpan(0, 16).ToArray()));
        // Neighbouring numbers are uncorrelated.
        double lag = 0;
        for (int i = 1; i < count; i++) lag += z[i] * z[i - 1];
        Assert.That(lag / count, Is.EqualTo(0).Within(0.01));
    }

    [Test]
    public void VectorTanhAgreesWithMathFTanh()
    {
        // Both branches (the series below 0.25, the exponential form above), their seam, tiny and saturated values.
        float[] x = Enumerable.Range(-40_000, 80_001).Select(i => i * 5e-4f)
            .Concat([1e-30f, -1e-30f, 1e-8f, 0.2499999f, 0.25f, 0.2500001f, 9f, 50f, -100f, float.MaxValue]).ToArray();
        var y = (float[])x.Clone();
        fixed (float* p = y) SmallGemm.Tanh(p, y.Length);
        double worst = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float expected = MathF.Tanh(x[i]);
            double error = Math.Abs(y[i] - expected) / Math.Max(Math.Abs(expected), 1e-30);
            worst = Math.Max(worst, error);
        }
        Assert.That(worst, Is.LessThan(5e-7), "relative error (a few float ulps)");
    }

    [Test]
    public void VectorExpLogAndCosineAgreeWithMathF()
    {
        static double Worst(IEnumerable<float> inputs, Func<System.Numerics.Vector<float>, System.Numerics.Vector<float>> vector, Func<float, float> scalar)
        {
            double worst = 0;
            foreach (float x in inputs)
            {
                float actual = vector(new System.Numerics.Vector<float>(x))[0], expected = scalar(x);
                worst = Math.Max(worst, Math.Abs(actual - expected) / Math.Max(Math.Abs(expected), 1e-30));
            }
            return worst;
        }
        IEnumerable<float> Range(float from, float to, int count) => Enumerable.Range(0, count + 1).Select(i => from + (to - from) * i / count);
        Assert.That(Worst(Range(-87f, 88f, 200_000), VectorFunctions.Exp, MathF.Exp), Is.LessThan(3e-7), "exp");
        Assert.That(Worst(Range(1e-7f, 1f, 200_000).Concat(Range(1f, 1e6f, 1000)).Concat([5.96e-8f, 0.70710677f, 1.4142135f, 1.4142137f]),
            VectorFunctions.Log, MathF.Log), Is.LessThan(3e-7), "log");
        // cos(2πq) falls to 0 at q = ¼, so the error is measured against 1 there (absolute).
        double cosine = Range(0f, 0.25f, 100_000).Max(q =>
            (double)Math.Abs(VectorFunctions.CosQuarterTurn(new System.Numerics.Vector<float>(q))[0] - MathF.Cos(2 * MathF.PI * q)));
        Assert.That(cosine, Is.LessThan(3e-7), "cos");
    }

    sealed class ThreadRecordingWork(int callerThread) : IPhaseWork
    {
        public int Elsewhere;
        public void RunItem(int phase, int item)
        {
            if (Environment.CurrentManagedThreadId != callerThread) Interlocked.Increment(ref Elsewhere);
        }
    }

    [Test]
    public void ThreadChoiceProbesBothAndKeepsTheFaster()
    {
        var choice = new ThreadChoice();
        const int p = ThreadChoice.ProbeRounds, cycle = 2 * ThreadChoice.ProbeRounds + ThreadChoice.ExploitRounds;
        // Rounds cost 6 on two threads and 10 on one (an idle machine), then the reverse (the second core taken).
        bool[] RunCycle(long twoThreads, long oneThread)
        {
            var solo = new bool[cycle];
            for (int r = 0; r < cycle; r++)
            {
                solo[r] = choice.BeginRound();
                choice.Record(solo[r] ? oneThread / 2 : twoThreads / 2); // a round may record in parts
                choice.Record(solo[r] ? oneThread - oneThread / 2 : twoThreads - twoThreads / 2);
            }
            return solo;
        }
        bool[] idle = RunCycle(6, 10);
        Assert.That(idle.Take(p), Is.All.False, "first probe: two threads");
        Assert.That(idle.Skip(p).Take(p), Is.All.True, "second probe: one thread");
        Assert.That(idle.Skip(2 * p), Is.All.False, "two threads kept on an idle machine");
        bool[] busy = RunCycle(20, 10);
        Assert.That(busy.Skip(2 * p), Is.All.True, "one thread kept while the second core is busy");
        Assert.That(RunCycle(6, 10).Skip(2 * p), Is.All.False, "and two threads again once it is free");
        choice.BeginRound();
        Assert.That(choice.SoloRounds, Is.EqualTo(3 * p + ThreadChoice.ExploitRounds));
    }

    [Test]
    public void ThreadChoiceIsNotFooledByOneSlowRound()
    {
        // An idle machine (two threads 6, one thread 10 per round) where one round of the two-thread probe is held up
        // for as long as 40 rounds take (the thread descheduled): the probe's total says one thread is faster, its
        // rounds without the slowest say two; two threads must be kept. Four held-up rounds are still absorbed.
        foreach (int slowRounds in new[] { 1, ThreadChoice.DiscardedRounds })
        {
            var choice = new ThreadChoice();
            const int p = ThreadChoice.ProbeRounds, cycle = 2 * ThreadChoice.ProbeRounds + ThreadChoice.ExploitRounds;
            var solo = new bool[cycle];
            for (int r = 0; r < cycle; r++)
            {
                solo[r] = choice.BeginRound();
                choice.Record(solo[r] ? 10 : r < slowRounds ? 240 : 6);
            }
            Assert.That(solo.Skip(2 * p), Is.All.False, $"{slowRounds} slow round(s)");
        }
    }

    sealed class CountingWork(int items) : IPhaseWork
    {
        public readonly int[] Runs = new int[items];
        public int Phase = -1;
        public void RunItem(int phase, int item)
        {
            if (phase != Phase) throw new InvalidOperationException($"item of phase {phase} ran during phase {Phase}");
            Interlocked.Increment(ref Runs[item]);
        }
    }

    [Test]
    public void PhaseRunnerRunsEveryItemOnceAloneOrNotAndReportsFailures()
    {
        using var runner = new PhaseRunner(2);
        var work = new CountingWork(5);
        for (int phase = 0; phase < 20_000; phase++)
        {
            work.Phase = phase;
            int items = 1 + phase % 5;
            runner.Run(work, phase, items);
            for (int i = 0; i < items; i++)
                Assert.That(work.Runs[i], Is.EqualTo(1), $"phase {phase} item {i}");
            Array.Clear(work.Runs);
        }
        // Alone: every item on the calling thread, and back to two threads without losing an item.
        runner.Solo = true;
        var caller = new ThreadRecordingWork(Environment.CurrentManagedThreadId);
        for (int phase = 0; phase < 100; phase++) runner.Run(caller, phase, 4);
        Assert.That(caller.Elsewhere, Is.EqualTo(0));
        runner.Solo = false;
        for (int phase = 0; phase < 2_000; phase++)
        {
            work.Phase = phase;
            runner.Run(work, phase, 2);
            Assert.That(work.Runs.Take(2), Is.All.EqualTo(1), $"phase {phase} after solo");
            Array.Clear(work.Runs);
        }
        var failing = new CountingWork(2) { Phase = 0 };
        Assert.Throws<InvalidOperationException>(() => runner.Run(failing, 1, 2));
        work.Phase = 3;
        runner.Run(work, 3, 2); // still works afterwards
        Assert.That(work.Runs.Take(2), Is.All.EqualTo(1));
    }
}
