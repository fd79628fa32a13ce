using System.Numerics;
using RoboRl.Core.Configs;
using RoboRl.Core.Messages;
using RoboRl.Core.Policy;
using RoboRl.Core.Robots;
using RoboRl.Node;
using RoboRl.Serial;
using RoboRl.Serial.Firmware;
using RoboRl.Sims.Quadrotor;

namespace RoboRl.EndToEnd.Tests;

/// <summary>
/// Issue #5 item 3: the real-time node (<see cref="InferenceNode"/>, its supervisor and fallback) flies the simulated
/// Crazyflie with a TRAINED policy running on the emulated STM32F405 (QEMU netduinoplus2) over a pty, through the
/// node config configs/nodes/crazyflie-sim-mcu.json ("policy_on": "mcu"): each tick the node sends the state, the
/// MCU builds the observation itself (roborl_observation.c, with its own action history and position-error integral)
/// and answers the action.
/// </summary>
[NonParallelizable]
public class NodeOnMcuTests
{
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    static string Repo(string relative) => Path.Combine(McuImages.RepositoryRoot, relative);
    static string NodeConfigFile => Repo("configs/nodes/crazyflie-sim-mcu.json");

    string _bundlePath = "";
    PolicyBundle _bundle = null!;

    [OneTimeSetUp]
    public void Train()
    {
        if (!EmulatedMcu.ToolsAvailable() || !McuImages.ToolchainAvailable())
        {
            string missing = "qemu-system-arm, socat, cmake and arm-none-eabi-gcc are needed (tests/prerequisites.txt)";
            if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail(missing);
            Assert.Ignore(missing);
        }
        _bundlePath = TrainedHoverPolicy.BundlePath;
        _bundle = TrainedHoverPolicy.Bundle;
    }

    /// <summary>Passes every call to the MCU and keeps the raw action it answered (before the node clamps it).</summary>
    sealed class RecordingRemotePolicy(IRemotePolicy inner) : IRemotePolicy
    {
        public readonly float[] LastAction = new float[4];
        public long Answers;
        public TimeSpan ResponseTimeout => inner.ResponseTimeout;
        public int MaxConsecutiveMisses => inner.MaxConsecutiveMisses;
        public void ResetHistory(float fill) => inner.ResetHistory(fill);
        public bool TryInfer(in RobotStateSample state, Vector3 target, Span<float> action)
        {
            if (!inner.TryInfer(in state, target, action)) return false;
            action[..4].CopyTo(LastAction);
            Answers++;
            return true;
        }
    }

