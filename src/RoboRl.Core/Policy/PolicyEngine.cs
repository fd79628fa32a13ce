using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace RoboRl.Core.Policy;

/// <summary>Which inner loops <see cref="PolicyEngine"/> runs.</summary>
public enum PolicyKernel
{
    /// <summary>The widest the CPU accelerates: Vector256, else Vector128 (e.g. ARM64 NEON), else scalar.</summary>
    Auto,
    Vector256,
    Vector128,
    Scalar,
}

/// <summary>
/// Allocation-free forward pass of a bundle's actor: observation normalisation, dense layers, activations,
/// output activation last. One instance per thread (it owns its scratch buffers).
///
/// Layout, chosen for speed: each layer's weights are stored transposed, [input][outputPadded] with outputs
/// padded to a multiple of 8 (zeros), so one input element is broadcast and multiplied into 8 outputs per
/// Vector256 FMA. A 64-wide layer runs with 8 independent accumulators, enough to hide FMA latency
/// (4 cycles, 2 per cycle on x86 cores since Haswell/Skylake). Narrow layers (the 4 actions) split the inputs
/// over 4 accumulators instead, so their dependency chain is a quarter as long. Padded outputs stay exactly 0
/// through relu, tanh and identity, so the next layer can read them without masking. A Vector128 kernel (same
/// layout) serves CPUs without 256-bit SIMD, such as ARM64 companion computers; a scalar one serves the rest.
/// </summary>
public sealed class PolicyEngine
{
    const int Lanes = 8; // Vector256<float>.Count

    readonly record struct Layer(int InputSize, int OutputSize, int OutputPadded, float[] WeightsTransposed, float[] Biases, Activation Activation);

    readonly Layer[] _layers;
    readonly float[] _mean, _std;
    readonly float[] _bufferA, _bufferB;
    readonly PolicyBundle _bundle;

    /// <summary>
    /// Builds the engine from a validated bundle. <paramref name="kernel"/> picks the inner loops (tests run
    /// each); asking for a vector width the CPU does not accelerate throws <see cref="NotSupportedException"/>.
    /// </summary>
    public PolicyEngine(PolicyBundle bundle, PolicyKernel kernel = PolicyKernel.Auto)
    {
        bundle.Validate();
        this._bundle = bundle;
        ObservationSize = bundle.ObservationSize;
        ActionSize = bundle.ActionSize;
        Kernel = kernel switch
        {
            PolicyKernel.Auto => Vector256.IsHardwareAccelerated ? PolicyKernel.Vector256
                : Vector128.IsHardwareAccelerated ? PolicyKernel.Vector128 : PolicyKernel.Scalar,
            PolicyKernel.Vector256 when !Vector256.IsHardwareAccelerated => throw new NotSupportedException("this CPU does not accelerate Vector256"),
            PolicyKernel.Vector128 when !Vector128.IsHardwareAccelerated => throw new NotSupportedException("this CPU does not accelerate Vector128"),
            _ => kernel,
        };
        _mean = bundle.ObservationMean.ToArray();
        _std = bundle.ObservationStd.ToArray();

        int widest = Pad(ObservationSize);
        _layers = new Layer[bundle.Layers.Count];
        for (int l = 0; l < _layers.Length; l++)
        {
            DenseLayer source = bundle.Layers[l];
            int padded = Pad(source.OutputSize);
            var transposed = new float[source.InputSize * padded];
            for (int o = 0; o < source.OutputSize; o++)
                for (int i = 0; i < source.InputSize; i++)
                    transposed[i * padded + o] = source.Weights[o * source.InputSize + i];
            var biases = new float[padded];
            source.Biases.CopyTo(biases, 0);
            _layers[l] = new Layer(source.InputSize, source.OutputSize, padded, transposed, biases, source.Activation);
            widest = Math.Max(widest, padded);
        }
        _bufferA = GC.AllocateArray<float>(widest, pinned: true);
        _bufferB = GC.AllocateArray<float>(widest, pinned: true);
    }

    public int ObservationSize { get; }
    public int ActionSize { get; }

    /// <summary>The bundle this engine runs.</summary>
    public PolicyBundle Bundle => _bundle;

    /// <summary>The kernel that runs (never <see cref="PolicyKernel.Auto"/>).</summary>
    public PolicyKernel Kernel { get; }

    /// <summary>True when the vector kernel uses fused multiply-add instructions (x86 FMA3 or ARM64 AdvSimd).</summary>
    public bool UsesFma => Kernel switch
    {
        PolicyKernel.Vector256 => Fma.IsSupported,
        PolicyKernel.Vector128 => Fma.IsSupported || AdvSimd.IsSupported,
        _ => false,
    };

