using RoboRl.Cli.Commands;
using RoboRl.Serial.Firmware;

namespace RoboRl.Cli.Tests;

public class ExportCCommandTests
{
    string _dir = "";

    [SetUp]
    public void MakeDirectory() => _dir = Directory.CreateTempSubdirectory("roborl-export-").FullName;

    [TearDown]
    public void RemoveDirectory() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void WritesTheHeaderThroughTheCommandLine()
    {
        string bundle = Path.Combine(_dir, "p.safetensors");
        RandomPolicy.Create([18, 8, 4], goldenCount: 3).Write(bundle);
        int rc = Program.BuildRootCommand().Parse(["export", "c", bundle, "-o", Path.Combine(_dir, "out")]).Invoke();
        Assert.That(rc, Is.Zero);
        string header = File.ReadAllText(Path.Combine(_dir, "out", CPolicyHeader.FileName));
        Assert.That(header, Does.Contain("#define RL_POLICY_GOLDEN_COUNT 3"));
    }

    [Test]
    public void ABadBundleIsAClearErrorNamingTheFile()
    {
        string bundle = Path.Combine(_dir, "broken.safetensors");
        File.WriteAllBytes(bundle, [1, 2, 3]);
        var output = new StringWriter();
        var error = new StringWriter();
        int rc = ExportCCommand.Run(bundle, Path.Combine(_dir, "out"), output, error);
        Assert.That(rc, Is.EqualTo(2), "a bad bundle is bad input");
        Assert.That(error.ToString(), Does.Contain("broken.safetensors"));
        Assert.That(File.Exists(Path.Combine(_dir, "out", CPolicyHeader.FileName)), Is.False);
    }

    [Test]
    public void AnEditedBundleFailsItsChecksum()
    {
        string bundle = Path.Combine(_dir, "edited.safetensors");
        RandomPolicy.Create([18, 8, 4], goldenCount: 1).Write(bundle);
        byte[] bytes = File.ReadAllBytes(bundle);
        bytes[^5] ^= 0x40; // a bit of the last tensor
        File.WriteAllBytes(bundle, bytes);
        var error = new StringWriter();
        Assert.That(ExportCCommand.Run(bundle, _dir, new StringWriter(), error), Is.EqualTo(2));
        Assert.That(error.ToString(), Does.Contain("content.sha256"));
    }
}
