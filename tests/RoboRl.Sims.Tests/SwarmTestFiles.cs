using System.Text.Json.Nodes;
using RoboRl.Core.Swarm;

namespace RoboRl.Sims.Tests;

/// <summary>The repository's swarm configs, and edited copies of them (paths made absolute so the copy loads from a temp directory).</summary>
public static class SwarmTestFiles
{
    public static string TaskFile => RepoFiles.Path("configs/swarm/crazyflie-swarm8.json");
    public static string OpenTaskFile => RepoFiles.Path("configs/swarm/crazyflie-swarm8-open.json");
    public static string ScenarioFile(string name) => RepoFiles.Path($"configs/swarm/scenarios/{name}.json");

    /// <summary>A copy of the task with <paramref name="edit"/> applied; scenario paths made absolute.</summary>
    public static string EditedTask(Action<JsonObject> edit, string? file = null)
    {
        string source = file ?? TaskFile;
        string dir = Path.GetDirectoryName(source)!;
        return RepoFiles.EditedCopy(source, root =>
        {
            foreach (JsonArray mix in new[] { root["scenarios"]!.AsArray(), root["held_out"]!["scenarios"]!.AsArray() })
                foreach (JsonNode? item in mix)
                    item!["file"] = Path.GetFullPath(Path.Combine(dir, item["file"]!.GetValue<string>()));
            edit(root);
        });
    }

    /// <summary>A copy of a scenario file with <paramref name="edit"/> applied.</summary>
    public static string EditedScenario(string name, Action<JsonObject> edit) => RepoFiles.EditedCopy(ScenarioFile(name), edit, name + ".json");

    /// <summary>A task for physics tests: <paramref name="quads"/> quads, K neighbours, no columns, no randomisation, optional
    /// noise-free contacts with restitution <paramref name="restitution"/>, downwash as asked; one scenario (static_different_goals).</summary>
    public static SwarmTaskConfig PhysicsTask(int quads, int neighbours, bool contactNoise = false, float restitution = 1, bool downwash = false, float density = 0)
    {
        string path = EditedTask(root =>
        {
            root["quads"] = quads;
            root["neighbours"] = neighbours;
            root["downwash"] = downwash;
            root["obstacles"]!["density"] = density;
            foreach (string key in new[] { "mass", "inertia", "thrust_coefficient", "motor_time_constant" })
                root["domain_randomization"]![key] = new JsonArray(1.0, 1.0);
            if (!contactNoise)
            {
                root["contact"]!["restitution"] = new JsonArray(restitution, restitution);
                root["contact"]!["pair_noise_std_m_s"] = 0;
                root["contact"]!["independent_noise_std_m_s"] = 0;
                root["contact"]!["rate_kick_rad_s"] = new JsonArray(0, 0);
            }
            var only = new JsonArray(new JsonObject { ["file"] = ScenarioFile("static-different-goals"), ["weight"] = 1 });
            root["scenarios"] = only;
        });
        return SwarmTaskConfig.Load(path);
    }
}
