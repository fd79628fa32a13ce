using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using RoboRl.Core.Policy;
using RoboRl.Core.Quadrotor;
using RoboRl.Logs;

namespace RoboRl.NodeHost.Tests;

/// <summary>
/// `roborl-node`: it runs a node config with a policy bundle and records the run, with `roborl run`'s flags, output and
/// exit codes; its build carries no TorchSharp or libtorch; and in lock-step with the simulated Crazyflie a run depends on
/// nothing but its inputs, so two runs — on two builds or two machines — record the same actions.
/// </summary>
public class LeanNodeTests
{
    static readonly string Dir = Path.Combine(Path.GetTempPath(), "roborl-node-tests", Guid.NewGuid().ToString("N"));

    public static string Repo(string relative)
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir != null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate) || Directory.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"{relative} not found above {TestContext.CurrentContext.TestDirectory}");
    }

    /// <summary>The shipped simulated-Crazyflie config in lock-step (take-off from the floor, the policy flies, no wall clock).</summary>
    public static string LockStepConfig(string dir)
    {
        Directory.CreateDirectory(dir);
        var root = JsonNode.Parse(File.ReadAllText(Repo("configs/nodes/crazyflie-sim.json")),
            documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip })!.AsObject();
        root["robot"] = Repo("configs/robots/crazyflie21.json");
        root["sim"]!["lock_step"] = true;
        string path = Path.Combine(dir, "lockstep.json");
        File.WriteAllText(path, root.ToJsonString());
        return path;
    }

    /// <summary>A hovering policy whose actions follow the state (a linear state feedback in the bundle's shape): written once.</summary>
    public static string AnalyticBundle(string dir)
    {
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "analytic.safetensors");
        if (!File.Exists(path))
        {
            string robot = Repo("configs/robots/crazyflie21.json");
            AnalyticHoverPolicy.Create(QuadrotorConfig.Load(robot), controlDt: 0.01, robotConfigJson: Core.Configs.ConfigNode.LoadFile(robot).RawJson).Write(path);
        }
        return path;
    }

    [OneTimeTearDown]
    public void Clean()
    {
        if (Directory.Exists(Dir)) Directory.Delete(Dir, recursive: true);
    }

    static (int Code, string Output, string Progress) Run(params string[] args)
    {
        var output = new StringWriter();
        var progress = new StringWriter();
        int code = Program.Run(args, output, progress);
        return (code, output.ToString(), progress.ToString());
    }

    [Test]
    public void ItFliesALockStepFlightRecordsItAndReportsLikeRoborlRun()
    {
        string log = Path.Combine(Dir, "flight.mcap");
        var (code, output, progress) = Run(LockStepConfig(Dir), "--policy", AnalyticBundle(Dir), "--duration", "5", "--record", log, "--json");
        Assert.That(code, Is.EqualTo(0), progress);
        JsonObject result = JsonNode.Parse(output)!.AsObject();
        Assert.That(result["clock"]!.GetValue<string>(), Is.EqualTo("lock_step"));
        Assert.That(result["robot_kind"]!.GetValue<string>(), Is.EqualTo("quadrotor"));
        Assert.That(result["ticks"]!.GetValue<ulong>(), Is.EqualTo(2500UL), "5 s of simulated time at 500 Hz");
        Assert.That(result["final_mode"]!.GetValue<string>(), Is.EqualTo("POLICY"), progress);
        Assert.That(result["exit_code"]!.GetValue<int>(), Is.EqualTo(0));
        Assert.That(progress, Does.Contain("event at tick 0: TAKING_OFF: armed").And.Contain("POLICY: inside the policy's envelope"));
        Assert.That(LogChecker.Check(log).IsValid, Is.True);
    }

    [Test]
    public void ItsExitCodesAreRoborlRuns()
    {
        var (code, _, progress) = Run(LockStepConfig(Dir), "--duration", "1");
        Assert.That((code, progress.Trim()), Is.EqualTo((2, $"roborl-node: {LockStepConfig(Dir)}: $.robot: a quadrotor node flies a policy bundle: give --policy BUNDLE")));
        (code, _, progress) = Run("no-such.json", "--policy", AnalyticBundle(Dir));
        Assert.That(code, Is.EqualTo(2), progress);
        (code, _, progress) = Run(LockStepConfig(Dir), "--policy", AnalyticBundle(Dir), "--frobnicate");
        Assert.That(code, Is.EqualTo(2), progress);
    }

    [Test]
    public void TwoLockStepRunsRecordTheSameActions()
    {
        string a = Path.Combine(Dir, "a.mcap"), b = Path.Combine(Dir, "b.mcap");
        Assert.That(Run(LockStepConfig(Dir), "--policy", AnalyticBundle(Dir), "--duration", "3", "--record", a).Code, Is.EqualTo(0));
        Assert.That(Run(LockStepConfig(Dir), "--policy", AnalyticBundle(Dir), "--duration", "3", "--record", b).Code, Is.EqualTo(0));
        IReadOnlyList<TopicComparison> same = LogComparison.Compare(a, b, ["/action", "/pose"], tolerance: 0);
        Assert.That(same.Select(r => (r.Topic, r.MessagesA, r.MessagesB, r.FirstOver)), Is.EqualTo(new[] { ("/action", 1500, 1500, (string?)null), ("/pose", 1500, 1500, null) }));
        Assert.That(same.All(r => r.Values > 1500));
    }

    [Test]
    public void TheLeanNodeCarriesNoTorchSharpOrLibtorch()
    {
        // Its own build output (what `dotnet publish` starts from) and its dependency manifest.
        string deps = File.ReadAllText(Path.Combine(TestContext.CurrentContext.TestDirectory, "roborl-node.deps.json"));
        Assert.That(deps, Does.Not.Contain("TorchSharp").And.Not.Contain("libtorch"));
        string[] files = Directory.GetFiles(TestContext.CurrentContext.TestDirectory, "*", SearchOption.AllDirectories).Select(Path.GetFileName).ToArray()!;
        Assert.That(files.Where(f => f.Contains("torch", StringComparison.OrdinalIgnoreCase)), Is.Empty);
        Assert.That(files, Does.Contain("roborl-node.dll"));
    }
}
