using RoboRl.Sims.DiffDrive;

namespace RoboRl.Node;

/// <summary>
/// The simulator's DWA (Fox, Burgard &amp; Thrun 1997; sims/RoboRl.Sims/DiffDrive/DwaPlanner.cs) as the ground-robot
/// node's planner (planner "dwa"): the classical baseline, for comparison and bring-up without a trained policy.
/// </summary>
public sealed class DwaLocalPlanner(DwaPlanner dwa) : ILocalPlanner
{
    public void Plan(in LocalPlannerInput input, Span<float> action) => dwa.Act(new NavPlannerInput
    {
        Observation = input.Observation,
        Scan = input.Scan,
        GoalDistance = input.GoalDistance,
        GoalBearing = input.GoalBearing,
        LinearVelocity = input.LinearVelocity,
        AngularVelocity = input.AngularVelocity,
    }, action);
}
