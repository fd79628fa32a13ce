using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RoboRl.Sims.Random;

/// <summary>
/// One xoshiro128+ generator per environment (Blackman &amp; Vigna, "Scrambled linear pseudorandom number
/// generators", 2018), its 4×32-bit state stored as four arrays so that eight environments advance in one
/// Vector256 instruction. Each environment's stream depends only on (seed, environment index): never on
/// the thread, the batch split or the neighbouring lanes — this is what makes runs bit-identical.
/// Only the upper 24 bits are used (the low bits of xoshiro128+ are weak).
/// </summary>
public sealed class LaneRandom
{
    private readonly uint[] _s0, _s1, _s2, _s3;

    public LaneRandom(int paddedCount)
    {
        _s0 = new uint[paddedCount]; _s1 = new uint[paddedCount];
        _s2 = new uint[paddedCount]; _s3 = new uint[paddedCount];
    }

    /// <summary>The generators' state, four words per lane (what a snapshot of the environments holds).</summary>
    internal IEnumerable<uint[]> StateArrays => [_s0, _s1, _s2, _s3];

    /// <summary>Seeds lane <paramref name="index"/> from (seed, index) with SplitMix64, as the xoshiro authors recommend.</summary>
    public void Seed(ulong seed, int index)
    {
        ulong x = seed ^ (0x9E3779B97F4A7C15UL * (ulong)(index + 1));
        ulong a = SplitMix64(ref x), b = SplitMix64(ref x);
        _s0[index] = (uint)a; _s1[index] = (uint)(a >> 32);
        _s2[index] = (uint)b; _s3[index] = (uint)(b >> 32);
        if ((_s0[index] | _s1[index] | _s2[index] | _s3[index]) == 0) _s0[index] = 1; // the all-zero state is a fixed point
    }

    private static ulong SplitMix64(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Next 24 random bits of lane <paramref name="index"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint NextBits24(int index)
    {
        uint s0 = _s0[index], s1 = _s1[index], s2 = _s2[index], s3 = _s3[index];
        uint result = s0 + s3;
        uint t = s1 << 9;
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t;
        s3 = (s3 << 11) | (s3 >> 21);
        _s0[index] = s0; _s1[index] = s1; _s2[index] = s2; _s3[index] = s3;
        return result >> 8;
    }

    /// <summary>Uniform in [0, 1).</summary>
    public float Uniform(int index) => NextBits24(index) * (1f / (1 << 24));

    /// <summary>Uniform in [low, high).</summary>
    public float Uniform(int index, float low, float high) => low + (high - low) * Uniform(index);

    /// <summary>Standard normal (table inverse CDF, see <see cref="NormalTable"/>).</summary>
    public float Normal(int index) => NormalTable.FromBits24(NextBits24(index));

    /// <summary>
    /// A register-resident copy of eight lanes' state, for drawing many numbers in a row without
    /// touching memory: <see cref="Load"/>, draw, <see cref="Store"/>.
    /// </summary>
    public struct Wide
    {
        public Vector256<uint> S0, S1, S2, S3;

        /// <summary>Next 24 random bits per lane, as non-negative ints.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<int> NextBits24()
        {
            Vector256<uint> result = S0 + S3;
            Vector256<uint> t = Vector256.ShiftLeft(S1, 9);
            S2 ^= S0; S3 ^= S1; S1 ^= S2; S0 ^= S3; S2 ^= t;
            S3 = Vector256.ShiftLeft(S3, 11) | Vector256.ShiftRightLogical(S3, 21);
            return Vector256.ShiftRightLogical(result, 8).AsInt32();
        }

        /// <summary>Standard normal per lane.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<float> Normal() => NormalTable.FromBits24(NextBits24());
    }

    /// <summary>Loads the eight lanes starting at <paramref name="firstLane"/> (a multiple of 8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Wide Load(int firstLane) => new()
    {
        S0 = Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(_s0), (nuint)firstLane),
        S1 = Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(_s1), (nuint)firstLane),
        S2 = Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(_s2), (nuint)firstLane),
        S3 = Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(_s3), (nuint)firstLane),
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Store(in Wide wide, int firstLane)
    {
        wide.S0.StoreUnsafe(ref MemoryMarshal.GetArrayDataReference(_s0), (nuint)firstLane);
        wide.S1.StoreUnsafe(ref MemoryMarshal.GetArrayDataReference(_s1), (nuint)firstLane);
        wide.S2.StoreUnsafe(ref MemoryMarshal.GetArrayDataReference(_s2), (nuint)firstLane);
        wide.S3.StoreUnsafe(ref MemoryMarshal.GetArrayDataReference(_s3), (nuint)firstLane);
    }
}

