using System.Globalization;
using System.Text.Json.Nodes;
using RoboRl.Core.Configs;

namespace RoboRl.Training;

/// <summary>What to sweep (the library form of `roborl sweep`).</summary>
public sealed record SweepOptions(string SweepPath)
{
    /// <summary>The sweep directory; default runs/sweep-&lt;name&gt;-&lt;UTC time&gt;. An existing one with a sweep.json is resumed.</summary>
    public string? OutDirectory { get; init; }
    /// <summary>Trials run at once in this process (each trains on its own thread).</summary>
    public int Parallel { get; init; } = 1;
    /// <summary>Progress and per-trial lines (null = nowhere).</summary>
    public TextWriter? Console { get; init; }
    public bool Interactive { get; init; }
}

/// <summary>
/// One unit of sweep work, self-contained so that a cluster worker can run it anywhere: a whole trial, or one PBT
/// segment (a member's interval, continued from <see cref="Checkpoint"/> bytes when given).
/// </summary>
/// <param name="Id">The trial (c0-s1) or segment (m2-g1) id.</param>
/// <param name="RunDir">The run directory, relative to the sweep directory (trials/c0-s1, members/m2).</param>
/// <param name="TaskJson">The task file to train (its robot is "robot.json" beside it).</param>
/// <param name="StopAtEnvSteps">PBT: stop at this step (the segment's end), checkpointing with the replay memory.</param>
/// <param name="Resume">PBT: continue from the run directory's checkpoint.</param>
public sealed record SweepWork(string Id, string RunDir, string TaskJson, string RobotJson, int Seed, long? StopAtEnvSteps, bool Resume);

/// <summary>What a unit of work produced: the final evaluation's score, where it started and stopped, who ran it.</summary>
public sealed record SweepWorkResult(string Id, double SuccessRate, double FailureRate, double Cost, long StartEnvSteps, long EnvSteps,
    double WallSeconds, string Worker);

/// <summary>Runs batches of sweep work: in this process (<see cref="LocalSweepExecutor"/>) or on a cluster's workers.</summary>
public interface ISweepExecutor
{
    /// <summary>Runs every item of <paramref name="batch"/> in <paramref name="sweepDirectory"/>; calls
    /// <paramref name="finished"/> (one at a time) as each result arrives; returns when all have.</summary>
    void Run(string sweepDirectory, IReadOnlyList<SweepWork> batch, Action<SweepWork, SweepWorkResult> finished, TextWriter? console, bool interactive);
}

/// <summary>What a finished sweep produced.</summary>
public sealed record SweepRunResult(string Directory, SweepState State, JsonObject Aggregate, int TrialsRun, int TrialsSkipped)
{
    /// <summary>With --cluster: the coordinator's counters (results accepted, duplicates rejected, leases re-issued).</summary>
    public JsonObject? Cluster { get; init; }
}

/// <summary>
/// `roborl sweep`: seeds × configurations (grid or random) or population-based training, each trial a normal run
/// directory under the sweep directory, the state in sweep.json after every trial (resumable), and at the end the
/// rliable aggregate per configuration (<see cref="SweepAggregate"/>). Trials run in this process unless an executor for
/// a cluster is given.
/// </summary>
public static class Sweep
{
    public static SweepRunResult Run(SweepOptions options, ISweepExecutor? executor = null)
    {
        SweepConfig sweep = SweepConfig.Load(options.SweepPath);
        string directory = options.OutDirectory ?? Path.Combine("runs", string.Create(CultureInfo.InvariantCulture,
            $"sweep-{sweep.Name}-{DateTime.UtcNow:yyyyMMdd-HHmmss}"));
        executor ??= new LocalSweepExecutor(options.Parallel);
        TextWriter? console = options.Console is null ? null : TextWriter.Synchronized(options.Console);
        string statePath = Path.Combine(directory, SweepState.FileName);

        SweepState state;
        if (File.Exists(statePath))
        {
            state = SweepState.Load(statePath);
            if (state.SweepSha256 != sweep.Sha256)
                throw new ArgumentException($"{statePath}: this sweep was started from another version of {Path.GetFileName(options.SweepPath)} (sha256 {state.SweepSha256[..12]}…, the file now {sweep.Sha256[..12]}…); restore the file or sweep into another -o DIR");
            if (state.TaskSha256 != sweep.TaskSha256)
                throw new ArgumentException($"{statePath}: the task file {Path.GetFileName(sweep.TaskPath)} changed since this sweep started (sha256 {state.TaskSha256[..12]}…, now {sweep.TaskSha256[..12]}…); restore it or sweep into another -o DIR");
            console?.WriteLine($"resuming sweep {state.Name} in {directory}: {Done(state)} of {Units(state)} {(state.Pbt is null ? "trials" : "segments")} finished");
        }
        else
        {
            if (Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any())
                throw new ArgumentException($"'{directory}' is not empty and holds no {SweepState.FileName}; choose another -o DIR");
            IReadOnlyList<SweepConfiguration> configurations = sweep.Configurations();
            // Every configuration through the task's own schema before anything trains.
            string scratch = Path.Combine(Path.GetTempPath(), "roborl-sweep-check-" + Guid.NewGuid().ToString("N"));
            try { sweep.Validate(configurations, scratch); }
            finally { if (Directory.Exists(scratch)) Directory.Delete(scratch, recursive: true); }
            Directory.CreateDirectory(directory);
            state = NewState(sweep, configurations);
            state.Save(statePath);
        }

        int before = Done(state);
        object gate = new();
        void Save() { lock (gate) state.Save(statePath); }

        if (state.Pbt is null) RunTrials(sweep, state, directory, executor, Save, console, options.Interactive);
        else Pbt.Run(sweep, state, directory, executor, Save, console, options.Interactive);

        JsonObject aggregate = SweepAggregate.Write(state, directory);
        state.Status = SweepState.Finished;
        Save();
        int after = Done(state);
        return new SweepRunResult(directory, state, aggregate, after - before, before);
    }

