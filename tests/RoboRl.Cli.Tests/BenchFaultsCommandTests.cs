using System.Text.Json.Nodes;

namespace RoboRl.Cli.Tests;

/// <summary>`roborl bench faults`: registered, bad arguments refused, one scenario's JSON as the issue specifies.</summary>
[NonParallelizable]
public class BenchFaultsCommandTests
{
    [Test]
    public void BenchFaultsIsRegistered()
    {
        var bench = Program.BuildRootCommand().Subcommands.Single(c => c.Name == "bench");
        Assert.That(bench.Subcommands.Select(c => c.Name), Does.Contain("faults"));
    }

    [Test]
    public void UnknownScenarioOrBudgetIsRefusedWithExitCode2()
    {
        Assert.That(Program.BuildRootCommand().Parse(["bench", "faults", "--only", "nope"]).Invoke(), Is.EqualTo(2));
        Assert.That(Program.BuildRootCommand().Parse(["bench", "faults", "--fuzz-budget", "huge"]).Invoke(), Is.EqualTo(2));
    }

    [Test]
    public void OneScenarioAsJson()
    {
        var stdout = new StringWriter();
        TextWriter original = Console.Out;
        Console.SetOut(stdout);
        int code;
        try { code = Program.BuildRootCommand().Parse(["bench", "faults", "--only", "policy-nan", "--json"]).Invoke(); }
        finally { Console.SetOut(original); }
        JsonObject json = JsonNode.Parse(stdout.ToString())!.AsObject();
        Assert.That(code, Is.EqualTo(0), stdout.ToString());
        Assert.That(json.Select(p => p.Key), Is.EqualTo(new[] { "scenarios", "passed", "failed", "fuzz_inputs", "fuzz_failures", "exit_code" }));
        JsonObject scenario = json["scenarios"]![0]!.AsObject();
        Assert.That((string)scenario["name"]!, Is.EqualTo("policy-nan"));
        Assert.That((bool)scenario["passed"]!, Is.True);
        Assert.That((double)scenario["time_to_safe_ms"]!, Is.EqualTo(0));
        Assert.That((long)scenario["lost_log_messages"]!, Is.EqualTo(0));
        Assert.That(((int)json["passed"]!, (int)json["failed"]!), Is.EqualTo((1, 0)));
    }
}
