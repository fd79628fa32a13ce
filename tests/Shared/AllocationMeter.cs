namespace RoboRl.Testing;

/// <summary>
/// Measures what a hot path allocates on the calling thread (<see cref="GC.GetAllocatedBytesForCurrentThread"/>).
/// A single measured window flakes: on a loaded machine the runtime's tier-1 promotion can land inside it and
/// allocate a few KB on the measuring thread (seen as 5416 B in a CI run, with nothing in the measured code that
/// allocates; dotnet/BenchmarkDotNet#1543 and dotnet/runtime#63487 describe the same). So the body runs in several
/// back-to-back batches and the fewest bytes any batch allocated is returned: code that allocates per call (or
/// periodically within a batch) allocates in every batch, while the runtime's one-off lands in one.
/// </summary>
public static class AllocationMeter
{
    /// <summary>The fewest managed bytes one of <paramref name="batches"/> runs of <paramref name="batch"/> allocated.
    /// Build the delegate (and anything it captures) before calling: that allocation is the caller's.</summary>
    public static long FewestBytes(Action batch, int batches = 3)
    {
        long fewest = long.MaxValue;
        for (int b = 0; b < batches; b++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            batch();
            fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        return fewest;
    }
}

/// <summary>
/// For a loop that cannot run in batches (a lock-step flight measures each tick): the calls that allocated and their
/// bytes. A hot path that allocates does so on every call or periodically; the runtime's one-off tier-up lands on at
/// most one call, so tests require <see cref="Calls"/> ≤ 1.
/// </summary>
public struct AllocatingCalls
{
    public long Calls, Bytes;

    public void Add(long bytes)
    {
        if (bytes <= 0) return;
        Calls++;
        Bytes += bytes;
    }
}
