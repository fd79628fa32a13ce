using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Tasks;
using RoboRl.Sims.Random;

namespace RoboRl.Sims.Quadrotor;

/// <summary>
/// The position-hold task (configs/tasks/crazyflie-hover.json) on N simulated quadrotors — the
/// "Learning to Fly in Seconds" environment. One step per environment:
/// <list type="number">
/// <item>action: NaN → counted, episode terminated (hover action flown instead); clamp to [−1, 1]; push
///   into the action history (kept in place at the end of the actor observation row, oldest first);
///   the action flown is the one <c>latency</c> steps old (domain randomised per episode), read from that history;</item>
/// <item>dynamics: <see cref="QuadrotorBatch"/> RK4 over one control period, eight environments per instruction;</item>
/// <item>reward r = c − scale·(wp·|p−target|² + wq·(1 − qw²) + wv·|v|² + wa·|a − hover_action|² + wd·|a − a_prev|²
///   − wx·exp(−|p−target|²/σ²) + wl·|p−target|) (<see cref="HoverRewardWeights"/>), weights
///   from the curriculum at <see cref="GlobalStep"/>; termination when |p − target| &gt; limit on any axis,
///   a crash (floor) or a NaN action; truncation at the episode length;</item>
/// <item>observations through the Core builder <see cref="HoverObservation"/> (actor + noise, critic without, plus the
///   actions in flight when the task asks for them: <see cref="HoverTaskConfig.CriticActionsInFlight"/>); the actor row's
///   position-error integral is advanced with the noisy error and zeroed at reset;</item>
/// <item>auto-reset of finished environments, keeping their final observations.</item>
/// </list>
/// Random numbers come from one generator per environment (<see cref="LaneRandom"/>), so a seed gives
/// bit-identical trajectories for any thread count and any N that contains the environment.
/// </summary>
public sealed class HoverEnv : IVectorEnv, IEnvSnapshot
{
    private const int Lanes = QuadrotorBatch.Lanes;
    private const int StateSize = HoverObservation.StateSize;

    private readonly HoverTaskConfig _task;
    private readonly QuadrotorConfig _robot;
    private readonly WorkerPool _pool;
    private readonly LaneRandom _random;
    private readonly int _historyFloats;
    private readonly float _hoverRpm, _hoverAction, _dt, _inversePrecisionRadiusSquared;
    private readonly Vector3 _target;

    private readonly float[] _actions;                  // [N × 4], copied from the caller each step
    private readonly float[] _actor, _critic;           // [N × size]
    private readonly float[] _finalActor, _finalCritic; // [N × size]
    private readonly float[] _rewards, _finishedReturns;
    private readonly int[] _finishedLengths;
    private readonly bool[] _terminated, _truncated;
    private readonly float[] _episodeReturn;            // [padded]
    private readonly int[] _episodeLength, _latency;    // [padded]
    private readonly float[] _noiseStd = new float[StateSize];
    private readonly int _integralOffset;                // where the position-error integral sits in an actor row
    private readonly int _criticActionsInFlight;         // actions appended to each critic row (0 = none)

    private readonly int _minBlocksPerThread;
    private readonly StepWork _stepWork;
    private HoverRewardWeights _weights;
    private bool _hasReset;
    private long _nanActions, _completedEpisodes;

