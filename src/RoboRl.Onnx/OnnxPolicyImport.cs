using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using RoboRl.Core.Configs;
using RoboRl.Core.Policy;

namespace RoboRl.Onnx;

/// <summary>
/// The model cannot become a RoboRl policy: names the file, where (a node as 'name' (OpType), an input, an output or a
/// tensor) and what is supported instead.
/// </summary>
public sealed class OnnxImportException(string file, string where, string problem)
    : Exception($"{file}: {where}: {problem}")
{
    public string File { get; } = file;
    public string Where { get; } = where;
    public string Problem { get; } = problem;
}

/// <summary>What <see cref="OnnxPolicyImport.Import"/> made, and what it left aside.</summary>
public sealed record OnnxImportResult(PolicyBundle Bundle, string Network, IReadOnlyList<string> IgnoredOutputs, bool ScalingFromModel,
    bool SpecFromMetadata, string? ExportedContentSha256);

/// <summary>
/// ONNX model → policy bundle (docs/onnx.md). Recognises an MLP as torch.onnx writes one (an Isaac Lab / rsl_rl actor, a
/// Stable-Baselines3 or CleanRL policy, RoboRl's own export) and refuses anything else, naming the node:
/// <code>
///   input [batch, n] float32
///   ─ optional Sub / Div / Mul / Add by constants           → observation mean and std
///   ─ ( Gemm | MatMul [+ Add bias] ) ─ optional Relu | Tanh   one or more layers (Identity nodes pass)
///   ─ optional Clip that the preceding Tanh makes redundant
///   ─ optional Mul / Add / Sub / Div by constants           → action low and high
///   ─ output [batch, m] float32
/// </code>
/// Reading top to bottom: find the chain from the chosen output back to the input (<see cref="Chain"/>), turn each
/// node into an operation (<see cref="Parse"/>), place the operations (normalisation, layers, scaling), fill what the
/// graph lacks from the spec, and let PolicyEngine check the bundle against a double-precision evaluation of the
/// model's own operations (the golden vectors).
/// Not supported, each with its reason: Elu, Sigmoid and every other activation (RoboRl's engine and its C twin in
/// firmware-bridge run identity, relu and tanh); a Clip the bundle cannot express (a clipped identity output); any other
/// operator; branches (a tensor feeding two nodes, a node combining two computed tensors); weights computed at run time;
/// inputs or weights that are not float32; external or sparse weights.
/// </summary>
public static class OnnxPolicyImport
{
    public const string Supported = "supported: Gemm, MatMul (+ Add bias), Relu, Tanh, Identity; Sub/Div/Mul/Add by constants before the first layer (normalisation) and after the last (action scaling); Clip after a final Tanh";

    abstract record Op(OnnxNode Node);
    sealed record Elementwise(OnnxNode Node, char Kind, float[] Constant) : Op(Node);
    sealed record Linear(OnnxNode Node, int Inputs, int Outputs, float[] Weights, float[] Biases) : Op(Node);
    sealed record Act(OnnxNode Node, Activation Activation) : Op(Node);
    sealed record ClipOp(OnnxNode Node, float Min, float Max) : Op(Node);

    /// <summary>Reads and imports a file. <paramref name="spec"/> null: the model must carry RoboRl's metadata (an export).</summary>
    public static OnnxImportResult Import(string modelPath, OnnxImportSpec? spec, string gitCommit)
    {
        byte[] bytes = System.IO.File.ReadAllBytes(modelPath);
        OnnxModel model;
        try { model = OnnxModel.Parse(bytes); }
        catch (ProtoFormatException e) { throw new OnnxImportException(modelPath, "file", $"not an ONNX model ({e.Message})"); }
        return Import(model, modelPath, Convert.ToHexStringLower(SHA256.HashData(bytes)), spec, gitCommit);
    }

