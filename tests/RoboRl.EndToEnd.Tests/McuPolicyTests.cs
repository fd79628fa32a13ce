using System.Numerics;
using RoboRl.Core.Policy;
using RoboRl.Core.Tasks;
using RoboRl.Serial;
using RoboRl.Serial.Firmware;
using RoboRl.Sims.Quadrotor;

namespace RoboRl.EndToEnd.Tests;

/// <summary>
/// The policy on the emulated MCU in the loop: a 146→64→64→4 bundle exported with `roborl export c`, compiled
/// into firmware-bridge/mcu/app_policy.c, run on QEMU's STM32F405 and driven over a pty by RoboRl.Serial.
/// </summary>
[NonParallelizable]
public class McuPolicyTests
{
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    string _dir = "";
    PolicyBundle _bundle = null!;
    string _image = "";

    [OneTimeSetUp]
    public void BuildImage()
    {
        if (!EmulatedMcu.ToolsAvailable() || !McuImages.ToolchainAvailable())
        {
            string missing = "qemu-system-arm, socat, cmake and arm-none-eabi-gcc are needed (tests/prerequisites.txt)";
            if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail(missing);
            Assert.Ignore(missing);
        }
        _dir = Directory.CreateTempSubdirectory("roborl-mcu-policy-test-").FullName;
        _bundle = RandomPolicy.Create(RandomPolicy.HoverShape, seed: 11, Activation.Tanh, goldenCount: 8);
        CPolicyHeader.Write(_bundle, "mcu-test.safetensors", _dir);
        _image = McuImages.BuildPolicyImage(_dir);
    }

    [OneTimeTearDown]
    public void Clean()
    {
        if (_dir.Length > 0) Directory.Delete(_dir, recursive: true);
    }

    static McuPolicyClient Boot(EmulatedMcu mcu, out HeartbeatMessage hello)
    {
        var client = McuPolicyClient.OpenPty(mcu.PtyPath);
        hello = client.WaitForHeartbeat(Patience);
        return client;
    }

    [Test, CancelAfter(300_000)]
    public void ImageFitsTheFlashBudget()
    {
        McuImageSize size = McuImages.Size(_image);
        Assert.That(size.FlashBytes, Is.LessThanOrEqualTo(64 * 1024), "146→64→64→4 policy image ≤ 64 KB flash");
        Assert.That(size.RamBytes, Is.LessThan(128 * 1024));
    }

    [Test, CancelAfter(600_000)]
    public void EveryMcuActionMatchesTheCSharpEngine()
    {
        using var mcu = EmulatedMcu.Start(_image);
        using McuPolicyClient client = Boot(mcu, out HeartbeatMessage hello);
        Assert.That(hello.Status.HasFlag(LinkStatusFlags.SelfTestPassed), Is.True, "the boot self-test passed");

        var engine = new PolicyEngine(_bundle);
        int obs = _bundle.ObservationSize;
        var random = new Random(5);
        var observation = new float[obs];
        var expected = new float[4];
        float worst = 0;
        int count = 0;
        long inferenceUs = 0;
        for (int k = 0; k < _bundle.GoldenCount + 200; k++)
        {
            if (k < _bundle.GoldenCount) _bundle.GoldenObservations.AsSpan(k * obs, obs).CopyTo(observation);
            else for (int i = 0; i < obs; i++) observation[i] = (float)(random.NextDouble() * 6 - 3);
            ActionMessage action = client.Infer(observation, Patience);
            engine.Forward(observation, expected);
            worst = MathF.Max(worst, MaxDiff(action.Action, expected));
            inferenceUs += action.InferenceUs;
            count++;
        }
        Assert.That(count, Is.EqualTo(208));
        Assert.That(worst, Is.LessThanOrEqualTo(1e-5f), "MCU action vs C# PolicyEngine");
        Assert.That(inferenceUs, Is.GreaterThan(0), "the MCU measured its inference time with SysTick");
        Assert.That(client.Link.Counters.Lost, Is.Zero);
    }

