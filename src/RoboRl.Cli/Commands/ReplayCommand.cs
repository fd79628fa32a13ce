using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using RoboRl.Core.Policy;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Configs;
using RoboRl.Core.Robots;
using RoboRl.Logs;
using RoboRl.Foxglove;
using RoboRl.Replay;

namespace RoboRl.Cli.Commands;

/// <summary>
/// `roborl replay LOG`: play a flight log to stdout (JSON lines) or ROS 2 like `ros2 bag play`; or feed its
/// observations to another policy (--policy); or replay its actions open-loop in the simulator (--sim).
/// </summary>
public static class ReplayCommand
{
    public static Command Create()
    {
        var log = new Argument<string>("log") { Description = "Flight log (MCAP) recorded by the node." };
        var to = new Option<string>("--to") { Description = "Where to play messages: stdout (JSON lines, every message), ros2 (raw CDR on the recorded topics and QoS) mqtt (JSON on PREFIX/topic) or foxglove (Foxglove viewers; --foxglove gives the address).", DefaultValueFactory = _ => "stdout" };
        var rate = new Option<double>("--rate") { Description = "Playback speed factor (0: as fast as possible).", DefaultValueFactory = _ => 1 };
        var topics = new Option<string[]>("--topics") { Description = "Only these topics.", AllowMultipleArgumentsPerToken = true };
        var loop = new Option<bool>("--loop") { Description = "Start again at the end." };
        var start = new Option<double>("--start") { Description = "Start this many seconds into the log." };
        var end = new Option<double?>("--end") { Description = "Stop this many seconds into the log." };
        var wait = new Option<bool>("--wait") { Description = "ros2/mqtt: wait for a slow subscriber instead of dropping (and counting) messages. (stdout, a file or a pipe always gets every message.)" };
        var noDrop = new Option<bool>("--no-drop") { Description = "ros2/mqtt: keep the log's pace, and exit 1 if any message had to be dropped." };
        var broker = new Option<string>("--broker") { Description = "With --to mqtt: HOST:PORT of the broker, or 'embedded' (an MQTTnet broker on port 1883).", DefaultValueFactory = _ => "embedded" };
        var prefix = new Option<string>("--mqtt-prefix") { Description = "With --to mqtt: topic prefix.", DefaultValueFactory = _ => "roborl/replay" };
        var policy = new Option<string?>("--policy") { Description = "Feed the recorded observations to this policy bundle and report the action divergence." };
        var sim = new Option<bool>("--sim") { Description = "Replay the recorded actions open-loop in the simulator, in windows that each start from a recorded state (the simulator's true state when the log has it)." };
        var window = new Option<double>("--window") { Description = "With --sim: window length, seconds (0: one open-loop run over the whole flight).", DefaultValueFactory = _ => SimReplay.DefaultWindowS };
        var robot = new Option<string?>("--robot") { Description = "With --sim: the plant to simulate (default: the robot recorded in the log)." };
        var json = new Option<bool>("--json") { Description = "Print the result as one JSON object (after the message lines with --to stdout)." };
        var foxglove = RunCommand.FoxgloveOption();
        var foxgloveToken = RunCommand.FoxgloveTokenOption();
        var plot = new Option<string?>("--plot") { Description = "With --policy or --sim: where to write the time-series PNG (default: next to the log)." };
        var command = new Command("replay", "Replay a flight log: to stdout or ROS 2, to another policy (--policy), or to the simulator (--sim).")
        {
            log, to, rate, topics, loop, start, end, wait, noDrop, broker, prefix, foxglove, foxgloveToken, policy, sim, window, robot, json, plot,
        };
        command.SetAction(parse =>
        {
            TextWriter output = parse.InvocationConfiguration.Output, progress = parse.InvocationConfiguration.Error;
            string path = parse.GetValue(log)!;
            bool asJson = parse.GetValue(json);
            if (parse.GetValue(policy) is { } bundle) return ReplayToPolicy(path, bundle, asJson, parse.GetValue(plot), output, progress);
            if (parse.GetValue(sim))
            {
                double windowS = parse.GetValue(window);
                if (!(windowS >= 0) || double.IsInfinity(windowS))
                    return new CommandIo("replay", output, progress, asJson).Fail(ExitCodes.BadInput, $"--window {windowS}: expected seconds ≥ 0 (0: one open-loop run)");
                return ReplayToSim(path, parse.GetValue(robot), asJson, parse.GetValue(plot), output, progress, windowS);
            }
            var options = new ReplayOptions
            {
                Rate = parse.GetValue(rate),
                Topics = parse.GetValue(topics) is { Length: > 0 } t ? t : null,
                Loop = parse.GetValue(loop),
                StartS = parse.GetValue(start),
                EndS = parse.GetValue(end) ?? double.PositiveInfinity,
                WaitForSink = parse.GetValue(wait),
            };
            string sinkName = parse.GetValue(to)!;
            if (parse.GetValue(foxglove) is not null)
            {
                // --foxglove is the foxglove sink (`--to foxglove` with its address); another --to alongside it is a contradiction.
                if (parse.GetResult(to) is { Implicit: false } && sinkName != "foxglove")
                    return new CommandIo("replay", output, progress, asJson).Fail(ExitCodes.BadInput, $"--foxglove plays to Foxglove viewers; it cannot be combined with --to {sinkName}");
                sinkName = "foxglove";
            }
            return Play(path, sinkName, options, output, progress, default, parse.GetValue(broker)!, parse.GetValue(prefix)!,
                json: asJson, failOnDrop: parse.GetValue(noDrop), foxglove: parse.GetValue(foxglove), foxgloveToken: parse.GetValue(foxgloveToken));
        });
        return command;
    }