    public static OnnxImportResult Import(OnnxModel model, string file, string modelSha256, OnnxImportSpec? spec, string gitCommit)
    {
        OnnxImportException Fail(string where, string problem) => new(file, where, problem);
        OnnxGraph graph = model.Graph;
        var metadata = model.MetadataProps.GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.Last().Value, StringComparer.Ordinal);
        bool fromMetadata = spec is null;
        if (spec is null)
        {
            if (!metadata.TryGetValue(OnnxPolicyMetadata.KeyFormat, out string? format) || format != PolicyBundle.FormatName)
                throw Fail("--spec", "the model carries no RoboRl metadata (it was not written by `roborl policy export-onnx`): give a spec file with --spec (docs/onnx.md)");
        }
        if (graph.SparseInitializerCount > 0) throw Fail("graph", "sparse initializers are not supported (store the weights dense)");
        if (!model.OpsetImports.Any(o => o.Domain is "" or "ai.onnx"))
            throw Fail("opset_import", "no import of the default ONNX operator set (ai.onnx)");

        // Constants: initializers and Constant nodes.
        var constants = new Dictionary<string, OnnxTensor>(StringComparer.Ordinal);
        foreach (OnnxTensor t in graph.Initializers) constants[t.Name] = t;
        foreach (OnnxNode node in graph.Nodes.Where(n => n.OpType == "Constant" && n.Domain is "" or "ai.onnx"))
        {
            OnnxTensor? value = node.Attribute("value")?.T
                ?? (node.Attribute("value_float") is { } f ? OnnxTensor.FromFloats(node.Outputs[0], [], [f.F]) : null)
                ?? (node.Attribute("value_floats") is { } fs ? OnnxTensor.FromFloats(node.Outputs[0], [fs.Floats.Count], [.. fs.Floats]) : null);
            if (value is null) throw Fail($"node {node.Describe()}", "a Constant without a tensor, value_float or value_floats");
            if (node.Outputs.Count == 1) constants[node.Outputs[0]] = value;
        }

        // The one input.
        var inputs = graph.Inputs.Where(i => !constants.ContainsKey(i.Name)).ToList();
        if (inputs.Count != 1)
            throw Fail("graph inputs", $"{inputs.Count} inputs ({string.Join(", ", inputs.Select(i => $"'{i.Name}'"))}); an MLP policy has exactly one, the observation [batch, n] float32");
        OnnxValueInfo input = inputs[0];
        if (!input.IsTensor || input.ElemType != OnnxDataType.Float)
            throw Fail($"input '{input.Name}'", $"is {(input.IsTensor ? OnnxDataType.Name(input.ElemType) : "not a tensor")}; expected float32 [batch, n]");
        if (input.Shape is { Count: not 2 }) throw Fail($"input '{input.Name}'", $"shape {input.ShapeText}; expected [batch, n] (rank 2)");

        // The output that is the action.
        string? wanted = spec?.OnnxOutput ?? (graph.Outputs.Count == 1 ? graph.Outputs[0].Name
            : graph.Outputs.Any(o => o.Name == OnnxPolicyExport.OutputName) ? OnnxPolicyExport.OutputName : null);
        if (wanted is null)
            throw Fail("graph outputs", $"{graph.Outputs.Count} outputs ({string.Join(", ", graph.Outputs.Select(o => $"'{o.Name}'"))}) and none named 'action': name the action's in the spec's \"onnx_output\"");
        OnnxValueInfo output = graph.Outputs.FirstOrDefault(o => o.Name == wanted)
            ?? throw (spec is not null
                ? (Exception)new ConfigException(spec.File, "$.onnx_output", $"the model has no output '{wanted}'; its outputs: {string.Join(", ", graph.Outputs.Select(o => o.Name))}")
                : Fail("graph outputs", $"no output '{wanted}'"));
        if (!output.IsTensor || output.ElemType != OnnxDataType.Float)
            throw Fail($"output '{output.Name}'", $"is {(output.IsTensor ? OnnxDataType.Name(output.ElemType) : "not a tensor")}; expected float32 [batch, m]");
        if (output.Shape is { Count: not 2 }) throw Fail($"output '{output.Name}'", $"shape {output.ShapeText}; expected [batch, m] (rank 2)");

        List<OnnxNode> chain = Chain(graph, constants, input.Name, output.Name, Fail);
        List<Op> ops = Parse(chain, constants, Fail);

