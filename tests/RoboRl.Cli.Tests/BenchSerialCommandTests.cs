namespace RoboRl.Cli.Tests;

public class BenchSerialCommandTests
{
    [Test]
    public void BenchSerialIsRegistered()
    {
        var bench = Program.BuildRootCommand().Subcommands.Single(c => c.Name == "bench");
        Assert.That(bench.Subcommands.Select(c => c.Name), Does.Contain("serial"));
    }

    [Test]
    public void BadArguments_AreRefusedWithExitCode2()
    {
        Assert.That(Program.BuildRootCommand().Parse(["bench", "serial", "--obs-size", "300"]).Invoke(), Is.EqualTo(2));
        Assert.That(Program.BuildRootCommand().Parse(["bench", "serial", "--seconds", "0"]).Invoke(), Is.EqualTo(2));
    }

    [Test]
    public void UnknownTransport_IsAParseError()
    {
        Assert.That(Program.BuildRootCommand().Parse(["bench", "serial", "--transport", "usb"]).Errors, Is.Not.Empty);
    }
}
