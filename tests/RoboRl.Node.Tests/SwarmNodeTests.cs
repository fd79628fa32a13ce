using System.Numerics;
using System.Text.Json.Nodes;
using RoboRl.Core.Configs;
using RoboRl.Core.Messages;
using RoboRl.Core.Policy;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Robots;
using RoboRl.Core.Swarm;
using RoboRl.Core.Tasks;
using RoboRl.Logs;
using RoboRl.Logs.Tests;
using RoboRl.Sims.Swarm;

namespace RoboRl.Node.Tests;

/// <summary>A swarm policy bundle made in the test: the deep-sets actor's dense-chain shape with random weights around hover.</summary>
public static class SwarmTestPolicies
{
    /// <summary>
    /// observation (19 + 6K + 9) → 64 → 64 → 4, tanh, Gaussian weights of <paramref name="scale"/>/√fan-in and the last
    /// bias at the robot's hover action: every vehicle flies roughly level, each a little differently, so the rollout
    /// exercises every observation value. <paramref name="observationNames"/> overrides the names (a bundle of another layout).
    /// </summary>
    public static PolicyBundle Random(SwarmTaskConfig task, int seed = 1, float scale = 0.3f, int? neighbours = null, IReadOnlyList<string>? observationNames = null)
    {
        string[] names = (observationNames ?? SwarmObservation.Names(neighbours ?? task.Neighbours, task.ActionHistoryLength)).ToArray();
        int obs = names.Length;
        var rng = new System.Random(seed);
        float Gaussian() => (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
        DenseLayer Layer(int input, int output, float bias)
        {
            var w = new float[input * output];
            for (int i = 0; i < w.Length; i++) w[i] = Gaussian() * scale / MathF.Sqrt(input);
            var b = Enumerable.Repeat(bias, output).ToArray();
            return new DenseLayer(input, output, w, b, Activation.Tanh);
        }
        float hover = task.Robot.HoverAction();
        DenseLayer[] layers = [Layer(obs, 64, 0), Layer(64, 64, 0), Layer(64, 4, MathF.Atanh(hover))];
        var mean = new float[obs];
        var std = Enumerable.Repeat(1f, obs).ToArray();
        var golden = new float[obs];
        for (int i = 0; i < obs; i++) golden[i] = 0.1f * Gaussian();
        var bundle = new PolicyBundle
        {
            Layers = layers,
            ObservationNames = names,
            ActionNames = HoverObservation.ActionNames,
            ObservationMean = mean,
            ObservationStd = std,
            ActionLow = HoverObservation.ActionScaling(task.Robot).Low,
            ActionHigh = HoverObservation.ActionScaling(task.Robot).High,
            ActionUnit = HoverObservation.ActionUnit,
            ControlRateHz = task.ControlFrequencyHz,
            ActionHistoryLength = SwarmObservation.HistoryLength(names),
            RobotConfigJson = task.RobotConfigJson,
            TrainingConfigJson = """{"crafted":"random deep-sets-shaped swarm policy"}""",
            GitCommit = "0000000000000000000000000000000000000000",
            GoldenObservations = golden,
            GoldenActions = Forward(layers, golden),
        };
        bundle.Validate("test");
        return bundle;
    }

    private static float[] Forward(IReadOnlyList<DenseLayer> layers, float[] x)
    {
        foreach (DenseLayer l in layers)
        {
            var y = new float[l.OutputSize];
            for (int o = 0; o < l.OutputSize; o++)
            {
                double s = l.Biases[o];
                for (int i = 0; i < l.InputSize; i++) s += (double)l.Weights[o * l.InputSize + i] * x[i];
                y[o] = MathF.Tanh((float)s);
            }
            x = y;
        }
        return x;
    }
}

/// <summary>The node flying a swarm (issue 18, item 5): one tick loop, N vehicles, the simulator's observation code.</summary>
public class SwarmNodeTests
{
    private static string SwarmNodeFile => RepoFiles.Path("configs/nodes/crazyflie-swarm8-sim.json");

