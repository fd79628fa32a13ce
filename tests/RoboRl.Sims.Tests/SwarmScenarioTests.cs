using System.Numerics;
using RoboRl.Core.Swarm;
using RoboRl.Sims.Swarm;

namespace RoboRl.Sims.Tests;

/// <summary>The scenarios as the environment plays them: separated starts, goals where the config put them, goal motion.</summary>
public class SwarmScenarioTests
{
    [TestCase(false)]
    [TestCase(true)]
    public void EveryScenarioStartsSeparatedWithGoalsInItsAreaAndColumnsClear(bool heldOut)
    {
        SwarmTaskConfig task = SwarmTaskConfig.Load(SwarmTestFiles.TaskFile);
        using var env = new SwarmEnv(task, 64, threadCount: 1) { UseHeldOutScenarios = heldOut };
        env.Reset(heldOut ? (ulong)task.HeldOutSeeds.First : 5);
        var seen = new HashSet<SwarmScenarioKind>();
        for (int e = 0; e < env.Environments; e++)
        {
            SwarmScenarioConfig s = env.Scenario(e)!;
            seen.Add(s.Kind);
            Assert.That(env.ColumnsX(e).Length, Is.EqualTo(task.Obstacles.ColumnCount));
            float formation = s.FormationHalfSize(task.Quads) + 1e-4f;
            for (int q = 0; q < task.Quads; q++)
            {
                Vector3 p = env.Batch.Position(env.Lane(e, q)), g = env.Goal(e, q);
                for (int j = q + 1; j < task.Quads; j++)
                    Assert.That(Vector3.Distance(p, env.Batch.Position(env.Lane(e, j))), Is.GreaterThanOrEqualTo(s.StartSeparationM - 1e-4f), $"{s.Name}: starts {q}, {j}");
                Assert.That(g.X, Is.InRange(s.GoalArea.Min.X - formation, s.GoalArea.Max.X + formation), s.Name);
                Assert.That(g.Y, Is.InRange(s.GoalArea.Min.Y - formation, s.GoalArea.Max.Y + formation), s.Name);
                Assert.That(g.Z, Is.InRange(s.GoalArea.Min.Z - 1e-4f, s.GoalArea.Max.Z + 1e-4f), s.Name);
                for (int c = 0; c < task.Obstacles.ColumnCount; c++)
                    Assert.That(new Vector2(g.X - env.ColumnsX(e)[c], g.Y - env.ColumnsY(e)[c]).Length(), Is.GreaterThan(task.Obstacles.RadiusM + task.ArmLengthM), $"{s.Name}: goal in a column");
            }
        }
        Assert.That(seen, Is.EquivalentTo((heldOut ? task.HeldOutScenarios : task.Scenarios).Select(m => m.Scenario.Kind).Distinct()));
    }

    [Test]
    public void SwapGoalsSwapsMirroredQuadsEveryPeriodAndBezierGoalsMoveSmoothly()
    {
        SwarmTaskConfig task = SwarmTaskConfig.Load(SwarmTestFiles.TaskFile);
        using var env = new SwarmEnv(task, 64, threadCount: 1);
        env.Reset(8);
        int swap = Enumerable.Range(0, env.Environments).First(e => env.Scenario(e)!.Kind == SwarmScenarioKind.SwapGoals);
        int bezier = Enumerable.Range(0, env.Environments).First(e => env.Scenario(e)!.Kind == SwarmScenarioKind.RandomBezier);
        int period = (int)MathF.Round(env.Scenario(swap)!.PeriodS * task.ControlFrequencyHz);
        Vector3[] before = Enumerable.Range(0, task.Quads).Select(q => env.Goal(swap, q)).ToArray();
        float[] hover = Enumerable.Repeat(task.Robot.HoverAction(), env.NumEnvs * 4).ToArray();
        Vector3 bezierGoal = env.Goal(bezier, 0);
        float largestBezierStep = 0;
        for (int k = 1; k <= period; k++)
        {
            env.Step(hover);
            if (k < period)
                for (int q = 0; q < task.Quads; q++) Assert.That(env.Goal(swap, q), Is.EqualTo(before[q]), $"step {k}: swapped early");
            largestBezierStep = MathF.Max(largestBezierStep, Vector3.Distance(env.Goal(bezier, 0), bezierGoal));
            bezierGoal = env.Goal(bezier, 0);
        }
        for (int q = 0; q < task.Quads; q++) Assert.That(env.Goal(swap, q), Is.EqualTo(before[task.Quads - 1 - q]), $"quad {q}");
        Assert.That(largestBezierStep, Is.GreaterThan(0f), "the Bézier goal moves");
        Assert.That(largestBezierStep, Is.LessThan(0.1f), "and moves continuously (< 10 m/s)");
    }
}
