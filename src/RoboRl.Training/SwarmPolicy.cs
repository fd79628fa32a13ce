using System.Text.Json.Nodes;
using RoboRl.Core.Policy;
using RoboRl.Core.Swarm;
using RoboRl.Core.Tasks;
using static TorchSharp.torch;

namespace RoboRl.Training;

/// <summary>
/// The swarm actor: a deep-sets network (Zaheer et al., NeurIPS 2017) over QuadSwarm's observation (docs/swarm.md).
/// Three encoders, one tanh layer each — own state (19 → self_hidden), every neighbour token through the SAME encoder
/// (6 → neighbour_hidden, then the mean over the K tokens), the SDF grid (9 → sdf_hidden) — concatenated and fed to an
/// MLP head that outputs the four rotor means. The mean pooling makes the output independent of the neighbours' order
/// and lets one network serve any K.
///
/// Why mean-pooled deep sets and not QuadSwarm's attention: with one-layer token encoders and mean pooling the whole
/// network IS a plain dense chain (block-diagonal first layer with the neighbour block repeated K times; the pooling, a
/// linear map, folded into the head's first layer as 1/K copies of its neighbour columns). So the bundle stays the
/// format every runtime already runs — the torch-free <see cref="PolicyEngine"/>, the C export, the firmware — with no
/// new operator, and parity is the engine's usual one. Attention would need softmax over tokens in each of them.
/// </summary>
public sealed class SwarmActor : IDisposable
{
    public SwarmActor(int neighbours, int selfHidden, int neighbourHidden, int sdfHidden, IReadOnlyList<int> headHidden, int seed)
    {
        Neighbours = neighbours;
        SelfEncoder = new FlatMlp([SwarmObservation.SelfSize, selfHidden], Activation.Tanh, Activation.Tanh, seed: seed * 11 + 1);
        NeighbourEncoder = neighbours > 0 ? new FlatMlp([SwarmObservation.NeighbourSize, neighbourHidden], Activation.Tanh, Activation.Tanh, seed: seed * 11 + 2) : null;
        SdfEncoder = new FlatMlp([SwarmObservation.SdfSize, sdfHidden], Activation.Tanh, Activation.Tanh, seed: seed * 11 + 3);
        int features = selfHidden + (neighbours > 0 ? neighbourHidden : 0) + sdfHidden;
        Head = new FlatMlp([features, .. headHidden, 4], Activation.Tanh, Activation.Identity, seed: seed * 11 + 4);
        Networks = NeighbourEncoder is null ? [SelfEncoder, SdfEncoder, Head] : [SelfEncoder, NeighbourEncoder, SdfEncoder, Head];
    }

    public int Neighbours { get; }
    public int ObservationSize => SwarmObservation.Size(Neighbours);
    public FlatMlp SelfEncoder { get; }
    public FlatMlp? NeighbourEncoder { get; }
    public FlatMlp SdfEncoder { get; }
    public FlatMlp Head { get; }
    /// <summary>Every trained part (one Adam each; gradients clipped together).</summary>
    public IReadOnlyList<FlatMlp> Networks { get; }
    public long ParameterCount => Networks.Sum(n => n.ParameterCount);

    /// <summary>CleanRL's PPO initialisation: orthogonal, encoders with gain √2, the head's mean layer 0.01.</summary>
    public void InitializeOrthogonal()
    {
        foreach (FlatMlp encoder in Networks.Where(n => n != Head)) encoder.InitializeOrthogonal(Math.Sqrt(2), Math.Sqrt(2));
        Head.InitializeOrthogonal(Math.Sqrt(2), 0.01);
    }

    /// <summary>[B, observation] (normalised) → [B, 4] pre-squash means. Temporaries belong to the caller's DisposeScope.</summary>
    public Tensor Forward(Tensor x)
    {
        long b = x.shape[0];
        int k = Neighbours, sdfAt = SwarmObservation.SdfOffset(k);
        Tensor self = SelfEncoder.Forward(x.narrow(1, 0, SwarmObservation.SelfSize));
        Tensor sdf = SdfEncoder.Forward(x.narrow(1, sdfAt, SwarmObservation.SdfSize));
        if (NeighbourEncoder is null) return Head.Forward(cat([self, sdf], 1));
        Tensor tokens = x.narrow(1, SwarmObservation.SelfSize, SwarmObservation.NeighbourSize * k).reshape(b * k, SwarmObservation.NeighbourSize);
        Tensor pooled = NeighbourEncoder.Forward(tokens).view(b, k, -1).mean([1]);
        return Head.Forward(cat([self, pooled, sdf], 1));
    }

