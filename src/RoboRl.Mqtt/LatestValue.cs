namespace RoboRl.Mqtt;

/// <summary>
/// The newest value of a struct, written by I/O threads (serialised by the caller) and read by the tick
/// thread without locks or allocation: a seqlock (odd version = being written). A reader that keeps
/// meeting a write in progress returns its own last consistent copy rather than wait.
/// </summary>
internal sealed class LatestValue<T> where T : struct
{
    private T _value;
    private int _version;
    private bool _hasValue;
    private T _readerCache;        // reader thread only
    private bool _readerHasCache;

    /// <summary>Writer (one at a time: callers hold their own lock).</summary>
    public void Write(in T value)
    {
        Interlocked.Increment(ref _version);   // odd: being written
        Interlocked.MemoryBarrier();
        _value = value;
        _hasValue = true;
        Interlocked.Increment(ref _version);   // even: consistent
    }

    /// <summary>Reader (the tick thread): false before the first write.</summary>
    public bool TryRead(out T value)
    {
        for (int attempt = 0; attempt < 4; attempt++)
        {
            int before = Volatile.Read(ref _version);
            if ((before & 1) != 0) continue;
            T copy = _value;
            bool has = _hasValue;
            Interlocked.MemoryBarrier();
            if (Volatile.Read(ref _version) != before) continue;
            if (!has) break;
            _readerCache = copy;
            _readerHasCache = true;
            value = copy;
            return true;
        }
        value = _readerCache;
        return _readerHasCache;
    }
}
