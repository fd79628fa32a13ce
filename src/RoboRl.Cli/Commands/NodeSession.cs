using System.Globalization;
using System.Numerics;
using System.Text.Json.Nodes;
using RoboRl.Core.Configs;
using RoboRl.Core.Messages;
using RoboRl.Core.Policy;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Robots;
using RoboRl.Logs;
using RoboRl.Node;
using RoboRl.Sims.Quadrotor;

namespace RoboRl.Cli.Commands;

/// <summary>
/// A link to a robot other than the in-process simulator (MQTT, ROS 2, Crazyflie): the node's sensor and actuator,
/// optional command, teleop and telemetry channels, where the node's events are published, and how to start and stop
/// it with the flight.
/// </summary>
public sealed record RobotLink(ISensorSource Sensor, IActuatorSink Actuator, Action Start, Action Stop, IDisposable Owner)
{
    public ICommandSource? Commands { get; init; }
    public ITeleopSource? Teleop { get; init; }
    public ITelemetrySink? Telemetry { get; init; }
    /// <summary>The transport's status or diagnostics channel for the node's events (refusals, mode changes and why).</summary>
    public INodeEventSink? Events { get; init; }
}

/// <summary>
/// Puts a node together for `roborl run` and `roborl quickstart`: config, policy bundle, the transport (the simulated
/// robot in process, or a <see cref="RobotLink"/> such as MQTT), the recorder; runs it in real time with a progress
/// line and ends with a one-line summary.
/// </summary>
public sealed class NodeSession : IDisposable
{
    public required NodeConfig Config { get; init; }
    public required InferenceNode Node { get; init; }
    /// <summary>The simulated robot when the transport is "sim", else null.</summary>
    public SimulatedQuadrotor? Sim { get; init; }
    public RobotLink? Link { get; init; }
    public NodeRecorder? Recorder { get; init; }
    /// <summary>The microcontroller running the policy when the config says "policy_on": "mcu", else null.</summary>
    public RoboRl.Serial.Firmware.McuRemotePolicy? Mcu { get; init; }

    /// <summary>
    /// Builds the link for transport "mqtt" from <see cref="NodeConfig.Mqtt"/> (the config's unread "mqtt" section,
    /// which RoboRl.Mqtt schema-checks itself): <see cref="MqttRobotLink.Create"/>; tests may replace it.
    /// </summary>
    public static Func<NodeConfig, RobotLink>? MqttLink { get; set; } = MqttRobotLink.Create;

    /// <summary>Builds the link for transport "ros2" from <see cref="NodeConfig.Ros2"/>: <see cref="Ros2RobotLink.Create"/>.</summary>
    public static Func<NodeConfig, RobotLink> Ros2Link { get; set; } = Ros2RobotLink.Create;

    /// <summary>
    /// With transport "sim" and an "mqtt" section, MQTT still carries commands, teleop and telemetry (its sensor and
    /// actuator are then ignored), so a simulated flight can be watched and taken over like a real one.
    /// </summary>
    public static bool MqttSideChannelWithSim { get; set; } = true;

    /// <summary>
    /// A problem found while setting up the flight, printed as one line: bad input (a bad file, a refused bundle; exit code
    /// 2) unless another code is given (a robot that cannot be reached: <see cref="ExitCodes.Fault"/>).
    /// </summary>
    public sealed class SetupException(string message, int exitCode = ExitCodes.BadInput) : CliException(exitCode, message);

