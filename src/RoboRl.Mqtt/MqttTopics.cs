namespace RoboRl.Mqtt;

/// <summary>
/// The topic tree of one robot, <c>roborl/&lt;robot&gt;/…</c>. Payloads are UTF-8 JSON objects; the
/// schemas are listed here and in this project's README.md. Vectors are JSON arrays; a value that is
/// not finite (an unmeasured rotor speed) is written as <c>null</c>.
///
/// Out (the node publishes, QoS 0):
/// <list type="bullet">
/// <item><c>telemetry/state</c> every telemetry frame:
///   <c>{"seq":u64, "t_ns":i64, "state_t_ns":i64, "state_seq":u32, "position":[x,y,z], "orientation":[x,y,z,w],
///   "velocity_world":[x,y,z], "angular_velocity_body":[x,y,z], "rotor_rpm":[4 × number|null],
///   "setpoint":[x,y,z], "mode":"idle|policy|human|fallback|killed"}</c>
///   (seq counts frames accepted for sending: a jump is a gap; t_ns: node clock, ns).</item>
/// <item><c>telemetry/action</c> every frame: <c>{"seq", "t_ns", "command_t_ns", "command_seq", "action":[4 in -1..1],
///   "rotor_rpm":[4], "source":"policy|human|fallback"}</c>.</item>
/// <item><c>telemetry/ticks</c> about once a second: <c>{"seq", "t_ns", "ticks":u64, "rate_hz", "latency_p50_us",
///   "latency_p99_us", "latency_max_us", "jitter_p99_us", "overruns":u32}</c>.</item>
/// <item><c>telemetry/mode</c> retained, on change: <c>{"t_ns", "mode"}</c>.</item>
/// <item><c>status</c> retained, on connect and about once a second; <c>{"online":false}</c> as the last will:
///   <c>{"online":true, "t_ns", "frames_delivered", "telemetry_gap_frames", "reconnects", "commands_accepted",
///   "commands_rejected", "events", "last_event":{"t_ns", "tick", "level", "kind", "mode", "text"}|null}</c>; also published at
///   once for each node event (a refused command, a mode change and its reason).</item>
/// </list>
/// In (the node subscribes; every command needs an identified user with the right in brackets):
/// <list type="bullet">
/// <item><c>cmd/arm</c>, <c>cmd/disarm</c> [arm], <c>cmd/land</c> [land], <c>cmd/kill</c> [kill]: <c>{}</c> (or an empty payload).</item>
/// <item><c>cmd/setpoint</c> [setpoint]: <c>{"position":[x,y,z] (m, world ENU, |each| ≤ setpoint_limit_m), "yaw_deg": number in [-360, 360] (optional, 0)}</c>.</item>
/// <item><c>teleop</c> [override]: <c>{"deadman":bool, "mode":"takeover|nudge" (required when deadman),
///   "action":[4 in -1..1] (takeover), "setpoint_velocity":[x,y,z] (nudge, m/s, |each| ≤ teleop_max_speed_mps)}</c>.
///   Released (deadman false) or silent (stale timestamp) means the policy flies.</item>
/// <item><c>joy</c> [override]: a joystick as sensor_msgs/Joy, <c>{"axes":[float in -1..1, …], "buttons":[int, …]}</c>, at
///   the joystick's rate; the config's "joy" keys (dead-man button, take_over or nudge_setpoint, axes) map it as the ROS 2
///   transport maps sensor_msgs/Joy.</item>
/// </list>
/// For a robot whose sensors and actuators travel over MQTT (its bridge needs the right "robot"):
/// <list type="bullet">
/// <item><c>robot/state</c> in: <c>{"position":[3] m, "orientation":[x,y,z,w] unit, "velocity_world":[3] m/s,
///   "angular_velocity_body":[3] rad/s, "rotor_rpm":[4] (optional)}</c>; stamped with the node clock on arrival.</item>
/// <item><c>robot/command</c> out, every Send: <c>{"seq", "t_ns", "command_seq", "action":[4], "rotor_rpm":[4], "source"}</c>.</item>
/// </list>
/// A command payload is either the body above (identity: the broker-authenticated user; embedded broker
/// only) or a signed envelope that works on any broker:
/// <c>{"user":name, "ts_ms":unix ms, "nonce":8–64 chars [A-Za-z0-9_-], "body":"&lt;the body JSON as a string&gt;",
/// "hmac":hex(HMAC-SHA256(key, topic "\n" user "\n" ts_ms "\n" nonce "\n" body))}</c>, key = the user's
/// SHA-256(salt ‖ password) bytes (<see cref="CommandSigner"/> builds it).
/// </summary>
public sealed class MqttTopics
{
    public MqttTopics(string robot)
    {
        if (!MqttTransportOptions.IsTopicWord(robot))
            throw new ArgumentException($"robot name \"{robot}\" must be letters, digits, '-' or '_' (it is a topic level)", nameof(robot));
        Robot = robot;
        Prefix = $"roborl/{robot}/";
    }

    public string Robot { get; }
    /// <summary>roborl/&lt;robot&gt;/</summary>
    public string Prefix { get; }

    public string TelemetryState => Prefix + "telemetry/state";
    public string TelemetryAction => Prefix + "telemetry/action";
    public string TelemetryTicks => Prefix + "telemetry/ticks";
    public string TelemetryMode => Prefix + "telemetry/mode";
    public string Status => Prefix + "status";
    public string CommandPrefix => Prefix + "cmd/";
    public string Arm => CommandPrefix + "arm";
    public string Disarm => CommandPrefix + "disarm";
    public string Land => CommandPrefix + "land";
    public string Kill => CommandPrefix + "kill";
    public string Setpoint => CommandPrefix + "setpoint";
    public string Teleop => Prefix + "teleop";
    /// <summary>In: a joystick as sensor_msgs/Joy in JSON, <c>{"axes":[…], "buttons":[…]}</c> (right "override"), mapped by the "joy" keys.</summary>
    public string Joy => Prefix + "joy";
    /// <summary>In: the robot's measured state, from its bridge (right "robot").</summary>
    public string RobotState => Prefix + "robot/state";
    /// <summary>Out: actuator commands for the robot's bridge, every <see cref="MqttTransport.Send"/>.</summary>
    public string RobotCommand => Prefix + "robot/command";
    /// <summary>Filter for every command topic.</summary>
    public string CommandFilter => CommandPrefix + "+";

    /// <summary>Whether the node consumes this topic as input (a command or teleop).</summary>
    public bool IsInput(string topic) => topic == Teleop || topic == Joy || topic == RobotState || topic.StartsWith(CommandPrefix, StringComparison.Ordinal);
}
