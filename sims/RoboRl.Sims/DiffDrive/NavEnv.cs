using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using RoboRl.Core.DiffDrive;
using RoboRl.Core.Tasks;
using RoboRl.Sims.Random;

namespace RoboRl.Sims.DiffDrive;

/// <summary>How an episode of the navigation task ended.</summary>
public enum NavOutcome : byte
{
    /// <summary>Still running (or no episode finished in this slot yet).</summary>
    None = 0,
    /// <summary>Reached the goal (terminated, success).</summary>
    Goal = 1,
    /// <summary>Touched an obstacle or a wall (terminated).</summary>
    Collision = 2,
    /// <summary>Ran out of time (truncated).</summary>
    Timeout = 3,
    /// <summary>A NaN action (terminated).</summary>
    InvalidAction = 4,
}

/// <summary>
/// The goal-reaching task (configs/tasks/diffbot-nav.json) on N differential-drive robots with a 2D lidar, each in
/// its own procedurally generated map (<see cref="NavMaps"/>). One control step per environment:
/// <list type="number">
/// <item>action (v, ω) ∈ [−1, 1]² (NaN → stop and terminate) scaled by the robot's maxima, then desaturated so
///   neither wheel exceeds its top speed (the curvature is kept);</item>
/// <item>dynamics over <c>substeps</c>: first-order motor lag towards the command, clipped by the linear and angular
///   acceleration limits; wheel slip (ground speed = encoder speed·(1 + ε), ε ~ N(0, slip²) per wheel per step)
///   moves the pose, exact arc integration; odometry reports the encoder speeds;</item>
/// <item>collision (clearance below the robot radius) and goal (distance below goal_radius) terminate; truncation at
///   episode_steps; reward progress·Δd − time + goal·[reached] − collision·[collided] − the optional proximity term
///   (<see cref="NavReward"/>);</item>
/// <item>lidar (<see cref="LidarKernel"/>) with range noise and dropouts, REP 117 values in <see cref="Scan"/>;
///   observations through the Core builder <see cref="NavObservation"/> (critic: the same layout from the noiseless
///   scan);</item>
/// <item>auto-reset into a new scenario drawn from the environment's own generator.</item>
/// </list>
/// Environments are independent items of the <see cref="WorkerPool"/> with their own generators, so a seed gives
/// bit-identical results for any thread count. Nothing is allocated per step.
/// </summary>
public sealed class NavEnv : IVectorEnv
{
    private const int W = 8;

    private readonly NavTaskConfig _task;
    private readonly DiffDriveConfig _robot;
    private readonly LidarKernel _lidar;
    private readonly WorkerPool _pool;
    private readonly LaneRandom _random;     // one scalar stream per environment: scenarios, slip
    private readonly LaneRandom _beamRandom; // eight streams per environment: range noise and dropouts, drawn wide
    private readonly int _bins, _minEnvsPerThread;

    private readonly float[] _actions;
    private readonly float[] _actor, _critic, _finalActor, _finalCritic;
    private readonly float[] _rewards, _finishedReturns, _finishedPathLengths;
    private readonly int[] _finishedLengths;
    private readonly bool[] _terminated, _truncated;
    private readonly NavOutcome[] _finishedOutcomes;
    private readonly float[] _scans;         // [N × PaddedBeams], REP 117 values with noise
    private readonly float[] _cleanScans;    // [N × PaddedBeams], true ranges (+∞ = none in range)

    // Robot state, structure of arrays [N].
    private readonly float[] _x, _y, _yaw, _v, _w, _previousLinear, _previousAngular;
    private readonly float[] _goalDistance, _pathLength, _episodeReturn;
    private readonly int[] _episodeLength;

    private readonly StepWork _stepWork;
    private bool _hasReset;
    private long _nanActions, _completedEpisodes;

