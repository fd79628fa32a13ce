using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace RoboRl.Training.Kernels;

/// <summary>What a matrix kernel does to each result as it stores it (fused, so the result is written once).</summary>
public enum Epilogue
{
    /// <summary>Store as computed.</summary>
    None,
    /// <summary>max(x, 0).</summary>
    Relu,
    /// <summary>tanh(x) (scalar: only small output layers and non-default hidden layers use it).</summary>
    Tanh,
    /// <summary>x · [mask &gt; 0]: back through a ReLU whose output is the mask (torch's relu backward: 0 at 0).</summary>
    ReluDerivative,
    /// <summary>x · (1 − mask²): back through a tanh whose output is the mask.</summary>
    TanhDerivative,
}

/// <summary>
/// Matrix kernels for the small, fixed shapes of TD3's networks (batch 64–128, widths 1–149), on raw row-major
/// float memory. Portable SIMD only: <see cref="Vector{T}"/> with <see cref="Vector.FusedMultiplyAdd(Vector{float}, Vector{float}, Vector{float})"/>
/// is 8 lanes with AVX2 + FMA and 4 lanes with NEON (Vector256 would run in software on arm64), so the same code
/// runs on both; lane counts only change the order of the sums, i.e. rounding.
///
/// The main kernel is a register-tiled "broadcast" GEMM (the BLIS micro-kernel shape): a tile of 4 result rows ×
/// 2 vectors of columns lives in 8 accumulator registers while the reduction runs; each step loads two vectors of
/// B, broadcasts four elements of A and issues 8 FMAs, so the FMA units, not the loads, bound it. A is addressed
/// through two strides (row, reduction step), which makes Aᵀ·D (weight gradients) the same kernel as A·B.
/// Columns that do not fill a vector (outputs of 1 or 4) take a scalar path or <see cref="MultiplyTransposed"/>.
/// </summary>
public static unsafe class SmallGemm
{
    /// <summary>
    /// C[i, j] = epilogue(bias[j] + Σ_p A(i, p)·B[p, j]) for i &lt; <paramref name="m"/>, j &lt; <paramref name="n"/>,
    /// p &lt; <paramref name="k"/>, where A(i, p) = a[i·aRow + p·aStep] (aRow = lda, aStep = 1 for A; aRow = 1,
    /// aStep = lda for Aᵀ). <paramref name="bias"/> may be null (zero). The derivative epilogues read
    /// mask[i·ldMask + j].
    /// </summary>
    public static void Multiply(float* a, int aRow, int aStep, float* b, int ldb, float* c, int ldc, int m, int n, int k,
        float* bias, Epilogue epilogue, float* mask = null, int ldMask = 0)
    {
        // One compiled kernel per epilogue (generic over a struct): the JIT specialises each, so the inner loops carry
        // no branch on the epilogue and the accumulators stay in registers.
        switch (epilogue)
        {
            case Epilogue.None: Multiply<Identity>(a, aRow, aStep, b, ldb, c, ldc, m, n, k, bias, mask, ldMask); break;
            case Epilogue.Relu: Multiply<ReluOutput>(a, aRow, aStep, b, ldb, c, ldc, m, n, k, bias, mask, ldMask); break;
            case Epilogue.ReluDerivative: Multiply<ReluGradient>(a, aRow, aStep, b, ldb, c, ldc, m, n, k, bias, mask, ldMask); break;
            case Epilogue.TanhDerivative: Multiply<TanhGradient>(a, aRow, aStep, b, ldb, c, ldc, m, n, k, bias, mask, ldMask); break;
            case Epilogue.Tanh:
                Multiply<Identity>(a, aRow, aStep, b, ldb, c, ldc, m, n, k, bias, mask, ldMask);
                for (int i = 0; i < m; i++) Tanh(c + i * ldc, n);
                break;
            default: throw new ArgumentOutOfRangeException(nameof(epilogue), epilogue, null);
        }
    }

