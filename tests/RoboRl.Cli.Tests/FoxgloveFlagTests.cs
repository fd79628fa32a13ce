namespace RoboRl.Cli.Tests;

/// <summary>
/// `--foxglove` on `roborl run` and `roborl replay`: a bad value, a wider address without a token, or another --to beside
/// it is bad input (exit 2) naming the flag, before anything is opened. The served view itself is tested in
/// RoboRl.Foxglove.Tests with Foxglove's own client.
/// </summary>
public class FoxgloveFlagTests
{
    static (int Code, string Error) Roborl(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Program.Run(args, output, error);
        return (code, error.ToString());
    }

    [TestCase("0.0.0.0:8765", "--foxglove-token")]
    [TestCase("abc", "--foxglove abc: 'abc' is not a port")]
    [TestCase("host.example:8765", "is not an IP address")]
    public void RunRefusesABadFoxgloveValue(string value, string expected)
    {
        var (code, error) = Roborl("run", "configs/nodes/crazyflie-sim.json", "--foxglove", value, "--duration", "1");
        Assert.That(code, Is.EqualTo(2), error);
        Assert.That(error, Does.Contain(expected));
    }

    [Test]
    public void ATokenWithoutFoxgloveIsBadInput()
    {
        var (code, error) = Roborl("run", "configs/nodes/crazyflie-sim.json", "--foxglove-token", "s3cret", "--duration", "1");
        Assert.That(code, Is.EqualTo(2), error);
        Assert.That(error, Does.Contain("--foxglove-token needs --foxglove"));
    }

    [Test]
    public void ReplayRefusesABadFoxgloveValueAndAnotherSinkBesideIt()
    {
        var (code, error) = Roborl("replay", "missing.mcap", "--foxglove", "[::]:8765");
        Assert.That(code, Is.EqualTo(2), error);
        Assert.That(error, Does.Contain("--foxglove-token"));
        (code, error) = Roborl("replay", "missing.mcap", "--to", "ros2", "--foxglove", "8765");
        Assert.That(code, Is.EqualTo(2), error);
        Assert.That(error, Does.Contain("cannot be combined with --to ros2"));
    }
}
