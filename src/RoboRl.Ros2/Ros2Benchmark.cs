using System.Diagnostics;
using RoboRl.Core.Messages;

namespace RoboRl.Ros2;

/// <summary>What a <see cref="Ros2Benchmark"/> run measured.</summary>
public sealed record Ros2BenchmarkResult(string Mode, int Messages, int Lost, double RttP50Us, double RttP99Us, double RttMaxUs,
    double RateHz, double Seconds, int DomainId, bool PongInOtherProcess);

/// <summary>
/// geometry_msgs/Twist round trips between two nodes (two DDS participants) in this process over loopback: "ping"
/// publishes, "pong" echoes each message back from its subscription callback, ping times the round trip.
/// <see cref="RoundTrips"/> sends one message at a time; <see cref="Soak"/> sends at a fixed rate with reliable QoS and
/// counts what never came back. With a <c>pong</c> process (<see cref="RunPong"/> started by the caller) the messages
/// cross the loopback network; with both nodes in one process Cyclone DDS delivers between them directly, without UDP.
/// </summary>
public static class Ros2Benchmark
{
    private static readonly QosProfile Reliable = new(Reliability.Reliable, Durability.Volatile, 1000);

    /// <summary>Times <paramref name="messages"/> round trips, one in flight at a time.</summary>
    /// <param name="pongProcess">Starts the echo in another process (which calls <see cref="RunPong"/>); null echoes in this one.</param>
    public static Ros2BenchmarkResult RoundTrips(int messages, int domainId, ProcessStartInfo? pongProcess, int warmup = 200) =>
        Run("rtt", messages, domainId, warmup, rateHz: 0, pongProcess);

    public static Ros2BenchmarkResult Soak(double rateHz, double seconds, int domainId, ProcessStartInfo? pongProcess) =>
        Run("soak", (int)Math.Max(1, rateHz * seconds), domainId, warmup: 100, rateHz, pongProcess);

    private static Ros2Options Options(int domainId) =>
        new() { DomainId = domainId, CycloneConfigXml = Ros2Loopback.ConfigXml, AnnounceNode = false };

    /// <summary>The echo side: republishes every Twist from <c>ping</c> on <c>pong</c> until <paramref name="stop"/> returns.</summary>
    public static void RunPong(int domainId, Action stop)
    {
        using var pong = new Ros2Node("bench_pong", "/roborl_bench", Options(domainId));
        using var pongPub = pong.CreatePublisher<TwistMsg>("pong", Reliable);
        using var pongSub = pong.CreateSubscription<TwistMsg>("ping", Reliable, (in TwistMsg m) => pongPub.Publish(m));
        stop();
    }

    private static Ros2BenchmarkResult Run(string mode, int messages, int domainId, int warmup, double rateHz, ProcessStartInfo? pongProcess)
    {
        using var ping = new Ros2Node("bench_ping", "/roborl_bench", Options(domainId));
        var stopPong = new ManualResetEventSlim();
        Process? other = null;
        Thread? local = null;
        if (pongProcess is null)
        {
            local = new Thread(() => RunPong(domainId, stopPong.Wait)) { IsBackground = true, Name = "ros2 bench pong" };
            local.Start();
        }
        else
        {
            pongProcess.RedirectStandardInput = true; // the pong process ends when this pipe closes
            other = Process.Start(pongProcess) ?? throw new InvalidOperationException($"cannot start {pongProcess.FileName}");
        }
        try { return Measure(ping, mode, messages, domainId, warmup, rateHz, other is not null); }
        finally
        {
            stopPong.Set();
            local?.Join(TimeSpan.FromSeconds(10));
            if (other is not null)
            {
                other.StandardInput.Close();
                if (!other.WaitForExit(10_000)) other.Kill();
                other.Dispose();
            }
        }
    }

    private static Ros2BenchmarkResult Measure(Ros2Node ping, string mode, int messages, int domainId, int warmup, double rateHz, bool otherProcess)
    {
        long[] sentAt = new long[warmup + messages];
        double[] rttUs = new double[warmup + messages];
        int received = 0;
        var arrived = new SemaphoreSlim(0);
        using var pingSub = ping.CreateSubscription<TwistMsg>("pong", Reliable, (in TwistMsg m) =>
        {
            long now = Stopwatch.GetTimestamp();
            int i = (int)m.Linear.X;
            if ((uint)i < (uint)sentAt.Length && rttUs[i] == 0)
            {
                rttUs[i] = (now - sentAt[i]) * 1e6 / Stopwatch.Frequency;
                Interlocked.Increment(ref received);
            }
            arrived.Release();
        });
        var pingPub = ping.CreatePublisher<TwistMsg>("ping", Reliable);
        var match = TimeSpan.FromSeconds(30);
        if (!pingPub.WaitForMatch(match) || !pingSub.WaitForMatch(match))
            throw new TimeoutException("ping and pong did not discover each other within 30 s (is the loopback interface up?)");

        var msg = new TwistMsg { Angular = new Vector3Msg { Z = 0.5 } };
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < sentAt.Length; i++)
        {
            if (rateHz > 0)
            {
                long due = start + (long)(i / rateHz * Stopwatch.Frequency);
                while (Stopwatch.GetTimestamp() < due) Thread.SpinWait(20);
            }
            msg.Linear.X = i;
            sentAt[i] = Stopwatch.GetTimestamp();
            pingPub.Publish(msg);
            // Round-trip mode waits for the echo (up to 1 s, then counts it lost) before the next message.
            if (rateHz <= 0) arrived.Wait(TimeSpan.FromSeconds(1));
        }
        long end = Stopwatch.GetTimestamp() + 2 * Stopwatch.Frequency; // grace for the last echoes
        while (Volatile.Read(ref received) < sentAt.Length && Stopwatch.GetTimestamp() < end) Thread.Sleep(1);
        double elapsed = (Stopwatch.GetTimestamp() - start) / (double)Stopwatch.Frequency;

        var measured = rttUs.Skip(warmup).Where(v => v > 0).OrderBy(v => v).ToArray();
        int lost = messages - measured.Length;
        double P(double q) => measured.Length == 0 ? double.NaN : measured[Math.Min(measured.Length - 1, (int)(q * measured.Length))];
        pingPub.Dispose();
        return new Ros2BenchmarkResult(mode, messages, lost, P(0.50), P(0.99), measured.Length == 0 ? double.NaN : measured[^1],
            rateHz > 0 ? rateHz : messages / elapsed, elapsed, domainId, otherProcess);
    }
}
