using System.Diagnostics;
using System.Text.Json.Nodes;

namespace RoboRl.Logs.Tests;

/// <summary>Runs tests/verifiers/mcap-verify.mjs (Foxglove's @mcap/core + rosmsg2-serialization) on a file.</summary>
public static class NodeVerifier
{
    private static readonly object InstallGate = new();

    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "RoboRl.sln"))) return dir.FullName;
        throw new InvalidOperationException("cannot find RoboRl.sln above " + AppContext.BaseDirectory);
    }

    /// <summary>Fails in CI (CI=true) and is inconclusive elsewhere when node or the npm packages are missing.</summary>
    public static JsonObject Verify(string mcapPath, bool withMessages = true)
    {
        string verifiers = Path.Combine(RepoRoot(), "tests", "verifiers");
        if (!OnPath("node")) Missing("node is not on PATH");
        lock (InstallGate)
        {
            if (!Directory.Exists(Path.Combine(verifiers, "node_modules", "@mcap", "core")))
            {
                if (!OnPath("npm")) Missing("npm is not on PATH and tests/verifiers/node_modules is missing");
                var (rc, _, err) = Run("npm", ["install", "--no-audit", "--no-fund", "--silent"], verifiers, TimeSpan.FromMinutes(5));
                if (rc != 0) Missing($"npm install in tests/verifiers failed: {err}");
            }
        }
        var args = new List<string> { "mcap-verify.mjs", mcapPath };
        if (!withMessages) args.Add("--no-messages");
        var (code, stdout, stderr) = Run("node", args, verifiers, TimeSpan.FromMinutes(3));
        Assert.That(code, Is.EqualTo(0), $"mcap-verify.mjs failed on {mcapPath}:\n{stderr}");
        return JsonNode.Parse(stdout)!.AsObject();
    }

    private static void Missing(string why)
    {
        if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail($"independent verifier unavailable in CI: {why}");
        Assert.Inconclusive($"independent verifier unavailable: {why}");
    }

    private static bool OnPath(string exe) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, exe)));

    public static (int Code, string Stdout, string Stderr) Run(string exe, IEnumerable<string> args, string workDir, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(exe) { WorkingDirectory = workDir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{exe} {string.Join(' ', args)} did not finish within {timeout}");
        }
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
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
