using System.Collections.Concurrent;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;
using RoboRl.Core.Policy;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Robots;
using RoboRl.Core.Tasks;
using RoboRl.Node;
using RoboRl.Sims.Quadrotor;

namespace RoboRl.Node.Tests;

/// <summary>Finds repository files and writes edited copies of configs.</summary>
public static class RepoFiles
{
    public static string Path(string relative)
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir != null; dir = dir.Parent)
        {
            string candidate = System.IO.Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"{relative} not found above {TestContext.CurrentContext.TestDirectory}");
    }

    public static string NodeFile => Path("configs/nodes/crazyflie-sim.json");
    public static string RobotFile => Path("configs/robots/crazyflie21.json");

    public static string TempDir()
    {
        string dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "roborl-node-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>An edited copy of a JSON config (its "robot" path made absolute); returns the copy's path.</summary>
    public static string EditedCopy(string file, Action<JsonObject> edit, string name = "edited.json")
    {
        var root = JsonNode.Parse(File.ReadAllText(file), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip })!.AsObject();
        if (root["robot"] is JsonValue robot)
            root["robot"] = System.IO.Path.GetFullPath(System.IO.Path.Combine(System.IO.Path.GetDirectoryName(file)!, robot.GetValue<string>()));
        edit(root);
        string path = System.IO.Path.Combine(TempDir(), name);
        File.WriteAllText(path, root.ToJsonString());
        return path;
    }
}

/// <summary>Crafted policy bundles (no training): a network whose output is a constant action.</summary>
public static class TestPolicies
{
    /// <summary>
    /// A 149 → 4 network (the hover observation's names) with zero weights and tanh(bias) = the robot's hover action: it
    /// holds a perfectly balanced quadrotor in the air open-loop, and does nothing about any error (so the supervisor has
    /// something to catch). <paramref name="observationSize"/> other than the layout's crafts a bundle of another layout
    /// (the first names of today's, e.g. 146 for one trained before the position-error integral).
    /// </summary>
    public static PolicyBundle ConstantHover(string robotFile, double controlRateHz = 100, int history = 32, float? action = null, int? observationSize = null)
    {
        string robotJson = File.ReadAllText(robotFile);
        QuadrotorConfig robot = QuadrotorConfig.Load(robotFile);
        float a = action ?? robot.HoverAction();
        int obs = observationSize ?? HoverObservation.ActorSize(history);
        string[] names = [.. HoverObservation.ActorNames(history).Take(obs), .. Enumerable.Range(0, Math.Max(0, obs - HoverObservation.ActorSize(history))).Select(i => $"extra_{i}")];
        var bias = Enumerable.Repeat(MathF.Atanh(a), 4).ToArray();
        var bundle = new PolicyBundle
        {
            Layers = [new DenseLayer(obs, 4, new float[4 * obs], bias, Activation.Tanh)],
            ObservationNames = names,
            ActionNames = ["motor_1", "motor_2", "motor_3", "motor_4"],
            ObservationMean = new float[obs],
            ObservationStd = Enumerable.Repeat(1f, obs).ToArray(),
            ActionLow = new float[4],
            ActionHigh = HoverObservation.ActionScaling(robot).High,
            ActionUnit = HoverObservation.ActionUnit,
            ControlRateHz = controlRateHz,
            ActionHistoryLength = history,
            RobotConfigJson = robotJson,
            TrainingConfigJson = """{"crafted":"constant hover action"}""",
            GitCommit = "0000000000000000000000000000000000000000",
            GoldenObservations = new float[obs],
            GoldenActions = Enumerable.Repeat(MathF.Tanh(MathF.Atanh(a)), 4).ToArray(),
        };
        bundle.Validate("test");
        return bundle;
    }
}

