using RoboRl.Core.Policy;
using TorchSharp;
using static TorchSharp.torch;

namespace RoboRl.Training;

/// <summary>
/// A multilayer perceptron (or an ensemble of equally shaped ones, e.g. TD3's twin critics) whose parameters
/// live in ONE flat tensor, with the gradients in ONE flat tensor of the same layout.
///
/// Why: per-op overhead in TorchSharp is ~1–2.5 µs, so at batch 256 with 64-wide layers the bookkeeping of
/// many small tensors dominates. FACTS measured a TD3 update at ~1.0 ms with naive modules and 0.5–0.66 ms
/// with flat buffers: Adam, zeroing and Polyak averaging become a few whole-buffer ops.
///
/// How: each layer's weight and bias are leaf tensors that are views of <see cref="Parameters"/>; each leaf's
/// <c>.grad</c> is preset to the matching view of <see cref="Gradients"/>. Autograd accumulates into an
/// existing <c>.grad</c> in place, so backward fills the flat gradient buffer directly.
///
/// Layout, per layer l (in order): weight [E, in, out] then bias [E, 1, out] (E = <see cref="EnsembleSize"/>;
/// with E = 1 the views are [in, out] and [out]). Weights are stored input-major so the forward is
/// bias + x·W with no transpose (addmm, or baddbmm over the ensemble); the export transposes to PyTorch's
/// [out, in]. Initialisation is nn.Linear's default: weight and bias ~ U(−1/√in, 1/√in).
///
/// Order within an update: the optimizer changes <see cref="Parameters"/> in place, which bumps autograd's
/// version counter of every layer view, so call backward on a graph before stepping the optimizer of any
/// network that graph used (critic: loss → backward → step; then the actor's loss on the updated critic).
/// </summary>
public sealed class FlatMlp : IDisposable
{
    readonly Tensor[] _weights, _biases;
    readonly List<Tensor> _gradientViews = [];
    // Per member and layer: plain views of Parameters (no autograd leaves), for ForwardMemberFrozen.
    readonly Tensor[][] _frozenWeights, _frozenBiases;
    Tensor? _polyakWeight;
    double _polyakTau = double.NaN;

    /// <param name="sizes">Layer widths, input first: e.g. [149, 64, 64, 4].</param>
    /// <param name="hidden">Activation after every hidden layer (relu or tanh).</param>
    /// <param name="output">Activation after the last layer (tanh for actors, identity for critics).</param>
    /// <param name="ensembleSize">Number of independent networks evaluated together (2 for twin critics).</param>
    /// <param name="seed">Seed of the initial weights.</param>
    public FlatMlp(IReadOnlyList<int> sizes, Activation hidden, Activation output, int ensembleSize = 1, int seed = 0)
    {
        if (sizes.Count < 2 || sizes.Any(s => s <= 0)) throw new ArgumentException("need at least two positive layer sizes", nameof(sizes));
        if (ensembleSize < 1) throw new ArgumentOutOfRangeException(nameof(ensembleSize));
        Sizes = sizes.ToArray();
        Hidden = hidden;
        Output = output;
        EnsembleSize = ensembleSize;

        int layerCount = Sizes.Length - 1;
        long count = 0;
        for (int l = 0; l < layerCount; l++) count += (long)ensembleSize * (Sizes[l] + 1) * Sizes[l + 1];
        ParameterCount = count;

        var initial = new float[count];
        var random = new Random(seed);
        long at = 0;
        for (int l = 0; l < layerCount; l++)
        {
            float bound = 1f / MathF.Sqrt(Sizes[l]);
            long layerValues = (long)ensembleSize * (Sizes[l] + 1) * Sizes[l + 1];
            for (long i = 0; i < layerValues; i++) initial[at++] = (float)(random.NextDouble() * 2 - 1) * bound;
        }

        using (no_grad())
        {
            Parameters = tensor(initial).DetachFromDisposeScope();
            Gradients = zeros(count).DetachFromDisposeScope();
            _weights = new Tensor[layerCount];
            _biases = new Tensor[layerCount];
            long offset = 0;
            for (int l = 0; l < layerCount; l++)
            {
                int inputs = Sizes[l], outputs = Sizes[l + 1];
                long[] weightShape = ensembleSize == 1 ? [inputs, outputs] : [ensembleSize, inputs, outputs];
                long[] biasShape = ensembleSize == 1 ? [outputs] : [ensembleSize, 1, outputs];
                long weightCount = (long)ensembleSize * inputs * outputs, biasCount = (long)ensembleSize * outputs;
                _weights[l] = Leaf(offset, weightCount, weightShape);
                offset += weightCount;
                _biases[l] = Leaf(offset, biasCount, biasShape);
                offset += biasCount;
            }
            _frozenWeights = new Tensor[ensembleSize][];
            _frozenBiases = new Tensor[ensembleSize][];
            for (int m = 0; m < ensembleSize; m++)
            {
                _frozenWeights[m] = new Tensor[layerCount];
                _frozenBiases[m] = new Tensor[layerCount];
                for (int l = 0; l < layerCount; l++)
                {
                    _frozenWeights[m][l] = (ensembleSize == 1 ? _weights[l] : _weights[l][m]).detach().DetachFromDisposeScope();
                    _frozenBiases[m][l] = (ensembleSize == 1 ? _biases[l] : _biases[l][m].squeeze(0)).detach().DetachFromDisposeScope();
                }
            }
        }
    }

