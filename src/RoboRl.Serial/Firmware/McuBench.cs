using System.Diagnostics;
using RoboRl.Core.Policy;

namespace RoboRl.Serial.Firmware;

/// <summary>What `roborl bench mcu` measures on the emulated STM32F405.</summary>
public sealed record McuBenchResult(
    string Network,
    string BundleSha256,
    double InstructionsPerInference,
    /// <summary>Measured/expected instructions of the calibration loop (1.0 = SysTick counts instructions exactly).</summary>
    double CalibrationRatio,
    long FlashBytes,
    long RamBytes,
    float MaxAbsDiff,
    int Observations,
    double SerialRttP50Us,
    double SerialRttP99Us,
    long LostFrames);

/// <summary>
/// `roborl bench mcu`: builds the policy image for a bundle (a random 149→64→64→4 one when none is given), boots it
/// on QEMU with `-icount shift=0` and measures instructions per inference (SysTick ticks over many on-chip forward
/// passes × 1e9 / 168e6, the method checked against a loop of known length), flash and RAM (arm-none-eabi-size),
/// the largest |MCU − C# engine| over the golden vectors plus random observations, and OBSERVATION → ACTION round
/// trips over the pty. Round trips are emulator figures (each byte takes ~25 µs through QEMU's USART model), not
/// the hardware's; instruction counts are what the Cortex-M4 executes (not its cycles).
/// </summary>
public static class McuBench
{
    public static McuBenchResult Run(PolicyBundle? bundle, int inferences, int roundTrips, IProgress<string>? progress = null)
    {
        bundle ??= RandomPolicy.Create(RandomPolicy.HoverShape, seed: 1);
        string dir = Directory.CreateTempSubdirectory("roborl-bench-mcu-").FullName;
        try
        {
            progress?.Report("building the MCU image");
            CPolicyHeader.Write(bundle, "bench.safetensors", dir);
            string image = McuImages.BuildPolicyImage(dir);
            McuImageSize size = McuImages.Size(image);

            progress?.Report("booting QEMU netduinoplus2 (-icount shift=0)");
            var patience = TimeSpan.FromSeconds(60);
            using var mcu = EmulatedMcu.Start(image);
            using var client = McuPolicyClient.OpenPty(mcu.PtyPath);
            HeartbeatMessage hello = client.WaitForHeartbeat(patience);
            if (!hello.Status.HasFlag(LinkStatusFlags.SelfTestPassed))
                throw new McuPolicyException("the MCU refused the policy: its boot self-test failed");

            progress?.Report("calibrating SysTick against a loop of known length");
            const uint CalibrationIterations = 1_000_000;
            double calibration = McuPolicyClient.TicksToInstructions(client.MeasureCalibrationTicks(CalibrationIterations, patience)) / (2.0 * CalibrationIterations);

            progress?.Report($"{inferences} forward passes on the MCU");
            double instructions = McuPolicyClient.TicksToInstructions(client.MeasureForwardTicks((uint)inferences, patience)) / inferences;

            progress?.Report($"parity and round trips over the pty ({bundle.GoldenCount} golden + {roundTrips} random observations)");
            var engine = new PolicyEngine(bundle);
            int obs = bundle.ObservationSize;
            var observation = new float[obs];
            var expected = new float[bundle.ActionSize];
            var random = new Random(1);
            var rttUs = new List<double>();
            float worst = 0;
            for (int k = 0; k < bundle.GoldenCount + roundTrips; k++)
            {
                if (k < bundle.GoldenCount) bundle.GoldenObservations.AsSpan(k * obs, obs).CopyTo(observation);
                else for (int i = 0; i < obs; i++) observation[i] = (float)(random.NextDouble() * 6 - 3);
                long t0 = Stopwatch.GetTimestamp();
                ActionMessage action = client.Infer(observation, patience);
                rttUs.Add(Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
                engine.Forward(observation, expected);
                float[] got = [action.Action.X, action.Action.Y, action.Action.Z, action.Action.W];
                for (int j = 0; j < Math.Min(4, bundle.ActionSize); j++) worst = MathF.Max(worst, MathF.Abs(got[j] - expected[j]));
            }
            McuCounters counters = client.ReadCounters(patience);
            rttUs.Sort();
            return new McuBenchResult(
                bundle.ObservationSize + string.Concat(bundle.Layers.Select(l => $"→{l.OutputSize}")),
                bundle.StoredContentSha256 ?? bundle.ComputeContentSha256(),
                instructions, calibration, size.FlashBytes, size.RamBytes, worst, rttUs.Count,
                Percentile(rttUs, 0.50), Percentile(rttUs, 0.99),
                counters.Lost + counters.CrcErrors + counters.FramingErrors + client.Link.Counters.Lost);
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    static double Percentile(List<double> sorted, double q) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];
}