    static int Pad(int n) => (n + Lanes - 1) / Lanes * Lanes;

    /// <summary>
    /// action = actor((observation − mean) / std), each element in the output activation's range ([−1, 1] for tanh).
    /// Allocates nothing.
    /// </summary>
    public void Forward(ReadOnlySpan<float> observation, Span<float> action)
    {
        if (observation.Length != ObservationSize || action.Length != ActionSize)
            throw new ArgumentException($"expected {ObservationSize} observations and {ActionSize} actions, got {observation.Length} and {action.Length}");

        float[] input = _bufferA, output = _bufferB;
        Normalise(observation, input);
        foreach (ref readonly Layer layer in _layers.AsSpan())
        {
            switch (Kernel)
            {
                case PolicyKernel.Vector256: DenseVector256(layer, input, output); break;
                case PolicyKernel.Vector128: DenseVector128(layer, input, output); break;
                default: DenseScalar(layer, input, output); break;
            }
            Activate(layer.Activation, output.AsSpan(0, layer.OutputPadded));
            (input, output) = (output, input);
        }
        input.AsSpan(0, ActionSize).CopyTo(action);
    }

    /// <summary>Forward, then scaled to the robot's command units (e.g. rpm). Allocates nothing.</summary>
    public void ForwardScaled(ReadOnlySpan<float> observation, Span<float> command)
    {
        Forward(observation, command);
        _bundle.ScaleAction(command, command);
    }

    /// <summary>The largest |engine − golden| over the bundle's golden vectors.</summary>
    public float MaxGoldenError()
    {
        Span<float> action = stackalloc float[ActionSize];
        float worst = 0;
        for (int k = 0; k < _bundle.GoldenCount; k++)
        {
            Forward(_bundle.GoldenObservations.AsSpan(k * ObservationSize, ObservationSize), action);
            for (int j = 0; j < ActionSize; j++)
                worst = MathF.Max(worst, MathF.Abs(action[j] - _bundle.GoldenActions[k * ActionSize + j]));
        }
        return worst;
    }

    /// <summary>Runs the golden vectors; throws <see cref="PolicyBundleException"/> if any output is off by more than <paramref name="tolerance"/>.</summary>
    public void SelfCheck(float tolerance = 1e-5f)
    {
        float worst = MaxGoldenError();
        if (!(worst <= tolerance))
            throw new PolicyBundleException("self-check", PolicyBundle.TensorGoldenActions,
                $"this engine's outputs differ from the golden actions by up to {worst:G3} (tolerance {tolerance:G3})");
    }

    // ---------------------------------------------------------------------------------------------

    void Normalise(ReadOnlySpan<float> observation, float[] normalised)
    {
        int i = 0;
        if (Kernel == PolicyKernel.Vector256)
        {
            ref float obs = ref MemoryMarshal.GetReference(observation);
            for (; i + Lanes <= observation.Length; i += Lanes)
            {
                var x = Vector256.LoadUnsafe(ref obs, (nuint)i);
                var m = Vector256.LoadUnsafe(ref _mean[0], (nuint)i);
                var s = Vector256.LoadUnsafe(ref _std[0], (nuint)i);
                // Divide (not multiply by 1/std) so the result is bit-identical to the trainer's (x − mean) / std.
                ((x - m) / s).StoreUnsafe(ref normalised[0], (nuint)i);
            }
        }
        else if (Kernel == PolicyKernel.Vector128)
        {
            ref float obs = ref MemoryMarshal.GetReference(observation);
            for (; i + 4 <= observation.Length; i += 4)
            {
                var x = Vector128.LoadUnsafe(ref obs, (nuint)i);
                var m = Vector128.LoadUnsafe(ref _mean[0], (nuint)i);
                var s = Vector128.LoadUnsafe(ref _std[0], (nuint)i);
                ((x - m) / s).StoreUnsafe(ref normalised[0], (nuint)i);
            }
        }
        for (; i < observation.Length; i++) normalised[i] = (observation[i] - _mean[i]) / _std[i];
    }

    static void DenseScalar(in Layer layer, float[] input, float[] output)
    {
        // Row by row through the transposed weights (sequential memory), accumulating into the outputs.
        float[] w = layer.WeightsTransposed;
        int padded = layer.OutputPadded;
        Array.Copy(layer.Biases, output, padded);
        for (int i = 0; i < layer.InputSize; i++)
        {
            float xi = input[i];
            int row = i * padded;
            for (int o = 0; o < padded; o++) output[o] += w[row + o] * xi;
        }
    }

