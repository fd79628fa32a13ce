using System.Numerics;
using System.Runtime.CompilerServices;

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
        int w = Vector<float>.Count;
        int j = 0;
        for (; j + 2 * w <= n; j += 2 * w)
        {
            int i = 0;
            for (; i + 4 <= m; i += 4)
                Tile4x2(a + i * aRow, aRow, aStep, b + j, ldb, c + i * ldc + j, ldc, k, bias == null ? null : bias + j, epilogue,
                    mask == null ? null : mask + i * ldMask + j, ldMask);
            for (; i < m; i++)
                Tile1x2(a + i * aRow, aStep, b + j, ldb, c + i * ldc + j, k, bias == null ? null : bias + j, epilogue,
                    mask == null ? null : mask + i * ldMask + j);
        }
        for (; j + w <= n; j += w)
        {
            int i = 0;
            for (; i + 4 <= m; i += 4)
                Tile4x1(a + i * aRow, aRow, aStep, b + j, ldb, c + i * ldc + j, ldc, k, bias == null ? null : bias + j, epilogue,
                    mask == null ? null : mask + i * ldMask + j, ldMask);
            for (; i < m; i++)
                Tile1x1(a + i * aRow, aStep, b + j, ldb, c + i * ldc + j, k, bias == null ? null : bias + j, epilogue,
                    mask == null ? null : mask + i * ldMask + j);
        }
        for (; j < n; j++)
            for (int i = 0; i < m; i++)
            {
                float* ai = a + i * aRow;
                float sum = 0;
                for (int p = 0; p < k; p++) sum = MathF.FusedMultiplyAdd(ai[p * aStep], b[p * ldb + j], sum);
                if (bias != null) sum += bias[j];
                c[i * ldc + j] = Apply(sum, epilogue, mask == null ? 0 : mask[i * ldMask + j]);
            }
    }

    /// <summary>
    /// C[i, j] = epilogue(bias[j] + Σ_p A[i, p]·Bt[j, p]): B given transposed, every dot product vectorised along p.
    /// For results narrower than a vector (a network's 1 or 4 outputs, the action part of an input gradient),
    /// where <see cref="Multiply"/> would fall back to scalar columns.
    /// </summary>
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Apply(float x, Epilogue epilogue, float mask) => epilogue switch
    {
        Epilogue.Relu => x > 0 ? x : 0,
        Epilogue.Tanh => MathF.Tanh(x),
        Epilogue.ReluDerivative => mask > 0 ? x : 0,
        Epilogue.TanhDerivative => x * (1 - mask * mask),
        _ => x,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(float* c, Vector<float> x, Epilogue epilogue, float* mask)
    {
        switch (epilogue)
        {
            case Epilogue.None:
                x.Store(c);
                break;
            case Epilogue.Relu:
                Vector.Max(x, Vector<float>.Zero).Store(c);
                break;
            case Epilogue.ReluDerivative:
                Vector.ConditionalSelect(Vector.GreaterThan(Vector.Load(mask), Vector<float>.Zero), x, Vector<float>.Zero).Store(c);
                break;
            case Epilogue.TanhDerivative:
            {
                Vector<float> h = Vector.Load(mask);
                (x * (Vector<float>.One - h * h)).Store(c);
                break;
            }
            default:
                x.Store(c);
                for (int l = 0; l < Vector<float>.Count; l++) c[l] = MathF.Tanh(c[l]);
                break;
        }
    }

    static void Tile4x2(float* a, int aRow, int aStep, float* b, int ldb, float* c, int ldc, int k, float* bias, Epilogue epilogue, float* mask, int ldMask)
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
        Store(c, c00, epilogue, mask);
        Store(c + w, c01, epilogue, mask + w);
        Store(c + ldc, c10, epilogue, mask + ldMask);
        Store(c + ldc + w, c11, epilogue, mask + ldMask + w);
        Store(c + 2 * ldc, c20, epilogue, mask + 2 * ldMask);
        Store(c + 2 * ldc + w, c21, epilogue, mask + 2 * ldMask + w);
        Store(c + 3 * ldc, c30, epilogue, mask + 3 * ldMask);
        Store(c + 3 * ldc + w, c31, epilogue, mask + 3 * ldMask + w);
    }

    static void Tile1x2(float* a, int aStep, float* b, int ldb, float* c, int k, float* bias, Epilogue epilogue, float* mask)
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
        Store(c, c0, epilogue, mask);
        Store(c + w, c1, epilogue, mask + w);
    }

    static void Tile4x1(float* a, int aRow, int aStep, float* b, int ldb, float* c, int ldc, int k, float* bias, Epilogue epilogue, float* mask, int ldMask)
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
        Store(c, c0, epilogue, mask);
        Store(c + ldc, c1, epilogue, mask + ldMask);
        Store(c + 2 * ldc, c2, epilogue, mask + 2 * ldMask);
        Store(c + 3 * ldc, c3, epilogue, mask + 3 * ldMask);
    }

    static void Tile1x1(float* a, int aStep, float* b, int ldb, float* c, int k, float* bias, Epilogue epilogue, float* mask)
    {
        Vector<float> c0 = bias != null ? Vector.Load(bias) : Vector<float>.Zero;
        for (int p = 0; p < k; p++)
        {
            c0 = Vector.FusedMultiplyAdd(new Vector<float>(*a), Vector.Load(b), c0);
            a += aStep;
            b += ldb;
        }
        Store(c, c0, epilogue, mask);
    }
}
