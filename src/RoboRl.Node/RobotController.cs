using System.Text.Json.Nodes;
using RoboRl.Core.Configs;
using RoboRl.Core.Policy;
using RoboRl.Core.Robots;

namespace RoboRl.Node;

/// <summary>One control tick as the node's loop hands it to the robot kind's controller.</summary>
public readonly struct NodeTick
{
    /// <summary>When the tick should have started and when it did (node clock; simulated time in lock-step), ns.</summary>
    public long ScheduledNs { get; init; }
    public long StartNs { get; init; }
    /// <summary>The tick's index since the node started.</summary>
    public ulong Index { get; init; }
    /// <summary>The tick started more than one period late.</summary>
    public bool Overrun { get; init; }
}

/// <summary>
/// A robot kind's per-tick control inside the one real-time node (<see cref="InferenceNode"/>): from the newest sensor
/// data through the observation builder and the policy (or planner) to the actuator command, with the kind's own safety
/// supervisor and fallback. The node owns the loop, the clock, the mode and events, the kill switch, the overrun count,
/// tick statistics, the recorder and the transports' command, teleop and telemetry channels; the controller reads and
/// writes those through the node it is attached to. <see cref="Tick"/>, <see cref="Handle"/>,
/// <see cref="DescribeTick"/> and <see cref="PublishTelemetry"/> run on the tick thread and allocate nothing.
/// </summary>
public interface IRobotController : IDisposable
{
    /// <summary>The robot kind ("quadrotor", "diff_drive").</summary>
    string Kind { get; }

    /// <summary>Values in the observation the policy (or planner) sees; the recorder logs them.</summary>
    int ObservationSize { get; }

    /// <summary>The observation built on the last tick.</summary>
    ReadOnlySpan<float> Observation { get; }

    /// <summary>True once the robot's state (sensors) has arrived.</summary>
    bool HasState { get; }

    /// <summary>The kind's topics in the flight log.</summary>
    INodeLog Log { get; }

    /// <summary>What identifies the robot and the policy spec in a flight log (<see cref="Logs.FlightLogMetadata"/>).</summary>
    IReadOnlyDictionary<string, string> FlightMetadata { get; }

    /// <summary>Binds the controller to its node; called once by the node's constructor.</summary>
    void Attach(InferenceNode node);

    /// <summary>One tick: sensors, supervisor, observation, policy, arbitration, actuators.</summary>
    void Tick(in NodeTick tick);

    /// <summary>An operator command other than Kill (the node handles the kill switch itself).</summary>
    void Handle(in NodeCommand command, long nowNs);

    /// <summary>Fills the tick's record (action, source) and writes the kind's state for its log into <paramref name="state"/>.</summary>
    void DescribeTick(ref TickRecord record, Span<byte> state);

    /// <summary>Publishes a telemetry frame on the node's telemetry sinks (called at telemetry_rate_hz).</summary>
    void PublishTelemetry(long nowNs, in TickStatistics window);

    /// <summary>The loop has stopped: leave the robot safe (a ground robot gets a zero velocity command).</summary>
    void Stopped(long nowNs);

    // ---- What the program hosting the node shows (off the tick thread; may allocate) ----

    /// <summary>What the node waits for while <see cref="HasState"/> is false ("robot state", "odometry and scan").</summary>
    string StateName { get; }

    /// <summary>The kind's part of a progress line: "pos (…) m  setpoint (…)", "pose (…)  cmd v … ω …  goal …".</summary>
    string Progress();

    /// <summary>The kind's part of the run's one-line summary ("tracking error rms …", "goals reached …").</summary>
    string Summary();

    /// <summary>Adds the kind's figures to the run's JSON result.</summary>
    void AddSummary(JsonObject result);

    /// <summary>Why the run failed as a flight (a safety fallback of a flyer, the kill switch), or null.</summary>
    string? Failure();

    /// <summary>Extra lines for the end-of-run report (a remote policy's counters), possibly none.</summary>
    IEnumerable<string> ReportLines();
}

/// <summary>
/// A robot kind's layout in the flight log: its topics (channels registered once, on the recorder thread), and how to
/// write a tick's state, captured by the controller on the tick thread as <see cref="StateBytes"/> bytes.
/// </summary>
public interface INodeLog
{
    /// <summary>Bytes the controller captures per tick (<see cref="IRobotController.DescribeTick"/>).</summary>
    int StateBytes { get; }

