using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RoboRl.Cluster;

namespace RoboRl.Cli.Commands;

/// <summary>
/// `roborl bench cluster [--iterations N] [--json]`: on this machine, learner and workers as separate `roborl`
/// processes on loopback: the navigation task with 1 worker, then 2 workers (rollout steps/s), then 2 workers of which
/// one hangs holding a lease and is killed while the other submits every fragment twice (final weights must equal
/// the 1-worker run's). Exit code 1 when the kill run's weights differ.
/// </summary>
public static class BenchClusterCommand
{
    public static Command Create()
    {
        var iterations = new Option<int>("--iterations") { Description = "PPO iterations per run (each 64 envs × 128 steps of configs/tasks/diffbot-nav.json).", DefaultValueFactory = _ => 4 };
        var shards = new Option<int>("--shards") { Description = "Shards per iteration (divides 64).", DefaultValueFactory = _ => 8 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object: steps_per_s_1_worker, steps_per_s_2_workers, scaling (rollout phases), iteration_steps_per_s_1_worker, iteration_steps_per_s_2_workers, iteration_scaling (with the learner's update), bytes_per_env_step, learner_fragments_per_s, fragment_env_steps, kill_test_final_hash_equal, duplicates_rejected, leases_reissued." };
        var command = new Command("cluster", "Distributed PPO on this machine: 1 vs 2 worker processes, and a worker killed mid-run (docs/cluster.md).")
        {
            iterations, shards, json,
        };
        command.SetAction(parse =>
        {
            var io = new CommandIo("bench cluster", parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, parse.GetValue(json));
            int n = parse.GetValue(iterations), k = parse.GetValue(shards);
            if (n < 1) throw CliException.BadInput($"--iterations {n}: must be ≥ 1");
            if (k < 1 || 64 % k != 0) throw CliException.BadInput($"--shards {k}: must divide 64 (the task's num_envs)");
            string directory = Directory.CreateTempSubdirectory("roborl-bench-cluster-").FullName;
            try
            {
                string task = WriteTask(directory, n);
                TextWriter log = io.Error;
                log.WriteLine($"bench cluster: {n} iterations of 64 envs × 128 steps in {k} shards; {Environment.ProcessorCount} cores");
                JsonObject one = RunCluster(task, Path.Combine(directory, "one"), k, log, "1 worker", ["w1"]);
                JsonObject two = RunCluster(task, Path.Combine(directory, "two"), k, log, "2 workers", ["w1", "w2"]);
                JsonObject kill = RunCluster(task, Path.Combine(directory, "kill"), k, log, "2 workers, one killed holding a lease", ["doomed", "steady"]);
                double s1 = one["rollout_steps_per_s"]!.GetValue<double>(), s2 = two["rollout_steps_per_s"]!.GetValue<double>();
                // Whole iterations: the rollout (what workers scale) plus the learner's GAE and update between rollouts, in
                // which every worker waits (the synchronous barrier); the update does not get faster with workers.
                int fragmentSteps = 64 / k * 128;
                double i1 = IterationStepsPerSecond(s1, one["learner_s_per_fragment"]!.GetValue<double>(), k, fragmentSteps);
                double i2 = IterationStepsPerSecond(s2, two["learner_s_per_fragment"]!.GetValue<double>(), k, fragmentSteps);
                bool equal = kill["final_weights_sha256"]!.GetValue<string>() == one["final_weights_sha256"]!.GetValue<string>();
                double secondsPerFragment = two["learner_s_per_fragment"]!.GetValue<double>();
                var result = new JsonObject
                {
                    ["steps_per_s_1_worker"] = Math.Round(s1),
                    ["steps_per_s_2_workers"] = Math.Round(s2),
                    ["scaling"] = Math.Round(s2 / s1, 3),
                    ["iteration_steps_per_s_1_worker"] = Math.Round(i1),
                    ["iteration_steps_per_s_2_workers"] = Math.Round(i2),
                    ["iteration_scaling"] = Math.Round(i2 / i1, 3),
                    ["bytes_per_env_step"] = two["bytes_per_env_step"]!.GetValue<long>(),
                    ["learner_fragments_per_s"] = Math.Round(1 / secondsPerFragment, 1),
                    ["fragment_env_steps"] = fragmentSteps,
                    ["kill_test_final_hash_equal"] = equal,
                    ["duplicates_rejected"] = kill["duplicates_rejected"]!.GetValue<long>(),
                    ["leases_reissued"] = kill["leases_reissued"]!.GetValue<long>(),
                    ["cores"] = Environment.ProcessorCount,
                };
                if (!io.Json)
                {
                    io.Output.WriteLine($"rollout steps/s   1 worker {s1:N0}   2 workers {s2:N0}   ({s2 / s1:F2}×)");
                    io.Output.WriteLine($"iteration steps/s 1 worker {i1:N0}   2 workers {i2:N0}   ({i2 / i1:F2}×; rollout plus the learner's update, which workers wait for)");
                    io.Output.WriteLine($"wire              {result["bytes_per_env_step"]} bytes per env step; learner ingests {result["learner_fragments_per_s"]} fragments/s of {result["fragment_env_steps"]} env steps (GAE + PPO update)");
                    io.Output.WriteLine($"worker killed     final weights {(equal ? "equal" : "DIFFER from")} the 1-worker run's; {result["leases_reissued"]} lease(s) re-issued, {result["duplicates_rejected"]} duplicate(s) rejected");
                }
                return io.Result(result, equal ? ExitCodes.Ok : ExitCodes.Failed);
            }
            finally { Directory.Delete(directory, recursive: true); }
        });
        return command;
    }

    /// <summary>Env steps per second of whole iterations: a rollout of <paramref name="shards"/> fragments at
    /// <paramref name="rolloutStepsPerSecond"/>, then the learner's <paramref name="learnerSecondsPerFragment"/> for each.</summary>
    static double IterationStepsPerSecond(double rolloutStepsPerSecond, double learnerSecondsPerFragment, int shards, int fragmentSteps)
    {
        double steps = (double)shards * fragmentSteps;
        return steps / (steps / rolloutStepsPerSecond + shards * learnerSecondsPerFragment);
    }

    /// <summary>configs/tasks/diffbot-nav.json with total_env_steps for <paramref name="iterations"/> PPO iterations after the warm-up.</summary>
    static string WriteTask(string directory, int iterations)
    {
        string source = RepoPaths.Find("configs/tasks/diffbot-nav.json");
        JsonNode node = JsonNode.Parse(Regex.Replace(File.ReadAllText(source), @"//[^\n]*", ""))!;
        node["robot"] = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(source))!, node["robot"]!.GetValue<string>()));
        node["training"]!["total_env_steps"] = 6400 + 64L * 128 * iterations;
        string path = Path.Combine(directory, "diffbot-nav-bench.json");
        File.WriteAllText(path, node.ToJsonString());
        return path;
    }

    /// <summary>One learner and the named workers ("doomed" hangs after the warm-up holding a lease and is killed; "steady" submits twice).</summary>
    static JsonObject RunCluster(string task, string runDirectory, int shards, TextWriter log, string label, string[] workers)
    {
        string conn = $"localhost:{ClusterConnection.FreeTcpPort()}";
        var clock = Stopwatch.StartNew();
        using var learner = Start(["train", task, "--cluster", conn, "-o", runDirectory, "--shards", shards.ToString(), "--lease-timeout-s", "2", "--json"]);
        var started = new List<Process>();
        try
        {
            foreach (string id in workers)
            {
                string[] extra = id switch { "doomed" => ["--hang-after-fragments", shards.ToString()], "steady" => ["--submit-twice"], _ => [] };
                Process worker = Start(["worker", "--cluster", conn, "--id", id, .. extra]);
                started.Add(worker);
                if (id != "doomed") _ = worker.StandardOutput.ReadToEndAsync(); // drained: a full pipe would block it
                if (id == "doomed")
                {
                    // Let it do the warm-up alone, then kill it while it holds a lease of iteration 1.
                    WaitForLine(worker, "hanging with iteration", TimeSpan.FromMinutes(3));
                }
            }
            if (workers.Contains("doomed"))
            {
                Thread.Sleep(500);
                started[0].Kill(entireProcessTree: true);
            }
            string output = learner.StandardOutput.ReadToEnd();
            learner.WaitForExit();
            if (learner.ExitCode != 0) throw CliException.Fault($"bench cluster ({label}): the learner exited with {learner.ExitCode}");
            JsonObject result = JsonNode.Parse(output.Trim().Split('\n')[^1])!.AsObject();
            log.WriteLine($"  {label}: {result["rollout_steps_per_s"]} rollout steps/s, {clock.Elapsed.TotalSeconds:F1} s");
            return result;
        }
        finally
        {
            foreach (Process p in started)
            {
                if (!p.WaitForExit(TimeSpan.FromSeconds(20))) p.Kill(entireProcessTree: true);
                p.Dispose();
            }
        }
    }

    static Process Start(string[] arguments)
    {
        // This same roborl: the apphost, or `dotnet roborl.dll` when started that way.
        string self = Environment.ProcessPath ?? "dotnet";
        var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // No tiered compilation in the learner and workers (docs/cluster.md, "Figures"), as docs/cluster.md advises for
        // workers sharing a small machine: tiering's background JIT (and dynamic PGO's re-JIT) kept a thread of every
        // process busy for the first minutes (a worker's JIT thread ran a fifth as long as its simulation thread over a
        // ten-iteration run), on the cores the workers share; fully optimised code from the first call removes it.
        psi.Environment["DOTNET_TieredCompilation"] = "0";
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") psi.ArgumentList.Add(typeof(BenchClusterCommand).Assembly.Location);
        foreach (string a in arguments) psi.ArgumentList.Add(a);
        var process = Process.Start(psi)!;
        process.ErrorDataReceived += (_, _) => { }; // drained: a full stderr pipe would block the child
        process.BeginErrorReadLine();
        return process;
    }

    static void WaitForLine(Process process, string text, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            string? line = process.StandardOutput.ReadLine();
            if (line is null) break;
            if (line.Contains(text))
            {
                // Keep draining its stdout so that the (killed) worker never blocks on a full pipe.
                _ = process.StandardOutput.ReadToEndAsync();
                return;
            }
        }
        throw CliException.Fault($"bench cluster: a worker did not reach '{text}' within {timeout.TotalMinutes:F0} min");
    }
}
