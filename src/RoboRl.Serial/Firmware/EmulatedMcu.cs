using System.Diagnostics;

namespace RoboRl.Serial.Firmware;

/// <summary>
/// A firmware-bridge image running on QEMU's netduinoplus2 (an STM32F405, the Crazyflie's MCU), reached
/// through a pty. QEMU serves USART1 on a unix socket and waits for the connection before the CPU starts
/// (so no byte is lost), and socat bridges that socket to a pty — a raw `-serial pty` drops early bytes
/// and polls reconnects once a second (FACTS: emulated STM32F405).
/// </summary>
public sealed class EmulatedMcu : IDisposable
{
    private readonly Process _qemu, _socat;
    private readonly string _dir;

    /// <summary>The pty the host opens (e.g. with <see cref="SerialLink.OpenPty"/>).</summary>
    public string PtyPath { get; }

    private EmulatedMcu(Process qemu, Process socat, string dir, string pty)
    {
        _qemu = qemu; _socat = socat; _dir = dir; PtyPath = pty;
    }

    /// <summary>True when qemu-system-arm and socat are on the PATH.</summary>
    public static bool ToolsAvailable() => OnPath("qemu-system-arm") && OnPath("socat");

    internal static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(d => File.Exists(Path.Combine(d, tool)));

    /// <summary>Starts <paramref name="elfPath"/>; with <paramref name="countInstructions"/> QEMU runs with
    /// `-icount shift=0` so one instruction is one nanosecond of virtual time (SysTick then counts instructions).</summary>
    public static EmulatedMcu Start(string elfPath, bool countInstructions = true)
    {
        if (!File.Exists(elfPath)) throw new FileNotFoundException($"MCU image not found: {elfPath}", elfPath);
        string dir = Path.Combine(Path.GetTempPath(), "roborl-mcu-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        string socket = Path.Combine(dir, "usart1.sock"), pty = Path.Combine(dir, "usart1.tty");

        string icount = countInstructions ? " -icount shift=0" : "";
        Process qemu = StartTool("qemu-system-arm",
            $"-M netduinoplus2 -nographic -monitor none -kernel {elfPath}{icount} " +
            $"-chardev socket,id=u1,path={socket},server=on,wait=on -serial chardev:u1");
        WaitFor(() => File.Exists(socket), qemu, "QEMU's USART1 socket");
        Process socat;
        try { socat = StartTool("socat", $"pty,raw,echo=0,link={pty} unix-connect:{socket}"); }
        catch { qemu.Kill(); throw; }
        WaitFor(() => File.Exists(pty), socat, "socat's pty");
        return new EmulatedMcu(qemu, socat, dir, pty);
    }

    /// <summary>
    /// Every received byte crosses threads twice inside QEMU (its USART model holds one byte: the I/O thread hands it
    /// to the CPU thread, whose read of the data register wakes the I/O thread for the next one), and socat sits in
    /// between. On a virtual machine a wake-up on another core costs an inter-processor interrupt, tens of µs, per
    /// byte; on the same core it is a context switch. So QEMU and socat (all their threads: `taskset` at exec) share
    /// the last core — the node's tick thread usually runs on another — at a raised priority where permitted: the
    /// emulator stands in for a chip that shares its CPU with nothing. Privileged, that is SCHED_FIFO
    /// <see cref="EmulatorPriority"/> (`chrt`; QEMU's threads inherit it), below the node's tick and serial threads, so that
    /// no ordinary process on that core delays a byte (with `nice` alone, a busy machine made answers miss the 9.5 ms
    /// deadline several ticks in a row); QEMU uses ~80 % of the core, under Linux's real-time throttling limit of 95 %.
    /// Unprivileged, `nice -n -10` (which runs the tool unchanged when it may not raise the priority).
    /// </summary>
    private static (string Tool, string Arguments) OnItsOwnCore(string tool, string arguments)
    {
        if (Environment.ProcessorCount < 2 || !OnPath("taskset") || !OnPath("nice")) return (tool, arguments);
        string pinned = $"taskset -c {Environment.ProcessorCount - 1} {tool} {arguments}";
        if (Environment.IsPrivilegedProcess && OnPath("chrt")) return ("chrt", $"-f {EmulatorPriority} {pinned}");
        return ("nice", $"-n -10 {pinned}");
    }

    /// <summary>SCHED_FIFO priority of the emulated MCU's processes: below the node's tick (50) and serial reader (45).</summary>
    public const int EmulatorPriority = 30;

    private static Process StartTool(string tool, string arguments)
    {
        if (!OnPath(tool)) throw new InvalidOperationException($"{tool} is required (tests/run.sh installs it from tests/prerequisites.txt)");
        (string program, string programArguments) = OnItsOwnCore(tool, arguments);
        var start = new ProcessStartInfo(program, programArguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        try { return Process.Start(start)!; }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"{tool} is required (tests/run.sh installs it from tests/prerequisites.txt)", e);
        }
    }

    private static void WaitFor(Func<bool> ready, Process process, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!ready())
        {
            if (process.HasExited)
                throw new InvalidOperationException($"{what}: the process exited: {process.StandardError.ReadToEnd()}");
            if (clock.Elapsed > TimeSpan.FromSeconds(20)) throw new TimeoutException($"{what} did not appear in 20 s");
            Thread.Sleep(5);
        }
    }

    public void Dispose()
    {
        foreach (Process p in new[] { _socat, _qemu })
        {
            try { if (!p.HasExited) { p.Kill(); p.WaitForExit(5000); } } catch (InvalidOperationException) { }
            p.Dispose();
        }
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }
}