    /// <param name="uri">Overrides the config's Crazyflie link (cflib's URI: radio://0/80/2M/E7E7E7E7E7, serial:///dev/ttyUSB0).</param>
    public static NodeSession Open(string configPath, string policyPath, string? recordPath, string? simRobotPath, string? uri = null)
    {
        configPath = PathArguments.InputFile(RepoPaths.Find(configPath), "NODE_CONFIG", "a node config (configs/nodes/*.json)");
        PathArguments.InputFile(policyPath, "--policy", "a policy bundle (.safetensors)");
        if (simRobotPath is not null) PathArguments.InputFile(simRobotPath, "--sim-robot", "a quadrotor robot config (configs/robots/*.json)");
        NodeConfig config;
        PolicyBundle bundle;
        try
        {
            config = NodeConfig.Load(configPath);
            bundle = PolicyBundle.Read(policyPath);
        }
        catch (Exception e) when (e is ConfigException or PolicyBundleException) { throw new SetupException(e.Message); }
        if (config.Transport == TransportKind.Mqtt && MqttLink is null)
            throw new SetupException($"{config.File}: transport \"mqtt\" is provided by RoboRl.Mqtt, which this build does not include yet; use transport \"sim\"");
        if (uri is not null && config.Transport != TransportKind.Crazyflie)
            throw new SetupException($"--uri sets the Crazyflie link, but {config.File} has transport \"{config.Transport.ToString().ToLowerInvariant()}\"; use a config with transport \"crazyflie\" (configs/nodes/crazyflie-radio.json)");
        if (uri is not null && RoboRl.Crazyflie.CrazyflieTransportOptions.UriProblem(uri) is { } uriProblem)
            throw new SetupException($"--uri: {uriProblem}");

        QuadrotorConfig plant = config.Robot;
        if (simRobotPath is not null)
        {
            try { plant = QuadrotorConfig.Load(simRobotPath); }
            catch (ConfigException e) { throw new SetupException(e.Message); }
        }
        try { InferenceNode.CheckBundle(config, bundle); }
        catch (PolicyMismatchException e) { throw new SetupException($"refused before arming: {e.Message}"); }
        string? record = recordPath ?? (config.Recording.Enabled ? config.Recording.Path : null);
        if (record is not null) PathArguments.OutputFile(record, recordPath is not null ? "--record" : $"{config.File}: $.recording.path");
        if (config.Transport != TransportKind.Sim && simRobotPath is not null) throw new SetupException("--sim-robot needs transport \"sim\"");

        // The robot link first: a robot that cannot be reached (no dongle, no broker) leaves no empty flight log behind.
        RobotLink? link = null;
        SimulatedQuadrotor? robot = null;
        if (config.Transport == TransportKind.Ros2) link = Ros2Link(config);
        else if (config.Transport == TransportKind.Crazyflie) link = CrazyflieRobotLink.Create(config, uri);
        else if (config.Transport == TransportKind.Mqtt || (config.Mqtt is not null && MqttLink is not null && MqttSideChannelWithSim))
            link = MqttLink!(config);
        if (config.Transport == TransportKind.Sim)
        {
            SimTransportConfig sim = config.Sim!; // NodeConfig requires the section for transport "sim"
            robot = new SimulatedQuadrotor(plant, new SimulatedQuadrotorOptions
            {
                PhysicsHz = sim.PhysicsHz, StartPosition = sim.StartPosition, NoiseStd = sim.NoiseStd, Seed = sim.Seed,
            });
        }
        NodeRecorder? recorder = null;
        if (record is not null)
        {
            try
            {
                // A simulated robot's true state goes into the log too: `roborl replay --sim` anchors on it.
                recorder = NodeRecorder.Create(record, bundle.ObservationSize, config.Recording.RingSlots, config.Recording.Compression,
                    FlightLogMetadata.Build(bundle, File.ReadAllText(config.RobotPath), config.RateHz), groundTruth: robot);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                link?.Owner.Dispose();
                throw new SetupException($"cannot record to {record}: {e.Message}");
            }
        }
        ISensorSource sensor = robot is not null ? robot : link!.Sensor;
        IActuatorSink actuator = robot is not null ? robot : link!.Actuator;
        var node = new InferenceNode(config, bundle, sensor, actuator, recorder: recorder);
        if (link?.Commands is { } commands) node.AddCommands(commands);
        if (link?.Teleop is { } teleop) node.AddTeleop(teleop);
        if (link?.Telemetry is { } telemetry) node.AddTelemetry(telemetry);
        RoboRl.Serial.Firmware.McuRemotePolicy? mcu = null;
        if (config.PolicyOn == PolicyLocation.Mcu)
        {
            try
            {
                mcu = McuPolicyLink.Open(config, bundle, policyPath);
                node.UseRemotePolicy(mcu);
            }
            catch (Exception e) when (e is SetupException or PolicyMismatchException)
            {
                mcu?.Dispose();
                node.Dispose();
                robot?.Dispose();
                link?.Owner.Dispose();
                recorder?.Dispose();
                throw e as SetupException ?? new SetupException($"refused before arming: {e.Message}");
            }
        }
        return new NodeSession { Config = config, Node = node, Sim = robot, Link = link, Recorder = recorder, Mcu = mcu };
    }