    [Test, CancelAfter(300_000)]
    public void CorruptedDuplicatedAndReplayedFramesAreCountedAndDropped()
    {
        using var mcu = EmulatedMcu.Start(_image);
        using McuPolicyClient client = Boot(mcu, out _);
        var engine = new PolicyEngine(_bundle);
        int obs = _bundle.ObservationSize;
        float[] observation = _bundle.GoldenObservations.AsSpan(0, obs).ToArray();
        var payload = new byte[LinkProtocol.ObservationSize(obs)];
        Payloads.WriteObservation(observation, payload);
        byte[] Frame(ushort sequence)
        {
            var wire = new byte[LinkProtocol.MaxWireFrame];
            int n = FrameEncoder.WriteFrame(MessageType.Observation, FrameFlags.None, sequence, payload, wire);
            return wire[..n];
        }

        const ushort B = 100;
        byte[] first = Frame(B);
        byte[] corrupted = Frame(B + 1);
        corrupted[corrupted.Length / 2] ^= 0x5A; // inside the payload: the CRC no longer matches (or COBS breaks)
        if (corrupted[corrupted.Length / 2] == 0) corrupted[corrupted.Length / 2] = 0x33;
        client.Link.SendRawBytes(first);        // accepted → ACTION B
        client.Link.SendRawBytes(first);        // duplicate
        client.Link.SendRawBytes(corrupted);    // CRC (or framing) error
        client.Link.SendRawBytes([0x13, 0x37, 0x00]); // too short: framing error
        client.Link.SendRawBytes(Frame(B + 3)); // accepted → ACTION B+3; B+1 and B+2 counted lost
        client.Link.SendRawBytes(Frame(B + 2)); // late: out of order, dropped
        client.Link.SendRawBytes(first);        // replay: out of order, dropped

        McuCounters c = client.ReadCounters(Patience); // the link's first frame carries SEQ_RESET: accepted
        Assert.That(c.CrcErrors + c.FramingErrors, Is.GreaterThanOrEqualTo(2), "the corrupted frame and the short one");
        Assert.That(c.FramingErrors, Is.GreaterThanOrEqualTo(1));
        Assert.That(c.Duplicates, Is.EqualTo(1));
        Assert.That(c.OutOfOrder, Is.EqualTo(2));
        Assert.That(c.Lost, Is.EqualTo(2));
        Assert.That(c.FramesOk, Is.EqualTo(3), "B, B+3 and the counters request");
        Assert.That(c.RxOverruns, Is.Zero);

        var actions = client.Actions;
        Assert.That(actions.Select(a => a.ObservationSequence), Is.EqualTo(new ushort[] { B, B + 3 }), "exactly one ACTION per accepted observation");
        var expected = new float[4];
        engine.Forward(observation, expected);
        Assert.That(MaxDiff(actions[1].Action, expected), Is.LessThanOrEqualTo(1e-5f));
        // Errors were reported unasked, as they happened (STATUS code = error class, detail = running count).
        Assert.That(client.Statuses.Any(s => s.Code == StatusCode.FramingErrors && s.Severity == StatusSeverity.Warning), Is.True);
        // And the link keeps working.
        Assert.That(MaxDiff(client.Infer(observation, Patience).Action, expected), Is.LessThanOrEqualTo(1e-5f));
    }

    [Test, CancelAfter(300_000)]
    public void AWrongSizedObservationIsAnsweredWithAStatus()
    {
        using var mcu = EmulatedMcu.Start(_image);
        using McuPolicyClient client = Boot(mcu, out _);
        var e = Assert.Throws<McuPolicyException>(() => client.Infer(new float[18], Patience));
        Assert.That(e!.Status!.Value.Code, Is.EqualTo(StatusCode.ObservationSizeMismatch));
        Assert.That(e.Status.Value.Detail, Is.EqualTo(146u));
    }

    [Test, CancelAfter(600_000)]
    public void AMismatchedPolicyIsRefusedAtBoot()
    {
        // A header whose weights do not produce its own golden vector (as if the header were edited or
        // truncated): the image must refuse to fly it.
        string dir = Path.Combine(_dir, "mismatched");
        Directory.CreateDirectory(dir);
        string text = CPolicyHeader.Generate(_bundle, "mismatched.safetensors");
        int at = text.IndexOf("static const float rl_policy_example_action", StringComparison.Ordinal);
        int open = text.IndexOf('{', at) + 1;
        int comma = text.IndexOf(',', open);
        text = text[..open] + "\n    0.987654f" + text[comma..];
        File.WriteAllText(Path.Combine(dir, CPolicyHeader.FileName), text);
        string image = McuImages.BuildPolicyImage(dir);

        using var mcu = EmulatedMcu.Start(image);
        using McuPolicyClient client = Boot(mcu, out HeartbeatMessage hello);
        Assert.That(hello.Status.HasFlag(LinkStatusFlags.SelfTestPassed), Is.False);
        Assert.That(hello.Status.HasFlag(LinkStatusFlags.Failsafe), Is.True);
        var e = Assert.Throws<McuPolicyException>(() => client.Infer(_bundle.GoldenObservations.AsSpan(0, 146), Patience));
        Assert.That((ushort)e!.Status!.Value.Code, Is.EqualTo(McuPolicyClient.CodeSelfTestFailed));
        Assert.That(client.Actions, Is.Empty, "no ACTION ever");
    }