    /// <param name="task">The task and its robot.</param>
    /// <param name="numEnvs">N.</param>
    /// <param name="threadCount">Threads; 0 = all cores.</param>
    /// <param name="minEnvsPerThread">Each extra thread gets at least this many environments (one is ~2 µs of work).</param>
    public NavEnv(NavTaskConfig task, int numEnvs, int threadCount = 0, int minEnvsPerThread = 16)
    {
        if (numEnvs < 1) throw new ArgumentOutOfRangeException(nameof(numEnvs), numEnvs, "need at least one environment");
        if (minEnvsPerThread < 1) throw new ArgumentOutOfRangeException(nameof(minEnvsPerThread), minEnvsPerThread, "must be >= 1");
        _task = task;
        _robot = task.Robot;
        NumEnvs = numEnvs;
        _minEnvsPerThread = minEnvsPerThread;
        _bins = task.ScanBins;
        _lidar = new LidarKernel(_robot.Lidar);
        Maps = new NavMaps(task.Map, _robot.RobotRadius, numEnvs);
        _pool = new WorkerPool(threadCount);
        _random = new LaneRandom(numEnvs);
        _beamRandom = new LaneRandom(numEnvs * W);
        _stepWork = new StepWork(this);
        ActorObservationSize = NavObservation.ActorSize(_bins);

        int obs = ActorObservationSize;
        _actions = new float[numEnvs * ActionSize];
        _actor = new float[numEnvs * obs]; _critic = new float[numEnvs * obs];
        _finalActor = new float[numEnvs * obs]; _finalCritic = new float[numEnvs * obs];
        _rewards = new float[numEnvs]; _finishedReturns = new float[numEnvs]; _finishedPathLengths = new float[numEnvs];
        _finishedLengths = new int[numEnvs];
        _terminated = new bool[numEnvs]; _truncated = new bool[numEnvs];
        _finishedOutcomes = new NavOutcome[numEnvs];
        _scans = new float[numEnvs * _lidar.PaddedBeams];
        _cleanScans = new float[numEnvs * _lidar.PaddedBeams];
        _x = new float[numEnvs]; _y = new float[numEnvs]; _yaw = new float[numEnvs];
        _v = new float[numEnvs]; _w = new float[numEnvs];
        _previousLinear = new float[numEnvs]; _previousAngular = new float[numEnvs];
        _goalDistance = new float[numEnvs]; _pathLength = new float[numEnvs]; _episodeReturn = new float[numEnvs];
        _episodeLength = new int[numEnvs];
    }

    public NavTaskConfig Task => _task;
    /// <summary>Each environment's current scenario (obstacles, start, goal).</summary>
    public NavMaps Maps { get; }
    public LidarKernel Lidar => _lidar;
    public int NumEnvs { get; }
    public int ActionSize => NavObservation.ActionSize;
    public int ActorObservationSize { get; }
    public int CriticObservationSize => ActorObservationSize;
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
    /// <summary>How the episode that finished in this step ended (rows meaningful where Terminated or Truncated).</summary>
    public ReadOnlySpan<NavOutcome> FinishedEpisodeOutcomes => _finishedOutcomes;
    /// <summary>Distance driven in the episode that finished in this step, metres.</summary>
    public ReadOnlySpan<float> FinishedPathLengths => _finishedPathLengths;
    public long CompletedEpisodes => Interlocked.Read(ref _completedEpisodes);
    public long NanActionCount => Interlocked.Read(ref _nanActions);

    /// <summary>Environment i's current lidar scan (Beams values, REP 117: +∞ no return, −∞ too close, NaN dropout).</summary>
    public ReadOnlySpan<float> Scan(int i) => _scans.AsSpan(i * _lidar.PaddedBeams, _lidar.Beams);
    /// <summary>Environment i's current noiseless ranges (+∞ beyond range_max).</summary>
    public ReadOnlySpan<float> CleanScan(int i) => _cleanScans.AsSpan(i * _lidar.PaddedBeams, _lidar.Beams);
    public float X(int i) => _x[i];
    public float Y(int i) => _y[i];
    /// <summary>Heading, radians in (−π, π], counter-clockwise from world +x.</summary>
    public float Yaw(int i) => _yaw[i];
    /// <summary>Odometry (encoder) body velocities: v (m/s, forward) and ω (rad/s, counter-clockwise).</summary>
    public float LinearVelocity(int i) => _v[i];
    public float AngularVelocity(int i) => _w[i];
    public float GoalDistance(int i) => _goalDistance[i];
    public int EpisodeLength(int i) => _episodeLength[i];
    public float PathLength(int i) => _pathLength[i];

    public void Reset(ulong seed)
    {
        Span<float> scratch = stackalloc float[_lidar.ScratchSize];
        for (int i = 0; i < NumEnvs; i++)
        {
            _random.Seed(seed, i);
            for (int lane = 0; lane < W; lane++) _beamRandom.Seed(seed ^ 0xB5AD4ECEDA1CE2A9UL, i * W + lane);
            StartEpisode(i, DrawTrainingSeed(i), scratch);
        }
        Array.Clear(_rewards); Array.Clear(_terminated); Array.Clear(_truncated);
        Array.Clear(_finishedReturns); Array.Clear(_finishedLengths); Array.Clear(_finishedOutcomes); Array.Clear(_finishedPathLengths);
        _completedEpisodes = 0;
        _hasReset = true;
    }