        // Place the operations: normalisation, then layers (each with at most one activation), then scaling.
        int k = 0;
        var pre = new List<Elementwise>();
        while (k < ops.Count && ops[k] is Elementwise e) { pre.Add(e); k++; }
        if (k < ops.Count && ops[k] is not Linear)
            throw Fail($"node {ops[k].Node.Describe()}", $"comes before the first layer, where only Sub/Div/Mul/Add by constants (normalisation) can be; {Supported}");
        var layers = new List<(Linear Linear, Activation Activation)>();
        while (k < ops.Count && ops[k] is Linear linear)
        {
            k++;
            Activation activation = Activation.Identity;
            if (k < ops.Count && ops[k] is Act act)
            {
                activation = act.Activation;
                k++;
                if (k < ops.Count && ops[k] is Act second)
                    throw Fail($"node {second.Node.Describe()}", $"a second activation after {act.Node.Describe()}; a layer has at most one");
            }
            if (layers.Count > 0 && layers[^1].Linear.Outputs != linear.Inputs)
                throw Fail($"node {linear.Node.Describe()}", $"weights take {linear.Inputs} inputs, the previous layer {layers[^1].Linear.Node.Describe()} gives {layers[^1].Linear.Outputs}");
            layers.Add((linear, activation));
            if (k < ops.Count && ops[k] is Elementwise or ClipOp && ops.Skip(k).Any(o => o is Linear))
                throw Fail($"node {ops[k].Node.Describe()}", $"a {ops[k].Node.OpType} between layers; {Supported}");
        }
        if (layers.Count == 0) throw Fail("graph", $"no layer (Gemm or MatMul) between '{input.Name}' and '{output.Name}'; {Supported}");
        int n = layers[0].Linear.Inputs, m = layers[^1].Linear.Outputs;
        if (input.Shape?[1].Value is long declaredN && declaredN != n)
            throw Fail($"input '{input.Name}'", $"shape {input.ShapeText}, but the first layer {layers[0].Linear.Node.Describe()} takes {n} inputs");
        if (output.Shape?[1].Value is long declaredM && declaredM != m)
            throw Fail($"output '{output.Name}'", $"shape {output.ShapeText}, but the last layer {layers[^1].Linear.Node.Describe()} gives {m} outputs");

        var post = new List<Op>();
        for (; k < ops.Count; k++)
        {
            Op op = ops[k];
            if (op is ClipOp clip)
            {
                bool redundant = post.Count == 0 && layers[^1].Activation == Activation.Tanh && clip.Min <= -1f && clip.Max >= 1f;
                if (!redundant)
                    throw Fail($"node {clip.Node.Describe()}", $"Clip [{clip.Min:G6}, {clip.Max:G6}]: a RoboRl bundle cannot clip its network's output (only a Clip to at least [−1, 1] right after a final Tanh, which changes nothing); the node treats actions outside [−1, 1] as a safety violation");
                continue;
            }
            if (op is not Elementwise) throw Fail($"node {op.Node.Describe()}", $"after the last layer only Mul/Add/Sub/Div by constants (action scaling) and a redundant Clip can be; {Supported}");
            post.Add(op);
        }

        // Observation normalisation: the network sees (x − mean) / std; Sub then Div keep the model's values exactly.
        var mean = new float[n];
        var std = Enumerable.Repeat(1f, n).ToArray();
        foreach (Elementwise op in pre)
        {
            float[] c = Broadcast(op, n, "observation", Fail);
            for (int i = 0; i < n; i++)
            {
                switch (op.Kind)
                {
                    case '-': mean[i] += c[i] * std[i]; break;
                    case '+': mean[i] -= c[i] * std[i]; break;
                    case '/':
                        if (!(c[i] > 0)) throw Fail($"node {op.Node.Describe()}", $"divides element {i} by {c[i]:G6}; the normalisation needs a scale > 0");
                        std[i] *= c[i];
                        break;
                    case '*':
                        if (!(c[i] > 0)) throw Fail($"node {op.Node.Describe()}", $"multiplies element {i} by {c[i]:G6}; the normalisation needs a scale > 0");
                        std[i] /= c[i];
                        break;
                }
            }
        }