    /// <param name="task">The task (and the robot it names).</param>
    /// <param name="numEnvs">N, the number of environments.</param>
    /// <param name="threadCount">Threads stepping the environments; 0 = all cores.</param>
    /// <param name="minEnvsPerThread">Each extra thread gets at least this many environments (waking a thread
    /// costs microseconds; 128 environments are ~15 µs of work); smaller batches use fewer threads.</param>
    public HoverEnv(HoverTaskConfig task, int numEnvs, int threadCount = 0, int minEnvsPerThread = 128)
    {
        if (minEnvsPerThread < 1) throw new ArgumentOutOfRangeException(nameof(minEnvsPerThread), minEnvsPerThread, "must be >= 1");
        _minBlocksPerThread = (minEnvsPerThread + Lanes - 1) / Lanes;
        _stepWork = new StepWork(this);
        if (numEnvs < 1) throw new ArgumentOutOfRangeException(nameof(numEnvs), numEnvs, "need at least one environment");
        _task = task;
        _robot = task.Robot;
        NumEnvs = numEnvs;
        Batch = new QuadrotorBatch(_robot, numEnvs);
        _pool = new WorkerPool(threadCount);
        _random = new LaneRandom(Batch.PaddedCount);
        _historyFloats = HoverObservation.ActionSize * task.ActionHistoryLength;
        _criticActionsInFlight = task.CriticActionsInFlight;
        CriticObservationSize = HoverObservation.CriticSizeWith(_criticActionsInFlight);
        ActorObservationSize = HoverObservation.ActorSize(task.ActionHistoryLength);
        _integralOffset = HoverObservation.IntegralOffset(task.ActionHistoryLength);
        _hoverRpm = _robot.HoverRpm();
        _hoverAction = _robot.HoverAction();
        _dt = task.ControlDt;
        _inversePrecisionRadiusSquared = 1f / (task.PrecisionRadius * task.PrecisionRadius);
        _target = task.TargetPosition;

        int padded = Batch.PaddedCount;
        _actions = new float[numEnvs * ActionSize];
        _actor = new float[numEnvs * ActorObservationSize];
        _finalActor = new float[numEnvs * ActorObservationSize];
        _critic = new float[numEnvs * CriticObservationSize];
        _finalCritic = new float[numEnvs * CriticObservationSize];
        _rewards = new float[numEnvs];
        _finishedReturns = new float[numEnvs];
        _finishedLengths = new int[numEnvs];
        _terminated = new bool[numEnvs];
        _truncated = new bool[numEnvs];
        _episodeReturn = new float[padded];
        _episodeLength = new int[padded];
        _latency = new int[padded];

        ObservationNoise noise = task.ObservationNoise;
        for (int k = 0; k < 3; k++) _noiseStd[k] = noise.Position;
        for (int k = 3; k < 12; k++) _noiseStd[k] = noise.Rotation;
        for (int k = 12; k < 15; k++) _noiseStd[k] = noise.LinearVelocity;
        for (int k = 15; k < 18; k++) _noiseStd[k] = noise.AngularVelocity;
    }

    public HoverTaskConfig Task => _task;
    /// <summary>The vehicles' state and per-episode parameters (read it for logging and tests).</summary>
    public QuadrotorBatch Batch { get; }
    public int NumEnvs { get; }
    public int ActionSize => HoverObservation.ActionSize;
    public int ActorObservationSize { get; }
    public int CriticObservationSize { get; }
    public int ThreadCount => _pool.ThreadCount;
    public long GlobalStep { get; set; }

    public ReadOnlySpan<float> ActorObservations => _actor;
    public ReadOnlySpan<float> CriticObservations => _critic;
    public ReadOnlySpan<float> Rewards => _rewards;
    public ReadOnlySpan<bool> Terminated => _terminated;
    public ReadOnlySpan<bool> Truncated => _truncated;
    public ReadOnlySpan<float> FinalActorObservations => _finalActor;
    public ReadOnlySpan<float> FinalCriticObservations => _finalCritic;
    public ReadOnlySpan<float> FinishedEpisodeReturns => _finishedReturns;
    public ReadOnlySpan<int> FinishedEpisodeLengths => _finishedLengths;
    public long CompletedEpisodes => Interlocked.Read(ref _completedEpisodes);
    public long NanActionCount => Interlocked.Read(ref _nanActions);

    /// <summary>Action latency of environment <paramref name="i"/> in this episode, control steps.</summary>
    public int LatencySteps(int i) => _latency[i];

    /// <summary>Steps taken in the current episode of environment <paramref name="i"/>.</summary>
    public int EpisodeLength(int i) => _episodeLength[i];