    static void Multiply<TEpilogue>(float* a, int aRow, int aStep, float* b, int ldb, float* c, int ldc, int m, int n, int k,
        float* bias, float* mask, int ldMask) where TEpilogue : struct, IEpilogue
    {
        int w = Vector<float>.Count;
        int j = 0;
        for (; j + 2 * w <= n; j += 2 * w)
        {
            int i = 0;
            for (; i + 4 <= m; i += 4)
                Tile4x2<TEpilogue>(a + i * aRow, aRow, aStep, b + j, ldb, c + i * ldc + j, ldc, k, bias == null ? null : bias + j,
                    mask == null ? null : mask + i * ldMask + j, ldMask);
            for (; i < m; i++)
                Tile1x2<TEpilogue>(a + i * aRow, aStep, b + j, ldb, c + i * ldc + j, k, bias == null ? null : bias + j,
                    mask == null ? null : mask + i * ldMask + j);
        }
        for (; j + w <= n; j += w)
        {
            int i = 0;
            for (; i + 4 <= m; i += 4)
                Tile4x1<TEpilogue>(a + i * aRow, aRow, aStep, b + j, ldb, c + i * ldc + j, ldc, k, bias == null ? null : bias + j,
                    mask == null ? null : mask + i * ldMask + j, ldMask);
            for (; i < m; i++)
                Tile1x1<TEpilogue>(a + i * aRow, aStep, b + j, ldb, c + i * ldc + j, k, bias == null ? null : bias + j,
                    mask == null ? null : mask + i * ldMask + j);
        }
        for (; j < n; j++)
            for (int i = 0; i < m; i++)
            {
                float* ai = a + i * aRow;
                float sum = bias != null ? bias[j] : 0;
                for (int p = 0; p < k; p++) sum = MathF.FusedMultiplyAdd(ai[p * aStep], b[p * ldb + j], sum);
                c[i * ldc + j] = TEpilogue.Apply(sum, mask == null ? 0 : mask[i * ldMask + j]);
            }
    }

    /// <summary>
    /// <see cref="Multiply"/> for results exactly 4 wide (the hover actor's motor outputs) with A read row by row:
    /// one <see cref="Vector128{T}"/> per result row, 8 rows at a time, the same broadcast scheme. On 8-lane machines
    /// the main kernel would take its scalar path here; Vector128 is accelerated on x86 and arm64 alike.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply4(float* a, int lda, float* b, float* c, int ldc, int m, int k, float* bias, Epilogue epilogue)
    {
        Vector128<float> start = bias != null ? Vector128.Load(bias) : Vector128<float>.Zero;
        int i = 0;
        for (; i + 8 <= m; i += 8)
        {
            float* a0 = a + i * lda;
            Vector128<float> c0 = start, c1 = start, c2 = start, c3 = start, c4 = start, c5 = start, c6 = start, c7 = start;
            for (int p = 0; p < k; p++)
            {
                Vector128<float> bp = Vector128.Load(b + 4 * p);
                float* ap = a0 + p;
                c0 = Vector128.FusedMultiplyAdd(Vector128.Create(ap[0]), bp, c0);
                c1 = Vector128.FusedMultiplyAdd(Vector128.Create(ap[lda]), bp, c1);
                c2 = Vector128.FusedMultiplyAdd(Vector128.Create(ap[2 * lda]), bp, c2);
                c3 = Vector128.FusedMultiplyAdd(Vector128.Create(ap[3 * lda]), bp, c3);
                c4 = Vector128.FusedMultiplyAdd(Vector128.Create(ap[4 * lda]), bp, c4);
                c5 = Vector128.FusedMultiplyAdd(Vector128.Create(ap[5 * lda]), bp, c5);
                c6 = Vector128.FusedMultiplyAdd(Vector128.Create(ap[6 * lda]), bp, c6);
                c7 = Vector128.FusedMultiplyAdd(Vector128.Create(ap[7 * lda]), bp, c7);
            }
            float* ci = c + i * ldc;
            c0.Store(ci); c1.Store(ci + ldc); c2.Store(ci + 2 * ldc); c3.Store(ci + 3 * ldc);
            c4.Store(ci + 4 * ldc); c5.Store(ci + 5 * ldc); c6.Store(ci + 6 * ldc); c7.Store(ci + 7 * ldc);
        }
        for (; i < m; i++)
        {
            float* ai = a + i * lda;
            Vector128<float> acc = start;
            for (int p = 0; p < k; p++) acc = Vector128.FusedMultiplyAdd(Vector128.Create(ai[p]), Vector128.Load(b + 4 * p), acc);
            acc.Store(c + i * ldc);
        }
        if (epilogue == Epilogue.Tanh && ldc == 4) Tanh(c, 4 * m);
        else if (epilogue != Epilogue.None)
            for (i = 0; i < m; i++)
                for (int j = 0; j < 4; j++) c[i * ldc + j] = Apply(c[i * ldc + j], epilogue, 0);
    }