        // Action scaling in the model: y = s·a + t, i.e. low = t − s, high = t + s.
        float[]? modelLow = null, modelHigh = null;
        if (post.Count > 0)
        {
            var s = Enumerable.Repeat(1f, m).ToArray();
            var t = new float[m];
            foreach (Elementwise op in post.Cast<Elementwise>())
            {
                float[] c = Broadcast(op, m, "action", Fail);
                for (int j = 0; j < m; j++)
                {
                    switch (op.Kind)
                    {
                        case '+': t[j] += c[j]; break;
                        case '-': t[j] -= c[j]; break;
                        case '*': s[j] *= c[j]; t[j] *= c[j]; break;
                        case '/': s[j] /= c[j]; t[j] /= c[j]; break;
                    }
                }
            }
            modelLow = new float[m];
            modelHigh = new float[m];
            for (int j = 0; j < m; j++) { modelLow[j] = t[j] - s[j]; modelHigh[j] = t[j] + s[j]; }
        }

        // What the graph lacks: from the spec, or from the model's RoboRl metadata.
        IReadOnlyList<string> observationNames, actionNames;
        string unit, robotJson, trainingJson, commit;
        float[] low, high;
        double rate;
        int history;
        string network = n + string.Concat(layers.Select(l => $" → {l.Linear.Outputs} {PolicyBundle.ActivationName(l.Activation)}"));
        if (spec is not null)
        {
            if (spec.ObservationNames.Count != n)
                throw new ConfigException(spec.File, spec.Layout is null ? "$.observation_names" : "$.layout",
                    $"{spec.ObservationNames.Count} observation names{(spec.Layout is null ? "" : $" (the {spec.Layout} layout with a history of {spec.ActionHistoryLength})")}, but the model's input '{input.Name}' takes {n} values (first layer {layers[0].Linear.Node.Describe()})");
            if (spec.ActionNames.Count != m)
                throw new ConfigException(spec.File, spec.Layout is null ? "$.action_names" : "$.layout",
                    $"{spec.ActionNames.Count} action names, but the model's output '{output.Name}' has {m} values (last layer {layers[^1].Linear.Node.Describe()})");
            if (modelLow is not null && (spec.ActionScalingGiven || spec.Layout is not null))
                throw new ConfigException(spec.File, spec.Layout is null ? "$.action_low" : "$.layout",
                    $"the model scales its output itself (node {post[0].Node.Describe()}), so the scaling comes from the model; {(spec.Layout is null ? "remove action_low and action_high" : "export the policy's raw action (before its scaling) to use a layout, or give the names without \"layout\"")}");
            if (modelLow is null && spec.ActionLow is null)
                throw new ConfigException(spec.File, "$.action_low", "missing: the model's output is not scaled, so action_low and action_high say what a = −1 and a = 1 command");
            observationNames = spec.ObservationNames;
            actionNames = spec.ActionNames;
            unit = spec.ActionUnit;
            low = modelLow ?? spec.ActionLow!;
            high = modelHigh ?? spec.ActionHigh!;
            robotJson = spec.RobotConfigJson;
            rate = spec.ControlRateHz;
            history = spec.ActionHistoryLength;
            var training = new JsonObject
            {
                ["imported_from_onnx"] = new JsonObject
                {
                    ["file"] = Path.GetFileName(file),
                    ["sha256"] = modelSha256,
                    ["producer"] = $"{model.ProducerName} {model.ProducerVersion}".Trim(),
                    ["ir_version"] = model.IrVersion,
                    ["opset"] = model.OpsetImports.Where(o => o.Domain is "" or "ai.onnx").Max(o => o.Version),
                    ["output"] = output.Name,
                    ["network"] = network,
                },
            };
            if (spec.TrainingJson is not null) training["training"] = JsonNode.Parse(spec.TrainingJson);
            trainingJson = training.ToJsonString();
            commit = gitCommit;
        }
        else
        {
            string Meta(string key) => metadata.TryGetValue(key, out string? value) ? value
                : throw Fail($"metadata_props '{key}'", "missing (the RoboRl metadata is incomplete; give a spec file with --spec)");
            T Json<T>(string key)
            {
                try { return JsonSerializer.Deserialize<T>(Meta(key)) ?? throw new JsonException("null"); }
                catch (JsonException e) { throw Fail($"metadata_props '{key}'", $"is not a JSON {typeof(T).Name} ({e.Message})"); }
            }
            observationNames = Json<string[]>(OnnxPolicyMetadata.KeyObservationNames);
            actionNames = Json<string[]>(OnnxPolicyMetadata.KeyActionNames);
            if (observationNames.Count != n) throw Fail($"metadata_props '{OnnxPolicyMetadata.KeyObservationNames}'", $"{observationNames.Count} names, the graph takes {n} values");
            if (actionNames.Count != m) throw Fail($"metadata_props '{OnnxPolicyMetadata.KeyActionNames}'", $"{actionNames.Count} names, the graph gives {m} values");
            unit = Meta(OnnxPolicyMetadata.KeyActionUnit);
            low = modelLow ?? Json<float[]>(OnnxPolicyMetadata.KeyActionLow);
            high = modelHigh ?? Json<float[]>(OnnxPolicyMetadata.KeyActionHigh);
            robotJson = Meta(OnnxPolicyMetadata.KeyRobotConfig);
            trainingJson = Meta(OnnxPolicyMetadata.KeyTrainingConfig);
            commit = Meta(OnnxPolicyMetadata.KeyGitCommit);
            rate = double.TryParse(Meta(OnnxPolicyMetadata.KeyControlRateHz), NumberStyles.Float, CultureInfo.InvariantCulture, out double r) ? r
                : throw Fail($"metadata_props '{OnnxPolicyMetadata.KeyControlRateHz}'", "is not a number");
            history = int.TryParse(Meta(OnnxPolicyMetadata.KeyActionHistoryLength), NumberStyles.None, CultureInfo.InvariantCulture, out int h) ? h
                : throw Fail($"metadata_props '{OnnxPolicyMetadata.KeyActionHistoryLength}'", "is not a whole number ≥ 0");
        }

        var bundle = new PolicyBundle
        {
            Layers = layers.Select(l => new DenseLayer(l.Linear.Inputs, l.Linear.Outputs, l.Linear.Weights, l.Linear.Biases, l.Activation)).ToArray(),
            ObservationNames = observationNames,
            ActionNames = actionNames,
            ObservationMean = mean,
            ObservationStd = std,
            ActionLow = low,
            ActionHigh = high,
            ActionUnit = unit,
            ControlRateHz = rate,
            ActionHistoryLength = history,
            RobotConfigJson = robotJson,
            TrainingConfigJson = trainingJson,
            GitCommit = commit,
            GoldenObservations = new float[n],
            GoldenActions = new float[m],
        };

        // Golden vectors: kept from a RoboRl export; otherwise the model's own operations evaluated in double precision
        // on observations spread over the normalisation's range, so PolicyEngine's self-check tests the conversion.
        float[] goldenObservations, goldenActions;
        if (fromMetadata)
        {
            goldenObservations = [.. Json(OnnxPolicyMetadata.KeyGoldenObservations)];
            goldenActions = [.. Json(OnnxPolicyMetadata.KeyGoldenActions)];
            float[] Json(string key)
            {
                try { return JsonSerializer.Deserialize<float[]>(metadata.GetValueOrDefault(key) ?? "null") ?? throw new JsonException("missing"); }
                catch (JsonException e) { throw Fail($"metadata_props '{key}'", $"is not a JSON array of numbers ({e.Message})"); }
            }
        }
        else
        {
            const int Count = 8;
            var random = new Random(1);
            goldenObservations = new float[Count * n];
            goldenActions = new float[Count * m];
            for (int g = 0; g < Count; g++)
            {
                for (int i = 0; i < n; i++) goldenObservations[g * n + i] = mean[i] + std[i] * (float)(random.NextDouble() * 4 - 2);
                Reference(pre, layers, goldenObservations.AsSpan(g * n, n)).CopyTo(goldenActions.AsSpan(g * m, m));
            }
        }
        try { bundle = bundle.WithGoldenVectors(goldenObservations, goldenActions); bundle.Validate(file); }
        catch (PolicyBundleException e) { throw Fail(e.Field, e.Problem); }
        float error = new PolicyEngine(bundle).MaxGoldenError();
        if (!(error <= 1e-5f))
            throw Fail("golden vectors", $"the converted policy differs from the model's own arithmetic by {error:G3} (tolerance 1e-5)");

        var ignored = graph.Outputs.Where(o => o.Name != output.Name).Select(o => o.Name).ToList();
        string? exported = metadata.GetValueOrDefault(OnnxPolicyMetadata.KeyContentSha256);
        return new OnnxImportResult(bundle, network, ignored, modelLow is not null, fromMetadata, exported);
    }

