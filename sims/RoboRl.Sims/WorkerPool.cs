namespace RoboRl.Sims;

/// <summary>Work that a <see cref="WorkerPool"/> splits: called with disjoint ranges that together cover all items.</summary>
public interface IParallelWork
{
    /// <summary>Runs items [<paramref name="begin"/>, <paramref name="end"/>) on the calling thread.</summary>
    void Execute(int begin, int end);
}

/// <summary>
/// A persistent pool of threads that runs a range of items split into chunks. Threads take chunks from a
/// shared counter until none are left, so a thread that wakes late or is descheduled (a busy machine) just
/// takes fewer chunks instead of holding up the step. Nothing is allocated per <see cref="Run"/>: threads
/// start once and waiting uses ManualResetEventSlim (spins briefly, then blocks). The calling thread works
/// too. Which thread runs which chunk varies from run to run, so results must not depend on it: callers keep
/// per-item state (the simulator keeps per-environment random generators), which makes results identical
/// whatever the thread count.
/// </summary>
public sealed class WorkerPool : IDisposable
{
    /// <summary>Chunks per active thread: enough to even out late starters, few enough to keep the counter cold.</summary>
    private const int ChunksPerThread = 8;

    private readonly Thread[] _threads;
    private readonly ManualResetEventSlim[] _start;
    private readonly ManualResetEventSlim[] _done;
    private IParallelWork? _work;
    private int _itemCount, _chunkSize, _chunkCount, _nextChunk;
    private volatile bool _stopping;
    private Exception? _failure;

    /// <param name="threadCount">Threads working on each run, including the caller; 0 means all cores.</param>
    public WorkerPool(int threadCount = 0)
    {
        if (threadCount < 0) throw new ArgumentOutOfRangeException(nameof(threadCount), threadCount, "thread count must be >= 0 (0 = all cores)");
        ThreadCount = threadCount == 0 ? Environment.ProcessorCount : threadCount;
        int helpers = ThreadCount - 1;
        _threads = new Thread[helpers];
        _start = new ManualResetEventSlim[helpers];
        _done = new ManualResetEventSlim[helpers];
        for (int i = 0; i < helpers; i++)
        {
            _start[i] = new ManualResetEventSlim(false, spinCount: 200);
            _done[i] = new ManualResetEventSlim(false, spinCount: 200);
            // ManualResetEventSlim creates its lock object (24 bytes) the first time a Wait has to block;
            // a 1 ms timed wait now makes that happen here instead of inside some later step.
            _start[i].Wait(1);
            _done[i].Wait(1);
            int worker = i;
            _threads[i] = new Thread(() => Loop(worker)) { IsBackground = true, Name = $"RoboRl worker {worker + 1}" };
            _threads[i].Start();
        }
    }

    public int ThreadCount { get; }

    /// <summary>
    /// Runs <paramref name="work"/> over [0, itemCount); returns when every item is done. At most one thread per
    /// <paramref name="minItemsPerThread"/> items takes part: waking a thread costs microseconds, so small
    /// batches use fewer threads (or only the caller).
    /// </summary>
    public void Run(IParallelWork work, int itemCount, int minItemsPerThread = 1)
    {
        int active = Math.Clamp(itemCount / Math.Max(1, minItemsPerThread), 1, ThreadCount);
        if (active == 1)
        {
            work.Execute(0, itemCount);
            return;
        }
        _work = work;
        _itemCount = itemCount;
        _chunkSize = Math.Max(1, (itemCount + active * ChunksPerThread - 1) / (active * ChunksPerThread));
        _chunkCount = (itemCount + _chunkSize - 1) / _chunkSize;
        _nextChunk = 0;
        for (int i = 0; i < active - 1; i++) _start[i].Set();
        try { TakeChunks(); }
        catch (Exception e) { _failure = e; } // still wait for the helpers before reporting it
        for (int i = 0; i < active - 1; i++)
        {
            _done[i].Wait();
            _done[i].Reset();
        }
        _work = null;
        if (_failure is { } failure)
        {
            _failure = null;
            throw new AggregateException("a worker failed", failure);
        }
    }

    private void TakeChunks()
    {
        while (true)
        {
            int chunk = Interlocked.Increment(ref _nextChunk) - 1;
            if (chunk >= _chunkCount) return;
            int begin = chunk * _chunkSize;
            _work!.Execute(begin, Math.Min(begin + _chunkSize, _itemCount));
        }
    }

    private void Loop(int helper)
    {
        ManualResetEventSlim start = _start[helper], done = _done[helper];
        while (true)
        {
            start.Wait();
            start.Reset();
            if (_stopping) return;
            try { TakeChunks(); }
            catch (Exception e) { _failure = e; }
            done.Set();
        }
    }

    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        foreach (ManualResetEventSlim start in _start) start.Set();
        foreach (Thread thread in _threads) thread.Join();
        foreach (ManualResetEventSlim e in _start) e.Dispose();
        foreach (ManualResetEventSlim e in _done) e.Dispose();
    }
}
