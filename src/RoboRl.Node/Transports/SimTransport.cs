using RoboRl.Core.Robots;

namespace RoboRl.Node;

/// <summary>Options the host gives the "sim" transport (`roborl run --sim-robot`).</summary>
public sealed class SimTransportSettings
{
    /// <summary>A robot config to simulate instead of the node's robot (the plant differs from what the policy was trained for).</summary>
    public string? PlantPath { get; init; }
}

/// <summary>
/// The "sim" transport: the robot simulated in the node's process — whichever robot the node config's kind supplies
/// (<see cref="INodeKind.OpenSimulatedRobot"/>: the simulated Crazyflie, the simulated diffbot) — in real time on its own
/// thread, or in lock-step with the node ("lock_step": true in the "sim" section; the host then advances the robot to
/// each tick's simulated time before the tick).
/// </summary>
public static class SimTransport
{
    public const string Name = "sim";

    /// <summary>The plugin, for the robot kinds in <paramref name="kinds"/>.</summary>
    public static TransportPlugin Plugin(RobotKindRegistry kinds) => new(Name, "the robot simulated in the node's process (real time or lock-step)", request =>
    {
        INodeKind kind = kinds[request.RobotKind].Facet<INodeKind>() ?? throw new InvalidOperationException($"robot kind \"{request.RobotKind}\" has no node facet");
        return kind.OpenSimulatedRobot(request);
    });
}