    /// <summary>How long the node may go without a first robot state before the console says what it waits for.</summary>
    public static TimeSpan StateWaitNotice { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Flies for <paramref name="seconds"/> of real time (or until Ctrl+C, or until <paramref name="done"/> says so). On this
    /// thread, every 20 ms: the node's events are printed the moment they happen and handed to the transport's
    /// status/diagnostics channel; <paramref name="sample"/> is called; a progress line goes to <paramref name="progress"/>
    /// every <paramref name="progressEveryS"/> (default: each second on a terminal, every 5 s to a file, a pipe or a CI
    /// log); and, while no robot state has arrived, a line says what the node is waiting for.
    /// </summary>
    public void Fly(double seconds, TextWriter progress, Action? sample = null, CancellationToken cancel = default, double progressEveryS = 0,
        Func<bool>? done = null)
    {
        if (!(progressEveryS > 0)) progressEveryS = RoboRl.Cli.ProgressLine.IsTerminal(progress) ? 1 : 5;
        // Keep blocking (gen 2) collections from pausing the tick thread for what other threads allocate (progress, plot data).
        System.Runtime.GCSettings.LatencyMode = System.Runtime.GCLatencyMode.SustainedLowLatency;
        Sim?.Start();
        Link?.Start();
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
            // Said before the link closes (a closed ROS 2 subscription can no longer tell who matched).
            _sensorAfterFlight = DescribeSensor();
            Sim?.Stop();
            Link?.Stop();
            Recorder?.Dispose();
        }
    }

    private string? _sensorAfterFlight;

