using System.Numerics;
using RoboRl.Core.Configs;
using RoboRl.Core.Quadrotor;

namespace RoboRl.Core.Tasks;

/// <summary>
/// Per-episode domain randomisation (the task file's "domain_randomization" section). Mass, inertia,
/// thrust coefficient and motor time constant are factors relative to the robot config, each drawn
/// uniformly in [low, high] per episode; latency is a whole number of control steps drawn uniformly
/// from {low, …, high}. The same section is loadable on its own (e.g. `roborl eval --dynamics FILE`).
/// Optionally the ranges widen during training: from <see cref="Start"/> (a narrower section) at the first step of
/// <see cref="WidenSteps"/> linearly to the section's own ranges at the last (global environment steps), so that a policy
/// first learns to fly the vehicles near nominal and then the far ones; evaluation always uses the section's own ranges.
/// </summary>
public sealed record DomainRandomizationConfig
{
    public required (float Low, float High) Mass { get; init; }
    public required (float Low, float High) Inertia { get; init; }
    public required (float Low, float High) ThrustCoefficient { get; init; }
    public required (float Low, float High) MotorTimeConstant { get; init; }
    public required (int Low, int High) LatencySteps { get; init; }

    /// <summary>The narrower ranges training starts from ("start"), or null when the ranges are fixed.</summary>
    public DomainRandomizationConfig? Start { get; init; }

    /// <summary>Global environment steps over which the ranges widen from <see cref="Start"/> to this section's ("widen_steps").</summary>
    public (long From, long To) WidenSteps { get; init; }

    /// <summary>The ranges in force at global environment step <paramref name="globalStep"/>.</summary>
    public DomainRandomizationRanges At(long globalStep)
    {
        var full = new DomainRandomizationRanges(Mass, Inertia, ThrustCoefficient, MotorTimeConstant, LatencySteps);
        if (Start is null || globalStep >= WidenSteps.To) return full;
        float t = globalStep <= WidenSteps.From ? 0f : (float)(globalStep - WidenSteps.From) / (WidenSteps.To - WidenSteps.From);
        static (float, float) Lerp((float Low, float High) a, (float Low, float High) b, float t) =>
            (a.Low + (b.Low - a.Low) * t, a.High + (b.High - a.High) * t);
        return new DomainRandomizationRanges(Lerp(Start.Mass, Mass, t), Lerp(Start.Inertia, Inertia, t),
            Lerp(Start.ThrustCoefficient, ThrustCoefficient, t), Lerp(Start.MotorTimeConstant, MotorTimeConstant, t),
            ((int)MathF.Round(Start.LatencySteps.Low + (LatencySteps.Low - Start.LatencySteps.Low) * t),
             (int)MathF.Round(Start.LatencySteps.High + (LatencySteps.High - Start.LatencySteps.High) * t)));
    }

    /// <summary>No randomisation: every factor 1, no latency.</summary>
    public static DomainRandomizationConfig None { get; } = new()
    {
        Mass = (1, 1),
        Inertia = (1, 1),
        ThrustCoefficient = (1, 1),
        MotorTimeConstant = (1, 1),
        LatencySteps = (0, 0),
    };

    /// <summary>The largest latency (control steps) any config may ask for.</summary>
    public const int MaxLatencySteps = 16;

    /// <summary>Reads the section from a node whose keys are exactly mass, inertia, thrust_coefficient, motor_time_constant, latency_steps.</summary>
    public static DomainRandomizationConfig Read(ConfigNode node) => Read(node, allowWidening: true);

    private static DomainRandomizationConfig Read(ConfigNode node, bool allowWidening)
    {
        (float, float) Factor(string key)
        {
            var (lo, hi) = node.Range(key, 0.1, 10);
            return ((float)lo, (float)hi);
        }
        var (latencyLow, latencyHigh) = node.IntegerRange("latency_steps", 0, MaxLatencySteps);
        var config = new DomainRandomizationConfig
        {
            Mass = Factor("mass"),
            Inertia = Factor("inertia"),
            ThrustCoefficient = Factor("thrust_coefficient"),
            MotorTimeConstant = Factor("motor_time_constant"),
            LatencySteps = ((int)latencyLow, (int)latencyHigh),
        };
        if (allowWidening && (node.Has("start") || node.Has("widen_steps")))
        {
            if (!node.Has("start") || !node.Has("widen_steps"))
                throw node.Error(node.Has("start") ? "widen_steps" : "start",
                    "\"start\" (the ranges training starts from) and \"widen_steps\" ([from, to] global environment steps) go together");
            DomainRandomizationConfig start = Read(node.Object("start"), allowWidening: false);
            var (from, to) = node.IntegerRange("widen_steps", 0, long.MaxValue);
            if (to <= from) throw node.Error("widen_steps", $"expected [from, to] with to > from, got [{from}, {to}]");
            config = config with { Start = start, WidenSteps = (from, to) };
        }
        node.EnsureNoUnknownKeys();
        return config;
    }

