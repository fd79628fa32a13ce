using System.Text.Json;
using RoboRl.Cli.Commands;

namespace RoboRl.Cli.Tests;

public class BenchSimCommandTests
{
    [Test]
    public void BenchSimIsRegistered()
    {
        var bench = Program.BuildRootCommand().Subcommands.Single(c => c.Name == "bench");
        Assert.That(bench.Subcommands.Select(c => c.Name), Does.Contain("sim"));
        var parse = Program.BuildRootCommand().Parse(["bench", "sim", "--json", "--envs", "1", "64", "--seconds", "0.1"]);
        Assert.That(parse.Errors, Is.Empty);
    }

    [Test]
    public void JsonOutputIsOneObjectWithTheRequiredKeys()
    {
        var output = new StringWriter();
        var progress = new StringWriter();
        int code = BenchSimCommand.Run(BenchSimCommand.DefaultTask, [3, 20], 0.03, json: true, output, progress);
        Assert.That(code, Is.EqualTo(0));
        using JsonDocument doc = JsonDocument.Parse(output.ToString());
        JsonElement root = doc.RootElement;
        foreach (string key in new[] { "dynamics_steps_per_s_1core", "task_steps_per_s_1core", "task_steps_per_s_allcores" })
            Assert.That(root.GetProperty(key).GetDouble(), Is.GreaterThan(0), key);
        Assert.That(root.GetProperty("cores").GetInt32(), Is.EqualTo(Environment.ProcessorCount));
        Assert.That(root.GetProperty("envs").GetInt32(), Is.EqualTo(20));
        Assert.That(root.GetProperty("rows").GetArrayLength(), Is.EqualTo(2));
        Assert.That(progress.ToString(), Does.Contain("[8/8]").And.Contain("bench sim: 20 envs"));
    }

    [Test]
    public void TableOutputListsEveryEnvCount()
    {
        var output = new StringWriter();
        int code = BenchSimCommand.Run(BenchSimCommand.DefaultTask, [5], 0.03, json: false, output, TextWriter.Null);
        Assert.That(code, Is.EqualTo(0));
        Assert.That(output.ToString(), Does.Contain("task 1c").And.Contain("     5 "));
    }

    [Test]
    public void BadArgumentsAreRejected()
    {
        var errors = new StringWriter();
        Assert.That(BenchSimCommand.Run(BenchSimCommand.DefaultTask, [0], 0.1, false, TextWriter.Null, errors), Is.EqualTo(2));
        Assert.That(errors.ToString(), Does.Contain("--envs"));
        Assert.That(BenchSimCommand.Run(BenchSimCommand.DefaultTask, [4], -1, false, TextWriter.Null, errors), Is.EqualTo(2));
    }
}
