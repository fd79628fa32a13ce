using System.Numerics;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Swarm;
using RoboRl.Sims.Quadrotor;
using RoboRl.Sims.Random;

namespace RoboRl.Sims.Swarm;

/// <summary>
/// E environments × N quadrotors (configs/swarm/*.json): QuadSwarm's task (Huang et al., ICRA 2024, arXiv 2309.13285) on
/// RoboRl's Crazyflie physics. Each quad is one row of the <see cref="IVectorEnv"/> (rows = agents, E·N of them, env-major),
/// so one shared policy acts for all. The vehicles live in one <see cref="QuadrotorBatch"/> — the same rigid-body, rotor
/// and actuator code as the hover task — with each environment's quads on lanes [e·S, e·S + N), S = N rounded up to 8
/// (the extra lanes hover, ignored). One step of one environment, top to bottom:
/// <list type="number">
/// <item>actions → rotor commands through the robot's actuator (a ∈ [−1, 1] → force (a + 1)/2 · thrust_max); NaN → the
///   hover action, the environment's episode ends (terminated) and the row is counted;</item>
/// <item>downwash (<see cref="SwarmPhysics.Downwash"/>) from the state at the start of the step: a force m·a for the step
///   and a body-rate kick;</item>
/// <item>RK4 over the control period (<see cref="QuadrotorBatch.IntegrateBlock"/>); the floor stops a quad that reaches it;</item>
/// <item>walls and ceiling; quad–quad contacts; the SDF grid and quad–column contacts (the SDF's centre value within an
///   arm length);</item>
/// <item>goals advance (the episode's scenario); observations (<see cref="SwarmObservation"/>), neighbours ranked by QuadSwarm's
///   score; rewards per quad (<see cref="SwarmRewardWeights"/>);</item>
/// <item>truncation at the episode length (contacts never end an episode), with auto-reset of the whole environment.</item>
/// </list>
/// Per environment and episode: a scenario drawn from the mix, a column layout, start slots, goals; per quad: mass,
/// inertia, thrust and motor time-constant factors. Random numbers come from one generator per quad lane and one per
/// environment, so a seed gives the same run for any thread count. Nothing is allocated per step.
/// </summary>
public sealed class SwarmEnv : IVectorEnv
{
    private const int Lanes = QuadrotorBatch.Lanes;

    private readonly SwarmTaskConfig _task;
    private readonly QuadrotorConfig _robot;
    private readonly WorkerPool _pool;
    private readonly LaneRandom _quadRandom, _envRandom;
    private readonly int _n, _k, _history, _stride, _observationSize, _columnStride, _episodeSteps;
    private readonly float _dt, _hoverRpm, _hoverAction, _arm;
    private readonly Vector3 _wallMin, _wallMax;

    private readonly float[] _actions, _observations, _finalObservations, _rewards, _finishedReturns;
    private readonly int[] _finishedLengths;
    private readonly bool[] _terminated, _truncated;
    private readonly float[] _episodeReturn;                 // [lanes]
    private readonly float[] _actionNorm;                    // [lanes] |f| of the step's forces
    private readonly uint[] _contactMask, _previousMask;     // [lanes] bit j = touching quad j of the same env
    private readonly int[] _newQuadContacts;                 // [lanes] this step
    private readonly bool[] _obstacleContact;                // [lanes] touching a column now
    private readonly float[] _downwashX, _downwashY, _downwashZ; // [lanes] the step's downwash acceleration, m/s²
    private readonly float[] _columnX, _columnY;             // [envs × column stride]
    private readonly int[] _columns;                         // [envs]
    private readonly float[] _goalX, _goalY, _goalZ, _offsetX, _offsetY, _offsetZ; // [lanes]
    private readonly int[] _scenario, _episodeStep, _segmentStart; // [envs]
    private readonly float[] _centre, _bezier;               // [envs × 3], [envs × 12]
    private readonly bool[] _nanInEnv;                       // [envs]
    private readonly int[] _newContactsInEnv;                // [envs] contacts (quad–quad per quad, column) begun in the last step
    // Episode statistics (what `roborl eval` will report): per quad lane, and per environment.
    private readonly int[] _quadCollisions, _columnCollisions, _finishedQuadCollisions, _finishedColumnCollisions; // [lanes]
    private readonly float[] _minSeparation, _finishedMinSeparation; // [envs]

    private readonly int _minEnvsPerThread;
    private readonly StepWork _stepWork;
    private IReadOnlyList<SwarmScenarioShare> _mix;
    private float _mixTotal;
    private bool _hasReset;
    private long _nanActions, _completedEpisodes, _nonFiniteEpisodes;

