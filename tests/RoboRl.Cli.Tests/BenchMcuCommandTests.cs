using System.Text.Json;
using RoboRl.Cli.Commands;
using RoboRl.Serial.Firmware;

namespace RoboRl.Cli.Tests;

[NonParallelizable]
public class BenchMcuCommandTests
{
    [Test, CancelAfter(600_000)]
    public void PrintsTheFiguresAsJson()
    {
        if (!EmulatedMcu.ToolsAvailable() || !McuImages.ToolchainAvailable())
        {
            const string missing = "qemu-system-arm, socat, cmake and arm-none-eabi-gcc are needed (tests/prerequisites.txt)";
            if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail(missing);
            Assert.Ignore(missing);
        }
        var output = new StringWriter();
        var error = new StringWriter();
        int rc = BenchMcuCommand.Run(null, inferences: 20, roundTrips: 10, asJson: true, output, error);
        Assert.That(rc, Is.Zero, error.ToString());
        using JsonDocument json = JsonDocument.Parse(output.ToString());
        JsonElement r = json.RootElement;
        Assert.That(r.GetProperty("network").GetString(), Is.EqualTo("149→64→64→4"));
        Assert.That(r.GetProperty("instructions_per_inference").GetDouble(), Is.GreaterThan(13_888)); // one per multiply-add at least (149·64 + 64·64 + 64·4)
        Assert.That(r.GetProperty("calibration_ratio").GetDouble(), Is.EqualTo(1.0).Within(0.005));
        Assert.That(r.GetProperty("flash_bytes").GetInt64(), Is.GreaterThan(56_080)); // the weights and biases alone (14 020 floats)
        Assert.That(r.GetProperty("ram_bytes").GetInt64(), Is.GreaterThan(0));
        Assert.That(r.GetProperty("max_abs_diff").GetDouble(), Is.LessThanOrEqualTo(1e-5));
        Assert.That(r.GetProperty("serial_rtt_p99_us").GetDouble(), Is.GreaterThanOrEqualTo(r.GetProperty("serial_rtt_p50_us").GetDouble()));
        Assert.That(r.GetProperty("lost_frames").GetInt64(), Is.Zero);
    }

    [Test]
    public void ABadBundleIsAClearError()
    {
        string path = Path.Combine(Path.GetTempPath(), $"roborl-bad-{Guid.NewGuid():N}.safetensors");
        File.WriteAllText(path, "not a bundle");
        try
        {
            var error = new StringWriter();
            Assert.That(BenchMcuCommand.Run(path, 10, 10, true, new StringWriter(), error), Is.EqualTo(2), "a bad bundle is bad input");
            Assert.That(error.ToString(), Does.Contain(path));
        }
        finally { File.Delete(path); }
    }
}
