using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using RoboRl.Core.Policy;

namespace RoboRl.Cli.Commands;

/// <summary>
/// `roborl policy inspect FILE [--json]`: what a policy bundle holds, and whether it is intact (checksum and the
/// C# engine's self-check against the golden vectors). Exit code 0 when both pass, 1 when the file is not an intact bundle
/// (not a bundle at all, a checksum mismatch, a failed self-check), 2 when there is no file to read.
/// </summary>
public static class PolicyInspectCommand
{
    /// <summary>The `policy` group: `inspect`, and the ONNX commands of <see cref="PolicyOnnxCommands"/>.</summary>
    public static Command CreateGroup() => new("policy", "Policy bundles (.safetensors files written by training): inspect, export-onnx, import-onnx.")
        { Create(), PolicyOnnxCommands.CreateExport(), PolicyOnnxCommands.CreateImport() };

    public static Command Create()
    {
        var file = new Argument<string>("file") { Description = "Policy bundle (.safetensors)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of text." };
        var command = new Command("inspect", "Show a policy bundle's network, specs, normalisation, robot, hashes and integrity.") { file, json };
        command.SetAction(parse => Run(parse.GetValue(file)!, parse.GetValue(json), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return command;
    }

    /// <summary>The command's work, callable without the parser. Returns the exit code.</summary>
    public static int Run(string path, bool asJson, TextWriter output, TextWriter error)
    {
        var io = new CommandIo("policy inspect", output, error, asJson);
        return io.Run(() => Inspect(path, io));
    }

    static int Inspect(string path, CommandIo io)
    {
        PathArguments.InputFile(path, "FILE", "a policy bundle (.safetensors)");
        PolicyBundle bundle;
        // Inspection is a check: a file that is not an intact bundle fails it (exit 1), with the reason.
        try { bundle = PolicyBundle.Read(path, requireValidChecksum: false); }
        catch (PolicyBundleException e) { throw CliException.Failed(e.Message); }

        string computed = bundle.ComputeContentSha256();
        float goldenError = new PolicyEngine(bundle).MaxGoldenError();
        const float Tolerance = 1e-5f;
        bool goldenOk = goldenError <= Tolerance;
        bool ok = bundle.ChecksumVerified && goldenOk;

        if (!io.Json) WriteText(io.Output, path, bundle, computed, goldenError, goldenOk);
        string? problem = ok ? null : !bundle.ChecksumVerified
            ? $"policy bundle '{path}': content.sha256: stored {bundle.StoredContentSha256} but the contents hash to {computed}"
            : $"policy bundle '{path}': golden.actions: the C# engine differs by {goldenError:G3} (tolerance {Tolerance:G1})";
        return io.Finish(JsonReport(path, bundle, computed, goldenError, goldenOk), ok ? ExitCodes.Ok : ExitCodes.Failed, problem);
    }

    static string NetworkText(PolicyBundle bundle) =>
        bundle.ObservationSize + string.Concat(bundle.Layers.Select(l => $" → {l.OutputSize} {PolicyBundle.ActivationName(l.Activation)}"));

    static long ParameterCount(PolicyBundle bundle) => bundle.Layers.Sum(l => (long)l.Weights.Length + l.Biases.Length);

    static string RobotName(PolicyBundle bundle)
    {
        using JsonDocument robot = JsonDocument.Parse(bundle.RobotConfigJson);
        return robot.RootElement.ValueKind == JsonValueKind.Object && robot.RootElement.TryGetProperty("name", out JsonElement name) && name.ValueKind == JsonValueKind.String
            ? name.GetString()!
            : "(unnamed)";
    }

    static string Names(IReadOnlyList<string> names, int shown = 6) =>
        names.Count <= shown ? string.Join(", ", names) : string.Join(", ", names.Take(shown)) + $", … {names[^1]}";

    static string Range(float[] values) => FormattableString.Invariant($"[{values.Min():G5}, {values.Max():G5}]");

    static void WriteText(TextWriter o, string path, PolicyBundle b, string computed, float goldenError, bool goldenOk)
    {
        string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
        o.WriteLine($"policy bundle  {path}");
        o.WriteLine($"  format       {PolicyBundle.FormatName} {PolicyBundle.FormatVersion} (safetensors)");
        o.WriteLine($"  checksum     {(b.ChecksumVerified ? "verified" : "MISMATCH")}  content sha256 {b.StoredContentSha256}{(b.ChecksumVerified ? "" : $" (contents hash to {computed})")}");
        o.WriteLine($"  network      {NetworkText(b)}  ({ParameterCount(b):N0} parameters)");
        foreach (var (layer, i) in b.Layers.Select((l, i) => (l, i)))
            o.WriteLine(F($"    layer {i}    {layer.InputSize} → {layer.OutputSize} {PolicyBundle.ActivationName(layer.Activation)}, weights {Range(layer.Weights)}, biases {Range(layer.Biases)}"));
        o.WriteLine($"  observation  {b.ObservationSize} values: {Names(b.ObservationNames)}");
        o.WriteLine($"    normalise  (obs − mean) / std; mean {Range(b.ObservationMean)}, std {Range(b.ObservationStd)}");
        o.WriteLine($"  action       {b.ActionSize} values: {Names(b.ActionNames)}");
        o.WriteLine(F($"    scaling    {b.ActionUnit} = low + (a + 1) / 2 · (high − low); low {Range(b.ActionLow)}, high {Range(b.ActionHigh)}"));
        o.WriteLine(F($"  control      {b.ControlRateHz:G} Hz, action history {b.ActionHistoryLength}"));
        o.WriteLine($"  robot        {RobotName(b)}  sha256 {b.RobotConfigSha256}");
        o.WriteLine($"  training     {OneLine(b.TrainingConfigJson, 160)}");
        o.WriteLine($"  commit       {b.GitCommit}");
        o.WriteLine(F($"  golden       {b.GoldenCount} vectors; C# engine max |Δ| {goldenError:G3} ({(goldenOk ? "ok" : "FAILED")}, tolerance 1e-5)"));
    }

    static string OneLine(string json, int max)
    {
        string compact = string.Join(' ', json.Split(['\n', '\r'], StringSplitOptions.RemoveEmptyEntries).Select(s => s.Trim()));
        return compact.Length <= max ? compact : compact[..max] + " …";
    }

    static System.Text.Json.Nodes.JsonObject JsonReport(string path, PolicyBundle b, string computed, float goldenError, bool goldenOk)
    {
        var report = new
        {
            file = path,
            format = PolicyBundle.FormatName,
            format_version = PolicyBundle.FormatVersion,
            checksum_verified = b.ChecksumVerified,
            content_sha256_stored = b.StoredContentSha256,
            content_sha256_computed = computed,
            network = new
            {
                parameters = ParameterCount(b),
                layers = b.Layers.Select(l => new { inputs = l.InputSize, outputs = l.OutputSize, activation = PolicyBundle.ActivationName(l.Activation) }),
            },
            observation = new
            {
                names = b.ObservationNames,
                mean = new { min = b.ObservationMean.Min(), max = b.ObservationMean.Max() },
                std = new { min = b.ObservationStd.Min(), max = b.ObservationStd.Max() },
            },
            action = new { names = b.ActionNames, unit = b.ActionUnit, low = b.ActionLow, high = b.ActionHigh },
            control_rate_hz = b.ControlRateHz,
            action_history_length = b.ActionHistoryLength,
            robot = new { name = RobotName(b), sha256 = b.RobotConfigSha256 },
            training_config = JsonDocument.Parse(b.TrainingConfigJson).RootElement,
            git_commit = b.GitCommit,
            golden = new { count = b.GoldenCount, max_abs_error = float.IsFinite(goldenError) ? goldenError : (float?)null, ok = goldenOk },
        };
        return JsonSerializer.SerializeToNode(report)!.AsObject();
    }
}
