using RoboRl.Core.Configs;
using RoboRl.Core.Robots;
using RoboRl.Logs;

namespace RoboRl.Node;

/// <summary>Where the flight log goes (MCAP, ros2 profile).</summary>
public sealed record RecordingConfig
{
    public required bool Enabled { get; init; }
    /// <summary>Default file when recording is enabled and no --record path is given (relative to the working directory).</summary>
    public required string Path { get; init; }
    /// <summary>Slots of the tick → recorder ring; when the recorder falls behind by this many ticks, records are dropped (counted).</summary>
    public required int RingSlots { get; init; }
    /// <summary>MCAP chunk compression: "zstd" (default) or "none".</summary>
    public required McapCompression Compression { get; init; }

    /// <summary>What a config without a "recording" section gets: off (`--record FILE` still records), 8192 slots, zstd.</summary>
    public static RecordingConfig Default { get; } = new() { Enabled = false, Path = "flight.mcap", RingSlots = 8192, Compression = McapCompression.Zstd };

    public static RecordingConfig Read(ConfigNode recording)
    {
        var config = new RecordingConfig
        {
            Enabled = recording.Boolean("enabled"),
            Path = recording.String("path"),
            RingSlots = (int)recording.Integer("ring_slots", 16, 1 << 20),
            Compression = !recording.Has("compression") ? McapCompression.Zstd : recording.String("compression") switch
            {
                "zstd" => McapCompression.Zstd,
                "none" => McapCompression.None,
                string other => throw recording.Error("compression", $"unknown compression \"{other}\"; allowed: zstd, none"),
            },
        };
        recording.EnsureNoUnknownKeys();
        return config;
    }
}

/// <summary>
/// A node config (configs/nodes/*.json) for any robot kind, schema-checked through <see cref="ConfigNode"/>. The keys
/// every node has are read here: "robot" (whose "kind" selects the controller: <see cref="INodeKind"/>), "rate_hz",
/// "spin_us", the transports by name — "transport" (where the robot's commands go), "sensors" (where its state comes
/// from; default: the transport), "commands", "teleop" and "telemetry" (lists; default: those two) — "policy_on",
/// "recording" and "telemetry_rate_hz". The robot kind reads its own keys (<see cref="Settings"/>: a quadrotor's
/// geofence, limits, fallback and take-off; a ground robot's planner, goal and limits). A section named after a transport
/// or remote policy in use is handed over unread (<see cref="Section"/>): its plugin reads and checks it.
/// </summary>
public sealed record NodeConfig
{
    /// <summary>The file this config was read from.</summary>
    public required string File { get; init; }
    /// <summary>Absolute path of the robot config the node drives (the policy bundle must have been trained for it).</summary>
    public required string RobotPath { get; init; }
    /// <summary>The robot file's JSON (comments dropped), as training records it in a bundle.</summary>
    public required string RobotConfigJson { get; init; }
    /// <summary>The robot config's "kind" ("quadrotor", "diff_drive").</summary>
    public required string Kind { get; init; }
    /// <summary>The robot config, as its kind loads it (<c>QuadrotorConfig</c>, <c>DiffDriveConfig</c>).</summary>
    public required object Robot { get; init; }
    /// <summary>The node's tick rate, Hz.</summary>
    public required float RateHz { get; init; }
    /// <summary>Below this much time left before a tick's deadline the loop spins instead of sleeping, microseconds.</summary>
    public float SpinUs { get; init; } = 300;
    /// <summary>The transport the robot's commands go to (its registered name, e.g. "sim", "ros2", "crazyflie").</summary>
    public required string Transport { get; init; }
    /// <summary>The transport the robot's state comes from (default: <see cref="Transport"/>).</summary>
    public required string Sensors { get; init; }
    /// <summary>Transports whose operator commands (arm, land, setpoint, kill) the node takes.</summary>
    public required IReadOnlyList<string> Commands { get; init; }
    /// <summary>Transports whose human input (joystick) the node takes.</summary>
    public required IReadOnlyList<string> Teleop { get; init; }
    /// <summary>Transports the node publishes telemetry and its events on.</summary>
    public required IReadOnlyList<string> Telemetry { get; init; }
    /// <summary>"host" (the policy runs in the node's process) or the name of a remote-policy plugin ("mcu").</summary>
    public string PolicyOn { get; init; } = HostPolicy;
    /// <summary>The sections of the transports and remote policy in use, by name, unread (absent ones are missing).</summary>
    public required IReadOnlyDictionary<string, ConfigNode> Sections { get; init; }
    public required RecordingConfig Recording { get; init; }
    /// <summary>Telemetry frames (and tick statistics windows) per second.</summary>
    public float TelemetryRateHz { get; init; } = 10;
    /// <summary>What the robot kind read from the config (e.g. <c>QuadrotorNodeSettings</c>).</summary>
    public required object Settings { get; init; }

