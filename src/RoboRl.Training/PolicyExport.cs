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
}

/// <summary>How the deployed action comes out of the trained actor's last layer.</summary>
/// <param name="Outputs">How many of the last layer's outputs are actions (the first ones).</param>
/// <param name="Activation">Applied to those outputs' pre-activations.</param>
public sealed record ActorHead(int Outputs, Activation Activation)
{
    /// <summary>TD3/DDPG: the network ends in tanh already; every output is an action.</summary>
    public static ActorHead AsTrained(FlatMlp actor) => new(actor.OutputSize, actor.Output);

    /// <summary>SAC: the network outputs [mean, log σ] (identity); the deterministic action is tanh(mean).</summary>
    public static ActorHead SquashedGaussianMean(int actions) => new(actions, Activation.Tanh);
}

/// <summary>Turns a trained actor into a <see cref="PolicyBundle"/>.</summary>
public static class PolicyExport
{
    /// <summary>
    /// Builds the bundle for member 0 of <paramref name="actor"/>. Golden actions are computed here by the
    /// TorchSharp forward in float32 — the reference every other runtime (C# engine, firmware) must match —
    /// from <paramref name="goldenObservations"/> (raw, row-major [k, obs]; real observations from the replay
    /// buffer exercise realistic ranges). <paramref name="head"/> defaults to <see cref="ActorHead.AsTrained"/>.
    /// </summary>
    public static PolicyBundle Export(FlatMlp actor, PolicyDescription description, float[] observationMean, float[] observationStd,
        float[] goldenObservations, ActorHead? head = null)
    {
        head ??= ActorHead.AsTrained(actor);
        int obs = actor.InputSize;
        if (description.ObservationNames.Count != obs) throw new ArgumentException($"{description.ObservationNames.Count} observation names for a network with {obs} inputs");
        if (goldenObservations.Length == 0 || goldenObservations.Length % obs != 0) throw new ArgumentException($"golden observations must be k × {obs} values");
        var bundle = new PolicyBundle
        {
            Layers = actor.ExportLayers(outputs: head.Outputs, outputActivation: head.Activation),
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
            GoldenActions = TorchForward(actor, observationMean, observationStd, goldenObservations, head),
        };
        bundle.Validate("export");
        return bundle;
    }

    /// <summary>Export with <paramref name="goldenCount"/> golden observations drawn from N(mean, std²).</summary>
    public static PolicyBundle Export(FlatMlp actor, PolicyDescription description, float[] observationMean, float[] observationStd,
        int goldenCount = 8, int seed = 0, ActorHead? head = null)
    {
        var random = new Random(seed);
        var golden = new float[goldenCount * actor.InputSize];
        for (int i = 0; i < golden.Length; i++)
        {
            int j = i % actor.InputSize;
            double normal = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            golden[i] = (float)(observationMean[j] + observationStd[j] * normal);
        }
        return Export(actor, description, observationMean, observationStd, golden, head);
    }

    /// <summary>The deployed action, head(actor((obs − mean) / std)), in TorchSharp float32, row-major [k, act].</summary>
    public static float[] TorchForward(FlatMlp actor, float[] observationMean, float[] observationStd, float[] observations, ActorHead? head = null)
    {
        head ??= ActorHead.AsTrained(actor);
        if (head.Activation != actor.Output && actor.Output != Activation.Identity)
            throw new ArgumentException($"a {head.Activation} head needs an actor with identity output, not {actor.Output}");
        using var scope = NewDisposeScope();
        using (no_grad())
        {
            Tensor x = tensor(observations).view(-1, actor.InputSize);
            Tensor normalised = (x - tensor(observationMean)) / tensor(observationStd);
            Tensor output = actor.Forward(normalised);
            if (actor.EnsembleSize > 1) output = output[0];
            output = output.narrow(1, 0, head.Outputs);
            if (head.Activation != actor.Output)
                output = head.Activation switch
                {
                    Activation.Tanh => output.tanh(),
                    Activation.Relu => output.relu(),
                    _ => output,
                };
            return output.contiguous().data<float>().ToArray();
        }
    }
}
