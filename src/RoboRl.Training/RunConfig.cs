using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using RoboRl.Core.Configs;

namespace RoboRl.Training;

/// <summary>
/// The run keys of a task file's "training" section, the same for every algorithm: seed, length, parallel
/// environments, periodic and final evaluation, checkpoints, keep-best. Bound once here (<see cref="Read"/>); an
/// algorithm's config holds one as <c>Run</c> with its own defaults (TD3 and SAC: the hover task's 300 k steps; PPO:
/// CleanRL's 1 M). Command-line overrides are applied by <see cref="With(TrainOptions)"/>.
/// </summary>
public sealed record RunConfig
{
    /// <summary>Seeds the networks, the simulator, the replay sampling and all noise: same seed ⇒ same run on the same machine.</summary>
    public int Seed { get; init; } = 1;
    /// <summary>Environment steps to train for (summed over all parallel environments).</summary>
    public long TotalEnvSteps { get; init; } = 300_000;
    /// <summary>Parallel simulated environments stepped together.</summary>
    public int NumEnvs { get; init; } = 32;
    /// <summary>Evaluate the current policy every this many env steps (0 = only at the end).</summary>
    public long EvalEveryEnvSteps { get; init; } = 50_000;
    /// <summary>No periodic evaluation before this env step (the early policies of the hover task all score 0).</summary>
    public long EvalFromEnvSteps { get; init; }
    /// <summary>Episodes per periodic evaluation.</summary>
    public int EvalEpisodes { get; init; } = 100;
    /// <summary>Episodes of the final evaluation.</summary>
    public int FinalEvalEpisodes { get; init; } = 1000;
    /// <summary>Export the best policy of the periodic evaluations (and the last one) instead of simply the last.</summary>
    public bool KeepBestPolicy { get; init; } = true;
    /// <summary>Write a checkpoint every this many env steps (0 = never; the end is always written by algorithms that checkpoint).</summary>
    public long CheckpointEveryEnvSteps { get; init; } = 100_000;
    /// <summary>Threads stepping the simulator (0 = all cores); torch itself runs on one intra-op thread.</summary>
    public int SimThreads { get; init; } = 1;

    /// <summary>Stop (with a checkpoint) at this env step instead of <see cref="TotalEnvSteps"/>, which keeps sizing the replay
    /// memory and the learning-rate schedule: one segment of a longer run (a PBT member's interval, <see cref="Sweep"/>).
    /// Off-policy algorithms honour it; not part of the recorded hyperparameters.</summary>
    [JsonIgnore] public long? StopAtEnvSteps { get; init; }
    /// <summary>Where this invocation stops: <see cref="StopAtEnvSteps"/> or <see cref="TotalEnvSteps"/>.</summary>
    [JsonIgnore] public long EndEnvSteps => Math.Min(TotalEnvSteps, StopAtEnvSteps ?? long.MaxValue);

    /// <summary>The algorithms that train from a task file; "training.algorithm" must name one of them.</summary>
    public static readonly string[] Algorithms = ["td3", "sac", "ppo"];

    /// <summary>
    /// Binds the run keys of <paramref name="training"/> over <paramref name="defaults"/> (null section = the defaults).
    /// Checks "algorithm" against <paramref name="algorithms"/> and allows every algorithm's subsection; the caller binds
    /// its own subsection and then calls <see cref="ConfigNode.EnsureNoUnknownKeys"/>, so a misspelt key names the file.
    /// </summary>
    public static RunConfig Read(ConfigNode? training, RunConfig defaults, params string[] algorithms)
    {
        if (training is null) return defaults;
        training.Choice("algorithm", algorithms.Length > 0 ? algorithms : Algorithms);
        foreach (string algorithm in Algorithms) training.Has(algorithm); // every algorithm's subsection is a known key
        var d = defaults;
        return new RunConfig
        {
            Seed = (int)training.Integer("seed", 0, int.MaxValue, d.Seed),
            TotalEnvSteps = training.Integer("total_env_steps", 1, 1_000_000_000, d.TotalEnvSteps),
            NumEnvs = (int)training.Integer("num_envs", 1, 65_536, d.NumEnvs),
            EvalEveryEnvSteps = training.Integer("eval_every_env_steps", 0, long.MaxValue, d.EvalEveryEnvSteps),
            EvalFromEnvSteps = training.Integer("eval_from_env_steps", 0, long.MaxValue, d.EvalFromEnvSteps),
            EvalEpisodes = (int)training.Integer("eval_episodes", 1, 1_000_000, d.EvalEpisodes),
            FinalEvalEpisodes = (int)training.Integer("final_eval_episodes", 1, 1_000_000, d.FinalEvalEpisodes),
            CheckpointEveryEnvSteps = training.Integer("checkpoint_every_env_steps", 0, long.MaxValue, d.CheckpointEveryEnvSteps),
            SimThreads = (int)training.Integer("sim_threads", 0, 1024, d.SimThreads),
            KeepBestPolicy = training.Has("keep_best_policy") ? training.Boolean("keep_best_policy") : d.KeepBestPolicy,
        };
    }

    /// <summary>The command line's overrides (<c>--seed</c>, <c>--steps</c>, final evaluation episodes).</summary>
    public RunConfig With(TrainOptions options) => this with
    {
        Seed = options.Seed ?? Seed,
        TotalEnvSteps = options.TotalEnvSteps ?? TotalEnvSteps,
        FinalEvalEpisodes = options.FinalEvalEpisodes ?? FinalEvalEpisodes,
        StopAtEnvSteps = options.StopAtEnvSteps ?? StopAtEnvSteps,
    };

    /// <summary>
    /// The JSON recorded in the bundle and in the run directory's training.json:
    /// <c>{"algorithm": A, "hyperparameters": {run keys…, the algorithm's keys…}}</c>, snake_case, one flat object.
    /// </summary>
    public static string HyperparametersJson<T>(string algorithm, RunConfig run, T algorithmConfig)
    {
        var options = new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
        JsonObject hyperparameters = JsonSerializer.SerializeToNode(run, options)!.AsObject();
        foreach (var (key, value) in JsonSerializer.SerializeToNode(algorithmConfig, options)!.AsObject())
            hyperparameters[key] = value?.DeepClone();
        return new JsonObject { ["algorithm"] = algorithm, ["hyperparameters"] = hyperparameters }.ToJsonString();
    }

    /// <summary>The run directory <c>runs/TASK-ALGO-seedS-UTC</c> used when the user names none.</summary>
    public string DefaultRunDirectory(string taskPath, string algorithm) => Path.Combine("runs", string.Create(CultureInfo.InvariantCulture,
        $"{Path.GetFileNameWithoutExtension(taskPath)}-{algorithm}-seed{Seed}-{DateTime.UtcNow:yyyyMMdd-HHmmss}"));
}

/// <summary>An algorithm's hyperparameters: the shared run keys plus its own.</summary>
public interface IAlgorithmConfig
{
    /// <summary>"td3", "sac" or "ppo".</summary>
    string Algorithm { get; }
    RunConfig Run { get; }
    /// <summary>Whether the algorithm writes checkpoints (and so supports <c>--resume</c>).</summary>
    bool Checkpoints { get; }
    /// <summary>The hyperparameters as JSON (recorded in the bundle and the run directory's training.json).</summary>
    string ToJson();
}
