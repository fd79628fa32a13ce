using System.Diagnostics;
using System.Globalization;
using RoboRl.Core.Policy;
using RoboRl.Core.Tasks;
using RoboRl.Training.Evaluation;
using static TorchSharp.torch;

namespace RoboRl.Training;

/// <summary>Where a run stands, reported while it trains (to the terminal line and to <see cref="IProgress{T}"/>).</summary>
public sealed record TrainProgress(long EnvSteps, long TotalEnvSteps, double WallSeconds, double StepsPerSecond,
    double? MeanEpisodeReturn, double? LastEvalSuccessRate, long LastEvalEnvSteps);

/// <summary>What a periodic evaluation says about a policy, for any task: higher success, then fewer failures (crashes,
/// collisions), then lower cost (hover: median position error at 5 s; navigation: median time to goal) is better.</summary>
public sealed record PolicyScore(double SuccessRate, double FailureRate, double Cost);

/// <summary>
/// Which policy of a run its bundle holds: with keep_best_policy the best of the periodic evaluations ("best_evaluation",
/// with its success rate there), else the last one ("last"). Said in the train summary, progress.csv's final row and the
/// bundle's training config ("bundle_snapshot").
/// </summary>
public sealed record BundleSnapshot(string Kind, long EnvSteps, double? EvalSuccessRate, long TotalEnvSteps)
{
    public const string BestEvaluation = "best_evaluation", Last = "last";

    /// <summary>"best periodic evaluation at 290,000 steps (98.0 % success)", "the last policy, at 300,000 steps, best of the
    /// periodic evaluations (98.0 % success)" or "the last policy, at 300,000 steps".</summary>
    public string Describe() => (Kind, EnvSteps == TotalEnvSteps) switch
    {
        (BestEvaluation, false) => string.Create(CultureInfo.InvariantCulture, $"best periodic evaluation at {EnvSteps:N0} steps ({EvalSuccessRate:P1} success)"),
        (BestEvaluation, true) => string.Create(CultureInfo.InvariantCulture, $"the last policy, at {EnvSteps:N0} steps, best of the periodic evaluations ({EvalSuccessRate:P1} success)"),
        _ => string.Create(CultureInfo.InvariantCulture, $"the last policy, at {EnvSteps:N0} steps"),
    };

    public System.Text.Json.Nodes.JsonObject ToJson() => new() { ["kind"] = Kind, ["env_steps"] = EnvSteps, ["eval_success_rate"] = EvalSuccessRate };

    /// <summary>The training config JSON with "bundle_snapshot" added (recorded in the bundle).</summary>
    public string AddTo(string trainingConfigJson)
    {
        var root = System.Text.Json.Nodes.JsonNode.Parse(trainingConfigJson) as System.Text.Json.Nodes.JsonObject ?? [];
        root["bundle_snapshot"] = ToJson();
        return root.ToJsonString();
    }
}

/// <summary>
/// The plumbing an algorithm's Train method calls, so the algorithm file holds only algorithm logic: episode and
/// loss logging (terminal progress line, TensorBoard scalars, progress.csv), periodic evaluation, checkpoints,
/// the bundle's description, and the learning-curve PNG at the end.
/// </summary>
public sealed class TrainingSession : IDisposable
{
    const double LineIntervalSeconds = 0.5, RedirectedLineIntervalSeconds = 5;
    const long CsvEveryEnvSteps = 5_000;

    readonly HoverTaskConfig? _task;
    readonly Func<PolicyBundle, int, bool, PolicyScore>? _scorer;
    readonly TextWriter? _console;
    readonly bool _interactive;
    readonly IProgress<TrainProgress>? _progress;
    readonly StreamWriter _csv;
    readonly TorchSharp.Modules.SummaryWriter _tensorboard;
    readonly Stopwatch _clock = Stopwatch.StartNew();
    readonly TimeSpan _cpuAtStart = Process.GetCurrentProcess().TotalProcessorTime;
    readonly ulong _evalSeed;
    double _lastLineAt = double.NegativeInfinity;
    long _lastCsvStep, _stepsAtLastRate;
    double _timeAtLastRate, _stepsPerSecond;
    // Episodes finished since the last CSV row, and a window of recent ones for the terminal line.
    double _returnSum, _lengthSum;
    int _episodes;
    readonly Queue<double> _recentReturns = new();
    readonly List<(long Step, double Return)> _returnCurve = [];
    readonly List<(long Step, double SuccessRate)> _evalCurve = [];
    EvalResult? _lastEval;
    long _lastEvalStep, _totalSteps;
    // progress.csv's last column says which rows are evaluations; a resumed run's older file may lack it.
    readonly bool _evalColumn = true;
    (long Step, double SuccessRate)? _finalEvalPoint;

