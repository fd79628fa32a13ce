using RoboRl.Core.Messages;
using RoboRl.Core.Robots;

namespace RoboRl.Node;

/// <summary>
/// Hands the node's events (refusals, mode changes with their reason, clamps) from the tick thread to one reader thread —
/// the CLI, which prints them as they happen and passes them to the transports' status and diagnostics topics.
/// A preallocated single-producer / single-consumer ring: <see cref="TryWrite"/> copies a struct and never blocks or
/// allocates; when the reader falls behind, new events are dropped and counted (<see cref="Dropped"/>), never waited for.
/// A node nobody reads simply fills the ring (the recorder and <see cref="InferenceNode.Events"/> still get every event).
/// </summary>
public sealed class NodeEventStream(int capacity = 256)
{
    private readonly NodeEvent[] _ring = new NodeEvent[capacity];
    private long _head, _tail, _dropped; // _head: producer only; _tail: consumer only

    public int Capacity => _ring.Length;
    /// <summary>Events lost because the ring was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Tick thread: queue a copy of <paramref name="e"/>; false (and counted) when the ring is full.</summary>
    public bool TryWrite(in NodeEvent e)
    {
        long head = _head;
        if (head - Volatile.Read(ref _tail) >= _ring.Length)
        {
            Interlocked.Increment(ref _dropped);
            return false;
        }
        _ring[head % _ring.Length] = e;
        Volatile.Write(ref _head, head + 1);
        return true;
    }

    /// <summary>Reader thread: the oldest queued event, if any.</summary>
    public bool TryRead(out NodeEvent e)
    {
        long tail = _tail;
        if (tail == Volatile.Read(ref _head))
        {
            e = default;
            return false;
        }
        e = _ring[tail % _ring.Length];
        Volatile.Write(ref _tail, tail + 1);
        return true;
    }
}

public static class NodeEventStatus
{
    /// <summary>
    /// The event as the transports publish it (off the tick thread: text is made here). Levels as the ROS 2 transport's
    /// mode diagnostics: KILLED is an error, FALLBACK, a refusal or a clamp a warning, any other mode (armed, human, idle) OK.
    /// </summary>
    public static NodeStatusEvent ToStatus(this in NodeEvent e) => new(
        e.TimestampNs, e.Tick,
        e.Kind switch
        {
            NodeEventKind.ModeChange => e.Mode switch { NodeMode.Killed => NodeStatusLevel.Error, NodeMode.Fallback => NodeStatusLevel.Warn, _ => NodeStatusLevel.Ok },
            NodeEventKind.GoalReached => NodeStatusLevel.Ok,
            _ => NodeStatusLevel.Warn,
        },
        e.Kind switch
        {
            NodeEventKind.ModeChange => "mode_change",
            NodeEventKind.CommandRefused => "command_refused",
            NodeEventKind.SetpointClamped => "setpoint_clamped",
            NodeEventKind.SetpointSpeedLimited => "setpoint_speed_limited",
            NodeEventKind.GoalReached => "goal_reached",
            NodeEventKind.MotionLimited => "motion_limited",
            NodeEventKind.VehicleFallback => "vehicle_fallback",
            _ => e.Kind.ToString(),
        },
        e.Mode, e.Describe());
}
