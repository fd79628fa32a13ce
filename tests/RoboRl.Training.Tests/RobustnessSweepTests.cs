using System.Text.Json.Nodes;
using RoboRl.Core.Policy;
using RoboRl.Core.Tasks;
using RoboRl.Training.Evaluation;

namespace RoboRl.Training.Tests;

/// <summary>
/// The robustness sweep and the evaluator's start-distribution, disturbance and noise options, on hand-made policies
/// whose behaviour is known without training (the constant hover action holds the target from rest at nominal dynamics,
/// and nothing else).
/// </summary>
public class RobustnessSweepTests
{
    /// <summary>The hover task judged from rest at the target, in calm air (observation noise only).</summary>
    static HoverTaskConfig CalmTask(Action<JsonObject>? edit = null) => HoverTaskConfig.Load(RepoFiles.EditedCopy(RepoFiles.TaskFile, root =>
    {
        root["disturbance"] = new JsonObject { ["force_std"] = 0, ["torque_std"] = 0 };
        root["evaluation"]!.AsObject().Remove("disturbance");
        root["evaluation"]!["initial_state"]!["rest_fraction"] = 1.0;
        edit?.Invoke(root);
    }));

    static PolicyBundle Hover(HoverTaskConfig task) => EvaluatorTests.ConstantPolicy(task, task.Robot.HoverAction());

    /// <summary>The hover action corrected by the observed height error only: a = tanh(atanh(hover) − gain · e_z). With
    /// exact observations it never leaves the target; with noisy ones it flies noise.</summary>
    static PolicyBundle HeightFeedback(HoverTaskConfig task, float gain)
    {
        PolicyBundle bundle = Hover(task);
        int obs = bundle.Layers[0].InputSize;
        var weights = new float[4 * obs];
        for (int m = 0; m < 4; m++) weights[m * obs + 2] = -gain; // column 2 = pos_err_z
        DenseLayer constant = bundle.Layers[0];
        return new PolicyBundle
        {
            Layers = [new DenseLayer(obs, 4, weights, constant.Biases, Activation.Tanh)],
            ObservationNames = bundle.ObservationNames,
            ActionNames = bundle.ActionNames,
            ObservationMean = bundle.ObservationMean,
            ObservationStd = bundle.ObservationStd,
            ActionLow = bundle.ActionLow,
            ActionHigh = bundle.ActionHigh,
            ActionUnit = bundle.ActionUnit,
            ControlRateHz = bundle.ControlRateHz,
            ActionHistoryLength = bundle.ActionHistoryLength,
            RobotConfigJson = bundle.RobotConfigJson,
            TrainingConfigJson = bundle.TrainingConfigJson,
            GitCommit = bundle.GitCommit,
            GoldenObservations = bundle.GoldenObservations,
            GoldenActions = bundle.GoldenActions,
        };
    }

    [Test]
    public void AMassSweepFindsWhereTheHoverActionStopsHolding()
    {
        HoverTaskConfig task = CalmTask();
        SweepResult sweep = RobustnessSweep.Run(Hover(task), task, SweepParameter.Mass, [1.2, 0.8, 1.0, 1.0], episodes: 24, seed: 7);
        Assert.That(sweep.Rows.Select(r => r.Value), Is.EqualTo(new[] { 0.8, 1.0, 1.2 }), "ascending, duplicates dropped");
        Assert.That(sweep.TrainingRange, Is.EqualTo((0.7, 1.4)), "the task's domain_randomization.mass");
        Assert.That(sweep.Rows.All(r => r.InsideTrainingRange));
        // Lighter: the hover action lifts it out of the top of the box; heavier: it sinks out of the bottom.
        Assert.That(sweep.Rows.Select(r => r.SuccessRate), Is.EqualTo(new[] { 0.0, 1.0, 0.0 }));
        Assert.That(sweep.Rows.Select(r => r.CrashRate), Is.EqualTo(new[] { 1.0, 0.0, 1.0 }));
        Assert.That(sweep.SuccessRange(0.9), Is.EqualTo((1.0, 1.0)));
    }

    [Test]
    public void AThrustSweepScalesTheThrustCoefficient()
    {
        HoverTaskConfig task = CalmTask();
        SweepResult sweep = RobustnessSweep.Run(Hover(task), task, SweepParameter.Thrust, [0.8, 1.0, 1.2], episodes: 16, seed: 7);
        Assert.That(sweep.TrainingRange, Is.EqualTo((0.85, 1.15)));
        Assert.That(sweep.Rows.Select(r => r.InsideTrainingRange), Is.EqualTo(new[] { false, true, false }));
        Assert.That(sweep.Rows.Select(r => r.CrashRate), Is.EqualTo(new[] { 1.0, 0.0, 1.0 }), "weaker rotors sink, stronger ones climb");
    }

