using System.Diagnostics;
using RoboRl.Core.Policy;
using RoboRl.Training.Kernels;

namespace RoboRl.Training;

/// <summary>
/// TD3's gradient steps for <see cref="Td3.Train"/>, on plain arrays with hand-written kernels
/// (<see cref="MlpKernels"/>, <see cref="SmallGemm"/>) instead of TorchSharp: at these sizes (batch 128, 64-wide
/// layers) TorchSharp's per-op overhead and single-thread small GEMMs dominated, and a whole update here is a few
/// fused passes over data that stays in the L1/L2 cache. The maths is the TorchSharp version's, step for step
/// (tests/RoboRl.Training.Tests/Td3UpdateTests.cs compares losses, gradients, Adam and Polyak steps and whole updates
/// with autograd on <see cref="FlatMlp"/>/<see cref="FlatAdam"/>):
/// <code>
///   critic:  a' = clip(π'(s') + clip(σ·ε, −c, c), −1, 1);  y = R + discount · min_i Q'_i(s', a')
///            L_Q = Σ_i mean_batch (Q_i(s, a) − y)²;  one Adam step (L2 weight decay)
///   actor:   L_π = −mean_batch Q_1(s, π(s))  [+ CAPS: λ_T·mean |π(s) − π(s')|² + λ_S·mean |π(s) − π(s + ε_S)|²
///            on the batch's first rows];  the critic only passes the gradient through;  one Adam step
///   targets: θ' ← θ' + τ·(θ − θ') for the actor and the critics
/// </code>
/// The networks keep <see cref="FlatMlp"/>'s flat layout (checkpoints and the bundle export read them as before).
///
/// Threads: the batch is split into <see cref="BlockCount"/> blocks of rows, each computed whole (gather, forward,
/// loss, backward) by one thread into its own gradient buffer; the Adam steps (by critic, and by actor layers) read
/// the blocks' gradients summed in a fixed order, and Polyak averaging is split by parameter range. So the result does not depend on which thread ran
/// which block nor on how many threads there are: one thread computes the blocks in turn. Whether two threads or one
/// run the updates is measured as training goes (<see cref="ThreadChoice"/>): a second core that another process keeps
/// busy makes two threads slower than one. Noise is addressed by
/// (update, row, column) (<see cref="CounterNoise"/>) for the same reason. Nothing is allocated per update.
/// </summary>
public sealed unsafe class Td3Update : IPhaseWork, IDisposable
{
    /// <summary>Blocks of rows the batch is split into (one per core of a 2-core machine).</summary>
    public const int BlockCount = 2;

    const int CriticPhase = 0, CriticAdamPhase = 1, ActorPhase = 2, ActorAdamPhase = 3, TargetsPhase = 4;
    const int PolyakChunks = 2;

    readonly Td3Config _config;
    readonly int _observationSize, _criticObservationSize, _actionSize, _criticInputSize, _batchSize, _smoothRows;
    readonly Block[] _blocks;
    readonly PhaseRunner _runner;
    readonly MlpWorkspace _actingWork;
    readonly PinnedArray _actingInput;
    readonly ThreadChoice _threadChoice = new();
    // The current phase's inputs (set on the calling thread before the phase runs).
    ReplayBuffer? _replay;
    int[]? _batchRows;
    long _noiseCounter;
    AdamCoefficients _adamStep;
    float _tau;

    /// <param name="actor">The initial actor (single network, tanh output); its parameters are copied.</param>
    /// <param name="critic">The initial critics (an ensemble with one output, input = critic observation + action).</param>
    /// <param name="c">Batch size, learning rates, weight decay, target smoothing, CAPS and the seed of the noise.</param>
    /// <param name="actingRows">Most rows one <see cref="Act"/> call takes (the number of environments).</param>
    /// <param name="threads">Threads per update, the caller included (0 = one per block, at most the machine's cores).</param>
    public Td3Update(FlatMlp actor, FlatMlp critic, Td3Config c, int actingRows, int threads = 0)
        : this(new MlpWeights(actor), new MlpWeights(critic), c, actingRows, threads) { }

