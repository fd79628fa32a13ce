using BenchmarkDotNet.Attributes;
using RoboRl.Core.Policy;
using RoboRl.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace RoboRl.Benchmarks;

/// <summary>
/// One full TD3 update from the flat-buffer building blocks, on synthetic data: critic step (target policy
/// smoothing, twin-Q minimum, MSE, Adam), actor step (−Q1, Adam) and Polyak averaging of both targets.
/// Sizes as learning-to-fly (FACTS): batch 256, actor 149 → 64 → 64 → 4 (L2F's 146 inputs + the 3-value position-error integral), critics (32 + 4) → 64 → 64 → 1 × 2,
/// γ 0.99, τ 0.005, Adam lr 1e-3, weight decay 1e-4, one intra-op thread. FACTS measured ~1.0 ms for naive
/// modules and 0.5–0.66 ms with flat buffers. Run:
/// <c>dotnet run -c Release --project src/RoboRl.Benchmarks -- --filter '*Td3Update*'</c>
///
/// In-process: the process BenchmarkDotNet would generate does not import RoboRl.Training.targets, so its
/// copy of libLibTorchSharp.so would not be patched for Debian 12.
/// </summary>
[InProcess]
[MemoryDiagnoser]
public class Td3UpdateBenchmarks
{
    const int Batch = 256, ActorInputs = 149, CriticInputs = 32, Actions = 4;
    const double Gamma = 0.99, Tau = 0.005, TargetNoise = 0.2, NoiseClip = 0.5;

    FlatMlp _actor = null!, _actorTarget = null!, _critic = null!, _criticTarget = null!;
    FlatAdam _actorAdam = null!, _criticAdam = null!;
    Tensor _observation = null!, _criticObservation = null!, _action = null!, _reward = null!, _notDone = null!;
    Tensor _nextObservation = null!, _nextCriticObservation = null!;

    [GlobalSetup]
    public void Setup()
    {
        TorchSetup.Initialize(intraOpThreads: 1);
        _actor = new FlatMlp([ActorInputs, 64, 64, Actions], Activation.Relu, Activation.Tanh, seed: 1);
        _actorTarget = _actor.Clone();
        _critic = new FlatMlp([CriticInputs + Actions, 64, 64, 1], Activation.Relu, Activation.Identity, ensembleSize: 2, seed: 2);
        _criticTarget = _critic.Clone();
        _actorAdam = new FlatAdam(_actor, learningRate: 1e-3, weightDecay: 1e-4);
        _criticAdam = new FlatAdam(_critic, learningRate: 1e-3, weightDecay: 1e-4);
        _observation = randn(Batch, ActorInputs).DetachFromDisposeScope();
        _criticObservation = randn(Batch, CriticInputs).DetachFromDisposeScope();
        _action = rand(Batch, Actions).mul_(2).sub_(1).DetachFromDisposeScope();
        _reward = randn(Batch, 1).DetachFromDisposeScope();
        _notDone = ones(Batch, 1).DetachFromDisposeScope();
        _nextObservation = randn(Batch, ActorInputs).DetachFromDisposeScope();
        _nextCriticObservation = randn(Batch, CriticInputs).DetachFromDisposeScope();
    }

    [Benchmark]
    public float Td3Update()
    {
        using var scope = NewDisposeScope();

        // Critic: y = r + γ·(1 − done)·min_i Q'_i(s', clip(π'(s') + clip(ε, −c, c), −1, 1))
        Tensor target;
        using (no_grad())
        {
            Tensor noise = randn_like(_action).mul_(TargetNoise).clamp_(-NoiseClip, NoiseClip);
            Tensor nextAction = _actorTarget.Forward(_nextObservation).add_(noise).clamp_(-1, 1);
            Tensor nextQ = _criticTarget.Forward(cat([_nextCriticObservation, nextAction], 1)).amin(0);
            target = nextQ.mul_(_notDone).mul_(Gamma).add_(_reward);
        }
        Tensor q = _critic.Forward(cat([_criticObservation, _action], 1));
        // Sum over both critics of each one's MSE (as CleanRL's qf1_loss + qf2_loss).
        Tensor criticLoss = (q - target).pow(2).mean(dimensions: [1, 2]).sum();
        _critic.ZeroGrad();
        criticLoss.backward();
        _criticAdam.Step();

        // Actor: maximise Q1(s, π(s)); the critic only passes gradient through (frozen views, Q1 alone).
        Tensor actorLoss = _critic.ForwardMemberFrozen(cat([_criticObservation, _actor.Forward(_observation)], 1), member: 0).mean().neg();
        _actor.ZeroGrad();
        actorLoss.backward();
        _actorAdam.Step();

        _actorTarget.PolyakFrom(_actor, Tau);
        _criticTarget.PolyakFrom(_critic, Tau);
        return criticLoss.item<float>();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (IDisposable d in new IDisposable[] { _actor, _actorTarget, _critic, _criticTarget, _actorAdam, _criticAdam,
                     _observation, _criticObservation, _action, _reward, _notDone, _nextObservation, _nextCriticObservation })
            d.Dispose();
    }
}
