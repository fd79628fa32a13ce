using RoboRl.Cluster;
using RoboRl.Core.Configs;
using RoboRl.Core.Policy;
using RoboRl.Core.Tasks;
using RoboRl.Sims.Quadrotor;
using RoboRl.Training;
using RoboRl.Training.Evaluation;

namespace RoboRl.Cluster.Tests;

/// <summary>
/// TD3 on the cluster (a hover task, <see cref="HoverTd3Learner"/>): learner and workers as `roborl` processes on loopback,
/// a tiny task (<see cref="HoverTestTask"/>). Episodes run on across iterations and workers (the environments' snapshot
/// travels with the fragments and the next policy), and the final weights must not depend on how many workers
/// simulated, on a worker killed holding a lease, on duplicates, or on the learner being killed and resumed.
/// </summary>
[NonParallelizable]
public class HoverTd3ProcessTests
{
    static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(120);
    string _directory = null!, _task = null!;
    (string Run, System.Text.Json.Nodes.JsonObject Result)? _twoWorkers;

    [OneTimeSetUp]
    public void WriteTask()
    {
        _directory = Directory.CreateTempSubdirectory("roborl-cluster-td3-test-").FullName;
        _task = HoverTestTask.Write(_directory);
    }

    [OneTimeTearDown]
    public void RemoveDirectory() => Directory.Delete(_directory, recursive: true);

    static string[] Train(string task, string conn, string run, params string[] more) =>
        ["train", task, "--cluster", conn, "--shards", "2", "--steps-per-shard", HoverTestTask.StepsPerShard.ToString(), "-o", run, "--json", .. more];

    /// <summary>Learner + two workers: worker a (started with --task) hangs holding a lease after 3 fragments and is killed;
    /// worker b, submitting every fragment twice, does the rest.</summary>
    (string Run, System.Text.Json.Nodes.JsonObject Result) TwoWorkers()
    {
        if (_twoWorkers is { } done) return done;
        string conn = $"localhost:{ClusterConnection.FreeTcpPort()}";
        string run = Path.Combine(_directory, $"two-workers-{Guid.NewGuid():N}");
        using var learner = new RoborlProcess(Train(_task, conn, run, "--lease-timeout-s", "1"));
        using var a = new RoborlProcess("worker", "--cluster", conn, "--id", "a", "--task", _task, "--hang-after-fragments", "3");
        a.WaitFor("hanging with iteration", RunTimeout);
        using var b = new RoborlProcess("worker", "--cluster", conn, "--id", "b", "--submit-twice");
        b.WaitFor("accepted", RunTimeout);
        a.Kill();
        Assert.That(learner.WaitForExit(RunTimeout), Is.Zero, learner.Output);
        Assert.That(b.WaitForExit(RunTimeout), Is.Zero, b.Output);
        _twoWorkers = (run, learner.Json());
        return _twoWorkers.Value;
    }

    [Test]
    public void TwoWorkersTrainAHoverBundleWithEveryShardAcceptedOnce()
    {
        var (run, result) = TwoWorkers();
        Assert.That(result["algorithm"]!.GetValue<string>(), Is.EqualTo("td3"));
        int iterations = result["iterations"]!.GetValue<int>();
        Assert.That(iterations, Is.EqualTo(HoverTestTask.Iterations));
        var accepted = File.ReadAllLines(Path.Combine(run, "accepted.csv")).Skip(1).Select(l => l.Split(',')).Select(p => (int.Parse(p[0]), int.Parse(p[1]))).ToList();
        Assert.That(accepted, Is.EquivalentTo(Enumerable.Range(0, iterations).SelectMany(i => new[] { (i, 0), (i, 1) })), "every (iteration, shard) accepted once");
        Assert.That(result["duplicates_rejected"]!.GetValue<long>(), Is.GreaterThan(0), "worker b submits everything twice");
        Assert.That(result["leases_reissued"]!.GetValue<long>(), Is.GreaterThanOrEqualTo(1), "the killed worker's lease was handed out again");
        Assert.That(File.ReadAllLines(Path.Combine(run, "accepted.csv")).Skip(1).Select(l => l.Split(',')[2]).Distinct(), Is.EquivalentTo(new[] { "a", "b" }));
        Assert.That(result["env_steps"]!.GetValue<long>(), Is.EqualTo(4L * HoverTestTask.StepsPerShard * HoverTestTask.Iterations));

        // As `roborl train` without --cluster: periodic evaluations in progress.csv, the bundle says which snapshot it
        // holds, and the final evaluation on the task's final_eval_episodes.
        Assert.That(result["final_eval"]!["episodes"]!.GetValue<int>(), Is.EqualTo(8));
        Assert.That(File.ReadAllLines(Path.Combine(run, "progress.csv")).Count(l => l.EndsWith(",periodic")), Is.GreaterThanOrEqualTo(2));
        Assert.That(File.Exists(Path.Combine(run, "learning_curve.png")));
        PolicyBundle bundle = PolicyBundle.Read(Path.Combine(run, Trainer.BundleFileName));
        HoverTaskConfig task = HoverTaskConfig.Load(_task);
        Assert.That(ConfigNode.Parse(bundle.TrainingConfigJson, "training config").String("algorithm"), Is.EqualTo("td3"));
        EvalResult evaluation = PolicyEvaluator.Evaluate(bundle, task, new EvalOptions(Episodes: 2, Seed: 3));
        Assert.That(evaluation.Episodes, Is.EqualTo(2), "`roborl eval` flies the bundle");
    }

