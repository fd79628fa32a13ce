using System.Globalization;
using RoboRl.Cluster;
using RoboRl.Training;

namespace RoboRl.Cluster.Tests;

/// <summary>
/// Learner and workers as separate `roborl` processes on loopback (free ports): a worker killed while holding a lease,
/// a learner killed and resumed from its checkpoint, a worker of another build. The synchronous PPO's final weights
/// must hash-equal those of an undisturbed run.
/// </summary>
[NonParallelizable]
public class ProcessTests
{
    static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(120);
    string _directory = null!, _task = null!;
    string? _reference;

    [OneTimeSetUp]
    public void WriteTask()
    {
        _directory = Directory.CreateTempSubdirectory("roborl-cluster-test-").FullName;
        _task = TestTask.Write(_directory);
    }

    [OneTimeTearDown]
    public void RemoveDirectory() => Directory.Delete(_directory, recursive: true);

    /// <summary>The undisturbed run's final weights hash: learner + one worker.</summary>
    string Reference()
    {
        if (_reference is not null) return _reference;
        string conn = $"localhost:{ClusterConnection.FreeTcpPort()}";
        using var learner = new RoborlProcess("train", _task, "--cluster", conn, "-o", Path.Combine(_directory, "reference"), "--json");
        using var worker = new RoborlProcess("worker", "--cluster", conn);
        Assert.That(learner.WaitForExit(RunTimeout), Is.Zero, learner.Output);
        Assert.That(worker.WaitForExit(RunTimeout), Is.Zero, worker.Output);
        return _reference = learner.Json()["final_weights_sha256"]!.GetValue<string>();
    }

