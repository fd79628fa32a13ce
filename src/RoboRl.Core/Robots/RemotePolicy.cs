using System.Numerics;

namespace RoboRl.Core.Robots;

/// <summary>
/// A policy that runs on another processor — a microcontroller behind a serial link (RoboRl.Serial's
/// <c>McuRemotePolicy</c>) — instead of in the node's own <c>PolicyEngine</c>. The node sends the robot's state; the
/// remote side builds the observation itself (with an action history it keeps, as <c>HoverObservation</c> does) and
/// answers with the action. Called from the node's tick thread only; implementations allocate nothing per call.
/// </summary>
public interface IRemotePolicy
{
    /// <summary>Longest time <see cref="TryInfer"/> waits for an answer.</summary>
    TimeSpan ResponseTimeout { get; }

    /// <summary>
    /// Ticks in a row without an answer in time that the node bridges by holding the last action (a late frame on a
    /// busy link); one more trips its supervisor. 0: the first miss trips it.
    /// </summary>
    int MaxConsecutiveMisses { get; }

    /// <summary>Sets every slot of the remote action history to <paramref name="fill"/> (the node does this when it arms, as it does with its own).</summary>
    void ResetHistory(float fill);

    /// <summary>
    /// Sends <paramref name="state"/> (with <paramref name="target"/>, the node's setpoint) and waits at most
    /// <see cref="ResponseTimeout"/> for the action. False when nothing usable came in time (silence, an error status,
    /// a closed link): the node holds the last action or, after <see cref="MaxConsecutiveMisses"/> such ticks in a row,
    /// falls back; it counts every one.
    /// </summary>
    bool TryInfer(in RobotStateSample state, Vector3 target, Span<float> action);
}

/// <summary>What the node measured of a remote policy in flight (it alone knows which ticks flew a held action).</summary>
/// <param name="HeldTicks">Ticks flown on a held action because the answer was late.</param>
/// <param name="ParityMaxDiff">Largest |remote action − the node's own engine on the same observation|.</param>
/// <param name="ParityTicks">Ticks that comparison covers.</param>
public readonly record struct RemotePolicyFigures(long HeldTicks, float ParityMaxDiff, long ParityTicks);

/// <summary>A remote policy that can say how it served a flight, in one line (answers, timeouts, inference time, link errors).</summary>
public interface IRemotePolicyReport
{
    string Describe(RemotePolicyFigures node);
}
