using System.Diagnostics;
using RoboRl.Logs;

namespace RoboRl.Faults.Scenarios;

/// <summary>
/// Issue #9, scenario 8: the recording node is killed with SIGKILL mid-flight (a child process: the node, the simulated
/// robot and the recorder, real time). Expected: `roborl log recover` (<see cref="LogRecovery"/>) turns the cut file into
/// a valid MCAP (<see cref="LogChecker"/>) holding every tick up to at most one second before the kill, without holes.
/// </summary>
public sealed class RecorderKilled : IFaultScenario
{
    public string Name => "recorder-sigkill";
    public string Description => "the recording node is SIGKILLed: log recover gives a valid file missing at most the last second";

    public FaultResult Run(FaultBudget budget)
    {
        string scratch = RepoFiles.ScratchDirectory(Name);
        try
        {
            string log = Path.Combine(scratch, "killed.mcap"), recovered = Path.Combine(scratch, "recovered.mcap");
            using Process child = ChildProcess.Start("flight", log);
            Task<string> stderr = child.StandardError.ReadToEndAsync();
            ulong lastTicks = 0;
            var watch = Stopwatch.StartNew();
            try
            {
                // Kill once the child has flown 3 s (a loaded machine only makes this take longer).
                while (watch.Elapsed < TimeSpan.FromMinutes(2))
                {
                    string? line = child.StandardOutput.ReadLine();
                    if (line is null) throw new FaultCheckException($"the child flight exited early: {stderr.Result}");
                    string[] parts = line.Split(' ');
                    if (parts.Length < 2 || parts[0] != "T") continue;
                    lastTicks = ulong.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
                    if (lastTicks >= 1500) break;
                }
                Check.That(lastTicks >= 1500, $"the child flew only {lastTicks} ticks in 2 min");
            }
            finally
            {
                if (!child.HasExited) child.Kill(); // SIGKILL on Unix
                child.WaitForExit();
            }
            const double RateHz = 500; // configs/nodes/crazyflie-sim.json
            LogCheckReport cut = LogChecker.Check(log);
            LogRecoveryReport report = LogRecovery.Recover(log, recovered);
            LogCheckReport check = LogChecker.Check(recovered);
            Check.That(check.IsValid, $"the recovered file does not check: {string.Join("; ", check.Errors)}");
            FlightLogCount count = FlightLogCount.Read(recovered);
            Check.That(count.Complete, $"the recovered file reads incomplete: {count.Stop}");
            Check.That(count.Actions.Count > 0, "nothing recovered");
            ulong maxTick = count.Actions.Max(a => a.Tick);
            long holes = count.MissingTicks(0, maxTick);
            // Ticks the child had reported done when it was killed; the recovered log must reach within 1 s of them.
            ulong reportedLast = lastTicks - 1;
            double missingS = reportedLast > maxTick ? (reportedLast - maxTick) / RateHz : 0;
            long lost = (long)(lastTicks) - count.Actions.Count;
            Check.That(holes == 0, $"{holes} ticks missing inside the recovered flight");
            Check.That(missingS <= 1.0, $"the recovered log ends {missingS:0.###} s before the last tick the child reported");
            return new FaultResult(Name, true, null, Math.Max(0, lost),
                $"killed after {lastTicks} ticks reported; the cut file {(cut.IsValid ? "checked valid (!)" : "did not check (as expected)")}; "
                + $"recovered {report.MessagesRecovered} messages, valid; /action up to tick {maxTick}, no holes; missing the last {missingS * 1000:0} ms (bound 1000 ms)");
        }
        finally
        {
            try { Directory.Delete(scratch, recursive: true); } catch (IOException) { }
        }
    }
}
