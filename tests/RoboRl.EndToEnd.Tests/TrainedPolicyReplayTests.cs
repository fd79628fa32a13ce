using RoboRl.Core.Policy;
using RoboRl.Core.Quadrotor;
using RoboRl.Logs;
using RoboRl.Node;
using RoboRl.Replay;
using RoboRl.Serial.Firmware;
using RoboRl.Sims.Quadrotor;

namespace RoboRl.EndToEnd.Tests;

/// <summary>
/// `roborl replay --sim` as a user meets it: the trained policy (whose 500 Hz commands jump from tick to tick) flies the
/// simulated Crazyflie in REAL TIME with the shipped node config (sensor noise on), recorded as `roborl run --record`
/// records it. On its own plant the replay must reproduce the flight to ≤ 1 mm / 1 mrad; on a 30 % heavier plant it
/// must be clearly off. Before the simulator recorded its true state, this flight replayed at ~1 m / 2.3 rad.
/// </summary>
public class TrainedPolicyReplayTests
{
    [Test, CancelAfter(600_000)]
    public void A_real_time_flight_of_the_trained_policy_replays_on_its_own_plant_to_rounding()
    {
        PolicyBundle bundle = TrainedHoverPolicy.Bundle;
        NodeConfig config = NodeConfig.Load(Path.Combine(McuImages.RepositoryRoot, "configs", "nodes", "crazyflie-sim.json"));
        SimTransportConfig simConfig = SimTransportConfig.From(config);
        string dir = Path.Combine(Path.GetTempPath(), "roborl-e2e-replay-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "flight.mcap");

        using var sim = new SimulatedQuadrotor(config.Quadrotor().Robot, new SimulatedQuadrotorOptions
        {
            PhysicsHz = simConfig.PhysicsHz,
            StartPosition = simConfig.StartPosition,
            NoiseStd = simConfig.NoiseStd,
            Seed = simConfig.Seed,
        });
        var recorder = NodeRecorder.Create(path, bundle.ObservationSize, config.Recording.RingSlots, config.Recording.Compression,
            FlightLogMetadata.Build(bundle, config.RobotConfigJson, config.RateHz));
        ulong ticks;
        using (var node = QuadrotorController.CreateNode(config, bundle, sim, sim, recorder: recorder, groundTruth: sim))
        {
            sim.Start();
            node.Start();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (node.TickCount < 1500 && DateTime.UtcNow < deadline) Thread.Sleep(20);
            node.Stop();
            sim.Stop();
            ticks = node.TickCount;
            TestContext.Out.WriteLine($"{ticks} ticks, final mode {node.Mode}; {string.Join("; ", node.Events.Select(e => e.Describe()))}");
        }
        recorder.Dispose();
        Assert.That(recorder.Error, Is.Null);
        Assert.That(ticks, Is.GreaterThanOrEqualTo(1500UL));

        FlightLog log = FlightLog.Load(path);
        SimReplayResult same = SimReplay.Run(log, config.Quadrotor().Robot);
        SimReplayResult heavy = SimReplay.Run(log, config.Quadrotor().Robot with { Mass = config.Quadrotor().Robot.Mass * 1.3f }, config.Quadrotor().Robot);
        TestContext.Out.WriteLine($"own plant: {same.PositionRmseM:G3} m / {same.AttitudeRmseRad:G3} rad rms (max {same.PositionMaxM:G3} / {same.AttitudeMaxRad:G3}) " +
                                  $"over {same.Windows.Count} windows; 1.3x mass: {heavy.PositionRmseM:G3} m rms");
        Assert.That(same.Reference, Is.EqualTo("ground_truth"));
        Assert.That(same.Duration, Is.GreaterThan(2.5));
        Assert.That(same.PositionMaxM, Is.LessThanOrEqualTo(1e-3));
        Assert.That(same.AttitudeMaxRad, Is.LessThanOrEqualTo(1e-3));
        Assert.That(heavy.PositionRmseM, Is.GreaterThan(0.01));
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
    }
}