    [Test]
    public void ADisturbanceSweepScalesTheEvaluationsDisturbance()
    {
        // Judged under 0.05 N per axis (a fifth of the weight) while training with the default task's 0.02648 N: the
        // training factor is the smaller of force 0.02648 / 0.05 and torque 2.65e-5 / 2.65e-5.
        HoverTaskConfig task = CalmTask(root =>
        {
            root["disturbance"] = new JsonObject { ["force_std"] = 0.02648, ["torque_std"] = 2.65e-5 };
            root["evaluation"]!["disturbance"] = new JsonObject { ["force_std"] = 0.05, ["torque_std"] = 2.65e-5 };
        });
        Assert.That(RobustnessSweep.TrainingRange(SweepParameter.Disturbance, task), Is.EqualTo((0.0, 0.5296)));
        SweepResult sweep = RobustnessSweep.Run(Hover(task), task, SweepParameter.Disturbance, [0, 1], episodes: 40, seed: 3);
        Assert.That(sweep.Rows[0].SuccessRate, Is.EqualTo(1.0), "factor 0: calm air, the hover action holds");
        Assert.That(sweep.Rows[1].CrashRate, Is.GreaterThan(0.9), "factor 1: the open-loop hover is blown out of the box");
        Assert.That(sweep.Rows.Select(r => r.InsideTrainingRange), Is.EqualTo(new[] { true, false }));
    }

    [Test]
    public void ANoiseSweepScalesTheObservationNoise()
    {
        HoverTaskConfig task = CalmTask();
        SweepResult sweep = RobustnessSweep.Run(HeightFeedback(task, 2), task, SweepParameter.Noise, [0, 500], episodes: 40, seed: 5);
        Assert.That(sweep.TrainingRange, Is.EqualTo((0.0, 1.0)));
        Assert.That(sweep.Rows[0].SuccessRate, Is.EqualTo(1.0), "exact observations: the height error stays 0");
        Assert.That(sweep.Rows[1].CrashRate, Is.GreaterThan(0.9), "0.5 m of position noise makes the thrust random");
    }

    [Test]
    public void LatencyAndMotorLagReachTheSimulator()
    {
        var baseline = new EvalOptions(Episodes: 5, Seed: 9);
        EvalOptions latency = RobustnessSweep.OptionsAt(SweepParameter.Latency, 3, baseline);
        Assert.That(latency.Dynamics, Is.EqualTo(DomainRandomizationConfig.None with { LatencySteps = (3, 3) }));
        EvalOptions lag = RobustnessSweep.OptionsAt(SweepParameter.MotorTimeConstant, 2.5, baseline);
        Assert.That(lag.Dynamics, Is.EqualTo(DomainRandomizationConfig.None with { MotorTimeConstant = (2.5f, 2.5f) }));
        EvalOptions noise = RobustnessSweep.OptionsAt(SweepParameter.Noise, 4, baseline);
        Assert.That((noise.Dynamics, noise.ObservationNoiseScale, noise.DisturbanceScale), Is.EqualTo((DomainRandomizationConfig.None, 4f, 1f)),
            "every other parameter nominal");

        // A rising step in the command: with latency the height error reacts later, with slow motors it reacts slower.
        HoverTaskConfig task = CalmTask();
        PolicyBundle climb = EvaluatorTests.ConstantPolicy(task, task.Robot.HoverAction() + 0.05f);
        float HeightAfter(SweepParameter parameter, double value)
        {
            EvalResult r = PolicyEvaluator.Evaluate(climb, task, RobustnessSweep.OptionsAt(parameter, value, baseline with { TrajectoriesKept = 1 }));
            return r.Trajectories[0][29]; // position error after 0.3 s
        }
        Assert.That(HeightAfter(SweepParameter.Latency, 5), Is.LessThan(HeightAfter(SweepParameter.Latency, 0) * 0.8));
        Assert.That(HeightAfter(SweepParameter.MotorTimeConstant, 3), Is.LessThan(HeightAfter(SweepParameter.MotorTimeConstant, 1) * 0.8));
    }

