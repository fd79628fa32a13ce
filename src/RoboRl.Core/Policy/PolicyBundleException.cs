namespace RoboRl.Core.Policy;

/// <summary>
/// A policy bundle could not be read or written: names the file (or stream), the field and what was expected.
/// Every problem with a bundle's bytes surfaces as this type, never as another exception.
/// </summary>
public class PolicyBundleException : Exception
{
    public PolicyBundleException(string source, string field, string problem, Exception? inner = null)
        : base($"policy bundle '{source}': {field}: {problem}", inner)
    {
        SourceName = source;
        Field = field;
        Problem = problem;
    }

    /// <summary>The file path, or a name given for a stream.</summary>
    public string SourceName { get; }

    /// <summary>The header key, tensor name or metadata key at fault (e.g. "actor.0.weight", "content.sha256").</summary>
    public string Field { get; }

    public string Problem { get; }
}

/// <summary>A valid bundle that was trained for something else (another robot, another observation size).</summary>
public sealed class PolicyMismatchException(string source, string field, string problem)
    : PolicyBundleException(source, field, problem);
