namespace RoboRl.Sims;

/// <summary>Work that a <see cref="WorkerPool"/> splits: called once per worker with its share.</summary>
public interface IParallelWork
{
    /// <summary>Runs items [<paramref name="begin"/>, <paramref name="end"/>) on the calling worker.</summary>
    void Execute(int begin, int end);
}

/// <summary>
/// A persistent pool of threads that splits a range of items into one contiguous share per thread.
/// Nothing is allocated per <see cref="Run"/>: threads are started once, shares are computed from the
/// item count, and waiting uses ManualResetEventSlim (spins briefly, then blocks). The calling thread
/// works too (it takes share 0). Results must not depend on the split; callers keep per-item state.
/// </summary>
public sealed class WorkerPool : IDisposable
{
    private readonly Thread[] _threads;
    private readonly ManualResetEventSlim[] _start;
    private readonly ManualResetEventSlim[] _done;
    private IParallelWork? _work;
    private int _itemCount, _activeCount;
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
            int worker = i + 1;
            _threads[i] = new Thread(() => Loop(worker)) { IsBackground = true, Name = $"RoboRl worker {worker}" };
            _threads[i].Start();
        }
    }

    public int ThreadCount { get; }

    /// <summary>
    /// Runs <paramref name="work"/> over [0, itemCount) split across the threads; returns when all shares are done.
    /// Each thread gets at least <paramref name="minItemsPerThread"/> items: waking a thread costs microseconds,
    /// so small batches use fewer threads (or only the caller).
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
        _activeCount = active;
        for (int i = 0; i < active - 1; i++) _start[i].Set();
        Execute(0);
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

    private void Execute(int worker)
    {
        int begin = (int)((long)_itemCount * worker / _activeCount);
        int end = (int)((long)_itemCount * (worker + 1) / _activeCount);
        if (begin < end) _work!.Execute(begin, end);
    }

    private void Loop(int worker)
    {
        ManualResetEventSlim start = _start[worker - 1], done = _done[worker - 1];
        while (true)
        {
            start.Wait();
            start.Reset();
            if (_stopping) return;
            try { Execute(worker); }
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
