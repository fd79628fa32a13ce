using System.CommandLine;
using System.Text.Json;
using RoboRl.Cli.Commands;
using RoboRl.Core.Policy;
using RoboRl.Core.Tasks;

namespace RoboRl.Cli.Tests;

/// <summary>`roborl bench sim --robot diffbot` and the navigation side of `roborl eval`.</summary>
public class NavCommandTests
{
    static readonly string TempRoot = Path.Combine(Path.GetTempPath(), "roborl-cli-nav-tests", Guid.NewGuid().ToString("N"));

    [OneTimeTearDown]
    public void DeleteTemporaryDirectories()
    {
        if (Directory.Exists(TempRoot)) Directory.Delete(TempRoot, recursive: true);
    }

    static string Temp(string name)
    {
        Directory.CreateDirectory(TempRoot);
        return Path.Combine(TempRoot, name);
    }

    static (int Exit, string Output, string Error) Invoke(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = Program.BuildRootCommand().Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    [Test]
    public void BenchSimDiffbotJsonHasTheQuadrotorKeys()
    {
        var output = new StringWriter();
        var progress = new StringWriter();
        int code = BenchSimCommand.Run(null, [2, 16], 0.03, json: true, output, progress, robot: "diffbot");
        Assert.That(code, Is.EqualTo(0), progress.ToString());
        using JsonDocument doc = JsonDocument.Parse(output.ToString());
        JsonElement root = doc.RootElement;
        foreach (string key in new[] { "dynamics_steps_per_s_1core", "task_steps_per_s_1core", "task_steps_per_s_allcores", "dynamics_steps_per_s_allcores", "task_ns_per_step_1core" })
            Assert.That(root.GetProperty(key).GetDouble(), Is.GreaterThan(0), key);
        Assert.That(root.GetProperty("robot").GetString(), Is.EqualTo("diffbot"));
        Assert.That(root.GetProperty("envs").GetInt32(), Is.EqualTo(16));
        Assert.That(progress.ToString(), Does.Contain("bench sim (diffbot): 16 envs: navigation task step (360-beam lidar)"));
        Assert.That(Program.BuildRootCommand().Parse(["bench", "sim", "--robot", "diffbot", "--json"]).Errors, Is.Empty);
        Assert.That(Program.BuildRootCommand().Parse(["bench", "sim", "--robot", "rover"]).Errors, Is.Not.Empty);
    }

    [Test]
    public void EvalPlannerDwaRunsStandalone()
    {
        string png = Temp("dwa.png");
        var (exit, output, error) = Invoke("eval", "--planner", "dwa", "--episodes", "6", "--seeds", "2", "--plot", png, "--json");
        Assert.That(exit, Is.Zero, error);
        using JsonDocument doc = JsonDocument.Parse(output);
        JsonElement planners = doc.RootElement.GetProperty("planners");
        Assert.That(planners.GetArrayLength(), Is.EqualTo(1));
        Assert.That(planners[0].GetProperty("planner").GetString(), Is.EqualTo("dwa"));
        Assert.That(planners[0].GetProperty("episodes").GetInt32(), Is.EqualTo(12));
        Assert.That(planners[0].GetProperty("success_rate").GetDouble(), Is.InRange(0.0, 1.0));
        Assert.That(File.Exists(png));
        Assert.That(error, Does.Contain("eval: dwa"));
    }

    [Test]
    public void EvalPlannerAloneWritesNoPlotUnlessAsked()
    {
        // The planner alone has no bundle to put a plot beside: it used to write eval_paths.png into the current directory.
        string stray = Path.Combine(Directory.GetCurrentDirectory(), "eval_paths.png");
        if (File.Exists(stray)) File.Delete(stray);
        var (exit, output, error) = Invoke("eval", "--planner", "dwa", "--episodes", "2", "--seeds", "1", "--json");
        Assert.That(exit, Is.Zero, error);
        using JsonDocument doc = JsonDocument.Parse(output);
        Assert.That(doc.RootElement.GetProperty("plot").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(File.Exists(stray), Is.False, "nothing written into the current directory");
    }

    [Test]
    public void EvalOnANavigationBundleComparesItWithDwa()
    {
        NavTaskConfig task = NavTaskConfig.Load(RepoPaths.Find(BenchSimCommand.DefaultNavTask));
        string bundle = Temp("nav-policy.safetensors");
        GoalSeekingPolicy(task).Write(bundle);
        // No --task: the bundle's robot (diff_drive) selects the navigation evaluation.
        var (exit, output, error) = Invoke("eval", bundle, "--episodes", "5", "--seeds", "1");
        Assert.That(exit, Is.Zero, error);
        Assert.That(output, Does.Contain("policy: 5 episodes").And.Contain("dwa: 5 episodes"));
        Assert.That(File.Exists(Path.Combine(TempRoot, "eval_paths.png")));
    }

    [Test]
    public void EvalRejectsABundleForAnotherObservationLayout()
    {
        NavTaskConfig task = NavTaskConfig.Load(RepoPaths.Find(BenchSimCommand.DefaultNavTask));
        string bundle = Temp("narrow.safetensors");
        PolicyBundle policy = GoalSeekingPolicy(task);
        // A bundle for 18 scan bins (25 observations), evaluated on the 36-bin task.
        int obs = NavObservation.ActorSize(18);
        var narrow = new PolicyBundle
        {
            Layers = [new DenseLayer(obs, 2, new float[2 * obs], [0, 0], Activation.Tanh)],
            ObservationNames = NavObservation.ActorNames(18),
            ActionNames = policy.ActionNames,
            ObservationMean = new float[obs],
            ObservationStd = Enumerable.Repeat(1f, obs).ToArray(),
            ActionLow = policy.ActionLow,
            ActionHigh = policy.ActionHigh,
            ActionUnit = policy.ActionUnit,
            ControlRateHz = 10,
            ActionHistoryLength = 0,
            RobotConfigJson = policy.RobotConfigJson,
            TrainingConfigJson = "{}",
            GitCommit = "test",
            GoldenObservations = new float[obs],
            GoldenActions = new float[2],
        };
        narrow.Write(bundle);
        var (exit, _, error) = Invoke("eval", bundle, "--episodes", "2");
        Assert.That(exit, Is.EqualTo(2), "a bundle for another observation layout is bad input");
        Assert.That(error, Does.Contain(bundle).And.Contain("25 observations").And.Contain("43"));
    }

    /// <summary>Heads for the goal, blind to obstacles: v = tanh(2·cos(bearing) − 0.5), ω = tanh(3·sin(bearing)).</summary>
    static PolicyBundle GoalSeekingPolicy(NavTaskConfig task)
    {
        int obs = task.ActorObservationSize, goal = NavObservation.GoalOffset(task.ScanBins);
        var weights = new float[2 * obs];
        weights[goal + 2] = 2f;
        weights[obs + goal + 1] = 3f;
        return new PolicyBundle
        {
            Layers = [new DenseLayer(obs, 2, weights, [-0.5f, 0f], Activation.Tanh)],
            ObservationNames = NavObservation.ActorNames(task.ScanBins),
            ActionNames = NavObservation.ActionNames,
            ObservationMean = new float[obs],
            ObservationStd = Enumerable.Repeat(1f, obs).ToArray(),
            ActionLow = [-task.Robot.MaxLinearVelocity, -task.Robot.MaxAngularVelocity],
            ActionHigh = [task.Robot.MaxLinearVelocity, task.Robot.MaxAngularVelocity],
            ActionUnit = "m/s, rad/s",
            ControlRateHz = task.ControlFrequencyHz,
            ActionHistoryLength = 0,
            RobotConfigJson = task.RobotConfigJson,
            TrainingConfigJson = """{"algorithm":"hand-made"}""",
            GitCommit = "test",
            GoldenObservations = new float[obs],
            GoldenActions = [MathF.Tanh(-0.5f), 0f],
        };
    }
}
