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

    Sequential actor = null!, actorTarget = null!, critic1 = null!, critic2 = null!, critic1Target = null!, critic2Target = null!;
    optim.Optimizer actorAdam = null!, criticAdam = null!;
    Tensor observation = null!, criticObservation = null!, action = null!, reward = null!, notDone = null!;
    Tensor nextObservation = null!, nextCriticObservation = null!;

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
        actor = Mlp(ActorInputs, Actions, true);
        actorTarget = CopyOf(actor, ActorInputs, Actions, true);
        critic1 = Mlp(CriticInputs + Actions, 1, false);
        critic2 = Mlp(CriticInputs + Actions, 1, false);
        critic1Target = CopyOf(critic1, CriticInputs + Actions, 1, false);
        critic2Target = CopyOf(critic2, CriticInputs + Actions, 1, false);
        actorAdam = optim.Adam(actor.parameters(), lr: 1e-3, beta1: 0.9, beta2: 0.999, weight_decay: 1e-4);
        criticAdam = optim.Adam(critic1.parameters().Concat(critic2.parameters()), lr: 1e-3, beta1: 0.9, beta2: 0.999, weight_decay: 1e-4);
        observation = randn(Batch, ActorInputs);
        criticObservation = randn(Batch, CriticInputs);
        action = rand(Batch, Actions).mul_(2).sub_(1);
        reward = randn(Batch, 1);
        notDone = ones(Batch, 1);
        nextObservation = randn(Batch, ActorInputs);
        nextCriticObservation = randn(Batch, CriticInputs);
    }

    [Benchmark(Baseline = true)]
    public float Td3UpdateNaive()
    {
        using var scope = NewDisposeScope();
        Tensor target;
        using (no_grad())
        {
            Tensor noise = (randn_like(action) * TargetNoise).clamp(-NoiseClip, NoiseClip);
            Tensor nextAction = (actorTarget.forward(nextObservation) + noise).clamp(-1, 1);
            Tensor nextInput = cat([nextCriticObservation, nextAction], 1);
            Tensor nextQ = minimum(critic1Target.forward(nextInput), critic2Target.forward(nextInput));
            target = reward + Gamma * notDone * nextQ;
        }
        Tensor input = cat([criticObservation, action], 1);
        Tensor criticLoss = nn.functional.mse_loss(critic1.forward(input), target) + nn.functional.mse_loss(critic2.forward(input), target);
        criticAdam.zero_grad();
        criticLoss.backward();
        criticAdam.step();

        Tensor actorLoss = -critic1.forward(cat([criticObservation, actor.forward(observation)], 1)).mean();
        actorAdam.zero_grad();
        actorLoss.backward();
        actorAdam.step();

        using (no_grad())
        {
            foreach (var (online, targetNet) in new[] { (actor, actorTarget), (critic1, critic1Target), (critic2, critic2Target) })
                foreach (var (p, t) in online.parameters().Zip(targetNet.parameters()))
                    t.mul_(1 - Tau).add_(p, alpha: Tau);
        }
        return criticLoss.item<float>();
    }
}
