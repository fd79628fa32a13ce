using System.Text.Json.Nodes;
using RoboRl.Core.Configs;
using RoboRl.Core.Quadrotor;

namespace RoboRl.Core.Tests;

public class ActuatorModelTests
{
    static readonly double[] Batteries = [3.1, 3.5, 3.7, 4.0, 4.2];

    /// <summary>A robot config on <paramref name="set"/>'s propellers, its actuation section the firmware's constants, as a user writes it.</summary>
    static QuadrotorConfig RobotOn(PropellerSet set, double mass)
    {
        string file = RepoFiles.EditedCopy(RepoFiles.RobotFile, o =>
        {
            o["mass"] = mass;
            o["rpm_max"] = Math.Ceiling(1.05 * Math.Sqrt(set.ThrustMaxN / 3.16e-10)); // rotors that reach THRUST_MAX
            o["actuation"] = new JsonObject
            {
                ["propellers"] = set.Name,
                ["battery_compensation"] = true,
                ["thrust_max_n"] = set.ThrustMaxN,
                ["thrust_min_n"] = set.ThrustMinN,
                ["motor_voltage_to_thrust"] = new JsonArray(set.MotorVoltageToThrust.Select(c => (JsonNode)c).ToArray()),
            };
        });
        return QuadrotorConfig.Load(file);
    }

    /// <summary>
    /// For every propeller set the firmware knows: the hover action (force m·g/4 per motor) through each path gives
    /// m·g/4 within 2 % — the simulator's rotors, the on-board controller's force mode through the firmware's battery
    /// compensation, and the radio path's host-compensated motorPowerSet — at every battery voltage from nearly empty
    /// to full. (With a trained policy: tests/RoboRl.EndToEnd.Tests, ActuatorPathTests.)
    /// </summary>
    [Test]
    public void TheHoverActionGivesTheWeightOnEveryPathForEveryPropellerSet()
    {
        foreach (PropellerSet set in PropellerSet.Known)
        {
            QuadrotorConfig robot = RobotOn(set, mass: set.ThrustMaxN * 4 * 0.55 / 9.81); // hover at 55 % of THRUST_MAX
            double weightShare = robot.Mass * robot.Gravity / 4;
            float hover = robot.HoverAction();
            double[] actions = [hover, hover, hover, hover];

            double simulator = robot.Thrust(robot.RpmFromAction(hover));
            Assert.That(simulator, Is.EqualTo(weightShare).Within(0.02 * weightShare), $"{set.Name}: simulator");

            foreach (double battery in Batteries)
            {
                double[] onboard = FirmwareActuator.Thrust(set, FirmwareActuator.ForceModeDuty(set, actions.Select(a => (a + 1) / 2).ToArray(), battery), battery);
                Assert.That(onboard, Has.All.EqualTo(weightShare).Within(0.02 * weightShare), $"{set.Name} at {battery} V: on-board force mode");

                var duty = new ushort[4];
                float[] forces = actions.Select(a => robot.Actuator.ThrustFromAction((float)a)).ToArray();
                robot.Actuator.MotorPowerFromThrust(forces, (float)battery, duty);
                double[] radio = FirmwareActuator.Thrust(set, duty.Select(d => (long)d), battery);
                Assert.That(radio, Has.All.EqualTo(weightShare).Within(0.02 * weightShare), $"{set.Name} at {battery} V: radio (motorPowerSet)");
            }
        }
    }

    /// <summary>Not only at hover: any command gives the same force on the three paths (the firmware caps what a low battery cannot give).</summary>
    [Test]
    public void EveryCommandGivesTheSameForceOnEveryPath()
    {
        PropellerSet set = PropellerSet.Find("crazyflie-2.1-plus")!;
        QuadrotorConfig robot = QuadrotorConfig.Load(RepoFiles.RobotFile);
        var random = new Random(3);
        for (int k = 0; k < 500; k++)
        {
            double[] actions = Enumerable.Range(0, 4).Select(_ => random.NextDouble() * 2 - 1).ToArray();
            double battery = 3.1 + random.NextDouble() * 1.1;
            double[] onboard = FirmwareActuator.Thrust(set, FirmwareActuator.ForceModeDuty(set, actions.Select(a => (a + 1) / 2).ToArray(), battery), battery);
            var duty = new ushort[4];
            float[] forces = actions.Select(a => robot.Actuator.ThrustFromAction((float)a)).ToArray();
            robot.Actuator.MotorPowerFromThrust(forces, (float)battery, duty);
            double[] radio = FirmwareActuator.Thrust(set, duty.Select(d => (long)d), battery);
            for (int i = 0; i < 4; i++)
            {
                double simulator = robot.Thrust(robot.RpmFromAction((float)actions[i]));
                Assert.That(onboard[i], Is.EqualTo(simulator).Within(2e-4), $"on-board vs simulator, a = {actions[i]:F3} at {battery:F2} V");
                Assert.That(radio[i], Is.EqualTo(simulator).Within(2e-4), $"radio vs simulator, a = {actions[i]:F3} at {battery:F2} V");
            }
        }
    }

