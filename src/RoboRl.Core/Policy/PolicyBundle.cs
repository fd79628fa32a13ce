using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace RoboRl.Core.Policy;

/// <summary>Activation applied after a dense layer.</summary>
public enum Activation { Identity, Relu, Tanh }

/// <summary>
/// One dense layer: y = act(W·x + b). <see cref="Weights"/> is row-major [OutputSize, InputSize], as in
/// PyTorch's nn.Linear, so the tensor reads the same in Python.
/// </summary>
public sealed record DenseLayer(int InputSize, int OutputSize, float[] Weights, float[] Biases, Activation Activation);

/// <summary>
/// The one file a trained policy lives in (DESIGN.md invariant 2): the actor network, the observation and action
/// specs, observation normalisation, control rate, action-history length, the robot it was trained for, the
/// training config, the git commit, golden test vectors and a content checksum. Stored as a safetensors file
/// (<see cref="SafeTensors"/>), so <c>safetensors.safe_open(path, "np")</c> opens it in Python.
///
/// Tensors (all F32, little-endian):
/// <list type="bullet">
/// <item><c>actor.{i}.weight</c> [out, in] and <c>actor.{i}.bias</c> [out], i = 0 … layers−1</item>
/// <item><c>observation.mean</c>, <c>observation.std</c> [obs]: the network sees (obs − mean) / std</item>
/// <item><c>action.low</c>, <c>action.high</c> [act]: command = low + (a + 1) / 2 · (high − low) for a ∈ [−1, 1]
///   (quadrotor: low 0, high rpm_max, i.e. rpm = (a + 1) / 2 · rpm_max)</item>
/// <item><c>golden.observations</c> [k, obs] (raw, before normalisation) and <c>golden.actions</c> [k, act] (network
///   output in [−1, 1], computed by the trainer's TorchSharp forward): every runtime checks itself against them</item>
/// </list>
/// Metadata (strings): see the <c>Key*</c> constants; JSON arrays are JSON text.
/// </summary>
public sealed class PolicyBundle
{
    public const string FormatName = "roborl-policy";
    public const string FormatVersion = "1";

    public const string KeyFormat = "format";
    public const string KeyFormatVersion = "format_version";
    public const string KeyActivations = "actor.activations";
    public const string KeyObservationNames = "observation.names";
    public const string KeyActionNames = "action.names";
    public const string KeyActionUnit = "action.unit";
    public const string KeyControlRateHz = "control_rate_hz";
    public const string KeyActionHistoryLength = "action_history_length";
    public const string KeyRobotConfig = "robot.config";
    public const string KeyRobotSha256 = "robot.sha256";
    public const string KeyTrainingConfig = "training.config";
    public const string KeyGitCommit = "git.commit";
    public const string KeyContentSha256 = "content.sha256";

    public const string TensorObservationMean = "observation.mean";
    public const string TensorObservationStd = "observation.std";
    public const string TensorActionLow = "action.low";
    public const string TensorActionHigh = "action.high";
    public const string TensorGoldenObservations = "golden.observations";
    public const string TensorGoldenActions = "golden.actions";
    public static string TensorWeight(int layer) => $"actor.{layer}.weight";
    public static string TensorBias(int layer) => $"actor.{layer}.bias";

    /// <summary>Actor layers, input first. The last layer's activation is the output activation (tanh for actions in [−1, 1]).</summary>
    public required IReadOnlyList<DenseLayer> Layers { get; init; }
    /// <summary>One name per observation element, in input order.</summary>
    public required IReadOnlyList<string> ObservationNames { get; init; }
    /// <summary>One name per action element, in output order (quadrotor: motor_1 … motor_4).</summary>
    public required IReadOnlyList<string> ActionNames { get; init; }
    public required float[] ObservationMean { get; init; }
    /// <summary>Strictly positive; the trainer folds its epsilon in before writing.</summary>
    public required float[] ObservationStd { get; init; }
    public required float[] ActionLow { get; init; }
    public required float[] ActionHigh { get; init; }
    /// <summary>Unit of the scaled command, e.g. "rpm".</summary>
    public required string ActionUnit { get; init; }
    public required double ControlRateHz { get; init; }
    /// <summary>How many past actions the observation holds (FACTS: 32 in learning-to-fly).</summary>
    public required int ActionHistoryLength { get; init; }
    /// <summary>The robot config JSON the policy was trained with, as written in its file.</summary>
    public required string RobotConfigJson { get; init; }
    public required string TrainingConfigJson { get; init; }
    public required string GitCommit { get; init; }
    /// <summary>Golden observations, row-major [GoldenCount, ObservationSize].</summary>
    public required float[] GoldenObservations { get; init; }
    /// <summary>Expected network outputs for <see cref="GoldenObservations"/>, row-major [GoldenCount, ActionSize].</summary>
    public required float[] GoldenActions { get; init; }

