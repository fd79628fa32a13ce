using System.Runtime.CompilerServices;
using RoboRl.Core.Configs;

namespace RoboRl.Core.Quadrotor;

/// <summary>
/// A propeller set as a flight controller's firmware knows it: the maximum and minimum thrust per motor it will
/// command, its fit of thrust against motor voltage and its thrust-to-torque ratio. These are the constants the
/// firmware's force mode and battery compensation use, so the simulator, the exported C header and every node
/// transport derive the same force from one action.
/// </summary>
/// <param name="Name">The name robot configs use ("propellers").</param>
/// <param name="ThrustMaxN">THRUST_MAX: the force a normalised command of 1 means, per motor, N.</param>
/// <param name="ThrustMinN">THRUST_MIN: below it the battery compensation switches the motor off, N.</param>
/// <param name="MotorVoltageToThrust">VMOTOR2THRUST0..3: thrust (N) = c0 + c1·v + c2·v² + c3·v³, v the motor voltage.</param>
/// <param name="ThrustToTorque">THRUST2TORQUE: yaw torque per newton of thrust, m.</param>
/// <param name="Source">Where the constants are defined.</param>
public sealed record PropellerSet(string Name, float ThrustMaxN, float ThrustMinN, float[] MotorVoltageToThrust, float ThrustToTorque, string Source)
{
    private const string Cf2Header = "bitcraze/crazyflie-firmware (release 2026.08) src/platform/interface/platform_defaults_cf2.h";

    /// <summary>The firmware's propeller sets (Kconfig CRAZYFLIE_21_PLUS, CRAZYFLIE_THRUST_UPGRADE_KIT, CRAZYFLIE_LEGACY_PROPELLERS; the Brushless).</summary>
    public static IReadOnlyList<PropellerSet> Known { get; } =
    [
        new("crazyflie-2.1-plus", 0.12f, 0.012817578393224994f,
            [-0.02476537915958403f, 0.06523793527519485f, -0.026792504967750107f, 0.006776789303971145f], 0.0069928948992470565f,
            Cf2Header + ", CONFIG_CRAZYFLIE_21_PLUS (the default since 2025)"),
        new("crazyflie-thrust-upgrade", 0.18f, 0.01922636758983749f,
            [0.006728127583707208f, 0.01011557616217668f, 0.010263198062061085f, 0.0028358638322392503f], 0.0051648627905205285f,
            Cf2Header + ", CONFIG_CRAZYFLIE_THRUST_UPGRADE_KIT"),
        new("crazyflie-legacy", 0.12f, 0.012817578393224994f,
            [-0.014830744918356092f, 0.04724465241828281f, -0.01847364358025878f, 0.005960923942142f], 0.007350862856566459f,
            Cf2Header + ", CONFIG_CRAZYFLIE_LEGACY_PROPELLERS"),
        new("crazyflie-2.1-brushless", 0.2f, 0.02136263065537499f,
            [-0.014058926705279723f, 0.04265273261724981f, 0.0018327760144017432f, 0.0020576974784587178f], 0.00569278844371417f,
            "bitcraze/crazyflie-firmware (release 2026.08) src/platform/interface/platform_defaults_cf21bl.h (THRUST_MAX without CONFIG_THRUST_BAT_COMPENSATION_MAX_THRUST)"),
    ];

    public static PropellerSet? Find(string name) => Known.FirstOrDefault(p => p.Name == name);
}