    Tensor Leaf(long offset, long count, long[] shape)
    {
        Tensor leaf = Parameters.narrow(0, offset, count).view(shape).detach().requires_grad_(true).DetachFromDisposeScope();
        Tensor gradient = Gradients.narrow(0, offset, count).view(shape).DetachFromDisposeScope();
        leaf.grad = gradient;
        _gradientViews.Add(gradient);
        return leaf;
    }

    public int[] Sizes { get; }
    public Activation Hidden { get; }
    public Activation Output { get; }
    public int EnsembleSize { get; }
    public int InputSize => Sizes[0];
    public int OutputSize => Sizes[^1];
    public int LayerCount => Sizes.Length - 1;
    public long ParameterCount { get; }

    /// <summary>All parameters, flat. Change only in place and under <c>torch.no_grad()</c> (the layer leaves are views of it).</summary>
    public Tensor Parameters { get; }

    /// <summary>All gradients, flat, same layout as <see cref="Parameters"/>; backward accumulates here.</summary>
    public Tensor Gradients { get; }

    /// <summary>Layer <paramref name="layer"/>'s weight: [in, out], or [E, in, out] for an ensemble (a leaf view of <see cref="Parameters"/>).</summary>
    public Tensor Weight(int layer) => _weights[layer];

    /// <summary>Layer <paramref name="layer"/>'s bias: [out], or [E, 1, out] for an ensemble.</summary>
    public Tensor Bias(int layer) => _biases[layer];

    /// <summary>
    /// Whether backward computes gradients for this network. Switch off for networks that only pass gradients
    /// through with <see cref="Forward"/> (e.g. both critics in SAC's actor update): saves their weight-gradient
    /// matmuls. For a single member, <see cref="ForwardMemberFrozen"/> does this without toggling.
    /// </summary>
    public bool RequiresGrad
    {
        get => _weights[0].requires_grad;
        set
        {
            foreach (Tensor w in _weights) w.requires_grad = value;
            foreach (Tensor b in _biases) b.requires_grad = value;
        }
    }