    /// <param name="console">Where the progress line goes (null = nowhere). A TTY gets one line rewritten in place;
    /// a redirected writer gets a plain line every few seconds (no escape codes).</param>
    public TrainingSession(string runDirectory, HoverTaskConfig task, long totalEnvSteps, int seed, Checkpoint? resumeFrom,
        TextWriter? console, bool interactive, IProgress<TrainProgress>? progress)
        : this(runDirectory, task, null, "eval_pos_err_p50_5s", totalEnvSteps, seed, resumeFrom, console, interactive, progress) { }

    /// <summary>
    /// A session for any task: <paramref name="scorer"/>(bundle, episodes, final) evaluates a policy (e.g. the navigation
    /// task's success rate, collision rate and median time to goal) on the task's validation scenarios, or with final
    /// true on its held-out ones; <see cref="Score"/> calls it.
    /// <paramref name="costColumn"/> names the score's cost in progress.csv.
    /// </summary>
    public TrainingSession(string runDirectory, Func<PolicyBundle, int, bool, PolicyScore> scorer, string costColumn, long totalEnvSteps, int seed,
        Checkpoint? resumeFrom, TextWriter? console, bool interactive, IProgress<TrainProgress>? progress)
        : this(runDirectory, null, scorer, costColumn, totalEnvSteps, seed, resumeFrom, console, interactive, progress) { }

    TrainingSession(string runDirectory, HoverTaskConfig? task, Func<PolicyBundle, int, bool, PolicyScore>? scorer, string costColumn,
        long totalEnvSteps, int seed, Checkpoint? resumeFrom, TextWriter? console, bool interactive, IProgress<TrainProgress>? progress)
    {
        RunDirectory = runDirectory;
        this._task = task;
        this._scorer = scorer;
        this._console = console;
        this._interactive = interactive;
        this._progress = progress;
        _totalSteps = totalEnvSteps;
        ResumeFrom = resumeFrom;
        _evalSeed = 0xE7A1UL + (ulong)seed;
        Directory.CreateDirectory(runDirectory);
        string csvPath = Path.Combine(runDirectory, "progress.csv");
        bool append = resumeFrom is not null && File.Exists(csvPath);
        if (append) _evalColumn = File.ReadLines(csvPath).FirstOrDefault()?.EndsWith(",eval", StringComparison.Ordinal) ?? true;
        _csv = new StreamWriter(csvPath, append) { AutoFlush = true }; // a row every few thousand steps: readable while it runs
        // The last column, "eval", marks evaluation rows: "periodic", or "final" for the bundle's policy on held-out
        // episodes (its env_steps is the step the bundle's policy was taken at; the note says which snapshot that is).
        if (!append)
            _csv.WriteLine("env_steps,wall_s,cpu_s,steps_per_s,episode_return_mean,episode_length_mean,critic_loss,actor_loss,critic_updates,actor_updates,eval_success_rate,eval_crash_rate," + costColumn + ",eval");
        _tensorboard = utils.tensorboard.SummaryWriter(Path.Combine(runDirectory, "tensorboard"));
    }

    public string RunDirectory { get; }
    /// <summary>The checkpoint to continue from (--resume), or null for a fresh run.</summary>
    public Checkpoint? ResumeFrom { get; }
    /// <summary>Checkpoints also hold the replay memory (`roborl train --checkpoint-replay`; needed by --resume).</summary>
    public bool CheckpointReplay { get; init; }
    /// <summary>The env step of the last periodic evaluation (−1 before any): the trainer does not evaluate that policy twice.</summary>
    public long LastPeriodicEvalStep { get; private set; } = -1;
    /// <summary>The success rate the best periodic evaluation measured (with <see cref="BestBundle"/>).</summary>
    public double BestSuccessRate => _bestScore.Success;
    /// <summary>Which policy the bundle holds, set by the trainer before the final evaluation (its row and the learning curve say so).</summary>
    public BundleSnapshot? Snapshot { get; set; }
    public double WallSeconds => _clock.Elapsed.TotalSeconds;
    public double CpuSeconds => (Process.GetCurrentProcess().TotalProcessorTime - _cpuAtStart).TotalSeconds;
    public EvalResult? LastEval => _lastEval;
    /// <summary>Env steps at the last <see cref="Step"/> (PPO stops at the first whole rollout at or past its budget).</summary>
    public long EnvSteps { get; private set; }

