using RoboRl.Core.Policy;
using RoboRl.Core.Tasks;
using RoboRl.Sims.Quadrotor;

namespace RoboRl.Training.Evaluation;

/// <summary>How to evaluate a hover policy. Episode length, settle time, success radius and initial states come from
/// the task's "evaluation" section (defaults: 5 s, 3 s, 0.1 m, the training initial states).</summary>
/// <param name="Episodes">Exactly this many episodes are measured (no more, no fewer).</param>
/// <param name="Seed">Seed of the simulator (initial states, randomised dynamics, noise, disturbances).</param>
/// <param name="Dynamics">Domain randomisation to evaluate under; null = the task's own section.</param>
/// <param name="TrajectoriesKept">How many episodes' position-error traces to keep (for the trajectory plot).</param>
/// <param name="InitialStates">Where episodes start; null = the task's evaluation initial states
/// (e.g. <see cref="InitialStateConfig.LearningToFly"/> for L2F's start distribution).</param>
/// <param name="DisturbanceScale">Factor on the evaluation's constant-disturbance std, force and torque alike (robustness sweeps).</param>
/// <param name="ObservationNoiseScale">Factor on the task's observation-noise std, every component alike (robustness sweeps).</param>
public sealed record EvalOptions(
    int Episodes = 1000,
    ulong Seed = 12345,
    DomainRandomizationConfig? Dynamics = null,
    int TrajectoriesKept = 0,
    InitialStateConfig? InitialStates = null,
    float DisturbanceScale = 1,
    float ObservationNoiseScale = 1);

/// <summary>One evaluation's figures. Position errors are the true (noise-free) Euclidean distance to the target.</summary>
public sealed record EvalResult
{
    public required int Episodes { get; init; }
    /// <summary>Episodes that did not crash and stayed within the success radius from the settle time to the end.</summary>
    public required double SuccessRate { get; init; }
    /// <summary>Episodes that ended early: floor contact, beyond the task's position_error_limit, or a NaN action.</summary>
    public required double CrashRate { get; init; }
    /// <summary>Median / 95th percentile of the position error at 2 s over the episodes still flying then (NaN if none).</summary>
    public required double PositionErrorP50At2s { get; init; }
    public required double PositionErrorP95At2s { get; init; }
    /// <summary>The same at the end of the episode (5 s), over the episodes that did not crash.</summary>
    public required double PositionErrorP50At5s { get; init; }
    public required double PositionErrorP95At5s { get; init; }
    /// <summary>Per episode: return under the task's final curriculum weights (a crash ends it early).</summary>
    public required double[] EpisodeReturns { get; init; }
    /// <summary>Per episode: largest position error from the settle time to the end, m (crashed: the task's position_error_limit·√3).</summary>
    public required double[] LatePositionErrors { get; init; }
    public required bool[] Successes { get; init; }
    /// <summary>Per kept episode: position error after each control step (shorter where it crashed).</summary>
    public required float[][] Trajectories { get; init; }
    public required float ControlDt { get; init; }
    public required double SuccessRadius { get; init; }
    public required double SettleSeconds { get; init; }
}

/// <summary>
/// Flies a policy bundle (through the allocation-free C# <see cref="PolicyEngine"/>, exactly as deployed) in the
/// hover task and measures it. Episodes never auto-reset into the statistics: every environment runs one episode
/// of exactly the evaluation length (the task's truncation is set to it), and an environment whose episode ended
/// early is ignored until the batch ends. No torch needed.
/// </summary>
public static class PolicyEvaluator
{
    /// <summary>Largest batch of environments simulated together.</summary>
    public const int MaxBatch = 1024;

