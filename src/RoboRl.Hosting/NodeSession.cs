using System.Globalization;
using System.Runtime.Intrinsics;
using System.Text.Json.Nodes;
using RoboRl.Core.Configs;
using RoboRl.Core.Policy;
using RoboRl.Core.Robots;
using RoboRl.Foxglove;
using RoboRl.Logs;
using RoboRl.Node;

namespace RoboRl.Hosting;

/// <summary>What the program hosting a node session sets besides the files.</summary>
public sealed record NodeSessionOptions
{
    /// <summary>The plugins to open the config's names with (default: <see cref="NodePlugins.Standard"/>).</summary>
    public NodePlugins? Plugins { get; init; }
    /// <summary>Options for the plugins (a transport's test settings, `--uri`, `--sim-robot`); their log line goes to stderr unless set.</summary>
    public PluginSettings Settings { get; init; } = new() { Log = line => Console.Error.WriteLine(line) };
    /// <summary>Checks the host's own flags against the loaded config (e.g. `--uri` needs transport "crazyflie"); throws <see cref="CliException"/>.</summary>
    public Action<NodeConfig>? CheckConfig { get; init; }
    /// <summary>`--foxglove [ADDR:]PORT`: serve the run to Foxglove viewers (docs/foxglove.md); null: no server.</summary>
    public string? Foxglove { get; init; }
    /// <summary>`--foxglove-token`: the secret a viewer must send (?token=…); required for an address beyond loopback.</summary>
    public string? FoxgloveToken { get; init; }
}

/// <summary>
/// Puts a node together for `roborl run`, `roborl quickstart` and `roborl-node`, for any robot kind: the config and its
/// robot kind, the policy bundle (checked by the kind before anything opens), the transports the config names (opened
/// through their plugins, the robot's first: a robot that cannot be reached leaves no empty flight log), a remote policy,
/// the recorder; runs the node in real time — or in lock-step with a simulated robot that offers it — with a progress
/// line, and ends with a one-line summary.
/// </summary>
public sealed class NodeSession : IDisposable
{
    public required NodeConfig Config { get; init; }
    public required InferenceNode Node { get; init; }
    /// <summary>Every link the config opened, the robot's (config "transport") first.</summary>
    public required IReadOnlyList<RobotLink> Links { get; init; }
    /// <summary>The link the robot's state comes from (config "sensors").</summary>
    public required RobotLink SensorLink { get; init; }
    public NodeRecorder? Recorder { get; init; }
    /// <summary>The Foxglove server (`--foxglove`), fed from the recorder thread; null without one.</summary>
    public FoxgloveServer? Foxglove { get; init; }
    private NodeRecorder? FileRecorder => Recorder is { RecordsToFile: true } ? Recorder : null;
    /// <summary>The policy on another processor ("policy_on"), or null.</summary>
    public IRemotePolicy? RemotePolicy { get; init; }
    /// <summary>The simulated robot the node steps itself (the sim transport with "lock_step": true), or null for real time.</summary>
    public ILockStepRobot? LockStep { get; init; }
    /// <summary>Where the node's events are published (the transports with the telemetry role that take them).</summary>
    public IReadOnlyList<INodeEventSink> EventSinks { get; init; } = [];

    /// <summary>The robot kind's controller.</summary>
    public IRobotController Controller => Node.Controller;

    /// <summary>
    /// A problem found while setting up the run, printed as one line: bad input (a bad file, a refused bundle; exit code
    /// 2) unless another code is given (a robot that cannot be reached: <see cref="ExitCodes.Fault"/>).
    /// </summary>
    public sealed class SetupException(string message, int exitCode = ExitCodes.BadInput) : CliException(exitCode, message);

