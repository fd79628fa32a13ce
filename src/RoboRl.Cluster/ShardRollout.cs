using RoboRl.Sims;
using RoboRl.Training;

namespace RoboRl.Cluster;

/// <summary>
/// A worker's inference copy of one layered MLP (by default tanh hidden layers and an identity output, PPO's; TD3's
/// actor: ReLU and tanh), in plain C# loops: the same arithmetic in the same order on every machine, no torch needed on
/// a worker. Layout as <see cref="PolicyWeights"/>.
/// </summary>
public sealed class MlpCopy
{
    readonly int[] _sizes;
    readonly float[] _parameters;
    readonly float[] _a, _b;
    readonly Activation _hidden, _output;

    public MlpCopy(int[] sizes, float[] parameters, Activation hidden = Activation.Tanh, Activation output = Activation.Identity)
    {
        _hidden = hidden;
        _output = output;
        long expected = 0;
        for (int l = 0; l + 1 < sizes.Length; l++) expected += (long)sizes[l] * sizes[l + 1] + sizes[l + 1];
        if (sizes.Length < 2 || parameters.Length != expected) throw new ArgumentException($"an MLP of sizes [{string.Join(", ", sizes)}] has {expected} parameters, got {parameters.Length}");
        this._sizes = sizes;
        this._parameters = parameters;
        int widest = sizes.Max();
        _a = new float[widest];
        _b = new float[widest];
    }

    /// <summary>One row: <paramref name="input"/> [sizes[0]] → <paramref name="output"/> [sizes[^1]].</summary>
    public void Forward(ReadOnlySpan<float> input, Span<float> output)
    {
        input.CopyTo(_a);
        float[] x = _a, y = _b;
        int offset = 0;
        for (int l = 0; l + 1 < _sizes.Length; l++)
        {
            int inSize = _sizes[l], outSize = _sizes[l + 1];
            ReadOnlySpan<float> w = _parameters.AsSpan(offset, inSize * outSize);
            ReadOnlySpan<float> bias = _parameters.AsSpan(offset + inSize * outSize, outSize);
            bool last = l + 2 == _sizes.Length;
            for (int o = 0; o < outSize; o++)
            {
                float sum = bias[o];
                ReadOnlySpan<float> row = w.Slice(o * inSize, inSize);
                for (int k = 0; k < inSize; k++) sum += row[k] * x[k];
                y[o] = Apply(last ? _output : _hidden, sum);
            }
            offset += inSize * outSize + outSize;
            (x, y) = (y, x);
        }
        x.AsSpan(0, _sizes[^1]).CopyTo(output);
    }

    static float Apply(Activation activation, float x) => activation switch
    {
        Activation.Tanh => MathF.Tanh(x),
        Activation.Relu => Math.Max(0f, x),
        _ => x,
    };
}

/// <summary>What a worker runs for one lease: a shard's rollout, a pure function of (policy weights, iteration, shard, seed).</summary>
public interface IShardRollout : IDisposable
{
    /// <summary>Whether iteration <paramref name="iteration"/> flies the published policy (else its actions are random).</summary>
    bool NeedsPolicy(int iteration);

    Fragment Run(Lease lease, PolicyWeights? policy, string workerId);
}

/// <summary>
/// Simulates one shard of one iteration: a pure function of (policy weights, iteration, shard, seed). The shard's
/// environments start from a reset seeded by the lease every iteration and the action noise is seeded by it too, so
/// a re-leased shard gives bit-identical data wherever it runs. Iteration 0 is the normaliser warm-up: actions from
/// the initial policy's distribution, only the observation statistics go back (as in <see cref="Ppo"/>'s warm-up).
/// </summary>
public sealed class ShardRollout : IShardRollout
{
    static readonly double HalfLog2Pi = 0.5 * Math.Log(2 * Math.PI);
    readonly RunSpec _run;
    readonly PpoConfig _c;
    readonly IVectorEnv _env;
    readonly float[] _normalised, _normalisedCritic, _mean, _value, _actions;

    public ShardRollout(RunSpec run, PpoConfig config, IVectorEnv env)
    {
        if (env.NumEnvs != run.EnvsPerShard || env.ActorObservationSize != run.ObservationSize
            || env.CriticObservationSize != run.CriticObservationSize || env.ActionSize != run.ActionSize)
            throw new ArgumentException("the environment does not have the run's shapes");
        this._run = run;
        _c = config;
        this._env = env;
        _normalised = new float[run.ObservationSize];
        _normalisedCritic = new float[run.CriticObservationSize];
        _mean = new float[run.ActionSize];
        _value = new float[1];
        _actions = new float[run.EnvsPerShard * run.ActionSize];
    }

    /// <summary>Called before every rollout step with (iteration, step): the swarm anneals its collision weight by the
    /// global step in-process training would be at.</summary>
    public Action<int, int>? BeforeStep { get; init; }

    public bool NeedsPolicy(int iteration) => iteration > 0;

    public Fragment Run(Lease lease, PolicyWeights? policy, string workerId)
    {
        _env.Reset(lease.Seed);
        var random = new SeededRandom(ShardSeeds.Mix(lease.Seed, 0xAC7105UL));
        return lease.Iteration == 0 ? WarmUp(lease, random, workerId)
            : Rollout(lease, policy ?? throw new ArgumentNullException(nameof(policy)), random, workerId);
    }

