using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using RoboRl.Core.Configs;
using RoboRl.Core.Policy;
using RoboRl.Logs;

namespace RoboRl.Hosting;

/// <summary>
/// Where one command invocation writes, and the one place that turns its outcome into output and an exit code
/// (docs/cli.md): results on stdout — text, or with --json exactly one JSON object as the last line; progress, notes and
/// errors on stderr, each error one line "COMMAND: message"; exit codes from <see cref="ExitCodes"/>.
/// </summary>
public sealed class CommandIo(string command, TextWriter output, TextWriter error, bool json = false)
{
    private static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The command's name as typed, e.g. "log info".</summary>
    public string Command => command;
    public TextWriter Output => output;
    public TextWriter Error => error;
    public bool Json => json;
    /// <summary>Human-readable result lines: stdout, or stderr with --json (stdout then carries only the JSON object).</summary>
    public TextWriter Text => json ? error : output;

    /// <summary>A note on stderr: "COMMAND: message".</summary>
    public void Note(string message) => error.WriteLine($"{command}: {OneLine(message)}");

    /// <summary>Reports a failure: one line on stderr and, with --json, <c>{"error": …, "exit_code": …}</c> on stdout.</summary>
    public int Fail(int exitCode, string message)
    {
        string line = OneLine(message);
        error.WriteLine($"{command}: {line}");
        if (json) output.WriteLine(new JsonObject { ["error"] = line, ["exit_code"] = exitCode }.ToJsonString(Compact));
        return exitCode;
    }

    /// <summary>With --json, prints <paramref name="result"/> (plus its "exit_code") as the one final line of stdout. Returns the code.</summary>
    public int Result(JsonObject result, int exitCode = ExitCodes.Ok)
    {
        if (!json) return exitCode;
        result["exit_code"] = exitCode;
        output.WriteLine(result.ToJsonString(Compact));
        return exitCode;
    }

    /// <summary>
    /// Ends a command that has a result even when it failed (a flight whose robot never answered): the problem, if any,
    /// as the last line on stderr and as "error" in the JSON result; then <see cref="Result(JsonObject, int)"/>.
    /// </summary>
    public int Finish(JsonObject result, int exitCode, string? problem)
    {
        if (problem is not null)
        {
            error.WriteLine($"{command}: {OneLine(problem)}");
            result["error"] = OneLine(problem);
        }
        return Result(result, exitCode);
    }

    /// <summary>As <see cref="Result(JsonObject, int)"/> for a dictionary or an anonymous object (serialised as they are).</summary>
    public int Result(object result, int exitCode = ExitCodes.Ok) =>
        Result(JsonSerializer.SerializeToNode(result, Compact)?.AsObject() ?? [], exitCode);

    /// <summary>Runs a command's body: whatever it throws becomes one line and an exit code (<see cref="Classify"/>), never a stack trace.</summary>
    public int Run(Func<int> body)
    {
        try { return body(); }
        catch (Exception e)
        {
            var (code, message) = Classify(e);
            if (code == ExitCodes.Fault && Environment.GetEnvironmentVariable("ROBORL_DEBUG") is { Length: > 0 }) error.WriteLine(e);
            return Fail(code, message);
        }
    }

    /// <summary>
    /// The exit code and message of an exception: <see cref="CliException"/> carries its own; a malformed or missing input
    /// (config, bundle, log, file) is bad input (2); anything else is a runtime fault (3).
    /// </summary>
    public static (int Code, string Message) Classify(Exception e) => e switch
    {
        CliException c => (c.ExitCode, c.Message),
        AggregateException { InnerExceptions.Count: 1 } a => Classify(a.InnerExceptions[0]),
        ConfigException or PolicyBundleException or PolicyMismatchException or FlightLogException or McapFormatException => (ExitCodes.BadInput, e.Message),
        FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or PathTooLongException => (ExitCodes.BadInput, e.Message),
        OperationCanceledException => (ExitCodes.Fault, "cancelled"),
        _ => (ExitCodes.Fault, $"{e.Message} ({e.GetType().Name}; ROBORL_DEBUG=1 prints where)"),
    };

    private static string OneLine(string message) =>
        string.Join("; ", message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
