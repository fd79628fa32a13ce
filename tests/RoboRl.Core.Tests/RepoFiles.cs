using System.Text.Json.Nodes;

namespace RoboRl.Tests.Shared;

/// <summary>Shared by Core.Tests and Sims.Tests (linked). Finds repository files from the test directory and writes modified copies of configs for error tests.</summary>
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

    public static string RobotFile => Path("configs/robots/crazyflie21.json");
    public static string TaskFile => Path("configs/tasks/crazyflie-hover.json");

    /// <summary>Writes <paramref name="edit"/>ed copy of a JSON file into a temp directory (robot path made absolute) and returns its path.</summary>
    public static string EditedCopy(string file, Action<JsonObject> edit, string name = "edited.json")
    {
        var root = JsonNode.Parse(File.ReadAllText(file), documentOptions: new System.Text.Json.JsonDocumentOptions { CommentHandling = System.Text.Json.JsonCommentHandling.Skip })!.AsObject();
        if (root["robot"] is JsonValue robot)
            root["robot"] = System.IO.Path.GetFullPath(System.IO.Path.Combine(System.IO.Path.GetDirectoryName(file)!, robot.GetValue<string>()));
        edit(root);
        string dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "roborl-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        string path = System.IO.Path.Combine(dir, name);
        File.WriteAllText(path, root.ToJsonString());
        return path;
    }
}
