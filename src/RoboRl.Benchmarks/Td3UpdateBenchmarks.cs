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

    FlatMlp actor = null!, actorTarget = null!, critic = null!, criticTarget = null!;
    FlatAdam actorAdam = null!, criticAdam = null!;
    Tensor observation = null!, criticObservation = null!, action = null!, reward = null!, notDone = null!;
    Tensor nextObservation = null!, nextCriticObservation = null!;

    [GlobalSetup]
    public void Setup()
    {
        TorchSetup.Initialize(intraOpThreads: 1);
        actor = new FlatMlp([ActorInputs, 64, 64, Actions], Activation.Relu, Activation.Tanh, seed: 1);
        actorTarget = actor.Clone();
        critic = new FlatMlp([CriticInputs + Actions, 64, 64, 1], Activation.Relu, Activation.Identity, ensembleSize: 2, seed: 2);
        criticTarget = critic.Clone();
        actorAdam = new FlatAdam(actor, learningRate: 1e-3, weightDecay: 1e-4);
        criticAdam = new FlatAdam(critic, learningRate: 1e-3, weightDecay: 1e-4);
        observation = randn(Batch, ActorInputs).DetachFromDisposeScope();
        criticObservation = randn(Batch, CriticInputs).DetachFromDisposeScope();
        action = rand(Batch, Actions).mul_(2).sub_(1).DetachFromDisposeScope();
        reward = randn(Batch, 1).DetachFromDisposeScope();
        notDone = ones(Batch, 1).DetachFromDisposeScope();
        nextObservation = randn(Batch, ActorInputs).DetachFromDisposeScope();
        nextCriticObservation = randn(Batch, CriticInputs).DetachFromDisposeScope();
    }

    [Benchmark]
    public float Td3Update()
    {
        using var scope = NewDisposeScope();

        // Critic: y = r + γ·(1 − done)·min_i Q'_i(s', clip(π'(s') + clip(ε, −c, c), −1, 1))
        Tensor target;
        using (no_grad())
        {
            Tensor noise = randn_like(action).mul_(TargetNoise).clamp_(-NoiseClip, NoiseClip);
            Tensor nextAction = actorTarget.Forward(nextObservation).add_(noise).clamp_(-1, 1);
            Tensor nextQ = criticTarget.Forward(cat([nextCriticObservation, nextAction], 1)).amin(0);
            target = nextQ.mul_(notDone).mul_(Gamma).add_(reward);
        }
        Tensor q = critic.Forward(cat([criticObservation, action], 1));
        // Sum over both critics of each one's MSE (as CleanRL's qf1_loss + qf2_loss).
        Tensor criticLoss = (q - target).pow(2).mean(dimensions: [1, 2]).sum();
        critic.ZeroGrad();
        criticLoss.backward();
        criticAdam.Step();

        // Actor: maximise Q1(s, π(s)); the critic only passes gradient through (frozen views, Q1 alone).
        Tensor actorLoss = critic.ForwardMemberFrozen(cat([criticObservation, actor.Forward(observation)], 1), member: 0).mean().neg();
        actor.ZeroGrad();
        actorLoss.backward();
        actorAdam.Step();

        actorTarget.PolyakFrom(actor, Tau);
        criticTarget.PolyakFrom(critic, Tau);
        return criticLoss.item<float>();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (IDisposable d in new IDisposable[] { actor, actorTarget, critic, criticTarget, actorAdam, criticAdam,
                     observation, criticObservation, action, reward, notDone, nextObservation, nextCriticObservation })
            d.Dispose();
    }
}
