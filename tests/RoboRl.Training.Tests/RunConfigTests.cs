using System.Text.Json.Nodes;
using RoboRl.Core.Configs;

namespace RoboRl.Training.Tests;

/// <summary>The run keys are one record, bound once, with the same meaning for every algorithm (issue 17, item 2).</summary>
public class RunConfigTests
{
    const string RunKeys = "\"seed\": 7, \"total_env_steps\": 12345, \"num_envs\": 8, \"eval_every_env_steps\": 1000, " +
        "\"eval_from_env_steps\": 500, \"eval_episodes\": 11, \"final_eval_episodes\": 22, \"sim_threads\": 2, \"keep_best_policy\": false";

    static ConfigNode Training(string algorithm, string extra = "") =>
        ConfigNode.Parse("{\"algorithm\": \"" + algorithm + "\", " + RunKeys + extra + "}", "task.json");

    [Test]
    public void EveryAlgorithmBindsTheSameRunKeys()
    {
        var expected = new RunConfig
        {
            Seed = 7,
            TotalEnvSteps = 12345,
            NumEnvs = 8,
            EvalEveryEnvSteps = 1000,
            EvalFromEnvSteps = 500,
            EvalEpisodes = 11,
            FinalEvalEpisodes = 22,
            SimThreads = 2,
            KeepBestPolicy = false,
        };
        Assert.That(Td3Config.Read(Training("td3")).Run, Is.EqualTo(expected with { CheckpointEveryEnvSteps = Td3Config.DefaultRun.CheckpointEveryEnvSteps }));
        Assert.That(SacConfig.Read(Training("sac")).Run, Is.EqualTo(expected with { CheckpointEveryEnvSteps = SacConfig.DefaultRun.CheckpointEveryEnvSteps }));
        // PPO used to ignore eval_from_env_steps (its binding had drifted from TD3's); now the one binding serves it too.
        Assert.That(PpoConfig.Read(Training("ppo")).Run, Is.EqualTo(expected with { CheckpointEveryEnvSteps = 0 }));
    }

    [Test]
    public void AbsentKeysTakeTheAlgorithmsDefaults()
    {
        ConfigNode empty = ConfigNode.Parse("{\"algorithm\": \"ppo\"}", "task.json");
        Assert.That(PpoConfig.Read(empty).Run, Is.EqualTo(PpoConfig.DefaultRun));
        Assert.That(PpoConfig.DefaultRun.TotalEnvSteps, Is.EqualTo(1_000_000), "CleanRL's default run length");
        Assert.That(Td3Config.Read(null).Run, Is.EqualTo(Td3Config.DefaultRun));
        Assert.That(Td3Config.DefaultRun.TotalEnvSteps, Is.EqualTo(300_000), "the hover task's run length");
    }

    [Test]
    public void ARunKeyOutOfRangeOrUnsupportedNamesTheFileAndKey()
    {
        var e = Assert.Throws<ConfigException>(() => Td3Config.Read(ConfigNode.Parse("{\"algorithm\": \"td3\", \"num_envs\": 0}", "hover.json")))!;
        Assert.That(e.Message, Does.Contain("hover.json").And.Contain("num_envs"));
        e = Assert.Throws<ConfigException>(() => PpoConfig.Read(ConfigNode.Parse("{\"algorithm\": \"ppo\", \"checkpoint_every_env_steps\": 1000}", "nav.json")))!;
        Assert.That(e.Message, Does.Contain("nav.json").And.Contain("checkpoint_every_env_steps").And.Contain("expected 0"));
        e = Assert.Throws<ConfigException>(() => SacConfig.Read(ConfigNode.Parse("{\"algorithm\": \"sac\", \"seeds\": 3}", "hover.json")))!;
        Assert.That(e.Message, Does.Contain("seeds"));
    }

    [Test]
    public void TheRecordedHyperparametersAreOneFlatObjectWithTheRunKeysFirst()
    {
        foreach (IAlgorithmConfig config in new IAlgorithmConfig[] { Td3Config.Read(Training("td3")), SacConfig.Read(Training("sac")), PpoConfig.Read(Training("ppo")) })
        {
            JsonObject json = JsonNode.Parse(config.ToJson())!.AsObject();
            Assert.That((string?)json["algorithm"], Is.EqualTo(config.Algorithm));
            JsonObject hyperparameters = json["hyperparameters"]!.AsObject();
            Assert.That(hyperparameters.Select(p => p.Key).Take(3), Is.EqualTo(new[] { "seed", "total_env_steps", "num_envs" }));
            Assert.That((long)hyperparameters["total_env_steps"]!, Is.EqualTo(12345));
            Assert.That((long)hyperparameters["eval_from_env_steps"]!, Is.EqualTo(500));
            Assert.That(hyperparameters.ContainsKey("run"), Is.False, "the run keys are inlined, as training.json always had them");
            Assert.That(hyperparameters.Count, Is.GreaterThan(15), config.Algorithm + ": the algorithm's own keys follow");
        }
    }
}
