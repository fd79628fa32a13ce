using BenchmarkDotNet.Attributes;
using RoboRl.Core.Robots;
using RoboRl.Mqtt;

namespace RoboRl.Benchmarks;

/// <summary>What the MQTT transport costs the node's tick: Publish (rate limit + ring copy) and the tick-side reads.</summary>
[MemoryDiagnoser]
public class MqttBenchmarks
{
    private MqttTransport _transport = null!;
    private TelemetryFrame _frame;
    private long _t;

    [GlobalSetup]
    public void Setup()
    {
        // Not started: measures only the tick side (the I/O thread and broker run elsewhere).
        _transport = new MqttTransport(new MqttTransportOptions { Robot = "bench", TelemetryHz = 1000 });
        _frame = new TelemetryFrame { State = new RobotStateSample { Orientation = System.Numerics.Quaternion.Identity } };
    }

    [GlobalCleanup]
    public void Cleanup() => _transport.Dispose();

    [Benchmark(Baseline = true)]
    public void Publish()
    {
        _t += 1_000_000;   // one frame per telemetry period: every call reaches the ring
        _frame.TimestampNs = _t;
        _transport.Publish(_frame);
    }

    [Benchmark]
    public void PublishRateLimited()
    {
        _t += 1_000;       // far faster than telemetry_hz: almost every call is thinned out
        _frame.TimestampNs = _t;
        _transport.Publish(_frame);
    }

    [Benchmark]
    public bool TickSideReads() => _transport.TryDequeue(out _) | _transport.TryGetLatest(out TeleopSample _);
}
