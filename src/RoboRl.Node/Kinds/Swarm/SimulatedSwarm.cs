using System.Numerics;
using RoboRl.Core.Robots;
using RoboRl.Core.Swarm;
using RoboRl.Sims.Swarm;

namespace RoboRl.Node;

/// <summary>
/// The swarm of the "sim" transport: the training simulator itself (<see cref="SwarmEnv"/>, one environment of the node's
/// task — contacts, downwash, walls, columns), each vehicle starting level at its <c>initial_position</c> with the node
/// config's columns, stepped once per control period with the newest command of every vehicle. In lock-step the node
/// advances it before each tick; otherwise a thread steps it in real time. The episode never ends (no truncation, no
/// auto-reset): the task is run with a practically unbounded episode length.
/// </summary>
public sealed class SimulatedSwarm : ISwarmStateSource, ISwarmCommandSink, ISwarmGroundTruth, ILockStepRobot, IDisposable
{
    private readonly SwarmEnv _env;
    private readonly int _n;
    private readonly long _stepNs;
    private readonly float[] _actions;       // newest command per vehicle, normalised; written by Send, read by the step
    private readonly float[] _stepActions;   // the step's copy
    private readonly RobotStateSample[] _states;
    private readonly object _gate = new();
    private uint _sequence;
    private long _timeNs;
    private Thread? _thread;
    private volatile bool _running;

    /// <param name="task">The node's swarm task (its quads, physics, columns' size).</param>
    /// <param name="initialPositions">Where each vehicle starts, level, at rest, rotors at hover speed.</param>
    /// <param name="columns">The columns of the room (centres, x/y); the task's diameter.</param>
    /// <param name="seed">The simulator's seed (per-vehicle dynamics randomisation, contact and downwash noise).</param>
    public SimulatedSwarm(SwarmTaskConfig task, IReadOnlyList<Vector3> initialPositions, IReadOnlyList<Vector2> columns, ulong seed, long startTimeNs)
    {
        if (initialPositions.Count != task.Quads) throw new ArgumentException($"{initialPositions.Count} initial positions for {task.Quads} vehicles", nameof(initialPositions));
        _env = Create(task, initialPositions, columns, seed);
        _n = task.Quads;
        _stepNs = (long)Math.Round(1e9 / task.ControlFrequencyHz);
        _actions = new float[_n * 4];
        Array.Fill(_actions, task.Robot.HoverAction());
        _stepActions = new float[_n * 4];
        _states = new RobotStateSample[_n];
        _timeNs = startTimeNs;
        Sample();
    }

    /// <summary>
    /// The simulator as the node's "sim" transport builds it: <paramref name="task"/> with an episode long enough never to
    /// end, one environment on the calling thread, reset with <paramref name="seed"/>, then the vehicles put level at rest at
    /// <paramref name="initialPositions"/>, the columns set and each goal fixed where it starts (the node owns the goals; the
    /// simulator's goals only feed its own observation rows). A test builds its reference rollout with the same call.
    /// </summary>
    public static SwarmEnv Create(SwarmTaskConfig task, IReadOnlyList<Vector3> initialPositions, IReadOnlyList<Vector2> columns, ulong seed)
    {
        var env = new SwarmEnv(task with { EpisodeSeconds = MathF.Min(3600f * 24, int.MaxValue / task.ControlFrequencyHz / 2) }, environments: 1, threadCount: 1);
        env.Reset(seed);
        env.SetColumns(0, columns.ToArray());
        for (int q = 0; q < task.Quads; q++)
        {
            int l = env.Lane(0, q);
            env.Batch.SetPose(l, initialPositions[q], Quaternion.Identity);
            env.Batch.SetVelocities(l, Vector3.Zero, Vector3.Zero);
            env.SetGoal(0, q, initialPositions[q]);
        }
        env.RefreshObservations();
        return env;
    }

    /// <summary>The simulator (tests read its state and statistics).</summary>
    public SwarmEnv Env => _env;
    public int Vehicles => _n;
    public long TimeNs { get { lock (_gate) return _timeNs; } }
    public long StepNs => _stepNs;

    public bool TryGetLatest(int vehicle, out RobotStateSample sample)
    {
        lock (_gate) sample = _states[vehicle];
        return true;
    }

    public void Send(int vehicle, in ActuatorCommand command)
    {
        lock (_gate)
        {
            Span<float> a = _actions.AsSpan(vehicle * 4, 4);
            a[0] = command.Action[0]; a[1] = command.Action[1]; a[2] = command.Action[2]; a[3] = command.Action[3];
        }
    }

    public (int Vehicles, int Columns) Contacts(int vehicle)
    {
        lock (_gate) return _env.EpisodeCollisions(0, vehicle);
    }

    public float MinSeparationM { get { lock (_gate) return _env.MinSeparation(0); } }

    /// <summary>Steps the physics (one control period per step) until <paramref name="timeNs"/>.</summary>
    public void AdvanceTo(long timeNs)
    {
        lock (_gate)
        {
            while (_timeNs + _stepNs <= timeNs)
            {
                _actions.CopyTo(_stepActions, 0);
                _env.Step(_stepActions);
                _timeNs += _stepNs;
                Sample();
            }
        }
    }

    private void Sample()
    {
        var b = _env.Batch;
        _sequence++;
        for (int q = 0; q < _n; q++)
        {
            int l = _env.Lane(0, q);
            _states[q] = new RobotStateSample
            {
                TimestampNs = _timeNs,
                Sequence = _sequence,
                Position = b.Position(l),
                Orientation = b.Orientation(l),
                VelocityWorld = b.Velocity(l),
                AngularVelocityBody = b.AngularVelocity(l),
                RotorRpm = b.RotorRpm(l),
            };
        }
    }

    /// <summary>Real time: a thread steps the physics at the control rate on the node's clock.</summary>
    public void Start()
    {
        if (_thread is not null) return;
        lock (_gate)
        {
            _timeNs = NodeClock.NowNs;
            Sample(); // the start state, stamped now: the node's first tick must not find it stale
        }
        _running = true;
        _thread = new Thread(() =>
        {
            while (_running)
            {
                long next = TimeNs + _stepNs, now = NodeClock.NowNs;
                if (next - now > 200_000) RealTimeScheduling.SleepUntil(next - 100_000);
                while (NodeClock.NowNs < next && _running) Thread.SpinWait(20);
                AdvanceTo(NodeClock.NowNs);
            }
        })
        { IsBackground = true, Name = "roborl-swarm-sim" };
        _thread.Start();
    }

    public void Stop()
    {
        _running = false;
        _thread?.Join();
        _thread = null;
    }

    public void Dispose()
    {
        Stop();
        _env.Dispose();
    }
}
