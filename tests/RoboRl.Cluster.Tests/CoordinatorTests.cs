using Orleans.Concurrency;
using Orleans.TestingHost;
using RoboRl.Cluster;

namespace RoboRl.Cluster.Tests;

/// <summary>The coordinator grain's rules on a real in-process Orleans silo: leases, duplicates, malformed fragments, refusals, counters.</summary>
[NonParallelizable]
public class CoordinatorTests
{
    InProcessTestCluster _cluster = null!;

    [OneTimeSetUp]
    public async Task StartSilo()
    {
        _cluster = new InProcessTestClusterBuilder(1).Build();
        await _cluster.DeployAsync();
    }

    [OneTimeTearDown]
    public async Task StopSilo()
    {
        await _cluster.StopAllSilosAsync();
        await _cluster.DisposeAsync();
    }

    internal static RunSpec Spec(double leaseTimeout = 30) => new(ClusterProtocol.Version, ClusterProtocol.Build, "test.json", "{}", "{}",
        new string('a', 64), "{}", Shards: 3, EnvsPerShard: 2, StepsPerShard: 4, WarmupStepsPerShard: 2, ObservationSize: 3, CriticObservationSize: 3,
        ActionSize: 2, Iterations: 5, LeaseTimeoutSeconds: leaseTimeout);

    internal static Fragment Good(RunSpec run, Lease lease, string worker = "w")
    {
        int rows = run.EnvsPerShard * run.StepsPerShard;
        return new Fragment(lease.Iteration, lease.Shard, lease.PolicyVersion, worker, new float[rows * run.ObservationSize],
            new float[rows * run.CriticObservationSize], new float[rows * run.ActionSize], new float[rows], new float[rows], new float[rows],
            new bool[rows], new float[run.EnvsPerShard], [1.5f], [10], 0, [], []);
    }

    static PolicyWeights Policy(int version) => new(version, [3, 2], new float[8], [3, 1], new float[4], [0, 0], new float[3], [1, 1, 1], new float[3], [1, 1, 1]);

    async Task<IRolloutCoordinator> Open(RunSpec run, int iteration = 1)
    {
        var coordinator = _cluster.Client.GetGrain<IRolloutCoordinator>(Guid.NewGuid().ToString());
        await coordinator.Open(run, new ClusterCounters(0, 0, 0, 0, 0, 0, 0, 0));
        await coordinator.Publish(iteration, new Immutable<PolicyWeights>(Policy(iteration)));
        return coordinator;
    }

    [Test]
    public async Task EveryShardIsAcceptedOnceAndADuplicateIsDroppedAndCounted()
    {
        RunSpec run = Spec();
        var coordinator = await Open(run);
        var leases = new List<Lease>();
        for (int s = 0; s < run.Shards; s++) leases.Add((await coordinator.AcquireLease("w1"))!);
        Assert.That(leases.Select(l => l.Shard), Is.EquivalentTo(new[] { 0, 1, 2 }));
        Assert.That(await coordinator.AcquireLease("w1"), Is.Null, "every shard is leased; nothing to hand out");
        Assert.That(await coordinator.TakeIteration(1), Is.Null, "no shard is in yet");

        Assert.That(await coordinator.Submit(new(Good(run, leases[0]))), Is.EqualTo(SubmitOutcome.Accepted));
        Assert.That(await coordinator.Submit(new(Good(run, leases[0], "w2"))), Is.EqualTo(SubmitOutcome.Duplicate));
        Assert.That(await coordinator.Submit(new(Good(run, leases[1]))), Is.EqualTo(SubmitOutcome.Accepted));
        Assert.That(await coordinator.TakeIteration(1), Is.Null, "shard 2 is still out");
        Assert.That(await coordinator.Submit(new(Good(run, leases[2]))), Is.EqualTo(SubmitOutcome.Accepted));

        Fragment[] all = (await coordinator.TakeIteration(1))!.Value.Value;
        Assert.That(all.Select(f => f.Shard), Is.EqualTo(new[] { 0, 1, 2 }), "one fragment per shard, in shard order");
        Assert.That(all[0].WorkerId, Is.EqualTo("w"), "the first submission counts; the duplicate was dropped");
        ClusterCounters counters = await coordinator.Counters();
        Assert.That((counters.Accepted, counters.Duplicates, counters.Malformed), Is.EqualTo((3L, 1L, 0L)));
        Assert.That(counters.AcceptedEnvSteps, Is.EqualTo(3L * run.EnvsPerShard * run.StepsPerShard));

        // A fragment of the finished iteration arriving after the learner moved on: a duplicate too.
        await coordinator.Publish(2, new Immutable<PolicyWeights>(Policy(2)));
        Assert.That(await coordinator.Submit(new(Good(run, leases[2]))), Is.EqualTo(SubmitOutcome.Duplicate));
        Assert.That((await coordinator.Counters()).Duplicates, Is.EqualTo(2));
    }