    [Test]
    public void TheFirmwareNeverGivesMoreThanThrustMaxAndNothingBelowThrustMin()
    {
        QuadrotorConfig robot = QuadrotorConfig.Load(RepoFiles.RobotFile);
        Assert.That(robot.Actuator.ThrustFromAction(1), Is.EqualTo(0.12f));
        Assert.That(robot.Actuator.ThrustFromAction(5), Is.EqualTo(0.12f));
        Assert.That(robot.Actuator.ThrustFromAction(-1), Is.Zero);
        float justBelowMin = 2 * 0.0128f / 0.12f - 1 - 1e-3f;
        Assert.That(robot.Actuator.ThrustFromAction(justBelowMin), Is.Zero, "below THRUST_MIN the compensation switches the motor off");
        // The L2F mapping flew the same actions at up to 0.149 N per motor: 1.24 × what the firmware gives.
        Assert.That(3.16e-10 * 21702.0 * 21702.0 / robot.Actuator.ThrustFromAction(1), Is.EqualTo(1.24).Within(0.01));
    }

    [TestCase("propellers", "\"wooden\"", "$.actuation.propellers", "unknown propeller set \"wooden\"; expected \"crazyflie-2.1-plus\"")]
    [TestCase("thrust_max_n", "0.149", "$.actuation.thrust_max_n", "does not match the firmware's crazyflie-2.1-plus value 0.119999997")]
    [TestCase("motor_voltage_to_thrust", "[0, 0.07, 0, 0]", "$.actuation.motor_voltage_to_thrust", "does not match the firmware's crazyflie-2.1-plus fit")]
    [TestCase("thrust_max_n", "0.06", "$.actuation.thrust_max_n", "cannot hover: a full command gives 0.06 N per motor, the weight needs more than 0.06622 N")]
    public void ABadActuationSectionNamesTheFileTheFieldAndWhatWasExpected(string key, string value, string path, string problem)
    {
        string file = RepoFiles.EditedCopy(RepoFiles.RobotFile, o =>
        {
            JsonObject actuation = o["actuation"]!.AsObject();
            if (key == "thrust_max_n" && value == "0.06") actuation["propellers"] = "custom";
            actuation[key] = JsonNode.Parse(value);
        });
        var e = Assert.Throws<ConfigException>(() => QuadrotorConfig.Load(file))!;
        Assert.That(e.File, Is.EqualTo(file));
        Assert.That(e.JsonPath, Is.EqualTo(path));
        Assert.That(e.Message, Does.Contain(problem));
    }

    [Test]
    public void ARobotWithoutAnActuationSectionIsRefused()
    {
        string file = RepoFiles.EditedCopy(RepoFiles.RobotFile, o => o.Remove("actuation"));
        var e = Assert.Throws<ConfigException>(() => QuadrotorConfig.Load(file))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.actuation"));
        Assert.That(e.Message, Does.Contain("missing required key"));
    }

    [Test]
    public void RotorsThatCannotReachThrustMaxAreRefused()
    {
        string file = RepoFiles.EditedCopy(RepoFiles.RobotFile, o => o["rpm_max"] = 18000);
        var e = Assert.Throws<ConfigException>(() => QuadrotorConfig.Load(file))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.rpm_max"));
        Assert.That(e.Message, Does.Contain("cannot make the actuator's full force 0.12 N"));
    }

    [Test]
    public void CustomPropellersAreAcceptedWithTheirOwnConstants()
    {
        string file = RepoFiles.EditedCopy(RepoFiles.RobotFile, o =>
        {
            o["actuation"]!["propellers"] = "custom";
            o["actuation"]!["thrust_max_n"] = 0.1;
        });
        Assert.That(QuadrotorConfig.Load(file).Actuator.ThrustMaxN, Is.EqualTo(0.1f));
    }
}