    /// <summary>Loads a file holding either the bare section or an object with a "domain_randomization" key (e.g. a task file).</summary>
    public static DomainRandomizationConfig Load(string file)
    {
        ConfigNode root = ConfigNode.LoadFile(file);
        return root.Keys.Contains("domain_randomization") ? Read(root.Object("domain_randomization")) : Read(root);
    }
}

/// <summary>Domain-randomisation ranges at one moment of training (see <see cref="DomainRandomizationConfig.At"/>).</summary>
public readonly record struct DomainRandomizationRanges((float Low, float High) Mass, (float Low, float High) Inertia,
    (float Low, float High) ThrustCoefficient, (float Low, float High) MotorTimeConstant, (int Low, int High) LatencySteps);

/// <summary>
/// Reward weights: cost = wp·|p|² + wq·(1 − qw²) + wv·|v|² + wa·|a − hover_action|² + wd·|a_t − a_{t−1}|² − wx·exp(−|p|²/σ²)
/// + wl·|p|
/// (σ = <see cref="HoverTaskConfig.PrecisionRadius"/>). The first four are L2F's; <paramref name="ActionChange"/> (wd)
/// penalises action jumps without pulling the steady state towards the nominal hover action (which is wrong when mass
/// and thrust are randomised), <paramref name="Precision"/> (wx) is a bonus whose gradient, unlike the squared cost's,
/// does not vanish within σ of the target; <paramref name="PositionDistance"/> (wl) is a cost on the distance itself, whose
/// gradient is the same at any distance.
/// </summary>
public readonly record struct HoverRewardWeights(float Position, float Orientation, float LinearVelocity, float Action,
    float ActionChange = 0, float Precision = 0, float PositionDistance = 0);

/// <summary>A curriculum entry: from <see cref="FromStep"/> on (global environment steps), use <see cref="Weights"/>.</summary>
public readonly record struct CurriculumStage(long FromStep, HoverRewardWeights Weights);

/// <summary>Observation noise standard deviations (added to the actor observation only).</summary>
public readonly record struct ObservationNoise(float Position, float Rotation, float LinearVelocity, float AngularVelocity);

/// <summary>How a start's orientation is drawn (<see cref="InitialStateConfig.Orientation"/>; JSON "orientation").</summary>
public enum InitialOrientation
{
    /// <summary>"tilt_and_heading" (default): tilt ≤ max_tilt_deg (body z uniform on the spherical cap) and, apart from it, a
    /// heading within ±max_yaw_deg of the target heading.</summary>
    TiltAndHeading,
    /// <summary>"total_rotation": uniform over all rotations (any axis, heading included) whose total angle is ≤ max_tilt_deg,
    /// as "Learning to Fly in Seconds" draws its starts; max_yaw_deg does not apply.</summary>
    TotalRotation,
}

