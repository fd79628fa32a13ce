using RoboRl.Cluster;
using RoboRl.Core.Configs;
using RoboRl.Core.Policy;
using RoboRl.Core.Swarm;
using RoboRl.Training;
using RoboRl.Training.Evaluation;

namespace RoboRl.Cluster.Tests;

/// <summary>
/// The swarm task (multi-agent PPO, one shared deep-sets actor) on the cluster: learner and workers as `roborl` processes
/// on loopback, a tiny task (<see cref="SwarmTestTask"/>: 2 environments of 4 quads, 2 shards). The bundle must be the
/// swarm bundle the swarm eval accepts, and the final weights must not depend on how many workers simulated, on a worker
/// killed holding a lease or on the learner being killed and resumed.
/// </summary>
[NonParallelizable]
public class SwarmProcessTests
{
    static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(120);
    string _directory = null!, _task = null!;
    (string Run, System.Text.Json.Nodes.JsonObject Result)? _twoWorkers;

    [OneTimeSetUp]
    public void WriteTask()
    {
        _directory = Directory.CreateTempSubdirectory("roborl-cluster-swarm-test-").FullName;
        _task = SwarmTestTask.Write(_directory);
    }

    [OneTimeTearDown]
    public void RemoveDirectory() => Directory.Delete(_directory, recursive: true);

    /// <summary>
    /// Learner + two workers, 2 shards: worker a (started with --task) does the warm-up, then hangs holding a lease of
    /// iteration 1 and is killed; worker b, submitting every fragment twice, does the rest (so both surely take part,
    /// however fast the run).
    /// </summary>
    (string Run, System.Text.Json.Nodes.JsonObject Result) TwoWorkers()
    {
        if (_twoWorkers is { } done) return done;
        string conn = $"localhost:{ClusterConnection.FreeTcpPort()}";
        string run = Path.Combine(_directory, $"two-workers-{Guid.NewGuid():N}");
        using var learner = new RoborlProcess("train", _task, "--cluster", conn, "--shards", "2", "-o", run, "--lease-timeout-s", "1", "--json");
        using var a = new RoborlProcess("worker", "--cluster", conn, "--id", "a", "--task", _task, "--hang-after-fragments", "2");
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
    public void TwoWorkersTrainTheSwarmBundleTheSwarmEvalAccepts()
    {
        var (run, result) = TwoWorkers();
        int iterations = result["iterations"]!.GetValue<int>();
        Assert.That(iterations, Is.EqualTo(5), "the warm-up and 4 rollouts");
        var accepted = File.ReadAllLines(Path.Combine(run, "accepted.csv")).Skip(1).Select(l => l.Split(',')).Select(p => (int.Parse(p[0]), int.Parse(p[1]))).ToList();
        Assert.That(accepted, Is.EquivalentTo(Enumerable.Range(0, iterations).SelectMany(i => new[] { (i, 0), (i, 1) })), "every (iteration, shard) accepted once");
        Assert.That(result["duplicates_rejected"]!.GetValue<long>(), Is.GreaterThan(0), "worker b submits everything twice");
        Assert.That(result["leases_reissued"]!.GetValue<long>(), Is.GreaterThanOrEqualTo(1), "the killed worker's lease was handed out again");
        Assert.That(File.ReadAllLines(Path.Combine(run, "accepted.csv")).Skip(1).Select(l => l.Split(',')[2]).Distinct(), Is.EquivalentTo(new[] { "a", "b" }));
        Assert.That(result["env_steps"]!.GetValue<long>(), Is.EqualTo(4 * 8 + 4 * 16 * 8), "the warm-up (4 steps × 8 quads) and 4 rollouts of 16 steps × 8 quads");

        // What `roborl eval` does with a swarm bundle (SwarmEvalCommand): read it, check it against its task, fly it.
        string bundlePath = Path.Combine(run, Trainer.BundleFileName);
        PolicyBundle bundle = PolicyBundle.Read(bundlePath);
        SwarmTaskConfig task = SwarmTaskConfig.Load(_task);
        Assert.That(SwarmPolicySpec.IsSwarmBundle(bundle), Is.True);
        Assert.DoesNotThrow(() => SwarmPolicySpec.CheckBundle(bundle, task, bundlePath));
        var training = ConfigNode.Parse(bundle.TrainingConfigJson, "training config");
        Assert.That(training.String("multi_agent"), Is.EqualTo("shared_policy"));
        Assert.That(training.Object("network").String("kind"), Is.EqualTo("deep_sets"));
        Assert.That(training.String("task_file"), Is.EqualTo(_task), "`roborl eval` finds the task from it");
        SwarmEvalResult evaluation = SwarmEvaluator.Evaluate(new PolicyPilot(bundle), "policy", task, new SwarmEvalOptions(Seeds: 1, EpisodesPerSeed: 1));
        Assert.That(evaluation, Is.Not.Null);
    }

    [Test]
    public void OneWorkerAndAKilledAndResumedLearnerEndWithTheTwoWorkerRunsWeights()
    {
        string expected = TwoWorkers().Result["final_weights_sha256"]!.GetValue<string>();
        string conn = $"localhost:{ClusterConnection.FreeTcpPort()}";
        string run = Path.Combine(_directory, "one-worker-resumed");
        using var worker = new RoborlProcess("worker", "--cluster", conn, "--connect-timeout-s", "60");
        using (var first = new RoborlProcess("train", _task, "--cluster", conn, "--shards", "2", "-o", run, "--checkpoint-every", "2", "--json"))
        {
            first.WaitFor("iteration 3/5", RunTimeout);
            first.Kill(); // the checkpoint holds iterations 1-2
        }
        using var second = new RoborlProcess("train", _task, "--cluster", conn, "--shards", "2", "-o", run, "--checkpoint-every", "2", "--resume", "--json");
        Assert.That(second.WaitForExit(RunTimeout), Is.Zero, second.Output);
        Assert.That(worker.WaitForExit(RunTimeout), Is.Zero, worker.Output);
        var result = second.Json();
        Assert.That(result["resumed_from_iteration"]!.GetValue<int>(), Is.InRange(2, 4), "at most one checkpoint interval (2 iterations) is redone");
        Assert.That(result["final_weights_sha256"]!.GetValue<string>(), Is.EqualTo(expected), "one worker and a resumed learner changed the trained weights");
    }
}

/// <summary>What the cluster refuses of a swarm task, before it opens a port.</summary>
public class SwarmRefusalTests
{
    static void AssertRefused(string task, string field)
    {
        var options = new ClusterTrainOptions(task, ClusterConnection.Parse("localhost:1")) { OutDirectory = Path.Combine(Path.GetDirectoryName(task)!, "never") };
        var e = Assert.Throws<ConfigException>(() => ClusterTrainer.Run(options))!;
        Assert.That(e.File, Is.EqualTo(task));
        Assert.That(e.JsonPath, Is.EqualTo(field));
        Assert.That(Directory.Exists(options.OutDirectory), Is.False, "refused before anything is written");
    }

    [Test]
    public void ATd3SwarmTaskIsRefusedNamingItsAlgorithmField()
    {
        string directory = Directory.CreateTempSubdirectory("roborl-cluster-swarm-refusal-").FullName;
        try
        {
            AssertRefused(SwarmTestTask.Write(directory, algorithm: "td3"), "$.training.algorithm");
            AssertRefused(SwarmTestTask.Write(directory, replay: true), "$.training.swarm.replay");
        }
        finally { Directory.Delete(directory, recursive: true); }
    }
}
