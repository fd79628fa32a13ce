using System.Diagnostics;
using Npgsql;

namespace RoboRl.Cluster.Tests;

/// <summary>
/// A throw-away PostgreSQL server (Debian's `postgresql` package): initdb into a temporary directory, `postgres` on a
/// free loopback port, trust authentication; stopped and deleted on dispose. As root (CI) it runs as the `postgres`
/// user via runuser, since PostgreSQL refuses to run as root.
/// </summary>
sealed class PostgresServer : IDisposable
{
    readonly string _directory, _bin;
    readonly Process _server;
    readonly bool _asPostgresUser;

    public int Port { get; }
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Pooling=false";

    /// <summary>The server binaries' directory, or null when PostgreSQL is not installed.</summary>
    public static string? FindBin() =>
        Directory.Exists("/usr/lib/postgresql") ? Directory.GetDirectories("/usr/lib/postgresql").Order().Select(d => Path.Combine(d, "bin"))
            .LastOrDefault(d => File.Exists(Path.Combine(d, "initdb"))) : null;

    public PostgresServer(string bin)
    {
        this._bin = bin;
        _asPostgresUser = Environment.UserName == "root";
        _directory = Directory.CreateTempSubdirectory("roborl-pg-").FullName;
        if (_asPostgresUser && !OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(_directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead
                | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            Run("chown", "postgres", _directory);
        }
        Run(Tool("initdb"), "-D", Path.Combine(_directory, "data"), "-A", "trust", "-U", "postgres", "--no-sync");
        Port = ClusterConnection.FreeTcpPort();
        _server = Start(Tool("postgres"), "-D", Path.Combine(_directory, "data"), "-p", Port.ToString(), "-k", _directory, "-h", "127.0.0.1",
            "-c", "fsync=off", "-c", "synchronous_commit=off");
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var connection = new NpgsqlConnection(ConnectionString);
                connection.Open();
                return;
            }
            catch (NpgsqlException) when (clock.Elapsed < TimeSpan.FromSeconds(30) && !_server.HasExited) { Thread.Sleep(100); }
        }
    }

    string Tool(string name) => Path.Combine(_bin, name);

    ProcessStartInfo Info(string file, string[] arguments)
    {
        var psi = _asPostgresUser && file != "chown" ? new ProcessStartInfo("runuser") : new ProcessStartInfo(file);
        if (_asPostgresUser && file != "chown") foreach (string a in new[] { "-u", "postgres", "--", file }) psi.ArgumentList.Add(a);
        foreach (string a in arguments) psi.ArgumentList.Add(a);
        psi.RedirectStandardOutput = psi.RedirectStandardError = true;
        psi.WorkingDirectory = _directory;
        return psi;
    }

    void Run(string file, params string[] arguments)
    {
        using var p = Process.Start(Info(file, arguments))!;
        string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed ({p.ExitCode}): {output}");
    }

    Process Start(string file, params string[] arguments)
    {
        var p = Process.Start(Info(file, arguments))!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    public void Dispose()
    {
        try { Run(Tool("pg_ctl"), "-D", Path.Combine(_directory, "data"), "stop", "-m", "immediate"); }
        catch (InvalidOperationException) { if (!_server.HasExited) _server.Kill(entireProcessTree: true); }
        _server.WaitForExit(10_000);
        _server.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
