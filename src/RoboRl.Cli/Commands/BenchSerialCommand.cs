using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using RoboRl.Serial;

namespace RoboRl.Cli.Commands;

/// <summary>`roborl bench serial`: OBSERVATION → ACTION round trips over a socat pty pair at a fixed rate.</summary>
public static class BenchSerialCommand
{
    public static Command Create()
    {
        var seconds = new Option<double>("--seconds") { Description = "How long to stream", DefaultValueFactory = _ => 60 };
        var rate = new Option<int>("--rate") { Description = "Observations per second", DefaultValueFactory = _ => 1000, HelpName = "hz" };
        var obsSize = new Option<int>("--obs-size") { Description = "Floats per observation (1..255)", DefaultValueFactory = _ => 18 };
        var transport = new Option<SerialTransportKind>("--transport")
        {
            Description = "pty: the pty's file descriptor (poll + read); serialport: System.IO.Ports",
            DefaultValueFactory = _ => SerialTransportKind.Pty,
        };
        var port = new Option<string?>("--port") { Description = "Bench an existing device that answers OBSERVATION with ACTION (e.g. firmware-bridge's link_responder, the emulated MCU) instead of a socat pair" };
        var baud = new Option<int>("--baud") { Description = "Baud rate for --transport serialport", DefaultValueFactory = _ => 921600 };
        var json = new Option<bool>("--json") { Description = "Print the result as one JSON object" };
        var command = new Command("serial", "Serial link round trips (OBSERVATION -> ACTION) over a socat pty pair: rtt p50/p99, lost frames")
        {
            seconds, rate, obsSize, transport, port, baud, json,
        };
        command.SetAction(parse =>
        {
            var io = new CommandIo("bench serial", parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, parse.GetValue(json));
            var options = new SerialBenchOptions(parse.GetValue(seconds), parse.GetValue(rate), parse.GetValue(obsSize), parse.GetValue(transport),
                parse.GetValue(baud), parse.GetValue(port));
            if (options.Seconds <= 0 || options.RateHz is < 1 or > 100_000 || options.ObservationSize is < 1 or > LinkProtocol.MaxObservation)
                throw CliException.BadInput("--seconds must be > 0, --rate 1..100000, --obs-size 1..255");
            if (options.Port is { } device && !File.Exists(device))
                throw CliException.BadInput($"--port {device}: {(Directory.Exists(device) ? "is a directory" : "no such device")}; expected a serial device or pty");
            var line = ProgressLine.For(io.Error);
            SerialBenchResult r;
            try
            {
                r = SerialBench.Run(options, new SyncProgress(f => line.Report(string.Create(CultureInfo.InvariantCulture, $"  {f * 100,5:F1} %"))));
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException or IOException)
            {
                throw CliException.Fault(e.Message);
            }
            line.End();
            io.Text.WriteLine($"serial {r.Transport}: {r.ObservationsSent} obs in {r.Seconds:F1} s ({r.AchievedRateHz:F0} Hz), " +
                              $"rtt p50 {r.RttP50Ms:F3} ms p99 {r.RttP99Ms:F3} ms max {r.RttMaxMs:F3} ms, lost {r.LostFrames}, rejected {r.RejectedFrames}" +
                              (r.Fault is null ? "" : $", FAULT: {r.Fault}"));
            var result = new JsonObject
            {
                ["transport"] = r.Transport.ToString().ToLowerInvariant(),
                ["duration_s"] = r.Seconds,
                ["rate_hz"] = r.RateHz,
                ["observations_sent"] = r.ObservationsSent,
                ["actions_received"] = r.ActionsReceived,
                ["lost_frames"] = r.LostFrames,
                ["rejected_frames"] = r.RejectedFrames,
                ["rtt_p50_ms"] = r.RttP50Ms,
                ["rtt_p99_ms"] = r.RttP99Ms,
                ["rtt_max_ms"] = r.RttMaxMs,
                ["achieved_rate_hz"] = r.AchievedRateHz,
                ["fault"] = r.Fault,
            };
            return io.Result(result, r.Fault is null && r.LostFrames == 0 ? ExitCodes.Ok : ExitCodes.Failed);
        });
        return command;
    }

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post it after the summary).</summary>
    private sealed class SyncProgress(Action<double> report) : IProgress<double>
    {
        public void Report(double fraction) => report(fraction);
    }
}
