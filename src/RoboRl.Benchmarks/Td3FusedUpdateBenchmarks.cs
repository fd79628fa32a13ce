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

    FlatMlp actor = null!, critic = null!, actorTarget = null!, criticTarget = null!;
    FlatAdam actorAdam = null!, criticAdam = null!;
    Td3Update oneThread = null!, twoThreads = null!;
    ReplayBuffer replay = null!;
    readonly SeededRandom random = new(1);
    readonly int[] rows = new int[Batch];
    long updates;
    Tensor observation = null!, criticInput = null!, criticObservation = null!, nextObservation = null!, nextCriticObservation = null!;
    Tensor reward = null!, discount = null!;
    readonly float[] batchObservations = new float[Batch * ActorInputs], batchNextObservations = new float[Batch * ActorInputs];
    readonly float[] batchCriticInputs = new float[Batch * (CriticInputs + Actions)], batchCriticObservations = new float[Batch * CriticInputs];
    readonly float[] batchNextCriticObservations = new float[Batch * CriticInputs], batchRewards = new float[Batch], batchDiscounts = new float[Batch];

    [GlobalSetup]
    public void Setup()
    {
        TorchSetup.Initialize(intraOpThreads: 1);
        actor = new FlatMlp([ActorInputs, 64, 64, Actions], Activation.Relu, Activation.Tanh, seed: 1);
        critic = new FlatMlp([CriticInputs + Actions, 64, 64, 1], Activation.Relu, Activation.Identity, ensembleSize: 2, seed: 2);
        actorTarget = actor.Clone();
        criticTarget = critic.Clone();
        actorAdam = new FlatAdam(actor, learningRate: 1e-3, weightDecay: 1e-4);
        criticAdam = new FlatAdam(critic, learningRate: 1e-3, weightDecay: 1e-4);
        var config = new Td3Config { BatchSize = Batch };
        oneThread = new Td3Update(actor, critic, config, actingRows: 32, threads: 1);
        twoThreads = new Td3Update(actor, critic, config, actingRows: 32, threads: 2);

        // A replay memory as large as a run's middle, so that gathering a batch misses the caches as it does in training.
        replay = new ReplayBuffer(ReplayRows, ActorInputs, CriticInputs, Actions);
        var r = new SeededRandom(2);
        float[] o = new float[ActorInputs], co = new float[CriticInputs], a = new float[Actions];
        for (int row = 0; row < ReplayRows; row++)
        {
            for (int i = 0; i < o.Length; i++) o[i] = r.NextNormal();
            for (int i = 0; i < co.Length; i++) co[i] = r.NextNormal();
            for (int i = 0; i < a.Length; i++) a[i] = 2 * r.NextFloat() - 1;
            replay.Add(o, co, a, r.NextNormal(), o, co, r.NextFloat() < 0.01f ? 0 : 0.99f);
        }
        observation = zeros(Batch, ActorInputs).DetachFromDisposeScope();
        criticInput = zeros(Batch, CriticInputs + Actions).DetachFromDisposeScope();
        criticObservation = zeros(Batch, CriticInputs).DetachFromDisposeScope();
        nextObservation = zeros(Batch, ActorInputs).DetachFromDisposeScope();
        nextCriticObservation = zeros(Batch, CriticInputs).DetachFromDisposeScope();
        reward = zeros(Batch, 1).DetachFromDisposeScope();
        discount = zeros(Batch, 1).DetachFromDisposeScope();
    }

    float Fused(Td3Update update)
    {
        float loss = 0;
        for (int k = 0; k < 2; k++)
        {
            replay.SampleRows(random, rows);
            loss += update.UpdateCritic(replay, rows, updates++);
        }
        loss += update.UpdateActor(updates);
        update.UpdateTargets(Tau);
        return loss;
    }

    [Benchmark(OperationsPerInvoke = 2)]
    public float FusedOneThread() => Fused(oneThread);

    [Benchmark(OperationsPerInvoke = 2)]
    public float FusedTwoThreads() => Fused(twoThreads);

    /// <summary>The update Td3.cs ran before the fused kernels (TorchSharp, including the batch copy into tensors).</summary>
    [Benchmark(OperationsPerInvoke = 2, Baseline = true)]
    public float TorchSharp()
    {
        float loss = 0;
        for (int k = 0; k < 2; k++)
        {
            replay.SampleInto(random, Batch, batchObservations, batchCriticInputs, batchCriticObservations, batchNextObservations,
                batchNextCriticObservations, batchRewards, batchDiscounts);
            TensorCopy.From(observation, batchObservations);
            TensorCopy.From(criticInput, batchCriticInputs);
            TensorCopy.From(criticObservation, batchCriticObservations);
            TensorCopy.From(nextObservation, batchNextObservations);
            TensorCopy.From(nextCriticObservation, batchNextCriticObservations);
            TensorCopy.From(reward, batchRewards);
            TensorCopy.From(discount, batchDiscounts);
            using var scope = NewDisposeScope();
            Tensor target;
            using (no_grad())
            {
                Tensor noise = randn(Batch, Actions).mul_(0.2).clamp_(-0.5, 0.5);
                Tensor nextAction = actorTarget.Forward(nextObservation).add_(noise).clamp_(-1, 1);
                Tensor nextQ = criticTarget.Forward(cat([nextCriticObservation, nextAction], 1)).amin(0);
                target = nextQ.mul_(discount).add_(reward);
            }
            Tensor q = critic.Forward(criticInput);
            Tensor criticLoss = (q - target).pow(2).mean(dimensions: [1, 2]).sum();
            critic.ZeroGrad();
            criticLoss.backward();
            criticAdam.Step();
            if (k == 1)
            {
                Tensor actorLoss = critic.ForwardMemberFrozen(cat([criticObservation, actor.Forward(observation)], 1), member: 0).mean().neg();
                actor.ZeroGrad();
                actorLoss.backward();
                actorAdam.Step();
                actorTarget.PolyakFrom(actor, Tau);
                criticTarget.PolyakFrom(critic, Tau);
                loss += actorLoss.item<float>();
            }
            loss += criticLoss.item<float>();
        }
        return loss;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (IDisposable d in new IDisposable[] { oneThread, twoThreads, actor, actorTarget, critic, criticTarget, actorAdam, criticAdam,
                     observation, criticInput, criticObservation, nextObservation, nextCriticObservation, reward, discount })
            d.Dispose();
    }
}
