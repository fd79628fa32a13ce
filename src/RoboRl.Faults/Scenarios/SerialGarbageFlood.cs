using RoboRl.Core.Robots;
using RoboRl.Node;
using RoboRl.Serial;

namespace RoboRl.Faults.Scenarios;

/// <summary>Keeps the node's tick-statistics windows (its telemetry, 10 per second) for the scenario to compare.</summary>
internal sealed class TickWindows : ITelemetrySink
{
    private readonly Lock _gate = new();
    private readonly List<(long TimestampNs, TickStatistics Ticks)> _windows = new(4096);
    public void Publish(in TelemetryFrame frame)
    {
        lock (_gate) if (_windows.Count < _windows.Capacity) _windows.Add((frame.TimestampNs, frame.Ticks));
    }

    public List<TickStatistics> Between(long fromNs, long toNs)
    {
        lock (_gate) return _windows.Where(w => w.TimestampNs > fromNs && w.TimestampNs <= toNs).Select(w => w.Ticks).ToList();
    }

    public static double Median(IEnumerable<double> values)
    {
        double[] v = values.Order().ToArray();
        return v.Length == 0 ? double.NaN : v[v.Length / 2];
    }
}

/// <summary>
/// Issue #9, scenario 3: garbage at full line rate on the serial cable, between valid STATE frames. The node flies on
/// the serial samples in real time; the robot side fills a 921 600-baud line (92 160 B/s) with random bytes around its
/// 500 Hz STATE frames for the flood's duration. Expected: ≥ 99 % of the STATE frames decoded, the node keeps flying the
/// policy (no stale sensor, no trip), tick jitter stays within its bound (one period, or twice the jitter measured just
/// before the flood on a busy machine), nothing crashes (no handler error, link not faulted).
/// </summary>
public sealed class SerialGarbageFlood : IFaultScenario
{
    public string Name => "serial-garbage-flood";
    public string Description => "random bytes at full line rate between valid frames: ≥ 99 % frames decoded, jitter bounded, no crash";

    /// <summary>
    /// The sensor timeout for this scenario (the config's is 100 ms): the shared, loaded machine the suite runs on may
    /// starve the robot side's writer thread for 100 ms without any flood; this scenario is about decoding, and a stalled
    /// decoder would still trip it.
    /// </summary>
    public const int SensorTimeoutMs = 300;

    /// <summary>The line the flood fills: 921 600 baud, 10 bits per byte.</summary>
    public const int LineBytesPerSecond = 92_160;

    public FaultResult Run(FaultBudget budget)
    {
        using var serial = new SerialRig(Name, SensorTimeoutMs);
        var windows = new TickWindows();
        serial.Rig.Node.AddTelemetry(windows);
        serial.Start();
        Thread.Sleep(1500); // a baseline of tick statistics
        long baselineFrom = NodeClock.NowNs - 1_400_000_000L;

        var rng = new Random(3);
        var garbage = new byte[8192];
        long garbageBytes = 0, lineBytes = 0;
        // Snapshot when the node's reader has caught up with the writer (it may lag by a few frames on a loaded machine).
        Check.WaitFor(() => serial.Source.Received >= serial.FramesSent - 1, TimeSpan.FromSeconds(5), pollMs: 1);
        LinkCounters before = serial.Source.Link.Counters;
        long sentBefore = serial.FramesSent;
        uint receivedBefore = serial.Source.Received;
        long floodFrom = NodeClock.NowNs;
        // After each STATE frame (≈ 70 wire bytes), random bytes up to what the line carries by now: the line stays full
        // however late the writer thread wakes.
        serial.AfterEachFrame = s =>
        {
            lineBytes += 70;
            long due = (NodeClock.NowNs - floodFrom) * LineBytesPerSecond / 1_000_000_000L - lineBytes;
            int n = (int)Math.Clamp(due, 0, garbage.Length);
            if (n == 0) return;
            rng.NextBytes(garbage.AsSpan(0, n));
            s.WriteRaw(garbage.AsSpan(0, n));
            garbageBytes += n;
            lineBytes += n;
        };
        Thread.Sleep(TimeSpan.FromSeconds(budget.FloodSeconds));
        serial.AfterEachFrame = null;
        long floodTo = NodeClock.NowNs;
        Thread.Sleep(200); // a clean tail for the jitter windows
        // The node's state while the robot still talks (stopping the writer makes the sensor stale, as it should).
        NodeMode mode = serial.Rig.Node.Mode;
        string events = string.Join("; ", serial.Rig.Node.Events.Select(e => e.Describe()));
        serial.StopWriter();
        Thread.Sleep(300); // the last frames arrive
        long sent = serial.FramesSent - sentBefore;
        long received = serial.Source.Received - receivedBefore;
        LinkCounters after = serial.Source.Link.Counters;

        double baselineJitter = TickWindows.Median(windows.Between(baselineFrom, floodFrom).Select(w => w.JitterP99Us));
        List<TickStatistics> flood = windows.Between(floodFrom, floodTo);
        double floodJitter = TickWindows.Median(flood.Select(w => w.JitterP99Us));
        double periodUs = serial.Rig.PeriodNs / 1000.0;
        double bound = Math.Max(periodUs, 2 * baselineJitter);
        ulong lastTick = serial.Rig.Node.TickCount - 1;
        int modeChanges = serial.Rig.Node.Events.Count(e => e.Kind == NodeEventKind.ModeChange);
        long handlerErrors = serial.Source.Link.HandlerErrors;
        LinkState linkState = serial.Source.Link.State;
        FlightLogCount log = serial.Rig.CloseAndCount();
        lastTick = Math.Min(lastTick, log.Actions.Count == 0 ? 0 : log.Actions.Max(a => a.Tick));
        long lost = log.MissingTicks(0, lastTick) + Math.Max(0, modeChanges - log.Modes.Count);

        double share = sent == 0 ? 0 : (double)received / sent;
        long rejected = after.Rejected - before.Rejected;
        string detail = $"{budget.FloodSeconds:0.#} s flood, {garbageBytes / budget.FloodSeconds / 1000:0.#} kB/s of random bytes between {sent} STATE frames (line {lineBytes / budget.FloodSeconds / 1000:0.#} kB/s in all): "
            + $"{received} decoded ({share:P2}), {rejected} garbage frames rejected ({after.CrcErrors - before.CrcErrors} CRC, {after.FramingErrors - before.FramingErrors} framing, {after.Oversize - before.Oversize} oversize); "
            + $"sensor timeout {SensorTimeoutMs} ms; tick jitter p99 median {floodJitter:0} µs during the flood vs {baselineJitter:0} µs before (bound {bound:0} µs); mode {mode}";
        bool passed = share >= 0.99 && mode == NodeMode.Policy && floodJitter <= bound && handlerErrors == 0 && linkState == LinkState.Open && flood.Count > 0;
        if (mode != NodeMode.Policy) detail += $"; events: {events}";
        if (handlerErrors > 0 || linkState != LinkState.Open) detail += $"; link {linkState}, {handlerErrors} handler errors";
        return new FaultResult(Name, passed, null, lost, detail);
    }
}
