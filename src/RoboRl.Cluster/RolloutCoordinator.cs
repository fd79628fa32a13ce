using Orleans.Concurrency;

namespace RoboRl.Cluster;

/// <summary>
/// The run's bookkeeping, one grain per run (it lives in the learner's silo): the run's spec, the current iteration and
/// policy version with its weights, a lease per shard, the accepted fragments until the learner takes them, and the
/// counters. Every method is a short turn over this state; simulation (workers) and updates (learner) run outside.
/// </summary>
public interface IRolloutCoordinator : IGrainWithStringKey
{
    // ---- the learner
    Task Open(RunSpec run, ClusterCounters counters);
    Task Publish(int iteration, Immutable<PolicyWeights> weights);
    /// <summary>All shards' fragments of <paramref name="iteration"/> in shard order once every shard is in, else null.</summary>
    Task<Immutable<Fragment[]>?> TakeIteration(int iteration);
    Task Finish();
    Task<ClusterCounters> Counters();

    // ---- workers
    Task<JoinReply> Join(WorkerHello hello);
    Task<Lease?> AcquireLease(string workerId);
    /// <summary>The weights of <paramref name="version"/>, or null when it is no longer (or not yet) the current one.</summary>
    Task<Immutable<PolicyWeights>?> GetPolicy(int version);
    Task<SubmitOutcome> Submit(Immutable<Fragment> fragment);
}

/// <summary>Wire protocol of the cluster messages; a worker speaking another one is refused.</summary>
public static class ClusterProtocol
{
    public const int Version = 1;
    /// <summary>The grain key of the run (one learner per cluster).</summary>
    public const string RunKey = "run";

    /// <summary>This build's version (the RoboRl.Cluster assembly's informational version).</summary>
    public static string Build { get; } =
        (Attribute.GetCustomAttribute(typeof(ClusterProtocol).Assembly, typeof(System.Reflection.AssemblyInformationalVersionAttribute))
            as System.Reflection.AssemblyInformationalVersionAttribute)?.InformationalVersion ?? "unknown";
}

public sealed class RolloutCoordinatorGrain : Grain, IRolloutCoordinator
{
    enum ShardState : byte { Pending, Leased, Done }

    RunSpec? run;
    bool finished;
    int iteration = -1;
    Immutable<PolicyWeights> weights;
    ShardState[] states = [];
    DateTime[] deadlines = [];
    Fragment?[] fragments = [];
    long accepted, duplicates, malformed, released, refused, acceptedSteps;
    int maxLag;
    readonly Dictionary<string, DateTime> lastSeen = [];
    static readonly TimeSpan WorkerSeenWindow = TimeSpan.FromSeconds(10);

    public Task Open(RunSpec spec, ClusterCounters counters)
    {
        run = spec;
        finished = false;
        iteration = -1;
        states = new ShardState[spec.Shards];
        deadlines = new DateTime[spec.Shards];
        fragments = new Fragment?[spec.Shards];
        (accepted, duplicates, malformed, released, refused, acceptedSteps, maxLag) =
            (counters.Accepted, counters.Duplicates, counters.Malformed, counters.Released, counters.Refused, counters.AcceptedEnvSteps, counters.MaxPolicyLag);
        return Task.CompletedTask;
    }

    public Task Publish(int next, Immutable<PolicyWeights> policy)
    {
        if (run is null) throw new InvalidOperationException("Open the run first");
        iteration = next;
        weights = policy;
        Array.Fill(states, ShardState.Pending);
        Array.Clear(fragments);
        return Task.CompletedTask;
    }

    public Task<Immutable<Fragment[]>?> TakeIteration(int wanted)
    {
        if (wanted != iteration || Array.IndexOf(states, ShardState.Pending) >= 0 || Array.IndexOf(states, ShardState.Leased) >= 0)
            return Task.FromResult<Immutable<Fragment[]>?>(null);
        Fragment[] all = fragments.Select(f => f!).ToArray();
        return Task.FromResult<Immutable<Fragment[]>?>(new Immutable<Fragment[]>(all));
    }

