using System.Runtime.CompilerServices;
using RoboRl.Core.Robots;

namespace RoboRl.Node;

/// <summary>
/// Percentiles of a time in microseconds without allocation: a fixed histogram of 0.1 µs bins up to 100 µs, then
/// 10 µs bins up to 20 ms, then one overflow bin (the exact maximum is kept aside). Percentiles are bin upper edges,
/// so they over-report by at most one bin width.
/// </summary>
public sealed class MicrosecondHistogram
{
    private const int FineBins = 1000;          // [0, 100) µs in 0.1 µs
    private const float FineWidthUs = 0.1f;
    private const int CoarseBins = 1990;        // [100, 20000) µs in 10 µs
    private const float CoarseWidthUs = 10f;
    private const float FineLimitUs = FineBins * FineWidthUs;
    private readonly int[] _bins = new int[FineBins + CoarseBins + 1];

    public long Count { get; private set; }
    public double MaxUs { get; private set; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(double us)
    {
        if (!(us >= 0)) us = 0;
        int bin = us < FineLimitUs
            ? (int)(us / FineWidthUs)
            : Math.Min(FineBins + (int)((us - FineLimitUs) / CoarseWidthUs), FineBins + CoarseBins);
        _bins[bin]++;
        Count++;
        if (us > MaxUs) MaxUs = us;
    }

    /// <summary>The upper edge of the bin holding the <paramref name="quantile"/> (0..1) sample; the max for the overflow bin; 0 when empty.</summary>
    public double Percentile(double quantile)
    {
        if (Count == 0) return 0;
        long rank = (long)Math.Ceiling(quantile * Count);
        if (rank < 1) rank = 1;
        long seen = 0;
        for (int i = 0; i < _bins.Length; i++)
        {
            seen += _bins[i];
            if (seen >= rank)
            {
                double edge = i < FineBins ? (i + 1) * FineWidthUs
                    : i < FineBins + CoarseBins ? FineLimitUs + (i - FineBins + 1) * CoarseWidthUs
                    : MaxUs;
                return Math.Min(edge, MaxUs);
            }
        }
        return MaxUs;
    }

    public void Clear()
    {
        Array.Clear(_bins);
        Count = 0;
        MaxUs = 0;
    }
}

/// <summary>
/// Tick timing over one reporting window and over the whole run: latency (tick start → actuator command handed to
/// the transport: observation + policy + arbitration), jitter (|actual start − scheduled start|) and overruns.
/// </summary>
public sealed class TickStatisticsWindow
{
    private readonly MicrosecondHistogram _latency = new(), _jitter = new();
    private readonly MicrosecondHistogram _runLatency = new(), _runJitter = new();
    private long _windowStartNs = -1, _runStartNs = -1, _lastStartNs;
    private ulong _ticks, _runTicks;
    private uint _overruns, _runOverruns;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(long scheduledNs, long startNs, long endNs, bool overrun)
    {
        if (_windowStartNs < 0) _windowStartNs = startNs;
        if (_runStartNs < 0) _runStartNs = startNs;
        _lastStartNs = startNs;
        double latencyUs = (endNs - startNs) * 1e-3, jitterUs = Math.Abs(startNs - scheduledNs) * 1e-3;
        _latency.Add(latencyUs); _runLatency.Add(latencyUs);
        _jitter.Add(jitterUs); _runJitter.Add(jitterUs);
        _ticks++; _runTicks++;
        if (overrun) { _overruns++; _runOverruns++; }
    }

    /// <summary>The statistics of the window so far, then a new window starts.</summary>
    public TickStatistics TakeWindow()
    {
        TickStatistics s = Make(_latency, _jitter, _ticks, _overruns, _windowStartNs);
        _latency.Clear(); _jitter.Clear();
        _ticks = 0; _overruns = 0; _windowStartNs = -1;
        return s;
    }

    /// <summary>The statistics since the node started.</summary>
    public TickStatistics Run => Make(_runLatency, _runJitter, _runTicks, _runOverruns, _runStartNs);

    private TickStatistics Make(MicrosecondHistogram latency, MicrosecondHistogram jitter, ulong ticks, uint overruns, long startNs)
    {
        double spanS = (_lastStartNs - startNs) * 1e-9;
        return new TickStatistics
        {
            Ticks = ticks,
            RateHz = ticks > 1 && spanS > 0 ? (ticks - 1) / spanS : 0,
            LatencyP50Us = latency.Percentile(0.5),
            LatencyP99Us = latency.Percentile(0.99),
            LatencyMaxUs = latency.MaxUs,
            JitterP99Us = jitter.Percentile(0.99),
            Overruns = overruns,
        };
    }
}
