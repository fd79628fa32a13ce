using System.Numerics;
using RoboRl.Core.Messages;

namespace RoboRl.Core.Robots;

// The small interfaces between the real-time node and whatever carries its data (the simulator in
// process, MQTT, ROS 2, a serial MCU, a Crazyflie radio). They live in Core so that transports depend
// on Core only (DESIGN.md: transports → core; node → core + transports + logs).
//
// Rules every implementation keeps, because the node calls them from its real-time tick:
//  * never block: return the newest value you already have, or false;
//  * allocate nothing per call;
//  * be thread-safe against your own I/O thread (the tick thread is the only caller).
// Timestamps are nanoseconds on the node's monotonic clock (NodeClock.NowNs).

/// <summary>The node's monotonic clock, in nanoseconds (Stopwatch based, never goes back).</summary>
public static class NodeClock
{
    private static readonly double NsPerTick = 1e9 / System.Diagnostics.Stopwatch.Frequency;
    public static long NowNs => (long)(System.Diagnostics.Stopwatch.GetTimestamp() * NsPerTick);
}

/// <summary>One measured state of a rigid-body robot. World ENU, body FLU (REP 103).</summary>
public struct RobotStateSample
{
    /// <summary>When the state was measured (node clock, ns). Staleness is judged on this.</summary>
    public long TimestampNs;
    /// <summary>Increments with every new sample from the source; lets the node tell fresh from repeated.</summary>
    public uint Sequence;
    public Vector3 Position;
    /// <summary>Body → world rotation, (X, Y, Z, W).</summary>
    public Quaternion Orientation;
    public Vector3 VelocityWorld;
    public Vector3 AngularVelocityBody;
    /// <summary>Measured rotor speeds where the robot reports them, else NaN.</summary>
    public Vector4 RotorRpm;
}

/// <summary>
/// What a simulated robot knows and a real one does not: its true state (no sensor noise) and when the newest actuator
/// command took effect in its physics. Recorded beside the measured state, it lets `roborl replay --sim` re-run a
/// flight on its own plant exactly (the measured state is off by the sensor noise, and in real time a command takes
/// effect at the simulator's next physics step, not at the tick that sent it).
/// </summary>
public struct GroundTruthSample
{
    /// <summary>The true state now (simulated time, node clock); <see cref="RobotStateSample.RotorRpm"/> holds the true rotor speeds.</summary>
    public RobotStateSample State;
    /// <summary>When the newest command received took effect (node clock, ns): the start of the first physics step that used it.</summary>
    public long CommandEffectiveNs;
}

/// <summary>A robot that can say its true state (a simulator). Same rules as the other interfaces: never blocks, allocates nothing.</summary>
public interface IGroundTruthSource
{
    /// <summary>The length of one physics step, ns: commands take effect and states are sampled on its multiples.</summary>
    long PhysicsStepNs { get; }

    /// <summary>The true state now and when the newest command took effect; false when there is none yet.</summary>
    bool TryGetGroundTruth(out GroundTruthSample truth);
}

/// <summary>
/// A simulated robot stepped by its caller instead of by its own real-time thread (the sim transport's lock-step mode):
/// the node advances it to each tick's time before the tick, so every state the node sees is the previous action's
/// result, whatever the wall clock does.
/// </summary>
public interface ILockStepRobot
{
    /// <summary>The simulated robot's time now (node-clock nanoseconds); the node's first lock-step tick comes one period later.</summary>
    long TimeNs { get; }

    /// <summary>Advances the simulation to <paramref name="timeNs"/> (node-clock nanoseconds of simulated time).</summary>
    void AdvanceTo(long timeNs);
}

/// <summary>Where the newest robot state comes from.</summary>
public interface ISensorSource
{
    /// <summary>The newest sample received so far; false before the first one.</summary>
    bool TryGetLatest(out RobotStateSample sample);
}

/// <summary>
/// One command to the robot's actuators, one value per actuator (<see cref="ActuatorValues"/>, held inline: copying a
/// command allocates nothing): the normalised action, the force per motor it means (the robot's actuator model,
/// <c>RoboRl.Core.Quadrotor.ActuatorModel</c>: F = (a + 1)/2 · thrust_max_n) and the rotor speed that makes it. A
/// transport sends whichever its robot takes; all three say the same.
/// </summary>
public struct ActuatorCommand
{
    public long TimestampNs;
    public uint Sequence;
    /// <summary>Normalised per-motor action in [-1, 1].</summary>
    public ActuatorValues Action;
    /// <summary>Force per motor, N (0 with the motors off).</summary>
    public ActuatorValues ThrustN;
    /// <summary>The rotor speeds whose thrust is <see cref="ThrustN"/>, rpm.</summary>
    public ActuatorValues RotorRpm;
    public ActionSource Source;
}