    /// <summary>The same from networks on plain arrays (no TorchSharp needed; their parameters are copied).</summary>
    public Td3Update(MlpWeights actor, MlpWeights critic, Td3Config c, int actingRows, int threads = 0)
    {
        if (actor.Layout.EnsembleSize != 1) throw new ArgumentException("the actor must be a single network", nameof(actor));
        if (critic.Layout.OutputSize != 1) throw new ArgumentException("each critic must have one output", nameof(critic));
        if (critic.Layout.InputSize <= actor.Layout.OutputSize) throw new ArgumentException("the critic's input must be a critic observation followed by the action", nameof(critic));
        if (c.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(c), c.BatchSize, "batch size must be ≥ 1");
        if (threads < 0) throw new ArgumentOutOfRangeException(nameof(threads), threads, "must be ≥ 0");
        _config = c;
        _observationSize = actor.Layout.InputSize;
        _actionSize = actor.Layout.OutputSize;
        _criticInputSize = critic.Layout.InputSize;
        _criticObservationSize = _criticInputSize - _actionSize;
        _batchSize = c.BatchSize;
        bool smoothing = c.SmoothnessTemporal > 0 || c.SmoothnessSpatial > 0;
        _smoothRows = !smoothing ? 0 : c.SmoothnessBatch == 0 ? _batchSize : Math.Min(_batchSize, c.SmoothnessBatch);

        Actor = Copy(actor);
        ActorTarget = Copy(actor);
        Critic = Copy(critic);
        CriticTarget = Copy(critic);
        ActorAdam = new AdamState(Actor.Layout.ParameterCount, c.ActorLearningRate, c.WeightDecay);
        CriticAdam = new AdamState(Critic.Layout.ParameterCount, c.CriticLearningRate, c.WeightDecay);
        TargetNoiseStream = (ulong)c.Run.Seed * 0xD1B54A32D192ED03UL + 0x7A3D;
        SmoothingNoiseStream = (ulong)c.Run.Seed * 0xD1B54A32D192ED03UL + 0x5307;

        int count = Math.Min(BlockCount, _batchSize);
        _blocks = new Block[count];
        for (int h = 0; h < count; h++)
        {
            int first = _batchSize * h / count, rows = _batchSize * (h + 1) / count - first;
            _blocks[h] = new Block(this, first, rows, Math.Clamp(_smoothRows - first, 0, rows));
        }
        _runner = new PhaseRunner(threads == 0 ? Math.Min(count, Environment.ProcessorCount) : Math.Min(threads, count));
        _actingWork = new MlpWorkspace(Actor.Layout, Math.Max(actingRows, 1));
        _actingInput = new PinnedArray(Math.Max(actingRows, 1) * _observationSize);
    }

    static MlpWeights Copy(MlpWeights source)
    {
        var copy = new MlpWeights(source.Layout);
        copy.CopyFrom(source);
        return copy;
    }

    public MlpWeights Actor { get; }
    public MlpWeights ActorTarget { get; }
    /// <summary>The actor evaluations score and bundles export (<see cref="Td3Config.ExportedActor"/>); exploration
    /// always flies <see cref="Actor"/>.</summary>
    public MlpWeights ExportedActor => _config.ExportedActor == "target" ? ActorTarget : Actor;
    /// <summary>The twin critics (an ensemble in one vector).</summary>
    public MlpWeights Critic { get; }
    public MlpWeights CriticTarget { get; }
    public AdamState ActorAdam { get; }
    public AdamState CriticAdam { get; }

    /// <summary>Networks, targets and Adam moments by name, the arrays themselves (FlatMlp's layout, as checkpoints have
    /// always stored them): a checkpoint writes them, or loads into them and then calls <see cref="Restored"/>.</summary>
    public Dictionary<string, float[]> NamedState() => new()
    {
        ["actor"] = Actor.Parameters,
        ["actor_target"] = ActorTarget.Parameters,
        ["critic"] = Critic.Parameters,
        ["critic_target"] = CriticTarget.Parameters,
        ["actor_adam_m"] = ActorAdam.FirstMoment.Array,
        ["actor_adam_v"] = ActorAdam.SecondMoment.Array,
        ["critic_adam_m"] = CriticAdam.FirstMoment.Array,
        ["critic_adam_v"] = CriticAdam.SecondMoment.Array,
    };

