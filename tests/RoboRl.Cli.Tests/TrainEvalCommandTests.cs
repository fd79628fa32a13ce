using System.Text.Json;
using System.Text.Json.Nodes;
using RoboRl.Cli.Commands;
using RoboRl.Training;

namespace RoboRl.Cli.Tests;

/// <summary>`roborl train` and `roborl eval` through their command functions (same code the parser calls).</summary>
public class TrainEvalCommandTests
{
    static string Repo(string relative)
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, relative))) return Path.Combine(dir.FullName, relative);
        throw new FileNotFoundException(relative);
    }

    static readonly string TempRoot = Path.Combine(Path.GetTempPath(), "roborl-cli-tests", Guid.NewGuid().ToString("N"));

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

    static string TaskFile => Repo("configs/tasks/crazyflie-hover.json");

    /// <summary>The hover task with a tiny training budget (a few seconds).</summary>
    static string SmallTask()
    {
        var root = JsonNode.Parse(File.ReadAllText(TaskFile), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip })!.AsObject();
        root["robot"] = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(TaskFile)!, root["robot"]!.GetValue<string>()));
        JsonObject training = root["training"]!.AsObject();
        training["total_env_steps"] = 4000;
        training["num_envs"] = 16;
        training["eval_every_env_steps"] = 0;
        training["final_eval_episodes"] = 30;
        training["td3"]!["replay_capacity"] = 4000;
        training["td3"]!["warmup_env_steps"] = 2000;
        training["td3"]!["actor_warmup_env_steps"] = 2000;
        string path = Path.Combine(TempDirectory(), "task.json");
        File.WriteAllText(path, root.ToJsonString());
        return path;
    }

    static readonly string[] EvalKeys = ["success_rate", "crash_rate", "pos_err_p50_2s_m", "pos_err_p95_2s_m", "pos_err_p50_5s_m", "pos_err_p95_5s_m", "episodes"];

    static string TrainSmall(out JsonElement json)
    {
        string run = Path.Combine(TempDirectory(), "run");
        var output = new StringWriter();
        var error = new StringWriter();
        int code = TrainCommand.Run(new TrainOptions(SmallTask()) { OutDirectory = run }, asJson: true, output, error);
        Assert.That(code, Is.EqualTo(0), error.ToString());
        string[] lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1), "--json prints exactly one object on stdout (progress goes to stderr)");
        json = JsonDocument.Parse(lines[0]).RootElement.Clone();
        Assert.That(error.ToString(), Does.Contain("steps/s"), "progress lines on stderr");
        Assert.That(error.ToString(), Does.Not.Contain("\u001b"), "no escape codes when not a terminal");
        Assert.That(error.ToString(), Does.Not.Contain("\r"), "plain lines when not a terminal");
        return run;
    }

    [Test]
    public void TrainJsonReportsWallTimeStepsBundleAndFinalEval()
    {
        string run = TrainSmall(out JsonElement json);
        Assert.That(json.GetProperty("wall_s").GetDouble(), Is.GreaterThan(0));
        Assert.That(json.GetProperty("env_steps").GetInt64(), Is.EqualTo(4000));
        string bundle = json.GetProperty("bundle").GetString()!;
        Assert.That(File.Exists(bundle), bundle);
        Assert.That(Path.GetDirectoryName(Path.GetFullPath(bundle)), Is.EqualTo(Path.GetFullPath(run)));
        JsonElement eval = json.GetProperty("final_eval");
        foreach (string key in EvalKeys) Assert.That(eval.TryGetProperty(key, out _), key);
        Assert.That(eval.GetProperty("episodes").GetInt32(), Is.EqualTo(30));
    }

    [Test]
    public void EvalJsonOnABundleAndOnSeveralRuns()
    {
        string runA = TrainSmall(out JsonElement a);
        string bundle = a.GetProperty("bundle").GetString()!;
        var output = new StringWriter();
        var error = new StringWriter();
        string plot = Path.Combine(TempDirectory(), "plot.png");
        int code = EvalCommand.Run(bundle, [], 40, null, 1, TaskFile, plot, asJson: true, output, error);
        Assert.That(code, Is.EqualTo(0), error.ToString());
        JsonElement json = JsonDocument.Parse(output.ToString()).RootElement;
        foreach (string key in EvalKeys) Assert.That(json.TryGetProperty(key, out _), key);
        Assert.That(json.GetProperty("episodes").GetInt32(), Is.EqualTo(40));
        Assert.That(new FileInfo(plot).Length, Is.GreaterThan(1000));

        // Two runs (the same run twice is enough to exercise the pooled figures and the IQM interval).
        output = new StringWriter();
        code = EvalCommand.Run(null, [runA, runA], 20, null, 1, TaskFile, plot, asJson: true, output, error);
        Assert.That(code, Is.EqualTo(0), error.ToString());
        json = JsonDocument.Parse(output.ToString()).RootElement;
        Assert.That(json.GetProperty("episodes").GetInt32(), Is.EqualTo(40));
        Assert.That(json.GetProperty("runs").GetArrayLength(), Is.EqualTo(2));
        double iqm = json.GetProperty("iqm_return").GetDouble();
        double low = json.GetProperty("iqm_return_ci95")[0].GetDouble(), high = json.GetProperty("iqm_return_ci95")[1].GetDouble();
        Assert.That(iqm, Is.InRange(low, high));
    }

    [Test]
    public void BadDynamicsFileNamesFileAndKey()
    {
        string dynamics = Path.Combine(TempDirectory(), "dynamics.json");
        File.WriteAllText(dynamics, """{ "domain_randomization": { "mass": [0.8], "inertia": [1, 1], "thrust_coefficient": [1, 1], "motor_time_constant": [1, 1], "latency_steps": [0, 0] } }""");
        var output = new StringWriter();
        var error = new StringWriter();
        string bundle = Path.Combine(TempDirectory(), "hover.safetensors");
        BenchNodeCommand.HoverShapedBundle(Repo("configs/robots/crazyflie21.json")).Write(bundle);
        int code = EvalCommand.Run(bundle, [], 10, dynamics, 1, TaskFile, null, asJson: true, output, error);
        Assert.That(code, Is.EqualTo(2), "bad input");
        Assert.That(error.ToString(), Does.Contain(dynamics).And.Contain("$.domain_randomization.mass").And.Contain("2 numbers"));
    }

    [Test]
    public void MissingBundleIsAOneLineError()
    {
        var error = new StringWriter();
        int code = EvalCommand.Run(Path.Combine(TempDirectory(), "none.safetensors"), [], 10, null, 1, TaskFile, null, false, new StringWriter(), error);
        Assert.That(code, Is.EqualTo(2));
        Assert.That(error.ToString(), Does.StartWith("eval: BUNDLE ").And.Contain("none.safetensors: no such file"));
        Assert.That(error.ToString().TrimEnd().Split('\n'), Has.Length.EqualTo(1));
    }

    [Test]
    public void BadTrainingConfigIsAnErrorNamingFileAndKey()
    {
        string task = SmallTask();
        var root = JsonNode.Parse(File.ReadAllText(task))!.AsObject();
        root["training"]!["td3"]!["batch_size"] = -1;
        File.WriteAllText(task, root.ToJsonString());
        var error = new StringWriter();
        int code = TrainCommand.Run(new TrainOptions(task) { OutDirectory = Path.Combine(TempDirectory(), "run") }, false, new StringWriter(), error);
        Assert.That(code, Is.EqualTo(2), "bad input, as in every command");
        Assert.That(error.ToString(), Does.Contain(task).And.Contain("$.training.td3.batch_size"));
    }

    /// <summary>The small task with periodic evaluations every 2 000 steps (one of them at the last step).</summary>
    static string SmallTaskWithEvaluations()
    {
        string task = SmallTask();
        var root = JsonNode.Parse(File.ReadAllText(task))!.AsObject();
        root["training"]!["eval_every_env_steps"] = 2000;
        root["training"]!["eval_from_env_steps"] = 0;
        root["training"]!["eval_episodes"] = 20;
        root["training"]!["keep_best_policy"] = true;
        File.WriteAllText(task, root.ToJsonString());
        return task;
    }

    [Test]
    public void CheckpointsAreSmallUnlessTheReplayMemoryIsAskedForWhichResumeNeeds()
    {
        string task = SmallTask();
        string run = Path.Combine(TempDirectory(), "run");
        var error = new StringWriter();
        Assert.That(TrainCommand.Run(new TrainOptions(task) { OutDirectory = run }, true, new StringWriter(), error), Is.EqualTo(0), error.ToString());
        long small = new FileInfo(Path.Combine(run, Checkpoint.FileName)).Length;
        // Networks, targets, Adam moments of a 149-64-64-4 actor and twin critics: ~0.4 MB; the replay memory is not in it.
        Assert.That(small, Is.LessThan(1_000_000), "networks, optimiser moments, normalisers and counters only");

        // --resume needs the replay memory: refused, saying how to get it.
        error = new StringWriter();
        Assert.That(TrainCommand.Run(new TrainOptions(task) { OutDirectory = run, Resume = true, TotalEnvSteps = 5000 }, false, new StringWriter(), error), Is.EqualTo(2));
        Assert.That(error.ToString().TrimEnd(), Does.StartWith("train: ").And.Contain("no replay memory").And.Contain("--checkpoint-replay"));

        string withReplay = Path.Combine(TempDirectory(), "run");
        Assert.That(TrainCommand.Run(new TrainOptions(task) { OutDirectory = withReplay, CheckpointReplay = true }, true, new StringWriter(), error = new StringWriter()),
            Is.EqualTo(0), error.ToString());
        long large = new FileInfo(Path.Combine(withReplay, Checkpoint.FileName)).Length;
        Assert.That(large, Is.GreaterThan(small + 4000L * 149 * 2 * 4), "4 000 replay rows of (at least) the actor observations, now and next");
        Assert.That(TrainCommand.Run(new TrainOptions(task) { OutDirectory = withReplay, Resume = true, TotalEnvSteps = 4500, CheckpointReplay = true }, true,
            new StringWriter(), error = new StringWriter()), Is.EqualTo(0), error.ToString());
    }

    [Test]
    public void TheRunSaysWhichSnapshotTheBundleHoldsAndNoRowRepeats()
    {
        string run = Path.Combine(TempDirectory(), "run");
        var output = new StringWriter();
        var error = new StringWriter();
        Assert.That(TrainCommand.Run(new TrainOptions(SmallTaskWithEvaluations()) { OutDirectory = run }, true, output, error), Is.EqualTo(0), error.ToString());
        JsonNode json = JsonNode.Parse(output.ToString())!;
        JsonNode snapshot = json["bundle_snapshot"]!;
        Assert.That((string)snapshot["kind"]!, Is.EqualTo("best_evaluation"));
        long step = (long)snapshot["env_steps"]!;
        Assert.That(step, Is.EqualTo((long)json["policy_env_steps"]!));
        string said = step == 4000 ? "the last policy, at 4,000 steps, best of the periodic evaluations (" : $"best periodic evaluation at {step:N0} steps (";
        Assert.That(error.ToString(), Does.Contain($"bundle  {(string)json["bundle"]!}: {said}"), "the summary says it");

        // The bundle's training config records it.
        var bundle = RoboRl.Core.Policy.PolicyBundle.Read((string)json["bundle"]!);
        Assert.That((long)JsonNode.Parse(bundle.TrainingConfigJson)!["bundle_snapshot"]!["env_steps"]!, Is.EqualTo(step));

        // progress.csv: every periodic evaluation once (the last policy was evaluated at the last step already and is not
        // evaluated again), and one final row, marked, at the bundle's step, saying which snapshot it is.
        string[] rows = File.ReadAllLines(Path.Combine(run, "progress.csv"));
        Assert.That(rows[0], Does.EndWith(",eval"));
        var periodic = rows.Skip(1).Select(r => r.Split(',')).Where(f => f[^1] == "periodic").Select(f => long.Parse(f[0])).ToList();
        Assert.That(periodic, Does.Contain(4000L));
        Assert.That(periodic, Is.Unique, "no evaluation row repeats");
        var finals = rows.Skip(1).Where(r => r.Split(',')[^1].StartsWith("final", StringComparison.Ordinal)).ToList();
        Assert.That(finals, Has.Count.EqualTo(1));
        Assert.That(finals[0], Does.StartWith($"{step},").And.Contain("final: bundle = " + said.Replace(",", "")));
        Assert.That(rows.Distinct().Count(), Is.EqualTo(rows.Length), "no row repeats");
    }

    [Test]
    public void EvalWritesItsOwnPlotBesideTheBundleAndLeavesTrainingsAlone()
    {
        string run = TrainSmall(out JsonElement trained);
        string bundle = trained.GetProperty("bundle").GetString()!;
        string training = Path.Combine(run, "eval_trajectories.png");
        byte[] before = File.ReadAllBytes(training);
        var output = new StringWriter();
        var error = new StringWriter();
        Assert.That(EvalCommand.Run(bundle, [], 10, null, 3, TaskFile, null, asJson: true, output, error), Is.EqualTo(0), error.ToString());
        string plot = JsonDocument.Parse(output.ToString()).RootElement.GetProperty("plot").GetString()!;
        Assert.That(plot, Is.EqualTo(Path.Combine(Path.GetFullPath(run), EvalCommand.PlotFileName)));
        Assert.That(File.Exists(plot));
        Assert.That(File.ReadAllBytes(training), Is.EqualTo(before), "training's eval_trajectories.png is not overwritten");
    }

    [Test]
    public void TrainAndEvalAreRegistered()
    {
        var names = Program.BuildRootCommand().Subcommands.Select(c => c.Name).ToList();
        Assert.That(names, Does.Contain("train").And.Contain("eval"));
        Assert.That(Program.BuildRootCommand().Parse(["train", "x.json", "--algo", "a2c"]).Errors, Is.Not.Empty);
        Assert.That(Program.BuildRootCommand().Parse(["train", "x.json", "--algo", "ppo"]).Errors, Is.Empty);
    }
}
