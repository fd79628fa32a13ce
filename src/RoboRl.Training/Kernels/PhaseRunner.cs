using System.Diagnostics;

namespace RoboRl.Training.Kernels;

/// <summary>The work of a parallel phase: independent items, any of which may run on any thread.</summary>
public interface IPhaseWork
{
    void RunItem(int phase, int item);
}

/// <summary>
/// Runs the items of one phase at a time on the calling thread and up to <c>threads − 1</c> helper threads, and returns
/// when all are done (a barrier). Items are claimed, not assigned: a helper that the OS has not scheduled (another
/// process holds the core) claims nothing, and the caller runs every item itself instead of waiting for it, so a
/// busy machine degrades to one thread instead of stalling. Each item must write only its own outputs; then results
/// do not depend on which thread ran what, nor on the thread count.
///
/// Helpers spin while phases follow each other closely (a TD3 update is a few phases 50–200 µs apart) and block on an
/// event after ~15 ms idle (during evaluations, checkpoints, the simulator's step), so
/// they burn no core between training bursts. When another process keeps a helper off its core, waiting for it would
/// cost more than the second core gives, so after a stall the caller runs the next phases alone (<see cref="Stalls"/>).
/// Nothing is allocated per phase.
/// </summary>
public sealed class PhaseRunner : IDisposable
{
    const int SpinBeforeSleep = 50_000; // × SpinWait(5) ≈ 15 ms
    const long Closed = -1; // generation −1: no claim succeeds
    // A phase's items take ≤ ~0.2 ms here; a wait of 1 ms means the helper was descheduled. The caller then runs
    // ~0.5 s of phases alone (the helper falls asleep) before trying two threads again.
    const double StallSeconds = 1e-3;
    const int SoloPhasesAfterStall = 2_000;

    readonly Thread[] helpers;
    readonly ManualResetEventSlim wake = new(false);
    // Phase state, written by the caller before it publishes the generation.
    IPhaseWork? work;
    int phase, itemCount;
    // (generation << 32) | next item: claimed by compare-exchange, so a thread still finishing the previous phase
    // cannot take an item of the next one.
    long claim;
    int generation, done, sleeping;
    volatile bool stopping;
    Exception? failure;
    int soloPhasesLeft;

    /// <param name="threads">Threads working on each phase, the caller included (1 = everything on the caller).</param>
    public PhaseRunner(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "must be ≥ 1");
        Threads = threads;
        helpers = new Thread[threads - 1];
        for (int t = 0; t < helpers.Length; t++)
        {
            helpers[t] = new Thread(HelperLoop) { IsBackground = true, Name = $"roborl-update-{t + 1}" };
            helpers[t].Start();
        }
    }

    /// <summary>Threads per phase, the caller included.</summary>
    public int Threads { get; }

    /// <summary>Phases after which the caller had waited more than 1 ms for a helper (each is followed by phases on the caller alone).</summary>
    public long Stalls { get; private set; }

    /// <summary>Runs <paramref name="items"/> items of <paramref name="phaseId"/> and returns when all are done.</summary>
    public void Run(IPhaseWork phaseWork, int phaseId, int items)
    {
        if (items <= 0) return;
        if (helpers.Length == 0 || soloPhasesLeft > 0)
        {
            if (soloPhasesLeft > 0) soloPhasesLeft--;
            for (int i = 0; i < items; i++) phaseWork.RunItem(phaseId, i);
            return;
        }
        // Close claiming before the phase's fields change (a helper that read them mid-change fails its claim),
        // then open the new generation's items and publish it.
        Interlocked.Exchange(ref claim, Closed);
        Volatile.Write(ref work, phaseWork);
        Volatile.Write(ref phase, phaseId);
        Volatile.Write(ref itemCount, items);
        Volatile.Write(ref done, 0);
        int g = generation == int.MaxValue ? 1 : generation + 1;
        Volatile.Write(ref claim, (long)g << 32);
        Volatile.Write(ref generation, g);
        if (Interlocked.Exchange(ref sleeping, 0) != 0) wake.Set();

        RunClaimed(g, phaseWork, phaseId, items);
        // Wait for items a helper still runs. A helper that the OS took off its core mid-item (another process wants it)
        // holds the caller for a whole time slice: after such a stall the next phases run on the caller alone.
        long waitStart = 0;
        var spinner = new SpinWait();
        while (Volatile.Read(ref done) < items)
        {
            if (waitStart == 0) waitStart = Stopwatch.GetTimestamp();
            spinner.SpinOnce(sleep1Threshold: -1);
        }
        if (waitStart != 0 && Stopwatch.GetElapsedTime(waitStart).TotalSeconds > StallSeconds)
        {
            Stalls++;
            soloPhasesLeft = SoloPhasesAfterStall;
        }
        if (failure is { } e)
        {
            failure = null;
            throw new InvalidOperationException("a parallel update phase failed on a helper thread", e);
        }
    }

    void RunClaimed(int g, IPhaseWork phaseWork, int phaseId, int items)
    {
        while (true)
        {
            long current = Volatile.Read(ref claim);
            if ((int)(current >> 32) != g || (int)current >= items) return; // another phase, or nothing left
            if (Interlocked.CompareExchange(ref claim, current + 1, current) != current) continue;
            try { phaseWork.RunItem(phaseId, (int)current); }
            catch (Exception e) { failure ??= e; }
            Interlocked.Increment(ref done);
        }
    }

    void HelperLoop()
    {
        int seen = 0;
        while (!stopping)
        {
            int spins = 0;
            int g;
            while ((g = Volatile.Read(ref generation)) == seen && !stopping)
            {
                if (++spins < SpinBeforeSleep)
                {
                    Thread.SpinWait(5);
                    continue;
                }
                Volatile.Write(ref sleeping, 1);
                if (Volatile.Read(ref generation) != seen || stopping)
                {
                    Volatile.Write(ref sleeping, 0);
                    continue;
                }
                wake.Wait();
                wake.Reset();
                spins = 0;
            }
            if (stopping) return;
            seen = g;
            // The phase's fields were written before the generation; a stale read fails the claim's generation check.
            IPhaseWork? phaseWork = Volatile.Read(ref work);
            int phaseId = Volatile.Read(ref phase), items = Volatile.Read(ref itemCount);
            if (phaseWork is not null) RunClaimed(g, phaseWork, phaseId, items);
        }
    }

    public void Dispose()
    {
        stopping = true;
        wake.Set();
        foreach (Thread t in helpers) t.Join();
        wake.Dispose();
    }
}