    /// <summary>
    /// The nodes from the input to <paramref name="outputName"/>, input first. Walks back from the output through each
    /// node's one computed input; a node with two computed inputs, or a computed tensor used by a second node, is a branch.
    /// </summary>
    static List<OnnxNode> Chain(OnnxGraph graph, Dictionary<string, OnnxTensor> constants, string inputName, string outputName,
        Func<string, string, OnnxImportException> fail)
    {
        var producers = new Dictionary<string, OnnxNode>(StringComparer.Ordinal);
        var consumers = new Dictionary<string, List<OnnxNode>>(StringComparer.Ordinal);
        foreach (OnnxNode node in graph.Nodes)
        {
            foreach (string o in node.Outputs.Where(o => o.Length > 0))
                if (!producers.TryAdd(o, node)) throw fail($"node {node.Describe()}", $"writes tensor '{o}', which {producers[o].Describe()} writes too");
            foreach (string i in node.Inputs.Where(i => i.Length > 0))
            {
                if (!consumers.TryGetValue(i, out var list)) consumers[i] = list = [];
                list.Add(node);
            }
        }

        var chain = new List<OnnxNode>();
        string tensor = outputName;
        while (tensor != inputName)
        {
            if (!producers.TryGetValue(tensor, out OnnxNode? node))
                throw fail($"tensor '{tensor}'", constants.ContainsKey(tensor) ? "is a constant: the output does not depend on the input" : "is neither the input nor written by a node");
            if (chain.Count > 200) throw fail("graph", "more than 200 nodes between input and output; not an MLP policy");
            if (node.Domain is not ("" or "ai.onnx"))
                throw fail($"node {node.Describe()}", $"operator domain '{node.Domain}' is not the standard ONNX one; {Supported}");
            if (node.Attributes.Any(a => a.HasGraph))
                throw fail($"node {node.Describe()}", $"has a subgraph (control flow); {Supported}");
            var computed = node.Inputs.Where(i => i.Length > 0 && !constants.ContainsKey(i)).Distinct().ToList();
            if (node.OpType is "Gemm" or "MatMul")
            {
                if (node.Inputs.Count < 2 || computed.Count != 1 || computed[0] != node.Inputs[0])
                    throw fail($"node {node.Describe()}", computed.Count > 1
                        ? $"its weights ({string.Join(", ", computed.Skip(1).Select(c => $"'{c}'"))}) are computed at run time; a layer's weights must be initializers or Constants"
                        : "takes its data from a constant; expected the computed tensor as its first input");
            }
            else if (computed.Count != 1)
            {
                throw fail($"node {node.Describe()}", computed.Count == 0
                    ? "computes from constants only"
                    : $"branch: combines {computed.Count} computed tensors ({string.Join(", ", computed.Select(c => $"'{c}'"))}); only a chain of layers from the input to the output is supported");
            }
            chain.Add(node);
            string previous = computed[0];
            // A computed tensor inside the chain feeds this node only; a second reader is a branch.
            if (previous != inputName && consumers.TryGetValue(previous, out var readers) && readers.Count > 1)
                throw fail($"tensor '{previous}'", $"branch: feeds {readers.Count} nodes ({string.Join(", ", readers.Select(r => r.Describe()))}); only a chain of layers from the input to the output is supported");
            tensor = previous;
        }
        chain.Reverse();
        return chain;
    }

