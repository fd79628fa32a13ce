using System.CommandLine;
using System.Text.Json.Nodes;
using RoboRl.Training;

namespace RoboRl.Cli.Commands;

/// <summary>
/// `roborl sweep SWEEP.json [-o DIR] [--parallel N] [--cluster CONN] [--json]`: seeds × configurations (grid or random) or
/// population-based training of a task, each trial a run directory under DIR, resumable (rerun the same command on the
/// same DIR), ending with the rliable aggregate (aggregate.json, iqm.png, performance_profile.png; docs/sweep.md).
/// </summary>
public static class SweepCommand
{
    public static Command Create()
    {
        var sweep = new Argument<string>("sweep") { Description = "Sweep file, e.g. configs/sweeps/hover-lr.json." };
        var output = new OutputOption("Sweep directory (default runs/sweep-<name>-<time>); an existing one with a sweep.json is resumed.");
        var parallel = new Option<int>("--parallel") { Description = "Trials trained at once in this process (each on its own thread).", DefaultValueFactory = _ => 1 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object at the end (progress goes to stderr)." };
        var command = new Command("sweep", "Train a task over seeds and hyperparameters (grid, random or PBT) and aggregate the scores (IQM, 95 % CIs, performance profiles).")
        {
            sweep, parallel, json,
        };
        output.AddTo(command);
        var cluster = new ClusterCommands.SweepOptions();
        cluster.AddTo(command);
        command.SetAction(parse =>
        {
            var io = new CommandIo("sweep", parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, parse.GetValue(json));
            return io.Run(() =>
            {
                string path = RepoPaths.Find(parse.GetValue(sweep)!);
                PathArguments.InputFile(path, "SWEEP", "a sweep file (configs/sweeps/*.json)");
                int n = parse.GetValue(parallel);
                if (n < 1) throw CliException.BadInput($"--parallel {n}: must be at least 1");
                string? directory = output.Get(parse);
                if (directory is not null && File.Exists(directory)) throw CliException.BadInput($"--output {directory}: is a file; expected a sweep directory");
                // Progress to stdout for people, to stderr when stdout carries JSON.
                TextWriter progress = TextWriter.Synchronized(io.Json ? io.Error : io.Output);
                var options = new SweepOptions(path) { OutDirectory = directory, Parallel = n, Console = progress, Interactive = ProgressLine.IsTerminal(progress) };
                SweepRunResult result;
                try { result = ClusterCommands.Sweep(parse, cluster, options); }
                catch (Exception e) when (e is ArgumentException or InvalidDataException) { throw CliException.BadInput(e.Message); }
                return Report(io, result);
            });
        });
        return command;
    }

    static int Report(CommandIo io, SweepRunResult result)
    {
        foreach (string line in SweepAggregate.Table(result.Aggregate)) io.Text.WriteLine(line);
        io.Text.WriteLine($"sweep {result.State.Name}: {result.TrialsRun} run now, {result.TrialsSkipped} finished before; {Path.Combine(result.Directory, SweepAggregate.FileName)}");
        var json = new JsonObject
        {
            ["sweep_dir"] = result.Directory,
            ["mode"] = result.State.Mode,
            ["score"] = result.State.Score,
            ["trials_run"] = result.TrialsRun,
            ["trials_skipped"] = result.TrialsSkipped,
            ["best_configuration"] = result.Aggregate["best_configuration"]?.DeepClone(),
            ["configurations"] = result.Aggregate["configurations"]!.DeepClone(),
            ["aggregate"] = Path.Combine(result.Directory, SweepAggregate.FileName),
        };
        if (result.State.Pbt is { } pbt) json["pbt_exploits"] = pbt.Lineage.Count;
        if (result.Cluster is { } cluster) json["cluster"] = cluster;
        return io.Result(json);
    }
}
