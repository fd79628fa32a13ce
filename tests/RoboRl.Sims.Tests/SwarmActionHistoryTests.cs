using RoboRl.Core.Swarm;
using RoboRl.Sims.Swarm;

namespace RoboRl.Sims.Tests;

/// <summary>
/// The swarm observation's action history (task key action_history_length) and the training-only floor rule: the rotors
/// lag the commands by 0.15 s, so without the history a policy cannot tell how fast they spin.
/// </summary>
public class SwarmActionHistoryTests
{
    static SwarmTaskConfig TaskWithHistory(int history) =>
        SwarmTaskConfig.Load(SwarmTestFiles.EditedTask(root => root["action_history_length"] = history, SwarmTestFiles.OpenTaskFile));

    [Test]
    public void TheHistoryStartsAtHoverAndShiftsInEachAppliedAction()
    {
        SwarmTaskConfig task = TaskWithHistory(3);
        using var env = new SwarmEnv(task, 2, threadCount: 1);
        int obs = env.ActorObservationSize, at = SwarmObservation.HistoryOffset(task.Neighbours);
        Assert.That(obs, Is.EqualTo(SwarmObservation.Size(task.Neighbours) + 12));
        Assert.That(SwarmObservation.Names(task.Neighbours, 3)[at..], Is.EqualTo(new[]
        {
            "action_t-3_m1", "action_t-3_m2", "action_t-3_m3", "action_t-3_m4", "action_t-2_m1", "action_t-2_m2", "action_t-2_m3", "action_t-2_m4",
            "action_t-1_m1", "action_t-1_m2", "action_t-1_m3", "action_t-1_m4",
        }));
        env.Reset(5);
        float hover = task.Robot.HoverAction();
        for (int row = 0; row < env.NumEnvs; row++)
            Assert.That(env.ActorObservations.Slice(row * obs + at, 12).ToArray(), Is.All.EqualTo(hover), $"row {row}");

        var first = new float[env.NumEnvs * 4];
        var second = new float[env.NumEnvs * 4];
        for (int i = 0; i < first.Length; i++) { first[i] = 0.01f * (i % 50); second[i] = -0.02f * (i % 40); }
        first[0] = 3f; // applied clamped, as the actuator sees it
        second[4] = float.NaN; // row 1: NaN is applied as the hover action (and ends the episode)
        env.Step(first);
        env.Step(second);
        for (int row = env.QuadsPerEnv; row < env.NumEnvs; row++) // the first environment ended on row 1's NaN and started again
        {
            float[] h = env.ActorObservations.Slice(row * obs + at, 12).ToArray();
            Assert.That(h[..4], Is.All.EqualTo(hover), $"row {row}: the oldest is still the start's");
            Assert.That(h[4..8], Is.EqualTo(first.AsSpan(row * 4, 4).ToArray()), $"row {row}: the step before last");
            Assert.That(h[8..], Is.EqualTo(second.AsSpan(row * 4, 4).ToArray()), $"row {row}: the last step");
        }
        Assert.That(env.Terminated[1], Is.True);
        Assert.That(env.ActorObservations.Slice(1 * obs + at, 12).ToArray(), Is.All.EqualTo(hover), "a new episode starts at hover");
        Assert.That(env.FinalActorObservations.Slice(1 * obs + at + 8, 4).ToArray(), Is.All.EqualTo(hover), "NaN recorded as the hover action applied");
        Assert.That(env.FinalActorObservations[0 * obs + at + 4], Is.EqualTo(1f), "3 recorded as the clamped 1");
    }

    [Test]
    public void TheTd3RecipeLoadsWithItsHistoryAndTheHoverTasksRewardTerms()
    {
        SwarmTaskConfig td3 = SwarmTaskConfig.Load(RepoFiles.Path("configs/swarm/crazyflie-swarm8-open-td3.json"));
        Assert.That(td3.ActionHistoryLength, Is.EqualTo(32));
        Assert.That(td3.ObservationSize, Is.EqualTo(168));
        Assert.That((td3.Reward.Alive, td3.Reward.Precision, td3.Reward.PrecisionRadiusM, td3.Reward.Velocity), Is.EqualTo((1500f, 1000f, 0.3f, 0f)));
        SwarmTaskConfig open = SwarmTaskConfig.Load(SwarmTestFiles.OpenTaskFile);
        Assert.That((open.ActionHistoryLength, open.Reward.Alive, open.Reward.Precision), Is.EqualTo((0, 0f, 0f)), "the PPO task is as before");
    }