    public int ObservationSize => ObservationNames.Count;
    public int ActionSize => ActionNames.Count;
    public int GoldenCount => ObservationSize == 0 ? 0 : GoldenObservations.Length / ObservationSize;

    /// <summary><see cref="RobotConfigHash"/> of <see cref="RobotConfigJson"/>.</summary>
    public string RobotConfigSha256 => RobotConfigHash(RobotConfigJson);

    /// <summary>The checksum stored in the file this bundle was read from (null for a bundle built in memory).</summary>
    public string? StoredContentSha256 { get; private init; }

    /// <summary>True when the bundle was read and its stored checksum matched its contents.</summary>
    public bool ChecksumVerified { get; private init; }

    /// <summary>The action scaled to the robot's command units: low + (a + 1) / 2 · (high − low). Allocation-free.</summary>
    public void ScaleAction(ReadOnlySpan<float> action, Span<float> command)
    {
        if (action.Length != ActionSize || command.Length != ActionSize)
            throw new ArgumentException($"expected {ActionSize} actions, got {action.Length} in and {command.Length} out");
        for (int i = 0; i < action.Length; i++)
            command[i] = ActionLow[i] + (action[i] + 1f) * 0.5f * (ActionHigh[i] - ActionLow[i]);
    }

    /// <summary>A copy of this bundle with another training config (e.g. with the snapshot it holds recorded).</summary>
    public PolicyBundle WithTrainingConfig(string trainingConfigJson) => new()
    {
        Layers = Layers,
        ObservationNames = ObservationNames,
        ActionNames = ActionNames,
        ObservationMean = ObservationMean,
        ObservationStd = ObservationStd,
        ActionLow = ActionLow,
        ActionHigh = ActionHigh,
        ActionUnit = ActionUnit,
        ControlRateHz = ControlRateHz,
        ActionHistoryLength = ActionHistoryLength,
        RobotConfigJson = RobotConfigJson,
        TrainingConfigJson = trainingConfigJson,
        GitCommit = GitCommit,
        GoldenObservations = GoldenObservations,
        GoldenActions = GoldenActions,
    };

    /// <summary>A copy of this bundle with other golden vectors (raw observations [k, obs], network outputs [k, act]).</summary>
    public PolicyBundle WithGoldenVectors(float[] observations, float[] actions) => new()
    {
        Layers = Layers,
        ObservationNames = ObservationNames,
        ActionNames = ActionNames,
        ObservationMean = ObservationMean,
        ObservationStd = ObservationStd,
        ActionLow = ActionLow,
        ActionHigh = ActionHigh,
        ActionUnit = ActionUnit,
        ControlRateHz = ControlRateHz,
        ActionHistoryLength = ActionHistoryLength,
        RobotConfigJson = RobotConfigJson,
        TrainingConfigJson = TrainingConfigJson,
        GitCommit = GitCommit,
        GoldenObservations = observations,
        GoldenActions = actions,
    };

    // ---------------------------------------------------------------------------------------------
    // Hashes