/// <summary>Initial-state distribution, relative to the target: a <see cref="RestFraction"/> of the episodes start at rest
/// at the target, level, facing the target heading; the others at a position uniform within ±<see cref="PositionRange"/>
/// per axis, velocity and body rates uniform within their ranges per axis, and an orientation drawn as
/// <see cref="Orientation"/> says (by default: tilt ≤ <see cref="MaxTiltDeg"/>, heading uniform within ±<see cref="MaxYawDeg"/>
/// of the target heading (0); 180 = any heading).</summary>
public readonly record struct InitialStateConfig(
    float PositionRange, float MaxTiltDeg, float VelocityRange, float AngularVelocityRange, float RestFraction)
{
    public float MaxYawDeg { get; init; } = 180;
    public InitialOrientation Orientation { get; init; } = InitialOrientation.TiltAndHeading;

    /// <summary>
    /// The start distribution of "Learning to Fly in Seconds" (Eschmann et al. 2024), read from rl_tools'
    /// rl/environments/l2f/operations_generic.h (`sample_initial_state`, rejection-sampled uniform rotations) and its
    /// `init_90_deg` / learning-to-fly's `orientation_biggest_angle` parameters: 10 % of episodes ("guidance") at rest at the
    /// target; the others at ±0.2 m per axis, any rotation of total angle ≤ 90° (L2F: 90/180·3.14 rad), ±1 m/s, ±1 rad/s.
    /// Rotors start at hover speed here (every RoboRl start does); L2F starts them at half the maximum rpm.
    /// </summary>
    public static InitialStateConfig LearningToFly { get; } = new(0.2f, 90, 1, 1, 0.1f) { Orientation = InitialOrientation.TotalRotation };

    /// <summary>Reads an "initial_state" object (position_range, max_tilt_deg, velocity_range, angular_velocity_range,
    /// rest_fraction, optional orientation ("tilt_and_heading" or "total_rotation") and max_yaw_deg (tilt_and_heading only)).</summary>
    public static InitialStateConfig Read(ConfigNode init)
    {
        InitialOrientation orientation = init.Has("orientation") && init.Choice("orientation", "tilt_and_heading", "total_rotation") == "total_rotation"
            ? InitialOrientation.TotalRotation
            : InitialOrientation.TiltAndHeading;
        if (orientation == InitialOrientation.TotalRotation && init.Has("max_yaw_deg"))
            throw init.Error("max_yaw_deg", "applies to \"orientation\": \"tilt_and_heading\" only; with \"total_rotation\" max_tilt_deg bounds the whole rotation, heading included");
        var initial = new InitialStateConfig(
            (float)init.Number("position_range", 0, 10),
            (float)init.Number("max_tilt_deg", 0, 180),
            (float)init.Number("velocity_range", 0, 100),
            (float)init.Number("angular_velocity_range", 0, 100),
            (float)init.Number("rest_fraction", 0, 1))
        {
            MaxYawDeg = (float)init.Number("max_yaw_deg", 0, 180, 180),
            Orientation = orientation,
        };
        init.EnsureNoUnknownKeys();
        return initial;
    }
}

/// <summary>
/// How the task is judged (the task file's optional "evaluation" section; `roborl eval` and the trainer's evaluations):
/// episodes of <see cref="EpisodeSeconds"/> from <see cref="InitialState"/>; success = no crash and position error
/// below <see cref="SuccessRadius"/> at every step from <see cref="SettleSeconds"/> to the end. An optional
/// "disturbance" object (force_std, torque_std) judges under other constant disturbances than the task trains with.
/// </summary>
public sealed record HoverEvaluationConfig(InitialStateConfig InitialState, float EpisodeSeconds, float SettleSeconds, float SuccessRadius)
{
    /// <summary>Per-axis std of the constant disturbance force while judging, N; null = the task's.</summary>
    public float? DisturbanceForceStd { get; init; }
    /// <summary>Per-axis std of the constant disturbance torque while judging, N·m; null = the task's.</summary>
    public float? DisturbanceTorqueStd { get; init; }

    public static HoverEvaluationConfig Read(ConfigNode node)
    {
        float? forceStd = null, torqueStd = null;
        if (node.Has("disturbance"))
        {
            ConfigNode disturbance = node.Object("disturbance");
            forceStd = (float)disturbance.Number("force_std", 0, 100);
            torqueStd = (float)disturbance.Number("torque_std", 0, 100);
            disturbance.EnsureNoUnknownKeys();
        }
        var config = new HoverEvaluationConfig(
            InitialStateConfig.Read(node.Object("initial_state")),
            (float)node.Number("episode_seconds", 0.01, 3600),
            (float)node.Number("settle_seconds", 0, 3600),
            (float)node.Number("success_radius", 1e-4, 100))
        {
            DisturbanceForceStd = forceStd,
            DisturbanceTorqueStd = torqueStd,
        };
        if (config.SettleSeconds > config.EpisodeSeconds)
            throw node.Error("settle_seconds", $"must not exceed episode_seconds ({config.EpisodeSeconds})");
        node.EnsureNoUnknownKeys();
        return config;
    }
}