    /// <summary>
    /// Plays the log into stdout, ROS 2 or MQTT. Exit 0 when every selected message went out (or, on a network sink without
    /// --no-drop, with the dropped ones counted on stderr); 1 with <paramref name="failOnDrop"/> when any was dropped;
    /// 2 when the options select nothing (the message names the log's span and topics).
    /// </summary>
    public static int Play(string path, string to, ReplayOptions options, TextWriter output, TextWriter progress, CancellationToken cancel = default,
        string broker = "embedded", string mqttPrefix = "roborl/replay", bool json = false, bool failOnDrop = false, string? foxglove = null,
        string? foxgloveToken = null)
    {
        var io = new CommandIo("replay", output, progress, json);
        return io.Run(() =>
        {
            if (options.Rate < 0) throw CliException.BadInput($"--rate {options.Rate}: must be ≥ 0 (0 plays as fast as possible)");
            if (!ReplaySinks.Standard.TryGet(to, out _)) throw CliException.BadInput($"--to {to}: expected {string.Join(", ", ReplaySinks.Standard.Names)}");
            if (to == "mqtt")
            {
                try { ReplaySinks.ParseBroker(broker); }
                catch (FormatException e) { throw CliException.BadInput(e.Message); }
            }
            if (to == "foxglove")
            {
                foxglove ??= "8765";
                try { FoxgloveEndpoint.Parse(foxglove, foxgloveToken); }
                catch (FormatException e) { throw CliException.BadInput(e.Message); }
            }
            else if (foxgloveToken is not null) throw CliException.BadInput("--foxglove-token needs --foxglove [ADDR:]PORT");
            PathArguments.InputFile(path, "LOG", "an MCAP flight log");
            FlightLog log = FlightLog.Load(path);
            if (!log.IsComplete) io.Note($"{path} is damaged; replaying everything readable ({log.Messages.Count} messages; {log.DescribeStop()})");
            if (LogPlayer.NothingToPlay(log, options) is { } nothing) throw CliException.BadInput($"nothing to play: {nothing}");
            if (options.Topics?.Where(t => !log.ChannelsByTopic.ContainsKey(t)).ToList() is { Count: > 0 } unknown)
                io.Note($"--topics: not in the log, skipped: {string.Join(" ", unknown)}");
            return PlayInto(log, to, options, io, cancel, broker, mqttPrefix, failOnDrop, foxglove ?? "8765", foxgloveToken);
        });
    }

