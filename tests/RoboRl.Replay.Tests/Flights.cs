using System.Numerics;
using RoboRl.Core.Messages;
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

    /// <summary>
    /// A flight recorded by the node's recorder in lock-step with the simulated robot (no sensor noise), flown by the
    /// node's fallback controller (tuned for <paramref name="robotJson"/>) on the plant <paramref name="plant"/>, with a
    /// multi-sine on each rotor so that translation and rotation are both excited (what an identification flight does).
    /// </summary>
    public static void Fly(string path, string robotJson, QuadrotorConfig plant, double seconds, double excitation = 0.05, int rateHz = 500)
    {
        QuadrotorConfig robot = QuadrotorConfig.Read(Core.Configs.ConfigNode.Parse(robotJson, "robot"));
        var sim = new SimulatedQuadrotor(plant, new SimulatedQuadrotorOptions { PhysicsHz = 1000, StartPosition = new Vector3(0, 0, 1) }, 0);
        var controller = new QuadrotorFallbackController(robot, new FallbackConfig { HoldS = 1e6f, LandingSpeedMS = 0.3f, LandedHeightM = 0.03f });
        var metadata = new Dictionary<string, string>
        {
            [FlightLogMetadata.RobotConfig] = robotJson,
            [FlightLogMetadata.RobotSha256] = Core.Policy.PolicyBundle.RobotConfigHash(robotJson),
        };
        using (var recorder = new NodeRecorder(new FileStream(path, FileMode.Create), path, 4, 1 << 15, clockToEpochNs: 1_000_000_000,
                   compression: McapCompression.None, flightMetadata: metadata))
        {
            sim.TryGetLatest(out RobotStateSample state);
            controller.Engage(in state, 0, landNow: false);
            long period = 1_000_000_000L / rateHz, now = 0;
            var action = new float[4];
            double[] frequencies = [1.3, 2.1, 3.7, 5.3];
            for (ulong tick = 0; now < seconds * 1e9; tick++)
            {
                now += period;
                sim.AdvanceTo(now);
                sim.TryGetLatest(out state);
                controller.Compute(in state, now, action);
                double t = now * 1e-9;
                for (int m = 0; m < 4; m++) action[m] = Math.Clamp(action[m] + (float)(excitation * Math.Sin(2 * Math.PI * frequencies[m] * t)), -1f, 1f);
                var applied = new Vector4(action[0], action[1], action[2], action[3]);
                sim.Send(new ActuatorCommand
                {
                    TimestampNs = now, Action = applied, Source = ActionSource.Fallback,
                    RotorRpm = new Vector4(robot.RpmFromAction(applied.X), robot.RpmFromAction(applied.Y), robot.RpmFromAction(applied.Z), robot.RpmFromAction(applied.W)),
                });
                recorder.RecordTick(new TickRecord
                {
                    TimestampNs = now, Tick = tick, HasState = true, State = state, Setpoint = new Vector3(0, 0, 1),
                    PolicyRan = true, PolicyAction = applied, Action = applied, Source = ActionSource.Fallback, Mode = NodeMode.Fallback,
                }, new float[4]);
            }
            Assert.That(sim.TouchedFloor, Is.False, "the identification flight must stay airborne");
        }
    }

    public static QuadrotorConfig Perturbed(QuadrotorConfig robot, float massFactor, float thrustFactor, float tau) => robot with
    {
        Mass = robot.Mass * massFactor, ThrustPolynomial = robot.ThrustPolynomial * thrustFactor, MotorTimeConstant = tau,
    };
}

/// <summary>Logs flown by the real InferenceNode in lock-step with the simulated Crazyflie (no sensor noise).</summary>
public static class NodeFlights
{
    public static string NodeFile => Flights.Repo("configs/nodes/crazyflie-sim.json");

    public static Core.Policy.PolicyBundle Bundle() => Cli.Commands.BenchNodeCommand.HoverShapedBundle(Flights.RobotFile);

    public static void Fly(string path, Core.Policy.PolicyBundle bundle, QuadrotorConfig? plant = null, double seconds = 2)
    {
        NodeConfig config = NodeConfig.Load(NodeFile);
        var sim = new SimulatedQuadrotor(plant ?? config.Robot, new SimulatedQuadrotorOptions { PhysicsHz = 1000, StartPosition = config.Setpoint }, 0);
        var metadata = FlightLogMetadata.Build(bundle, File.ReadAllText(config.RobotPath), config.RateHz);
        using (var recorder = new NodeRecorder(new FileStream(path, FileMode.Create), path, bundle.ObservationSize, 1 << 15, clockToEpochNs: 1_000_000_000,
                   compression: McapCompression.Zstd, flightMetadata: metadata))
        {
            var node = new InferenceNode(config, bundle, sim, sim, recorder: recorder);
            long period = (long)(1e9 / config.RateHz), now = 0;
            while (now < seconds * 1e9)
            {
                now += period;
                sim.AdvanceTo(now);
                node.Tick(now, now);
            }
            Assert.That(node.Mode, Is.EqualTo(NodeMode.Policy));
        }
    }
}
