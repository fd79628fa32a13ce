using System.Text;
using static TorchSharp.torch;

namespace RoboRl.Training;

/// <summary>
/// A training checkpoint: one binary file (<c>checkpoint.bin</c> in the run directory) holding the global step,
/// named counters (update counts, Adam step counts, the trainer's random state), named flat tensors (networks,
/// targets, Adam moments), the frozen observation normalisers and — only when asked (`roborl train
/// --checkpoint-replay`) — the filled part of the replay memory. Without it a checkpoint of the default hover run is
/// about 0.5 MB instead of ~440 MB, enough to inspect or fine-tune from (`finetune --critic-from`); --resume of an
/// off-policy run needs the replay memory (as Stable-Baselines3's save_replay_buffer). Written to a temporary file and
/// renamed, so a crash while writing leaves the previous checkpoint intact.
/// </summary>
public sealed class Checkpoint
{
    const string Magic = "roborl-checkpoint";
    // Version 2 adds a flag before the replay memory (version 1 always held it).
    const int Version = 2;
    public const string FileName = "checkpoint.bin";

    Checkpoint(string path) => Path = path;

    public string Path { get; }

    /// <summary>The checkpoint in <paramref name="runDirectory"/>, or null if there is none.</summary>
    public static Checkpoint? Find(string runDirectory)
    {
        string path = System.IO.Path.Combine(runDirectory, FileName);
        return File.Exists(path) ? new Checkpoint(path) : null;
    }

    /// <summary>The env step the checkpoint was taken at (its header only).</summary>
    public long ReadGlobalStep()
    {
        using var reader = new BinaryReader(File.OpenRead(Path), Encoding.UTF8);
        if (reader.ReadString() != Magic) throw new InvalidDataException($"{Path}: not a RoboRl checkpoint");
        reader.ReadInt32();
        return reader.ReadInt64();
    }

    /// <summary>What a loaded checkpoint restores besides tensors, normalisers and replay rows.</summary>
    public sealed record Saved(long GlobalStep, IReadOnlyDictionary<string, long> Counters)
    {
        public long Counter(string name) => Counters.TryGetValue(name, out long v) ? v
            : throw new InvalidDataException($"checkpoint has no counter '{name}' (written by another algorithm or version?)");
    }

    /// <param name="includeReplay">Also write the replay memory's filled rows (needed by --resume; hundreds of MB for a full run).</param>
    public static void Save(string runDirectory, long globalStep, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, long> counters,
        ReplayBuffer replay, RunningNormalizer actorNormalizer, RunningNormalizer criticNormalizer, bool includeReplay = false)
        => Save(runDirectory, globalStep, tensors.ToDictionary(t => t.Key, t => t.Value.contiguous().data<float>().ToArray()), counters,
            replay, actorNormalizer, criticNormalizer, includeReplay);

    /// <summary>Writes a checkpoint whose named flat vectors are plain arrays (the fused TD3 update's networks and moments).</summary>
    /// <param name="includeReplay">Also write the replay memory's filled rows (needed by --resume; hundreds of MB for a full run).</param>
    public static void Save(string runDirectory, long globalStep, IReadOnlyDictionary<string, float[]> arrays, IReadOnlyDictionary<string, long> counters,
        ReplayBuffer replay, RunningNormalizer actorNormalizer, RunningNormalizer criticNormalizer, bool includeReplay = false)
    {
        string path = System.IO.Path.Combine(runDirectory, FileName);
        string temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        using (var writer = new BinaryWriter(stream, Encoding.UTF8))
        {
            writer.Write(Magic);
            writer.Write(Version);
            writer.Write(globalStep);
            writer.Write(counters.Count);
            foreach (var (name, value) in counters) { writer.Write(name); writer.Write(value); }
            writer.Write(arrays.Count);
            foreach (var (name, values) in arrays)
            {
                writer.Write(name);
                writer.Write(values.Length);
                writer.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
            }
            WriteFloats(writer, actorNormalizer.Mean); WriteFloats(writer, actorNormalizer.Std);
            WriteFloats(writer, criticNormalizer.Mean); WriteFloats(writer, criticNormalizer.Std);
            writer.Write(actorNormalizer.Frozen);
            writer.Write(includeReplay);
            if (includeReplay) replay.Save(writer);
        }
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Restores into existing tensors (copied in place), the replay memory and the normalisers.</summary>
    public Saved Load(IReadOnlyDictionary<string, Tensor> tensors, ReplayBuffer replay, RunningNormalizer actorNormalizer, RunningNormalizer criticNormalizer)
        => Load(Destinations(tensors), replay, actorNormalizer, criticNormalizer);

    /// <summary>Restores into existing arrays (copied in place; lengths must match), the replay memory and the normalisers.</summary>
    public Saved Load(IReadOnlyDictionary<string, float[]> arrays, ReplayBuffer replay, RunningNormalizer actorNormalizer, RunningNormalizer criticNormalizer)
        => Load(Destinations(arrays), replay, actorNormalizer, criticNormalizer);

    Saved Load(IReadOnlyDictionary<string, Destination> tensors, ReplayBuffer replay, RunningNormalizer actorNormalizer, RunningNormalizer criticNormalizer)
    {
        try
        {
            using var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
            using var reader = new BinaryReader(stream, Encoding.UTF8);
            Saved saved = ReadHeaderAndTensors(stream, reader, tensors, skipOthers: false, out int version);
            float[] actorMean = ReadFloats(reader), actorStd = ReadFloats(reader), criticMean = ReadFloats(reader), criticStd = ReadFloats(reader);
            bool frozen = reader.ReadBoolean();
            bool hasReplay = version == 1 || reader.ReadBoolean();
            // An off-policy run continued on an empty replay memory would train on its first few new transitions only.
            if (!hasReplay)
                throw new InvalidDataException($"{Path}: holds no replay memory (written without `roborl train --checkpoint-replay`), and --resume of an off-policy run needs it; train again with --checkpoint-replay, or fine-tune the bundle (`roborl finetune`, which continues this checkpoint's critic with --critic-from)");
            if (frozen)
            {
                actorNormalizer.Restore(actorMean, actorStd);
                criticNormalizer.Restore(criticMean, criticStd);
            }
            replay.Load(reader, Path);
            return saved;
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"{Path}: checkpoint is truncated");
        }
    }

