using System.Numerics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RoboRl.Core.Messages;
using RoboRl.Core.Policy;
using RoboRl.Core.Robots;
using RoboRl.Logs;
using RoboRl.Node;
using RoboRl.Sims.Quadrotor;

namespace RoboRl.Faults;

/// <summary>Finds the repository's files (configs) from the working directory or the executable's folder, whichever is inside the repository.</summary>
public static class RepoFiles
{
    public static string Find(string relative)
    {
        foreach (string start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, relative);
                if (File.Exists(candidate)) return candidate;
            }
        throw new FileNotFoundException($"{relative} not found above {Directory.GetCurrentDirectory()} or {AppContext.BaseDirectory}: run from inside the RoboRl repository");
    }

    public static string NodeConfig => Find("configs/nodes/crazyflie-sim.json");

    /// <summary>A fresh scratch directory for one scenario (under the system temp folder).</summary>
    public static string ScratchDirectory(string scenario)
    {
        string dir = Path.Combine(Path.GetTempPath(), "roborl-faults", $"{scenario}-{Guid.NewGuid():N}"[..(scenario.Length + 9)]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Writes an edited copy of a JSON config (comments dropped, its "robot" path made absolute) into <paramref name="directory"/>.</summary>
    public static string EditedCopy(string file, string directory, Action<JsonObject>? edit, string name = "node.json")
    {
        var root = JsonNode.Parse(File.ReadAllText(file), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip })!.AsObject();
        if (root["robot"] is JsonValue robot)
            root["robot"] = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, robot.GetValue<string>()));
        edit?.Invoke(root);
        string path = Path.Combine(directory, name);
        File.WriteAllText(path, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return path;
    }
}

/// <summary>
/// Policy bundles crafted for the faults (no training): a network that holds the Crazyflie's hover action while the
/// position error stays small, and misbehaves in a chosen way once |x error| passes <see cref="TriggerErrorM"/> — the
/// way a real network misbehaves, through its own arithmetic: huge weights overflow to +∞ in a ReLU layer and the
/// output subtracts two infinite units (∞ − ∞ = NaN), or a linear output leaves [-1, 1].
/// </summary>
public static class CraftedPolicies
{
    public enum Misbehaviour { None, NaN, OutOfRange }

    /// <summary>The |x position error| (m) from which the network misbehaves.</summary>
    public const float TriggerErrorM = 0.1f;

    public static PolicyBundle Build(string robotFile, Misbehaviour misbehaviour, double controlRateHz = 100, int history = 32)
    {
        string robotJson = File.ReadAllText(robotFile);
        var robot = RoboRl.Core.Quadrotor.QuadrotorConfig.Load(robotFile);
        float hover = robot.HoverAction();
        int obs = RoboRl.Core.Tasks.HoverObservation.ActorSize(history);

        // Layer 1 (ReLU): two units measure how far |e_x| is past the trigger, scaled by 1e3: u± = relu(±1e3·e_x − 1e3·trigger).
        const float Gain = 1e3f;
        var w1 = new float[2 * obs];
        w1[0 * obs + 0] = Gain;
        w1[1 * obs + 0] = -Gain;
        var b1 = new[] { -Gain * TriggerErrorM, -Gain * TriggerErrorM };
        // Layer 2 (ReLU): for NaN, four units of 1e38·(u+ + u−), which overflow past float.MaxValue (3.4e38) to +∞ once
        // u > 3.4, i.e. |e_x| > trigger + 3.4 mm; for out-of-range, just u+ + u−.
        float scale2 = misbehaviour == Misbehaviour.NaN ? 1e38f : 1f;
        var w2 = new float[4 * 2];
        for (int k = 0; k < 4; k++) { w2[k * 2 + 0] = scale2; w2[k * 2 + 1] = scale2; }
        var b2 = new float[4];
        // Layer 3 (identity): hover + (unit k − unit (k+1) mod 4) for NaN (∞ − ∞), hover + 10·unit k for out of range.
        var w3 = new float[4 * 4];
        for (int k = 0; k < 4; k++)
        {
            if (misbehaviour == Misbehaviour.NaN) { w3[k * 4 + k] = 1; w3[k * 4 + (k + 1) % 4] = -1; }
            else if (misbehaviour == Misbehaviour.OutOfRange) w3[k * 4 + k] = 10;
        }
        var b3 = Enumerable.Repeat(hover, 4).ToArray();

        var bundle = new PolicyBundle
        {
            Layers =
            [
                new DenseLayer(obs, 2, w1, b1, Activation.Relu),
                new DenseLayer(2, 4, w2, b2, Activation.Relu),
                new DenseLayer(4, 4, w3, b3, Activation.Identity),
            ],
            ObservationNames = RoboRl.Core.Tasks.HoverObservation.ActorNames(history),
            ActionNames = ["motor_1", "motor_2", "motor_3", "motor_4"],
            ObservationMean = new float[obs],
            ObservationStd = Enumerable.Repeat(1f, obs).ToArray(),
            ActionLow = new float[4],
            ActionHigh = RoboRl.Core.Tasks.HoverObservation.ActionScaling(robot).High,
            ActionUnit = RoboRl.Core.Tasks.HoverObservation.ActionUnit,
            ControlRateHz = controlRateHz,
            ActionHistoryLength = history,
            RobotConfigJson = robotJson,
            TrainingConfigJson = $$"""{"crafted":"hover, then {{misbehaviour}} past |x error| {{TriggerErrorM}} m (roborl bench faults)"}""",
            GitCommit = "0000000000000000000000000000000000000000",
            GoldenObservations = new float[obs],
            GoldenActions = b3.ToArray(),
        };
        bundle.Validate("crafted fault policy");
        return bundle;
    }
}

