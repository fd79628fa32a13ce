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

    // A real-time flight with the node's 100 ms stale-sensor watchdog: it runs with the real-time tests, alone, not beside
    // the parallel suites (a 100 ms stall of a loaded 2-core machine ended it once).
    [Test, Category("RealTime")]
    public void Run_record_then_replay_to_stdout_policy_and_sim()
    {
        string dir = Flights.TempDir(), bundle = Path.Combine(dir, "hover.safetensors"), log = Path.Combine(dir, "flight.mcap");
        NodeFlights.Bundle().Write(bundle);
        // The shipped config takes off from the floor first (~3.5 s), then the policy flies.
        var run = Invoke("run", NodeFlights.NodeFile, "--policy", bundle, "--duration", "5", "--record", log);
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

        // A real-time flight of the simulated Crazyflie with sensor noise, replayed on its own plant: ≤ 1 mm / 1 mrad.
        var sim = Invoke("replay", log, "--sim", "--json");
        Assert.That(sim.Exit, Is.EqualTo(0), sim.Error);
        JsonNode s = JsonNode.Parse(sim.Output)!;
        TestContext.Out.WriteLine(sim.Output);
        Assert.That((string)s["reference"]!, Is.EqualTo("ground_truth"));
        Assert.That((int)s["windows"]!, Is.GreaterThan(1));
        Assert.That((double)s["pos_max_m"]!, Is.LessThanOrEqualTo(1e-3));
        Assert.That((double)s["att_max_rad"]!, Is.LessThanOrEqualTo(1e-3));
        var badWindow = Invoke("replay", log, "--sim", "--window", "-1");
        Assert.That(badWindow.Exit, Is.EqualTo(2));
        Assert.That(badWindow.Error, Does.Contain("--window -1"));

        var bad = Invoke("replay", log, "--to", "carrier-pigeon");
        Assert.That(bad.Exit, Is.EqualTo(2));
        Assert.That(bad.Error, Does.Contain("--to carrier-pigeon"));
    }

    [Test]
    public void Sysid_through_the_command_line()
    {
        string fitted = Path.Combine(Flights.TempDir(), "fitted.json");
        var r = Invoke("sysid", RealisticLogs.Manoeuvres, "--robot", Flights.RobotFile, "-o", fitted);
        Assert.That(r.Exit, Is.EqualTo(0), r.Error);
        Assert.That(r.Output, Does.Contain("mass").And.Contain("95 % CI").And.Contain("identified; wrote"));
        Assert.That(QuadrotorConfig.Load(fitted).Mass, Is.EqualTo(RealisticLogs.Heavy.Mass).Within(5).Percent);

        var hover = Invoke("sysid", RealisticLogs.Hover, "--robot", Flights.RobotFile, "-o", fitted + ".hover", "--mass", RealisticLogs.Heavy.Mass.ToString("R", System.Globalization.CultureInfo.InvariantCulture));
        Assert.That(hover.Exit, Is.EqualTo(0), hover.Error);
        Assert.That(hover.Output, Does.Contain("(given)"));
    }
}