    public static EvalResult Evaluate(PolicyBundle bundle, HoverTaskConfig task, EvalOptions options)
    {
        if (options.Episodes < 1) throw new ArgumentOutOfRangeException(nameof(options), options.Episodes, "episodes must be ≥ 1");
        if (!(options.DisturbanceScale >= 0) || !(options.ObservationNoiseScale >= 0) || float.IsInfinity(options.DisturbanceScale) || float.IsInfinity(options.ObservationNoiseScale))
            throw new ArgumentOutOfRangeException(nameof(options), "disturbance and observation-noise factors must be finite and ≥ 0");
        DomainRandomizationConfig dynamics = options.Dynamics ?? task.DomainRandomization;
        // The flown action is read from the action history, so the latency cannot exceed its length − 1.
        if (dynamics.LatencySteps.High > task.ActionHistoryLength - 1)
            throw new ArgumentOutOfRangeException(nameof(options),
                $"latency {dynamics.LatencySteps.High} control steps needs an action history of at least {dynamics.LatencySteps.High + 1}; this task keeps {task.ActionHistoryLength}");
        // The bundle must be for this robot and build the same observation (clear PolicyMismatchException otherwise).
        bundle.CheckCompatible(task.RobotConfigJson);
        bundle.CheckCompatibleSpecs(HoverObservation.ActorNames(task.ActionHistoryLength), HoverObservation.ActionNames,
            task.ControlFrequencyHz, task.ActionHistoryLength);

        HoverEvaluationConfig judge = task.Evaluation ?? new HoverEvaluationConfig(task.InitialState, 5, 3, 0.1f);
        int steps = Math.Max(1, (int)Math.Round(judge.EpisodeSeconds * task.ControlFrequencyHz));
        int step2s = (int)Math.Round(2.0 * task.ControlFrequencyHz);
        int settleStep = (int)Math.Round(judge.SettleSeconds * task.ControlFrequencyHz);
        InitialStateConfig starts = options.InitialStates ?? judge.InitialState;
        if (task.TargetPosition.Z - starts.PositionRange <= 0)
            throw new ArgumentOutOfRangeException(nameof(options),
                $"initial positions within ±{starts.PositionRange} m of a target at z = {task.TargetPosition.Z} m would start below the floor");
        ObservationNoise noise = task.ObservationNoise;
        float noiseScale = options.ObservationNoiseScale;
        HoverTaskConfig evalTask = task with
        {
            EpisodeSteps = steps,
            InitialState = starts,
            DomainRandomization = dynamics,
            DisturbanceForceStd = options.DisturbanceScale * (judge.DisturbanceForceStd ?? task.DisturbanceForceStd),
            DisturbanceTorqueStd = options.DisturbanceScale * (judge.DisturbanceTorqueStd ?? task.DisturbanceTorqueStd),
            ObservationNoise = new ObservationNoise(noiseScale * noise.Position, noiseScale * noise.Rotation,
                noiseScale * noise.LinearVelocity, noiseScale * noise.AngularVelocity),
        };
        double crashedError = task.PositionErrorLimit * Math.Sqrt(3);

        var engine = new PolicyEngine(bundle);
        int n = options.Episodes;
        var returns = new double[n];
        var late = new double[n];
        var success = new bool[n];
        var crashed = new bool[n];
        var at2s = new List<double>(n);
        var at5s = new List<double>(n);
        int kept = Math.Min(options.TrajectoriesKept, n);
        var traces = new List<float>[kept];
        for (int k = 0; k < kept; k++) traces[k] = new List<float>(steps);

        for (int first = 0, batchIndex = 0; first < n; first += MaxBatch, batchIndex++)
        {
            int count = Math.Min(MaxBatch, n - first);
            using var env = new HoverEnv(evalTask, count);
            env.GlobalStep = long.MaxValue; // the final curriculum stage: returns measure the finished task
            env.Reset(options.Seed + (ulong)batchIndex * 0x9E3779B97F4A7C15UL);
            int obsSize = env.ActorObservationSize, criticSize = env.CriticObservationSize;
            var actions = new float[count * env.ActionSize];
            var alive = new bool[count];
            Array.Fill(alive, true);
            for (int t = 1; t <= steps; t++)
            {
                ReadOnlySpan<float> observations = env.ActorObservations;
                for (int i = 0; i < count; i++)
                    engine.Forward(observations.Slice(i * obsSize, obsSize), actions.AsSpan(i * 4, 4));
                env.Step(actions);
                for (int i = 0; i < count; i++)
                {
                    if (!alive[i]) continue;
                    int e = first + i;
                    bool ended = env.Terminated[i] | env.Truncated[i];
                    ReadOnlySpan<float> critic = (ended ? env.FinalCriticObservations : env.CriticObservations).Slice(i * criticSize, 3);
                    double error = Math.Sqrt(critic[0] * critic[0] + critic[1] * critic[1] + critic[2] * critic[2]);
                    if (e < kept) traces[e].Add((float)error);
                    if (env.Terminated[i])
                    {
                        alive[i] = false;
                        crashed[e] = true;
                        late[e] = crashedError;
                        returns[e] = env.FinishedEpisodeReturns[i];
                        continue;
                    }
                    if (t == step2s) at2s.Add(error);
                    if (t >= settleStep) late[e] = Math.Max(late[e], error);
                    if (t == steps)
                    {
                        // The truncation step: this episode is complete and measured.
                        at5s.Add(error);
                        returns[e] = env.FinishedEpisodeReturns[i];
                        alive[i] = false;
                    }
                }
            }
        }

        for (int e = 0; e < n; e++) success[e] = !crashed[e] && late[e] < judge.SuccessRadius;
        return new EvalResult
        {
            Episodes = n,
            SuccessRate = success.Count(s => s) / (double)n,
            CrashRate = crashed.Count(c => c) / (double)n,
            PositionErrorP50At2s = at2s.Count == 0 ? double.NaN : Statistics.Percentile(at2s, 50),
            PositionErrorP95At2s = at2s.Count == 0 ? double.NaN : Statistics.Percentile(at2s, 95),
            PositionErrorP50At5s = at5s.Count == 0 ? double.NaN : Statistics.Percentile(at5s, 50),
            PositionErrorP95At5s = at5s.Count == 0 ? double.NaN : Statistics.Percentile(at5s, 95),
            EpisodeReturns = returns,
            LatePositionErrors = late,
            Successes = success,
            Trajectories = traces.Select(t => t.ToArray()).ToArray(),
            ControlDt = task.ControlDt,
            SuccessRadius = judge.SuccessRadius,
            SettleSeconds = judge.SettleSeconds,
        };
    }

