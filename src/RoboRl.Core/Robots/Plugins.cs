using RoboRl.Core.Configs;
using RoboRl.Core.Policy;

namespace RoboRl.Core.Robots;

// Transports and remote policies as plugins registered by name (Nav2's pluginlib, Isaac Lab's task registry): a node
// config names them ("transport": "ros2", "commands": ["mqtt"], "policy_on": "mcu"), the program that hosts the node
// (roborl, roborl-node, a test) registers the ones it ships — one line each, no reflection — and the node opens the
// named ones. Each plugin lives in its own project, next to the transport it wraps, and reads its own config section.

/// <summary>What a transport does for the node in one run (a config may give one transport several roles).</summary>
[Flags]
public enum TransportRoles
{
    None = 0,
    /// <summary>The robot's state (a quadrotor's pose, a ground robot's odometry and scan).</summary>
    Sensors = 1,
    /// <summary>Where the node's commands to the robot go (rotor commands, /cmd_vel, wheel frames).</summary>
    Actuators = 2,
    /// <summary>Arm, land, setpoints, kill from an operator.</summary>
    Commands = 4,
    /// <summary>A human's joystick.</summary>
    Teleop = 8,
    /// <summary>Telemetry and the node's events (mode changes, refusals) out.</summary>
    Telemetry = 16,
}

/// <summary>
/// A robot or peer that cannot be reached (no radio dongle, a broker that cannot listen, no DDS library, a serial port
/// that will not open): a runtime fault of the machine, not bad input. A bad section is a <see cref="ConfigException"/>.
/// </summary>
public sealed class RobotLinkException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Options the program hosting the node hands to plugins: one instance per type, defined next to the plugin that reads
/// it (e.g. RoboRl.Ros2's Cyclone DDS XML for tests, RoboRl.Crazyflie's `--uri` override). Replaces static test hooks:
/// two nodes in one process can run with different settings.
/// </summary>
public sealed class PluginSettings
{
    private readonly Dictionary<Type, object> _items = new();

    /// <summary>Where plugins write their one-line notices (a broker's failed login, a reconnect); default: nowhere.</summary>
    public Action<string> Log { get; init; } = static _ => { };

    /// <summary>Sets (or replaces) the settings of type <typeparamref name="T"/>; returns this for chaining.</summary>
    public PluginSettings Set<T>(T value) where T : class
    {
        ArgumentNullException.ThrowIfNull(value);
        _items[typeof(T)] = value;
        return this;
    }

    /// <summary>The settings of type <typeparamref name="T"/>, or its defaults when none were set.</summary>
    public T Get<T>() where T : class, new() => _items.TryGetValue(typeof(T), out object? value) ? (T)value : new T();
}

/// <summary>What a transport plugin is asked to open for one node.</summary>
public sealed record TransportRequest
{
    /// <summary>The transport's registered name, which is also the name of its section in the node config.</summary>
    public required string Name { get; init; }
    /// <summary>The node config file (for error messages).</summary>
    public required string NodeFile { get; init; }
    /// <summary>The node config's section named <see cref="Name"/>, unread (the plugin reads and checks it); null when absent.</summary>
    public ConfigNode? Section { get; init; }
    /// <summary>The robot config's "kind" ("quadrotor", "diff_drive").</summary>
    public required string RobotKind { get; init; }
    /// <summary>The robot config the node drives (<c>QuadrotorConfig</c>, <c>DiffDriveConfig</c>, …).</summary>
    public required object Robot { get; init; }
    /// <summary>The robot config's file and JSON text (comments dropped).</summary>
    public required string RobotPath { get; init; }
    public required string RobotConfigJson { get; init; }
    /// <summary>What the robot kind read from the node config (its geofence, its task, …): a simulated robot starts inside it.</summary>
    public required object KindSettings { get; init; }
    /// <summary>The roles the node gives this transport; a transport need not open what no role uses.</summary>
    public required TransportRoles Roles { get; init; }
    public required PluginSettings Settings { get; init; }

    /// <summary>The section, or a config error saying the transport needs one.</summary>
    public ConfigNode RequireSection() =>
        Section ?? throw new ConfigException(NodeFile, $"$.{Name}", $"transport \"{Name}\" needs a \"{Name}\" section");

    /// <summary>The robot as <typeparamref name="T"/>, or a config error saying this transport does not carry this kind of robot.</summary>
    public T RobotAs<T>(string carries) where T : class =>
        Robot as T ?? throw new ConfigException(NodeFile, "$.transport",
            $"transport \"{Name}\" carries {carries}; the robot here is of kind \"{RobotKind}\"");
}

