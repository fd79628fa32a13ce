using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using RoboRl.Cli.Commands;
using RoboRl.Core.Policy;
using RoboRl.Core.Tasks;

namespace RoboRl.Cli.Tests;

/// <summary>
/// `roborl eval BUNDLE --sweep …` and `--initial-states`, through the command-line parser, on a hand-made bundle that
/// always outputs the hover action: from rest at the target in calm air it holds at nominal dynamics and nowhere else.
/// </summary>
public class EvalSweepCommandTests
{
    static readonly string TempRoot = Path.Combine(Path.GetTempPath(), "roborl-cli-sweep-tests", Guid.NewGuid().ToString("N"));

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

    static string TaskFile => RepoPaths.Find("configs/tasks/crazyflie-hover.json");

    /// <summary>The hover task judged from rest at the target without disturbance, written beside a constant-hover bundle.</summary>
    static (string Bundle, string Task) CalmHover()
    {
        string dir = TempDirectory();
        var root = JsonNode.Parse(File.ReadAllText(TaskFile), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip })!.AsObject();
        root["robot"] = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(TaskFile)!, root["robot"]!.GetValue<string>()));
        root["disturbance"] = new JsonObject { ["force_std"] = 0, ["torque_std"] = 0 };
        root["evaluation"]!.AsObject().Remove("disturbance");
        root["evaluation"]!["initial_state"]!["rest_fraction"] = 1.0;
        string task = Path.Combine(dir, "calm.json");
        File.WriteAllText(task, root.ToJsonString());

        HoverTaskConfig config = HoverTaskConfig.Load(task);
        int obs = HoverObservation.ActorSize(config.ActionHistoryLength);
        float[] bias = Enumerable.Repeat(MathF.Atanh(config.Robot.HoverAction()), 4).ToArray();
        var bundle = new PolicyBundle
        {
            Layers = [new DenseLayer(obs, 4, new float[4 * obs], bias, Activation.Tanh)],
            ObservationNames = HoverObservation.ActorNames(config.ActionHistoryLength),
            ActionNames = HoverObservation.ActionNames,
            ObservationMean = new float[obs],
            ObservationStd = Enumerable.Repeat(1f, obs).ToArray(),
            ActionLow = new float[4],
            ActionHigh = Enumerable.Repeat(config.Robot.RpmMax, 4).ToArray(),
            ActionUnit = "rpm",
            ControlRateHz = config.ControlFrequencyHz,
            ActionHistoryLength = config.ActionHistoryLength,
            RobotConfigJson = config.RobotConfigJson,
            TrainingConfigJson = """{"algorithm":"hand-made"}""",
            GitCommit = "test",
            GoldenObservations = new float[obs],
            GoldenActions = bias.Select(MathF.Tanh).ToArray(),
        };
        string path = Path.Combine(dir, "policy.safetensors");
        bundle.Write(path);
        return (path, task);
    }

    static (int Code, string Output, string Error) Eval(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Program.BuildRootCommand().Parse(["eval", .. args]).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    [Test]
    public void SweepJsonIsOneObjectWithTheRowsPerValue()
    {
        var (bundle, task) = CalmHover();
        string plot = Path.Combine(TempDirectory(), "mass.png");
        var (code, output, error) = Eval(bundle, "--task", task, "--sweep", "mass", "--values", "1.2,0.8,1", "--episodes", "12", "--plot", plot, "--json");
        Assert.That(code, Is.EqualTo(0), error);
        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1), "--json prints exactly one object (progress goes to stderr)");
        JsonElement json = JsonDocument.Parse(lines[0]).RootElement;
        Assert.That(json.GetProperty("parameter").GetString(), Is.EqualTo("mass"));
        Assert.That(json.GetProperty("training_range").EnumerateArray().Select(v => v.GetDouble()), Is.EqualTo(new[] { 0.7, 1.4 }));
        JsonElement[] rows = json.GetProperty("rows").EnumerateArray().ToArray();
        Assert.That(rows.Select(r => r.GetProperty("value").GetDouble()), Is.EqualTo(new[] { 0.8, 1.0, 1.2 }));
        Assert.That(rows.Select(r => r.GetProperty("success_rate").GetDouble()), Is.EqualTo(new[] { 0.0, 1.0, 0.0 }), "only nominal mass holds with the hover action");
        Assert.That(rows.Select(r => r.GetProperty("crash_rate").GetDouble()), Is.EqualTo(new[] { 1.0, 0.0, 1.0 }));
        Assert.That(json.GetProperty("episodes").GetInt32(), Is.EqualTo(12));
        Assert.That(json.GetProperty("initial_states").GetString(), Is.EqualTo("task"));
        Assert.That(json.GetProperty("plot").GetString(), Is.EqualTo(plot));
        Assert.That(json.GetProperty("task").GetString(), Is.EqualTo(task), "the training ranges' source");
        Assert.That(error, Does.Contain("sweep mass 0.80: success 0.0 %, crashes 100.0 % (1/3)"), "progress per value");
        byte[] png = File.ReadAllBytes(plot);
        Assert.That(png.Take(4), Is.EqualTo(new byte[] { 0x89, 0x50, 0x4E, 0x47 }), "PNG signature");
        Assert.That(png.Length, Is.GreaterThan(5000), "a drawn image");
    }

    [Test]
    public void SweepTableMarksTheTrainingRangeAndWritesThePlotBesideTheBundle()
    {
        var (bundle, task) = CalmHover();
        var (code, output, error) = Eval(bundle, "--task", task, "--sweep", "latency", "--values", "0,1,3", "--episodes", "8");
        Assert.That(code, Is.EqualTo(0), error);
        string png = Path.Combine(Path.GetDirectoryName(bundle)!, "sweep_latency.png");
        Assert.That(File.Exists(png), "default plot path: sweep_PARAMETER.png beside the bundle");
        Assert.That(output, Does.Contain("starts  task:"));
        Assert.That(output, Does.Contain("       0   100.0 %     0.0 %  *"), "latency 0 is trained (task: 0-1)");
        Assert.That(output, Does.Contain("       3   100.0 %     0.0 %" + Environment.NewLine), "latency 3 is not; a constant action does not care");
        Assert.That(output, Does.Contain("* inside the training range 0–1"));
        string[] lines = output.TrimEnd().Split('\n');
        Assert.That(lines[^1], Does.StartWith("sweep latency: success ≥ 90 % from 0 to 3 (training range 0–1)"), "one-line summary last");
    }

    [Test]
    public void L2FStartsAreReportedAndUsed()
    {
        var (bundle, task) = CalmHover();
        string nominal = Path.Combine(TempDirectory(), "nominal.json");
        File.WriteAllText(nominal, """{ "mass": [1, 1], "inertia": [1, 1], "thrust_coefficient": [1, 1], "motor_time_constant": [1, 1], "latency_steps": [0, 0] }""");
        var (code, output, error) = Eval(bundle, "--task", task, "--dynamics", nominal, "--episodes", "200", "--initial-states", "l2f",
            "--plot", Path.Combine(TempDirectory(), "t.png"), "--json");
        Assert.That(code, Is.EqualTo(0), error);
        JsonElement json = JsonDocument.Parse(output).RootElement;
        Assert.That(json.GetProperty("initial_states").GetString(), Is.EqualTo("l2f"));
        Assert.That(json.GetProperty("success_rate").GetDouble(), Is.EqualTo(0.1).Within(0.06), "only L2F's 10 % at-rest starts hold with the hover action");

        (code, output, error) = Eval(bundle, "--task", task, "--dynamics", nominal, "--episodes", "50", "--initial-states", "task",
            "--plot", Path.Combine(TempDirectory(), "t.png"));
        Assert.That(code, Is.EqualTo(0), error);
        Assert.That(output, Does.Contain("starts  task: the task's evaluation initial states").And.Contain("success 100.0 %"));

        (code, output, error) = Eval(bundle, "--task", task, "--sweep", "mass", "--values", "1", "--episodes", "100", "--initial-states", "l2f",
            "--plot", Path.Combine(TempDirectory(), "s.png"), "--json");
        Assert.That(code, Is.EqualTo(0), error);
        json = JsonDocument.Parse(output).RootElement;
        Assert.That(json.GetProperty("initial_states").GetString(), Is.EqualTo("l2f"), "a sweep can start from L2F's distribution too");
        Assert.That(json.GetProperty("rows")[0].GetProperty("success_rate").GetDouble(), Is.LessThan(0.25));
    }

    [TestCase(new[] { "--sweep", "weight" }, "--sweep: unknown parameter 'weight'; expected one of: mass, thrust, motor_time_constant, latency, disturbance, noise")]
    [TestCase(new[] { "--sweep", "mass", "--values", "0,1" }, "--values: mass values are factors of the robot config's value and must be in (0, 10]; got 0")]
    [TestCase(new[] { "--sweep", "thrust", "--values", "-1" }, "--values: thrust values are factors")]
    [TestCase(new[] { "--sweep", "latency", "--values", "-1" }, "--values: latency values are whole control steps of action delay in [0, 16]")]
    [TestCase(new[] { "--sweep", "latency", "--values", "20" }, "got 20")]
    [TestCase(new[] { "--sweep", "motor_time_constant", "--values", "0.01" }, "RK4")]
    [TestCase(new[] { "--sweep", "noise", "--values", "1,x" }, "--values: 'x' is not a number")]
    [TestCase(new[] { "--values", "1,2" }, "--values needs --sweep")]
    [TestCase(new[] { "--sweep", "mass", "--dynamics", "configs/dynamics/crazyflie-target.json" }, "--dynamics does not combine with --sweep")]
    [TestCase(new[] { "--sweep", "mass", "--episodes", "0" }, "--episodes must be ≥ 1")]
    [TestCase(new[] { "--initial-states", "hover" }, "--initial-states: unknown start distribution 'hover'; expected one of: task, l2f")]
    public void BadInputIsRefusedNamingTheFlagWithExitCode2(string[] args, string message)
    {
        var (bundle, task) = CalmHover();
        var (code, output, error) = Eval([bundle, "--task", task, .. args]);
        Assert.That(code, Is.EqualTo(2), error);
        Assert.That(error, Does.StartWith("eval: ").And.Contain(message));
        Assert.That(output, Is.Empty, "nothing on stdout when refused");
    }

    [Test]
    public void SweepOfAMissingBundleOrSeveralRunsIsBadInput()
    {
        string missing = Path.Combine(TempDirectory(), "none.safetensors");
        var (code, _, error) = Eval(missing, "--sweep", "mass");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(error, Does.StartWith("eval:").And.Contain("none.safetensors"));
        (code, _, error) = Eval("--runs", TempDirectory(), TempDirectory(), "--sweep", "mass");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(error, Does.Contain("--sweep takes exactly one BUNDLE"));
    }

    [Test]
    public void APlotPathThatIsADirectoryIsBadInputBeforeAnyEpisode()
    {
        var (bundle, task) = CalmHover();
        string directory = TempDirectory(); // a directory where the PNG file should be
        var (code, _, error) = Eval(bundle, "--task", task, "--sweep", "mass", "--values", "1", "--episodes", "2", "--plot", directory);
        Assert.That(code, Is.EqualTo(2), error);
        Assert.That(error, Does.Contain("--plot").And.Contain(directory).And.Contain("is a directory"));
    }
}
