using Orleans.Concurrency;
using RoboRl.Core.Policy;

namespace RoboRl.Cluster;

/// <summary>
/// What a run is, as the learner publishes it to workers: the task (its JSON and the robot's, and any file it refers
/// to — a swarm task's scenarios — self-contained, so a worker on another machine needs no file), the algorithm and its
/// hyperparameters as training.json records them (<see cref="PpoJson"/>, named for the first algorithm it carried) and the
/// shard layout. <see cref="TaskHash"/> identifies the task: a
/// worker started with <c>--task</c> must have the same one. <see cref="EnvsPerShard"/> counts rows: a swarm shard of
/// e environments of q quads has e·q.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record RunSpec(
    [property: Id(0)] int Protocol,
    [property: Id(1)] string Build,
    [property: Id(2)] string TaskName,
    [property: Id(3)] string TaskJson,
    [property: Id(4)] string RobotJson,
    [property: Id(5)] string TaskHash,
    [property: Id(6)] string PpoJson,
    [property: Id(7)] int Shards,
    [property: Id(8)] int EnvsPerShard,
    [property: Id(9)] int StepsPerShard,
    [property: Id(10)] int WarmupStepsPerShard,
    [property: Id(11)] int ObservationSize,
    [property: Id(12)] int CriticObservationSize,
    [property: Id(13)] int ActionSize,
    [property: Id(14)] int Iterations,
    [property: Id(15)] double LeaseTimeoutSeconds)
{
    /// <summary>Files the task refers to besides the robot (a swarm task's scenarios), named as the task JSON names them.</summary>
    [Id(16)] public TaskFile[] Files { get; init; } = [];
    /// <summary>"ppo" (on-policy: a warm-up iteration of statistics, then rollouts the update consumes once) or "td3"
    /// (off-policy: every iteration's transitions go to the learner's replay memory).</summary>
    [Id(17)] public string Algorithm { get; init; } = "ppo";
    /// <summary>Off-policy: iterations whose actions are random (the warm-up that measures the normalisers), not the actor's.</summary>
    [Id(18)] public int RandomIterations { get; init; }
    /// <summary>Off-policy: bytes of a snapshot of one shard's environments (<see cref="RoboRl.Sims.IEnvSnapshot"/>), which
    /// carry episodes from one iteration to the next; 0 (PPO): every iteration starts from a seeded reset.</summary>
    [Id(19)] public int StateBytes { get; init; }
    /// <summary>Environment steps an iteration adds over all shards (the global step curricula see advances by this).</summary>
    public long EnvStepsPerIteration => (long)Shards * EnvsPerShard * StepsPerShard;
}

/// <summary>A file a task refers to: its name beside the task on the worker, and its JSON.</summary>
[GenerateSerializer, Immutable]
public sealed record TaskFile([property: Id(0)] string Name, [property: Id(1)] string Json);

/// <summary>A worker introducing itself: its wire protocol, its build and (when started with --task) its task's hash.</summary>
[GenerateSerializer, Immutable]
public sealed record WorkerHello(
    [property: Id(0)] string WorkerId,
    [property: Id(1)] int Protocol,
    [property: Id(2)] string Build,
    [property: Id(3)] string? TaskHash);

/// <summary>The learner's answer to <see cref="WorkerHello"/>: the run, or why the worker is refused.</summary>
[GenerateSerializer, Immutable]
public sealed record JoinReply([property: Id(0)] RunSpec? Run, [property: Id(1)] string? Refusal);

/// <summary>
/// One work item: simulate shard <see cref="Shard"/> of iteration <see cref="Iteration"/> with policy
/// <see cref="PolicyVersion"/>. Iteration 0 is the normaliser warm-up (random actions, statistics only).
/// <see cref="Finished"/> = the run is over (the worker may exit); a null lease = nothing to do yet.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record Lease(
    [property: Id(0)] int Iteration,
    [property: Id(1)] int Shard,
    [property: Id(2)] int PolicyVersion,
    [property: Id(3)] ulong Seed,
    [property: Id(4)] bool Finished);

