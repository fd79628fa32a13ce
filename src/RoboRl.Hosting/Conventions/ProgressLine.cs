using System.Diagnostics;

namespace RoboRl.Hosting;

/// <summary>
/// Progress of long work on stderr. On a terminal: one line rewritten in place ("\r"), at most 10 times a second.
/// Redirected (a file, a pipe, a CI log): plain lines, at most one per <see cref="PlainIntervalS"/>, never a "\r"
/// (a rewritten line becomes one kilobyte-long line in a log).
/// </summary>
public sealed class ProgressLine(TextWriter writer, bool interactive, double plainIntervalS = 5)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private double _lastAt = double.NegativeInfinity;
    private int _width;

    public bool Interactive => interactive;
    public double PlainIntervalS => plainIntervalS;

    /// <summary>True when <paramref name="writer"/> is this process's stdout or stderr and that is a terminal.</summary>
    public static bool IsTerminal(TextWriter writer) =>
        ReferenceEquals(writer, Console.Error) ? !Console.IsErrorRedirected
        : ReferenceEquals(writer, Console.Out) && !Console.IsOutputRedirected;

    /// <summary>A progress line on <paramref name="writer"/>, in place when it is a terminal.</summary>
    public static ProgressLine For(TextWriter writer, double plainIntervalS = 5) => new(writer, IsTerminal(writer), plainIntervalS);

    /// <summary>Shows <paramref name="line"/> if the rate limit allows (always with <paramref name="force"/>).</summary>
    public void Report(string line, bool force = false)
    {
        double now = _clock.Elapsed.TotalSeconds;
        if (!force && now - _lastAt < (interactive ? 0.1 : plainIntervalS)) return;
        _lastAt = now;
        if (interactive)
        {
            writer.Write("\r" + line.PadRight(_width));
            _width = Math.Max(_width, line.Length);
        }
        else writer.WriteLine(line);
        writer.Flush();
    }

    /// <summary>Ends the line in place (terminal), so that what follows starts on a new line.</summary>
    public void End()
    {
        if (interactive && _width > 0) writer.WriteLine();
        _width = 0;
    }
}
