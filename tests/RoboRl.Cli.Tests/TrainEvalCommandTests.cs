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

    static readonly string[] EvalKeys = ["success_rate", "crash_rate", "pos_err_p50_2s", "pos_err_p95_2s", "pos_err_p50_5s", "pos_err_p95_5s", "episodes"];

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
        string bundle = Path.Combine(TempDirectory(), "missing.safetensors");
        int code = EvalCommand.Run(bundle, [], 10, dynamics, 1, TaskFile, null, asJson: true, output, error);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error.ToString(), Does.Contain(dynamics).And.Contain("$.domain_randomization.mass").And.Contain("2 numbers"));
    }

    [Test]
    public void MissingBundleIsAOneLineError()
    {
        var error = new StringWriter();
        int code = EvalCommand.Run(Path.Combine(TempDirectory(), "none.safetensors"), [], 10, null, 1, TaskFile, null, false, new StringWriter(), error);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error.ToString(), Does.StartWith("error:").And.Contain("none.safetensors"));
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
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error.ToString(), Does.Contain(task).And.Contain("$.training.td3.batch_size"));
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
