namespace RoboRl.Training.Kernels;

/// <summary>The work of a parallel phase: independent items, any of which may run on any thread.</summary>
public interface IPhaseWork
{
    void RunItem(int phase, int item);
}

/// <summary>
/// Runs the items of one phase at a time on the calling thread and up to <c>threads − 1</c> helper threads, and returns
/// when all are done (a barrier). Items are claimed, not assigned: a helper that the OS has not scheduled claims
/// nothing, and the caller runs every item itself instead of waiting for it. Each item must write only its own
/// outputs; then results do not depend on which thread ran what, nor on the thread count.
///
/// Helpers spin while phases follow each other closely (a TD3 update is a few phases 50–200 µs apart) and block on an
/// event after ~15 ms without work (evaluations, checkpoints), so they burn no core between training bursts. With
/// <see cref="Solo"/> set, the caller runs every phase alone and the helpers sleep: a spinning helper is one more
/// runnable thread, which on a machine whose other core is busy takes time from the caller instead of adding any
/// (<see cref="Td3Update"/> measures which setting is faster). Nothing is allocated per phase.
/// </summary>
public sealed class PhaseRunner : IDisposable
{
    const int SpinBeforeSleep = 50_000; // × SpinWait(5) ≈ 15 ms
    const long Closed = -1; // generation −1: no claim succeeds

    readonly Thread[] _helpers;
    readonly ManualResetEventSlim _wake = new(false);
    // Phase state, written by the caller before it publishes the generation.
    IPhaseWork? _work;
    int _phase, _itemCount;
    // (generation << 32) | next item: claimed by compare-exchange, so a thread still finishing the previous phase
    // cannot take an item of the next one.
    long _claim;
    int _generation, _done, _sleeping;
    volatile bool _stopping, _solo;
    Exception? _failure;

    /// <param name="threads">Threads working on each phase, the caller included (1 = everything on the caller).</param>
    public PhaseRunner(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "must be ≥ 1");
        Threads = threads;
        _helpers = new Thread[threads - 1];
        for (int t = 0; t < _helpers.Length; t++)
        {
            _helpers[t] = new Thread(HelperLoop) { IsBackground = true, Name = $"roborl-update-{t + 1}" };
            _helpers[t].Start();
        }
    }

    /// <summary>Threads per phase, the caller included.</summary>
    public int Threads { get; }

    /// <summary>Whether the caller runs the phases alone while the helpers sleep (results are the same either way).</summary>
    public bool Solo
    {
        get => _solo;
        set
        {
            if (_solo == value) return;
            _solo = value;
            if (!value && Interlocked.Exchange(ref _sleeping, 0) != 0) _wake.Set();
        }
    }

    /// <summary>Runs <paramref name="items"/> items of <paramref name="phaseId"/> and returns when all are done.</summary>
    public void Run(IPhaseWork phaseWork, int phaseId, int items)
    {
        if (items <= 0) return;
        if (_helpers.Length == 0 || _solo)
        {
            for (int i = 0; i < items; i++) phaseWork.RunItem(phaseId, i);
            return;
        }
        // Close claiming before the phase's fields change (a helper that read them mid-change fails its claim),
        // then open the new generation's items and publish it.
        Interlocked.Exchange(ref _claim, Closed);
        Volatile.Write(ref _work, phaseWork);
        Volatile.Write(ref _phase, phaseId);
        Volatile.Write(ref _itemCount, items);
        Volatile.Write(ref _done, 0);
        int g = _generation == int.MaxValue ? 1 : _generation + 1;
        Volatile.Write(ref _claim, (long)g << 32);
        Volatile.Write(ref _generation, g);
        if (Interlocked.Exchange(ref _sleeping, 0) != 0) _wake.Set();

        RunClaimed(g, phaseWork, phaseId, items);
        var spinner = new SpinWait();
        while (Volatile.Read(ref _done) < items) spinner.SpinOnce(sleep1Threshold: -1);
        if (_failure is { } e)
        {
            _failure = null;
            throw new InvalidOperationException("a parallel update phase failed on a helper thread", e);
        }
    }

    void RunClaimed(int g, IPhaseWork phaseWork, int phaseId, int items)
    {
        while (true)
        {
            long current = Volatile.Read(ref _claim);
            if ((int)(current >> 32) != g || (int)current >= items) return; // another phase, or nothing left
            if (Interlocked.CompareExchange(ref _claim, current + 1, current) != current) continue;
            try { phaseWork.RunItem(phaseId, (int)current); }
            catch (Exception e) { _failure ??= e; }
            Interlocked.Increment(ref _done);
        }
    }

    void HelperLoop()
    {
        int seen = 0;
        while (!_stopping)
        {
            int spins = 0;
            int g;
            while ((g = Volatile.Read(ref _generation)) == seen && !_stopping)
            {
                if (++spins < SpinBeforeSleep && !_solo)
                {
                    Thread.SpinWait(5);
                    continue;
                }
                Interlocked.Exchange(ref _sleeping, 1); // a full fence: the checks below see what the caller wrote before it
                if (Volatile.Read(ref _generation) != seen || _stopping || (!_solo && spins < SpinBeforeSleep))
                {
                    Volatile.Write(ref _sleeping, 0);
                    continue;
                }
                _wake.Wait();
                _wake.Reset();
                spins = 0;
            }
            if (_stopping) return;
            seen = g;
            // The phase's fields were written before the generation; a stale read fails the claim's generation check.
            IPhaseWork? phaseWork = Volatile.Read(ref _work);
            int phaseId = Volatile.Read(ref _phase), items = Volatile.Read(ref _itemCount);
            if (phaseWork is not null) RunClaimed(g, phaseWork, phaseId, items);
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _wake.Set();
        foreach (Thread t in _helpers) t.Join();
        _wake.Dispose();
    }
}

