using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using RoboRl.Core.DiffDrive;

namespace RoboRl.Sims.DiffDrive;

/// <summary>
/// 2D lidar by ray casting against one <see cref="NavMaps"/> slot, eight beams per instruction (Vector256 lanes =
/// beams). Cost is kept near "walls + the beams that can hit something":
/// <list type="bullet">
/// <item>beam directions and their inverses are computed once per scan (shared by every obstacle);</item>
/// <item>the arena walls are the exit of the ray from the arena box (one slab test per beam);</item>
/// <item>per obstacle, the angular interval it subtends from the robot is computed — a circle of radius r at
///   distance d covers ±asin(r/d) around its bearing; a box is bounded by its circumscribed circle — and only the
///   chunks of eight beams overlapping that interval are tested; obstacles farther than range_max are skipped.</item>
/// </list>
/// Culling only skips beams that cannot hit, so the result equals testing every beam against every obstacle
/// (a test checks that). Ranges are written without noise; beyond range_max they are +∞.
/// </summary>
public sealed class LidarKernel
{
    private const int W = 8;
    private readonly float[] _beamCos, _beamSin; // [padded], robot frame

    public LidarKernel(LidarConfig lidar)
    {
        Lidar = lidar;
        Beams = lidar.Beams;
        PaddedBeams = (Beams + W - 1) / W * W;
        _beamCos = new float[PaddedBeams];
        _beamSin = new float[PaddedBeams];
        for (int k = 0; k < PaddedBeams; k++)
        {
            double angle = k * 2.0 * Math.PI / Beams; // padding beams continue past 2π; their ranges are never read
            _beamCos[k] = (float)Math.Cos(angle);
            _beamSin[k] = (float)Math.Sin(angle);
        }
    }

    public LidarConfig Lidar { get; }
    public int Beams { get; }
    /// <summary>Beams rounded up to a multiple of eight: the length of every scan buffer this kernel fills.</summary>
    public int PaddedBeams { get; }
    /// <summary>Floats of scratch one <see cref="Cast"/> needs (four direction arrays).</summary>
    public int ScratchSize => 4 * PaddedBeams;

