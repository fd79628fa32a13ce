using System.Diagnostics;
using System.Numerics;

namespace RoboRl.Serial;

public enum SerialTransportKind { Pty, SerialPort }

/// <summary>Settings of <see cref="SerialBench"/>.</summary>
/// <param name="Port">An existing device that answers OBSERVATION with ACTION (the C link_responder, the emulated
/// MCU, a real board); null: a socat pty pair with an in-process responder.</param>
public sealed record SerialBenchOptions(double Seconds = 5, int RateHz = 1000, int ObservationSize = 18,
    SerialTransportKind Transport = SerialTransportKind.Pty, int BaudRate = 921600, string? Port = null);

/// <summary>What a bench run measured. Lost = observations without an ACTION reply + gaps either side saw.</summary>
public sealed record SerialBenchResult(
    SerialTransportKind Transport, double Seconds, int RateHz, long ObservationsSent, long ActionsReceived, long LostFrames,
    long RejectedFrames, double RttP50Ms, double RttP99Ms, double RttMaxMs, double AchievedRateHz, string? Fault);

/// <summary>
/// The link's round trip over a socat pty pair: a host link streams OBSERVATION frames at a fixed
/// rate; an in-process responder on the other pty (standing in for the MCU) answers each with an
/// ACTION echoing its sequence. Used by `roborl bench serial` and by the streaming test. With
/// <see cref="SerialBenchOptions.Port"/> the host talks to that device instead.
/// </summary>
public static class SerialBench
{
    public static SerialBenchResult Run(SerialBenchOptions o, IProgress<double>? progress = null)
    {
        using var pair = o.Port is null ? SocatPtyPair.Start() : null;
        // Each observation's send time, indexed by its sequence; the reply looks it up.
        var sentAt = new long[65536];
        var rtts = new List<double>(capacity: (int)(o.Seconds * o.RateHz) + 16);
        long actions = 0;
        object rttLock = new();

        SerialLink? responder = null;
        SerialLink Open(string path, SerialLink.FrameHandler handler) => o.Transport == SerialTransportKind.Pty
            ? SerialLink.OpenPty(path, handler)
            : SerialLink.OpenSerialPort(path, o.BaudRate, handler);

        using var mcu = responder = pair is null ? null : Open(pair.PathB, frame =>
        {
            if (frame.Type != MessageType.Observation) return;
            responder!.Send(new ActionMessage(frame.Sequence, 0, new Vector4(0.1f, 0.2f, 0.3f, 0.4f)));
        });
        using var host = Open(pair?.PathA ?? o.Port!, frame =>
        {
            if (frame.Type != MessageType.Action) return;
            long now = Stopwatch.GetTimestamp();
            var action = frame.ReadAction();
            lock (rttLock)
            {
                rtts.Add(Stopwatch.GetElapsedTime(sentAt[action.ObservationSequence], now).TotalMilliseconds);
                actions++;
            }
        });

        var obs = new float[o.ObservationSize];
        long total = (long)(o.Seconds * o.RateHz), sent = 0;
        long periodTicks = Stopwatch.Frequency / o.RateHz;
        long start = Stopwatch.GetTimestamp(), next = start;
        while (sent < total && host.State == LinkState.Open)
        {
            long now = Stopwatch.GetTimestamp();
            if (now < next)
            {
                // Sleep while more than ~1.5 ms remain, then yield: steady rate without a hot spin.
                if ((next - now) * 1000 / Stopwatch.Frequency > 1) Thread.Sleep(1);
                else Thread.Yield();
                continue;
            }
            obs[0] = sent;
            ushort seq = host.NextSequence;
            sentAt[seq] = Stopwatch.GetTimestamp();
            host.SendObservation(obs, out _);
            sent++;
            next += periodTicks;
            if (progress is not null && sent % o.RateHz == 0) progress.Report((double)sent / total);
        }
        double elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;

        // Drain: wait for the last replies (generously: a loaded machine may lag).
        var drain = Stopwatch.StartNew();
        while (Interlocked.Read(ref actions) < sent && drain.Elapsed < TimeSpan.FromSeconds(10) && host.State == LinkState.Open)
            Thread.Sleep(5);

        double[] sorted;
        long received;
        lock (rttLock)
        {
            sorted = [.. rtts];
            received = actions;
        }
        Array.Sort(sorted);
        double P(double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
        var hc = host.Counters;
        var mc = mcu?.Counters ?? default;
        return new SerialBenchResult(o.Transport, elapsed, o.RateHz, sent, received,
            LostFrames: sent - received + hc.Lost + mc.Lost,
            RejectedFrames: hc.Rejected + mc.Rejected,
            RttP50Ms: P(0.5), RttP99Ms: P(0.99), RttMaxMs: sorted.Length == 0 ? double.NaN : sorted[^1],
            AchievedRateHz: sent / elapsed, Fault: host.FaultReason ?? mcu?.FaultReason);
    }
}
