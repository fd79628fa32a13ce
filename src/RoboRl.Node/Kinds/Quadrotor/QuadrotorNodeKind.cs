using RoboRl.Core.Configs;
using RoboRl.Core.Policy;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Robots;
using RoboRl.Sims.Quadrotor;

namespace RoboRl.Node;

/// <summary>
/// The quadrotor's node facet: its config keys (<see cref="QuadrotorNodeSettings"/>), the hover bundles it flies, its
/// controller (<see cref="QuadrotorController"/> with <see cref="QuadrotorFallbackController"/> and
/// <see cref="SafetySupervisor"/>), and the simulated quadrotor the "sim" transport flies.
/// </summary>
public sealed class QuadrotorNodeKind : INodeKind
{
    public object ReadSettings(ConfigNode node, object robot, float rateHz) => QuadrotorNodeSettings.Read(node, (QuadrotorConfig)robot);

    public void CheckPolicy(NodeConfig config, PolicyBundle? bundle)
    {
        if (bundle is null) throw new ConfigException(config.File, "$.robot", "a quadrotor node flies a policy bundle: give --policy BUNDLE");
        QuadrotorController.CheckBundle(config, bundle);
    }

    public IRobotController CreateController(NodeSetup setup)
    {
        var controller = new QuadrotorController(setup.Config, setup.Bundle!,
            setup.RequireSensor<ISensorSource>("a quadrotor's state"), setup.RequireActuator<IActuatorSink>("rotor commands"),
            groundTruth: setup.Actuators.Port<IGroundTruthSource>());
        if (setup.RemotePolicy is { } remote) controller.UseRemotePolicy(remote);
        return controller;
    }

    public RobotLink OpenSimulatedRobot(TransportRequest request)
    {
        var settings = (QuadrotorNodeSettings)request.KindSettings;
        SimTransportConfig sim = SimTransportConfig.Read(request.RequireSection(), settings.Geofence);
        // `--sim-robot`: a plant other than the policy's robot (a heavier airframe, another propeller).
        QuadrotorConfig plant = request.Settings.Get<SimTransportSettings>().PlantPath is { } path ? QuadrotorConfig.Load(path) : settings.Robot;
        var robot = new SimulatedQuadrotor(plant, new SimulatedQuadrotorOptions
        {
            PhysicsHz = sim.PhysicsHz,
            StartPosition = sim.StartPosition,
            NoiseStd = sim.NoiseStd,
            Seed = sim.Seed,
        }, startTimeNs: NodeClock.NowNs);
        return sim.LockStep
            ? new RobotLink(request.Name, robot, robot, new LockStep(robot))
            : new RobotLink(request.Name, robot, robot) { Start = robot.Start, Stop = robot.Stop };
    }

    private sealed class LockStep(SimulatedQuadrotor robot) : ILockStepRobot
    {
        public long TimeNs => robot.TimeNs;
        public void AdvanceTo(long timeNs) => robot.AdvanceTo(timeNs);
    }
}