/// <summary>
/// The policy of one version as workers run it: actor and critic layers flattened (per layer: weights row-major
/// [out, in], then biases), log σ, and the frozen observation normalisers. PPO's networks have tanh hidden layers and an
/// identity output (the pre-squash mean); TD3's actor has ReLU hidden layers and a tanh output, and no critic goes out.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record PolicyWeights(
    [property: Id(0)] int Version,
    [property: Id(1)] int[] ActorSizes,
    [property: Id(2)] float[] Actor,
    [property: Id(3)] int[] CriticSizes,
    [property: Id(4)] float[] Critic,
    [property: Id(5)] float[] LogStd,
    [property: Id(6)] float[] ActorMean,
    [property: Id(7)] float[] ActorStd,
    [property: Id(8)] float[] CriticMean,
    [property: Id(9)] float[] CriticStd)
{
    [Id(10)] public Activation ActorHiddenActivation { get; init; } = Activation.Tanh;
    [Id(11)] public Activation ActorOutputActivation { get; init; } = Activation.Identity;
    /// <summary>Off-policy: each shard's environments as the previous iteration left them (<see cref="Fragment.FinalState"/>),
    /// where this iteration starts them.</summary>
    [Id(12)] public byte[][] ShardStates { get; init; } = [];
}

/// <summary>
/// A shard's rollout, row-major [StepsPerShard × EnvsPerShard] (row t·n + i = env i at step t): normalised actor and
/// critic observations, pre-squash actions u, their log-probabilities and values under the leased policy, rewards
/// (scaled, with γ·V(final) added on truncation), episode ends, V(s_T) per env, and the episodes that finished.
/// A warm-up fragment (iteration 0) carries only the observation statistics (count, mean, M2 per component).
/// An off-policy fragment (TD3) carries transitions instead: raw observations, the actions flown, raw rewards, each
/// step's next observations (the finished episode's last where one ended) and whether it terminated; no log-probabilities or values.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record Fragment(
    [property: Id(0)] int Iteration,
    [property: Id(1)] int Shard,
    [property: Id(2)] int PolicyVersion,
    [property: Id(3)] string WorkerId,
    [property: Id(4)] float[] Observations,
    [property: Id(5)] float[] CriticObservations,
    [property: Id(6)] float[] Actions,
    [property: Id(7)] float[] LogProbs,
    [property: Id(8)] float[] Values,
    [property: Id(9)] float[] Rewards,
    [property: Id(10)] bool[] EpisodeEnds,
    [property: Id(11)] float[] NextValues,
    [property: Id(12)] float[] EpisodeReturns,
    [property: Id(13)] int[] EpisodeLengths,
    [property: Id(14)] long StatisticsCount,
    [property: Id(15)] double[] ActorStatistics,
    [property: Id(16)] double[] CriticStatistics)
{
    [Id(17)] public float[] NextObservations { get; init; } = [];
    [Id(18)] public float[] NextCriticObservations { get; init; } = [];
    [Id(19)] public bool[] Terminated { get; init; } = [];
    /// <summary>Off-policy: the shard's environments after the last step (<see cref="RunSpec.StateBytes"/> bytes), where the next iteration starts.</summary>
    [Id(20)] public byte[] FinalState { get; init; } = [];

    /// <summary>Environment steps this fragment holds.</summary>
    public long EnvSteps(RunSpec run) => (long)run.EnvsPerShard * (IsWarmup(run) ? run.WarmupStepsPerShard : run.StepsPerShard);

    /// <summary>PPO's iteration 0: observation statistics only.</summary>
    public bool IsWarmup(RunSpec run) => Iteration == 0 && run.Algorithm == "ppo";
}

/// <summary>What became of a submitted fragment.</summary>
[GenerateSerializer]
public enum SubmitOutcome
{
    Accepted,
    /// <summary>The (iteration, shard) was already accepted: dropped and counted (a re-leased shard finished twice).</summary>
    Duplicate,
    /// <summary>Sizes, version or values do not fit the lease: dropped and counted; the shard is handed out again.</summary>
    Malformed,
}

/// <summary>The coordinator's counters (never decrease during a run; restored from the checkpoint on resume).</summary>
[GenerateSerializer, Immutable]
public sealed record ClusterCounters(
    [property: Id(0)] long Accepted,
    [property: Id(1)] long Duplicates,
    [property: Id(2)] long Malformed,
    [property: Id(3)] long Released,
    [property: Id(4)] long Refused,
    [property: Id(5)] int Workers,
    [property: Id(6)] long AcceptedEnvSteps,
    [property: Id(7)] int MaxPolicyLag);
