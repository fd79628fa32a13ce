using System.Diagnostics;
using System.Net.Sockets;

namespace RoboRl.Mqtt.Tests;

/// <summary>
/// A real Mosquitto broker (Debian package "mosquitto") run by a test: a temp mosquitto.conf with one
/// 127.0.0.1 listener on a free port, a password file made with mosquitto_passwd, an ACL file, and
/// optionally a TLS listener. In CI a missing mosquitto fails the test; elsewhere the test is skipped.
/// </summary>
internal sealed class Mosquitto : IDisposable
{
    public const string NodeUser = "node", NodePassword = "node-secret";
    private readonly string _conf;
    private Process? _process;
    public int Port { get; }
    public string Directory { get; }
    public string LogFile { get; }

    public static string Binary
    {
        get
        {
            foreach (string candidate in new[] { "/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto" })
                if (File.Exists(candidate)) return candidate;
            string message = "mosquitto is not installed (Debian package \"mosquitto\", listed in tests/prerequisites.txt)";
            if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail(message);
            Assert.Ignore(message);
            return "";
        }
    }

    /// <param name="users">name → password; every user may read/write roborl/#; anonymous clients too (the node decides).</param>
    public Mosquitto(IReadOnlyDictionary<string, string> users, SelfSignedPki? tls = null)
    {
        string binary = Binary;
        Directory = TempDir.Create("mosquitto");
        Port = Ports.Free();
        string passwordFile = Path.Combine(Directory, "passwd");
        File.WriteAllText(passwordFile, "");
        foreach (var (name, password) in users.Append(new(NodeUser, NodePassword)))
            Run("mosquitto_passwd", "-b", passwordFile, name, password);
        string aclFile = Path.Combine(Directory, "acl");
        // Anonymous section first (applies to clients without a user name), then per user.
        var acl = new List<string> { "topic readwrite roborl/#", "" };
        foreach (string name in users.Keys.Append(NodeUser)) acl.AddRange([$"user {name}", "topic readwrite roborl/#", ""]);
        File.WriteAllLines(aclFile, acl);
        LogFile = Path.Combine(Directory, "mosquitto.log");
        var conf = new List<string>
        {
            "per_listener_settings false",
            "allow_anonymous true",
            $"password_file {passwordFile}",
            $"acl_file {aclFile}",
            "persistence false",
            $"log_dest file {LogFile}",
            "log_type all",
            $"listener {Port} 127.0.0.1",
        };
        if (tls is not null) conf.AddRange([$"cafile {tls.CaFile}", $"certfile {tls.CertFile}", $"keyfile {tls.KeyFile}", "tls_version tlsv1.2"]);
        _conf = Path.Combine(Directory, "mosquitto.conf");
        File.WriteAllLines(_conf, conf);
        Start();
    }

    public void Start()
    {
        var psi = new ProcessStartInfo(Binary, ["-c", _conf]) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        _process = Process.Start(psi)!;
        Wait.Until(() =>
        {
            if (_process.HasExited) Assert.Fail($"mosquitto exited with {_process.ExitCode}: {_process.StandardError.ReadToEnd()} {SafeLog()}");
            try { using var c = new TcpClient(); c.Connect("127.0.0.1", Port); return true; }
            catch (SocketException) { return false; }
        }, "mosquitto listening");
    }

    /// <summary>SIGKILL: the broker vanishes without a goodbye, as in a crash.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false }) { _process.Kill(); _process.WaitForExit(); }
        _process?.Dispose();
        _process = null;
    }

    public string SafeLog() => File.Exists(LogFile) ? File.ReadAllText(LogFile) : "";

    private static void Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        using Process p = Process.Start(psi)!;
        p.WaitForExit();
        if (p.ExitCode != 0) Assert.Fail($"{file} {string.Join(' ', args)} failed: {p.StandardError.ReadToEnd()}");
    }

    public void Dispose()
    {
        Kill();
        try { System.IO.Directory.Delete(Directory, true); } catch (IOException) { }
    }
}
