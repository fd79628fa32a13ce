using System.Diagnostics;

namespace RoboRl.Crazyflie.Tests;

/// <summary>Two connected pseudo-terminals made by socat, started and stopped by the test.</summary>
public sealed class PtyPair : IDisposable
{
    private readonly Process _socat;
    public string A { get; }
    public string B { get; }

    public PtyPair()
    {
        string dir = Path.Combine(Path.GetTempPath(), "roborl-pty-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        A = Path.Combine(dir, "a");
        B = Path.Combine(dir, "b");
        var start = new ProcessStartInfo("socat", $"pty,raw,echo=0,link={A} pty,raw,echo=0,link={B}") { RedirectStandardError = true };
        try { _socat = Process.Start(start)!; }
        catch (System.ComponentModel.Win32Exception e)
        {
            // In CI a missing tool is a failure (tests/run.sh installs socat); locally it says what to install.
            throw new InvalidOperationException("socat is required for pty tests: apt-get install socat", e);
        }
        var deadline = Stopwatch.StartNew();
        while (!(File.Exists(A) && File.Exists(B)))
        {
            if (_socat.HasExited) throw new InvalidOperationException("socat exited: " + _socat.StandardError.ReadToEnd());
            if (deadline.Elapsed > TimeSpan.FromSeconds(10)) throw new TimeoutException("socat did not create the ptys in 10 s");
            Thread.Sleep(10);
        }
    }

    /// <summary>Simulates pulling the cable: the ptys disappear.</summary>
    public void Kill()
    {
        if (!_socat.HasExited) { _socat.Kill(); _socat.WaitForExit(5000); }
    }

    public void Dispose()
    {
        Kill();
        _socat.Dispose();
        try { Directory.Delete(Path.GetDirectoryName(A)!, true); } catch (IOException) { }
    }
}
