using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RoboRl.Foxglove.Tests;

/// <summary>Runs tests/verifiers/foxglove-client.mjs: Foxglove's own client connects, subscribes, decodes and reports.</summary>
public static class FoxgloveClientScript
{
    private static readonly object InstallGate = new();

    public static string Repo(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(Path.Combine(dir.FullName, "RoboRl.sln"))) return candidate;
        }
        throw new InvalidOperationException("cannot find RoboRl.sln above " + AppContext.BaseDirectory);
    }

    /// <summary>A port nobody listens on now (the server binds it a moment later).</summary>
    public static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    /// <summary>The script's JSON report; fails in CI (CI=true) and is inconclusive elsewhere without node or the npm packages.</summary>
    public static JsonObject Run(string url, params string[] args)
    {
        string verifiers = Repo("tests/verifiers");
        if (!OnPath("node")) Missing("node is not on PATH");
        lock (InstallGate)
        {
            if (!Directory.Exists(Path.Combine(verifiers, "node_modules", "@foxglove", "ws-protocol")))
            {
                if (!OnPath("npm")) Missing("npm is not on PATH and tests/verifiers/node_modules lacks @foxglove/ws-protocol");
                var (rc, _, err) = Exec("npm", ["install", "--no-audit", "--no-fund", "--silent"], verifiers, TimeSpan.FromMinutes(5));
                if (rc != 0) Missing($"npm install in tests/verifiers failed: {err}");
            }
        }
        var (code, stdout, stderr) = Exec("node", ["foxglove-client.mjs", url, .. args], verifiers, TimeSpan.FromSeconds(60));
        string last = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "";
        JsonObject report;
        try { report = JsonNode.Parse(last)!.AsObject(); }
        catch (JsonException) { Assert.Fail($"foxglove-client.mjs {url} printed no report (exit {code}):\n{stderr}\n{stdout}"); throw; }
        report["exit_code"] = code;
        report["stderr"] = stderr;
        return report;
    }

    private static void Missing(string why)
    {
        if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail($"Foxglove's client unavailable in CI: {why}");
        Assert.Inconclusive($"Foxglove's client unavailable: {why}");
    }

    private static bool OnPath(string exe) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, exe)));

    private static (int Code, string Stdout, string Stderr) Exec(string exe, IEnumerable<string> args, string workDir, TimeSpan timeout)
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
}