    [Test]
    public async Task ALeaseNotCompletedInTimeIsHandedOutAgain()
    {
        RunSpec run = Spec(leaseTimeout: 0.3);
        var coordinator = await Open(run);
        Lease dead = (await coordinator.AcquireLease("dead"))!;
        await coordinator.AcquireLease("alive");
        await coordinator.AcquireLease("alive");
        Assert.That(await coordinator.AcquireLease("alive"), Is.Null, "the dead worker's lease has not expired yet");
        await Task.Delay(400);
        Lease again = (await coordinator.AcquireLease("alive"))!;
        Assert.That((again.Iteration, again.Shard, again.PolicyVersion, again.Seed), Is.EqualTo((dead.Iteration, dead.Shard, dead.PolicyVersion, dead.Seed)),
            "the same work item (same seed: the same data)");
        Assert.That((await coordinator.Counters()).Released, Is.EqualTo(1));
    }

    [Test]
    public async Task AMalformedFragmentIsDroppedCountedAndItsShardHandedOutAgain()
    {
        RunSpec run = Spec();
        var coordinator = await Open(run);
        Lease lease = (await coordinator.AcquireLease("w"))!;
        Fragment good = Good(run, lease);
        Fragment[] bad =
        [
            good with { Observations = new float[5] },
            good with { Rewards = [.. good.Rewards[..^1], float.NaN] },
            good with { PolicyVersion = lease.PolicyVersion + 7 },
            good with { Shard = 99 },
            good with { Iteration = 4 },
            good with { EpisodeReturns = [1, 2] },
        ];
        foreach (Fragment f in bad) Assert.That(await coordinator.Submit(new(f)), Is.EqualTo(SubmitOutcome.Malformed));
        Assert.That((await coordinator.Counters()).Malformed, Is.EqualTo(bad.Length));
        Lease reissued = (await coordinator.AcquireLease("other"))!;
        Assert.That(reissued.Shard, Is.EqualTo(lease.Shard), "the shard whose fragment was malformed is the first handed out again");
        Assert.That(await coordinator.Submit(new(good)), Is.EqualTo(SubmitOutcome.Accepted), "the coordinator goes on after bad input");
    }

    [Test]
    public async Task AWorkerOfAnotherProtocolBuildOrTaskIsRefusedWithTheReason()
    {
        RunSpec run = Spec();
        var coordinator = await Open(run);
        JoinReply ok = await coordinator.Join(new WorkerHello("w", ClusterProtocol.Version, ClusterProtocol.Build, run.TaskHash));
        Assert.That((ok.Refusal, ok.Run?.TaskHash), Is.EqualTo(((string?)null, run.TaskHash)));

        string? protocol = (await coordinator.Join(new WorkerHello("w", ClusterProtocol.Version + 1, ClusterProtocol.Build, null))).Refusal;
        string? build = (await coordinator.Join(new WorkerHello("w", ClusterProtocol.Version, "0.0.0-other", null))).Refusal;
        string? task = (await coordinator.Join(new WorkerHello("w", ClusterProtocol.Version, ClusterProtocol.Build, new string('b', 64)))).Refusal;
        Assert.That(protocol, Does.Contain("protocol").And.Contain((ClusterProtocol.Version + 1).ToString()));
        Assert.That(build, Does.Contain("0.0.0-other"));
        Assert.That(task, Does.Contain("test.json").And.Contain("bbbbbbbbbbbb"));
        Assert.That((await coordinator.Counters()).Refused, Is.EqualTo(3));
    }

    [Test]
    public async Task CountersNeverGoBackAndAreRestoredOnReopen()
    {
        RunSpec run = Spec();
        var coordinator = await Open(run);
        var seen = new List<ClusterCounters>();
        for (int iteration = 1; iteration <= 3; iteration++)
        {
            await coordinator.Publish(iteration, new Immutable<PolicyWeights>(Policy(iteration)));
            for (int s = 0; s < run.Shards; s++)
            {
                Lease lease = (await coordinator.AcquireLease("w"))!;
                await coordinator.Submit(new(Good(run, lease)));
                await coordinator.Submit(new(Good(run, lease)));
                seen.Add(await coordinator.Counters());
            }
            await coordinator.TakeIteration(iteration);
        }
        for (int k = 1; k < seen.Count; k++)
        {
            Assert.That(seen[k].Accepted, Is.GreaterThan(seen[k - 1].Accepted));
            Assert.That(seen[k].Duplicates, Is.GreaterThan(seen[k - 1].Duplicates));
            Assert.That(seen[k].AcceptedEnvSteps, Is.GreaterThan(seen[k - 1].AcceptedEnvSteps));
        }
        // A learner resuming from its checkpoint reopens with the counters it saved: they continue, never restart at 0.
        ClusterCounters last = seen[^1];
        await coordinator.Open(run, last);
        ClusterCounters reopened = await coordinator.Counters();
        Assert.That((reopened.Accepted, reopened.Duplicates, reopened.AcceptedEnvSteps), Is.EqualTo((last.Accepted, last.Duplicates, last.AcceptedEnvSteps)));
    }