    /// <summary>After <see cref="NamedState"/>'s arrays were overwritten (a checkpoint loaded): the networks' derived copies follow.</summary>
    public void Restored()
    {
        foreach (MlpWeights network in new[] { Actor, ActorTarget, Critic, CriticTarget }) network.Changed();
    }
    /// <summary>Threads each phase may run on, the caller included.</summary>
    public int Threads => _runner.Threads;
    /// <summary>Critic updates (with the actor and target steps that followed them) run on the caller alone because one
    /// thread measured faster (<see cref="ThreadChoice"/>); the results are the same either way.</summary>
    public long UpdatesOnOneThread => _threadChoice.SoloRounds;
    /// <summary>Target smoothing noise ε of critic update u, batch row r, action j: <see cref="CounterNoise"/>
    /// (this stream, counter u, index r·actions + j).</summary>
    public ulong TargetNoiseStream { get; }
    /// <summary>CAPS spatial noise of actor update u, smoothing row r, observation j: (this stream, u, r·observations + j).</summary>
    public ulong SmoothingNoiseStream { get; }

    /// <summary>
    /// One critic step on the batch of replay rows <paramref name="rows"/> (<see cref="Td3Config.BatchSize"/> of them;
    /// the actor step that may follow uses the same batch). <paramref name="update"/> numbers the update (it selects the
    /// target smoothing noise). Returns the loss before the step.
    /// </summary>
    public float UpdateCritic(ReplayBuffer memory, int[] rows, long update)
    {
        if (rows.Length < _batchSize) throw new ArgumentException($"need {_batchSize} batch rows, got {rows.Length}", nameof(rows));
        if (memory.ActorSize != _observationSize || memory.CriticSize != _criticObservationSize || memory.ActionSize != _actionSize)
            throw new ArgumentException("the replay memory's sizes differ from the networks'", nameof(memory));
        for (int k = 0; k < _batchSize; k++) // the gather copies through raw pointers
            if ((uint)rows[k] >= (uint)memory.Count)
                throw new ArgumentOutOfRangeException(nameof(rows), rows[k], $"batch row {k} is not one of the replay memory's {memory.Count} rows");
        long started = Stopwatch.GetTimestamp();
        if (_runner.Threads > 1) _runner.Solo = _threadChoice.BeginRound();
        _replay = memory;
        _batchRows = rows;
        _noiseCounter = update;
        ActorTarget.RefreshTransposes(forwardOnly: true);
        CriticTarget.RefreshTransposes(forwardOnly: true);
        Critic.RefreshTransposes(); // a no-op after an UpdateCritic (its Adam phase refreshes them)
        _runner.Run(this, CriticPhase, _blocks.Length);
        _adamStep = CriticAdam.NextStep();
        Critic.Changed();
        _runner.Run(this, CriticAdamPhase, Critic.Layout.EnsembleSize);
        Critic.TransposesRefreshed();
        float loss = 0;
        foreach (Block b in _blocks) loss += b.CriticLoss;
        _threadChoice.Record(Stopwatch.GetTimestamp() - started);
        return loss;
    }

    /// <summary>
    /// One actor step on the batch of the last <see cref="UpdateCritic"/>, through the critic as that step left it.
    /// <paramref name="update"/> numbers the actor update (it selects the CAPS spatial noise). Returns the loss.
    /// </summary>
    public float UpdateActor(long update)
    {
        if (_batchRows is null) throw new InvalidOperationException("the actor step uses the critic step's batch: call UpdateCritic first");
        long started = Stopwatch.GetTimestamp();
        _noiseCounter = update;
        Actor.RefreshTransposes();
        Critic.RefreshTransposes();
        _runner.Run(this, ActorPhase, _blocks.Length);
        _adamStep = ActorAdam.NextStep();
        Actor.Changed();
        _runner.Run(this, ActorAdamPhase, Actor.Layout.LayerCount > 1 ? 2 : 1);
        Actor.TransposesRefreshed();
        float loss = 0;
        foreach (Block b in _blocks) loss += b.ActorLoss;
        _threadChoice.Record(Stopwatch.GetTimestamp() - started);
        return loss;
    }

