using System.Text.Json.Nodes;
using RoboRl.Core.Tasks;
using RoboRl.Sims.DiffDrive;

namespace RoboRl.Sims.Tests.DiffDrive;

public class NavEnvTests
{
    internal static string TaskFile => RepoFiles.Path("configs/tasks/diffbot-nav.json");

    internal static NavTaskConfig Task(Action<JsonObject>? edit = null)
        => edit == null ? NavTaskConfig.Load(TaskFile) : NavTaskConfig.Load(RepoFiles.EditedCopy(TaskFile, edit));

    /// <summary>Deterministic actions depending only on (environment, step), slightly beyond [−1, 1] so some are clamped.</summary>
    internal static void FillActions(Span<float> actions, int envs, int step)
    {
        for (int i = 0; i < envs; i++)
            for (int m = 0; m < 2; m++)
            {
                uint h = (uint)(i * 73856093) ^ (uint)(step / 7 * 19349663) ^ (uint)(m * 83492791);
                h ^= h >> 13; h *= 0x5bd1e995; h ^= h >> 15;
                actions[i * 2 + m] = 1.1f * ((h & 0xFFFF) / 32768f - 1f) + (m == 0 ? 0.5f : 0f);
            }
    }

    [Test]
    public void SizesFollowTheTask()
    {
        using var env = new NavEnv(Task(), 5, 1);
        env.Reset(1);
        Assert.That(env.ActionSize, Is.EqualTo(2));
        Assert.That(env.ActorObservationSize, Is.EqualTo(36 + 3 + 2 + 2));
        Assert.That(env.CriticObservationSize, Is.EqualTo(env.ActorObservationSize));
        Assert.That(env.ActorObservations.Length, Is.EqualTo(5 * 43));
        Assert.That(env.Scan(0).Length, Is.EqualTo(360));
    }

    [Test]
    public void StepsRunAndEpisodesFinish()
    {
        using var env = new NavEnv(Task(), 16, 1);
        env.Reset(3);
        var actions = new float[32];
        var outcomes = new Dictionary<NavOutcome, int>();
        for (int t = 0; t < 700; t++)
        {
            FillActions(actions, 16, t);
            env.Step(actions);
            for (int i = 0; i < 16; i++)
                if (env.Terminated[i] || env.Truncated[i])
                    outcomes[env.FinishedEpisodeOutcomes[i]] = outcomes.GetValueOrDefault(env.FinishedEpisodeOutcomes[i]) + 1;
            foreach (float o in env.ActorObservations) Assert.That(float.IsFinite(o), Is.True, $"step {t}");
        }
        TestContext.Out.WriteLine(string.Join(", ", outcomes.Select(kv => $"{kv.Key}: {kv.Value}")));
        Assert.That(env.CompletedEpisodes, Is.GreaterThan(0));
        Assert.That(outcomes.GetValueOrDefault(NavOutcome.Collision), Is.GreaterThan(0), "random driving hits things");
    }
}
