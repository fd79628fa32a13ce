using System.Globalization;
using RoboRl.Core.Policy;
using RoboRl.Core.Tasks;
using RoboRl.Sims.DiffDrive;

namespace RoboRl.Training;

/// <summary>
/// Scores a navigation policy during training (model selection and the run's final figure), through the C#
/// <see cref="PolicyEngine"/> exactly as deployed: each of N episodes runs in its own scenario, validation scenarios
/// (seeds from <see cref="ValidationSeedBase"/>) for the periodic evaluations and held-out ones (from
/// <see cref="NavMaps.HeldOutSeedBase"/>, the evaluator's) for the final one; training draws 48-bit seeds, so neither
/// set is ever trained on. An environment whose episode ended is restarted in the next scenario or idles.
/// </summary>
public static class NavValidation
{
    /// <summary>Validation scenario seeds start here (between the training seeds, &lt; 2^48, and the held-out ones, ≥ 2^56).</summary>
    public const ulong ValidationSeedBase = 1UL << 55;

    /// <summary>Success rate, collision rate and median time to goal (s, over the successful episodes).</summary>
    public static PolicyScore Score(PolicyBundle bundle, NavTaskConfig task, int episodes, bool heldOut)
    {
        if (episodes < 1) throw new ArgumentOutOfRangeException(nameof(episodes), episodes, "must be ≥ 1");
        CheckBundle(bundle, task);
        var engine = new PolicyEngine(bundle);
        int n = Math.Min(episodes, 256);
        using var env = new NavEnv(task, n, threadCount: 1);
        env.Reset(heldOut ? 0xF1A1UL : 0x7A11DUL);
        ulong baseSeed = heldOut ? NavMaps.HeldOutSeedBase : ValidationSeedBase;
        int obs = env.ActorObservationSize, started = 0, goals = 0, collisions = 0;
        var active = new bool[n];
        var times = new List<double>();
        for (int i = 0; i < n; i++)
        {
            env.ResetScenario(i, baseSeed + (ulong)started++);
            active[i] = true;
        }
        var actions = new float[n * NavObservation.ActionSize];
        int running = n;
        while (running > 0)
        {
            ReadOnlySpan<float> observations = env.ActorObservations;
            for (int i = 0; i < n; i++)
            {
                Span<float> a = actions.AsSpan(i * 2, 2);
                if (active[i]) engine.Forward(observations.Slice(i * obs, obs), a);
                else a.Clear();
            }
            env.Step(actions);
            for (int i = 0; i < n; i++)
            {
                if (!active[i] || !(env.Terminated[i] || env.Truncated[i])) continue;
                NavOutcome outcome = env.FinishedEpisodeOutcomes[i];
                if (outcome == NavOutcome.Goal)
                {
                    goals++;
                    times.Add(env.FinishedEpisodeLengths[i] * task.ControlDt);
                }
                else if (outcome is NavOutcome.Collision or NavOutcome.InvalidAction) collisions++;
                if (started < episodes) env.ResetScenario(i, baseSeed + (ulong)started++);
                else
                {
                    active[i] = false;
                    running--;
                }
            }
        }
        times.Sort();
        double median = times.Count == 0 ? double.NaN : times.Count % 2 == 1 ? times[times.Count / 2] : 0.5 * (times[times.Count / 2 - 1] + times[times.Count / 2]);
        return new PolicyScore((double)goals / episodes, (double)collisions / episodes, median);
    }

    /// <summary>Refuses (<see cref="PolicyMismatchException"/>) a bundle not trained for this task's robot, observation or rate.</summary>
    public static void CheckBundle(PolicyBundle bundle, NavTaskConfig task)
    {
        bundle.CheckCompatible(task.RobotConfigJson);
        bundle.CheckCompatibleSpecs(NavPolicySpec.ActorNames(task.ScanBins), NavPolicySpec.ActionNames, task.ControlFrequencyHz, NavPolicySpec.ActionHistoryLength);
    }

    /// <summary>The bundle's description of a navigation policy trained on <paramref name="task"/>.</summary>
    public static PolicyDescription Describe(NavTaskConfig task, string trainingConfigJson)
    {
        var (low, high) = NavPolicySpec.ActionScaling(task.Robot);
        return new PolicyDescription(NavPolicySpec.ActorNames(task.ScanBins), NavPolicySpec.ActionNames, low, high, NavPolicySpec.ActionUnit,
            task.ControlFrequencyHz, NavPolicySpec.ActionHistoryLength, task.RobotConfigJson, trainingConfigJson, GitInfo.Commit);
    }

    /// <summary>One line: "success 91.0 %, collisions 3.0 %, time to goal p50 14.2 s".</summary>
    public static string Summary(PolicyScore s) => string.Create(CultureInfo.InvariantCulture,
        $"success {s.SuccessRate:P1}, collisions {s.FailureRate:P1}, time to goal p50 {(double.IsFinite(s.Cost) ? s.Cost.ToString("F1", CultureInfo.InvariantCulture) + " s" : "-")}");
}
