using System.CommandLine;
using System.Text.Json.Nodes;
using RoboRl.Core.Policy;
using RoboRl.Serial.Firmware;

namespace RoboRl.Cli.Commands;

/// <summary>
/// `roborl export c BUNDLE -o DIR`: writes DIR/roborl_policy_weights.h, the generated header firmware-bridge
/// compiles in (firmware-bridge/policy/roborl_policy.h documents its format). Exit 0 on success, 2 on a bad bundle or directory.
/// </summary>
public static class ExportCCommand
{
    /// <summary>The `export` group with its `c` sub-command.</summary>
    public static Command CreateGroup() => new("export", "Export a policy bundle for other runtimes: c (the header firmware-bridge compiles in).") { Create() };

    public static Command Create()
    {
        var bundle = new Argument<string>("bundle") { Description = "Policy bundle (.safetensors)." };
        var output = new OutputOption("Directory for " + CPolicyHeader.FileName + " (created if missing).");
        output.Option.Required = true;
        var json = new Option<bool>("--json") { Description = "Print what was written as one JSON object." };
        var command = new Command("c", "Generate the C header (weights in flash, normalisation, rpm scaling, golden vectors) for firmware-bridge.") { bundle, json };
        output.AddTo(command);
        command.SetAction(parse => Run(parse.GetValue(bundle)!, output.Get(parse)!, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error,
            parse.GetValue(json)));
        return command;
    }

    /// <summary>The command's work, callable without the parser. Exit 0, or 2 for a bad bundle or output directory.</summary>
    public static int Run(string bundlePath, string outputDirectory, TextWriter output, TextWriter error, bool json = false)
    {
        var io = new CommandIo("export c", output, error, json);
        return io.Run(() =>
        {
            PathArguments.InputFile(bundlePath, "BUNDLE", "a policy bundle (.safetensors)");
            PolicyBundle bundle = PolicyBundle.Read(bundlePath);
            PathArguments.OutputDirectory(outputDirectory, "--output");
            string path = CPolicyHeader.Write(bundle, bundlePath, outputDirectory);
            long parameters = bundle.Layers.Sum(l => (long)l.Weights.Length + l.Biases.Length);
            string network = $"{bundle.ObservationSize}{string.Concat(bundle.Layers.Select(l => $"→{l.OutputSize}"))}";
            io.Text.WriteLine($"wrote {path}: {network}, {parameters} parameters ({parameters * 4} bytes of flash), {bundle.GoldenCount} golden vectors, sha256 {bundle.StoredContentSha256}");
            return io.Result(new JsonObject
            {
                ["header"] = path, ["network"] = network, ["parameters"] = parameters, ["flash_bytes"] = parameters * 4,
                ["golden_vectors"] = bundle.GoldenCount, ["bundle_sha256"] = bundle.StoredContentSha256,
            });
        });
    }
}
