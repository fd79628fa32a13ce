using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using RoboRl.Core.Policy;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Tasks;
using RoboRl.Node;
using RoboRl.Replay;
using RoboRl.Training;

namespace RoboRl.Hil;

/// <summary>
/// The human-in-the-loop experiment (`roborl bench hil`, docs/replay-and-hil.md). Per seed: the hover task trained for
/// 200 k of its 300 k steps (a run stopped before its last curriculum stage has taught precise hovering) flies a Crazyflie
/// heavier than the one it was trained for, in simulation, through the real <see cref="InferenceNode"/> (lock-step with
/// the simulated robot, recorded to MCAP); a scripted pilot (<see cref="ScriptedCorrector"/>: the fallback controller
/// acting as the human) takes over through the teleop interface whenever the position error passes 0.15 m; fine-tuning
/// learns from those logs, continuing the run's critic in the simulator with the heavier robot (as if `sysid` had fitted
/// it); each round's fine-tuned policy flies new corrected flights for the next round; the last one flies the first
/// flights again. A flight succeeds when the policy flies its last 2 s alone (<see cref="HilFlights"/>). The intervention
/// rate is the share of flying ticks the human flew. The verdict compares the per-seed paired changes with their own
/// spread (<see cref="Judge"/>).
/// </summary>
public static class HilBench
{
    public const float DefaultMassFactor = 1.2f;
    public const string DefaultTask = "configs/tasks/crazyflie-hover.json";
    public const string DefaultNodeConfig = "configs/nodes/crazyflie-sim.json";

    /// <summary>
    /// Fine-tuning as the bench runs it: the weak policy's own training critic continued (round 1: the training run's
    /// checkpoint; later rounds: the previous round's critic), a light trust region (0.1), the actor at training's learning
    /// rate, 100 k simulation steps per round, 11 candidates judged. The settings it was chosen against and the ablations
    /// are in docs/experiments.md ("Human in the loop").
    /// </summary>
    public static FinetuneConfig BenchFinetune { get; } = new() { TotalEnvSteps = 100_000, AnchorWeight = 0.1, ActorLearningRate = 1e-3, Candidates = 11 };

    public sealed record Options
    {
        public int Seeds { get; init; } = 3;
        public int Flights { get; init; } = 10;
        /// <summary>Training budget of the weak policy: 200 k of the task's 300 k steps — the shortest budget whose policy can
        /// hover at all yet fails at the heavier mass (the budgets measured: docs/experiments.md, "Human in the loop").</summary>
        public long WeakSteps { get; init; } = 200_000;
        public long FinetuneSteps { get; init; } = BenchFinetune.TotalEnvSteps;
        /// <summary>Correction rounds: fly with the pilot, fine-tune, repeat (each round adds its flights' logs).</summary>
        public int Rounds { get; init; } = 3;
        /// <summary>The flown robot's mass as a factor of the trained-for robot's.</summary>
        public float MassFactor { get; init; } = DefaultMassFactor;
        /// <summary>The hover task file (a path as given; the caller resolves repository-relative names).</summary>
        public string Task { get; init; } = DefaultTask;
        /// <summary>The node config flown (a path as given; the caller resolves repository-relative names).</summary>
        public string NodeConfig { get; init; } = DefaultNodeConfig;
        /// <summary>Fine-tuning hyperparameters (seed, steps and the critic to continue are set per run).</summary>
        public FinetuneConfig Finetune { get; init; } = BenchFinetune;
        /// <summary>Fit a new critic in every round instead of continuing the weak policy's training critic.</summary>
        public bool NewCritic { get; init; }
        /// <summary>Fly this bundle (for every seed) instead of training a weak one.</summary>
        public string? Policy { get; init; }
        /// <summary>Keep the runs and logs here (default: a temporary directory, deleted at the end).</summary>
        public string? OutDirectory { get; init; }
    }

    /// <summary>What is wrong with <paramref name="options"/> as input (null when nothing): ranges, and a weak policy too short to have a critic to continue.</summary>
    public static string? Problem(Options options)
    {
        if (options.Seeds < 1 || options.Flights < 1 || options.Rounds < 1 || options.WeakSteps < 1000 || options.FinetuneSteps < 1000
            || !(options.MassFactor is >= 0.5f and <= 2f))
            return "--seeds, --flights and --rounds must be ≥ 1, --weak-steps and --finetune-steps ≥ 1000, --mass-factor in [0.5, 2]";
        long warmup = Td3Config.Read(HoverTaskConfig.Load(options.Task).Training).WarmupEnvSteps;
        // Before the warm-up ends the run has no fitted critic (nor frozen normalisers) to continue.
        if (options.Policy is null && !options.NewCritic && options.WeakSteps <= warmup)
            return $"--weak-steps {options.WeakSteps}: the critic to continue exists only after the task's warm-up ({warmup} steps); train longer or pass --new-critic";
        return null;
    }

