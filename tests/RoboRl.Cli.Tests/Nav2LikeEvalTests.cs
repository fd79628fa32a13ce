using System.CommandLine;
using System.Text.Json;
using RoboRl.Cli.Commands;

namespace RoboRl.Cli.Tests;

/// <summary>`roborl eval --planner nav2like` and planner lists.</summary>
public class Nav2LikeEvalTests
{
    static (int Exit, string Output, string Error) Invoke(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = Program.BuildRootCommand().Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    [Test]
    public void EvalPlannerListRunsBothWithTheSameKeys()
    {
        var (exit, output, error) = Invoke("eval", "--planner", "dwa,nav2like", "--episodes", "3", "--seeds", "1", "--json");
        Assert.That(exit, Is.Zero, error);
        using JsonDocument doc = JsonDocument.Parse(output);
        JsonElement planners = doc.RootElement.GetProperty("planners");
        Assert.That(planners.GetArrayLength(), Is.EqualTo(2));
        Assert.That(planners[0].GetProperty("planner").GetString(), Is.EqualTo("dwa"));
        Assert.That(planners[1].GetProperty("planner").GetString(), Is.EqualTo("nav2like"));
        foreach (JsonElement p in planners.EnumerateArray())
        {
            Assert.That(p.GetProperty("episodes").GetInt32(), Is.EqualTo(3));
            foreach (string key in new[] { "success_rate", "collision_rate", "timeout_rate" })
                Assert.That(p.GetProperty(key).GetDouble(), Is.InRange(0.0, 1.0), key);
            foreach (string key in new[] { "success_rate_ci95", "time_to_goal_median_s", "time_to_goal_iqm_s", "path_length_iqm_m", "path_ratio_iqm" })
                Assert.That(p.TryGetProperty(key, out _), Is.True, key);
        }
        Assert.That(doc.RootElement.GetProperty("plot").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(error, Does.Contain("eval: dwa").And.Contain("nav2like"));
    }

    [Test]
    public void EvalPlannerNav2LikeAloneAndBadListsAreRefused()
    {
        var (exit, output, error) = Invoke("eval", "--planner", "nav2like", "--episodes", "2", "--seeds", "1", "--json");
        Assert.That(exit, Is.Zero, error);
        using (JsonDocument doc = JsonDocument.Parse(output))
            Assert.That(doc.RootElement.GetProperty("planners")[0].GetProperty("planner").GetString(), Is.EqualTo("nav2like"));
        Assert.That(EvalCommand.ParsePlanners("nav2like, dwa"), Is.EqualTo(new[] { "nav2like", "dwa" }));
        foreach (string bad in new[] { "astar", "dwa,dwa", "dwa,", "" })
        {
            Assert.That(EvalCommand.ParsePlanners(bad), Is.Null, bad);
            var (code, _, message) = Invoke("eval", "--planner", bad, "--episodes", "1");
            Assert.That(code, Is.Not.Zero, bad);
            Assert.That(message, Does.Contain("--planner"), bad);
        }
    }
}