    Fragment WarmUp(Lease lease, SeededRandom random, string workerId)
    {
        int n = _run.EnvsPerShard, obs = _run.ObservationSize, critic = _run.CriticObservationSize;
        double[] actorStats = new double[2 * obs], criticStats = new double[2 * critic]; // [mean…, M2…] (Welford)
        long count = 0;
        float initialStd = (float)Math.Exp(_c.InitialLogStd);
        for (int t = 0; t < _run.WarmupStepsPerShard; t++)
        {
            for (int i = 0; i < n; i++)
            {
                count++;
                Welford(actorStats, _env.ActorObservations.Slice(i * obs, obs), count);
                Welford(criticStats, _env.CriticObservations.Slice(i * critic, critic), count);
            }
            for (int k = 0; k < _actions.Length; k++) _actions[k] = MathF.Tanh(initialStd * random.NextNormal());
            _env.Step(_actions);
        }
        return new Fragment(lease.Iteration, lease.Shard, lease.PolicyVersion, workerId, [], [], [], [], [], [], [], [], [], [],
            count, actorStats, criticStats);
    }

    static void Welford(double[] stats, ReadOnlySpan<float> x, long count)
    {
        int size = x.Length;
        for (int j = 0; j < size; j++)
        {
            double delta = x[j] - stats[j];
            stats[j] += delta / count;
            stats[size + j] += delta * (x[j] - stats[j]);
        }
    }

    Fragment Rollout(Lease lease, PolicyWeights p, SeededRandom random, string workerId)
    {
        int n = _run.EnvsPerShard, T = _run.StepsPerShard, obs = _run.ObservationSize, critic = _run.CriticObservationSize, act = _run.ActionSize;
        int rows = n * T;
        var actor = new MlpCopy(p.ActorSizes, p.Actor);
        var valueNet = new MlpCopy(p.CriticSizes, p.Critic);
        var observations = new float[rows * obs];
        var criticObservations = new float[rows * critic];
        var preSquash = new float[rows * act];
        var logProbs = new float[rows];
        var values = new float[rows];
        var rewards = new float[rows];
        var ends = new bool[rows];
        var nextValues = new float[n];
        var episodeReturns = new List<float>();
        var episodeLengths = new List<int>();
        // Curricula see the same global step as in-process training would at this iteration.
        _env.GlobalStep = _c.NormalizerWarmupEnvSteps + (long)(lease.Iteration - 1) * _c.BatchSize;
        for (int t = 0; t < T; t++)
        {
            BeforeStep?.Invoke(lease.Iteration, t);
            for (int i = 0; i < n; i++)
            {
                int row = t * n + i;
                Span<float> o = observations.AsSpan(row * obs, obs);
                Normalize(_env.ActorObservations.Slice(i * obs, obs), p.ActorMean, p.ActorStd, o);
                Span<float> co = criticObservations.AsSpan(row * critic, critic);
                Normalize(_env.CriticObservations.Slice(i * critic, critic), p.CriticMean, p.CriticStd, co);
                actor.Forward(o, _mean);
                valueNet.Forward(co, _value);
                double logProb = 0;
                for (int j = 0; j < act; j++)
                {
                    float eps = random.NextNormal();
                    float u = _mean[j] + MathF.Exp(p.LogStd[j]) * eps;
                    preSquash[row * act + j] = u;
                    _actions[i * act + j] = MathF.Tanh(u);
                    logProb += -0.5 * eps * eps - p.LogStd[j] - HalfLog2Pi;
                }
                logProbs[row] = (float)logProb;
                values[row] = _value[0];
            }
            _env.Step(_actions);
            ReadOnlySpan<bool> terminated = _env.Terminated, truncated = _env.Truncated;
            for (int i = 0; i < n; i++)
            {
                int row = t * n + i;
                float reward = (float)(_env.Rewards[i] * _c.RewardScale);
                // Truncated (time limit), not terminated: the episode's future value is not zero (as in Ppo.Train).
                if (truncated[i] && !terminated[i])
                {
                    Normalize(_env.FinalCriticObservations.Slice(i * critic, critic), p.CriticMean, p.CriticStd, _normalisedCritic);
                    valueNet.Forward(_normalisedCritic, _value);
                    reward += (float)_c.Gamma * _value[0];
                }
                rewards[row] = reward;
                ends[row] = terminated[i] | truncated[i];
                if (ends[row])
                {
                    episodeReturns.Add(_env.FinishedEpisodeReturns[i]);
                    episodeLengths.Add(_env.FinishedEpisodeLengths[i]);
                }
            }
        }
        for (int i = 0; i < n; i++)
        {
            Normalize(_env.CriticObservations.Slice(i * critic, critic), p.CriticMean, p.CriticStd, _normalisedCritic);
            valueNet.Forward(_normalisedCritic, _value);
            nextValues[i] = _value[0];
        }
        return new Fragment(lease.Iteration, lease.Shard, lease.PolicyVersion, workerId, observations, criticObservations, preSquash,
            logProbs, values, rewards, ends, nextValues, [.. episodeReturns], [.. episodeLengths], 0, [], []);
    }

    internal static void Normalize(ReadOnlySpan<float> x, float[] mean, float[] std, Span<float> destination)
    {
        for (int j = 0; j < x.Length; j++) destination[j] = (x[j] - mean[j]) / std[j];
    }

    public void Dispose() => _env.Dispose();
}