    /// <param name="task">The swarm task (and the robot it names).</param>
    /// <param name="environments">E, the number of environments (rows = E × quads).</param>
    /// <param name="threadCount">Threads stepping the environments; 0 = all cores.</param>
    /// <param name="minEnvsPerThread">Each extra thread gets at least this many environments.</param>
    public SwarmEnv(SwarmTaskConfig task, int environments, int threadCount = 0, int minEnvsPerThread = 8)
    {
        if (environments < 1) throw new ArgumentOutOfRangeException(nameof(environments), environments, "need at least one environment");
        if (minEnvsPerThread < 1) throw new ArgumentOutOfRangeException(nameof(minEnvsPerThread), minEnvsPerThread, "must be >= 1");
        _task = task;
        _robot = task.Robot;
        Environments = environments;
        _n = task.Quads;
        _k = task.Neighbours;
        _stride = (_n + Lanes - 1) / Lanes * Lanes;
        _history = task.ActionHistoryLength;
        _observationSize = task.ObservationSize;
        _columnStride = Math.Max(Lanes, (task.Obstacles.ColumnCount + Lanes - 1) / Lanes * Lanes);
        _episodeSteps = task.EpisodeSteps;
        _dt = task.ControlDt;
        _hoverRpm = _robot.HoverRpm();
        _hoverAction = _robot.HoverAction();
        _arm = task.ArmLengthM;
        _wallMin = task.Room.Min + new Vector3(_arm);
        _wallMax = task.Room.Max - new Vector3(_arm);
        _minEnvsPerThread = minEnvsPerThread;
        _stepWork = new StepWork(this);
        _mix = task.Scenarios;
        _mixTotal = _mix.Sum(s => s.Weight);

        int lanes = environments * _stride, rows = environments * _n;
        Batch = new QuadrotorBatch(_robot, lanes);
        _pool = new WorkerPool(threadCount);
        _quadRandom = new LaneRandom(lanes);
        _envRandom = new LaneRandom(environments);
        _actions = new float[rows * 4];
        _observations = new float[rows * _observationSize];
        _finalObservations = new float[rows * _observationSize];
        _rewards = new float[rows];
        _finishedReturns = new float[rows];
        _finishedLengths = new int[rows];
        _terminated = new bool[rows];
        _truncated = new bool[rows];
        _episodeReturn = new float[lanes];
        _actionNorm = new float[lanes];
        _contactMask = new uint[lanes];
        _previousMask = new uint[lanes];
        _newQuadContacts = new int[lanes];
        _obstacleContact = new bool[lanes];
        _downwashX = new float[lanes]; _downwashY = new float[lanes]; _downwashZ = new float[lanes];
        _columnX = new float[environments * _columnStride];
        _columnY = new float[environments * _columnStride];
        _columns = new int[environments];
        _goalX = new float[lanes]; _goalY = new float[lanes]; _goalZ = new float[lanes];
        _offsetX = new float[lanes]; _offsetY = new float[lanes]; _offsetZ = new float[lanes];
        _scenario = new int[environments];
        _episodeStep = new int[environments];
        _segmentStart = new int[environments];
        _centre = new float[environments * 3];
        _bezier = new float[environments * 12];
        _nanInEnv = new bool[environments];
        _newContactsInEnv = new int[environments];
        _quadCollisions = new int[lanes]; _columnCollisions = new int[lanes];
        _finishedQuadCollisions = new int[lanes]; _finishedColumnCollisions = new int[lanes];
        _minSeparation = new float[environments]; _finishedMinSeparation = new float[environments];
    }

    public SwarmTaskConfig Task => _task;
    /// <summary>All vehicles: environment e's quad q is lane <see cref="Lane"/>(e, q).</summary>
    public QuadrotorBatch Batch { get; }
    public int Environments { get; }
    public int QuadsPerEnv => _n;
    /// <summary>Rows of the observation, action and reward buffers: one per quad (E × N).</summary>
    public int NumEnvs => Environments * _n;
    public int ActionSize => 4;
    public int ActorObservationSize => _observationSize;
    /// <summary>The critic sees what the actor sees (a privileged critic observation is for the trainer step to add).</summary>
    public int CriticObservationSize => _observationSize;
    public int ThreadCount => _pool.ThreadCount;
    /// <summary>Environment steps so far (the trainer sets it); the env does not read it — see <see cref="CollisionWeightScale"/>.</summary>
    public long GlobalStep { get; set; }
    /// <summary>The collision-weight annealing factor in [0, 1] the trainer sets (e.g. <see cref="SwarmRewardWeights.CollisionScaleAt"/>); 1 by default.</summary>
    public float CollisionWeightScale { get; set; } = 1;

    /// <summary>Training only: a quad that reaches the floor ends the environment's episode (its row terminated, the others truncated).</summary>
    public bool EndEpisodeOnFloor { get; set; }

    /// <summary>Episodes start from the held-out scenario mix instead of the training one (evaluation; use the held-out seeds).</summary>
    public bool UseHeldOutScenarios
    {
        get => ReferenceEquals(_mix, _task.HeldOutScenarios);
        set { _mix = value ? _task.HeldOutScenarios : _task.Scenarios; _mixTotal = _mix.Sum(s => s.Weight); }
    }

    public ReadOnlySpan<float> ActorObservations => _observations;
    public ReadOnlySpan<float> CriticObservations => _observations;
    public ReadOnlySpan<float> Rewards => _rewards;
    public ReadOnlySpan<bool> Terminated => _terminated;
    public ReadOnlySpan<bool> Truncated => _truncated;
    public ReadOnlySpan<float> FinalActorObservations => _finalObservations;
    public ReadOnlySpan<float> FinalCriticObservations => _finalObservations;
    public ReadOnlySpan<float> FinishedEpisodeReturns => _finishedReturns;
    public ReadOnlySpan<int> FinishedEpisodeLengths => _finishedLengths;
    public long CompletedEpisodes => Interlocked.Read(ref _completedEpisodes);
    public long NanActionCount => Interlocked.Read(ref _nanActions);
    /// <summary>Episodes ended because a quad's state became non-finite (the integrator blew up, e.g. at extreme body rates).</summary>
    public long NonFiniteEpisodes => Interlocked.Read(ref _nonFiniteEpisodes);

