using System.Numerics;
using RoboRl.Core.Configs;
using RoboRl.Core.Quadrotor;

namespace RoboRl.Node;

/// <summary>An axis-aligned box in the world frame (ENU, metres) the robot must stay inside.</summary>
public readonly record struct Geofence(Vector3 Min, Vector3 Max)
{
    public bool Contains(Vector3 p) => p.X >= Min.X && p.X <= Max.X && p.Y >= Min.Y && p.Y <= Max.Y && p.Z >= Min.Z && p.Z <= Max.Z;

    /// <summary>The point clamped into the box shrunk by <paramref name="margin"/> on every side.</summary>
    public Vector3 Clamp(Vector3 p, float margin) => Vector3.Clamp(p, Min + new Vector3(margin), Max - new Vector3(margin));
}

/// <summary>What the safety supervisor enforces.</summary>
public sealed record SafetyLimits
{
    /// <summary>Largest angle between body z and world z, degrees.</summary>
    public required float MaxTiltDeg { get; init; }
    /// <summary>Largest body angular speed (vector norm), rad/s.</summary>
    public required float MaxAngularRateRadS { get; init; }
    /// <summary>Largest speed at which any source may move the setpoint, m/s (faster requests are rate-limited).</summary>
    public required float MaxSetpointSpeedMS { get; init; }
    /// <summary>Setpoints are kept this far inside the geofence, metres.</summary>
    public required float SetpointMarginM { get; init; }
    /// <summary>This many overrun ticks in a row trip the supervisor.</summary>
    public required int OverrunStreak { get; init; }
    /// <summary>A sensor sample older than this is stale (the supervisor trips), seconds.</summary>
    public required float SensorTimeoutS { get; init; }
    /// <summary>A teleop sample older than this counts as released, seconds.</summary>
    public required float TeleopTimeoutS { get; init; }
}

/// <summary>The fallback controller's behaviour after a violation (flyers: hover, land, disarm).</summary>
public sealed record FallbackConfig
{
    /// <summary>How long to hover where the violation happened before landing, seconds.</summary>
    public required float HoldS { get; init; }
    /// <summary>Descent speed while landing, m/s.</summary>
    public required float LandingSpeedMS { get; init; }
    /// <summary>Below this height (and slow), the robot counts as landed and is disarmed, metres.</summary>
    public required float LandedHeightM { get; init; }
}

/// <summary>
/// How a robot that is not yet flying gets into the air (cflib's take_off): arming starts the classical controller,
/// which climbs to the setpoint; the policy takes over once the robot has been steady inside the policy's envelope
/// around the setpoint for <see cref="HandoverHoldS"/>. A robot armed while already flying steadily is handed to the
/// policy at once. Landing (a Land command, or Disarm in the air) is flown by the classical controller, then disarms.
/// </summary>
public sealed record TakeoffConfig
{
    /// <summary>How fast the take-off reference climbs (and moves) towards the setpoint, m/s.</summary>
    public float ClimbSpeedMS { get; init; } = 0.5f;
    /// <summary>Above this height a steady robot counts as flying, metres.</summary>
    public float AirborneHeightM { get; init; } = 0.2f;
    /// <summary>The envelope: at most this far from the setpoint (m), this fast (m/s), this tilted (deg), turning this fast (rad/s).</summary>
    public float HandoverPositionM { get; init; } = 0.1f;
    public float HandoverSpeedMS { get; init; } = 0.3f;
    public float HandoverTiltDeg { get; init; } = 15f;
    public float HandoverRateRadS { get; init; } = 1f;
    /// <summary>How long the robot must stay inside the envelope before the policy flies, seconds.</summary>
    public float HandoverHoldS { get; init; } = 0.2f;

