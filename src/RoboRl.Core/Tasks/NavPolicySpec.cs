using RoboRl.Core.DiffDrive;

namespace RoboRl.Core.Tasks;

/// <summary>
/// The policy bundle's specs for the navigation task (the names, order and scaling of <see cref="NavObservation"/>'s
/// layout): what training writes into a bundle and what the ground-robot node and the evaluator check before running one.
/// </summary>
public static class NavPolicySpec
{
    /// <summary>The observation holds exactly one past action (the previous one).</summary>
    public const int ActionHistoryLength = 1;

    /// <summary>Command units, in action order.</summary>
    public const string ActionUnit = "m/s, rad/s";

    /// <summary>The builder's own action names (<see cref="NavObservation.ActionNames"/>).</summary>
    public static IReadOnlyList<string> ActionNames => NavObservation.ActionNames;

    /// <summary>The builder's own observation names (<see cref="NavObservation.ActorNames"/>): scan_0 … (sector j starts at
    /// beam j·B/bins, counter-clockwise from forward), then the state block.</summary>
    public static IReadOnlyList<string> ActorNames(int scanBins) => NavObservation.ActorNames(scanBins);

    /// <summary>Action scaling: command = low + (a + 1)/2·(high − low) = a·max, i.e. v = a₀·v_max, ω = a₁·ω_max.</summary>
    public static (float[] Low, float[] High) ActionScaling(DiffDriveConfig robot) =>
        ([-robot.MaxLinearVelocity, -robot.MaxAngularVelocity], [robot.MaxLinearVelocity, robot.MaxAngularVelocity]);
}
