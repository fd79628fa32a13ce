using System.Numerics;
using RoboRl.Core.Robots;
using RoboRl.Node;

namespace RoboRl.Faults.Scenarios;

/// <summary>
/// Issue #9, scenario 7: setpoints outside the geofence or above the speed limit, from a command (what any transport
/// hands the node: MQTT, ROS 2 goal_pose) and from a teleop nudge; a NaN setpoint. Expected: clamped into the fence
/// less its margin in the tick it arrives, followed at no more than max_setpoint_speed_m_s, NaN refused; each logged;
/// the robot never leaves the fence.
/// </summary>
public sealed class GeofenceAndSpeed : IFaultScenario
{
    public string Name => "geofence-and-speed";
    public string Description => "setpoints outside the geofence / above the speed limit / NaN, from commands and teleop: clamped or refused, logged";

    private sealed class Nudge : ITeleopSource
    {
        public volatile bool Held;
        public Vector3 Velocity;
        public bool TryGetLatest(out TeleopSample sample)
        {
            sample = new TeleopSample { TimestampNs = Held ? long.MaxValue / 2 : 0, Kind = Held ? TeleopKind.NudgeSetpoint : TeleopKind.None, SetpointVelocity = Velocity };
            return Held;
        }
    }

    public FaultResult Run(FaultBudget budget)
    {
        using var rig = new FlightRig(Name);
        var nudge = new Nudge();
        rig.Node.AddTeleop(nudge);
        rig.Run(0.3);
        Check.That(rig.Node.Mode == NodeMode.Policy, $"the node did not arm (mode {rig.Node.Mode})");
        Geofence fence = rig.Quadrotor.Geofence;
        float margin = rig.Quadrotor.Limits.SetpointMarginM, maxSpeed = rig.Quadrotor.Limits.MaxSetpointSpeedMS;
        float dt = 1f / rig.Config.RateHz;
        int expectedEvents = 0;
        double worstTicksToClamp = 0;

        // 1. Commands far outside the fence (and one with NaN): clamped / refused in the tick they arrive.
        Vector3[] outside = [new(5, 0, 1), new(0, -9, 1), new(0, 0, 50), new(0, 0, -3)];
        foreach (Vector3 request in outside)
        {
            ulong sentTick = rig.Node.TickCount;
            rig.Commands.Enqueue(NodeCommandKind.Setpoint, request, "faults-command");
            rig.Step();
            Vector3 kept = rig.Controller.RequestedSetpoint;
            Check.That(fence.Clamp(kept, margin) == kept, $"setpoint {request} was kept as {kept}, outside the fence less its {margin} m margin");
            NodeEvent clamp = rig.FirstEvent(e => e.Kind == NodeEventKind.SetpointClamped && e.Requested == request, sentTick)
                ?? throw new FaultCheckException($"setpoint {request}: no clamp event");
            worstTicksToClamp = Math.Max(worstTicksToClamp, clamp.Tick - sentTick);
            expectedEvents++;
            FollowAtTheSpeedLimit(rig, 0.5, maxSpeed, dt);
        }
        ulong nanTick = rig.Node.TickCount;
        Vector3 before = rig.Controller.RequestedSetpoint;
        rig.Commands.Enqueue(NodeCommandKind.Setpoint, new Vector3(float.NaN, 0, 1), "faults-command");
        rig.Step();
        Check.That(rig.Controller.RequestedSetpoint == before, "a NaN setpoint changed the setpoint");
        Check.That(rig.FirstEvent(e => e.Kind == NodeEventKind.CommandRefused && e.Violation.Trigger == SafetyTrigger.NonFiniteSetpoint, nanTick) is not null,
            "the NaN setpoint was not refused with an event");
        expectedEvents++;

        // 2. A teleop nudge 10× faster than the limit, held towards the fence: speed-limited, then clamped at the fence.
        rig.Commands.Enqueue(NodeCommandKind.Setpoint, rig.Quadrotor.Setpoint);
        FollowAtTheSpeedLimit(rig, 2.5, maxSpeed, dt);
        ulong nudgeTick = rig.Node.TickCount;
        nudge.Velocity = new Vector3(10 * maxSpeed, 0, 0);
        nudge.Held = true;
        FollowAtTheSpeedLimit(rig, 3.0, maxSpeed, dt);
        nudge.Held = false;
        Check.That(rig.FirstEvent(e => e.Kind == NodeEventKind.SetpointSpeedLimited, nudgeTick) is not null, "the fast nudge was not logged as speed-limited");
        Check.That(rig.FirstEvent(e => e.Kind == NodeEventKind.SetpointClamped, nudgeTick) is not null, "the nudge into the fence was not logged as clamped");
        expectedEvents += 2;
        Check.That(MathF.Abs(rig.Controller.RequestedSetpoint.X - (fence.Max.X - margin)) < 1e-4f, $"the nudge ended at {rig.Controller.RequestedSetpoint}, not at the fence less its margin");
        Check.That(rig.Node.Mode == NodeMode.Policy, $"the node left POLICY: {string.Join("; ", rig.Node.Events.Select(e => e.Describe()))}");

        FlightLogCount log = rig.CloseAndCount();
        int clampLines = log.Diagnostics.Count(d => d.Contains("clamped", StringComparison.Ordinal));
        int limitLines = log.Diagnostics.Count(d => d.Contains("limited to", StringComparison.Ordinal));
        int refusedLines = log.Diagnostics.Count(d => d.Contains("refused", StringComparison.Ordinal));
        long loggedEvents = Math.Min(clampLines, outside.Length + 1) + Math.Min(limitLines, 1) + Math.Min(refusedLines, 1);
        Check.That(clampLines >= outside.Length + 1 && limitLines >= 1 && refusedLines >= 1,
            $"log: {clampLines} clamp, {limitLines} speed-limit, {refusedLines} refusal entries in /diagnostics (expected ≥ {outside.Length + 1}, 1, 1)");
        return new FaultResult(Name, true, worstTicksToClamp * 1000 / rig.Config.RateHz, expectedEvents - loggedEvents,
            $"{outside.Length} commands outside the fence clamped in the tick they arrived, NaN setpoint refused, a {10 * maxSpeed} m/s nudge limited to {maxSpeed} m/s "
            + $"and stopped at the fence less {margin} m; setpoint never faster than the limit; log: {clampLines} clamp, {limitLines} speed-limit, {refusedLines} refusal entries");
    }

    /// <summary>Steps <paramref name="seconds"/>, checking each tick that the setpoint moved no faster than the limit and the robot stayed inside the fence.</summary>
    private static void FollowAtTheSpeedLimit(FlightRig rig, double seconds, float maxSpeed, float dt)
    {
        long ticks = (long)(seconds * rig.Config.RateHz);
        for (long i = 0; i < ticks; i++)
        {
            Vector3 before = rig.Controller.Setpoint;
            rig.Step();
            float moved = Vector3.Distance(before, rig.Controller.Setpoint);
            Check.That(moved <= maxSpeed * dt * 1.001f + 1e-6f, $"the setpoint moved {moved / dt:0.###} m/s, above the {maxSpeed} m/s limit");
            Check.That(rig.Quadrotor.Geofence.Contains(rig.Sim.TrueState.Position), $"the robot left the geofence: {rig.Sim.TrueState.Position}");
        }
    }
}
