using System.Diagnostics;
using RoboRl.Core.Robots;
using RoboRl.Logs;
using RoboRl.Node;

namespace RoboRl.Faults.Scenarios;

/// <summary>
/// Issue #9, scenario 9: the disk fills while recording — the log goes to a 512 KiB tmpfs (mounted for the scenario;
/// needs root), uncompressed so it fills in about a second. Expected: the node keeps flying (mode, ticks), recording
/// stops with a clear error naming the file ("No space left on device"), and the file up to that point is valid: every
/// complete chunk reads, with the ticks in order and no holes, and `log recover` turns it into a valid file.
/// </summary>
public sealed class DiskFull : IFaultScenario
{
    public string Name => "disk-full";
    public string Description => "the log's disk fills mid-flight: the node keeps flying, recording stops with a clear error, the file stays valid";

    public const string TmpfsSize = "512k";

    public FaultResult Run(FaultBudget budget)
    {
        string scratch = RepoFiles.ScratchDirectory(Name);
        string mount = Path.Combine(scratch, "small-disk");
        Directory.CreateDirectory(mount);
        string mountError = RunTool("mount", "-t", "tmpfs", "-o", $"size={TmpfsSize}", "tmpfs", mount);
        if (mountError.Length > 0)
        {
            Directory.Delete(scratch, recursive: true);
            throw new FaultCheckException($"cannot mount a {TmpfsSize} tmpfs for the full disk (needs root): {mountError}");
        }
        try
        {
            string log = Path.Combine(mount, "flight.mcap");
            (long lost, string detail) = Fly(log, scratch);
            return new FaultResult(Name, true, null, lost, detail);
        }
        finally
        {
            RunTool("umount", mount);
            try { Directory.Delete(scratch, recursive: true); } catch (IOException) { }
        }
    }

    private static (long Lost, string Detail) Fly(string log, string scratch)
    {
        using var rig = new FlightRig("disk-full", new FlightRig.Options
        {
            RealTime = true,
            LogPath = log,
            Edit = root => root["recording"]!["compression"] = "none",
        });
        rig.StartRealTime();
        Check.That(Check.WaitFor(() => rig.Node.Mode == NodeMode.Policy, TimeSpan.FromSeconds(20)), $"the node did not arm (mode {rig.Node.Mode})");
        var watch = Stopwatch.StartNew();
        Check.That(Check.WaitFor(() => rig.Recorder!.Error is not null, TimeSpan.FromSeconds(60), pollMs: 2),
            $"the {TmpfsSize} disk never filled ({new FileInfo(log).Length} bytes written)");
        ulong ticksAtError = rig.Node.TickCount;
        long errorAfterMs = watch.ElapsedMilliseconds;
        string error = rig.Recorder!.Error!;
        // The node keeps flying: a further second of ticks, in the same mode, no event.
        int eventsAtError = rig.Node.Events.Length;
        Thread.Sleep(1000);
        ulong ticksAfter = rig.Node.TickCount;
        NodeMode mode = rig.Node.Mode;
        Check.That(mode == NodeMode.Policy, $"the node left POLICY after the disk filled: {string.Join("; ", rig.Node.Events.Skip(eventsAtError).Select(e => e.Describe()))}");
        Check.That(ticksAfter > ticksAtError + 250, $"the node ticked only {ticksAfter - ticksAtError} times in the second after the disk filled");
        Check.That(error.Contains("No space left on device", StringComparison.Ordinal) && error.Contains(log, StringComparison.Ordinal),
            $"the recorder's error does not say what happened and where: \"{error}\"");
        long dropped = rig.Recorder.Dropped;

        rig.CloseAndCount(); // stops the node; the log itself is read below
        FlightLogCount count = FlightLogCount.Read(log);
        Check.That(count.Actions.Count > 0, "nothing readable in the full disk's file");
        ulong maxTick = count.Actions.Max(a => a.Tick);
        long holes = count.MissingTicks(0, maxTick);
        Check.That(holes == 0, $"{holes} ticks missing inside the readable part");
        string recovered = Path.Combine(scratch, "recovered.mcap");
        LogRecoveryReport report = LogRecovery.Recover(log, recovered);
        LogCheckReport check = LogChecker.Check(recovered);
        Check.That(check.IsValid, $"the recovered file does not check: {string.Join("; ", check.Errors)}");
        long lost = Math.Max(0, (long)ticksAtError - count.Actions.Count);
        return (lost, $"disk full after {errorAfterMs} ms of recording: \"{error}\"; the node flew on ({ticksAfter - ticksAtError} ticks in the next second, mode {mode}); "
            + $"the file reads {count.Actions.Count} ticks (0..{maxTick}, no holes; reader: {count.Stop}); recovered {report.MessagesRecovered} messages, valid; "
            + $"{lost} tick records of the last open chunk lost, {dropped} records refused after the error");
    }

    /// <summary>Runs a tool; returns "" on success, else its error text.</summary>
    private static string RunTool(string file, params string[] args)
    {
        try
        {
            var psi = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (string a in args) psi.ArgumentList.Add(a);
            using Process p = Process.Start(psi)!;
            string err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0 ? "" : $"{file} exited {p.ExitCode}: {err.Trim()}";
        }
        catch (System.ComponentModel.Win32Exception e) { return $"{file}: {e.Message}"; }
    }
}
