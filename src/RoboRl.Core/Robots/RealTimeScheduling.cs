using System.Runtime.InteropServices;

namespace RoboRl.Core.Robots;

/// <summary>
/// Puts the calling thread under Linux's real-time FIFO scheduler (the node's tick, transports' receive threads). .NET's <see cref="ThreadPriority"/> changes nothing
/// on Linux (every normal thread shares the CPU fairly), so a busy process — an embedded broker doing 100 TLS handshakes,
/// other programs on a 2-core companion computer — delays the tick by milliseconds. A SCHED_FIFO thread preempts every
/// normal thread as soon as it wakes, as ros2_control's real-time loop does. Needs root or CAP_SYS_NICE (or an rtprio
/// limit); without them the node runs at normal priority and says so. The kernel keeps 5 % of each second for normal
/// threads (sched_rt_runtime_us), so a runaway tick cannot lock the machine.
/// </summary>
public static class RealTimeScheduling
{
    /// <summary>SCHED_FIFO priority of the tick thread: 50, the middle of 1–99 (below the kernel's own threaded IRQs on PREEMPT_RT).</summary>
    public const int TickPriority = 50;

    /// <summary>SCHED_FIFO priority of a transport's receive thread (serial reader): just below the tick, above everything
    /// else, so that a busy machine does not age the node's sensor samples into a stale-sensor fallback.</summary>
    public const int TransportPriority = TickPriority - 5;

    private const int SchedFifo = 1;

    [StructLayout(LayoutKind.Sequential)]
    private struct SchedParam { public int Priority; }

    [DllImport("libc", SetLastError = true)]
    private static extern int sched_setscheduler(int pid, int policy, ref SchedParam param);

    /// <summary>Asks for SCHED_FIFO at <paramref name="priority"/> for the calling thread; null on success, else why not.</summary>
    public static string? TryEnterFifo(int priority = TickPriority) => TrySetFifo(0, priority);

    /// <summary>The same for another process's main thread (e.g. a helper such as socat standing in for hardware).</summary>
    public static string? TrySetFifo(int processOrThreadId, int priority)
    {
        if (!OperatingSystem.IsLinux()) return "real-time scheduling is only requested on Linux";
        try
        {
            var param = new SchedParam { Priority = priority };
            // pid 0 = the calling thread (Linux schedules threads, not processes).
            if (sched_setscheduler(processOrThreadId, SchedFifo, ref param) == 0) return null;
            int errno = Marshal.GetLastPInvokeError();
            return errno == 1 ? "SCHED_FIFO not permitted (needs root, CAP_SYS_NICE or an rtprio limit): normal priority" : $"sched_setscheduler failed (errno {errno}): normal priority";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return $"no libc sched_setscheduler ({e.Message}): normal priority";
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec { public long Seconds; public long Nanoseconds; }

    [DllImport("libc")]
    private static extern int clock_nanosleep(int clockId, int flags, ref Timespec request, IntPtr remain);

    private const int ClockMonotonic = 1, TimerAbsoluteTime = 1;

    // NodeClock reads Stopwatch, which on Linux is CLOCK_MONOTONIC in nanoseconds: the same clock clock_nanosleep sleeps on.
    private static readonly bool CanSleepOnNodeClock = OperatingSystem.IsLinux() && System.Diagnostics.Stopwatch.Frequency == 1_000_000_000;

    /// <summary>
    /// Sleeps until <paramref name="deadlineNs"/> on the node clock (<see cref="NodeClock"/>): on Linux one
    /// clock_nanosleep on the absolute deadline, which wakes a SCHED_FIFO thread within tens of microseconds, so that a
    /// 1 kHz loop sleeps most of its period; elsewhere Thread.Sleep(1) while a millisecond or more is left. Returns
    /// early, never late by more than the scheduler's wake-up latency; the caller spins the rest.
    /// </summary>
    public static void SleepUntil(long deadlineNs)
    {
        if (CanSleepOnNodeClock)
        {
            var until = new Timespec { Seconds = deadlineNs / 1_000_000_000, Nanoseconds = deadlineNs % 1_000_000_000 };
            // An absolute deadline: a signal (EINTR) just sleeps again for what is left.
            while (clock_nanosleep(ClockMonotonic, TimerAbsoluteTime, ref until, IntPtr.Zero) == 4 /* EINTR */) { }
            return;
        }
        while (deadlineNs - NodeClock.NowNs > 1_200_000) Thread.Sleep(1);
    }
}