    /// <summary>
    /// Restarts environment i in the scenario of <paramref name="scenarioSeed"/> (evaluation puts held-out maps,
    /// seeds ≥ <see cref="NavMaps.HeldOutSeedBase"/>, into chosen slots). Call after <see cref="Reset"/>.
    /// </summary>
    public void ResetScenario(int i, ulong scenarioSeed)
    {
        if (!_hasReset) throw new InvalidOperationException("call Reset(seed) before ResetScenario");
        Span<float> scratch = stackalloc float[_lidar.ScratchSize];
        StartEpisode(i, scenarioSeed, scratch);
    }

    /// <summary>
    /// Restarts environment i in the scenario its <see cref="Maps"/> slot holds now, without generating one: for a
    /// hand-built layout (a test writes the obstacles, start and goal into the map arrays first). Call after <see cref="Reset"/>.
    /// </summary>
    public void RestartEpisode(int i)
    {
        if (!_hasReset) throw new InvalidOperationException("call Reset(seed) before RestartEpisode");
        Span<float> scratch = stackalloc float[_lidar.ScratchSize];
        BeginEpisode(i, scratch);
    }

    public void Step(ReadOnlySpan<float> actions)
    {
        if (!_hasReset) throw new InvalidOperationException("call Reset(seed) before Step");
        if (actions.Length != _actions.Length)
            throw new ArgumentException($"expected {NumEnvs} × {ActionSize} = {_actions.Length} actions, got {actions.Length}", nameof(actions));
        actions.CopyTo(_actions);
        _pool.Run(_stepWork, NumEnvs, _minEnvsPerThread);
    }

    private sealed class StepWork(NavEnv env) : IParallelWork
    {
        public void Execute(int begin, int end) => env.StepEnvs(begin, end);
    }

    private void StepEnvs(int begin, int end)
    {
        Span<float> scratch = stackalloc float[_lidar.ScratchSize];
        int nanActions = 0, completed = 0;
        for (int i = begin; i < end; i++) StepEnv(i, scratch, ref nanActions, ref completed);
        if (nanActions != 0) Interlocked.Add(ref _nanActions, nanActions);
        if (completed != 0) Interlocked.Add(ref _completedEpisodes, completed);
    }

    private void StepEnv(int i, Span<float> scratch, ref int nanActions, ref int completed)
    {
        DiffDriveConfig robot = _robot;
        float a0 = _actions[2 * i], a1 = _actions[2 * i + 1];
        bool invalid = float.IsNaN(a0) | float.IsNaN(a1);
        if (invalid) { a0 = 0; a1 = 0; nanActions++; }
        a0 = Math.Clamp(a0, -1f, 1f);
        a1 = Math.Clamp(a1, -1f, 1f);

        // 1. Dynamics.
        float slipLeft = robot.SlipNoiseStd * _random.Normal(i), slipRight = robot.SlipNoiseStd * _random.Normal(i);
        float x = _x[i], y = _y[i], yaw = _yaw[i], v = _v[i], w = _w[i], path = _pathLength[i];
        DiffDriveKinematics.Step(robot, a0 * robot.MaxLinearVelocity, a1 * robot.MaxAngularVelocity, _task.ControlDt, _task.Substeps,
            slipLeft, slipRight, ref x, ref y, ref yaw, ref v, ref w, ref path);
        _x[i] = x; _y[i] = y; _yaw[i] = yaw; _v[i] = v; _w[i] = w; _pathLength[i] = path;
        _previousLinear[i] = a0; _previousAngular[i] = a1;

        // 2. Outcome and reward.
        float gx = Maps.GoalX[i] - x, gy = Maps.GoalY[i] - y;
        float distance = MathF.Sqrt(gx * gx + gy * gy);
        float clearance = Maps.Clearance(i, x, y);
        bool collided = clearance < robot.RobotRadius;
        bool reached = !collided && distance < _task.GoalRadius;
        NavReward weights = _task.Reward;
        float reward = weights.Progress * (_goalDistance[i] - distance) - weights.Time
                       + (reached ? weights.Goal : 0f) - (collided ? weights.Collision : 0f)
                       - weights.ProximityPenalty(clearance - robot.RobotRadius)
                       - weights.Reverse * MathF.Max(0f, -v / robot.MaxLinearVelocity);
        _goalDistance[i] = distance;
        _episodeReturn[i] += reward;
        int length = ++_episodeLength[i];
        bool terminated = reached | collided | invalid;
        bool truncated = !terminated && length >= _task.EpisodeSteps;
        _rewards[i] = reward;
        _terminated[i] = terminated;
        _truncated[i] = truncated;

        // 3. Sensing and observations of the new state.
        Sense(i, scratch);
        if (terminated | truncated)
        {
            int obs = ActorObservationSize;
            _actor.AsSpan(i * obs, obs).CopyTo(_finalActor.AsSpan(i * obs, obs));
            _critic.AsSpan(i * obs, obs).CopyTo(_finalCritic.AsSpan(i * obs, obs));
            _finishedReturns[i] = _episodeReturn[i];
            _finishedLengths[i] = length;
            _finishedPathLengths[i] = _pathLength[i];
            _finishedOutcomes[i] = invalid ? NavOutcome.InvalidAction : collided ? NavOutcome.Collision : reached ? NavOutcome.Goal : NavOutcome.Timeout;
            completed++;
            StartEpisode(i, DrawTrainingSeed(i), scratch);
        }
    }

