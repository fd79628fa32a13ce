using System.Diagnostics;
using System.Text.Json.Nodes;

namespace RoboRl.Cli.Tests;

/// <summary><c>roborl bench ros2 --json</c> runs end to end (echo node in a second process) and reports its keys.</summary>
public class BenchRos2Tests
{
    [Test]
    public void JsonReportHasTheRoundTripFigures()
    {
        string dir = AppContext.BaseDirectory;
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Path.Combine(dir, "roborl.dll"), "bench", "ros2", "--json", "--messages", "300" }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3))) { p.Kill(entireProcessTree: true); Assert.Fail("bench ros2 did not finish in 3 minutes"); }
        p.WaitForExit();
        if (p.ExitCode != 0 && stderr.Result.Contains("libddsc") && Environment.GetEnvironmentVariable("CI") != "true")
            Assert.Inconclusive("Cyclone DDS (libddsc) is not installed: " + stderr.Result);
        Assert.That(p.ExitCode, Is.EqualTo(0), stderr.Result);
        var json = JsonNode.Parse(stdout.Result.Trim())!.AsObject();
        Assert.That(json["messages"]!.GetValue<int>(), Is.EqualTo(300));
        Assert.That(json["lost"]!.GetValue<int>(), Is.Zero);
        Assert.That(json["pong"]!.GetValue<string>(), Is.EqualTo("process"));
        double p50 = json["rtt_p50_us"]!.GetValue<double>(), p99 = json["rtt_p99_us"]!.GetValue<double>();
        Assert.That(p50, Is.GreaterThan(0));
        Assert.That(p99, Is.GreaterThanOrEqualTo(p50));
    }
}