    /// <summary>Records a finished training episode.</summary>
    public void EpisodeFinished(float episodeReturn, int length)
    {
        _returnSum += episodeReturn;
        _lengthSum += length;
        _episodes++;
        _recentReturns.Enqueue(episodeReturn);
        if (_recentReturns.Count > 100) _recentReturns.Dequeue();
    }

    /// <summary>Called once per vector step: throttled terminal line, CSV/TensorBoard every few thousand steps.</summary>
    public void Step(long globalStep, int envsPerStep, float criticLoss, float actorLoss, long criticUpdates, long actorUpdates)
    {
        EnvSteps = globalStep;
        double now = _clock.Elapsed.TotalSeconds;
        if (globalStep - _lastCsvStep >= CsvEveryEnvSteps)
        {
            if (now > _timeAtLastRate)
            {
                _stepsPerSecond = (globalStep - _stepsAtLastRate) / (now - _timeAtLastRate);
                _stepsAtLastRate = globalStep;
                _timeAtLastRate = now;
            }
            double? meanReturn = _episodes > 0 ? _returnSum / _episodes : null;
            double? meanLength = _episodes > 0 ? _lengthSum / _episodes : null;
            _csv.WriteLine(Row(globalStep, F(now), F(CpuSeconds), F(_stepsPerSecond), F(meanReturn), F(meanLength),
                F(criticLoss), F(actorLoss), criticUpdates, actorUpdates, "", "", "", ""));
            if (meanReturn is { } r)
            {
                _tensorboard.add_scalar("charts/episode_return", (float)r, (int)globalStep);
                _tensorboard.add_scalar("charts/episode_length", (float)meanLength!.Value, (int)globalStep);
                _returnCurve.Add((globalStep, r));
            }
            if (float.IsFinite(criticLoss)) _tensorboard.add_scalar("losses/critic", criticLoss, (int)globalStep);
            if (float.IsFinite(actorLoss)) _tensorboard.add_scalar("losses/actor", actorLoss, (int)globalStep);
            _tensorboard.add_scalar("charts/steps_per_s", (float)_stepsPerSecond, (int)globalStep);
            _returnSum = _lengthSum = 0;
            _episodes = 0;
            _lastCsvStep = globalStep;
        }
        double interval = _interactive ? LineIntervalSeconds : RedirectedLineIntervalSeconds;
        if (now - _lastLineAt >= interval || globalStep >= _totalSteps)
        {
            _lastLineAt = now;
            Report(globalStep, now);
        }
    }

    /// <summary>One extra TensorBoard scalar (an algorithm's own curve, e.g. the swarm's collision-weight scale).</summary>
    public void Scalar(string tag, double value, long globalStep)
    {
        if (double.IsFinite(value)) _tensorboard.add_scalar(tag, (float)value, (int)globalStep);
    }

    void Report(long globalStep, double now)
    {
        double rate = now > 0 ? globalStep / now : 0;
        double? recent = _recentReturns.Count > 0 ? _recentReturns.Average() : null;
        var p = new TrainProgress(globalStep, _totalSteps, now, rate, recent, LastScore?.SuccessRate, _lastEvalStep);
        _progress?.Report(p);
        if (_console is null) return;
        string line = Line(p);
        if (_interactive) _console.Write("\r" + line.PadRight(100));
        else _console.WriteLine(line);
        _console.Flush();
    }

    /// <summary>The progress line: steps, rate, recent return, last evaluation.</summary>
    public static string Line(TrainProgress p) => string.Create(CultureInfo.InvariantCulture,
        $"{p.EnvSteps,9:N0}/{p.TotalEnvSteps:N0} steps  {p.StepsPerSecond,7:N0} steps/s  {p.WallSeconds,6:F1} s  return {(p.MeanEpisodeReturn is { } r ? r.ToString("F1", CultureInfo.InvariantCulture) : "-"),6}  eval {(p.LastEvalSuccessRate is { } s ? $"{s:P0} success @ {p.LastEvalEnvSteps:N0}" : "-")}");

    public static bool Crossed(long globalStep, int envsPerStep, long every) => every > 0 && globalStep / every != (globalStep - envsPerStep) / every;

    public bool EvaluationDue(long globalStep, int envsPerStep, long every, long from = 0) => globalStep >= from && Crossed(globalStep, envsPerStep, every);
    public bool CheckpointDue(long globalStep, int envsPerStep, long every) => Crossed(globalStep, envsPerStep, every);

