using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using RoboRl.Core.Policy;

namespace RoboRl.Training.Kernels;

/// <summary>
/// A float array on the pinned object heap and its address: the kernels take raw pointers, and the update's helper
/// thread works on the same memory, so it must never move.
/// </summary>
public sealed unsafe class PinnedArray
{
    public PinnedArray(int length)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length), length, "must be ≥ 0");
        Length = length;
        Array = GC.AllocateArray<float>(Math.Max(length, 1), pinned: true);
        Pointer = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(Array));
    }

    public int Length { get; }
    /// <summary>The array itself (one element long when <see cref="Length"/> is 0).</summary>
    public float[] Array { get; }
    public float* Pointer { get; }
    public Span<float> Span => Array.AsSpan(0, Length);
}

/// <summary>
/// Where each parameter of an MLP (or an ensemble of equally shaped ones) lives in a flat vector: exactly
/// <see cref="FlatMlp"/>'s layout, so checkpoints, exports and the TorchSharp reference read the same numbers.
/// Per layer l: weight [E, in, out] (input-major: the forward is x·W), then bias [E, out].
/// </summary>
public sealed class MlpLayout
{
    readonly int[] _layerStart, _transposedStart;

    /// <param name="sizes">Layer widths, input first: e.g. [149, 64, 64, 4].</param>
    public MlpLayout(IReadOnlyList<int> sizes, Activation hidden, Activation output, int ensembleSize = 1)
    {
        if (sizes.Count < 2 || sizes.Any(s => s <= 0)) throw new ArgumentException("need at least two positive layer sizes", nameof(sizes));
        if (ensembleSize < 1) throw new ArgumentOutOfRangeException(nameof(ensembleSize), ensembleSize, "must be ≥ 1");
        Sizes = sizes.ToArray();
        Hidden = hidden;
        Output = output;
        EnsembleSize = ensembleSize;
        _layerStart = new int[LayerCount];
        _transposedStart = new int[LayerCount];
        long at = 0, transposedAt = 0;
        for (int l = 0; l < LayerCount; l++)
        {
            _layerStart[l] = checked((int)at);
            at += (long)ensembleSize * (Sizes[l] + 1) * Sizes[l + 1];
            _transposedStart[l] = HasTransposed(l) ? checked((int)transposedAt) : -1;
            if (HasTransposed(l)) transposedAt += (long)ensembleSize * Sizes[l] * Sizes[l + 1];
        }
        ParameterCount = checked((int)at);
        TransposedCount = checked((int)transposedAt);
        MaxWidth = Sizes.Skip(1).Max();
    }

    /// <summary>The layout of a TorchSharp <see cref="FlatMlp"/>.</summary>
    public static MlpLayout Of(FlatMlp network) => new(network.Sizes, network.Hidden, network.Output, network.EnsembleSize);

    public int[] Sizes { get; }
    public Activation Hidden { get; }
    public Activation Output { get; }
    public int EnsembleSize { get; }
    public int LayerCount => Sizes.Length - 1;
    public int InputSize => Sizes[0];
    public int OutputSize => Sizes[^1];
    public int ParameterCount { get; }
    /// <summary>Widest layer output (hidden or last).</summary>
    public int MaxWidth { get; }

    /// <summary>Transposed weights ([out, in]) are kept for every layer a backward pass goes back through (l ≥ 1) and for
    /// the last layer, whose narrow forward is vectorised along its input.</summary>
    public bool HasTransposed(int layer) => layer > 0 || layer == LayerCount - 1;
    public int TransposedCount { get; }

    public int WeightOffset(int member, int layer) => _layerStart[layer] + member * Sizes[layer] * Sizes[layer + 1];
    public int BiasOffset(int member, int layer) => _layerStart[layer] + EnsembleSize * Sizes[layer] * Sizes[layer + 1] + member * Sizes[layer + 1];
    public int TransposedOffset(int member, int layer) => _transposedStart[layer] >= 0
        ? _transposedStart[layer] + member * Sizes[layer] * Sizes[layer + 1]
        : throw new ArgumentOutOfRangeException(nameof(layer), layer, "no transposed copy of this layer is kept");

    public bool SameShape(MlpLayout other) => other.EnsembleSize == EnsembleSize && other.Sizes.SequenceEqual(Sizes)
        && other.Hidden == Hidden && other.Output == Output;
}

