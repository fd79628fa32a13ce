namespace RoboRl.Mqtt;

/// <summary>
/// A single-producer / single-consumer ring that never blocks the producer: when the consumer falls
/// behind, the producer overwrites the oldest slot, and the consumer counts what it lost. Each slot
/// carries a stamp (a per-slot seqlock): the producer marks the slot "being written" (negative), writes
/// the item, then stamps it with its sequence + 1; the consumer copies the item and accepts it only if
/// the stamp was the expected one before and after the copy. No locks, no allocation after construction.
/// The producer is the node's tick thread; the consumer is the transport's I/O thread.
/// </summary>
internal sealed class OverwritingRing<T> where T : struct
{
    private readonly T[] _items;
    private readonly long[] _stamps;
    private readonly int _mask;
    private long _head;      // next sequence the producer writes (written by the producer only)
    private long _tail;      // next sequence the consumer reads (consumer only)
    private long _overwritten;

    public OverwritingRing(int capacity)
    {
        int size = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(2, capacity));
        _items = new T[size];
        _stamps = new long[size];
        _mask = size - 1;
    }

    public int Capacity => _items.Length;

    /// <summary>Items written so far (producer count).</summary>
    public long Written => Volatile.Read(ref _head);

    /// <summary>
    /// Items lost to overwriting: those the consumer found overwritten, plus those already overwritten that it has not
    /// reached yet (so that a consumer that cannot read — broker away — still reports the gap as it grows). Exact on the
    /// consumer's thread; a racy but close count elsewhere.
    /// </summary>
    public long Overwritten => Volatile.Read(ref _overwritten) + Math.Max(0, Volatile.Read(ref _head) - Volatile.Read(ref _tail) - _items.Length);

    /// <summary>Producer: stores a copy of <paramref name="item"/>; never waits.</summary>
    public void Write(in T item)
    {
        long sequence = _head;
        int index = (int)(sequence & _mask);
        Volatile.Write(ref _stamps[index], -(sequence + 1));
        Interlocked.MemoryBarrier(); // the "being written" mark must be visible before any byte of the item
        _items[index] = item;
        Volatile.Write(ref _stamps[index], sequence + 1);
        Volatile.Write(ref _head, sequence + 1);
    }

    /// <summary>Consumer: the oldest item not yet read; false when none. Counts overwritten items.</summary>
    public bool TryRead(out T item) => TryRead(out item, out _);

    /// <summary>Consumer: as <see cref="TryRead(out T)"/>, with the item's sequence number (0, 1, 2, … in write order).</summary>
    public bool TryRead(out T item, out long sequence)
    {
        while (true)
        {
            long head = Volatile.Read(ref _head);
            if (_tail >= head) { item = default; sequence = -1; return false; }
            if (head - _tail > _items.Length)
            {
                long lost = head - _items.Length - _tail;
                // Count first, then move the tail: a racy reader of Overwritten may briefly count these twice, never zero times.
                Interlocked.Add(ref _overwritten, lost);
                Volatile.Write(ref _tail, _tail + lost);
            }
            int index = (int)(_tail & _mask);
            long expected = _tail + 1;
            if (Volatile.Read(ref _stamps[index]) != expected) { SkipLapped(); continue; }
            item = _items[index];
            Interlocked.MemoryBarrier(); // the copy must complete before the stamp is re-checked
            if (Volatile.Read(ref _stamps[index]) != expected) { SkipLapped(); continue; }
            sequence = _tail;
            Volatile.Write(ref _tail, _tail + 1);
            return true;
        }
    }

    // The producer lapped the slot under us (or is writing it): the item at _tail is lost.
    private void SkipLapped()
    {
        Interlocked.Increment(ref _overwritten);
        Volatile.Write(ref _tail, _tail + 1);
    }
}