    /// <summary>
    /// Restores only the tensors named in <paramref name="tensors"/> (the file's others are skipped) and, into
    /// <paramref name="criticNormalizer"/>, the run's frozen critic normaliser; the replay memory is not read. Fine-tuning
    /// uses it to continue a training run's critic instead of fitting a new one.
    /// </summary>
    public void LoadCritic(IReadOnlyDictionary<string, Tensor> tensors, RunningNormalizer criticNormalizer)
    {
        try
        {
            using var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
            using var reader = new BinaryReader(stream, Encoding.UTF8);
            ReadHeaderAndTensors(stream, reader, Destinations(tensors), skipOthers: true, out _);
            ReadFloats(reader); ReadFloats(reader);
            float[] criticMean = ReadFloats(reader), criticStd = ReadFloats(reader);
            if (!reader.ReadBoolean()) throw new InvalidDataException($"{Path}: the run's normalisers were not frozen yet (checkpoint taken during warm-up)");
            if (criticMean.Length != criticNormalizer.Size)
                throw new InvalidDataException($"{Path}: the critic normaliser has {criticMean.Length} values, this critic takes {criticNormalizer.Size}");
            criticNormalizer.Restore(criticMean, criticStd);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"{Path}: checkpoint is truncated");
        }
    }

    /// <summary>Reads the header (magic, version, step, counters) and the tensors into <paramref name="tensors"/>; a tensor of
    /// the file that is not asked for is an error unless <paramref name="skipOthers"/>; every asked-for tensor must be there.</summary>
    Saved ReadHeaderAndTensors(FileStream stream, BinaryReader reader, IReadOnlyDictionary<string, Destination> tensors, bool skipOthers, out int version)
    {
        if (reader.ReadString() != Magic) throw new InvalidDataException($"{Path}: not a RoboRl checkpoint");
        version = reader.ReadInt32();
        if (version is not (1 or Version)) throw new InvalidDataException($"{Path}: checkpoint version {version}, this build reads 1 and {Version}");
        long globalStep = reader.ReadInt64();
        var counters = new Dictionary<string, long>();
        for (int k = reader.ReadInt32(); k > 0; k--) counters[reader.ReadString()] = reader.ReadInt64();
        var seen = new HashSet<string>();
        for (int k = reader.ReadInt32(); k > 0; k--)
        {
            string name = reader.ReadString();
            var values = new float[reader.ReadInt32()];
            stream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
            if (!tensors.TryGetValue(name, out Destination? destination))
            {
                if (skipOthers) continue;
                throw new InvalidDataException($"{Path}: tensor '{name}' is not part of this run (another algorithm?)");
            }
            if (destination.Count != values.Length)
                throw new InvalidDataException($"{Path}: tensor '{name}' has {values.Length} values, this network's has {destination.Count} (other network or observation sizes?)");
            destination.Restore(values);
            seen.Add(name);
        }
        foreach (string name in tensors.Keys)
            if (!seen.Contains(name)) throw new InvalidDataException($"{Path}: tensor '{name}' is missing{(skipOthers ? " (written by another algorithm?)" : "")}");
        return new Saved(globalStep, counters);
    }

    /// <summary>Where a named vector of the file goes: its length and how to copy the values in.</summary>
    sealed record Destination(long Count, Action<float[]> Restore);

    static Dictionary<string, Destination> Destinations(IReadOnlyDictionary<string, Tensor> tensors) => tensors.ToDictionary(t => t.Key,
        t => new Destination(t.Value.numel(), values => { using (no_grad()) t.Value.data<float>().CopyFrom(values); }));

    static Dictionary<string, Destination> Destinations(IReadOnlyDictionary<string, float[]> arrays) => arrays.ToDictionary(a => a.Key,
        a => new Destination(a.Value.Length, values => values.CopyTo(a.Value, 0)));

    static void WriteFloats(BinaryWriter writer, float[] values)
    {
        writer.Write(values.Length);
        foreach (float v in values) writer.Write(v);
    }

    static float[] ReadFloats(BinaryReader reader)
    {
        var values = new float[reader.ReadInt32()];
        for (int i = 0; i < values.Length; i++) values[i] = reader.ReadSingle();
        return values;
    }
}
