using RoboRl.Core.Configs;

namespace RoboRl.Core.Tasks;

/// <summary>
/// The discriminator of task files: <c>"kind"</c>, as in robot configs (<c>"hover"</c>, <c>"navigation"</c>,
/// <c>"swarm"</c>, …). A hover task file written before the key existed has none and stays a hover task.
/// </summary>
public static class TaskKinds
{
    public const string KindKey = "kind";
    public const string Hover = "hover", Navigation = "navigation", Swarm = "swarm";

    /// <summary>The kind a task file names; errors name the file and the key.</summary>
    public static string Of(ConfigNode task)
    {
        if (task.Has(KindKey)) return task.String(KindKey);
        if (task.Has("task"))
            throw task.Error("task", $"task files name their kind with \"kind\", as robot configs do: write \"kind\": \"{task.String("task")}\"");
        return Hover;
    }
}
