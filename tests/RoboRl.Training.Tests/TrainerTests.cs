using System.Text.Json.Nodes;
using RoboRl.Core.Configs;
using RoboRl.Core.Policy;
using RoboRl.Core.Tasks;

namespace RoboRl.Training.Tests;

/// <summary>The trainer end to end on small budgets: learning, bundle parity, determinism, resume, config errors.</summary>
public class TrainerTests
{
    [OneTimeSetUp]
    public void LoadTorch() => TorchSetup.Initialize();

    static TrainResult Train(string task, string outDir, bool resume = false, long? steps = null, string? algorithm = null, int? seed = null,
        bool checkpointReplay = false) =>
        Trainer.Run(new TrainOptions(task) { OutDirectory = outDir, Resume = resume, TotalEnvSteps = steps, Algorithm = algorithm, Seed = seed, CheckpointReplay = checkpointReplay });

    static float[] ActorWeights(string bundlePath) => PolicyBundle.Read(bundlePath).Layers.SelectMany(l => l.Weights.Concat(l.Biases)).ToArray();

    [Test]
    public void Td3ClearlyImprovesReturnOnASmallBudget()
    {
        string task = RepoFiles.SmallTrainingTask(80_000, root =>
        {
            root["training"]!["num_envs"] = 32;
            root["training"]!["td3"]!["warmup_env_steps"] = 5_000;
            root["training"]!["td3"]!["actor_warmup_env_steps"] = 10_000;
        });
        TrainResult result = Train(task, Path.Combine(RepoFiles.TempDirectory(), "run"));

        // Training episode returns (mean per 5 k steps) from progress.csv: the first rows are warm-up (random actions
        // around hover), the last rows the learned policy.
        var rows = File.ReadAllLines(Path.Combine(result.RunDirectory, "progress.csv")).Skip(1)
            .Select(line => line.Split(',')).Where(f => f[4].Length > 0)
            .Select(f => (Step: long.Parse(f[0]), Return: double.Parse(f[4], System.Globalization.CultureInfo.InvariantCulture))).ToList();
        double early = rows[0].Return;
        double late = rows.Where(r => r.Step >= 65_000).Average(r => r.Return);
        TestContext.Out.WriteLine($"return early {early:F1}, late {late:F1}; final eval {result.FinalScore.SuccessRate:P0} success, {result.FinalScore.FailureRate:P0} crashes");
        TestContext.Out.WriteLine(string.Join(" ", rows.Select(r => $"{r.Step}:{r.Return:F0}")));
        // Deterministic for the seed on one machine; measured here: -25 → +18 (warm-up → last 15 k steps), i.e. +43.
        Assert.That(late, Is.GreaterThan(early + 20), "episodes last longer and earn more once the actor learns");

        // The run directory holds what docs/training.md promises.
        foreach (string file in new[] { Trainer.BundleFileName, Checkpoint.FileName, "progress.csv", "learning_curve.png", "eval_trajectories.png", "training.json" })
            Assert.That(File.Exists(Path.Combine(result.RunDirectory, file)), file);
        Assert.That(Directory.GetFiles(Path.Combine(result.RunDirectory, "tensorboard"), "events.out.tfevents.*"), Is.Not.Empty);
    }

    [Test]
    public void TrainedBundleRoundTripsAndTheEngineMatchesTorchSharp()
    {
        TrainResult result = Train(RepoFiles.SmallTrainingTask(6_000), Path.Combine(RepoFiles.TempDirectory(), "run"));
        PolicyBundle bundle = PolicyBundle.Read(result.BundlePath); // checksum verified
        Assert.That(bundle.GoldenCount, Is.EqualTo(8));
        Assert.That(bundle.Layers.Select(l => l.OutputSize), Is.EqualTo(new[] { 64, 64, 4 }));
        // Golden actions were computed by the trainer's TorchSharp forward; the C# engine must agree within 1e-5.
        foreach (PolicyKernel kernel in new[] { PolicyKernel.Auto, PolicyKernel.Scalar })
            Assert.That(new PolicyEngine(bundle, kernel).MaxGoldenError(), Is.LessThanOrEqualTo(1e-5f), kernel.ToString());
        Assert.That(bundle.ObservationStd, Is.All.InRange(1e-2f, 1f), "frozen normalisation within its clamp");
        Assert.That(bundle.TrainingConfigJson, Does.Contain("\"algorithm\":\"td3\""));
    }