/// <summary>
/// An MLP's parameters on pinned memory in <see cref="FlatMlp"/>'s layout, plus the transposed weight copies the
/// kernels read. Whoever changes <see cref="Parameters"/> calls <see cref="Changed"/>; <see cref="RefreshTransposes"/>
/// then rebuilds the copies once before the next pass that needs them.
/// </summary>
public sealed unsafe class MlpWeights
{
    readonly PinnedArray _parameters, _transposed;
    bool _lastLayerFresh, _otherLayersFresh;

    public MlpWeights(MlpLayout layout)
    {
        Layout = layout;
        _parameters = new PinnedArray(layout.ParameterCount);
        _transposed = new PinnedArray(layout.TransposedCount);
    }

    /// <summary>Parameters initialised from a TorchSharp network (same layout).</summary>
    public MlpWeights(FlatMlp network) : this(MlpLayout.Of(network)) => TensorCopy.To(network.Parameters, Parameters);

    public MlpLayout Layout { get; }
    /// <summary>The flat parameter vector (exactly <see cref="MlpLayout.ParameterCount"/> long).</summary>
    public float[] Parameters => _parameters.Array;
    public float* Pointer => _parameters.Pointer;

    /// <summary>Marks the transposed copies out of date (after any change to <see cref="Parameters"/>).</summary>
    public void Changed() => _lastLayerFresh = _otherLayersFresh = false;

    /// <summary>Rebuilds the transposed copies that are out of date: all of them, or with <paramref name="forwardOnly"/>
    /// only what a forward pass reads (nothing, for the usual 1- and 4-wide outputs).</summary>
    public void RefreshTransposes(bool forwardOnly = false)
    {
        MlpLayout layout = Layout;
        int last = layout.LayerCount - 1;
        if (!_lastLayerFresh && (!forwardOnly || MlpKernels.ForwardReadsTransposed(layout)))
        {
            for (int m = 0; m < layout.EnsembleSize; m++) TransposeLayer(m, last);
            _lastLayerFresh = true;
        }
        if (forwardOnly || _otherLayersFresh) return;
        for (int m = 0; m < layout.EnsembleSize; m++)
            for (int l = 0; l < last; l++)
                if (layout.HasTransposed(l)) TransposeLayer(m, l);
        _otherLayersFresh = true;
    }

    /// <summary>Transposes member <paramref name="member"/>'s kept layers from <paramref name="fromLayer"/> on: for an
    /// update step that refreshes the copies of the part it just changed, on its own thread. Once every changed part
    /// is done, the caller reports it with <see cref="TransposesRefreshed"/>.</summary>
    public void TransposeLayers(int member, int fromLayer)
    {
        for (int l = Math.Max(fromLayer, 0); l < Layout.LayerCount; l++)
            if (Layout.HasTransposed(l)) TransposeLayer(member, l);
    }

    /// <summary>Marks every transposed copy current (after <see cref="TransposeLayers"/> covered all that changed).</summary>
    public void TransposesRefreshed() => _lastLayerFresh = _otherLayersFresh = true;

    void TransposeLayer(int member, int layer) =>
        SmallGemm.Transpose(Weight(member, layer), Layout.Sizes[layer], Layout.Sizes[layer + 1], WeightTransposed(member, layer));

    public float* Weight(int member, int layer) => _parameters.Pointer + Layout.WeightOffset(member, layer);
    public float* Bias(int member, int layer) => _parameters.Pointer + Layout.BiasOffset(member, layer);
    public float* WeightTransposed(int member, int layer) => _transposed.Pointer + Layout.TransposedOffset(member, layer);

    /// <summary>Copies another network's parameters (same shape).</summary>
    public void CopyFrom(MlpWeights source)
    {
        if (!source.Layout.SameShape(Layout)) throw new ArgumentException("networks differ in shape", nameof(source));
        source.Parameters.AsSpan().CopyTo(Parameters);
        Changed();
    }
}

/// <summary>One member's activations for up to <see cref="Rows"/> rows (kept for the backward pass) and the scratch
/// the backward pass needs. One per thread-local block of rows; nothing is allocated after construction.</summary>
public sealed unsafe class MlpWorkspace
{
    readonly PinnedArray _activations, _scratchA, _scratchB, _narrow;
    readonly int[] _activationStart;

    public MlpWorkspace(MlpLayout layout, int rows)
    {
        Layout = layout;
        Rows = rows;
        _activationStart = new int[layout.LayerCount];
        int at = 0;
        for (int l = 0; l < layout.LayerCount; l++)
        {
            _activationStart[l] = at;
            at += rows * layout.Sizes[l + 1];
        }
        _activations = new PinnedArray(at);
        _scratchA = new PinnedArray(rows * layout.MaxWidth);
        _scratchB = new PinnedArray(rows * layout.MaxWidth);
        _narrow = new PinnedArray(Vector<float>.Count * layout.Sizes.Max());
    }