    static SweepState NewState(SweepConfig sweep, IReadOnlyList<SweepConfiguration> configurations)
    {
        var state = new SweepState
        {
            Name = sweep.Name,
            Mode = sweep.Mode.ToString().ToLowerInvariant(),
            Score = sweep.Score,
            Algorithm = sweep.Algorithm,
            SweepFile = Path.GetFileName(sweep.File),
            SweepSha256 = sweep.Sha256,
            TaskSha256 = sweep.TaskSha256,
            Seeds = [.. sweep.Seeds],
            Configurations = configurations.Select(c => new SweepState.ConfigurationState { Id = c.Id, Parameters = Clone(c.Values) }).ToList(),
        };
        if (sweep.Mode == SweepMode.Pbt) state.Pbt = Pbt.NewState(sweep, configurations);
        else
            foreach (SweepConfiguration c in configurations)
                foreach (int seed in sweep.Seeds)
                    state.Trials.Add(new SweepState.TrialState { Id = $"{c.Id}-s{seed}", Configuration = c.Id, Seed = seed, RunDir = Path.Combine("trials", $"{c.Id}-s{seed}") });
        return state;
    }

    /// <summary>Grid and random sweeps: every trial not finished yet, in one batch.</summary>
    static void RunTrials(SweepConfig sweep, SweepState state, string directory, ISweepExecutor executor, Action save, TextWriter? console, bool interactive)
    {
        var configurations = state.Configurations.ToDictionary(c => c.Id);
        var batch = new List<SweepWork>();
        foreach (SweepState.TrialState trial in state.Trials.Where(t => t.Status != SweepState.Finished))
        {
            string task = sweep.Apply(configurations[trial.Configuration].Parameters).ToJsonString();
            batch.Add(new SweepWork(trial.Id, trial.RunDir, task, sweep.RobotJson, trial.Seed, null, Resume: false));
        }
        var trials = state.Trials.ToDictionary(t => t.Id);
        int total = state.Trials.Count;
        executor.Run(directory, batch, (work, result) =>
        {
            SweepState.TrialState trial = trials[work.Id];
            trial.Status = SweepState.Finished;
            trial.Score = Score(result);
            trial.EnvSteps = result.EnvSteps;
            trial.WallS = Math.Round(result.WallSeconds, 2);
            trial.Worker = result.Worker;
            trial.Attempts++;
            save();
            Line(console, interactive, string.Create(CultureInfo.InvariantCulture,
                $"trial {trial.Id} ({Done(state)}/{total}): success {result.SuccessRate:P1}, {result.EnvSteps:N0} env steps, {result.WallSeconds:F1} s ({result.Worker})  {Describe(configurations[trial.Configuration].Parameters)}"));
        }, console, interactive);
    }

    /// <summary>A line for the record; on a terminal it first replaces the progress line rewritten in place.</summary>
    internal static void Line(TextWriter? console, bool interactive, string text)
    {
        if (console is null) return;
        console.WriteLine(interactive ? "\r" + text.PadRight(100) : text);
    }

    internal static SweepState.ScoreState Score(SweepWorkResult result) => new()
    {
        SuccessRate = result.SuccessRate,
        FailureRate = result.FailureRate,
        Cost = double.IsFinite(result.Cost) ? result.Cost : null,
    };

    internal static int Done(SweepState state) => state.Pbt is { } pbt
        ? pbt.Members.Sum(m => m.Segments.Count(s => s.Status == SweepState.Finished))
        : state.Trials.Count(t => t.Status == SweepState.Finished);

