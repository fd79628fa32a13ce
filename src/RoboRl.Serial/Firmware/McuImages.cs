using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace RoboRl.Serial.Firmware;

/// <summary>Flash and RAM of an image as arm-none-eabi-size reports them: flash = text + data, RAM = data + bss.</summary>
public readonly record struct McuImageSize(long Text, long Data, long Bss)
{
    public long FlashBytes => Text + Data;
    public long RamBytes => Data + Bss;
}

/// <summary>
/// Builds firmware-bridge's STM32F405 images (firmware-bridge/mcu, CMake + the arm-none-eabi toolchain): the
/// default images once per process into firmware-bridge/build-mcu, and the policy image once per generated
/// header (firmware-bridge/build-mcu/policy-&lt;hash of the header&gt;, so parallel callers with different policies do not collide).
/// </summary>
public static class McuImages
{
    private static readonly Lazy<string> DefaultBuild = new(() => Build(null, System.IO.Path.Combine(RepositoryRoot, "firmware-bridge", "build-mcu")));
    private static readonly Lock BuildLock = new();

    /// <summary>An image of the default build (e.g. "roborl-mcu-echo", "roborl-mcu-policy" with the example header).</summary>
    public static string Path(string imageName) => System.IO.Path.Combine(DefaultBuild.Value, imageName + ".elf");

    /// <summary>The repository root: the first directory above the running assembly (or the working directory) holding RoboRl.sln.</summary>
    public static string RepositoryRoot
    {
        get
        {
            foreach (string start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
                for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                    if (File.Exists(System.IO.Path.Combine(dir.FullName, "RoboRl.sln"))) return dir.FullName;
            throw new InvalidOperationException($"RoboRl.sln not found above {AppContext.BaseDirectory} or the working directory: run from the repository");
        }
    }

    /// <summary>True when cmake and arm-none-eabi-gcc are on the PATH.</summary>
    public static bool ToolchainAvailable() => EmulatedMcu.OnPath("cmake") && EmulatedMcu.OnPath("arm-none-eabi-gcc");

    /// <summary>
    /// Builds roborl-mcu-policy against <paramref name="headerDirectory"/>/roborl_policy_weights.h (from
    /// <see cref="CPolicyHeader"/>) into a build directory named after the header's content; returns the ELF path.
    /// </summary>
    public static string BuildPolicyImage(string headerDirectory)
    {
        string header = System.IO.Path.Combine(headerDirectory, CPolicyHeader.FileName);
        if (!File.Exists(header)) throw new FileNotFoundException($"generated header not found: {header}", header);
        string hash = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(header)))[..12];
        // Inside this checkout's (git-ignored) firmware-bridge/build-mcu: a CMake cache belongs to one source tree,
        // so a shared temp directory would collide between checkouts.
        string build = System.IO.Path.Combine(RepositoryRoot, "firmware-bridge", "build-mcu", "policy-" + hash);
        lock (BuildLock)
        {
            using FileStream crossProcess = LockFile(build + ".lock"); // test processes run in parallel
            Build(headerDirectory, build);
        }
        return System.IO.Path.Combine(build, "roborl-mcu-policy.elf");
    }

    /// <summary>An exclusive lock between processes: the file opened with FileShare.None, retried until free (5 min at most).</summary>
    private static FileStream LockFile(string path)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException) when (clock.Elapsed < TimeSpan.FromMinutes(5)) { Thread.Sleep(100); }
        }
    }

    /// <summary>arm-none-eabi-size of an ELF.</summary>
    public static McuImageSize Size(string elfPath)
    {
        string output = Run("arm-none-eabi-size", $"{elfPath}");
        // "   text    data     bss     dec     hex filename" then one line of numbers.
        string[] fields = output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[1].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        return new McuImageSize(long.Parse(fields[0], CultureInfo.InvariantCulture), long.Parse(fields[1], CultureInfo.InvariantCulture),
            long.Parse(fields[2], CultureInfo.InvariantCulture));
    }

    private static string Build(string? headerDirectory, string build)
    {
        string source = System.IO.Path.Combine(RepositoryRoot, "firmware-bridge", "mcu");
        var configure = new StringBuilder($"-S {source} -B {build} -DCMAKE_TOOLCHAIN_FILE={System.IO.Path.Combine(source, "arm-none-eabi.cmake")}");
        if (headerDirectory is not null) configure.Append($" -DROBORL_POLICY_HEADER_DIR={System.IO.Path.GetFullPath(headerDirectory)}");
        Run("cmake", configure.ToString());
        Run("cmake", headerDirectory is null ? $"--build {build}" : $"--build {build} --target roborl-mcu-policy");
        return build;
    }

    private static string Run(string tool, string arguments)
    {
        var start = new ProcessStartInfo(tool, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        Process p;
        try { p = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {tool}"); }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"{tool} is required to build the MCU images (tests/prerequisites.txt: cmake, gcc-arm-none-eabi, libnewlib-arm-none-eabi)", e);
        }
        using (p)
        {
            var stderr = p.StandardError.ReadToEndAsync();
            string output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0) throw new InvalidOperationException($"{tool} {arguments} failed:\n{output}{stderr.Result}");
            return output;
        }
    }
}
