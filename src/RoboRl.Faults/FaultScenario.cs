using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RoboRl.Faults;

/// <summary>How hard the suite pushes: the fuzz counts and the length of the soak-like scenarios.</summary>
public sealed record FaultBudget
{
    public required string Name { get; init; }
    public required int SerialDecoderInputs { get; init; }
    public required int CdrInputs { get; init; }
    public required int McapInputs { get; init; }
    public required int ConfigInputs { get; init; }
    public required int BundleInputs { get; init; }
    /// <summary>How long the serial garbage flood runs, seconds.</summary>
    public required double FloodSeconds { get; init; }

    /// <summary>The counts (≥ 1 M serial, ≥ 100 k CDR, ≥ 10 k MCAP, config and bundle); the suite stays under 10 minutes.</summary>
    public static FaultBudget Full { get; } = new()
    {
        Name = "full",
        SerialDecoderInputs = 1_000_000,
        CdrInputs = 100_000,
        McapInputs = 10_000,
        ConfigInputs = 10_000,
        BundleInputs = 10_000,
        FloodSeconds = 5,
    };

    /// <summary>For CI on a loaded 2-core machine: every scenario, a twentieth of the fuzzing, a 2 s flood.</summary>
    public static FaultBudget Small { get; } = new()
    {
        Name = "small",
        SerialDecoderInputs = 50_000,
        CdrInputs = 5_000,
        McapInputs = 500,
        ConfigInputs = 500,
        BundleInputs = 500,
        FloodSeconds = 2,
    };

    public static FaultBudget Parse(string name) => name switch
    {
        "full" => Full,
        "small" => Small,
        _ => throw new ArgumentException($"--fuzz-budget: unknown budget \"{name}\"; allowed: small, full"),
    };
}

/// <summary>
/// What one scenario found. <see cref="TimeToSafeMs"/>: from the injection to the documented safe state (null where the
/// scenario has none, e.g. fuzzing); <see cref="LostLogMessages"/>: messages the flight log should hold and does not
/// (null where no log is involved); <see cref="Detail"/>: one line of what was injected, seen and counted.
/// </summary>
public sealed record FaultResult(string Name, bool Passed, double? TimeToSafeMs, long? LostLogMessages, string Detail)
{
    public long FuzzInputs { get; init; }
    public long FuzzFailures { get; init; }

    public JsonObject ToJson() => new()
    {
        ["name"] = Name,
        ["passed"] = Passed,
        ["time_to_safe_ms"] = TimeToSafeMs is double t ? Math.Round(t, 3) : null,
        ["lost_log_messages"] = LostLogMessages,
        ["detail"] = Detail,
    };
}

/// <summary>One rehearsed fault: inject, observe, assert the documented safe state, check the log.</summary>
public interface IFaultScenario
{
    /// <summary>Short kebab-case name (`--only NAME`).</summary>
    string Name { get; }
    /// <summary>One line: what is injected and what safe state is expected.</summary>
    string Description { get; }
    /// <summary>Runs the scenario. Failures of the node are reported in the result, never thrown.</summary>
    FaultResult Run(FaultBudget budget);
}

/// <summary>A failed expectation inside a scenario (caught by <see cref="FaultSuite"/> and reported as not passed).</summary>
public sealed class FaultCheckException(string message) : Exception(message);

/// <summary>The suite: every scenario in the order (scenario 2 in two parts: flyer, ground robot), run one after the other.</summary>
public static class FaultSuite
{
    public static IReadOnlyList<IFaultScenario> All { get; } =
    [
        new Scenarios.MqttBrokerKilled(),
        new Scenarios.SensorStreamStops(),
        new Scenarios.GroundSensorStops(),
        new Scenarios.SerialGarbageFlood(),
        new Scenarios.BadFrames(),
        new Scenarios.PolicyBadOutput(),
        new Scenarios.TickOverrun(),
        new Scenarios.GeofenceAndSpeed(),
        new Scenarios.RecorderKilled(),
        new Scenarios.DiskFull(),
        new Scenarios.Access(),
        new Scenarios.Fuzzing(),
    ];

    public static IFaultScenario Find(string name) =>
        All.FirstOrDefault(s => s.Name == name)
        ?? throw new ArgumentException($"--only: unknown scenario \"{name}\"; known: {string.Join(", ", All.Select(s => s.Name))}");

    /// <summary>Runs one scenario; an exception escaping it is a failure of that scenario (named in the detail).</summary>
    public static FaultResult RunOne(IFaultScenario scenario, FaultBudget budget)
    {
        try { return scenario.Run(budget); }
        catch (FaultCheckException e) { return new FaultResult(scenario.Name, false, null, null, e.Message); }
        catch (Exception e) { return new FaultResult(scenario.Name, false, null, null, $"unhandled {e.GetType().Name}: {e.Message}"); }
    }

    public static List<FaultResult> Run(IEnumerable<IFaultScenario> scenarios, FaultBudget budget, Action<IFaultScenario, FaultResult, TimeSpan>? done = null)
    {
        var results = new List<FaultResult>();
        foreach (IFaultScenario scenario in scenarios)
        {
            var watch = Stopwatch.StartNew();
            FaultResult result = RunOne(scenario, budget);
            results.Add(result);
            done?.Invoke(scenario, result, watch.Elapsed);
        }
        return results;
    }

    /// <summary>The JSON: scenarios (name, passed, time_to_safe_ms, lost_log_messages, detail), passed, failed, fuzz_inputs, fuzz_failures.</summary>
    public static JsonObject ToJson(IReadOnlyList<FaultResult> results) => new()
    {
        ["scenarios"] = new JsonArray(results.Select(r => (JsonNode)r.ToJson()).ToArray()),
        ["passed"] = results.Count(r => r.Passed),
        ["failed"] = results.Count(r => !r.Passed),
        ["fuzz_inputs"] = results.Sum(r => r.FuzzInputs),
        ["fuzz_failures"] = results.Sum(r => r.FuzzFailures),
    };

    public static string ToJsonString(IReadOnlyList<FaultResult> results) =>
        ToJson(results).ToJsonString(new JsonSerializerOptions { WriteIndented = true });
}

/// <summary>Small assertion helpers that throw <see cref="FaultCheckException"/> with the scenario's own words.</summary>
internal static class Check
{
    public static void That(bool condition, string what)
    {
        if (!condition) throw new FaultCheckException(what);
    }

    /// <summary>Polls <paramref name="condition"/> (off any real-time thread) until true or the timeout; false on timeout.</summary>
    public static bool WaitFor(Func<bool> condition, TimeSpan timeout, int pollMs = 5)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > timeout) return false;
            Thread.Sleep(pollMs);
        }
        return true;
    }
}