    static void DenseVector256(in Layer layer, float[] input, float[] output)
    {
        ref float w = ref layer.WeightsTransposed[0];
        ref float b = ref layer.Biases[0];
        ref float x = ref input[0];
        ref float y = ref output[0];
        int n = layer.InputSize, stride = layer.OutputPadded;
        int o = 0;
        for (; o + 8 * Lanes <= stride; o += 8 * Lanes)
        {
            // 8 accumulators, 64 outputs: the 64-wide hidden layers run here.
            nuint col = (nuint)o;
            var a0 = Vector256.LoadUnsafe(ref b, col);
            var a1 = Vector256.LoadUnsafe(ref b, col + 8);
            var a2 = Vector256.LoadUnsafe(ref b, col + 16);
            var a3 = Vector256.LoadUnsafe(ref b, col + 24);
            var a4 = Vector256.LoadUnsafe(ref b, col + 32);
            var a5 = Vector256.LoadUnsafe(ref b, col + 40);
            var a6 = Vector256.LoadUnsafe(ref b, col + 48);
            var a7 = Vector256.LoadUnsafe(ref b, col + 56);
            for (int i = 0; i < n; i++)
            {
                var xi = Vector256.Create(Unsafe.Add(ref x, i));
                nuint row = (nuint)(i * stride) + col;
                a0 = MulAdd(Vector256.LoadUnsafe(ref w, row), xi, a0);
                a1 = MulAdd(Vector256.LoadUnsafe(ref w, row + 8), xi, a1);
                a2 = MulAdd(Vector256.LoadUnsafe(ref w, row + 16), xi, a2);
                a3 = MulAdd(Vector256.LoadUnsafe(ref w, row + 24), xi, a3);
                a4 = MulAdd(Vector256.LoadUnsafe(ref w, row + 32), xi, a4);
                a5 = MulAdd(Vector256.LoadUnsafe(ref w, row + 40), xi, a5);
                a6 = MulAdd(Vector256.LoadUnsafe(ref w, row + 48), xi, a6);
                a7 = MulAdd(Vector256.LoadUnsafe(ref w, row + 56), xi, a7);
            }
            a0.StoreUnsafe(ref y, col); a1.StoreUnsafe(ref y, col + 8);
            a2.StoreUnsafe(ref y, col + 16); a3.StoreUnsafe(ref y, col + 24);
            a4.StoreUnsafe(ref y, col + 32); a5.StoreUnsafe(ref y, col + 40);
            a6.StoreUnsafe(ref y, col + 48); a7.StoreUnsafe(ref y, col + 56);
        }
        for (; o + 4 * Lanes <= stride; o += 4 * Lanes)
        {
            nuint col = (nuint)o;
            var a0 = Vector256.LoadUnsafe(ref b, col);
            var a1 = Vector256.LoadUnsafe(ref b, col + 8);
            var a2 = Vector256.LoadUnsafe(ref b, col + 16);
            var a3 = Vector256.LoadUnsafe(ref b, col + 24);
            for (int i = 0; i < n; i++)
            {
                var xi = Vector256.Create(Unsafe.Add(ref x, i));
                nuint row = (nuint)(i * stride) + col;
                a0 = MulAdd(Vector256.LoadUnsafe(ref w, row), xi, a0);
                a1 = MulAdd(Vector256.LoadUnsafe(ref w, row + 8), xi, a1);
                a2 = MulAdd(Vector256.LoadUnsafe(ref w, row + 16), xi, a2);
                a3 = MulAdd(Vector256.LoadUnsafe(ref w, row + 24), xi, a3);
            }
            a0.StoreUnsafe(ref y, col); a1.StoreUnsafe(ref y, col + 8);
            a2.StoreUnsafe(ref y, col + 16); a3.StoreUnsafe(ref y, col + 24);
        }
        for (; o < stride; o += Lanes)
        {
            // One vector of outputs (e.g. the 4 actions): split the inputs over 4 chains.
            nuint col = (nuint)o;
            var a0 = Vector256<float>.Zero;
            var a1 = Vector256<float>.Zero;
            var a2 = Vector256<float>.Zero;
            var a3 = Vector256<float>.Zero;
            int i = 0;
            for (; i + 4 <= n; i += 4)
            {
                nuint row = (nuint)(i * stride) + col;
                a0 = MulAdd(Vector256.LoadUnsafe(ref w, row), Vector256.Create(Unsafe.Add(ref x, i)), a0);
                a1 = MulAdd(Vector256.LoadUnsafe(ref w, row + (nuint)stride), Vector256.Create(Unsafe.Add(ref x, i + 1)), a1);
                a2 = MulAdd(Vector256.LoadUnsafe(ref w, row + (nuint)(2 * stride)), Vector256.Create(Unsafe.Add(ref x, i + 2)), a2);
                a3 = MulAdd(Vector256.LoadUnsafe(ref w, row + (nuint)(3 * stride)), Vector256.Create(Unsafe.Add(ref x, i + 3)), a3);
            }
            for (; i < n; i++)
                a0 = MulAdd(Vector256.LoadUnsafe(ref w, (nuint)(i * stride) + col), Vector256.Create(Unsafe.Add(ref x, i)), a0);
            (Vector256.LoadUnsafe(ref b, col) + ((a0 + a1) + (a2 + a3))).StoreUnsafe(ref y, col);
        }
    }