    /// <param name="policyPath">The policy bundle; null only where the robot kind runs without one (a ground robot's DWA planner).</param>
    public static NodeSession Open(string configPath, string? policyPath, string? recordPath, NodeSessionOptions? options = null)
    {
        options ??= new NodeSessionOptions();
        NodePlugins plugins = options.Plugins ?? NodePlugins.Standard;
        FoxgloveEndpoint? endpoint = null;
        if (options.Foxglove is not null)
        {
            try { endpoint = FoxgloveEndpoint.Parse(options.Foxglove, options.FoxgloveToken); }
            catch (FormatException e) { throw new SetupException(e.Message); }
        }
        else if (options.FoxgloveToken is not null) throw new SetupException("--foxglove-token needs --foxglove [ADDR:]PORT");
        configPath = PathArguments.InputFile(RepoPaths.Find(configPath), "NODE_CONFIG", "a node config (configs/nodes/*.json)");
        if (policyPath is not null) PathArguments.InputFile(policyPath, "--policy", "a policy bundle (.safetensors)");
        NodeConfig config;
        PolicyBundle? bundle = null;
        INodeKind kind;
        try
        {
            config = NodeConfig.Load(configPath, plugins.Kinds);
            if (policyPath is not null) bundle = PolicyBundle.Read(policyPath);
            kind = NodeKinds.For(config, plugins.Kinds);
            foreach (string name in config.Transports) plugins.Transports.Get(name, config.File, RoleKey(config, name));
            if (config.PolicyOn != NodeConfig.HostPolicy) plugins.RemotePolicies.Get(config.PolicyOn, config.File, "$.policy_on");
        }
        catch (Exception e) when (e is ConfigException or PolicyBundleException) { throw new SetupException(e.Message); }
        options.CheckConfig?.Invoke(config);
        try { kind.CheckPolicy(config, bundle); }
        catch (PolicyMismatchException e) { throw new SetupException($"refused before arming: {e.Message}"); }
        catch (ConfigException e) { throw new SetupException(e.Message); }
        string? record = recordPath ?? (config.Recording.Enabled ? config.Recording.Path : null);
        if (record is not null) PathArguments.OutputFile(record, recordPath is not null ? "--record" : $"{config.File}: $.recording.path");

        var links = new List<RobotLink>();
        IRemotePolicy? remote = null;
        IRobotController? controller = null;
        NodeRecorder? recorder = null;
        FoxgloveServer? foxglove = null;
        try
        {
            // The robot's links first: a robot that cannot be reached (no dongle, no broker) leaves no empty flight log behind.
            foreach (string name in config.Transports)
            {
                links.Add(plugins.Transports.Get(name, config.File, RoleKey(config, name)).Open(new TransportRequest
                {
                    Name = name,
                    NodeFile = config.File,
                    Section = config.Section(name),
                    RobotKind = config.Kind,
                    Robot = config.Robot,
                    RobotPath = config.RobotPath,
                    RobotConfigJson = config.RobotConfigJson,
                    KindSettings = config.Settings,
                    Roles = config.RolesOf(name),
                    Settings = options.Settings,
                }));
            }
            if (config.PolicyOn != NodeConfig.HostPolicy)
            {
                if (bundle is null || policyPath is null) throw new SetupException($"{config.File}: policy_on \"{config.PolicyOn}\" needs --policy BUNDLE");
                remote = plugins.RemotePolicies.Get(config.PolicyOn, config.File, "$.policy_on").Open(new RemotePolicyRequest
                {
                    Name = config.PolicyOn,
                    NodeFile = config.File,
                    Section = config.Section(config.PolicyOn),
                    Bundle = bundle,
                    BundlePath = policyPath,
                    Settings = options.Settings,
                });
            }
            controller = kind.CreateController(new NodeSetup
            {
                Config = config,
                Bundle = bundle,
                Sensors = Link(links, config.Sensors),
                Actuators = Link(links, config.Transport),
                RemotePolicy = remote,
            });
            if (record is not null)
            {
                try
                {
                    recorder = NodeRecorder.Create(record, controller.ObservationSize, config.Recording.RingSlots, config.Recording.Compression, controller.FlightMetadata);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new SetupException($"cannot record to {record}: {e.Message}");
                }
            }
            if (endpoint is not null)
            {
                try { foxglove = FoxgloveServer.Start(endpoint, $"roborl node ({config.Kind}, {Path.GetFileName(config.File)})"); }
                catch (System.Net.Sockets.SocketException e)
                {
                    throw new SetupException($"--foxglove {options.Foxglove}: cannot listen on {endpoint.Address}:{endpoint.Port}: {e.Message}");
                }
                // The viewers get what the recorder encodes, on its thread; a run that is not recorded still encodes, into no file.
                recorder ??= NodeRecorder.WithoutFile(controller.ObservationSize, config.Recording.RingSlots, controller.FlightMetadata);
                Geofence? fence = (config.Settings as QuadrotorNodeSettings)?.Geofence;
                recorder.AddTap(new SceneTap(new SceneBuilder(fence?.Min, fence?.Max)));
                recorder.AddTap(new FoxgloveTap(foxglove));
                options.Settings.Log($"foxglove: serving {foxglove.Url}{(foxglove.NeedsToken ? "/?token=…" : "")} (Foxglove: Open connection → Foxglove WebSocket)");
            }
        }
        catch (Exception e)
        {
            foxglove?.Dispose();
            recorder?.Dispose();
            controller?.Dispose();
            (remote as IDisposable)?.Dispose();
            foreach (RobotLink link in links) link.Dispose();
            throw e switch
            {
                CliException => e,
                PolicyMismatchException => new SetupException($"refused before arming: {e.Message}"),
                ConfigException or PolicyBundleException => new SetupException(e.Message),
                RobotLinkException => new SetupException(e.Message, ExitCodes.Fault),
                _ => e,
            };
        }

        var node = new InferenceNode(config, controller, recorder);
        var eventSinks = new List<INodeEventSink>();
        foreach (RobotLink link in links)
        {
            TransportRoles roles = config.RolesOf(link.Transport);
            if ((roles & TransportRoles.Commands) != 0 && link.Port<ICommandSource>() is { } commands) node.AddCommands(commands);
            if ((roles & TransportRoles.Teleop) != 0 && link.Port<ITeleopSource>() is { } teleop) node.AddTeleop(teleop);
            if ((roles & TransportRoles.Telemetry) != 0 && link.Port<ITelemetrySink>() is { } telemetry) node.AddTelemetry(telemetry);
            if ((roles & TransportRoles.Telemetry) != 0 && link.Port<INodeEventSink>() is { } events) eventSinks.Add(events);
        }
        return new NodeSession
        {
            Config = config,
            Node = node,
            Links = links,
            SensorLink = Link(links, config.Sensors),
            Recorder = recorder,
            Foxglove = foxglove,
            RemotePolicy = remote,
            LockStep = Link(links, config.Transport).Port<ILockStepRobot>(),
            EventSinks = eventSinks,
        };
    }

