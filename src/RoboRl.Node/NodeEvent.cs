using System.Numerics;
using RoboRl.Core.Messages;

namespace RoboRl.Node;

/// <summary>Why the supervisor tripped (or what else changed the node's mode).</summary>
public enum SafetyTrigger : byte
{
    None = 0,
    Geofence,
    Tilt,
    AngularRate,
    StaleSensor,
    NonFiniteObservation,
    NonFiniteAction,
    OverrunStreak,
    /// <summary>A setpoint with NaN/Inf (refused, not a trip).</summary>
    NonFiniteSetpoint,
    /// <summary>The remote policy (a microcontroller) sent no action within its response timeout.</summary>
    RemotePolicySilent,
    /// <summary>A finite policy action outside the normalised range [-1, 1] (a broken or mis-exported network).</summary>
    ActionOutOfRange,
    /// <summary>Ground robots: no scan yet, or the newest is older than scan_timeout_ms (<see cref="SafetyViolation.Value"/> ms, ∞ for none).</summary>
    StaleScan,
    /// <summary>Ground robots: no odometry yet, or the newest is older than odom_timeout_ms.</summary>
    StaleOdometry,
    /// <summary>Ground robots: the scan's beam count is not the one the policy was trained with.</summary>
    ScanMismatch,
    /// <summary>Ground robots: a return in the robot's path is nearer than min_obstacle_distance_m to its footprint: translation stopped (turning allowed).</summary>
    ObstacleTooClose,
}

/// <summary>
/// One violation, as numbers (formatted into text off the tick thread, so that the tick never allocates):
/// <see cref="Value"/> against <see cref="Limit"/>, and for the geofence the axis (0 = x, 1 = y, 2 = z) in <see cref="Axis"/>.
/// </summary>
public readonly record struct SafetyViolation(SafetyTrigger Trigger, float Value, float Limit, int Axis = -1)
{
    public bool Tripped => Trigger != SafetyTrigger.None;

    public override string ToString() => Trigger switch
    {
        SafetyTrigger.None => "ok",
        SafetyTrigger.Geofence => $"geofence: {"xyz"[Math.Clamp(Axis, 0, 2)]} = {Value:0.###} m, {(Value > Limit ? "above" : "below")} {Limit:0.###} m",
        SafetyTrigger.Tilt => $"tilt {Value:0.#}° > {Limit:0.#}°",
        SafetyTrigger.AngularRate => $"angular rate {Value:0.##} rad/s > {Limit:0.##} rad/s",
        SafetyTrigger.StaleSensor => float.IsPositiveInfinity(Value) ? "stale sensor: no sample yet" : $"stale sensor: newest sample {Value:0.#} ms old > {Limit:0.#} ms",
        SafetyTrigger.NonFiniteObservation => $"NaN/Inf in observation element {Axis}",
        SafetyTrigger.NonFiniteAction => $"NaN/Inf in policy action element {Axis}",
        SafetyTrigger.OverrunStreak => $"{Value:0} overrun ticks in a row (limit {Limit:0})",
        SafetyTrigger.NonFiniteSetpoint => "NaN/Inf in the setpoint",
        SafetyTrigger.RemotePolicySilent => $"no action from the remote policy (MCU) within {Limit:0.#} ms",
        SafetyTrigger.ActionOutOfRange => $"policy action element {Axis} = {Value:0.###} outside [-{Limit:0.###}, {Limit:0.###}]",
        SafetyTrigger.StaleScan => float.IsPositiveInfinity(Value) ? "stale scan: no scan yet" : $"stale scan: newest {Value:0} ms old > {Limit:0} ms",
        SafetyTrigger.StaleOdometry => float.IsPositiveInfinity(Value) ? "stale odometry: no odometry yet" : $"stale odometry: newest {Value:0} ms old > {Limit:0} ms",
        SafetyTrigger.ScanMismatch => $"scan has {Value:0} beams, the policy was trained on {Limit:0}",
        SafetyTrigger.ObstacleTooClose => $"obstacle {Value:0.###} m ahead of the footprint in the direction of travel < {Limit:0.###} m: translation stopped",
        _ => Trigger.ToString(),
    };
}


public enum NodeEventKind : byte
{
    /// <summary>The node's mode changed (<see cref="NodeEvent.Mode"/>, <see cref="NodeEvent.Reason"/>, for a trip <see cref="NodeEvent.Violation"/>).</summary>
    ModeChange = 0,
    /// <summary>A requested setpoint was outside the geofence (less the margin) and was clamped into it.</summary>
    SetpointClamped = 1,
    /// <summary>A command was refused (e.g. Arm while the state violates a limit).</summary>
    CommandRefused = 2,
    /// <summary>A setpoint velocity (teleop nudge) above max_setpoint_speed_m_s was scaled down; logged once per hold.</summary>
    SetpointSpeedLimited = 3,
    /// <summary>A ground robot reached its goal (<see cref="NodeEvent.Requested"/>: the goal; <see cref="NodeEvent.Applied"/>.X: the distance left).</summary>
    GoalReached = 4,
    /// <summary>The supervisor limited the motion without stopping the controller (<see cref="NodeEvent.Violation"/>: e.g. an obstacle ahead), or lifted that limit (no violation).</summary>
    MotionLimited = 5,
    /// <summary>A swarm: one vehicle (<see cref="NodeEvent.Vehicle"/>) left the policy (<see cref="NodeEvent.Violation"/>:
    /// its supervisor tripped; it holds and lands) or landed (<see cref="NodeEvent.Reason"/> Landed); the node's mode stays.</summary>
    VehicleFallback = 6,
}

