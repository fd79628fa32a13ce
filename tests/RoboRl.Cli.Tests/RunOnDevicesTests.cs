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
    /// it on QEMU and flies 10 s in real time with the policy on the MCU at the config's 100 Hz. What a user relies on:
    /// at least 99 % of the ticks answered in time, every compared answer equal to the host engine's within 1e-5, exit 0.
    /// (The bundle is the hover-shaped network, whose output is the hover action whatever it sees: the vehicle holds
    /// still, so the flight lasts the whole 10 s; tests/RoboRl.EndToEnd.Tests/NodeOnMcuTests flies a trained one.)
    /// Timing-sensitive: tests/run.sh runs it after the parallel suites, on an otherwise idle machine.
    /// </summary>
    [Test, CancelAfter(600_000), Category("RealTime")]
    public void ThePolicyOnTheEmulatedMcuFliesTenSecondsInRealTime()
    {
        RequireMcuTools();
        var output = new StringWriter();
        var progress = new StringWriter();
        int code = RunCommand.Run("configs/nodes/crazyflie-sim-mcu.json", HoverBundle(), 10.0, null, null, output, progress);
        string text = output.ToString();
        TestContext.Out.WriteLine(text);
        Assert.That(code, Is.EqualTo(0), progress.ToString() + text);
        Match mcu = Regex.Match(text, @"mcu: (\d+) actions, (\d+) timeouts .*\((\S+) % of (\d+) ticks answered in time.*max \|MCU − host engine\| (\S+) over (\d+) ticks");
        Assert.That(mcu.Success, Is.True, text);
        double inTime = double.Parse(mcu.Groups[3].Value, CultureInfo.InvariantCulture);
        long asked = long.Parse(mcu.Groups[4].Value, CultureInfo.InvariantCulture);
        Assert.That(asked, Is.GreaterThanOrEqualTo(990), "the MCU was asked on every tick of the 10 s");
        Assert.That(inTime, Is.GreaterThanOrEqualTo(99.0), "ticks answered within the config's response_timeout_ms");
        Assert.That(double.Parse(mcu.Groups[5].Value, CultureInfo.InvariantCulture), Is.LessThanOrEqualTo(1e-5));
        // After a held tick the MCU's and the node's action histories differ until that tick leaves the history (32 ticks
        // for this bundle), so those answers are not compared; every other answer is.
        long actions = long.Parse(mcu.Groups[1].Value, CultureInfo.InvariantCulture);
        long timeouts = long.Parse(mcu.Groups[2].Value, CultureInfo.InvariantCulture);
        const int historyTicks = 32;
        long compared = long.Parse(mcu.Groups[6].Value, CultureInfo.InvariantCulture);
        Assert.That(compared, Is.GreaterThanOrEqualTo(actions - timeouts * (historyTicks + 1) - 1),
            "parity compared on every answer that does not follow a held tick");
        Assert.That(text, Does.Contain("final mode POLICY"));
    }

    /// <summary>
    /// An MCU that never answers in time (here the config asks for an answer within 0.1 ms, which the emulator cannot
    /// give) holds the last action for max_consecutive_misses ticks, then the supervisor sends the node to its fallback:
    /// `roborl run` says so and exits 3, not 0 — a script must not take a fallen-back flight for a flight.
    /// </summary>
    [Test, CancelAfter(600_000)]
    public void AFlightWhoseMcuNeverAnswersInTimeExitsNonZero()
    {
        RequireMcuTools();
        string config = Path.Combine(_dir, "crazyflie-sim-mcu.json");
        string text = File.ReadAllText(RepoPaths.Find("configs/nodes/crazyflie-sim-mcu.json"))
            .Replace("\"robot\": \"../robots/crazyflie21.json\"", $"\"robot\": \"{RepoPaths.Find("configs/robots/crazyflie21.json")}\"");
        text = Regex.Replace(text, "\"response_timeout_ms\": [0-9.]+", "\"response_timeout_ms\": 0.1");
        text = Regex.Replace(text, "\"max_consecutive_misses\": [0-9]+", "\"max_consecutive_misses\": 2");
        File.WriteAllText(config, text);
        var output = new StringWriter();
        var progress = new StringWriter();
        int code = RunCommand.Run(config, HoverBundle(), 2.0, null, null, output, progress);
        Assert.That(code, Is.EqualTo(3), progress.ToString() + output);
        Assert.That(progress.ToString(), Does.Contain("run: the flight failed at tick 2: FALLBACK: no action from the remote policy (MCU) within 0.1 ms"));
        Assert.That(output.ToString(), Does.Contain("mcu: 0 actions, 3 timeouts").And.Contain("2 held the last action"));
    }

    private static void RequireMcuTools()
    {
        if (EmulatedMcu.ToolsAvailable() && McuImages.ToolchainAvailable()) return;
        string missing = "qemu-system-arm, socat, cmake and arm-none-eabi-gcc are needed (tests/prerequisites.txt)";
        if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail(missing);
        Assert.Ignore(missing);
    }
}