/// <summary>
/// The position-hold task (configs/tasks/*.json). Observation layout, reward and termination are those
/// of "Learning to Fly in Seconds" (RLtools learning-to-fly); see docs/simulator.md.
/// </summary>
public sealed record HoverTaskConfig
{
    /// <summary>The robot this task flies (loaded from the "robot" path, relative to the task file).</summary>
    public required QuadrotorConfig Robot { get; init; }
    /// <summary>The robot file's JSON (comments dropped): what a policy bundle records and checks compatibility against.</summary>
    public string RobotConfigJson { get; init; } = "";
    public required float ControlFrequencyHz { get; init; }
    /// <summary>RK4 steps per control step.</summary>
    public required int Substeps { get; init; }
    /// <summary>Truncation after this many control steps.</summary>
    public required int EpisodeSteps { get; init; }
    /// <summary>K: the last K actions (oldest first) end the actor observation.</summary>
    public required int ActionHistoryLength { get; init; }
    /// <summary>Actions the privileged critic sees beyond its 32 values ("critic_sees_actions_in_flight"): the newest
    /// <c>domain_randomization.latency_steps</c> high of them, newest first, the ones a latency has chosen but not yet flown.
    /// Without them the critic's state is not Markov under latency (0 = off, the default).</summary>
    public int CriticActionsInFlight { get; init; }
    /// <summary>The point to hold, world ENU, metres (above the floor at z = 0).</summary>
    public required Vector3 TargetPosition { get; init; }
    /// <summary>Terminate when |position − target| exceeds this on any axis, metres.</summary>
    public required float PositionErrorLimit { get; init; }
    public required InitialStateConfig InitialState { get; init; }
    public required ObservationNoise ObservationNoise { get; init; }
    public required float RewardConstant { get; init; }
    public required float RewardScale { get; init; }
    /// <summary>σ of the precision bonus exp(−|p − target|²/σ²), metres (reward.precision_radius, default 0.05).</summary>
    public float PrecisionRadius { get; init; } = 0.05f;
    /// <summary>
    /// Subtracted from the reward of the step that ends an episode by termination (out of the box, on the floor, NaN
    /// action); 0 = none (L2F). Why: far off target the shaped reward turns negative, and then leaving the box early is
    /// worth more than staying; with a penalty larger than any remaining negative return, staying always pays.
    /// </summary>
    public float TerminationPenalty { get; init; }
    /// <summary>Ordered by FromStep; the first starts at 0.</summary>
    public required IReadOnlyList<CurriculumStage> Curriculum { get; init; }
    public required DomainRandomizationConfig DomainRandomization { get; init; }
    /// <summary>Per-axis standard deviation of the constant disturbance force (world) drawn per episode, N.</summary>
    public required float DisturbanceForceStd { get; init; }
    /// <summary>Per-axis standard deviation of the constant disturbance torque (body) drawn per episode, N·m.</summary>
    public required float DisturbanceTorqueStd { get; init; }

    /// <summary>
    /// The task file's optional "training" section, unread: the trainer (RoboRl.Training) binds it to the chosen
    /// algorithm's hyperparameters and checks its keys, so errors still name this file and the JSON path.
    /// Null when the file has none (the trainer then uses its defaults).
    /// </summary>
    public ConfigNode? Training { get; init; }

    /// <summary>The optional "evaluation" section; null = judge from <see cref="InitialState"/>, 5 s episodes, 3 s settle, 0.1 m.</summary>
    public HoverEvaluationConfig? Evaluation { get; init; }

    public float ControlDt => 1f / ControlFrequencyHz;

    /// <summary>Reward weights in force at <paramref name="globalStep"/> (piecewise constant).</summary>
    public HoverRewardWeights WeightsAt(long globalStep)
    {
        HoverRewardWeights weights = Curriculum[0].Weights;
        for (int k = 1; k < Curriculum.Count; k++) // indexing, not foreach: no boxed enumerator in the step
            if (globalStep >= Curriculum[k].FromStep) weights = Curriculum[k].Weights;
        return weights;
    }

    /// <summary>Loads a task file and the robot file it names.</summary>
    public static HoverTaskConfig Load(string file) => Read(ConfigNode.LoadFile(file));