    [Test]
    public void OneWorkerAndAKilledAndResumedLearnerEndWithTheTwoWorkerRunsWeights()
    {
        string expected = TwoWorkers().Result["final_weights_sha256"]!.GetValue<string>();
        string conn = $"localhost:{ClusterConnection.FreeTcpPort()}";
        string run = Path.Combine(_directory, "one-worker-resumed");
        // The first learner cannot finish: its only worker hangs holding a lease of the fifth iteration (after the 8
        // fragments of iterations 1-4), so the kill always lands after the checkpoint of iteration 4 and before the end.
        using (var stuck = new RoborlProcess("worker", "--cluster", conn, "--hang-after-fragments", "8"))
        using (var first = new RoborlProcess(Train(_task, conn, run, "--checkpoint-every", "2")))
        {
            stuck.WaitFor("hanging with iteration 4", RunTimeout);
            first.WaitFor("iteration 4/8", RunTimeout);
            first.Kill(); // the checkpoint holds iterations 1-4: the random ones, the freeze, the first updates, the shards' environments
        }
        using var worker = new RoborlProcess("worker", "--cluster", conn, "--connect-timeout-s", "60");
        using var second = new RoborlProcess(Train(_task, conn, run, "--checkpoint-every", "2", "--resume"));
        Assert.That(second.WaitForExit(RunTimeout), Is.Zero, second.Output);
        Assert.That(worker.WaitForExit(RunTimeout), Is.Zero, worker.Output);
        var result = second.Json();
        Assert.That(result["resumed_from_iteration"]!.GetValue<int>(), Is.EqualTo(4), "the checkpoint after iteration 4: nothing before it is redone");
        Assert.That(result["final_weights_sha256"]!.GetValue<string>(), Is.EqualTo(expected), "one worker and a resumed learner changed the trained weights");
    }
}

/// <summary>An off-policy shard is a pure function of (actor weights, its environments' snapshot, iteration, shard, seed).</summary>
public class OffPolicyRolloutTests
{
    [Test]
    public void ASnapshotCarriesAShardsEpisodesToAnotherWorkerBitForBit()
    {
        string directory = Directory.CreateTempSubdirectory("roborl-cluster-td3-rollout-").FullName;
        HoverTaskConfig task;
        try { task = HoverTaskConfig.Load(HoverTestTask.Write(directory)); }
        finally { Directory.Delete(directory, recursive: true); }
        using var probe = new HoverEnv(task, 2, 1);
        var run = CoordinatorTests.Spec() with
        {
            Shards = 2,
            EnvsPerShard = 2,
            StepsPerShard = 8,
            WarmupStepsPerShard = 0,
            ObservationSize = probe.ActorObservationSize,
            CriticObservationSize = probe.CriticObservationSize,
            ActionSize = probe.ActionSize,
            Algorithm = "td3",
            RandomIterations = 1,
            StateBytes = probe.StateBytes,
        };
        OffPolicyShardRollout Worker() => new(run, new HoverEnv(task, 2, 1), task.Robot.HoverAction(), 0.3, 0.15);
        using OffPolicyShardRollout workerA = Worker(), workerB = Worker();

        // Iteration 0 (random actions) from the lease's seeded reset; its snapshot starts iteration 1 on either worker.
        var first = new Lease(0, 1, 0, RolloutCoordinatorGrain.ShardSeed(run, 0, 1), false);
        Fragment start = workerA.Run(first, null, "a");
        Assert.That(FragmentCheck.WhyMalformed(start, run), Is.Null);
        Assert.That(start.FinalState, Has.Length.EqualTo(run.StateBytes));

        var random = new SeededRandom(11);
        float[] Random(int count) => Enumerable.Range(0, count).Select(_ => 0.3f * random.NextNormal()).ToArray();
        int obs = run.ObservationSize, act = run.ActionSize;
        var policy = new PolicyWeights(1, [obs, 8, act], Random(obs * 8 + 8 + 8 * act + act), [], [], [], new float[obs], Enumerable.Repeat(1f, obs).ToArray(),
            new float[run.CriticObservationSize], Enumerable.Repeat(1f, run.CriticObservationSize).ToArray())
        { ActorHiddenActivation = Activation.Relu, ActorOutputActivation = Activation.Tanh, ShardStates = [[.. start.FinalState], [.. start.FinalState]] };
        var next = new Lease(1, 1, 1, RolloutCoordinatorGrain.ShardSeed(run, 1, 1), false);
        workerB.Run(next with { Shard = 0, Seed = RolloutCoordinatorGrain.ShardSeed(run, 1, 0) }, policy, "b"); // B did other work before
        Fragment a = workerA.Run(next, policy, "a"), b = workerB.Run(next, policy, "b");
        Assert.That(FragmentCheck.WhyMalformed(a, run), Is.Null);
        Assert.That(b.Observations, Is.EqualTo(a.Observations));
        Assert.That(b.Actions, Is.EqualTo(a.Actions));
        Assert.That(b.Rewards, Is.EqualTo(a.Rewards));
        Assert.That(b.NextObservations, Is.EqualTo(a.NextObservations));
        Assert.That(b.NextCriticObservations, Is.EqualTo(a.NextCriticObservations));
        Assert.That(b.Terminated, Is.EqualTo(a.Terminated));
        Assert.That(b.FinalState, Is.EqualTo(a.FinalState));
        // The episodes went on: each environment starts iteration 1 where iteration 0's last step left it.
        int n = run.EnvsPerShard, lastRow = (run.StepsPerShard - 1) * n;
        for (int i = 0; i < n; i++)
        {
            Assert.That(start.EpisodeEnds[lastRow + i], Is.False, "no episode of 20 steps ends at step 8 unless it crashed");
            Assert.That(a.Observations[(i * obs)..((i + 1) * obs)], Is.EqualTo(start.NextObservations[((lastRow + i) * obs)..((lastRow + i + 1) * obs)]),
                $"environment {i} continues from its snapshot");
        }

        // A fragment whose snapshot is of the wrong size is malformed (it would break the next iteration's workers).
        Assert.That(FragmentCheck.WhyMalformed(a with { FinalState = [1, 2, 3] }, run), Does.Contain("environment state"));
        Assert.That(FragmentCheck.WhyMalformed(a with { NextObservations = [] }, run), Does.Contain("next observations"));
    }
}

