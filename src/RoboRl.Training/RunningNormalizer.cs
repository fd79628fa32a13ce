namespace RoboRl.Training;

/// <summary>
/// Per-component mean and standard deviation of observations (Chan et al.'s parallel update of Welford's
/// algorithm, in double), used as frozen normalisation: the trainer feeds it during warm-up, then calls
/// <see cref="Freeze"/>; the network always sees (x − mean) / std with the frozen values, which go into the
/// policy bundle unchanged. Freezing keeps the network's input fixed (a moving normaliser shifts every
/// layer's input under the optimiser) and makes the deployed policy exactly the trained one.
/// </summary>
public sealed class RunningNormalizer
{
    readonly double[] _mean, _m2;

    public RunningNormalizer(int size, float minStd, float maxStd = float.PositiveInfinity)
    {
        if (!(minStd > 0) || !(maxStd >= minStd)) throw new ArgumentOutOfRangeException(nameof(minStd), $"need 0 < minStd ({minStd}) <= maxStd ({maxStd})");
        Size = size;
        MinStd = minStd;
        MaxStd = maxStd;
        _mean = new double[size];
        _m2 = new double[size];
        Mean = new float[size];
        Std = Enumerable.Repeat(1f, size).ToArray();
    }

    public int Size { get; }
    /// <summary>Floor of the frozen std: a component that barely varies during warm-up must not be blown up.</summary>
    public float MinStd { get; }
    /// <summary>
    /// Ceiling of the frozen std: normalisation may scale a small-range input up (disturbance torques of 1e-5 N·m,
    /// positions of 0.2 m) but never shrink one below its raw scale, because warm-up statistics over-represent
    /// tumbling (body rates of 10+ rad/s) and would hide the small rates that matter in hover.
    /// </summary>
    public float MaxStd { get; }
    public long Count { get; private set; }
    public bool Frozen { get; private set; }

    /// <summary>Frozen mean (zeros until <see cref="Freeze"/>).</summary>
    public float[] Mean { get; private set; }
    /// <summary>Frozen std (ones until <see cref="Freeze"/>).</summary>
    public float[] Std { get; private set; }

    /// <summary>Adds <paramref name="rows"/> observations, row-major [k × Size].</summary>
    public void Update(ReadOnlySpan<float> rows)
    {
        if (Frozen) throw new InvalidOperationException("the normaliser is frozen");
        int k = rows.Length / Size;
        for (int r = 0; r < k; r++)
        {
            Count++;
            ReadOnlySpan<float> x = rows.Slice(r * Size, Size);
            for (int j = 0; j < Size; j++)
            {
                double delta = x[j] - _mean[j];
                _mean[j] += delta / Count;
                _m2[j] += delta * (x[j] - _mean[j]);
            }
        }
    }

    /// <summary>Fixes mean and std from what was seen (population std, clamped to [<see cref="MinStd"/>, <see cref="MaxStd"/>]).</summary>
    public void Freeze()
    {
        if (Count < 2) throw new InvalidOperationException($"need at least 2 observations to freeze, have {Count}");
        Mean = _mean.Select(m => (float)m).ToArray();
        Std = _m2.Select(v => Math.Clamp((float)Math.Sqrt(v / Count), MinStd, MaxStd)).ToArray();
        Frozen = true;
    }

    /// <summary>Restores frozen values (from a checkpoint).</summary>
    public void Restore(float[] frozenMean, float[] frozenStd)
    {
        if (frozenMean.Length != Size || frozenStd.Length != Size) throw new ArgumentException($"expected {Size} values");
        Mean = frozenMean.ToArray();
        Std = frozenStd.ToArray();
        Frozen = true;
    }

    /// <summary>destination = (source − mean) / std, row by row.</summary>
    public void Normalize(ReadOnlySpan<float> source, Span<float> destination)
    {
        float[] mean = Mean, std = Std;
        for (int row = 0; row + Size <= source.Length; row += Size)
            for (int j = 0; j < Size; j++) destination[row + j] = (source[row + j] - mean[j]) / std[j];
    }
}
