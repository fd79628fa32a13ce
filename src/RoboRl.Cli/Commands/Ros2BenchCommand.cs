using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using RoboRl.Ros2;

namespace RoboRl.Cli.Commands;

/// <summary><c>roborl bench ros2</c>: Twist round trips between two ROS 2 nodes over Cyclone DDS on loopback.</summary>
public static class Ros2BenchCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print one JSON object (rtt_p50_us, rtt_p99_us, messages, lost, ...)." };
        var messages = new Option<int>("--messages") { Description = "Round trips to time (one in flight at a time).", DefaultValueFactory = _ => 10_000 };
        var rate = new Option<double>("--rate") { Description = "Soak: send at this rate [Hz] instead of one at a time (reliable QoS; counts lost messages).", HelpName = "hz" };
        var seconds = new Option<double>("--seconds") { Description = "Soak duration [s] (with --rate).", DefaultValueFactory = _ => 60 };
        var domain = new Option<int?>("--domain") { Description = "DDS domain (default: a random one in 100..229, loopback only)." };
        var inProcess = new Option<bool>("--in-process") { Description = "Echo from a second node in this process (Cyclone then delivers directly, not over UDP)." };
        var pongRole = new Option<bool>("--pong") { Description = "Internal: be the echo process until stdin closes.", Hidden = true };
        var cmd = new Command("ros2", "geometry_msgs/Twist round trip C# node ↔ C# node in another process over Cyclone DDS (loopback).")
            { json, messages, rate, seconds, domain, inProcess, pongRole };
        cmd.SetAction(parse =>
        {
            var io = new CommandIo("bench ros2", parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, parse.GetValue(json));
            var output = io.Text;
            int domainId = parse.GetValue(domain) ?? Random.Shared.Next(100, 230);
            if (domainId is < 0 or > 232) throw CliException.BadInput($"--domain {domainId}: must be 0..232");
            if (parse.GetValue(pongRole))
            {
                Ros2Benchmark.RunPong(domainId, () => Console.In.ReadToEnd());
                return 0;
            }
            var pong = parse.GetValue(inProcess) ? null : PongProcess(domainId);
            double rateHz = parse.GetValue(rate);
            int count = parse.GetValue(messages);
            if (count < 1) throw CliException.BadInput($"--messages {count}: must be at least 1");
            if (rateHz < 0 || !(parse.GetValue(seconds) > 0)) throw CliException.BadInput("--rate must be ≥ 0 and --seconds positive");
            io.Error.WriteLine(rateHz > 0
                    ? $"soak: Twist at {rateHz} Hz for {parse.GetValue(seconds)} s, reliable, domain {domainId} (loopback)..."
                    : $"round trips: {count} Twist messages, domain {domainId} (loopback)...");
            Ros2BenchmarkResult r;
            try
            {
                r = rateHz > 0 ? Ros2Benchmark.Soak(rateHz, parse.GetValue(seconds), domainId, pong)
                    : Ros2Benchmark.RoundTrips(count, domainId, pong);
            }
            catch (Exception e) when (e is RoboRl.Ros2.Native.DdsException or TimeoutException or DllNotFoundException)
            {
                throw CliException.Fault(e.Message);
            }
            var inv = CultureInfo.InvariantCulture;
            output.WriteLine(string.Create(inv,
                $"ros2 {r.Mode} ({(r.PongInOtherProcess ? "pong in another process" : "pong in this process")}): {r.Messages} messages, {r.Lost} lost, RTT p50 {r.RttP50Us:F1} µs, p99 {r.RttP99Us:F1} µs, max {r.RttMaxUs:F1} µs, {r.RateHz:F0} msg/s"));
            return io.Result(new JsonObject
            {
                ["mode"] = r.Mode,
                ["messages"] = r.Messages,
                ["lost"] = r.Lost,
                ["rtt_p50_us"] = Math.Round(r.RttP50Us, 2),
                ["rtt_p99_us"] = Math.Round(r.RttP99Us, 2),
                ["rtt_max_us"] = Math.Round(r.RttMaxUs, 2),
                ["rate_hz"] = Math.Round(r.RateHz, 1),
                ["duration_s"] = Math.Round(r.Seconds, 3),
                ["domain_id"] = r.DomainId,
                ["transport"] = "cyclonedds-loopback",
                ["pong"] = r.PongInOtherProcess ? "process" : "in-process",
                ["type"] = "geometry_msgs/msg/Twist",
            });
        });
        return cmd;
    }

    /// <summary>This same program with <c>bench ros2 --pong</c> (through <c>dotnet roborl.dll</c> when run that way).</summary>
    private static System.Diagnostics.ProcessStartInfo PongProcess(int domainId)
    {
        string exe = Environment.ProcessPath ?? throw new InvalidOperationException("cannot find this program's path");
        var psi = new System.Diagnostics.ProcessStartInfo(exe) { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(exe) == "dotnet")
            psi.ArgumentList.Add(System.Reflection.Assembly.GetEntryAssembly()!.Location);
        foreach (var a in new[] { "bench", "ros2", "--pong", "--domain", domainId.ToString(CultureInfo.InvariantCulture) }) psi.ArgumentList.Add(a);
        return psi;
    }
}
