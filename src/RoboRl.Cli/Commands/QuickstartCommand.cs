using System.CommandLine;
using System.Globalization;
using System.Numerics;
using System.Text.Json.Nodes;
using RoboRl.Core.Robots;
using RoboRl.Core.Messages;
using RoboRl.Node;

namespace RoboRl.Cli.Commands;

/// <summary>
/// `roborl quickstart [--policy BUNDLE] [-o DIR] [--duration S] [--json]`: the whole loop in one command — (train a short
/// hover policy,) fly it with the real-time node against the simulated Crazyflie through a figure-eight of setpoints,
/// record the flight as MCAP, print tracking error and tick statistics, and plot the trajectory (PNG).
/// </summary>
public static class QuickstartCommand
{
    public const string NodeConfig = "configs/nodes/crazyflie-sim.json";

    /// <summary>The task quickstart trains when no --policy is given: the default hover task (seconds on a laptop CPU).</summary>
    public const string HoverTask = "configs/tasks/crazyflie-hover.json";

    /// <summary>Trains the default hover task with TD3 into <paramref name="outDir"/>/train and returns the bundle's path.</summary>
    private static RoboRl.Training.TrainResult TrainHoverPolicy(string outDir, TextWriter progress)
    {
        // Found from the current directory or the binary's (like the node config), so quickstart runs from anywhere in the clone.
        var result = RoboRl.Training.Trainer.Run(new RoboRl.Training.TrainOptions(RepoPaths.Find(HoverTask))
        {
            OutDirectory = Path.Combine(outDir, "train"),
            Seed = 1,
            Console = progress,
            Interactive = ProgressLine.IsTerminal(progress),
        });
        progress.WriteLine($"trained {result.EnvSteps:N0} env steps in {result.WallSeconds:F1} s: success {result.FinalScore.SuccessRate:P1}, crashes {result.FinalScore.FailureRate:P1}; {TrainCommand.DescribeSnapshot(result)} ({result.BundlePath})");
        return result;
    }

    public static Command Create()
    {
        var policy = new Option<string?>("--policy") { Description = "Fly this policy bundle instead of training one." };
        var output = new OutputOption("Directory for the bundle, the flight log and the plot (default: quickstart).", keepOldOut: true);
        var duration = new Option<double>("--duration") { Description = "Seconds of flight.", DefaultValueFactory = _ => 20 };
        var json = new Option<bool>("--json") { Description = "Print the outputs and the flight's figures as one JSON object (progress goes to stderr)." };
        var command = new Command("quickstart", "Train (or take) a hover policy, fly a figure-eight with the real-time node and the simulated Crazyflie, record and plot it.")
        {
            policy, duration, json,
        };
        output.AddTo(command);
        command.SetAction(parse => Run(parse.GetValue(policy), output.Get(parse, "quickstart")!, parse.GetValue(duration),
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, parse.GetValue(json)));
        return command;
    }

    /// <summary>Time allowed on top of the figure-eight for the take-off (1 m at 0.5 m/s, then settling) and the landing (1 m at 0.3 m/s).</summary>
    public const double TakeoffAndLandingAllowanceS = 15;

    public static int Run(string? policyPath, string outDir, double seconds, TextWriter output, TextWriter progress, bool json = false)
    {
        var io = new CommandIo("quickstart", output, progress, json);
        return io.Run(() => Fly(policyPath, outDir, seconds, io));
    }

