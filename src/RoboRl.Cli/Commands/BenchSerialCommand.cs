using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using RoboRl.Serial;

namespace RoboRl.Cli.Commands;

/// <summary>`roborl bench serial`: OBSERVATION → ACTION round trips over a socat pty pair at a fixed rate.</summary>
public static class BenchSerialCommand
{
    public static Command Create()
    {
        var seconds = new Option<double>("--seconds") { Description = "How long to stream", DefaultValueFactory = _ => 60 };
        var rate = new Option<int>("--rate") { Description = "Observations per second", DefaultValueFactory = _ => 1000 };
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
            var options = new SerialBenchOptions(parse.GetValue(seconds), parse.GetValue(rate), parse.GetValue(obsSize), parse.GetValue(transport),
                parse.GetValue(baud), parse.GetValue(port));
            if (options.Seconds <= 0 || options.RateHz is < 1 or > 100_000 || options.ObservationSize is < 1 or > LinkProtocol.MaxObservation)
            {
                Console.Error.WriteLine("bench serial: --seconds must be > 0, --rate 1..100000, --obs-size 1..255");
                return 2;
            }
            bool asJson = parse.GetValue(json);
            var progress = new ConsoleProgress(quiet: asJson);
            SerialBenchResult r;
            try
            {
                r = SerialBench.Run(options, progress);
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException or IOException)
            {
                Console.Error.WriteLine($"bench serial: {e.Message}");
                return 1;
            }
            if (asJson)
            {
                Console.WriteLine(JsonSerializer.Serialize(r, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) } }));
            }
            else
            {
                Console.Error.WriteLine();
                Console.WriteLine($"serial {r.Transport}: {r.ObservationsSent} obs in {r.Seconds:F1} s ({r.AchievedRateHz:F0} Hz), " +
                                  $"rtt p50 {r.RttP50Ms:F3} ms p99 {r.RttP99Ms:F3} ms max {r.RttMaxMs:F3} ms, lost {r.LostFrames}, rejected {r.RejectedFrames}" +
                                  (r.Fault is null ? "" : $", FAULT: {r.Fault}"));
            }
            return r.Fault is null && r.LostFrames == 0 ? 0 : 1;
        });
        return command;
    }

    /// <summary>Writes progress on the calling thread (Progress&lt;T&gt; would post it after the summary).</summary>
    private sealed class ConsoleProgress(bool quiet) : IProgress<double>
    {
        public void Report(double fraction)
        {
            if (!quiet) Console.Error.Write($"\r  {fraction * 100,5:F1} %");
        }
    }
}