    public MlpLayout Layout { get; }
    public int Rows { get; }
    /// <summary>Layer <paramref name="layer"/>'s activated output, [rows × Sizes[layer + 1]].</summary>
    public float* Activation(int layer) => _activations.Pointer + _activationStart[layer];
    /// <summary>The network's output, [rows × OutputSize].</summary>
    public float* Output => Activation(Layout.LayerCount - 1);
    internal float* ScratchA => _scratchA.Pointer;
    internal float* ScratchB => _scratchB.Pointer;
    internal float* Narrow => _narrow.Pointer;
}

/// <summary>Adam's state for one flat parameter vector (the moments live here; the parameters in <see cref="MlpWeights"/>).</summary>
public sealed class AdamState
{
    public AdamState(int count, double learningRate, double weightDecay, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8)
    {
        if (!(learningRate > 0)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "must be > 0");
        if (weightDecay < 0) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "must be ≥ 0");
        FirstMoment = new PinnedArray(count);
        SecondMoment = new PinnedArray(count);
        LearningRate = learningRate;
        WeightDecay = weightDecay;
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
    }

    public PinnedArray FirstMoment { get; }
    public PinnedArray SecondMoment { get; }
    public double LearningRate { get; set; }
    public double WeightDecay { get; }
    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Epsilon { get; }
    /// <summary>Steps taken so far (t in the bias corrections); restored from checkpoints.</summary>
    public long StepCount { get; set; }

    /// <summary>Counts a step and returns its coefficients, in float as torch applies them to float tensors.</summary>
    public AdamCoefficients NextStep()
    {
        StepCount++;
        double biasCorrection1 = 1 - Math.Pow(Beta1, StepCount);
        double biasCorrection2Sqrt = Math.Sqrt(1 - Math.Pow(Beta2, StepCount));
        return new AdamCoefficients((float)(1 - Beta1), (float)Beta2, (float)(1 - Beta2), (float)WeightDecay, (float)Epsilon,
            (float)biasCorrection2Sqrt, (float)(-LearningRate / biasCorrection1));
    }
}

/// <summary>One Adam step's float coefficients (see <see cref="MlpKernels.Adam"/>).</summary>
public readonly record struct AdamCoefficients(float OneMinusBeta1, float Beta2, float OneMinusBeta2, float WeightDecay, float Epsilon,
    float BiasCorrection2Sqrt, float StepSize);

/// <summary>
/// Forward and backward passes of one MLP member on a block of rows, Adam and Polyak averaging, on the layouts above:
/// the building blocks of <see cref="Td3Update"/>. All row-major; x has a row stride (its rows may sit inside a wider
/// buffer), activations are dense.
/// </summary>
public static unsafe class MlpKernels
{
    /// <summary>
    /// Member <paramref name="member"/>'s forward on <paramref name="rows"/> rows of x ([rows × in], row stride
    /// <paramref name="ldx"/>); every layer's activated output is kept in <paramref name="work"/> for the backward pass.
    /// May read the last layer's transposed copy (<see cref="ForwardReadsTransposed"/>): call
    /// <see cref="MlpWeights.RefreshTransposes"/> first.
    /// </summary>
    public static void Forward(MlpWeights network, int member, float* x, int ldx, int rows, MlpWorkspace work)
    {
        MlpLayout layout = network.Layout;
        CheckRows(work, rows);
        int w = Vector<float>.Count;
        for (int l = 0; l < layout.LayerCount; l++)
        {
            bool last = l == layout.LayerCount - 1;
            float* input = l == 0 ? x : work.Activation(l - 1);
            int ld = l == 0 ? ldx : layout.Sizes[l], k = layout.Sizes[l], n = layout.Sizes[l + 1];
            Epilogue epilogue = Forward(last ? layout.Output : layout.Hidden);
            if (n == 4 && w > 4)
                SmallGemm.Multiply4(input, ld, network.Weight(member, l), work.Activation(l), n, rows, k, network.Bias(member, l), epilogue);
            else if (n == 1)
                // A single output's weights [k × 1] are their own transpose.
                SmallGemm.MultiplyTransposed(input, ld, network.Weight(member, l), k, work.Activation(l), n, rows, n, k,
                    network.Bias(member, l), epilogue);
            else if (n < w && layout.HasTransposed(l))
                SmallGemm.MultiplyTransposed(input, ld, network.WeightTransposed(member, l), k, work.Activation(l), n, rows, n, k,
                    network.Bias(member, l), epilogue);
            else
                SmallGemm.Multiply(input, ld, 1, network.Weight(member, l), n, work.Activation(l), n, rows, n, k,
                    network.Bias(member, l), epilogue);
        }
    }