    /// <summary>Polyak averaging of both targets towards the current networks: θ' ← θ' + τ·(θ − θ').</summary>
    public void UpdateTargets(double polyakTau)
    {
        long started = Stopwatch.GetTimestamp();
        _tau = (float)polyakTau;
        _runner.Run(this, TargetsPhase, 2 * PolyakChunks);
        ActorTarget.Changed();
        CriticTarget.Changed();
        _threadChoice.Record(Stopwatch.GetTimestamp() - started);
    }

    /// <summary>The actor's actions for <paramref name="observations"/> (normalised, rows × observation size) on the calling thread.</summary>
    public void Act(ReadOnlySpan<float> observations, Span<float> actions)
    {
        int rows = observations.Length / _observationSize;
        if (rows * _observationSize != observations.Length || rows > _actingWork.Rows || actions.Length != rows * _actionSize)
            throw new ArgumentException($"need up to {_actingWork.Rows} rows of {_observationSize} observations and {_actionSize} actions per row");
        observations.CopyTo(_actingInput.Span);
        Actor.RefreshTransposes(forwardOnly: true);
        MlpKernels.Forward(Actor, 0, _actingInput.Pointer, _observationSize, rows, _actingWork);
        new ReadOnlySpan<float>(_actingWork.Output, rows * _actionSize).CopyTo(actions);
    }

    /// <summary>The critics' loss gradient of the last critic step, summed over the blocks (before weight decay).</summary>
    public void CriticGradient(Span<float> destination) => SumBlocks(destination, b => b.CriticGradients);

    /// <summary>The actor's loss gradient of the last actor step, summed over the blocks (before weight decay).</summary>
    public void ActorGradient(Span<float> destination) => SumBlocks(destination, b => b.ActorGradients);

    void SumBlocks(Span<float> destination, Func<Block, PinnedArray> gradients)
    {
        destination.Clear();
        foreach (Block b in _blocks)
        {
            Span<float> part = gradients(b).Span;
            for (int i = 0; i < destination.Length; i++) destination[i] += part[i];
        }
    }

    /// <summary>Runs one item of a phase (called by <see cref="PhaseRunner"/> on any thread).</summary>
    public void RunItem(int phase, int item)
    {
        switch (phase)
        {
            case CriticPhase: CriticBlock(_blocks[item]); break;
            case CriticAdamPhase: CriticAdamMember(item); break;
            case ActorPhase: ActorBlock(_blocks[item]); break;
            case ActorAdamPhase: ActorAdamLayers(item); break;
            case TargetsPhase:
                if (item < PolyakChunks) PolyakChunk(ActorTarget, Actor, item);
                else PolyakChunk(CriticTarget, Critic, item - PolyakChunks);
                break;
            default: throw new ArgumentOutOfRangeException(nameof(phase), phase, "unknown phase");
        }
    }

    /// <summary>The critic step's forward and backward passes for one block of the batch.</summary>
    void CriticBlock(Block b)
    {
        b.Gather(_replay!, _batchRows!);
        int rows = b.Rows, act = _actionSize, cin = _criticInputSize;

        // Target action a' = clip(π'(s') + clip(σ·ε, −c, c), −1, 1), written into the action columns of [s', a'].
        MlpKernels.Forward(ActorTarget, 0, b.NextObservations.Pointer, _observationSize, rows, b.ActorWork);
        CounterNoise.FillNormal(TargetNoiseStream, _noiseCounter, b.First * act, b.Noise.Pointer, rows * act);
        float sigma = (float)_config.TargetNoise, clip = (float)_config.TargetNoiseClip;
        float* nextAction = b.ActorWork.Output, noise = b.Noise.Pointer, nextInputs = b.NextCriticInputs.Pointer;
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < act; j++)
            {
                float epsilon = Math.Clamp(noise[i * act + j] * sigma, -clip, clip);
                nextInputs[i * cin + _criticObservationSize + j] = Math.Clamp(nextAction[i * act + j] + epsilon, -1f, 1f);
            }