    [Test]
    public void AWorkerKilledMidRunLosesNothingAndAWorkerOfAnotherBuildIsRefused()
    {
        string expected = Reference();
        string conn = $"localhost:{ClusterConnection.FreeTcpPort()}";
        string run = Path.Combine(_directory, "kill-worker");
        using var learner = new RoborlProcess("train", _task, "--cluster", conn, "-o", run, "--lease-timeout-s", "1", "--json");
        // A worker of another build first (the learner waits for workers at iteration 1, so it is surely up).
        using (var stranger = new RoborlProcess("worker", "--cluster", conn, "--announce-build", "0.0.1-other"))
        {
            Assert.That(stranger.WaitForExit(RunTimeout), Is.EqualTo(2), stranger.Output);
            Assert.That(stranger.Output, Does.Contain("refused by the learner").And.Contain("0.0.1-other"));
        }
        // The doomed worker does the warm-up and part of iteration 1, then hangs holding a lease and is killed.
        using var doomed = new RoborlProcess("worker", "--cluster", conn, "--id", "doomed", "--hang-after-fragments", "6");
        doomed.WaitFor("hanging with iteration", RunTimeout);
        using var steady = new RoborlProcess("worker", "--cluster", conn, "--id", "steady", "--submit-twice");
        steady.WaitFor("accepted", RunTimeout);
        doomed.Kill();
        Assert.That(learner.WaitForExit(RunTimeout), Is.Zero, learner.Output);
        Assert.That(steady.WaitForExit(RunTimeout), Is.Zero, steady.Output);

        var result = learner.Json();
        Assert.That(result["final_weights_sha256"]!.GetValue<string>(), Is.EqualTo(expected), "the kill changed the trained weights");
        Assert.That(result["leases_reissued"]!.GetValue<long>(), Is.GreaterThanOrEqualTo(1), "the dead worker's lease was handed out again");
        Assert.That(result["duplicates_rejected"]!.GetValue<long>(), Is.GreaterThan(0), "the steady worker submits everything twice");
        Assert.That(result["workers_refused"]!.GetValue<long>(), Is.EqualTo(1));

        // Every (iteration, shard) accepted exactly once, none missing.
        int iterations = result["iterations"]!.GetValue<int>();
        var accepted = File.ReadAllLines(Path.Combine(run, "accepted.csv")).Skip(1).Select(l => l.Split(',')).Select(p => (int.Parse(p[0]), int.Parse(p[1]))).ToList();
        var expectedPairs = Enumerable.Range(0, iterations).SelectMany(i => Enumerable.Range(0, 4).Select(s => (i, s))).ToList();
        Assert.That(accepted, Is.EquivalentTo(expectedPairs));
        Assert.That(result["fragments_accepted"]!.GetValue<long>(), Is.EqualTo(expectedPairs.Count));

        // Counters never go back.
        var rows = File.ReadAllLines(Path.Combine(run, "cluster_progress.csv")).Skip(1)
            .Select(l => l.Split(',').Take(7).Select(v => long.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToList();
        Assert.That(rows, Has.Count.EqualTo(iterations));
        for (int k = 1; k < rows.Count; k++)
            for (int column = 1; column < 7; column++)
                Assert.That(rows[k][column], Is.GreaterThanOrEqualTo(rows[k - 1][column]), $"cluster_progress.csv column {column}, row {k}");
    }

    [Test]
    public void AKilledLearnerResumesFromItsCheckpointAndEndsWithTheSameWeights()
    {
        string expected = Reference();
        int port = ClusterConnection.FreeTcpPort();
        string conn = $"localhost:{port}";
        string run = Path.Combine(_directory, "kill-learner");
        using var worker = new RoborlProcess("worker", "--cluster", conn, "--connect-timeout-s", "60");
        using (var first = new RoborlProcess("train", _task, "--cluster", conn, "-o", run, "--checkpoint-every", "2", "--json"))
        {
            first.WaitFor("iteration 3/6", RunTimeout);
            first.Kill(); // the checkpoint holds iterations 1-2
        }
        using var second = new RoborlProcess("train", _task, "--cluster", conn, "-o", run, "--checkpoint-every", "2", "--resume", "--json");
        Assert.That(second.WaitForExit(RunTimeout), Is.Zero, second.Output);
        Assert.That(worker.WaitForExit(RunTimeout), Is.Zero, worker.Output);
        var result = second.Json();
        int resumedFrom = result["resumed_from_iteration"]!.GetValue<int>();
        Assert.That(resumedFrom, Is.InRange(2, 4), "at most one checkpoint interval (2 iterations) is redone");
        Assert.That(result["final_weights_sha256"]!.GetValue<string>(), Is.EqualTo(expected));
        Assert.That(worker.Output, Does.Contain("lost the learner"), "the worker noticed the learner going and waited for it");
    }
}

/// <summary>Membership on PostgreSQL (Orleans' ADO.NET clustering): a server started by the test, learner and worker find each other through it.</summary>
[NonParallelizable]
public class PostgresMembershipTests
{
    /// <summary>PostgreSQL's binaries; in CI their absence fails the test, elsewhere it is inconclusive.</summary>
    static string RequirePostgres()
    {
        string? bin = PostgresServer.FindBin();
        if (bin is not null) return bin;
        if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail("PostgreSQL (Debian package postgresql, tests/prerequisites.txt) is not installed");
        Assert.Inconclusive("PostgreSQL is not installed (apt-get install postgresql)");
        return "";
    }

    /// <summary>The hosting silo is in Orleans' membership table (schema applied by the host) with its silo and gateway ports.</summary>
    static void AssertSiloRow(PostgresServer database, string silo, string gateway)
    {
        using var connection = new Npgsql.NpgsqlConnection(database.ConnectionString);
        connection.Open();
        using var query = new Npgsql.NpgsqlCommand("SELECT port, proxyport FROM OrleansMembershipTable WHERE deploymentid = 'roborl'", connection);
        using var reader = query.ExecuteReader();
        Assert.That(reader.Read(), Is.True, "no silo row in OrleansMembershipTable");
        Assert.That((reader.GetInt32(0), reader.GetInt32(1)), Is.EqualTo((int.Parse(silo), int.Parse(gateway))));
    }

    [Test]
    public void LearnerAndWorkerMeetThroughAPostgresMembershipTable()
    {
        string bin = RequirePostgres();
        string directory = Directory.CreateTempSubdirectory("roborl-cluster-pg-").FullName;
        try
        {
            using var database = new PostgresServer(bin);
            string task = TestTask.Write(directory, learningIterations: 2);
            string gateway = ClusterConnection.FreeTcpPort().ToString(), silo = ClusterConnection.FreeTcpPort().ToString();
            using var learner = new RoborlProcess("train", task, "--cluster", database.ConnectionString, "--gateway-port", gateway, "--silo-port", silo,
                "-o", Path.Combine(directory, "run"), "--json");
            using var worker = new RoborlProcess("worker", "--cluster", database.ConnectionString);
            Assert.That(learner.WaitForExit(TimeSpan.FromSeconds(120)), Is.Zero, learner.Output);
            Assert.That(worker.WaitForExit(TimeSpan.FromSeconds(60)), Is.Zero, worker.Output);
            Assert.That(learner.Json()["fragments_accepted"]!.GetValue<long>(), Is.EqualTo(3 * 4));

            AssertSiloRow(database, silo, gateway);
        }
        finally { Directory.Delete(directory, recursive: true); }
    }

    /// <summary>`roborl sweep --cluster PG` hosts the sweep on a PostgreSQL-membership cluster; a worker started with the
    /// same connection string finds it there and trains every trial.</summary>
    [Test]
    public void ASweepHostAndItsWorkerMeetThroughAPostgresMembershipTable()
    {
        string bin = RequirePostgres();
        string directory = Directory.CreateTempSubdirectory("roborl-sweep-pg-").FullName;
        try
        {
            using var database = new PostgresServer(bin);
            string sweep = SweepProcessTests.WriteSweep(directory, "[1]");
            string output = Path.Combine(directory, "out");
            string gateway = ClusterConnection.FreeTcpPort().ToString(), silo = ClusterConnection.FreeTcpPort().ToString();
            using var host = new RoborlProcess("sweep", sweep, "-o", output, "--cluster", database.ConnectionString, "--gateway-port", gateway, "--silo-port", silo, "--json");
            using var worker = new RoborlProcess("worker", "--cluster", database.ConnectionString);
            Assert.That(host.WaitForExit(TimeSpan.FromSeconds(120)), Is.Zero, host.Output);
            Assert.That(worker.WaitForExit(TimeSpan.FromSeconds(60)), Is.Zero, worker.Output);
            Assert.That(host.Json()["cluster"]!["results_accepted"]!.GetValue<long>(), Is.EqualTo(2), host.Output);
            SweepState state = SweepState.Load(Path.Combine(output, SweepState.FileName));
            Assert.That(state.Trials.Select(t => t.Status), Is.All.EqualTo(SweepState.Finished));

            AssertSiloRow(database, silo, gateway);
        }
        finally { Directory.Delete(directory, recursive: true); }
    }
}