/// <summary>
/// What one policy action means physically, on every path: the simulator's rotors, the on-board out-of-tree
/// controller, the radio link and the MCU link turn action a ∈ [−1, 1] of a motor into the same force,
/// <c>F = (a + 1)/2 · thrust_max_n</c>, as the Crazyflie firmware's force mode does with battery compensation on (its
/// default): <c>control_t.normalizedForces[i] = (a + 1)/2</c> is a fraction of THRUST_MAX
/// (src/modules/src/power_distribution_quadrotor.c, powerDistributionForce), and the compensation turns that force
/// into a motor voltage through the propellers' cubic fit, so the force does not fade as the battery drains
/// (src/drivers/src/motors.c, motorsCompensateBatteryVoltage). Below THRUST_MIN it switches the motor off.
/// Without battery compensation the firmware applies the fraction as a PWM duty cycle, and the force then depends on
/// the battery voltage: F = fit(f · V_battery).
/// </summary>
public sealed record ActuatorModel
{
    /// <summary>The propeller set's name: one of <see cref="PropellerSet.Known"/>, or "custom".</summary>
    public required string Propellers { get; init; }
    /// <summary>The firmware's battery compensation (CONFIG_ENABLE_THRUST_BAT_COMPENSATED, on by default).</summary>
    public required bool BatteryCompensation { get; init; }
    /// <summary>Force of a full command (action +1) per motor, N (the firmware's THRUST_MAX).</summary>
    public required float ThrustMaxN { get; init; }
    /// <summary>Commands below this force switch the motor off when compensated, N (THRUST_MIN).</summary>
    public required float ThrustMinN { get; init; }
    /// <summary>Thrust (N) against motor voltage (V): c0 + c1·v + c2·v² + c3·v³.</summary>
    public required float[] MotorVoltageToThrust { get; init; }
    /// <summary>The battery voltage the simulator assumes where the force depends on it (uncompensated), V.</summary>
    public required float BatteryVoltageV { get; init; }
    /// <summary>What the on-board out-of-tree controller sets: "normalized_force" (control_t force mode).</summary>
    public required string OnboardCommand { get; init; }
    /// <summary>What the radio path sends: "motor_power_set" (the motorPowerSet parameters, a PWM duty cycle per motor).</summary>
    public required string RadioCommand { get; init; }

    public const string CommandNormalizedForce = "normalized_force", CommandMotorPowerSet = "motor_power_set", CustomPropellers = "custom";

    /// <summary>The force command f ∈ [0, 1] (a fraction of <see cref="ThrustMaxN"/>) of action a ∈ [−1, 1].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float NormalizedForce(float action) => Math.Clamp((action + 1f) * 0.5f, 0f, 1f);

    /// <summary>The force one motor produces for action <paramref name="action"/>, N (what the simulator flies).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float ThrustFromAction(float action)
    {
        float f = NormalizedForce(action);
        if (!BatteryCompensation) return ThrustAtVoltage(f * BatteryVoltageV);
        float thrust = f * ThrustMaxN;
        return thrust < ThrustMinN ? 0f : thrust;
    }

    /// <summary>The action that commands <paramref name="thrustN"/> per motor (clamped to what a command can give).</summary>
    public float ActionFromThrust(float thrustN)
    {
        float f = BatteryCompensation ? thrustN / ThrustMaxN : VoltageForThrust(thrustN) / BatteryVoltageV;
        return Math.Clamp(2f * f - 1f, -1f, 1f);
    }

    /// <summary>The largest force a command can give, N.</summary>
    public float MaxThrustN => BatteryCompensation ? ThrustMaxN : ThrustAtVoltage(BatteryVoltageV);

    /// <summary>The propellers' fit: thrust at motor voltage <paramref name="volts"/>, N (never negative).</summary>
    public float ThrustAtVoltage(float volts)
    {
        float[] c = MotorVoltageToThrust;
        return MathF.Max(0f, c[0] + volts * (c[1] + volts * (c[2] + volts * c[3])));
    }

    /// <summary>
    /// The motor voltage at which the fit gives <paramref name="thrustN"/> (bisection on the fit, which rises over the
    /// motors' voltage range; the firmware solves the same cubic in closed form).
    /// </summary>
    public float VoltageForThrust(float thrustN)
    {
        double lo = 0, hi = 10;
        if (thrustN <= ThrustAtVoltage(0f)) return 0f;
        for (int i = 0; i < 60; i++)
        {
            double mid = 0.5 * (lo + hi);
            if (ThrustAtVoltage((float)mid) < thrustN) lo = mid; else hi = mid;
        }
        return (float)(0.5 * (lo + hi));
    }

    /// <summary>
    /// The radio path (<see cref="CommandMotorPowerSet"/>): the motorPowerSet duty cycles (0..65535) that make the
    /// motors produce <paramref name="thrustN"/> at battery voltage <paramref name="batteryVoltageV"/>. motorPowerSet
    /// bypasses the firmware's battery compensation, so the host does it: v = fit⁻¹(F), duty = v / V_battery. As the
    /// compensated firmware does, a motor below THRUST_MIN is off, and where a duty would exceed 100 % every motor is
    /// lowered by the same amount (powerDistributionCap: attitude before thrust). The host compensates whether or not
    /// the firmware would: the forces then match the simulator's, which assumed <see cref="BatteryVoltageV"/>.
    /// </summary>
    public void MotorPowerFromThrust(ReadOnlySpan<float> thrustN, float batteryVoltageV, Span<ushort> duty)
    {
        Span<long> raw = stackalloc long[4];
        long highest = 0;
        for (int i = 0; i < thrustN.Length; i++)
        {
            float force = MathF.Min(thrustN[i], MaxThrustN);
            bool off = !(force > 0) || (BatteryCompensation && force < ThrustMinN) || batteryVoltageV < 2f; // the firmware's "< 2 V: damaged battery" guard
            raw[i] = off ? 0 : (long)(VoltageForThrust(force) / batteryVoltageV * ushort.MaxValue);
            highest = Math.Max(highest, raw[i]);
        }
        long reduction = Math.Max(0, highest - ushort.MaxValue);
        for (int i = 0; i < thrustN.Length; i++) duty[i] = (ushort)Math.Clamp(raw[i] - reduction, 0, ushort.MaxValue);
    }