    [Test]
    public void TheRewardAddsTheAliveConstantAndThePrecisionBonusAtTheGoal()
    {
        // Two copies of the open task, one quad hovering at rest: the only reward difference is dt·(alive + precision·exp(−d²/r²)).
        static SwarmTaskConfig Task(bool extra) => SwarmTaskConfig.Load(SwarmTestFiles.EditedTask(root =>
        {
            root["quads"] = 1; root["neighbours"] = 0;
            if (extra) { root["reward"]!["alive"] = 7.0; root["reward"]!["precision"] = 3.0; root["reward"]!["precision_radius_m"] = 0.5; }
        }, SwarmTestFiles.OpenTaskFile));
        float[] rewards = new float[2];
        float distance = 0;
        for (int i = 0; i < 2; i++)
        {
            SwarmTaskConfig task = Task(i == 1);
            using var env = new SwarmEnv(task, 1, threadCount: 1);
            env.Reset(4);
            env.Step(Enumerable.Repeat(task.Robot.HoverAction(), 4).ToArray());
            rewards[i] = env.Rewards[0];
            distance = System.Numerics.Vector3.Distance(env.Batch.Position(0), env.Goal(0, 0));
        }
        float dt = 0.01f, expected = dt * (7f + 3f * MathF.Exp(-distance * distance / 0.25f));
        Assert.That(rewards[1] - rewards[0], Is.EqualTo(expected).Within(1e-5f));
    }

    [Test]
    public void NamesRoundTripTheirNeighbourCountAndHistory()
    {
        string[] names = SwarmObservation.Names(2, 32);
        Assert.That(SwarmObservation.NeighbourCount(names), Is.EqualTo(2));
        Assert.That(SwarmObservation.HistoryLength(names), Is.EqualTo(32));
        Assert.That(SwarmObservation.HistoryLength(SwarmObservation.Names(2)), Is.Zero);
        Assert.That(SwarmObservation.NeighbourCount(names.Take(names.Length - 1).ToArray()), Is.Null, "a cut history is not a swarm observation");
    }

    [Test]
    public void TheFloorEndsATrainingEpisodeForTheQuadThatHitItOnly()
    {
        SwarmTaskConfig task = TaskWithHistory(0);
        using var env = new SwarmEnv(task, 1, threadCount: 1) { EndEpisodeOnFloor = true };
        env.Reset(2);
        var actions = new float[env.NumEnvs * 4];
        Array.Fill(actions, task.Robot.HoverAction());
        actions.AsSpan(0, 4).Fill(-1f); // quad 0 cuts its motors and falls; the others hover
        int steps = 0;
        while (!env.Terminated[0] && !env.Truncated[0] && steps < task.EpisodeSteps) { env.Step(actions); steps++; }
        Assert.That(env.Terminated[0], Is.True, $"quad 0 on the floor after {steps} steps ends its episode");
        for (int q = 1; q < env.NumEnvs; q++)
        {
            Assert.That(env.Terminated[q], Is.False, $"quad {q} did not crash");
            Assert.That(env.Truncated[q], Is.True, $"quad {q}'s episode is cut short with the environment's (it bootstraps)");
        }
        Assert.That(steps, Is.LessThan(task.EpisodeSteps));

        using var evaluation = new SwarmEnv(task, 1, threadCount: 1);
        evaluation.Reset(2);
        for (int s = 0; s <= steps; s++) evaluation.Step(actions);
        Assert.That(evaluation.Terminated[0] || evaluation.Truncated[0], Is.False, "without the training rule the floor ends nothing (QuadSwarm)");
    }
}
