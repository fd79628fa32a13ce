using System.CommandLine;
using System.Text.Json.Nodes;
using RoboRl.Core.Policy;
using RoboRl.Serial.Firmware;

namespace RoboRl.Cli.Commands;

/// <summary>
/// `roborl export c BUNDLE -o DIR [--target PROPELLERS]`: writes DIR/roborl_policy_weights.h, the generated header
/// firmware-bridge compiles in (firmware-bridge/policy/roborl_policy.h documents its format). With --target (a Crazyflie
/// firmware's propeller set, e.g. crazyflie-2.1-plus) a bundle trained for other propellers is refused. Exit 0 on
/// success, 2 on a bad bundle or directory, or a bundle that does not match the target.
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
        var target = new Option<string?>("--target")
        {
            Description = "Crazyflie firmware propeller set the header is for (the OOT controller): refuse a bundle trained for other propellers.",
        };
        target.AcceptOnlyFromAmong(RoboRl.Core.Quadrotor.PropellerSet.Known.Select(p => p.Name).ToArray());
        var command = new Command("c", "Generate the C header (weights in flash, normalisation, actuator scaling, golden vectors) for firmware-bridge.") { bundle, json, target };
        output.AddTo(command);
        command.SetAction(parse => Run(parse.GetValue(bundle)!, output.Get(parse)!, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error,
            parse.GetValue(json), parse.GetValue(target)));
        return command;
    }

    /// <summary>The command's work, callable without the parser. Exit 0, or 2 for a bad bundle or output directory.</summary>
    public static int Run(string bundlePath, string outputDirectory, TextWriter output, TextWriter error, bool json = false, string? target = null)
    {
        var io = new CommandIo("export c", output, error, json);
        return io.Run(() =>
        {
            PathArguments.InputFile(bundlePath, "BUNDLE", "a policy bundle (.safetensors)");
            PolicyBundle bundle = PolicyBundle.Read(bundlePath);
            if (target is not null)
            {
                try { CPolicyHeader.CheckTarget(bundle, target, bundlePath); }
                catch (PolicyBundleException e) { throw CliException.BadInput($"--target {target}: {e.Message}"); }
            }
            PathArguments.OutputDirectory(outputDirectory, "--output");
            string path = CPolicyHeader.Write(bundle, bundlePath, outputDirectory);
            long parameters = bundle.Layers.Sum(l => (long)l.Weights.Length + l.Biases.Length);
            string network = $"{bundle.ObservationSize}{string.Concat(bundle.Layers.Select(l => $"→{l.OutputSize}"))}";
            io.Text.WriteLine($"wrote {path}: {network}, {parameters} parameters ({parameters * 4} bytes of flash), {bundle.GoldenCount} golden vectors, sha256 {bundle.StoredContentSha256}");
            return io.Result(new JsonObject
            {
                ["header"] = path,
                ["network"] = network,
                ["parameters"] = parameters,
                ["flash_bytes"] = parameters * 4,
                ["golden_vectors"] = bundle.GoldenCount,
                ["bundle_sha256"] = bundle.StoredContentSha256,
                ["target"] = target,
            });
        });
    }
}
