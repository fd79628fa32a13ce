using System.Globalization;
using System.Text.Json;
using RoboRl.Core.Policy;

namespace RoboRl.Onnx;

/// <summary>
/// Policy bundle → ONNX model (docs/onnx.md). The graph, one chain of standard operators (opset 17):
/// <code>
///   obs [batch, n] ─ Sub(observation.mean) ─ Div(observation.std)          the bundle's (obs − mean) / std
///       ─ Gemm(actor.0.weight, actor.0.bias, transB=1) ─ Relu|Tanh ─ …      one Gemm per layer, weights [out, in] as stored
///       ─ … ─ action [batch, m]                                             PolicyEngine.Forward: the network's output
///   action ─ Add(1) ─ Mul(0.5) ─ Mul(action.range) ─ Add(action.low) ─ command [batch, m]
///                                                                           PolicyEngine.ForwardScaled: low + (a + 1)/2 · (high − low)
/// </code>
/// `action` is what the observation's action history holds; `command` is in the bundle's action unit. Initializers keep
/// the bundle's tensors bit for bit; every metadata value and the golden vectors go into metadata_props under
/// <c>roborl.*</c> (<see cref="OnnxPolicyMetadata"/>), so importing the file gives back the same bundle, checksum included.
/// </summary>
public static class OnnxPolicyExport
{
    /// <summary>IR version 8 (ONNX 1.10–1.13) with opset 17: read by every ONNX Runtime since 1.13, 1.32 included.</summary>
    public const long IrVersion = 8;
    public const long Opset = 17;
    public const string InputName = "obs";
    public const string OutputName = "action";
    public const string CommandOutputName = "command";

    public static OnnxModel Build(PolicyBundle bundle, string producerVersion = "1")
    {
        bundle.Validate();
        var graph = new OnnxGraph { Name = "roborl_policy", DocString = "RoboRl policy: obs → (obs − mean)/std → MLP → action; command = low + (action + 1)/2 · (high − low)" };
        var batch = new OnnxDim(null, "batch");
        graph.Inputs.Add(OnnxValueInfo.FloatTensor(InputName, batch, new OnnxDim(bundle.ObservationSize, null)));
        graph.Outputs.Add(OnnxValueInfo.FloatTensor(OutputName, batch, new OnnxDim(bundle.ActionSize, null)));
        graph.Outputs.Add(OnnxValueInfo.FloatTensor(CommandOutputName, batch, new OnnxDim(bundle.ActionSize, null)));

        void Initializer(string name, float[] values, params long[] dims) => graph.Initializers.Add(OnnxTensor.FromFloats(name, dims, values));
        void Node(string op, string name, string output, params string[] inputs)
        {
            var node = new OnnxNode { OpType = op, Name = name };
            node.Inputs.AddRange(inputs);
            node.Outputs.Add(output);
            graph.Nodes.Add(node);
        }

        Initializer(PolicyBundle.TensorObservationMean, bundle.ObservationMean, bundle.ObservationSize);
        Initializer(PolicyBundle.TensorObservationStd, bundle.ObservationStd, bundle.ObservationSize);
        Node("Sub", "normalise_centre", "obs_centred", InputName, PolicyBundle.TensorObservationMean);
        Node("Div", "normalise_scale", "obs_normalised", "obs_centred", PolicyBundle.TensorObservationStd);

        string x = "obs_normalised";
        for (int i = 0; i < bundle.Layers.Count; i++)
        {
            DenseLayer layer = bundle.Layers[i];
            bool last = i == bundle.Layers.Count - 1;
            string weight = PolicyBundle.TensorWeight(i), bias = PolicyBundle.TensorBias(i);
            Initializer(weight, layer.Weights, layer.OutputSize, layer.InputSize);
            Initializer(bias, layer.Biases, layer.OutputSize);
            string linear = last && layer.Activation == Activation.Identity ? OutputName : $"actor.{i}.linear";
            Node("Gemm", $"actor.{i}.gemm", linear, x, weight, bias);
            graph.Nodes[^1].Attributes.Add(OnnxAttribute.Int("transB", 1));
            x = linear;
            if (layer.Activation == Activation.Identity) continue;
            string activated = last ? OutputName : $"actor.{i}.{PolicyBundle.ActivationName(layer.Activation)}";
            Node(layer.Activation switch { Activation.Relu => "Relu", Activation.Tanh => "Tanh", _ => throw new ArgumentOutOfRangeException(nameof(bundle)) },
                $"actor.{i}.{PolicyBundle.ActivationName(layer.Activation)}", activated, x);
            x = activated;
        }

        // The scaling in PolicyBundle.ScaleAction's order of float operations: low + (a + 1) · 0.5 · (high − low).
        var range = new float[bundle.ActionSize];
        for (int j = 0; j < range.Length; j++) range[j] = bundle.ActionHigh[j] - bundle.ActionLow[j];
        Initializer("one", [1f]);
        Initializer("half", [0.5f]);
        Initializer("action.range", range, bundle.ActionSize);
        Initializer(PolicyBundle.TensorActionLow, bundle.ActionLow, bundle.ActionSize);
        Node("Add", "scale_shift", "action_plus_one", OutputName, "one");
        Node("Mul", "scale_half", "action_unit_interval", "action_plus_one", "half");
        Node("Mul", "scale_range", "command_offset", "action_unit_interval", "action.range");
        Node("Add", "scale_low", CommandOutputName, "command_offset", PolicyBundle.TensorActionLow);

        var model = new OnnxModel
        {
            IrVersion = IrVersion,
            ProducerName = "roborl",
            ProducerVersion = producerVersion,
            Domain = "org.roborl",
            ModelVersion = 1,
            DocString = $"RoboRl policy bundle {bundle.ComputeContentSha256()} (docs/onnx.md)",
            Graph = graph,
        };
        model.OpsetImports.Add(("", Opset));
        model.MetadataProps.AddRange(OnnxPolicyMetadata.FromBundle(bundle));
        return model;
    }

