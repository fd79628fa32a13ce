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
    /// <summary>
    /// <see cref="AcquireLease"/>, but when nothing is to be had (the learner is updating) the call waits up to
    /// <paramref name="waitMilliseconds"/> (at most 1 000) for the next publish or the run's end instead of returning
    /// null at once: a waiting worker starts the next iteration as soon as it is published, without polling the silo.
    /// Interleaved: a waiting call does not hold up the grain's other calls.
    /// </summary>
    [AlwaysInterleave]
    Task<Lease?> WaitForLease(string workerId, int waitMilliseconds);
    /// <summary>The weights of <paramref name="version"/>, or null when it is no longer (or not yet) the current one.</summary>
    Task<Immutable<PolicyWeights>?> GetPolicy(int version);
    Task<SubmitOutcome> Submit(Immutable<Fragment> fragment);
}

/// <summary>Wire protocol of the cluster messages; a worker speaking another one is refused.</summary>
public static class ClusterProtocol
{
    /// <summary>2: swarm tasks (<see cref="RunSpec.Files"/>); a version-1 worker could not build their environments.
    /// 3: TD3 on hover tasks (transitions, environment snapshots); a version-2 worker would run them as PPO shards.</summary>
    public const int Version = 3;
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

    RunSpec? _run;
    bool _finished;
    int _iteration = -1;
    Immutable<PolicyWeights> _weights;
    ShardState[] _states = [];
    DateTime[] _deadlines = [];
    Fragment?[] _fragments = [];
    long _accepted, _duplicates, _malformed, _released, _refused, _acceptedSteps;
    int _maxLag;
    readonly Dictionary<string, DateTime> _lastSeen = [];
    // Completed (and replaced) by Publish and Finish: what a waiting WaitForLease waits for.
    TaskCompletionSource _published = new(TaskCreationOptions.RunContinuationsAsynchronously);
    static readonly TimeSpan WorkerSeenWindow = TimeSpan.FromSeconds(10);

    public Task Open(RunSpec spec, ClusterCounters counters)
    {
        _run = spec;
        _finished = false;
        _iteration = -1;
        _states = new ShardState[spec.Shards];
        _deadlines = new DateTime[spec.Shards];
        _fragments = new Fragment?[spec.Shards];
        (_accepted, _duplicates, _malformed, _released, _refused, _acceptedSteps, _maxLag) =
            (counters.Accepted, counters.Duplicates, counters.Malformed, counters.Released, counters.Refused, counters.AcceptedEnvSteps, counters.MaxPolicyLag);
        return Task.CompletedTask;
    }

    public Task Publish(int next, Immutable<PolicyWeights> policy)
    {
        if (_run is null) throw new InvalidOperationException("Open the run first");
        _iteration = next;
        _weights = policy;
        Array.Fill(_states, ShardState.Pending);
        Array.Clear(_fragments);
        WakeWaiters();
        return Task.CompletedTask;
    }

    void WakeWaiters()
    {
        TaskCompletionSource published = _published;
        _published = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        published.TrySetResult();
    }

    public Task<Immutable<Fragment[]>?> TakeIteration(int wanted)
    {
        if (wanted != _iteration || Array.IndexOf(_states, ShardState.Pending) >= 0 || Array.IndexOf(_states, ShardState.Leased) >= 0)
            return Task.FromResult<Immutable<Fragment[]>?>(null);
        Fragment[] all = _fragments.Select(f => f!).ToArray();
        return Task.FromResult<Immutable<Fragment[]>?>(new Immutable<Fragment[]>(all));
    }

    public Task Finish()
    {
        _finished = true;
        WakeWaiters();
        return Task.CompletedTask;
    }

    public Task<ClusterCounters> Counters()
    {
        DateTime now = DateTime.UtcNow;
        int workers = _lastSeen.Count(w => now - w.Value < WorkerSeenWindow);
        return Task.FromResult(new ClusterCounters(_accepted, _duplicates, _malformed, _released, _refused, workers, _acceptedSteps, _maxLag));
    }