    /// <summary>
    /// The shipped swarm node config with two columns near the starts (so the SDF is not all clip), edited further by
    /// <paramref name="edit"/>. <paramref name="nominal"/>: the task without domain randomisation, so that a policy
    /// holding the hover action hovers in place (vehicles that only the test moves).
    /// </summary>
    private static NodeConfig Config(Action<JsonObject>? edit = null, bool columns = true, bool nominal = false) => NodeConfig.Load(RepoFiles.EditedCopy(SwarmNodeFile, root =>
    {
        if (columns)
            root["columns"] = new JsonArray(new JsonObject { ["center_m"] = new JsonArray(-0.5, -3.3) }, new JsonObject { ["center_m"] = new JsonArray(1.0, -3.2) });
        if (nominal) root["robot"] = NominalTask((string)root["robot"]!);
        edit?.Invoke(root);
    }));

    /// <summary>A copy of a swarm task file with every randomisation range at [1, 1] (its file references made absolute).</summary>
    private static string NominalTask(string taskFile) => RepoFiles.EditedCopy(taskFile, task =>
    {
        string dir = Path.GetDirectoryName(taskFile)!;
        foreach (JsonArray mix in new[] { task["scenarios"]!.AsArray(), task["held_out"]!["scenarios"]!.AsArray() })
            foreach (JsonNode? item in mix) item!["file"] = Path.GetFullPath(Path.Combine(dir, (string)item!["file"]!));
        JsonObject dr = task["domain_randomization"]!.AsObject();
        foreach (string key in new[] { "mass", "inertia", "thrust_coefficient", "motor_time_constant" }) dr[key] = new JsonArray(1.0, 1.0);
    }, name: "nominal-task.json");

    /// <summary>The node and the simulated swarm in lock-step (what `roborl run` does with "lock_step": true).</summary>
    private sealed class Flight : IDisposable
    {
        public readonly NodeConfig Config;
        public readonly SwarmNodeSettings Settings;
        public readonly SimulatedSwarm Sim;
        public readonly InferenceNode Node;
        public readonly SwarmController Controller;
        public long Now;
        private readonly long _period;

        public Flight(NodeConfig config, PolicyBundle bundle, NodeRecorder? recorder = null, ulong seed = 1)
        {
            Config = config;
            Settings = config.SettingsAs<SwarmNodeSettings>();
            Sim = new SimulatedSwarm(Settings.Task, Settings.Vehicles.Select(v => v.InitialPosition).ToList(), Settings.Columns, seed, startTimeNs: 0);
            Controller = new SwarmController(config, bundle, Sim, Sim, Sim);
            Node = new InferenceNode(config, Controller, recorder);
            _period = Node.PeriodNs;
        }

        public void Step()
        {
            Now += _period;
            Sim.AdvanceTo(Now);
            Node.Tick(Now, Now);
        }

        public void Dispose() { Node.Dispose(); Sim.Dispose(); }
    }

    [Test]
    public void ShippedConfigLoadsAsTheSwarmKind()
    {
        NodeConfig config = NodeConfig.Load(SwarmNodeFile);
        Assert.That(config.Kind, Is.EqualTo("swarm"));
        SwarmNodeSettings s = config.SettingsAs<SwarmNodeSettings>();
        Assert.That(s.Vehicles.Select(v => v.Name), Is.EqualTo(Enumerable.Range(1, 8).Select(i => $"cf{i}")));
        Assert.That(s.Task.Quads, Is.EqualTo(8));
        Assert.That(config.RateHz, Is.EqualTo(s.Task.ControlFrequencyHz));
    }