    [Test]
    public void TheBrushlessAirframeTrainsFromItsConfigsAlone()
    {
        // configs/tasks/crazyflie-brushless-hover.json names configs/robots/crazyflie21-brushless.json; no code knows the airframe.
        string task = RepoFiles.SmallTrainingTask(6_000, taskFile: RepoFiles.Path("configs/tasks/crazyflie-brushless-hover.json"));
        HoverTaskConfig loaded = HoverTaskConfig.Load(task);
        // Hover: each rotor carries a quarter of 0.04338 kg · 9.81 m/s² = 0.1064 N of the 0.2 N THRUST_MAX: action 2·0.532 − 1.
        Assert.That(loaded.Robot.HoverAction(), Is.EqualTo(2 * (0.04338f * 9.81f / 4 / 0.2f) - 1).Within(1e-4f));
        TrainResult result = Train(task, Path.Combine(RepoFiles.TempDirectory(), "brushless"));
        PolicyBundle bundle = PolicyBundle.Read(result.BundlePath);
        Assert.That(bundle.RobotConfigJson, Does.Contain("\"crazyflie21-brushless\""));
        Assert.That(bundle.ActionHigh, Is.All.EqualTo(0.2f).Within(1e-6f), "a full action commands the brushless THRUST_MAX");
        Assert.That(bundle.ActionLow, Is.All.EqualTo(0f));
        Assert.That(new PolicyEngine(bundle).MaxGoldenError(), Is.LessThanOrEqualTo(1e-5f));
    }

    [Test]
    public void SameSeedGivesTheSamePolicy()
    {
        string task = RepoFiles.SmallTrainingTask(5_000);
        float[] a = ActorWeights(Train(task, Path.Combine(RepoFiles.TempDirectory(), "a")).BundlePath);
        float[] b = ActorWeights(Train(task, Path.Combine(RepoFiles.TempDirectory(), "b")).BundlePath);
        float[] c = ActorWeights(Train(task, Path.Combine(RepoFiles.TempDirectory(), "c"), seed: 2).BundlePath);
        Assert.That(b, Is.EqualTo(a));
        Assert.That(c, Is.Not.EqualTo(a));
    }

    [Test]
    public void UpdateThreadsDoNotChangeThePolicyAndAreRangeChecked()
    {
        // The fused update splits each batch into fixed blocks whatever the thread count, so 1 and 2 threads train the
        // same policy bit for bit.
        string one = RepoFiles.SmallTrainingTask(5_000, root => root["training"]!["td3"]!["update_threads"] = 1);
        string two = RepoFiles.SmallTrainingTask(5_000, root => root["training"]!["td3"]!["update_threads"] = 2);
        float[] a = ActorWeights(Train(one, Path.Combine(RepoFiles.TempDirectory(), "one")).BundlePath);
        float[] b = ActorWeights(Train(two, Path.Combine(RepoFiles.TempDirectory(), "two")).BundlePath);
        Assert.That(b, Is.EqualTo(a));

        string bad = RepoFiles.SmallTrainingTask(1_000, root => root["training"]!["td3"]!["update_threads"] = -1);
        var error = Assert.Throws<ConfigException>(() => Train(bad, Path.Combine(RepoFiles.TempDirectory(), "bad")))!;
        Assert.That(error.JsonPath, Is.EqualTo("$.training.td3.update_threads"));
    }

