using System.Text.Json.Nodes;
using RoboRl.Core.Policy;
using RoboRl.Core.Tasks;
using RoboRl.Training.Evaluation;

namespace RoboRl.Training.Tests;

/// <summary>The evaluator on hand-made policies whose behaviour is known without training.</summary>
public class EvaluatorTests
{
    /// <summary>A "policy" that ignores its input: zero weights, bias = atanh(action), so it always outputs <paramref name="action"/>.</summary>
    public static PolicyBundle ConstantPolicy(HoverTaskConfig task, float action, int? observationSize = null)
    {
        int obs = observationSize ?? HoverObservation.ActorSize(task.ActionHistoryLength);
        float bias = action <= -1 ? -20f : MathF.Atanh(action);
        var biases = Enumerable.Repeat(bias, 4).ToArray();
        var bundle = new PolicyBundle
        {
            Layers = [new DenseLayer(obs, 4, new float[4 * obs], biases, Activation.Tanh)],
            ObservationNames = HoverObservation.ActorNames(task.ActionHistoryLength)[..obs],
            ActionNames = HoverObservation.ActionNames,
            ObservationMean = new float[obs],
            ObservationStd = Enumerable.Repeat(1f, obs).ToArray(),
            ActionLow = new float[4],
            ActionHigh = HoverObservation.ActionScaling(task.Robot).High,
            ActionUnit = HoverObservation.ActionUnit,
            ControlRateHz = task.ControlFrequencyHz,
            ActionHistoryLength = task.ActionHistoryLength,
            RobotConfigJson = task.RobotConfigJson,
            TrainingConfigJson = """{"algorithm":"constant"}""",
            GitCommit = "test",
            GoldenObservations = new float[obs],
            GoldenActions = biases.Select(MathF.Tanh).ToArray(),
        };
        return bundle;
    }

    /// <summary>The hover task evaluated from rest at the target, without disturbance (only observation noise, which a constant policy ignores).</summary>
    static HoverTaskConfig CalmTask() => HoverTaskConfig.Load(RepoFiles.EditedCopy(RepoFiles.TaskFile, root =>
    {
        root["disturbance"] = new JsonObject { ["force_std"] = 0, ["torque_std"] = 0 };
        root["evaluation"]!.AsObject().Remove("disturbance");
        root["evaluation"]!["initial_state"]!["rest_fraction"] = 1.0;
    }));

    [Test]
    public void ConstantHoverActionHoldsTheTargetFromRestWithNominalDynamics()
    {
        HoverTaskConfig task = CalmTask();
        PolicyBundle hover = ConstantPolicy(task, task.Robot.HoverAction());
        EvalResult result = PolicyEvaluator.Evaluate(hover, task, new EvalOptions(Episodes: 50, Dynamics: DomainRandomizationConfig.None));
        Assert.That(result.Episodes, Is.EqualTo(50));
        Assert.That(result.CrashRate, Is.Zero);
        Assert.That(result.SuccessRate, Is.EqualTo(1.0));
        Assert.That(result.PositionErrorP95At5s, Is.LessThan(1e-3), "thrust equals weight: the vehicle stays put");
        Assert.That(result.EpisodeReturns.Min(), Is.GreaterThan(0.99 * 2 * 500), "reward ≈ the constant 2 at every one of 500 steps");
    }

    [Test]
    public void ConstantHoverActionFailsWhenTheVehicleIsHeavierThanNominal()
    {
        // 20 % heavier than the hover action can carry: open loop, it sinks (the --dynamics override takes effect).
        HoverTaskConfig task = CalmTask();
        var heavy = DomainRandomizationConfig.None with { Mass = (1.2f, 1.2f) };
        EvalResult result = PolicyEvaluator.Evaluate(ConstantPolicy(task, task.Robot.HoverAction()), task, new EvalOptions(Episodes: 20, Dynamics: heavy));
        Assert.That(result.SuccessRate, Is.Zero);
        Assert.That(result.CrashRate, Is.EqualTo(1.0), "sinking at ~0.2 g leaves the 0.6 m box within 5 s");
    }

    [Test]
    public void TheEvaluationSectionsDisturbanceReplacesTheTasksWhileJudging()
    {
        // Training disturbance 0.5 N per axis (about twice the weight): a constant hover action is blown out of the box.
        HoverTaskConfig windy = HoverTaskConfig.Load(RepoFiles.EditedCopy(RepoFiles.TaskFile, root =>
        {
            root["disturbance"] = new JsonObject { ["force_std"] = 0.5, ["torque_std"] = 0 };
            root["evaluation"]!.AsObject().Remove("disturbance");
            root["evaluation"]!["initial_state"]!["rest_fraction"] = 1.0;
        }));
        PolicyBundle hover = ConstantPolicy(windy, windy.Robot.HoverAction());
        var options = new EvalOptions(Episodes: 40, Dynamics: DomainRandomizationConfig.None);
        Assert.That(PolicyEvaluator.Evaluate(hover, windy, options).CrashRate, Is.GreaterThan(0.9));

        // The same task judged in calm air: the hover action holds the target.
        HoverTaskConfig judgedCalm = HoverTaskConfig.Load(RepoFiles.EditedCopy(RepoFiles.TaskFile, root =>
        {
            root["disturbance"] = new JsonObject { ["force_std"] = 0.5, ["torque_std"] = 0 };
            root["evaluation"]!["disturbance"] = new JsonObject { ["force_std"] = 0, ["torque_std"] = 0 };
            root["evaluation"]!["initial_state"]!["rest_fraction"] = 1.0;
        }));
        EvalResult calm = PolicyEvaluator.Evaluate(hover, judgedCalm, options);
        Assert.That(calm.CrashRate, Is.Zero);
        Assert.That(calm.SuccessRate, Is.EqualTo(1.0));
    }

