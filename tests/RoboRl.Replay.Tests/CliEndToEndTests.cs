using System.CommandLine;
using System.Text.Json.Nodes;
using RoboRl.Cli;
using RoboRl.Core.Quadrotor;

namespace RoboRl.Replay.Tests;

/// <summary>`roborl run --record`, then `roborl replay` and `roborl sysid` on that log, through the real command line.</summary>
public class CliEndToEndTests
{
    static (int Exit, string Output, string Error) Invoke(params string[] args)
    {
        var output = new StringWriter(); var error = new StringWriter();
        int exit = Program.BuildRootCommand().Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    [Test]
    public void Run_record_then_replay_to_stdout_policy_and_sim()
    {
        string dir = Flights.TempDir(), bundle = Path.Combine(dir, "hover.safetensors"), log = Path.Combine(dir, "flight.mcap");
        NodeFlights.Bundle().Write(bundle);
        var run = Invoke("run", NodeFlights.NodeFile, "--policy", bundle, "--duration", "1", "--record", log);
        Assert.That(run.Exit, Is.EqualTo(0), run.Error);

        var stdout = Invoke("replay", log, "--to", "stdout", "--rate", "0", "--topics", "/mode");
        Assert.That(stdout.Exit, Is.EqualTo(0), stdout.Error);
        JsonNode first = JsonNode.Parse(stdout.Output.Split('\n')[0])!;
        Assert.That((string)first["topic"]!, Is.EqualTo("/mode"));
        Assert.That(stdout.Error, Does.Contain("messages played"));

        var policy = Invoke("replay", log, "--policy", bundle, "--json");
        Assert.That(policy.Exit, Is.EqualTo(0), policy.Error);
        JsonNode p = JsonNode.Parse(policy.Output)!;
        Assert.That((double)p["max_divergence"]!, Is.EqualTo(0));
        Assert.That((int)p["steps"]!, Is.GreaterThan(100));

        var sim = Invoke("replay", log, "--sim", "--json");
        Assert.That(sim.Exit, Is.EqualTo(0), sim.Error);
        Assert.That(JsonNode.Parse(sim.Output)!["pos_rmse_m"], Is.Not.Null);

        var bad = Invoke("replay", log, "--to", "carrier-pigeon");
        Assert.That(bad.Exit, Is.EqualTo(2));
        Assert.That(bad.Error, Does.Contain("--to carrier-pigeon"));
    }

    [Test]
    public void Sysid_through_the_command_line()
    {
        string dir = Flights.TempDir(), log = Path.Combine(dir, "perturbed.mcap"), fitted = Path.Combine(dir, "fitted.json");
        QuadrotorConfig nominal = QuadrotorConfig.Load(Flights.RobotFile);
        Flights.Fly(log, File.ReadAllText(Flights.RobotFile), Flights.Perturbed(nominal, 1.15f, 0.90f, 0.10f), seconds: 3);
        var r = Invoke("sysid", log, "--robot", Flights.RobotFile, "-o", fitted);
        Assert.That(r.Exit, Is.EqualTo(0), r.Error);
        Assert.That(r.Output, Does.Contain("mass").And.Contain("95 % CI"));
        Assert.That(QuadrotorConfig.Load(fitted).Mass, Is.EqualTo(nominal.Mass * 1.15f).Within(5).Percent);
    }
}
