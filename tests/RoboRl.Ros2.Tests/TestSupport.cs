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

/// <summary>Runs tests/verifiers/mcap-verify.mjs (Foxglove's @mcap/core + rosmsg2-serialization) on a file.</summary>
public static class McapVerifier
{
    private static readonly object InstallGate = new();

    public static JsonObject Verify(string mcapPath)
    {
        string verifiers = Path.Combine(Env.RepoRoot(), "tests", "verifiers");
        if (Env.Which("node") is null) Env.Missing("node is not on PATH");
        lock (InstallGate)
        {
            if (!Directory.Exists(Path.Combine(verifiers, "node_modules", "@mcap", "core")))
            {
                if (Env.Which("npm") is null) Env.Missing("npm is not on PATH and tests/verifiers/node_modules is missing");
                var (rc, _, err) = Env.Run("npm", ["install", "--no-audit", "--no-fund", "--silent"], verifiers, TimeSpan.FromMinutes(5));
                if (rc != 0) Env.Missing($"npm install in tests/verifiers failed: {err}");
            }
        }
        var (code, stdout, stderr) = Env.Run("node", ["mcap-verify.mjs", mcapPath], verifiers, TimeSpan.FromMinutes(3));
        Assert.That(code, Is.EqualTo(0), $"mcap-verify.mjs failed on {mcapPath}:\n{stderr}");
        return JsonNode.Parse(stdout)!.AsObject();
    }

    /// <summary>Node prints 64-bit integers as strings and float32 values as their exact double.</summary>
    public static void AssertEquivalent(JsonNode expected, JsonNode actual, string path)
    {
        switch (expected)
        {
            case JsonObject eo:
                var ao = actual.AsObject();
                Assert.That(ao.Select(kv => kv.Key).OrderBy(k => k), Is.EqualTo(eo.Select(kv => kv.Key).OrderBy(k => k)), path + " keys");
                foreach (var (k, v) in eo) AssertEquivalent(v!, ao[k]!, $"{path}.{k}");
                break;
            case JsonArray ea:
                var aa = actual.AsArray();
                Assert.That(aa.Count, Is.EqualTo(ea.Count), path + " length");
                for (int i = 0; i < ea.Count; i++) AssertEquivalent(ea[i]!, aa[i]!, $"{path}[{i}]");
                break;
            default:
                var ev = expected.AsValue();
                var av = actual.AsValue();
                if (ev.GetValueKind() == System.Text.Json.JsonValueKind.Number)
                {
                    if (av.GetValueKind() == System.Text.Json.JsonValueKind.String)
                        Assert.That(av.GetValue<string>(), Is.EqualTo(ev.ToJsonString()), path);
                    else
                        Assert.That(av.GetValue<double>(), Is.EqualTo(ev.GetValue<double>()), path);
                }
                else Assert.That(av.ToJsonString(), Is.EqualTo(ev.ToJsonString()), path);
                break;
        }
    }
}