    /// <summary>A 48-bit training scenario seed from environment i's stream (held-out seeds start at 2^56).</summary>
    private ulong DrawTrainingSeed(int i) => ((ulong)_random.NextBits24(i) << 24) | _random.NextBits24(i);

    private void StartEpisode(int i, ulong scenarioSeed, Span<float> scratch)
    {
        Maps.Generate(i, scenarioSeed);
        BeginEpisode(i, scratch);
    }

    private void BeginEpisode(int i, Span<float> scratch)
    {
        _x[i] = Maps.StartX[i]; _y[i] = Maps.StartY[i]; _yaw[i] = Maps.StartYaw[i];
        _v[i] = 0; _w[i] = 0; _previousLinear[i] = 0; _previousAngular[i] = 0;
        float gx = Maps.GoalX[i] - _x[i], gy = Maps.GoalY[i] - _y[i];
        _goalDistance[i] = MathF.Sqrt(gx * gx + gy * gy);
        _pathLength[i] = 0; _episodeReturn[i] = 0; _episodeLength[i] = 0;
        Sense(i, scratch);
    }

    /// <summary>Casts the lidar, adds noise and dropouts, and writes environment i's actor and critic rows.</summary>
    private void Sense(int i, Span<float> scratch)
    {
        int padded = _lidar.PaddedBeams;
        Span<float> clean = _cleanScans.AsSpan(i * padded, padded);
        Span<float> noisy = _scans.AsSpan(i * padded, padded);
        _lidar.Cast(Maps, i, _x[i], _y[i], _yaw[i], scratch, clean);

        // Range noise std = noise_std + noise_fraction·range; dropout → NaN; REP 117 encoding of out-of-range values.
        LidarConfig lidar = _robot.Lidar;
        LaneRandom.Wide random = _beamRandom.Load(i * W);
        Vector256<float> std = Vector256.Create(lidar.NoiseStd), fraction = Vector256.Create(lidar.NoiseFraction);
        Vector256<float> rangeMin = Vector256.Create(lidar.RangeMin), rangeMax = Vector256.Create(lidar.RangeMax);
        Vector256<float> dropout = Vector256.Create(lidar.DropoutProbability);
        Vector256<float> toUnit = Vector256.Create(1f / (1 << 24));
        ref float c0 = ref MemoryMarshal.GetReference(clean), n0 = ref MemoryMarshal.GetReference(noisy);
        for (int k = 0; k < padded; k += W)
        {
            nuint o = (nuint)k;
            Vector256<float> r = Vector256.LoadUnsafe(ref c0, o);
            Vector256<float> noise = random.Normal() * (std + fraction * Vector256.Min(r, rangeMax));
            Vector256<float> dropped = Vector256.LessThan(Vector256.ConvertToSingle(random.NextBits24()) * toUnit, dropout);
            Vector256<float> measured = r + noise; // +∞ stays +∞
            measured = Vector256.ConditionalSelect(Vector256.LessThan(measured, rangeMin), Vector256.Create(float.NegativeInfinity), measured);
            measured = Vector256.ConditionalSelect(Vector256.GreaterThan(measured, rangeMax), Vector256.Create(float.PositiveInfinity), measured);
            Vector256.ConditionalSelect(dropped, Vector256.Create(float.NaN), measured).StoreUnsafe(ref n0, o);
        }
        _beamRandom.Store(in random, i * W);

        int obs = ActorObservationSize;
        Span<float> actor = _actor.AsSpan(i * obs, obs), critic = _critic.AsSpan(i * obs, obs);
        int beams = _lidar.Beams;
        NavObservation.Build(noisy[..beams], lidar.RangeMin, lidar.RangeMax, _bins, _x[i], _y[i], _yaw[i], Maps.GoalX[i], Maps.GoalY[i],
            _v[i], _w[i], _robot.MaxLinearVelocity, _robot.MaxAngularVelocity, _previousLinear[i], _previousAngular[i], actor);
        NavObservation.Build(clean[..beams], lidar.RangeMin, lidar.RangeMax, _bins, _x[i], _y[i], _yaw[i], Maps.GoalX[i], Maps.GoalY[i],
            _v[i], _w[i], _robot.MaxLinearVelocity, _robot.MaxAngularVelocity, _previousLinear[i], _previousAngular[i], critic);
    }

    public void Dispose() => _pool.Dispose();
}
