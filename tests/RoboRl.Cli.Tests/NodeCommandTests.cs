using System.Text.Json;
using RoboRl.Cli.Commands;
using RoboRl.Core.Robots;
using RoboRl.Logs;
using RoboRl.Node;

namespace RoboRl.Cli.Tests;

/// <summary>`roborl run`, `roborl quickstart` and `roborl bench node` end to end, with a crafted policy bundle (no training).</summary>
public class NodeCommandTests
{
    private string _dir = "";

    [SetUp]
    public void MakeDir()
    {
        _dir = Path.Combine(Path.GetTempPath(), "roborl-cli-node", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void RemoveDir()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private static string Repo(string relative) => RepoPaths.Find(relative);

    /// <summary>The benchmark's hover-shaped 149-64-64-4 bundle, written to a file.</summary>
    private string HoverBundle(string robot = "configs/robots/crazyflie21.json")
    {
        string path = Path.Combine(_dir, "hover.safetensors");
        BenchNodeCommand.HoverShapedBundle(Repo(robot)).Write(path);
        return path;
    }

    [Test]
    public void RunFliesRecordsAndEndsWithASummaryLine()
    {
        string log = Path.Combine(_dir, "run.mcap");
        var output = new StringWriter();
        var progress = new StringWriter();
        int code = RunCommand.Run("configs/nodes/crazyflie-sim.json", HoverBundle(), 1.5, log, null, output, progress);
        Assert.That(code, Is.EqualTo(0), progress.ToString());
        string summary = output.ToString().TrimEnd().Split('\n').Last();
        Assert.That(summary, Does.StartWith("run: ").And.Contain("tracking error rms").And.Contain("tick p50").And.Contain("safety events").And.Contain("recorded " + log));
        Assert.That(progress.ToString(), Does.Contain("[  0.0/2 s]").Or.Contain("/2 s] "), "a progress line each second");
        Assert.That(LogChecker.Check(log).IsValid, Is.True);
        Assert.That(output.ToString(), Does.Contain("event at tick 0: TAKING_OFF: armed"), "the shipped sim robot starts on the floor");
    }

    [Test]
    public void RunWithAnotherSimulatedPlantFlies()
    {
        string heavier = Path.Combine(_dir, "heavier.json");
        File.WriteAllText(heavier, File.ReadAllText(Repo("configs/robots/crazyflie21.json")).Replace("\"mass\": 0.027", "\"mass\": 0.029"));
        var output = new StringWriter();
        int code = RunCommand.Run("configs/nodes/crazyflie-sim.json", HoverBundle(), 1.0, null, heavier, output, new StringWriter());
        Assert.That(code, Is.EqualTo(0));
        Assert.That(output.ToString(), Does.Contain("not recorded"));
    }

    [Test]
    public void RunRefusesABundleForAnotherRobotBeforeArming()
    {
        string other = Path.Combine(_dir, "other.json");
        File.WriteAllText(other, File.ReadAllText(Repo("configs/robots/crazyflie21.json")).Replace("\"mass\": 0.027", "\"mass\": 0.031"));
        string bundle = Path.Combine(_dir, "other.safetensors");
        BenchNodeCommand.HoverShapedBundle(other).Write(bundle);
        var progress = new StringWriter();
        int code = RunCommand.Run("configs/nodes/crazyflie-sim.json", bundle, 1.0, null, null, new StringWriter(), progress);
        Assert.That(code, Is.EqualTo(2));
        Assert.That(progress.ToString(), Does.StartWith("run: refused before arming: ").And.Contain("mass: trained 0.031, given 0.027"));
    }

    [Test]
    public void RunReportsABadConfigByFileAndKey()
    {
        string config = Path.Combine(_dir, "bad.json");
        File.WriteAllText(config, File.ReadAllText(Repo("configs/nodes/crazyflie-sim.json"))
            .Replace("\"rate_hz\": 500", "\"rate_hz\": 500, \"rate\": 1").Replace("../robots/crazyflie21.json", Repo("configs/robots/crazyflie21.json")));
        var progress = new StringWriter();
        int code = RunCommand.Run(config, HoverBundle(), 1.0, null, null, new StringWriter(), progress);
        Assert.That(code, Is.EqualTo(2));
        Assert.That(progress.ToString(), Does.Contain(config + ": $.rate: unknown key"));
    }

    [Test]
    public void QuickstartFliesTheFigureEightRecordsAndPlots()
    {
        string outDir = Path.Combine(_dir, "qs");
        var output = new StringWriter();
        var progress = new StringWriter();
        int code = QuickstartCommand.Run(HoverBundle(), outDir, 3, output, progress);
        Assert.That(code, Is.EqualTo(0), progress.ToString() + output);
        string mcap = Path.Combine(outDir, "quickstart.mcap"), png = Path.Combine(outDir, "trajectory.png");
        Assert.That(LogChecker.Check(mcap).IsValid, Is.True);
        byte[] image = File.ReadAllBytes(png);
        Assert.That(image.Take(8), Is.EqualTo(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }), "a PNG file");
        Assert.That(image.Length, Is.GreaterThan(10_000));
        string text = output.ToString();
        Assert.That(text, Does.Contain("event at tick 0: TAKING_OFF: armed").And.Contain(": POLICY: inside the policy's envelope")
            .And.Contain(": LANDING: land command").And.Contain(": IDLE: landed, motors off"), "take-off, the figure-eight, landing");
        Assert.That(text, Does.Contain("quickstart: ").And.Contain("final mode IDLE").And.Contain("tracking error rms"));
        Assert.That(progress.ToString(), Does.Contain("figure-eight"));
    }

    [Test]
    public void QuickstartWithoutPolicyNeverTrainsOverAnEarlierRun()
    {
        string outDir = Path.Combine(_dir, "qs");
        Directory.CreateDirectory(Path.Combine(outDir, "train"));
        var progress = new StringWriter();
        int code = QuickstartCommand.Run(null, outDir, 20, new StringWriter(), progress);
        Assert.That(code, Is.EqualTo(2));
        Assert.That(progress.ToString(), Does.Contain("exists from an earlier run").And.Contain("--policy"));
    }

    [Test]
    public void FigureEightStaysInsideTheGeofenceAndUnderTheSpeedLimit()
    {
        var centre = new System.Numerics.Vector3(0, 0, 1);
        var path = new FigureEight(centre, 0.5f, 10);
        double maxSpeed = 0;
        for (double t = 0; t < 10; t += 0.01)
        {
            var p = path.At(t);
            Assert.That(Math.Abs(p.X), Is.LessThanOrEqualTo(0.5f + 1e-6f));
            Assert.That(Math.Abs(p.Y), Is.LessThanOrEqualTo(0.25f + 1e-6f));
            maxSpeed = Math.Max(maxSpeed, (path.At(t + 0.01) - p).Length() / 0.01);
        }
        Assert.That(maxSpeed, Is.LessThan(1.0), "below the default max_setpoint_speed_m_s");
        Assert.That(path.At(5), Is.EqualTo(centre).Using<System.Numerics.Vector3>((a, b) => (a - b).Length() < 1e-5f));
    }

    [Test]
    public void BenchNodeJsonHasTheFigures()
    {
        var output = new StringWriter();
        int code = BenchNodeCommand.Run(json: true, seconds: 0.3, output, new StringWriter());
        Assert.That(code, Is.EqualTo(0));
        using var doc = JsonDocument.Parse(output.ToString());
        foreach (string key in new[] { "tick_p50_us", "tick_p99_us", "loop_hz", "jitter_p99_us", "overruns", "alloc_bytes_per_tick" })
            Assert.That(doc.RootElement.TryGetProperty(key, out _), key);
        Assert.That(doc.RootElement.GetProperty("alloc_bytes_per_tick").GetDouble(), Is.EqualTo(0));
        Assert.That(doc.RootElement.GetProperty("stayed_in_policy_mode").GetBoolean(), Is.True);
    }

    [Test]
    public void ATransportRegisteredByNamePlugsIntoTheNode()
    {
        string config = Path.Combine(_dir, "stand.json");
        var root = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Repo("configs/nodes/crazyflie-sim.json")),
            documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip })!.AsObject();
        root["robot"] = Repo("configs/robots/crazyflie21.json");
        root["transport"] = "test-stand";
        root["test-stand"] = new System.Text.Json.Nodes.JsonObject { ["start_height_m"] = 1 };
        root.Remove("sim");
        File.WriteAllText(config, root.ToJsonString());
        var progress = new StringWriter();
        // Not registered: a setup error naming the key and what is registered.
        Assert.That(RunCommand.Run(config, HoverBundle(), 0.5, null, null, new StringWriter(), progress), Is.EqualTo(2));
        Assert.That(progress.ToString(), Does.Contain("$.transport: unknown transport \"test-stand\"; registered: crazyflie, jsonl, mqtt, ros2, serial, sim"));

        // Registered (the folder-plus-one-line of docs/extending.md): the plugin gets its section and the robot, the node drives what it opens.
        NodeConfig? seen = null;
        Core.Configs.ConfigNode? section = null;
        Sims.Quadrotor.SimulatedQuadrotor? robot = null;
        NodePlugins plugins = NodePlugins.CreateStandard();
        plugins.Transports.Add(new TransportPlugin("test-stand", "a simulated quadrotor behind a test's link", request =>
        {
            section = request.Section;
            var quadrotor = request.RobotAs<Core.Quadrotor.QuadrotorConfig>("a quadrotor");
            robot = new Sims.Quadrotor.SimulatedQuadrotor(quadrotor, new Sims.Quadrotor.SimulatedQuadrotorOptions
            {
                StartPosition = new System.Numerics.Vector3(0, 0, (float)request.RequireSection().Number("start_height_m", 0, 10)),
            });
            return new RobotLink(request.Name, robot, robot) { Start = robot.Start, Stop = robot.Stop };
        }));
        using (NodeSession session = NodeSession.Open(config, HoverBundle(), null, new NodeSessionOptions { Plugins = plugins }))
        {
            seen = session.Config;
            session.Fly(1.0, new StringWriter());
        }
        Assert.That((seen!.Transport, section!.Path), Is.EqualTo(("test-stand", "$.test-stand")));
        Assert.That(robot!.CommandCount, Is.GreaterThan(100), "the node drove the robot behind the link");
    }

    [Test]
    public void CommandsAreRegistered()
    {
        var root = Program.BuildRootCommand();
        Assert.That(root.Subcommands.Select(c => c.Name), Does.Contain("run").And.Contain("quickstart"));
        Assert.That(root.Subcommands.Single(c => c.Name == "bench").Subcommands.Select(c => c.Name), Does.Contain("node"));
        // --policy is optional for the parser (a ground node with planner "dwa" needs none); a quadrotor run refuses to start without it.
        var error = new StringWriter();
        int code = root.Parse(["run", "configs/nodes/crazyflie-sim.json"]).Invoke(new System.CommandLine.InvocationConfiguration { Output = new StringWriter(), Error = error });
        Assert.That(code, Is.EqualTo(2));
        Assert.That(error.ToString(), Does.Contain("a quadrotor node flies a policy bundle: give --policy BUNDLE"));
    }
}