    public void Reset(ulong seed)
    {
        for (int i = 0; i < Batch.PaddedCount; i++)
        {
            _random.Seed(seed, i);
            ResetEnvironment(i);
        }
        Array.Clear(_rewards); Array.Clear(_terminated); Array.Clear(_truncated);
        Array.Clear(_finishedReturns); Array.Clear(_finishedLengths);
        _completedEpisodes = 0;
        _hasReset = true;
    }

    /// <summary>Bytes of a snapshot of this many environments (<see cref="SaveState"/>).</summary>
    public int StateBytes => StateArrays().Sum(array => Bytes(array).Length);

    /// <summary>Everything the next steps depend on: the vehicles and their per-episode parameters, each lane's generator,
    /// the observation rows (they hold the action history and the position-error integral), episode returns, lengths and latencies.</summary>
    public byte[] SaveState()
    {
        if (!_hasReset) throw new InvalidOperationException("call Reset(seed) before SaveState");
        var state = new byte[StateBytes];
        int offset = 0;
        foreach (Array array in StateArrays())
        {
            Span<byte> bytes = Bytes(array);
            bytes.CopyTo(state.AsSpan(offset));
            offset += bytes.Length;
        }
        return state;
    }

    /// <summary>Continues from a <see cref="SaveState"/> of environments of the same task and count, bit for bit.</summary>
    public void RestoreState(ReadOnlySpan<byte> state)
    {
        if (state.Length != StateBytes)
            throw new ArgumentException($"a snapshot of {NumEnvs} environments of this task has {StateBytes} bytes, got {state.Length}", nameof(state));
        int offset = 0;
        foreach (Array array in StateArrays())
        {
            Span<byte> bytes = Bytes(array);
            state.Slice(offset, bytes.Length).CopyTo(bytes);
            offset += bytes.Length;
        }
        Array.Clear(_rewards); Array.Clear(_terminated); Array.Clear(_truncated);
        Array.Clear(_finishedReturns); Array.Clear(_finishedLengths);
        _hasReset = true;
    }

    private Array[] StateArrays() => [.. Batch.StateArrays, .. _random.StateArrays, _actor, _critic, _episodeReturn, _episodeLength, _latency];

    private static Span<byte> Bytes(Array array) => array switch
    {
        float[] f => MemoryMarshal.AsBytes(f.AsSpan()),
        int[] i => MemoryMarshal.AsBytes(i.AsSpan()),
        uint[] u => MemoryMarshal.AsBytes(u.AsSpan()),
        _ => throw new InvalidOperationException($"no snapshot of a {array.GetType().Name}"),
    };

    public void Step(ReadOnlySpan<float> actions)
    {
        if (!_hasReset) throw new InvalidOperationException("call Reset(seed) before Step");
        if (actions.Length != _actions.Length)
            throw new ArgumentException($"expected {NumEnvs} × {ActionSize} = {_actions.Length} actions, got {actions.Length}", nameof(actions));
        actions.CopyTo(_actions);
        _weights = _task.WeightsAt(GlobalStep);
        _pool.Run(_stepWork, Batch.BlockCount, _minBlocksPerThread);
    }

    /// <summary>Hands blocks of eight environments to <see cref="StepBlocks"/> (kept private: not part of the env's API).</summary>
    private sealed class StepWork(HoverEnv env) : IParallelWork
    {
        public void Execute(int begin, int end) => env.StepBlocks(begin, end);
    }

    /// <summary>Steps blocks [begin, end) of eight environments (one chunk of a worker's share).</summary>
    private void StepBlocks(int begin, int end)
    {
        // Counters are summed per share and published once: a shared counter bumped per episode would
        // bounce its cache line between cores.
        int nanActions = 0, completedEpisodes = 0;
        for (int block = begin; block < end; block++) StepBlock(block, ref nanActions, ref completedEpisodes);
        if (nanActions != 0) Interlocked.Add(ref _nanActions, nanActions);
        if (completedEpisodes != 0) Interlocked.Add(ref _completedEpisodes, completedEpisodes);
    }

