namespace RoboRl.Sims;

/// <summary>
/// N environments stepped together (Gymnasium vector-env semantics with same-step auto-reset).
/// All buffers are owned by the environment, allocated once, and row-major: row i of a [N × size]
/// buffer belongs to environment i, ready to copy into a tensor. They are overwritten by the next call
/// to <see cref="Reset"/> or <see cref="Step"/>.
/// </summary>
/// <remarks>
/// Auto-reset: when environment i terminates or is truncated in a step, its row of
/// <see cref="ActorObservations"/>/<see cref="CriticObservations"/> already holds the FIRST observation
/// of its next episode, while <see cref="FinalActorObservations"/>/<see cref="FinalCriticObservations"/>
/// hold the LAST observation of the finished episode (use it to bootstrap on truncation), and
/// <see cref="FinishedEpisodeReturns"/>/<see cref="FinishedEpisodeLengths"/> hold its statistics.
/// Rows of the Final*/Finished* buffers are meaningful only where Terminated[i] or Truncated[i].
/// </remarks>
public interface IVectorEnv : IDisposable
{
    int NumEnvs { get; }
    int ActionSize { get; }
    int ActorObservationSize { get; }
    int CriticObservationSize { get; }

    /// <summary>Environment steps taken so far for curricula; the trainer sets it (Step does not change it).</summary>
    long GlobalStep { get; set; }

    /// <summary>Resets every environment; the same seed gives bit-identical trajectories for the same actions.</summary>
    void Reset(ulong seed);

    /// <summary>Advances every environment one control step. <paramref name="actions"/> is [N × ActionSize],
    /// values in [−1, 1] (clamped); a NaN in a row ends that environment's episode (terminated) and is counted.</summary>
    void Step(ReadOnlySpan<float> actions);

    ReadOnlySpan<float> ActorObservations { get; }
    ReadOnlySpan<float> CriticObservations { get; }
    ReadOnlySpan<float> Rewards { get; }
    ReadOnlySpan<bool> Terminated { get; }
    ReadOnlySpan<bool> Truncated { get; }
    ReadOnlySpan<float> FinalActorObservations { get; }
    ReadOnlySpan<float> FinalCriticObservations { get; }
    ReadOnlySpan<float> FinishedEpisodeReturns { get; }
    ReadOnlySpan<int> FinishedEpisodeLengths { get; }

    /// <summary>Episodes finished (terminated or truncated) since the last <see cref="Reset"/>.</summary>
    long CompletedEpisodes { get; }

    /// <summary>Action rows containing NaN since construction.</summary>
    long NanActionCount { get; }
}

/// <summary>
/// Environments whose whole state can be saved and restored: a snapshot taken after some steps, restored into
/// environments of the same task and count, continues bit for bit (the cluster hands an off-policy shard's environments
/// from one iteration, and one worker, to the next this way).
/// </summary>
public interface IEnvSnapshot
{
    /// <summary>Bytes of a snapshot.</summary>
    int StateBytes { get; }

    byte[] SaveState();

    void RestoreState(ReadOnlySpan<byte> state);
}
