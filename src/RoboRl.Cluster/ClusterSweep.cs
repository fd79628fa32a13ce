using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Concurrency;
using RoboRl.Training;

namespace RoboRl.Cluster;

/// <summary>
/// `roborl sweep SWEEP.json --cluster CONN`: the sweep's host runs a silo (the same hosting and membership as the
/// learner of <see cref="ClusterTrainer"/>: localhost or PostgreSQL) with the <see cref="ISweepCoordinator"/> grain, queues
/// each batch of trials (or PBT segments) there and waits; `roborl worker --cluster CONN` processes lease items, train
/// them in-process with the normal trainer and submit the score with the run directory's files, which the host writes
/// into the sweep directory. The sweep itself (state file, resume, PBT, aggregate) is <see cref="Sweep"/>'s, unchanged.
/// </summary>
public sealed class ClusterSweepExecutor : ISweepExecutor, IDisposable
{
    readonly IHost _silo;
    readonly ISweepCoordinator _coordinator;
    readonly TextWriter? _console;

    public ClusterSweepExecutor(ClusterConnection connection, string sweepName, double leaseTimeoutSeconds, int? siloPort, TextWriter? console)
    {
        if (!(leaseTimeoutSeconds > 0)) throw new ArgumentException($"--lease-timeout-s {leaseTimeoutSeconds}: must be > 0");
        _console = console;
        if (connection.PostgresConnectionString is { } database) ClusterDatabase.EnsureSchema(database);
        _silo = connection.BuildSilo(siloPort);
        _silo.StartAsync().GetAwaiter().GetResult();
        _coordinator = _silo.Services.GetRequiredService<IGrainFactory>().GetGrain<ISweepCoordinator>(SweepCoordinatorGrain.Key);
        _coordinator.Open(new SweepSpec(ClusterProtocol.Version, ClusterProtocol.Build, sweepName, leaseTimeoutSeconds)).GetAwaiter().GetResult();
        _console?.WriteLine($"sweep host: gateway port {connection.GatewayPort}; workers: roborl worker --cluster CONN");
    }

    public SweepCounters Counters => _coordinator.Counters().GetAwaiter().GetResult();

    public void Run(string sweepDirectory, IReadOnlyList<SweepWork> batch, Action<SweepWork, SweepWorkResult> finished, TextWriter? _, bool interactive)
    {
        if (batch.Count == 0) return;
        var items = batch.Select(w => new SweepWorkItem(w.Id, w.RunDir, w.TaskJson, w.RobotJson, w.Seed, w.StopAtEnvSteps, w.Resume,
            w.Resume ? File.ReadAllBytes(Path.Combine(sweepDirectory, w.RunDir, Checkpoint.FileName)) : null)).ToArray();
        var works = batch.ToDictionary(w => w.Id);
        _coordinator.Add(new Immutable<SweepWorkItem[]>(items)).GetAwaiter().GetResult();
        int remaining = batch.Count;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        double nextNote = 5;
        while (remaining > 0)
        {
            foreach (SweepWorkDone done in _coordinator.TakeResults().GetAwaiter().GetResult().Value)
            {
                if (!works.Remove(done.Id, out SweepWork? work)) continue;
                WriteFiles(Path.Combine(sweepDirectory, work.RunDir), done.Files, work.Resume);
                finished(work, new SweepWorkResult(done.Id, done.SuccessRate, done.FailureRate, done.Cost, done.StartEnvSteps, done.EnvSteps, done.WallSeconds, done.WorkerId));
                remaining--;
            }
            if (clock.Elapsed.TotalSeconds > nextNote && remaining > 0)
            {
                SweepCounters k = Counters;
                _console?.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"sweep host: {batch.Count - remaining}/{batch.Count} in, {k.Leased} leased, {k.Pending} waiting, workers {k.Workers}, re-leased {k.Released}, duplicates {k.Duplicates}"));
                nextNote = clock.Elapsed.TotalSeconds + (interactive ? 2 : 5);
            }
            Thread.Sleep(50);
        }
    }

    /// <summary>The worker's run directory files into the sweep's: a fresh trial replaces the directory; a PBT segment
    /// replaces its files and appends its progress.csv rows to the member's.</summary>
    static void WriteFiles(string runDirectory, SweepFile[] files, bool resume)
    {
        if (!resume && Directory.Exists(runDirectory)) Directory.Delete(runDirectory, recursive: true);
        Directory.CreateDirectory(runDirectory);
        foreach (SweepFile file in files)
        {
            string name = Path.GetFileName(file.Name); // never a path out of the run directory
            string path = Path.Combine(runDirectory, name);
            if (resume && name == "progress.csv" && File.Exists(path))
            {
                string[] lines = System.Text.Encoding.UTF8.GetString(file.Bytes).Split('\n', StringSplitOptions.RemoveEmptyEntries);
                File.AppendAllLines(path, lines.Skip(1));
                continue;
            }
            string temporary = path + ".tmp";
            File.WriteAllBytes(temporary, file.Bytes);
            File.Move(temporary, path, overwrite: true);
        }
    }

    public void Dispose()
    {
        try
        {
            _coordinator.Finish().GetAwaiter().GetResult();
            // Workers poll every ~200 ms and see "finished" within a poll; give them that before the gateway goes.
            Thread.Sleep(600);
            _silo.StopAsync(CancellationToken.None).GetAwaiter().GetResult();
        }
        finally { _silo.Dispose(); }
    }
}