    /// <summary>Each chain node as an operation (its constants read and checked), or a refusal naming the node.</summary>
    static List<Op> Parse(List<OnnxNode> chain, Dictionary<string, OnnxTensor> constants, Func<string, string, OnnxImportException> fail)
    {
        float[] Floats(OnnxNode node, string name, string role)
        {
            OnnxTensor t = constants[name];
            if (t.External) throw fail($"node {node.Describe()}", $"{role} '{name}' is stored outside the file (external data); save the model with its weights inside");
            if (t.DataType != OnnxDataType.Float || t.FloatValues is null)
                throw fail($"node {node.Describe()}", $"{role} '{name}' is {OnnxDataType.Name(t.DataType)}; expected float32");
            if (!t.FloatValues.All(float.IsFinite)) throw fail($"node {node.Describe()}", $"{role} '{name}' holds NaN or infinity");
            return t.FloatValues;
        }
        string Shape(OnnxTensor t) => $"[{string.Join(", ", t.Dims)}]";

        var ops = new List<Op>();
        for (int k = 0; k < chain.Count; k++)
        {
            OnnxNode node = chain[k];
            switch (node.OpType)
            {
                case "Identity":
                    break;
                case "Gemm":
                    {
                        if ((node.Attribute("transA")?.I ?? 0) != 0) throw fail($"node {node.Describe()}", "transA = 1 (a transposed input); expected [batch, n] rows");
                        bool transB = (node.Attribute("transB")?.I ?? 0) != 0;
                        float alpha = node.Attribute("alpha")?.F ?? 1f, beta = node.Attribute("beta")?.F ?? 1f;
                        OnnxTensor b = constants[node.Inputs[1]];
                        float[] bValues = Floats(node, node.Inputs[1], "weight");
                        if (b.Dims.Length != 2) throw fail($"node {node.Describe()}", $"weight '{b.Name}' has shape {Shape(b)}; expected a matrix");
                        int outputs = (int)(transB ? b.Dims[0] : b.Dims[1]), inputs = (int)(transB ? b.Dims[1] : b.Dims[0]);
                        float[] weights = Weights(bValues, inputs, outputs, transB, alpha);
                        float[] biases = new float[outputs];
                        if (node.Inputs.Count > 2 && node.Inputs[2].Length > 0)
                        {
                            float[] c = Floats(node, node.Inputs[2], "bias");
                            if (c.Length != outputs && c.Length != 1)
                                throw fail($"node {node.Describe()}", $"bias '{node.Inputs[2]}' has shape {Shape(constants[node.Inputs[2]])}; expected [{outputs}]");
                            for (int o = 0; o < outputs; o++) biases[o] = beta * c[c.Length == 1 ? 0 : o];
                        }
                        ops.Add(new Linear(node, inputs, outputs, weights, biases));
                        break;
                    }
                case "MatMul":
                    {
                        OnnxTensor b = constants[node.Inputs[1]];
                        float[] bValues = Floats(node, node.Inputs[1], "weight");
                        if (b.Dims.Length != 2) throw fail($"node {node.Describe()}", $"weight '{b.Name}' has shape {Shape(b)}; expected [n, m]");
                        int inputs = (int)b.Dims[0], outputs = (int)b.Dims[1];
                        float[] biases = new float[outputs];
                        // torch.onnx writes nn.Linear as MatMul + Add when it does not use Gemm: the Add is the bias.
                        if (k + 1 < chain.Count && chain[k + 1] is { OpType: "Add" } add && add.Inputs.FirstOrDefault(constants.ContainsKey) is { } biasName
                            && constants[biasName].ElementCount == outputs)
                        {
                            biases = Floats(add, biasName, "bias").ToArray();
                            k++;
                        }
                        ops.Add(new Linear(node, inputs, outputs, Weights(bValues, inputs, outputs, transposed: false, 1f), biases));
                        break;
                    }
                case "Relu": ops.Add(new Act(node, Activation.Relu)); break;
                case "Tanh": ops.Add(new Act(node, Activation.Tanh)); break;
                case "Elu" or "Sigmoid" or "LeakyRelu" or "Selu" or "Softplus" or "Softsign" or "HardSigmoid" or "HardSwish" or "Gelu" or "Mish" or "PRelu" or "Celu" or "ThresholdedRelu":
                    throw fail($"node {node.Describe()}", $"activation {node.OpType} is not supported: RoboRl's policy engine and its C twin in firmware-bridge run identity, relu and tanh (retrain with ReLU or Tanh hidden layers, e.g. rsl_rl's activation=\"relu\")");
                case "Sub" or "Add" or "Mul" or "Div":
                    {
                        string constantName = node.Inputs.First(constants.ContainsKey);
                        if (node.OpType is "Sub" or "Div" && node.Inputs[0] == constantName)
                            throw fail($"node {node.Describe()}", $"computes constant {(node.OpType == "Sub" ? "−" : "/")} input; only input − constant and input / constant are supported");
                        OnnxTensor c = constants[constantName];
                        if (c.Dims.Length > 2 || (c.Dims.Length == 2 && c.Dims[0] != 1))
                            throw fail($"node {node.Describe()}", $"constant '{constantName}' has shape {Shape(c)}; expected a scalar or one value per element ([n] or [1, n])");
                        ops.Add(new Elementwise(node, node.OpType switch { "Sub" => '-', "Add" => '+', "Mul" => '*', _ => '/' }, Floats(node, constantName, "constant")));
                        break;
                    }
                case "Clip":
                    {
                        float min = float.NegativeInfinity, max = float.PositiveInfinity;
                        if (node.Attribute("min") is { } minAttribute) min = minAttribute.F;
                        if (node.Attribute("max") is { } maxAttribute) max = maxAttribute.F;
                        if (node.Inputs.Count > 1 && node.Inputs[1].Length > 0) min = Scalar(node, node.Inputs[1], "min");
                        if (node.Inputs.Count > 2 && node.Inputs[2].Length > 0) max = Scalar(node, node.Inputs[2], "max");
                        ops.Add(new ClipOp(node, min, max));
                        break;
                    }
                default:
                    throw fail($"node {node.Describe()}", $"operator {node.OpType} is not supported in an MLP policy; {Supported}");
            }
        }
        return ops;

        float Scalar(OnnxNode node, string name, string role)
        {
            float[] values = Floats(node, name, role);
            return values.Length == 1 ? values[0] : throw fail($"node {node.Describe()}", $"{role} '{name}' has {values.Length} values; expected a scalar");
        }
    }