    [Test, CancelAfter(300_000)]
    public void SysTickCountsInstructionsUnderIcount()
    {
        using var mcu = EmulatedMcu.Start(_image);
        using McuPolicyClient client = Boot(mcu, out _);
        const uint Iterations = 1_000_000; // the calibration loop: 2 instructions per iteration
        double instructions = McuPolicyClient.TicksToInstructions(client.MeasureCalibrationTicks(Iterations, Patience));
        Assert.That(instructions, Is.EqualTo(2.0 * Iterations).Within(0.5).Percent);
        double perForward = McuPolicyClient.TicksToInstructions(client.MeasureForwardTicks(100, Patience)) / 100;
        // 13 696 multiply-adds cannot take fewer than ~1 instruction each; far above would mean a broken build.
        Assert.That(perForward, Is.InRange(13_696.0, 200_000.0));
    }

    /// <summary>
    /// The simulated Crazyflie (HoverEnv, 1 environment, the hover task's observation builder) flown for 10 s at
    /// 100 Hz by the policy running on the emulated MCU over the pty. With an untrained (random) policy the
    /// quadrotor does not hover; this test proves the loop (every action equals the C# engine's, no frame lost).
    /// The hover-bound check (|p − target| &lt; 0.1 m from 3 s on) needs a trained bundle.
    /// </summary>
    [Test, CancelAfter(600_000)]
    public void ClosedLoopFlightRunsThePolicyOnTheMcuEveryStep()
    {
        string taskFile = Path.Combine(McuImages.RepositoryRoot, "configs", "tasks", "crazyflie-hover.json");
        HoverTaskConfig task = HoverTaskConfig.Load(taskFile);
        using var env = new HoverEnv(task, numEnvs: 1, threadCount: 1);
        Assert.That(env.ActorObservationSize, Is.EqualTo(_bundle.ObservationSize));
        env.Reset(seed: 3);

        using var mcu = EmulatedMcu.Start(_image);
        using McuPolicyClient client = Boot(mcu, out _);
        var engine = new PolicyEngine(_bundle);
        var observation = new float[_bundle.ObservationSize];
        var expected = new float[4];
        var action = new float[4];
        float worst = 0;
        const int Steps = 1000; // 10 s at 100 Hz
        for (int step = 0; step < Steps; step++)
        {
            env.ActorObservations.CopyTo(observation);
            Vector4 a = client.Infer(observation, Patience).Action;
            action[0] = a.X; action[1] = a.Y; action[2] = a.Z; action[3] = a.W;
            engine.Forward(observation, expected);
            worst = MathF.Max(worst, MaxDiff(a, expected));
            env.Step(action);
        }
        Assert.That(client.ActionsReceived, Is.EqualTo(Steps));
        Assert.That(worst, Is.LessThanOrEqualTo(1e-5f));
        Assert.That(env.NanActionCount, Is.Zero);
        McuCounters c = client.ReadCounters(Patience);
        Assert.That(c.Lost + c.CrcErrors + c.FramingErrors + c.Duplicates + c.OutOfOrder + c.RxOverruns, Is.Zero, "no frame lost either way");
        Assert.That(c.FramesOk, Is.EqualTo(Steps + 1));
        Assert.That(client.Link.Counters.Lost + client.Link.Counters.Rejected, Is.Zero);
    }

    static float MaxDiff(Vector4 got, ReadOnlySpan<float> expected) =>
        MathF.Max(MathF.Max(MathF.Abs(got.X - expected[0]), MathF.Abs(got.Y - expected[1])),
                  MathF.Max(MathF.Abs(got.Z - expected[2]), MathF.Abs(got.W - expected[3])));
}