    public int Lane(int environment, int quad) => environment * _stride + quad;
    public Vector3 Goal(int environment, int quad) { int l = Lane(environment, quad); return new(_goalX[l], _goalY[l], _goalZ[l]); }
    /// <summary>The scenario of environment e's current episode (null after <see cref="SetGoal"/> took the goals over).</summary>
    public SwarmScenarioConfig? Scenario(int environment) => _scenario[environment] < 0 ? null : _mix[_scenario[environment]].Scenario;
    /// <summary>The downwash acceleration quad q of environment e felt in the last step (world, m/s²; zero outside every cylinder).</summary>
    public Vector3 DownwashAcceleration(int environment, int quad) { int l = Lane(environment, quad); return new(_downwashX[l], _downwashY[l], _downwashZ[l]); }
    /// <summary>Quad–quad contacts that began in the last step, per quad.</summary>
    public int NewQuadContacts(int environment, int quad) => _newQuadContacts[Lane(environment, quad)];
    public bool TouchingColumn(int environment, int quad) => _obstacleContact[Lane(environment, quad)];
    /// <summary>Contacts begun in environment e in the last step (each quad's new quad contacts plus new column contacts).</summary>
    public int NewContacts(int environment) => _newContactsInEnv[environment];
    /// <summary>Control steps environment e's current episode has run.</summary>
    public int EpisodeStep(int environment) => _episodeStep[environment];
    /// <summary>Contacts with other quads and with columns begun in this episode (the finished episode's after a reset).</summary>
    public (int Quads, int Columns) EpisodeCollisions(int environment, int quad, bool finished = false)
    {
        int l = Lane(environment, quad);
        return finished ? (_finishedQuadCollisions[l], _finishedColumnCollisions[l]) : (_quadCollisions[l], _columnCollisions[l]);
    }
    /// <summary>The least distance between two quads of environment e in this (or the finished) episode, m.</summary>
    public float MinSeparation(int environment, bool finished = false) => finished ? _finishedMinSeparation[environment] : _minSeparation[environment];
    public ReadOnlySpan<float> ColumnsX(int environment) => _columnX.AsSpan(environment * _columnStride, _columns[environment]);
    public ReadOnlySpan<float> ColumnsY(int environment) => _columnY.AsSpan(environment * _columnStride, _columns[environment]);

    /// <summary>Replaces environment e's column layout (tests and hand-made layouts); unused slots get the far sentinel.</summary>
    public void SetColumns(int environment, ReadOnlySpan<Vector2> centres)
    {
        if (centres.Length > _columnStride) throw new ArgumentException($"at most {_columnStride} columns", nameof(centres));
        int o = environment * _columnStride;
        for (int c = 0; c < _columnStride; c++)
        {
            _columnX[o + c] = c < centres.Length ? centres[c].X : SwarmObservation.AbsentColumn;
            _columnY[o + c] = c < centres.Length ? centres[c].Y : SwarmObservation.AbsentColumn;
        }
        _columns[environment] = centres.Length;
    }

    /// <summary>Sets quad q's goal in environment e for the rest of the episode (tests); the scenario no longer moves it.</summary>
    public void SetGoal(int environment, int quad, Vector3 goal)
    {
        int l = Lane(environment, quad);
        _goalX[l] = goal.X; _goalY[l] = goal.Y; _goalZ[l] = goal.Z;
        _offsetX[l] = goal.X; _offsetY[l] = goal.Y; _offsetZ[l] = goal.Z;
        _centre[environment * 3] = _centre[environment * 3 + 1] = _centre[environment * 3 + 2] = 0;
        _scenario[environment] = -1; // hand-set goals stay put
    }

    /// <summary>Rewrites every observation row from the current state (after editing <see cref="Batch"/> or the columns by hand).</summary>
    public void RefreshObservations()
    {
        for (int e = 0; e < Environments; e++) ObserveAndReward(e, rewards: false);
    }

    public void Reset(ulong seed)
    {
        for (int l = 0; l < Batch.PaddedCount; l++) _quadRandom.Seed(seed, l);
        for (int e = 0; e < Environments; e++) _envRandom.Seed(seed ^ 0x5A17_5EED_0000_0001UL, e);
        for (int e = 0; e < Environments; e++) ResetEnvironment(e);
        Array.Clear(_rewards); Array.Clear(_terminated); Array.Clear(_truncated);
        Array.Clear(_finishedReturns); Array.Clear(_finishedLengths);
        _completedEpisodes = 0;
        _hasReset = true;
    }

    public void Step(ReadOnlySpan<float> actions)
    {
        if (!_hasReset) throw new InvalidOperationException("call Reset(seed) before Step");
        if (actions.Length != _actions.Length)
            throw new ArgumentException($"expected {NumEnvs} × {ActionSize} = {_actions.Length} actions, got {actions.Length}", nameof(actions));
        actions.CopyTo(_actions);
        _pool.Run(_stepWork, Environments, _minEnvsPerThread);
    }

    private sealed class StepWork(SwarmEnv env) : IParallelWork
    {
        public void Execute(int begin, int end)
        {
            int nanActions = 0, completed = 0;
            for (int e = begin; e < end; e++) env.StepEnvironment(e, ref nanActions, ref completed);
            if (nanActions != 0) Interlocked.Add(ref env._nanActions, nanActions);
            if (completed != 0) Interlocked.Add(ref env._completedEpisodes, completed);
        }
    }

