using BenchmarkDotNet.Attributes;
using RoboRl.Core.Policy;

namespace RoboRl.Benchmarks;

/// <summary>
/// One allocation-free actor forward, 146 → 64 → 64 → 4 (the learning-to-fly actor; FACTS), with observation
/// normalisation and tanh output. Target ≤ 1 µs. Run:
/// <c>dotnet run -c Release --project src/RoboRl.Benchmarks -- --filter '*PolicyEngine*'</c>
/// </summary>
[MemoryDiagnoser]
public class PolicyEngineBenchmarks
{
    PolicyEngine engine = null!;
    readonly float[] observation = new float[146];
    readonly float[] action = new float[4];

    [Params(Activation.Relu, Activation.Tanh)]
    public Activation Hidden { get; set; }

    [Params(PolicyKernel.Vector256, PolicyKernel.Vector128, PolicyKernel.Scalar)]
    public PolicyKernel Kernel { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        DenseLayer Layer(int inputs, int outputs, Activation activation)
        {
            float bound = 1f / MathF.Sqrt(inputs);
            return new DenseLayer(inputs, outputs,
                Enumerable.Range(0, inputs * outputs).Select(_ => (float)(random.NextDouble() * 2 - 1) * bound).ToArray(),
                Enumerable.Range(0, outputs).Select(_ => (float)(random.NextDouble() * 2 - 1) * bound).ToArray(), activation);
        }
        var bundle = new PolicyBundle
        {
            Layers = [Layer(146, 64, Hidden), Layer(64, 64, Hidden), Layer(64, 4, Activation.Tanh)],
            ObservationNames = Enumerable.Range(0, 146).Select(i => $"obs_{i}").ToArray(),
            ActionNames = ["motor_1", "motor_2", "motor_3", "motor_4"],
            ObservationMean = new float[146],
            ObservationStd = Enumerable.Repeat(1f, 146).ToArray(),
            ActionLow = new float[4],
            ActionHigh = [21702, 21702, 21702, 21702],
            ActionUnit = "rpm",
            ControlRateHz = 100,
            ActionHistoryLength = 32,
            RobotConfigJson = "{}",
            TrainingConfigJson = "{}",
            GitCommit = "benchmark",
            GoldenObservations = new float[146],
            GoldenActions = new float[4],
        };
        engine = new PolicyEngine(bundle, Kernel);
        for (int i = 0; i < observation.Length; i++) observation[i] = (float)(random.NextDouble() * 2 - 1);
    }

    [Benchmark]
    public float Forward()
    {
        engine.Forward(observation, action);
        return action[0];
    }
}