    private static int PlayInto(FlightLog log, string to, ReplayOptions options, CommandIo io, CancellationToken cancel, string broker, string mqttPrefix, bool failOnDrop,
        string foxglove, string? foxgloveToken)
    {
        TextWriter progress = io.Error;
        IReplaySink sink;
        try
        {
            sink = ReplaySinks.Standard.Get(to, "--to", "").Open(new ReplaySinkRequest
            {
                Log = log,
                Options = options,
                Output = io.Output,
                Broker = broker,
                MqttPrefix = mqttPrefix,
                Foxglove = foxglove,
                FoxgloveToken = foxgloveToken,
                Notice = line => progress.WriteLine(line),
            });
        }
        catch (FormatException e) { throw CliException.BadInput(e.Message); }
        catch (RobotLinkException e) { throw CliException.Fault(e.Message); }
        var control = new ReplayControl();
        if (!Console.IsInputRedirected && ProgressLine.IsTerminal(progress))
        {
            progress.WriteLine("replay: space pauses/resumes, s steps one message");
            var keys = new Thread(() =>
            {
                try
                {
                    while (true)
                    {
                        ConsoleKeyInfo key = Console.ReadKey(intercept: true);
                        if (key.Key == ConsoleKey.Spacebar) control.TogglePause();
                        else if (key.Key == ConsoleKey.S) control.Step();
                    }
                }
                catch (InvalidOperationException) { /* no console after all: replay without keys */ }
            })
            { IsBackground = true, Name = "roborl-replay-keys" };
            keys.Start();
        }
        ReplayResult result;
        var line = ProgressLine.For(progress);
        using (sink)
        {
            result = new LogPlayer(log, options).Play(sink, control, p =>
                line.Report(string.Create(CultureInfo.InvariantCulture,
                    $"{(p.Paused ? "[paused] " : "")}{p.LogSeconds,8:F2} / {p.DurationSeconds:F2} s  played {p.Played}  dropped {p.Dropped}")), cancel);
        }
        line.End();
        FoxgloveServer? viewers = (sink as FoxgloveReplaySink)?.Server;
        string dropped = result.Dropped == 0 ? "none dropped"
            : $"{result.Dropped} DROPPED: the {to} sink fell behind the log's pace (--wait waits for it; --no-drop fails the run instead)";
        io.Note($"{result.Played} messages played to {to}, {dropped}; log {result.Stop}");
        var summary = new JsonObject
        {
            ["played"] = result.Played,
            ["dropped"] = result.Dropped,
            ["loops"] = result.Loops,
            ["to"] = to,
            ["log"] = log.Path,
            ["log_complete"] = log.IsComplete,
            ["log_stop"] = result.Stop,
        };
        if (viewers is not null)
        {
            summary["foxglove"] = new JsonObject
            {
                ["url"] = viewers.Url,
                ["port"] = viewers.Port,
                ["viewers_connected"] = viewers.ViewersConnected,
                ["connections_refused"] = viewers.ConnectionsRefused,
                ["frames_sent"] = viewers.FramesSent,
                ["frames_dropped"] = viewers.FramesDropped,
            };
            io.Note($"foxglove {viewers.Url}: {viewers.ViewersConnected} viewers, {viewers.FramesSent} frames sent, {viewers.FramesDropped} dropped by slow viewers");
        }
        if (failOnDrop && result.Dropped > 0)
            return io.Finish(summary, ExitCodes.Failed, $"--no-drop: {result.Dropped} of {result.Played + result.Dropped} messages were dropped");
        return io.Result(summary);
    }

    public static int ReplayToPolicy(string path, string bundlePath, bool json, string? plotPath, TextWriter output, TextWriter? error = null) =>
        new CommandIo("replay", output, error ?? TextWriter.Null, json).Run(() =>
    {
        PathArguments.InputFile(path, "LOG", "an MCAP flight log");
        PathArguments.InputFile(bundlePath, "--policy", "a policy bundle (.safetensors)");
        if (plotPath is not null) PathArguments.OutputFile(plotPath, "--plot");
        FlightLog log = FlightLog.Load(path);
        PolicyBundle bundle = PolicyBundle.Read(bundlePath);
        PolicyReplayResult r = PolicyReplay.Run(log, bundle);
        plotPath ??= Path.ChangeExtension(path, null) + "-policy.png";
        var plot = new ScottPlot.Plot();
        for (int a = 0; a < r.ActionNames.Count; a++)
        {
            var recorded = plot.Add.ScatterLine(r.TimeS, r.Recorded.Select(v => (double)v[a]).ToArray());
            recorded.LegendText = $"{r.ActionNames[a]} recorded";
            var replayed = plot.Add.ScatterLine(r.TimeS, r.Replayed.Select(v => (double)v[a]).ToArray());
            replayed.LegendText = $"{r.ActionNames[a]} {Path.GetFileName(bundlePath)}";
            replayed.LinePattern = ScottPlot.LinePattern.Dashed;
        }
        plot.Title($"roborl replay --policy: {Path.GetFileName(path)}");
        plot.XLabel("time (s)"); plot.YLabel("action (normalised)"); plot.ShowLegend();
        plot.SavePng(plotPath, 1000, 600);
        if (json)
        {
            return new CommandIo("replay", output, TextWriter.Null, json: true).Result(new JsonObject
            {
                ["rms_divergence"] = r.RmsDivergence,
                ["max_divergence"] = r.MaxDivergence,
                ["steps"] = r.Steps,
                ["axes"] = new JsonArray(r.ActionNames.Select(n => (JsonNode)n).ToArray()),
                ["rms_divergence_per_axis"] = new JsonArray(r.RmsPerAxis.Select(v => (JsonNode)v).ToArray()),
                ["max_divergence_per_axis"] = new JsonArray(r.MaxPerAxis.Select(v => (JsonNode)v).ToArray()),
                ["log"] = log.DescribeStop(),
                ["plot"] = plotPath,
            });
        }
        output.WriteLine($"replay --policy: {r.Steps} steps of {Path.GetFileName(path)} through {Path.GetFileName(bundlePath)} (log {log.DescribeStop()})");
        for (int a = 0; a < r.ActionNames.Count; a++)
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {r.ActionNames[a],-12} rms {r.RmsPerAxis[a]:F5}  max {r.MaxPerAxis[a]:F5}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  all          rms {r.RmsDivergence:F5}  max {r.MaxDivergence:F5}"));
        output.WriteLine($"  plot: {plotPath}");
        return 0;
    });