/// <summary>Why the mode changed.</summary>
public enum ModeReason : byte
{
    Armed = 0,
    SafetyViolation,
    KillSwitch,
    LandCommand,
    DisarmCommand,
    Landed,
    HumanTakeOver,
    HumanReleased,
    /// <summary>The take-off controller brought the robot into the policy's envelope.</summary>
    HandedOver,
    /// <summary>Refusals: the node is already flying; it was killed (restart it).</summary>
    AlreadyFlying,
    KilledEarlier,
    /// <summary>Ground robots: sensors fresh and a goal to drive to.</summary>
    Driving,
    /// <summary>Ground robots: at the goal, stopped until the next one.</summary>
    GoalReached,
    /// <summary>Ground robots: sensors fresh, no goal yet.</summary>
    WaitingForGoal,
}

/// <summary>Something the node decided, as plain numbers (text is made off the tick thread by <see cref="Describe"/>).</summary>
public struct NodeEvent
{
    public long TimestampNs;
    public ulong Tick;
    public NodeEventKind Kind;
    public NodeMode Mode;
    public ModeReason Reason;
    public SafetyViolation Violation;
    public NodeCommandKindOrNone Command;
    /// <summary>For <see cref="NodeEventKind.SetpointClamped"/> (positions) and <see cref="NodeEventKind.SetpointSpeedLimited"/> (velocities): what was asked and what was kept.</summary>
    public Vector3 Requested, Applied;
    /// <summary>In a swarm, the vehicle the event is about (1-based, as cf1 … cfN); 0 for the whole node.</summary>
    public int Vehicle;

    public readonly bool IsSafetyEvent => Violation.Tripped || Kind is NodeEventKind.SetpointClamped or NodeEventKind.SetpointSpeedLimited;

    /// <summary>The supervisor did what it exists for (a trip, a clamp or limit, the kill switch): a run that saw one cannot pass as clean.</summary>
    public readonly bool IsSafetyStop => Violation.Tripped || (Kind == NodeEventKind.ModeChange && Reason == ModeReason.KillSwitch);

    /// <summary>One line of text: "FALLBACK: geofence: z = 2.1 m, above 2 m".</summary>
    public readonly string Describe() => Kind switch
    {
        NodeEventKind.ModeChange => $"{ModeName(Mode)}: {ReasonText}",
        NodeEventKind.SetpointClamped => $"setpoint ({Requested.X:0.###}, {Requested.Y:0.###}, {Requested.Z:0.###}) clamped to ({Applied.X:0.###}, {Applied.Y:0.###}, {Applied.Z:0.###}): outside the geofence less its margin",
        NodeEventKind.SetpointSpeedLimited => $"setpoint speed {Requested.Length():0.###} m/s limited to {Applied.Length():0.###} m/s",
        NodeEventKind.CommandRefused => $"{Command} refused: {(Violation.Tripped ? Violation.ToString() : ReasonText)}",
        NodeEventKind.GoalReached => $"goal ({Requested.X:0.###}, {Requested.Y:0.###}) reached ({Applied.X:0.###} m from it): stopped",
        NodeEventKind.MotionLimited => Violation.Tripped ? $"LIMIT: {Violation}" : "limit lifted",
        NodeEventKind.VehicleFallback => $"vehicle {Vehicle}: {(Violation.Tripped ? $"FALLBACK: {Violation} (holds, then lands; the others fly on)" : ReasonText)}",
        _ => Kind.ToString(),
    };

    /// <summary>A mode as the console, logs and telemetry name it: IDLE, TAKING_OFF, POLICY, HUMAN, LANDING, FALLBACK, KILLED.</summary>
    public static string ModeName(NodeMode mode) => mode switch
    {
        NodeMode.TakingOff => "TAKING_OFF",
        _ => mode.ToString().ToUpperInvariant(),
    };

    public readonly string ReasonText => Reason switch
    {
        ModeReason.SafetyViolation => Violation.ToString(),
        ModeReason.KillSwitch => "kill switch",
        ModeReason.LandCommand => "land command",
        ModeReason.DisarmCommand => "disarm command",
        ModeReason.Landed => "landed, motors off",
        ModeReason.HumanTakeOver => "human took over",
        ModeReason.HumanReleased => "human released control",
        ModeReason.Armed => "armed",
        ModeReason.HandedOver => "inside the policy's envelope: the policy flies",
        ModeReason.AlreadyFlying => "already flying",
        ModeReason.KilledEarlier => "the kill switch was used; restart the node to fly again",
        ModeReason.Driving => "driving to the goal",
        ModeReason.GoalReached => "at the goal, stopped",
        ModeReason.WaitingForGoal => "waiting for a goal",
        _ => Reason.ToString(),
    };
}

/// <summary>A node command kind, or none (events that no command caused).</summary>
public enum NodeCommandKindOrNone : byte { Arm = 0, Disarm = 1, Land = 2, Setpoint = 3, Kill = 4, None = 255 }