/// <summary>What the cluster refuses of a hover task, and the shipped task files (with comments) it accepts.</summary>
public class HoverClusterInputTests
{
    [Test]
    public void AHoverSacTaskIsRefusedNamingItsAlgorithmField()
    {
        string directory = Directory.CreateTempSubdirectory("roborl-cluster-hover-refusal-").FullName;
        try
        {
            string task = HoverTestTask.Write(directory, algorithm: "sac");
            var options = new ClusterTrainOptions(task, ClusterConnection.Parse("localhost:1")) { OutDirectory = Path.Combine(directory, "never") };
            var e = Assert.Throws<ConfigException>(() => ClusterTrainer.Run(options))!;
            Assert.That(e.File, Is.EqualTo(task));
            Assert.That(e.JsonPath, Is.EqualTo("$.training.algorithm"));
            Assert.That(Directory.Exists(options.OutDirectory), Is.False, "refused before anything is written");

            string td3 = HoverTestTask.Write(directory);
            var wrongAlgo = Assert.Throws<ArgumentException>(() => ClusterTrainer.Run(new ClusterTrainOptions(td3, ClusterConnection.Parse("localhost:1")) { Algorithm = "ppo", OutDirectory = options.OutDirectory }))!;
            Assert.That(wrongAlgo.Message, Does.Contain("--algo ppo"));
            string nav = TestTask.Write(directory);
            var steps = Assert.Throws<ArgumentException>(() => ClusterTrainer.Run(new ClusterTrainOptions(nav, ClusterConnection.Parse("localhost:1")) { StepsPerShard = 5, OutDirectory = options.OutDirectory }))!;
            Assert.That(steps.Message, Does.Contain("--steps-per-shard 5"));
            Assert.That(Directory.Exists(options.OutDirectory), Is.False);
        }
        finally { Directory.Delete(directory, recursive: true); }
    }

    /// <summary>The shipped task files carry // comments; workers get them as plain JSON (a learner on them once failed
    /// to publish its run).</summary>
    [TestCase("configs/tasks/crazyflie-hover.json")]
    [TestCase("configs/tasks/diffbot-nav.json")]
    [TestCase("configs/swarm/crazyflie-swarm8-open.json")]
    public void TheShippedTaskFilesWithTheirCommentsArePublishable(string file)
    {
        string path = Path.Combine(TestTask.RepoRoot, file);
        Assert.That(File.ReadAllText(path), Does.Contain("//"), "the file should carry comments for this test to mean something");
        Assert.That(ClusterTrainer.TaskHash(path), Has.Length.EqualTo(64));
    }
}
