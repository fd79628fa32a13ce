using RoboRl.Core.Configs;
using RoboRl.Core.Policy;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Tasks;

namespace RoboRl.Serial.Firmware;

/// <summary>
/// Reproducible random policy bundles for firmware tests and `roborl bench mcu` when no trained bundle is given:
/// nn.Linear-style uniform weights, random normalisation, and golden vectors from an independent double-precision
/// forward (so no engine under test produces its own reference). Given a quadrotor robot config (with its
/// "actuation"), the bundle carries it and the hover action scaling (force per motor, N), as a trained one does;
/// otherwise a stand-in robot description and a plain [0, 1] scaling.
/// </summary>
public static class RandomPolicy
{
    /// <summary>The hover actor's shape: 149 inputs (18 state + 32 × 4 action history + 3 position-error integral,
    /// <see cref="HoverObservation.ActorSize"/>) → 64 → 64 → 4.</summary>
    public static readonly int[] HoverShape = [HoverObservation.ActorSize(32), 64, 64, 4];

    const string RobotJson = """{"name":"random-policy","note":"no robot: a shape for firmware tests"}""";

    public static PolicyBundle Create(int[] sizes, int seed = 1, Activation hidden = Activation.Tanh, int goldenCount = 8, string? robotConfigJson = null)
    {
        if (sizes.Length < 2) throw new ArgumentException("a network needs at least input and output sizes", nameof(sizes));
        var random = new Random(seed);
        float Uniform(float scale) => (float)(random.NextDouble() * 2 - 1) * scale;
        var layers = new List<DenseLayer>();
        for (int l = 0; l + 1 < sizes.Length; l++)
        {
            int inputs = sizes[l], outputs = sizes[l + 1];
            float bound = 1f / MathF.Sqrt(inputs); // nn.Linear's default init range
            var weights = new float[outputs * inputs];
            for (int i = 0; i < weights.Length; i++) weights[i] = Uniform(bound);
            var biases = new float[outputs];
            for (int i = 0; i < biases.Length; i++) biases[i] = Uniform(bound);
            layers.Add(new DenseLayer(inputs, outputs, weights, biases, l + 2 == sizes.Length ? Activation.Tanh : hidden));
        }
        int obs = sizes[0], act = sizes[^1];
        var mean = new float[obs];
        var std = new float[obs];
        for (int i = 0; i < obs; i++) { mean[i] = Uniform(0.5f); std[i] = 0.2f + (float)random.NextDouble(); }
        // An input size of the hover layout (18 + 4K + 3) records its K, so the header marks the hover layout.
        int noHistory = HoverObservation.ActorSize(0);
        int history = obs >= noHistory && (obs - noHistory) % HoverObservation.ActionSize == 0 ? (obs - noHistory) / HoverObservation.ActionSize : 0;
        var bundle = new PolicyBundle
        {
            Layers = layers,
            ObservationNames = Enumerable.Range(0, obs).Select(i => $"obs_{i}").ToArray(),
            ActionNames = Enumerable.Range(1, act).Select(i => $"motor_{i}").ToArray(),
            ObservationMean = mean,
            ObservationStd = std,
            ActionLow = new float[act],
            ActionHigh = robotConfigJson is null || act != HoverObservation.ActionSize
                ? Enumerable.Repeat(1f, act).ToArray()
                : HoverObservation.ActionScaling(QuadrotorConfig.Read(ConfigNode.Parse(robotConfigJson, "robot config"))).High,
            ActionUnit = robotConfigJson is null ? "normalized" : HoverObservation.ActionUnit,
            ControlRateHz = 100,
            ActionHistoryLength = history,
            RobotConfigJson = robotConfigJson ?? RobotJson,
            TrainingConfigJson = $$"""{"random_policy_seed":{{seed}}}""",
            GitCommit = "0000000000000000000000000000000000000000",
            GoldenObservations = new float[obs],
            GoldenActions = new float[act],
        };
        var observations = new float[goldenCount * obs];
        for (int i = 0; i < observations.Length; i++) observations[i] = Uniform(2f);
        var actions = new float[goldenCount * act];
        for (int k = 0; k < goldenCount; k++)
            ReferenceForward(bundle, observations.AsSpan(k * obs, obs)).CopyTo(actions.AsSpan(k * act, act));
        return bundle.WithGoldenVectors(observations, actions);
    }

    /// <summary>Textbook forward in double precision.</summary>
    public static float[] ReferenceForward(PolicyBundle bundle, ReadOnlySpan<float> observation)
    {
        double[] x = new double[observation.Length];
        for (int i = 0; i < x.Length; i++) x[i] = ((double)observation[i] - bundle.ObservationMean[i]) / bundle.ObservationStd[i];
        foreach (DenseLayer layer in bundle.Layers)
        {
            var y = new double[layer.OutputSize];
            for (int o = 0; o < y.Length; o++)
            {
                double sum = layer.Biases[o];
                for (int i = 0; i < layer.InputSize; i++) sum += (double)layer.Weights[o * layer.InputSize + i] * x[i];
                y[o] = layer.Activation switch
                {
                    Activation.Relu => Math.Max(sum, 0),
                    Activation.Tanh => Math.Tanh(sum),
                    _ => sum,
                };
            }
            x = y;
        }
        return x.Select(v => (float)v).ToArray();
    }
}
