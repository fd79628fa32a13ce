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
    readonly int _n, _envs, _obsSize, _criticSize, _actionSize;
    readonly float _gamma;
    readonly float[] _observations, _criticObservations, _actions, _rewards; // [env × n × size] rings
    readonly int[] _head, _count;

    public NStepReturns(int numEnvs, int steps, double gamma, int observationSize, int criticObservationSize, int actionSize)
    {
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "n must be ≥ 1");
        _n = steps; _envs = numEnvs; _obsSize = observationSize; _criticSize = criticObservationSize; this._actionSize = actionSize;
        this._gamma = (float)gamma;
        _observations = new float[_envs * _n * _obsSize];
        _criticObservations = new float[_envs * _n * _criticSize];
        _actions = new float[_envs * _n * actionSize];
        _rewards = new float[_envs * _n];
        _head = new int[_envs];
        _count = new int[_envs];
    }

    public int Steps => _n;

    /// <summary>Adds environment <paramref name="env"/>'s step; emits the n-step transitions it completes (all pending ones if the episode ended).</summary>
    public void Add(int env, ReadOnlySpan<float> observation, ReadOnlySpan<float> criticObservation, ReadOnlySpan<float> action, float reward,
        ReadOnlySpan<float> nextObservation, ReadOnlySpan<float> nextCriticObservation, bool terminated, bool ended, TransitionSink sink)
    {
        int slot = (_head[env] + _count[env]) % _n;
        int at = env * _n + slot;
        observation.CopyTo(_observations.AsSpan(at * _obsSize, _obsSize));
        criticObservation.CopyTo(_criticObservations.AsSpan(at * _criticSize, _criticSize));
        action.CopyTo(_actions.AsSpan(at * _actionSize, _actionSize));
        _rewards[at] = reward;
        _count[env]++;
        if (_count[env] == _n) Emit(env, nextObservation, nextCriticObservation, terminated, sink);
        if (!ended) return;
        while (_count[env] > 0) Emit(env, nextObservation, nextCriticObservation, terminated, sink);
        _head[env] = 0;
    }

    /// <summary>Emits the oldest pending transition of <paramref name="env"/> (horizon = pending count) and drops it.</summary>
    void Emit(int env, ReadOnlySpan<float> nextObservation, ReadOnlySpan<float> nextCriticObservation, bool terminated, TransitionSink sink)
    {
        int m = _count[env];
        float discountedReturn = 0, discount = 1;
        for (int k = 0; k < m; k++)
        {
            discountedReturn += discount * _rewards[env * _n + (_head[env] + k) % _n];
            discount *= _gamma;
        }
        int at = env * _n + _head[env];
        sink(_observations.AsSpan(at * _obsSize, _obsSize), _criticObservations.AsSpan(at * _criticSize, _criticSize), _actions.AsSpan(at * _actionSize, _actionSize),
            discountedReturn, nextObservation, nextCriticObservation, terminated ? 0 : discount);
        _head[env] = (_head[env] + 1) % _n;
        _count[env]--;
    }
}