    /// <summary>The best policy the periodic evaluations saw (success rate, then fewer crashes, then smaller error), or null.</summary>
    public PolicyBundle? BestBundle { get; private set; }
    public long BestEnvSteps { get; private set; }
    (double Success, double NoCrash, double Precision) _bestScore = (double.NegativeInfinity, 0, 0);

    /// <summary>
    /// Evaluates a policy on the task's own randomisation and logs it. Periodic evaluations (<paramref name="final"/> false)
    /// all use one seed and compete for <see cref="BestBundle"/>; the final evaluation uses another seed, so the reported
    /// figures are not the ones the selection was made on.
    /// </summary>
    public EvalResult Evaluate(PolicyBundle bundle, long globalStep, int episodes, bool final = false)
    {
        if (_task is null) throw new InvalidOperationException("this session scores policies with its scorer: call Score");
        EvalResult result = PolicyEvaluator.Evaluate(bundle, _task, new EvalOptions(Episodes: episodes, Seed: EvalSeed(final)));
        _lastEval = result;
        if (final) FinalEvaluation = result;
        Record(new PolicyScore(result.SuccessRate, result.CrashRate, result.PositionErrorP50At5s), bundle, globalStep, final, "pos_err_p50_5s");
        return result;
    }

    /// <summary>
    /// Scores a policy with the scorer this session was made with (a hover session: <see cref="Evaluate"/>), logs it and lets it compete for <see cref="BestBundle"/>
    /// (periodic evaluations, <paramref name="final"/> false, all on one seed; the final one on another).
    /// </summary>
    public PolicyScore Score(PolicyBundle bundle, long globalStep, int episodes, bool final = false)
    {
        if (_scorer is null)
        {
            EvalResult result = Evaluate(bundle, globalStep, episodes, final);
            return new PolicyScore(result.SuccessRate, result.CrashRate, result.PositionErrorP50At5s);
        }
        PolicyScore score = _scorer(bundle, episodes, final);
        Record(score, bundle, globalStep, final, "cost");
        return score;
    }

    /// <summary>A hover session's final evaluation in full (percentiles, episodes), or null.</summary>
    public EvalResult? FinalEvaluation { get; private set; }

    /// <summary>The last score (either kind of evaluation), or null.</summary>
    public PolicyScore? LastScore { get; private set; }

    ulong EvalSeed(bool final) => final ? _evalSeed ^ 0x5EEDUL : _evalSeed;

    void Record(PolicyScore result, PolicyBundle bundle, long globalStep, bool final, string costName)
    {
        if (final)
        {
            // The bundle's policy on held-out episodes: one row, at the step its policy was taken, marked; not a curve point.
            LastScore = result;
            _finalEvalPoint = (globalStep, result.SuccessRate);
            _tensorboard.add_scalar("final/success_rate", (float)result.SuccessRate, (int)globalStep);
            _tensorboard.add_scalar("final/crash_rate", (float)result.FailureRate, (int)globalStep);
            _csv.WriteLine(Row(globalStep, F(WallSeconds), F(CpuSeconds), "", "", "", "", "", "", "",
                F(result.SuccessRate), F(result.FailureRate), F(result.Cost), "final: bundle = " + (Snapshot?.Describe() ?? $"the policy at {globalStep} steps").Replace(",", "")));
            return;
        }
        LastPeriodicEvalStep = globalStep;
        var score = (result.SuccessRate, 1 - result.FailureRate, double.IsFinite(result.Cost) ? -result.Cost : double.NegativeInfinity);
        if (score.CompareTo(_bestScore) > 0)
        {
            _bestScore = score;
            BestBundle = bundle;
            BestEnvSteps = globalStep;
        }
        LastScore = result;
        _lastEvalStep = globalStep;
        _evalCurve.Add((globalStep, result.SuccessRate));
        _tensorboard.add_scalar("eval/success_rate", (float)result.SuccessRate, (int)globalStep);
        _tensorboard.add_scalar("eval/crash_rate", (float)result.FailureRate, (int)globalStep);
        if (double.IsFinite(result.Cost)) _tensorboard.add_scalar("eval/" + costName, (float)result.Cost, (int)globalStep);
        _csv.WriteLine(Row(globalStep, F(WallSeconds), F(CpuSeconds), "", "", "", "", "", "", "",
            F(result.SuccessRate), F(result.FailureRate), F(result.Cost), "periodic"));
    }

    /// <summary>One progress.csv row; the "eval" column only where the file has it (a resumed older run's may not).</summary>
    string Row(params object[] fields) => string.Join(",", _evalColumn ? fields : fields[..^1]);