    /// <summary>
    /// The node in `sim` reproduces the simulator's rollout: from the same start, SwarmEnv stepped with PolicyEngine's
    /// actions on SwarmEnv's own observation rows gives, tick by tick, the node's observations (within 1e-6) and actions —
    /// through a goal swap, with columns in the SDF's range, downwash and randomised dynamics on.
    /// </summary>
    [TestCase(false)]
    [TestCase(true)]
    public void NodeReproducesTheSimulatorRollout(bool actionHistory)
    {
        // Limits that never trip: the random policy flies the vehicles anywhere, and every tick must still match. With
        // actionHistory, the TD3 recipe's task: each vehicle's row ends with the last 32 actions the node sent.
        NodeConfig config = Config(root =>
        {
            if (actionHistory) root["robot"] = RepoFiles.Path("configs/swarm/crazyflie-swarm8-open-td3.json");
            root["swap_period_s"] = 0.5;
            root["limits"]!["max_tilt_deg"] = 180;
            root["limits"]!["max_angular_rate_rad_s"] = 100;
            root["geofence"]!["max"] = new JsonArray(4.9, 4.9, 9.9);
        });
        SwarmNodeSettings s = config.SettingsAs<SwarmNodeSettings>();
        PolicyBundle bundle = SwarmTestPolicies.Random(s.Task, seed: 5);
        const ulong seed = 11;
        using var flight = new Flight(config, bundle, seed: seed);

        // The reference: the simulator built the same way, driven by PolicyEngine on its own observations.
        using SwarmEnv env = SimulatedSwarm.Create(s.Task, s.Vehicles.Select(v => v.InitialPosition).ToList(), s.Columns, seed);
        var engine = new PolicyEngine(bundle);
        int n = s.Count, obs = s.Task.ObservationSize;
        Assert.That(obs, Is.EqualTo(actionHistory ? 40 + 4 * 32 : 40));
        var actions = new float[n * 4];
        Array.Fill(actions, s.Task.Robot.HoverAction()); // before the first tick the simulated rotors hold hover
        var swap = (int)MathF.Round(0.5f * s.Task.ControlFrequencyHz);
        double worstObservation = 0, worstAction = 0;
        int ticks = actionHistory ? 120 : 150, sdfValuesBelowClip = 0; // the random policy that reads its own actions leaves the geofence sooner
        for (int t = 0; t < ticks; t++)
        {
            env.Step(actions);
            bool swapped = (t + 1) / swap % 2 == 1;
            for (int v = 0; v < n; v++) env.SetGoal(0, v, s.Vehicles[swapped ? n - 1 - v : v].Goal);
            env.RefreshObservations();
            ReadOnlySpan<float> reference = env.ActorObservations;
            for (int v = 0; v < n; v++) engine.Forward(reference.Slice(v * obs, obs), actions.AsSpan(v * 4, 4));

            flight.Step();
            ReadOnlySpan<float> observed = flight.Controller.Observation;
            for (int i = 0; i < n * obs; i++)
            {
                worstObservation = Math.Max(worstObservation, Math.Abs(observed[i] - reference[i]));
                if (i % obs >= SwarmObservation.SdfOffset(s.Task.Neighbours) && observed[i] < s.Task.Obstacles.SdfClipM) sdfValuesBelowClip++;
            }
            for (int i = 0; i < n * 4; i++) worstAction = Math.Max(worstAction, Math.Abs(flight.Controller.Actions[i] - actions[i]));
            for (int v = 0; v < n; v++)
                Assert.That(flight.Controller.ModeOf(v), Is.EqualTo(VehicleMode.Policy), $"tick {t}: {s.Vehicles[v].Name} left the policy; the reference cannot follow");
        }
        Assert.That(worstObservation, Is.LessThanOrEqualTo(1e-6), "node observation vs SwarmEnv's");
        Assert.That(worstAction, Is.LessThanOrEqualTo(1e-6), "node action vs PolicyEngine on SwarmEnv's observation");
        Assert.That(sdfValuesBelowClip, Is.GreaterThan(0), "the columns were in the SDF's range (the test covers the SDF)");
        Assert.That(flight.Node.Mode, Is.EqualTo(NodeMode.Policy));
        // The swap happened: vehicle 1's goal is vehicle 8's after an odd number of periods.
        Assert.That(flight.Controller.GoalOf(0), Is.EqualTo((ticks / swap % 2 == 1 ? s.Vehicles[n - 1] : s.Vehicles[0]).Goal));
    }

