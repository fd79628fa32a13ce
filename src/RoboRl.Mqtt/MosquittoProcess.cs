using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace RoboRl.Mqtt;

/// <summary>
/// A throw-away local Mosquitto broker (Debian package "mosquitto") for benchmarks: one anonymous
/// 127.0.0.1 listener on a free port, no persistence, config in a temp directory. Tests that need users,
/// ACLs or TLS write their own configs.
/// </summary>
public sealed class MosquittoProcess : IDisposable
{
    private readonly Process _process;
    private readonly string _directory;

    private MosquittoProcess(Process process, string directory, int port)
    {
        _process = process;
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    /// <summary>The mosquitto executable, or null when it is not installed.</summary>
    public static string? FindBinary()
        => new[] { "/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto" }.FirstOrDefault(File.Exists);

    /// <param name="port">The port to listen on; 0 picks a free one (a broker restarted on its old port: pass that port).</param>
    public static MosquittoProcess Start(TimeSpan? timeout = null, int port = 0)
    {
        string binary = FindBinary() ?? throw new InvalidOperationException("mosquitto is not installed (Debian: apt-get install mosquitto)");
        string directory = Path.Combine(Path.GetTempPath(), "roborl-mosquitto-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(directory);
        if (port == 0)
            using (var probe = new TcpListener(IPAddress.Loopback, 0)) { probe.Start(); port = ((IPEndPoint)probe.LocalEndpoint).Port; }
        string conf = Path.Combine(directory, "mosquitto.conf");
        File.WriteAllLines(conf, [$"listener {port} 127.0.0.1", "allow_anonymous true", "persistence false", "max_queued_messages 100000"]);
        var process = Process.Start(new ProcessStartInfo(binary, ["-c", conf]) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true })!;
        var broker = new MosquittoProcess(process, directory, port);
        var watch = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited) { string err = process.StandardError.ReadToEnd(); broker.Dispose(); throw new InvalidOperationException($"mosquitto exited: {err}"); }
            try { using var c = new TcpClient(); c.Connect(IPAddress.Loopback, port); return broker; }
            catch (SocketException) when (watch.Elapsed < (timeout ?? TimeSpan.FromSeconds(20))) { Thread.Sleep(20); }
        }
    }

    public void Dispose()
    {
        try { if (!_process.HasExited) { _process.Kill(); _process.WaitForExit(5000); } } catch (InvalidOperationException) { }
        _process.Dispose();
        try { Directory.Delete(_directory, true); } catch (IOException) { }
    }
}