    /// <summary>Writes the checkpoint; the replay memory only with <see cref="CheckpointReplay"/> (what is written is decided here).</summary>
    public void SaveCheckpoint(long globalStep, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, long> counters,
        ReplayBuffer replay, RunningNormalizer actorNormalizer, RunningNormalizer criticNormalizer)
        => Checkpoint.Save(RunDirectory, globalStep, tensors, counters, replay, actorNormalizer, criticNormalizer, includeReplay: CheckpointReplay);

    /// <summary>The same for named plain arrays (the fused TD3 update's networks and Adam moments).</summary>
    public void SaveCheckpoint(long globalStep, IReadOnlyDictionary<string, float[]> arrays, IReadOnlyDictionary<string, long> counters,
        ReplayBuffer replay, RunningNormalizer actorNormalizer, RunningNormalizer criticNormalizer)
        => Checkpoint.Save(RunDirectory, globalStep, arrays, counters, replay, actorNormalizer, criticNormalizer, includeReplay: CheckpointReplay);

    /// <summary>The bundle's description of a hover policy trained on <paramref name="task"/>.</summary>
    public static PolicyDescription Describe(HoverTaskConfig task, string trainingConfigJson)
    {
        var (low, high) = HoverObservation.ActionScaling(task.Robot);
        return new PolicyDescription(HoverObservation.ActorNames(task.ActionHistoryLength), HoverObservation.ActionNames, low, high, HoverObservation.ActionUnit,
            task.ControlFrequencyHz, task.ActionHistoryLength, task.RobotConfigJson, trainingConfigJson, GitInfo.Commit);
    }

    /// <summary>Ends the terminal line, flushes the logs and draws the learning curve (learning_curve.png).</summary>
    public void Finish()
    {
        if (_console is not null && _interactive) _console.WriteLine();
        _csv.Flush();
        WriteLearningCurve(Path.Combine(RunDirectory, "learning_curve.png"));
    }

    void WriteLearningCurve(string path)
    {
        var plot = new ScottPlot.Plot();
        if (_returnCurve.Count > 0)
        {
            var line = plot.Add.ScatterLine(_returnCurve.Select(p => (double)p.Step).ToArray(), _returnCurve.Select(p => p.Return).ToArray());
            line.LegendText = "episode return (training)";
        }
        if (_evalCurve.Count > 0)
        {
            var success = plot.Add.Scatter(_evalCurve.Select(p => (double)p.Step).ToArray(), _evalCurve.Select(p => p.SuccessRate * 100).ToArray());
            success.LegendText = "periodic evaluation success (%)";
            success.Axes.YAxis = plot.Axes.Right;
            plot.Axes.Right.Label.Text = "success (%)";
        }
        if (_finalEvalPoint is { } f)
        {
            // The bundle's policy, evaluated once more on held-out episodes: its own marker, at the step it was taken.
            var bundlePoint = plot.Add.Scatter(new[] { (double)f.Step }, new[] { f.SuccessRate * 100 });
            bundlePoint.LegendText = "bundle: " + (Snapshot?.Describe() ?? "final policy") + ", held-out success (%)";
            bundlePoint.MarkerShape = ScottPlot.MarkerShape.FilledDiamond;
            bundlePoint.MarkerSize = 12;
            bundlePoint.LineWidth = 0;
            bundlePoint.Axes.YAxis = plot.Axes.Right;
            plot.Axes.Right.Label.Text = "success (%)";
        }
        plot.Title("Learning curve");
        plot.XLabel("environment steps");
        plot.YLabel("episode return");
        plot.ShowLegend(ScottPlot.Alignment.LowerRight);
        plot.SavePng(path, 900, 500);
    }

    static string F(double? value) => value is { } v && double.IsFinite(v) ? v.ToString("G6", CultureInfo.InvariantCulture) : "";

    public void Dispose()
    {
        _csv.Dispose();

    }
}

/// <summary>The git commit of the working directory (recorded in bundles), or "unknown".</summary>
public static class GitInfo
{
    static readonly Lazy<string> CommitOfThisBuild = new(() =>
    {
        try
        {
            using var git = Process.Start(new ProcessStartInfo("git", "rev-parse HEAD")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            });
            if (git is null) return "unknown";
            string text = git.StandardOutput.ReadToEnd().Trim();
            git.WaitForExit(5000);
            return git.ExitCode == 0 && text.Length >= 7 ? text : "unknown";
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException) { return "unknown"; }
    });

    public static string Commit => CommitOfThisBuild.Value;
}
