using RoboRl.Core.Policy;
using TorchSharp;
using static TorchSharp.torch;

namespace RoboRl.Training;

/// <summary>Everything a policy bundle says about a policy besides its network and normalisation.</summary>
public sealed record PolicyDescription(
    IReadOnlyList<string> ObservationNames,
    IReadOnlyList<string> ActionNames,
    float[] ActionLow,
    float[] ActionHigh,
    string ActionUnit,
    double ControlRateHz,
    int ActionHistoryLength,
    string RobotConfigJson,
    string TrainingConfigJson,
    string GitCommit)
{
    /// <summary>Quadrotor motors: rpm = (a + 1) / 2 · rpmMax for each of <paramref name="actionNames"/>.</summary>
    public static (float[] Low, float[] High) RpmScaling(int motors, float rpmMax) => (new float[motors], Enumerable.Repeat(rpmMax, motors).ToArray());
}

/// <summary>Turns a trained actor into a <see cref="PolicyBundle"/>.</summary>
public static class PolicyExport
{
    /// <summary>
    /// Builds the bundle for member 0 of <paramref name="actor"/>. Golden actions are computed here by the
    /// TorchSharp forward in float32 — the reference every other runtime (C# engine, firmware) must match —
    /// from <paramref name="goldenObservations"/> (raw, row-major [k, obs]; real observations from the replay
    /// buffer exercise realistic ranges).
    /// </summary>
    public static PolicyBundle Export(FlatMlp actor, PolicyDescription description, float[] observationMean, float[] observationStd, float[] goldenObservations)
    {
        int obs = actor.InputSize;
        if (description.ObservationNames.Count != obs) throw new ArgumentException($"{description.ObservationNames.Count} observation names for a network with {obs} inputs");
        if (goldenObservations.Length == 0 || goldenObservations.Length % obs != 0) throw new ArgumentException($"golden observations must be k × {obs} values");
        var bundle = new PolicyBundle
        {
            Layers = actor.ExportLayers(),
            ObservationNames = description.ObservationNames,
            ActionNames = description.ActionNames,
            ObservationMean = observationMean.ToArray(),
            ObservationStd = observationStd.ToArray(),
            ActionLow = description.ActionLow,
            ActionHigh = description.ActionHigh,
            ActionUnit = description.ActionUnit,
            ControlRateHz = description.ControlRateHz,
            ActionHistoryLength = description.ActionHistoryLength,
            RobotConfigJson = description.RobotConfigJson,
            TrainingConfigJson = description.TrainingConfigJson,
            GitCommit = description.GitCommit,
            GoldenObservations = goldenObservations.ToArray(),
            GoldenActions = TorchForward(actor, observationMean, observationStd, goldenObservations),
        };
        bundle.Validate("export");
        return bundle;
    }

    /// <summary>Export with <paramref name="goldenCount"/> golden observations drawn from N(mean, std²).</summary>
    public static PolicyBundle Export(FlatMlp actor, PolicyDescription description, float[] observationMean, float[] observationStd, int goldenCount = 8, int seed = 0)
    {
        var random = new Random(seed);
        var golden = new float[goldenCount * actor.InputSize];
        for (int i = 0; i < golden.Length; i++)
        {
            int j = i % actor.InputSize;
            double normal = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            golden[i] = (float)(observationMean[j] + observationStd[j] * normal);
        }
        return Export(actor, description, observationMean, observationStd, golden);
    }

    /// <summary>actor((obs − mean) / std) in TorchSharp, float32, row-major [k, act].</summary>
    public static float[] TorchForward(FlatMlp actor, float[] observationMean, float[] observationStd, float[] observations)
    {
        using var scope = NewDisposeScope();
        using (no_grad())
        {
            Tensor x = tensor(observations).view(-1, actor.InputSize);
            Tensor normalised = (x - tensor(observationMean)) / tensor(observationStd);
            Tensor output = actor.Forward(normalised);
            if (actor.EnsembleSize > 1) output = output[0];
            return output.contiguous().data<float>().ToArray();
        }
    }
}
