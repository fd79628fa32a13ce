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

/// <summary>The simulated robot (the default transport): a Crazyflie integrated in process, in real time.</summary>
public sealed record SimTransportConfig
{
    public required float PhysicsHz { get; init; }
    /// <summary>Where the simulated robot starts, hovering, world ENU, metres.</summary>
    public required Vector3 StartPosition { get; init; }
    /// <summary>Sensor noise standard deviations: position (m), rotation (rad, small-angle), velocity (m/s), angular velocity (rad/s).</summary>
    public required Vector4 NoiseStd { get; init; }
    public required int Seed { get; init; }
}

/// <summary>Where the flight log goes (MCAP, ros2 profile).</summary>
public sealed record RecordingConfig
{
    public required bool Enabled { get; init; }
    /// <summary>Default file when recording is enabled and no --record path is given (relative to the working directory).</summary>
    public required string Path { get; init; }
    /// <summary>Slots of the tick → recorder ring; when the recorder falls behind by this many ticks, records are dropped (counted).</summary>
    public required int RingSlots { get; init; }
    /// <summary>MCAP chunk compression: "zstd" (default) or "none".</summary>
    public required RoboRl.Logs.McapCompression Compression { get; init; }
}

public enum TransportKind { Sim, Mqtt, Ros2, Crazyflie }

/// <summary>Where the policy runs: in the node's process (PolicyEngine), or on a microcontroller behind a serial link.</summary>
public enum PolicyLocation { Host, Mcu }

/// <summary>
/// A node config (configs/nodes/*.json), schema-checked through <see cref="ConfigNode"/>. Every section but "mqtt" and "ros2" is
/// read here with its ranges; the "mqtt" section is handed over unread as <see cref="Mqtt"/> to RoboRl.Mqtt, which
/// checks its own keys (and calls <see cref="ConfigNode.EnsureNoUnknownKeys"/> on it).
/// </summary>
public sealed record NodeConfig
{
    /// <summary>The file this config was read from.</summary>
    public required string File { get; init; }
    /// <summary>Absolute path of the robot config the node flies (the policy bundle must have been trained for it).</summary>
    public required string RobotPath { get; init; }
    public required QuadrotorConfig Robot { get; init; }
    /// <summary>The node's tick rate, Hz (500 on the Crazyflie; a multiple of the policy's control rate).</summary>
    public required float RateHz { get; init; }
    /// <summary>Below this much time left before a tick's deadline the loop spins instead of sleeping, microseconds.</summary>
    public required float SpinUs { get; init; }
    /// <summary>Arm as soon as a fresh sensor sample arrives (else wait for an Arm command).</summary>
    public required bool AutoArm { get; init; }
    /// <summary>The initial setpoint, world ENU, metres.</summary>
    public required Vector3 Setpoint { get; init; }
    public required Geofence Geofence { get; init; }
    public required SafetyLimits Limits { get; init; }
    public required FallbackConfig Fallback { get; init; }
    /// <summary>The "takeoff" section (optional; defaults otherwise).</summary>
    public TakeoffConfig Takeoff { get; init; } = new();
    public required TransportKind Transport { get; init; }
    /// <summary>The "sim" section (required when transport is "sim", optional otherwise).</summary>
    public SimTransportConfig? Sim { get; init; }
    /// <summary>The "mqtt" section, unread: RoboRl.Mqtt reads and checks it. Null when absent.</summary>
    public ConfigNode? Mqtt { get; init; }
    /// <summary>The "ros2" section, unread: RoboRl.Ros2 (Ros2TransportOptions.Read) reads and checks it. Null when absent.</summary>
    public ConfigNode? Ros2 { get; init; }
    /// <summary>The "crazyflie" section, unread: RoboRl.Crazyflie (CrazyflieTransportOptions.Read) reads and checks it. Null when absent.</summary>
    public ConfigNode? Crazyflie { get; init; }
    /// <summary>"policy_on": "host" (default) or "mcu" (the policy runs on a microcontroller; then "mcu" is required).</summary>
    public PolicyLocation PolicyOn { get; init; }
    /// <summary>The "mcu" section, unread: RoboRl.Serial (McuPolicyOptions.Read) reads and checks it. Null when absent.</summary>
    public ConfigNode? Mcu { get; init; }
    public required RecordingConfig Recording { get; init; }
    /// <summary>Telemetry frames (and tick statistics windows) per second.</summary>
    public required float TelemetryRateHz { get; init; }

    public static NodeConfig Load(string file) => Read(ConfigNode.LoadFile(file));