/// <summary>A sensor source between the robot and the node that the scenario can silence (cable pulled, publisher gone).</summary>
public sealed class SwitchableSensor(ISensorSource inner) : ISensorSource
{
    private volatile bool _silent;
    private RobotStateSample _frozen;
    private bool _hasFrozen;

    /// <summary>While true the node sees no new sample: the newest one it got ages.</summary>
    public bool Silent
    {
        get => _silent;
        set
        {
            if (value && !_silent) _hasFrozen = inner.TryGetLatest(out _frozen);
            _silent = value;
        }
    }

    public bool TryGetLatest(out RobotStateSample sample)
    {
        if (_silent) { sample = _frozen; return _hasFrozen; }
        return inner.TryGetLatest(out sample);
    }
}

/// <summary>
/// The actuator path from the node to the simulated robot. It can burn CPU inside the tick (a hog sharing the tick's
/// core) before passing the command on, and it is the robot's launch stand: until the node first flies (a policy or
/// human command), the robot is held at its hover speed instead of the idle node's "motors off", so that a node that
/// arms late on a loaded machine finds the robot where the flight starts, not fallen to the floor.
/// </summary>
public sealed class RigActuator(IActuatorSink inner, Vector4 hoverRpm) : IActuatorSink
{
    /// <summary>Busy time added to each tick while positive, nanoseconds.</summary>
    public long BurnNs;
    private bool _launched;

    public void Send(in ActuatorCommand command)
    {
        long burn = Volatile.Read(ref BurnNs);
        if (burn > 0)
        {
            long until = NodeClock.NowNs + burn;
            while (NodeClock.NowNs < until) Thread.SpinWait(10);
        }
        if (!_launched && command.Source is ActionSource.Policy or ActionSource.Human) _launched = true;
        if (_launched) inner.Send(in command);
        else
        {
            ActuatorCommand held = command;
            held.RotorRpm = hoverRpm;
            inner.Send(in held);
        }
    }
}

/// <summary>A command source the scenario feeds directly (what a transport hands the node after its own checks).</summary>
public sealed class ScriptedCommands : ICommandSource
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<NodeCommand> _queue = new();
    public void Enqueue(NodeCommandKind kind, Vector3 setpoint = default, string principal = "faults") =>
        _queue.Enqueue(new NodeCommand(kind, setpoint, 0, principal, NodeClock.NowNs));
    public bool TryDequeue(out NodeCommand command) => _queue.TryDequeue(out command);
}

/// <summary>
/// The node flying the simulated Crazyflie (configs/nodes/crazyflie-sim.json, sensor noise off) with the recorder on,
/// in lock-step on a simulated clock (<see cref="Step"/>: deterministic, times are simulated) or in real time on the
/// node's own thread (<see cref="StartRealTime"/>). The sensor passes through <see cref="SwitchableSensor"/> and the
/// actuator through <see cref="RigActuator"/>, so faults can be injected between the robot and the node.
/// </summary>
public sealed class FlightRig : IDisposable
{
    public NodeConfig Config { get; }
    /// <summary>The config's quadrotor settings (geofence, limits, setpoint, fallback).</summary>
    public QuadrotorNodeSettings Quadrotor { get; }
    public SimulatedQuadrotor Sim { get; }
    public InferenceNode Node { get; }
    /// <summary>The node's quadrotor controller (setpoint, fallback phase, last command).</summary>
    public QuadrotorController Controller { get; }
    public NodeRecorder? Recorder { get; }
    public SwitchableSensor Sensor { get; }
    public RigActuator Actuator { get; }
    public ScriptedCommands Commands { get; } = new();
    public string Directory { get; }
    public string? LogPath { get; }
    public long PeriodNs { get; }
    public long NowNs { get; private set; } = 1_000_000_000;
    private bool _realTime, _disposed;

