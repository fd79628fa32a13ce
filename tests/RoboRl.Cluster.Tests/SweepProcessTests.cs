using System.Text.Json;
using System.Text.Json.Nodes;
using RoboRl.Training;

namespace RoboRl.Cluster.Tests;

/// <summary>
/// `roborl sweep --cluster` with `roborl worker` processes on loopback (a free port): a worker killed while it holds a
/// trial's lease, the other finishing every trial (its own and the dead one's) and submitting each result twice. Every
/// trial's result is accepted exactly once and the aggregate is complete.
/// </summary>
[NonParallelizable]
public class SweepProcessTests
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    /// <summary>
    /// sweep.json over task.json in <paramref name="directory"/>: the hover task with 1 024 env steps of TD3 and a
    /// 10-episode evaluation (about a second a trial), two actor learning rates × <paramref name="seeds"/>.
    /// </summary>
    public static string WriteSweep(string directory, string seeds)
    {
        string taskFile = Path.Combine(TestTask.RepoRoot, "configs/tasks/crazyflie-hover.json");
        var task = JsonNode.Parse(File.ReadAllText(taskFile), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip })!.AsObject();
        task["robot"] = Path.Combine(TestTask.RepoRoot, "configs/robots/crazyflie21.json");
        JsonObject training = task["training"]!.AsObject();
        training["total_env_steps"] = 1024;
        training["num_envs"] = 16;
        training["eval_every_env_steps"] = 0;
        training["final_eval_episodes"] = 10;
        training["td3"]!["warmup_env_steps"] = 256;
        training["td3"]!["actor_warmup_env_steps"] = 256;
        File.WriteAllText(Path.Combine(directory, "task.json"), task.ToJsonString());
        string sweep = Path.Combine(directory, "sweep.json");
        File.WriteAllText(sweep, $$"""
            { "task": "task.json", "seeds": {{seeds}}, "mode": "grid",
              "parameters": { "training.td3.actor_learning_rate": [0.001, 0.0003] } }
            """);
        return sweep;
    }

    [Test]
    public void AWorkerKilledHoldingATrialLosesNothingAndEachResultIsAcceptedOnce()
    {
        string directory = Directory.CreateTempSubdirectory("roborl-sweep-cluster-test-").FullName;
        try
        {
            string sweep = WriteSweep(directory, "[1, 2]");
            string output = Path.Combine(directory, "out");
            string conn = $"localhost:{ClusterConnection.FreeTcpPort()}";

            using var host = new RoborlProcess("sweep", sweep, "-o", output, "--cluster", conn, "--lease-timeout-s", "2", "--json");
            // The doomed worker takes the first trial and hangs holding its lease (never renewing it); then it is killed.
            using var doomed = new RoborlProcess("worker", "--cluster", conn, "--id", "doomed", "--hang-after-fragments", "0");
            doomed.WaitFor("hanging with c0-s1", Timeout);
            doomed.Kill();
            using var steady = new RoborlProcess("worker", "--cluster", conn, "--id", "steady", "--submit-twice");
            Assert.That(host.WaitForExit(Timeout), Is.Zero, host.Output);
            Assert.That(steady.WaitForExit(Timeout), Is.Zero, steady.Output);

            JsonObject result = host.Json();
            JsonObject cluster = result["cluster"]!.AsObject();
            Assert.That(cluster["results_accepted"]!.GetValue<long>(), Is.EqualTo(4), host.Output);
            Assert.That(cluster["duplicates_rejected"]!.GetValue<long>(), Is.EqualTo(4), "the steady worker submits every result twice");
            Assert.That(cluster["leases_reissued"]!.GetValue<long>(), Is.EqualTo(1), "the dead worker's trial was handed out again");

            SweepState state = SweepState.Load(Path.Combine(output, SweepState.FileName));
            Assert.That(state.Trials, Has.Count.EqualTo(4));
            foreach (SweepState.TrialState trial in state.Trials)
            {
                Assert.That(trial.Status, Is.EqualTo(SweepState.Finished), trial.Id);
                Assert.That(trial.Worker, Is.EqualTo("steady"), trial.Id);
                Assert.That(trial.Attempts, Is.EqualTo(1), $"{trial.Id}: its result was accepted once");
                Assert.That(File.Exists(Path.Combine(output, trial.RunDir, Trainer.BundleFileName)), trial.Id);
                Assert.That(File.Exists(Path.Combine(output, trial.RunDir, "progress.csv")), trial.Id);
            }
            JsonObject aggregate = JsonNode.Parse(File.ReadAllText(Path.Combine(output, SweepAggregate.FileName)))!.AsObject();
            Assert.That(aggregate["configurations"]!.AsArray().Select(c => c!["runs"]!.GetValue<int>()), Is.EqualTo(new[] { 2, 2 }));
            Assert.That(steady.Output, Does.Contain("training c0-s1 (attempt 2)"), "the killed worker's trial, leased again");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
