using RoboRl.Core.Policy;
using RoboRl.Core.Tasks;
using RoboRl.Sims.DiffDrive;
using RoboRl.Training.Evaluation;

namespace RoboRl.Training.Tests;

/// <summary>The navigation evaluator with the DWA and a hand-made policy bundle through the real PolicyEngine.</summary>
public class NavEvaluatorTests
{
    public static NavTaskConfig Task => NavTaskConfig.Load(RepoFiles.Path("configs/tasks/diffbot-nav.json"));

    /// <summary>
    /// A one-layer "policy" that heads for the goal and ignores obstacles: v = tanh(2·cos(bearing) − 0.5),
    /// ω = tanh(3·sin(bearing)). Known behaviour without training.
    /// </summary>
    public static PolicyBundle GoalSeekingPolicy(NavTaskConfig task)
    {
        int obs = task.ActorObservationSize, goal = NavObservation.GoalOffset(task.ScanBins);
        var weights = new float[2 * obs]; // row-major [output × input]
        weights[0 * obs + goal + 2] = 2f;  // v ← cos(bearing)
        weights[1 * obs + goal + 1] = 3f;  // ω ← sin(bearing)
        var bundle = new PolicyBundle
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
            GoldenActions = new float[2],
        };
        var golden = new float[obs];
        golden[goal] = 1; golden[goal + 2] = 1;
        var action = new float[2];
        new PolicyEngine(bundle, PolicyKernel.Scalar).Forward(golden, action);
        return bundle.WithGoldenVectors(golden, action);
    }

    [Test]
    public void DwaAndPolicyAreJudgedOnTheSameHeldOutScenarios()
    {
        NavTaskConfig task = Task;
        var options = new NavEvalOptions(Episodes: 12, Seeds: [1, 2], PathsKept: 3);
        NavEvalResult dwa = NavEvaluator.Evaluate(task, [new DwaPlanner(task)], options);
        NavEvalResult policy = NavEvaluator.Evaluate(task, [new PolicyNavPlanner(GoalSeekingPolicy(task))], options);

        foreach (NavEvalResult r in new[] { dwa, policy })
        {
            Assert.That(r.Episodes, Is.EqualTo(24));
            Assert.That(r.Strata, Is.EqualTo(2));
            Assert.That(r.EpisodeList.Select(e => e.ScenarioSeed).Distinct().Order(),
                Is.EqualTo(Enumerable.Range(0, 12).Select(k => NavMaps.HeldOutSeedBase + (ulong)k)));
            Assert.That(r.SuccessRate + r.CollisionRate + r.TimeoutRate, Is.EqualTo(1).Within(1e-9));
            Assert.That(r.SuccessRateCi.Low, Is.LessThanOrEqualTo(r.SuccessRate));
            Assert.That(r.SuccessRateCi.High, Is.GreaterThanOrEqualTo(r.SuccessRate));
            Assert.That(r.Paths.Select(p => p.Scenario), Is.EqualTo(new[] { 0, 1, 2 }));
            foreach (NavEpisode e in r.EpisodeList.Where(e => e.Outcome == NavOutcome.Goal))
            {
                Assert.That(e.TimeToGoal, Is.EqualTo(e.Steps * task.ControlDt).Within(1e-6));
                Assert.That(e.PathLength, Is.GreaterThan(e.StraightDistance - task.GoalRadius - 0.01));
            }
        }
        Assert.That(dwa.CollisionRate, Is.EqualTo(0), "DWA checks every arc against the scan");
        Assert.That(policy.CollisionRate, Is.GreaterThan(0), "the obstacle-blind policy drives into things");
        Assert.That(policy.SuccessRate, Is.GreaterThan(0), "the engine's actions reach the simulator");
        // The same planner on the same scenarios and seeds gives the same episodes.
        NavEvalResult again = NavEvaluator.Evaluate(task, [new DwaPlanner(task)], options);
        Assert.That(again.EpisodeList, Is.EqualTo(dwa.EpisodeList));
    }

    [Test]
    public void SeveralRunsAreStrataAndThePlotIsAPng()
    {
        NavTaskConfig task = Task;
        PolicyBundle bundle = GoalSeekingPolicy(task);
        var options = new NavEvalOptions(Episodes: 6, Seeds: [5], PathsKept: 2);
        NavEvalResult runs = NavEvaluator.Evaluate(task, [new PolicyNavPlanner(bundle), new PolicyNavPlanner(bundle)], options);
        Assert.That(runs.Strata, Is.EqualTo(2));
        Assert.That(runs.Episodes, Is.EqualTo(12));
        NavEvalResult dwa = NavEvaluator.Evaluate(task, [new DwaPlanner(task)], options);
        string png = Path.Combine(RepoFiles.TempDirectory(), "paths.png");
        NavEvaluator.WritePathPlot(task, [runs, dwa], png);
        byte[] head = File.ReadAllBytes(png)[..8];
        Assert.That(head, Is.EqualTo(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }));
        Dictionary<string, object?> json = NavEvaluator.JsonObject(dwa);
        Assert.That(json.Keys, Is.SupersetOf(new[] { "success_rate", "success_rate_ci95", "collision_rate", "time_to_goal_median_s", "time_to_goal_iqm_ci95", "path_length_iqm_m" }));
    }

    [Test]
    public void StratifiedBootstrapMeanIntervalCoversTheMean()
    {
        IReadOnlyList<double>[] runs = [[1, 1, 0, 1], [0, 1, 1, 1, 1, 0]];
        var (low, high) = Statistics.StratifiedBootstrapMeanInterval(runs, seed: 3);
        Assert.That(low, Is.LessThan(0.7).And.GreaterThanOrEqualTo(0));
        Assert.That(high, Is.GreaterThan(0.7).And.LessThanOrEqualTo(1));
        Assert.That(Statistics.StratifiedBootstrapMeanInterval([[1.0, 1.0]]), Is.EqualTo((1.0, 1.0)));
    }
}
