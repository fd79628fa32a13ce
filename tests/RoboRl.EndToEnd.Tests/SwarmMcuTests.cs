using RoboRl.Core.Policy;
using RoboRl.Core.Swarm;
using RoboRl.Serial.Firmware;
using RoboRl.Training;
using static TorchSharp.torch;

namespace RoboRl.EndToEnd.Tests;

/// <summary>
/// The swarm policy on the emulated STM32F405 (issue 18, item 5): a deep-sets actor at the open task's widths (own state
/// 19 → 64, each neighbour token 6 → 32 and the mean, SDF 9 → 16, head 64-64), exported as the bundle stores it (the
/// dense chain, `roborl export c`), compiled into the MCU image and run on QEMU — the path `roborl bench mcu --bundle`
/// takes. Parity ≤ 1e-5 against PolicyEngine on the golden vectors and random observations; instructions per inference.
/// </summary>
[NonParallelizable]
public class SwarmMcuTests
{
    [Test, CancelAfter(600_000)]
    public void SwarmPolicyRunsOnTheMcuWithParity()
    {
        if (!EmulatedMcu.ToolsAvailable() || !McuImages.ToolchainAvailable())
        {
            string missing = "qemu-system-arm, socat, cmake and arm-none-eabi-gcc are needed (tests/prerequisites.txt)";
            if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail(missing);
            Assert.Ignore(missing);
        }
        SwarmTaskConfig task = SwarmTaskConfig.Load(Path.Combine(McuImages.RepositoryRoot, "configs/swarm/crazyflie-swarm8-open.json"));
        manual_seed(4);
        using var actor = new SwarmActor(task.Neighbours, selfHidden: 64, neighbourHidden: 32, sdfHidden: 16, headHidden: [64, 64], seed: 4);
        // Orthogonal init with a large last-layer gain, so the actions are far from zero (parity of near-zero outputs says little).
        foreach (FlatMlp net in actor.Networks) net.InitializeOrthogonal(Math.Sqrt(2), 1.5);
        int obs = SwarmObservation.Size(task.Neighbours);
        var random = new Random(9);
        var mean = new float[obs];
        var std = new float[obs];
        for (int i = 0; i < obs; i++) { mean[i] = (float)(random.NextDouble() - 0.5); std[i] = (float)(0.5 + random.NextDouble()); }
        var golden = new float[8 * obs];
        for (int i = 0; i < golden.Length; i++) golden[i] = (float)(random.NextDouble() * 4 - 2);
        PolicyBundle bundle = SwarmPolicySpec.Export(actor, task, mean, std, golden, """{"test":"swarm policy on the MCU"}""");

        McuBenchResult result = McuBench.Run(bundle, inferences: 100, roundTrips: 100);
        TestContext.Out.WriteLine($"swarm policy {result.Network}: {result.InstructionsPerInference:F0} instructions per inference, " +
                                  $"flash {result.FlashBytes} B, RAM {result.RamBytes} B, max |MCU − engine| {result.MaxAbsDiff:E2} over {result.Observations} observations");
        Assert.That(result.Network, Is.EqualTo("40→144→64→64→4"), "the dense chain: three encoders side by side (64 + 2 × 32 + 16), the head");
        Assert.That(result.MaxAbsDiff, Is.LessThanOrEqualTo(1e-5f), "MCU action vs C# PolicyEngine");
        Assert.That(result.Observations, Is.EqualTo(bundle.GoldenCount + 100));
        Assert.That(result.LostFrames, Is.Zero);
        Assert.That(result.CalibrationRatio, Is.EqualTo(1.0).Within(0.005), "SysTick counts instructions");
        // 19 328 multiply-adds (40·144 + 144·64 + 64·64 + 64·4): at least ~1 instruction each; far above means a broken build.
        Assert.That(result.InstructionsPerInference, Is.InRange(19_328.0, 200_000.0));
        Assert.That(result.FlashBytes, Is.LessThan(1024 * 1024), "fits the STM32F405's flash");
    }
}
