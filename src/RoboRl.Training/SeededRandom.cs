namespace RoboRl.Training;

/// <summary>
/// The trainer's own random numbers (replay sampling, warm-up actions, exploration noise): SplitMix64, whose
/// whole state is one ulong, so a checkpoint stores it and a resumed run draws the same numbers.
/// (Steele, Lea &amp; Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014.)
/// </summary>
public sealed class SeededRandom(ulong seed)
{
    public ulong State { get; set; } = seed;

    public ulong NextUInt64()
    {
        ulong z = State += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1) with 24 random bits.</summary>
    public float NextFloat() => (NextUInt64() >> 40) * (1f / (1 << 24));

    /// <summary>Uniform integer in [0, n) (Lemire's multiply-shift; the bias is below 2^-32 for n ≤ 2^31).</summary>
    public int NextInt(int n) => (int)(((NextUInt64() >> 32) * (ulong)n) >> 32);

    /// <summary>Standard normal (Box–Muller, one of the pair).</summary>
    public float NextNormal()
    {
        float u1 = 1f - NextFloat(); // (0, 1]
        float u2 = NextFloat();
        return MathF.Sqrt(-2f * MathF.Log(u1)) * MathF.Cos(2f * MathF.PI * u2);
    }
}