    private static RobotLink Link(List<RobotLink> links, string name) => links.First(l => l.Transport == name);

    /// <summary>Where the config names a transport (for an error about it).</summary>
    private static string RoleKey(NodeConfig config, string name) =>
        config.Transport == name ? "$.transport" : config.Sensors == name ? "$.sensors"
        : config.Commands.Contains(name) ? "$.commands" : config.Teleop.Contains(name) ? "$.teleop" : "$.telemetry";

    /// <summary>How long the node may go without a first robot state before the console says what it waits for.</summary>
    public TimeSpan StateWaitNotice { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Runs for <paramref name="seconds"/> (or until Ctrl+C, or until <paramref name="done"/> says so): in real time, or
    /// — with a lock-step simulated robot — for that much simulated time, as fast as the ticks go. On this thread: the
    /// node's events are printed the moment they happen and handed to the transports' status/diagnostics channels;
    /// <paramref name="sample"/> is called (every 20 ms in real time, every tick in lock-step); a progress line goes to
    /// <paramref name="progress"/> every <paramref name="progressEveryS"/> (default: each second on a terminal, every 5 s
    /// to a file, a pipe or a CI log); and, while no robot state has arrived, a line says what the node is waiting for.
    /// </summary>
    public void Fly(double seconds, TextWriter progress, Action? sample = null, CancellationToken cancel = default, double progressEveryS = 0,
        Func<bool>? done = null)
    {
        if (!(progressEveryS > 0)) progressEveryS = Hosting.ProgressLine.IsTerminal(progress) ? 1 : 5;
        if (LockStep is { } stepper)
        {
            FlyLockStep(stepper, seconds, progress, sample, cancel, progressEveryS, done);
            return;
        }
        // Keep blocking (gen 2) collections from pausing the tick thread for what other threads allocate (progress, plot data).
        System.Runtime.GCSettings.LatencyMode = System.Runtime.GCLatencyMode.SustainedLowLatency;
        foreach (RobotLink link in Links) link.Start();
        Node.Start();
        var start = DateTime.UtcNow;
        var nextProgress = start;
        bool recordingErrorShown = false, waitShown = false;
        try
        {
            while (!cancel.IsCancellationRequested)
            {
                double t = (DateTime.UtcNow - start).TotalSeconds;
                if (t >= seconds || done?.Invoke() == true) break;
                sample?.Invoke();
                ForwardEvents(progress);
                Notices(progress, t, ref recordingErrorShown, ref waitShown);
                if (DateTime.UtcNow >= nextProgress)
                {
                    progress.WriteLine(ProgressLine(t, seconds));
                    nextProgress += TimeSpan.FromSeconds(progressEveryS);
                }
                Thread.Sleep(20);
            }
        }
        finally
        {
            Node.Stop();
            ForwardEvents(progress);
            // Said before the links close (a closed ROS 2 subscription can no longer tell who matched).
            _sensorAfterFlight = DescribeSensor();
            foreach (RobotLink link in Links) link.Stop();
            Recorder?.Dispose();
        }
    }

    /// <summary>Lock-step: each tick advances the simulated robot to the tick's time first, then ticks; simulated time only.</summary>
    private void FlyLockStep(ILockStepRobot robot, double seconds, TextWriter progress, Action? sample, CancellationToken cancel, double progressEveryS,
        Func<bool>? done)
    {
        long period = Node.PeriodNs, start = robot.TimeNs, now = start, end = start + (long)Math.Round(seconds * 1e9);
        long nextProgress = start;
        bool recordingErrorShown = false, waitShown = false;
        try
        {
            while (now + period <= end && !cancel.IsCancellationRequested && done?.Invoke() != true)
            {
                now += period;
                robot.AdvanceTo(now);
                Node.Tick(now, now);
                sample?.Invoke();
                ForwardEvents(progress);
                double t = (now - start) * 1e-9;
                Notices(progress, t, ref recordingErrorShown, ref waitShown);
                if (now >= nextProgress)
                {
                    progress.WriteLine(ProgressLine(t, seconds));
                    nextProgress += (long)(progressEveryS * 1e9);
                }
            }
            Node.Controller.Stopped(now);
        }
        finally
        {
            ForwardEvents(progress);
            _sensorAfterFlight = DescribeSensor();
            Recorder?.Dispose();
        }
    }

    private void Notices(TextWriter progress, double t, ref bool recordingErrorShown, ref bool waitShown)
    {
        if (!recordingErrorShown && Recorder?.Error is { } error)
        {
            progress.WriteLine(error);
            recordingErrorShown = true;
        }
        if (!waitShown && !Node.HasState && t >= StateWaitNotice.TotalSeconds)
        {
            progress.WriteLine($"  waiting for the robot's state: {DescribeSensor()}");
            waitShown = true;
        }
    }

    private string? _sensorAfterFlight;

    /// <summary>Events that arrived on the node's stream: printed now (stderr), and published on the transports' status channels.</summary>
    private void ForwardEvents(TextWriter progress)
    {
        while (Node.EventStream.TryRead(out NodeEvent e))
        {
            progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  event at tick {e.Tick}: {e.Describe()}"));
            foreach (INodeEventSink sink in EventSinks)
            {
                try { sink.Publish(e.ToStatus()); }
                catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException) { /* the transport is closing; the console has it */ }
            }
        }
    }

