using RoboRl.Core.Configs;
using RoboRl.Core.Tasks;

namespace RoboRl.Training;

/// <summary>A kind of task file and how `roborl train` trains it (the trainer's facet of a kind).</summary>
/// <param name="Name">The value of the task file's <c>"kind"</c>.</param>
/// <param name="Train">Loads the task, binds its "training" section, supplies the algorithm its environments, specs and
/// scorer, and runs it (<see cref="Trainer"/>'s shared run does the rest).</param>
public sealed record TrainingTaskKind(string Name, string Description, Func<TrainOptions, IProgress<TrainProgress>?, TrainResult> Train);

/// <summary>
/// The task kinds `roborl train` knows, keyed by a task file's <c>"kind"</c> (<see cref="TaskKinds"/>). A new kind is its
/// environment and config, a method that trains it and one registration line in <see cref="All"/>: no switch elsewhere.
/// </summary>
public static class TrainingTasks
{
    public static IReadOnlyList<TrainingTaskKind> All { get; } =
    [
        new(TaskKinds.Hover, "a quadrotor hovering at a target under randomised dynamics (TD3 or SAC)", Trainer.RunHover),
        new(TaskKinds.Navigation, "a ground robot driving to goals through random maps with its lidar (PPO)", Trainer.RunNavigation),
        new(TaskKinds.Swarm, "quadrotors flying to their goals among each other and columns (multi-agent PPO)", SwarmTraining.Run),
    ];

    /// <summary>The registered kind names.</summary>
    public static IReadOnlyList<string> Names => All.Select(k => k.Name).ToList();

    /// <summary>The kind of the task file at <paramref name="taskPath"/>; an unknown kind names the file, the key and the known kinds.</summary>
    public static TrainingTaskKind For(string taskPath)
    {
        ConfigNode task = ConfigNode.LoadFile(taskPath);
        string name = TaskKinds.Of(task);
        return All.FirstOrDefault(k => k.Name == name)
            ?? throw task.Error(TaskKinds.KindKey, $"no trainer for task kind \"{name}\"; expected one of: {string.Join(", ", Names)}");
    }
}
