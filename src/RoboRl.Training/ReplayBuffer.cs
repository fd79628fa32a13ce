namespace RoboRl.Training;

/// <summary>
/// Off-policy replay memory for asymmetric actor-critic: per transition the actor observation, the critic's
/// privileged observation, the action, the (n-step discounted) reward, the NEXT actor and critic observations and the
/// bootstrap discount: γ^m for a transition spanning m steps, 0 where the episode terminated (a truncated episode
/// bootstraps like any other step, so truncation is not stored). Target = reward + discount · Q'(next).
/// Everything lives in flat float arrays allocated once (row-major, [capacity × size]); when full, the oldest
/// rows are overwritten (ring). Observations are stored raw; the trainer normalises when it samples.
/// </summary>
public sealed class ReplayBuffer
{
    public ReplayBuffer(long capacity, int actorSize, int criticSize, int actionSize)
    {
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "must be ≥ 1");
        if ((long)capacity * actorSize > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "too many rows for one array");
        Capacity = (int)capacity;
        ActorSize = actorSize;
        CriticSize = criticSize;
        ActionSize = actionSize;
        ActorObservations = new float[Capacity * actorSize];
        NextActorObservations = new float[Capacity * actorSize];
        CriticObservations = new float[Capacity * criticSize];
        NextCriticObservations = new float[Capacity * criticSize];
        Actions = new float[Capacity * actionSize];
        Rewards = new float[Capacity];
        Discounts = new float[Capacity];
    }

    public int Capacity { get; }
    public int ActorSize { get; }
    public int CriticSize { get; }
    public int ActionSize { get; }

    /// <summary>Rows holding data (≤ <see cref="Capacity"/>).</summary>
    public int Count { get; private set; }

    /// <summary>Next row to write.</summary>
    public int Position { get; private set; }

    public float[] ActorObservations { get; }
    public float[] NextActorObservations { get; }
    public float[] CriticObservations { get; }
    public float[] NextCriticObservations { get; }
    public float[] Actions { get; }
    public float[] Rewards { get; }
    /// <summary>Bootstrap discount per transition: γ^m, or 0 where the episode terminated.</summary>
    public float[] Discounts { get; }

    /// <summary>Appends one transition (copies; nothing allocated).</summary>
    public void Add(ReadOnlySpan<float> actorObservation, ReadOnlySpan<float> criticObservation, ReadOnlySpan<float> action, float reward,
        ReadOnlySpan<float> nextActorObservation, ReadOnlySpan<float> nextCriticObservation, float bootstrapDiscount)
    {
        int row = Position;
        actorObservation.CopyTo(ActorObservations.AsSpan(row * ActorSize, ActorSize));
        nextActorObservation.CopyTo(NextActorObservations.AsSpan(row * ActorSize, ActorSize));
        criticObservation.CopyTo(CriticObservations.AsSpan(row * CriticSize, CriticSize));
        nextCriticObservation.CopyTo(NextCriticObservations.AsSpan(row * CriticSize, CriticSize));
        action.CopyTo(Actions.AsSpan(row * ActionSize, ActionSize));
        Rewards[row] = reward;
        Discounts[row] = bootstrapDiscount;
        Position = row + 1 == Capacity ? 0 : row + 1;
        if (Count < Capacity) Count++;
    }

    /// <summary>Appends one transition as the networks see it: raw while the normalisers are still measuring (the
    /// warm-up; <see cref="NormaliseStoredRows"/> converts those rows when they freeze), normalised in place once they are
    /// frozen. Nothing allocated.</summary>
    public void Add(RunningNormalizer actor, RunningNormalizer critic, ReadOnlySpan<float> actorObservation, ReadOnlySpan<float> criticObservation,
        ReadOnlySpan<float> action, float reward, ReadOnlySpan<float> nextActorObservation, ReadOnlySpan<float> nextCriticObservation, float bootstrapDiscount)
    {
        int row = Position;
        Add(actorObservation, criticObservation, action, reward, nextActorObservation, nextCriticObservation, bootstrapDiscount);
        if (!actor.Frozen) return;
        Span<float> stored = ActorObservations.AsSpan(row * ActorSize, ActorSize);
        actor.Normalize(stored, stored);
        stored = NextActorObservations.AsSpan(row * ActorSize, ActorSize);
        actor.Normalize(stored, stored);
        stored = CriticObservations.AsSpan(row * CriticSize, CriticSize);
        critic.Normalize(stored, stored);
        stored = NextCriticObservations.AsSpan(row * CriticSize, CriticSize);
        critic.Normalize(stored, stored);
    }

    /// <summary>
    /// Copies <paramref name="batchSize"/> transitions drawn uniformly (with replacement) into flat batch arrays:
    /// actor observations, critic inputs [critic observation, action], critic observations, next actor and critic
    /// observations, rewards and bootstrap discounts. Nothing allocated.
    /// </summary>
    public void SampleInto(SeededRandom random, int batchSize, Span<float> observations, Span<float> criticInputs, Span<float> criticObservations,
        Span<float> nextObservations, Span<float> nextCriticObservations, Span<float> rewards, Span<float> discounts)
    {
        if (Count == 0) throw new InvalidOperationException("the replay buffer is empty");
        int o = ActorSize, c = CriticSize, a = ActionSize, ci = c + a;
        for (int k = 0; k < batchSize; k++)
        {
            int row = random.NextInt(Count);
            ActorObservations.AsSpan(row * o, o).CopyTo(observations.Slice(k * o, o));
            NextActorObservations.AsSpan(row * o, o).CopyTo(nextObservations.Slice(k * o, o));
            CriticObservations.AsSpan(row * c, c).CopyTo(criticInputs.Slice(k * ci, c));
            Actions.AsSpan(row * a, a).CopyTo(criticInputs.Slice(k * ci + c, a));
            CriticObservations.AsSpan(row * c, c).CopyTo(criticObservations.Slice(k * c, c));
            NextCriticObservations.AsSpan(row * c, c).CopyTo(nextCriticObservations.Slice(k * c, c));
            rewards[k] = Rewards[row];
            discounts[k] = Discounts[row];
        }
    }

    /// <summary>
    /// Draws <paramref name="rows"/>.Length row indices uniformly (with replacement): the draws <see cref="SampleInto"/>
    /// makes, for a trainer that gathers the rows itself (the fused TD3 update, on its threads).
    /// </summary>
    public void SampleRows(SeededRandom random, Span<int> rows)
    {
        if (Count == 0) throw new InvalidOperationException("the replay buffer is empty");
        for (int k = 0; k < rows.Length; k++) rows[k] = random.NextInt(Count);
    }

    /// <summary>Normalises, in place, every stored observation (the rows stored before the statistics were frozen).</summary>
    public void NormaliseStoredRows(RunningNormalizer actor, RunningNormalizer critic)
    {
        int rows = Count;
        actor.Normalize(ActorObservations.AsSpan(0, rows * ActorSize), ActorObservations.AsSpan(0, rows * ActorSize));
        actor.Normalize(NextActorObservations.AsSpan(0, rows * ActorSize), NextActorObservations.AsSpan(0, rows * ActorSize));
        critic.Normalize(CriticObservations.AsSpan(0, rows * CriticSize), CriticObservations.AsSpan(0, rows * CriticSize));
        critic.Normalize(NextCriticObservations.AsSpan(0, rows * CriticSize), NextCriticObservations.AsSpan(0, rows * CriticSize));
    }

    /// <summary>Writes the filled rows (for checkpoints).</summary>
    public void Save(BinaryWriter writer)
    {
        writer.Write(Capacity); writer.Write(ActorSize); writer.Write(CriticSize); writer.Write(ActionSize);
        writer.Write(Count); writer.Write(Position);
        void Rows(float[] data, int size) => writer.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan(0, Count * size)));
        Rows(ActorObservations, ActorSize); Rows(NextActorObservations, ActorSize);
        Rows(CriticObservations, CriticSize); Rows(NextCriticObservations, CriticSize);
        Rows(Actions, ActionSize); Rows(Rewards, 1); Rows(Discounts, 1);
    }

    /// <summary>Reads what <see cref="Save"/> wrote into this buffer (same capacity and sizes required).</summary>
    public void Load(BinaryReader reader, string source)
    {
        int capacity = reader.ReadInt32(), actor = reader.ReadInt32(), critic = reader.ReadInt32(), action = reader.ReadInt32();
        if (capacity != Capacity || actor != ActorSize || critic != CriticSize || action != ActionSize)
            throw new InvalidDataException($"{source}: replay buffer shape {capacity}×({actor}, {critic}, {action}) does not match this run's {Capacity}×({ActorSize}, {CriticSize}, {ActionSize})");
        int count = reader.ReadInt32(), position = reader.ReadInt32();
        if (count < 0 || count > Capacity || position < 0 || position >= Capacity)
            throw new InvalidDataException($"{source}: replay buffer count {count} / position {position} out of range for capacity {Capacity}");
        void Rows(float[] data, int size)
        {
            Span<byte> bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan(0, count * size));
            reader.BaseStream.ReadExactly(bytes);
        }
        Rows(ActorObservations, ActorSize); Rows(NextActorObservations, ActorSize);
        Rows(CriticObservations, CriticSize); Rows(NextCriticObservations, CriticSize);
        Rows(Actions, ActionSize); Rows(Rewards, 1); Rows(Discounts, 1);
        Count = count;
        Position = position;
    }
}