/// <summary>A cluster worker's side of a sweep: lease an item, train it in a temporary directory, submit score and files.</summary>
public static class ClusterSweepWorker
{
    /// <summary>
    /// Asks the cluster what work exists: serves the sweep (returns when it is over) when a sweep host is there, or
    /// returns null when a training run's learner is (the caller serves it). Waits for either until the deadline.
    /// </summary>
    internal static ClusterWorkerResult? ServeIfSweep(IClusterClient client, ClusterWorkerOptions options, WorkerHello hello, DateTime deadline, CancellationToken cancel)
    {
        var sweep = client.GetGrain<ISweepCoordinator>(SweepCoordinatorGrain.Key);
        var run = client.GetGrain<IRolloutCoordinator>(ClusterProtocol.RunKey);
        while (true)
        {
            cancel.ThrowIfCancellationRequested();
            SweepJoinReply reply = sweep.Join(hello).GetAwaiter().GetResult();
            if (reply.Refusal is { } why) throw new WorkerRefusedException($"refused by the sweep host: {why}");
            if (reply.Spec is { } spec) return Serve(sweep, spec, options, cancel);
            JoinReply training = run.Join(hello).GetAwaiter().GetResult();
            if (training.Refusal is { } no) throw new WorkerRefusedException($"refused by the learner: {no}");
            if (training.Run is not null) return null;
            if (DateTime.UtcNow > deadline) throw new LearnerUnreachableException("neither a learner nor a sweep opened its work in time");
            Thread.Sleep(100);
        }
    }

