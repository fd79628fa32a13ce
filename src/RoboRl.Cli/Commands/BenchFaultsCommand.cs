using System.CommandLine;
using RoboRl.Faults;

namespace RoboRl.Cli.Commands;

/// <summary>`roborl bench faults`: the fault, abuse and access suite (src/RoboRl.Faults, issue #9). Exit code 0 when every scenario passed.</summary>
public static class BenchFaultsCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print one JSON object: scenarios (name, passed, time_to_safe_ms, lost_log_messages, detail), passed, failed, fuzz_inputs, fuzz_failures" };
        var only = new Option<string?>("--only") { Description = $"Run one scenario: {string.Join(", ", FaultSuite.All.Select(s => s.Name))}" };
        var budget = new Option<string>("--fuzz-budget") { Description = "small (CI: a twentieth of the fuzzing, a 2 s flood) or full (the issue's counts; ≤ 10 min)", DefaultValueFactory = _ => "full" };
        var command = new Command("faults", "Rehearse field faults against the node with the real transports: safe state, time to safe, lost log messages")
        {
            json, only, budget,
        };
        command.SetAction(parse =>
        {
            var io = new CommandIo("bench faults", parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, parse.GetValue(json));
            FaultBudget fuzz;
            IReadOnlyList<IFaultScenario> scenarios;
            try
            {
                fuzz = FaultBudget.Parse(parse.GetValue(budget)!);
                scenarios = parse.GetValue(only) is { } name ? [FaultSuite.Find(name)] : FaultSuite.All;
            }
            catch (ArgumentException e) { throw CliException.BadInput(e.Message); }
            // Progress on stderr (one line per scenario), so that stdout stays one JSON object with --json.
            List<FaultResult> results = FaultSuite.Run(scenarios, fuzz, (scenario, result, took) =>
                io.Error.WriteLine($"  {(result.Passed ? "pass" : "FAIL")}  {scenario.Name,-22} {took.TotalSeconds,6:0.0} s  {result.Detail}"));
            if (!io.Json)
            {
                io.Output.WriteLine($"{"scenario",-22} {"passed",-6} {"time to safe",12} {"lost log msgs",13}");
                foreach (FaultResult r in results)
                    io.Output.WriteLine($"{r.Name,-22} {(r.Passed ? "yes" : "NO"),-6} {(r.TimeToSafeMs is double t ? $"{t:0.#} ms" : "—"),12} {(r.LostLogMessages?.ToString() ?? "—"),13}");
            }
            long fuzzInputs = results.Sum(r => r.FuzzInputs), fuzzFailures = results.Sum(r => r.FuzzFailures);
            int failed = results.Count(r => !r.Passed);
            io.Error.WriteLine($"faults: {results.Count - failed} passed, {failed} failed; fuzz {fuzzInputs} inputs, {fuzzFailures} failures ({fuzz.Name} budget)");
            return io.Result(FaultSuite.ToJson(results), failed == 0 ? ExitCodes.Ok : ExitCodes.Failed);
        });
        return command;
    }
}