    private void StepEnvironment(int e, ref int nanActions, ref int completed)
    {
        QuadrotorBatch b = Batch;
        int first = e * _stride;
        SwarmContactModel contact = _task.Contact;

        // 1. Actions → rotor commands through the actuator (the firmware's force mode), scalar per quad.
        bool nan = false;
        for (int q = 0; q < _n; q++)
        {
            int l = first + q;
            ReadOnlySpan<float> a = _actions.AsSpan((e * _n + q) * 4, 4);
            bool isNan = float.IsNaN(a[0]) | float.IsNaN(a[1]) | float.IsNaN(a[2]) | float.IsNaN(a[3]);
            if (isNan) { nan = true; nanActions++; }
            float norm = 0;
            for (int m = 0; m < 4; m++)
            {
                float action = isNan ? _hoverAction : Math.Clamp(a[m], -1f, 1f);
                float force = ActuatorModel.NormalizedForce(action);
                norm += force * force;
                b.CommandRpm[m][l] = _robot.RpmFromAction(action);
            }
            _actionNorm[l] = MathF.Sqrt(norm);
            if (_history > 0)
            {
                // The action history (oldest first): shift one step and append the action as applied (clamped; hover for NaN).
                Span<float> h = _observations.AsSpan((e * _n + q) * _observationSize + SwarmObservation.HistoryOffset(_k), 4 * _history);
                h[4..].CopyTo(h);
                for (int m = 0; m < 4; m++) h[4 * (_history - 1) + m] = isNan ? _hoverAction : Math.Clamp(a[m], -1f, 1f);
            }
        }
        for (int l = first + _n; l < first + _stride; l++)
            for (int m = 0; m < 4; m++) b.CommandRpm[m][l] = _hoverRpm;

        // 2. Downwash from the state at the start of the step: a force for the step (the batch's disturbance force) and a rate kick.
        if (_task.Downwash && _n > 1)
        {
            SwarmPhysics.Downwash(b, first, _n, _dt, _quadRandom, _downwashX.AsSpan(first, _n), _downwashY.AsSpan(first, _n), _downwashZ.AsSpan(first, _n));
            for (int q = 0; q < _n; q++)
            {
                int l = first + q;
                b.ForceX[l] = b.Mass[l] * _downwashX[l]; b.ForceY[l] = b.Mass[l] * _downwashY[l]; b.ForceZ[l] = b.Mass[l] * _downwashZ[l];
            }
        }

        // 3. Rigid-body dynamics: QuadrotorBatch's RK4, eight lanes per instruction.
        for (int block = first / Lanes; block < (first + _stride) / Lanes; block++) b.IntegrateBlock(block, _dt, _task.Substeps);
        // Body rates clipped (QuadSwarm's omega_max). Without it a policy holding yaw differential spins a quad past ~500
        // rad/s, where the gyroscopic coupling ((I_zz − I_xx)/I_xx · ω_z · dt > 2.8) makes the 10 ms RK4 step unstable:
        // the rates grow many times a step until the state overflows (the non-finite episodes seen in training).
        float rateLimit = _task.BodyRateLimitRadS;
        for (int l = first; l < first + _n; l++)
        {
            b.Wx[l] = Math.Clamp(b.Wx[l], -rateLimit, rateLimit);
            b.Wy[l] = Math.Clamp(b.Wy[l], -rateLimit, rateLimit);
            b.Wz[l] = Math.Clamp(b.Wz[l], -rateLimit, rateLimit);
        }

        // 4. Walls and ceiling, then contacts between quads (episodes go on).
        for (int q = 0; q < _n; q++) SwarmPhysics.Walls(b, first + q, _wallMin, _wallMax, contact, _quadRandom);
        _contactMask.AsSpan(first, _n).CopyTo(_previousMask.AsSpan(first, _n));
        SwarmPhysics.QuadContacts(b, first, _n, _task.CollisionDistanceM, contact, _quadRandom,
            _previousMask.AsSpan(first, _n), _contactMask.AsSpan(first, _n), _newQuadContacts.AsSpan(first, _n));

        // 5. The scenario moves the goals; observations (SDF, column contacts, neighbours) and rewards.
        _episodeStep[e]++;
        AdvanceGoals(e);
        ObserveAndReward(e, rewards: true);
        if (nan) _nanInEnv[e] = true;

        // A non-finite state (the integrator blew up) ends the environment's episode like a NaN action. Its reward is what
        // the rest of the episode would cost a quad held at the room's far corner, so ending an episode this way never pays.
        bool finite = true;
        for (int q = 0; q < _n; q++)
        {
            int l = first + q;
            finite &= float.IsFinite(b.Px[l] + b.Py[l] + b.Pz[l] + b.Vx[l] + b.Vy[l] + b.Vz[l] + b.Wx[l] + b.Wy[l] + b.Wz[l] + b.Qw[l] + b.Qx[l] + b.Qy[l] + b.Qz[l]);
        }
        if (!finite)
        {
            _nanInEnv[e] = true;
            Interlocked.Increment(ref _nonFiniteEpisodes);
            float remaining = (_episodeSteps - _episodeStep[e] + 1) * _dt;
            float penalty = -_task.Reward.Position * (_task.Room.Max - _task.Room.Min).Length() * remaining;
            for (int q = 0; q < _n; q++)
            {
                _rewards[e * _n + q] = penalty;
                _episodeReturn[first + q] = float.IsFinite(_episodeReturn[first + q]) ? _episodeReturn[first + q] + penalty : penalty;
            }
        }

        // 6. Truncation at the episode length (or termination after a NaN action), then auto-reset of the whole environment.
        bool truncated = _episodeStep[e] >= _episodeSteps && !_nanInEnv[e];
        bool terminated = _nanInEnv[e];
        bool floorEnds = false;
        if (EndEpisodeOnFloor && !terminated)
            for (int q = 0; q < _n; q++) floorEnds |= b.Crashed[first + q] > 0;
        for (int q = 0; q < _n; q++)
        {
            int row = e * _n + q;
            // A quad on the floor ends its own episode (terminated); the others' are cut short (truncated: they bootstrap).
            bool crashed = floorEnds && b.Crashed[first + q] > 0;
            _terminated[row] = terminated | crashed;
            _truncated[row] = truncated | (floorEnds && !crashed);
        }
        if (!(terminated | truncated | floorEnds)) return;
        for (int q = 0; q < _n; q++)
        {
            int row = e * _n + q, l = first + q;
            _observations.AsSpan(row * _observationSize, _observationSize).CopyTo(_finalObservations.AsSpan(row * _observationSize, _observationSize));
            _finishedReturns[row] = _episodeReturn[l];
            _finishedLengths[row] = _episodeStep[e];
            _finishedQuadCollisions[l] = _quadCollisions[l];
            _finishedColumnCollisions[l] = _columnCollisions[l];
        }
        _finishedMinSeparation[e] = _minSeparation[e];
        completed++;
        ResetEnvironment(e);
    }

