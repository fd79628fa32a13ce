namespace RoboRl.Hosting;

/// <summary>The exit codes of every `roborl` command (docs/cli.md, "Exit codes").</summary>
public static class ExitCodes
{
    /// <summary>The command did what was asked.</summary>
    public const int Ok = 0;
    /// <summary>The command ran and its check failed: an invalid log, a bundle that fails its self-check, a benchmark
    /// that lost data, a fault scenario that failed, a replay that had to drop messages under --no-drop.</summary>
    public const int Failed = 1;
    /// <summary>Bad input: a wrong or missing argument, a file that is missing, unreadable, of the wrong kind or
    /// malformed, a config that does not validate, a bundle that does not fit the robot, a selection that is empty.</summary>
    public const int BadInput = 2;
    /// <summary>A runtime fault: the robot's state never arrived, a transport or the disk failed, an internal error.</summary>
    public const int Fault = 3;
}

/// <summary>
/// A problem to report as one line (the message) with an exit code. Thrown anywhere under a command; <see cref="CommandIo.Run"/>
/// prints "COMMAND: message" on stderr (and, with --json, the error object on stdout) and returns the code.
/// </summary>
public class CliException(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;

    public static CliException BadInput(string message) => new(ExitCodes.BadInput, message);
    public static CliException Failed(string message) => new(ExitCodes.Failed, message);
    public static CliException Fault(string message) => new(ExitCodes.Fault, message);
}
