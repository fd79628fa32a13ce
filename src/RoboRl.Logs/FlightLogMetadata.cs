using System.Globalization;
using System.Text.Json;
using RoboRl.Core.Policy;

namespace RoboRl.Logs;

/// <summary>
/// What identifies the robot and policy of a flight log: stored by the node's recorder as channel metadata of the
/// /observation channel (channel records precede every message, so a truncated log keeps them). Replay and system
/// identification read them to refuse a log from another robot or policy spec and to know the recorded plant.
/// </summary>
public static class FlightLogMetadata
{
    public const string Topic = "/observation";
    public const string RobotConfig = "roborl.robot.config";
    public const string RobotSha256 = "roborl.robot.sha256";
    public const string ObservationNames = "roborl.observation.names";
    public const string ActionNames = "roborl.action.names";
    public const string ActionHistoryLength = "roborl.action_history_length";
    public const string ControlRateHz = "roborl.control_rate_hz";
    public const string PolicySha256 = "roborl.policy.sha256";
    public const string NodeRateHz = "roborl.node.rate_hz";
    /// <summary>A simulated robot's true state per tick (roborl_msgs/GroundTruth); absent from real robots' logs.</summary>
    public const string GroundTruthTopic = "/ground_truth";
    /// <summary>Metadata of the <see cref="GroundTruthTopic"/> channel: the simulator's physics step, ns.</summary>
    public const string PhysicsStepNs = "roborl.sim.physics_step_ns";

    /// <summary>The metadata of a flight of <paramref name="bundle"/> on the robot whose config text is <paramref name="robotConfigJson"/>.</summary>
    public static Dictionary<string, string> Build(PolicyBundle bundle, string robotConfigJson, double nodeRateHz) =>
        Build(bundle.ObservationNames, bundle.ActionNames, bundle.ActionHistoryLength, bundle.ControlRateHz,
            bundle.StoredContentSha256 ?? bundle.ComputeContentSha256(), robotConfigJson, nodeRateHz);

    /// <summary>
    /// The metadata of a run of any controller with this observation and action spec (a classical planner has no bundle:
    /// <paramref name="policySha256"/> then names it, e.g. "dwa").
    /// </summary>
    public static Dictionary<string, string> Build(IReadOnlyList<string> observationNames, IReadOnlyList<string> actionNames, int actionHistoryLength,
        double controlRateHz, string policySha256, string robotConfigJson, double nodeRateHz) => new()
        {
            [RobotConfig] = robotConfigJson,
            [RobotSha256] = PolicyBundle.RobotConfigHash(robotConfigJson),
            [ObservationNames] = JsonSerializer.Serialize(observationNames),
            [ActionNames] = JsonSerializer.Serialize(actionNames),
            [ActionHistoryLength] = actionHistoryLength.ToString(CultureInfo.InvariantCulture),
            [ControlRateHz] = controlRateHz.ToString("R", CultureInfo.InvariantCulture),
            [PolicySha256] = policySha256,
            [NodeRateHz] = nodeRateHz.ToString("R", CultureInfo.InvariantCulture),
        };
}
