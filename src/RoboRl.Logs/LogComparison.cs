using System.Globalization;
using System.Text.Json.Nodes;
using RoboRl.Core.Messages;

namespace RoboRl.Logs;

/// <summary>What <see cref="LogComparison.Compare"/> found on one topic.</summary>
/// <param name="MessagesA">Messages on the topic in the first log (and <paramref name="MessagesB"/> in the second).</param>
/// <param name="Values">Numbers compared (every float of every pair of messages, stamps excepted).</param>
/// <param name="MaxAbsDiff">Largest |a − b| over those numbers (+∞ when a number is NaN on one side only).</param>
/// <param name="FirstOver">The first difference above the tolerance ("message 12: values[2]: 0.51 vs 0.52"), or null.</param>
public sealed record TopicComparison(string Topic, int MessagesA, int MessagesB, long Values, double MaxAbsDiff, string? FirstOver)
{
    public bool SameCount => MessagesA == MessagesB;
}

/// <summary>
/// Compares two flight logs message by message on chosen topics, in recorded order: every number of each decoded
/// message (arrays element-wise) must agree within a tolerance, strings exactly, and header stamps are skipped (two
/// runs are recorded at different wall-clock times). What `roborl log compare` runs: e.g. the /action of the same
/// lock-step flight on x64 and on arm64.
/// </summary>
public static class LogComparison
{
    public static IReadOnlyList<TopicComparison> Compare(string pathA, string pathB, IReadOnlyList<string> topics, double tolerance)
    {
        var decoder = new McapMessageDecoder();
        Dictionary<string, List<JsonNode?>> a = Read(pathA, topics, decoder), b = Read(pathB, topics, decoder);
        var results = new List<TopicComparison>();
        foreach (string topic in topics)
        {
            List<JsonNode?> ma = a[topic], mb = b[topic];
            long values = 0;
            double max = 0;
            string? first = null;
            for (int i = 0; i < Math.Min(ma.Count, mb.Count); i++)
                Walk(ma[i], mb[i], "", i, tolerance, ref values, ref max, ref first);
            if (first is null && ma.Count != mb.Count) first = $"{ma.Count} messages in {pathA}, {mb.Count} in {pathB}";
            results.Add(new TopicComparison(topic, ma.Count, mb.Count, values, max, first));
        }
        return results;
    }

    private static Dictionary<string, List<JsonNode?>> Read(string path, IReadOnlyList<string> topics, McapMessageDecoder decoder)
    {
        var byTopic = topics.ToDictionary(t => t, _ => new List<JsonNode?>(), StringComparer.Ordinal);
        using McapStreamReader reader = McapStreamReader.Open(path);
        foreach (McapMessage m in reader.ReadMessages())
            if (byTopic.TryGetValue(m.Channel.Topic, out List<JsonNode?>? list))
                list.Add(m.Channel.MessageEncoding == McapConstants.JsonMessageEncoding ? JsonNode.Parse(m.Data.Span) : decoder.Decode(m).ToJson());
        if (reader.Stop is { Kind: not McapStopKind.Complete } stop) throw new FlightLogException($"{path}: damaged at byte {stop.Offset} ({stop.Reason}); run `roborl log check`");
        return byTopic;
    }

    private static void Walk(JsonNode? a, JsonNode? b, string path, int message, double tolerance, ref long values, ref double max, ref string? first)
    {
        switch (a, b)
        {
            case (JsonObject oa, JsonObject ob):
                foreach (var (key, value) in oa)
                    if (key != "stamp") Walk(value, ob[key], path.Length == 0 ? key : $"{path}.{key}", message, tolerance, ref values, ref max, ref first);
                return;
            case (JsonArray xa, JsonArray xb):
                if (xa.Count != xb.Count) { first ??= $"message {message}: {path} has {xa.Count} elements vs {xb.Count}"; return; }
                for (int i = 0; i < xa.Count; i++) Walk(xa[i], xb[i], $"{path}[{i}]", message, tolerance, ref values, ref max, ref first);
                return;
            case (JsonValue va, JsonValue vb) when Number(va) is { } x && Number(vb) is { } y:
                values++;
                double diff = double.IsNaN(x) && double.IsNaN(y) ? 0 : double.IsNaN(x) || double.IsNaN(y) ? double.PositiveInfinity : x == y ? 0 : Math.Abs(x - y);
                if (diff > max) max = diff;
                if (!(diff <= tolerance))
                    first ??= string.Create(CultureInfo.InvariantCulture, $"message {message}: {path}: {x:R} vs {y:R} (|Δ| {diff:G3} > {tolerance:G3})");
                return;
            default:
                if (a?.ToJsonString() != b?.ToJsonString()) first ??= $"message {message}: {path}: {a?.ToJsonString()} vs {b?.ToJsonString()}";
                return;
        }
    }

    private static double? Number(JsonValue v) =>
        v.TryGetValue(out double d) ? d : v.TryGetValue(out float f) ? f : v.TryGetValue(out long l) ? l : v.TryGetValue(out ulong u) ? u
        : v.TryGetValue(out int i) ? i : v.TryGetValue(out uint ui) ? ui : v.TryGetValue(out string? s) && s is "NaN" ? double.NaN : null;
}