    /// <summary>A PNG of the kept trajectories: position error over time, the success radius and the settle time marked.</summary>
    public static void WriteTrajectoryPlot(EvalResult result, string path, string title)
    {
        var plot = new ScottPlot.Plot();
        foreach (float[] trace in result.Trajectories)
        {
            double[] time = Enumerable.Range(1, trace.Length).Select(t => t * (double)result.ControlDt).ToArray();
            var line = plot.Add.ScatterLine(time, trace.Select(v => (double)v).ToArray());
            line.LineWidth = 1;
        }
        var radius = plot.Add.HorizontalLine(result.SuccessRadius);
        radius.LinePattern = ScottPlot.LinePattern.Dashed;
        radius.LegendText = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"success radius {result.SuccessRadius:G3} m");
        var settle = plot.Add.VerticalLine(result.SettleSeconds);
        settle.LinePattern = ScottPlot.LinePattern.Dotted;
        settle.LegendText = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"success window from {result.SettleSeconds:G3} s");
        plot.Title(title);
        plot.XLabel("time (s)");
        plot.YLabel("position error (m)");
        plot.Axes.SetLimitsY(0, Math.Max(0.3, result.SuccessRadius * 3));
        plot.ShowLegend();
        plot.SavePng(path, 900, 500);
    }
}
