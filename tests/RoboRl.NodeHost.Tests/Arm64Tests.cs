using System.Diagnostics;
using System.Globalization;
using RoboRl.Logs;

namespace RoboRl.NodeHost.Tests;

/// <summary>
/// The lean node for the robot's computer (Raspberry Pi, Jetson: linux-arm64), shown running here: `dotnet publish -r
/// linux-arm64` self-contained, started under Debian's qemu-user-static (qemu-aarch64-static with the arm64 C library of
/// libc6-arm64-cross), flying the simulated Crazyflie for 5 s in lock-step and recording; its /action log equals the
/// x64 build's within 1e-5. The arm64 runtime takes other SIMD paths (AdvSimd and Vector128 where x64 uses AVX2/FMA:
/// QuadrotorBatch's portable path, the policy engine's kernels), so this is a real check of the numbers, not of a copy.
/// tools/arm64-lockstep-check.sh does the same by hand with sizes and timings.
/// </summary>
[NonParallelizable]
public class Arm64Tests
{
    const string Qemu = "/usr/bin/qemu-aarch64-static", Arm64Sysroot = "/usr/aarch64-linux-gnu";
    static readonly string Dir = Path.Combine(Path.GetTempPath(), "roborl-node-arm64", Guid.NewGuid().ToString("N"));

    [OneTimeTearDown]
    public void Clean()
    {
        if (Directory.Exists(Dir)) Directory.Delete(Dir, recursive: true);
    }

    [Test, CancelAfter(600_000)]
    public void TheArm64BuildUnderQemuFliesTheSameActionsAsTheX64Build()
    {
        if (!File.Exists(Qemu) || !File.Exists(Path.Combine(Arm64Sysroot, "lib", "ld-linux-aarch64.so.1")))
        {
            const string missing = "qemu-user-static and libc6-arm64-cross are needed (tests/prerequisites.txt)";
            if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail(missing);
            Assert.Ignore(missing);
        }
        string config = LeanNodeTests.LockStepConfig(Dir), bundle = LeanNodeTests.AnalyticBundle(Dir);
        string x64 = Path.Combine(Dir, "x64.mcap"), arm64 = Path.Combine(Dir, "arm64.mcap"), published = Path.Combine(Dir, "linux-arm64");

        var clock = Stopwatch.StartNew();
        Run("dotnet", ["publish", LeanNodeTests.Repo("src/RoboRl.NodeHost/RoboRl.NodeHost.csproj"), "-c", "Release", "-r", "linux-arm64", "-o", published, "-nologo", "-v", "quiet"]);
        double publishS = clock.Elapsed.TotalSeconds;
        Assert.That(Directory.GetFiles(published).Select(Path.GetFileName).Where(f => f!.Contains("torch", StringComparison.OrdinalIgnoreCase)), Is.Empty);

        // The x64 build (this test's output folder holds it, framework-dependent) and the arm64 one, as separate processes.
        string[] flight = [config, "--policy", bundle, "--duration", "5", "--record"];
        clock.Restart();
        string x64Output = Run("dotnet", [Path.Combine(TestContext.CurrentContext.TestDirectory, "roborl-node.dll"), .. flight, x64]);
        double x64S = clock.Elapsed.TotalSeconds;
        clock.Restart();
        string arm64Output = Run(Qemu, ["-L", Arm64Sysroot, Path.Combine(published, "roborl-node"), .. flight, arm64]);
        double arm64S = clock.Elapsed.TotalSeconds;
        TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"publish linux-arm64 {publishS:F1} s; x64 flight {x64S:F1} s; arm64 flight under qemu {arm64S:F1} s\nx64: {x64Output}\narm64: {arm64Output}"));
        Assert.That(arm64Output, Does.Contain("(lock-step, simulated time), 2500 ticks").And.Contain("final mode POLICY"));

        Assert.That(LogChecker.Check(arm64).IsValid, Is.True, "the arm64 build's log");
        TopicComparison actions = LogComparison.Compare(x64, arm64, ["/action"], tolerance: 1e-5).Single();
        TestContext.Out.WriteLine($"/action: {actions.MessagesA} messages, {actions.Values} numbers, max |x64 − arm64| {actions.MaxAbsDiff:G3}");
        Assert.That((actions.MessagesA, actions.MessagesB), Is.EqualTo((2500, 2500)));
        Assert.That(actions.FirstOver, Is.Null, $"max |Δ| {actions.MaxAbsDiff:G3}");
    }

    /// <summary>Runs a program to its end; its stdout, or a failure with both streams.</summary>
    static string Run(string program, string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args) start.ArgumentList.Add(a);
        using Process p = Process.Start(start)!;
        Task<string> output = p.StandardOutput.ReadToEndAsync(), error = p.StandardError.ReadToEndAsync();
        Assert.That(p.WaitForExit(TimeSpan.FromMinutes(8)), Is.True, $"{program} did not finish");
        Assert.That(p.ExitCode, Is.EqualTo(0), $"{program} {string.Join(' ', args)}: exit {p.ExitCode}\n{output.Result}\n{error.Result}");
        return output.Result.Trim();
    }
}
