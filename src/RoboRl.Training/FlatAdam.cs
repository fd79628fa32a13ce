using TorchSharp;
using static TorchSharp.torch;

namespace RoboRl.Training;

/// <summary>
/// Adam (Kingma &amp; Ba 2015) on one flat parameter buffer, step for step the same arithmetic as
/// torch.optim.Adam's single-tensor path with L2 weight decay (grad += wd·θ before the moments, not AdamW):
/// <code>
///   g ← g + wd·θ;  m ← lerp(m, g, 1 − β1);  v ← β2·v + (1 − β2)·g²
///   θ ← θ − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε)
/// </code>
/// Eight whole-buffer ops per step, whatever the network's depth. Weight decay is added into
/// <see cref="FlatMlp.Gradients"/> in place (it is zeroed before the next backward anyway).
/// </summary>
public sealed class FlatAdam : IDisposable
{
    readonly Tensor _parameters, _gradients, _firstMoment, _secondMoment, _oneMinusBeta1;
    // Constants as Scalars held by this optimiser: an implicit double → Scalar temporary can be finalised by the GC
    // while libtorch still reads it (rare "Scalar.h: Expected false to be true" failures in long runs).
    readonly Scalar _beta2Scalar, _oneMinusBeta2Scalar, _epsilonScalar, _weightDecayScalar, _oneScalar;

    public FlatAdam(FlatMlp network, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8, double weightDecay = 0)
        : this(network.Parameters, network.Gradients, learningRate, beta1, beta2, epsilon, weightDecay) { }

    /// <summary>Adam over any flat parameter tensor and its flat gradient tensor (same shape).</summary>
    public FlatAdam(Tensor parameters, Tensor gradients, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8, double weightDecay = 0)
    {
        if (!parameters.shape.SequenceEqual(gradients.shape)) throw new ArgumentException("parameters and gradients differ in shape");
        if (!(learningRate > 0)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "must be > 0");
        if (beta1 is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "must be in [0, 1)");
        if (beta2 is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "must be in [0, 1)");
        if (weightDecay < 0) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "must be ≥ 0");
        this._parameters = parameters;
        this._gradients = gradients;
        LearningRate = learningRate;
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        WeightDecay = weightDecay;
        using (no_grad())
        {
            _firstMoment = zeros_like(parameters).DetachFromDisposeScope();
            _secondMoment = zeros_like(parameters).DetachFromDisposeScope();
            _oneMinusBeta1 = tensor((float)(1 - beta1)).DetachFromDisposeScope();
        }
        _beta2Scalar = beta2.ToScalar();
        _oneMinusBeta2Scalar = (1 - beta2).ToScalar();
        _epsilonScalar = epsilon.ToScalar();
        _weightDecayScalar = weightDecay.ToScalar();
        _oneScalar = 1.0.ToScalar(); // add_'s alpha, given explicitly (the hidden default is a temporary too)
    }

    public double LearningRate { get; set; }
    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Epsilon { get; }
    public double WeightDecay { get; }

    /// <summary>Steps taken so far (t in the bias corrections).</summary>
    public long StepCount { get; private set; }

    /// <summary>Adam's first moment m (flat, same layout as the parameters): saved and restored by checkpoints.</summary>
    public Tensor FirstMoment => _firstMoment;

    /// <summary>Adam's second moment v (flat): saved and restored by checkpoints.</summary>
    public Tensor SecondMoment => _secondMoment;

    /// <summary>Sets t after the moments were restored from a checkpoint.</summary>
    public void RestoreStepCount(long stepCount)
    {
        if (stepCount < 0) throw new ArgumentOutOfRangeException(nameof(stepCount), stepCount, "must be ≥ 0");
        StepCount = stepCount;
    }

    /// <summary>One Adam step from the current gradients.</summary>
    public void Step()
    {
        StepCount++;
        double biasCorrection1 = 1 - Math.Pow(Beta1, StepCount);
        double biasCorrection2Sqrt = Math.Sqrt(1 - Math.Pow(Beta2, StepCount));
        using var scope = NewDisposeScope();
        using Scalar correction2 = biasCorrection2Sqrt.ToScalar(), stepSize = (-LearningRate / biasCorrection1).ToScalar();
        using (no_grad())
        {
            if (WeightDecay != 0) _gradients.add_(_parameters, alpha: _weightDecayScalar);
            _firstMoment.lerp_(_gradients, _oneMinusBeta1);
            _secondMoment.mul_(_beta2Scalar).addcmul_(_gradients, _gradients, value: _oneMinusBeta2Scalar);
            Tensor denominator = _secondMoment.sqrt().div_(correction2).add_(_epsilonScalar, _oneScalar);
            _parameters.addcdiv_(_firstMoment, denominator, value: stepSize);
        }
    }

    public void Dispose()
    {
        _beta2Scalar.Dispose();
        _oneMinusBeta2Scalar.Dispose();
        _epsilonScalar.Dispose();
        _weightDecayScalar.Dispose();
        _oneScalar.Dispose();
        _firstMoment.Dispose();
        _secondMoment.Dispose();
        _oneMinusBeta1.Dispose();
    }
}
