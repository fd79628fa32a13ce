using System.CommandLine;
using System.Text.Json.Nodes;
using RoboRl.Core.Policy;
using RoboRl.Onnx;
using RoboRl.Training;

namespace RoboRl.Cli.Commands;

/// <summary>
/// `roborl policy export-onnx BUNDLE -o MODEL.onnx` and `roborl policy import-onnx MODEL.onnx [--spec SPEC.json] -o BUNDLE`
/// (docs/onnx.md; the work is in src/RoboRl.Onnx). Exit 0, or 2 for a bad bundle, model or spec — a model that is not a
/// supported MLP is refused naming the node and what is supported.
/// </summary>
public static class PolicyOnnxCommands
{
    public static Command CreateExport()
    {
        var bundle = new Argument<string>("bundle") { Description = "Policy bundle (.safetensors)." };
        var output = new OutputOption("ONNX file to write (e.g. policy.onnx).");
        output.Option.Required = true;
        var json = new Option<bool>("--json") { Description = "Print what was written as one JSON object." };
        var command = new Command("export-onnx",
            "Write a bundle as an ONNX model: input obs [batch, n], outputs action [batch, m] and command (scaled); normalisation and scaling as ONNX ops, specs in metadata.")
            { bundle, json };
        output.AddTo(command);
        command.SetAction(parse => Export(parse.GetValue(bundle)!, output.Get(parse)!, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, parse.GetValue(json)));
        return command;
    }

    public static Command CreateImport()
    {
        var model = new Argument<string>("model") { Description = "ONNX model of an MLP policy (e.g. exported by torch.onnx)." };
        var spec = new Option<string?>("--spec") { Description = "JSON spec: observation/action names, units, scaling, robot config, control rate (docs/onnx.md). Optional for a model written by export-onnx.", HelpName = "path" };
        var output = new OutputOption("Policy bundle to write (.safetensors).");
        output.Option.Required = true;
        var json = new Option<bool>("--json") { Description = "Print what was written as one JSON object." };
        var command = new Command("import-onnx",
            "Turn an ONNX MLP policy (Gemm/MatMul, Relu/Tanh, Sub/Div normalisation, output scaling) into a bundle that eval and run load; refuses other graphs naming the node.")
            { model, spec, json };
        output.AddTo(command);
        command.SetAction(parse => Import(parse.GetValue(model)!, parse.GetValue(spec), output.Get(parse)!, parse.InvocationConfiguration.Output,
            parse.InvocationConfiguration.Error, parse.GetValue(json)));
        return command;
    }

    /// <summary>export-onnx without the parser. Returns the exit code.</summary>
    public static int Export(string bundlePath, string modelPath, TextWriter output, TextWriter error, bool json = false)
    {
        var io = new CommandIo("policy export-onnx", output, error, json);
        return io.Run(() =>
        {
            PathArguments.InputFile(bundlePath, "BUNDLE", "a policy bundle (.safetensors)");
            PolicyBundle bundle = PolicyBundle.Read(bundlePath);
            PathArguments.OutputFile(modelPath, "--output");
            OnnxModel model = OnnxPolicyExport.Write(bundle, modelPath);
            string network = bundle.ObservationSize + string.Concat(bundle.Layers.Select(l => $" → {l.OutputSize} {PolicyBundle.ActivationName(l.Activation)}"));
            io.Text.WriteLine($"wrote {modelPath}: obs [batch, {bundle.ObservationSize}] → action [batch, {bundle.ActionSize}] and command ({bundle.ActionUnit}); " +
                $"{network}; ONNX IR {model.IrVersion}, opset {OnnxPolicyExport.Opset}, {model.Graph.Nodes.Count} nodes, {model.MetadataProps.Count} metadata entries; bundle sha256 {bundle.StoredContentSha256}");
            return io.Result(new JsonObject
            {
                ["model"] = modelPath,
                ["network"] = network,
                ["input"] = OnnxPolicyExport.InputName,
                ["outputs"] = new JsonArray(OnnxPolicyExport.OutputName, OnnxPolicyExport.CommandOutputName),
                ["observation_size"] = bundle.ObservationSize,
                ["action_size"] = bundle.ActionSize,
                ["action_unit"] = bundle.ActionUnit,
                ["ir_version"] = model.IrVersion,
                ["opset"] = OnnxPolicyExport.Opset,
                ["nodes"] = model.Graph.Nodes.Count,
                ["model_bytes"] = new FileInfo(modelPath).Length,
                ["bundle_sha256"] = bundle.StoredContentSha256,
            });
        });
    }

    /// <summary>import-onnx without the parser. Returns the exit code.</summary>
    public static int Import(string modelPath, string? specPath, string bundlePath, TextWriter output, TextWriter error, bool json = false)
    {
        var io = new CommandIo("policy import-onnx", output, error, json);
        return io.Run(() =>
        {
            PathArguments.InputFile(modelPath, "MODEL", "an ONNX model (.onnx)");
            if (specPath is not null) PathArguments.InputFile(specPath, "--spec", "an import spec (JSON, docs/onnx.md)");
            PathArguments.OutputFile(bundlePath, "--output");
            OnnxImportSpec? spec = specPath is null ? null : OnnxImportSpec.Load(specPath);
            OnnxImportResult result;
            try { result = OnnxPolicyImport.Import(modelPath, spec, GitInfo.Commit); }
            catch (OnnxImportException e) { throw CliException.BadInput(e.Message); }
            result.Bundle.Write(bundlePath);
            PolicyBundle written = PolicyBundle.Read(bundlePath);
            float goldenError = new PolicyEngine(written).MaxGoldenError();
            foreach (string ignored in result.IgnoredOutputs) io.Note($"output '{ignored}' ignored (not on the action's chain)");
            // Only an import from the model's own metadata can give back the exported bundle; with a spec the provenance differs by design.
            bool? same = result.SpecFromMetadata && result.ExportedContentSha256 is not null ? result.ExportedContentSha256 == written.StoredContentSha256 : null;
            string source = result.SpecFromMetadata ? "specs from the model's RoboRl metadata" : $"specs from {specPath}";
            io.Text.WriteLine($"wrote {bundlePath}: {result.Network} from {modelPath}; {source}; scaling {(result.ScalingFromModel ? "from the model's output ops" : "from the spec")}; " +
                $"golden self-check max |Δ| {goldenError:G3}; sha256 {written.StoredContentSha256}" +
                (same is null ? "" : same.Value ? " (the same content as the exported bundle)" : $" (the exported bundle's was {result.ExportedContentSha256})"));
            return io.Result(new JsonObject
            {
                ["bundle"] = bundlePath,
                ["model"] = modelPath,
                ["spec"] = specPath,
                ["network"] = result.Network,
                ["observation_size"] = written.ObservationSize,
                ["action_size"] = written.ActionSize,
                ["action_unit"] = written.ActionUnit,
                ["scaling_from_model"] = result.ScalingFromModel,
                ["ignored_outputs"] = new JsonArray([.. result.IgnoredOutputs.Select(o => (JsonNode)o)]),
                ["golden_max_abs_error"] = goldenError,
                ["bundle_sha256"] = written.StoredContentSha256,
                ["same_as_exported"] = same,
            });
        });
    }
}
