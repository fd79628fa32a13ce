using RoboRl.Core.Configs;
using RoboRl.Core.Policy;
using RoboRl.Core.Swarm;
using RoboRl.Core.Tasks;
using RoboRl.Training;

namespace RoboRl.Cli.Commands;

/// <summary>Everything `roborl eval` was given, parsed; each kind's evaluation takes what applies to it and refuses the rest.</summary>
public sealed record EvalRequest(string? BundlePath, string[] RunDirectories, int? Episodes, string? DynamicsPath, ulong Seed, string? TaskPath,
    string? PlotPath, bool AsJson, string? Planner, int Seeds, string? Sweep, string? Values, string? InitialStates, TextWriter Output, TextWriter Error)
{
    /// <summary>The bundles to evaluate: BUNDLE, or each --runs directory's policy.safetensors.</summary>
    public string[] Bundles => BundlePath is not null ? [BundlePath] : RunDirectories.Select(d => Path.Combine(d, Trainer.BundleFileName)).ToArray();

    /// <summary>Refuses the flags of <paramref name="given"/> (name, whether it was given) that a kind's evaluation does not take.</summary>
    public void Refuse(string kind, params (string Flag, bool Given)[] given)
    {
        string[] present = given.Where(g => g.Given).Select(g => g.Flag).ToArray();
        if (present.Length > 0)
            throw CliException.BadInput($"{string.Join(", ", present)} {(present.Length == 1 ? "does" : "do")} not apply to {kind} policies");
    }
}

/// <summary>The evaluation facet of a task kind: which bundles it evaluates and how (the trainer's facet is <see cref="TrainingTaskKind"/>).</summary>
/// <param name="Name">The task kind (<see cref="TaskKinds"/>), as a task file's <c>"kind"</c> names it.</param>
/// <param name="Evaluates">True for a bundle trained on this kind (recognised from its specs and robot).</param>
public sealed record EvalKind(string Name, Func<PolicyBundle, bool> Evaluates, Func<EvalRequest, int> Evaluate);

/// <summary>
/// The task kinds `roborl eval` knows. A new kind adds its evaluation and one line here: the kind is taken from --task
/// when given, else from the (first) bundle, else --planner alone means navigation's classical planners.
/// </summary>
public static class EvalKinds
{
    public static IReadOnlyList<EvalKind> All { get; } =
    [
        new(TaskKinds.Hover, EvalCommand.IsHoverBundle, EvalCommand.EvaluateHover),
        new(TaskKinds.Navigation, NavEvalCommand.IsNavigationBundle, NavEvalCommand.Evaluate),
        new(TaskKinds.Swarm, SwarmPolicySpec.IsSwarmBundle, SwarmEvalCommand.Evaluate),
    ];

    /// <summary>The kind that evaluates <paramref name="request"/>; an unknown task kind or an unrecognised bundle is bad input naming it.</summary>
    public static EvalKind For(EvalRequest request)
    {
        if (request.TaskPath is not null)
        {
            ConfigNode task = ConfigNode.LoadFile(RepoPaths.Find(request.TaskPath));
            string name = TaskKinds.Of(task);
            return All.FirstOrDefault(k => k.Name == name)
                ?? throw task.Error(TaskKinds.KindKey, $"roborl eval has no evaluation for task kind \"{name}\"; expected one of: {string.Join(", ", All.Select(k => k.Name))}");
        }
        string[] bundles = request.Bundles;
        if (bundles.Length == 0)
            return request.Planner is not null
                ? All.Single(k => k.Name == TaskKinds.Navigation)
                : throw CliException.BadInput("give a BUNDLE, --runs DIR… or, for the navigation planners alone, --planner");
        PolicyBundle bundle = PolicyBundle.Read(bundles[0]);
        return All.FirstOrDefault(k => k.Evaluates(bundle))
            ?? throw CliException.BadInput($"{bundles[0]}: no evaluation recognises this bundle (observation {bundle.ObservationSize}, actions {bundle.ActionSize}); "
                + $"pass --task with a task of one of the kinds {string.Join(", ", All.Select(k => k.Name))}");
    }
}
