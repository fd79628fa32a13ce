using BenchmarkDotNet.Attributes;
using RoboRl.Core.Policy;
using RoboRl.Training;
using static TorchSharp.torch;

namespace RoboRl.Benchmarks;

/// <summary>
/// TD3 updates as the hover task schedules them (configs/tasks/crazyflie-hover.json: batch 128, actor 149 → 64 → 64 → 4,
/// twin critics (32 + 4) → 64 → 64 → 1, actor and both targets on every second critic update), three ways: the fused
/// kernels of <see cref="Td3Update"/> on one thread and on two, and the TorchSharp update they replaced (FlatMlp,
/// FlatAdam, one intra-op thread). One invocation is two critic updates plus one actor update and Polyak step;
/// the figures are per critic update (OperationsPerInvoke = 2), i.e. what 40.7 k updates of a run multiply.
/// Run: <c>dotnet run -c Release --project src/RoboRl.Benchmarks -- --filter '*Td3FusedUpdate*'</c>
/// (in-process for the same reason as <see cref="Td3UpdateBenchmarks"/>).
/// </summary>
[InProcess]
[MemoryDiagnoser]
public class Td3FusedUpdateBenchmarks
{
    const int Batch = 128, ActorInputs = 149, CriticInputs = 32, Actions = 4, ReplayRows = 100_000;
    const double Tau = 0.005;

    FlatMlp _actor = null!, _critic = null!, _actorTarget = null!, _criticTarget = null!;
    FlatAdam _actorAdam = null!, _criticAdam = null!;
    Td3Update _oneThread = null!, _twoThreads = null!;
    ReplayBuffer _replay = null!;
    readonly SeededRandom _random = new(1);
    readonly int[] _rows = new int[Batch];
    long _updates;
    Tensor _observation = null!, _criticInput = null!, _criticObservation = null!, _nextObservation = null!, _nextCriticObservation = null!;
    Tensor _reward = null!, _discount = null!;
    readonly float[] _batchObservations = new float[Batch * ActorInputs], _batchNextObservations = new float[Batch * ActorInputs];
    readonly float[] _batchCriticInputs = new float[Batch * (CriticInputs + Actions)], _batchCriticObservations = new float[Batch * CriticInputs];
    readonly float[] _batchNextCriticObservations = new float[Batch * CriticInputs], _batchRewards = new float[Batch], _batchDiscounts = new float[Batch];

    [GlobalSetup]
    public void Setup()
    {
        TorchSetup.Initialize(intraOpThreads: 1);
        _actor = new FlatMlp([ActorInputs, 64, 64, Actions], Activation.Relu, Activation.Tanh, seed: 1);
        _critic = new FlatMlp([CriticInputs + Actions, 64, 64, 1], Activation.Relu, Activation.Identity, ensembleSize: 2, seed: 2);
        _actorTarget = _actor.Clone();
        _criticTarget = _critic.Clone();
        _actorAdam = new FlatAdam(_actor, learningRate: 1e-3, weightDecay: 1e-4);
        _criticAdam = new FlatAdam(_critic, learningRate: 1e-3, weightDecay: 1e-4);
        var config = new Td3Config { BatchSize = Batch };
        _oneThread = new Td3Update(_actor, _critic, config, actingRows: 32, threads: 1);
        _twoThreads = new Td3Update(_actor, _critic, config, actingRows: 32, threads: 2);

        // A replay memory as large as a run's middle, so that gathering a batch misses the caches as it does in training.
        _replay = new ReplayBuffer(ReplayRows, ActorInputs, CriticInputs, Actions);
        var r = new SeededRandom(2);
        float[] o = new float[ActorInputs], co = new float[CriticInputs], a = new float[Actions];
        for (int row = 0; row < ReplayRows; row++)
        {
            for (int i = 0; i < o.Length; i++) o[i] = r.NextNormal();
            for (int i = 0; i < co.Length; i++) co[i] = r.NextNormal();
            for (int i = 0; i < a.Length; i++) a[i] = 2 * r.NextFloat() - 1;
            _replay.Add(o, co, a, r.NextNormal(), o, co, r.NextFloat() < 0.01f ? 0 : 0.99f);
        }
        _observation = zeros(Batch, ActorInputs).DetachFromDisposeScope();
        _criticInput = zeros(Batch, CriticInputs + Actions).DetachFromDisposeScope();
        _criticObservation = zeros(Batch, CriticInputs).DetachFromDisposeScope();
        _nextObservation = zeros(Batch, ActorInputs).DetachFromDisposeScope();
        _nextCriticObservation = zeros(Batch, CriticInputs).DetachFromDisposeScope();
        _reward = zeros(Batch, 1).DetachFromDisposeScope();
        _discount = zeros(Batch, 1).DetachFromDisposeScope();
    }

