using RoboRl.Core.Configs;
using RoboRl.Core.DiffDrive;
using RoboRl.Core.Quadrotor;

namespace RoboRl.Core.Robots;

/// <summary>
/// A robot kind ("quadrotor", "diff_drive", …), named by the "kind" key of its robot configs: how such a config loads,
/// and what each layer contributes to it as a facet — the node's controller, fallback, simulated robot and log topics
/// (RoboRl.Node's node facet), the trainer's environments and specs (a training facet). A layer adds its facet without
/// touching the others; an airframe of a kind is a robot config file only.
/// </summary>
public sealed class RobotKind(string name, string description, Func<string, object> loadRobot)
{
    private readonly Dictionary<Type, object> _facets = new();

    /// <summary>The value of a robot config's "kind".</summary>
    public string Name => name;
    public string Description => description;

    /// <summary>Loads and checks a robot config of this kind (e.g. <see cref="QuadrotorConfig.Load"/>).</summary>
    public object LoadRobot(string file) => loadRobot(file);

    /// <summary>Adds what one layer supplies for this kind; one facet per type.</summary>
    public RobotKind With<TFacet>(TFacet facet) where TFacet : class
    {
        if (!_facets.TryAdd(typeof(TFacet), facet)) throw new ArgumentException($"robot kind \"{name}\" already has a {typeof(TFacet).Name}");
        return this;
    }

    /// <summary>This kind's facet of type <typeparamref name="TFacet"/>, or null when no layer added one.</summary>
    public TFacet? Facet<TFacet>() where TFacet : class => _facets.TryGetValue(typeof(TFacet), out object? f) ? (TFacet)f : null;
}

/// <summary>
/// The robot kinds a program knows, keyed by a robot config's "kind". <see cref="Standard"/> registers the kinds this
/// repository ships; a new kind is a robot-config type, one registration line here and its facets in the layers that
/// support it — no switch elsewhere changes.
/// </summary>
public sealed class RobotKindRegistry
{
    /// <summary>The discriminator every robot config carries.</summary>
    public const string KindKey = "kind";

    private readonly Dictionary<string, RobotKind> _kinds = new(StringComparer.Ordinal);

    /// <summary>The kinds this repository ships: quadrotor (configs/robots/crazyflie21*.json), diff_drive (configs/robots/diffbot.json)
    /// and swarm (configs/swarm/*.json: N quadrotors of a robot config).</summary>
    public static RobotKindRegistry Standard() => new RobotKindRegistry()
        .Add(new RobotKind("quadrotor", "a quadrotor: four rotors, force commands through the target's actuator model", QuadrotorConfig.Load))
        .Add(new RobotKind("diff_drive", "a differential-drive robot with a 2D lidar (TurtleBot3-class)", DiffDriveConfig.Load))
        .Add(new RobotKind("swarm", "N quadrotors flown by one shared policy (a swarm task, configs/swarm/*.json)", Swarm.SwarmTaskConfig.Load));

    public RobotKindRegistry Add(RobotKind kind)
    {
        if (!_kinds.TryAdd(kind.Name, kind)) throw new ArgumentException($"robot kind \"{kind.Name}\" is registered twice", nameof(kind));
        return this;
    }

    /// <summary>The registered kind names, sorted.</summary>
    public IReadOnlyList<string> Names => _kinds.Keys.Order(StringComparer.Ordinal).ToList();

    public bool TryGet(string name, out RobotKind kind) => _kinds.TryGetValue(name, out kind!);

    public RobotKind this[string name] => _kinds.TryGetValue(name, out RobotKind? kind) ? kind
        : throw new KeyNotFoundException($"robot kind \"{name}\" is not registered; registered: {string.Join(", ", Names)}");

    /// <summary>
    /// The kind a robot config file names in its "kind" key (required: it is what the node and the trainer dispatch on),
    /// with the config loaded by that kind. Errors name the file, the key and the registered kinds.
    /// </summary>
    public (RobotKind Kind, object Robot) LoadRobot(string file)
    {
        ConfigNode node = ConfigNode.LoadFile(file);
        if (!node.Has(KindKey))
            throw node.Error(KindKey, $"missing required key: every robot config names its kind; add \"kind\": one of {string.Join(", ", Names.Select(n => $"\"{n}\""))}");
        string name = node.String(KindKey);
        if (!_kinds.TryGetValue(name, out RobotKind? kind))
            throw node.Error(KindKey, $"unknown robot kind \"{name}\"; registered: {string.Join(", ", Names)}");
        return (kind, kind.LoadRobot(file));
    }
}