    public sealed record Options
    {
        public Action<JsonObject>? Edit { get; init; }
        public PolicyBundle? Bundle { get; init; }
        public bool Record { get; init; } = true;
        /// <summary>Where the log goes (default: the scratch directory's flight.mcap).</summary>
        public string? LogPath { get; init; }
        /// <summary>Real-time flights start the simulated robot's clock now; lock-step ones at 1 s.</summary>
        public bool RealTime { get; init; }
        /// <summary>Where the node's samples come from (default: the simulated robot itself); e.g. a serial link the robot writes to.</summary>
        public Func<SimulatedQuadrotor, ISensorSource>? Sensor { get; init; }
    }

    public FlightRig(string scenario, Options? options = null)
    {
        options ??= new Options();
        Directory = RepoFiles.ScratchDirectory(scenario);
        string file = RepoFiles.EditedCopy(RepoFiles.NodeConfig, Directory, root =>
        {
            // Noise off: the crafted hover policy is open-loop and holds a noise-free robot still.
            root["sim"]!["noise_std"] = new JsonObject { ["position"] = 0, ["rotation"] = 0, ["velocity"] = 0, ["angular_velocity"] = 0 };
            root["recording"]!["ring_slots"] = 1 << 16;
            options.Edit?.Invoke(root);
        });
        Config = NodeConfig.Load(file);
        Quadrotor = Config.Quadrotor();
        SimTransportConfig sim = SimTransportConfig.From(Config);
        if (options.RealTime) NowNs = NodeClock.NowNs;
        // Hovering at the setpoint (the shipped config starts on the floor and takes off first): the scenarios fault a flight.
        Sim = new SimulatedQuadrotor(Quadrotor.Robot, new SimulatedQuadrotorOptions
        {
            PhysicsHz = sim.PhysicsHz,
            StartPosition = Quadrotor.Setpoint,
            NoiseStd = sim.NoiseStd,
            Seed = sim.Seed,
        }, NowNs);
        PolicyBundle bundle = options.Bundle ?? CraftedPolicies.Build(Config.RobotPath, CraftedPolicies.Misbehaviour.None);
        if (options.Record)
        {
            LogPath = options.LogPath ?? Path.Combine(Directory, "flight.mcap");
            Recorder = NodeRecorder.Create(LogPath, bundle.ObservationSize, Config.Recording.RingSlots, Config.Recording.Compression,
                FlightLogMetadata.Build(bundle, Config.RobotConfigJson, Config.RateHz));
        }
        Sensor = new SwitchableSensor(options.Sensor?.Invoke(Sim) ?? Sim);
        Actuator = new RigActuator(Sim, new Vector4(Quadrotor.Robot.HoverRpm()));
        Node = QuadrotorController.CreateNode(Config, bundle, Sensor, Actuator, recorder: Recorder);
        Controller = Node.Quadrotor();
        Node.AddCommands(Commands);
        PeriodNs = (long)Math.Round(1e9 / Config.RateHz);
    }

    /// <summary>Lock-step: physics up to the next tick, then the tick (started <paramref name="lateNs"/> late).</summary>
    public void Step(long lateNs = 0)
    {
        NowNs += PeriodNs;
        Sim.AdvanceTo(NowNs);
        Node.Tick(NowNs, NowNs + lateNs);
    }

    public void Run(double seconds)
    {
        long ticks = (long)Math.Round(seconds * Config.RateHz);
        for (long i = 0; i < ticks; i++) Step();
    }

    /// <summary>Steps until <paramref name="done"/> (checked after each tick) or <paramref name="maxSeconds"/>; returns the ticks taken, -1 if never.</summary>
    public long StepUntil(Func<bool> done, double maxSeconds)
    {
        long max = (long)Math.Round(maxSeconds * Config.RateHz);
        for (long i = 1; i <= max; i++)
        {
            Step();
            if (done()) return i;
        }
        return -1;
    }

