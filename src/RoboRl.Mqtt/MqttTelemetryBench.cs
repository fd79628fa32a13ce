using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Protocol;
using RoboRl.Core.Robots;

namespace RoboRl.Mqtt;

/// <summary>What one telemetry benchmark run measured.</summary>
public sealed record MqttBenchResult(
    string Broker, double Hz, double Seconds, long Sent, long Received, long Lost, long Duplicates,
    double LatencyP50Us, double LatencyP99Us, double LatencyMaxUs, long TransportGapFrames, long RateLimited);

/// <summary>
/// Publishes telemetry through <see cref="MqttTransport"/> at a fixed rate, as the node's tick would, and
/// counts at an independent MQTTnet subscriber. Latency is from the Publish call (frame timestamp) to the
/// subscriber's receive callback, both on <see cref="NodeClock"/> (same process). The transport's rate limit
/// is switched off so that every frame the bench publishes is offered to the broker, even when a publisher
/// stalled by a busy machine catches up in a burst (RateLimited stays 0; it is reported as a check).
/// </summary>
public static class MqttTelemetryBench
{
    public static MqttBenchResult Run(string broker, double hz, double seconds, Action<string>? progress = null)
    {
        if (broker is not ("embedded" or "mosquitto")) throw new ArgumentException($"broker must be embedded or mosquitto, found \"{broker}\"", nameof(broker));
        MosquittoProcess? mosquitto = broker == "mosquitto" ? MosquittoProcess.Start() : null;
        try
        {
            var options = new MqttTransportOptions
            {
                Robot = "bench",
                Broker = mosquitto is null ? BrokerKind.Embedded : BrokerKind.External,
                Host = "127.0.0.1",
                Port = mosquitto?.Port ?? 0,
                TelemetryHz = double.PositiveInfinity,   // no rate limit: the bench itself sets the rate
                BufferFrames = 4096,
            };
            using var transport = new MqttTransport(options);
            transport.Start();
            if (!transport.WaitConnected(TimeSpan.FromSeconds(30))) throw new InvalidOperationException($"transport did not connect: {transport.Status.LastError}");
            int port = transport.Broker?.Port ?? options.Port;

            var latenciesNs = new ConcurrentQueue<long>();
            var seen = new ConcurrentDictionary<long, byte>();
            long duplicates = 0;
            using IMqttClient subscriber = new MqttClientFactory().CreateMqttClient();
            subscriber.ApplicationMessageReceivedAsync += e =>
            {
                long now = NodeClock.NowNs;
                var reader = new Utf8JsonReader(e.ApplicationMessage.Payload);
                using JsonDocument doc = JsonDocument.ParseValue(ref reader);
                long seq = doc.RootElement.GetProperty("seq").GetInt64();
                long tNs = doc.RootElement.GetProperty("t_ns").GetInt64();
                if (seen.TryAdd(seq, 0)) latenciesNs.Enqueue(now - tNs); else Interlocked.Increment(ref duplicates);
                return Task.CompletedTask;
            };
            subscriber.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId("roborl-bench-subscriber").Build())
                .GetAwaiter().GetResult();
            subscriber.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
                .WithTopicFilter(transport.Topics.TelemetryState, MqttQualityOfServiceLevel.AtMostOnce).Build()).GetAwaiter().GetResult();

            // The "tick": a deadline schedule (sleep, then spin the last stretch) so the rate holds.
            long periodTicks = (long)(Stopwatch.Frequency / hz);
            long total = (long)Math.Round(hz * seconds);
            long start = Stopwatch.GetTimestamp();
            var frame = new TelemetryFrame { Mode = RoboRl.Core.Messages.NodeMode.Policy };
            for (long k = 0; k < total; k++)
            {
                long due = start + k * periodTicks;
                long wait;
                while ((wait = due - Stopwatch.GetTimestamp()) > 0)
                {
                    if (wait * 1000 / Stopwatch.Frequency > 2) Thread.Sleep(1); else Thread.SpinWait(50);
                }
                frame.TimestampNs = NodeClock.NowNs;
                frame.State.Sequence = (uint)k;
                frame.State.TimestampNs = frame.TimestampNs;
                transport.Publish(frame);
                if (progress is not null && k > 0 && k % (long)Math.Max(1, hz * 10) == 0) progress($"{k * 100 / total}% ({k}/{total} frames)");
            }
            MqttTransportStatus status = transport.Status;
            long sent = status.FramesOffered - status.FramesRateLimited;
            // Let in-flight messages land (bounded wait).
            var settle = Stopwatch.StartNew();
            while (seen.Count < sent && settle.Elapsed < TimeSpan.FromSeconds(5)) Thread.Sleep(10);
            long received = seen.Count;
            long[] lat = latenciesNs.ToArray();
            Array.Sort(lat);
            double Pct(double p) => lat.Length == 0 ? double.NaN : lat[Math.Min(lat.Length - 1, (int)(p * lat.Length))] / 1000.0;
            subscriber.DisconnectAsync().GetAwaiter().GetResult();
            return new MqttBenchResult(broker, hz, seconds, sent, received, sent - received, Interlocked.Read(ref duplicates),
                Pct(0.50), Pct(0.99), lat.Length == 0 ? double.NaN : lat[^1] / 1000.0, transport.Status.TelemetryGapFrames, status.FramesRateLimited);
        }
        finally
        {
            mosquitto?.Dispose();
        }
    }
}