    /// <summary>
    /// x ← tanh(x) on <paramref name="count"/> values, vectorised: an odd Taylor polynomial to x¹¹ for |x| &lt; 0.25
    /// (truncation below 1e-9 relative there) and 1 − 2 / (e^{2|x|} + 1) with the sign restored above (where that
    /// form loses no relative precision); both are computed and the lanes pick one. Agrees with MathF.Tanh to a few
    /// float ulps (Td3UpdateTests).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tanh(float* x, int count)
    {
        int w = Vector<float>.Count, i = 0;
        for (; i + w <= count; i += w) Tanh(Vector.Load(x + i)).Store(x + i);
        for (; i < count; i++) x[i] = MathF.Tanh(x[i]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector<float> Tanh(Vector<float> x)
    {
        Vector<float> magnitude = Vector.Abs(x);
        // Taylor series of tanh: x − x³/3 + 2x⁵/15 − 17x⁷/315 + 62x⁹/2835 − 1382x¹¹/155925.
        Vector<float> x2 = x * x;
        Vector<float> series = new(-1382f / 155925f);
        series = Vector.FusedMultiplyAdd(series, x2, new Vector<float>(62f / 2835f));
        series = Vector.FusedMultiplyAdd(series, x2, new Vector<float>(-17f / 315f));
        series = Vector.FusedMultiplyAdd(series, x2, new Vector<float>(2f / 15f));
        series = Vector.FusedMultiplyAdd(series, x2, new Vector<float>(-1f / 3f));
        series = Vector.FusedMultiplyAdd(series * x2, x, x);
        // Exp clamps its argument at 88 (|x| = 44), where 2 / (e^88 + 1) rounds 1 − it to exactly 1.
        Vector<float> large = Vector<float>.One - new Vector<float>(2f) / (VectorFunctions.Exp(magnitude + magnitude) + Vector<float>.One);
        large = Vector.ConditionalSelect(Vector.LessThan(x, Vector<float>.Zero), -large, large);
        return Vector.ConditionalSelect(Vector.LessThan(magnitude, new Vector<float>(0.25f)), series, large);
    }

    /// <summary>
    /// C[i, j] = epilogue(bias[j] + Σ_p A[i, p]·Bt[j, p]): B given transposed, every dot product vectorised along p.
    /// For results narrower than a vector (a network's 1 or 4 outputs, the action part of an input gradient),
    /// where <see cref="Multiply"/> would fall back to scalar columns.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MultiplyTransposed(float* a, int lda, float* bt, int ldbt, float* c, int ldc, int m, int n, int k,
        float* bias, Epilogue epilogue)
    {
        int w = Vector<float>.Count;
        for (int i = 0; i < m; i++)
        {
            float* ai = a + i * lda;
            int j = 0;
            for (; j + 4 <= n; j += 4)
            {
                float* b0 = bt + j * ldbt, b1 = b0 + ldbt, b2 = b1 + ldbt, b3 = b2 + ldbt;
                Vector<float> s0 = Vector<float>.Zero, s1 = s0, s2 = s0, s3 = s0;
                int p = 0;
                for (; p + w <= k; p += w)
                {
                    Vector<float> x = Vector.Load(ai + p);
                    s0 = Vector.FusedMultiplyAdd(x, Vector.Load(b0 + p), s0);
                    s1 = Vector.FusedMultiplyAdd(x, Vector.Load(b1 + p), s1);
                    s2 = Vector.FusedMultiplyAdd(x, Vector.Load(b2 + p), s2);
                    s3 = Vector.FusedMultiplyAdd(x, Vector.Load(b3 + p), s3);
                }
                float t0 = Vector.Sum(s0), t1 = Vector.Sum(s1), t2 = Vector.Sum(s2), t3 = Vector.Sum(s3);
                for (; p < k; p++)
                {
                    t0 = MathF.FusedMultiplyAdd(ai[p], b0[p], t0);
                    t1 = MathF.FusedMultiplyAdd(ai[p], b1[p], t1);
                    t2 = MathF.FusedMultiplyAdd(ai[p], b2[p], t2);
                    t3 = MathF.FusedMultiplyAdd(ai[p], b3[p], t3);
                }
                float* ci = c + i * ldc + j;
                if (bias != null) { t0 += bias[j]; t1 += bias[j + 1]; t2 += bias[j + 2]; t3 += bias[j + 3]; }
                ci[0] = Apply(t0, epilogue, 0); ci[1] = Apply(t1, epilogue, 0); ci[2] = Apply(t2, epilogue, 0); ci[3] = Apply(t3, epilogue, 0);
            }
            for (; j < n; j++)
            {
                float* bj = bt + j * ldbt;
                Vector<float> s = Vector<float>.Zero;
                int p = 0;
                for (; p + w <= k; p += w) s = Vector.FusedMultiplyAdd(Vector.Load(ai + p), Vector.Load(bj + p), s);
                float t = Vector.Sum(s);
                for (; p < k; p++) t = MathF.FusedMultiplyAdd(ai[p], bj[p], t);
                if (bias != null) t += bias[j];
                c[i * ldc + j] = Apply(t, epilogue, 0);
            }
        }
    }

    /// <summary>result[j] = Σ_i D[i, j] (a bias gradient), i &lt; <paramref name="m"/>, j &lt; <paramref name="n"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ColumnSums(float* d, int ldd, int m, int n, float* result)
    {
        int w = Vector<float>.Count;
        int j = 0;
        for (; j + 2 * w <= n; j += 2 * w)
        {
            Vector<float> s0 = Vector<float>.Zero, s1 = s0;
            for (int i = 0; i < m; i++)
            {
                s0 += Vector.Load(d + i * ldd + j);
                s1 += Vector.Load(d + i * ldd + j + w);
            }
            s0.Store(result + j);
            s1.Store(result + j + w);
        }
        for (; j + w <= n; j += w)
        {
            Vector<float> s = Vector<float>.Zero;
            for (int i = 0; i < m; i++) s += Vector.Load(d + i * ldd + j);
            s.Store(result + j);
        }
        for (; j < n; j++)
        {
            float s = 0;
            for (int i = 0; i < m; i++) s += d[i * ldd + j];
            result[j] = s;
        }
    }

    /// <summary>dst[j, i] = src[i, j] for a dense [rows × cols] source; dst is [cols × rows].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Transpose(float* src, int rows, int cols, float* dst)
    {
        // 4 × 4 blocks keep both sides' cache lines in use; the sizes here are at most a few thousand elements.
        int i = 0;
        for (; i + 4 <= rows; i += 4)
        {
            float* s0 = src + i * cols, s1 = s0 + cols, s2 = s1 + cols, s3 = s2 + cols;
            for (int j = 0; j < cols; j++)
            {
                float* d = dst + j * rows + i;
                d[0] = s0[j]; d[1] = s1[j]; d[2] = s2[j]; d[3] = s3[j];
            }
        }
        for (; i < rows; i++)
            for (int j = 0; j < cols; j++) dst[j * rows + i] = src[i * cols + j];
    }

    static float Apply(float x, Epilogue epilogue, float mask) => epilogue switch
    {
        Epilogue.Relu => ReluOutput.Apply(x, mask),
        Epilogue.Tanh => MathF.Tanh(x),
        Epilogue.ReluDerivative => ReluGradient.Apply(x, mask),
        Epilogue.TanhDerivative => TanhGradient.Apply(x, mask),
        _ => x,
    };

    /// <summary>What the kernels do to a result before storing it; mask points at the same element of the mask matrix.</summary>
    interface IEpilogue
    {
        static abstract Vector<float> Apply(Vector<float> x, float* mask);
        static abstract float Apply(float x, float mask);
    }

    struct Identity : IEpilogue
    {
        public static Vector<float> Apply(Vector<float> x, float* mask) => x;
        public static float Apply(float x, float mask) => x;
    }

    struct ReluOutput : IEpilogue
    {
        public static Vector<float> Apply(Vector<float> x, float* mask) => Vector.Max(x, Vector<float>.Zero);
        public static float Apply(float x, float mask) => x > 0 ? x : 0;
    }

    struct ReluGradient : IEpilogue
    {
        public static Vector<float> Apply(Vector<float> x, float* mask) =>
            Vector.ConditionalSelect(Vector.GreaterThan(Vector.Load(mask), Vector<float>.Zero), x, Vector<float>.Zero);
        public static float Apply(float x, float mask) => mask > 0 ? x : 0;
    }

    struct TanhGradient : IEpilogue
    {
        public static Vector<float> Apply(Vector<float> x, float* mask)
        {
            Vector<float> h = Vector.Load(mask);
            return x * (Vector<float>.One - h * h);
        }
        public static float Apply(float x, float mask) => x * (1 - mask * mask);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile4x2<TEpilogue>(float* a, int aRow, int aStep, float* b, int ldb, float* c, int ldc, int k, float* bias, float* mask, int ldMask)
        where TEpilogue : struct, IEpilogue
    {
        int w = Vector<float>.Count;
        Vector<float> c00, c01, c10, c11, c20, c21, c30, c31;
        if (bias != null)
        {
            c00 = c10 = c20 = c30 = Vector.Load(bias);
            c01 = c11 = c21 = c31 = Vector.Load(bias + w);
        }
        else c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = Vector<float>.Zero;
        float* a0 = a, a1 = a + aRow, a2 = a1 + aRow, a3 = a2 + aRow;
        for (int p = 0; p < k; p++)
        {
            Vector<float> b0 = Vector.Load(b), b1 = Vector.Load(b + w);
            b += ldb;
            var x = new Vector<float>(*a0);
            c00 = Vector.FusedMultiplyAdd(x, b0, c00);
            c01 = Vector.FusedMultiplyAdd(x, b1, c01);
            x = new Vector<float>(*a1);
            c10 = Vector.FusedMultiplyAdd(x, b0, c10);
            c11 = Vector.FusedMultiplyAdd(x, b1, c11);
            x = new Vector<float>(*a2);
            c20 = Vector.FusedMultiplyAdd(x, b0, c20);
            c21 = Vector.FusedMultiplyAdd(x, b1, c21);
            x = new Vector<float>(*a3);
            c30 = Vector.FusedMultiplyAdd(x, b0, c30);
            c31 = Vector.FusedMultiplyAdd(x, b1, c31);
            a0 += aStep; a1 += aStep; a2 += aStep; a3 += aStep;
        }
        TEpilogue.Apply(c00, mask).Store(c);
        TEpilogue.Apply(c01, mask + w).Store(c + w);
        TEpilogue.Apply(c10, mask + ldMask).Store(c + ldc);
        TEpilogue.Apply(c11, mask + ldMask + w).Store(c + ldc + w);
        TEpilogue.Apply(c20, mask + 2 * ldMask).Store(c + 2 * ldc);
        TEpilogue.Apply(c21, mask + 2 * ldMask + w).Store(c + 2 * ldc + w);
        TEpilogue.Apply(c30, mask + 3 * ldMask).Store(c + 3 * ldc);
        TEpilogue.Apply(c31, mask + 3 * ldMask + w).Store(c + 3 * ldc + w);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile1x2<TEpilogue>(float* a, int aStep, float* b, int ldb, float* c, int k, float* bias, float* mask)
        where TEpilogue : struct, IEpilogue
    {
        int w = Vector<float>.Count;
        Vector<float> c0 = bias != null ? Vector.Load(bias) : Vector<float>.Zero, c1 = bias != null ? Vector.Load(bias + w) : Vector<float>.Zero;
        for (int p = 0; p < k; p++)
        {
            var x = new Vector<float>(*a);
            c0 = Vector.FusedMultiplyAdd(x, Vector.Load(b), c0);
            c1 = Vector.FusedMultiplyAdd(x, Vector.Load(b + w), c1);
            a += aStep;
            b += ldb;
        }
        TEpilogue.Apply(c0, mask).Store(c);
        TEpilogue.Apply(c1, mask + w).Store(c + w);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile4x1<TEpilogue>(float* a, int aRow, int aStep, float* b, int ldb, float* c, int ldc, int k, float* bias, float* mask, int ldMask)
        where TEpilogue : struct, IEpilogue
    {
        Vector<float> c0 = bias != null ? Vector.Load(bias) : Vector<float>.Zero, c1 = c0, c2 = c0, c3 = c0;
        float* a0 = a, a1 = a + aRow, a2 = a1 + aRow, a3 = a2 + aRow;
        for (int p = 0; p < k; p++)
        {
            Vector<float> b0 = Vector.Load(b);
            b += ldb;
            c0 = Vector.FusedMultiplyAdd(new Vector<float>(*a0), b0, c0);
            c1 = Vector.FusedMultiplyAdd(new Vector<float>(*a1), b0, c1);
            c2 = Vector.FusedMultiplyAdd(new Vector<float>(*a2), b0, c2);
            c3 = Vector.FusedMultiplyAdd(new Vector<float>(*a3), b0, c3);
            a0 += aStep; a1 += aStep; a2 += aStep; a3 += aStep;
        }
        TEpilogue.Apply(c0, mask).Store(c);
        TEpilogue.Apply(c1, mask + ldMask).Store(c + ldc);
        TEpilogue.Apply(c2, mask + 2 * ldMask).Store(c + 2 * ldc);
        TEpilogue.Apply(c3, mask + 3 * ldMask).Store(c + 3 * ldc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile1x1<TEpilogue>(float* a, int aStep, float* b, int ldb, float* c, int k, float* bias, float* mask)
        where TEpilogue : struct, IEpilogue
    {
        Vector<float> c0 = bias != null ? Vector.Load(bias) : Vector<float>.Zero;
        for (int p = 0; p < k; p++)
        {
            c0 = Vector.FusedMultiplyAdd(new Vector<float>(*a), Vector.Load(b), c0);
            a += aStep;
            b += ldb;
        }
        TEpilogue.Apply(c0, mask).Store(c);
    }
}
