using RoboRl.Training;

namespace RoboRl.Cluster;

/// <summary>
/// The learner's checkpoint: the last finished iteration, the coordinator's counters, the trained tensors (networks, log
/// σ), the Adam optimisers' moments and step counts and the frozen normalisers. Written to a temporary file and renamed,
/// so a learner killed while writing leaves the previous checkpoint intact. The tensors and optimisers are the learner's
/// lists in its order (navigation: actor, critic, log σ; swarm: the actor's networks, critic, log σ); the file does not
/// name them, the run identity ties it to one task.
/// </summary>
public sealed class ClusterCheckpoint
{
    const string Magic = "RoboRl cluster checkpoint 1";

    public required int Iteration { get; init; }
    public required ClusterCounters Counters { get; init; }
    public required string RunIdentity { get; init; }
    public required float[][] Tensors { get; init; }
    public required long[] AdamSteps { get; init; }
    public required float[][] Normalizers { get; init; }

    public static void Write(string path, int iteration, ClusterCounters counters, IReadOnlyList<Tensor> parameters, IReadOnlyList<FlatAdam> adams,
        RunningNormalizer actorNormalizer, RunningNormalizer criticNormalizer, string runIdentity)
    {
        string temporary = path + ".tmp";
        using (var writer = new BinaryWriter(File.Create(temporary)))
        {
            writer.Write(Magic);
            writer.Write(runIdentity);
            writer.Write(iteration);
            writer.Write(counters.Accepted);
            writer.Write(counters.Duplicates);
            writer.Write(counters.Malformed);
            writer.Write(counters.Released);
            writer.Write(counters.Refused);
            writer.Write(counters.AcceptedEnvSteps);
            writer.Write(counters.MaxPolicyLag);
            using (torch.no_grad())
                foreach (Tensor t in Parts(parameters, adams))
                {
                    float[] values = new float[t.numel()];
                    TensorCopy.To(t, values);
                    WriteFloats(writer, values);
                }
            foreach (FlatAdam adam in adams) writer.Write(adam.StepCount);
            foreach (float[] values in new[] { actorNormalizer.Mean, actorNormalizer.Std, criticNormalizer.Mean, criticNormalizer.Std }) WriteFloats(writer, values);
        }
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Reads a checkpoint of <paramref name="parameters"/> tensors and <paramref name="adams"/> optimisers.</summary>
    public static ClusterCheckpoint Read(string path, string runIdentity, int parameters, int adams)
    {
        try
        {
            using var reader = new BinaryReader(File.OpenRead(path));
            if (reader.ReadString() != Magic) throw new InvalidDataException($"{path}: not a RoboRl cluster checkpoint");
            string identity = reader.ReadString();
            if (identity != runIdentity)
                throw new InvalidDataException($"{path}: the checkpoint belongs to another task or hyperparameters than this run's; resume with the same TASK, --seed and --shards");
            int iteration = reader.ReadInt32();
            var counters = new ClusterCounters(reader.ReadInt64(), reader.ReadInt64(), reader.ReadInt64(), reader.ReadInt64(), reader.ReadInt64(), 0, reader.ReadInt64(), reader.ReadInt32());
            var tensors = new float[parameters + 2 * adams][];
            for (int k = 0; k < tensors.Length; k++) tensors[k] = ReadFloats(reader);
            var steps = new long[adams];
            for (int k = 0; k < steps.Length; k++) steps[k] = reader.ReadInt64();
            var normalizers = new float[4][];
            for (int k = 0; k < normalizers.Length; k++) normalizers[k] = ReadFloats(reader);
            return new ClusterCheckpoint { Iteration = iteration, Counters = counters, RunIdentity = identity, Tensors = tensors, AdamSteps = steps, Normalizers = normalizers };
        }
        catch (EndOfStreamException) { throw new InvalidDataException($"{path}: truncated cluster checkpoint"); }
    }

    public void Restore(IReadOnlyList<Tensor> parameters, IReadOnlyList<FlatAdam> adams, RunningNormalizer actorNormalizer, RunningNormalizer criticNormalizer)
    {
        Tensor[] parts = Parts(parameters, adams);
        if (parts.Length != Tensors.Length || adams.Count != AdamSteps.Length) throw new InvalidDataException("the checkpoint holds another architecture's tensors");
        using (torch.no_grad())
            for (int k = 0; k < parts.Length; k++)
            {
                if (parts[k].numel() != Tensors[k].Length) throw new InvalidDataException($"checkpoint tensor {k} has {Tensors[k].Length} values, the network {parts[k].numel()}: another architecture");
                TensorCopy.From(parts[k], Tensors[k]);
            }
        for (int k = 0; k < adams.Count; k++) adams[k].RestoreStepCount(AdamSteps[k]);
        if (Iteration >= 0 && Normalizers[1].Length == actorNormalizer.Size)
        {
            actorNormalizer.Restore(Normalizers[0], Normalizers[1]);
            criticNormalizer.Restore(Normalizers[2], Normalizers[3]);
        }
    }

    /// <summary>The tensors in file order: the parameters, then each optimiser's first and second moment.</summary>
    static Tensor[] Parts(IReadOnlyList<Tensor> parameters, IReadOnlyList<FlatAdam> adams) =>
        [.. parameters, .. adams.SelectMany(adam => new[] { adam.FirstMoment, adam.SecondMoment })];

    static void WriteFloats(BinaryWriter writer, float[] values)
    {
        writer.Write(values.Length);
        writer.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
    }

    static float[] ReadFloats(BinaryReader reader)
    {
        int count = reader.ReadInt32();
        if (count < 0 || count > 1 << 28) throw new InvalidDataException("corrupt cluster checkpoint (array size)");
        byte[] bytes = reader.ReadBytes(count * 4);
        if (bytes.Length != count * 4) throw new EndOfStreamException();
        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).ToArray();
    }
}