    /// <summary>SDF and column contacts, neighbours, observation rows and (when <paramref name="rewards"/>) the rewards of environment e.</summary>
    private void ObserveAndReward(int e, bool rewards)
    {
        QuadrotorBatch b = Batch;
        int first = e * _stride;
        SwarmContactModel contact = _task.Contact;
        SwarmRewardWeights w = _task.Reward;
        SwarmObstacles obstacles = _task.Obstacles;
        ReadOnlySpan<float> columnX = _columnX.AsSpan(e * _columnStride, _columnStride), columnY = _columnY.AsSpan(e * _columnStride, _columnStride);
        int columns = _columns[e];
        float proximityRange = w.ProximityFalloffArms * _arm, collisionScale = CollisionWeightScale;
        float minSeparation = _minSeparation[e];
        int newContacts = 0;

        for (int q = 0; q < _n; q++)
        {
            int l = first + q, row = e * _n + q;
            Span<float> o = _observations.AsSpan(row * _observationSize, _observationSize);
            float px = b.Px[l], py = b.Py[l], pz = b.Pz[l], vx = b.Vx[l], vy = b.Vy[l], vz = b.Vz[l];

            // Obstacles: the 3 × 3 signed-distance grid; the centre value within an arm length is a column contact.
            float centre = SwarmObservation.WriteSdf(px, py, columnX, columnY, columns, obstacles.RadiusM, obstacles.SdfResolutionM,
                obstacles.SdfClipM, o.Slice(SwarmObservation.SdfOffset(_k)));
            bool touching = centre < _arm;
            bool newColumnContact = touching && !_obstacleContact[l];
            if (touching && rewards)
            {
                int c = SwarmObservation.NearestColumn(px, py, columnX, columnY, columns);
                SwarmPhysics.ColumnContact(b, l, columnX[c], columnY[c], obstacles.RadiusM, contact, _quadRandom);
                px = b.Px[l]; py = b.Py[l]; vx = b.Vx[l]; vy = b.Vy[l]; vz = b.Vz[l];
            }
            if (rewards) _obstacleContact[l] = touching;

            // Neighbours: the K lowest QuadSwarm scores (ties: lower index first); proximity penalty and separation over all.
            float proximity = 0;
            SwarmObservation.WriteNeighbours(q, _k, b.Px.AsSpan(first, _n), b.Py.AsSpan(first, _n), b.Pz.AsSpan(first, _n),
                b.Vx.AsSpan(first, _n), b.Vy.AsSpan(first, _n), b.Vz.AsSpan(first, _n), proximityRange, o, ref minSeparation, ref proximity);
            var position = new Vector3(px, py, pz);
            var velocity = new Vector3(vx, vy, vz);
            var goal = new Vector3(_goalX[l], _goalY[l], _goalZ[l]);
            SwarmObservation.WriteSelf(position, b.Orientation(l), velocity, b.AngularVelocity(l), goal, o);
            if (!rewards) continue;

            // Reward (SwarmRewardWeights): progress terms per second, contacts per event, proximity per second.
            if (newColumnContact) _columnCollisions[l]++;
            _quadCollisions[l] += _newQuadContacts[l];
            newContacts += _newQuadContacts[l] + (newColumnContact ? 1 : 0);
            float distance = Vector3.Distance(position, goal);
            float rate = b.AngularVelocity(l).Length();
            float upright = o[14]; // R₂₂: body z · world z
            float precision = w.Precision > 0 ? w.Precision * MathF.Exp(-distance * distance / (w.PrecisionRadiusM * w.PrecisionRadiusM)) : 0;
            float reward = _dt * (w.Alive - w.Position * distance - w.Velocity * velocity.Length() + precision - w.Action * _actionNorm[l] - w.BodyRate * rate + w.Upright * upright)
                           - collisionScale * w.Collision * (_newQuadContacts[l] + (newColumnContact ? 1 : 0))
                           - collisionScale * _dt * w.ProximityMax * proximity;
            _rewards[row] = reward;
            _episodeReturn[l] += reward;
        }
        _minSeparation[e] = minSeparation;
        if (rewards) _newContactsInEnv[e] = newContacts;
    }

    /// <summary>Moves environment e's goals for the current episode step (the scenario's rule).</summary>
    private void AdvanceGoals(int e)
    {
        if (_scenario[e] < 0) return;
        SwarmScenarioConfig s = _mix[_scenario[e]].Scenario;
        int step = _episodeStep[e];
        int period = Math.Max(1, (int)MathF.Round(s.PeriodS / _dt));
        int first = e * _stride;
        Span<float> c = _centre.AsSpan(e * 3, 3);
        switch (s.Kind)
        {
            // A swap or jump due on the episode's last step would move the goal only for the success check (15 s is a
            // whole number of 5 s periods): the goals stay where the quads were flying to.
            case SwarmScenarioKind.SwapGoals when step % period == 0 && step < _episodeSteps:
                for (int q = 0; q < _n / 2; q++)
                {
                    int a = first + q, z = first + _n - 1 - q;
                    (_offsetX[a], _offsetX[z]) = (_offsetX[z], _offsetX[a]);
                    (_offsetY[a], _offsetY[z]) = (_offsetY[z], _offsetY[a]);
                    (_offsetZ[a], _offsetZ[z]) = (_offsetZ[z], _offsetZ[a]);
                }
                break;
            case SwarmScenarioKind.DynamicGoals when step % period == 0 && step < _episodeSteps:
                DrawPoint(e, s.GoalArea, c);
                break;
            case SwarmScenarioKind.RandomBezier or SwarmScenarioKind.PursuitEvasion:
                if (step - _segmentStart[e] >= period) StartSegment(e, s, step);
                float t = (step - _segmentStart[e]) / (float)period;
                Span<float> p = _bezier.AsSpan(e * 12, 12);
                float u = 1 - t, b0 = u * u * u, b1 = 3 * u * u * t, b2 = 3 * u * t * t, b3 = t * t * t;
                for (int axis = 0; axis < 3; axis++) c[axis] = b0 * p[axis] + b1 * p[3 + axis] + b2 * p[6 + axis] + b3 * p[9 + axis];
                break;
        }
        for (int q = 0; q < _n; q++)
        {
            int l = first + q;
            _goalX[l] = c[0] + _offsetX[l]; _goalY[l] = c[1] + _offsetY[l]; _goalZ[l] = c[2] + _offsetZ[l];
        }
    }