    /// <summary>Whether <see cref="Forward"/> reads the last layer's transposed copy (outputs narrower than a vector
    /// other than 1, and 4 where vectors are wider).</summary>
    public static bool ForwardReadsTransposed(MlpLayout layout)
    {
        int n = layout.OutputSize, w = Vector<float>.Count;
        return n < w && n != 1 && !(n == 4 && w > 4) && layout.HasTransposed(layout.LayerCount - 1);
    }

    /// <summary>
    /// Backward pass after <see cref="Forward"/> on the same rows. <paramref name="outputGradient"/> is dL/dz of the last
    /// layer's pre-activation, [rows × out] (see <see cref="ThroughOutputActivation"/>); it may be overwritten.
    /// Writes (not adds) the member's parameter gradients into <paramref name="gradients"/> (a vector in the network's
    /// layout; null = none, e.g. a critic the actor's loss only passes through) and, if <paramref name="inputGradient"/>
    /// is not null, dL/dx for input columns [<paramref name="inputFrom"/>, +<paramref name="inputCount"/>) (the action
    /// part of a critic's input) into it, [rows × inputCount] with row stride <paramref name="ldInputGradient"/>.
    /// </summary>
    public static void Backward(MlpWeights network, int member, float* x, int ldx, int rows, MlpWorkspace work, float* outputGradient,
        float* gradients, float* inputGradient = null, int ldInputGradient = 0, int inputFrom = 0, int inputCount = 0)
    {
        MlpLayout layout = network.Layout;
        CheckRows(work, rows);
        if (inputGradient != null && (inputFrom < 0 || inputCount < 0 || inputFrom + inputCount > layout.InputSize))
            throw new ArgumentOutOfRangeException(nameof(inputFrom), $"input columns [{inputFrom}, {inputFrom + inputCount}) outside the {layout.InputSize} inputs");
        int w = Vector<float>.Count;
        float* dz = outputGradient;
        int ldz = layout.OutputSize;
        for (int l = layout.LayerCount - 1; l >= 0; l--)
        {
            int inputs = layout.Sizes[l], outputs = layout.Sizes[l + 1];
            float* input = l == 0 ? x : work.Activation(l - 1);
            int ldInput = l == 0 ? ldx : inputs;
            if (gradients != null)
            {
                float* weightGradient = gradients + layout.WeightOffset(member, l);
                if (outputs >= w)
                    // dW = inputᵀ·dz: the GEMM with A read transposed (row step 1, reduction step = its row stride).
                    SmallGemm.Multiply(input, 1, ldInput, dz, ldz, weightGradient, outputs, inputs, outputs, rows, null, Epilogue.None);
                else
                {
                    // A narrow layer (1 or 4 outputs): dWᵀ = dzᵀ·input is vectorised along the wide side; then transposed into place.
                    SmallGemm.Multiply(dz, 1, ldz, input, ldInput, work.Narrow, inputs, outputs, inputs, rows, null, Epilogue.None);
                    SmallGemm.Transpose(work.Narrow, outputs, inputs, weightGradient);
                }
                SmallGemm.ColumnSums(dz, ldz, rows, outputs, gradients + layout.BiasOffset(member, l));
            }
            if (l > 0)
            {
                // dh = dz·Wᵀ, times the hidden activation's derivative, read from the kept activation.
                float* next = dz == work.ScratchA ? work.ScratchB : work.ScratchA;
                SmallGemm.Multiply(dz, ldz, 1, network.WeightTransposed(member, l), inputs, next, inputs, rows, inputs, outputs, null,
                    Backward(layout.Hidden), work.Activation(l - 1), inputs);
                dz = next;
                ldz = inputs;
            }
            else if (inputGradient != null && inputCount > 0)
                // dx[:, from..] = dz·W[from.., :]ᵀ: W's rows are contiguous, so this is the dot-product kernel, no transpose.
                SmallGemm.MultiplyTransposed(dz, ldz, network.Weight(member, 0) + inputFrom * outputs, outputs, inputGradient, ldInputGradient,
                    rows, inputCount, outputs, null, Epilogue.None);
        }
    }

