using System.Numerics;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Robots;
using RoboRl.Logs;
using RoboRl.Node;
using RoboRl.Sims.Quadrotor;

namespace RoboRl.Replay.Tests;

public static class Flights
{
    public static string Repo(string relative)
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir != null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException(relative);
    }

    public static string RobotFile => Repo("configs/robots/crazyflie21.json");

    public static string TempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "roborl-replay-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static QuadrotorConfig Perturbed(QuadrotorConfig robot, float massFactor, float thrustFactor, float tau) => robot with
    {
        Mass = robot.Mass * massFactor,
        ThrustPolynomial = robot.ThrustPolynomial * thrustFactor,
        MotorTimeConstant = tau,
    };
}

/// <summary>
/// Logs flown by the real InferenceNode (configs/nodes/crazyflie-sim.json: 500 Hz, the shipped sensor noise) in
/// lock-step with the simulated Crazyflie, recorded by the node's recorder as `roborl run --record` does.
/// </summary>
public static class NodeFlights
{
    public static string NodeFile => Flights.Repo("configs/nodes/crazyflie-sim.json");

    public static Core.Policy.PolicyBundle Bundle() => Cli.Commands.BenchNodeCommand.HoverShapedBundle(Flights.RobotFile);

    /// <summary>
    /// A flight on the simulated Crazyflie itself, its true state recorded (/ground_truth) as `roborl run` records it.
    /// The bundle flies, or, with <paramref name="pilot"/>, a scripted pilot through the teleop take-over.
    /// </summary>
    public static void Fly(string path, Core.Policy.PolicyBundle bundle, QuadrotorConfig? plant = null, double seconds = 2, ScriptedPilot? pilot = null,
        bool noise = true)
    {
        NodeConfig config = NodeConfig.Load(NodeFile);
        var sim = new SimulatedQuadrotor(plant ?? config.Quadrotor().Robot, SimOptions(config, noise), 0);
        Record(path, config, bundle, sim, sim, sim.AdvanceTo, sim, seconds, pilot);
    }

    /// <summary>
    /// An identification flight as a user flies it on a real Crazyflie: the node, flown by a scripted pilot
    /// (<paramref name="manoeuvre"/>: how far it climbs and moves; 0 hovers), against a plant that differs from the
    /// model as <paramref name="differences"/> says, with the shipped sensor noise; no ground truth in the log.
    /// </summary>
    public static void FlyRealistic(string path, QuadrotorConfig plant, PlantDifferences differences, double seconds, double manoeuvre = 1,
        double multiSine = 0.05, int seed = 1)
    {
        NodeConfig config = NodeConfig.Load(NodeFile);
        var sim = new SimulatedQuadrotor(plant, SimOptions(config, noise: true) with { Seed = seed }, 0);
        var robot = new RealisticPlant(sim, config.Quadrotor().Robot, differences);
        var pilot = new ScriptedPilot(config.Quadrotor().Robot, config.Quadrotor().Setpoint, manoeuvre, multiSine, seed: seed, rotorRpm: () => sim.TrueState.RotorRpm);
        Record(path, config, Bundle(), robot, robot, robot.AdvanceTo, groundTruth: null, seconds, pilot);
    }

    private static SimulatedQuadrotorOptions SimOptions(NodeConfig config, bool noise) => new()
    {
        // Hovering at the setpoint: the shipped config starts on the floor and takes off first.
        PhysicsHz = SimTransportConfig.From(config).PhysicsHz,
        StartPosition = config.Quadrotor().Setpoint,
        NoiseStd = noise ? SimTransportConfig.From(config).NoiseStd : Vector4.Zero,
        Seed = SimTransportConfig.From(config).Seed,
    };

    private static void Record(string path, NodeConfig config, Core.Policy.PolicyBundle bundle, ISensorSource sensor, IActuatorSink actuator,
        Action<long> advanceTo, IGroundTruthSource? groundTruth, double seconds, ScriptedPilot? pilot)
    {
        var metadata = FlightLogMetadata.Build(bundle, config.RobotConfigJson, config.RateHz);
        using (var recorder = new NodeRecorder(new FileStream(path, FileMode.Create), path, bundle.ObservationSize, 1 << 15, clockToEpochNs: 1_000_000_000,
                   compression: McapCompression.Zstd, flightMetadata: metadata))
        {
            using var node = QuadrotorController.CreateNode(config, bundle, sensor, actuator, recorder: recorder, groundTruth: groundTruth);
            if (pilot is not null) node.AddTeleop(pilot);
            long period = (long)(1e9 / config.RateHz), now = 0;
            while (now < seconds * 1e9)
            {
                now += period;
                advanceTo(now);
                if (pilot is not null && sensor.TryGetLatest(out RobotStateSample state)) pilot.Update(in state, now);
                node.Tick(now, now);
            }
            Assert.That(node.Mode, Is.EqualTo(pilot is null ? Core.Messages.NodeMode.Policy : Core.Messages.NodeMode.Human),
                $"the flight ended in {node.Mode}: {string.Join("; ", node.Events.Select(e => e.Describe()))}");
            Assert.That(recorder.Dropped, Is.EqualTo(0));
        }
    }
}
