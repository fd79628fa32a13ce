using System.Globalization;
using System.Text.Json;

namespace RoboRl.Core.Configs;

/// <summary>
/// A config file was malformed: names the file, the key as a JSON path (<c>$.rotors[2].position</c>)
/// and what was expected (type, allowed range or allowed keys).
/// </summary>
public sealed class ConfigException : Exception
{
    public ConfigException(string file, string jsonPath, string problem)
        : base($"{file}: {jsonPath}: {problem}")
    {
        File = file;
        JsonPath = jsonPath;
        Problem = problem;
    }

    public string File { get; }
    public string JsonPath { get; }
    public string Problem { get; }
}

/// <summary>
/// The one schema mechanism for RoboRl's JSON configs (robots, tasks, nodes). A typed config reads
/// itself through these accessors, and each accessor IS the schema of its key: the expected type,
/// the allowed range, required or optional. <see cref="EnsureNoUnknownKeys"/> (call it after an
/// object's keys were read) turns any key nobody asked for into an error listing the allowed keys.
/// Every error is a <see cref="ConfigException"/> naming the file, the JSON path and the range.
/// </summary>
public sealed class ConfigNode
{
    private readonly JsonElement _element;
    private readonly HashSet<string> _readKeys = new(StringComparer.Ordinal);

    private ConfigNode(JsonElement element, string file, string path)
    {
        _element = element;
        File = file;
        Path = path;
    }

    /// <summary>The file (or source name) this node came from, for error messages.</summary>
    public string File { get; }

    /// <summary>JSON path of this node, "$" for the document root.</summary>
    public string Path { get; }