        // y = R + discount·min_i Q'_i(s', a') (discount = γ^n, or 0 after termination).
        float* y = b.Targets.Pointer;
        for (int e = 0; e < Critic.Layout.EnsembleSize; e++)
        {
            MlpKernels.Forward(CriticTarget, e, nextInputs, cin, rows, b.CriticWork);
            float* q = b.CriticWork.Output;
            for (int i = 0; i < rows; i++) y[i] = e == 0 ? q[i] : MathF.Min(y[i], q[i]);
        }
        float* reward = b.Rewards.Pointer, discount = b.Discounts.Pointer;
        for (int i = 0; i < rows; i++) y[i] = y[i] * discount[i] + reward[i];

        // L_Q = Σ_i mean_batch (Q_i − y)²: each critic's gradient 2(Q_i − y)/B, back through that critic.
        float loss = 0, scale = 1f / _batchSize;
        float* dq = b.OutputGradient.Pointer;
        for (int e = 0; e < Critic.Layout.EnsembleSize; e++)
        {
            MlpKernels.Forward(Critic, e, b.CriticInputs.Pointer, cin, rows, b.CriticWork);
            float* q = b.CriticWork.Output;
            for (int i = 0; i < rows; i++)
            {
                float d = q[i] - y[i];
                loss += d * d;
                dq[i] = 2 * d * scale;
            }
            MlpKernels.Backward(Critic, e, b.CriticInputs.Pointer, cin, rows, b.CriticWork, dq, b.CriticGradients.Pointer);
        }
        b.CriticLoss = loss * scale;
    }

    /// <summary>The actor step's forward and backward passes for one block of the batch.</summary>
    void ActorBlock(Block b)
    {
        int rows = b.Rows, act = _actionSize, obs = _observationSize, cin = _criticInputSize, smooth = b.SmoothRows;
        bool temporal = _config.SmoothnessTemporal > 0 && smooth > 0, spatial = _config.SmoothnessSpatial > 0 && smooth > 0;
        // CAPS rows ride in the same forward pass, after the batch's: π(s') for the temporal term, π(s + ε_S) for the spatial one.
        float* observations = b.Observations.Pointer;
        int temporalAt = rows, spatialAt = rows + (temporal ? smooth : 0), allRows = spatialAt + (spatial ? smooth : 0);
        if (temporal)
            new ReadOnlySpan<float>(b.NextObservations.Pointer, smooth * obs).CopyTo(new Span<float>(observations + temporalAt * obs, smooth * obs));
        if (spatial)
        {
            float* perturbed = observations + spatialAt * obs;
            CounterNoise.FillNormal(SmoothingNoiseStream, _noiseCounter, b.First * obs, perturbed, smooth * obs);
            float std = (float)_config.SmoothnessSpatialStd;
            for (int i = 0; i < smooth * obs; i++) perturbed[i] = observations[i] + perturbed[i] * std;
        }

        // π(s) into the action columns of [s, π(s)], then Q_1(s, π(s)).
        MlpKernels.Forward(Actor, 0, observations, obs, allRows, b.ActorWork);
        float* policy = b.ActorWork.Output, policyInputs = b.PolicyCriticInputs.Pointer;
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < act; j++) policyInputs[i * cin + _criticObservationSize + j] = policy[i * act + j];
        MlpKernels.Forward(Critic, 0, policyInputs, cin, rows, b.CriticWork);

        // L_π = −mean_batch Q_1: dL/dQ_1 = −1/B per row, back through the critic to its action inputs only.
        float* q = b.CriticWork.Output, dq = b.OutputGradient.Pointer, dPolicy = b.ActorOutputGradient.Pointer;
        float loss = 0, scale = 1f / _batchSize;
        for (int i = 0; i < rows; i++)
        {
            loss -= q[i];
            dq[i] = -scale;
        }
        loss *= scale;
        MlpKernels.Backward(Critic, 0, policyInputs, cin, rows, b.CriticWork, dq, gradients: null,
            inputGradient: dPolicy, ldInputGradient: act, inputFrom: _criticObservationSize, inputCount: act);
        new Span<float>(dPolicy + rows * act, (allRows - rows) * act).Clear();
        if (temporal) loss += Smoothness(policy, dPolicy, temporalAt, smooth, (float)_config.SmoothnessTemporal);
        if (spatial) loss += Smoothness(policy, dPolicy, spatialAt, smooth, (float)_config.SmoothnessSpatial);

        MlpKernels.ThroughOutputActivation(Actor.Layout.Output, policy, dPolicy, allRows * act);
        MlpKernels.Backward(Actor, 0, observations, obs, allRows, b.ActorWork, dPolicy, b.ActorGradients.Pointer);
        b.ActorLoss = loss;
    }

    /// <summary>CAPS term λ·mean_rows Σ_j (π(s_r)_j − π(other_r)_j)² over this block's share of the smoothing rows
    /// (mean over all <see cref="_smoothRows"/>); adds its gradient to both sides' rows and returns the block's part.</summary>
    float Smoothness(float* policy, float* dPolicy, int otherAt, int rows, float weight)
    {
        int act = _actionSize;
        float loss = 0, scale = weight / _smoothRows;
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < act; j++)
            {
                float d = policy[i * act + j] - policy[(otherAt + i) * act + j];
                loss += d * d;
                float g = 2 * d * scale;
                dPolicy[i * act + j] += g;
                dPolicy[(otherAt + i) * act + j] -= g;
            }
        return loss * scale;
    }


    /// <summary>Adam on one critic of the ensemble, then the transposed copies of its layers (each item owns its member's
    /// parameters and copies, so the refresh costs the caller no serial time).</summary>
    void CriticAdamMember(int member)
    {
        MlpLayout layout = Critic.Layout;
        for (int l = 0; l < layout.LayerCount; l++)
        {
            Adam(Critic, CriticAdam, b => b.CriticGradients, layout.WeightOffset(member, l), layout.Sizes[l] * layout.Sizes[l + 1]);
            Adam(Critic, CriticAdam, b => b.CriticGradients, layout.BiasOffset(member, l), layout.Sizes[l + 1]);
        }
        Critic.TransposeLayers(member, 0);
    }

    /// <summary>Adam on the actor in two items of similar cost: the first layer (most of the parameters), and the others
    /// followed by their transposed copies.</summary>
    void ActorAdamLayers(int item)
    {
        MlpLayout layout = Actor.Layout;
        int split = layout.LayerCount > 1 ? layout.WeightOffset(0, 1) : layout.ParameterCount;
        if (item == 0) Adam(Actor, ActorAdam, b => b.ActorGradients, 0, split);
        else
        {
            Adam(Actor, ActorAdam, b => b.ActorGradients, split, layout.ParameterCount - split);
            Actor.TransposeLayers(0, 1);
        }
    }

    void Adam(MlpWeights network, AdamState adam, Func<Block, PinnedArray> gradientsOf, int from, int count)
    {
        float* second = _blocks.Length > 1 ? gradientsOf(_blocks[1]).Pointer + from : null;
        MlpKernels.Adam(network.Pointer + from, adam.FirstMoment.Pointer + from, adam.SecondMoment.Pointer + from,
            gradientsOf(_blocks[0]).Pointer + from, second, count, _adamStep);
    }

    (int From, int Count) Chunk(int parameters, int item)
    {
        int split = parameters / PolyakChunks / 16 * 16; // vector-aligned
        int from = item * split, to = item == PolyakChunks - 1 ? parameters : from + split;
        return (from, to - from);
    }

    void PolyakChunk(MlpWeights target, MlpWeights source, int item)
    {
        var (from, count) = Chunk(target.Layout.ParameterCount, item);
        MlpKernels.Polyak(target.Pointer + from, source.Pointer + from, count, _tau);
    }

    public void Dispose() => _runner.Dispose();

    /// <summary>One block's rows of the batch and everything its passes write.</summary>
    sealed class Block
    {
        readonly Td3Update _owner;

        public Block(Td3Update owner, int first, int rows, int smoothRows)
        {
            this._owner = owner;
            First = first;
            Rows = rows;
            SmoothRows = smoothRows;
            int obs = owner._observationSize, cin = owner._criticInputSize, act = owner._actionSize;
            int actorRows = rows + 2 * smoothRows;
            Observations = new PinnedArray(actorRows * obs);
            NextObservations = new PinnedArray(rows * obs);
            CriticInputs = new PinnedArray(rows * cin);
            NextCriticInputs = new PinnedArray(rows * cin);
            PolicyCriticInputs = new PinnedArray(rows * cin);
            Rewards = new PinnedArray(rows);
            Discounts = new PinnedArray(rows);
            Targets = new PinnedArray(rows);
            Noise = new PinnedArray(rows * act);
            OutputGradient = new PinnedArray(rows);
            ActorOutputGradient = new PinnedArray(actorRows * act);
            ActorWork = new MlpWorkspace(owner.Actor.Layout, actorRows);
            CriticWork = new MlpWorkspace(owner.Critic.Layout, rows);
            ActorGradients = new PinnedArray(owner.Actor.Layout.ParameterCount);
            CriticGradients = new PinnedArray(owner.Critic.Layout.ParameterCount);
        }

        public int First { get; }
        public int Rows { get; }
        /// <summary>This block's share of the CAPS rows (the batch's first ones).</summary>
        public int SmoothRows { get; }
        /// <summary>[s] for the batch rows, then room for CAPS's [s'] and [s + ε_S] rows.</summary>
        public PinnedArray Observations { get; }
        public PinnedArray NextObservations { get; }
        /// <summary>[critic observation, action] of the batch.</summary>
        public PinnedArray CriticInputs { get; }
        /// <summary>[next critic observation, target action].</summary>
        public PinnedArray NextCriticInputs { get; }
        /// <summary>[critic observation, π(s)] for the actor's loss.</summary>
        public PinnedArray PolicyCriticInputs { get; }
        public PinnedArray Rewards { get; }
        public PinnedArray Discounts { get; }
        public PinnedArray Targets { get; }
        public PinnedArray Noise { get; }
        public PinnedArray OutputGradient { get; }
        public PinnedArray ActorOutputGradient { get; }
        public MlpWorkspace ActorWork { get; }
        public MlpWorkspace CriticWork { get; }
        public PinnedArray ActorGradients { get; }
        public PinnedArray CriticGradients { get; }
        public float CriticLoss { get; set; }
        public float ActorLoss { get; set; }

        /// <summary>Copies this block's transitions out of the replay memory (each block gathers its own rows). Raw
        /// memory copies: per-row span slicing and CopyTo cost ~1.7x as much here (measured 59–88 µs vs 34–39 µs for
        /// 128 rows of a 100 k-row memory).</summary>
        public void Gather(ReplayBuffer replay, int[] batchRows)
        {
            int obs = _owner._observationSize, cobs = _owner._criticObservationSize, act = _owner._actionSize, cin = _owner._criticInputSize;
            float* observations = Observations.Pointer, next = NextObservations.Pointer;
            float* inputs = CriticInputs.Pointer, nextInputs = NextCriticInputs.Pointer, policyInputs = PolicyCriticInputs.Pointer;
            fixed (float* o = replay.ActorObservations, no = replay.NextActorObservations, co = replay.CriticObservations,
                   nco = replay.NextCriticObservations, a = replay.Actions, r = replay.Rewards, d = replay.Discounts)
            {
                for (int i = 0; i < Rows; i++)
                {
                    int row = batchRows[First + i];
                    Copy(o + (long)row * obs, observations + i * obs, obs);
                    Copy(no + (long)row * obs, next + i * obs, obs);
                    Copy(co + (long)row * cobs, inputs + i * cin, cobs);
                    Copy(co + (long)row * cobs, policyInputs + i * cin, cobs);
                    Copy(a + (long)row * act, inputs + i * cin + cobs, act);
                    Copy(nco + (long)row * cobs, nextInputs + i * cin, cobs);
                    Rewards.Pointer[i] = r[row];
                    Discounts.Pointer[i] = d[row];
                }
            }
        }

        static void Copy(float* source, float* destination, int count) => Buffer.MemoryCopy(source, destination, count * sizeof(float), count * sizeof(float));
    }
}