/// <summary>
/// An open link to the robot (or to an operator's channel): the ports it offers — objects implementing the node's port
/// interfaces (<see cref="ISensorSource"/>, <see cref="IActuatorSink"/>, <see cref="IGroundSensorSource"/>,
/// <see cref="IVelocityCommandSink"/>, <see cref="ICommandSource"/>, <see cref="ITeleopSource"/>,
/// <see cref="ITelemetrySink"/>, <see cref="INodeEventSink"/>, <see cref="ISensorDiagnostics"/>, …) — and how to start,
/// stop and close it. The node takes from each link only the ports of the roles the config gave it.
/// </summary>
public sealed class RobotLink(string transport, IDisposable owner, params object[] ports) : IDisposable
{
    private readonly object[] _ports = ports;

    /// <summary>The transport's registered name.</summary>
    public string Transport => transport;

    /// <summary>Called when the node starts flying (a simulator's physics thread); default: nothing.</summary>
    public Action Start { get; init; } = static () => { };

    /// <summary>Called when the node has stopped (before <see cref="Dispose"/>); default: nothing.</summary>
    public Action Stop { get; init; } = static () => { };

    /// <summary>The first port implementing <typeparamref name="T"/>, or null when this link has none.</summary>
    public T? Port<T>() where T : class
    {
        foreach (object port in _ports)
            if (port is T match) return match;
        return null;
    }

    /// <summary>Closes the link (the transport, its threads, its sockets).</summary>
    public void Dispose() => owner.Dispose();
}

/// <summary>Something registered under a name.</summary>
public interface INamedPlugin
{
    /// <summary>The name configs use ("ros2", "mcu").</summary>
    string Name { get; }
    /// <summary>One line for listings and errors.</summary>
    string Description { get; }
}

/// <summary>A transport: a name, a line of description, and how to open it.</summary>
public sealed record TransportPlugin(string Name, string Description, Func<TransportRequest, RobotLink> Open) : INamedPlugin;

/// <summary>What a remote-policy plugin is asked to open: the policy runs there instead of in the node's process.</summary>
public sealed record RemotePolicyRequest
{
    public required string Name { get; init; }
    public required string NodeFile { get; init; }
    /// <summary>The node config's section named <see cref="Name"/>, unread; null when absent.</summary>
    public ConfigNode? Section { get; init; }
    public required PolicyBundle Bundle { get; init; }
    /// <summary>The bundle's file (a microcontroller image is built for it).</summary>
    public required string BundlePath { get; init; }
    public required PluginSettings Settings { get; init; }

    /// <summary>The section, or a config error saying the remote policy needs one.</summary>
    public ConfigNode RequireSection() =>
        Section ?? throw new ConfigException(NodeFile, $"$.{Name}", $"policy_on \"{Name}\" needs a \"{Name}\" section");
}

/// <summary>A place the policy can run other than the node's process (a microcontroller behind a serial link).</summary>
public sealed record RemotePolicyPlugin(string Name, string Description, Func<RemotePolicyRequest, IRemotePolicy> Open) : INamedPlugin;

/// <summary>Plugins of one sort by name: explicit registration, a clear error for a name nobody registered.</summary>
public sealed class PluginRegistry<TPlugin>(string what) where TPlugin : class, INamedPlugin
{
    private readonly Dictionary<string, TPlugin> _plugins = new(StringComparer.Ordinal);

    /// <summary>Registers <paramref name="plugin"/>; a second plugin of the same name is a programming error.</summary>
    public PluginRegistry<TPlugin> Add(TPlugin plugin)
    {
        if (!_plugins.TryAdd(plugin.Name, plugin)) throw new ArgumentException($"{what} \"{plugin.Name}\" is registered twice", nameof(plugin));
        return this;
    }

    /// <summary>The registered names, sorted.</summary>
    public IReadOnlyList<string> Names => _plugins.Keys.Order(StringComparer.Ordinal).ToList();

    public bool TryGet(string name, out TPlugin plugin) => _plugins.TryGetValue(name, out plugin!);

    /// <summary>The plugin named <paramref name="name"/>; otherwise a config error at <paramref name="jsonPath"/> listing what is registered.</summary>
    public TPlugin Get(string name, string file, string jsonPath) =>
        _plugins.TryGetValue(name, out TPlugin? plugin) ? plugin
            : throw new ConfigException(file, jsonPath, $"unknown {what} \"{name}\"; registered: {string.Join(", ", Names)}");
}