    /// <summary>Contacts the node counts from the states it sees equal the contacts the simulator's physics resolved.</summary>
    [Test]
    public void ContactsAreCountedAsThePhysicsResolvedThem()
    {
        // Vehicles 4 and 5 start 0.5 m apart: sent at each other at 1.5 m/s they touch; so do 1 and 2.
        NodeConfig config = Config(columns: false, nominal: true);
        SwarmNodeSettings s = config.SettingsAs<SwarmNodeSettings>();
        using var flight = new Flight(config, SwarmTestPolicies.Random(s.Task, scale: 0));
        var b = flight.Sim.Env.Batch;
        void Send(int v, float vx) => b.SetVelocities(flight.Sim.Env.Lane(0, v), new Vector3(vx, 0, 0), Vector3.Zero);
        Send(3, 1.5f); Send(4, -1.5f); Send(0, 1.5f); Send(1, -1.5f);
        for (int t = 0; t < 100; t++) flight.Step();

        int total = 0;
        for (int v = 0; v < s.Count; v++)
        {
            var (quads, columns) = flight.Sim.Env.EpisodeCollisions(0, v);
            Assert.That(flight.Controller.ContactsOf(v), Is.EqualTo((quads, columns)), $"{s.Vehicles[v].Name}: node-counted vs simulator contacts");
            total += quads;
        }
        Assert.That(flight.Controller.ContactsOf(3).Vehicles, Is.GreaterThanOrEqualTo(1));
        Assert.That(flight.Controller.ContactsOf(0).Vehicles, Is.GreaterThanOrEqualTo(1));
        Assert.That(flight.Controller.TotalContacts, Is.EqualTo(total / 2));
        Assert.That(flight.Controller.MinSeparationM, Is.LessThan(s.Task.CollisionDistanceM));
        Assert.That(flight.Controller.MinSeparationM, Is.EqualTo(flight.Sim.Env.MinSeparation(0)).Within(1e-6f));
        Assert.That(flight.Controller.Failure(), Is.Not.Null, "a run with contacts is not a clean flight");
    }

    /// <summary>One vehicle's fault lands that vehicle; the others fly on with the policy (and see it as a neighbour).</summary>
    [Test]
    public void OneVehiclesFaultLandsThatVehicleOnly()
    {
        NodeConfig config = Config(columns: false, nominal: true, edit: root => root["fallback"]!["hold_s"] = 0.5);
        SwarmNodeSettings s = config.SettingsAs<SwarmNodeSettings>();
        using var flight = new Flight(config, SwarmTestPolicies.Random(s.Task, scale: 0)); // holds the hover action: the nominal vehicles hover in place
        for (int t = 0; t < 20; t++) flight.Step();
        // Vehicle 3 is thrown out of the geofence's top (a gust, a bad estimate): only its supervisor trips.
        var b = flight.Sim.Env.Batch;
        int lane = flight.Sim.Env.Lane(0, 2);
        b.SetPose(lane, b.Position(lane) with { Z = s.Geofence.Max.Z + 0.05f }, b.Orientation(lane));
        flight.Step();
        flight.Step();
        Assert.That(flight.Controller.ModeOf(2), Is.EqualTo(VehicleMode.Fallback));
        for (int v = 0; v < s.Count; v++)
            if (v != 2) Assert.That(flight.Controller.ModeOf(v), Is.EqualTo(VehicleMode.Policy), s.Vehicles[v].Name);
        Assert.That(flight.Node.Mode, Is.EqualTo(NodeMode.Policy), "the node flies on while any vehicle flies the policy");
        NodeEvent trip = flight.Node.Events.Single(e => e.Kind == NodeEventKind.VehicleFallback);
        Assert.That(trip.Vehicle, Is.EqualTo(3));
        Assert.That(trip.Violation.Trigger, Is.EqualTo(SafetyTrigger.Geofence));
        Assert.That(trip.Describe(), Does.StartWith("vehicle 3: FALLBACK: geofence: z"));
        for (int t = 0; t < 3000 && flight.Controller.ModeOf(2) != VehicleMode.Landed; t++) flight.Step();
        Assert.That(flight.Controller.ModeOf(2), Is.EqualTo(VehicleMode.Landed), "held, landed and switched off");
        Assert.That(flight.Sim.Env.Batch.Position(lane).Z, Is.LessThan(0.1f));
        Assert.That(Enumerable.Range(0, s.Count).Count(v => flight.Controller.ModeOf(v) == VehicleMode.Policy), Is.EqualTo(s.Count - 1));
        Assert.That(flight.Controller.Failure(), Does.Contain(": vehicle 3: FALLBACK: geofence"));
    }

