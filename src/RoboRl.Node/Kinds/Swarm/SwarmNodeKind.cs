using RoboRl.Core.Configs;
using RoboRl.Core.Policy;
using RoboRl.Core.Robots;
using RoboRl.Core.Swarm;

namespace RoboRl.Node;

/// <summary>
/// The swarm's node facet (robot kind "swarm": the node config's "robot" is a swarm task file): its config keys
/// (<see cref="SwarmNodeSettings"/>), the swarm bundles it flies, its controller (<see cref="SwarmController"/>: one tick
/// for N vehicles, a supervisor and fallback per vehicle) and the simulated swarm of the "sim" transport
/// (<see cref="SimulatedSwarm"/>: the training simulator's physics).
/// </summary>
public sealed class SwarmNodeKind : INodeKind
{
    public object ReadSettings(ConfigNode node, object robot, float rateHz) => SwarmNodeSettings.Read(node, (SwarmTaskConfig)robot, rateHz);

    public void CheckPolicy(NodeConfig config, PolicyBundle? bundle)
    {
        if (bundle is null) throw new ConfigException(config.File, "$.robot", "a swarm node flies a swarm policy bundle: give --policy BUNDLE");
        SwarmController.CheckBundle(config, bundle);
    }

    public IRobotController CreateController(NodeSetup setup) =>
        new SwarmController(setup.Config, setup.Bundle!,
            setup.RequireSensor<ISwarmStateSource>("a swarm's states (N vehicles)"), setup.RequireActuator<ISwarmCommandSink>("a swarm's commands (N vehicles)"),
            setup.Actuators.Port<ISwarmGroundTruth>());

    public RobotLink OpenSimulatedRobot(TransportRequest request)
    {
        var settings = (SwarmNodeSettings)request.KindSettings;
        SwarmSimConfig sim = SwarmSimConfig.Read(request.RequireSection());
        var swarm = new SimulatedSwarm(settings.Task, settings.Vehicles.Select(v => v.InitialPosition).ToList(), settings.Columns, sim.Seed, NodeClock.NowNs);
        return sim.LockStep
            ? new RobotLink(request.Name, swarm, swarm)
            : new RobotLink(request.Name, swarm, new RealTime(swarm)) { Start = swarm.Start, Stop = swarm.Stop };
    }

    // In real time the link offers the swarm's ports but not ILockStepRobot (the session would step it itself).
    private sealed class RealTime(SimulatedSwarm swarm) : ISwarmStateSource, ISwarmCommandSink, ISwarmGroundTruth
    {
        public int Vehicles => swarm.Vehicles;
        public bool TryGetLatest(int vehicle, out RobotStateSample sample) => swarm.TryGetLatest(vehicle, out sample);
        public void Send(int vehicle, in ActuatorCommand command) => swarm.Send(vehicle, in command);
        public (int Vehicles, int Columns) Contacts(int vehicle) => swarm.Contacts(vehicle);
        public float MinSeparationM => swarm.MinSeparationM;
    }
}