    /// <summary>What the node's sensor waits for and has seen (a simulated robot: always there).</summary>
    public string DescribeSensor() => SensorLink.Port<ISensorDiagnostics>()?.DescribeSensor()
        ?? (SensorLink.Transport == SimTransport.Name ? "the simulated robot in this process" : $"the robot's {Controller.StateName} on transport \"{SensorLink.Transport}\"");

    /// <summary>
    /// The run's exit code (docs/cli.md): a node that never received its robot's state, or a recording that failed, is a
    /// runtime fault (3) with one line saying what was waited for; so is a flight the supervisor or the kill switch
    /// ended (<see cref="IRobotController.Failure"/>); else 0.
    /// </summary>
    public (int Code, string? Problem) Outcome(double seconds)
    {
        if (!Node.HasState)
            return (ExitCodes.Fault, string.Create(CultureInfo.InvariantCulture, $"no {Controller.StateName} arrived in {seconds:F1} s; the node waited for {_sensorAfterFlight ?? DescribeSensor()}"));
        if (FileRecorder?.Error is { } error) return (ExitCodes.Fault, error);
        if (Controller.Failure() is { } failure) return (ExitCodes.Fault, $"the flight failed {failure}");
        return (ExitCodes.Ok, null);
    }

    private string ProgressLine(double t, double seconds)
    {
        TickStatistics ticks = Node.RunStatistics;
        return string.Create(CultureInfo.InvariantCulture,
            $"[{t,5:F1}/{seconds:F0} s] {NodeEvent.ModeName(Node.Mode),-10} {Controller.Progress()}  tick p99 {ticks.LatencyP99Us:F1} µs  overruns {ticks.Overruns}");
    }

    /// <summary>Why the run failed as a flight (the supervisor's fallback of a flyer, the kill switch), or null.</summary>
    public string? FlightFailure() => Controller.Failure();