    [Test]
    public void KillSwitchStopsEveryMotor()
    {
        NodeConfig config = Config(columns: false);
        SwarmNodeSettings s = config.SettingsAs<SwarmNodeSettings>();
        using var flight = new Flight(config, SwarmTestPolicies.Random(s.Task, scale: 0));
        var commands = new QueueCommandSource();
        flight.Node.AddCommands(commands);
        for (int t = 0; t < 5; t++) flight.Step();
        commands.Enqueue(NodeCommandKind.Kill);
        flight.Step();
        Assert.That(flight.Node.Mode, Is.EqualTo(NodeMode.Killed));
        Assert.That(flight.Controller.Actions.ToArray(), Is.All.EqualTo(-1f));
    }

    [Test]
    public void ATickAllocatesNothing()
    {
        NodeConfig config = Config();
        SwarmNodeSettings s = config.SettingsAs<SwarmNodeSettings>();
        var recorder = NodeRecorder.WithoutFile(SwarmObservation.Size(s.Task.Neighbours) * s.Count, 1 << 14);
        using var flight = new Flight(config, SwarmTestPolicies.Random(s.Task, scale: 0), recorder);
        // Only the node's tick is measured: the simulator steps outside the metered batch.
        for (int t = 0; t < 100; t++) flight.Step();
        long period = flight.Node.PeriodNs;
        long allocated = AllocationMeter.FewestBytes(() =>
        {
            for (int i = 0; i < 200; i++) { flight.Now += period; flight.Node.Tick(flight.Now, flight.Now); }
        });
        recorder.Dispose();
        Assert.That(allocated, Is.EqualTo(0), $"{allocated} bytes in the least-allocating batch of 200 swarm ticks (8 vehicles, recorder on)");
    }

    /// <summary>The flight log: every vehicle's topics, the node's observation of all vehicles, and /scene for Foxglove.</summary>
    [Test]
    public void RecordingHasEveryVehicleAndTheScene()
    {
        NodeConfig config = Config();
        SwarmNodeSettings s = config.SettingsAs<SwarmNodeSettings>();
        string path = Path.Combine(RepoFiles.TempDir(), "swarm.mcap");
        int obs = SwarmObservation.Size(s.Task.Neighbours);
        var recorder = NodeRecorder.Create(path, obs * s.Count, 1 << 14, McapCompression.Zstd);
        const int ticks = 200;
        using (var flight = new Flight(config, SwarmTestPolicies.Random(s.Task, scale: 0), recorder))
            for (int t = 0; t < ticks; t++) flight.Step();
        recorder.Dispose();
        Assert.That(recorder.Error, Is.Null);
        Assert.That(recorder.Dropped, Is.EqualTo(0));

        using McapIndexedReader reader = McapIndexedReader.Open(path);
        var byTopic = reader.ReadMessages().GroupBy(m => m.Channel.Topic).ToDictionary(g => g.Key, g => g.ToList());
        foreach (SwarmVehicle v in s.Vehicles)
        {
            foreach (string topic in new[] { "pose", "velocity", "goal", "action" })
                Assert.That(byTopic.GetValueOrDefault($"/{v.Name}/{topic}")?.Count, Is.EqualTo(ticks), $"/{v.Name}/{topic}: one per tick");
        }
        Assert.That(byTopic["/observation"], Has.Count.EqualTo(ticks));
        ObservationMsg first = Cdr.Read<ObservationMsg>(byTopic["/observation"][0].Data.Span);
        Assert.That(first.Values.Length, Is.EqualTo(obs * s.Count), "all vehicles' observations, vehicle-major");
        PoseStampedMsg pose = Cdr.Read<PoseStampedMsg>(byTopic["/cf4/pose"][0].Data.Span);
        Assert.That((float)pose.Pose.Position.X, Is.EqualTo(s.Vehicles[3].InitialPosition.X).Within(0.05f));
        Assert.That(byTopic[SwarmNodeLog.SimContactsTopic], Has.Count.EqualTo(ticks));

        // /scene: foxglove.SceneUpdate JSON at 20 Hz with every vehicle, its goal, and the columns.
        var scenes = byTopic[SwarmNodeLog.SceneTopic];
        Assert.That(scenes, Has.Count.EqualTo(ticks / 5));
        Assert.That(scenes[0].Schema!.Name, Is.EqualTo("foxglove.SceneUpdate"));
        Assert.That(scenes[0].Channel.MessageEncoding, Is.EqualTo("json"));
        JsonObject scene = JsonNode.Parse(scenes[^1].Data.Span.ToArray())!.AsObject();
        var entities = scene["entities"]!.AsArray();
        Assert.That(entities.Select(e => (string)e!["id"]!), Is.EqualTo(s.Vehicles.Select(v => v.Name).Append("columns")));
        Assert.That(entities[0]!["cubes"]!.AsArray(), Has.Count.EqualTo(1));
        Assert.That(entities[0]!["spheres"]!.AsArray(), Has.Count.EqualTo(1), "the goal");
        Assert.That(entities[^1]!["cylinders"]!.AsArray(), Has.Count.EqualTo(2), "the two columns");

        // Foxglove's own libraries (@mcap/core, @foxglove/rosmsg2-serialization) read every message of the file.
        JsonObject verified = NodeVerifier.Verify(path, withMessages: false);
        Assert.That((int)verified["topics"]!["/cf8/pose"]!, Is.EqualTo(ticks));
        Assert.That((int)verified["topics"]![SwarmNodeLog.SceneTopic]!, Is.EqualTo(ticks / 5));
    }