    /// <summary>A Bézier segment from the current centre: two random inner control points in the goal area and an end point
    /// (random_bezier: random; pursuit_evasion: of four random points, the one farthest from the swarm's centroid).</summary>
    private void StartSegment(int e, SwarmScenarioConfig s, int step)
    {
        Span<float> p = _bezier.AsSpan(e * 12, 12);
        Span<float> c = _centre.AsSpan(e * 3, 3);
        c.CopyTo(p);
        DrawPoint(e, s.GoalArea, p.Slice(3, 3));
        DrawPoint(e, s.GoalArea, p.Slice(6, 3));
        DrawPoint(e, s.GoalArea, p.Slice(9, 3));
        if (s.Kind == SwarmScenarioKind.PursuitEvasion)
        {
            Vector3 centroid = Vector3.Zero;
            for (int q = 0; q < _n; q++) centroid += Batch.Position(e * _stride + q);
            centroid /= _n;
            Span<float> candidate = stackalloc float[3];
            float farthest = Vector3.DistanceSquared(new Vector3(p[9], p[10], p[11]), centroid);
            for (int k = 0; k < 3; k++)
            {
                DrawPoint(e, s.GoalArea, candidate);
                float d = Vector3.DistanceSquared(new Vector3(candidate[0], candidate[1], candidate[2]), centroid);
                if (d > farthest) { farthest = d; candidate.CopyTo(p.Slice(9, 3)); }
            }
        }
        _segmentStart[e] = step;
    }

    private void DrawPoint(int e, SwarmBox area, Span<float> destination)
    {
        destination[0] = _envRandom.Uniform(e, area.Min.X, area.Max.X);
        destination[1] = _envRandom.Uniform(e, area.Min.Y, area.Max.Y);
        destination[2] = _envRandom.Uniform(e, area.Min.Z, area.Max.Z);
    }

    /// <summary>
    /// A new episode in environment e, drawn in a fixed order: scenario (environment generator), column layout, start slots,
    /// goals; per quad (its lane's generator): mass, inertia, thrust and motor factors, heading.
    /// </summary>
    private void ResetEnvironment(int e)
    {
        QuadrotorBatch b = Batch;
        LaneRandom r = _envRandom;
        int first = e * _stride;

        // Scenario from the mix.
        float pick = r.Uniform(e) * _mixTotal;
        int index = 0;
        while (index < _mix.Count - 1 && (pick -= _mix[index].Weight) >= 0) index++;
        _scenario[e] = index;
        SwarmScenarioConfig s = _mix[index].Scenario;

        // Columns: round(density · cells) distinct cells (a partial Fisher–Yates shuffle of the cell indices).
        SwarmObstacles obstacles = _task.Obstacles;
        int count = obstacles.ColumnCount, cells = obstacles.CellCount, o = e * _columnStride;
        Span<int> order = stackalloc int[cells];
        for (int c = 0; c < cells; c++) order[c] = c;
        for (int c = 0; c < _columnStride; c++)
        {
            if (c < count)
            {
                int pickCell = c + Math.Min((int)(r.Uniform(e) * (cells - c)), cells - c - 1);
                (order[c], order[pickCell]) = (order[pickCell], order[c]);
                Vector2 centre = obstacles.CellCenter(order[c] % obstacles.CellsX, order[c] / obstacles.CellsX);
                _columnX[o + c] = centre.X; _columnY[o + c] = centre.Y;
            }
            else
            {
                _columnX[o + c] = SwarmObservation.AbsentColumn; _columnY[o + c] = SwarmObservation.AbsentColumn;
            }
        }
        _columns[e] = count;

        // Starts: distinct random slots of the start grid (rejection: at most 32 quads, capacity checked by the config).
        Span<long> starts = stackalloc long[_n];
        DrawSlots(e, s.StartArea, s.StartSeparationM, starts);
        // Goals: a formation around a random centre, or (obstacles_random) distinct random slots per quad.
        Span<float> centreOfGoals = _centre.AsSpan(e * 3, 3);
        Span<long> goalSlots = stackalloc long[_n];
        if (s.Kind == SwarmScenarioKind.ObstaclesRandom)
        {
            DrawSlots(e, s.GoalArea, s.GoalSpacingM, goalSlots);
            centreOfGoals.Clear();
        }
        else DrawPoint(e, s.GoalArea, centreOfGoals);
        for (int q = 0; q < _n; q++)
        {
            int l = first + q;
            Vector3 offset = s.Kind == SwarmScenarioKind.ObstaclesRandom
                ? SlotPosition(s.GoalArea, s.GoalSpacingM, goalSlots[q])
                : s.FormationOffset(q, _n);
            _offsetX[l] = offset.X; _offsetY[l] = offset.Y; _offsetZ[l] = offset.Z;
        }
        _episodeStep[e] = 0;
        if (s.Kind is SwarmScenarioKind.RandomBezier or SwarmScenarioKind.PursuitEvasion)
        {
            // The first segment starts where the goals were drawn.
            for (int q = 0; q < _n; q++) b.SetPose(first + q, SlotPosition(s.StartArea, s.StartSeparationM, starts[q]), Quaternion.Identity);
            StartSegment(e, s, 0);
        }
        for (int q = 0; q < _n; q++)
        {
            int l = first + q;
            _goalX[l] = centreOfGoals[0] + _offsetX[l]; _goalY[l] = centreOfGoals[1] + _offsetY[l]; _goalZ[l] = centreOfGoals[2] + _offsetZ[l];
        }

        // Vehicles: randomised dynamics, level at the start slot with a random heading, rotors at hover speed.
        var dr = _task.DomainRandomization;
        for (int q = 0; q < _stride; q++)
        {
            int l = first + q;
            b.SetNominal(l);
            if (q >= _n) { b.SetPose(l, new Vector3(0, 0, _task.Room.SizeM.Z / 2), Quaternion.Identity); b.SetRotors(l, _hoverRpm); continue; }
            LaneRandom qr = _quadRandom;
            b.Mass[l] = _robot.Mass * qr.Uniform(l, dr.Mass.Low, dr.Mass.High);
            float inertia = qr.Uniform(l, dr.Inertia.Low, dr.Inertia.High);
            b.Ixx[l] = _robot.InertiaDiagonal.X * inertia; b.Iyy[l] = _robot.InertiaDiagonal.Y * inertia; b.Izz[l] = _robot.InertiaDiagonal.Z * inertia;
            b.ThrustScale[l] = qr.Uniform(l, dr.ThrustCoefficient.Low, dr.ThrustCoefficient.High);
            b.MotorTimeConstant[l] = _robot.MotorTimeConstant * qr.Uniform(l, dr.MotorTimeConstant.Low, dr.MotorTimeConstant.High);
            float yaw = qr.Uniform(l, -MathF.PI, MathF.PI);
            b.SetPose(l, SlotPosition(s.StartArea, s.StartSeparationM, starts[q]), new Quaternion(0, 0, MathF.Sin(yaw / 2), MathF.Cos(yaw / 2)));
            b.SetRotors(l, _hoverRpm);
            _episodeReturn[l] = 0;
            _contactMask[l] = 0; _previousMask[l] = 0; _newQuadContacts[l] = 0; _obstacleContact[l] = false;
            _downwashX[l] = _downwashY[l] = _downwashZ[l] = 0;
            _quadCollisions[l] = 0; _columnCollisions[l] = 0;
            if (_history > 0 && q < _n) // rotors start at hover speed, as if the hover action had been sent
                _observations.AsSpan((e * _n + q) * _observationSize + SwarmObservation.HistoryOffset(_k), 4 * _history).Fill(_hoverAction);
        }
        _minSeparation[e] = float.PositiveInfinity;
        _nanInEnv[e] = false;
        ObserveAndReward(e, rewards: false);
    }

