using System.Numerics;
using System.Runtime.CompilerServices;

namespace RoboRl.Training.Kernels;

/// <summary>
/// Standard normal numbers addressed by (stream, counter, index) rather than drawn from a sequence: element i of
/// update c is the same number whichever thread computes it and in whatever order, so a batch's noise can be split
/// between threads, and a resumed run needs no generator state (the counter is the update number it saved).
/// Each number is Box–Muller on two uniforms from a 32-bit integer hash of its index, keyed by the stream and
/// counter, with <see cref="VectorFunctions"/>' log and cosine (the "counter-based" generator idea of Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
/// SC 2011; the hash is Wellons' lowbias32). Vectorised with <see cref="Vector{T}"/>.
/// </summary>
public static unsafe class CounterNoise
{
    /// <summary>destination[i] = the standard normal number of (<paramref name="stream"/>, <paramref name="counter"/>,
    /// <paramref name="firstIndex"/> + i) for i &lt; <paramref name="count"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void FillNormal(ulong stream, long counter, int firstIndex, float* destination, int count)
    {
        ulong key = Mix(stream ^ Mix((ulong)counter + 0x9E3779B97F4A7C15UL));
        var key1 = new Vector<uint>((uint)key);
        var key2 = new Vector<uint>((uint)(key >> 32));
        int w = Vector<float>.Count;
        Vector<uint> lanes = LaneIndices();
        var minusTwo = new Vector<float>(-2f);
        var unit = new Vector<float>(1f / (1 << 24));
        var quarterUnit = new Vector<float>(0.25f / (1 << 23));
        float* tail = stackalloc float[w];
        for (int i = 0; i < count; i += w)
        {
            // u1 in (0, 1] (log-safe) from the top 24 bits of a hash of 2·index; from a hash of 2·index + 1, a sign bit and
            // q uniform in [0, ¼): ±cos(2π·q) has the distribution of cos(2π·u) for u uniform in [0, 1), without the
            // range reduction a full turn would need.
            Vector<uint> index = (new Vector<uint>((uint)(firstIndex + i)) + lanes) * new Vector<uint>(2);
            Vector<uint> h1 = Hash(Hash(index + key1) ^ key2), h2 = Hash(Hash(index + Vector<uint>.One + key1) ^ key2);
            Vector<float> u1 = (Vector.ConvertToSingle(Vector.AsVectorInt32(Vector.ShiftRightLogical(h1, 8))) + Vector<float>.One) * unit;
            Vector<float> q = Vector.ConvertToSingle(Vector.AsVectorInt32(Vector.ShiftRightLogical(h2, 9))) * quarterUnit;
            Vector<float> radius = Vector.SquareRoot(minusTwo * VectorFunctions.Log(u1));
            Vector<float> z = radius * VectorFunctions.CosQuarterTurn(q);
            // Flip the sign where bit 0 of h2 is set (xor of the float's sign bit).
            z = Vector.AsVectorSingle(Vector.AsVectorUInt32(z) ^ Vector.ShiftLeft(h2 & Vector<uint>.One, 31));
            if (i + w <= count) z.Store(destination + i);
            else
            {
                z.Store(tail);
                for (int l = 0; i + l < count; l++) destination[i + l] = tail[l];
            }
        }
    }

    /// <summary>lowbias32 (C. Wellons, "Prospecting for hash functions", 2018): a bijective 32-bit mixer.</summary>
    static Vector<uint> Hash(Vector<uint> x)
    {
        x ^= Vector.ShiftRightLogical(x, 16);
        x *= new Vector<uint>(0x7FEB352Du);
        x ^= Vector.ShiftRightLogical(x, 15);
        x *= new Vector<uint>(0x846CA68Bu);
        x ^= Vector.ShiftRightLogical(x, 16);
        return x;
    }

    /// <summary>SplitMix64's finaliser (Steele, Lea &amp; Flood, OOPSLA 2014).</summary>
    static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    static Vector<uint> LaneIndices()
    {
        Span<uint> lanes = stackalloc uint[Vector<uint>.Count];
        for (int l = 0; l < lanes.Length; l++) lanes[l] = (uint)l;
        return new Vector<uint>(lanes);
    }
}
