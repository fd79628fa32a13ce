using System.Numerics;
using System.Runtime.CompilerServices;

namespace RoboRl.Training.Kernels;

/// <summary>
/// exp, log and a quarter-turn cosine on <see cref="Vector{T}"/> lanes, for the kernels' tanh and noise. .NET 10's
/// Vector.Exp / Log / Cos measured 3–7 ns per element here, no faster than the scalar MathF calls (the profile showed
/// libm's logf and cosf inside them), so these are written out: textbook range reductions and Taylor series carried
/// far enough that truncation stays below float rounding (errors of a few ulps; tests compare with MathF).
/// Plain arithmetic and bit operations only, so every lane count gives the same result.
/// </summary>
public static class VectorFunctions
{
    /// <summary>e^x for x in [−87, 88] (clamped there: below, e^x is subnormal; above, it overflows).
    /// x = k·ln 2 + r with |r| ≤ ln 2 / 2 (ln 2 split in a short high part and a correction, so k·ln2_high is exact),
    /// e^r by its Taylor series to r⁷ (next term &lt; 6e-9 relative), then scaled by 2^k through the exponent bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Exp(Vector<float> x)
    {
        x = Vector.Clamp(x, new Vector<float>(-87f), new Vector<float>(88f));
        Vector<float> k = Vector.Floor(Vector.FusedMultiplyAdd(x, new Vector<float>(1.442695041f), new Vector<float>(0.5f)));
        Vector<float> r = Vector.FusedMultiplyAdd(k, new Vector<float>(-0.693359375f), x); // ln 2 = 0.693359375 − 2.12194440e-4
        r = Vector.FusedMultiplyAdd(k, new Vector<float>(2.12194440e-4f), r);
        Vector<float> p = new(1f / 5040f);
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(1f / 720f));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(1f / 120f));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(1f / 24f));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(1f / 6f));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(0.5f));
        p = Vector.FusedMultiplyAdd(p, r, Vector<float>.One);
        p = Vector.FusedMultiplyAdd(p, r, Vector<float>.One);
        Vector<int> scale = Vector.ShiftLeft(Vector.ConvertToInt32(k) + new Vector<int>(127), 23);
        return p * Vector.AsVectorSingle(scale);
    }

    /// <summary>ln x for positive, normal x. x = 2^e·m with m in [√½, √2); ln m = 2·atanh(s), s = (m − 1)/(m + 1),
    /// |s| ≤ 0.172, by its series to s¹¹ (next term &lt; 2e-10).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Log(Vector<float> x)
    {
        Vector<int> bits = Vector.AsVectorInt32(x);
        Vector<int> exponent = Vector.ShiftRightArithmetic(bits, 23) - new Vector<int>(127);
        Vector<float> m = Vector.AsVectorSingle((bits & new Vector<int>(0x007FFFFF)) | new Vector<int>(0x3F800000)); // [1, 2)
        Vector<int> high = Vector.GreaterThan(m, new Vector<float>(1.41421356f)); // all ones where m > √2
        m = Vector.ConditionalSelect(high, m * new Vector<float>(0.5f), m);
        exponent -= high; // −(−1) = +1 where halved
        Vector<float> s = (m - Vector<float>.One) / (m + Vector<float>.One);
        Vector<float> s2 = s * s;
        Vector<float> series = new(1f / 11f);
        series = Vector.FusedMultiplyAdd(series, s2, new Vector<float>(1f / 9f));
        series = Vector.FusedMultiplyAdd(series, s2, new Vector<float>(1f / 7f));
        series = Vector.FusedMultiplyAdd(series, s2, new Vector<float>(1f / 5f));
        series = Vector.FusedMultiplyAdd(series, s2, new Vector<float>(1f / 3f));
        series = Vector.FusedMultiplyAdd(series, s2, Vector<float>.One);
        Vector<float> logM = (s + s) * series;
        return Vector.FusedMultiplyAdd(Vector.ConvertToSingle(exponent), new Vector<float>(0.693147181f), logM);
    }

    /// <summary>cos(2π·q) for q in [0, ¼] (an angle of at most π/2): Taylor series to θ¹² (next term &lt; 7e-9).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> CosQuarterTurn(Vector<float> q)
    {
        Vector<float> theta = q * new Vector<float>(2 * MathF.PI);
        Vector<float> t2 = theta * theta;
        Vector<float> c = new(1f / 479001600f);
        c = Vector.FusedMultiplyAdd(c, t2, new Vector<float>(-1f / 3628800f));
        c = Vector.FusedMultiplyAdd(c, t2, new Vector<float>(1f / 40320f));
        c = Vector.FusedMultiplyAdd(c, t2, new Vector<float>(-1f / 720f));
        c = Vector.FusedMultiplyAdd(c, t2, new Vector<float>(1f / 24f));
        c = Vector.FusedMultiplyAdd(c, t2, new Vector<float>(-0.5f));
        return Vector.FusedMultiplyAdd(c, t2, Vector<float>.One);
    }
}
