using System.CommandLine;
using RoboRl.Core.Policy;
using RoboRl.Serial.Firmware;

namespace RoboRl.Cli.Commands;

/// <summary>`roborl bench mcu`: the policy on the emulated STM32F405 — instructions per inference, flash, RAM, parity, serial round trips.</summary>
public static class BenchMcuCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var bundle = new Option<string?>("--bundle") { Description = "Policy bundle (.safetensors); default: a random 149→64→64→4 tanh policy" };
        var inferences = new Option<int>("--inferences") { Description = "On-chip forward passes timed with SysTick", DefaultValueFactory = _ => 200 };
        var roundTrips = new Option<int>("--round-trips") { Description = "Random observations sent over the pty (besides the golden ones)", DefaultValueFactory = _ => 200 };
        var command = new Command("mcu", "Policy on the emulated STM32F405 (QEMU -icount): instructions per inference, flash/RAM, max |MCU - C#|, serial RTT")
        {
            json, bundle, inferences, roundTrips,
        };
        command.SetAction(parse => Run(parse.GetValue(bundle), parse.GetValue(inferences), parse.GetValue(roundTrips), parse.GetValue(json),
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return command;
    }

    public static int Run(string? bundlePath, int inferences, int roundTrips, bool asJson, TextWriter output, TextWriter error)
    {
        var io = new CommandIo("bench mcu", output, error, asJson);
        return io.Run(() => Measure(bundlePath, inferences, roundTrips, io));
    }

    private static int Measure(string? bundlePath, int inferences, int roundTrips, CommandIo io)
    {
        TextWriter output = io.Output, error = io.Error;
        if (inferences is < 1 or > 100_000 || roundTrips is < 0 or > 100_000)
            throw CliException.BadInput("--inferences must be 1..100000, --round-trips 0..100000");
        if (bundlePath is not null) PathArguments.InputFile(bundlePath, "--bundle", "a policy bundle (.safetensors)");
        McuBenchResult r;
        PolicyBundle? bundle = bundlePath is null ? null : PolicyBundle.Read(bundlePath);
        try { r = McuBench.Run(bundle, inferences, roundTrips, new Progress(error)); }
        catch (Exception e) when (e is McuPolicyException or InvalidOperationException or TimeoutException or IOException)
        {
            throw CliException.Fault(e.Message);
        }
        int code = r.LostFrames == 0 && r.MaxAbsDiff <= 1e-5f ? ExitCodes.Ok : ExitCodes.Failed;
        if (io.Json)
        {
            return io.Result(new
            {
                network = r.Network,
                bundle_sha256 = r.BundleSha256,
                instructions_per_inference = Math.Round(r.InstructionsPerInference),
                calibration_ratio = Math.Round(r.CalibrationRatio, 5),
                flash_bytes = r.FlashBytes,
                ram_bytes = r.RamBytes,
                max_abs_diff = r.MaxAbsDiff,
                observations = r.Observations,
                serial_rtt_p50_us = Math.Round(r.SerialRttP50Us, 1),
                serial_rtt_p99_us = Math.Round(r.SerialRttP99Us, 1),
                lost_frames = r.LostFrames,
            }, code);
        }
        else
        {
            output.WriteLine($"mcu {r.Network}: {r.InstructionsPerInference:F0} instructions/inference (calibration {r.CalibrationRatio:F4}), " +
                             $"flash {r.FlashBytes} B, RAM {r.RamBytes} B, max |MCU - C#| {r.MaxAbsDiff:G3} over {r.Observations} obs, " +
                             $"rtt p50 {r.SerialRttP50Us / 1000:F2} ms p99 {r.SerialRttP99Us / 1000:F2} ms (emulated USART), lost {r.LostFrames}");
        }
        return code;
    }

    sealed class Progress(TextWriter error) : IProgress<string>
    {
        public void Report(string step) => error.WriteLine($"  {step}…");
    }
}