    // ---- Bad input: refused naming the file and the field ----

    [Test]
    public void ABundleForAnotherNeighbourCountIsRefused()
    {
        NodeConfig config = Config();
        SwarmNodeSettings s = config.SettingsAs<SwarmNodeSettings>();
        var kind = new SwarmNodeKind();
        var e = Assert.Throws<PolicyMismatchException>(() => kind.CheckPolicy(config, SwarmTestPolicies.Random(s.Task, neighbours: 3)))!;
        Assert.That(e.Message, Does.Contain("trained for 3 neighbours").And.Contain(s.Task.File).And.Contain("'neighbours' is 2"));
    }

    [Test]
    public void ABundleWithAnotherObservationIsRefused()
    {
        NodeConfig config = Config();
        SwarmNodeSettings s = config.SettingsAs<SwarmNodeSettings>();
        var kind = new SwarmNodeKind();
        var e = Assert.Throws<PolicyMismatchException>(() => kind.CheckPolicy(config, TestPolicies.ConstantHover(RepoFiles.RobotFile)))!;
        Assert.That(e.Message, Does.Contain("not a swarm policy").And.Contain(PolicyBundle.KeyObservationNames));
        var names = SwarmObservation.Names(2).Take(39).Append("wind_x").ToArray();
        e = Assert.Throws<PolicyMismatchException>(() => kind.CheckPolicy(config, SwarmTestPolicies.Random(s.Task, observationNames: names)))!;
        Assert.That(e.Message, Does.Contain("not a swarm policy"));
    }

    [Test]
    public void MoreVehiclesThanNamesIsRefused()
    {
        var e = Assert.Throws<ConfigException>(() => Config(root => root["vehicles"]!.AsArray().RemoveAt(7)))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.vehicles"));
        Assert.That(e.Message, Does.Contain("7 vehicles").And.Contain("'quads'").And.Contain("crazyflie-swarm8-open.json").And.Contain("edited.json"));
    }

    [Test]
    public void DuplicateNamesAreRefused()
    {
        var e = Assert.Throws<ConfigException>(() => Config(root => root["vehicles"]![4]!["name"] = "cf2"))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.vehicles[4].name"));
        Assert.That(e.Message, Does.Contain("duplicate name \"cf2\": vehicle 2 has it too"));
    }

    [Test]
    public void OtherBadSwarmConfigsAreRefused()
    {
        var e = Assert.Throws<ConfigException>(() => Config(root => root["vehicles"]![1]!["initial_position"] = new JsonArray(-1.72, -1.5, 2.0)))!;
        Assert.That(e.Message, Does.Contain("cf1 and cf2 start").And.Contain("in contact"));
        e = Assert.Throws<ConfigException>(() => Config(root => root["rate_hz"] = 500))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.rate_hz"));
        e = Assert.Throws<ConfigException>(() => Config(root => root["vehicles"]![0]!["name"] = "cf 1"))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.vehicles[0].name"));
        e = Assert.Throws<ConfigException>(() => Config(root => root["vehicles"]![0]!["goal"] = new JsonArray(0, 0, 9)))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.vehicles[0].goal"));
    }
}