    /// <summary>
    /// SHA-256 (lower-case hex) of a robot config JSON with the whitespace outside strings removed, so that
    /// re-indenting the file keeps its hash while any change of a key or value changes it. Property order,
    /// number text and string escapes count as written. Throws <see cref="JsonException"/> if it is not JSON.
    /// </summary>
    public static string RobotConfigHash(string robotConfigJson)
    {
        using (JsonDocument.Parse(robotConfigJson)) { } // must be JSON
        var compact = new StringBuilder(robotConfigJson.Length);
        bool inString = false, escaped = false;
        foreach (char c in robotConfigJson)
        {
            if (inString)
            {
                compact.Append(c);
                if (escaped) escaped = false;
                else if (c == '\\') escaped = true;
                else if (c == '"') inString = false;
            }
            else if (c is ' ' or '\t' or '\n' or '\r') { }
            else
            {
                compact.Append(c);
                if (c == '"') inString = true;
            }
        }
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(compact.ToString())));
    }

    /// <summary>
    /// The content checksum (lower-case hex SHA-256), independent of how the JSON header is formatted or ordered.
    /// It is taken over this byte sequence, with u32/u64 little-endian and strings UTF-8:
    /// <code>
    ///   for each metadata (key, value) in ordinal key order, except "content.sha256":
    ///       u32 len(key), key, u32 len(value), value
    ///   for each tensor in ordinal name order:
    ///       u32 len(name), name, u32 len(dtype), dtype, u32 rank, rank × u64 dim, u64 len(bytes), bytes
    /// </code>
    /// So every metadata value and every tensor byte is covered; in Python:
    /// <c>sorted(meta.items())</c> and <c>sorted(tensors)</c> with <c>struct.pack("&lt;I"/"&lt;Q")</c> reproduce it.
    /// </summary>
    public static string ContentHash(IReadOnlyDictionary<string, string> metadata, IEnumerable<SafeTensor> tensors)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var number = new byte[8];
        void AppendString(string text)
        {
            byte[] utf8 = Encoding.UTF8.GetBytes(text);
            BinaryPrimitives.WriteUInt32LittleEndian(number, (uint)utf8.Length);
            sha.AppendData(number.AsSpan(0, 4));
            sha.AppendData(utf8);
        }
        foreach (var (key, value) in metadata.Where(p => p.Key != KeyContentSha256).OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            AppendString(key);
            AppendString(value);
        }
        foreach (SafeTensor tensor in tensors.OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            AppendString(tensor.Name);
            AppendString(tensor.DType);
            BinaryPrimitives.WriteUInt32LittleEndian(number, (uint)tensor.Shape.Length);
            sha.AppendData(number.AsSpan(0, 4));
            foreach (long dim in tensor.Shape)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(number, (ulong)dim);
                sha.AppendData(number);
            }
            BinaryPrimitives.WriteUInt64LittleEndian(number, (ulong)tensor.Data.Length);
            sha.AppendData(number);
            sha.AppendData(tensor.Data);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>The checksum this bundle's contents have (what <see cref="Write(string)"/> stores).</summary>
    public string ComputeContentSha256()
    {
        var (metadata, tensors) = ToContainer();
        return ContentHash(metadata, tensors);
    }

    // ---------------------------------------------------------------------------------------------
    // Compatibility

    /// <summary>
    /// Throws <see cref="PolicyMismatchException"/> when <paramref name="robotConfigJson"/> is not the robot this
    /// policy was trained for, naming up to five differing keys with both values.
    /// </summary>
    public void CheckCompatible(string robotConfigJson)
    {
        string given = RobotConfigHash(robotConfigJson);
        if (given == RobotConfigSha256) return;
        var differences = new List<string>();
        using (JsonDocument trained = JsonDocument.Parse(RobotConfigJson))
        using (JsonDocument offered = JsonDocument.Parse(robotConfigJson))
        {
            JsonDifferences(trained.RootElement, offered.RootElement, "", differences);
            // Quadrotor configs named no kind before robot kinds were registered ("kind": "quadrotor" is required now);
            // a bundle trained on the same file without that line is the same robot.
            if (differences.Count == 1 && trained.RootElement.ValueKind == JsonValueKind.Object && !trained.RootElement.TryGetProperty("kind", out _)
                && offered.RootElement.TryGetProperty("kind", out JsonElement kind) && kind.ValueKind == JsonValueKind.String && kind.GetString() == "quadrotor"
                && differences[0].StartsWith("kind: not in the trained config", StringComparison.Ordinal))
                return;
        }
        string detail = differences.Count == 0
            ? "same values, different key order or number text"
            : string.Join("; ", differences.Take(5)) + (differences.Count > 5 ? $"; and {differences.Count - 5} more" : "");
        throw new PolicyMismatchException("robot config", "robot.sha256",
            $"the policy was trained for robot {RobotConfigSha256[..12]}…, the config given is {given[..12]}… ({detail})");
    }

    /// <summary>Throws <see cref="PolicyMismatchException"/> unless <paramref name="robotSha256"/> equals <see cref="RobotConfigSha256"/>.</summary>
    public void CheckCompatibleRobotHash(string robotSha256)
    {
        if (!string.Equals(robotSha256, RobotConfigSha256, StringComparison.OrdinalIgnoreCase))
            throw new PolicyMismatchException("robot hash", "robot.sha256",
                $"the policy was trained for robot {RobotConfigSha256}, the hash given is {robotSha256}");
    }

    /// <summary>
    /// Throws <see cref="PolicyMismatchException"/> unless the runtime builds the same observation (names in the
    /// same order), expects the same actions, and runs at the same control rate with the same action history.
    /// </summary>
    public void CheckCompatibleSpecs(IReadOnlyList<string> observationNames, IReadOnlyList<string> actionNames, double controlRateHz, int actionHistoryLength)
    {
        static void Names(string field, IReadOnlyList<string> trained, IReadOnlyList<string> given)
        {
            for (int i = 0; i < Math.Min(trained.Count, given.Count); i++)
                if (trained[i] != given[i])
                    throw new PolicyMismatchException("runtime specs", field, $"element {i} is '{trained[i]}' in the policy, '{given[i]}' in the runtime");
            if (trained.Count != given.Count)
            {
                // Name what one side lacks: a policy of an older layout then says which inputs it was never trained with.
                (string side, IReadOnlyList<string> longer, int from) = trained.Count < given.Count ? ("the policy", given, trained.Count) : ("the runtime", trained, given.Count);
                string missing = longer.Count - from <= 4 ? string.Join(", ", longer.Skip(from).Select(n => $"'{n}'"))
                    : $"'{longer[from]}' … '{longer[^1]}' ({longer.Count - from} names)";
                throw new PolicyMismatchException("runtime specs", field, $"the policy has {trained.Count} elements, the runtime {given.Count}: {side} lacks {missing}");
            }
        }
        Names(KeyObservationNames, ObservationNames, observationNames);
        Names(KeyActionNames, ActionNames, actionNames);
        if (controlRateHz != ControlRateHz)
            throw new PolicyMismatchException("runtime specs", KeyControlRateHz, $"the policy was trained at {ControlRateHz} Hz, the runtime runs at {controlRateHz} Hz");
        if (actionHistoryLength != ActionHistoryLength)
            throw new PolicyMismatchException("runtime specs", KeyActionHistoryLength, $"the policy expects {ActionHistoryLength} past actions, the runtime keeps {actionHistoryLength}");
    }

    static void JsonDifferences(JsonElement trained, JsonElement offered, string path, List<string> differences)
    {
        if (trained.ValueKind == JsonValueKind.Object && offered.ValueKind == JsonValueKind.Object)
        {
            var offeredKeys = offered.EnumerateObject().Select(p => p.Name).ToHashSet();
            foreach (JsonProperty p in trained.EnumerateObject())
            {
                string child = path.Length == 0 ? p.Name : path + "." + p.Name;
                if (offered.TryGetProperty(p.Name, out JsonElement other)) JsonDifferences(p.Value, other, child, differences);
                else differences.Add($"{child}: trained {p.Value.GetRawText()}, missing in the given config");
                offeredKeys.Remove(p.Name);
            }
            foreach (string key in offeredKeys)
                differences.Add($"{(path.Length == 0 ? key : path + "." + key)}: not in the trained config, given {offered.GetProperty(key).GetRawText()}");
            return;
        }
        if (trained.ValueKind == JsonValueKind.Array && offered.ValueKind == JsonValueKind.Array && trained.GetArrayLength() == offered.GetArrayLength())
        {
            int i = 0;
            foreach (var (a, b) in trained.EnumerateArray().Zip(offered.EnumerateArray()))
                JsonDifferences(a, b, $"{path}[{i++}]", differences);
            return;
        }
        bool same = trained.ValueKind == JsonValueKind.Number && offered.ValueKind == JsonValueKind.Number
            ? trained.GetDouble() == offered.GetDouble()
            : trained.GetRawText() == offered.GetRawText();
        if (!same) differences.Add($"{(path.Length == 0 ? "(root)" : path)}: trained {trained.GetRawText()}, given {offered.GetRawText()}");
    }

    // ---------------------------------------------------------------------------------------------
    // Writing

    /// <summary>Writes the bundle to <paramref name="path"/> (validated first; the content checksum is stored in the header).</summary>
    public void Write(string path)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write);
        Write(file, path);
    }

    /// <summary>Writes the bundle to <paramref name="stream"/>. <paramref name="source"/> names it in errors.</summary>
    public void Write(Stream stream, string source = "<stream>")
    {
        Validate(source);
        var (metadata, tensors) = ToContainer();
        metadata[KeyContentSha256] = ContentHash(metadata, tensors);
        SafeTensors.Write(stream, metadata, tensors);
    }

    (Dictionary<string, string> Metadata, List<SafeTensor> Tensors) ToContainer()
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [KeyFormat] = FormatName,
            [KeyFormatVersion] = FormatVersion,
            [KeyActivations] = JsonSerializer.Serialize(Layers.Select(l => ActivationName(l.Activation)).ToArray()),
            [KeyObservationNames] = JsonSerializer.Serialize(ObservationNames),
            [KeyActionNames] = JsonSerializer.Serialize(ActionNames),
            [KeyActionUnit] = ActionUnit,
            [KeyControlRateHz] = ControlRateHz.ToString("R", CultureInfo.InvariantCulture),
            [KeyActionHistoryLength] = ActionHistoryLength.ToString(CultureInfo.InvariantCulture),
            [KeyRobotConfig] = RobotConfigJson,
            [KeyRobotSha256] = RobotConfigSha256,
            [KeyTrainingConfig] = TrainingConfigJson,
            [KeyGitCommit] = GitCommit,
        };
        var tensors = new List<SafeTensor>();
        for (int i = 0; i < Layers.Count; i++)
        {
            DenseLayer layer = Layers[i];
            tensors.Add(new SafeTensor(TensorWeight(i), "F32", [layer.OutputSize, layer.InputSize], SafeTensors.FloatBytes(layer.Weights)));
            tensors.Add(new SafeTensor(TensorBias(i), "F32", [layer.OutputSize], SafeTensors.FloatBytes(layer.Biases)));
        }
        tensors.Add(new SafeTensor(TensorObservationMean, "F32", [ObservationSize], SafeTensors.FloatBytes(ObservationMean)));
        tensors.Add(new SafeTensor(TensorObservationStd, "F32", [ObservationSize], SafeTensors.FloatBytes(ObservationStd)));
        tensors.Add(new SafeTensor(TensorActionLow, "F32", [ActionSize], SafeTensors.FloatBytes(ActionLow)));
        tensors.Add(new SafeTensor(TensorActionHigh, "F32", [ActionSize], SafeTensors.FloatBytes(ActionHigh)));
        tensors.Add(new SafeTensor(TensorGoldenObservations, "F32", [GoldenCount, ObservationSize], SafeTensors.FloatBytes(GoldenObservations)));
        tensors.Add(new SafeTensor(TensorGoldenActions, "F32", [GoldenCount, ActionSize], SafeTensors.FloatBytes(GoldenActions)));
        return (metadata, tensors);
    }

    /// <summary>Checks every field for consistency; throws <see cref="PolicyBundleException"/> naming the first bad one.</summary>
    public void Validate(string source = "<memory>")
    {
        void Fail(string field, string problem) => throw new PolicyBundleException(source, field, problem);
        static bool AllFinite(float[] values) => values.All(float.IsFinite);

        if (ObservationSize == 0) Fail(KeyObservationNames, "no observations");
        if (ActionSize == 0) Fail(KeyActionNames, "no actions");
        if (ObservationNames.Distinct().Count() != ObservationSize) Fail(KeyObservationNames, "names must be unique");
        if (ActionNames.Distinct().Count() != ActionSize) Fail(KeyActionNames, "names must be unique");
        if (Layers.Count == 0) Fail(KeyActivations, "the actor has no layers");
        int expectedInput = ObservationSize;
        for (int i = 0; i < Layers.Count; i++)
        {
            DenseLayer layer = Layers[i];
            if (layer.InputSize != expectedInput)
                Fail(TensorWeight(i), $"input size {layer.InputSize}, expected {expectedInput} ({(i == 0 ? "the observation size" : "the previous layer's output")})");
            if (layer.OutputSize <= 0) Fail(TensorWeight(i), "output size must be positive");
            if (layer.Weights.Length != (long)layer.OutputSize * layer.InputSize)
                Fail(TensorWeight(i), $"{layer.Weights.Length} values, expected {layer.OutputSize}×{layer.InputSize}");
            if (layer.Biases.Length != layer.OutputSize) Fail(TensorBias(i), $"{layer.Biases.Length} values, expected {layer.OutputSize}");
            if (!AllFinite(layer.Weights)) Fail(TensorWeight(i), "holds NaN or infinity");
            if (!AllFinite(layer.Biases)) Fail(TensorBias(i), "holds NaN or infinity");
            if (!Enum.IsDefined(layer.Activation)) Fail(KeyActivations, $"layer {i} has an unknown activation");
            expectedInput = layer.OutputSize;
        }
        if (expectedInput != ActionSize) Fail(TensorWeight(Layers.Count - 1), $"output size {expectedInput}, expected {ActionSize} (the action count)");
        if (ObservationMean.Length != ObservationSize || !AllFinite(ObservationMean))
            Fail(TensorObservationMean, $"needs {ObservationSize} finite values");
        if (ObservationStd.Length != ObservationSize || !ObservationStd.All(s => float.IsFinite(s) && s > 0))
            Fail(TensorObservationStd, $"needs {ObservationSize} finite values > 0");
        if (ActionLow.Length != ActionSize || !AllFinite(ActionLow)) Fail(TensorActionLow, $"needs {ActionSize} finite values");
        if (ActionHigh.Length != ActionSize || !AllFinite(ActionHigh)) Fail(TensorActionHigh, $"needs {ActionSize} finite values");
        if (string.IsNullOrWhiteSpace(ActionUnit)) Fail(KeyActionUnit, "must name a unit (e.g. rpm)");
        if (!(ControlRateHz > 0) || !double.IsFinite(ControlRateHz)) Fail(KeyControlRateHz, $"{ControlRateHz} must be a finite rate > 0 Hz");
        if (ActionHistoryLength < 0) Fail(KeyActionHistoryLength, $"{ActionHistoryLength} must be ≥ 0");
        try { using (JsonDocument.Parse(RobotConfigJson)) { } }
        catch (JsonException e) { Fail(KeyRobotConfig, $"is not JSON ({e.Message})"); }
        try { using (JsonDocument.Parse(TrainingConfigJson)) { } }
        catch (JsonException e) { Fail(KeyTrainingConfig, $"is not JSON ({e.Message})"); }
        if (GoldenObservations.Length == 0 || GoldenObservations.Length % ObservationSize != 0)
            Fail(TensorGoldenObservations, $"needs k × {ObservationSize} values with k ≥ 1");
        if (GoldenActions.Length != GoldenCount * ActionSize) Fail(TensorGoldenActions, $"needs {GoldenCount} × {ActionSize} values");
        if (!AllFinite(GoldenObservations)) Fail(TensorGoldenObservations, "holds NaN or infinity");
        if (!GoldenActions.All(a => float.IsFinite(a))) Fail(TensorGoldenActions, "holds NaN or infinity");
    }

    // ---------------------------------------------------------------------------------------------
    // Reading

    /// <summary>
    /// Reads and validates a bundle. Any defect (truncation, bad header, missing or misshapen tensor, bad
    /// metadata, checksum mismatch when <paramref name="requireValidChecksum"/>) throws
    /// <see cref="PolicyBundleException"/> naming the file and the field.
    /// With <paramref name="requireValidChecksum"/> false a checksum mismatch is reported through
    /// <see cref="ChecksumVerified"/> instead (for inspection tools).
    /// </summary>
    public static PolicyBundle Read(string path, bool requireValidChecksum = true)
    {
        if (InputFiles.WhyNotReadable(path) is { } why) throw new PolicyBundleException(path, "file", why);
        FileStream file;
        try { file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new PolicyBundleException(path, "file", $"cannot be opened ({e.Message})", e);
        }
        using (file) return Read(file, path, requireValidChecksum);
    }

    /// <summary>Reads a bundle from a stream; <paramref name="source"/> names it in errors. See <see cref="Read(string, bool)"/>.</summary>
    public static PolicyBundle Read(Stream stream, string source = "<stream>", bool requireValidChecksum = true)
    {
        Dictionary<string, string> metadata;
        Dictionary<string, SafeTensor> tensors;
        try { (metadata, tensors) = SafeTensors.Read(stream, source); }
        catch (IOException e) { throw new PolicyBundleException(source, "file", $"read failed ({e.Message})", e); }

        string Meta(string key) => metadata.TryGetValue(key, out string? value)
            ? value
            : throw new PolicyBundleException(source, key, "metadata key missing");

        if (Meta(KeyFormat) != FormatName) throw new PolicyBundleException(source, KeyFormat, $"is '{metadata[KeyFormat]}', expected '{FormatName}'");
        if (Meta(KeyFormatVersion) != FormatVersion)
            throw new PolicyBundleException(source, KeyFormatVersion, $"is '{metadata[KeyFormatVersion]}', this reader knows version {FormatVersion}");
        string stored = Meta(KeyContentSha256);
        string computed = ContentHash(metadata, tensors.Values);
        bool checksumOk = string.Equals(stored, computed, StringComparison.Ordinal);
        if (requireValidChecksum && !checksumOk)
            throw new PolicyBundleException(source, KeyContentSha256, $"stored {stored} but the contents hash to {computed}: the file is corrupted or was edited");

        var known = new HashSet<string>(StringComparer.Ordinal)
        {
            KeyFormat, KeyFormatVersion, KeyActivations, KeyObservationNames, KeyActionNames, KeyActionUnit, KeyControlRateHz,
            KeyActionHistoryLength, KeyRobotConfig, KeyRobotSha256, KeyTrainingConfig, KeyGitCommit, KeyContentSha256,
        };
        foreach (string key in metadata.Keys)
            if (!known.Contains(key)) throw new PolicyBundleException(source, key, "unknown metadata key");

        string[] activationNames = StringArray(source, KeyActivations, Meta(KeyActivations));
        string[] observationNames = StringArray(source, KeyObservationNames, Meta(KeyObservationNames));
        string[] actionNames = StringArray(source, KeyActionNames, Meta(KeyActionNames));
        int observationCount = observationNames.Length, actionCount = actionNames.Length;

        var used = new HashSet<string>(StringComparer.Ordinal);
        float[] Tensor(string name, params long[] shape)
        {
            if (!tensors.TryGetValue(name, out SafeTensor? tensor)) throw new PolicyBundleException(source, name, "tensor missing");
            if (tensor.DType != "F32") throw new PolicyBundleException(source, name, $"dtype {tensor.DType}, expected F32");
            if (!tensor.Shape.SequenceEqual(shape))
                throw new PolicyBundleException(source, name, $"shape [{string.Join(", ", tensor.Shape)}], expected [{string.Join(", ", shape)}]");
            used.Add(name);
            return SafeTensors.Floats(tensor.Data);
        }

        var layers = new List<DenseLayer>();
        int input = observationCount;
        for (int i = 0; i < activationNames.Length; i++)
        {
            Activation activation = ParseActivation(source, activationNames[i]);
            if (!tensors.TryGetValue(TensorWeight(i), out SafeTensor? weight)) throw new PolicyBundleException(source, TensorWeight(i), "tensor missing");
            if (weight.Shape.Length != 2 || weight.Shape[1] != input || weight.Shape[0] is 0 or > 1 << 16)
                throw new PolicyBundleException(source, TensorWeight(i), $"shape [{string.Join(", ", weight.Shape)}], expected [outputs, {input}]");
            int output = (int)weight.Shape[0];
            if (i == activationNames.Length - 1 && output != actionCount)
                throw new PolicyBundleException(source, TensorWeight(i), $"shape [{output}, {input}], expected [{actionCount}, {input}] (one output per action)");
            layers.Add(new DenseLayer(input, output, Tensor(TensorWeight(i), output, input), Tensor(TensorBias(i), output), activation));
            input = output;
        }

        long goldenCount = tensors.TryGetValue(TensorGoldenObservations, out SafeTensor? golden) && golden.Shape.Length == 2 ? golden.Shape[0] : 0;
        var bundle = new PolicyBundle
        {
            Layers = layers,
            ObservationNames = observationNames,
            ActionNames = actionNames,
            ObservationMean = Tensor(TensorObservationMean, observationCount),
            ObservationStd = Tensor(TensorObservationStd, observationCount),
            ActionLow = Tensor(TensorActionLow, actionCount),
            ActionHigh = Tensor(TensorActionHigh, actionCount),
            ActionUnit = Meta(KeyActionUnit),
            ControlRateHz = double.TryParse(Meta(KeyControlRateHz), NumberStyles.Float, CultureInfo.InvariantCulture, out double rate)
                ? rate : throw new PolicyBundleException(source, KeyControlRateHz, $"'{metadata[KeyControlRateHz]}' is not a number"),
            ActionHistoryLength = int.TryParse(Meta(KeyActionHistoryLength), NumberStyles.None, CultureInfo.InvariantCulture, out int history)
                ? history : throw new PolicyBundleException(source, KeyActionHistoryLength, $"'{metadata[KeyActionHistoryLength]}' is not a non-negative integer"),
            RobotConfigJson = Meta(KeyRobotConfig),
            TrainingConfigJson = Meta(KeyTrainingConfig),
            GitCommit = Meta(KeyGitCommit),
            GoldenObservations = Tensor(TensorGoldenObservations, goldenCount, observationCount),
            GoldenActions = Tensor(TensorGoldenActions, goldenCount, actionCount),
            StoredContentSha256 = stored,
            ChecksumVerified = checksumOk,
        };
        foreach (string name in tensors.Keys)
            if (!used.Contains(name)) throw new PolicyBundleException(source, name, "unexpected tensor (not part of a RoboRl policy)");
        bundle.Validate(source);
        try
        {
            if (Meta(KeyRobotSha256) != bundle.RobotConfigSha256)
                throw new PolicyBundleException(source, KeyRobotSha256, $"stored {metadata[KeyRobotSha256]} but robot.config hashes to {bundle.RobotConfigSha256}");
        }
        catch (JsonException e) { throw new PolicyBundleException(source, KeyRobotConfig, $"is not JSON ({e.Message})", e); }
        return bundle;
    }

    static string[] StringArray(string source, string key, string json)
    {
        try
        {
            string[]? values = JsonSerializer.Deserialize<string[]>(json);
            if (values is null || values.Any(v => v is null)) throw new PolicyBundleException(source, key, "must be a JSON array of strings");
            return values;
        }
        catch (JsonException e) { throw new PolicyBundleException(source, key, $"must be a JSON array of strings ({e.Message})", e); }
    }

    public static string ActivationName(Activation activation) => activation switch
    {
        Activation.Identity => "identity",
        Activation.Relu => "relu",
        Activation.Tanh => "tanh",
        _ => throw new ArgumentOutOfRangeException(nameof(activation)),
    };

    static Activation ParseActivation(string source, string name) => name switch
    {
        "identity" => Activation.Identity,
        "relu" => Activation.Relu,
        "tanh" => Activation.Tanh,
        _ => throw new PolicyBundleException(source, KeyActivations, $"'{name}' is not one of identity, relu, tanh"),
    };
}
