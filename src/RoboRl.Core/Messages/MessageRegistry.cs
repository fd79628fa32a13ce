using System.Text;

namespace RoboRl.Core.Messages;

/// <summary>
/// Every message type RoboRl knows, parsed once from its .msg text. Adding a type is adding a definition
/// (<see cref="StandardMessages"/> or <see cref="Register"/>): the CDR codec, the MCAP schema text and the DDS
/// descriptors are all derived from it.
/// </summary>
public sealed class MessageRegistry
{
    private readonly Dictionary<string, MsgDefinition> _byFullName = new(StringComparer.Ordinal);
    private readonly object _gate = new();

    /// <summary>The ROS 2 standard types RoboRl uses plus roborl_msgs (see <see cref="StandardMessages"/>).</summary>
    public static MessageRegistry Default { get; } = CreateDefault();

    public static MessageRegistry CreateDefault()
    {
        var registry = new MessageRegistry();
        foreach (var (name, source, text) in StandardMessages.All) registry.Register(name, text, source);
        foreach (var def in registry.All) registry.Get(def.FullName); // resolve and validate every reference now
        return registry;
    }

    /// <summary>All registered definitions in registration order.</summary>
    public IReadOnlyList<MsgDefinition> All
    {
        get { lock (_gate) return _byFullName.Values.ToList(); }
    }

    /// <summary>Parses and adds a definition (<c>pkg/Type</c> or <c>pkg/msg/Type</c>). References are resolved on first <see cref="Get"/>.</summary>
    public MsgDefinition Register(string fullName, string text, string source = "")
    {
        var def = MsgParser.Parse(fullName, text, source);
        lock (_gate)
        {
            if (_byFullName.ContainsKey(def.FullName))
                throw new MsgDefinitionException($"message type '{def.FullName}' is already registered");
            _byFullName.Add(def.FullName, def);
        }
        return def;
    }

    /// <summary>Finds a type by <c>pkg/Type</c> or <c>pkg/msg/Type</c> with every nested type resolved.</summary>
    public MsgDefinition Get(string name)
    {
        if (!TryGet(name, out var def)) throw new MsgDefinitionException($"unknown message type '{name}' (not in the registry)");
        return def;
    }

    public bool TryGet(string name, out MsgDefinition definition)
    {
        definition = null!;
        string key;
        try { var (p, n) = MsgParser.SplitName(name); key = $"{p}/{n}"; }
        catch (MsgDefinitionException) { return false; }
        lock (_gate)
        {
            if (!_byFullName.TryGetValue(key, out var def)) return false;
            Resolve(def, new Stack<string>());
            definition = def;
            return true;
        }
    }

    private void Resolve(MsgDefinition def, Stack<string> path)
    {
        if (path.Contains(def.FullName))
            throw new MsgDefinitionException($"message type '{def.FullName}' contains itself ({string.Join(" <- ", path)})");
        path.Push(def.FullName);
        foreach (var field in def.Fields)
        {
            if (field.Type.IsPrimitive) continue;
            if (!_byFullName.TryGetValue(field.Type.TypeName!, out var nested))
                throw new MsgDefinitionException(
                    $"{def.FullName}: field '{field.Name}' has type '{field.Type.TypeName}', which is not registered");
            Resolve(nested, path);
            field.Type.Definition = nested;
        }
        path.Pop();
    }

    /// <summary>
    /// Registers every definition in a ros2msg schema (as MCAP files and rosbag2 store them: the top-level text, then
    /// sections separated by a line of '=' and <c>MSG: pkg/Type</c>) and returns the top-level type, resolved. Lets a
    /// reader decode files whose types this registry did not know; a type already registered is kept as it is.
    /// </summary>
    public MsgDefinition RegisterRos2MsgSchema(string schemaName, string schemaText, string source = "MCAP schema")
    {
        var sections = new List<(string Name, System.Text.StringBuilder Text)> { (schemaName, new System.Text.StringBuilder()) };
        foreach (var rawLine in schemaText.Replace("\r\n", "\n").Split('\n'))
        {
            string line = rawLine.TrimEnd();
            if (line.Length >= 3 && line.All(c => c == '=')) { sections.Add(("", new System.Text.StringBuilder())); continue; }
            var current = sections[^1];
            if (current.Name.Length == 0 && line.StartsWith("MSG: ", StringComparison.Ordinal))
            {
                sections[^1] = (line[5..].Trim(), current.Text);
                continue;
            }
            current.Text.Append(rawLine).Append('\n');
        }
        foreach (var (name, text) in sections)
        {
            if (name.Length == 0) throw new MsgDefinitionException($"schema '{schemaName}': a section after a '=' line has no 'MSG: pkg/Type' line");
            var (p, n) = MsgParser.SplitName(name);
            bool known;
            lock (_gate) known = _byFullName.ContainsKey($"{p}/{n}");
            if (!known) Register(name, text.ToString().TrimEnd('\n'), source);
        }
        return Get(schemaName);
    }

    /// <summary>The nested types of <paramref name="definition"/>, each once, depth first in field order.</summary>
    public static IReadOnlyList<MsgDefinition> Dependencies(MsgDefinition definition)
    {
        var result = new List<MsgDefinition>();
        void Visit(MsgDefinition d)
        {
            foreach (var f in d.Fields)
            {
                if (f.Type.IsPrimitive) continue;
                var nested = f.Type.Definition
                    ?? throw new MsgDefinitionException($"{d.FullName}: field '{f.Name}' is not resolved; get the type from a registry");
                if (result.Contains(nested)) continue;
                result.Add(nested);
                Visit(nested);
            }
        }
        Visit(definition);
        return result;
    }

    /// <summary>
    /// The ros2msg schema text MCAP stores (and rosbag2 writes): the type's own .msg text, then for each dependency a
    /// line of 80 '=' and <c>MSG: pkg/Type</c> followed by its text (MCAP spec, "ros2msg" schema encoding).
    /// </summary>
    public static string Ros2MsgSchemaText(MsgDefinition definition)
    {
        var sb = new StringBuilder();
        AppendText(sb, definition.Text);
        foreach (var dep in Dependencies(definition))
        {
            sb.Append('=', 80).Append('\n');
            sb.Append("MSG: ").Append(dep.FullName).Append('\n');
            AppendText(sb, dep.Text);
        }
        return sb.ToString();

        static void AppendText(StringBuilder sb, string text)
        {
            sb.Append(text.Replace("\r\n", "\n"));
            if (sb.Length > 0 && sb[^1] != '\n') sb.Append('\n');
        }
    }
}