    /// <summary>Distinct random slots of a grid of spacing <paramref name="spacing"/> in <paramref name="area"/>.</summary>
    private void DrawSlots(int e, SwarmBox area, float spacing, Span<long> slots)
    {
        long nx = Slots(area.HalfExtent.X, spacing), ny = Slots(area.HalfExtent.Y, spacing), nz = Slots(area.HalfExtent.Z, spacing);
        long capacity = nx * ny * nz;
        for (int q = 0; q < slots.Length; q++)
        {
            long slot;
            bool taken;
            do
            {
                slot = Math.Min((long)(_envRandom.Uniform(e) * capacity), capacity - 1);
                taken = slots[..q].Contains(slot);
            } while (taken);
            slots[q] = slot;
        }
    }

    private static long Slots(float halfExtent, float spacing) => 1 + (long)MathF.Floor(2 * halfExtent / spacing + 1e-4f);

    /// <summary>Where grid slot <paramref name="slot"/> lies: the grid is centred in the area.</summary>
    private static Vector3 SlotPosition(SwarmBox area, float spacing, long slot)
    {
        long nx = Slots(area.HalfExtent.X, spacing), ny = Slots(area.HalfExtent.Y, spacing), nz = Slots(area.HalfExtent.Z, spacing);
        long ix = slot % nx, iy = slot / nx % ny, iz = slot / (nx * ny);
        return area.Center + new Vector3((ix - 0.5f * (nx - 1)) * spacing, (iy - 0.5f * (ny - 1)) * spacing, (iz - 0.5f * (nz - 1)) * spacing);
    }


    /// <summary>A buffer that holds one environment's whole state (<see cref="SaveEnvironment"/>); allocate once, reuse.</summary>
    public SwarmEnvSnapshot CreateSnapshot() => new(LaneFloats().Length * _stride, (LaneInts().Length + 3) * _stride, 2 * _columnStride);

    /// <summary>
    /// Copies environment e's state — every vehicle's rigid body, rotors and randomised dynamics, goals and the scenario's
    /// progress, columns, contact memory and the episode's statistics and return — into <paramref name="into"/> (QuadSwarm's
    /// hard-state replay). The random generators are not part of it: a restored episode goes on with fresh noise.
    /// </summary>
    public void SaveEnvironment(int e, SwarmEnvSnapshot into)
    {
        int first = e * _stride;
        float[][] floats = LaneFloats();
        for (int a = 0; a < floats.Length; a++) floats[a].AsSpan(first, _stride).CopyTo(into.LaneFloats.AsSpan(a * _stride, _stride));
        int[][] ints = LaneInts();
        for (int a = 0; a < ints.Length; a++) ints[a].AsSpan(first, _stride).CopyTo(into.LaneInts.AsSpan(a * _stride, _stride));
        int extra = ints.Length * _stride;
        for (int q = 0; q < _stride; q++)
        {
            into.LaneInts[extra + q] = (int)_contactMask[first + q];
            into.LaneInts[extra + _stride + q] = (int)_previousMask[first + q];
            into.LaneInts[extra + 2 * _stride + q] = _obstacleContact[first + q] ? 1 : 0;
        }
        _columnX.AsSpan(e * _columnStride, _columnStride).CopyTo(into.Columns);
        _columnY.AsSpan(e * _columnStride, _columnStride).CopyTo(into.Columns.AsSpan(_columnStride));
        _centre.AsSpan(e * 3, 3).CopyTo(into.Centre);
        _bezier.AsSpan(e * 12, 12).CopyTo(into.Bezier);
        into._columnCount = _columns[e];
        into._scenario = _scenario[e];
        into._heldOut = UseHeldOutScenarios;
        into.EpisodeStep = _episodeStep[e];
        into._segmentStart = _segmentStart[e];
        into._minSeparation = _minSeparation[e];
        into._nanInEnv = _nanInEnv[e];
        into.Saved = true;
    }