    public static int ReplayToSim(string path, string? robotPath, bool json, string? plotPath, TextWriter output, TextWriter? error = null,
        double windowS = SimReplay.DefaultWindowS) =>
        new CommandIo("replay", output, error ?? TextWriter.Null, json).Run(() =>
    {
        PathArguments.InputFile(path, "LOG", "an MCAP flight log");
        if (robotPath is not null) PathArguments.InputFile(robotPath, "--robot", "a quadrotor robot config (configs/robots/*.json)");
        if (plotPath is not null) PathArguments.OutputFile(plotPath, "--plot");
        FlightLog log = FlightLog.Load(path);
        QuadrotorConfig recorded = log.RecordedRobot()
            ?? (robotPath is null ? throw new FlightLogException($"{path}: the log records no robot config; give --robot ROBOT.json") : QuadrotorConfig.Load(robotPath));
        QuadrotorConfig plant = robotPath is null ? recorded : QuadrotorConfig.Load(robotPath);
        SimReplayResult r = SimReplay.Run(log, plant, recorded, windowS);
        plotPath ??= Path.ChangeExtension(path, null) + "-sim.png";
        var plot = new ScottPlot.Plot();
        var pos = plot.Add.ScatterPoints(r.TimeS, r.PositionErrorM.Select(e => e * 1e3).ToArray()); pos.LegendText = "position error (mm)"; pos.MarkerSize = 2;
        var att = plot.Add.ScatterPoints(r.TimeS, r.AttitudeErrorRad.Select(e => e * 1e3).ToArray()); att.LegendText = "attitude error (mrad)"; att.MarkerSize = 2;
        string windows = r.WindowS > 0 ? $"{r.Windows.Count} windows of {r.WindowS:G3} s" : "one open-loop run";
        plot.Title($"roborl replay --sim: {Path.GetFileName(path)} on {plant.Name} ({windows}, against the {Describe(r.Reference)})");
        plot.XLabel("time (s)"); plot.ShowLegend();
        plot.SavePng(plotPath, 1000, 600);
        static JsonNode? Number(double v) => double.IsFinite(v) ? JsonValue.Create(v) : null; // a diverged replay: null, not a number
        if (json)
        {
            return new CommandIo("replay", output, TextWriter.Null, json: true).Result(new JsonObject
            {
                ["pos_rmse_m"] = Number(r.PositionRmseM),
                ["att_rmse_rad"] = Number(r.AttitudeRmseRad),
                ["pos_max_m"] = Number(r.PositionMaxM),
                ["att_max_rad"] = Number(r.AttitudeMaxRad),
                ["window_s"] = r.WindowS,
                ["windows"] = r.Windows.Count,
                ["reference"] = r.Reference,
                ["rotor_speeds"] = r.RotorSpeedsRecorded ? "recorded" : "rebuilt",
                ["duration_s"] = r.Duration,
                ["samples"] = r.TimeS.Length,
                ["robot"] = plant.Name,
                ["log"] = log.DescribeStop(),
                ["plot"] = plotPath,
                ["per_window"] = new JsonArray(r.Windows.Select(w => (JsonNode)new JsonObject
                {
                    ["start_s"] = w.StartS,
                    ["length_s"] = w.LengthS,
                    ["pos_rmse_m"] = Number(w.PositionRmseM),
                    ["att_rmse_rad"] = Number(w.AttitudeRmseRad),
                    ["pos_max_m"] = Number(w.PositionMaxM),
                    ["att_max_rad"] = Number(w.AttitudeMaxRad),
                    ["pos_end_m"] = Number(w.PositionEndM),
                    ["att_end_rad"] = Number(w.AttitudeEndRad),
                }).ToArray()),
            });
        }
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"replay --sim: {r.Duration:F2} s of {Path.GetFileName(path)} open-loop on {plant.Name}, {windows}, against the {Describe(r.Reference)}: " +
            $"position RMSE {r.PositionRmseM * 1e3:G4} mm (max {r.PositionMaxM * 1e3:G4}), attitude RMSE {r.AttitudeRmseRad * 1e3:G4} mrad (max {r.AttitudeMaxRad * 1e3:G4})"));
        if (!r.RotorSpeedsRecorded) output.WriteLine("  the log has no rotor speeds: each window starts from speeds rebuilt from the commands under the motor lag");
        output.WriteLine($"  plot: {plotPath}");
        return 0;
    });

    private static string Describe(string reference) => reference == "ground_truth" ? "simulator's true states" : "measured states (sensor noise included)";
}