    /// <summary>The events, one per line, the kind's report lines and the one-line summary (with <paramref name="suffix"/> appended).</summary>
    public void Summarise(string command, double seconds, TextWriter output, string suffix = "")
    {
        foreach (NodeEvent e in Node.Events)
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  event at tick {e.Tick}: {e.Describe()}"));
        if (FileRecorder?.Error is { } error) output.WriteLine($"  {error}");
        foreach (string line in Controller.ReportLines()) output.WriteLine(line);
        output.WriteLine(SummaryLine(command, seconds) + suffix);
    }

    /// <summary>The run's figures as the --json result of `run`, `quickstart` and `roborl-node`.</summary>
    public JsonObject SummaryJson(double seconds)
    {
        TickStatistics t = Node.RunStatistics;
        var events = new JsonArray();
        foreach (NodeEvent e in Node.Events)
        {
            NodeStatusEvent s = e.ToStatus();
            events.Add(new JsonObject { ["tick"] = e.Tick, ["kind"] = s.Kind, ["mode"] = e.Mode.ToString().ToUpperInvariant(), ["text"] = s.Text });
        }
        var result = new JsonObject
        {
            ["duration_s"] = Math.Round(seconds, 3),
            ["robot_kind"] = Config.Kind,
            ["clock"] = LockStep is null ? "real_time" : "lock_step",
            ["ticks"] = t.Ticks,
            ["rate_hz"] = Math.Round(t.RateHz, 2),
            ["final_mode"] = Node.Mode.ToString().ToUpperInvariant(),
            ["state_received"] = Node.HasState,
            // The widest SIMD this CPU accelerates, which selects the policy engine's kernel and the simulator's path: 256
            // on x64 with AVX, 128 on arm64 (AdvSimd), 0 for scalar code.
            ["vector_bits"] = Vector256.IsHardwareAccelerated ? 256 : Vector128.IsHardwareAccelerated ? 128 : 0,
        };
        Controller.AddSummary(result);
        result["tick_p50_us"] = Math.Round(t.LatencyP50Us, 2);
        result["tick_p99_us"] = Math.Round(t.LatencyP99Us, 2);
        result["tick_max_us"] = Math.Round(t.LatencyMaxUs, 1);
        result["jitter_p99_us"] = Math.Round(t.JitterP99Us, 1);
        result["overruns"] = t.Overruns;
        result["safety_events"] = Node.SafetyEventCount;
        result["events"] = events;
        result["record"] = FileRecorder is not { } recorder ? null : new JsonObject
        {
            ["path"] = recorder.Destination,
            ["records"] = recorder.Written,
            ["dropped"] = recorder.Dropped,
            ["error"] = recorder.Error,
        };
        result["foxglove"] = Foxglove is null ? null : new JsonObject
        {
            ["url"] = Foxglove.Url,
            ["port"] = Foxglove.Port,
            ["viewers_connected"] = Foxglove.ViewersConnected,
            ["connections_refused"] = Foxglove.ConnectionsRefused,
            ["frames_sent"] = Foxglove.FramesSent,
            ["frames_dropped"] = Foxglove.FramesDropped,
        };
        return result;
    }

    public string SummaryLine(string command, double seconds)
    {
        TickStatistics t = Node.RunStatistics;
        string recorded = FileRecorder is not { } recorder ? "not recorded"
            : recorder.Error is null ? $"recorded {recorder.Destination} ({recorder.Written} records, {recorder.Dropped} dropped)"
            : $"recording FAILED ({recorder.Destination})";
        if (Foxglove is { } f)
            recorded += string.Create(CultureInfo.InvariantCulture, $"; Foxglove {f.Url}: {f.ViewersConnected} viewers, {f.FramesSent} frames sent, {f.FramesDropped} dropped");
        string clock = LockStep is null ? "" : " (lock-step, simulated time)";
        return string.Create(CultureInfo.InvariantCulture,
            $"{command}: {seconds:F1} s{clock}, {t.Ticks} ticks at {t.RateHz:F1} Hz; final mode {NodeEvent.ModeName(Node.Mode)}; " +
            $"{Controller.Summary()}; tick p50 {t.LatencyP50Us:F1} µs, p99 {t.LatencyP99Us:F1} µs, " +
            $"max {t.LatencyMaxUs:F0} µs, jitter p99 {t.JitterP99Us:F0} µs, {t.Overruns} overruns; {Node.SafetyEventCount} safety events; {recorded}");
    }

    public void Dispose()
    {
        Node.Dispose();
        foreach (RobotLink link in Links) link.Dispose();
        Recorder?.Dispose();
        Foxglove?.Dispose();
        (RemotePolicy as IDisposable)?.Dispose();
    }
}
