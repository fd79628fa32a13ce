using System.Text.Json.Nodes;
using RoboRl.Core.Configs;
using RoboRl.Core.Quadrotor;

namespace RoboRl.Core.Tests;

/// <summary>
/// The Crazyflie firmware's actuator path, written here from its documented behaviour (crazyflie-firmware release
/// 2026.08; the formulas, not its code), independently of <see cref="ActuatorModel"/>:
/// <list type="bullet">
/// <item>force mode (src/modules/src/power_distribution_quadrotor.c, powerDistributionForce): normalizedForces[i] is
///   clamped to [0, 1] and scaled to a uint16 "thrust" f·65535;</item>
/// <item>battery compensation (src/drivers/src/motors.c, motorsCompensateBatteryVoltage, CONFIG_ENABLE_THRUST_BAT_COMPENSATED):
///   that integer is a force (i/65535)·THRUST_MAX; below THRUST_MIN (or a battery under 2 V) the motor is off; else
///   the motor voltage v solving the propellers' cubic thrust(v) = force (platform_defaults_cf2.h, VMOTOR2THRUST0..3)
///   over the supply voltage is the duty ratio, ·65535;</item>
/// <item>capping (powerDistributionCap): if any motor's value exceeds 65535, all are lowered by the excess;</item>
/// <item>the motors: voltage = V_battery · duty / 65535, and the propellers make thrust(voltage);</item>
/// <item>the radio path's motorPowerSet.m1..m4 (motors.c, motorSetEnable = 1) replace the duty as they are.</item>
/// </list>
/// The cubic is inverted here with Newton's method (the firmware uses Cardano's formula, ActuatorModel bisection).
/// </summary>
public static class FirmwareActuator
{
    public static double Fit(PropellerSet p, double volts)
    {
        float[] c = p.MotorVoltageToThrust;
        return c[0] + c[1] * volts + c[2] * volts * volts + c[3] * volts * volts * volts;
    }

    static double SolveVoltage(PropellerSet p, double force)
    {
        double v = 3.0;
        for (int i = 0; i < 50; i++)
        {
            float[] c = p.MotorVoltageToThrust;
            double slope = c[1] + 2 * c[2] * v + 3 * c[3] * v * v;
            v -= (Fit(p, v) - force) / slope;
        }
        return v;
    }

    /// <summary>The duty cycles (0..65535) the firmware sets for the out-of-tree controller's normalizedForces, compensated.</summary>
    public static long[] ForceModeDuty(PropellerSet p, double[] normalizedForces, double batteryVolts)
    {
        var raw = new long[normalizedForces.Length];
        for (int i = 0; i < raw.Length; i++)
        {
            double f = Math.Clamp(normalizedForces[i], 0, 1);
            long thrustInt = (long)(f * 65535);
            double force = thrustInt / 65535.0 * p.ThrustMaxN;
            raw[i] = batteryVolts < 2 || force < p.ThrustMinN ? 0 : (long)(65535 * SolveVoltage(p, force) / batteryVolts);
        }
        long excess = Math.Max(0, raw.Max() - 65535);
        return raw.Select(r => Math.Max(0, r - excess)).ToArray();
    }

    /// <summary>The thrust each motor makes at these duty cycles, N.</summary>
    public static double[] Thrust(PropellerSet p, IEnumerable<long> duty, double batteryVolts) =>
        duty.Select(d => Math.Max(0, Fit(p, batteryVolts * d / 65535.0))).ToArray();
}

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
