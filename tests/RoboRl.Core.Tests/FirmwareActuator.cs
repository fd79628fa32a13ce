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
