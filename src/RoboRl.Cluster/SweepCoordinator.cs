using Orleans.Concurrency;

namespace RoboRl.Cluster;

/// <summary>What a sweep is, as its host publishes it to workers: enough to refuse a worker of another build.</summary>
[GenerateSerializer, Immutable]
public sealed record SweepSpec(
    [property: Id(0)] int Protocol,
    [property: Id(1)] string Build,
    [property: Id(2)] string Name,
    [property: Id(3)] double LeaseTimeoutSeconds);

/// <summary>The sweep host's answer to a worker: the sweep, null when no sweep is open (a training run may be), or a refusal.</summary>
[GenerateSerializer, Immutable]
public sealed record SweepJoinReply([property: Id(0)] SweepSpec? Spec, [property: Id(1)] string? Refusal);

/// <summary>
/// One unit of sweep work on the wire: a whole trial, or a PBT segment with the checkpoint it continues from (its bytes:
/// workers need no shared directory). The task and robot JSON are self-contained.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record SweepWorkItem(
    [property: Id(0)] string Id,
    [property: Id(1)] string RunDir,
    [property: Id(2)] string TaskJson,
    [property: Id(3)] string RobotJson,
    [property: Id(4)] int Seed,
    [property: Id(5)] long? StopAtEnvSteps,
    [property: Id(6)] bool Resume,
    [property: Id(7)] byte[]? Checkpoint);

/// <summary>A worker's lease: an item to run (with its attempt number), nothing yet (null item), or the sweep is over.</summary>
[GenerateSerializer, Immutable]
public sealed record SweepLease(
    [property: Id(0)] SweepWorkItem? Item,
    [property: Id(1)] int Attempt,
    [property: Id(2)] bool Finished);

/// <summary>A file of a finished run directory (top level: bundle, progress.csv, training.json, plots, checkpoint).</summary>
[GenerateSerializer, Immutable]
public sealed record SweepFile([property: Id(0)] string Name, [property: Id(1)] byte[] Bytes);

/// <summary>A finished unit of work: its score and where it ran, and the run directory's files.</summary>
[GenerateSerializer, Immutable]
public sealed record SweepWorkDone(
    [property: Id(0)] string Id,
    [property: Id(1)] string WorkerId,
    [property: Id(2)] double SuccessRate,
    [property: Id(3)] double FailureRate,
    [property: Id(4)] double Cost,
    [property: Id(5)] long StartEnvSteps,
    [property: Id(6)] long EnvSteps,
    [property: Id(7)] double WallSeconds,
    [property: Id(8)] SweepFile[] Files);

/// <summary>The sweep coordinator's counters (never decrease).</summary>
[GenerateSerializer, Immutable]
public sealed record SweepCounters(
    [property: Id(0)] long Accepted,
    [property: Id(1)] long Duplicates,
    [property: Id(2)] long Released,
    [property: Id(3)] long Refused,
    [property: Id(4)] int Workers,
    [property: Id(5)] int Pending,
    [property: Id(6)] int Leased);

/// <summary>
/// A sweep's bookkeeping on the cluster, one grain in the sweep host's silo: the queued work items, a lease per item
/// (renewed by its worker while it trains; one not renewed within the lease timeout is handed out again), the results
/// until the host takes them, and the counters. Every method is a short turn; trainings run on the workers' threads.
/// </summary>
public interface ISweepCoordinator : IGrainWithStringKey
{
    // ---- the host
    Task Open(SweepSpec spec);
    Task Add(Immutable<SweepWorkItem[]> items);
    /// <summary>The results accepted since the last call (each item's first result only).</summary>
    Task<Immutable<SweepWorkDone[]>> TakeResults();
    Task Finish();
    Task<SweepCounters> Counters();

    // ---- workers
    /// <summary>The sweep, or null when no sweep is open (a training run may be), or a refusal.</summary>
    Task<SweepJoinReply> Join(WorkerHello hello);
    Task<SweepLease> AcquireLease(string workerId);
    /// <summary>Extends the lease of <paramref name="itemId"/> held by <paramref name="workerId"/>; false when it is no longer theirs.</summary>
    Task<bool> Renew(string itemId, string workerId);
    Task<SubmitOutcome> Submit(Immutable<SweepWorkDone> done);
}

public sealed class SweepCoordinatorGrain : Grain, ISweepCoordinator
{
    public const string Key = "sweep";

    enum ItemState : byte { Pending, Leased, Done }

    sealed class Entry(SweepWorkItem item)
    {
        public SweepWorkItem Item { get; } = item;
        public ItemState State { get; set; }
        public DateTime Deadline { get; set; }
        public string? Worker { get; set; }
        public int Attempts { get; set; }
    }

    SweepSpec? _spec;
    bool _finished;
    // Insertion order is the order items are handed out (trials in sweep order).
    readonly List<Entry> _entries = [];
    readonly Dictionary<string, Entry> _byId = [];
    readonly List<SweepWorkDone> _results = [];
    long _accepted, _duplicates, _released, _refused;
    readonly Dictionary<string, DateTime> _lastSeen = [];
    static readonly TimeSpan WorkerSeenWindow = TimeSpan.FromSeconds(10);