/// <summary>
/// Decides, round by round (a TD3 critic update and the actor and target steps that follow it), whether the rounds run
/// on both threads or on the caller alone, by timing both: each cycle runs <see cref="ProbeRounds"/> rounds with two
/// threads, as many alone, then <see cref="ExploitRounds"/> rounds with whichever took less time. On an idle machine two
/// threads win, and the probe of one thread costs ~1.5 % of a cycle at half speed; while another process holds the
/// second core one thread wins and is kept. Each probe's slowest <see cref="DiscardedRounds"/> rounds are left out of
/// the comparison: a probe lasts a few milliseconds, and one descheduling of a thread inside it (a scheduler tick, the
/// JIT's or the GC's thread) made two threads look slower and kept one thread for the next 2 048 rounds: on an idle
/// 2-core machine, two of six default hover runs flew 15 000–17 000 of their 57 000 rounds alone. Bookkeeping only: the caller times its rounds.
/// </summary>
public sealed class ThreadChoice
{
    public const int ProbeRounds = 32, ExploitRounds = 2048; // even: each probe sees as many rounds with an actor step as without
    public const int DiscardedRounds = 4;
    readonly long[] _probeTicks = new long[2 * ProbeRounds]; // each probe round's time: two threads first, then one
    long _roundTicks;
    int _round = -1;
    bool _exploitSolo;

    /// <summary>Ends the previous round (if any) and starts the next; returns whether it runs on the caller alone.</summary>
    public bool BeginRound()
    {
        if (_round >= 0)
        {
            if (Solo) SoloRounds++;
            if (_round < 2 * ProbeRounds) _probeTicks[_round] = _roundTicks;
            if (_round == 2 * ProbeRounds - 1)
                _exploitSolo = FastestRounds(_probeTicks.AsSpan(ProbeRounds)) < FastestRounds(_probeTicks.AsSpan(0, ProbeRounds));
        }
        _roundTicks = 0;
        _round = _round + 1 == 2 * ProbeRounds + ExploitRounds ? 0 : _round + 1;
        Solo = _round < ProbeRounds ? false : _round < 2 * ProbeRounds || _exploitSolo;
        return Solo;
    }

    /// <summary>The time of a probe's rounds without its <see cref="DiscardedRounds"/> slowest (sorts the span).</summary>
    static long FastestRounds(Span<long> roundTicks)
    {
        roundTicks.Sort();
        long sum = 0;
        foreach (long ticks in roundTicks[..^DiscardedRounds]) sum += ticks;
        return sum;
    }

    /// <summary>Whether the current round runs alone.</summary>
    public bool Solo { get; private set; }

    /// <summary>Adds time spent in the current round (any number of calls per round).</summary>
    public void Record(long elapsedTicks) => _roundTicks += elapsedTicks;

    /// <summary>Rounds that ran on the caller alone, finished ones.</summary>
    public long SoloRounds { get; private set; }
}
