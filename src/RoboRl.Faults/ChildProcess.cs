using System.Diagnostics;
using System.Runtime.InteropServices;
using RoboRl.Node;

namespace RoboRl.Faults;

/// <summary>
/// The child processes some scenarios need (a process to SIGKILL): this assembly started again through `dotnet`, with
/// a mode as first argument. `flight OUT.mcap`: flies the simulated Crazyflie in real time with the recorder writing
/// OUT.mcap and prints "T &lt;ticks&gt;" every 20 ms (ticks completed, each handed to the recorder) until killed.
/// </summary>
public static class ChildProcess
{
    public static int Main(string[] args)
    {
        if (args.Length == 2 && args[0] == "flight") return Flight(args[1]);
        if (args.Length is 2 or 3 && args[0] == "run")
        {
            // `dotnet RoboRl.Faults.dll run NAME [small|full]`: one scenario without the CLI (working on a scenario).
            FaultResult r = FaultSuite.RunOne(FaultSuite.Find(args[1]), FaultBudget.Parse(args.Length == 3 ? args[2] : "small"));
            Console.WriteLine(r.ToJson().ToJsonString());
            return r.Passed ? 0 : 1;
        }
        Console.Error.WriteLine("usage: RoboRl.Faults flight OUT.mcap   (a child of `roborl bench faults`; runs until killed)");
        return 2;
    }

    private static int Flight(string logPath)
    {
        var rig = new FlightRig("child-flight", new FlightRig.Options { RealTime = true, LogPath = logPath });
        rig.StartRealTime();
        TextWriter stdout = Console.Out;
        while (true)
        {
            stdout.WriteLine($"T {rig.Node.TickCount} {rig.Node.Mode}");
            stdout.Flush();
            Thread.Sleep(20);
        }
    }

    /// <summary>Starts this assembly as a child in <paramref name="mode"/> with stdout and stderr redirected.</summary>
    public static Process Start(params string[] args)
    {
        string assembly = Path.Combine(AppContext.BaseDirectory, "RoboRl.Faults.dll");
        if (!File.Exists(assembly)) throw new FaultCheckException($"{assembly} is missing: build RoboRl.Faults (the CLI and the tests reference it)");
        var psi = new ProcessStartInfo(DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(assembly);
        foreach (string a in args) psi.ArgumentList.Add(a);
        return Process.Start(psi) ?? throw new FaultCheckException($"cannot start {psi.FileName} {assembly}");
    }

    /// <summary>The `dotnet` host: the one that runs us (DOTNET_HOST_PATH under the SDK, or the process itself), else the runtime's own root.</summary>
    private static string DotnetHost()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)) return host;
        if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        // RuntimeDirectory = <root>/shared/Microsoft.NETCore.App/<version>/
        string root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        string candidate = Path.Combine(root, OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet");
        return File.Exists(candidate) ? candidate : "dotnet";
    }
}