    private void StepBlock(int block, ref int nanActions, ref int completedEpisodes)
    {
        int first = block * Lanes;
        nuint o = (nuint)first;
        Span<float> actionCost = stackalloc float[Lanes];
        Span<float> actionChangeCost = stackalloc float[Lanes];
        Span<float> nanAction = stackalloc float[Lanes];
        Span<float> action = stackalloc float[HoverObservation.ActionSize];
        int historyLength = _task.ActionHistoryLength;

        // 1. Actions → action history → commanded rotor speeds (scalar per environment: it touches rows).
        for (int lane = 0; lane < Lanes; lane++)
        {
            int i = first + lane;
            if (i >= NumEnvs) // padding lanes hover
            {
                for (int m = 0; m < 4; m++) Batch.CommandRpm[m][i] = _hoverRpm;
                actionCost[lane] = 0; actionChangeCost[lane] = 0; nanAction[lane] = 0;
                continue;
            }
            ReadOnlySpan<float> a = _actions.AsSpan(i * 4, 4);
            bool isNan = float.IsNaN(a[0]) | float.IsNaN(a[1]) | float.IsNaN(a[2]) | float.IsNaN(a[3]);
            Span<float> history = _actor.AsSpan(i * ActorObservationSize + StateSize, _historyFloats);
            int previous = _historyFloats - 4; // newest entry = the action of the last step (hover after a reset)
            float cost = 0, changeCost = 0;
            for (int m = 0; m < 4; m++)
            {
                float value = isNan ? _hoverAction : Math.Clamp(a[m], -1f, 1f);
                action[m] = value;
                float deviation = value - _hoverAction;
                cost += deviation * deviation;
                float change = value - history[previous + m];
                changeCost += change * change;
            }
            if (isNan) nanActions++;
            actionCost[lane] = cost;
            actionChangeCost[lane] = changeCost;
            nanAction[lane] = isNan ? 1 : 0;

            HoverObservation.PushAction(history, action);
            int flown = (historyLength - 1 - _latency[i]) * 4; // latency 0 = the action just pushed
            for (int m = 0; m < 4; m++) Batch.CommandRpm[m][i] = _robot.RpmFromAction(history[flown + m]);
        }

        // 2. Dynamics, eight environments at once.
        Vector256<float> crashed = Batch.IntegrateBlock(block, _dt, _task.Substeps);

        // 3. Reward and termination as lane masks (no branches on per-environment data).
        Vector256<float> ex = L(Batch.Px, o) - Vector256.Create(_target.X);
        Vector256<float> ey = L(Batch.Py, o) - Vector256.Create(_target.Y);
        Vector256<float> ez = L(Batch.Pz, o) - Vector256.Create(_target.Z);
        Vector256<float> limit = Vector256.Create(_task.PositionErrorLimit);
        Vector256<float> outside = Vector256.GreaterThan(Vector256.Abs(ex), limit)
                                   | Vector256.GreaterThan(Vector256.Abs(ey), limit)
                                   | Vector256.GreaterThan(Vector256.Abs(ez), limit);
        Vector256<float> nanMask = Vector256.GreaterThan(Vector256.Create(nanAction), Vector256<float>.Zero);
        Vector256<float> terminated = outside | crashed | nanMask;

        Vector256<float> qw = L(Batch.Qw, o);
        Vector256<float> vx = L(Batch.Vx, o), vy = L(Batch.Vy, o), vz = L(Batch.Vz, o);
        Vector256<float> distanceSquared = ex * ex + ey * ey + ez * ez;
        Vector256<float> precision = Vector256.Exp(-distanceSquared * Vector256.Create(_inversePrecisionRadiusSquared));
        Vector256<float> cost8 = Vector256.Create(_weights.Position) * distanceSquared
                                 + Vector256.Create(_weights.Orientation) * (Vector256<float>.One - qw * qw)
                                 + Vector256.Create(_weights.LinearVelocity) * (vx * vx + vy * vy + vz * vz)
                                 + Vector256.Create(_weights.Action) * Vector256.Create(actionCost)
                                 + Vector256.Create(_weights.ActionChange) * Vector256.Create(actionChangeCost)
                                 - Vector256.Create(_weights.Precision) * precision
                                 + Vector256.Create(_weights.PositionDistance) * Vector256.Sqrt(distanceSquared);
        Vector256<float> reward = Vector256.Create(_task.RewardConstant) - Vector256.Create(_task.RewardScale) * cost8
                                  - (Vector256.Create(_task.TerminationPenalty) & terminated);
        Vector256<float> episodeReturn = L(_episodeReturn, o) + reward;
        Vector256<int> episodeLength = Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(_episodeLength), o) + Vector256<int>.One;
        Vector256<float> truncated = Vector256.GreaterThanOrEqual(episodeLength, Vector256.Create(_task.EpisodeSteps)).AsSingle() & ~terminated;
        episodeReturn.StoreUnsafe(ref MemoryMarshal.GetArrayDataReference(_episodeReturn), o);
        episodeLength.StoreUnsafe(ref MemoryMarshal.GetArrayDataReference(_episodeLength), o);
        uint terminatedBits = terminated.ExtractMostSignificantBits();
        uint truncatedBits = truncated.ExtractMostSignificantBits();