    /// <summary>
    /// Casts every beam from (x, y) at heading <paramref name="yaw"/> in slot <paramref name="i"/> of
    /// <paramref name="maps"/>; writes [PaddedBeams] true ranges (+∞ = nothing within range_max) into
    /// <paramref name="ranges"/>. <paramref name="scratch"/> holds <see cref="ScratchSize"/> floats.
    /// </summary>
    public void Cast(NavMaps maps, int i, float x, float y, float yaw, Span<float> scratch, Span<float> ranges, bool cull = true)
    {
        int padded = PaddedBeams;
        Span<float> dirX = scratch[..padded], dirY = scratch.Slice(padded, padded);
        Span<float> invX = scratch.Slice(2 * padded, padded), invY = scratch.Slice(3 * padded, padded);
        ref float dx0 = ref MemoryMarshal.GetReference(dirX), dy0 = ref MemoryMarshal.GetReference(dirY);
        ref float ix0 = ref MemoryMarshal.GetReference(invX), iy0 = ref MemoryMarshal.GetReference(invY);
        ref float r0 = ref MemoryMarshal.GetReference(ranges);
        ref float bc0 = ref MemoryMarshal.GetArrayDataReference(_beamCos), bs0 = ref MemoryMarshal.GetArrayDataReference(_beamSin);

        // 1. World beam directions (rotate the robot-frame table by yaw) and the arena walls.
        var cosYaw = Vector256.Create(MathF.Cos(yaw));
        var sinYaw = Vector256.Create(MathF.Sin(yaw));
        float h = maps.HalfSize;
        Vector256<float> toMaxX = Vector256.Create(h - x), toMinX = Vector256.Create(-h - x);
        Vector256<float> toMaxY = Vector256.Create(h - y), toMinY = Vector256.Create(-h - y);
        Vector256<float> infinity = Vector256.Create(float.PositiveInfinity);
        Vector256<float> rangeMax = Vector256.Create(Lidar.RangeMax);
        for (int k = 0; k < padded; k += W)
        {
            nuint o = (nuint)k;
            Vector256<float> bc = Vector256.LoadUnsafe(ref bc0, o), bs = Vector256.LoadUnsafe(ref bs0, o);
            Vector256<float> dx = bc * cosYaw - bs * sinYaw;
            Vector256<float> dy = bs * cosYaw + bc * sinYaw;
            Vector256<float> ix = Vector256<float>.One / dx, iy = Vector256<float>.One / dy;
            dx.StoreUnsafe(ref dx0, o); dy.StoreUnsafe(ref dy0, o);
            ix.StoreUnsafe(ref ix0, o); iy.StoreUnsafe(ref iy0, o);
            // Leaving the arena box: along x the ray meets the wall it heads for; a negative, NaN (direction
            // component exactly 0) or infinite time means that wall is never met.
            Vector256<float> tx = Vector256.ConditionalSelect(Vector256.GreaterThan(dx, Vector256<float>.Zero), toMaxX, toMinX) * ix;
            Vector256<float> ty = Vector256.ConditionalSelect(Vector256.GreaterThan(dy, Vector256<float>.Zero), toMaxY, toMinY) * iy;
            tx = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(tx, Vector256<float>.Zero), tx, infinity);
            ty = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(ty, Vector256<float>.Zero), ty, infinity);
            Vector256<float> t = Vector256.Min(tx, ty);
            Vector256.ConditionalSelect(Vector256.GreaterThan(t, rangeMax), infinity, t).StoreUnsafe(ref r0, o);
        }

        // 2. Circles: ray-circle intersection t = b − √(b² − (|c|² − r²)), b = dir·c (c = centre relative to the robot).
        int c0 = i * maps.MaxCircles, c1 = c0 + maps.CircleCount[i];
        for (int j = c0; j < c1; j++)
        {
            float cx = maps.CircleX[j] - x, cy = maps.CircleY[j] - y, r = maps.CircleRadius[j];
            float d = MathF.Sqrt(cx * cx + cy * cy);
            if (cull && d - r > Lidar.RangeMax) continue;
            var (first, last, wrapLast) = ChunkInterval(cull, d, r, MathF.Atan2(cy, cx) - yaw);
            Vector256<float> vcx = Vector256.Create(cx), vcy = Vector256.Create(cy);
            Vector256<float> c2 = Vector256.Create(cx * cx + cy * cy - r * r);
            for (int part = 0; part < 2; part++)
            {
                int from = part == 0 ? first : 0, to = part == 0 ? last : wrapLast;
                for (int chunk = from; chunk <= to; chunk++)
                {
                    nuint o = (nuint)(chunk * W);
                    Vector256<float> b = Vector256.LoadUnsafe(ref dx0, o) * vcx + Vector256.LoadUnsafe(ref dy0, o) * vcy;
                    Vector256<float> discriminant = b * b - c2;
                    Vector256<float> t = b - Vector256.Sqrt(Vector256.Max(discriminant, Vector256<float>.Zero));
                    Vector256<float> hit = Vector256.GreaterThanOrEqual(discriminant, Vector256<float>.Zero) & Vector256.GreaterThan(t, Vector256<float>.Zero);
                    Vector256<float> current = Vector256.LoadUnsafe(ref r0, o);
                    Vector256.Min(current, Vector256.ConditionalSelect(hit, t, infinity)).StoreUnsafe(ref r0, o);
                }
            }
        }

        // 3. Axis-aligned boxes: slab test, entry time max(min(tx1, tx2), min(ty1, ty2)) if it precedes the exit time.
        int b0 = i * maps.MaxBoxes, b1 = b0 + maps.BoxCount[i];
        for (int j = b0; j < b1; j++)
        {
            float minX = maps.BoxMinX[j] - x, maxX = maps.BoxMaxX[j] - x, minY = maps.BoxMinY[j] - y, maxY = maps.BoxMaxY[j] - y;
            float cx = 0.5f * (minX + maxX), cy = 0.5f * (minY + maxY);
            float halfDiagonal = 0.5f * MathF.Sqrt((maxX - minX) * (maxX - minX) + (maxY - minY) * (maxY - minY));
            float d = MathF.Sqrt(cx * cx + cy * cy);
            if (cull && d - halfDiagonal > Lidar.RangeMax) continue;
            var (first, last, wrapLast) = ChunkInterval(cull, d, halfDiagonal, MathF.Atan2(cy, cx) - yaw);
            Vector256<float> vMinX = Vector256.Create(minX), vMaxX = Vector256.Create(maxX);
            Vector256<float> vMinY = Vector256.Create(minY), vMaxY = Vector256.Create(maxY);
            for (int part = 0; part < 2; part++)
            {
                int from = part == 0 ? first : 0, to = part == 0 ? last : wrapLast;
                for (int chunk = from; chunk <= to; chunk++)
                {
                    nuint o = (nuint)(chunk * W);
                    Vector256<float> ix = Vector256.LoadUnsafe(ref ix0, o), iy = Vector256.LoadUnsafe(ref iy0, o);
                    Vector256<float> tx1 = vMinX * ix, tx2 = vMaxX * ix, ty1 = vMinY * iy, ty2 = vMaxY * iy;
                    Vector256<float> entry = Vector256.Max(Vector256.Min(tx1, tx2), Vector256.Min(ty1, ty2));
                    Vector256<float> exit = Vector256.Min(Vector256.Max(tx1, tx2), Vector256.Max(ty1, ty2));
                    Vector256<float> hit = Vector256.LessThanOrEqual(entry, exit) & Vector256.GreaterThan(entry, Vector256<float>.Zero);
                    Vector256<float> current = Vector256.LoadUnsafe(ref r0, o);
                    Vector256.Min(current, Vector256.ConditionalSelect(hit, entry, infinity)).StoreUnsafe(ref r0, o);
                }
            }
        }

        // Obstacle hits beyond range_max are no return either.
        for (int k = 0; k < padded; k += W)
        {
            Vector256<float> t = Vector256.LoadUnsafe(ref r0, (nuint)k);
            Vector256.ConditionalSelect(Vector256.GreaterThan(t, rangeMax), infinity, t).StoreUnsafe(ref r0, (nuint)k);
        }
    }

    /// <summary>
    /// Chunks of eight beams that can see a disc of radius <paramref name="radius"/> at distance
    /// <paramref name="distance"/> and bearing <paramref name="bearing"/> (robot frame): chunks [first, last], plus
    /// [0, wrapLast] when the interval wraps past beam 0 (wrapLast = −1 when it does not).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private (int First, int Last, int WrapLast) ChunkInterval(bool cull, float distance, float radius, float bearing)
    {
        int lastChunk = PaddedBeams / W - 1;
        if (!cull || distance <= radius) return (0, lastChunk, -1); // inside the bounding disc: every beam
        float halfAngle = MathF.Asin(radius / distance);
        float increment = Lidar.AngleIncrement;
        // One beam of margin on each side covers float rounding in the angles.
        int low = (int)MathF.Floor((bearing - halfAngle) / increment) - 1;
        int high = (int)MathF.Ceiling((bearing + halfAngle) / increment) + 1;
        if (high - low + 1 >= Beams) return (0, lastChunk, -1);
        int start = ((low % Beams) + Beams) % Beams;
        int end = start + (high - low); // inclusive, may pass Beams
        if (end < Beams) return (start / W, end / W, -1);
        return (start / W, lastChunk, (end - Beams) / W);
    }
}