    /// <summary>
    /// 10 s of SIMULATED time, lock-step: each 100 Hz tick advances the simulator to the tick's time, then the node
    /// ticks and waits for the MCU's answer, so the flight does not depend on how fast QEMU runs on a loaded machine
    /// (real time: `roborl run configs/nodes/crazyflie-sim-mcu.json`). Start: hovering level 0.17 m from the setpoint
    /// and knocked (0.3 m/s, 1 rad/s). Every MCU action equals the host PolicyEngine's on the node's own observation
    /// within 1e-5, and the vehicle is within the task's success radius (0.1 m) from 3 s to the end.
    /// </summary>
    [Test, CancelAfter(900_000)]
    public void TheNodeFliesTheTrainedPolicyOnTheEmulatedMcu()
    {
        NodeConfig config = NodeConfig.Load(NodeConfigFile);
        Assert.That(config.PolicyOn, Is.EqualTo("mcu"));
        SimTransportConfig simConfig = SimTransportConfig.From(config);
        var start = new Vector3(0.1f, -0.1f, 0.9f);
        using var sim = new SimulatedQuadrotor(config.Quadrotor().Robot, new SimulatedQuadrotorOptions
        {
            PhysicsHz = simConfig.PhysicsHz,
            StartPosition = start,
            NoiseStd = simConfig.NoiseStd,
            Seed = simConfig.Seed,
        });
        sim.Perturb(new Vector3(0.3f, 0f, 0f), new Vector3(0f, 1f, 0f));
        // Lock-step: the tick may wait as long as QEMU needs (the real-time timeout is the config's).
        McuPolicyOptions options = McuPolicyOptions.Read(config.Section("mcu")!) with { ResponseTimeout = Patience };
        using McuRemotePolicy mcu = McuRemotePolicy.Open(options, _bundle, _bundlePath, Patience);
        var recording = new RecordingRemotePolicy(mcu);
        using var node = QuadrotorController.CreateNode(config, _bundle, sim, sim);
        node.Quadrotor().UseRemotePolicy(recording);

        var engine = new PolicyEngine(_bundle);
        var expected = new float[4];
        float worstParity = 0, worstErrorAfter3s = 0, largestIntegral = 0;
        AllocatingCalls allocatingTicks = default;
        int integralOffset = RoboRl.Core.Tasks.HoverObservation.IntegralOffset(_bundle.ActionHistoryLength);
        const int Ticks = 1000; // 10 s at 100 Hz
        long periodNs = (long)Math.Round(1e9 / config.RateHz);
        for (int k = 0; k < Ticks; k++)
        {
            long t = k * periodNs;
            sim.AdvanceTo(t);
            long answersBefore = recording.Answers;
            long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            node.Tick(t, t);
            if (k >= 100) allocatingTicks.Add(GC.GetAllocatedBytesForCurrentThread() - allocatedBefore); // after warm-up (JIT tiers)
            if (node.Mode != NodeMode.Policy) Assert.Fail($"mode {node.Mode} at tick {k}: {string.Join("; ", node.Events.Select(e => e.Describe()))}");
            Assert.That(recording.Answers, Is.EqualTo(answersBefore + 1), $"one MCU answer at tick {k}");
            engine.Forward(node.LastObservation, expected);
            for (int i = 0; i < RoboRl.Core.Tasks.HoverObservation.IntegralSize; i++)
                largestIntegral = MathF.Max(largestIntegral, MathF.Abs(node.LastObservation[integralOffset + i]));
            for (int j = 0; j < 4; j++) worstParity = MathF.Max(worstParity, MathF.Abs(recording.LastAction[j] - expected[j]));
            if (k >= 300) worstErrorAfter3s = MathF.Max(worstErrorAfter3s, (sim.TrueState.Position - config.Quadrotor().Setpoint).Length());
        }
        var (nodeParity, parityTicks) = node.Quadrotor().RemotePolicyParity;
        TestContext.Out.WriteLine($"worst |p - setpoint| from 3 s: {worstErrorAfter3s:F4} m; worst |MCU - C#|: {worstParity:G3} (node's shadow: {nodeParity:G3}); " +
                                  $"MCU inference {mcu.MeanInferenceUs:F0} µs mean; largest |position-error integral| {largestIntegral:G3} m·s");
        Assert.That(allocatingTicks.Calls, Is.LessThanOrEqualTo(1),
            $"{allocatingTicks.Calls} of 900 node ticks allocated ({allocatingTicks.Bytes} B) with the policy on the MCU (state out, action back)");
        Assert.That(mcu.Answered, Is.EqualTo(Ticks));
        Assert.That(mcu.Timeouts + mcu.ErrorStatuses, Is.Zero);
        Assert.That(worstParity, Is.LessThanOrEqualTo(1e-5f), "every MCU action vs the C# engine on the node's observation");
        Assert.That(parityTicks, Is.EqualTo(Ticks));
        Assert.That(nodeParity, Is.EqualTo(worstParity), "the node's own shadow check saw the same");
        // The start is 0.17 m off: the integral the MCU keeps in step with the node's is exercised, not zero all along.
        Assert.That(largestIntegral, Is.GreaterThan(1e-3f), "the observation's position-error integral moved");
        Assert.That(node.SafetyEventCount, Is.Zero);
        Assert.That(sim.TouchedFloor, Is.False);
        Assert.That(worstErrorAfter3s, Is.LessThan(0.1f), "within the task's success radius from 3 s on");
        McuCounters c = mcu.Client.ReadCounters(Patience);
        Assert.That(c.Lost + c.CrcErrors + c.FramingErrors + c.Duplicates + c.OutOfOrder + c.RxOverruns, Is.Zero, "no frame lost either way");
        Assert.That(mcu.Client.Link.Counters.Lost + mcu.Client.Link.Counters.Rejected, Is.Zero);
    }