    /// <summary>Registers the kind's channels (recorder thread, once).</summary>
    void Register(Logs.McapWriter writer);

    /// <summary>Writes one tick's state messages (recorder thread).</summary>
    void Write(Logs.McapWriter writer, in TickRecord tick, ReadOnlySpan<byte> state, NodeLogClock clock);
}

/// <summary>Node-clock nanoseconds to MCAP log time (ns since the Unix epoch), and the ROS header stamp for them.</summary>
public readonly struct NodeLogClock(long clockToEpochNs)
{
    public ulong LogTime(long nodeClockNs) => (ulong)Math.Max(0, nodeClockNs + clockToEpochNs);

    public static Core.Messages.HeaderMsg Header(ulong time, string frame) => new() { Stamp = Core.Messages.TimeMsg.FromNanoseconds((long)time), FrameId = frame };
}

/// <summary>What the program hosting the node has opened for one run, handed to the robot kind to build its controller.</summary>
public sealed record NodeSetup
{
    public required NodeConfig Config { get; init; }
    /// <summary>The policy bundle (--policy), or null where the kind runs without one (a ground robot's DWA planner).</summary>
    public PolicyBundle? Bundle { get; init; }
    /// <summary>The link the robot's state comes from (config "sensors").</summary>
    public required RobotLink Sensors { get; init; }
    /// <summary>The link the robot's commands go to (config "transport").</summary>
    public required RobotLink Actuators { get; init; }
    /// <summary>The policy on another processor ("policy_on"), or null when it runs in the node's process.</summary>
    public IRemotePolicy? RemotePolicy { get; init; }

    /// <summary>A port of the sensors link, or a config error naming the transport and what it lacks.</summary>
    public T RequireSensor<T>(string what) where T : class =>
        Sensors.Port<T>() ?? throw new ConfigException(Config.File, "$.sensors", $"transport \"{Sensors.Transport}\" does not carry {what}");

    /// <summary>A port of the actuators link, or a config error naming the transport and what it lacks.</summary>
    public T RequireActuator<T>(string what) where T : class =>
        Actuators.Port<T>() ?? throw new ConfigException(Config.File, "$.transport", $"transport \"{Actuators.Transport}\" does not take {what}");
}

/// <summary>
/// What a robot kind supplies to the node (its facet on <see cref="RobotKind"/>): its node-config keys, the policy
/// bundles it can fly, its controller (with fallback and safety limits), the simulated robot of the "sim" transport, and
/// (through the controller) its log topics.
/// </summary>
public interface INodeKind
{
    /// <summary>Reads the kind's keys of a node config (the caller checks for unknown keys afterwards).</summary>
    object ReadSettings(ConfigNode node, object robot, float rateHz);

    /// <summary>Refuses (<see cref="PolicyMismatchException"/>, or <see cref="ConfigException"/> for a missing one) a bundle the controller cannot run, before anything opens.</summary>
    void CheckPolicy(NodeConfig config, PolicyBundle? bundle);

    /// <summary>The controller for one run.</summary>
    IRobotController CreateController(NodeSetup setup);

    /// <summary>The kind's robot simulated in process, as the "sim" transport's link (its section and the kind's settings: <paramref name="request"/>).</summary>
    RobotLink OpenSimulatedRobot(TransportRequest request);
}

/// <summary>The robot kinds with their node facets: the registry node configs are read with by default.</summary>
public static class NodeKinds
{
    /// <summary>
    /// <see cref="RobotKindRegistry.Standard"/> with the node's facet of each kind. A new kind adds one line here (and
    /// its own files under Kinds/); nothing else in the node changes.
    /// </summary>
    public static RobotKindRegistry Standard { get; } = AddTo(RobotKindRegistry.Standard());

    public static RobotKindRegistry AddTo(RobotKindRegistry kinds)
    {
        kinds["quadrotor"].With<INodeKind>(new QuadrotorNodeKind());
        kinds["diff_drive"].With<INodeKind>(new DiffDriveNodeKind());
        kinds["swarm"].With<INodeKind>(new SwarmNodeKind());
        return kinds;
    }

    /// <summary>The node facet of the config's robot kind.</summary>
    public static INodeKind For(NodeConfig config, RobotKindRegistry? kinds = null) =>
        (kinds ?? Standard)[config.Kind].Facet<INodeKind>() ?? throw new InvalidOperationException($"robot kind \"{config.Kind}\" has no node facet");
}
