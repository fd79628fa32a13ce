using System.Diagnostics;
using RoboRl.Training;
using RoboRl.Training.Build;
using TorchSharp;
using static TorchSharp.torch;

namespace RoboRl.Training.Tests;

public class TorchSharpLoadTests
{
    const string Version = "GLIBCXX_3.4.32";

    static string ShimPath()
    {
        string[] found = Directory.GetFiles(AppContext.BaseDirectory, "libLibTorchSharp.so", SearchOption.AllDirectories);
        Assert.That(found, Is.Not.Empty, "libLibTorchSharp.so is not in the test output folder");
        return found[0];
    }

    [Test]
    public void TorchSharpLoadsAndMultipliesMatrices()
    {
        TorchSetup.Initialize();
        using var scope = NewDisposeScope();
        Tensor a = tensor(new float[] { 1, 2, 3, 4, 5, 6 }, [2, 3]);
        Tensor b = tensor(new float[] { 7, 8, 9, 10, 11, 12 }, [3, 2]);
        float[] product = a.matmul(b).data<float>().ToArray();
        // [1 2 3; 4 5 6] · [7 8; 9 10; 11 12] = [58 64; 139 154]
        Assert.That(product, Is.EqualTo(new float[] { 58, 64, 139, 154 }));
        Assert.That(get_num_threads(), Is.EqualTo(1));
    }

    [Test]
    public void BuildMarkedTheCopiedShimWeak()
    {
        Assert.That(ElfVersionPatcher.IsVersionWeak(ShimPath(), Version), Is.True);
    }

    [Test]
    public void PatcherSetsOnlyTheOneFlagAndIsIdempotent()
    {
        string original = Path.Combine(Path.GetTempPath(), $"roborl-elf-{Guid.NewGuid():N}.so");
        File.Copy(ShimPath(), original);
        try
        {
            byte[] patched = File.ReadAllBytes(original);
            int flags = ElfVersionPatcher.FindVernauxFlagsOffset(patched, original, Version);
            // Undo the build's patch on the copy to get the file as NuGet ships it.
            patched[flags] = (byte)(patched[flags] & ~ElfVersionPatcher.VerFlagWeak);
            File.WriteAllBytes(original, patched);
            byte[] before = File.ReadAllBytes(original);
            Assert.That(ElfVersionPatcher.IsVersionWeak(original, Version), Is.False);

            Assert.That(ElfVersionPatcher.MarkVersionWeak(original, Version), Is.EqualTo(ElfPatchOutcome.Patched));
            byte[] after = File.ReadAllBytes(original);
            Assert.That(ElfVersionPatcher.IsVersionWeak(original, Version), Is.True);
            int[] changed = Enumerable.Range(0, before.Length).Where(i => before[i] != after[i]).ToArray();
            Assert.That(changed, Is.EqualTo(new[] { flags }), "exactly one byte (the low byte of vna_flags) changes");
            Assert.That(after[flags] ^ before[flags], Is.EqualTo(ElfVersionPatcher.VerFlagWeak));

            Assert.That(ElfVersionPatcher.MarkVersionWeak(original, Version), Is.EqualTo(ElfPatchOutcome.AlreadyWeak));
            Assert.That(File.ReadAllBytes(original), Is.EqualTo(after));

            // Other requirements are untouched.
            Assert.That(ElfVersionPatcher.IsVersionWeak(original, "GLIBCXX_3.4.30"), Is.False);
            ReadelfAgrees(original);
        }
        finally { File.Delete(original); }
    }

    /// <summary>binutils' readelf, an independent ELF reader, must print the entry as WEAK and the rest as before.</summary>
    static void ReadelfAgrees(string path)
    {
        string? readelf = new[] { "/usr/bin/readelf", "/bin/readelf" }.FirstOrDefault(File.Exists);
        if (readelf is null)
        {
            if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail("readelf (binutils) is missing; tests/prerequisites.txt lists it");
            Assert.Warn("readelf not installed; independent check skipped");
            return;
        }
        var info = new ProcessStartInfo(readelf, ["-V", path]) { RedirectStandardOutput = true };
        using Process process = Process.Start(info)!;
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        string line = output.Split('\n').Single(l => l.Contains("Name: " + Version));
        Assert.That(line, Does.Contain("Flags: WEAK"));
        Assert.That(output.Split('\n').Count(l => l.Contains("Flags: WEAK")), Is.EqualTo(1));
    }

    [Test]
    public void PatcherRefusesAFileThatIsNotElf()
    {
        string path = Path.Combine(Path.GetTempPath(), $"roborl-not-elf-{Guid.NewGuid():N}.so");
        File.WriteAllText(path, "this is not an ELF file, but it is long enough to hold an ELF header of sixty-four bytes.");
        try
        {
            var error = Assert.Throws<InvalidDataException>(() => ElfVersionPatcher.MarkVersionWeak(path, Version))!;
            Assert.That(error.Message, Does.Contain(path).And.Contain("ELF magic"));
        }
        finally { File.Delete(path); }
    }

    [Test]
    public void PatcherRefusesALibraryWithoutTheVersion()
    {
        var error = Assert.Throws<InvalidDataException>(() => ElfVersionPatcher.MarkVersionWeak(ShimPath(), "GLIBCXX_9.9.99"))!;
        Assert.That(error.Message, Does.Contain("GLIBCXX_9.9.99"));
    }
}
