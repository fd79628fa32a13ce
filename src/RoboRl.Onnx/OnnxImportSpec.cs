using RoboRl.Core.Configs;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Tasks;

namespace RoboRl.Onnx;

/// <summary>
/// What an imported ONNX policy lacks and a RoboRl bundle needs (docs/onnx.md, "The spec file"). A JSON object:
/// <code>
/// {
///   "layout": "hover",                          optional: fills the four keys below from RoboRl's hover task
///   "observation_names": ["…", …],              one per model input element (required without "layout")
///   "action_names": ["…", …],                   one per model output element (required without "layout")
///   "action_unit": "N",                         unit of the scaled command (required without "layout")
///   "action_low": [..], "action_high": [..],    command = low + (a + 1)/2 · (high − low); required without "layout"
///                                               unless the model scales its own output (then forbidden)
///   "robot": "../robots/crazyflie21.json",      the robot config, relative to this file
///   "control_rate_hz": 100,
///   "action_history_length": 32,
///   "onnx_output": "actions",                   optional: which graph output is the action (default: the only one, or "action")
///   "training": { … }                           optional: where and how it was trained, kept in the bundle's training config
/// }
/// </code>
/// Every key is checked by <see cref="ConfigNode"/>: a missing or unknown key, a wrong type or range is a
/// <see cref="ConfigException"/> naming the file, the key and what was expected.
/// </summary>
public sealed record OnnxImportSpec
{
    public const string LayoutHover = "hover";

    public required string File { get; init; }
    public string? Layout { get; init; }
    public required IReadOnlyList<string> ObservationNames { get; init; }
    public required IReadOnlyList<string> ActionNames { get; init; }
    public required string ActionUnit { get; init; }
    /// <summary>Null when the spec leaves the scaling to the model (an output Mul/Add) — the importer checks which.</summary>
    public float[]? ActionLow { get; init; }
    public float[]? ActionHigh { get; init; }
    /// <summary>True when <see cref="ActionLow"/>/<see cref="ActionHigh"/> were written in the spec (not filled by a layout).</summary>
    public bool ActionScalingGiven { get; init; }
    public required string RobotConfigJson { get; init; }
    public required double ControlRateHz { get; init; }
    public required int ActionHistoryLength { get; init; }
    public string? OnnxOutput { get; init; }
    /// <summary>The "training" object's JSON text, or null.</summary>
    public string? TrainingJson { get; init; }

    static readonly string[] Layouts = [LayoutHover];

    public static OnnxImportSpec Load(string file)
    {
        ConfigNode root = ConfigNode.LoadFile(file);
        string? layout = root.Has("layout") ? root.Choice("layout", Layouts) : null;
        string robotFile = Path.GetFullPath(Path.Combine(root.Directory, root.String("robot")));
        string robotJson;
        try { robotJson = ConfigNode.LoadFile(robotFile).RawJson; }
        catch (ConfigException e) { throw root.Error("robot", $"the robot config cannot be read: {e.Message}"); }
        double rate = root.Number("control_rate_hz", 1e-3, 1e6);
        int history = (int)root.Integer("action_history_length", 0, 1024);
        string? output = root.Has("onnx_output") ? root.String("onnx_output") : null;
        string? training = root.Has("training") ? root.Object("training").RawJson : null;

        IReadOnlyList<string> observationNames, actionNames;
        string unit;
        float[]? low = null, high = null;
        bool scalingGiven = false;
        if (layout == LayoutHover)
        {
            foreach (string key in new[] { "observation_names", "action_names", "action_unit", "action_low", "action_high" })
                if (root.Has(key)) throw root.Error(key, $"\"layout\": \"{LayoutHover}\" sets this key; remove it, or remove \"layout\" and give every name");
            QuadrotorConfig robot;
            try { robot = QuadrotorConfig.Load(robotFile); }
            catch (ConfigException e) { throw root.Error("robot", $"the hover layout needs a quadrotor robot config: {e.Message}"); }
            observationNames = HoverObservation.ActorNames(history);
            actionNames = HoverObservation.ActionNames;
            unit = HoverObservation.ActionUnit;
            (low, high) = HoverObservation.ActionScaling(robot);
        }
        else
        {
            observationNames = Names(root, "observation_names");
            actionNames = Names(root, "action_names");
            unit = root.String("action_unit");
            bool hasLow = root.Has("action_low"), hasHigh = root.Has("action_high");
            if (hasLow != hasHigh) throw root.Error(hasLow ? "action_high" : "action_low", "action_low and action_high come together");
            if (hasLow)
            {
                low = root.Numbers("action_low", actionNames.Count, -1e9, 1e9).Select(v => (float)v).ToArray();
                high = root.Numbers("action_high", actionNames.Count, -1e9, 1e9).Select(v => (float)v).ToArray();
                scalingGiven = true;
            }
        }
        root.EnsureNoUnknownKeys();
        return new OnnxImportSpec
        {
            File = file,
            Layout = layout,
            ObservationNames = observationNames,
            ActionNames = actionNames,
            ActionUnit = unit,
            ActionLow = low,
            ActionHigh = high,
            ActionScalingGiven = scalingGiven,
            RobotConfigJson = robotJson,
            ControlRateHz = rate,
            ActionHistoryLength = history,
            OnnxOutput = output,
            TrainingJson = training,
        };
    }

    static IReadOnlyList<string> Names(ConfigNode root, string key)
    {
        IReadOnlyList<string> names = root.Strings(key);
        if (names.Count == 0) throw root.Error(key, "expected at least one name");
        string? twice = names.GroupBy(n => n).FirstOrDefault(g => g.Count() > 1)?.Key;
        if (twice is not null) throw root.Error(key, $"\"{twice}\" appears twice; names must be unique");
        return names;
    }
}
