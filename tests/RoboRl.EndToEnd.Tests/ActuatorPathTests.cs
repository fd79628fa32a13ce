using System.Numerics;
using RoboRl.Core.Messages;
using RoboRl.Core.Policy;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Tests;
using RoboRl.Crazyflie;
using RoboRl.Node;
using RoboRl.Serial.Firmware;
using RoboRl.Sims.Quadrotor;

namespace RoboRl.EndToEnd.Tests;

/// <summary>
/// Issue 15, item 1: one action means one force on every path — the simulator's rotors, the on-board controller's force
/// mode through the firmware's battery compensation (<see cref="FirmwareActuator"/>, written from the firmware's
/// documented formulas) and the radio path's host-compensated motorPowerSet — for a policy trained by `roborl train`.
/// A trained policy holds no single hover action: it switches its motors between commands from tick to tick (at its
/// target, level and at rest, seed 1 answered 0.93, 0.68, −0.45, 0.03), and the motors' lag averages their speeds, so
/// the check is per action: every action it flies gives the same force on every path. The robot's hover action
/// (m·g/4 per motor) through every path, for every propeller set: tests/RoboRl.Core.Tests, ActuatorModelTests.
/// </summary>
public class ActuatorPathTests
{
    static double[] Paths(QuadrotorConfig robot, PropellerSet set, float action, double battery)
    {
        double simulator = robot.Thrust(robot.RpmFromAction(action));
        double onboard = FirmwareActuator.Thrust(set, FirmwareActuator.ForceModeDuty(set, [(action + 1) / 2.0], battery), battery)[0];
        var duty = new ushort[4];
        CrazyflieTransport.DutyCycles(robot.Actuator, new Vector4(robot.Actuator.ThrustFromAction(action)), (float)battery, duty);
        double radio = FirmwareActuator.Thrust(set, [duty[0]], battery)[0];
        return [simulator, onboard, radio];
    }

    /// <summary>
    /// Every action the trained policy flies while it holds a knocked hover in the node (lock-step, 500 Hz, 5 s) gives
    /// the same force on the three paths, tick by tick, at every battery voltage.
    /// </summary>
    [Test, CancelAfter(900_000)]
    public void EveryActionOfATrainedFlightGivesTheSameForceOnEveryPath()
    {
        PolicyBundle bundle = TrainedHoverPolicy.Bundle;
        NodeConfig config = NodeConfig.Load(Path.Combine(McuImages.RepositoryRoot, "configs", "nodes", "crazyflie-sim.json"));
        QuadrotorConfig robot = config.Quadrotor().Robot;
        using var sim = new SimulatedQuadrotor(robot, new SimulatedQuadrotorOptions { PhysicsHz = 1000, StartPosition = config.Quadrotor().Setpoint, NoiseStd = SimTransportConfig.From(config).NoiseStd }, 0);
        using var node = QuadrotorController.CreateNode(config, bundle, sim, sim);
        PropellerSet set = PropellerSet.Find(robot.Actuator.Propellers)!;
        long period = (long)Math.Round(1e9 / config.RateHz);
        double worst = 0;
        var seen = new HashSet<float>();
        for (int k = 1; k <= 5 * (int)config.RateHz; k++)
        {
            long t = k * period;
            sim.AdvanceTo(t);
            node.Tick(t, t);
            Assert.That(node.Mode, Is.EqualTo(NodeMode.Policy));
            if (k == 1) sim.Perturb(new Vector3(0.3f, 0, 0), new Vector3(0, 1, 0)); // knocked once the policy flies
            Vector4 a = node.Quadrotor().LastCommand.Action.AsVector4();
            foreach (float motor in new[] { a.X, a.Y, a.Z, a.W })
            {
                seen.Add(MathF.Round(motor, 2));
                double battery = 3.1 + (k % 12) * 0.1;
                double[] f = Paths(robot, set, motor, battery);
                worst = Math.Max(worst, Math.Max(Math.Abs(f[1] - f[0]), Math.Abs(f[2] - f[0])));
            }
        }
        TestContext.Out.WriteLine($"{seen.Count} distinct actions (0.01 bins); worst force difference between paths {worst * 1000:F4} mN");
        Assert.That(seen.Count, Is.GreaterThan(20), "the flight exercised a range of commands");
        Assert.That(worst, Is.LessThan(0.02 * robot.Mass * robot.Gravity / 4), "within 2 % of m·g/4");
    }
}
