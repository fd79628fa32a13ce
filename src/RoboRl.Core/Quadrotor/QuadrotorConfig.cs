using System.Numerics;
using System.Runtime.CompilerServices;
using RoboRl.Core.Configs;

namespace RoboRl.Core.Quadrotor;

/// <summary>One rotor: where it sits in the body frame (FLU, metres) and the sign of its yaw reaction torque.</summary>
/// <param name="Position">Rotor hub in the body frame (FLU), metres.</param>
/// <param name="YawTorqueSign">+1 when the rotor's drag torque on the body points along body +z (the rotor spins
/// clockwise seen from above), −1 otherwise. Thrust always points along body +z.</param>
public sealed record RotorConfig(Vector3 Position, float YawTorqueSign);

/// <summary>
/// Physical parameters of a quadrotor (configs/robots/*.json), with a source for each value.
/// Thrust per rotor T(rpm) = c0 + c1·rpm + c2·rpm² (N), along body +z; yaw torque per rotor =
/// sign · <see cref="YawTorquePerThrust"/> · T; first-order motor lag d(rpm)/dt = (cmd − rpm)/τ.
/// An action commands a FORCE per rotor through the deployment target's actuator (<see cref="Actuator"/>, the
/// "actuation" section): the commanded rotor speed is the one whose thrust is that force.
/// </summary>
public sealed record QuadrotorConfig
{
    public required string Name { get; init; }
    /// <summary>Total mass, kg.</summary>
    public required float Mass { get; init; }
    /// <summary>Gravitational acceleration, m/s² (acts along world −z, ENU).</summary>
    public required float Gravity { get; init; }
    /// <summary>Principal moments of inertia about body x, y, z, kg·m².</summary>
    public required Vector3 InertiaDiagonal { get; init; }
    /// <summary>Exactly four rotors, in motor order M1..M4 (the order of actions and rotor speeds).</summary>
    public required IReadOnlyList<RotorConfig> Rotors { get; init; }
    /// <summary>Thrust polynomial coefficients (c0 N, c1 N/rpm, c2 N/rpm²).</summary>
    public required Vector3 ThrustPolynomial { get; init; }
    /// <summary>Yaw torque per newton of thrust, N·m/N (metres).</summary>
    public required float YawTorquePerThrust { get; init; }
    /// <summary>Motor time constant τ, seconds.</summary>
    public required float MotorTimeConstant { get; init; }
    public required float RpmMin { get; init; }
    public required float RpmMax { get; init; }
    /// <summary>What an action means physically on every path (the firmware's force mode and battery compensation).</summary>
    public required ActuatorModel Actuator { get; init; }
    /// <summary>Where each value came from (key → citation), as written in the file.</summary>
    public required IReadOnlyDictionary<string, string> Sources { get; init; }

    public const int RotorCount = 4;

    /// <summary>Thrust of one rotor at <paramref name="rpm"/>, newtons.</summary>
    public float Thrust(float rpm) => ThrustPolynomial.X + ThrustPolynomial.Y * rpm + ThrustPolynomial.Z * rpm * rpm;

    /// <summary>The rotor speed at which four rotors together carry the weight (solves c2·r² + c1·r + c0 = m·g/4).</summary>
    public float HoverRpm()
    {
        double c0 = ThrustPolynomial.X, c1 = ThrustPolynomial.Y, c2 = ThrustPolynomial.Z;
        double needed = (double)Mass * Gravity / RotorCount - c0;
        double rpm = c2 == 0 ? needed / c1 : (-c1 + Math.Sqrt(c1 * c1 + 4 * c2 * needed)) / (2 * c2);
        return (float)rpm;
    }

    /// <summary>The rotor speed whose thrust is <paramref name="thrustN"/> (inverse of <see cref="Thrust"/>, clamped to [rpm_min, rpm_max]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float RpmForThrust(float thrustN)
    {
        float c0 = ThrustPolynomial.X, c1 = ThrustPolynomial.Y, c2 = ThrustPolynomial.Z;
        float needed = thrustN - c0;
        float rpm = needed <= 0 ? 0 : c2 == 0 ? needed / c1 : (MathF.Sqrt(c1 * c1 + 4 * c2 * needed) - c1) / (2 * c2);
        return Math.Clamp(rpm, RpmMin, RpmMax);
    }

    /// <summary>Normalised action in [−1, 1] → the rotor speed that makes the force the actuator gives for it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float RpmFromAction(float action) => RpmForThrust(Actuator.ThrustFromAction(action));

    /// <summary>Inverse of <see cref="RpmFromAction"/>: the action whose force the rotor makes at <paramref name="rpm"/>.</summary>
    public float ActionFromRpm(float rpm) => Actuator.ActionFromThrust(Thrust(rpm));