    float Fused(Td3Update update)
    {
        float loss = 0;
        for (int k = 0; k < 2; k++)
        {
            _replay.SampleRows(_random, _rows);
            loss += update.UpdateCritic(_replay, _rows, _updates++);
        }
        loss += update.UpdateActor(_updates);
        update.UpdateTargets(Tau);
        return loss;
    }

    [Benchmark(OperationsPerInvoke = 2)]
    public float FusedOneThread() => Fused(_oneThread);

    [Benchmark(OperationsPerInvoke = 2)]
    public float FusedTwoThreads() => Fused(_twoThreads);

    /// <summary>The update Td3.cs ran before the fused kernels (TorchSharp, including the batch copy into tensors).</summary>
    [Benchmark(OperationsPerInvoke = 2, Baseline = true)]
    public float TorchSharp()
    {
        float loss = 0;
        for (int k = 0; k < 2; k++)
        {
            _replay.SampleInto(_random, Batch, _batchObservations, _batchCriticInputs, _batchCriticObservations, _batchNextObservations,
                _batchNextCriticObservations, _batchRewards, _batchDiscounts);
            TensorCopy.From(_observation, _batchObservations);
            TensorCopy.From(_criticInput, _batchCriticInputs);
            TensorCopy.From(_criticObservation, _batchCriticObservations);
            TensorCopy.From(_nextObservation, _batchNextObservations);
            TensorCopy.From(_nextCriticObservation, _batchNextCriticObservations);
            TensorCopy.From(_reward, _batchRewards);
            TensorCopy.From(_discount, _batchDiscounts);
            using var scope = NewDisposeScope();
            Tensor target;
            using (no_grad())
            {
                Tensor noise = randn(Batch, Actions).mul_(0.2).clamp_(-0.5, 0.5);
                Tensor nextAction = _actorTarget.Forward(_nextObservation).add_(noise).clamp_(-1, 1);
                Tensor nextQ = _criticTarget.Forward(cat([_nextCriticObservation, nextAction], 1)).amin(0);
                target = nextQ.mul_(_discount).add_(_reward);
            }
            Tensor q = _critic.Forward(_criticInput);
            Tensor criticLoss = (q - target).pow(2).mean(dimensions: [1, 2]).sum();
            _critic.ZeroGrad();
            criticLoss.backward();
            _criticAdam.Step();
            if (k == 1)
            {
                Tensor actorLoss = _critic.ForwardMemberFrozen(cat([_criticObservation, _actor.Forward(_observation)], 1), member: 0).mean().neg();
                _actor.ZeroGrad();
                actorLoss.backward();
                _actorAdam.Step();
                _actorTarget.PolyakFrom(_actor, Tau);
                _criticTarget.PolyakFrom(_critic, Tau);
                loss += actorLoss.item<float>();
            }
            loss += criticLoss.item<float>();
        }
        return loss;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (IDisposable d in new IDisposable[] { _oneThread, _twoThreads, _actor, _actorTarget, _critic, _criticTarget, _actorAdam, _criticAdam,
                     _observation, _criticInput, _criticObservation, _nextObservation, _nextCriticObservation, _reward, _discount })
            d.Dispose();
    }
}