    public static TakeoffConfig Read(ConfigNode? section)
    {
        var d = new TakeoffConfig();
        if (section is null) return d;
        ConfigNode? handover = section.Has("handover") ? section.Object("handover") : null;
        var config = new TakeoffConfig
        {
            ClimbSpeedMS = (float)section.Number("climb_speed_m_s", 0.05, 5, d.ClimbSpeedMS),
            AirborneHeightM = (float)section.Number("airborne_height_m", 0.01, 100, d.AirborneHeightM),
            HandoverPositionM = handover is null ? d.HandoverPositionM : (float)handover.Number("position_m", 0.01, 10, d.HandoverPositionM),
            HandoverSpeedMS = handover is null ? d.HandoverSpeedMS : (float)handover.Number("speed_m_s", 0.01, 10, d.HandoverSpeedMS),
            HandoverTiltDeg = handover is null ? d.HandoverTiltDeg : (float)handover.Number("tilt_deg", 1, 90, d.HandoverTiltDeg),
            HandoverRateRadS = handover is null ? d.HandoverRateRadS : (float)handover.Number("rate_rad_s", 0.01, 50, d.HandoverRateRadS),
            HandoverHoldS = handover is null ? d.HandoverHoldS : (float)handover.Number("hold_s", 0, 10, d.HandoverHoldS),
        };
        handover?.EnsureNoUnknownKeys();
        section.EnsureNoUnknownKeys();
        return config;
    }
}

/// <summary>
/// What a quadrotor's node config sets besides the common keys (<see cref="NodeConfig"/>): arming, the initial
/// setpoint, the geofence, the supervisor's limits, the fallback and the take-off.
/// </summary>
public sealed record QuadrotorNodeSettings
{
    public required QuadrotorConfig Robot { get; init; }
    /// <summary>Arm as soon as a fresh sensor sample arrives (else wait for an Arm command).</summary>
    public required bool AutoArm { get; init; }
    /// <summary>The initial setpoint, world ENU, metres.</summary>
    public required Vector3 Setpoint { get; init; }
    public required Geofence Geofence { get; init; }
    public required SafetyLimits Limits { get; init; }
    public required FallbackConfig Fallback { get; init; }
    /// <summary>The "takeoff" section (optional; defaults otherwise).</summary>
    public TakeoffConfig Takeoff { get; init; } = new();

    public static QuadrotorNodeSettings Read(ConfigNode node, QuadrotorConfig robot)
    {
        Geofence geofence = ReadGeofence(node);
        SafetyLimits safety = ReadLimits(node, geofence);
        float margin = safety.SetpointMarginM;
        FallbackConfig fallbackConfig = ReadFallback(node);

        Vector3 setpoint = V(node.Numbers("setpoint", 3, -1e4, 1e4));
        if (geofence.Clamp(setpoint, margin) != setpoint)
            throw node.Error("setpoint", $"{setpoint} is not inside the geofence shrunk by setpoint_margin_m ({margin} m)");
        return new QuadrotorNodeSettings
        {
            Robot = robot,
            AutoArm = node.Boolean("auto_arm"),
            Setpoint = setpoint,
            Geofence = geofence,
            Limits = safety,
            Fallback = fallbackConfig,
            Takeoff = TakeoffConfig.Read(node.Has("takeoff") ? node.Object("takeoff") : null),
        };
    }

    /// <summary>The node config's "geofence" section (min and max, world ENU, m); every flyer kind reads it.</summary>
    public static Geofence ReadGeofence(ConfigNode node)
    {
        ConfigNode fence = node.Object("geofence");
        Vector3 min = V(fence.Numbers("min", 3, -1e4, 1e4)), max = V(fence.Numbers("max", 3, -1e4, 1e4));
        fence.EnsureNoUnknownKeys();
        if (!(min.X < max.X && min.Y < max.Y && min.Z < max.Z))
            throw fence.Error("max", $"must be above min on every axis (min {min}, max {max})");
        return new Geofence(min, max);
    }