    public sealed record FlightSet(int Flights, int Successes, long FlyingTicks, long HumanTicks, int TakeOvers, int Fallbacks, IReadOnlyList<string> Logs)
    {
        public double SuccessRate => Flights == 0 ? 0 : (double)Successes / Flights;
        public double InterventionRate => FlyingTicks == 0 ? 0 : (double)HumanTicks / FlyingTicks;
    }

    public sealed record SeedResult(int Seed, FlightSet Before, FlightSet After, int LogTransitions, int InterventionTransitions, double TrainSeconds, double FinetuneSeconds)
    {
        public double SuccessChange => After.SuccessRate - Before.SuccessRate;
        public double InterventionRateChange => After.InterventionRate - Before.InterventionRate;
    }

    /// <summary>
    /// The per-seed paired changes (after − before) of one metric: each seed is its own control, so the spread of the
    /// changes (not of the rates, which mostly measure how weak each seed's policy happened to be) is the seed noise.
    /// </summary>
    public sealed record PairedChange(IReadOnlyList<double> Changes)
    {
        public double Mean => Changes.Count == 0 ? 0 : Changes.Average();
        /// <summary>Sample standard deviation of the changes (n − 1; 0 for one seed).</summary>
        public double Sd => Changes.Count < 2 ? 0 : Math.Sqrt(Changes.Sum(c => (c - Mean) * (c - Mean)) / (Changes.Count - 1));
        /// <summary>Standard error of the mean change: sd / √seeds.</summary>
        public double StandardError => Changes.Count == 0 ? 0 : Sd / Math.Sqrt(Changes.Count);
        /// <summary>Every seed moved the right way (strictly) and |mean| exceeds twice the standard error.</summary>
        public bool ClearlyBeyondNoise(bool shouldRise) =>
            Changes.Count > 0 && Changes.All(c => shouldRise ? c > 0 : c < 0) && Math.Abs(Mean) > 2 * StandardError;
    }

    /// <summary>The bench's plain verdict: "clearly beyond seed noise" when success rose and the intervention rate fell on
    /// every seed and both mean changes exceed 2 × sd / √seeds of their paired changes; otherwise what failed.</summary>
    public static (bool Clear, string Verdict) Judge(IReadOnlyList<SeedResult> results)
    {
        var success = new PairedChange(results.Select(r => r.SuccessChange).ToList());
        var intervention = new PairedChange(results.Select(r => r.InterventionRateChange).ToList());
        if (success.ClearlyBeyondNoise(shouldRise: true) && intervention.ClearlyBeyondNoise(shouldRise: false))
            return (true, "clearly beyond seed noise");
        var reasons = new List<string>();
        foreach (SeedResult r in results)
        {
            if (r.SuccessChange <= 0) reasons.Add($"seed {r.Seed}: success did not rise");
            if (r.InterventionRateChange >= 0) reasons.Add($"seed {r.Seed}: intervention rate did not fall");
        }
        if (Math.Abs(success.Mean) <= 2 * success.StandardError) reasons.Add("mean success change within 2 standard errors");
        if (Math.Abs(intervention.Mean) <= 2 * intervention.StandardError) reasons.Add("mean intervention change within 2 standard errors");
        return (false, "not clearly beyond seed noise (" + string.Join("; ", reasons) + ")");
    }

