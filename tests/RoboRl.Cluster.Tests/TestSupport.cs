using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace RoboRl.Cluster.Tests;

/// <summary>A small navigation task for cluster runs (8 envs, 32 steps, 2 epochs): 6 iterations of a few hundred ms.</summary>
static class TestTask
{
    public static string RepoRoot { get; } = FindRoot();

    static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "RoboRl.sln"))) return d.FullName;
        throw new InvalidOperationException("RoboRl.sln not found above the test output");
    }

    /// <summary>Writes the task into <paramref name="directory"/>; <paramref name="shards"/> of 8 envs.</summary>
    public static string Write(string directory, int learningIterations = 5)
    {
        string robot = Path.Combine(RepoRoot, "configs/robots/diffbot.json").Replace("\\", "/");
        string text = File.ReadAllText(Path.Combine(RepoRoot, "configs/tasks/diffbot-nav.json"));
        var node = JsonNode.Parse(Regex.Replace(text, @"//[^\n]*", ""))!;
        node["robot"] = robot;
        JsonNode training = node["training"]!;
        training["num_envs"] = 8;
        training["total_env_steps"] = 64 + 8 * 32 * learningIterations;
        JsonNode ppo = training["ppo"]!;
        ppo["num_steps"] = 32;
        ppo["num_minibatches"] = 4;
        ppo["update_epochs"] = 2;
        ppo["normalizer_warmup_env_steps"] = 64;
        string path = Path.Combine(directory, "nav-small.json");
        File.WriteAllText(path, node.ToJsonString());
        return path;
    }
}

/// <summary>
/// A small swarm task for cluster runs, from configs/swarm/crazyflie-swarm8-open.json: 2 environments of 4 quads, 16-step
/// rollouts, 0.1 s episodes (10 steps: episodes end and are bootstrapped inside a rollout), no hard-state replay (the
/// cluster refuses it); the warm-up and <paramref name="learningIterations"/> rollouts.
/// </summary>
static class SwarmTestTask
{
    public static string Write(string directory, string algorithm = "ppo", bool replay = false, int learningIterations = 4)
    {
        string root = Path.Combine(TestTask.RepoRoot, "configs/swarm");
        var node = JsonNode.Parse(Regex.Replace(File.ReadAllText(Path.Combine(root, "crazyflie-swarm8-open.json")), @"//[^\n]*", ""))!;
        node["robot"] = Path.GetFullPath(Path.Combine(root, node["robot"]!.GetValue<string>())).Replace("\\", "/");
        foreach (JsonNode? share in node["scenarios"]!.AsArray().Concat(node["held_out"]!["scenarios"]!.AsArray()))
            share!["file"] = Path.GetFullPath(Path.Combine(root, share["file"]!.GetValue<string>())).Replace("\\", "/");
        node["quads"] = 4;
        node["episode_seconds"] = 0.1;
        JsonNode training = node["training"]!;
        training["algorithm"] = algorithm;
        training["num_envs"] = 2;
        training["total_env_steps"] = 32 + 16 * 8 * learningIterations;
        JsonNode ppo = training["ppo"]!;
        ppo["num_steps"] = 16;
        ppo["update_epochs"] = 2;
        ppo["normalizer_warmup_env_steps"] = 32;
        ppo["actor_hidden"] = new JsonArray(32);
        ppo["critic_hidden"] = new JsonArray(32, 32);
        training["swarm"]!["replay"] = replay;
        string path = Path.Combine(directory, $"swarm-small-{algorithm}{(replay ? "-replay" : "")}.json");
        File.WriteAllText(path, node.ToJsonString());
        return path;
    }
}

/// <summary>
/// A small hover task for TD3 on the cluster, from configs/tasks/crazyflie-hover.json: 4 environments, 20-step episodes
/// (they end and restart across iterations), 8 iterations of 2 shards × 2 environments × 8 steps, the first 2 with random
/// actions (warmup_env_steps 64), a critic update every 4 env steps, periodic evaluations from 128 steps.
/// </summary>
static class HoverTestTask
{
    public const int StepsPerShard = 8, Iterations = 8;

    public static string Write(string directory, string algorithm = "td3")
    {
        string root = Path.Combine(TestTask.RepoRoot, "configs/tasks");
        var node = JsonNode.Parse(Regex.Replace(File.ReadAllText(Path.Combine(root, "crazyflie-hover.json")), @"//[^\n]*", ""))!;
        node["robot"] = Path.GetFullPath(Path.Combine(root, node["robot"]!.GetValue<string>())).Replace("\\", "/");
        node["episode_steps"] = 20;
        JsonNode training = node["training"]!;
        training["algorithm"] = algorithm;
        training["num_envs"] = 4;
        training["total_env_steps"] = 4 * StepsPerShard * Iterations;
        training["eval_every_env_steps"] = 64;
        training["eval_from_env_steps"] = 128;
        training["eval_episodes"] = 4;
        training["final_eval_episodes"] = 8;
        training["checkpoint_every_env_steps"] = 1_000_000;
        JsonNode td3 = training["td3"]!;
        td3["replay_capacity"] = 256;
        td3["warmup_env_steps"] = 64;
        td3["actor_warmup_env_steps"] = 96;
        td3["env_steps_per_critic_update"] = 4;
        td3["batch_size"] = 16;
        td3["actor_hidden"] = new JsonArray(16, 16);
        td3["critic_hidden"] = new JsonArray(16, 16);
        string path = Path.Combine(directory, $"hover-small-{algorithm}.json");
        File.WriteAllText(path, node.ToJsonString());
        return path;
    }
}

/// <summary>A `roborl` process started from the test's output folder; its stdout and stderr lines are kept.</summary>
sealed class RoborlProcess : IDisposable
{
    readonly Process _process;
    readonly List<string> _lines = [];
    readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public RoborlProcess(params string[] arguments)
    {
        string dir = AppContext.BaseDirectory;
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(dir, "roborl.dll"));
        foreach (string a in arguments) psi.ArgumentList.Add(a);
        _process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => { if (e.Data is { } l) lock (_lines) _lines.Add(l); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is { } l) lock (_lines) _lines.Add(l); };
        _process.Exited += (_, _) => _exited.TrySetResult();
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Output
    {
        get { lock (_lines) return string.Join("\n", _lines); }
    }

    /// <summary>Waits for a line containing <paramref name="text"/>.</summary>
    public void WaitFor(string text, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            lock (_lines) if (_lines.Any(l => l.Contains(text))) return;
            if (_process.HasExited) break;
            Thread.Sleep(20);
        }
        lock (_lines) if (_lines.Any(l => l.Contains(text))) return;
        Assert.Fail($"no line with '{text}' within {timeout.TotalSeconds:F0} s; output:\n{Output}");
    }

    public int WaitForExit(TimeSpan timeout)
    {
        if (!_exited.Task.Wait(timeout))
        {
            Kill();
            Assert.Fail($"roborl {string.Join(' ', _process.StartInfo.ArgumentList.Skip(1))} did not exit within {timeout.TotalSeconds:F0} s; output:\n{Output}");
        }
        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>The last stdout line as JSON (the --json result).</summary>
    public JsonObject Json()
    {
        lock (_lines)
            return JsonNode.Parse(_lines.Last(l => l.StartsWith('{')))!.AsObject();
    }

    public void Kill()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}