    /// <summary>Directory of <see cref="File"/>, to resolve relative paths inside a config.</summary>
    public string Directory => System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(File)) ?? ".";

    /// <summary>Parses a config file; the root must be a JSON object.</summary>
    public static ConfigNode LoadFile(string file)
    {
        // A directory or a named pipe gets a plain answer (and a FIFO never blocks the reader).
        if (InputFiles.WhyNotReadable(file) is { } why) throw new ConfigException(file, "$", why);
        string text;
        try { text = System.IO.File.ReadAllText(file); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException(file, "$", $"cannot read the file ({e.Message})");
        }
        return Parse(text, file);
    }

    /// <summary>Parses JSON text; <paramref name="sourceName"/> is used as the file name in errors.</summary>
    public static ConfigNode Parse(string json, string sourceName)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new ConfigException(sourceName, "$", $"not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine}): {e.Message}");
        }
        var root = new ConfigNode(document.RootElement.Clone(), sourceName, "$");
        document.Dispose();
        root.RequireKind(root._element, JsonValueKind.Object, "$", "a JSON object");
        RejectDuplicateKeys(root._element, sourceName, "$");
        return root;
    }

    /// <summary>JSON readers keep the last of two equal keys silently; in a config that hides a typo or a stale edit, so it is an error.</summary>
    private static void RejectDuplicateKeys(JsonElement element, string sourceName, string path)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty property in element.EnumerateObject())
            {
                string child = $"{path}.{property.Name}";
                if (!seen.Add(property.Name))
                    throw new ConfigException(sourceName, child, "appears twice in the same object; keep one");
                RejectDuplicateKeys(property.Value, sourceName, child);
            }
        }
        else if (element.ValueKind == JsonValueKind.Array)
        {
            int i = 0;
            foreach (JsonElement item in element.EnumerateArray()) RejectDuplicateKeys(item, sourceName, $"{path}[{i++}]");
        }
    }

    /// <summary>True when the object has <paramref name="key"/> (marks it as known).</summary>
    public bool Has(string key)
    {
        _readKeys.Add(key);
        return _element.TryGetProperty(key, out _);
    }

    /// <summary>A required number in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public double Number(string key, double min, double max)
    {
        var (value, path) = Property(key);
        return CheckNumber(value, path, min, max);
    }

    /// <summary>An optional number; <paramref name="fallback"/> when absent.</summary>
    public double Number(string key, double min, double max, double fallback)
        => Has(key) ? Number(key, min, max) : fallback;

    /// <summary>A required integer in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public long Integer(string key, long min, long max)
    {
        var (value, path) = Property(key);
        return CheckInteger(value, path, min, max);
    }

    /// <summary>An optional integer; <paramref name="fallback"/> when absent.</summary>
    public long Integer(string key, long min, long max, long fallback)
        => Has(key) ? Integer(key, min, max) : fallback;

    /// <summary>A required boolean.</summary>
    public bool Boolean(string key)
    {
        var (value, path) = Property(key);
        if (value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            throw new ConfigException(File, path, $"expected true or false, found {Describe(value)}");
        return value.GetBoolean();
    }

    /// <summary>A required non-empty string.</summary>
    public string String(string key)
    {
        var (value, path) = Property(key);
        RequireKind(value, JsonValueKind.String, path, "a string");
        string s = value.GetString()!;
        if (s.Length == 0) throw new ConfigException(File, path, "expected a non-empty string");
        return s;
    }

    /// <summary>A required array of exactly <paramref name="length"/> numbers, each in [min, max].</summary>
    public double[] Numbers(string key, int length, double min, double max)
    {
        var (value, path) = Property(key);
        RequireKind(value, JsonValueKind.Array, path, $"an array of {length} numbers in [{Format(min)}, {Format(max)}]");
        int count = value.GetArrayLength();
        if (count != length)
            throw new ConfigException(File, path, $"expected an array of {length} numbers, found {count} elements");
        var result = new double[length];
        int i = 0;
        foreach (JsonElement item in value.EnumerateArray())
        {
            result[i] = CheckNumber(item, $"{path}[{i}]", min, max);
            i++;
        }
        return result;
    }

    /// <summary>A required [lo, hi] pair with min ≤ lo ≤ hi ≤ max.</summary>
    public (double Low, double High) Range(string key, double min, double max)
    {
        double[] pair = Numbers(key, 2, min, max);
        if (pair[0] > pair[1])
            throw new ConfigException(File, ChildPath(key), $"expected [low, high] with low <= high, found [{Format(pair[0])}, {Format(pair[1])}]");
        return (pair[0], pair[1]);
    }

    /// <summary>A required [lo, hi] pair of integers with min ≤ lo ≤ hi ≤ max.</summary>
    public (long Low, long High) IntegerRange(string key, long min, long max)
    {
        var (value, path) = Property(key);
        RequireKind(value, JsonValueKind.Array, path, $"an array [low, high] of integers in [{min}, {max}]");
        if (value.GetArrayLength() != 2)
            throw new ConfigException(File, path, $"expected [low, high] (2 integers), found {value.GetArrayLength()} elements");
        long low = CheckInteger(value[0], path + "[0]", min, max);
        long high = CheckInteger(value[1], path + "[1]", min, max);
        if (low > high)
            throw new ConfigException(File, path, $"expected [low, high] with low <= high, found [{low}, {high}]");
        return (low, high);
    }

    /// <summary>A required nested object.</summary>
    public ConfigNode Object(string key)
    {
        var (value, path) = Property(key);
        RequireKind(value, JsonValueKind.Object, path, "a JSON object");
        return new ConfigNode(value, File, path);
    }

    /// <summary>A required array of objects with a count in [minCount, maxCount].</summary>
    public IReadOnlyList<ConfigNode> Objects(string key, int minCount, int maxCount)
    {
        var (value, path) = Property(key);
        RequireKind(value, JsonValueKind.Array, path, "an array of JSON objects");
        int count = value.GetArrayLength();
        if (count < minCount || count > maxCount)
        {
            string allowed = minCount == maxCount ? $"{minCount}" : $"{minCount} to {maxCount}";
            throw new ConfigException(File, path, $"expected {allowed} elements, found {count}");
        }
        var nodes = new List<ConfigNode>(count);
        int i = 0;
        foreach (JsonElement item in value.EnumerateArray())
        {
            string itemPath = $"{path}[{i}]";
            RequireKind(item, JsonValueKind.Object, itemPath, "a JSON object");
            nodes.Add(new ConfigNode(item, File, itemPath));
            i++;
        }
        return nodes;
    }

    /// <summary>This node's JSON text (comments dropped), e.g. to record the config a policy was trained with.</summary>
    public string RawJson => _element.GetRawText();

    /// <summary>A required string that must be one of <paramref name="allowed"/>.</summary>
    public string Choice(string key, params string[] allowed)
    {
        string value = String(key);
        if (!allowed.Contains(value, StringComparer.Ordinal))
            throw new ConfigException(File, ChildPath(key), $"\"{value}\" is not allowed; expected one of: {string.Join(", ", allowed)}");
        return value;
    }

    /// <summary>A required array of <paramref name="minCount"/>…<paramref name="maxCount"/> integers, each in [min, max].</summary>
    public int[] Integers(string key, int minCount, int maxCount, int min, int max)
    {
        var (value, path) = Property(key);
        RequireKind(value, JsonValueKind.Array, path, $"an array of {minCount} to {maxCount} integers in [{min}, {max}]");
        int count = value.GetArrayLength();
        if (count < minCount || count > maxCount)
            throw new ConfigException(File, path, $"expected {minCount} to {maxCount} integers, found {count} elements");
        var result = new int[count];
        int i = 0;
        foreach (JsonElement item in value.EnumerateArray())
        {
            result[i] = (int)CheckInteger(item, $"{path}[{i}]", min, max);
            i++;
        }
        return result;
    }

    /// <summary>The object's keys in file order (marks none as read).</summary>
    public IEnumerable<string> Keys => _element.EnumerateObject().Select(p => p.Name);

    /// <summary>An object mapping keys to non-empty strings (e.g. "sources"); returns the map.</summary>
    public IReadOnlyDictionary<string, string> StringMap(string key)
    {
        ConfigNode node = Object(key);
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string k in node.Keys.ToList()) map[k] = node.String(k);
        return map;
    }

    /// <summary>A required array of strings, each one of <paramref name="allowed"/> (any non-empty string when null).</summary>
    public IReadOnlyList<string> Strings(string key, IReadOnlyCollection<string>? allowed = null)
    {
        var (value, path) = Property(key);
        string expected = allowed is null ? "an array of strings" : $"an array of strings from [{string.Join(", ", allowed)}]";
        RequireKind(value, JsonValueKind.Array, path, expected);
        var result = new List<string>(value.GetArrayLength());
        int i = 0;
        foreach (JsonElement item in value.EnumerateArray())
        {
            string itemPath = $"{path}[{i++}]";
            if (item.ValueKind != JsonValueKind.String || item.GetString()!.Length == 0)
                throw new ConfigException(File, itemPath, $"expected a non-empty string, found {Describe(item)}");
            string s = item.GetString()!;
            if (allowed is not null && !allowed.Contains(s))
                throw new ConfigException(File, itemPath, $"expected one of [{string.Join(", ", allowed)}], found \"{s}\"");
            result.Add(s);
        }
        return result;
    }

    /// <summary>Throws for any key of this object that no accessor asked for, listing the allowed keys.</summary>
    public void EnsureNoUnknownKeys() => EnsureNoUnknownKeys(objectHint: null);

    /// <summary>
    /// As <see cref="EnsureNoUnknownKeys()"/>; an unknown key whose value is a JSON object (a section) is explained by
    /// <paramref name="objectHint"/> instead (e.g. how to put a transport's section to use).
    /// </summary>
    public void EnsureNoUnknownKeys(Func<string, string>? objectHint)
    {
        foreach (JsonProperty property in _element.EnumerateObject())
        {
            if (!_readKeys.Contains(property.Name))
            {
                if (objectHint is not null && property.Value.ValueKind == JsonValueKind.Object)
                    throw new ConfigException(File, ChildPath(property.Name), $"unknown key: {objectHint(property.Name)}");
                string allowed = string.Join(", ", _readKeys.Order(StringComparer.Ordinal));
                string hint = ClosestOf(property.Name, _readKeys.Where(k => !_element.TryGetProperty(k, out _))) is { } near ? $"did you mean \"{near}\"? " : "";
                throw new ConfigException(File, ChildPath(property.Name), $"unknown key; {hint}allowed keys here: {allowed}");
            }
        }
    }

    /// <summary>Builds an error for this node's <paramref name="key"/> (cross-field checks).</summary>
    public ConfigException Error(string key, string problem) => new(File, ChildPath(key), problem);

    private (JsonElement Value, string Path) Property(string key)
    {
        _readKeys.Add(key);
        string path = ChildPath(key);
        if (!_element.TryGetProperty(key, out JsonElement value))
        {
            // A misspelt key is both missing and unknown: name the one the file has next to the one it lacks.
            string? typo = ClosestOf(key, Keys.Where(k => !_readKeys.Contains(k)));
            throw new ConfigException(File, path, typo is null ? "missing required key"
                : $"missing required key; the file has the unknown key \"{typo}\" here: did you mean \"{key}\"?");
        }
        return (value, path);
    }

    /// <summary>The candidate closest to <paramref name="key"/> by edit distance, if close enough to be a typo of it
    /// (at most 2 edits, and at most a third of the longer name), else null.</summary>
    internal static string? ClosestOf(string key, IEnumerable<string> candidates)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (string candidate in candidates)
        {
            int d = EditDistance(key, candidate);
            if (d < bestDistance) { bestDistance = d; best = candidate; }
        }
        if (best is null) return null;
        int limit = Math.Min(2, Math.Max(key.Length, best.Length) / 3);
        return bestDistance <= limit ? best : null;
    }

    /// <summary>Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours cost 1.</summary>
    internal static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        return d[a.Length, b.Length];
    }

    private string ChildPath(string key) => $"{Path}.{key}";

    private double CheckNumber(JsonElement value, string path, double min, double max)
    {
        string range = $"[{Format(min)}, {Format(max)}]";
        if (value.ValueKind != JsonValueKind.Number)
            throw new ConfigException(File, path, $"expected a number in {range}, found {Describe(value)}");
        double d = value.GetDouble();
        if (!double.IsFinite(d) || d < min || d > max)
            throw new ConfigException(File, path, $"value {Format(d)} is out of range; allowed {range}");
        return d;
    }

    private long CheckInteger(JsonElement value, string path, long min, long max)
    {
        string range = $"[{min}, {max}]";
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out long v))
            throw new ConfigException(File, path, $"expected an integer in {range}, found {Describe(value)}");
        if (v < min || v > max)
            throw new ConfigException(File, path, $"value {v} is out of range; allowed {range}");
        return v;
    }

    private void RequireKind(JsonElement value, JsonValueKind kind, string path, string expected)
    {
        if (value.ValueKind != kind)
            throw new ConfigException(File, path, $"expected {expected}, found {Describe(value)}");
    }

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => $"the string \"{value.GetString()}\"",
        JsonValueKind.Number => $"the number {value.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
        JsonValueKind.Null => "null",
        _ => value.ValueKind.ToString(),
    };

    private static string Format(double d) => d.ToString("G6", CultureInfo.InvariantCulture);
}
