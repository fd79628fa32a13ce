using RoboRl.Cluster;
using RoboRl.Core.Swarm;
using RoboRl.Core.Tasks;
using RoboRl.Sims.DiffDrive;
using RoboRl.Training;

namespace RoboRl.Cluster.Tests;

/// <summary>A shard's rollout is a pure function of (weights, iteration, shard, seed): what makes a re-leased shard harmless.</summary>
public class RolloutTests
{
    [Test]
    public void TheSameLeaseGivesBitIdenticalDataOnAnotherWorkerAndAnotherLeaseDoesNot()
    {
        NavTaskConfig task = NavTaskConfig.Load(Path.Combine(TestTask.RepoRoot, "configs/tasks/diffbot-nav.json"));
        var config = new PpoConfig { Run = new RunConfig { NumEnvs = 4 }, NumSteps = 16, NormalizerWarmupEnvSteps = 8 };
        using var probe = new NavEnv(task, 1, 1);
        int obs = probe.ActorObservationSize, critic = probe.CriticObservationSize, act = probe.ActionSize;
        var run = CoordinatorTests.Spec() with
        {
            EnvsPerShard = 2,
            StepsPerShard = 16,
            WarmupStepsPerShard = 4,
            ObservationSize = obs,
            CriticObservationSize = critic,
            ActionSize = act,
        };
        PolicyWeights policy = SeededPolicy(5, obs, critic, act);
        var lease = new Lease(3, 1, 3, RolloutCoordinatorGrain.ShardSeed(run, 3, 1), false);

        using var workerA = new ShardRollout(run, config, new NavEnv(task, 2, 1));
        using var workerB = new ShardRollout(run, config, new NavEnv(task, 2, 1));
        workerB.Run(lease with { Shard = 0, Seed = RolloutCoordinatorGrain.ShardSeed(run, 3, 0) }, policy, "b"); // B did other work before
        Fragment a = workerA.Run(lease, policy, "a"), b = workerB.Run(lease, policy, "b");
        Assert.That(FragmentCheck.WhyMalformed(a, run), Is.Null);
        AssertSameData(a, b);

        Fragment other = workerA.Run(lease with { Shard = 2, Seed = RolloutCoordinatorGrain.ShardSeed(run, 3, 2) }, policy, "a");
        Assert.That(other.Observations, Is.Not.EqualTo(a.Observations), "another shard's seed gives other scenarios");

        // The warm-up shard returns statistics of as many observations as its lease covers.
        Fragment warmup = workerA.Run(new Lease(0, 0, 0, RolloutCoordinatorGrain.ShardSeed(run, 0, 0), false), null, "a");
        Assert.That(FragmentCheck.WhyMalformed(warmup, run), Is.Null);
        Assert.That(warmup.StatisticsCount, Is.EqualTo(run.EnvsPerShard * run.WarmupStepsPerShard));
    }

    /// <summary>The same for a swarm shard (one environment of 8 quads = 8 rows): SwarmEnv's seeded reset, contacts and
    /// domain randomisation included.</summary>
    [Test]
    public void ASwarmShardIsAPureFunctionOfItsLease()
    {
        SwarmTaskConfig task = SwarmTaskConfig.Load(Path.Combine(TestTask.RepoRoot, "configs/swarm/crazyflie-swarm8-open.json"));
        var config = new PpoConfig { Run = new RunConfig { NumEnvs = 2 }, NumSteps = 8, NormalizerWarmupEnvSteps = 16 };
        int obs = task.ObservationSize, act = 4;
        var run = CoordinatorTests.Spec() with
        {
            Shards = 2,
            EnvsPerShard = task.Quads,
            StepsPerShard = 8,
            WarmupStepsPerShard = 1,
            ObservationSize = obs,
            CriticObservationSize = obs,
            ActionSize = act,
        };
        PolicyWeights policy = SeededPolicy(7, obs, obs, act);
        var lease = new Lease(3, 1, 3, RolloutCoordinatorGrain.ShardSeed(run, 3, 1), false);

        using ShardRollout workerA = ClusterWorker.SwarmRollout(run, config, task), workerB = ClusterWorker.SwarmRollout(run, config, task);
        workerB.Run(lease with { Iteration = 2, PolicyVersion = 2, Shard = 0, Seed = RolloutCoordinatorGrain.ShardSeed(run, 2, 0) }, policy, "b");
        Fragment a = workerA.Run(lease, policy, "a"), b = workerB.Run(lease, policy, "b");
        Assert.That(FragmentCheck.WhyMalformed(a, run), Is.Null);
        AssertSameData(a, b);
        Fragment other = workerA.Run(lease with { Shard = 0, Seed = RolloutCoordinatorGrain.ShardSeed(run, 3, 0) }, policy, "a");
        Assert.That(other.Observations, Is.Not.EqualTo(a.Observations), "another shard's seed gives other scenarios");
    }

    /// <summary>A policy of version 3 with non-trivial (seeded) weights and one hidden layer of 8, as the learner would publish it.</summary>
    static PolicyWeights SeededPolicy(ulong seed, int obs, int critic, int act)
    {
        var random = new SeededRandom(seed);
        float[] Random(int count) => Enumerable.Range(0, count).Select(_ => 0.3f * random.NextNormal()).ToArray();
        return new PolicyWeights(3, [obs, 8, act], Random(obs * 8 + 8 + 8 * act + act), [critic, 8, 1], Random(critic * 8 + 8 + 8 + 1),
            Enumerable.Repeat(-0.5f, act).ToArray(), new float[obs], Enumerable.Repeat(1f, obs).ToArray(), new float[critic], Enumerable.Repeat(1f, critic).ToArray());
    }

    /// <summary>Two workers' fragments of one lease hold the same data, bit for bit.</summary>
    static void AssertSameData(Fragment a, Fragment b)
    {
        Assert.That(b.Observations, Is.EqualTo(a.Observations));
        Assert.That(b.Actions, Is.EqualTo(a.Actions));
        Assert.That(b.LogProbs, Is.EqualTo(a.LogProbs));
        Assert.That(b.Values, Is.EqualTo(a.Values));
        Assert.That(b.Rewards, Is.EqualTo(a.Rewards));
        Assert.That(b.EpisodeEnds, Is.EqualTo(a.EpisodeEnds));
        Assert.That(b.NextValues, Is.EqualTo(a.NextValues));
    }
}
