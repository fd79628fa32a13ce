using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using RoboRl.Core.Tasks;
using RoboRl.Sims.DiffDrive;
using RoboRl.Sims.Quadrotor;
using RoboRl.Sims.Swarm;

namespace RoboRl.Cli.Commands;

/// <summary>`roborl bench sim`: simulator throughput, dynamics only and the full task step, one core and all cores.</summary>
public static class BenchSimCommand
{
    public const string DefaultTask = "configs/tasks/crazyflie-hover.json";
    public const string DefaultNavTask = "configs/tasks/diffbot-nav.json";

    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of the table" };
        var envs = new Option<int[]>("--envs")
        {
            Description = "Environment counts to measure (the JSON summary uses the largest)",
            DefaultValueFactory = _ => [1, 64, 4096],
            AllowMultipleArgumentsPerToken = true,
        };
        var seconds = new Option<double>("--seconds") { Description = "Seconds per measurement (best of 3 runs)", DefaultValueFactory = _ => 0.25 };
        var task = new Option<string?>("--task") { Description = $"Task config (default {DefaultTask}, or {DefaultNavTask} with --robot diffbot)" };
        var robot = new Option<string>("--robot")
        {
            Description = "crazyflie (quadrotor, hover task), diffbot (differential drive with a 360-beam lidar, navigation task) or swarm (8 Crazyflies, neighbours, columns: configs/swarm/crazyflie-swarm8.json)",
            DefaultValueFactory = _ => "crazyflie",
        };
        robot.AcceptOnlyFromAmong("crazyflie", "diffbot", "swarm");
        var command = new Command("sim", "Simulator env-steps per second: dynamics only and the full task step, on one core and on all cores")
        {
            json, envs, seconds, task, robot,
        };
        command.SetAction(parse => Run(parse.GetValue(task), parse.GetValue(envs)!, parse.GetValue(seconds), parse.GetValue(json),
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, parse.GetValue(robot)!));
        return command;
    }

    public static int Run(string? taskPath, int[] envCounts, double seconds, bool json, TextWriter output, TextWriter progress, string robot = "crazyflie")
    {
        var io = new CommandIo("bench sim", output, progress, json);
        return io.Run(() => Measure(taskPath, envCounts, seconds, robot, io));
    }

    private static int Measure(string? taskPath, int[] envCounts, double seconds, string robot, CommandIo io)
    {
        TextWriter output = io.Output, progress = io.Error;
        bool json = io.Json;
        if (envCounts.Length == 0 || envCounts.Any(n => n < 1)) throw CliException.BadInput("--envs needs positive counts");
        if (!(seconds > 0)) throw CliException.BadInput($"--seconds {seconds}: must be positive");
        if (taskPath is not null) PathArguments.InputFile(RepoPaths.Find(taskPath), "--task", "a task config (configs/tasks/*.json)");
        if (robot == "swarm") // quad-steps per second (issue 18's keys); the logic lives in RoboRl.Sims
            return io.Result(SwarmSimBenchmark.Measure(RoboRl.Core.Swarm.SwarmTaskConfig.Load(RepoPaths.Find(taskPath ?? SwarmSimBenchmark.DefaultTask)), envCounts.Max(), seconds, progress));
        Func<int, int, SimThroughput> dynamics, taskStep;
        string taskName;
        if (robot == "diffbot")
        {
            NavTaskConfig nav = NavTaskConfig.Load(RepoPaths.Find(taskPath ?? DefaultNavTask));
            dynamics = (n, threads) => NavSimBenchmark.DynamicsStepsPerSecond(nav, n, threads, seconds);
            taskStep = (n, threads) => NavSimBenchmark.TaskStepsPerSecond(nav, n, threads, seconds);
            taskName = $"navigation task step ({nav.Robot.Lidar.Beams}-beam lidar)";
        }
        else
        {
            HoverTaskConfig hover = HoverTaskConfig.Load(RepoPaths.Find(taskPath ?? DefaultTask));
            dynamics = (n, threads) => SimBenchmark.DynamicsStepsPerSecond(hover, n, threads, seconds);
            taskStep = (n, threads) => SimBenchmark.TaskStepsPerSecond(hover, n, threads, seconds);
            taskName = "task step";
        }
        int cores = Environment.ProcessorCount;
        var rows = new List<(int Envs, double Dyn1, double DynAll, double Task1, double TaskAll, double TaskAllCores)>();
        int total = envCounts.Length * 4, done = 0;
        void Progress(string what) => progress.WriteLine($"[{++done}/{total}] {what}");
        foreach (int n in envCounts)
        {
            Progress($"dynamics, {n} envs, 1 thread");
            double dyn1 = dynamics(n, 1).StepsPerSecond;
            Progress($"dynamics, {n} envs, {cores} threads");
            double dynAll = dynamics(n, cores).StepsPerSecond;
            Progress($"{taskName}, {n} envs, 1 thread");
            double task1 = taskStep(n, 1).StepsPerSecond;
            Progress($"{taskName}, {n} envs, {cores} threads");
            SimThroughput taskAll = taskStep(n, cores);
            rows.Add((n, dyn1, dynAll, task1, taskAll.StepsPerSecond, taskAll.CoresUsed));
        }
        var largest = rows.MaxBy(r => r.Envs);
        var summary = new Dictionary<string, object>
        {
            ["dynamics_steps_per_s_1core"] = Math.Round(largest.Dyn1),
            ["task_steps_per_s_1core"] = Math.Round(largest.Task1),
            ["task_steps_per_s_allcores"] = Math.Round(largest.TaskAll),
            ["robot"] = robot,
            ["cores"] = cores,
            ["envs"] = largest.Envs,
            ["dynamics_steps_per_s_allcores"] = Math.Round(largest.DynAll),
            ["task_ns_per_step_1core"] = Math.Round(1e9 / largest.Task1, 1),
            // CPU seconds per wall second during the all-cores task run: near `cores` on an idle machine;
            // far below means other processes held the cores and the all-cores figure understates scaling.
            ["task_allcores_cores_used"] = Math.Round(largest.TaskAllCores, 2),
            ["measurement_s"] = seconds,
            ["rows"] = rows.Select(r => new Dictionary<string, object>
            {
                ["envs"] = r.Envs,
                ["dynamics_steps_per_s_1core"] = Math.Round(r.Dyn1),
                ["dynamics_steps_per_s_allcores"] = Math.Round(r.DynAll),
                ["task_steps_per_s_1core"] = Math.Round(r.Task1),
                ["task_steps_per_s_allcores"] = Math.Round(r.TaskAll),
                ["task_allcores_cores_used"] = Math.Round(r.TaskAllCores, 2),
            }).ToList(),
        };
        if (!json)
        {
            string M(double v) => (v / 1e6).ToString("F2", CultureInfo.InvariantCulture).PadLeft(10);
            output.WriteLine($"env-steps per second, millions ({cores} cores; best of 3 × {seconds / 3:F2} s)");
            output.WriteLine($"{"envs",6} {"dyn 1c",10} {"dyn all",10} {"task 1c",10} {"task all",10} {"cores used",11}");
            foreach (var r in rows) output.WriteLine($"{r.Envs,6} {M(r.Dyn1)} {M(r.DynAll)} {M(r.Task1)} {M(r.TaskAll)} {r.TaskAllCores,11:F2}");
            output.WriteLine("(cores used: CPU seconds per second during 'task all'; below the core count means the machine was busy)");
        }
        progress.WriteLine($"bench sim{(robot == "crazyflie" ? "" : $" ({robot})")}: {largest.Envs} envs: {taskName} {largest.Task1 / 1e6:F2} M/s on 1 core, {largest.TaskAll / 1e6:F2} M/s on {cores} cores; dynamics {largest.Dyn1 / 1e6:F2} M/s on 1 core");
        return io.Result(summary);
    }
}
