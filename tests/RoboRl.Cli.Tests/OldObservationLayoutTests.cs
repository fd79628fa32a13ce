using RoboRl.Cli.Commands;
using RoboRl.Core.Policy;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Tasks;

namespace RoboRl.Cli.Tests;

/// <summary>
/// A bundle trained before the hover observation gained its position-error integral (146 inputs for 32 past actions,
/// today's names less pos_err_int_x/y/z) is refused by `roborl eval` and `roborl run` with a message naming the
/// observation, never flown or scored on a shifted input.
/// </summary>
public class OldObservationLayoutTests
{
    private string _dir = null!;

    [SetUp]
    public void MakeDir()
    {
        _dir = Path.Combine(Path.GetTempPath(), "roborl-cli-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void RemoveDir()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    /// <summary>A hover-holding 146 → 4 bundle of the old layout for the Crazyflie 2.1 config, written to a file.</summary>
    private string OldLayoutBundle()
    {
        string robotPath = RepoPaths.Find("configs/robots/crazyflie21.json");
        QuadrotorConfig robot = QuadrotorConfig.Load(robotPath);
        const int obs = 146;
        string[] names = HoverObservation.ActorNames(32)[..obs];
        float[] bias = Enumerable.Repeat(MathF.Atanh(robot.HoverAction()), 4).ToArray();
        var bundle = new PolicyBundle
        {
            Layers = [new DenseLayer(obs, 4, new float[4 * obs], bias, Activation.Tanh)],
            ObservationNames = names,
            ActionNames = HoverObservation.ActionNames,
            ObservationMean = new float[obs],
            ObservationStd = Enumerable.Repeat(1f, obs).ToArray(),
            ActionLow = new float[4],
            ActionHigh = HoverObservation.ActionScaling(robot).High,
            ActionUnit = HoverObservation.ActionUnit,
            ControlRateHz = 100,
            ActionHistoryLength = 32,
            RobotConfigJson = File.ReadAllText(robotPath),
            TrainingConfigJson = """{"crafted":"hover observation without the position-error integral"}""",
            GitCommit = "0000000000000000000000000000000000000000",
            GoldenObservations = new float[obs],
            GoldenActions = bias.Select(MathF.Tanh).ToArray(),
        };
        string path = Path.Combine(_dir, "old-layout.safetensors");
        bundle.Write(path);
        return path;
    }

    [Test]
    public void EvalRefusesItNamingTheMissingInputs()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = EvalCommand.Run(OldLayoutBundle(), [], 10, null, 1, RepoPaths.Find("configs/tasks/crazyflie-hover.json"), null, asJson: true, output, error);
        Assert.That(code, Is.EqualTo(2), error.ToString());
        var result = System.Text.Json.Nodes.JsonNode.Parse(output.ToString())!.AsObject();
        Assert.That(result.Select(p => p.Key), Is.EqualTo(new[] { "error", "exit_code" }), "no figures for a policy that was not evaluated, only the error");
        Assert.That(error.ToString(), Does.StartWith("eval: ").And.Contain("observation.names")
            .And.Contain("the policy has 146 elements, the runtime 149: the policy lacks 'pos_err_int_x', 'pos_err_int_y', 'pos_err_int_z'"));
    }

    [Test]
    public void RunRefusesItBeforeArming()
    {
        var progress = new StringWriter();
        int code = RunCommand.Run("configs/nodes/crazyflie-sim.json", OldLayoutBundle(), 1.0, null, null, new StringWriter(), progress);
        Assert.That(code, Is.EqualTo(2), progress.ToString());
        Assert.That(progress.ToString(), Does.StartWith("run: refused before arming: ").And.Contain("observation.names")
            .And.Contain("149 values (18 + 4 × 32 past actions + 3 position-error integral); the policy takes 146"));
    }
}
