using RoboRl.Core.Robots;

namespace RoboRl.Core.Swarm;

// The node's ports for a swarm: N vehicles behind one link (the simulated swarm in process, crazyswarm2's per-drone
// topics over ROS 2). The rules of the single-robot ports (RoboRl.Core.Robots.Transport.cs) hold: never block, allocate
// nothing per call, be thread-safe against the transport's own I/O thread.

/// <summary>Where the newest state of each vehicle of a swarm comes from (vehicle index = position in the node config's "vehicles").</summary>
public interface ISwarmStateSource
{
    /// <summary>Vehicles behind this source.</summary>
    int Vehicles { get; }

    /// <summary>The newest sample of vehicle <paramref name="vehicle"/>; false before its first one.</summary>
    bool TryGetLatest(int vehicle, out RobotStateSample sample);
}

/// <summary>Where each vehicle's actuator command goes.</summary>
public interface ISwarmCommandSink
{
    /// <summary>Hands vehicle <paramref name="vehicle"/>'s command to the transport; must not block the tick.</summary>
    void Send(int vehicle, in ActuatorCommand command);
}

/// <summary>What a simulated swarm knows and a real one does not: the contacts its physics resolved.</summary>
public interface ISwarmGroundTruth
{
    /// <summary>Contacts vehicle <paramref name="vehicle"/> began with other vehicles and with columns since the start.</summary>
    (int Vehicles, int Columns) Contacts(int vehicle);

    /// <summary>The least distance between two vehicles since the start, m.</summary>
    float MinSeparationM { get; }
}

/// <summary>What a swarm transport reads from the swarm node's settings: the vehicles' names, in order (crazyswarm2's cf1 … cfN).</summary>
public interface ISwarmVehicleNames
{
    IReadOnlyList<string> VehicleNames { get; }
}
