using System.Diagnostics;

namespace RoboRl.Serial;

/// <summary>
/// Two connected ptys made by socat (`socat pty,raw,echo=0,link=A pty,raw,echo=0,link=B`): a serial
/// cable on one machine. <see cref="Kill"/> pulls the cable. Used by the tests and `roborl bench serial`.
/// </summary>
public sealed class SocatPtyPair : IDisposable
{
    private readonly Process _socat;
    private readonly string _dir;

    public string PathA { get; }
    public string PathB { get; }
    /// <summary>socat's process id (e.g. to give the "cable" real-time priority on a loaded test machine).</summary>
    public int ProcessId => _socat.Id;

    private SocatPtyPair(Process socat, string dir, string a, string b)
    {
        _socat = socat;
        _dir = dir;
        PathA = a;
        PathB = b;
    }

    /// <summary>True if a `socat` executable is on PATH.</summary>
    public static bool IsAvailable() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(d => File.Exists(Path.Combine(d, "socat")));

    /// <summary>Starts socat and waits (up to <paramref name="timeout"/>) until both pty links exist.</summary>
    public static SocatPtyPair Start(TimeSpan? timeout = null)
    {
        if (!IsAvailable())
            throw new InvalidOperationException("socat is not installed (Debian package 'socat', listed in tests/prerequisites.txt)");
        string dir = Directory.CreateTempSubdirectory("roborl-pty-").FullName;
        string a = Path.Combine(dir, "A"), b = Path.Combine(dir, "B");
        var psi = new ProcessStartInfo("socat")
        {
            UseShellExecute = false,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        foreach (string arg in new[] { "pty,raw,echo=0,link=" + a, "pty,raw,echo=0,link=" + b }) psi.ArgumentList.Add(arg);
        var socat = Process.Start(psi) ?? throw new InvalidOperationException("socat did not start");
        socat.ErrorDataReceived += (_, _) => { };
        socat.BeginErrorReadLine();
        socat.BeginOutputReadLine();
        var pair = new SocatPtyPair(socat, dir, a, b);
        var deadline = Stopwatch.StartNew();
        while (!(File.Exists(a) && File.Exists(b)))
        {
            if (socat.HasExited)
            {
                pair.Dispose();
                throw new InvalidOperationException($"socat exited with code {socat.ExitCode} before creating {a} and {b}");
            }
            if (deadline.Elapsed > (timeout ?? TimeSpan.FromSeconds(20)))
            {
                pair.Dispose();
                throw new TimeoutException($"socat did not create {a} and {b} within {timeout ?? TimeSpan.FromSeconds(20)}");
            }
            Thread.Sleep(10);
        }
        return pair;
    }

    /// <summary>Kills socat: both ptys hang up, as when a cable is pulled.</summary>
    public void Kill()
    {
        try
        {
            if (!_socat.HasExited)
            {
                _socat.Kill();
                _socat.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }

    public void Dispose()
    {
        Kill();
        _socat.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
