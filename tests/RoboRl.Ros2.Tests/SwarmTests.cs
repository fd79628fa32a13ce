using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;
using RoboRl.Core.Messages;
using RoboRl.Core.Policy;
using RoboRl.Core.Robots;
using RoboRl.Core.Swarm;
using RoboRl.Core.Tasks;
using RoboRl.Hosting;
using RoboRl.Logs;
using RoboRl.Node;

namespace RoboRl.Ros2.Tests;

/// <summary>
/// The swarm node over ROS 2 with crazyswarm2's per-drone topics (issue 18, item 5): a peer participant simulating eight
/// Crazyflies publishes /cfN/pose (geometry_msgs/PoseStamped, as crazyflie_server does) and flies the roborl_msgs/Action
/// each gets on /cfN/cmd_action; the node (`roborl run`'s session, "transport": "ros2") closes the loop in real time.
/// </summary>
[NonParallelizable]
public class SwarmTests
{
    [OneTimeSetUp]
    public void Setup() => Env.RequireLibddsc();

    private static JsonObject Json(string path) => JsonNode.Parse(File.ReadAllText(path),
        documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip })!.AsObject();

    /// <summary>The shipped ROS 2 swarm config on a private domain, flying a copy of its task without randomisation (so a hover policy hovers).</summary>
    private static string SwarmConfig(string dir)
    {
        string root = Env.RepoRoot();
        string taskFile = Path.Combine(root, "configs/swarm/crazyflie-swarm8-open.json");
        JsonObject task = Json(taskFile);
        task["robot"] = Path.Combine(root, "configs/robots/crazyflie21.json");
        foreach (JsonArray mix in new[] { task["scenarios"]!.AsArray(), task["held_out"]!["scenarios"]!.AsArray() })
            foreach (JsonNode? item in mix) item!["file"] = Path.Combine(root, "configs/swarm", (string)item!["file"]!);
        foreach (string key in new[] { "mass", "inertia", "thrust_coefficient", "motor_time_constant" }) task["domain_randomization"]![key] = new JsonArray(1.0, 1.0);
        string nominal = Path.Combine(dir, "nominal-task.json");
        File.WriteAllText(nominal, task.ToJsonString());

        JsonObject node = Json(Path.Combine(root, "configs/nodes/crazyflie-swarm8-ros2.json"));
        node["robot"] = nominal;
        node["ros2"]!["domain_id"] = Env.DomainId;
        // The peer and the node share a loaded CI machine: a pose 100 ms late is the machine, not what this test checks.
        node["limits"]!["sensor_timeout_ms"] = 1000;
        string path = Path.Combine(dir, "swarm-ros2.json");
        File.WriteAllText(path, node.ToJsonString());
        return path;
    }

    /// <summary>A swarm bundle (the observation's names) that always outputs the hover action.</summary>
    private static string HoverBundle(SwarmTaskConfig task, string dir, int? neighbours = null)
    {
        int k = neighbours ?? task.Neighbours, obs = SwarmObservation.Size(k);
        float hover = task.Robot.HoverAction();
        var bundle = new PolicyBundle
        {
            Layers = [new DenseLayer(obs, 4, new float[4 * obs], Enumerable.Repeat(MathF.Atanh(hover), 4).ToArray(), Activation.Tanh)],
            ObservationNames = SwarmObservation.Names(k),
            ActionNames = HoverObservation.ActionNames,
            ObservationMean = new float[obs],
            ObservationStd = Enumerable.Repeat(1f, obs).ToArray(),
            ActionLow = HoverObservation.ActionScaling(task.Robot).Low,
            ActionHigh = HoverObservation.ActionScaling(task.Robot).High,
            ActionUnit = HoverObservation.ActionUnit,
            ControlRateHz = task.ControlFrequencyHz,
            ActionHistoryLength = 0,
            RobotConfigJson = task.RobotConfigJson,
            TrainingConfigJson = """{"crafted":"hover"}""",
            GitCommit = "0000000000000000000000000000000000000000",
            GoldenObservations = new float[obs],
            GoldenActions = Enumerable.Repeat(MathF.Tanh(MathF.Atanh(hover)), 4).ToArray(),
        };
        string path = Path.Combine(dir, $"hover-swarm-k{k}.safetensors");
        bundle.Write(path);
        return path;
    }

    [Test, CancelAfter(120_000)]
    public void TheNodeFliesEightCrazyfliesOverCrazyswarm2Topics()
    {
        string dir = Directory.CreateTempSubdirectory("roborl-ros2-swarm-").FullName;
        string configPath = SwarmConfig(dir);
        NodeConfig config = NodeConfig.Load(configPath);
        var settings = config.SettingsAs<SwarmNodeSettings>();
        string record = Path.Combine(dir, "swarm.mcap");
        using NodeSession session = NodeSession.Open(configPath, HoverBundle(settings.Task, dir), record, new NodeSessionOptions
        {
            Settings = new PluginSettings().Set(new Ros2LinkSettings { CycloneConfigXml = Ros2Loopback.ConfigXml }),
        });
        var link = session.SensorLink.Port<Ros2SwarmLink>()!;
        Assert.That(link, Is.Not.Null);

        using var peer = new SwarmRos2SimPeer(settings, seed: 3, Env.Options(announce: false));
        var controller = (SwarmController)session.Node.Controller;
        peer.Start();
        var progress = new StringWriter();
        var inFlight = new Vector4[settings.Count]; // the newest command each vehicle got while flying (at the end the node switches the motors off)
        session.Fly(3.0, progress, sample: () => { for (int v = 0; v < settings.Count; v++) inFlight[v] = peer.LastAction(v); });
        long[] received = Enumerable.Range(0, settings.Count).Select(peer.CommandsReceived).ToArray();
        peer.Dispose();

        Assert.That(controller.HasState, Is.True, link.DescribeSensor());
        Assert.That(session.Node.Mode, Is.EqualTo(NodeMode.Policy), progress.ToString());
        float hover = settings.Task.Robot.HoverAction();
        for (int v = 0; v < settings.Count; v++)
        {
            // ~3 s at 100 Hz, less the time to discover the peer; every vehicle got its own commands.
            Assert.That(received[v], Is.GreaterThan(100), $"{settings.Vehicles[v].Name}: commands on /{settings.Vehicles[v].Name}/cmd_action");
            Assert.That(controller.ModeOf(v), Is.EqualTo(VehicleMode.Policy), settings.Vehicles[v].Name);
            Assert.That(inFlight[v].X, Is.EqualTo(hover).Within(1e-5f), "the policy's action arrived unchanged");
            Assert.That(peer.LastAction(v), Is.EqualTo(new Vector4(-1)), "motors off when the node stops");
            // The node's observation is the peer's state relative to the goal: the hovering vehicle stays at its start.
            Vector3 start = settings.Vehicles[v].InitialPosition, goal = controller.GoalOf(v);
            ReadOnlySpan<float> o = controller.Observation.Slice(v * SwarmObservation.Size(settings.Task.Neighbours), 3);
            Assert.That(new Vector3(o[0], o[1], o[2]) + goal, Is.EqualTo(start).Using<Vector3>((a, b) => Vector3.Distance(a, b) < 0.05f ? 0 : 1),
                $"{settings.Vehicles[v].Name}: position from /pose");
        }
        Assert.That(controller.TotalContacts, Is.Zero);

        using McapIndexedReader reader = McapIndexedReader.Open(record);
        var topics = reader.ReadMessages().GroupBy(m => m.Channel.Topic).ToDictionary(g => g.Key, g => g.Count());
        foreach (SwarmVehicle v in settings.Vehicles) Assert.That(topics.GetValueOrDefault($"/{v.Name}/pose"), Is.GreaterThan(100), v.Name);
        Assert.That(topics.GetValueOrDefault("/scene"), Is.GreaterThan(20));
        Directory.Delete(dir, recursive: true);
    }

    [Test]
    public void ABadRos2SectionNamesTheField()
    {
        string dir = Directory.CreateTempSubdirectory("roborl-ros2-swarm-").FullName;
        string configPath = SwarmConfig(dir);
        JsonObject node = Json(configPath);
        node["ros2"]!["pose_topic"] = "/absolute/pose";
        File.WriteAllText(configPath, node.ToJsonString());
        NodeConfig config = NodeConfig.Load(configPath);
        var e = Assert.Throws<NodeSession.SetupException>(() => NodeSession.Open(configPath, HoverBundle(config.SettingsAs<SwarmNodeSettings>().Task, dir), null,
            new NodeSessionOptions { Settings = new PluginSettings().Set(new Ros2LinkSettings { CycloneConfigXml = Ros2Loopback.ConfigXml }) }))!;
        Assert.That(e.Message, Does.Contain("$.ros2.pose_topic").And.Contain("swarm-ros2.json"));
        Directory.Delete(dir, recursive: true);
    }

    /// <summary>`roborl run`'s session refuses, with exit code 2 (bad input), a bundle trained for another neighbour count.</summary>
    [Test]
    public void ABundleForAnotherNeighbourCountIsRefusedBeforeArming()
    {
        string dir = Directory.CreateTempSubdirectory("roborl-ros2-swarm-").FullName;
        string root = Env.RepoRoot(), configPath = Path.Combine(root, "configs/nodes/crazyflie-swarm8-sim.json");
        var task = SwarmTaskConfig.Load(Path.Combine(root, "configs/swarm/crazyflie-swarm8-open.json"));
        var e = Assert.Throws<NodeSession.SetupException>(() => NodeSession.Open(configPath, HoverBundle(task, dir, neighbours: 3), null))!;
        Assert.That(e.ExitCode, Is.EqualTo(2));
        Assert.That(e.Message, Does.StartWith("refused before arming").And.Contain("observation.names").And.Contain("trained for 3 neighbours")
            .And.Contain("crazyflie-swarm8-open.json field 'neighbours' is 2"));
        Directory.Delete(dir, recursive: true);
    }
}
