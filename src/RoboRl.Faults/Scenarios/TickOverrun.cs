using RoboRl.Core.Robots;
using RoboRl.Node;

namespace RoboRl.Faults.Scenarios;

/// <summary>
/// Issue #9, scenario 6: tick overruns from CPU hogs. The node flies in real time on its own thread; then a hog burns
/// 2.5 periods inside every tick (the actuator driver spins: the tick can no longer keep its rate) while spinning
/// threads load every core. Expected: the overrun streak (limits.overrun_streak) trips the supervisor, the fallback
/// takes over, the reason is in the log (/mode and /diagnostics).
/// </summary>
public sealed class TickOverrun : IFaultScenario
{
    public string Name => "tick-overrun";
    public string Description => "CPU hogs make every tick overrun: the overrun streak trips the fallback; the reason is logged";

    public const int SensorTimeoutMs = 1000;

    public FaultResult Run(FaultBudget budget)
    {
        // The hogs also starve the simulated robot's thread, whose samples then age past the 100 ms sensor timeout —
        // a correct trip, but not the one this scenario is about: the timeout is raised so the streak trips first.
        using var rig = new FlightRig(Name, new FlightRig.Options { RealTime = true, Edit = root => root["limits"]!["sensor_timeout_ms"] = SensorTimeoutMs });
        rig.StartRealTime();
        Check.That(Check.WaitFor(() => rig.Node.Mode == NodeMode.Policy && rig.Node.TickCount > 250, TimeSpan.FromSeconds(20)),
            $"the node did not arm and fly in real time (mode {rig.Node.Mode}, {rig.Node.TickCount} ticks)");
        // A natural streak on a loaded machine may already have tripped it; the scenario needs a clean start.
        Check.That(rig.Node.Mode == NodeMode.Policy, $"the node left POLICY before the hog started: {string.Join("; ", rig.Node.Events.Select(e => e.Describe()))}");

        using var stopHogs = new CancellationTokenSource();
        var hogs = Enumerable.Range(0, Environment.ProcessorCount).Select(_ => new Thread(() =>
        {
            while (!stopHogs.IsCancellationRequested) Thread.SpinWait(1000);
        })
        { IsBackground = true, Name = "faults-cpu-hog" }).ToList();
        ulong hogTick = rig.Node.TickCount;
        long hogStartNs = NodeClock.NowNs;
        hogs.ForEach(h => h.Start());
        Volatile.Write(ref rig.Actuator.BurnNs, rig.PeriodNs * 5 / 2);
        bool tripped = Check.WaitFor(() => rig.Node.Mode != NodeMode.Policy, TimeSpan.FromSeconds(10));
        Volatile.Write(ref rig.Actuator.BurnNs, 0);
        stopHogs.Cancel();
        hogs.ForEach(h => h.Join());
        Check.That(tripped, $"10 s of ticks 2.5 periods long did not trip the supervisor ({rig.Node.RunStatistics.Overruns} overruns)");

        NodeEvent trip = rig.FirstEvent(e => e.Kind == NodeEventKind.ModeChange && e.Mode == NodeMode.Fallback, hogTick)
            ?? throw new FaultCheckException($"mode {rig.Node.Mode} without a fallback event");
        Check.That(trip.Violation.Trigger == SafetyTrigger.OverrunStreak, $"tripped on {trip.Violation}, expected the overrun streak");
        double toSafeMs = (trip.TimestampNs - hogStartNs) / 1e6;
        Check.WaitFor(() => rig.Node.TickCount > trip.Tick + 100, TimeSpan.FromSeconds(5));
        Check.That(rig.Node.Mode == NodeMode.Fallback && rig.Controller.FallbackPhase == FallbackPhase.Hold,
            $"after the hog the node is in {rig.Node.Mode}/{rig.Controller.FallbackPhase}, expected FALLBACK/Hold");
        ulong lastTick = rig.Node.TickCount - 1;
        int modeChanges = rig.Node.Events.Count(e => e.Kind == NodeEventKind.ModeChange);
        FlightLogCount log = rig.CloseAndCount();
        lastTick = Math.Min(lastTick, log.Actions.Count == 0 ? 0 : log.Actions.Max(a => a.Tick));
        Check.That(log.Modes.Any(m => m.Mode == "FALLBACK" && m.Reason.Contains("overrun ticks in a row", StringComparison.Ordinal)),
            "no FALLBACK /mode message naming the overrun streak in the log");
        Check.That(log.Diagnostics.Any(d => d.Contains("OverrunStreak", StringComparison.Ordinal)), "no /diagnostics entry naming OverrunStreak");
        long lost = log.MissingTicks(0, lastTick) + Math.Max(0, modeChanges - log.Modes.Count);
        return new FaultResult(Name, true, toSafeMs, lost,
            $"hog: {rig.PeriodNs * 5 / 2 / 1000} µs burnt in each {rig.PeriodNs / 1000} µs tick + {hogs.Count} spinning threads; "
            + $"sensor timeout raised to {SensorTimeoutMs} ms; tripped after {trip.Tick - hogTick} ticks: \"{trip.Describe()}\"; then held (fallback); log {log.Actions.Count} /action");
    }
}