    [Test]
    public async Task AWaitingWorkerGetsTheNextIterationsLeaseWhenItIsPublishedAndTheSignalTellsTheLearner()
    {
        RunSpec run = Spec();
        var coordinator = await Open(run);
        var leases = new List<Lease>();
        for (int s = 0; s < run.Shards; s++) leases.Add((await coordinator.WaitForLease("w", 5000))!);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.That(await coordinator.WaitForLease("w", 200), Is.Null, "every shard is leased: null after the wait");
        Assert.That(clock.Elapsed.TotalMilliseconds, Is.GreaterThan(150), "it waited");

        // While one call waits, the grain takes the other calls: the submissions, then the publish that wakes it.
        Task<Lease?> waiting = coordinator.WaitForLease("w2", 1000); // the longest wait the grain grants
        long pulses = IterationSignal.Pulses;
        foreach (Lease lease in leases) Assert.That(await coordinator.Submit(new(Good(run, lease))), Is.EqualTo(SubmitOutcome.Accepted));
        Assert.That(IterationSignal.Pulses, Is.GreaterThan(pulses), "the last shard in pulses the learner's signal");
        Assert.That(await coordinator.TakeIteration(1), Is.Not.Null);
        Assert.That(waiting.IsCompleted, Is.False, "nothing published yet");
        clock.Restart();
        await coordinator.Publish(2, new Immutable<PolicyWeights>(Policy(2)));
        Lease? next = await waiting;
        Assert.That(next, Is.Not.Null);
        Assert.That((next!.Iteration, next.PolicyVersion), Is.EqualTo((2, 2)));
        Assert.That(clock.Elapsed.TotalMilliseconds, Is.LessThan(900), "woken by the publish, not by the end of its wait");

        await coordinator.Finish();
        Assert.That((await coordinator.WaitForLease("w", 1000))!.Finished, Is.True);
    }

    /// <summary>TD3's transitions: a good one is accepted (iteration 0 included: no warm-up statistics there); one without
    /// its next observations, with a snapshot of the wrong size or a termination that did not end its episode is dropped,
    /// counted and its shard handed out again.</summary>
    [Test]
    public async Task AnOffPolicyFragmentIsCheckedForItsTransitionsAndItsSnapshot()
    {
        RunSpec run = Spec() with { Algorithm = "td3", RandomIterations = 1, WarmupStepsPerShard = 0, StateBytes = 16 };
        int rows = run.EnvsPerShard * run.StepsPerShard;
        Fragment Transitions(Lease lease) => Good(run, lease) with
        {
            LogProbs = [],
            Values = [],
            NextValues = [],
            NextObservations = new float[rows * run.ObservationSize],
            NextCriticObservations = new float[rows * run.CriticObservationSize],
            Terminated = new bool[rows],
            FinalState = new byte[run.StateBytes],
        };
        var coordinator = await Open(run, iteration: 0);
        Lease lease = (await coordinator.AcquireLease("w"))!;
        Assert.That(lease.Iteration, Is.Zero);
        var terminatedNotEnded = new bool[rows];
        terminatedNotEnded[3] = true;
        Fragment[] bad =
        [
            Transitions(lease) with { NextObservations = [] },
            Transitions(lease) with { FinalState = new byte[run.StateBytes + 4] },
            Transitions(lease) with { Terminated = terminatedNotEnded },
            Transitions(lease) with { Rewards = [.. Enumerable.Repeat(float.NaN, rows)] },
        ];
        foreach (Fragment f in bad)
        {
            Assert.That(await coordinator.Submit(new(f)), Is.EqualTo(SubmitOutcome.Malformed), FragmentCheck.WhyMalformed(f, run));
            lease = (await coordinator.AcquireLease("w"))!;
            Assert.That(lease.Shard, Is.EqualTo(bad[0].Shard), "the shard of a malformed fragment is handed out again at once");
        }
        Assert.That(await coordinator.Submit(new(Transitions(lease))), Is.EqualTo(SubmitOutcome.Accepted));
        ClusterCounters counters = await coordinator.Counters();
        Assert.That((counters.Accepted, counters.Malformed), Is.EqualTo((1L, (long)bad.Length)));
        Assert.That(counters.AcceptedEnvSteps, Is.EqualTo(rows), "an off-policy iteration 0 is transitions, not warm-up statistics");
    }

    [Test]
    public async Task AFinishedRunTellsWorkersToStop()
    {
        var coordinator = await Open(Spec());
        await coordinator.Finish();
        Assert.That((await coordinator.AcquireLease("w"))!.Finished, Is.True);
    }
}