/// <summary>
/// Standard normals by table lookup: the inverse normal CDF tabulated at 4097 points u = i/4096 and
/// interpolated linearly. One draw costs two gathers and a multiply-add, against a log, a square root
/// and a sine for Box–Muller (normal sampling was 0.49 µs of RLtools' 0.72 µs step, FACTS.md). The two
/// end nodes sit at u = 1/16384 and 1 − 1/16384 (±3.6σ: the tails beyond are cut), and the table is
/// rescaled so that the sampled distribution has variance exactly 1; it is symmetric, so its mean is 0.
/// </summary>
public static unsafe class NormalTable
{
    public const int Bits = 12;
    public const int Size = 1 << Bits;
    private static readonly float[] Table = BuildTable();
    private static readonly float* TablePointer = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(Table));

    /// <summary>The tabulated nodes (Size + 1 values), for tests.</summary>
    public static ReadOnlySpan<float> Nodes => Table.AsSpan(0, Size + 1);

    /// <summary>Maps 24 uniform random bits to a standard normal.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float FromBits24(uint bits24)
    {
        int index = (int)(bits24 >> (24 - Bits));
        float fraction = (bits24 & ((1 << (24 - Bits)) - 1)) * (1f / (1 << (24 - Bits)));
        float a = Table[index], b = Table[index + 1];
        return a + fraction * (b - a);
    }

    /// <summary>Maps 24 uniform random bits per lane to standard normals.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> FromBits24(Vector256<int> bits24)
    {
        Vector256<int> index = Vector256.ShiftRightLogical(bits24, 24 - Bits);
        Vector256<float> fraction = Vector256.ConvertToSingle(bits24 & Vector256.Create((1 << (24 - Bits)) - 1)) * Vector256.Create(1f / (1 << (24 - Bits)));
        Vector256<float> a, b;
        if (Avx2.IsSupported)
        {
            a = Avx2.GatherVector256(TablePointer, index, 4);
            b = Avx2.GatherVector256(TablePointer + 1, index, 4);
        }
        else
        {
            a = Vector256.Create(Table[index[0]], Table[index[1]], Table[index[2]], Table[index[3]], Table[index[4]], Table[index[5]], Table[index[6]], Table[index[7]]);
            b = Vector256.Create(Table[index[0] + 1], Table[index[1] + 1], Table[index[2] + 1], Table[index[3] + 1], Table[index[4] + 1], Table[index[5] + 1], Table[index[6] + 1], Table[index[7] + 1]);
        }
        return a + fraction * (b - a); // same rounding as the scalar path (no FMA) so both agree bit for bit
    }

    private static float[] BuildTable()
    {
        // Inverse CDF from a numerically integrated CDF: trapezoid rule on a fine grid over [-9, 9]
        // (error ~1e-9, far below float resolution of the nodes), then linear interpolation.
        const double lo = -9, hi = 9, h = 1e-4;
        int n = (int)Math.Round((hi - lo) / h) + 1;
        var cdf = new double[n];
        double Pdf(double x) => Math.Exp(-0.5 * x * x) / Math.Sqrt(2 * Math.PI);
        for (int i = 1; i < n; i++)
            cdf[i] = cdf[i - 1] + 0.5 * h * (Pdf(lo + (i - 1) * h) + Pdf(lo + i * h));
        double total = cdf[n - 1];
        double Quantile(double p)
        {
            double target = p * total;
            int k = Array.BinarySearch(cdf, target);
            if (k >= 0) return lo + k * h;
            k = ~k; // first index with cdf > target
            double t = (target - cdf[k - 1]) / (cdf[k] - cdf[k - 1]);
            return lo + (k - 1 + t) * h;
        }

        var nodes = new double[Size + 1];
        const double tail = 1.0 / (4 * Size);
        for (int i = 0; i <= Size; i++)
        {
            double p = i == 0 ? tail : i == Size ? 1 - tail : (double)i / Size;
            nodes[i] = Quantile(p);
        }
        for (int i = 0; i <= Size / 2; i++) // exact symmetry: mean exactly zero
        {
            double m = 0.5 * (nodes[i] - nodes[Size - i]);
            nodes[i] = m; nodes[Size - i] = -m;
        }
        // Each cell is drawn with probability 1/Size and is uniform between its two nodes:
        // E[x²] = mean over cells of (a² + ab + b²)/3. Rescale to unit variance.
        double second = 0;
        for (int i = 0; i < Size; i++)
            second += (nodes[i] * nodes[i] + nodes[i] * nodes[i + 1] + nodes[i + 1] * nodes[i + 1]) / 3;
        double scale = 1 / Math.Sqrt(second / Size);

        float[] table = GC.AllocateArray<float>(Size + 2, pinned: true); // pinned: the gather reads it through a pointer
        for (int i = 0; i <= Size; i++) table[i] = (float)(nodes[i] * scale);
        table[Size + 1] = table[Size];
        return table;
    }
}
