using System.Diagnostics;
using System.Text.Json.Nodes;
using RoboRl.Core.Messages;

namespace RoboRl.Ros2.Tests;

/// <summary>
/// Every test talks over the loopback interface only (Ros2Loopback.ConfigXml) on a DDS domain drawn at random once per
/// test run, so parallel runs and other DDS traffic on the machine do not cross.
/// </summary>
public static class Env
{
    public static readonly int DomainId = Random.Shared.Next(100, 230);
    public static bool InCi => Environment.GetEnvironmentVariable("CI") == "true";
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromSeconds(20);

    public static Ros2Options Options(RosDistro distro = RosDistro.Humble, bool announce = true) =>
        new() { DomainId = DomainId, CycloneConfigXml = Ros2Loopback.ConfigXml, Distro = distro, AnnounceNode = announce };

    /// <summary>A tool the test needs is missing: fail in CI, inconclusive elsewhere.</summary>
    public static void Missing(string why)
    {
        if (InCi) Assert.Fail($"required tool missing in CI: {why} (tests/prerequisites.txt lists the Debian packages)");
        Assert.Inconclusive(why);
    }

    public static void RequireLibddsc()
    {
        try { using var probe = new Ros2Node("probe", "/", Options(announce: false)); }
        catch (Native.DdsException e) when (e.ReturnCode == 0) { Missing(e.Message); }
    }

    public static string? Which(string exe) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, exe)).FirstOrDefault(File.Exists);

    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "RoboRl.sln"))) return dir.FullName;
        throw new InvalidOperationException("cannot find RoboRl.sln above " + AppContext.BaseDirectory);
    }

    public static (int Code, string Stdout, string Stderr) Run(string exe, IEnumerable<string> args, string workDir, TimeSpan timeout,
        IDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo(exe) { WorkingDirectory = workDir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{exe} {string.Join(' ', args)} did not finish within {timeout}: {stderr.Result}");
        }
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Waits (generously: the machine may be loaded) until <paramref name="condition"/> holds.</summary>
    public static bool Eventually(Func<bool> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) return false;
            Thread.Sleep(5);
        }
        return true;
    }

    /// <summary>Compares two messages through their JSON form (exact: floats round-trip bit for bit).</summary>
    public static void AssertSame(DynamicMessage expected, DynamicMessage actual, string what) =>
        Assert.That(actual.ToJson().ToJsonString(), Is.EqualTo(expected.ToJson().ToJsonString()), what);
}
