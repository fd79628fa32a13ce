using System.Numerics;
using RoboRl.Core.Policy;
using RoboRl.Core.Tasks;
using RoboRl.Serial;
using RoboRl.Serial.Firmware;
using RoboRl.Sims.Quadrotor;

namespace RoboRl.EndToEnd.Tests;

/// <summary>
/// The policy on the emulated MCU in the loop: a 149→64→64→4 bundle exported with `roborl export c`, compiled
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
        // Issue #5 target. The weights alone are 56 KB; the image fits because everything but the forward pass is built
        // with -Os (firmware-bridge/mcu/CMakeLists.txt).
        Assert.That(size.FlashBytes, Is.LessThanOrEqualTo(64 * 1024), "149→64→64→4 policy image ≤ 64 KiB flash");
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
        // The request/response path allocates nothing once warm (a closed loop runs it every control step).
        Assert.That(AllocationMeter.FewestBytes(() => { for (int k = 0; k < 20; k++) client.Infer(observation, Patience); }), Is.Zero,
            "bytes allocated by 20 Infer calls");
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
        Assert.That(e.Status.Value.Detail, Is.EqualTo((uint)HoverObservation.ActorSize(32)), "149");
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
        var e = Assert.Throws<McuPolicyException>(() => client.Infer(_bundle.GoldenObservations.AsSpan(0, _bundle.ObservationSize), Patience));
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
        // 13 888 multiply-adds (149·64 + 64·64 + 64·4) cannot take fewer than ~1 instruction each; far above would mean a broken build.
        Assert.That(perForward, Is.InRange(13_888.0, 200_000.0));
        // The budget for a 149 → 64 → 64 → 4 inference on the Cortex-M4F (instructions are deterministic under
        // -icount, unlike time): a regression in the kernel or the build flags shows here.
        Assert.That(perForward, Is.LessThanOrEqualTo(30_000.0), "instructions per inference");
    }

    [Test, CancelAfter(300_000)]
    public void HeartbeatsComeUnaskedAndOnRequest()
    {
        using var mcu = EmulatedMcu.Start(_image);
        using McuPolicyClient client = Boot(mcu, out HeartbeatMessage hello);
        Assert.That(hello.Status, Is.EqualTo(LinkStatusFlags.PolicyLoaded | LinkStatusFlags.SelfTestPassed));
        client.Link.Send(new HeartbeatMessage(0, LinkStatusFlags.None));
        var deadline = DateTime.UtcNow + Patience;
        while (client.Heartbeats.Count < 3 && DateTime.UtcNow < deadline) Thread.Sleep(20); // the reply + one a second
        IReadOnlyList<HeartbeatMessage> beats = client.Heartbeats;
        Assert.That(beats, Has.Count.GreaterThanOrEqualTo(3));
        Assert.That(beats[^1].UptimeMs, Is.GreaterThan(beats[0].UptimeMs), "uptime advances (SysTick)");
    }

    /// <summary>
    /// "The node flies the simulated Crazyflie for 10 s with the policy running on the emulated MCU over a pty":
    /// HoverEnv (1 environment, the task's observation builder and noise, no domain randomisation or disturbance)
    /// → OBSERVATION over the pty → the MCU's forward pass → ACTION → the simulator, 1000 steps at 100 Hz. The
    /// policy is <see cref="AnalyticHoverPolicy"/> (a hand-built hover controller in the bundle's 149 → 64 → 64 → 4
    /// shape) until a trained bundle is wired in. Every MCU action equals the C# engine's, no frame is lost, and
    /// the position error stays under 0.1 m from 3 s on, starting 0.11 m off the target, tilted and moving.
    /// </summary>
    [Test, CancelAfter(600_000)]
    public void TheMcuFliesTheSimulatedCrazyflieToAHover()
    {
        string taskFile = Path.Combine(McuImages.RepositoryRoot, "configs", "tasks", "crazyflie-hover.json");
        HoverTaskConfig task = HoverTaskConfig.Load(taskFile) with
        {
            DomainRandomization = DomainRandomizationConfig.None,
            DisturbanceForceStd = 0,
            DisturbanceTorqueStd = 0,
            EpisodeSteps = 5000, // no truncation inside the 10 s flight
        };
        PolicyBundle policy = AnalyticHoverPolicy.Create(task.Robot, task.ControlDt, task.ActionHistoryLength);
        string dir = Path.Combine(_dir, "hover");
        CPolicyHeader.Write(policy, "analytic-hover.safetensors", dir);
        string image = McuImages.BuildPolicyImage(dir);

        using var env = new HoverEnv(task, numEnvs: 1, threadCount: 1);
        env.Reset(seed: 3);
        // A fixed start (the task's random yaw is outside what a linear controller handles): 0.11 m off, tilted,
        // moving, rotors at hover speed; one hover step makes the observation consistent with it.
        env.Batch.SetPose(0, task.TargetPosition + new Vector3(0.08f, -0.06f, -0.05f), Quaternion.CreateFromYawPitchRoll(0.1f, 0.05f, -0.05f));
        env.Batch.SetVelocities(0, new Vector3(0.1f, 0.1f, 0f), new Vector3(0.2f, -0.2f, 0.1f));
        env.Batch.SetRotors(0, task.Robot.HoverRpm());
        env.Step(Enumerable.Repeat(task.Robot.HoverAction(), 4).ToArray());

        using var mcu = EmulatedMcu.Start(image);
        using McuPolicyClient client = Boot(mcu, out HeartbeatMessage hello);
        Assert.That(hello.Status.HasFlag(LinkStatusFlags.SelfTestPassed), Is.True);
        var engine = new PolicyEngine(policy);
        var observation = new float[policy.ObservationSize];
        var expected = new float[4];
        var action = new float[4];
        float worstParity = 0, worstErrorAfter3s = 0;
        const int Steps = 1000; // 10 s at 100 Hz
        for (int step = 0; step < Steps; step++)
        {
            env.ActorObservations.CopyTo(observation);
            Vector4 a = client.Infer(observation, Patience).Action;
            action[0] = a.X; action[1] = a.Y; action[2] = a.Z; action[3] = a.W;
            engine.Forward(observation, expected);
            worstParity = MathF.Max(worstParity, MaxDiff(a, expected));
            env.Step(action);
            Assert.That(env.Terminated[0] || env.Truncated[0], Is.False, $"the episode ended at step {step}");
            if (step >= 300) worstErrorAfter3s = MathF.Max(worstErrorAfter3s, (env.Batch.Position(0) - task.TargetPosition).Length());
        }
        Assert.That(client.ActionsReceived, Is.EqualTo(Steps));
        Assert.That(worstParity, Is.LessThanOrEqualTo(1e-5f), "MCU action vs C# engine, every step");
        Assert.That(env.NanActionCount, Is.Zero);
        Assert.That(worstErrorAfter3s, Is.LessThan(0.1f), "hover within the task's bound from 3 s on");
        McuCounters c = client.ReadCounters(Patience);
        Assert.That(c.Lost + c.CrcErrors + c.FramingErrors + c.Duplicates + c.OutOfOrder + c.RxOverruns, Is.Zero, "no frame lost either way");
        Assert.That(c.FramesOk, Is.EqualTo(Steps + 1));
        Assert.That(client.Link.Counters.Lost + client.Link.Counters.Rejected, Is.Zero);
        TestContext.Out.WriteLine($"worst |p - target| after 3 s: {worstErrorAfter3s:F4} m; worst |MCU - C#|: {worstParity:G3}");
    }

    static float MaxDiff(Vector4 got, ReadOnlySpan<float> expected) =>
        MathF.Max(MathF.Max(MathF.Abs(got.X - expected[0]), MathF.Abs(got.Y - expected[1])),
                  MathF.Max(MathF.Abs(got.Z - expected[2]), MathF.Abs(got.W - expected[3])));
}
