using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace RoboRl.Training;

/// <summary>
/// Bulk copies between float spans and CPU tensors through the tensor's own memory (<c>Tensor.bytes</c>).
/// TorchSharp's <c>TensorAccessor.CopyFrom</c> copies element by element: measured 182 µs for one 256 × 146 batch
/// against 1.6 µs as one memory copy, which made batch transfer half the cost of a TD3 update.
/// </summary>
public static class TensorCopy
{
    /// <summary>Copies <paramref name="source"/> into a contiguous float32 tensor of exactly that many elements.</summary>
    public static void From(Tensor destination, ReadOnlySpan<float> source)
    {
        Check(destination, source.Length);
        MemoryMarshal.AsBytes(source).CopyTo(destination.bytes);
    }

    /// <summary>Copies a contiguous float32 tensor into <paramref name="destination"/> (same element count).</summary>
    public static void To(Tensor source, Span<float> destination)
    {
        Check(source, destination.Length);
        source.bytes.CopyTo(MemoryMarshal.AsBytes(destination));
    }

    static void Check(Tensor tensor, int count)
    {
        if (tensor.dtype != ScalarType.Float32 || !tensor.is_contiguous() || tensor.numel() != count)
            throw new ArgumentException($"need a contiguous float32 tensor of {count} elements, got {tensor.dtype} [{string.Join(", ", tensor.shape)}]{(tensor.is_contiguous() ? "" : " (not contiguous)")}");
    }
}