    /// <summary>A layer's weights as the bundle stores them, [out, in] row-major (PyTorch's nn.Linear layout).</summary>
    static float[] Weights(float[] b, int inputs, int outputs, bool transposed, float alpha)
    {
        var w = new float[outputs * inputs];
        for (int o = 0; o < outputs; o++)
            for (int i = 0; i < inputs; i++)
            {
                float value = transposed ? b[o * inputs + i] : b[i * outputs + o];
                w[o * inputs + i] = alpha == 1f ? value : alpha * value;
            }
        return w;
    }

    /// <summary>A constant spread over <paramref name="size"/> elements (a scalar repeats), or a refusal naming the node.</summary>
    static float[] Broadcast(Elementwise op, int size, string what, Func<string, string, OnnxImportException> fail)
    {
        if (op.Constant.Length == size) return op.Constant;
        if (op.Constant.Length == 1) return Enumerable.Repeat(op.Constant[0], size).ToArray();
        throw fail($"node {op.Node.Describe()}", $"constant of {op.Constant.Length} values; the {what} has {size} (expected {size} or 1)");
    }

    /// <summary>The model's own operations (before any output scaling) in double precision: normalisation nodes as
    /// written, then each layer's W·x + b and activation. The golden actions a bundle's engines must reproduce.</summary>
    static float[] Reference(List<Elementwise> pre, List<(Linear Linear, Activation Activation)> layers, ReadOnlySpan<float> observation)
    {
        double[] x = new double[observation.Length];
        for (int i = 0; i < x.Length; i++) x[i] = observation[i];
        foreach (Elementwise op in pre)
            for (int i = 0; i < x.Length; i++)
            {
                double c = op.Constant[op.Constant.Length == 1 ? 0 : i];
                x[i] = op.Kind switch { '-' => x[i] - c, '+' => x[i] + c, '*' => x[i] * c, _ => x[i] / c };
            }
        foreach (var (linear, activation) in layers)
        {
            var y = new double[linear.Outputs];
            for (int o = 0; o < y.Length; o++)
            {
                double sum = linear.Biases[o];
                for (int i = 0; i < linear.Inputs; i++) sum += (double)linear.Weights[o * linear.Inputs + i] * x[i];
                y[o] = activation switch { Activation.Relu => Math.Max(sum, 0), Activation.Tanh => Math.Tanh(sum), _ => sum };
            }
            x = y;
        }
        return x.Select(v => (float)v).ToArray();
    }
}
