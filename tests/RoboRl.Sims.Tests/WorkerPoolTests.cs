namespace RoboRl.Sims.Tests;

public class WorkerPoolTests
{
    private sealed class Recorder(int count) : IParallelWork
    {
        public readonly int[] Visits = new int[count];
        public readonly int[] Thread = new int[count];
        public int DelayMs { get; init; }
        public void Execute(int begin, int end)
        {
            for (int i = begin; i < end; i++)
            {
                Interlocked.Increment(ref Visits[i]);
                Thread[i] = Environment.CurrentManagedThreadId;
                if (DelayMs > 0) System.Threading.Thread.Sleep(DelayMs);
            }
        }
    }

    [Test]
    public void EveryItemRunsOnceSplitAcrossThreads()
    {
        using var pool = new WorkerPool(3);
        Assert.That(pool.ThreadCount, Is.EqualTo(3));
        for (int run = 0; run < 50; run++)
        {
            var work = new Recorder(100);
            pool.Run(work, 100);
            Assert.That(work.Visits, Is.All.EqualTo(1));
        }
        // With items that take a while, the helpers take part (chunks are taken from a shared counter).
        var slow = new Recorder(60) { DelayMs = 2 };
        pool.Run(slow, 60);
        Assert.That(slow.Visits, Is.All.EqualTo(1));
        Assert.That(slow.Thread.Distinct().Count(), Is.GreaterThanOrEqualTo(2));
    }

    [Test]
    public void SmallBatchesStayOnTheCaller()
    {
        using var pool = new WorkerPool(3);
        var work = new Recorder(5) { DelayMs = 1 };
        pool.Run(work, 5, minItemsPerThread: 10);
        Assert.That(work.Visits, Is.All.EqualTo(1));
        Assert.That(work.Thread.Distinct().Single(), Is.EqualTo(Environment.CurrentManagedThreadId));
    }

    [Test]
    public void WorkerFailureSurfacesOnTheCaller()
    {
        using var pool = new WorkerPool(2);
        var failing = new Failing();
        Assert.Throws<AggregateException>(() => pool.Run(failing, 10));
        var work = new Recorder(10);
        pool.Run(work, 10); // still usable afterwards
        Assert.That(work.Visits, Is.All.EqualTo(1));
    }

    private sealed class Failing : IParallelWork
    {
        public void Execute(int begin, int end)
        {
            if (begin > 0) throw new InvalidOperationException("boom");
        }
    }

    [Test]
    public void DefaultIsAllCores()
    {
        using var pool = new WorkerPool();
        Assert.That(pool.ThreadCount, Is.EqualTo(Environment.ProcessorCount));
    }
}