    public void ZeroGrad()
    {
        foreach (FlatMlp n in Networks) n.ZeroGrad();
    }

    /// <summary>
    /// The network as a dense chain (what the bundle stores): layer 0 = the three encoders side by side (observation →
    /// self | token 1 … token K | sdf, the token block repeated), layer 1 = the head's first layer with its pooled-neighbour
    /// columns copied K times and divided by K, then the head's other layers; the last gets tanh (the deployed action is
    /// tanh(μ)).
    /// </summary>
    public IReadOnlyList<DenseLayer> ExportLayers()
    {
        int k = Neighbours, obs = ObservationSize;
        DenseLayer self = SelfEncoder.ExportLayers()[0], sdf = SdfEncoder.ExportLayers()[0];
        DenseLayer? token = NeighbourEncoder?.ExportLayers()[0];
        int hs = self.OutputSize, hn = token?.OutputSize ?? 0, ho = sdf.OutputSize, wide = hs + k * hn + ho;

        var w0 = new float[wide * obs];
        var b0 = new float[wide];
        void Block(DenseLayer layer, int outAt, int inAt)
        {
            for (int o = 0; o < layer.OutputSize; o++)
            {
                b0[outAt + o] = layer.Biases[o];
                for (int i = 0; i < layer.InputSize; i++) w0[(outAt + o) * obs + inAt + i] = layer.Weights[o * layer.InputSize + i];
            }
        }
        Block(self, 0, 0);
        for (int t = 0; t < k; t++) Block(token!, hs + t * hn, SwarmObservation.NeighbourOffset(t));
        Block(sdf, hs + k * hn, SwarmObservation.SdfOffset(k));

        IReadOnlyList<DenseLayer> head = Head.ExportLayers(outputs: 4, outputActivation: Activation.Tanh);
        DenseLayer h0 = head[0];
        int width = h0.OutputSize, pooledIn = h0.InputSize;
        var w1 = new float[width * wide];
        for (int o = 0; o < width; o++)
        {
            ReadOnlySpan<float> row = h0.Weights.AsSpan(o * pooledIn, pooledIn);
            Span<float> expanded = w1.AsSpan(o * wide, wide);
            row[..hs].CopyTo(expanded);
            for (int t = 0; t < k; t++)
                for (int j = 0; j < hn; j++) expanded[hs + t * hn + j] = row[hs + j] / k;
            row[(hs + hn)..].CopyTo(expanded[(hs + k * hn)..]);
        }
        var layers = new List<DenseLayer>
        {
            new(obs, wide, w0, b0, Activation.Tanh),
            new(wide, width, w1, h0.Biases.ToArray(), h0.Activation),
        };
        layers.AddRange(head.Skip(1));
        return layers;
    }

    /// <summary>"deep_sets" and the widths, for the bundle's training config.</summary>
    public JsonObject Describe() => new()
    {
        ["kind"] = "deep_sets",
        ["pooling"] = "mean",
        ["neighbours"] = Neighbours,
        ["self_hidden"] = SelfEncoder.OutputSize,
        ["neighbour_hidden"] = NeighbourEncoder?.OutputSize ?? 0,
        ["sdf_hidden"] = SdfEncoder.OutputSize,
        ["head_hidden"] = new JsonArray(Head.Sizes[1..^1].Select(s => (JsonNode)s).ToArray()),
        ["parameters"] = ParameterCount,
    };

    public void Dispose()
    {
        foreach (FlatMlp n in Networks) n.Dispose();
    }
}