    public const string HostPolicy = "host";

    /// <summary>The section named <paramref name="name"/> (a transport's or the remote policy's), or null.</summary>
    public ConfigNode? Section(string name) => Sections.TryGetValue(name, out ConfigNode? section) ? section : null;

    /// <summary>The roles the config gives transport <paramref name="name"/> (none when it names it nowhere).</summary>
    public TransportRoles RolesOf(string name) =>
        (Transport == name ? TransportRoles.Actuators : 0) | (Sensors == name ? TransportRoles.Sensors : 0)
        | (Commands.Contains(name) ? TransportRoles.Commands : 0) | (Teleop.Contains(name) ? TransportRoles.Teleop : 0)
        | (Telemetry.Contains(name) ? TransportRoles.Telemetry : 0);

    /// <summary>Every transport the config names, the robot's first.</summary>
    public IReadOnlyList<string> Transports => new[] { Transport, Sensors }.Concat(Commands).Concat(Teleop).Concat(Telemetry).Distinct().ToList();

    /// <summary>The kind's settings as <typeparamref name="T"/>; a clear error when the robot is of another kind.</summary>
    public T SettingsAs<T>() where T : class =>
        Settings as T ?? throw new InvalidOperationException($"{File}: the robot is of kind \"{Kind}\", not what {typeof(T).Name} configures");

    public static NodeConfig Load(string file) => Read(ConfigNode.LoadFile(file), NodeKinds.Standard);

    public static NodeConfig Load(string file, RobotKindRegistry kinds) => Read(ConfigNode.LoadFile(file), kinds);

    public static NodeConfig Read(ConfigNode node, RobotKindRegistry kinds)
    {
        // One discriminator across configs: the robot config's "kind". Node configs once chose the ground node with their own key.
        if (node.Has("node"))
            throw node.Error("node", "no longer used: the robot config's \"kind\" selects the node (configs/robots/diffbot.json has \"kind\": \"diff_drive\"); remove this key");
        string robotPath = node.String("robot");
        robotPath = Path.GetFullPath(Path.IsPathRooted(robotPath) ? robotPath : Path.Combine(node.Directory, robotPath));
        var (kind, robot) = kinds.LoadRobot(robotPath);
        INodeKind nodeKind = kind.Facet<INodeKind>()
            ?? throw node.Error("robot", $"robot kind \"{kind.Name}\" ({robotPath}) has no node support in this build");

        float rateHz = (float)node.Number("rate_hz", 0.1, 10_000);
        string transport = node.String("transport");
        string sensors = node.Has("sensors") ? node.String("sensors") : transport;
        // Operator channels default to the robot's own transports; each gives the node only the ports it has.
        IReadOnlyList<string> Names(string key) => node.Has(key) ? node.Strings(key) : new[] { transport, sensors }.Distinct().ToList();
        IReadOnlyList<string> commands = Names("commands"), teleop = Names("teleop"), telemetry = Names("telemetry");
        string policyOn = node.Has("policy_on") ? node.String("policy_on") : HostPolicy;

        var sections = new Dictionary<string, ConfigNode>(StringComparer.Ordinal);
        foreach (string name in new[] { transport, sensors }.Concat(commands).Concat(teleop).Concat(telemetry).Append(policyOn).Distinct())
            if (name != HostPolicy && node.Has(name)) sections[name] = node.Object(name);

        var config = new NodeConfig
        {
            File = node.File,
            RobotPath = robotPath,
            RobotConfigJson = ConfigNode.LoadFile(robotPath).RawJson,
            Kind = kind.Name,
            Robot = robot,
            RateHz = rateHz,
            SpinUs = (float)node.Number("spin_us", 0, 100_000, 300),
            Transport = transport,
            Sensors = sensors,
            Commands = commands,
            Teleop = teleop,
            Telemetry = telemetry,
            PolicyOn = policyOn,
            Sections = sections,
            Recording = node.Has("recording") ? RecordingConfig.Read(node.Object("recording")) : RecordingConfig.Default,
            TelemetryRateHz = (float)node.Number("telemetry_rate_hz", 0.1, 1000, Math.Min(10, rateHz)),
            Settings = nodeKind.ReadSettings(node, robot, rateHz),
        };
        if (config.TelemetryRateHz > config.RateHz)
            throw node.Error("telemetry_rate_hz", $"{config.TelemetryRateHz} Hz is above the node's rate_hz ({config.RateHz})");

        // A section nobody uses is most likely a transport the config meant to use: say how to name it.
        node.EnsureNoUnknownKeys(objectHint: key =>
            $"a section of a transport no role uses: name it in \"transport\", \"sensors\", \"commands\", \"teleop\" or \"telemetry\" " +
            $"(e.g. \"commands\": [\"{key}\"], \"teleop\": [\"{key}\"], \"telemetry\": [\"{key}\"]), or remove it");
        return config;
    }
}
