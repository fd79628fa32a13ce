using System.CommandLine;
using RoboRl.Cli.Commands;
using RoboRl.Core.Policy;
using RoboRl.Core.Swarm;
using RoboRl.Core.Tasks;
using RoboRl.Training;

namespace RoboRl.Cli.Tests;

/// <summary>`roborl eval` finds a bundle's evaluation through the registered kinds (issue 17, item 1), not a switch.</summary>
public class EvalKindsTests
{
    static readonly string TempRoot = Path.Combine(Path.GetTempPath(), "roborl-cli-evalkinds-tests", Guid.NewGuid().ToString("N"));

    [OneTimeTearDown]
    public void DeleteTemporaryDirectories()
    {
        if (Directory.Exists(TempRoot)) Directory.Delete(TempRoot, recursive: true);
    }

    /// <summary>A bundle of one dense layer for <paramref name="robotConfig"/> (a repository path or the JSON itself) with the given observation names (never flown).</summary>
    static string Bundle(string name, string robotConfig, string[] observationNames, int actions)
    {
        int obs = observationNames.Length;
        var bundle = new PolicyBundle
        {
            Layers = [new DenseLayer(obs, actions, new float[obs * actions], new float[actions], Activation.Tanh)],
            ObservationNames = observationNames,
            ActionNames = Enumerable.Range(0, actions).Select(a => $"a{a}").ToArray(),
            ObservationMean = new float[obs],
            ObservationStd = Enumerable.Repeat(1f, obs).ToArray(),
            ActionLow = Enumerable.Repeat(-1f, actions).ToArray(),
            ActionHigh = Enumerable.Repeat(1f, actions).ToArray(),
            ActionUnit = "normalised",
            ControlRateHz = 100,
            ActionHistoryLength = 0,
            RobotConfigJson = robotConfig.StartsWith("configs/", StringComparison.Ordinal) ? RoboRl.Core.Configs.ConfigNode.LoadFile(RepoPaths.Find(robotConfig)).RawJson : robotConfig,
            TrainingConfigJson = """{"algorithm":"hand-made"}""",
            GitCommit = "test",
            GoldenObservations = new float[obs],
            GoldenActions = new float[actions],
        };
        Directory.CreateDirectory(TempRoot);
        string path = Path.Combine(TempRoot, name + ".safetensors");
        bundle.Write(path);
        return path;
    }

    static EvalRequest Request(string? bundle, string? task = null, string? planner = null) =>
        new(bundle, [], null, null, EvalCommand.DefaultSeed, task, null, false, planner, 1, null, null, null, TextWriter.Null, TextWriter.Null);

    [Test]
    public void EveryTaskKindThatTrainsAlsoEvaluates() =>
        Assert.That(EvalKinds.All.Select(k => k.Name), Is.EquivalentTo(TrainingTasks.Names));

    [Test]
    public void TheKindComesFromTheBundleWhenNoTaskIsGiven()
    {
        string quadrotor = Bundle("hover", "configs/robots/crazyflie21.json", ["p_x", "p_y", "p_z"], 4);
        string groundRobot = Bundle("nav", "configs/robots/diffbot.json", ["scan_0", "goal_x"], 2);
        string swarm = Bundle("swarm", "configs/robots/crazyflie21.json", SwarmObservation.Names(2), 4);
        Assert.That(EvalKinds.For(Request(quadrotor)).Name, Is.EqualTo(TaskKinds.Hover));
        Assert.That(EvalKinds.For(Request(groundRobot)).Name, Is.EqualTo(TaskKinds.Navigation));
        Assert.That(EvalKinds.For(Request(swarm)).Name, Is.EqualTo(TaskKinds.Swarm));
        Assert.That(EvalKinds.For(Request(null, planner: "dwa")).Name, Is.EqualTo(TaskKinds.Navigation), "--planner alone evaluates the planners");
    }

    [Test]
    public void TheTaskFilesKindWinsOverTheBundle()
    {
        string quadrotor = Bundle("hover-for-swarm", "configs/robots/crazyflie21.json", ["p_x", "p_y", "p_z"], 4);
        Assert.That(EvalKinds.For(Request(quadrotor, task: "configs/swarm/crazyflie-swarm8-open.json")).Name, Is.EqualTo(TaskKinds.Swarm));
        Assert.That(EvalKinds.For(Request(quadrotor, task: "configs/tasks/crazyflie-hover.json")).Name, Is.EqualTo(TaskKinds.Hover));
    }

    static (int Exit, string Error) Invoke(params string[] args)
    {
        var error = new StringWriter();
        int exit = Program.BuildRootCommand().Parse(args).Invoke(new InvocationConfiguration { Output = new StringWriter(), Error = error });
        return (exit, error.ToString());
    }

    [Test]
    public void AnUnknownTaskKindIsBadInputNamingTheFileAndKey()
    {
        string quadrotor = Bundle("hover-unknown-kind", "configs/robots/crazyflie21.json", ["p_x", "p_y", "p_z"], 4);
        string task = Path.Combine(TempRoot, "juggling.json");
        File.WriteAllText(task, """{ "kind": "juggling" }""");
        var (exit, error) = Invoke("eval", quadrotor, "--task", task);
        Assert.That(exit, Is.EqualTo(2), error);
        Assert.That(error, Does.Contain(task).And.Contain("kind").And.Contain("juggling").And.Contain("hover, navigation, swarm"));
    }

    [Test]
    public void EachKindRefusesTheFlagsThatAreNotItsOwn()
    {
        string quadrotor = Bundle("hover-planner", "configs/robots/crazyflie21.json", ["p_x", "p_y", "p_z"], 4);
        string groundRobot = Bundle("nav-sweep", "configs/robots/diffbot.json", ["scan_0", "goal_x"], 2);
        var (exit, error) = Invoke("eval", quadrotor, "--planner", "dwa");
        Assert.That(exit, Is.EqualTo(2), error);
        Assert.That(error, Does.Contain("--planner does not apply to hover policies"));
        (exit, error) = Invoke("eval", groundRobot, "--initial-states", "l2f");
        Assert.That(exit, Is.EqualTo(2), error);
        Assert.That(error, Does.Contain("--initial-states does not apply to navigation policies"));
    }

    [Test]
    public void ABundleNoKindRecognisesIsBadInput()
    {
        string path = Bundle("boat", """{ "kind": "boat" }""", ["p_x"], 4);
        var (exit, error) = Invoke("eval", path);
        Assert.That(exit, Is.EqualTo(2), error);
        Assert.That(error, Does.Contain(path).And.Contain("no evaluation recognises this bundle"));
    }
}
