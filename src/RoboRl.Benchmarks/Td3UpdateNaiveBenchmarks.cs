using BenchmarkDotNet.Attributes;
using RoboRl.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RoboRl.Benchmarks;

/// <summary>
/// The baseline for <see cref="Td3UpdateBenchmarks"/>: the same TD3 update written the textbook way, with
/// nn.Linear modules, two separate critics, torch.optim.Adam and per-parameter Polyak averaging. Run both in
/// one command so that they share the machine's state:
/// <c>dotnet run -c Release --project src/RoboRl.Benchmarks -- --filter '*Td3Update*'</c>
/// </summary>
[InProcess]
[MemoryDiagnoser]
public class Td3UpdateNaiveBenchmarks
{
    const int Batch = 256, ActorInputs = 149, CriticInputs = 32, Actions = 4;
    const double Gamma = 0.99, Tau = 0.005, TargetNoise = 0.2, NoiseClip = 0.5;

    Sequential _actor = null!, _actorTarget = null!, _critic1 = null!, _critic2 = null!, _critic1Target = null!, _critic2Target = null!;
    optim.Optimizer _actorAdam = null!, _criticAdam = null!;
    Tensor _observation = null!, _criticObservation = null!, _action = null!, _reward = null!, _notDone = null!;
    Tensor _nextObservation = null!, _nextCriticObservation = null!;

    static Sequential Mlp(int inputs, int outputs, bool tanhOutput) => tanhOutput
        ? nn.Sequential(nn.Linear(inputs, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, outputs), nn.Tanh())
        : nn.Sequential(nn.Linear(inputs, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, outputs));

    static Sequential CopyOf(Sequential source, int inputs, int outputs, bool tanhOutput)
    {
        Sequential copy = Mlp(inputs, outputs, tanhOutput);
        copy.load_state_dict(source.state_dict());
        return copy;
    }

    [GlobalSetup]
    public void Setup()
    {
        TorchSetup.Initialize(intraOpThreads: 1);
        _actor = Mlp(ActorInputs, Actions, true);
        _actorTarget = CopyOf(_actor, ActorInputs, Actions, true);
        _critic1 = Mlp(CriticInputs + Actions, 1, false);
        _critic2 = Mlp(CriticInputs + Actions, 1, false);
        _critic1Target = CopyOf(_critic1, CriticInputs + Actions, 1, false);
        _critic2Target = CopyOf(_critic2, CriticInputs + Actions, 1, false);
        _actorAdam = optim.Adam(_actor.parameters(), lr: 1e-3, beta1: 0.9, beta2: 0.999, weight_decay: 1e-4);
        _criticAdam = optim.Adam(_critic1.parameters().Concat(_critic2.parameters()), lr: 1e-3, beta1: 0.9, beta2: 0.999, weight_decay: 1e-4);
        _observation = randn(Batch, ActorInputs);
        _criticObservation = randn(Batch, CriticInputs);
        _action = rand(Batch, Actions).mul_(2).sub_(1);
        _reward = randn(Batch, 1);
        _notDone = ones(Batch, 1);
        _nextObservation = randn(Batch, ActorInputs);
        _nextCriticObservation = randn(Batch, CriticInputs);
    }

    [Benchmark(Baseline = true)]
    public float Td3UpdateNaive()
    {
        using var scope = NewDisposeScope();
        Tensor target;
        using (no_grad())
        {
            Tensor noise = (randn_like(_action) * TargetNoise).clamp(-NoiseClip, NoiseClip);
            Tensor nextAction = (_actorTarget.forward(_nextObservation) + noise).clamp(-1, 1);
            Tensor nextInput = cat([_nextCriticObservation, nextAction], 1);
            Tensor nextQ = minimum(_critic1Target.forward(nextInput), _critic2Target.forward(nextInput));
            target = _reward + Gamma * _notDone * nextQ;
        }
        Tensor input = cat([_criticObservation, _action], 1);
        Tensor criticLoss = nn.functional.mse_loss(_critic1.forward(input), target) + nn.functional.mse_loss(_critic2.forward(input), target);
        _criticAdam.zero_grad();
        criticLoss.backward();
        _criticAdam.step();

        Tensor actorLoss = -_critic1.forward(cat([_criticObservation, _actor.forward(_observation)], 1)).mean();
        _actorAdam.zero_grad();
        actorLoss.backward();
        _actorAdam.step();

        using (no_grad())
        {
            foreach (var (online, targetNet) in new[] { (_actor, _actorTarget), (_critic1, _critic1Target), (_critic2, _critic2Target) })
                foreach (var (p, t) in online.parameters().Zip(targetNet.parameters()))
                    t.mul_(1 - Tau).add_(p, alpha: Tau);
        }
        return criticLoss.item<float>();
    }
}