    /// <summary>The force a motor makes at duty cycle <paramref name="duty"/> (0..65535) and battery voltage <paramref name="batteryVoltageV"/>, N.</summary>
    public float ThrustFromMotorPower(ushort duty, float batteryVoltageV) => ThrustAtVoltage(duty / (float)ushort.MaxValue * batteryVoltageV);

    /// <summary>
    /// Reads a robot config's "actuation" section. The propeller set must be known (its constants must then match the
    /// firmware's) or "custom"; a full command must reach at least <paramref name="hoverThrustN"/> per motor.
    /// </summary>
    public static ActuatorModel Read(ConfigNode node, float hoverThrustN)
    {
        string names = string.Join(", ", PropellerSet.Known.Select(p => $"\"{p.Name}\"")) + $" or \"{CustomPropellers}\"";
        string propellers = node.String("propellers");
        PropellerSet? known = PropellerSet.Find(propellers);
        if (known is null && propellers != CustomPropellers)
            throw node.Error("propellers", $"unknown propeller set \"{propellers}\"; expected {names}");
        double[] fit = node.Numbers("motor_voltage_to_thrust", 4, -10, 10);
        var model = new ActuatorModel
        {
            Propellers = propellers,
            BatteryCompensation = node.Boolean("battery_compensation"),
            ThrustMaxN = (float)node.Number("thrust_max_n", 1e-4, 1000),
            ThrustMinN = (float)node.Number("thrust_min_n", 0, 1000),
            MotorVoltageToThrust = fit.Select(c => (float)c).ToArray(),
            BatteryVoltageV = (float)node.Number("battery_voltage_v", 2, 60, 3.7),
            OnboardCommand = node.Has("onboard_command") ? node.Choice("onboard_command", CommandNormalizedForce) : CommandNormalizedForce,
            RadioCommand = node.Has("radio_command") ? node.Choice("radio_command", CommandMotorPowerSet) : CommandMotorPowerSet,
        };
        node.EnsureNoUnknownKeys();
        if (known is not null)
        {
            Check("thrust_max_n", model.ThrustMaxN, known.ThrustMaxN);
            Check("thrust_min_n", model.ThrustMinN, known.ThrustMinN);
            for (int i = 0; i < 4; i++)
                if (!Close(model.MotorVoltageToThrust[i], known.MotorVoltageToThrust[i]))
                    throw node.Error("motor_voltage_to_thrust",
                        $"[{i}] = {model.MotorVoltageToThrust[i]:G9} does not match the firmware's {known.Name} fit ({known.MotorVoltageToThrust[i]:G9}, {known.Source}); use \"propellers\": \"{CustomPropellers}\" for other propellers");
        }
        if (model.ThrustMinN >= model.ThrustMaxN)
            throw node.Error("thrust_min_n", $"must be below thrust_max_n ({model.ThrustMaxN} N)");
        if (!(model.MaxThrustN > hoverThrustN))
            throw node.Error(model.BatteryCompensation ? "thrust_max_n" : "battery_voltage_v",
                $"cannot hover: a full command gives {model.MaxThrustN:G4} N per motor, the weight needs more than {hoverThrustN:G4} N (mass · gravity / 4)");
        return model;

        void Check(string key, float value, float expected)
        {
            if (!Close(value, expected))
                throw node.Error(key, $"{value:G9} does not match the firmware's {known!.Name} value {expected:G9} ({known.Source}); use \"propellers\": \"{CustomPropellers}\" for other propellers");
        }
    }

    private static bool Close(float a, float b) => MathF.Abs(a - b) <= 1e-6f * MathF.Max(1f, MathF.Abs(b));
}