    /// <summary>Writes <paramref name="bundle"/> as an ONNX file; returns the model written.</summary>
    public static OnnxModel Write(PolicyBundle bundle, string path)
    {
        OnnxModel model = Build(bundle);
        File.WriteAllBytes(path, model.ToBytes());
        return model;
    }
}

/// <summary>
/// The bundle's specs in an ONNX model's metadata_props: every bundle metadata value under "roborl." + its bundle key
/// (observation.names, action.names, action.unit, control_rate_hz, action_history_length, robot.config, robot.sha256,
/// training.config, git.commit, content.sha256), the action scaling and the golden vectors as JSON arrays, and two
/// conveniences for tools that only list metadata (roborl.robot.name, roborl.network).
/// </summary>
public static class OnnxPolicyMetadata
{
    public const string Prefix = "roborl.";
    public const string KeyFormat = Prefix + PolicyBundle.KeyFormat;
    public const string KeyFormatVersion = Prefix + PolicyBundle.KeyFormatVersion;
    public const string KeyObservationNames = Prefix + PolicyBundle.KeyObservationNames;
    public const string KeyActionNames = Prefix + PolicyBundle.KeyActionNames;
    public const string KeyActionUnit = Prefix + PolicyBundle.KeyActionUnit;
    public const string KeyActionLow = Prefix + PolicyBundle.TensorActionLow;
    public const string KeyActionHigh = Prefix + PolicyBundle.TensorActionHigh;
    public const string KeyControlRateHz = Prefix + PolicyBundle.KeyControlRateHz;
    public const string KeyActionHistoryLength = Prefix + PolicyBundle.KeyActionHistoryLength;
    public const string KeyRobotConfig = Prefix + PolicyBundle.KeyRobotConfig;
    public const string KeyRobotSha256 = Prefix + PolicyBundle.KeyRobotSha256;
    public const string KeyTrainingConfig = Prefix + PolicyBundle.KeyTrainingConfig;
    public const string KeyGitCommit = Prefix + PolicyBundle.KeyGitCommit;
    public const string KeyContentSha256 = Prefix + PolicyBundle.KeyContentSha256;
    public const string KeyGoldenObservations = Prefix + PolicyBundle.TensorGoldenObservations;
    public const string KeyGoldenActions = Prefix + PolicyBundle.TensorGoldenActions;
    public const string KeyRobotName = Prefix + "robot.name";
    public const string KeyNetwork = Prefix + "network";

    public static IEnumerable<KeyValuePair<string, string>> FromBundle(PolicyBundle b)
    {
        string Floats(float[] values) => JsonSerializer.Serialize(values);
        yield return new(KeyFormat, PolicyBundle.FormatName);
        yield return new(KeyFormatVersion, PolicyBundle.FormatVersion);
        yield return new(KeyObservationNames, JsonSerializer.Serialize(b.ObservationNames));
        yield return new(KeyActionNames, JsonSerializer.Serialize(b.ActionNames));
        yield return new(KeyActionUnit, b.ActionUnit);
        yield return new(KeyActionLow, Floats(b.ActionLow));
        yield return new(KeyActionHigh, Floats(b.ActionHigh));
        yield return new(KeyControlRateHz, b.ControlRateHz.ToString("R", CultureInfo.InvariantCulture));
        yield return new(KeyActionHistoryLength, b.ActionHistoryLength.ToString(CultureInfo.InvariantCulture));
        yield return new(KeyRobotConfig, b.RobotConfigJson);
        yield return new(KeyRobotSha256, b.RobotConfigSha256);
        yield return new(KeyRobotName, RobotName(b.RobotConfigJson));
        yield return new(KeyTrainingConfig, b.TrainingConfigJson);
        yield return new(KeyGitCommit, b.GitCommit);
        yield return new(KeyContentSha256, b.ComputeContentSha256());
        yield return new(KeyNetwork, b.ObservationSize + string.Concat(b.Layers.Select(l => $" → {l.OutputSize} {PolicyBundle.ActivationName(l.Activation)}")));
        yield return new(KeyGoldenObservations, Floats(b.GoldenObservations));
        yield return new(KeyGoldenActions, Floats(b.GoldenActions));
    }

    /// <summary>The robot config's "name", or "(unnamed)".</summary>
    public static string RobotName(string robotConfigJson)
    {
        using JsonDocument robot = JsonDocument.Parse(robotConfigJson);
        return robot.RootElement.ValueKind == JsonValueKind.Object && robot.RootElement.TryGetProperty("name", out JsonElement name) && name.ValueKind == JsonValueKind.String
            ? name.GetString()!
            : "(unnamed)";
    }
}
