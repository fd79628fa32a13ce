namespace RoboRl.Mqtt.Tests;

/// <summary>A few-seconds version of `roborl bench mqtt`: every frame sent reaches the independent subscriber.</summary>
public class BenchTests
{
    [TestCase("embedded")]
    [TestCase("mosquitto")]
    public void ShortBenchLosesNothing(string broker)
    {
        if (broker == "mosquitto") _ = Mosquitto.Binary;   // fails in CI, skips elsewhere, when it is missing
        MqttBenchResult r = MqttTelemetryBench.Run(broker, hz: 100, seconds: 3);
        Assert.That(r.Sent, Is.EqualTo(300));
        Assert.That(r.RateLimited, Is.Zero);
        Assert.That(r.Received, Is.EqualTo(r.Sent));
        Assert.That(r.Lost, Is.Zero);
        Assert.That(r.Duplicates, Is.Zero);
        Assert.That(r.TransportGapFrames, Is.Zero);
        Assert.That(r.LatencyP99Us, Is.GreaterThan(0).And.GreaterThanOrEqualTo(r.LatencyP50Us));
    }
}
