using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Numerics;

namespace RoboRl.Hosting;

/// <summary>
/// The conventions of docs/cli.md applied to the whole command tree in one place, so a command added later gets them
/// too: every action runs under <see cref="CommandIo.Run"/> (no stack trace reaches the user: one line and an exit code),
/// every number option rejects a malformed value with a message that says what it wants ("--duration: 'abc' is not a
/// number of seconds"), and parse errors exit with <see cref="ExitCodes.BadInput"/> in one line.
/// </summary>
public static class CliConventions
{
    /// <summary>Options whose value is a time in seconds (shown as &lt;seconds&gt; in help).</summary>
    private static readonly HashSet<string> SecondsOptions = ["--duration", "--seconds", "--start", "--end", "--window"];

    public static RootCommand Apply(RootCommand root)
    {
        foreach (var (command, path) in Walk(root))
        {
            if (command.Action is SynchronousCommandLineAction action and not GuardedAction)
                command.Action = new GuardedAction(action, path);
            foreach (Option option in command.Options)
            {
                if (option.HelpName is null && SecondsOptions.Contains(option.Name)) option.HelpName = "seconds";
                InstallNumberParser(option);
            }
        }
        return root;
    }

    /// <summary>Every command below <paramref name="root"/> with its name as typed after `roborl` ("log info").</summary>
    public static IEnumerable<(Command Command, string Path)> Walk(Command root)
    {
        var stack = new Stack<(Command, string)>();
        foreach (Command c in root.Subcommands.Reverse()) stack.Push((c, c.Name));
        while (stack.Count > 0)
        {
            var (command, path) = stack.Pop();
            yield return (command, path);
            foreach (Command c in command.Subcommands.Reverse()) stack.Push((c, $"{path} {c.Name}"));
        }
    }

    /// <summary>The command's name as typed after `roborl` ("log info"; "roborl" for the root).</summary>
    public static string PathOf(Command command, RootCommand root) =>
        Walk(root).FirstOrDefault(x => ReferenceEquals(x.Command, command)).Path ?? "roborl";

    /// <summary>
    /// Parse errors as one line on stderr, like every other error — "train: Unrecognized command or argument 'x' (see
    /// roborl train --help)" — and, when --json was asked for, the error object on stdout; exit code 2.
    /// </summary>
    public static int ReportParseErrors(ParseResult parse, RootCommand root, TextWriter output, TextWriter error)
    {
        string path = PathOf(parse.CommandResult.Command, root);
        string messages = string.Join("; ", parse.Errors.Select(e => e.Message.TrimEnd('.')));
        string help = path == "roborl" ? "roborl --help" : $"roborl {path} --help";
        var io = new CommandIo(path, output, error, json: parse.Tokens.Any(t => t.Value == "--json"));
        return io.Fail(ExitCodes.BadInput, $"{messages} (see {help})");
    }

    /// <summary>Runs a command's action under <see cref="CommandIo.Run"/>, with --json known from the parse.</summary>
    private sealed class GuardedAction(SynchronousCommandLineAction inner, string path) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parse)
        {
            bool json = parse.CommandResult.Command.Options.OfType<Option<bool>>().FirstOrDefault(o => o.Name == "--json") is { } j && parse.GetValue(j);
            var io = new CommandIo(path, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, json);
            return io.Run(() => inner.Invoke(parse));
        }
    }

    private delegate bool TryParse<T>(string text, out T value);

    private static void InstallNumberParser(Option option)
    {
        switch (option)
        {
            case Option<double> o when o.CustomParser is null: o.CustomParser = r => One<double>(r, option, Real, "a number"); break;
            case Option<double?> o when o.CustomParser is null: o.CustomParser = r => One<double>(r, option, Real, "a number"); break;
            case Option<float> o when o.CustomParser is null: o.CustomParser = r => (float)One<double>(r, option, Real, "a number"); break;
            case Option<int> o when o.CustomParser is null: o.CustomParser = r => One<int>(r, option, Whole<int>, "a whole number"); break;
            case Option<int?> o when o.CustomParser is null: o.CustomParser = r => One<int>(r, option, Whole<int>, "a whole number"); break;
            case Option<long> o when o.CustomParser is null: o.CustomParser = r => One<long>(r, option, Whole<long>, "a whole number"); break;
            case Option<long?> o when o.CustomParser is null: o.CustomParser = r => One<long>(r, option, Whole<long>, "a whole number"); break;
            case Option<ulong> o when o.CustomParser is null: o.CustomParser = r => One<ulong>(r, option, Whole<ulong>, "a whole number ≥ 0"); break;
            case Option<int[]> o when o.CustomParser is null:
                o.CustomParser = r => r.Tokens.Select(t => Convert<int>(r, option, t.Value, Whole<int>, "a whole number")).ToArray();
                break;
        }
    }

    private static T One<T>(ArgumentResult r, Option option, TryParse<T> parse, string kind) =>
        r.Tokens.Count == 0 ? default! : Convert(r, option, r.Tokens[^1].Value, parse, kind);

    private static T Convert<T>(ArgumentResult r, Option option, string text, TryParse<T> parse, string kind)
    {
        if (parse(text, out T value)) return value;
        string expected = option.HelpName switch
        {
            "seconds" => "a number of seconds",
            "hz" => "a rate in Hz",
            _ => kind,
        };
        r.AddError($"{option.Name}: '{text}' is not {expected}");
        return default!;
    }

    private static bool Real(string text, out double value) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value);

    private static bool Whole<T>(string text, out T value) where T : IBinaryInteger<T> =>
        T.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out value!);
}

/// <summary>
/// The output option of a command that writes files: <c>-o, --output</c> (docs/cli.md). Commands that had <c>--out</c>
/// keep it as a hidden alias, so existing scripts and the README's commands still work.
/// </summary>
public sealed class OutputOption
{
    public OutputOption(string description, bool keepOldOut = false)
    {
        Option = new Option<string?>("--output", "-o") { Description = description, HelpName = "path" };
        if (keepOldOut) OldName = new Option<string?>("--out") { Description = "Old name of --output.", Hidden = true };
    }

    public Option<string?> Option { get; }
    /// <summary>The hidden `--out` (null where the command never had it).</summary>
    public Option<string?>? OldName { get; }

    public void AddTo(Command command)
    {
        command.Options.Add(Option);
        if (OldName is not null) command.Options.Add(OldName);
    }

    /// <summary>The path given with -o/--output (or the old --out), else <paramref name="fallback"/>.</summary>
    public string? Get(ParseResult parse, string? fallback = null) =>
        parse.GetValue(Option) ?? (OldName is null ? null : parse.GetValue(OldName)) ?? fallback;
}
