using System.Text.Json.Nodes;

namespace RoboRl.Training.Tests;

/// <summary>Finds repository files from the test directory and writes edited copies of configs.</summary>
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

    public static string TaskFile => Path("configs/tasks/crazyflie-hover.json");

    /// <summary>Root of this test run's temporary directories (run directories hold replay checkpoints of ~100 MB).</summary>
    public static readonly string TempRoot = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "roborl-training-tests", Guid.NewGuid().ToString("N"));

    /// <summary>A fresh temporary directory.</summary>
    public static string TempDirectory()
    {
        string dir = System.IO.Path.Combine(TempRoot, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Writes an <paramref name="edit"/>ed copy of a JSON config (robot path made absolute) and returns its path.</summary>
    public static string EditedCopy(string file, Action<JsonObject> edit, string name = "task.json")
    {
        var root = JsonNode.Parse(File.ReadAllText(file), documentOptions: new System.Text.Json.JsonDocumentOptions { CommentHandling = System.Text.Json.JsonCommentHandling.Skip })!.AsObject();
        if (root["robot"] is JsonValue robot)
            root["robot"] = System.IO.Path.GetFullPath(System.IO.Path.Combine(System.IO.Path.GetDirectoryName(file)!, robot.GetValue<string>()));
        edit(root);
        string path = System.IO.Path.Combine(TempDirectory(), name);
        File.WriteAllText(path, root.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        return path;
    }

    /// <summary>
    /// The hover task with a small training budget for tests: 8 environments, short warm-ups, few episodes per evaluation.
    /// </summary>
    public static string SmallTrainingTask(long totalSteps, Action<JsonObject>? edit = null, string? taskFile = null) => EditedCopy(taskFile ?? TaskFile, root =>
    {
        JsonObject training = root["training"]!.AsObject();
        training["total_env_steps"] = totalSteps;
        training["num_envs"] = 16;
        training["eval_every_env_steps"] = 0;
        training["eval_episodes"] = 20;
        training["final_eval_episodes"] = 50;
        training["checkpoint_every_env_steps"] = 0;
        JsonObject td3 = training["td3"]!.AsObject();
        td3["replay_capacity"] = totalSteps;
        td3["warmup_env_steps"] = 2000;
        td3["actor_warmup_env_steps"] = 2000;
        JsonObject sac = training["sac"]!.AsObject();
        sac["replay_capacity"] = totalSteps;
        sac["warmup_env_steps"] = 2000;
        edit?.Invoke(root);
    });
}

/// <summary>Deletes this run's temporary directories after all tests of the assembly.</summary>
[SetUpFixture]
public sealed class TempCleanup
{
    [OneTimeTearDown]
    public void DeleteTemporaryDirectories()
    {
        if (Directory.Exists(RepoFiles.TempRoot)) Directory.Delete(RepoFiles.TempRoot, recursive: true);
    }
}