    static ClusterWorkerResult Serve(ISweepCoordinator sweep, SweepSpec spec, ClusterWorkerOptions options, CancellationToken cancel)
    {
        options.Console?.WriteLine($"worker {options.WorkerId}: joined sweep {spec.Name}");
        int done = 0, duplicates = 0;
        long steps = 0;
        double trainingSeconds = 0;
        DateTime? lostSince = null;
        while (true)
        {
            cancel.ThrowIfCancellationRequested();
            SweepLease lease;
            try
            {
                lease = sweep.AcquireLease(options.WorkerId).GetAwaiter().GetResult();
                lostSince = null;
            }
            catch (Exception e) when (IsConnectionLoss(e))
            {
                // The host went away (restarting to resume the sweep?): wait for it up to the connect timeout.
                lostSince ??= DateTime.UtcNow;
                if (DateTime.UtcNow - lostSince > TimeSpan.FromSeconds(options.ConnectTimeoutSeconds))
                    throw new LearnerUnreachableException($"lost the sweep host and it did not come back within {options.ConnectTimeoutSeconds:F0} s");
                Thread.Sleep(500);
                continue;
            }
            if (lease.Finished)
            {
                options.Console?.WriteLine($"worker {options.WorkerId}: the sweep finished; {done} item(s) done");
                return new ClusterWorkerResult(options.WorkerId, done, steps, duplicates, 0, trainingSeconds);
            }
            if (lease.Item is not { } item)
            {
                Thread.Sleep(200);
                continue;
            }
            if (done >= options.HangAfterFragments)
            {
                // Fault injection: a worker that dies holding a lease (it never renews it).
                options.Console?.WriteLine($"worker {options.WorkerId}: hanging with {item.Id}");
                Thread.Sleep(Timeout.Infinite);
            }
            options.Console?.WriteLine($"worker {options.WorkerId}: training {item.Id} (attempt {lease.Attempt})");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            SweepWorkDone result = Train(item, options.WorkerId, sweep, spec.LeaseTimeoutSeconds);
            trainingSeconds += clock.Elapsed.TotalSeconds;
            SubmitOutcome outcome = sweep.Submit(new Immutable<SweepWorkDone>(result)).GetAwaiter().GetResult();
            if (options.SubmitTwice && sweep.Submit(new Immutable<SweepWorkDone>(result)).GetAwaiter().GetResult() == SubmitOutcome.Duplicate) duplicates++;
            if (outcome == SubmitOutcome.Accepted)
            {
                done++;
                steps += result.EnvSteps - result.StartEnvSteps;
            }
            else if (outcome == SubmitOutcome.Duplicate) duplicates++;
            options.Console?.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"worker {options.WorkerId}: {item.Id}: success {result.SuccessRate:P1}, {clock.Elapsed.TotalSeconds:F1} s: {outcome.ToString().ToLowerInvariant()}"));
        }
    }

    /// <summary>Trains the item in a temporary directory with the normal trainer, renewing the lease meanwhile (a timer
    /// thread: the training runs on this one), and returns the score with the run directory's top-level files.</summary>
    static SweepWorkDone Train(SweepWorkItem item, string workerId, ISweepCoordinator sweep, double leaseTimeoutSeconds)
    {
        string directory = Path.Combine(Path.GetTempPath(), $"roborl-sweep-worker-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(directory);
            if (item.Resume) File.WriteAllBytes(Path.Combine(directory, Checkpoint.FileName), item.Checkpoint ?? []);
            var renewEvery = TimeSpan.FromSeconds(Math.Max(0.2, leaseTimeoutSeconds / 4));
            using var renewal = new Timer(_ =>
            {
                try { sweep.Renew(item.Id, workerId).GetAwaiter().GetResult(); }
                catch (Exception e) when (IsConnectionLoss(e)) { } // the next renewal (or the submission) tries again
            }, null, renewEvery, renewEvery);
            var work = new SweepWork(item.Id, item.RunDir, item.TaskJson, item.RobotJson, item.Seed, item.StopAtEnvSteps, item.Resume);
            SweepWorkResult r = LocalSweepExecutor.Execute(work, directory, workerId, null);
            SweepFile[] files = Directory.EnumerateFiles(directory)
                .Where(f => !f.EndsWith(".tmp", StringComparison.Ordinal))
                .Select(f => new SweepFile(Path.GetFileName(f), File.ReadAllBytes(f))).ToArray();
            return new SweepWorkDone(item.Id, workerId, r.SuccessRate, r.FailureRate, r.Cost, r.StartEnvSteps, r.EnvSteps, r.WallSeconds, files);
        }
        finally
        {
            try { Directory.Delete(directory, recursive: true); } catch (IOException) { }
        }
    }

    static bool IsConnectionLoss(Exception e) =>
        e is Orleans.Runtime.SiloUnavailableException or Orleans.Runtime.OrleansMessageRejectionException
            or TimeoutException or System.Net.Sockets.SocketException or Orleans.Runtime.OrleansException
        || (e.InnerException is { } inner && IsConnectionLoss(inner));
}
