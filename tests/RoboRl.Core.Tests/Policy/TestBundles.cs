using RoboRl.Core.Policy;

namespace RoboRl.Core.Tests.Policy;

/// <summary>Random but reproducible bundles, with golden vectors from an independent double-precision forward.</summary>
public static class TestBundles
{
    public const string RobotJson = """
        {
          "name": "crazyflie21",
          "mass_kg": 0.027,
          "arm_length_m": 0.046,
          "rpm_max": 21702,
          "inertia_kg_m2": [1.66e-5, 1.66e-5, 2.93e-5]
        }
        """;

    public static PolicyBundle Create(int[] sizes, int seed = 1, Activation hidden = Activation.Relu, int goldenCount = 4, IReadOnlyList<string>? observationNames = null)
    {
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
        var bundle = new PolicyBundle
        {
            Layers = layers,
            ObservationNames = observationNames ?? Enumerable.Range(0, obs).Select(i => $"obs_{i}").ToArray(),
            ActionNames = Enumerable.Range(1, act).Select(i => $"motor_{i}").ToArray(),
            ObservationMean = mean,
            ObservationStd = std,
            ActionLow = new float[act],
            ActionHigh = Enumerable.Repeat(21702f, act).ToArray(),
            ActionUnit = "rpm",
            ControlRateHz = 100,
            ActionHistoryLength = 32,
            RobotConfigJson = RobotJson,
            TrainingConfigJson = """{"algorithm":"td3","seed":1}""",
            GitCommit = "0123456789abcdef0123456789abcdef01234567",
            GoldenObservations = new float[obs],
            GoldenActions = new float[act],
        };
        var inputs2 = new float[goldenCount * obs];
        for (int i = 0; i < inputs2.Length; i++) inputs2[i] = Uniform(2f);
        var outputs2 = new float[goldenCount * act];
        for (int k = 0; k < goldenCount; k++)
            ReferenceForward(bundle, inputs2.AsSpan(k * obs, obs)).CopyTo(outputs2.AsSpan(k * act, act));
        return bundle.WithGoldenVectors(inputs2, outputs2);
    }

    /// <summary>Textbook forward in double precision: the reference the engines are compared with.</summary>
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

    public static byte[] Bytes(PolicyBundle bundle)
    {
        var stream = new MemoryStream();
        bundle.Write(stream);
        return stream.ToArray();
    }
}
