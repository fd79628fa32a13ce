using System.Numerics;
using RoboRl.Core.Messages;

namespace RoboRl.Node;

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

    public readonly bool IsSafetyEvent => Violation.Tripped || Kind is NodeEventKind.SetpointClamped or NodeEventKind.SetpointSpeedLimited;

    /// <summary>One line of text: "FALLBACK: geofence: z = 2.1 m, above 2 m".</summary>
    public readonly string Describe() => Kind switch
    {
        NodeEventKind.ModeChange => $"{ModeName(Mode)}: {ReasonText}",
        NodeEventKind.SetpointClamped => $"setpoint ({Requested.X:0.###}, {Requested.Y:0.###}, {Requested.Z:0.###}) clamped to ({Applied.X:0.###}, {Applied.Y:0.###}, {Applied.Z:0.###}): outside the geofence less its margin",
        NodeEventKind.SetpointSpeedLimited => $"setpoint speed {Requested.Length():0.###} m/s limited to {Applied.Length():0.###} m/s",
        NodeEventKind.CommandRefused => $"{Command} refused: {(Violation.Tripped ? Violation.ToString() : ReasonText)}",
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
        _ => Reason.ToString(),
    };
}

/// <summary>A node command kind, or none (events that no command caused).</summary>
public enum NodeCommandKindOrNone : byte { Arm = 0, Disarm = 1, Land = 2, Setpoint = 3, Kill = 4, None = 255 }
