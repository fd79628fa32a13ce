using System.Numerics;
using System.Text.Json.Nodes;
using RoboRl.Core.Messages;
using RoboRl.Core.Robots;
using RoboRl.Core.Tasks;
using RoboRl.Logs;
using RoboRl.Logs.Tests;

namespace RoboRl.Node.Tests;

public class RecorderTests
{
    private static readonly int ObservationSize = HoverObservation.ActorSize(32);

    /// <summary>A flight with a human intervention and a geofence trip, recorded; the file is read back by Foxglove's own npm libraries and by LogChecker.</summary>
    [TestCase(McapCompression.Zstd)]
    [TestCase(McapCompression.None)]
    public void FlightLogIsReadByTheIndependentReaderAndPassesLogCheck(McapCompression compression)
    {
        string path = Path.Combine(RepoFiles.TempDir(), "flight.mcap");
        var recorder = NodeRecorder.Create(path, ObservationSize, 1 << 16, compression);
        ulong ticks;
        using (var run = new LockStep(recorder: recorder))
        {
            var teleop = new HeldTeleop { Has = true };
            run.Node.AddTeleop(teleop);
            run.Run(0.3);
            teleop.Sample = new TeleopSample { TimestampNs = run.NowNs + run.PeriodNs, Kind = TeleopKind.TakeOver, Action = new Vector4(0.35f) };
            run.Run(0.1, () => teleop.Sample = new TeleopSample { TimestampNs = run.NowNs + run.PeriodNs, Kind = TeleopKind.TakeOver, Action = new Vector4(0.35f) });
            teleop.Has = false;
            run.Run(0.3);
            Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Policy));
            run.Sim.InjectNonFiniteSample();
            run.Step();
            run.Run(0.5);
            ticks = run.Node.TickCount;
        }
        recorder.Dispose();
        Assert.That(recorder.Error, Is.Null);
        Assert.That(recorder.Dropped, Is.EqualTo(0));

        LogCheckReport report = LogChecker.Check(path);
        Assert.That(report.IsValid, Is.True, string.Join("\n", report.Errors));

        JsonObject result = NodeVerifier.Verify(path);
        Assert.That(result["header"]!["profile"]!.GetValue<string>(), Is.EqualTo("ros2"));
        var topics = result["topics"]!.AsObject();
        foreach (string topic in new[] { "/pose", "/velocity", "/imu", "/setpoint", "/action" })
            Assert.That(topics[topic]?.GetValue<int>(), Is.EqualTo((int)ticks), topic);
        Assert.That(topics["/observation"]!.GetValue<int>(), Is.LessThan((int)ticks).And.GreaterThan((int)ticks / 2), "the policy ran until the trip");
        Assert.That(topics["/tick_stats"]!.GetValue<int>(), Is.EqualTo((int)ticks / 50), "10 Hz windows at 500 Hz");
        var schemas = result["schemas"]!.AsArray().Select(s => s!["name"]!.GetValue<string>()).ToHashSet();
        Assert.That(schemas, Is.SupersetOf(new[] { "geometry_msgs/msg/PoseStamped", "geometry_msgs/msg/TwistStamped", "sensor_msgs/msg/Imu",
            "roborl_msgs/msg/Observation", "roborl_msgs/msg/Action", "roborl_msgs/msg/Mode", "roborl_msgs/msg/TickStats", "diagnostic_msgs/msg/DiagnosticArray" }));

        var messages = result["messages"]!.AsArray().Select(m => m!.AsObject()).ToList();
        var modes = messages.Where(m => m["topic"]!.GetValue<string>() == "/mode").Select(m => m["data"]!).ToList();
        Assert.That(modes.Select(m => m["name"]!.GetValue<string>()), Is.EqualTo(new[] { "POLICY", "HUMAN", "POLICY", "FALLBACK" }));
        Assert.That(modes[3]["reason"]!.GetValue<string>(), Is.EqualTo("NaN/Inf in observation element 0"));
        Assert.That(modes[3]["mode"]!.GetValue<int>(), Is.EqualTo((int)NodeMode.Fallback));

        var diagnostics = messages.Where(m => m["topic"]!.GetValue<string>() == "/diagnostics").ToList();
        Assert.That(diagnostics, Has.Count.EqualTo(1));
        var status = diagnostics[0]["data"]!["status"]![0]!;
        Assert.That(status["level"]!.GetValue<int>(), Is.EqualTo(2));
        Assert.That(status["message"]!.GetValue<string>(), Is.EqualTo("FALLBACK: NaN/Inf in observation element 0"));
        Assert.That(status["values"]!.AsArray().Any(kv => kv!["key"]!.GetValue<string>() == "trigger" && kv["value"]!.GetValue<string>() == "NonFiniteObservation"));

        var actions = messages.Where(m => m["topic"]!.GetValue<string>() == "/action").Select(m => m["data"]!).ToList();
        var human = actions.Where(a => a["intervention"]!.GetValue<bool>()).ToList();
        Assert.That(human, Has.Count.EqualTo(50), "0.1 s of intervention at 500 Hz");
        Assert.That(human.All(a => a["source"]!.GetValue<int>() == (int)ActionSource.Human));
        Assert.That(human[0]["human_values"]!.AsArray().Select(v => v!.GetValue<double>()), Is.EqualTo(new[] { 0.35f, 0.35f, 0.35f, 0.35f }.Select(f => (double)f)));
        Assert.That(human[0]["policy_values"]!.AsArray().Count, Is.EqualTo(4), "the policy's proposal is kept next to the human's action");
        Assert.That(actions.Last()["source"]!.GetValue<int>(), Is.EqualTo((int)ActionSource.Fallback));

        var observation = messages.First(m => m["topic"]!.GetValue<string>() == "/observation")["data"]!;
        Assert.That(observation["values"]!.AsArray().Count, Is.EqualTo(ObservationSize));
        var pose = messages.First(m => m["topic"]!.GetValue<string>() == "/pose")["data"]!;
        Assert.That(pose["header"]!["frame_id"]!.GetValue<string>(), Is.EqualTo("world"));
        Assert.That(pose["pose"]!["position"]!["z"]!.GetValue<double>(), Is.EqualTo(1.0).Within(0.01));
    }

    /// <summary>/dev/full answers every write with ENOSPC: recording stops with a clear error, the node keeps flying.</summary>
    [Test]
    public void FullDiskStopsRecordingButNotTheNode()
    {
        if (!File.Exists("/dev/full"))
        {
            if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail("/dev/full is missing");
            Assert.Inconclusive("no /dev/full on this system");
        }
        var recorder = new NodeRecorder(new FileStream("/dev/full", FileMode.Open, FileAccess.Write), "/dev/full", ObservationSize, 1024);
        using var run = new LockStep(recorder: recorder);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (recorder.Error is null && DateTime.UtcNow < deadline) run.Run(0.1);
        Assert.That(recorder.Error, Does.StartWith("recording stopped: ").And.Contain("/dev/full").And.Contain("keeps running"));
        ulong before = run.Node.TickCount;
        run.Run(1.0);
        Assert.That(run.Node.TickCount - before, Is.EqualTo(500UL));
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Policy));
        Assert.That(recorder.Dropped, Is.GreaterThan(0), "records after the failure are dropped, not queued");
        recorder.Dispose();
    }

    [Test]
    public void AFullRingDropsAndCountsInsteadOfBlocking()
    {
        // A recorder whose stream never accepts data quickly enough cannot hold the tick: records beyond the ring are dropped.
        var slow = new SlowStream();
        var recorder = new NodeRecorder(slow, "slow", ObservationSize, 16);
        var log = new QuadrotorNodeLog(groundTruth: null);
        recorder.Attach(log);
        var record = new TickRecord();
        var obs = new float[ObservationSize];
        var state = new byte[log.StateBytes];
        for (int i = 0; i < 1000; i++) recorder.RecordTick(in record, obs, state);
        Assert.That(recorder.Dropped, Is.GreaterThan(0));
        slow.Release.Set();
        recorder.Dispose();
        Assert.That(recorder.Dropped + recorder.Written, Is.EqualTo(1000));
    }

    /// <summary>A stream whose first write waits until released (a stalled disk).</summary>
    private sealed class SlowStream : MemoryStream
    {
        public readonly ManualResetEventSlim Release = new();
        public override void Write(ReadOnlySpan<byte> buffer) { Release.Wait(TimeSpan.FromSeconds(60)); base.Write(buffer); }
        public override void Write(byte[] buffer, int offset, int count) { Release.Wait(TimeSpan.FromSeconds(60)); base.Write(buffer, offset, count); }
    }

    [Test]
    public void A_simulated_robots_true_state_is_recorded_with_each_tick_and_the_tick_still_allocates_nothing()
    {
        NodeConfig config = NodeConfig.Load(RepoFiles.NodeFile);
        SimTransportConfig section = SimTransportConfig.From(config);
        var sim = new RoboRl.Sims.Quadrotor.SimulatedQuadrotor(config.Quadrotor().Robot, new RoboRl.Sims.Quadrotor.SimulatedQuadrotorOptions
        {
            PhysicsHz = section.PhysicsHz,
            StartPosition = section.StartPosition,
            NoiseStd = section.NoiseStd,
            Seed = 2,
        }, 0);
        string path = Path.Combine(RepoFiles.TempDir(), "truth.mcap");
        var recorder = NodeRecorder.Create(path, ObservationSize, 1 << 16, McapCompression.None);
        long now = 0, period = (long)(1e9 / config.RateHz);
        var truths = new List<RobotStateSample>();
        using (var node = QuadrotorController.CreateNode(config, TestPolicies.ConstantHover(config.RobotPath), sim, sim, recorder: recorder, groundTruth: sim))
        {
            void Tick() { now += period; sim.AdvanceTo(now); node.Tick(now, now); }
            for (int i = 0; i < 250; i++) { Tick(); truths.Add(sim.TrueState); } // warm-up: JIT, arming
            long allocated = AllocationMeter.FewestBytes(() => { for (int i = 0; i < 500; i++) Tick(); });
            Assert.That(allocated, Is.EqualTo(0), $"{allocated} bytes in the least-allocating batch of 500 ticks with ground truth recorded");
        }
        recorder.Dispose();
        Assert.That(recorder.Error, Is.Null);
        Assert.That(recorder.Dropped, Is.EqualTo(0));

        using McapStreamReader reader = McapStreamReader.Open(path);
        var messages = reader.ReadMessages().Where(m => m.Channel.Topic == FlightLogMetadata.GroundTruthTopic).ToList();
        McapChannel channel = reader.Channels.Values.Single(c => c.Topic == FlightLogMetadata.GroundTruthTopic);
        Assert.That(channel.Metadata[FlightLogMetadata.PhysicsStepNs], Is.EqualTo("1000000"));
        Assert.That(messages, Has.Count.EqualTo(250 + 3 * 500), "one per tick");
        for (int k = 0; k < 250; k++)
        {
            GroundTruthMsg g = Cdr.Read<GroundTruthMsg>(messages[k].Data.Span);
            Assert.That(g.Tick, Is.EqualTo((ulong)k));
            Assert.That((float)g.Pose.Position.Z, Is.EqualTo(truths[k].Position.Z), "the true state, not the noisy sample");
            Assert.That((float)g.AngularVelocity.X, Is.EqualTo(truths[k].AngularVelocityBody.X));
            Assert.That(g.RotorRpm.Span[2], Is.EqualTo(truths[k].RotorRpm.Z));
            // In lock-step the tick's command acts from the tick on; log time = node time + the recorder's clock offset.
            Assert.That(g.CommandEffective.ToNanoseconds() - g.Header.Stamp.ToNanoseconds(), Is.EqualTo(0));
        }

        // Foxglove's own readers decode it from the recorded ros2msg schema.
        JsonObject verified = NodeVerifier.Verify(path, withMessages: false);
        Assert.That(verified["topics"]![FlightLogMetadata.GroundTruthTopic]!.GetValue<int>(), Is.EqualTo(messages.Count));
        Assert.That(verified["schemas"]!.AsArray().Select(x => x!["name"]!.GetValue<string>()), Does.Contain("roborl_msgs/msg/GroundTruth"));
    }

    [Test]
    public void A_real_robots_log_has_no_ground_truth_channel()
    {
        string path = Path.Combine(RepoFiles.TempDir(), "real.mcap");
        var recorder = NodeRecorder.Create(path, ObservationSize, 1 << 10);
        using (var run = new LockStep(recorder: recorder)) run.Run(0.1);
        recorder.Dispose();
        using McapStreamReader reader = McapStreamReader.Open(path);
        Assert.That(reader.Channels.Values.Select(c => c.Topic), Does.Not.Contain(FlightLogMetadata.GroundTruthTopic));
    }
}
