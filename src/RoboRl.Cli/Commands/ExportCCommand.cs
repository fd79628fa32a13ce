using System.CommandLine;
using RoboRl.Core.Policy;
using RoboRl.Serial.Firmware;

namespace RoboRl.Cli.Commands;

/// <summary>
/// `roborl export c BUNDLE -o DIR`: writes DIR/roborl_policy_weights.h, the generated header firmware-bridge
/// compiles in (firmware-bridge/policy/roborl_policy.h documents its format). Exit 0 on success, 1 on a bad bundle.
/// </summary>
public static class ExportCCommand
{
    /// <summary>The `export` group with its `c` sub-command.</summary>
    public static Command CreateGroup() => new("export", "Export a policy bundle for other runtimes.") { Create() };

    public static Command Create()
    {
        var bundle = new Argument<string>("bundle") { Description = "Policy bundle (.safetensors)." };
        var output = new Option<string>("--output", "-o") { Description = "Directory for " + CPolicyHeader.FileName, Required = true };
        var command = new Command("c", "Generate the C header (weights in flash, normalisation, rpm scaling, golden vectors) for firmware-bridge.") { bundle, output };
        command.SetAction(parse => Run(parse.GetValue(bundle)!, parse.GetValue(output)!, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return command;
    }

    /// <summary>The command's work, callable without the parser. Returns the exit code.</summary>
    public static int Run(string bundlePath, string outputDirectory, TextWriter output, TextWriter error)
    {
        try
        {
            PolicyBundle bundle = PolicyBundle.Read(bundlePath);
            string path = CPolicyHeader.Write(bundle, bundlePath, outputDirectory);
            long parameters = bundle.Layers.Sum(l => (long)l.Weights.Length + l.Biases.Length);
            output.WriteLine($"wrote {path}: {bundle.ObservationSize}{string.Concat(bundle.Layers.Select(l => $"→{l.OutputSize}"))}, " +
                             $"{parameters} parameters ({parameters * 4} bytes of flash), {bundle.GoldenCount} golden vectors, sha256 {bundle.StoredContentSha256}");
            return 0;
        }
        catch (PolicyBundleException e)
        {
            error.WriteLine($"error: {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"error: cannot write the header to '{outputDirectory}': {e.Message}");
            return 1;
        }
    }
}