    public static NodeConfig Read(ConfigNode node)
    {
        string robotPath = node.String("robot");
        robotPath = System.IO.Path.GetFullPath(System.IO.Path.IsPathRooted(robotPath) ? robotPath : System.IO.Path.Combine(node.Directory, robotPath));
        QuadrotorConfig robot = QuadrotorConfig.Load(robotPath);

        ConfigNode fence = node.Object("geofence");
        Vector3 min = V(fence.Numbers("min", 3, -1e4, 1e4)), max = V(fence.Numbers("max", 3, -1e4, 1e4));
        fence.EnsureNoUnknownKeys();
        if (!(min.X < max.X && min.Y < max.Y && min.Z < max.Z))
            throw fence.Error("max", $"must be above min on every axis (min {min}, max {max})");
        var geofence = new Geofence(min, max);

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
        if (2 * margin >= Math.Min(max.X - min.X, Math.Min(max.Y - min.Y, max.Z - min.Z)))
            throw limits.Error("setpoint_margin_m", $"{margin} m leaves no room inside the geofence");

        ConfigNode fallback = node.Object("fallback");
        var fallbackConfig = new FallbackConfig
        {
            HoldS = (float)fallback.Number("hold_s", 0, 3600),
            LandingSpeedMS = (float)fallback.Number("landing_speed_m_s", 0.05, 2),
            LandedHeightM = (float)fallback.Number("landed_height_m", 0.001, 1),
        };
        fallback.EnsureNoUnknownKeys();

        string transportName = node.String("transport");
        TransportKind transport = transportName switch
        {
            "sim" => TransportKind.Sim,
            "mqtt" => TransportKind.Mqtt,
            "ros2" => TransportKind.Ros2,
            "crazyflie" => TransportKind.Crazyflie,
            _ => throw node.Error("transport", $"unknown transport \"{transportName}\"; allowed: sim, mqtt, ros2, crazyflie"),
        };
        SimTransportConfig? sim = null;
        if (node.Has("sim") || transport == TransportKind.Sim)
        {
            ConfigNode s = node.Object("sim");
            ConfigNode noise = s.Object("noise_std");
            sim = new SimTransportConfig
            {
                PhysicsHz = (float)s.Number("physics_hz", 10, 100_000),
                StartPosition = V(s.Numbers("start_position", 3, -1e4, 1e4)),
                NoiseStd = new Vector4(
                    (float)noise.Number("position", 0, 10), (float)noise.Number("rotation", 0, 10),
                    (float)noise.Number("velocity", 0, 10), (float)noise.Number("angular_velocity", 0, 10)),
                Seed = (int)s.Integer("seed", 0, int.MaxValue),
            };
            noise.EnsureNoUnknownKeys();
            s.EnsureNoUnknownKeys();
            if (!geofence.Contains(sim.StartPosition))
                throw s.Error("start_position", $"{sim.StartPosition} is outside the geofence");
        }
        // The MQTT section belongs to RoboRl.Mqtt: marked known here, checked there.
        ConfigNode? mqtt = node.Has("mqtt") ? node.Object("mqtt") : null;
        if (transport == TransportKind.Mqtt && mqtt is null) throw node.Error("mqtt", "transport is \"mqtt\" but there is no \"mqtt\" section");
        // Likewise the ROS 2 section belongs to RoboRl.Ros2.
        ConfigNode? ros2 = node.Has("ros2") ? node.Object("ros2") : null;
        if (transport == TransportKind.Ros2 && ros2 is null) throw node.Error("ros2", "transport is \"ros2\" but there is no \"ros2\" section");

        // Likewise the Crazyflie section belongs to RoboRl.Crazyflie.
        ConfigNode? crazyflie = node.Has("crazyflie") ? node.Object("crazyflie") : null;
        if (transport == TransportKind.Crazyflie && crazyflie is null) throw node.Error("crazyflie", "transport is \"crazyflie\" but there is no \"crazyflie\" section");
        // Likewise the MCU section belongs to RoboRl.Serial.
        PolicyLocation policyOn = !node.Has("policy_on") ? PolicyLocation.Host : node.Choice("policy_on", "host", "mcu") == "mcu" ? PolicyLocation.Mcu : PolicyLocation.Host;
        ConfigNode? mcu = node.Has("mcu") ? node.Object("mcu") : null;
        if (policyOn == PolicyLocation.Mcu && mcu is null) throw node.Error("mcu", "policy_on is \"mcu\" but there is no \"mcu\" section");

        ConfigNode recording = node.Object("recording");
        var recordingConfig = new RecordingConfig
        {
            Enabled = recording.Boolean("enabled"),
            Path = recording.String("path"),
            RingSlots = (int)recording.Integer("ring_slots", 16, 1 << 20),
            Compression = !recording.Has("compression") ? RoboRl.Logs.McapCompression.Zstd : recording.String("compression") switch
            {
                "zstd" => RoboRl.Logs.McapCompression.Zstd,
                "none" => RoboRl.Logs.McapCompression.None,
                string other => throw recording.Error("compression", $"unknown compression \"{other}\"; allowed: zstd, none"),
            },
        };
        recording.EnsureNoUnknownKeys();

        Vector3 setpoint = V(node.Numbers("setpoint", 3, -1e4, 1e4));
        if (geofence.Clamp(setpoint, margin) != setpoint)
            throw node.Error("setpoint", $"{setpoint} is not inside the geofence shrunk by setpoint_margin_m ({margin} m)");

        var config = new NodeConfig
        {
            File = node.File,
            RobotPath = robotPath,
            Robot = robot,
            RateHz = (float)node.Number("rate_hz", 1, 10_000),
            SpinUs = (float)node.Number("spin_us", 0, 100_000, 300),
            AutoArm = node.Boolean("auto_arm"),
            Setpoint = setpoint,
            Geofence = geofence,
            Limits = safety,
            Fallback = fallbackConfig,
            Takeoff = TakeoffConfig.Read(node.Has("takeoff") ? node.Object("takeoff") : null),
            Transport = transport,
            Sim = sim,
            Mqtt = mqtt,
            Ros2 = ros2,
            Crazyflie = crazyflie,
            PolicyOn = policyOn,
            Mcu = mcu,
            Recording = recordingConfig,
            TelemetryRateHz = (float)node.Number("telemetry_rate_hz", 0.1, 1000),
        };
        if (config.TelemetryRateHz > config.RateHz)
            throw node.Error("telemetry_rate_hz", $"{config.TelemetryRateHz} Hz is above the node's rate_hz ({config.RateHz})");
        node.EnsureNoUnknownKeys();
        return config;
    }

    private static Vector3 V(double[] v) => new((float)v[0], (float)v[1], (float)v[2]);
}
