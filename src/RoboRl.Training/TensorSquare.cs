using TorchSharp;
using static TorchSharp.torch;

namespace RoboRl.Training;

/// <summary>
/// x² as x·x. TorchSharp's <c>square()</c> calls libtorch's pow with a temporary Scalar 2 whose handle the GC may
/// finalise before libtorch reads it (seen as rare "Scalar.h: INTERNAL ASSERT FAILED" in PPO updates); x·x needs no
/// Scalar and gives the same values and gradients (libtorch computes pow(x, 2) as x·x).
/// </summary>
public static class TensorSquare
{
    public static Tensor Squared(this Tensor x) => x.mul(x);
}
