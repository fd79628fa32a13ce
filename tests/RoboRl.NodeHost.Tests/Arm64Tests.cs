using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using RoboRl.Logs;

namespace RoboRl.NodeHost.Tests;

/// <summary>
/// The lean node for the robot's computer (Raspberry Pi, Jetson: linux-arm64). What this x64 machine can show of it
/// (docs/node.md, "arm64"): `dotnet publish -r linux-arm64` gives a self-contained AArch64 program without TorchSharp or
/// libtorch; and the code paths an arm64 CPU takes — 128-bit vectors (AdvSimd) where x64 uses 256-bit AVX, scalar code
/// where there are none — fly the same lock-step actions as the x64 default within 1e-5. The arm64 build itself does not
/// start under Debian 12's qemu-user (7.2): CoreCLR spins at start-up (tools/arm64-qemu-check.sh shows it, and compares
/// the flights wherever qemu runs it).
/// </summary>
[NonParallelizable]
public class Arm64Tests
{
    static readonly string Dir = Path.Combine(Path.GetTempPath(), "roborl-node-arm64", Guid.NewGuid().ToString("N"));

    [OneTimeTearDown]
    public void Clean()
    {
        if (Directory.Exists(Dir)) Directory.Delete(Dir, recursive: true);
    }

    [Test, CancelAfter(600_000)]
    public void TheArm64PublishIsASelfContainedAarch64ProgramWithoutLibtorch()
    {
        string published = Path.Combine(Dir, "linux-arm64");
        var clock = Stopwatch.StartNew();
        Run("dotnet", ["publish", LeanNodeTests.Repo("src/RoboRl.NodeHost/RoboRl.NodeHost.csproj"), "-c", "Release", "-r", "linux-arm64", "-o", published, "-nologo", "-v", "quiet"], []);
        string[] files = Directory.GetFiles(published, "*", SearchOption.AllDirectories);
        long bytes = files.Sum(f => new FileInfo(f).Length);
        TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"publish linux-arm64: {clock.Elapsed.TotalSeconds:F0} s, {files.Length} files, {bytes / 1e6:F1} MB"));

        Assert.That(files.Select(Path.GetFileName).Where(f => f!.Contains("torch", StringComparison.OrdinalIgnoreCase)), Is.Empty);
        // Self-contained: the program, the runtime and the JIT are there, each an AArch64 ELF file (e_machine 183).
        foreach (string native in new[] { "roborl-node", "libcoreclr.so", "libclrjit.so", "libSystem.Native.so" })
            Assert.That(ElfMachine(Path.Combine(published, native)), Is.EqualTo(183), native);
        Assert.That(File.Exists(Path.Combine(published, "System.Private.CoreLib.dll")), Is.True, "the runtime travels with the program");
    }

    [Test, CancelAfter(300_000)]
    public void The128BitAndScalarPathsFlyTheSameActionsAsTheDefault()
    {
        string config = LeanNodeTests.LockStepConfig(Dir), bundle = LeanNodeTests.AnalyticBundle(Dir);
        string node = Path.Combine(TestContext.CurrentContext.TestDirectory, "roborl-node.dll");
        // The runtime's own switches turn this CPU's AVX (and so its 256-bit vectors) or every SIMD instruction off, as on
        // an arm64 CPU (128-bit AdvSimd) or one without vectors; the node reports the width its kernels ran with.
        (string Name, int Bits, string[] Environment)[] paths =
        [
            ("default", 256, []),
            ("128-bit", 128, ["DOTNET_EnableAVX=0"]),
            ("scalar", 0, ["DOTNET_EnableHWIntrinsic=0"]),
        ];
        var logs = new List<string>();
        foreach (var (name, bits, environment) in paths)
        {
            string log = Path.Combine(Dir, name + ".mcap");
            JsonNode result = JsonNode.Parse(Run("dotnet", [node, config, "--policy", bundle, "--duration", "5", "--record", log, "--json"], environment))!;
            if (name == "default" && (int)result["vector_bits"]! != 256) Assert.Ignore("this CPU has no AVX: the default is already a narrower path");
            Assert.That((int)result["vector_bits"]!, Is.EqualTo(bits), $"{name}: the switch took effect");
            Assert.That(((string)result["final_mode"]!, (int)result["ticks"]!), Is.EqualTo(("POLICY", 2500)), name);
            logs.Add(log);
        }
        for (int i = 1; i < logs.Count; i++)
        {
            foreach (TopicComparison c in LogComparison.Compare(logs[0], logs[i], ["/action", "/pose"], tolerance: 1e-5))
            {
                TestContext.Out.WriteLine($"{paths[i].Name} vs default: {c.Topic}: {c.MessagesA} messages, max |Δ| {c.MaxAbsDiff:G3}");
                Assert.That((c.MessagesA, c.MessagesB), Is.EqualTo((2500, 2500)), c.Topic);
                Assert.That(c.FirstOver, Is.Null, $"{paths[i].Name}: {c.Topic} max |Δ| {c.MaxAbsDiff:G3}");
            }
        }
    }

    /// <summary>The e_machine field of an ELF file (62 x86-64, 183 AArch64).</summary>
    static int ElfMachine(string path)
    {
        byte[] header = new byte[20];
        using (FileStream f = File.OpenRead(path)) f.ReadExactly(header);
        Assert.That(header[..4], Is.EqualTo(new byte[] { 0x7F, (byte)'E', (byte)'L', (byte)'F' }), $"{path} is not an ELF file");
        return BitConverter.ToUInt16(header, 18);
    }

    /// <summary>Runs a program to its end (killed after 4 minutes); its stdout, or a failure with both streams.</summary>
    static string Run(string program, string[] args, string[] environment)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args) start.ArgumentList.Add(a);
        foreach (string e in environment) start.Environment[e[..e.IndexOf('=')]] = e[(e.IndexOf('=') + 1)..];
        using Process p = Process.Start(start)!;
        Task<string> output = p.StandardOutput.ReadToEndAsync(), error = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(4)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{program} {string.Join(' ', args)} did not finish in 4 minutes");
        }
        Assert.That(p.ExitCode, Is.EqualTo(0), $"{program} {string.Join(' ', args)}: exit {p.ExitCode}\n{output.Result}\n{error.Result}");
        return output.Result.Trim();
    }
}