/// <summary>What a swarm bundle says about itself, and the check that a bundle fits a swarm task.</summary>
public static class SwarmPolicySpec
{
    /// <summary>True when the bundle's observation names are a swarm observation's (own state, neighbour tokens, SDF grid).</summary>
    public static bool IsSwarmBundle(PolicyBundle bundle) => NeighbourCount(bundle) is not null;

    /// <summary>K of a swarm bundle (from observation.names), or null when the names are not a swarm observation's.</summary>
    public static int? NeighbourCount(PolicyBundle bundle) => SwarmObservation.NeighbourCount(bundle.ObservationNames);

    /// <summary>
    /// Refuses (<see cref="PolicyMismatchException"/>) a bundle that does not fit the task: another neighbour count (named
    /// with the task file's field), another robot, rate or action layout.
    /// </summary>
    public static void CheckBundle(PolicyBundle bundle, SwarmTaskConfig task, string bundleSource)
    {
        int? k = NeighbourCount(bundle);
        if (k is null)
            throw new PolicyMismatchException(bundleSource, PolicyBundle.KeyObservationNames, $"not a swarm policy: its {bundle.ObservationSize} observations are not own state + neighbour tokens + SDF grid");
        if (k != task.Neighbours)
            throw new PolicyMismatchException(bundleSource, PolicyBundle.KeyObservationNames,
                $"trained for {k} neighbours, but {task.File} field 'neighbours' is {task.Neighbours}");
        int history = SwarmObservation.HistoryLength(bundle.ObservationNames);
        if (history != task.ActionHistoryLength)
            throw new PolicyMismatchException(bundleSource, PolicyBundle.KeyObservationNames,
                $"observes the last {history} actions, but {task.File} field 'action_history_length' is {task.ActionHistoryLength}");
        bundle.CheckCompatible(task.RobotConfigJson);
        bundle.CheckCompatibleSpecs(SwarmObservation.Names(task.Neighbours, task.ActionHistoryLength), HoverObservation.ActionNames, task.ControlFrequencyHz, task.ActionHistoryLength);
    }

    /// <summary>
    /// The bundle of <paramref name="actor"/> (its dense chain, <see cref="SwarmActor.ExportLayers"/>) for <paramref name="task"/>:
    /// golden actions from the TorchSharp forward of the encoder network itself, which the engine must reproduce.
    /// </summary>
    public static PolicyBundle Export(SwarmActor actor, SwarmTaskConfig task, float[] mean, float[] std, float[] goldenObservations, string trainingConfigJson)
    {
        if (actor.Neighbours != task.Neighbours) throw new ArgumentException($"an actor for {actor.Neighbours} neighbours does not fit {task.File} (neighbours = {task.Neighbours})");
        PolicyDescription d = Describe(task, trainingConfigJson);
        var bundle = new PolicyBundle
        {
            Layers = actor.ExportLayers(),
            ObservationNames = d.ObservationNames,
            ActionNames = d.ActionNames,
            ObservationMean = mean.ToArray(),
            ObservationStd = std.ToArray(),
            ActionLow = d.ActionLow,
            ActionHigh = d.ActionHigh,
            ActionUnit = d.ActionUnit,
            ControlRateHz = d.ControlRateHz,
            ActionHistoryLength = 0,
            RobotConfigJson = d.RobotConfigJson,
            TrainingConfigJson = d.TrainingConfigJson,
            GitCommit = d.GitCommit,
            GoldenObservations = goldenObservations.ToArray(),
            GoldenActions = SwarmPpo.TorchForward(actor, mean, std, goldenObservations),
        };
        bundle.Validate("export");
        return bundle;
    }

    /// <summary>The bundle's description of a swarm policy trained on <paramref name="task"/>.</summary>
    public static PolicyDescription Describe(SwarmTaskConfig task, string trainingConfigJson)
    {
        var (low, high) = HoverObservation.ActionScaling(task.Robot);
        return new PolicyDescription(SwarmObservation.Names(task.Neighbours, task.ActionHistoryLength), HoverObservation.ActionNames, low, high, HoverObservation.ActionUnit,
            task.ControlFrequencyHz, task.ActionHistoryLength, task.RobotConfigJson, trainingConfigJson, GitInfo.Commit);
    }
}
