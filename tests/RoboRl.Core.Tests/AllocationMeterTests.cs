namespace RoboRl.Core.Tests;

/// <summary>The shared allocation check still sees allocations: a body that allocates in every batch is reported.</summary>
public class AllocationMeterTests
{
    static object? _sink;

    [Test]
    public void ABodyThatAllocatesEveryBatchIsReported()
    {
        long bytes = AllocationMeter.FewestBytes(() => { for (int i = 0; i < 10; i++) _sink = new byte[100]; });
        Assert.That(bytes, Is.GreaterThanOrEqualTo(10 * 100));
    }

    [Test]
    public void ABodyThatAllocatesOnlyInOneBatchIsNot()
    {
        int batch = 0;
        long bytes = AllocationMeter.FewestBytes(() => { if (batch++ == 1) _sink = new byte[5000]; });
        Assert.That(bytes, Is.Zero);
        Assert.That(batch, Is.EqualTo(3));
    }

    [Test]
    public void AllocatingCallsCountsOnlyCallsThatAllocated()
    {
        AllocatingCalls calls = default;
        foreach (long bytes in new long[] { 0, 24, 0, 0, 5416, 0 }) calls.Add(bytes);
        Assert.That((calls.Calls, calls.Bytes), Is.EqualTo((2L, 5440L)));
    }
}