    /// <summary>
    /// Single network: [B, in] → [B, out]. Ensemble: [B, in] (shared input) or [E, B, in] → [E, B, out].
    /// Temporaries belong to the caller's DisposeScope.
    /// </summary>
    public Tensor Forward(Tensor input)
    {
        Tensor h = input;
        if (EnsembleSize > 1 && h.dim() == 2) h = h.unsqueeze(0).expand(EnsembleSize, h.shape[0], h.shape[1]);
        for (int l = 0; l < LayerCount; l++)
        {
            // TorchSharp 0.107's baddbmm binds its arguments out of order (FACTS): batch1.baddbmm(batch2, input)
            // computes input + batch1·batch2. Tested against naive modules in FlatMlpTests.
            h = EnsembleSize == 1 ? addmm(_biases[l], h, _weights[l], beta: 1, alpha: 1) : h.baddbmm(_weights[l], _biases[l]);
            Activation activation = l == LayerCount - 1 ? Output : Hidden;
            h = activation switch
            {
                Activation.Relu => h.relu_(),
                Activation.Tanh => h.tanh_(),
                _ => h,
            };
        }
        return h;
    }

    /// <summary>
    /// One member's forward, [B, in] → [B, out], through plain views of <see cref="Parameters"/>: gradient flows
    /// to <paramref name="input"/> but never to this network's parameters. For TD3's actor update, which needs
    /// only Q1 and must not train the critic: it skips the other members' work entirely.
    /// </summary>
    public Tensor ForwardMemberFrozen(Tensor input, int member = 0)
    {
        Tensor h = input;
        Tensor[] w = _frozenWeights[member], b = _frozenBiases[member];
        for (int l = 0; l < LayerCount; l++)
        {
            h = addmm(b[l], h, w[l], beta: 1, alpha: 1);
            Activation activation = l == LayerCount - 1 ? Output : Hidden;
            h = activation switch
            {
                Activation.Relu => h.relu_(),
                Activation.Tanh => h.tanh_(),
                _ => h,
            };
        }
        return h;
    }

    /// <summary>
    /// Re-initialises every member with orthogonal weights and zero biases, the PPO initialisation of CleanRL's
    /// ppo_continuous_action (Engstrom et al. 2020, "Implementation Matters in Deep RL", found it matters):
    /// hidden layers with gain <paramref name="hiddenGain"/> (√2), the last with <paramref name="outputGain"/>
    /// (0.01 for a policy mean, so the first actions barely depend on the input; 1 for a value head).
    /// Draws from torch's global generator (seed it first).
    /// </summary>
    public void InitializeOrthogonal(double hiddenGain, double outputGain)
    {
        using var scope = NewDisposeScope();
        using (no_grad())
        {
            for (int l = 0; l < LayerCount; l++)
            {
                double gain = l == LayerCount - 1 ? outputGain : hiddenGain;
                for (int m = 0; m < EnsembleSize; m++)
                {
                    // nn.init.orthogonal_ on PyTorch's [out, in] layout, stored transposed as [in, out].
                    Tensor outIn = empty(Sizes[l + 1], Sizes[l]);
                    nn.init.orthogonal_(outIn, gain);
                    Tensor w = EnsembleSize == 1 ? _frozenWeights[0][l] : _frozenWeights[m][l];
                    w.copy_(outIn.t());
                    (EnsembleSize == 1 ? _frozenBiases[0][l] : _frozenBiases[m][l]).zero_();
                }
            }
        }
    }

    /// <summary>Sets every gradient to zero (one op).</summary>
    public void ZeroGrad()
    {
        using (no_grad()) Gradients.zero_();
    }

    /// <summary>Copies <paramref name="source"/>'s parameters into this network (same shape required).</summary>
    public void CopyFrom(FlatMlp source)
    {
        CheckSameShape(source);
        using (no_grad()) Parameters.copy_(source.Parameters);
    }

    /// <summary>Polyak averaging in one op: θ ← θ + τ(θ_source − θ) = (1 − τ)θ + τθ_source.</summary>
    public void PolyakFrom(FlatMlp source, double tau)
    {
        CheckSameShape(source);
        using (no_grad())
        {
            if (tau != _polyakTau)
            {
                _polyakWeight?.Dispose();
                _polyakWeight = tensor((float)tau).DetachFromDisposeScope();
                _polyakTau = tau;
            }
            Parameters.lerp_(source.Parameters, _polyakWeight!);
        }
    }

    /// <summary>A network of the same shape and values (e.g. a target network).</summary>
    public FlatMlp Clone()
    {
        var copy = new FlatMlp(Sizes, Hidden, Output, EnsembleSize);
        copy.CopyFrom(this);
        return copy;
    }