/// <summary>Where actuator commands go.</summary>
public interface IActuatorSink
{
    /// <summary>Hands the command to the transport; must not block the tick (queue or overwrite).</summary>
    void Send(in ActuatorCommand command);
}

/// <summary>How a human input acts on the node.</summary>
public enum TeleopKind : byte
{
    /// <summary>Nothing held: the policy (or the fallback) flies.</summary>
    None = 0,
    /// <summary>Dead-man held: the human's action replaces the policy's.</summary>
    TakeOver = 1,
    /// <summary>Dead-man held: the human moves the setpoint; the policy keeps flying.</summary>
    NudgeSetpoint = 2,
}

/// <summary>The newest human input (joystick over MQTT, ROS 2 sensor_msgs/Joy, keyboard).</summary>
public struct TeleopSample
{
    public long TimestampNs;
    public TeleopKind Kind;
    /// <summary>For <see cref="TeleopKind.TakeOver"/>: the action to apply, in [-1, 1].</summary>
    public Vector4 Action;
    /// <summary>For <see cref="TeleopKind.NudgeSetpoint"/>: velocity of the setpoint, world m/s.</summary>
    public Vector3 SetpointVelocity;
}

public interface ITeleopSource
{
    /// <summary>The newest human input; false if none was ever received. A stale sample (old timestamp) means released.</summary>
    bool TryGetLatest(out TeleopSample sample);
}

public enum NodeCommandKind : byte { Arm = 0, Disarm = 1, Land = 2, Setpoint = 3, Kill = 4 }

/// <summary>A command for the node, already authenticated and authorised by its transport.</summary>
public readonly record struct NodeCommand(NodeCommandKind Kind, Vector3 Setpoint, float YawDeg, string Principal, long ReceivedNs);

public interface ICommandSource
{
    /// <summary>Takes the oldest pending command; false when none. Commands are rare, so this may allocate in the transport's thread, never here.</summary>
    bool TryDequeue(out NodeCommand command);
}

/// <summary>Tick statistics the node reports (µs), over its reporting window.</summary>
public struct TickStatistics
{
    public ulong Ticks;
    public double RateHz;
    public double LatencyP50Us, LatencyP99Us, LatencyMaxUs;
    public double JitterP99Us;
    public uint Overruns;
}

/// <summary>What the node publishes each telemetry period.</summary>
public struct TelemetryFrame
{
    public long TimestampNs;
    public RobotStateSample State;
    public ActuatorCommand Command;
    public Vector3 Setpoint;
    public NodeMode Mode;
    public TickStatistics Ticks;
}

public interface ITelemetrySink
{
    /// <summary>Publishes a frame; must not block the tick (copy into a queue drained by the transport's thread).</summary>
    void Publish(in TelemetryFrame frame);
}

/// <summary>Severity of a <see cref="NodeStatusEvent"/>, as diagnostic_msgs/DiagnosticStatus levels (OK 0, WARN 1, ERROR 2).</summary>
public enum NodeStatusLevel : byte { Ok = 0, Warn = 1, Error = 2 }

/// <summary>
/// Something the node decided that its operators must see: a refused command, a mode change with its reason, a clamped
/// setpoint. <paramref name="Kind"/>: "mode_change", "command_refused", "setpoint_clamped", "setpoint_speed_limited";
/// <paramref name="Text"/>: one line, e.g. "Arm refused: stale sensor: no sample for 0.5 s".
/// </summary>
public readonly record struct NodeStatusEvent(long TimestampNs, ulong Tick, NodeStatusLevel Level, string Kind, NodeMode Mode, string Text);

/// <summary>
/// A transport that publishes the node's events on its status or diagnostics channel (MQTT: the robot's status topic;
/// ROS 2: /diagnostics). Called off the tick thread, at the rate events happen: it may allocate, and must not block long.
/// </summary>
public interface INodeEventSink
{
    void Publish(in NodeStatusEvent e);
}

/// <summary>
/// A sensor source that can say what it is waiting for and what it has seen, for the message when the robot's state never
/// arrives: "/cf1/pose (geometry_msgs/msg/PoseStamped) on ROS 2 domain 0: no publisher matched".
/// </summary>
public interface ISensorDiagnostics
{
    string DescribeSensor();
}
