using BenchmarkDotNet.Attributes;
using RoboRl.Core.Policy;
using RoboRl.Core.Tasks;

namespace RoboRl.Benchmarks;

/// <summary>
/// One allocation-free actor forward, 149 → 64 → 64 → 4 (the learning-to-fly actor, FACTS, whose 146 inputs the hover
/// observation extends by a 3-value position-error integral), with observation normalisation and tanh output. Target ≤ 1 µs. Run:
/// <c>dotnet run -c Release --project src/RoboRl.Benchmarks -- --filter '*PolicyEngine*'</c>
/// </summary>
[MemoryDiagnoser]
public class PolicyEngineBenchmarks
{
    PolicyEngine _engine = null!;
    static readonly int Inputs = HoverObservation.ActorSize(32);
    readonly float[] _observation = new float[Inputs];
    readonly float[] _action = new float[4];

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
            Layers = [Layer(Inputs, 64, Hidden), Layer(64, 64, Hidden), Layer(64, 4, Activation.Tanh)],
            ObservationNames = HoverObservation.ActorNames(32),
            ActionNames = ["motor_1", "motor_2", "motor_3", "motor_4"],
            ObservationMean = new float[Inputs],
            ObservationStd = Enumerable.Repeat(1f, Inputs).ToArray(),
            ActionLow = new float[4],
            ActionHigh = [21702, 21702, 21702, 21702],
            ActionUnit = "rpm",
            ControlRateHz = 100,
            ActionHistoryLength = 32,
            RobotConfigJson = "{}",
            TrainingConfigJson = "{}",
            GitCommit = "benchmark",
            GoldenObservations = new float[Inputs],
            GoldenActions = new float[4],
        };
        _engine = new PolicyEngine(bundle, Kernel);
        for (int i = 0; i < _observation.Length; i++) _observation[i] = (float)(random.NextDouble() * 2 - 1);
    }

    [Benchmark]
    public float Forward()
    {
        _engine.Forward(_observation, _action);
        return _action[0];
    }
}
