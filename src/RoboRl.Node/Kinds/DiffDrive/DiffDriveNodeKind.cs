using RoboRl.Core.Configs;
using RoboRl.Core.DiffDrive;
using RoboRl.Core.Policy;
using RoboRl.Core.Robots;
using RoboRl.Core.Tasks;
using RoboRl.Logs;
using RoboRl.Sims.DiffDrive;

namespace RoboRl.Node;

/// <summary>
/// The differential-drive robot's node facet: its config keys (<see cref="DiffDriveNodeSettings"/>), its planners (a
/// navigation bundle, or DWA on the config's task), its controller (<see cref="DiffDriveController"/>: stop is its
/// fallback), and the simulated diffbot (<see cref="SimulatedDiffBot"/>, one map of a navigation task) the "sim"
/// transport drives.
/// </summary>
public sealed class DiffDriveNodeKind : INodeKind
{
    public object ReadSettings(ConfigNode node, object robot, float rateHz) => DiffDriveNodeSettings.Read(node, (DiffDriveConfig)robot);

    public void CheckPolicy(NodeConfig config, PolicyBundle? bundle)
    {
        DiffDriveNodeSettings settings = config.SettingsAs<DiffDriveNodeSettings>();
        if (settings.Planner == "dwa")
        {
            NavTaskConfig task = Task(config, settings);
            if (PolicyBundle.RobotConfigHash(task.RobotConfigJson) != PolicyBundle.RobotConfigHash(config.RobotConfigJson))
                throw new ConfigException(config.File, "$.task", $"the task {settings.TaskPath} is for another robot than {config.RobotPath}");
            if (task.ControlFrequencyHz != config.RateHz)
                throw new ConfigException(config.File, "$.rate_hz", $"{config.RateHz} differs from the task's control_frequency_hz {task.ControlFrequencyHz} (DWA's window assumes it)");
            return;
        }
        if (bundle is null) throw new ConfigException(config.File, "$.planner", "planner \"policy\" needs --policy BUNDLE");
        DiffDriveController.CheckBundle(config, bundle);
    }

    public IRobotController CreateController(NodeSetup setup)
    {
        NodeConfig config = setup.Config;
        DiffDriveNodeSettings settings = config.SettingsAs<DiffDriveNodeSettings>();
        if (setup.RemotePolicy is not null)
            throw new ConfigException(config.File, "$.policy_on", $"a {config.Kind} node runs its planner in its own process; remove \"policy_on\"");
        ILocalPlanner planner;
        int observationSize;
        Dictionary<string, string> metadata;
        if (settings.Planner == "dwa")
        {
            NavTaskConfig task = Task(config, settings);
            planner = new DwaLocalPlanner(new DwaPlanner(task));
            observationSize = task.ActorObservationSize;
            metadata = FlightLogMetadata.Build(NavPolicySpec.ActorNames(task.ScanBins), NavPolicySpec.ActionNames, NavPolicySpec.ActionHistoryLength,
                config.RateHz, "dwa", config.RobotConfigJson, config.RateHz);
        }
        else
        {
            PolicyBundle bundle = setup.Bundle!;
            planner = new PolicyLocalPlanner(bundle);
            observationSize = bundle.ObservationSize;
            metadata = FlightLogMetadata.Build(bundle, config.RobotConfigJson, config.RateHz);
        }
        return new DiffDriveController(config, planner, observationSize,
            setup.RequireSensor<IGroundSensorSource>("a ground robot's odometry and scan"), setup.RequireActuator<IVelocityCommandSink>("velocity commands"),
            metadata);
    }

    /// <summary>
    /// The "sim" section for a ground robot: "task" (the navigation task whose maps are driven; default: the node's own
    /// "task"), "scenario" (which held-out map, 0…), "lock_step".
    /// </summary>
    public RobotLink OpenSimulatedRobot(TransportRequest request)
    {
        var settings = (DiffDriveNodeSettings)request.KindSettings;
        ConfigNode section = request.RequireSection();
        string? taskPath = section.Has("task") ? Path.GetFullPath(Path.Combine(section.Directory, section.String("task"))) : settings.TaskPath;
        if (taskPath is null) throw section.Error("task", "the simulated ground robot drives the maps of a navigation task: give \"task\" (e.g. \"../tasks/diffbot-nav.json\")");
        int scenario = section.Has("scenario") ? (int)section.Integer("scenario", 0, 1_000_000) : 0;
        bool lockStep = section.Has("lock_step") && section.Boolean("lock_step");
        section.EnsureNoUnknownKeys();
        NavTaskConfig task = NavTaskConfig.Load(taskPath);
        if (PolicyBundle.RobotConfigHash(task.RobotConfigJson) != PolicyBundle.RobotConfigHash(request.RobotConfigJson))
            throw section.Error("task", $"{taskPath} simulates another robot than {request.RobotPath}");
        var robot = new SimulatedDiffBot(task, NavMaps.HeldOutSeedBase + (ulong)scenario, NodeClock.NowNs);
        return lockStep
            ? new RobotLink(request.Name, robot, robot, new LockStep(robot))
            : new RobotLink(request.Name, robot, robot) { Start = robot.Start, Stop = robot.Stop };
    }

    private static NavTaskConfig Task(NodeConfig config, DiffDriveNodeSettings settings) =>
        NavTaskConfig.Load(settings.TaskPath ?? throw new ConfigException(config.File, "$.task", "planner \"dwa\" needs the navigation task it plans for"));

    private sealed class LockStep(SimulatedDiffBot robot) : ILockStepRobot
    {
        public long TimeNs => robot.TimeNs;
        public void AdvanceTo(long timeNs) => robot.AdvanceTo(timeNs);
    }
}