    /// <summary>
    /// Member <paramref name="member"/>'s layers as bundle layers (weights transposed to PyTorch's [out, in]).
    /// <paramref name="outputs"/> keeps only the first rows of the last layer and <paramref name="outputActivation"/>
    /// replaces its activation: SAC's Gaussian head [mean, log σ] with identity output deploys as tanh(mean).
    /// </summary>
    public IReadOnlyList<DenseLayer> ExportLayers(int member = 0, int? outputs = null, Activation? outputActivation = null)
    {
        if (member < 0 || member >= EnsembleSize) throw new ArgumentOutOfRangeException(nameof(member));
        int kept = outputs ?? OutputSize;
        if (kept < 1 || kept > OutputSize) throw new ArgumentOutOfRangeException(nameof(outputs), kept, $"must be 1 … {OutputSize}");
        var layers = new List<DenseLayer>();
        using var scope = NewDisposeScope();
        using (no_grad())
        {
            for (int l = 0; l < LayerCount; l++)
            {
                bool last = l == LayerCount - 1;
                Tensor w = EnsembleSize == 1 ? _weights[l] : _weights[l][member];
                Tensor b = EnsembleSize == 1 ? _biases[l] : _biases[l][member].squeeze(0);
                int rows = last ? kept : Sizes[l + 1];
                float[] outIn = w.t().narrow(0, 0, rows).contiguous().data<float>().ToArray();
                float[] bias = b.narrow(0, 0, rows).contiguous().data<float>().ToArray();
                layers.Add(new DenseLayer(Sizes[l], rows, outIn, bias, last ? outputActivation ?? Output : Hidden));
            }
        }
        return layers;
    }

    /// <summary>
    /// Loads a bundle's layers (PyTorch's [out, in]) into this single network, the inverse of <see cref="ExportLayers"/>:
    /// how fine-tuning continues from a deployed actor. Sizes and activations must match.
    /// </summary>
    public void LoadLayers(IReadOnlyList<DenseLayer> layers)
    {
        if (EnsembleSize != 1) throw new InvalidOperationException("only a single network loads bundle layers");
        if (layers.Count != LayerCount) throw new ArgumentException($"the bundle has {layers.Count} layers, this network {LayerCount}");
        using var scope = NewDisposeScope();
        using (no_grad())
        {
            for (int l = 0; l < LayerCount; l++)
            {
                DenseLayer layer = layers[l];
                Activation expected = l == LayerCount - 1 ? Output : Hidden;
                if (layer.InputSize != Sizes[l] || layer.OutputSize != Sizes[l + 1] || layer.Activation != expected)
                    throw new ArgumentException($"layer {l}: the bundle has {layer.InputSize} → {layer.OutputSize} ({layer.Activation}), this network {Sizes[l]} → {Sizes[l + 1]} ({expected})");
                _weights[l].copy_(tensor(layer.Weights).view(layer.OutputSize, layer.InputSize).t());
                _biases[l].copy_(tensor(layer.Biases));
            }
        }
    }

    void CheckSameShape(FlatMlp other)
    {
        if (other.ParameterCount != ParameterCount || other.EnsembleSize != EnsembleSize || !other.Sizes.SequenceEqual(Sizes))
            throw new ArgumentException($"networks differ in shape: [{string.Join(", ", Sizes)}]×{EnsembleSize} vs [{string.Join(", ", other.Sizes)}]×{other.EnsembleSize}");
    }

    public void Dispose()
    {
        foreach (Tensor w in _weights) w.Dispose();
        foreach (Tensor b in _biases) b.Dispose();
        foreach (Tensor g in _gradientViews) g.Dispose();
        foreach (Tensor t in _frozenWeights.SelectMany(x => x).Concat(_frozenBiases.SelectMany(x => x))) t.Dispose();
        _polyakWeight?.Dispose();
        Parameters.Dispose();
        Gradients.Dispose();
    }
}
