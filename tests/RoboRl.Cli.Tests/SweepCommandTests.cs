using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using RoboRl.Training;
using RoboRl.Training.Evaluation;

namespace RoboRl.Cli.Tests;

/// <summary>
/// `roborl sweep` in-process: a grid's run directories and its aggregate against a direct computation, resuming a
/// killed sweep, PBT's exploit and explore, and bad sweep files (exit 2 naming the file and the field). Trainings are
/// the hover task's TD3 for 1 024 env steps (about a second each).
/// </summary>
public class SweepCommandTests
{
    static readonly string TempRoot = Path.Combine(Path.GetTempPath(), "roborl-sweep-tests", Guid.NewGuid().ToString("N"));

    [OneTimeTearDown]
    public void DeleteTemporaryDirectories()
    {
        if (Directory.Exists(TempRoot)) Directory.Delete(TempRoot, recursive: true);
    }

    static string TempDirectory()
    {
        string dir = Path.Combine(TempRoot, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>The hover task with a training of 1 024 env steps and a 10-episode final evaluation, in <paramref name="directory"/>.</summary>
    static void WriteTinyTask(string directory)
    {
        string taskFile = RepoPaths.Find("configs/tasks/crazyflie-hover.json");
        var root = JsonNode.Parse(File.ReadAllText(taskFile), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip })!.AsObject();
        root["robot"] = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(taskFile)!, root["robot"]!.GetValue<string>()));
        JsonObject training = root["training"]!.AsObject();
        training["total_env_steps"] = 1024;
        training["num_envs"] = 16;
        training["eval_every_env_steps"] = 0;
        training["final_eval_episodes"] = 10;
        training["td3"]!["replay_capacity"] = 4096;
        training["td3"]!["warmup_env_steps"] = 256;
        training["td3"]!["actor_warmup_env_steps"] = 256;
        File.WriteAllText(Path.Combine(directory, "task.json"), root.ToJsonString());
    }

    static string WriteSweep(string directory, string json)
    {
        WriteTinyTask(directory);
        string path = Path.Combine(directory, "sweep.json");
        File.WriteAllText(path, json);
        return path;
    }

    const string Grid = """
        // two learning rates × two seeds
        { "task": "task.json", "seeds": [1, 2], "mode": "grid",
          "parameters": { "training.td3.actor_learning_rate": [0.001, 0.0003] } }
        """;

    static (int Code, string Output, string Error) Sweep(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Program.Run(["sweep", .. args], output, error);
        return (code, output.ToString(), error.ToString());
    }

    static JsonObject LastJson(string output) => JsonNode.Parse(output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1])!.AsObject();

    [Test]
    public void AGridOfTwoByTwoSeedsWritesFourRunsAndTheAggregateOfTheirScores()
    {
        string dir = TempDirectory();
        string sweep = WriteSweep(dir, Grid);
        string output = Path.Combine(dir, "out");
        // Two trials at once (the resume test runs them one after another).
        var (code, stdout, stderr) = Sweep(sweep, "-o", output, "--parallel", "2", "--json");
        Assert.That(code, Is.EqualTo(0), stderr);
        JsonObject json = LastJson(stdout);
        Assert.That(json["trials_run"]!.GetValue<int>(), Is.EqualTo(4));
        Assert.That(stderr, Does.Contain("trial c0-s1 (").And.Contain("/4): success"), "a line per finished trial");

        SweepState state = SweepState.Load(Path.Combine(output, SweepState.FileName));
        Assert.That(state.Status, Is.EqualTo(SweepState.Finished));
        Assert.That(state.Trials.Select(t => t.Id), Is.EqualTo(new[] { "c0-s1", "c0-s2", "c1-s1", "c1-s2" }));
        foreach (SweepState.TrialState trial in state.Trials)
        {
            string run = Path.Combine(output, trial.RunDir);
            Assert.That(File.Exists(Path.Combine(run, Trainer.BundleFileName)), run);
            Assert.That(File.Exists(Path.Combine(run, "progress.csv")), run);
            // The run trained what its configuration says, with its seed.
            JsonNode training = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "training.json")))!["hyperparameters"]!;
            double rate = state.Configurations.Single(c => c.Id == trial.Configuration).Parameters["training.td3.actor_learning_rate"].GetValue<double>();
            Assert.That(training["actor_learning_rate"]!.GetValue<double>(), Is.EqualTo(rate));
            Assert.That(training["seed"]!.GetValue<int>(), Is.EqualTo(trial.Seed));
            Assert.That(trial.EnvSteps, Is.EqualTo(1024));
        }

        // The aggregate against Statistics on the scores the state file recorded.
        JsonObject aggregate = JsonNode.Parse(File.ReadAllText(Path.Combine(output, SweepAggregate.FileName)))!.AsObject();
        foreach (JsonNode? entry in aggregate["configurations"]!.AsArray())
        {
            string id = entry!["id"]!.GetValue<string>();
            double[] scores = state.Trials.Where(t => t.Configuration == id).OrderBy(t => t.Seed).Select(t => t.Score!.SuccessRate).ToArray();
            Assert.That(entry["scores"]!.AsArray().Select(s => s!.GetValue<double>()), Is.EqualTo(scores));
            Assert.That(entry["iqm"]!.GetValue<double>(), Is.EqualTo(Statistics.InterquartileMean(scores)));
            var (low, high) = Statistics.StratifiedBootstrapIqmInterval([scores], SweepAggregate.Resamples, 0.95, SweepAggregate.BootstrapSeed);
            Assert.That(entry["iqm_ci_low"]!.GetValue<double>(), Is.EqualTo(low));
            Assert.That(entry["iqm_ci_high"]!.GetValue<double>(), Is.EqualTo(high));
        }
        Assert.That(File.Exists(Path.Combine(output, "iqm.png")));
        Assert.That(File.Exists(Path.Combine(output, "performance_profile.png")));
    }

    [Test]
    public void TheAggregateIsRliablesOnKnownScores()
    {
        double[] scores = [0.9, 0.1, 0.5, 0.7, 0.3, 1.0, 0.0];
        JsonObject entry = SweepAggregate.Compute(new SweepAggregate.Group("c0", new Dictionary<string, JsonNode>(), scores), out double[] fraction, out double[] low, out double[] high);
        // IQM: trim ⌊7/4⌋ = 1 at each end of 0, .1, .3, .5, .7, .9, 1 → mean of .1 … .9 = 0.5.
        Assert.That(entry["iqm"]!.GetValue<double>(), Is.EqualTo(0.5).Within(1e-12));
        var (iqmLow, iqmHigh) = Statistics.StratifiedBootstrapIqmInterval([scores], SweepAggregate.Resamples, 0.95, SweepAggregate.BootstrapSeed);
        Assert.That(entry["iqm_ci_low"]!.GetValue<double>(), Is.EqualTo(iqmLow));
        Assert.That(entry["iqm_ci_high"]!.GetValue<double>(), Is.EqualTo(iqmHigh));
        Assert.That(iqmLow, Is.LessThan(0.5));
        Assert.That(iqmHigh, Is.GreaterThan(0.5));
        Assert.That(entry["mean"]!.GetValue<double>(), Is.EqualTo(scores.Average()).Within(1e-12));
        Assert.That(entry["optimality_gap"]!.GetValue<double>(), Is.EqualTo(scores.Average(s => 1 - s)).Within(1e-12));
        // Profile: fraction of runs with score > τ.
        for (int k = 0; k < SweepAggregate.Thresholds.Length; k++)
        {
            double tau = SweepAggregate.Thresholds[k];
            Assert.That(fraction[k], Is.EqualTo(scores.Count(s => s > tau) / 7.0).Within(1e-12), $"τ = {tau}");
            Assert.That(low[k], Is.LessThanOrEqualTo(high[k]));
            Assert.That(low[k], Is.InRange(0.0, 1.0));
            Assert.That(high[k], Is.InRange(0.0, 1.0));
        }
        Assert.That(fraction, Is.Ordered.Descending);
    }

    [Test]
    public void AKilledSweepResumesWithoutRerunningFinishedTrialsAndRefusesAChangedSweepFile()
    {
        string dir = TempDirectory();
        string sweep = WriteSweep(dir, """
            { "task": "task.json", "seeds": [1, 2, 3, 4], "mode": "grid",
              "parameters": { "training.td3.actor_learning_rate": [0.001] } }
            """);
        string output = Path.Combine(dir, "out");
        string statePath = Path.Combine(output, SweepState.FileName);

        // A `roborl sweep` process, killed as soon as its state file shows a finished trial.
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "roborl.dll"));
        foreach (string a in new[] { "sweep", sweep, "-o", output }) psi.ArgumentList.Add(a);
        using (var process = Process.Start(psi)!)
        {
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(120) && !process.HasExited)
            {
                if (File.Exists(statePath) && SweepState.Load(statePath).Trials.Any(t => t.Status == SweepState.Finished)) break;
                Thread.Sleep(20);
            }
            Assert.That(process.HasExited, Is.False, "the sweep ended before it could be killed");
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        SweepState killed = SweepState.Load(statePath);
        var finished = killed.Trials.Where(t => t.Status == SweepState.Finished).ToList();
        Assert.That(finished, Is.Not.Empty);
        Assert.That(finished.Count, Is.LessThan(4), "the kill left work to resume");
        Dictionary<string, string> before = finished.ToDictionary(t => t.Id, t => Fingerprint(Path.Combine(output, t.RunDir)));

        var (code, stdout, stderr) = Sweep(sweep, "-o", output, "--json");
        Assert.That(code, Is.EqualTo(0), stderr);
        JsonObject json = LastJson(stdout);
        Assert.That(json["trials_skipped"]!.GetValue<int>(), Is.EqualTo(finished.Count));
        Assert.That(json["trials_run"]!.GetValue<int>(), Is.EqualTo(4 - finished.Count));
        Assert.That(stderr, Does.Contain($"resuming sweep sweep in {output}: {finished.Count} of 4 trials finished"));
        SweepState resumed = SweepState.Load(statePath);
        Assert.That(resumed.Trials.All(t => t.Status == SweepState.Finished));
        foreach (var (id, fingerprint) in before)
        {
            Assert.That(Fingerprint(Path.Combine(output, resumed.Trials.Single(t => t.Id == id).RunDir)), Is.EqualTo(fingerprint), $"{id} was not run again");
            Assert.That(resumed.Trials.Single(t => t.Id == id).Attempts, Is.EqualTo(1));
        }

        // The same directory with a changed sweep file: refused, naming the state file and the sweep file.
        File.AppendAllText(sweep, "\n// changed\n");
        (code, _, stderr) = Sweep(sweep, "-o", output);
        Assert.That(code, Is.EqualTo(2), stderr);
        Assert.That(stderr, Does.Contain("sweep.json").And.Contain("another version of sweep.json"));
    }

    /// <summary>The run directory's files with their SHA-256 and modification times.</summary>
    static string Fingerprint(string directory) => string.Join("\n", Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Order()
        .Select(f => $"{Path.GetRelativePath(directory, f)} {Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(f)))} {File.GetLastWriteTimeUtc(f):O}"));

    [Test]
    public void PbtCopiesATopMembersCheckpointPerturbsItsHyperparametersAndContinuesFromTheCheckpointStep()
    {
        string dir = TempDirectory();
        string sweep = WriteSweep(dir, """
            { "task": "task.json", "seeds": [1, 2, 3, 4], "mode": "pbt", "sampler_seed": 5,
              "parameters": {
                "training.td3.actor_learning_rate": { "log_uniform": [0.0001, 0.003] },
                "training.td3.exploration_noise": { "uniform": [0.05, 0.3] }
              },
              "overrides": { "training.total_env_steps": 2048 },
              "pbt": { "interval_env_steps": 1024, "quantile": 0.25, "resample_probability": 0.5 } }
            """);
        string output = Path.Combine(dir, "out");
        var (code, stdout, stderr) = Sweep(sweep, "-o", output, "--json");
        Assert.That(code, Is.EqualTo(0), stderr);
        SweepState state = SweepState.Load(Path.Combine(output, SweepState.FileName));
        SweepState.PbtState pbt = state.Pbt!;
        Assert.That(pbt.Generations, Is.EqualTo(2));
        Assert.That(pbt.GenerationsDone, Is.EqualTo(2));
        Assert.That(LastJson(stdout)["pbt_exploits"]!.GetValue<int>(), Is.EqualTo(1), "a quarter of 4 members: one exploit per generation boundary");

        SweepState.ExploitState exploit = pbt.Lineage.Single();
        SweepState.MemberState member = pbt.Members.Single(m => m.Id == exploit.Member);
        SweepState.MemberState source = pbt.Members.Single(m => m.Id == exploit.Source);
        Assert.That(member.Id, Is.Not.EqualTo(source.Id));
        // Exploit: the copy is the source's checkpoint as it was at the end of generation 0 (kept as the source's next segment start).
        Assert.That(exploit.CopiedCheckpointSha256, Is.EqualTo(exploit.SourceCheckpointSha256));
        Assert.That(exploit.CheckpointEnvSteps, Is.EqualTo(1024));
        Assert.That(exploit.MemberSuccessRate, Is.LessThanOrEqualTo(exploit.SourceSuccessRate));
        // Explore: each hyperparameter is the source's ×0.8 or ×1.2 (clipped to its range), or a fresh draw.
        var sourceValues = source.Segments.Single(s => s.Generation == 0).Parameters;
        foreach (var (path, change) in exploit.Changes)
        {
            double after = exploit.ParametersAfter[path].GetValue<double>();
            double from = sourceValues[path].GetValue<double>();
            double low = path.EndsWith("actor_learning_rate") ? 0.0001 : 0.05, high = path.EndsWith("actor_learning_rate") ? 0.003 : 0.3;
            Assert.That(after, Is.InRange(low, high), path);
            if (change == "resampled") continue;
            Assert.That(change, Is.AnyOf("×0.8", "×1.2"), path);
            double factor = change == "×0.8" ? 0.8 : 1.2;
            Assert.That(after, Is.EqualTo(Math.Clamp(from * factor, low, high)).Within(1e-12), path);
        }
        var memberValues = member.Segments.Single(s => s.Generation == 0).Parameters;
        Assert.That(exploit.ParametersBefore.Keys, Is.EquivalentTo(memberValues.Keys));
        foreach (var (path, value) in exploit.ParametersBefore)
            Assert.That(JsonNode.DeepEquals(value, memberValues[path]), $"{path}: the member's own value before the exploit");
        Assert.That(member.Segments.Single(s => s.Generation == 1).Parameters["training.td3.actor_learning_rate"].GetValue<double>(),
            Is.EqualTo(exploit.ParametersAfter["training.td3.actor_learning_rate"].GetValue<double>()), "the next segment trains with the new hyperparameters");

        // Every member continued from its checkpoint's step, and the exploited member's run trained with the new rate.
        foreach (SweepState.MemberState m in pbt.Members)
        {
            Assert.That(m.Segments.Select(s => (s.StartEnvSteps, s.EndEnvSteps)), Is.EqualTo(new[] { (0L, 1024L), (1024L, 2048L) }), m.Id);
            JsonNode training = JsonNode.Parse(File.ReadAllText(Path.Combine(output, m.RunDir, "training.json")))!["hyperparameters"]!;
            Assert.That(training["actor_learning_rate"]!.GetValue<double>(), Is.EqualTo(m.Parameters["training.td3.actor_learning_rate"].GetValue<double>()), m.Id);
            Assert.That(training["keep_best_policy"]!.GetValue<bool>(), Is.False, "a member's score is its current weights'");
        }
        string[] progress = File.ReadAllLines(Path.Combine(output, member.RunDir, "progress.csv"));
        Assert.That(progress.Skip(1).Select(l => long.Parse(l.Split(',')[0])).Max(), Is.EqualTo(2048));
        Assert.That(File.Exists(Path.Combine(output, SweepAggregate.FileName)));
    }

    [TestCase("""{ "task": "task.json", "seeds": [1], "mode": "grid", "parameters": { "training.td3.actor_learning_rate": [0.001] }, "sedes": 3 }""",
        "$.sedes", "unknown key")]
    [TestCase("""{ "task": "task.json", "seeds": [1], "mode": "grid", "parameters": { "training.td3.actor_lr": [0.001] } }""",
        "$.parameters[\"training.td3.actor_lr\"]", "is not in the task file task.json (it has no key \"actor_lr\" under \"training.td3\")")]
    [TestCase("""{ "task": "task.json", "seeds": [1], "mode": "grid", "parameters": { "training.td3.actor_learning_rate": ["fast"] } }""",
        "$.parameters[\"training.td3.actor_learning_rate\"][0]", "expected a number")]
    [TestCase("""{ "task": "task.json", "seeds": [1], "mode": "grid", "parameters": { "training.td3.batch_size": [128.5] } }""",
        "$.parameters[\"training.td3.batch_size\"][0]", "expected a whole number")]
    [TestCase("""{ "task": "task.json", "seeds": [], "mode": "grid", "parameters": { "training.td3.actor_learning_rate": [0.001] } }""",
        "$.seeds", "")]
    [TestCase("""{ "task": "task.json", "seeds": [1], "mode": "grid", "parameters": { "training.td3.actor_learning_rate": [5.0] } }""",
        "$.parameters[\"training.td3.actor_learning_rate\"]", "the task refuses it")]
    [TestCase("""{ "task": "task.json", "seeds": [1, 2], "mode": "pbt", "parameters": { "training.td3.actor_learning_rate": { "uniform": [0.001] } }, "pbt": { "interval_env_steps": 512 } }""",
        "$.parameters[\"training.td3.actor_learning_rate\"].uniform", "expected [low, high]")]
    public void ABadSweepFileIsBadInputNamingTheFileAndTheField(string json, string field, string problem)
    {
        string dir = TempDirectory();
        string sweep = WriteSweep(dir, json);
        string output = Path.Combine(dir, "out");
        var (code, stdout, stderr) = Sweep(sweep, "-o", output, "--json");
        Assert.That(code, Is.EqualTo(2), stderr);
        Assert.That(stderr, Does.StartWith("sweep: ").And.Contain(sweep).And.Contain(field).And.Contain(problem));
        Assert.That(LastJson(stdout)["exit_code"]!.GetValue<int>(), Is.EqualTo(2));
        Assert.That(Directory.Exists(output), Is.False, "nothing written for a bad sweep file");
    }
}