    /// <summary>
    /// The same scheme with 4-lane vectors, for CPUs without 256-bit SIMD (ARM64 NEON on companion computers
    /// such as a Raspberry Pi or Jetson; older x86). Blocks of 8 vectors = 32 outputs keep 8 chains in flight.
    /// </summary>
    static void DenseVector128(in Layer layer, float[] input, float[] output)
    {
        ref float w = ref layer.WeightsTransposed[0];
        ref float b = ref layer.Biases[0];
        ref float x = ref input[0];
        ref float y = ref output[0];
        int n = layer.InputSize, stride = layer.OutputPadded;
        int o = 0;
        for (; o + 32 <= stride; o += 32)
        {
            nuint col = (nuint)o;
            var a0 = Vector128.LoadUnsafe(ref b, col);
            var a1 = Vector128.LoadUnsafe(ref b, col + 4);
            var a2 = Vector128.LoadUnsafe(ref b, col + 8);
            var a3 = Vector128.LoadUnsafe(ref b, col + 12);
            var a4 = Vector128.LoadUnsafe(ref b, col + 16);
            var a5 = Vector128.LoadUnsafe(ref b, col + 20);
            var a6 = Vector128.LoadUnsafe(ref b, col + 24);
            var a7 = Vector128.LoadUnsafe(ref b, col + 28);
            for (int i = 0; i < n; i++)
            {
                var xi = Vector128.Create(Unsafe.Add(ref x, i));
                nuint row = (nuint)(i * stride) + col;
                a0 = MulAdd(Vector128.LoadUnsafe(ref w, row), xi, a0);
                a1 = MulAdd(Vector128.LoadUnsafe(ref w, row + 4), xi, a1);
                a2 = MulAdd(Vector128.LoadUnsafe(ref w, row + 8), xi, a2);
                a3 = MulAdd(Vector128.LoadUnsafe(ref w, row + 12), xi, a3);
                a4 = MulAdd(Vector128.LoadUnsafe(ref w, row + 16), xi, a4);
                a5 = MulAdd(Vector128.LoadUnsafe(ref w, row + 20), xi, a5);
                a6 = MulAdd(Vector128.LoadUnsafe(ref w, row + 24), xi, a6);
                a7 = MulAdd(Vector128.LoadUnsafe(ref w, row + 28), xi, a7);
            }
            a0.StoreUnsafe(ref y, col); a1.StoreUnsafe(ref y, col + 4);
            a2.StoreUnsafe(ref y, col + 8); a3.StoreUnsafe(ref y, col + 12);
            a4.StoreUnsafe(ref y, col + 16); a5.StoreUnsafe(ref y, col + 20);
            a6.StoreUnsafe(ref y, col + 24); a7.StoreUnsafe(ref y, col + 28);
        }
        for (; o < stride; o += 8)
        {
            // Narrow layers: two vectors of outputs, inputs split over 2 chains each.
            nuint col = (nuint)o;
            var a0 = Vector128<float>.Zero;
            var a1 = Vector128<float>.Zero;
            var c0 = Vector128<float>.Zero;
            var c1 = Vector128<float>.Zero;
            int i = 0;
            for (; i + 2 <= n; i += 2)
            {
                nuint row = (nuint)(i * stride) + col, next = row + (nuint)stride;
                var x0 = Vector128.Create(Unsafe.Add(ref x, i));
                var x1 = Vector128.Create(Unsafe.Add(ref x, i + 1));
                a0 = MulAdd(Vector128.LoadUnsafe(ref w, row), x0, a0);
                a1 = MulAdd(Vector128.LoadUnsafe(ref w, row + 4), x0, a1);
                c0 = MulAdd(Vector128.LoadUnsafe(ref w, next), x1, c0);
                c1 = MulAdd(Vector128.LoadUnsafe(ref w, next + 4), x1, c1);
            }
            if (i < n)
            {
                nuint row = (nuint)(i * stride) + col;
                var xi = Vector128.Create(Unsafe.Add(ref x, i));
                a0 = MulAdd(Vector128.LoadUnsafe(ref w, row), xi, a0);
                a1 = MulAdd(Vector128.LoadUnsafe(ref w, row + 4), xi, a1);
            }
            (Vector128.LoadUnsafe(ref b, col) + (a0 + c0)).StoreUnsafe(ref y, col);
            (Vector128.LoadUnsafe(ref b, col + 4) + (a1 + c1)).StoreUnsafe(ref y, col + 4);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> MulAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) =>
        Fma.IsSupported ? Fma.MultiplyAdd(a, b, c) : a * b + c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> MulAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) =>
        Fma.IsSupported ? Fma.MultiplyAdd(a, b, c)
        : AdvSimd.IsSupported ? AdvSimd.FusedMultiplyAdd(c, a, b)
        : a * b + c;

