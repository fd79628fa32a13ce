using RoboRl.Sims;
using RoboRl.Training;

namespace RoboRl.Cluster;

/// <summary>
/// One shard of one off-policy (TD3) iteration, a pure function of (actor weights, the shard's environments as the
/// previous iteration left them, iteration, shard, seed): the environments continue from the snapshot the published
/// policy carries (iteration 0: a reset seeded by the lease), the noise is seeded by the lease, and the environments'
/// snapshot after the last step goes back with the transitions; so episodes run on across iterations and workers, and
/// a re-leased shard gives bit-identical transitions wherever it runs. While the learner measures its normalisers (<see cref="RunSpec.RandomIterations"/>)
/// the actions are the warm-up's (the hover action plus Gaussian noise, as <see cref="Td3"/>); after, the actor's plus
/// TD3's Gaussian exploration noise, clipped to [−1, 1]. Observations and rewards go back raw: the learner normalises.
/// </summary>
public sealed class OffPolicyShardRollout : IShardRollout
{
    readonly RunSpec _run;
    readonly IVectorEnv _env;
    readonly IEnvSnapshot _snapshot;
    readonly float _warmupAction, _warmupActionStd, _explorationNoise;
    readonly float[] _normalised, _action, _actions;

    /// <param name="warmupAction">The action the warm-up explores around (a quadrotor's hover action).</param>
    public OffPolicyShardRollout(RunSpec run, IVectorEnv env, float warmupAction, double warmupActionStd, double explorationNoise)
    {
        if (env.NumEnvs != run.EnvsPerShard || env.ActorObservationSize != run.ObservationSize
            || env.CriticObservationSize != run.CriticObservationSize || env.ActionSize != run.ActionSize)
            throw new ArgumentException("the environment does not have the run's shapes");
        _run = run;
        _env = env;
        _snapshot = env as IEnvSnapshot ?? throw new ArgumentException("off-policy shards need environments that can be snapshot (IEnvSnapshot)", nameof(env));
        if (_snapshot.StateBytes != run.StateBytes) throw new ArgumentException($"the environments' snapshot has {_snapshot.StateBytes} bytes, the run's {run.StateBytes}");
        _warmupAction = warmupAction;
        _warmupActionStd = (float)warmupActionStd;
        _explorationNoise = (float)explorationNoise;
        _normalised = new float[run.ObservationSize];
        _action = new float[run.ActionSize];
        _actions = new float[run.EnvsPerShard * run.ActionSize];
    }

    /// <summary>Every iteration after the first: the published policy carries where the shard's environments start.</summary>
    public bool NeedsPolicy(int iteration) => iteration > 0;

    public Fragment Run(Lease lease, PolicyWeights? policy, string workerId)
    {
        bool random = lease.Iteration < _run.RandomIterations;
        if (NeedsPolicy(lease.Iteration) && policy is null) throw new ArgumentNullException(nameof(policy));
        int n = _run.EnvsPerShard, T = _run.StepsPerShard, obs = _run.ObservationSize, critic = _run.CriticObservationSize, act = _run.ActionSize;
        int rows = n * T;
        MlpCopy? actor = random ? null : new MlpCopy(policy!.ActorSizes, policy.Actor, policy.ActorHiddenActivation, policy.ActorOutputActivation);
        var observations = new float[rows * obs];
        var criticObservations = new float[rows * critic];
        var actions = new float[rows * act];
        var rewards = new float[rows];
        var ends = new bool[rows];
        var terminatedRows = new bool[rows];
        var nextObservations = new float[rows * obs];
        var nextCriticObservations = new float[rows * critic];
        var episodeReturns = new List<float>();
        var episodeLengths = new List<int>();
        if (lease.Iteration == 0) _env.Reset(lease.Seed);
        else if (policy!.ShardStates.Length != _run.Shards) throw new ArgumentException($"policy {policy.Version} carries {policy.ShardStates.Length} shard states, the run has {_run.Shards} shards");
        else _snapshot.RestoreState(policy.ShardStates[lease.Shard]);
        var noise = new SeededRandom(ShardSeeds.Mix(lease.Seed, 0x7D3UL));
        long environments = (long)_run.Shards * n;
        for (int t = 0; t < T; t++)
        {
            // Curricula see the global step in-process training would be at.
            _env.GlobalStep = lease.Iteration * _run.EnvStepsPerIteration + t * environments;
            for (int i = 0; i < n; i++)
            {
                int row = t * n + i;
                ReadOnlySpan<float> o = _env.ActorObservations.Slice(i * obs, obs);
                o.CopyTo(observations.AsSpan(row * obs, obs));
                _env.CriticObservations.Slice(i * critic, critic).CopyTo(criticObservations.AsSpan(row * critic, critic));
                if (random)
                {
                    for (int j = 0; j < act; j++) _action[j] = Math.Clamp(_warmupAction + _warmupActionStd * noise.NextNormal(), -1f, 1f);
                }
                else
                {
                    ShardRollout.Normalize(o, policy!.ActorMean, policy.ActorStd, _normalised);
                    actor!.Forward(_normalised, _action);
                    for (int j = 0; j < act; j++) _action[j] = Math.Clamp(_action[j] + _explorationNoise * noise.NextNormal(), -1f, 1f);
                }
                _action.CopyTo(_actions.AsSpan(i * act, act));
                _action.CopyTo(actions.AsSpan(row * act, act));
            }
            _env.Step(_actions);
            ReadOnlySpan<bool> terminated = _env.Terminated, truncated = _env.Truncated;
            for (int i = 0; i < n; i++)
            {
                int row = t * n + i;
                bool ended = terminated[i] | truncated[i];
                rewards[row] = _env.Rewards[i];
                ends[row] = ended;
                terminatedRows[row] = terminated[i];
                // Where an episode ended the environment already shows the next episode's first observation; the
                // transition's next observation is the finished episode's last (as in Td3.Train).
                (ended ? _env.FinalActorObservations : _env.ActorObservations).Slice(i * obs, obs).CopyTo(nextObservations.AsSpan(row * obs, obs));
                (ended ? _env.FinalCriticObservations : _env.CriticObservations).Slice(i * critic, critic).CopyTo(nextCriticObservations.AsSpan(row * critic, critic));
                if (ended)
                {
                    episodeReturns.Add(_env.FinishedEpisodeReturns[i]);
                    episodeLengths.Add(_env.FinishedEpisodeLengths[i]);
                }
            }
        }
        return new Fragment(lease.Iteration, lease.Shard, lease.PolicyVersion, workerId, observations, criticObservations, actions,
            [], [], rewards, ends, [], [.. episodeReturns], [.. episodeLengths], 0, [], [])
        {
            NextObservations = nextObservations,
            NextCriticObservations = nextCriticObservations,
            Terminated = terminatedRows,
            FinalState = _snapshot.SaveState(),
        };
    }

    public void Dispose() => _env.Dispose();
}