    /// <summary>
    /// "port": an MCU already running the image (here QEMU, reached through its pty as a board through its USB serial
    /// port): the HEARTBEAT handshake, then state in, action out, equal to the host engine on the host's observation,
    /// which the host builds from its own mirror of the MCU's memory (action history and position-error integral, one
    /// control period per STATE): the integral is driven to its clamp and back, and a history reset (the node arming)
    /// zeroes it on the MCU too. An image whose header fails its boot self-test is refused by name before anything can fly.
    /// </summary>
    [Test, CancelAfter(600_000)]
    public void APortToAnMcuRunningTheImageAnswersAndARefusedPolicyIsNamed()
    {
        string dir = Directory.CreateTempSubdirectory("roborl-mcu-port-").FullName;
        try
        {
            CPolicyHeader.Write(_bundle, _bundlePath, dir);
            using (var emulator = EmulatedMcu.Start(McuImages.BuildPolicyImage(dir), countInstructions: false))
            using (McuRemotePolicy mcu = McuRemotePolicy.Open(new McuPolicyOptions { Port = emulator.PtyPath, ResponseTimeout = Patience }, _bundle, _bundlePath, Patience))
            {
                NodeConfig config = NodeConfig.Load(NodeConfigFile);
                float hover = config.Quadrotor().Robot.HoverAction();
                var history = new float[4 * _bundle.ActionHistoryLength];
                var integral = new float[RoboRl.Core.Tasks.HoverObservation.IntegralSize];
                float dt = 1f / (float)_bundle.ControlRateHz; // what the MCU integrates per STATE (the node: 1 / rate_hz, equal)
                RoboRl.Core.Tasks.HoverObservation.FillHistory(history, hover);
                mcu.ResetHistory(hover);
                int clamped = 0;
                var engine = new PolicyEngine(_bundle);
                var observation = new float[_bundle.ObservationSize];
                float[] action = new float[4], expected = new float[4], withoutIntegral = new float[4];
                float integralEffect = 0;
                var random = new Random(3);
                float worst = 0;
                for (int k = 0; k < 80; k++)
                {
                    if (k == 60)
                    {
                        // The node arms again: the MCU refills its history and zeroes its integral.
                        RoboRl.Core.Tasks.HoverObservation.FillHistory(history, hover);
                        Array.Clear(integral);
                        mcu.ResetHistory(hover);
                    }
                    // A steady 0.6 m offset (x) / −0.6 m (y) drives the integral to its clamp in ~17 steps; it flips at step 30.
                    var offset = new Vector3(0.6f, -0.6f, 0.1f) * (k < 30 ? 1 : -1);
                    var state = new RobotStateSample
                    {
                        TimestampNs = k * 10_000_000L,
                        Position = config.Quadrotor().Setpoint + offset + new Vector3(random.NextSingle() - 0.5f, random.NextSingle() - 0.5f, random.NextSingle() - 0.5f) * 0.3f,
                        Orientation = Quaternion.CreateFromYawPitchRoll(random.NextSingle() - 0.5f, (random.NextSingle() - 0.5f) * 0.4f, (random.NextSingle() - 0.5f) * 0.4f),
                        VelocityWorld = new Vector3(random.NextSingle() - 0.5f, random.NextSingle() - 0.5f, random.NextSingle() - 0.5f),
                        AngularVelocityBody = new Vector3(random.NextSingle() - 0.5f, random.NextSingle() - 0.5f, random.NextSingle() - 0.5f),
                    };
                    Assert.That(mcu.TryInfer(in state, config.Quadrotor().Setpoint, action), Is.True, $"answer {k}");
                    RoboRl.Core.Tasks.HoverObservation.BuildActor(state.Position, state.Orientation, state.VelocityWorld, state.AngularVelocityBody,
                        config.Quadrotor().Setpoint, history, integral, dt, observation);
                    if (MathF.Abs(integral[0]) == RoboRl.Core.Tasks.HoverObservation.PositionIntegralLimit) clamped++;
                    engine.Forward(observation, expected);
                    for (int j = 0; j < 4; j++) worst = MathF.Max(worst, MathF.Abs(action[j] - expected[j]));
                    // What an MCU without the integral would have answered: the parity above can tell the two apart.
                    observation.AsSpan(observation.Length - integral.Length).Clear();
                    engine.Forward(observation, withoutIntegral);
                    for (int j = 0; j < 4; j++) integralEffect = MathF.Max(integralEffect, MathF.Abs(action[j] - withoutIntegral[j]));
                    // The MCU pushes its action, clamped, into its history; the host mirrors it.
                    for (int j = 0; j < 4; j++) action[j] = Math.Clamp(action[j], -1f, 1f);
                    RoboRl.Core.Tasks.HoverObservation.PushAction(history, action);
                }
                Assert.That(worst, Is.LessThanOrEqualTo(1e-5f), "MCU (observation built on the MCU) vs the C# engine");
                Assert.That(mcu.Answered, Is.EqualTo(80));
                Assert.That(clamped, Is.GreaterThan(10), "steps with the integral at its clamp");
                Assert.That(integralEffect, Is.GreaterThan(1e-3f), "the trained policy's answer depends on the integral");
            }

            // The same header with its golden action edited: the image's boot self-test fails.
            string text = CPolicyHeader.Generate(_bundle, "edited.safetensors");
            int at = text.IndexOf("static const float rl_policy_example_action", StringComparison.Ordinal);
            int open = text.IndexOf('{', at) + 1;
            text = text[..open] + "\n    0.987654f" + text[text.IndexOf(',', open)..];
            File.WriteAllText(Path.Combine(dir, CPolicyHeader.FileName), text);
            using var refusing = EmulatedMcu.Start(McuImages.BuildPolicyImage(dir), countInstructions: false);
            var e = Assert.Throws<McuPolicyException>(() => McuRemotePolicy.Open(new McuPolicyOptions { Port = refusing.PtyPath }, _bundle, _bundlePath, Patience));
            Assert.That(e!.Message, Does.Contain(refusing.PtyPath).And.Contain("self-test failed"));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    /// <summary>
    /// An MCU that stops answering (here: nobody at the other end of the cable): the node holds the last action (the
    /// hover action right after arming) for max_consecutive_misses ticks, then the supervisor trips.
    /// </summary>
    [Test, CancelAfter(120_000)]
    public void MCUSilenceSendsTheNodeToItsFallbackAndIsCounted()
    {
        NodeConfig config = NodeConfig.Load(NodeConfigFile);
        using var cable = SocatPtyPair.Start();
        using var mcu = new McuRemotePolicy(McuPolicyClient.OpenPty(cable.PathA), TimeSpan.FromMilliseconds(20), maxConsecutiveMisses: 2);
        using var sim = new SimulatedQuadrotor(config.Quadrotor().Robot, new SimulatedQuadrotorOptions { StartPosition = config.Quadrotor().Setpoint });
        using var node = QuadrotorController.CreateNode(config, _bundle, sim, sim);
        node.Quadrotor().UseRemotePolicy(mcu);
        float hover = config.Quadrotor().Robot.HoverAction();
        for (int k = 0; k < 5; k++)
        {
            long t = k * 10_000_000L;
            sim.AdvanceTo(t);
            node.Tick(t, t);
            if (k < 2)
            {
                Assert.That(node.Mode, Is.EqualTo(NodeMode.Policy), $"tick {k}: a miss is bridged");
                Assert.That(node.Quadrotor().LastCommand.Action.AsVector4(), Is.EqualTo(new Vector4(hover)), "the held action right after arming is the hover action");
            }
        }
        Assert.That(node.Mode, Is.EqualTo(NodeMode.Fallback));
        NodeEvent trip = node.Events.Single(e => e.Kind == NodeEventKind.ModeChange && e.Mode == NodeMode.Fallback);
        Assert.That(trip.Violation.Trigger, Is.EqualTo(SafetyTrigger.RemotePolicySilent));
        Assert.That(trip.Describe(), Does.Contain("no action from the remote policy (MCU) within 20 ms"));
        Assert.That(trip.Tick, Is.EqualTo(2UL), "two held ticks, the third miss trips");
        Assert.That(node.Quadrotor().RemotePolicyHeldTicks, Is.EqualTo(2));
        Assert.That(node.Quadrotor().RemotePolicyFailures, Is.EqualTo(3), "three silent ticks, then the fallback flies (the MCU is not asked again)");
        Assert.That(mcu.Timeouts, Is.EqualTo(3));
        Assert.That(node.Quadrotor().LastCommand.Source, Is.EqualTo(ActionSource.Fallback));
    }

    [Test]
    public void TheNodeRefusesThePolicyOnTheMcuAtAnotherRateThanTheControlRate()
    {
        NodeConfig config = NodeConfig.Load(Repo("configs/nodes/crazyflie-sim.json")); // 500 Hz, the policy 100 Hz
        using var cable = SocatPtyPair.Start();
        using var mcu = new McuRemotePolicy(McuPolicyClient.OpenPty(cable.PathA), TimeSpan.FromMilliseconds(20));
        using var sim = new SimulatedQuadrotor(config.Quadrotor().Robot);
        using var node = QuadrotorController.CreateNode(config, _bundle, sim, sim);
        var e = Assert.Throws<PolicyMismatchException>(() => node.Quadrotor().UseRemotePolicy(mcu));
        Assert.That(e!.Message, Does.Contain("rate_hz (500").And.Contain("100 Hz"));
    }

    [TestCase("""{ "port": "/dev/ttyACM0", "emulated": true }""", "$.mcu.emulated", "exactly one of")]
    [TestCase("""{ }""", "$.mcu.port", "exactly one of")]
    [TestCase("""{ "emulated": true, "response_timeout_ms": 0 }""", "$.mcu.response_timeout_ms", "0.1")]
    [TestCase("""{ "emulated": true, "baud": 9600 }""", "$.mcu.baud", "unknown")]
    public void ABadMcuSectionNamesTheFileAndTheKey(string section, string path, string problem)
    {
        ConfigNode root = ConfigNode.Parse($$"""{ "mcu": {{section}} }""", "node.json");
        var e = Assert.Throws<ConfigException>(() => McuPolicyOptions.Read(root.Object("mcu")));
        Assert.That(e!.Message, Does.Contain("node.json").And.Contain(path).And.Contain(problem));
    }
}