    static int Units(SweepState state) => state.Pbt is { } pbt ? pbt.Members.Count * pbt.Generations : state.Trials.Count;

    internal static Dictionary<string, JsonNode> Clone(IReadOnlyDictionary<string, JsonNode> values) => values.ToDictionary(v => v.Key, v => v.Value.DeepClone());

    /// <summary>"actor_learning_rate=0.001 batch_size=256" (the last part of each dotted path).</summary>
    public static string Describe(IReadOnlyDictionary<string, JsonNode> values)
        => string.Join(" ", values.Select(v => $"{v.Key[(v.Key.LastIndexOf('.') + 1)..]}={SweepConfig.Text(v.Value)}"));
}

/// <summary>
/// Runs sweep work in this process: each item is a normal training run (<see cref="Trainer.Run"/>) in its run directory,
/// one after another, or <c>parallel</c> at once on their own threads.
/// </summary>
public sealed class LocalSweepExecutor(int parallel = 1) : ISweepExecutor
{
    public void Run(string sweepDirectory, IReadOnlyList<SweepWork> batch, Action<SweepWork, SweepWorkResult> finished, TextWriter? console, bool interactive)
    {
        object gate = new();
        var line = new SweepProgressLine(console, interactive);
        System.Threading.Tasks.Parallel.ForEach(batch, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, parallel) }, work =>
        {
            SweepWorkResult result = Execute(work, Path.Combine(sweepDirectory, work.RunDir), "local", line.For(work.Id));
            lock (gate) finished(work, result);
        });
    }

    /// <summary>
    /// Trains one unit of work in <paramref name="runDirectory"/>: writes its task.json and robot.json there and runs the
    /// normal trainer. A fresh trial starts from an empty directory (what an interrupted attempt left is removed); a PBT
    /// segment continues from the directory's checkpoint.bin.
    /// </summary>
    public static SweepWorkResult Execute(SweepWork work, string runDirectory, string worker, IProgress<TrainProgress>? progress)
    {
        if (!work.Resume && Directory.Exists(runDirectory)) Directory.Delete(runDirectory, recursive: true);
        Directory.CreateDirectory(runDirectory);
        string taskPath = Path.Combine(runDirectory, "task.json");
        File.WriteAllText(taskPath, work.TaskJson);
        File.WriteAllText(Path.Combine(runDirectory, "robot.json"), work.RobotJson);
        long start = 0;
        if (work.Resume)
        {
            Checkpoint checkpoint = Checkpoint.Find(runDirectory) ?? throw new InvalidDataException($"{runDirectory}: no {Checkpoint.FileName} to continue the segment from");
            start = checkpoint.ReadGlobalStep();
            // The bundle of the previous segment is replaced by this one's.
            File.Delete(Path.Combine(runDirectory, Trainer.BundleFileName));
        }
        TrainResult result = Trainer.Run(new TrainOptions(taskPath)
        {
            Seed = work.Seed,
            OutDirectory = runDirectory,
            Resume = work.Resume,
            CheckpointReplay = work.StopAtEnvSteps is not null,
            StopAtEnvSteps = work.StopAtEnvSteps,
        }, progress);
        return new SweepWorkResult(work.Id, result.FinalScore.SuccessRate, result.FinalScore.FailureRate, result.FinalScore.Cost, start, result.EnvSteps,
            result.WallSeconds, worker);
    }
}

/// <summary>The sweep's progress line: the running trials' steps, at the train command's rate (a terminal: rewritten in place).</summary>
public sealed class SweepProgressLine(TextWriter? console, bool interactive)
{
    readonly Dictionary<string, TrainProgress> _running = [];
    readonly object _gate = new();
    double _lastAt = double.NegativeInfinity;
    readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

    public IProgress<TrainProgress>? For(string id) => console is null ? null : new Reporter(this, id);

    sealed class Reporter(SweepProgressLine line, string id) : IProgress<TrainProgress>
    {
        public void Report(TrainProgress value) => line.Report(id, value);
    }

    void Report(string id, TrainProgress p)
    {
        lock (_gate)
        {
            _running[id] = p;
            double now = _clock.Elapsed.TotalSeconds;
            if (now - _lastAt < (interactive ? 0.5 : 5)) return;
            _lastAt = now;
            string text = string.Join("  ", _running.Where(r => r.Value.EnvSteps < r.Value.TotalEnvSteps).Select(r =>
                string.Create(CultureInfo.InvariantCulture, $"{r.Key} {r.Value.EnvSteps:N0}/{r.Value.TotalEnvSteps:N0} steps {r.Value.StepsPerSecond:N0} steps/s")));
            if (text.Length == 0) return;
            if (interactive) console!.Write("\r" + text.PadRight(100));
            else console!.WriteLine(text);
            console.Flush();
        }
    }
}