    public Task<JoinReply> Join(WorkerHello hello)
    {
        if (_run is null) return Task.FromResult(new JoinReply(null, null)); // the learner is still starting: ask again
        string? refusal = null;
        if (hello.Protocol != _run.Protocol)
            refusal = $"worker speaks cluster protocol {hello.Protocol}, the learner {_run.Protocol}: run the same RoboRl version on every machine";
        else if (hello.Build != _run.Build)
            refusal = $"worker build '{hello.Build}' differs from the learner's '{_run.Build}': rollouts would not be the learner's simulator; run the same RoboRl build on every machine";
        else if (hello.TaskHash is { } hash && hash != _run.TaskHash)
            refusal = $"worker's task (sha256 {hash[..12]}) is not the learner's task '{_run.TaskName}' (sha256 {_run.TaskHash[..12]})";
        if (refusal is not null)
        {
            _refused++;
            return Task.FromResult(new JoinReply(null, refusal));
        }
        _lastSeen[hello.WorkerId] = DateTime.UtcNow;
        return Task.FromResult(new JoinReply(_run, null));
    }

    public Task<Lease?> AcquireLease(string workerId)
    {
        DateTime now = DateTime.UtcNow;
        _lastSeen[workerId] = now;
        if (_run is null) return Task.FromResult<Lease?>(null);
        if (_finished) return Task.FromResult<Lease?>(new Lease(_iteration, -1, -1, 0, Finished: true));
        if (_iteration < 0) return Task.FromResult<Lease?>(null);
        int shard = Array.IndexOf(_states, ShardState.Pending);
        if (shard < 0)
        {
            // A lease not completed in time belongs to a dead (or stalled) worker: hand it out again.
            for (int s = 0; s < _states.Length && shard < 0; s++)
                if (_states[s] == ShardState.Leased && _deadlines[s] < now) shard = s;
            if (shard < 0) return Task.FromResult<Lease?>(null);
            _released++;
        }
        _states[shard] = ShardState.Leased;
        _deadlines[shard] = now + TimeSpan.FromSeconds(_run.LeaseTimeoutSeconds);
        return Task.FromResult<Lease?>(new Lease(_iteration, shard, _weights.Value.Version, ShardSeed(_run, _iteration, shard), Finished: false));
    }

    public async Task<Lease?> WaitForLease(string workerId, int waitMilliseconds)
    {
        // Grain code runs one turn at a time: between the awaits nothing else touches the state.
        Lease? lease = await AcquireLease(workerId);
        if (lease is not null || waitMilliseconds <= 0) return lease;
        await Task.WhenAny(_published.Task, Task.Delay(Math.Min(waitMilliseconds, 1000)));
        return await AcquireLease(workerId);
    }

    public Task<Immutable<PolicyWeights>?> GetPolicy(int version) =>
        Task.FromResult<Immutable<PolicyWeights>?>(_iteration >= 0 && _weights.Value?.Version == version ? _weights : null);