    /// <summary>
    /// Runs the simulated robot and the node in real time on their own threads. The robot's physics thread asks for
    /// real-time scheduling just below the tick's: the real robot does not share the companion computer's CPU, so on a
    /// loaded machine its samples must not age because other programs run (that would be a fault of the test bench).
    /// </summary>
    public void StartRealTime()
    {
        _realTime = true;
        // As `roborl run` does: no blocking gen-2 collection pauses the tick for what other threads allocate; and the
        // garbage of earlier scenarios (this process runs them all) is collected now, not mid-flight.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        System.Runtime.GCSettings.LatencyMode = System.Runtime.GCLatencyMode.SustainedLowLatency;
        _physics = new Thread(() =>
        {
            RealTimeScheduling.TryEnterFifo(RobotThreadPriority);
            // Sleeps ~1 ms and catches up in whole physics steps (as SimulatedQuadrotor.Start does).
            while (!_physicsStop)
            {
                Sim.AdvanceTo(NodeClock.NowNs);
                Thread.Sleep(1);
            }
        })
        { IsBackground = true, Name = "faults-robot-physics" };
        Sim.AdvanceTo(NodeClock.NowNs);
        _physics.Start();
        Node.Start();
    }

    /// <summary>SCHED_FIFO priority of threads that play the robot (physics, its serial or DDS side): below the tick's.</summary>
    public const int RobotThreadPriority = RealTimeScheduling.TransportPriority;
    private Thread? _physics;
    private volatile bool _physicsStop;

    /// <summary>The first event of a kind after <paramref name="fromTick"/>, or null.</summary>
    public NodeEvent? FirstEvent(Func<NodeEvent, bool> match, ulong fromTick = 0)
    {
        foreach (NodeEvent e in Node.Events) if (e.Tick >= fromTick && match(e)) return e;
        return null;
    }

    /// <summary>Stops the node and the recorder (the log is closed) and reads the log back.</summary>
    public FlightLogCount CloseAndCount()
    {
        Stop();
        Check.That(LogPath is not null, "this rig records nothing");
        return FlightLogCount.Read(LogPath!);
    }

    private void Stop()
    {
        if (_disposed) return;
        _disposed = true;
        if (_realTime) { Node.Stop(); _physicsStop = true; _physics?.Join(); }
        Node.Dispose();
        Recorder?.Dispose();
    }

    public void Dispose()
    {
        Stop();
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>One /action record of a flight log.</summary>
public readonly record struct LoggedAction(ulong Tick, ActionSource Source, float[] Values, float[] PolicyValues);

/// <summary>A flight log read back and counted: messages per topic, the /action records, the /mode changes and the /diagnostics texts.</summary>
public sealed class FlightLogCount
{
    public Dictionary<string, long> PerTopic { get; } = new(StringComparer.Ordinal);
    public List<LoggedAction> Actions { get; } = [];
    public List<(ulong LogTime, string Mode, string Reason)> Modes { get; } = [];
    public List<string> Diagnostics { get; } = [];
    /// <summary>Why the reader stopped (complete, truncated at …).</summary>
    public string Stop { get; private set; } = "";
    public bool Complete { get; private set; }

    public long Count(string topic) => PerTopic.TryGetValue(topic, out long n) ? n : 0;

    /// <summary>Reads every readable message (streaming reader: a file cut short still gives its complete chunks).</summary>
    public static FlightLogCount Read(string path)
    {
        var count = new FlightLogCount();
        using var reader = McapStreamReader.Open(path);
        foreach (McapMessage m in reader.ReadMessages())
        {
            string topic = m.Channel.Topic;
            count.PerTopic[topic] = count.Count(topic) + 1;
            switch (topic)
            {
                case "/action":
                    {
                        ActionMsg a = Cdr.Read<ActionMsg>(m.Data.Span);
                        count.Actions.Add(new LoggedAction(a.Tick, a.Source, a.Values.ToArray(), a.PolicyValues.ToArray()));
                        break;
                    }
                case "/mode":
                    {
                        ModeMsg mode = Cdr.Read<ModeMsg>(m.Data.Span);
                        count.Modes.Add((m.LogTime, mode.Name ?? "", mode.Reason ?? ""));
                        break;
                    }
                case "/diagnostics":
                    // The status text is a CDR string: readable in place.
                    count.Diagnostics.Add(Encoding.UTF8.GetString(m.Data.Span));
                    break;
            }
        }
        count.Complete = reader.Stop?.Kind == McapStopKind.Complete;
        count.Stop = reader.Stop?.ToString() ?? "";
        return count;
    }

    /// <summary>Ticks in [first, last] that have no /action record (every tick writes one).</summary>
    public long MissingTicks(ulong first, ulong last)
    {
        var seen = new HashSet<ulong>(Actions.Select(a => a.Tick));
        long missing = 0;
        for (ulong t = first; t <= last; t++) if (!seen.Contains(t)) missing++;
        return missing;
    }
}
