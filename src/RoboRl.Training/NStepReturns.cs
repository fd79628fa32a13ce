namespace RoboRl.Training;

/// <summary>Receives one finished n-step transition: s, critic s, a, R = Σ γ^k r, s', critic s', bootstrap discount (γ^m, or 0 if terminated).</summary>
public delegate void TransitionSink(ReadOnlySpan<float> observation, ReadOnlySpan<float> criticObservation, ReadOnlySpan<float> action,
    float discountedReturn, ReadOnlySpan<float> nextObservation, ReadOnlySpan<float> nextCriticObservation, float bootstrapDiscount);

/// <summary>
/// Turns each environment's stream of one-step transitions into n-step transitions (Sutton &amp; Barto §7.1; as in
/// Rainbow, D4PG, FastTD3): R = r_t + γ r_{t+1} + … + γ^{n−1} r_{t+n−1}, bootstrapped from s_{t+n} with γ^n. Value
/// then travels n steps per backup, which matters when updates are scarce (one per 10 env steps). When an episode
/// ends, the pending transitions are flushed with their shorter horizons m &lt; n: discount γ^m after truncation (the
/// final state is bootstrapped), 0 after termination. n = 1 is plain one-step TD. Buffers allocated once.
/// </summary>
public sealed class NStepReturns
{
    readonly int n, envs, obsSize, criticSize, actionSize;
    readonly float gamma;
    readonly float[] observations, criticObservations, actions, rewards; // [env × n × size] rings
    readonly int[] head, count;

    public NStepReturns(int numEnvs, int steps, double gamma, int observationSize, int criticObservationSize, int actionSize)
    {
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "n must be ≥ 1");
        n = steps; envs = numEnvs; obsSize = observationSize; criticSize = criticObservationSize; this.actionSize = actionSize;
        this.gamma = (float)gamma;
        observations = new float[envs * n * obsSize];
        criticObservations = new float[envs * n * criticSize];
        actions = new float[envs * n * actionSize];
        rewards = new float[envs * n];
        head = new int[envs];
        count = new int[envs];
    }

    public int Steps => n;

    /// <summary>Adds environment <paramref name="env"/>'s step; emits the n-step transitions it completes (all pending ones if the episode ended).</summary>
    public void Add(int env, ReadOnlySpan<float> observation, ReadOnlySpan<float> criticObservation, ReadOnlySpan<float> action, float reward,
        ReadOnlySpan<float> nextObservation, ReadOnlySpan<float> nextCriticObservation, bool terminated, bool ended, TransitionSink sink)
    {
        int slot = (head[env] + count[env]) % n;
        int at = env * n + slot;
        observation.CopyTo(observations.AsSpan(at * obsSize, obsSize));
        criticObservation.CopyTo(criticObservations.AsSpan(at * criticSize, criticSize));
        action.CopyTo(actions.AsSpan(at * actionSize, actionSize));
        rewards[at] = reward;
        count[env]++;
        if (count[env] == n) Emit(env, nextObservation, nextCriticObservation, terminated, sink);
        if (!ended) return;
        while (count[env] > 0) Emit(env, nextObservation, nextCriticObservation, terminated, sink);
        head[env] = 0;
    }

    /// <summary>Emits the oldest pending transition of <paramref name="env"/> (horizon = pending count) and drops it.</summary>
    void Emit(int env, ReadOnlySpan<float> nextObservation, ReadOnlySpan<float> nextCriticObservation, bool terminated, TransitionSink sink)
    {
        int m = count[env];
        float discountedReturn = 0, discount = 1;
        for (int k = 0; k < m; k++)
        {
            discountedReturn += discount * rewards[env * n + (head[env] + k) % n];
            discount *= gamma;
        }
        int at = env * n + head[env];
        sink(observations.AsSpan(at * obsSize, obsSize), criticObservations.AsSpan(at * criticSize, criticSize), actions.AsSpan(at * actionSize, actionSize),
            discountedReturn, nextObservation, nextCriticObservation, terminated ? 0 : discount);
        head[env] = (head[env] + 1) % n;
        count[env]--;
    }
}