    [Test]
    public void TheDefaultGridsReachBeyondTheDefaultTasksTrainingRanges()
    {
        HoverTaskConfig task = HoverTaskConfig.Load(RepoFiles.TaskFile);
        foreach (SweepParameter p in Enum.GetValues<SweepParameter>())
        {
            double[] grid = RobustnessSweep.DefaultValues(p);
            var (low, high) = RobustnessSweep.TrainingRange(p, task);
            Assert.That(grid.Max(), Is.GreaterThan(high), RobustnessSweep.Name(p));
            if (low > 0) Assert.That(grid.Min(), Is.LessThan(low), RobustnessSweep.Name(p));
            Assert.That(grid.Select(v => RobustnessSweep.Check(p, v, task)), Is.All.Null, RobustnessSweep.Name(p));
        }
        Assert.That(RobustnessSweep.TrainingRange(SweepParameter.Latency, task), Is.EqualTo((0.0, 1.0)));
        Assert.That(RobustnessSweep.TrainingRange(SweepParameter.Disturbance, task), Is.EqualTo((0.0, 1.0)),
            "force trained at 2x the judged std, torque at 1x: the smaller counts");
    }

    [Test]
    public void ValuesTheSimulatorCannotFlyAreRefusedSayingWhatIsExpected()
    {
        HoverTaskConfig task = HoverTaskConfig.Load(RepoFiles.TaskFile);
        Assert.That(RobustnessSweep.Check(SweepParameter.Mass, 0, task), Does.Contain("mass").And.Contain("(0, 10]").And.Contain("got 0"));
        Assert.That(RobustnessSweep.Check(SweepParameter.Thrust, -0.5, task), Does.Contain("thrust").And.Contain("got -0.5"));
        Assert.That(RobustnessSweep.Check(SweepParameter.MotorTimeConstant, 0.01, task), Does.Contain("RK4").And.Contain("expected ≥ 0.034"));
        Assert.That(RobustnessSweep.Check(SweepParameter.MotorTimeConstant, 0.25, task), Is.Null);
        Assert.That(RobustnessSweep.Check(SweepParameter.Latency, -1, task), Does.Contain("[0, 16]").And.Contain("got -1"));
        Assert.That(RobustnessSweep.Check(SweepParameter.Latency, 1.5, task), Does.Contain("whole control steps"));
        Assert.That(RobustnessSweep.Check(SweepParameter.Latency, 17, task), Does.Contain("[0, 16]"));
        Assert.That(RobustnessSweep.Check(SweepParameter.Latency, 16, task), Is.Null);
        Assert.That(RobustnessSweep.Check(SweepParameter.Disturbance, 0, task), Is.Null, "no disturbance is a valid point");
        Assert.That(RobustnessSweep.Check(SweepParameter.Noise, -1, task), Does.Contain("≥ 0"));
        Assert.That(RobustnessSweep.Check(SweepParameter.Noise, double.NaN, task), Does.Contain("not a finite number"));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            RobustnessSweep.Run(Hover(task), task, SweepParameter.Latency, [0, 40], episodes: 1, seed: 1));
        // The evaluator itself refuses a latency its action history cannot hold (e.g. from a --dynamics file).
        var late = DomainRandomizationConfig.None with { LatencySteps = (0, 32) };
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => PolicyEvaluator.Evaluate(Hover(task), task, new EvalOptions(Episodes: 1, Dynamics: late)));
        Assert.That(error!.Message, Does.Contain("latency 32").And.Contain("32"));
    }

    [Test]
    public void TheEnvelopeIsTheRunOfGoodValuesAroundNominal()
    {
        SweepRow Row(double v, double s) => new(v, s, 1 - s, true);
        var sweep = new SweepResult(SweepParameter.Mass, (0.7, 1.4),
            [Row(0.5, 0.2), Row(0.6, 0.95), Row(0.8, 0.99), Row(1.0, 1.0), Row(1.2, 0.91), Row(1.4, 0.85), Row(1.6, 0.95)], 100, 1);
        Assert.That(sweep.SuccessRange(0.9), Is.EqualTo((0.6, 1.2)), "stops at the first value below, even if a later one recovers");
        var latency = new SweepResult(SweepParameter.Latency, (0, 1), [Row(0, 0.5), Row(1, 0.95)], 100, 1);
        Assert.That(latency.SuccessRange(0.9), Is.Null, "nominal (latency 0) itself falls short");
    }

    [Test]
    public void L2FStartsReplaceTheTasksEvaluationStarts()
    {
        // From rest at the target the hover action always holds; from L2F's starts only the 10 % that start at rest do.
        HoverTaskConfig task = CalmTask();
        var options = new EvalOptions(Episodes: 400, Dynamics: DomainRandomizationConfig.None);
        Assert.That(PolicyEvaluator.Evaluate(Hover(task), task, options).SuccessRate, Is.EqualTo(1.0));
        EvalResult l2f = PolicyEvaluator.Evaluate(Hover(task), task, options with { InitialStates = InitialStateConfig.LearningToFly });
        Assert.That(l2f.SuccessRate, Is.EqualTo(0.1).Within(0.04));
    }
}