    /// <summary>The node config's "limits" section (the safety supervisor's), checked against the geofence.</summary>
    public static SafetyLimits ReadLimits(ConfigNode node, Geofence geofence)
    {
        ConfigNode limits = node.Object("limits");
        var safety = new SafetyLimits
        {
            MaxTiltDeg = (float)limits.Number("max_tilt_deg", 1, 180),
            MaxAngularRateRadS = (float)limits.Number("max_angular_rate_rad_s", 0.1, 100),
            MaxSetpointSpeedMS = (float)limits.Number("max_setpoint_speed_m_s", 0.01, 20),
            SetpointMarginM = (float)limits.Number("setpoint_margin_m", 0, 10),
            OverrunStreak = (int)limits.Integer("overrun_streak", 1, 100_000),
            SensorTimeoutS = (float)limits.Number("sensor_timeout_ms", 1, 10_000) / 1000f,
            TeleopTimeoutS = (float)limits.Number("teleop_timeout_ms", 1, 10_000) / 1000f,
        };
        limits.EnsureNoUnknownKeys();
        float margin = safety.SetpointMarginM;
        Vector3 min = geofence.Min, max = geofence.Max;
        if (2 * margin >= Math.Min(max.X - min.X, Math.Min(max.Y - min.Y, max.Z - min.Z)))
            throw limits.Error("setpoint_margin_m", $"{margin} m leaves no room inside the geofence");
        return safety;
    }

    /// <summary>The node config's "fallback" section (hold, then land).</summary>
    public static FallbackConfig ReadFallback(ConfigNode node)
    {
        ConfigNode fallback = node.Object("fallback");
        var fallbackConfig = new FallbackConfig
        {
            HoldS = (float)fallback.Number("hold_s", 0, 3600),
            LandingSpeedMS = (float)fallback.Number("landing_speed_m_s", 0.05, 2),
            LandedHeightM = (float)fallback.Number("landed_height_m", 0.001, 1),
        };
        fallback.EnsureNoUnknownKeys();
        return fallbackConfig;
    }

    internal static Vector3 V(double[] v) => new((float)v[0], (float)v[1], (float)v[2]);
}

/// <summary>
/// The "sim" section for a quadrotor: the simulated Crazyflie (or any quadrotor config) integrated in process, in real
/// time on its own thread, or in lock-step with the node ("lock_step": true: each tick advances the physics to the tick's
/// simulated time first, so every state the node sees is the previous action's result, independent of wall time).
/// </summary>
public sealed record SimTransportConfig
{
    public required float PhysicsHz { get; init; }
    /// <summary>Where the simulated robot starts, hovering, world ENU, metres.</summary>
    public required Vector3 StartPosition { get; init; }
    /// <summary>Sensor noise standard deviations: position (m), rotation (rad, small-angle), velocity (m/s), angular velocity (rad/s).</summary>
    public required Vector4 NoiseStd { get; init; }
    public required int Seed { get; init; }
    /// <summary>Step the physics with the node's ticks (simulated time) instead of in real time.</summary>
    public bool LockStep { get; init; }

    /// <summary>The "sim" section of a quadrotor node config; a config error when it has none.</summary>
    public static SimTransportConfig From(NodeConfig config) =>
        Read(config.Section("sim") ?? throw new ConfigException(config.File, "$.sim", "missing required key (the simulated quadrotor's settings)"), config.SettingsAs<QuadrotorNodeSettings>().Geofence);

    /// <summary>Reads the section; the start position must lie inside the geofence.</summary>
    public static SimTransportConfig Read(ConfigNode s, Geofence geofence)
    {
        ConfigNode noise = s.Object("noise_std");
        var sim = new SimTransportConfig
        {
            PhysicsHz = (float)s.Number("physics_hz", 10, 100_000),
            StartPosition = QuadrotorNodeSettings.V(s.Numbers("start_position", 3, -1e4, 1e4)),
            NoiseStd = new Vector4(
                (float)noise.Number("position", 0, 10), (float)noise.Number("rotation", 0, 10),
                (float)noise.Number("velocity", 0, 10), (float)noise.Number("angular_velocity", 0, 10)),
            Seed = (int)s.Integer("seed", 0, int.MaxValue),
            LockStep = s.Has("lock_step") && s.Boolean("lock_step"),
        };
        noise.EnsureNoUnknownKeys();
        s.EnsureNoUnknownKeys();
        if (!geofence.Contains(sim.StartPosition))
            throw s.Error("start_position", $"{sim.StartPosition} is outside the geofence");
        return sim;
    }
}