    public Task Finish()
    {
        finished = true;
        return Task.CompletedTask;
    }

    public Task<ClusterCounters> Counters()
    {
        DateTime now = DateTime.UtcNow;
        int workers = lastSeen.Count(w => now - w.Value < WorkerSeenWindow);
        return Task.FromResult(new ClusterCounters(accepted, duplicates, malformed, released, refused, workers, acceptedSteps, maxLag));
    }

    public Task<JoinReply> Join(WorkerHello hello)
    {
        if (run is null) return Task.FromResult(new JoinReply(null, null)); // the learner is still starting: ask again
        string? refusal = null;
        if (hello.Protocol != run.Protocol)
            refusal = $"worker speaks cluster protocol {hello.Protocol}, the learner {run.Protocol}: run the same RoboRl version on every machine";
        else if (hello.Build != run.Build)
            refusal = $"worker build '{hello.Build}' differs from the learner's '{run.Build}': rollouts would not be the learner's simulator; run the same RoboRl build on every machine";
        else if (hello.TaskHash is { } hash && hash != run.TaskHash)
            refusal = $"worker's task (sha256 {hash[..12]}) is not the learner's task '{run.TaskName}' (sha256 {run.TaskHash[..12]})";
        if (refusal is not null)
        {
            refused++;
            return Task.FromResult(new JoinReply(null, refusal));
        }
        lastSeen[hello.WorkerId] = DateTime.UtcNow;
        return Task.FromResult(new JoinReply(run, null));
    }

    public Task<Lease?> AcquireLease(string workerId)
    {
        DateTime now = DateTime.UtcNow;
        lastSeen[workerId] = now;
        if (run is null) return Task.FromResult<Lease?>(null);
        if (finished) return Task.FromResult<Lease?>(new Lease(iteration, -1, -1, 0, Finished: true));
        if (iteration < 0) return Task.FromResult<Lease?>(null);
        int shard = Array.IndexOf(states, ShardState.Pending);
        if (shard < 0)
        {
            // A lease not completed in time belongs to a dead (or stalled) worker: hand it out again.
            for (int s = 0; s < states.Length && shard < 0; s++)
                if (states[s] == ShardState.Leased && deadlines[s] < now) shard = s;
            if (shard < 0) return Task.FromResult<Lease?>(null);
            released++;
        }
        states[shard] = ShardState.Leased;
        deadlines[shard] = now + TimeSpan.FromSeconds(run.LeaseTimeoutSeconds);
        return Task.FromResult<Lease?>(new Lease(iteration, shard, weights.Value.Version, ShardSeed(run, iteration, shard), Finished: false));
    }

    public Task<Immutable<PolicyWeights>?> GetPolicy(int version) =>
        Task.FromResult<Immutable<PolicyWeights>?>(iteration >= 0 && weights.Value?.Version == version ? weights : null);

    public Task<SubmitOutcome> Submit(Immutable<Fragment> submitted)
    {
        Fragment f = submitted.Value;
        lastSeen[f.WorkerId] = DateTime.UtcNow;
        if (run is null) return Task.FromResult(Count(SubmitOutcome.Malformed));
        // An earlier iteration, or a shard already in: a re-leased shard done twice. Dropped; its data was identical anyway.
        if (f.Iteration < iteration || (f.Iteration == iteration && f.Shard >= 0 && f.Shard < states.Length && states[f.Shard] == ShardState.Done))
            return Task.FromResult(Count(SubmitOutcome.Duplicate));
        if (f.Iteration != iteration || f.Shard < 0 || f.Shard >= states.Length || f.PolicyVersion != weights.Value.Version
            || FragmentCheck.WhyMalformed(f, run) is not null)
        {
            // Never let bad data into the update; the shard goes back to the queue.
            if (f.Iteration == iteration && f.Shard >= 0 && f.Shard < states.Length) states[f.Shard] = ShardState.Pending;
            return Task.FromResult(Count(SubmitOutcome.Malformed));
        }
        states[f.Shard] = ShardState.Done;
        fragments[f.Shard] = f;
        acceptedSteps += f.EnvSteps(run);
        maxLag = Math.Max(maxLag, weights.Value.Version - f.PolicyVersion);
        return Task.FromResult(Count(SubmitOutcome.Accepted));
    }