    void Activate(Activation activation, Span<float> values)
    {
        switch (activation)
        {
            case Activation.Identity:
                return;
            case Activation.Relu:
                if (Kernel == PolicyKernel.Vector256)
                {
                    ref float v = ref MemoryMarshal.GetReference(values);
                    for (int i = 0; i < values.Length; i += Lanes)
                        Vector256.Max(Vector256.LoadUnsafe(ref v, (nuint)i), Vector256<float>.Zero).StoreUnsafe(ref v, (nuint)i);
                }
                else if (Kernel == PolicyKernel.Vector128)
                {
                    ref float v = ref MemoryMarshal.GetReference(values);
                    for (int i = 0; i < values.Length; i += 4)
                        Vector128.Max(Vector128.LoadUnsafe(ref v, (nuint)i), Vector128<float>.Zero).StoreUnsafe(ref v, (nuint)i);
                }
                else
                {
                    for (int i = 0; i < values.Length; i++) values[i] = MathF.Max(values[i], 0f);
                }
                return;
            case Activation.Tanh:
                if (Kernel == PolicyKernel.Vector256)
                {
                    ref float v = ref MemoryMarshal.GetReference(values);
                    for (int i = 0; i < values.Length; i += Lanes)
                        Tanh(Vector256.LoadUnsafe(ref v, (nuint)i)).StoreUnsafe(ref v, (nuint)i);
                }
                else if (Kernel == PolicyKernel.Vector128)
                {
                    ref float v = ref MemoryMarshal.GetReference(values);
                    for (int i = 0; i < values.Length; i += 4)
                        Tanh(Vector128.LoadUnsafe(ref v, (nuint)i)).StoreUnsafe(ref v, (nuint)i);
                }
                else
                {
                    for (int i = 0; i < values.Length; i++) values[i] = MathF.Tanh(values[i]);
                }
                return;
        }
    }

    /// <summary>
    /// Vectorised tanh used by the engine (public for its accuracy test).
    /// tanh(x) = sign(x) · (1 − e) / (1 + e) with e = exp(−2|x|): e ∈ (0, 1], so nothing overflows and the
    /// absolute error stays ~1e-7 (the cancellation in 1 − e near 0 costs relative, not absolute, accuracy).
    /// |x| is capped at 10, where tanh is 1 in float32 anyway; NaN stays NaN.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> x)
    {
        var signBit = Vector256.Create(0x8000_0000u).AsSingle();
        var magnitude = Vector256.Min(Vector256.AndNot(x, signBit), Vector256.Create(10f));
        var e = Vector256.Exp(magnitude * Vector256.Create(-2f));
        var one = Vector256<float>.One;
        // Max with 0: Exp(0) may round just above 1, and tanh(±0) must stay exactly ±0.
        var t = Vector256.Max((one - e) / (one + e), Vector256<float>.Zero);
        return t | (x & signBit);
    }

    /// <summary>4-lane <see cref="Tanh(Vector256{float})"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Tanh(Vector128<float> x)
    {
        var signBit = Vector128.Create(0x8000_0000u).AsSingle();
        var magnitude = Vector128.Min(Vector128.AndNot(x, signBit), Vector128.Create(10f));
        var e = Vector128.Exp(magnitude * Vector128.Create(-2f));
        var one = Vector128<float>.One;
        var t = Vector128.Max((one - e) / (one + e), Vector128<float>.Zero);
        return t | (x & signBit);
    }
}
