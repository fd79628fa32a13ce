using System.Diagnostics;
using System.Text.RegularExpressions;
using RoboRl.Core.Messages;
using RoboRl.Ros2.Types;

namespace RoboRl.Ros2.Tests;

/// <summary>
/// A Fast DDS (libfastrtps, ROS 2's default middleware) peer built in the test: RoboRl's IDL for the types it uses goes
/// through <c>fastddsgen</c> into a temporary directory, and FastDds/fastdds_peer.cpp is compiled against it with g++.
/// Nothing generated is kept. Usage of the program: the comment at the top of fastdds_peer.cpp.
/// </summary>
public sealed class FastDdsPeer
{
    private static readonly object BuildGate = new();
    private static string? _built;

    /// <summary>The types the peer speaks (with everything they use).</summary>
    public static readonly string[] Types =
        [RosTypes.PoseStamped, RosTypes.Twist, RosTypes.Odometry, RosTypes.LaserScan, RosTypes.DiagnosticArray, RosTypes.Action, RosTypes.CrazyfliePosition];

    public static string Build()
    {
        lock (BuildGate)
        {
            if (_built is not null) return _built;
            string? gen = Env.Which("fastddsgen"), cxx = Env.Which("g++");
            if (gen is null) Env.Missing("fastddsgen is not on PATH (Debian: fastddsgen)");
            if (cxx is null) Env.Missing("g++ is not on PATH (Debian: g++)");
            if (!File.Exists("/usr/include/fastdds/dds/domain/DomainParticipant.hpp")) Env.Missing("Fast DDS headers missing (Debian: libfastrtps-dev)");

            string dir = Path.Combine(Path.GetTempPath(), "roborl-ros2-fastdds", Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "types.idl"), IdlGenerator.Generate(Types.Select(MessageRegistry.Default.Get)));
            var (rc, stdout, err) = Env.Run(gen!, ["-replace", "-d", dir, "types.idl"], dir, TimeSpan.FromMinutes(2));
            Assert.That(rc, Is.EqualTo(0), "fastddsgen failed:\n" + stdout + err);
            File.Copy(Path.Combine(AppContext.BaseDirectory, "FastDds", "fastdds_peer.cpp"), Path.Combine(dir, "fastdds_peer.cpp"));
            // The three translation units in parallel (most of the test's build time), then the link.
            var compiled = new[] { "fastdds_peer.cpp", "types.cxx", "typesPubSubTypes.cxx" }.AsParallel().WithDegreeOfParallelism(3)
                .Select(source => (source, Env.Run(cxx!, ["-std=c++14", "-O1", "-c", source, "-I."], dir, TimeSpan.FromMinutes(5)))).ToArray();
            foreach (var (source, (code, _, error)) in compiled) Assert.That(code, Is.EqualTo(0), $"g++ {source} failed:\n{error}");
            (rc, _, err) = Env.Run(cxx!, ["-o", "fastdds_peer", "fastdds_peer.o", "types.o", "typesPubSubTypes.o", "-lfastrtps", "-lfastcdr", "-lpthread"],
                dir, TimeSpan.FromMinutes(2));
            Assert.That(rc, Is.EqualTo(0), "g++ (link) failed:\n" + err);
            return _built = Path.Combine(dir, "fastdds_peer");
        }
    }

    /// <summary>Starts the peer on <paramref name="domainId"/>; its stdout lines are collected as they come.</summary>
    public static Running Start(int domainId, params string[] args) => StartProcess(domainId, null, null, args);

    /// <summary>As <see cref="Start(int, string[])"/>, with extra environment variables (PEER_HEARTBEAT_MS).</summary>
    public static Running Start(int domainId, IDictionary<string, string>? environment, params string[] args) => StartProcess(domainId, environment, null, args);

    /// <summary>
    /// As <see cref="Start(int, string[])"/>, each stdout line also handed to <paramref name="onLine"/> on the reader's thread as it
    /// arrives (a bridge acts on it without polling <see cref="Running.Lines"/>).
    /// </summary>
    public static Running Start(int domainId, Action<string> onLine, params string[] args) => StartProcess(domainId, null, onLine, args);

    private static Running StartProcess(int domainId, IDictionary<string, string>? environment, Action<string>? onLine, string[] args)
    {
        var psi = new ProcessStartInfo(Build()) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        if (environment is not null) foreach (var (k, v) in environment) psi.Environment[k] = v;
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["ROS_DOMAIN_ID"] = domainId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // No XML profile from the environment changes what the test sets up.
        psi.Environment.Remove("FASTRTPS_DEFAULT_PROFILES_FILE");
        psi.Environment.Remove("FASTDDS_DEFAULT_PROFILES_FILE");
        return new Running(Process.Start(psi)!, onLine);
    }

    /// <summary>A running peer: its output lines, collected on a background reader.</summary>
    public sealed class Running : IDisposable
    {
        private readonly Process _process;
        private readonly List<string> _lines = [];
        private readonly System.Text.StringBuilder _stderr = new();

        internal Running(Process process, Action<string>? onLine)
        {
            _process = process;
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is not { } l) return;
                lock (_lines) _lines.Add(l);
                onLine?.Invoke(l);
            };
            process.ErrorDataReceived += (_, e) => { if (e.Data is { } l) lock (_stderr) _stderr.AppendLine(l); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public string[] Lines { get { lock (_lines) return _lines.ToArray(); } }
        public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }
        public bool HasExited => _process.HasExited;

        /// <summary>One line to the peer's stdin (flushed); false once the peer has gone.</summary>
        public bool WriteLine(string line)
        {
            try
            {
                _process.StandardInput.WriteLine(line);
                return true;
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException) { return false; }
        }

        /// <summary>Ends the peer's stdin (a mode that reads it then exits).</summary>
        public void CloseInput()
        {
            try { _process.StandardInput.Close(); }
            catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException) { }
        }

        /// <summary>The first line starting with <paramref name="prefix"/> (followed by a space or the end), waiting up to <paramref name="timeout"/>.</summary>
        public string? WaitForLine(string prefix, TimeSpan timeout)
        {
            string? found = null;
            Env.Eventually(() => (found = Lines.FirstOrDefault(l => l == prefix || l.StartsWith(prefix + " ", StringComparison.Ordinal))) is not null || _process.HasExited, timeout);
            return found ?? Lines.FirstOrDefault(l => l == prefix || l.StartsWith(prefix + " ", StringComparison.Ordinal));
        }

        public bool WaitForExit(TimeSpan timeout)
        {
            if (!_process.WaitForExit(timeout)) return false;
            _process.WaitForExit(); // drains the output readers
            return true;
        }

        public string Describe() => $"peer output:\n{string.Join('\n', Lines.TakeLast(40))}\nstderr:\n{Stderr}";

        private bool _disposed;

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            if (!_process.HasExited) _process.Kill();
            _process.WaitForExit();
            _process.Dispose();
        }
    }

    /// <summary>Numbers after the word on a line such as "state 1.50 0.1 0.2 0.0 12".</summary>
    public static double[] Numbers(string line) =>
        Regex.Matches(line, @"-?\d+(\.\d+)?([eE][-+]?\d+)?").Select(m => double.Parse(m.Value, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
}