    public Task Open(SweepSpec sweep)
    {
        _spec = sweep;
        _finished = false;
        return Task.CompletedTask;
    }

    public Task Add(Immutable<SweepWorkItem[]> items)
    {
        foreach (SweepWorkItem item in items.Value)
        {
            // A resumed generation may queue an id again (its earlier attempt never finished): it is work again.
            if (_byId.TryGetValue(item.Id, out Entry? old)) _entries.Remove(old);
            var entry = new Entry(item);
            _entries.Add(entry);
            _byId[item.Id] = entry;
        }
        return Task.CompletedTask;
    }

    public Task<Immutable<SweepWorkDone[]>> TakeResults()
    {
        SweepWorkDone[] taken = [.. _results];
        _results.Clear();
        return Task.FromResult(new Immutable<SweepWorkDone[]>(taken));
    }

    public Task Finish()
    {
        _finished = true;
        return Task.CompletedTask;
    }

    public Task<SweepCounters> Counters()
    {
        DateTime now = DateTime.UtcNow;
        return Task.FromResult(new SweepCounters(_accepted, _duplicates, _released, _refused, _lastSeen.Count(w => now - w.Value < WorkerSeenWindow),
            _entries.Count(e => e.State == ItemState.Pending), _entries.Count(e => e.State == ItemState.Leased)));
    }

    public Task<SweepJoinReply> Join(WorkerHello hello)
    {
        if (_spec is null) return Task.FromResult(new SweepJoinReply(null, null));
        string? refusal = null;
        if (hello.Protocol != _spec.Protocol)
            refusal = $"worker speaks cluster protocol {hello.Protocol}, the sweep host {_spec.Protocol}: run the same RoboRl version on every machine";
        else if (hello.Build != _spec.Build)
            refusal = $"worker build '{hello.Build}' differs from the sweep host's '{_spec.Build}': run the same RoboRl build on every machine";
        else if (hello.TaskHash is not null)
            refusal = $"this cluster runs sweep '{_spec.Name}' (many task variants); --task only applies to a training run";
        if (refusal is not null)
        {
            _refused++;
            return Task.FromResult(new SweepJoinReply(null, refusal));
        }
        _lastSeen[hello.WorkerId] = DateTime.UtcNow;
        return Task.FromResult(new SweepJoinReply(_spec, null));
    }

    public Task<SweepLease> AcquireLease(string workerId)
    {
        DateTime now = DateTime.UtcNow;
        _lastSeen[workerId] = now;
        if (_finished) return Task.FromResult(new SweepLease(null, 0, Finished: true));
        if (_spec is null) return Task.FromResult(new SweepLease(null, 0, false));
        Entry? entry = _entries.FirstOrDefault(e => e.State == ItemState.Pending);
        if (entry is null)
        {
            // A lease its worker stopped renewing belongs to a dead (or stalled) worker: hand it out again.
            entry = _entries.FirstOrDefault(e => e.State == ItemState.Leased && e.Deadline < now);
            if (entry is null) return Task.FromResult(new SweepLease(null, 0, false));
            _released++;
        }
        entry.State = ItemState.Leased;
        entry.Worker = workerId;
        entry.Deadline = now + TimeSpan.FromSeconds(_spec.LeaseTimeoutSeconds);
        entry.Attempts++;
        return Task.FromResult(new SweepLease(entry.Item, entry.Attempts, false));
    }

    public Task<bool> Renew(string itemId, string workerId)
    {
        DateTime now = DateTime.UtcNow;
        _lastSeen[workerId] = now;
        if (_spec is null || !_byId.TryGetValue(itemId, out Entry? entry) || entry.State != ItemState.Leased || entry.Worker != workerId)
            return Task.FromResult(false);
        entry.Deadline = now + TimeSpan.FromSeconds(_spec.LeaseTimeoutSeconds);
        return Task.FromResult(true);
    }

    public Task<SubmitOutcome> Submit(Immutable<SweepWorkDone> submitted)
    {
        SweepWorkDone done = submitted.Value;
        _lastSeen[done.WorkerId] = DateTime.UtcNow;
        if (!_byId.TryGetValue(done.Id, out Entry? entry))
        {
            _duplicates++; // an item of an earlier sweep (or an unknown id): nothing to accept it for
            return Task.FromResult(SubmitOutcome.Malformed);
        }
        // The first result of an item counts; a re-leased item finished twice is dropped and counted.
        if (entry.State == ItemState.Done)
        {
            _duplicates++;
            return Task.FromResult(SubmitOutcome.Duplicate);
        }
        if (!double.IsFinite(done.SuccessRate) || done.Files is null)
        {
            entry.State = ItemState.Pending;
            return Task.FromResult(SubmitOutcome.Malformed);
        }
        entry.State = ItemState.Done;
        _results.Add(done);
        _accepted++;
        return Task.FromResult(SubmitOutcome.Accepted);
    }
}