    [Test]
    public void ResumeContinuesFromTheCheckpoint()
    {
        string task = RepoFiles.SmallTrainingTask(5_000);
        string run = Path.Combine(RepoFiles.TempDirectory(), "run");
        // --resume continues an off-policy run only with its replay memory in the checkpoint (--checkpoint-replay).
        TrainResult first = Train(task, run, checkpointReplay: true);
        float[] trained = ActorWeights(first.BundlePath);

        // Without --resume an existing run is not overwritten.
        Assert.Throws<ArgumentException>(() => Train(task, run));

        // Resuming at the checkpoint's own step restores every weight exactly (nothing left to train).
        TrainResult same = Train(task, run, resume: true, checkpointReplay: true);
        Assert.That(ActorWeights(same.BundlePath), Is.EqualTo(trained));

        // Resuming with a larger budget trains on from there.
        TrainResult longer = Train(task, run, resume: true, steps: 7_000, checkpointReplay: true);
        // The run ends with the first whole vector step (16 environments) at or past the budget, and says so.
        Assert.That(longer.EnvSteps, Is.InRange(7_000, 7_015));
        Assert.That(ActorWeights(longer.BundlePath), Is.Not.EqualTo(trained));
        var steps = File.ReadAllLines(Path.Combine(run, "progress.csv")).Skip(1).Select(l => long.Parse(l.Split(',')[0])).ToList();
        Assert.That(steps.Max(), Is.EqualTo(longer.EnvSteps));

        Assert.Throws<ArgumentException>(() => Train(task, Path.Combine(RepoFiles.TempDirectory(), "empty"), resume: true));

        // A default (small) checkpoint has no replay memory: resuming from it is refused, saying how to get one.
        string small = Path.Combine(RepoFiles.TempDirectory(), "small");
        Train(task, small);
        var e = Assert.Throws<InvalidDataException>(() => Train(task, small, resume: true, steps: 6_000))!;
        Assert.That(e.Message, Does.Contain("no replay memory").And.Contain("--checkpoint-replay"));
    }

    [Test]
    public void SacTrainsAndExportsTheMeanOfItsGaussian()
    {
        TrainResult result = Train(RepoFiles.SmallTrainingTask(5_000), Path.Combine(RepoFiles.TempDirectory(), "sac"), algorithm: "sac");
        PolicyBundle bundle = PolicyBundle.Read(result.BundlePath);
        Assert.That(bundle.Layers[^1].OutputSize, Is.EqualTo(4), "only the mean half of [mean, log σ] is deployed");
        Assert.That(bundle.Layers[^1].Activation, Is.EqualTo(Activation.Tanh));
        Assert.That(new PolicyEngine(bundle).MaxGoldenError(), Is.LessThanOrEqualTo(1e-5f));
        Assert.That(bundle.TrainingConfigJson, Does.Contain("\"algorithm\":\"sac\""));
    }

    [TestCase("batch_size", 0, "$.training.td3.batch_size", "out of range")]
    [TestCase("gamma", 1.5, "$.training.td3.gamma", "out of range")]
    [TestCase("bogus_key", 1, "$.training.td3.bogus_key", "unknown key")]
    public void BadTrainingConfigNamesFileAndKey(string key, double value, string path, string problem)
    {
        string task = RepoFiles.SmallTrainingTask(1_000, root => root["training"]!["td3"]![key] = value);
        var error = Assert.Throws<ConfigException>(() => Train(task, Path.Combine(RepoFiles.TempDirectory(), "run")))!;
        Assert.That(error.File, Is.EqualTo(task));
        Assert.That(error.JsonPath, Is.EqualTo(path));
        Assert.That(error.Message, Does.Contain(problem));
    }

    [Test]
    public void UnknownAlgorithmInTheConfigNamesTheAllowedOnes()
    {
        string task = RepoFiles.SmallTrainingTask(1_000, root => root["training"]!["algorithm"] = "ppo");
        var error = Assert.Throws<ConfigException>(() => Train(task, Path.Combine(RepoFiles.TempDirectory(), "run")))!;
        Assert.That(error.JsonPath, Is.EqualTo("$.training.algorithm"));
        Assert.That(error.Message, Does.Contain("td3, sac"));
    }