    /// <summary>Puts environment e back into a saved state (any environment's of this env) and rewrites its observation rows;
    /// its episode goes on from the saved step. The action history is not part of the snapshot: the hard-state replay that
    /// uses snapshots is PPO's, which refuses tasks with a history.</summary>
    public void RestoreEnvironment(int e, SwarmEnvSnapshot from)
    {
        if (!from.Saved) throw new ArgumentException("the snapshot holds no saved state", nameof(from));
        if (from.LaneFloats.Length != LaneFloats().Length * _stride || from.Columns.Length != 2 * _columnStride)
            throw new ArgumentException("the snapshot was made by an environment of another shape", nameof(from));
        if (from._heldOut != UseHeldOutScenarios) throw new ArgumentException("the snapshot was saved with the other scenario mix", nameof(from));
        int first = e * _stride;
        float[][] floats = LaneFloats();
        for (int a = 0; a < floats.Length; a++) from.LaneFloats.AsSpan(a * _stride, _stride).CopyTo(floats[a].AsSpan(first, _stride));
        int[][] ints = LaneInts();
        for (int a = 0; a < ints.Length; a++) from.LaneInts.AsSpan(a * _stride, _stride).CopyTo(ints[a].AsSpan(first, _stride));
        int extra = ints.Length * _stride;
        for (int q = 0; q < _stride; q++)
        {
            _contactMask[first + q] = (uint)from.LaneInts[extra + q];
            _previousMask[first + q] = (uint)from.LaneInts[extra + _stride + q];
            _obstacleContact[first + q] = from.LaneInts[extra + 2 * _stride + q] != 0;
        }
        from.Columns.AsSpan(0, _columnStride).CopyTo(_columnX.AsSpan(e * _columnStride, _columnStride));
        from.Columns.AsSpan(_columnStride).CopyTo(_columnY.AsSpan(e * _columnStride, _columnStride));
        from.Centre.CopyTo(_centre.AsSpan(e * 3, 3));
        from.Bezier.CopyTo(_bezier.AsSpan(e * 12, 12));
        _columns[e] = from._columnCount;
        _scenario[e] = from._scenario;
        _episodeStep[e] = from.EpisodeStep;
        _segmentStart[e] = from._segmentStart;
        _minSeparation[e] = from._minSeparation;
        _nanInEnv[e] = from._nanInEnv;
        _newContactsInEnv[e] = 0;
        ObserveAndReward(e, rewards: false);
    }

    // The per-lane state, in a fixed order (built on demand: a handful of references, no per-step cost in the kernels).
    private float[][] LaneFloats() => _laneFloats ??=
    [
        Batch.Px, Batch.Py, Batch.Pz, Batch.Qw, Batch.Qx, Batch.Qy, Batch.Qz, Batch.Vx, Batch.Vy, Batch.Vz, Batch.Wx, Batch.Wy, Batch.Wz,
        .. Batch.Rpm, .. Batch.CommandRpm,
        Batch.Mass, Batch.Ixx, Batch.Iyy, Batch.Izz, Batch.ThrustScale, Batch.MotorTimeConstant,
        Batch.ForceX, Batch.ForceY, Batch.ForceZ, Batch.TorqueX, Batch.TorqueY, Batch.TorqueZ, Batch.Crashed,
        _episodeReturn, _actionNorm, _downwashX, _downwashY, _downwashZ, _goalX, _goalY, _goalZ, _offsetX, _offsetY, _offsetZ,
    ];
    private float[][]? _laneFloats;

    // The integer per-lane state; the snapshot keeps three more blocks after it: both contact masks (bit patterns) and
    // the column-contact flags.
    private int[][] LaneInts() => _laneInts ??= [_newQuadContacts, _quadCollisions, _columnCollisions];
    private int[][]? _laneInts;

    public void Dispose() => _pool.Dispose();
}

/// <summary>One environment's saved state (<see cref="SwarmEnv.SaveEnvironment"/>), for QuadSwarm's hard-state replay.</summary>
public sealed class SwarmEnvSnapshot
{
    internal SwarmEnvSnapshot(int laneFloats, int laneInts, int columns)
    {
        LaneFloats = new float[laneFloats];
        LaneInts = new int[laneInts];
        Columns = new float[columns];
    }

    internal float[] LaneFloats { get; }
    internal int[] LaneInts { get; }
    internal float[] Columns { get; }
    internal float[] Centre { get; } = new float[3];
    internal float[] Bezier { get; } = new float[12];
    internal int _columnCount, _scenario, _segmentStart;
    internal float _minSeparation;
    internal bool _heldOut, _nanInEnv;
    /// <summary>True once a state was saved into it.</summary>
    public bool Saved { get; internal set; }
    /// <summary>The episode step the state was saved at.</summary>
    public int EpisodeStep { get; internal set; }

    /// <summary>Copies this saved state into another snapshot of the same environment (allocates nothing).</summary>
    public void CopyTo(SwarmEnvSnapshot to)
    {
        LaneFloats.CopyTo(to.LaneFloats, 0);
        LaneInts.CopyTo(to.LaneInts, 0);
        Columns.CopyTo(to.Columns, 0);
        Centre.CopyTo(to.Centre, 0);
        Bezier.CopyTo(to.Bezier, 0);
        (to._columnCount, to._scenario, to._segmentStart, to._minSeparation, to._heldOut, to._nanInEnv) = (_columnCount, _scenario, _segmentStart, _minSeparation, _heldOut, _nanInEnv);
        to.EpisodeStep = EpisodeStep;
        to.Saved = Saved;
    }
}
