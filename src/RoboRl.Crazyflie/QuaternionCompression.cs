namespace RoboRl.Crazyflie;

/// <summary>
/// The "smallest three" 32-bit quaternion encoding used by the full-state setpoint and by
/// motion-capture packets (crazyflie-firmware src/utils/interface/quatcompress.h, J. Preiss):
/// bits 31–30 hold the index of the largest-magnitude component (order x, y, z, w); the other three
/// follow in index order, 10 bits each: a sign bit then a 9-bit magnitude scaled by 1/√2 (the largest
/// a non-largest component of a unit quaternion can be). The largest component is sent positive (q and −q are
/// the same rotation) and rebuilt from the unit norm.
/// </summary>
public static class QuaternionCompression
{
    private const float SmallMax = 0.70710678118654752f;
    private const uint MagnitudeMask = (1u << 9) - 1;

    /// <summary>Compresses a unit quaternion given as (x, y, z, w).</summary>
    public static uint Compress(float x, float y, float z, float w)
    {
        Span<float> q = [x, y, z, w];
        int largest = 0;
        for (int i = 1; i < 4; i++)
            if (MathF.Abs(q[i]) > MathF.Abs(q[largest])) largest = i;
        bool negate = q[largest] < 0;

        uint packed = (uint)largest;
        for (int i = 0; i < 4; i++)
        {
            if (i == largest) continue;
            uint sign = (q[i] < 0) ^ negate ? 1u : 0u;
            uint magnitude = (uint)(MagnitudeMask * (MathF.Abs(q[i]) / SmallMax) + 0.5f);
            packed = (packed << 10) | (sign << 9) | Math.Min(magnitude, MagnitudeMask);
        }
        return packed;
    }

    /// <summary>Inverse of <see cref="Compress"/>: returns (x, y, z, w) with the largest component positive.</summary>
    public static (float X, float Y, float Z, float W) Decompress(uint packed)
    {
        Span<float> q = stackalloc float[4];
        int largest = (int)(packed >> 30);
        float sumSquares = 0;
        for (int i = 3; i >= 0; i--)
        {
            if (i == largest) continue;
            float value = SmallMax * (packed & MagnitudeMask) / MagnitudeMask;
            if (((packed >> 9) & 1) != 0) value = -value;
            packed >>= 10;
            q[i] = value;
            sumSquares += value * value;
        }
        q[largest] = MathF.Sqrt(MathF.Max(0f, 1f - sumSquares));
        return (q[0], q[1], q[2], q[3]);
    }
}