    SubmitOutcome Count(SubmitOutcome outcome)
    {
        switch (outcome)
        {
            case SubmitOutcome.Accepted: accepted++; break;
            case SubmitOutcome.Duplicate: duplicates++; break;
            default: malformed++; break;
        }
        return outcome;
    }

    /// <summary>The seed of a shard's rollout: a pure function of (run seed, iteration, shard), so a re-leased shard repeats it bit for bit.</summary>
    public static ulong ShardSeed(RunSpec run, int iteration, int shard) => ShardSeeds.Mix(run.TaskHash + run.PpoJson, iteration, shard);
}

/// <summary>Deterministic seeds for shards and updates (SplitMix64 finaliser over the inputs).</summary>
public static class ShardSeeds
{
    public static ulong Mix(ulong a, ulong b)
    {
        ulong z = a * 0x9E3779B97F4A7C15UL + b + 0x632BE59BD9B4E019UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public static ulong Mix(string runIdentity, int iteration, int shard)
    {
        ulong h = 1469598103934665603UL; // FNV-1a over the identity, then mixed with the indices
        foreach (char c in runIdentity) h = (h ^ c) * 1099511628211UL;
        return Mix(Mix(h, (ulong)iteration), (ulong)(uint)shard);
    }
}

/// <summary>Checks a fragment against its run's shapes and for non-finite values.</summary>
public static class FragmentCheck
{
    /// <summary>Null when <paramref name="f"/> fits <paramref name="run"/>; else what is wrong.</summary>
    public static string? WhyMalformed(Fragment f, RunSpec run)
    {
        if (f.Iteration == 0)
        {
            if (f.StatisticsCount != (long)run.EnvsPerShard * run.WarmupStepsPerShard) return $"warm-up count {f.StatisticsCount}, expected {(long)run.EnvsPerShard * run.WarmupStepsPerShard}";
            if (f.ActorStatistics?.Length != 2 * run.ObservationSize || f.CriticStatistics?.Length != 2 * run.CriticObservationSize) return "statistics of the wrong size";
            if (!AllFinite(f.ActorStatistics) || !AllFinite(f.CriticStatistics)) return "non-finite statistics";
            return null;
        }
        int rows = run.EnvsPerShard * run.StepsPerShard;
        if (f.Observations?.Length != rows * run.ObservationSize) return "observations of the wrong size";
        if (f.CriticObservations?.Length != rows * run.CriticObservationSize) return "critic observations of the wrong size";
        if (f.Actions?.Length != rows * run.ActionSize) return "actions of the wrong size";
        if (f.LogProbs?.Length != rows || f.Values?.Length != rows || f.Rewards?.Length != rows || f.EpisodeEnds?.Length != rows) return "per-step arrays of the wrong size";
        if (f.NextValues?.Length != run.EnvsPerShard) return "next values of the wrong size";
        if (f.EpisodeReturns is null || f.EpisodeLengths is null || f.EpisodeReturns.Length != f.EpisodeLengths.Length) return "episode statistics of different sizes";
        if (!AllFinite(f.Observations) || !AllFinite(f.CriticObservations) || !AllFinite(f.Actions) || !AllFinite(f.LogProbs)
            || !AllFinite(f.Values) || !AllFinite(f.Rewards) || !AllFinite(f.NextValues)) return "non-finite values";
        return null;
    }

    static bool AllFinite(float[] values)
    {
        foreach (float v in values) if (!float.IsFinite(v)) return false;
        return true;
    }

    static bool AllFinite(double[] values)
    {
        foreach (double v in values) if (!double.IsFinite(v)) return false;
        return true;
    }
}