    public Task<SubmitOutcome> Submit(Immutable<Fragment> submitted)
    {
        Fragment f = submitted.Value;
        _lastSeen[f.WorkerId] = DateTime.UtcNow;
        if (_run is null) return Task.FromResult(Count(SubmitOutcome.Malformed));
        // An earlier iteration, or a shard already in: a re-leased shard done twice. Dropped; its data was identical anyway.
        if (f.Iteration < _iteration || (f.Iteration == _iteration && f.Shard >= 0 && f.Shard < _states.Length && _states[f.Shard] == ShardState.Done))
            return Task.FromResult(Count(SubmitOutcome.Duplicate));
        if (f.Iteration != _iteration || f.Shard < 0 || f.Shard >= _states.Length || f.PolicyVersion != _weights.Value.Version
            || FragmentCheck.WhyMalformed(f, _run) is not null)
        {
            // Never let bad data into the update; the shard goes back to the queue.
            if (f.Iteration == _iteration && f.Shard >= 0 && f.Shard < _states.Length) _states[f.Shard] = ShardState.Pending;
            return Task.FromResult(Count(SubmitOutcome.Malformed));
        }
        _states[f.Shard] = ShardState.Done;
        _fragments[f.Shard] = f;
        _acceptedSteps += f.EnvSteps(_run);
        _maxLag = Math.Max(_maxLag, _weights.Value.Version - f.PolicyVersion);
        if (Array.IndexOf(_states, ShardState.Pending) < 0 && Array.IndexOf(_states, ShardState.Leased) < 0) IterationSignal.Pulse();
        return Task.FromResult(Count(SubmitOutcome.Accepted));
    }

    SubmitOutcome Count(SubmitOutcome outcome)
    {
        switch (outcome)
        {
            case SubmitOutcome.Accepted: _accepted++; break;
            case SubmitOutcome.Duplicate: _duplicates++; break;
            default: _malformed++; break;
        }
        return outcome;
    }

    /// <summary>The seed of a shard's rollout: a pure function of (run seed, iteration, shard), so a re-leased shard repeats it bit for bit.</summary>
    public static ulong ShardSeed(RunSpec run, int iteration, int shard) => ShardSeeds.Mix(run.TaskHash + run.PpoJson, iteration, shard);
}

/// <summary>
/// Wakes the learner's training thread when an iteration's last shard is accepted. The coordinator grain lives in the
/// learner's own silo (the same process), so the learner waits on this instead of asking the grain every few
/// milliseconds: a 2 ms poll cost the learner about a third of a core while the workers simulated, on the cores they
/// share. A pulse from another run's grain in the same process (tests) only wakes the learner early; it asks the grain
/// in any case, and the wait is bounded.
/// </summary>
public static class IterationSignal
{
    static readonly object Gate = new();
    static long _pulses;

    /// <summary>How many pulses so far: read it before asking the grain, then <see cref="Wait"/> for a later one.</summary>
    public static long Pulses
    {
        get { lock (Gate) return _pulses; }
    }

    public static void Pulse()
    {
        lock (Gate)
        {
            _pulses++;
            Monitor.PulseAll(Gate);
        }
    }

    /// <summary>Returns after a pulse later than <paramref name="seen"/>, or after <paramref name="timeout"/>.</summary>
    public static void Wait(long seen, TimeSpan timeout)
    {
        lock (Gate)
            if (_pulses == seen) Monitor.Wait(Gate, timeout);
    }
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
        if (f.IsWarmup(run))
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
        if (run.Algorithm != "ppo")
        {
            if (f.NextObservations?.Length != rows * run.ObservationSize || f.NextCriticObservations?.Length != rows * run.CriticObservationSize)
                return "next observations of the wrong size";
            if (f.Rewards?.Length != rows || f.EpisodeEnds?.Length != rows || f.Terminated?.Length != rows) return "per-step arrays of the wrong size";
            if (f.EpisodeReturns is null || f.EpisodeLengths is null || f.EpisodeReturns.Length != f.EpisodeLengths.Length) return "episode statistics of different sizes";
            for (int k = 0; k < rows; k++) if (f.Terminated[k] && !f.EpisodeEnds[k]) return "a step that terminated but did not end its episode";
            if (f.FinalState?.Length != run.StateBytes) return $"an environment state of {f.FinalState?.Length} bytes, expected {run.StateBytes}";
            if (!AllFinite(f.Observations) || !AllFinite(f.CriticObservations) || !AllFinite(f.Actions) || !AllFinite(f.Rewards)
                || !AllFinite(f.NextObservations) || !AllFinite(f.NextCriticObservations)) return "non-finite values";
            return null;
        }
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
