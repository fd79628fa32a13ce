using System.CommandLine;

namespace RoboRl.Cli.Tests;

public class CliTests
{
    [Test]
    public void RootCommandHasBenchGroup()
    {
        RootCommand root = Program.BuildRootCommand();
        Assert.That(root.Subcommands.Select(c => c.Name), Does.Contain("bench"));
    }

    [Test]
    public void UnknownCommandIsAnError()
    {
        var result = Program.BuildRootCommand().Parse(["no-such-command"]);
        Assert.That(result.Errors, Is.Not.Empty);
    }
}