    [Test]
    public void ZeroThrustCrashesEveryEpisode()
    {
        HoverTaskConfig task = HoverTaskConfig.Load(RepoFiles.TaskFile);
        EvalResult result = PolicyEvaluator.Evaluate(ConstantPolicy(task, -1f), task, new EvalOptions(Episodes: 64));
        Assert.That(result.CrashRate, Is.EqualTo(1.0));
        Assert.That(result.SuccessRate, Is.Zero);
        Assert.That(double.IsNaN(result.PositionErrorP50At5s), "no episode is still flying at 5 s");
        Assert.That(result.LatePositionErrors, Is.All.EqualTo(task.PositionErrorLimit * Math.Sqrt(3)).Within(1e-6));
    }

    [Test]
    public void ExactlyTheRequestedEpisodesAreMeasuredAcrossBatches()
    {
        HoverTaskConfig task = CalmTask();
        int episodes = PolicyEvaluator.MaxBatch + 13;
        EvalResult result = PolicyEvaluator.Evaluate(ConstantPolicy(task, task.Robot.HoverAction()), task,
            new EvalOptions(Episodes: episodes, Dynamics: DomainRandomizationConfig.None, TrajectoriesKept: 3));
        Assert.That(result.Episodes, Is.EqualTo(episodes));
        Assert.That(result.EpisodeReturns, Has.Length.EqualTo(episodes));
        Assert.That(result.Successes.Count(s => s), Is.EqualTo(episodes), "every episode of both batches measured and successful");
        Assert.That(result.EpisodeReturns, Is.All.GreaterThan(0), "no episode left unmeasured (return 0)");
        Assert.That(result.Trajectories, Has.Length.EqualTo(3));
        Assert.That(result.Trajectories[0], Has.Length.EqualTo(500), "5 s at 100 Hz");
    }

    [Test]
    public void ABundleForAnotherRobotIsRefused()
    {
        HoverTaskConfig task = HoverTaskConfig.Load(RepoFiles.TaskFile);
        PolicyBundle hover = ConstantPolicy(task, 0.3f);
        var other = new PolicyBundle
        {
            Layers = hover.Layers,
            ObservationNames = hover.ObservationNames,
            ActionNames = hover.ActionNames,
            ObservationMean = hover.ObservationMean,
            ObservationStd = hover.ObservationStd,
            ActionLow = hover.ActionLow,
            ActionHigh = hover.ActionHigh,
            ActionUnit = hover.ActionUnit,
            ControlRateHz = hover.ControlRateHz,
            ActionHistoryLength = hover.ActionHistoryLength,
            TrainingConfigJson = hover.TrainingConfigJson,
            GitCommit = hover.GitCommit,
            GoldenObservations = hover.GoldenObservations,
            GoldenActions = hover.GoldenActions,
            RobotConfigJson = """{"name": "heavier-quad", "mass": 0.5}""",
        };
        var error = Assert.Throws<PolicyMismatchException>(() => PolicyEvaluator.Evaluate(other, task, new EvalOptions(Episodes: 1)))!;
        Assert.That(error.Message, Does.Contain("robot"));
    }

    [Test]
    public void ABundleOfTheLayoutWithoutThePositionIntegralIsRefused()
    {
        // Trained before the observation gained its integral: 146 inputs, today's names less the last three.
        HoverTaskConfig task = HoverTaskConfig.Load(RepoFiles.TaskFile);
        PolicyBundle old = ConstantPolicy(task, 0.3f, observationSize: 146);
        old.Validate("old layout");
        var error = Assert.Throws<PolicyMismatchException>(() => PolicyEvaluator.Evaluate(old, task, new EvalOptions(Episodes: 1)))!;
        Assert.That(error.Field, Is.EqualTo(PolicyBundle.KeyObservationNames));
        Assert.That(error.Message, Does.Contain("the policy has 146 elements, the runtime 149: the policy lacks 'pos_err_int_x', 'pos_err_int_y', 'pos_err_int_z'"));
    }

    [Test]
    public void TrajectoryPlotIsAPng()
    {
        HoverTaskConfig task = CalmTask();
        EvalResult result = PolicyEvaluator.Evaluate(ConstantPolicy(task, task.Robot.HoverAction()), task, new EvalOptions(Episodes: 5, TrajectoriesKept: 5));
        string path = Path.Combine(RepoFiles.TempDirectory(), "trajectories.png");
        PolicyEvaluator.WriteTrajectoryPlot(result, path, "test");
        byte[] bytes = File.ReadAllBytes(path);
        Assert.That(bytes.Take(8), Is.EqualTo(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }), "PNG signature");
        Assert.That(bytes.Length, Is.GreaterThan(5000), "a drawn image, not an empty one");
    }
}
