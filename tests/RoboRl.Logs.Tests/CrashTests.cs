using System.Diagnostics;

namespace RoboRl.Logs.Tests;

/// <summary>A recorder killed with SIGKILL loses at most its last second: everything older is recovered.</summary>
public class CrashTests : LogTestBase
{
    [Test]
    public void SigkilledRecorderLosesAtMostItsLastSecond()
    {
        string recorder = Path.Combine(AppContext.BaseDirectory, "RoboRl.Logs.CrashRecorder.dll");
        Assert.That(File.Exists(recorder), recorder);
        string path = PathFor("killed.mcap");
        // The dotnet CLI tells test hosts where it lives; fall back to PATH.
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        var psi = new ProcessStartInfo(dotnet) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(recorder);
        psi.ArgumentList.Add(path);
        using var child = Process.Start(psi)!;
        var stderr = child.StandardError.ReadToEndAsync();

        // Read the child's "W seq logTimeNs" lines: each one is printed after the writer accepted that message.
        // Kill once it has recorded 3 s of log time (a loaded machine only makes this take longer).
        ulong first = 0, lastAccepted = 0;
        uint lastSeq = 0;
        var deadline = Stopwatch.StartNew();
        try
        {
            while (deadline.Elapsed < TimeSpan.FromMinutes(3))
            {
                string? line = child.StandardOutput.ReadLine();
                if (line is null) Assert.Fail($"recorder exited early: {stderr.Result}");
                var parts = line!.Split(' ');
                if (parts.Length != 3 || parts[0] != "W") continue;
                lastSeq = uint.Parse(parts[1]);
                lastAccepted = ulong.Parse(parts[2]);
                if (first == 0) first = lastAccepted;
                if (lastAccepted - first >= 3_000_000_000UL) break;
            }
            Assert.That(lastAccepted - first, Is.GreaterThanOrEqualTo(3_000_000_000UL), "recorder never reached 3 s of log time");
        }
        finally
        {
            child.Kill(); // SIGKILL on Unix: no finalizer, no Dispose, no flush
            child.WaitForExit();
        }
        Assert.That(child.ExitCode, Is.Not.Zero);

        // The file has no summary or footer: the stream reader reads it up to the first incomplete record.
        var check = LogChecker.Check(path);
        Assert.That(check.IsValid, Is.False);
        Assert.That(check.Stop.Kind, Is.EqualTo(McapStopKind.Truncated), check.Stop.ToString());

        string recovered = PathFor("recovered.mcap");
        var report = LogRecovery.Recover(path, recovered);
        TestContext.Out.WriteLine(report.Summary);
        Assert.That(LogChecker.Check(recovered).Errors, Is.Empty);

        using var reader = McapIndexedReader.Open(recovered);
        var poses = reader.ReadMessages(["/crash/pose"]).ToList();
        var observations = reader.ReadMessages(["/crash/observation"]).ToList();
        // Everything accepted more than 1 s of log time before the last accepted message must be there, without gaps.
        ulong horizon = lastAccepted - 1_000_000_000UL;
        foreach (var messages in new[] { poses, observations })
        {
            var sequences = messages.Select(m => m.Sequence).ToList();
            Assert.That(sequences, Is.EqualTo(Enumerable.Range(0, sequences.Count).Select(i => (uint)i)), "no gaps");
            Assert.That(messages.Count, Is.GreaterThan(0));
            ulong newest = messages[^1].LogTime;
            Assert.That(newest, Is.GreaterThanOrEqualTo(horizon), $"lost more than 1 s: newest recovered {newest}, last accepted {lastAccepted} (seq {lastSeq})");
        }
        Assert.That(poses.Count, Is.EqualTo(observations.Count).Within(1));
    }
}