    /// <summary>The action at which four rotors carry the weight: force m·g/4 per rotor.</summary>
    public float HoverAction() => Actuator.ActionFromThrust(Mass * Gravity / RotorCount);

    /// <summary>Loads and validates a robot config file (configs/robots/*.json).</summary>
    public static QuadrotorConfig Load(string file) => Read(ConfigNode.LoadFile(file));

    /// <summary>Reads a robot config from a parsed node. Every top-level value key must have an entry in "sources".</summary>
    public static QuadrotorConfig Read(ConfigNode node)
    {
        // Another kind of robot (a differential-drive one has "kind": "diff_drive") is named as such, not as a missing "rotors".
        if (node.Has("kind") && node.String("kind") is var kind && kind != "quadrotor")
            throw node.Error("kind", $"\"{kind}\" is {(kind == "diff_drive" ? "a differential-drive robot" : "not a quadrotor")}; a quadrotor robot config is needed here (e.g. configs/robots/crazyflie21.json)");
        var rotors = new List<RotorConfig>();
        foreach (ConfigNode rotor in node.Objects("rotors", RotorCount, RotorCount))
        {
            double[] p = rotor.Numbers("position", 3, -10, 10);
            long sign = rotor.Integer("yaw_torque_sign", -1, 1);
            if (sign == 0) throw rotor.Error("yaw_torque_sign", "value 0 is not allowed; allowed -1 or 1");
            rotor.EnsureNoUnknownKeys();
            rotors.Add(new RotorConfig(new Vector3((float)p[0], (float)p[1], (float)p[2]), sign));
        }
        double[] inertia = node.Numbers("inertia_diagonal", 3, 1e-9, 100);
        double[] thrust = node.Numbers("thrust_polynomial", 3, -100, 100);
        var config = new QuadrotorConfig
        {
            Name = node.String("name"),
            Mass = (float)node.Number("mass", 1e-3, 100),
            Gravity = (float)node.Number("gravity", 0, 30),
            InertiaDiagonal = new Vector3((float)inertia[0], (float)inertia[1], (float)inertia[2]),
            Rotors = rotors,
            ThrustPolynomial = new Vector3((float)thrust[0], (float)thrust[1], (float)thrust[2]),
            YawTorquePerThrust = (float)node.Number("yaw_torque_per_thrust", 0, 1),
            MotorTimeConstant = (float)node.Number("motor_time_constant", 1e-4, 10),
            RpmMin = (float)node.Number("rpm_min", 0, 1e6),
            RpmMax = (float)node.Number("rpm_max", 1, 1e6),
            Actuator = ActuatorModel.Read(node.Object("actuation"), (float)(node.Number("mass", 1e-3, 100) * node.Number("gravity", 0, 30) / RotorCount)),
            Sources = node.StringMap("sources"),
        };
        if (config.RpmMin >= config.RpmMax)
            throw node.Error("rpm_min", $"must be below rpm_max ({config.RpmMax})");
        if (thrust[2] < 0 || (thrust[2] == 0 && thrust[1] <= 0))
            throw node.Error("thrust_polynomial", "thrust must grow with rpm: expected c2 > 0, or c2 = 0 and c1 > 0");
        float hover = config.HoverRpm();
        if (!(hover > config.RpmMin && hover < config.RpmMax))
            throw node.Error("thrust_polynomial", $"cannot hover: hover rpm {hover} is outside (rpm_min, rpm_max) = ({config.RpmMin}, {config.RpmMax})");
        float fullRpm = config.ThrustPolynomial.Z == 0
            ? (config.Actuator.MaxThrustN - config.ThrustPolynomial.X) / config.ThrustPolynomial.Y
            : (MathF.Sqrt(config.ThrustPolynomial.Y * config.ThrustPolynomial.Y + 4 * config.ThrustPolynomial.Z * (config.Actuator.MaxThrustN - config.ThrustPolynomial.X)) - config.ThrustPolynomial.Y) / (2 * config.ThrustPolynomial.Z);
        if (fullRpm > config.RpmMax * (1 + 1e-6f))
            throw node.Error("rpm_max", $"the rotors cannot make the actuator's full force {config.Actuator.MaxThrustN:G4} N: it needs {fullRpm:F0} rpm, above rpm_max {config.RpmMax}");
        node.EnsureNoUnknownKeys();
        foreach (string key in node.Keys)
        {
            if (key is not ("sources" or "name" or "kind") && !config.Sources.ContainsKey(key))
                throw node.Error("sources", $"no source given for \"{key}\"; every value needs one");
        }
        foreach (string key in config.Sources.Keys)
        {
            if (key == "sources" || !node.Keys.Contains(key))
                throw new ConfigException(node.File, $"$.sources.{key}", "names no key of this file");
        }
        return config;
    }
}