    /// <summary>Events that arrived on the node's stream: printed now (stderr), and published on the transport's status channel.</summary>
    private void ForwardEvents(TextWriter progress)
    {
        while (Node.EventStream.TryRead(out NodeEvent e))
        {
            progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  event at tick {e.Tick}: {e.Describe()}"));
            try { Link?.Events?.Publish(e.ToStatus()); }
            catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException) { /* the transport is closing; the console has it */ }
        }
    }

    /// <summary>What the node's sensor waits for and has seen (the in-process simulator: always there).</summary>
    public string DescribeSensor() => (Link?.Sensor as ISensorDiagnostics)?.DescribeSensor()
        ?? (Sim is not null ? "the simulated robot in this process" : "the robot's state");

    /// <summary>
    /// The flight's exit code (docs/cli.md): a node that never received its robot's state, or a recording that failed,
    /// is a runtime fault (3) with one line saying what was waited for; else 0.
    /// </summary>
    public (int Code, string? Problem) Outcome(double seconds)
    {
        if (!Node.HasState)
            return (ExitCodes.Fault, string.Create(CultureInfo.InvariantCulture, $"no robot state arrived in {seconds:F1} s; the node waited for {_sensorAfterFlight ?? DescribeSensor()}"));
        if (Recorder?.Error is { } error) return (ExitCodes.Fault, error);
        if (FlightFailure() is { } failure) return (ExitCodes.Fault, $"the flight failed {failure}");
        return (ExitCodes.Ok, null);
    }

    private string ProgressLine(double t, double seconds)
    {
        RobotStateSample s = Node.LastState;
        TickStatistics ticks = Node.RunStatistics;
        return string.Create(CultureInfo.InvariantCulture,
            $"[{t,5:F1}/{seconds:F0} s] {NodeEvent.ModeName(Node.Mode),-10} pos ({s.Position.X,5:F2}, {s.Position.Y,5:F2}, {s.Position.Z,4:F2}) m  " +
            $"setpoint ({Node.Setpoint.X,5:F2}, {Node.Setpoint.Y,5:F2}, {Node.Setpoint.Z,4:F2})  tick p99 {ticks.LatencyP99Us:F1} µs  overruns {ticks.Overruns}");
    }

    /// <summary>
    /// Why the flight failed, or null: the supervisor sent the node to its fallback (a violation, not a land command),
    /// or the kill switch stopped it. A script reading the exit code must not mistake either for a flight.
    /// </summary>
    public string? FlightFailure()
    {
        foreach (NodeEvent e in Node.Events)
            if (e.Kind == NodeEventKind.ModeChange && (e.Mode == NodeMode.Killed || (e.Mode == NodeMode.Fallback && e.Violation.Tripped)))
                return string.Create(CultureInfo.InvariantCulture, $"at tick {e.Tick}: {e.Describe()}");
        return null;
    }

    /// <summary>The events, one per line, and the one-line summary.</summary>
    public void Summarise(string command, double seconds, TextWriter output)
    {
        foreach (NodeEvent e in Node.Events)
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  event at tick {e.Tick}: {e.Describe()}"));
        if (Recorder?.Error is { } error) output.WriteLine($"  {error}");
        if (Mcu is not null) output.WriteLine(McuPolicyLink.Describe(Mcu, Node));
        output.WriteLine(SummaryLine(command, seconds));
    }

    /// <summary>The flight's figures as the --json result of `run` and `quickstart`.</summary>
    public JsonObject SummaryJson(double seconds)
    {
        var (rms, max, samples) = Node.TrackingError;
        TickStatistics t = Node.RunStatistics;
        var events = new JsonArray();
        foreach (NodeEvent e in Node.Events)
        {
            NodeStatusEvent s = e.ToStatus();
            events.Add(new JsonObject { ["tick"] = e.Tick, ["kind"] = s.Kind, ["mode"] = e.Mode.ToString().ToUpperInvariant(), ["text"] = s.Text });
        }
        return new JsonObject
        {
            ["duration_s"] = Math.Round(seconds, 3),
            ["ticks"] = t.Ticks,
            ["rate_hz"] = Math.Round(t.RateHz, 2),
            ["final_mode"] = Node.Mode.ToString().ToUpperInvariant(),
            ["state_received"] = Node.HasState,
            ["tracking_error_rms_m"] = Math.Round(rms, 5),
            ["tracking_error_max_m"] = Math.Round(max, 5),
            ["tracking_ticks"] = samples,
            ["tick_p50_us"] = Math.Round(t.LatencyP50Us, 2),
            ["tick_p99_us"] = Math.Round(t.LatencyP99Us, 2),
            ["tick_max_us"] = Math.Round(t.LatencyMaxUs, 1),
            ["jitter_p99_us"] = Math.Round(t.JitterP99Us, 1),
            ["overruns"] = t.Overruns,
            ["safety_events"] = Node.SafetyEventCount,
            ["events"] = events,
            ["record"] = Recorder is null ? null : new JsonObject
            {
                ["path"] = Recorder.Destination, ["records"] = Recorder.Written, ["dropped"] = Recorder.Dropped, ["error"] = Recorder.Error,
            },
        };
    }

    public string SummaryLine(string command, double seconds)
    {
        var (rms, max, samples) = Node.TrackingError;
        TickStatistics t = Node.RunStatistics;
        string recorded = Recorder is null ? "not recorded"
            : Recorder.Error is null ? $"recorded {Recorder.Destination} ({Recorder.Written} records, {Recorder.Dropped} dropped)"
            : $"recording FAILED ({Recorder.Destination})";
        return string.Create(CultureInfo.InvariantCulture,
            $"{command}: {seconds:F1} s, {t.Ticks} ticks at {t.RateHz:F1} Hz; final mode {NodeEvent.ModeName(Node.Mode)}; " +
            $"tracking error rms {rms:F3} m, max {max:F3} m ({samples} ticks); tick p50 {t.LatencyP50Us:F1} µs, p99 {t.LatencyP99Us:F1} µs, " +
            $"max {t.LatencyMaxUs:F0} µs, jitter p99 {t.JitterP99Us:F0} µs, {t.Overruns} overruns; {Node.SafetyEventCount} safety events; {recorded}");
    }

    public void Dispose()
    {
        Node.Dispose();
        Sim?.Dispose();
        Link?.Owner.Dispose();
        Recorder?.Dispose();
        Mcu?.Dispose();
    }
}
