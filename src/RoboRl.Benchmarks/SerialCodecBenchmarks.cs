using System.Numerics;
using BenchmarkDotNet.Attributes;
using RoboRl.Serial;

namespace RoboRl.Benchmarks;

/// <summary>The serial link codec per frame: encode and decode an OBSERVATION (18 and 149 floats: the state alone, the full hover observation) and a STATE.</summary>
[MemoryDiagnoser]
public class SerialCodecBenchmarks
{
    private readonly FrameEncoder _encoder = new();
    private readonly FrameDecoder _decoder = new();
    private float[] _obs = [];
    private byte[] _obsWire = [];
    private readonly float[] _obsOut = new float[LinkProtocol.MaxObservation];

    [Params(18, 149)]
    public int ObservationSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _obs = Enumerable.Range(0, ObservationSize).Select(i => i * 0.01f - 0.5f).ToArray();
        _obsWire = _encoder.EncodeObservation(_obs).ToArray();
    }

    [Benchmark]
    public int EncodeObservation() => _encoder.EncodeObservation(_obs).Length;

    [Benchmark]
    public int DecodeObservation()
    {
        // The same frame over and over is a duplicate after the first; decoding work is identical,
        // so reset the sequence history to measure the accepted path.
        _decoder.Reset();
        ReadOnlySpan<byte> wire = _obsWire;
        return _decoder.TryDecode(ref wire, out var frame) ? frame.ReadObservation(_obsOut) : -1;
    }

    [Benchmark]
    public int EncodeState() =>
        _encoder.Encode(new StateMessage(1, new Vector3(1, 2, 3), Quaternion.Identity, Vector3.Zero, Vector3.One)).Length;
}
