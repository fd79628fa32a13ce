using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using RoboRl.Mqtt;

namespace RoboRl.Cli.Commands;

/// <summary>`roborl bench mqtt`: telemetry through the MQTT transport at a fixed rate, counted at an independent subscriber.</summary>
public static class BenchMqttCommand
{
    public static Command Create()
    {
        var seconds = new Option<double>("--seconds") { Description = "How long to publish", DefaultValueFactory = _ => 60 };
        var hz = new Option<double>("--hz") { Description = "Telemetry frames per second", DefaultValueFactory = _ => 100, HelpName = "hz" };
        var broker = new Option<string>("--broker") { Description = "embedded (MQTTnet, in process) or mosquitto (started for the run)", DefaultValueFactory = _ => "embedded" };
        broker.AcceptOnlyFromAmong("embedded", "mosquitto");
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of the table" };
        var command = new Command("mqtt", "MQTT telemetry: frames sent at --hz for --seconds, received by an independent subscriber, lost, latency p50/p99")
        {
            seconds, hz, broker, json,
        };
        command.SetAction(parse => Run(parse.GetValue(broker)!, parse.GetValue(hz), parse.GetValue(seconds), parse.GetValue(json),
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return command;
    }

    public static int Run(string broker, double hz, double seconds, bool json, TextWriter output, TextWriter progress)
    {
        var io = new CommandIo("bench mqtt", output, progress, json);
        return io.Run(() => Measure(broker, hz, seconds, io));
    }

    private static int Measure(string broker, double hz, double seconds, CommandIo io)
    {
        TextWriter output = io.Output, progress = io.Error;
        if (!(hz > 0 && hz <= 1000)) throw CliException.BadInput($"--hz {hz}: must be in (0, 1000]");
        if (!(seconds > 0)) throw CliException.BadInput($"--seconds {seconds}: must be positive");
        if (broker == "mosquitto" && MosquittoProcess.FindBinary() is null)
            throw CliException.Fault("mosquitto is not installed (Debian: apt-get install mosquitto)");
        progress.WriteLine($"bench mqtt: {broker} broker, {hz.ToString(CultureInfo.InvariantCulture)} Hz for {seconds.ToString(CultureInfo.InvariantCulture)} s");
        MqttBenchResult r = MqttTelemetryBench.Run(broker, hz, seconds, line => progress.WriteLine("bench mqtt: " + line));
        var result = new Dictionary<string, object>
        {
            ["sent"] = r.Sent,
            ["received"] = r.Received,
            ["lost"] = r.Lost,
            ["latency_p50_us"] = Math.Round(r.LatencyP50Us, 1),
            ["latency_p99_us"] = Math.Round(r.LatencyP99Us, 1),
            ["latency_max_us"] = Math.Round(r.LatencyMaxUs, 1),
            ["duplicates"] = r.Duplicates,
            ["transport_gap_frames"] = r.TransportGapFrames,
            ["rate_limited"] = r.RateLimited,
            ["broker"] = r.Broker,
            ["rate_hz"] = r.Hz,
            ["duration_s"] = r.Seconds,
        };
        if (!io.Json)
        {
            output.WriteLine($"broker {r.Broker}  rate {r.Hz:G4} Hz  duration {r.Seconds:G4} s");
            output.WriteLine($"sent {r.Sent}  received {r.Received}  lost {r.Lost}  duplicates {r.Duplicates}  transport gap {r.TransportGapFrames}  rate-limited {r.RateLimited}");
            output.WriteLine($"latency publish→subscriber: p50 {r.LatencyP50Us:F0} µs  p99 {r.LatencyP99Us:F0} µs  max {r.LatencyMaxUs:F0} µs");
        }
        progress.WriteLine($"bench mqtt: {r.Received}/{r.Sent} frames received, {r.Lost} lost, p99 {r.LatencyP99Us:F0} µs");
        return io.Result(result);
    }
}