    /// <summary>dL/dy → dL/dz in place, for y = activation(z) the network's output: ×(1 − y²) for tanh, ×[y &gt; 0] for ReLU.</summary>
    public static void ThroughOutputActivation(Activation activation, float* outputs, float* gradient, int count)
    {
        switch (activation)
        {
            case Activation.Tanh:
                for (int i = 0; i < count; i++) gradient[i] *= 1 - outputs[i] * outputs[i];
                break;
            case Activation.Relu:
                for (int i = 0; i < count; i++) gradient[i] = outputs[i] > 0 ? gradient[i] : 0;
                break;
        }
    }

    /// <summary>
    /// One Adam step on <paramref name="count"/> parameters from the gradient <paramref name="gradient"/> (+
    /// <paramref name="gradient2"/> if not null: the two blocks' parts), the arithmetic of <see cref="FlatAdam"/> /
    /// torch.optim.Adam with L2 weight decay (not AdamW), in float:
    /// <code>
    ///   g ← g + wd·θ;  m ← m + (1 − β1)·(g − m);  v ← β2·v + (1 − β2)·g²;  θ ← θ + step·m / (√v / √(1 − β2^t) + ε)
    /// </code>
    /// with step = −lr / (1 − β1^t). The gradient buffers are only read.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Adam(float* parameters, float* firstMoment, float* secondMoment, float* gradient, float* gradient2, int count,
        in AdamCoefficients k)
    {
        int w = Vector<float>.Count, i = 0;
        var decay = new Vector<float>(k.WeightDecay);
        var oneMinusBeta1 = new Vector<float>(k.OneMinusBeta1);
        var beta2 = new Vector<float>(k.Beta2);
        var oneMinusBeta2 = new Vector<float>(k.OneMinusBeta2);
        var correction2 = new Vector<float>(k.BiasCorrection2Sqrt);
        var epsilon = new Vector<float>(k.Epsilon);
        var step = new Vector<float>(k.StepSize);
        for (; i + w <= count; i += w)
        {
            Vector<float> theta = Vector.Load(parameters + i);
            Vector<float> g = Vector.Load(gradient + i);
            if (gradient2 != null) g += Vector.Load(gradient2 + i);
            g += decay * theta;
            Vector<float> m = Vector.Load(firstMoment + i);
            m = Vector.FusedMultiplyAdd(oneMinusBeta1, g - m, m); // torch's lerp for weights < 0.5
            Vector<float> v = Vector.Load(secondMoment + i) * beta2 + oneMinusBeta2 * g * g;
            Vector<float> denominator = Vector.SquareRoot(v) / correction2 + epsilon;
            (theta + step * (m / denominator)).Store(parameters + i);
            m.Store(firstMoment + i);
            v.Store(secondMoment + i);
        }
        for (; i < count; i++)
        {
            float theta = parameters[i];
            float g = gradient[i] + (gradient2 != null ? gradient2[i] : 0);
            g += k.WeightDecay * theta;
            float m = MathF.FusedMultiplyAdd(k.OneMinusBeta1, g - firstMoment[i], firstMoment[i]);
            float v = secondMoment[i] * k.Beta2 + k.OneMinusBeta2 * g * g;
            float denominator = MathF.Sqrt(v) / k.BiasCorrection2Sqrt + k.Epsilon;
            parameters[i] = theta + k.StepSize * (m / denominator);
            firstMoment[i] = m;
            secondMoment[i] = v;
        }
    }

    /// <summary>Polyak averaging, θ ← θ + τ·(θ_source − θ) (torch's lerp_ for τ &lt; 0.5), on <paramref name="count"/> values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Polyak(float* target, float* source, int count, float tau)
    {
        int w = Vector<float>.Count, i = 0;
        var weight = new Vector<float>(tau);
        for (; i + w <= count; i += w)
        {
            Vector<float> t = Vector.Load(target + i);
            Vector.FusedMultiplyAdd(weight, Vector.Load(source + i) - t, t).Store(target + i);
        }
        for (; i < count; i++) target[i] = MathF.FusedMultiplyAdd(tau, source[i] - target[i], target[i]);
    }

    static Epilogue Forward(Activation activation) => activation switch
    {
        Activation.Relu => Epilogue.Relu,
        Activation.Tanh => Epilogue.Tanh,
        _ => Epilogue.None,
    };

    static Epilogue Backward(Activation activation) => activation switch
    {
        Activation.Relu => Epilogue.ReluDerivative,
        Activation.Tanh => Epilogue.TanhDerivative,
        _ => Epilogue.None,
    };

    static void CheckRows(MlpWorkspace work, int rows)
    {
        if (rows < 0 || rows > work.Rows) throw new ArgumentOutOfRangeException(nameof(rows), rows, $"the workspace holds {work.Rows} rows");
    }
}