    public static HoverTaskConfig Read(ConfigNode node)
    {
        if (TaskKinds.Of(node) != TaskKinds.Hover) node.Choice(TaskKinds.KindKey, TaskKinds.Hover); // names the key and the expected value
        string robotPath = node.String("robot");
        string robotFile = Path.IsPathRooted(robotPath) ? robotPath : Path.Combine(node.Directory, robotPath);
        QuadrotorConfig robot = QuadrotorConfig.Load(robotFile);

        double[] target = node.Numbers("target_position", 3, -1000, 1000);

        var initial = InitialStateConfig.Read(node.Object("initial_state"));

        ConfigNode noise = node.Object("observation_noise_std");
        var noiseStd = new ObservationNoise(
            (float)noise.Number("position", 0, 10),
            (float)noise.Number("rotation", 0, 10),
            (float)noise.Number("linear_velocity", 0, 10),
            (float)noise.Number("angular_velocity", 0, 10));
        noise.EnsureNoUnknownKeys();

        ConfigNode reward = node.Object("reward");
        float constant = (float)reward.Number("constant", -1e6, 1e6);
        float scale = (float)reward.Number("scale", 0, 1e6);
        var stages = new List<CurriculumStage>();
        foreach (ConfigNode stage in reward.Objects("curriculum", 1, 64))
        {
            long from = stage.Integer("from_step", 0, long.MaxValue);
            ConfigNode w = stage.Object("weights");
            var weights = new HoverRewardWeights(
                (float)w.Number("position", 0, 1e6),
                (float)w.Number("orientation", 0, 1e6),
                (float)w.Number("linear_velocity", 0, 1e6),
                (float)w.Number("action", 0, 1e6),
                (float)w.Number("action_change", 0, 1e6, 0),
                (float)w.Number("precision", 0, 1e6, 0),
                (float)w.Number("position_distance", 0, 1e6, 0));
            w.EnsureNoUnknownKeys();
            stage.EnsureNoUnknownKeys();
            if (stages.Count == 0 && from != 0)
                throw new ConfigException(node.File, stage.Path + ".from_step", $"the first stage must start at 0, found {from}");
            if (stages.Count > 0 && from <= stages[^1].FromStep)
                throw new ConfigException(node.File, stage.Path + ".from_step", $"must be greater than the previous stage's from_step ({stages[^1].FromStep})");
            stages.Add(new CurriculumStage(from, weights));
        }
        float precisionRadius = (float)reward.Number("precision_radius", 1e-3, 10, 0.05);
        float terminationPenalty = (float)reward.Number("termination_penalty", 0, 1e6, 0);
        reward.EnsureNoUnknownKeys();

        ConfigNode disturbance = node.Object("disturbance");
        float forceStd = (float)disturbance.Number("force_std", 0, 100);
        float torqueStd = (float)disturbance.Number("torque_std", 0, 100);
        disturbance.EnsureNoUnknownKeys();

        int history = (int)node.Integer("action_history_length", 1, 256);
        var dr = DomainRandomizationConfig.Read(node.Object("domain_randomization"));
        if (dr.LatencySteps.High > history - 1)
            throw new ConfigException(node.File, "$.domain_randomization.latency_steps",
                $"latency {dr.LatencySteps.High} needs an action history of at least {dr.LatencySteps.High + 1}; allowed [0, {history - 1}]");

        var config = new HoverTaskConfig
        {
            Robot = robot,
            RobotConfigJson = ConfigNode.LoadFile(robotFile).RawJson,
            ControlFrequencyHz = (float)node.Number("control_frequency_hz", 1, 10000),
            Substeps = (int)node.Integer("substeps", 1, 100),
            EpisodeSteps = (int)node.Integer("episode_steps", 1, 1_000_000),
            ActionHistoryLength = history,
            CriticActionsInFlight = node.Has("critic_sees_actions_in_flight") && node.Boolean("critic_sees_actions_in_flight") ? dr.LatencySteps.High : 0,
            TargetPosition = new Vector3((float)target[0], (float)target[1], (float)target[2]),
            PositionErrorLimit = (float)node.Number("position_error_limit", 1e-3, 1000),
            InitialState = initial,
            ObservationNoise = noiseStd,
            RewardConstant = constant,
            RewardScale = scale,
            PrecisionRadius = precisionRadius,
            TerminationPenalty = terminationPenalty,
            Curriculum = stages,
            DomainRandomization = dr,
            DisturbanceForceStd = forceStd,
            DisturbanceTorqueStd = torqueStd,
            Training = node.Has("training") ? node.Object("training") : null,
            Evaluation = node.Has("evaluation") ? HoverEvaluationConfig.Read(node.Object("evaluation")) : null,
        };
        // The initial box must stay above the floor, or episodes would start crashed.
        if (config.TargetPosition.Z - initial.PositionRange <= 0)
            throw node.Error("target_position", $"target z {config.TargetPosition.Z} minus initial_state.position_range {initial.PositionRange} must be above the floor (z > 0)");
        node.EnsureNoUnknownKeys();
        return config;
    }
}
