using System.Numerics;
using RoboRl.Core.Messages;
using RoboRl.Core.Robots;
using RoboRl.Node;

namespace RoboRl.Faults.Scenarios;

/// <summary>
/// Issue #9, scenario 5: a policy emits NaN, or a finite action outside [-1, 1] (crafted bundles, <see cref="CraftedPolicies"/>:
/// the network itself overflows). Expected: the supervisor trips in the very tick the bad action appears, the fallback's
/// action is applied in that tick (the bad one never reaches the motors), the robot holds and then lands; the log holds
/// the bad policy output, the fallback's applied action and the reason.
/// </summary>
public sealed class PolicyBadOutput : IFaultScenario
{
    public string Name => "policy-nan";
    public string Description => "a crafted policy emits NaN / out-of-range actions: fallback in the same tick, hover then land";

    public FaultResult Run(FaultBudget budget)
    {
        var details = new List<string>();
        long lost = 0;
        double worstMs = 0;
        foreach (var misbehaviour in new[] { CraftedPolicies.Misbehaviour.NaN, CraftedPolicies.Misbehaviour.OutOfRange })
        {
            (double ms, long lostHere, string detail) = RunOne(misbehaviour, land: misbehaviour == CraftedPolicies.Misbehaviour.NaN);
            worstMs = Math.Max(worstMs, ms);
            lost += lostHere;
            details.Add(detail);
        }
        return new FaultResult(Name, true, worstMs, lost, string.Join("; ", details));
    }

    /// <returns>Time from the first bad output to the fallback's first action (simulated clock), the lost log messages, a line.</returns>
    private static (double Ms, long Lost, string Detail) RunOne(CraftedPolicies.Misbehaviour misbehaviour, bool land)
    {
        string robot = RepoFiles.Find("configs/robots/crazyflie21.json");
        using var rig = new FlightRig("policy-" + misbehaviour.ToString().ToLowerInvariant(),
            new FlightRig.Options { Bundle = CraftedPolicies.Build(robot, misbehaviour) });
        rig.Run(0.5);
        Check.That(rig.Node.Mode == NodeMode.Policy, $"{misbehaviour}: the node did not arm and fly the crafted policy (mode {rig.Node.Mode})");
        // Move the setpoint 0.3 m along x: the position error grows at the speed limit and crosses the trigger.
        rig.Commands.Enqueue(NodeCommandKind.Setpoint, rig.Quadrotor.Setpoint + new Vector3(0.3f, 0, 0));
        long ticks = rig.StepUntil(() => rig.Node.Mode != NodeMode.Policy, 2.0);
        Check.That(ticks > 0, $"{misbehaviour}: the node kept flying the policy for 2 s after its output went bad");
        Check.That(rig.Node.Mode == NodeMode.Fallback, $"{misbehaviour}: the node went to {rig.Node.Mode}, not FALLBACK");
        NodeEvent trip = rig.FirstEvent(e => e.Kind == NodeEventKind.ModeChange && e.Mode == NodeMode.Fallback)
            ?? throw new FaultCheckException($"{misbehaviour}: no fallback event");
        SafetyTrigger expected = misbehaviour == CraftedPolicies.Misbehaviour.NaN ? SafetyTrigger.NonFiniteAction : SafetyTrigger.ActionOutOfRange;
        Check.That(trip.Violation.Trigger == expected, $"{misbehaviour}: tripped on {trip.Violation}, expected {expected}");

        if (land)
        {
            long landed = rig.StepUntil(() => rig.Node.Mode == NodeMode.Idle, 15);
            Check.That(landed > 0, $"{misbehaviour}: the fallback did not land and disarm within 15 s (phase {rig.Controller.FallbackPhase}, z {rig.Sim.TrueState.Position.Z:0.###} m)");
            Check.That(rig.Sim.TrueState.Position.Z < 0.05f, $"{misbehaviour}: disarmed at z = {rig.Sim.TrueState.Position.Z:0.###} m");
        }
        else rig.Run(0.5);
        ulong lastTick = rig.Node.TickCount - 1;
        int modeChanges = rig.Node.Events.Count(e => e.Kind == NodeEventKind.ModeChange);
        FlightLogCount log = rig.CloseAndCount();

        // The log: the first tick whose policy output was bad is the tick the fallback acted in.
        static bool Bad(float[] v) => v.Any(x => !float.IsFinite(x) || MathF.Abs(x) > SafetySupervisor.MaxActionMagnitude);
        LoggedAction firstBad = log.Actions.FirstOrDefault(a => a.PolicyValues.Length == 4 && Bad(a.PolicyValues));
        Check.That(firstBad.Values is not null, $"{misbehaviour}: the log holds no bad policy output");
        float[] applied = firstBad.Values!;
        Check.That(firstBad.Tick == trip.Tick, $"{misbehaviour}: the policy went bad at tick {firstBad.Tick}, the fallback engaged at tick {trip.Tick}");
        Check.That(firstBad.Source == ActionSource.Fallback && !Bad(applied),
            $"{misbehaviour}: tick {firstBad.Tick} applied {firstBad.Source} [{string.Join(", ", applied)}]");
        Check.That(!log.Actions.Any(a => a.Source == ActionSource.Policy && Bad(a.PolicyValues)), $"{misbehaviour}: a bad policy action was applied");
        Check.That(log.Modes.Any(m => m.Mode == "FALLBACK" && m.Reason.Contains(misbehaviour == CraftedPolicies.Misbehaviour.NaN ? "NaN/Inf in policy action" : "outside [-1", StringComparison.Ordinal)),
            $"{misbehaviour}: no FALLBACK /mode message with the reason in the log");
        Check.That(log.Diagnostics.Any(d => d.Contains(expected.ToString(), StringComparison.Ordinal)), $"{misbehaviour}: no /diagnostics entry naming {expected}");
        long lost = log.MissingTicks(0, lastTick) + Math.Max(0, modeChanges - log.Modes.Count);
        string detail = $"{misbehaviour}: tripped at tick {trip.Tick} ({trip.Violation}), the tick its output went bad; "
            + (land ? "held, landed and disarmed" : "holding") + $"; log {log.Actions.Count} /action, {log.Modes.Count} /mode";
        return ((trip.Tick - firstBad.Tick) * 1000.0 / rig.Config.RateHz, lost, detail);
    }
}