        // 4. Observation noise, 18 normals per environment, drawn wide from each lane's own generator.
        Span<float> noise = stackalloc float[StateSize * Lanes]; // [component × lane]
        LaneRandom.Wide random = _random.Load(first);
        for (int k = 0; k < StateSize; k++)
            (random.Normal() * Vector256.Create(_noiseStd[k])).StoreUnsafe(ref noise[0], (nuint)(k * Lanes));
        _random.Store(in random, first);

        // 5. Observations (the Core builder), rewards, flags; auto-reset of finished environments.
        for (int lane = 0; lane < Lanes; lane++)
        {
            int i = first + lane;
            bool isTerminated = ((terminatedBits >> lane) & 1) != 0;
            bool isTruncated = ((truncatedBits >> lane) & 1) != 0;
            if (i >= NumEnvs)
            {
                if (isTerminated | isTruncated) ResetEnvironment(i);
                continue;
            }
            WriteObservations(i, noise, lane, Lanes);
            _rewards[i] = reward[lane];
            _terminated[i] = isTerminated;
            _truncated[i] = isTruncated;
            if (isTerminated | isTruncated)
            {
                _actor.AsSpan(i * ActorObservationSize, ActorObservationSize).CopyTo(_finalActor.AsSpan(i * ActorObservationSize, ActorObservationSize));
                _critic.AsSpan(i * CriticObservationSize, CriticObservationSize).CopyTo(_finalCritic.AsSpan(i * CriticObservationSize, CriticObservationSize));
                _finishedReturns[i] = _episodeReturn[i];
                _finishedLengths[i] = _episodeLength[i];
                completedEpisodes++;
                ResetEnvironment(i);
            }
        }
    }

    /// <summary>Writes environment i's actor row (state + noise; the history is already in place) and critic row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void WriteObservations(int i, ReadOnlySpan<float> noise, int noiseOffset, int noiseStride)
    {
        QuadrotorBatch b = Batch;
        Vector3 position = b.Position(i), velocity = b.Velocity(i), angularVelocity = b.AngularVelocity(i);
        Quaternion orientation = b.Orientation(i);
        Span<float> actor = _actor.AsSpan(i * ActorObservationSize, StateSize);
        HoverObservation.WriteState(position, orientation, velocity, angularVelocity, _target, actor);
        for (int k = 0; k < StateSize; k++) actor[k] += noise[k * noiseStride + noiseOffset];
        // The integral is kept in place in the row (like the action history) and integrates the noisy error the policy sees.
        HoverObservation.IntegratePositionError(_actor.AsSpan(i * ActorObservationSize + _integralOffset, HoverObservation.IntegralSize), actor, _dt);
        HoverObservation.BuildCritic(position, orientation, velocity, angularVelocity, _target,
            new Vector3(b.ForceX[i], b.ForceY[i], b.ForceZ[i]), new Vector3(b.TorqueX[i], b.TorqueY[i], b.TorqueZ[i]),
            HoverObservation.RotorsAsActions(_robot, b.RotorRpm(i)), DynamicsFactors(i), _critic.AsSpan(i * CriticObservationSize, CriticObservationSize));
        if (_criticActionsInFlight > 0)
            HoverObservation.WriteActionsInFlight(_actor.AsSpan(i * ActorObservationSize + StateSize, _historyFloats), _criticActionsInFlight,
                _critic.AsSpan(i * CriticObservationSize + HoverObservation.CriticSize, HoverObservation.ActionSize * _criticActionsInFlight));
    }

    /// <summary>Environment i's randomised dynamics as the critic sees them: mass, thrust coefficient and motor time
    /// constant relative to the robot config, and the action latency in control steps.</summary>
    public Vector4 DynamicsFactors(int i)
    {
        QuadrotorBatch b = Batch;
        return new Vector4(b.Mass[i] / _robot.Mass, b.ThrustScale[i], b.MotorTimeConstant[i] / _robot.MotorTimeConstant, _latency[i]);
    }

    /// <summary>
    /// Starts a new episode in environment (or padding lane) i, drawing everything from lane i's generator
    /// in a fixed order: rest?, domain randomisation, pose, velocities, disturbance, latency, observation noise.
    /// </summary>
    private void ResetEnvironment(int i)
    {
        LaneRandom r = _random;
        InitialStateConfig init = _task.InitialState;
        DomainRandomizationRanges dr = _task.DomainRandomization.At(GlobalStep);
        QuadrotorBatch b = Batch;

        bool atRest = r.Uniform(i) < init.RestFraction;
        b.Mass[i] = _robot.Mass * r.Uniform(i, dr.Mass.Low, dr.Mass.High);
        float inertia = r.Uniform(i, dr.Inertia.Low, dr.Inertia.High);
        b.Ixx[i] = _robot.InertiaDiagonal.X * inertia;
        b.Iyy[i] = _robot.InertiaDiagonal.Y * inertia;
        b.Izz[i] = _robot.InertiaDiagonal.Z * inertia;
        b.ThrustScale[i] = r.Uniform(i, dr.ThrustCoefficient.Low, dr.ThrustCoefficient.High);
        b.MotorTimeConstant[i] = _robot.MotorTimeConstant * r.Uniform(i, dr.MotorTimeConstant.Low, dr.MotorTimeConstant.High);
        int latencySpan = dr.LatencySteps.High - dr.LatencySteps.Low + 1;
        _latency[i] = dr.LatencySteps.Low + Math.Min((int)(r.Uniform(i) * latencySpan), latencySpan - 1);

        float range = init.PositionRange;
        var offset = new Vector3(r.Uniform(i, -range, range), r.Uniform(i, -range, range), r.Uniform(i, -range, range));
        Quaternion orientation = init.Orientation == InitialOrientation.TotalRotation
            ? DrawRotationWithin(r, i, init.MaxTiltDeg * (MathF.PI / 180f))
            : DrawTiltAndHeading(r, i, init.MaxTiltDeg, init.MaxYawDeg);
        float vr = init.VelocityRange, wr = init.AngularVelocityRange;
        var velocity = new Vector3(r.Uniform(i, -vr, vr), r.Uniform(i, -vr, vr), r.Uniform(i, -vr, vr));
        var angularVelocity = new Vector3(r.Uniform(i, -wr, wr), r.Uniform(i, -wr, wr), r.Uniform(i, -wr, wr));
        if (atRest)
        {
            offset = Vector3.Zero; orientation = Quaternion.Identity; velocity = Vector3.Zero; angularVelocity = Vector3.Zero;
        }
        b.SetPose(i, _target + offset, Quaternion.Normalize(orientation));
        b.SetVelocities(i, velocity, angularVelocity);
        b.SetRotors(i, _hoverRpm);
        b.Crashed[i] = 0;

        float fs = _task.DisturbanceForceStd, ts = _task.DisturbanceTorqueStd;
        b.ForceX[i] = fs * r.Normal(i); b.ForceY[i] = fs * r.Normal(i); b.ForceZ[i] = fs * r.Normal(i);
        b.TorqueX[i] = ts * r.Normal(i); b.TorqueY[i] = ts * r.Normal(i); b.TorqueZ[i] = ts * r.Normal(i);

        _episodeReturn[i] = 0;
        _episodeLength[i] = 0;
        if (i >= NumEnvs) return;

        HoverObservation.FillHistory(_actor.AsSpan(i * ActorObservationSize + StateSize, _historyFloats), _hoverAction);
        _actor.AsSpan(i * ActorObservationSize + _integralOffset, HoverObservation.IntegralSize).Clear();
        Span<float> noise = stackalloc float[StateSize];
        for (int k = 0; k < StateSize; k++) noise[k] = _noiseStd[k] * r.Normal(i);
        WriteObservations(i, noise, 0, 1);
    }

    /// <summary>Uniform attitude with tilt ≤ max: body z uniform on the spherical cap (cos θ uniform), tilt axis azimuth φ
    /// uniform, yaw ψ uniform within ±max yaw; q = q_tilt(θ about (cos φ, sin φ, 0)) ⊗ q_yaw(ψ).</summary>
    private static Quaternion DrawTiltAndHeading(LaneRandom r, int i, float maxTiltDeg, float maxYawDeg)
    {
        float cosMax = MathF.Cos(maxTiltDeg * (MathF.PI / 180f));
        float theta = MathF.Acos(1f - r.Uniform(i) * (1f - cosMax));
        float phi = 2f * MathF.PI * r.Uniform(i);
        float psi = (2f * r.Uniform(i) - 1f) * maxYawDeg * (MathF.PI / 180f);
        float ct = MathF.Cos(theta / 2), st = MathF.Sin(theta / 2), cy = MathF.Cos(psi / 2), sy = MathF.Sin(psi / 2);
        float ax = MathF.Cos(phi), ay = MathF.Sin(phi);
        return new Quaternion(st * (cy * ax + sy * ay), st * (cy * ay - sy * ax), ct * sy, ct * cy);
    }

    /// <summary>
    /// A rotation drawn uniformly (Haar measure) from all rotations of total angle ≤ <paramref name="maxAngle"/>, as
    /// "Learning to Fly in Seconds" does by rejecting uniform random quaternions. Drawn here directly: axis uniform on the
    /// sphere, angle θ with density ∝ sin²(θ/2) on [0, max] (the Haar measure in axis-angle form) by rejection from a
    /// uniform θ, which accepts at least a third of the proposals for any max (L2F's rejection keeps 18 % at 90°, fewer
    /// for small angles). sin², not 1 − cos θ: it keeps its precision in float for tiny angles.
    /// </summary>
    private static Quaternion DrawRotationWithin(LaneRandom r, int i, float maxAngle)
    {
        float z = 1f - 2f * r.Uniform(i), azimuth = 2f * MathF.PI * r.Uniform(i);
        float radial = MathF.Sqrt(MathF.Max(0f, 1f - z * z));
        var axis = new Vector3(radial * MathF.Cos(azimuth), radial * MathF.Sin(azimuth), z);
        float angle = 0;
        if (maxAngle > 0)
        {
            float sinHalfMax = MathF.Sin(maxAngle / 2);
            float bound = sinHalfMax * sinHalfMax;
            do
            {
                angle = r.Uniform(i) * maxAngle;
            } while (r.Uniform(i) * bound > MathF.Sin(angle / 2) * MathF.Sin(angle / 2));
        }
        return Quaternion.CreateFromAxisAngle(axis, angle);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> L(float[] a, nuint o) => Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(a), o);

    public void Dispose() => _pool.Dispose();
}
