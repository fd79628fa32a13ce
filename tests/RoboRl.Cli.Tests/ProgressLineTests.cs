namespace RoboRl.Cli.Tests;

/// <summary>Progress on a terminal is one line rewritten in place; redirected (a file, a pipe, CI) it is plain, sparse lines.</summary>
public class ProgressLineTests
{
    [Test]
    public void RedirectedProgressIsPlainLinesAtItsInterval()
    {
        var log = new StringWriter();
        var line = new ProgressLine(log, interactive: false, plainIntervalS: 3600);
        for (int i = 0; i < 1000; i++) line.Report($"step {i}");
        line.Report("done", force: true);
        line.End();
        Assert.That(log.ToString(), Does.Not.Contain("\r"));
        Assert.That(log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(new[] { "step 0", "done" }),
            "the first line, then nothing until the interval, except what is forced");
        Assert.That(ProgressLine.For(log).Interactive, Is.False, "a StringWriter is not a terminal");
    }

    [Test]
    public void ATerminalGetsOneLineRewrittenInPlace()
    {
        var tty = new StringWriter();
        var line = new ProgressLine(tty, interactive: true);
        line.Report("longer first line", force: true);
        line.Report("short", force: true);
        line.End();
        Assert.That(tty.ToString(), Is.EqualTo("\rlonger first line\rshort            " + Environment.NewLine));
    }
}
