using System.Globalization;
using System.Text.RegularExpressions;
using RoboRl.Cli.Commands;
using RoboRl.Serial.Firmware;

namespace RoboRl.Cli.Tests;

/// <summary>`roborl run` with the node configs for devices: the policy on the emulated MCU, and a Crazyflie over the radio.</summary>
public class RunOnDevicesTests
{
    private string _dir = "";

    [SetUp]
    public void MakeDir() => _dir = Directory.CreateTempSubdirectory("roborl-cli-devices-").FullName;

    [TearDown]
    public void RemoveDir()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private string HoverBundle()
    {
        string path = Path.Combine(_dir, "hover.safetensors");
        BenchNodeCommand.HoverShapedBundle(RepoPaths.Find("configs/robots/crazyflie21.json")).Write(path);
        return path;
    }

    [Test]
    public void TheRadioConfigWithoutACrazyradioStopsBeforeArmingNamingTheUriAndLeavesNoLog()
    {
        string log = Path.Combine(_dir, "flight.mcap");
        var progress = new StringWriter();
        int code = RunCommand.Run("configs/nodes/crazyflie-radio.json", HoverBundle(), 1.0, log, null, new StringWriter(), progress);
        Assert.That(code, Is.EqualTo(3), "a robot that cannot be reached is a runtime fault");
        Assert.That(progress.ToString(), Does.Contain("crazyflie-radio.json: $.crazyflie.link: radio://0/80/2M/E7E7E7E7E7: "));
        Assert.That(File.Exists(log), Is.False, "no empty flight log for a robot that was never reached");
    }

    [Test]
    public void UriOverridesTheConfigsCrazyflieLinkAsInCflib()
    {
        // The override is the link that is opened (and named when it cannot be); a malformed one is bad input.
        var progress = new StringWriter();
        string device = Path.Combine(_dir, "no-such-crazyflie-uart");
        int code = RunCommand.Run("configs/nodes/crazyflie-radio.json", HoverBundle(), 1.0, null, null, new StringWriter(), progress, uri: $"serial://{device}");
        Assert.That(code, Is.EqualTo(3), progress.ToString());
        Assert.That(progress.ToString().TrimEnd(), Does.StartWith($"run: --uri: serial://{device}: ").And.Not.Contain("radio://"));

        progress = new StringWriter();
        Assert.That(RunCommand.Run("configs/nodes/crazyflie-radio.json", HoverBundle(), 1.0, null, null, new StringWriter(), progress, uri: "tcp://robot:5000"), Is.EqualTo(2));
        Assert.That(progress.ToString(), Does.Contain("--uri: \"tcp://robot:5000\" is not a Crazyflie URI"));
        Assert.That(Program.BuildRootCommand().Parse(["run", "configs/nodes/crazyflie-radio.json", "--policy", "p.safetensors", "--uri", "radio://0/80/2M/E7E7E7E7E7"]).Errors, Is.Empty);
    }

    /// <summary>
    /// `roborl run configs/nodes/crazyflie-sim-mcu.json`: the CLI exports the bundle, builds the STM32 image for it, boots
    /// it on QEMU and flies 2 s in real time with the policy on the MCU; the summary reports the MCU's answers and its
    /// parity with the host engine on every tick it answered. (The bundle is a random hover-shaped network, not a hover
    /// policy: the flight itself is not judged here; tests/RoboRl.EndToEnd.Tests/NodeOnMcuTests flies a trained one.)
    /// </summary>
    [Test, CancelAfter(600_000)]
    public void ThePolicyOnTheEmulatedMcuFliesFromTheCommandLine()
    {
        if (!EmulatedMcu.ToolsAvailable() || !McuImages.ToolchainAvailable())
        {
            string missing = "qemu-system-arm, socat, cmake and arm-none-eabi-gcc are needed (tests/prerequisites.txt)";
            if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail(missing);
            Assert.Ignore(missing);
        }
        var output = new StringWriter();
        var progress = new StringWriter();
        int code = RunCommand.Run("configs/nodes/crazyflie-sim-mcu.json", HoverBundle(), 2.0, null, null, output, progress);
        Assert.That(code, Is.EqualTo(0), progress.ToString() + output);
        string text = output.ToString();
        TestContext.Out.WriteLine(text);
        Match mcu = Regex.Match(text, @"mcu: (\d+) actions, (\d+) timeouts .*max \|MCU − host engine\| (\S+) over (\d+) ticks");
        Assert.That(mcu.Success, Is.True, text);
        Assert.That(long.Parse(mcu.Groups[1].Value, CultureInfo.InvariantCulture), Is.GreaterThan(0), "the MCU answered");
        Assert.That(double.Parse(mcu.Groups[3].Value, CultureInfo.InvariantCulture), Is.LessThanOrEqualTo(1e-5));
        Assert.That(mcu.Groups[4].Value, Is.EqualTo(mcu.Groups[1].Value), "parity checked on every answer");
        Assert.That(text, Does.Contain("run: "));
    }
}