    private static int Fly(string? policyPath, string outDir, double seconds, CommandIo io)
    {
        TextWriter progress = io.Error;
        if (!(seconds > 0)) throw CliException.BadInput($"--duration {seconds}: must be a positive number of seconds");
        if (policyPath is not null) PathArguments.InputFile(policyPath, "--policy", "a policy bundle (.safetensors)");
        PathArguments.OutputDirectory(outDir, "--output");
        string? trainedFrom = null;
        if (policyPath is null)
        {
            string trainDir = Path.Combine(outDir, "train");
            if (Directory.Exists(trainDir) || File.Exists(trainDir))
                throw CliException.BadInput($"{trainDir} exists from an earlier run; remove it, pass another -o, or fly it with --policy {Path.Combine(trainDir, "policy.safetensors")}");
            progress.WriteLine($"[1/3] training a hover policy ({HoverTask}) into {trainDir} ...");
            RoboRl.Training.TrainResult trained = TrainHoverPolicy(outDir, progress);
            policyPath = trained.BundlePath;
            trainedFrom = trained.RunDirectory;
        }

        string log = Path.Combine(outDir, "quickstart.mcap"), plot = Path.Combine(outDir, "trajectory.png");
        PathArguments.OutputFile(plot, "--output");
        using (NodeSession session = NodeSession.Open(NodeConfig, policyPath, log))
        {
            // Take off from the floor (the classical controller), the figure-eight under the policy, land and disarm.
            var quadrotor = (QuadrotorController)session.Controller;
            var figureEight = new FigureEight(quadrotor.Settings.Setpoint, amplitude: 0.5f, periodS: 10,
                policyFlies: () => session.Node.Mode == NodeMode.Policy, seconds);
            session.Node.AddCommands(figureEight);
            var flown = new List<Vector3>();
            var wanted = new List<Vector3>();
            progress.WriteLine($"[2/3] take-off, {seconds:F0} s of figure-eight (±{figureEight.Amplitude} m, {figureEight.PeriodS} s per loop), landing; recording {log}");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            session.Fly(seconds + TakeoffAndLandingAllowanceS, progress, () =>
            {
                if (session.Node.TickCount == 0) return;
                flown.Add(quadrotor.LastState.Position);
                wanted.Add(quadrotor.Setpoint);
            }, done: () => figureEight.LandSent && session.Node.Mode is NodeMode.Idle or NodeMode.Killed);
            progress.WriteLine($"[3/3] plotting {plot}");
            TrajectoryPlot.Save(plot, flown, wanted, quadrotor.Settings.Geofence);
            double flownS = clock.Elapsed.TotalSeconds;
            session.Summarise("quickstart", flownS, io.Text);
            io.Text.WriteLine($"quickstart: outputs in {outDir}: {Path.GetFileName(log)} (open in Foxglove), {Path.GetFileName(plot)}");
            JsonObject result = session.SummaryJson(flownS);
            result["output_dir"] = outDir;
            result["bundle"] = policyPath;
            result["run_dir"] = trainedFrom;
            result["log"] = log;
            result["plot"] = plot;
            var (code, problem) = session.Outcome(flownS);
            return io.Finish(result, code, problem);
        }
    }
}

/// <summary>The x–y trajectory (flown and wanted) with the geofence, as a PNG (ScottPlot).</summary>
public static class TrajectoryPlot
{
    public static void Save(string path, IReadOnlyList<Vector3> flown, IReadOnlyList<Vector3> wanted, RoboRl.Node.Geofence fence)
    {
        var plot = new ScottPlot.Plot();
        var setpoint = plot.Add.ScatterLine(wanted.Select(p => (double)p.X).ToArray(), wanted.Select(p => (double)p.Y).ToArray());
        setpoint.LegendText = "setpoint";
        setpoint.LineWidth = 2;
        setpoint.LinePattern = ScottPlot.LinePattern.Dashed;
        var actual = plot.Add.ScatterLine(flown.Select(p => (double)p.X).ToArray(), flown.Select(p => (double)p.Y).ToArray());
        actual.LegendText = "flown";
        actual.LineWidth = 1.5f;
        var box = plot.Add.Rectangle(fence.Min.X, fence.Max.X, fence.Min.Y, fence.Max.Y);
        box.FillStyle.Color = ScottPlot.Colors.Transparent;
        box.LineStyle.Color = ScottPlot.Colors.Red;
        box.LegendText = "geofence";
        plot.Title("roborl quickstart: simulated Crazyflie, top view");
        plot.XLabel("x (m, east)");
        plot.YLabel("y (m, north)");
        plot.Axes.SquareUnits();
        plot.ShowLegend();
        plot.SavePng(path, 800, 800);
    }
}