/// <summary>A command source fed by the test (the transport's queue).</summary>
public sealed class QueueCommandSource : ICommandSource
{
    private readonly ConcurrentQueue<NodeCommand> _queue = new();
    public void Enqueue(NodeCommandKind kind, Vector3 setpoint = default) => _queue.Enqueue(new NodeCommand(kind, setpoint, 0, "test", 0));
    public bool TryDequeue(out NodeCommand command) => _queue.TryDequeue(out command);
}

/// <summary>A teleop source fed by the test.</summary>
public sealed class HeldTeleop : ITeleopSource
{
    public TeleopSample Sample;
    public bool Has;
    public bool TryGetLatest(out TeleopSample sample) { sample = Sample; return Has; }
}

/// <summary>The node and the simulated Crazyflie in lock-step on a simulated clock (deterministic, no wall-clock dependence).</summary>
public sealed class LockStep : IDisposable
{
    public readonly NodeConfig Config;
    /// <summary>The config's quadrotor settings (geofence, limits, setpoint, …).</summary>
    public readonly QuadrotorNodeSettings Quadrotor;
    public readonly SimulatedQuadrotor Sim;
    public readonly InferenceNode Node;
    /// <summary>The node's quadrotor controller (setpoint, fallback phase, last command, …).</summary>
    public readonly QuadrotorController Controller;
    public readonly long PeriodNs;
    public long NowNs = 1_000_000_000;

    public LockStep(string? configFile = null, PolicyBundle? bundle = null, Action<JsonObject>? edit = null,
        NodeRecorder? recorder = null, SimulatedQuadrotorOptions? simOptions = null, QuadrotorConfig? plant = null)
    {
        string file = edit is null ? configFile ?? RepoFiles.NodeFile : RepoFiles.EditedCopy(configFile ?? RepoFiles.NodeFile, edit);
        Config = NodeConfig.Load(file);
        Quadrotor = Config.Quadrotor();
        SimTransportConfig sim = SimTransportConfig.From(Config);
        // The shipped config starts the robot on the floor (a take-off first); these tests start it hovering at the
        // setpoint unless their config puts it elsewhere in the air (TakeoffLandingTests start on the floor).
        Vector3 start = sim.StartPosition.Z > 0 ? sim.StartPosition : Quadrotor.Setpoint;
        Sim = new SimulatedQuadrotor(plant ?? Quadrotor.Robot, simOptions ?? new SimulatedQuadrotorOptions
        {
            PhysicsHz = sim.PhysicsHz,
            StartPosition = start,
            NoiseStd = sim.NoiseStd,
            Seed = sim.Seed,
        }, NowNs);
        Node = QuadrotorController.CreateNode(Config, bundle ?? TestPolicies.ConstantHover(Config.RobotPath), Sim, Sim, recorder: recorder);
        Controller = Node.Quadrotor();
        PeriodNs = (long)Math.Round(1e9 / Config.RateHz);
    }

    /// <summary>One tick: physics up to now, then the node acts on the newest sample. <paramref name="lateNs"/> delays the tick's start.</summary>
    public void Step(long lateNs = 0)
    {
        NowNs += PeriodNs;
        Sim.AdvanceTo(NowNs);
        Node.Tick(NowNs, NowNs + lateNs);
    }

    public void Run(double seconds, Action? everyTick = null)
    {
        long ticks = (long)Math.Round(seconds * Config.RateHz);
        for (long i = 0; i < ticks; i++) { Step(); everyTick?.Invoke(); }
    }

    /// <summary>Runs until <paramref name="done"/> or <paramref name="maxSeconds"/> of simulated time; returns the simulated seconds taken.</summary>
    public double RunUntil(Func<bool> done, double maxSeconds, Action? everyTick = null)
    {
        long start = NowNs;
        long ticks = (long)Math.Round(maxSeconds * Config.RateHz);
        for (long i = 0; i < ticks && !done(); i++) { Step(); everyTick?.Invoke(); }
        return (NowNs - start) * 1e-9;
    }

    public Vector3 Position => Sim.TrueState.Position;

    public void Dispose() => Node.Dispose();
}
