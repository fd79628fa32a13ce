using RoboRl.Core.Configs;
using RoboRl.Core.Policy;

namespace RoboRl.Training.Tests;

/// <summary>PPO on the tiny point-goal task: GAE by hand, learning, the exported bundle, determinism, config errors.</summary>
public class PpoTests
{
    [OneTimeSetUp]
    public void LoadTorch() => TorchSetup.Initialize();

    [Test]
    public void GaeMatchesAHandComputedRollout()
    {
        // Two envs, three steps; env 0's episode ends at t = 1, env 1 never ends. γ = 0.9, λ = 0.5.
        float[] rewards = [1, 2, 0, 1, 3, 1]; // row t·2 + i
        float[] values = [0.5f, 1, 0.2f, 0, 0.4f, 2];
        bool[] ends = [false, false, true, false, false, false];
        float[] next = [10, 4];
        var advantages = new float[6];
        var returns = new float[6];
        Ppo.ComputeGae(rewards, values, ends, next, 2, 0.9f, 0.5f, advantages, returns);

        // env 0: t2: δ = 3 + 0.9·10 − 0.4 = 11.6, A = 11.6; t1 (ended): δ = 0 − 0.2 = −0.2, A = −0.2;
        //        t0: δ = 1 + 0.9·0.2 − 0.5 = 0.68, A = 0.68 + 0.45·(−0.2) = 0.59
        // env 1: t2: δ = 1 + 0.9·4 − 2 = 2.6; t1: δ = 1 + 0.9·2 − 0 = 2.8, A = 2.8 + 0.45·2.6 = 3.97;
        //        t0: δ = 2 + 0 − 1 = 1, A = 1 + 0.45·3.97 = 2.7865
        float[] expected = [0.59f, 2.7865f, -0.2f, 3.97f, 11.6f, 2.6f];
        for (int k = 0; k < 6; k++)
        {
            Assert.That(advantages[k], Is.EqualTo(expected[k]).Within(1e-5f), $"advantage {k}");
            Assert.That(returns[k], Is.EqualTo(expected[k] + values[k]).Within(1e-5f), $"return {k}");
        }
    }

    static (PolicyBundle Bundle, string RunDirectory) TrainPointGoal(long steps, int seed = 1)
    {
        var config = new PpoConfig
        {
            Run = PpoConfig.DefaultRun with { Seed = seed, TotalEnvSteps = steps, NumEnvs = 16, EvalEveryEnvSteps = 0 },
            NumSteps = 64,
            NumMinibatches = 4,
            UpdateEpochs = 8,
            LearningRate = 3e-3,
            NormalizerWarmupEnvSteps = 1024,
            EntropyCoefficient = 0,
            ActorHidden = [32, 32],
            CriticHidden = [32, 32],
        };
        string dir = RepoFiles.TempDirectory();
        using var session = new TrainingSession(dir, (b, episodes, final) => PointGoalEnv.Score(b, episodes, final ? 2UL : 1UL), "eval_steps_to_goal_p50", steps, seed, null, null, false, null);
        PolicyBundle bundle = Ppo.Train((n, _) => new PointGoalEnv(n), config,
            json => new PolicyDescription(PointGoalEnv.ObservationNames, PointGoalEnv.ActionNames, [-0.1f, -0.1f], [0.1f, 0.1f], "m",
                10, 0, "{\"robot\": \"point\"}", json, "test"), session);
        session.Finish();
        return (bundle, dir);
    }

    [Test]
    public void LearnsToReachTheGoalAndExportsTheDeterministicPolicy()
    {
        PolicyBundle untrained = TrainPointGoal(1024 + 1024).Bundle; // warm-up and one rollout
        var (bundle, dir) = TrainPointGoal(60_000);
        PolicyScore before = PointGoalEnv.Score(untrained, 200, 99), after = PointGoalEnv.Score(bundle, 200, 99);
        TestContext.Out.WriteLine($"success {before.SuccessRate:P0} → {after.SuccessRate:P0}, median steps {after.Cost}");
        Assert.That(after.SuccessRate, Is.GreaterThan(0.9), "the trained policy reaches the goal");
        Assert.That(after.SuccessRate, Is.GreaterThan(before.SuccessRate + 0.5), "and the untrained one mostly does not");
        // Shortest possible: start ≥ 0.5 from the goal at 0.1 per step ⇒ ≥ 4 steps; a direct policy needs ~ d/0.1.
        Assert.That(after.Cost, Is.LessThan(15), "it goes fairly straight");

        // The bundle: frozen normalisation (not the identity), tanh head, golden vectors the C# engine reproduces.
        Assert.That(bundle.ObservationStd, Has.Some.Not.EqualTo(1f));
        Assert.That(bundle.Layers[^1].Activation, Is.EqualTo(Activation.Tanh));
        Assert.That(bundle.Layers[0].Activation, Is.EqualTo(Activation.Tanh));
        Assert.That(new PolicyEngine(bundle).MaxGoldenError(), Is.LessThan(1e-5f));
        Assert.That(bundle.TrainingConfigJson, Does.Contain("\"algorithm\":\"ppo\""));
        string[] csv = File.ReadAllLines(Path.Combine(dir, "progress.csv"));
        Assert.That(csv[0], Does.EndWith("eval_steps_to_goal_p50,eval"), "the last column marks evaluation rows");
        Assert.That(csv.Length, Is.GreaterThan(5));
        Assert.That(File.Exists(Path.Combine(dir, "learning_curve.png")));
    }

    [Test]
    public void SameSeedSameWeights()
    {
        float[] Weights(PolicyBundle b) => b.Layers.SelectMany(l => l.Weights.Concat(l.Biases)).ToArray();
        float[] a = Weights(TrainPointGoal(5_000, seed: 3).Bundle), b = Weights(TrainPointGoal(5_000, seed: 3).Bundle);
        float[] other = Weights(TrainPointGoal(5_000, seed: 4).Bundle);
        Assert.That(b, Is.EqualTo(a));
        Assert.That(other, Is.Not.EqualTo(a));
    }

    [Test]
    public void ConfigErrorsNameTheKey()
    {
        ConfigNode Training(string ppo) => ConfigNode.Parse("{\"algorithm\": \"ppo\", \"num_envs\": 10, \"ppo\": {" + ppo + "}}", "task.json");
        var e = Assert.Throws<ConfigException>(() => PpoConfig.Read(Training("\"num_steps\": 10, \"num_minibatches\": 3")))!;
        Assert.That(e.Message, Does.Contain("num_minibatches").And.Contain("100"));
        e = Assert.Throws<ConfigException>(() => PpoConfig.Read(Training("\"gae_lambda\": 1.5")))!;
        Assert.That(e.Message, Does.Contain("gae_lambda"));
        e = Assert.Throws<ConfigException>(() => PpoConfig.Read(Training("\"clip_coef\": 0.2")))!;
        Assert.That(e.Message, Does.Contain("clip_coef"));
        PpoConfig ok = PpoConfig.Read(Training("\"num_steps\": 20, \"num_minibatches\": 4, \"entropy_coefficient\": 0.01"));
        Assert.That((ok.BatchSize, ok.MinibatchSize, ok.EntropyCoefficient), Is.EqualTo((200, 50, 0.01)));
    }
}
