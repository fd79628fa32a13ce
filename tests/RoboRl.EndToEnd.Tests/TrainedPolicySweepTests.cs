using RoboRl.Core.Tasks;
using RoboRl.Serial.Firmware;
using RoboRl.Training.Evaluation;

namespace RoboRl.EndToEnd.Tests;

/// <summary>The robustness sweep on the policy `roborl train` makes (TrainedHoverPolicy): a trained envelope, not a hand-made one.</summary>
public class TrainedPolicySweepTests
{
    [Test]
    public void TheTrainedPolicyHoldsAtNominalMassAndCrashesFarBeyondItsTrainingRange()
    {
        HoverTaskConfig task = HoverTaskConfig.Load(Path.Combine(McuImages.RepositoryRoot, "configs", "tasks", "crazyflie-hover.json"));
        SweepResult sweep = RobustnessSweep.Run(TrainedHoverPolicy.Bundle, task, SweepParameter.Mass, [1.0, 2.0], episodes: 300, seed: 4);
        foreach (SweepRow row in sweep.Rows)
            TestContext.Out.WriteLine($"mass {row.Value}: success {row.SuccessRate:P1}, crashes {row.CrashRate:P1}");
        SweepRow nominal = sweep.Rows[0], heavy = sweep.Rows[1];
        Assert.That(nominal.InsideTrainingRange && !heavy.InsideTrainingRange, "training mass 0.7-1.4");
        Assert.That(nominal.SuccessRate, Is.GreaterThanOrEqualTo(0.9), "the task's quality bar at nominal dynamics");
        // Twice the mass leaves 12 % of thrust above the weight: the policy, trained up to 1.4x, cannot hold it.
        Assert.That(heavy.CrashRate, Is.GreaterThan(nominal.CrashRate + 0.5));
        Assert.That(heavy.SuccessRate, Is.LessThan(nominal.SuccessRate - 0.5));
    }
}