    [Test]
    public void LearningRateDecayChangesTheRunAndIsRangeChecked()
    {
        // Same seed, same budget: only the learning-rate schedule differs, so the weights must differ.
        string constant = RepoFiles.SmallTrainingTask(5_000, root => root["training"]!["td3"]!["learning_rate_final_fraction"] = 1.0);
        string decaying = RepoFiles.SmallTrainingTask(5_000, root => root["training"]!["td3"]!["learning_rate_final_fraction"] = 0.1);
        float[] a = ActorWeights(Train(constant, Path.Combine(RepoFiles.TempDirectory(), "constant")).BundlePath);
        float[] b = ActorWeights(Train(decaying, Path.Combine(RepoFiles.TempDirectory(), "decaying")).BundlePath);
        Assert.That(b, Is.Not.EqualTo(a));

        string bad = RepoFiles.SmallTrainingTask(1_000, root => root["training"]!["td3"]!["learning_rate_final_fraction"] = 1.5);
        var error = Assert.Throws<ConfigException>(() => Train(bad, Path.Combine(RepoFiles.TempDirectory(), "bad")))!;
        Assert.That(error.JsonPath, Is.EqualTo("$.training.td3.learning_rate_final_fraction"));
    }

    [Test]
    public void TheBundleCarriesThePolyakAveragedActorUnlessOnlineIsAsked()
    {
        // Same seed and budget. With τ = 1 the target actor is a copy of the actor after every actor step, so both choices
        // export the same weights; with τ = 0.005 the average lags the latest step and the bundles differ.
        string Task(string exported, double tau) => RepoFiles.SmallTrainingTask(5_000, root =>
        {
            root["training"]!["td3"]!["exported_actor"] = exported;
            root["training"]!["td3"]!["tau"] = tau;
        });
        string Bundle(string task, string name) => Train(task, Path.Combine(RepoFiles.TempDirectory(), name)).BundlePath;
        Assert.That(ActorWeights(Bundle(Task("target", 1), "target-1")), Is.EqualTo(ActorWeights(Bundle(Task("online", 1), "online-1"))));
        string averaged = Bundle(Task("target", 0.005), "target");
        Assert.That(ActorWeights(averaged), Is.Not.EqualTo(ActorWeights(Bundle(Task("online", 0.005), "online"))));
        Assert.That(PolicyBundle.Read(averaged).TrainingConfigJson, Does.Contain("\"exported_actor\":\"target\""));

        string bad = RepoFiles.SmallTrainingTask(1_000, root => root["training"]!["td3"]!["exported_actor"] = "latest");
        var error = Assert.Throws<ConfigException>(() => Train(bad, Path.Combine(RepoFiles.TempDirectory(), "bad")))!;
        Assert.That(error.JsonPath, Is.EqualTo("$.training.td3.exported_actor"));
        Assert.That(error.Message, Does.Contain("target, online"));
    }

    [Test]
    public void SmoothnessTermsChangeTheActorAndAreRangeChecked()
    {
        // Same seed and budget: only the CAPS weights differ, so the actor must differ.
        string off = RepoFiles.SmallTrainingTask(5_000, root =>
        {
            root["training"]!["td3"]!["smoothness_temporal"] = 0;
            root["training"]!["td3"]!["smoothness_spatial"] = 0;
        });
        string on = RepoFiles.SmallTrainingTask(5_000, root =>
        {
            root["training"]!["td3"]!["smoothness_temporal"] = 1;
            root["training"]!["td3"]!["smoothness_spatial"] = 1;
        });
        float[] a = ActorWeights(Train(off, Path.Combine(RepoFiles.TempDirectory(), "off")).BundlePath);
        float[] b = ActorWeights(Train(on, Path.Combine(RepoFiles.TempDirectory(), "on")).BundlePath);
        Assert.That(b, Is.Not.EqualTo(a));

        string bad = RepoFiles.SmallTrainingTask(1_000, root => root["training"]!["td3"]!["smoothness_spatial_std"] = -1);
        var error = Assert.Throws<ConfigException>(() => Train(bad, Path.Combine(RepoFiles.TempDirectory(), "bad")))!;
        Assert.That(error.JsonPath, Is.EqualTo("$.training.td3.smoothness_spatial_std"));
    }
}
