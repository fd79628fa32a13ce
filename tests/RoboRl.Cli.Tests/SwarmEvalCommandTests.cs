using System.CommandLine;
using System.Text.Json;
using RoboRl.Core.Swarm;
using RoboRl.Training;
using static TorchSharp.torch;

namespace RoboRl.Cli.Tests;

/// <summary>`roborl eval SWARM_BUNDLE`: issue 18's JSON keys, the baseline beside the policy, the PNG, refusals.</summary>
public class SwarmEvalCommandTests
{
    static readonly string TempRoot = Path.Combine(Path.GetTempPath(), "roborl-cli-swarm-tests", Guid.NewGuid().ToString("N"));

    [OneTimeSetUp]
    public void LoadTorch() => TorchSetup.Initialize();

    [OneTimeTearDown]
    public void DeleteTemporaryDirectories()
    {
        if (Directory.Exists(TempRoot)) Directory.Delete(TempRoot, recursive: true);
    }

    static string OpenTask => RepoPath("configs/swarm/crazyflie-swarm8-open.json");

    static string RepoPath(string relative)
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, relative))) return Path.Combine(dir.FullName, relative);
        throw new FileNotFoundException(relative);
    }

    /// <summary>An untrained swarm bundle for the open task with <paramref name="neighbours"/> tokens.</summary>
    static string UntrainedBundle(int neighbours)
    {
        SwarmTaskConfig task = SwarmTaskConfig.Load(OpenTask) with { Neighbours = neighbours };
        manual_seed(1);
        using var actor = new SwarmActor(neighbours, 16, 8, 4, [16], seed: 1);
        actor.InitializeOrthogonal();
        int size = SwarmObservation.Size(neighbours);
        float[] mean = new float[size], std = Enumerable.Repeat(1f, size).ToArray();
        var golden = new float[2 * size];
        var bundle = SwarmPolicySpec.Export(actor, task, mean, std, golden, "{\"task_file\": \"configs/swarm/crazyflie-swarm8-open.json\"}");
        Directory.CreateDirectory(Path.Combine(TempRoot, $"k{neighbours}"));
        string path = Path.Combine(TempRoot, $"k{neighbours}", "policy.safetensors");
        bundle.Write(path);
        return path;
    }

    static (int Exit, string Output, string Error) Invoke(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = Program.BuildRootCommand().Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    [Test]
    public void JsonHasTheIssueKeysAndTheBaselineBeside()
    {
        string bundle = UntrainedBundle(2);
        var (exit, output, error) = Invoke("eval", bundle, "--task", OpenTask, "--seeds", "1", "--episodes", "2", "--json");
        Assert.That(exit, Is.Zero, error);
        using JsonDocument doc = JsonDocument.Parse(output);
        JsonElement root = doc.RootElement;
        foreach (JsonElement o in new[] { root, root.GetProperty("baseline") })
        {
            foreach (string key in new[] { "success_rate", "collision_rate", "collisions_per_quad_minute" })
                Assert.That(o.GetProperty(key).GetDouble(), Is.InRange(0.0, 1e6), key);
            Assert.That(o.GetProperty("quads").GetInt32(), Is.EqualTo(8));
            Assert.That(o.GetProperty("scenarios").GetArrayLength(), Is.GreaterThan(0));
            Assert.That(o.TryGetProperty("min_separation_m", out _));
            Assert.That(o.TryGetProperty("time_to_goal_iqm_s", out _));
            Assert.That(o.GetProperty("success_rate_ci95").GetArrayLength(), Is.EqualTo(2));
        }
        Assert.That(root.GetProperty("baseline").GetProperty("pilot").GetString(), Is.EqualTo("bvc_pid"));
        Assert.That(root.GetProperty("baseline").GetProperty("min_separation_m").GetDouble(), Is.GreaterThan(0.092),
            "the buffered Voronoi cells keep the quads out of contact");
        Assert.That(root.GetProperty("first_seed").GetInt64(), Is.EqualTo(1_000_000), "the first held-out seed");
        Assert.That(File.Exists(root.GetProperty("plot").GetString()), "the top-view PNG next to the bundle");

        // Without --task: the bundle's task_file.
        (exit, output, error) = Invoke("eval", bundle, "--seeds", "1", "--episodes", "1");
        Assert.That(exit, Is.Zero, error);
        Assert.That(output, Does.Contain("policy: 8 quads").And.Contain("bvc_pid: 8 quads"));
    }

    [Test]
    public void ABundleForAnotherNeighbourCountOrSeedIsRefused()
    {
        var (exit, _, error) = Invoke("eval", UntrainedBundle(1), "--task", OpenTask, "--seeds", "1", "--episodes", "1");
        Assert.That(exit, Is.EqualTo(2));
        Assert.That(error, Does.Contain("observation.names").And.Contain("'neighbours'").And.Contain("1 neighbours"));

        (exit, _, error) = Invoke("eval", UntrainedBundle(2), "--task", OpenTask, "--seed", "7", "--episodes", "1");
        Assert.That(exit, Is.EqualTo(2));
        Assert.That(error, Does.Contain("held_out.seeds"));
    }
}