    /// <summary>Runs the experiment (<see cref="Problem"/> first); progress lines go to <paramref name="progress"/>.</summary>
    public static IReadOnlyList<SeedResult> Run(Options options, TextWriter progress)
    {
        if (Problem(options) is { } problem) throw new ArgumentException(problem, nameof(options));
        string work = options.OutDirectory ?? Path.Combine(Path.GetTempPath(), $"roborl-bench-hil-{Environment.ProcessId}-{DateTime.UtcNow:HHmmss}");
        var results = new List<SeedResult>();
        try
        {
            string taskPath = options.Task;
            HoverTaskConfig task = HoverTaskConfig.Load(taskPath);
            NodeConfig node = NodeConfig.Load(options.NodeConfig);
            QuadrotorConfig robot = node.Quadrotor().Robot, heavy = robot with { Mass = robot.Mass * options.MassFactor };
            for (int seed = 1; seed <= options.Seeds; seed++)
            {
                string seedDir = Path.Combine(work, $"seed{seed}");
                PolicyBundle before;
                double trainSeconds = 0;
                string trainDir = Path.Combine(seedDir, "train"), trained = Path.Combine(trainDir, Trainer.BundleFileName);
                if (options.Policy is { } given) before = PolicyBundle.Read(given);
                else if (options.OutDirectory is not null && TrainedFor(trained) == options.WeakSteps)
                {
                    // A kept run of the same seed and budget (training is deterministic per seed): fly it again.
                    progress.WriteLine($"bench hil: seed {seed}/{options.Seeds}: reusing the weak policy {trained} ({options.WeakSteps} steps)");
                    before = PolicyBundle.Read(trained);
                }
                else
                {
                    progress.WriteLine($"bench hil: seed {seed}/{options.Seeds}: training the weak policy ({options.WeakSteps} steps)");
                    TrainResult weak = Trainer.Run(new TrainOptions(taskPath)
                    {
                        Seed = seed,
                        TotalEnvSteps = options.WeakSteps,
                        OutDirectory = trainDir,
                        FinalEvalEpisodes = 100,
                    });
                    before = PolicyBundle.Read(weak.BundlePath);
                    trainSeconds = weak.WallSeconds;
                }

                FlightSet flownBefore = HilFlights.FlyAll(node, before, heavy, seed, options.Flights, Path.Combine(seedDir, "before"));
                progress.WriteLine(Describe("before", flownBefore));

                // Correction rounds: fine-tune on every log so far; from the second round on, the fine-tuned policy first flies
                // more corrected flights (other initial conditions) whose logs join the next round's.
                PolicyBundle current = before;
                // The critic each round continues: the weak policy's training run's, then the previous round's.
                string? criticFrom = options.Policy is null && !options.NewCritic ? trainDir : null;
                var logs = flownBefore.Logs.ToList();
                HoverTransitions transitions = null!;
                double finetuneSeconds = 0;
                for (int round = 1; round <= options.Rounds; round++)
                {
                    if (round > 1)
                    {
                        FlightSet corrected = HilFlights.FlyAll(node, current, heavy, seed + 100 * round, options.Flights, Path.Combine(seedDir, $"round{round}"));
                        progress.WriteLine(Describe($"round {round}", corrected));
                        logs.AddRange(corrected.Logs);
                    }
                    transitions = LogTransitions.Extract(logs.Select(FlightLog.Load).ToList(), current, task);
                    progress.WriteLine($"bench hil: seed {seed}: fine-tuning on {transitions.Count} logged transitions ({transitions.InterventionCount} intervened), {options.FinetuneSteps} simulation steps on the {options.MassFactor:0.0#}× mass robot");
                    string? criticTo = criticFrom is null ? null : Path.Combine(seedDir, $"round{round}-critic");
                    FinetuneResult tuned = Finetune.Run(current, transitions, task, heavy,
                        options.Finetune with { Seed = seed, TotalEnvSteps = options.FinetuneSteps, CriticFrom = criticFrom, SaveCriticTo = criticTo },
                        new PrefixedWriter(progress, $"bench hil: seed {seed}: "));
                    current = tuned.Bundle;
                    criticFrom = criticTo;
                    finetuneSeconds += tuned.WallSeconds;
                }
                current.Write(Path.Combine(seedDir, "finetuned.safetensors"));

                FlightSet flownAfter = HilFlights.FlyAll(node, current, heavy, seed, options.Flights, Path.Combine(seedDir, "after"));
                progress.WriteLine(Describe("after ", flownAfter));
                results.Add(new SeedResult(seed, flownBefore, flownAfter, transitions.Count, transitions.InterventionCount, trainSeconds, finetuneSeconds));
            }
        }
        finally
        {
            if (options.OutDirectory is null && Directory.Exists(work)) Directory.Delete(work, recursive: true);
        }

        return results;
    }

    /// <summary>The training budget a kept weak-policy bundle records (its training config's total_env_steps), or −1.</summary>
    private static long TrainedFor(string bundlePath)
    {
        if (!File.Exists(bundlePath)) return -1;
        try
        {
            JsonNode? config = JsonNode.Parse(PolicyBundle.Read(bundlePath).TrainingConfigJson);
            return config?["hyperparameters"]?["total_env_steps"]?.GetValue<long>() ?? -1;
        }
        catch (Exception e) when (e is PolicyBundleException or System.Text.Json.JsonException or InvalidOperationException or IOException) { return -1; }
    }

    /// <summary>Fine-tuning's progress lines, prefixed with the bench's seed.</summary>
    private sealed class PrefixedWriter(TextWriter inner, string prefix) : TextWriter
    {
        public override System.Text.Encoding Encoding => inner.Encoding;
        public override void WriteLine(string? value) => inner.WriteLine(prefix + value);
        public override void Write(char value) => inner.Write(value);
    }

    private static string Describe(string phase, FlightSet f) => string.Create(CultureInfo.InvariantCulture,
        $"bench hil:   {phase}: {f.Successes}/{f.Flights} flights held by the policy, human flew {f.InterventionRate:P1} of ticks ({f.TakeOvers} take-overs), {f.Fallbacks} fallbacks");
}
