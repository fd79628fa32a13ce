using System.CommandLine;
using RoboRl.Core.Policy;
using RoboRl.Serial.Firmware;

namespace RoboRl.Cli.Commands;

/// <summary>
/// `roborl export c BUNDLE -o DIR [--target PROPELLERS]`: writes DIR/roborl_policy_weights.h, the generated header
/// firmware-bridge compiles in (firmware-bridge/policy/roborl_policy.h documents its format). With --target (a Crazyflie
/// firmware's propeller set, e.g. crazyflie-2.1-plus) a bundle trained for other propellers is refused. Exit 0 on
/// success, 1 on a bad bundle, 2 on a bundle that does not match the target.
/// </summary>
public static class ExportCCommand
{
    /// <summary>The `export` group with its `c` sub-command.</summary>
    public static Command CreateGroup() => new("export", "Export a policy bundle for other runtimes.") { Create() };

    public static Command Create()
    {
        var bundle = new Argument<string>("bundle") { Description = "Policy bundle (.safetensors)." };
        var output = new Option<string>("--output", "-o") { Description = "Directory for " + CPolicyHeader.FileName, Required = true };
        var target = new Option<string?>("--target")
        {
            Description = "Crazyflie firmware propeller set the header is for (the OOT controller): refuse a bundle trained for other propellers.",
        };
        target.AcceptOnlyFromAmong(RoboRl.Core.Quadrotor.PropellerSet.Known.Select(p => p.Name).ToArray());
        var command = new Command("c", "Generate the C header (weights in flash, normalisation, actuator scaling, golden vectors) for firmware-bridge.") { bundle, output, target };
        command.SetAction(parse => Run(parse.GetValue(bundle)!, parse.GetValue(output)!, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error,
            parse.GetValue(target)));
        return command;
    }

    /// <summary>The command's work, callable without the parser. Returns the exit code.</summary>
    public static int Run(string bundlePath, string outputDirectory, TextWriter output, TextWriter error, string? target = null)
    {
        try
        {
            PolicyBundle bundle = PolicyBundle.Read(bundlePath);
            if (target is not null)
            {
                try { CPolicyHeader.CheckTarget(bundle, target, bundlePath); }
                catch (PolicyBundleException e)
                {
                    error.WriteLine($"error: --target {target}: {e.Message}");
                    return 2;
                }
            }
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
