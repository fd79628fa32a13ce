using RoboRl.Core.Robots;
using RoboRl.Core.Tasks;

namespace RoboRl.Sims.DiffDrive;

/// <summary>
/// One simulated differential-drive robot as the node's sensors and wheels: one <see cref="NavEnv"/> scenario (a map of
/// the task, its start and goal) stepped at the task's control rate with the newest velocity command. It is the node's
/// <see cref="IGroundSensorSource"/> (odometry, lidar scan and the scenario's goal, stamped with simulated time) and its
/// <see cref="IVelocityCommandSink"/>. Two ways to run it, as the simulated quadrotor:
/// <list type="bullet">
/// <item><see cref="Start"/>: its own thread steps it in real time on the node clock;</item>
/// <item><see cref="AdvanceTo"/>: the caller steps it to a given time (lock-step with the node; deterministic).</item>
/// </list>
/// The episode's outcome (goal, collision, timeout) is kept; the robot stays where it ended. Thread-safe; the node's
/// calls allocate nothing.
/// </summary>
public sealed class SimulatedDiffBot : IGroundSensorSource, IVelocityCommandSink, IDisposable
{
    private readonly NavTaskConfig _task;
    private readonly NavEnv _env;
    private readonly Lock _gate = new();
    // What the sensors report: the robot after its newest step, frozen (at rest) once the episode has ended, since the
    // environment then resets itself into another scenario.
    private readonly float[] _scan, _action = new float[NavObservation.ActionSize];
    private float _x, _y, _yaw, _v, _w;
    private readonly long _stepNs;
    private long _timeNs;
    private uint _sequence;
    private float _commandV, _commandW;
    private long _commands;
    private Thread? _thread;
    private volatile bool _running;

    /// <param name="scenarioSeed">Which map, start and goal (e.g. <see cref="NavMaps.HeldOutSeedBase"/> + k for held-out map k).</param>
    /// <param name="startTimeNs">Simulated time of the first state (node clock).</param>
    public SimulatedDiffBot(NavTaskConfig task, ulong scenarioSeed, long startTimeNs = 0)
    {
        _task = task;
        _env = new NavEnv(task, 1, threadCount: 1);
        _env.Reset(scenarioSeed ^ 0x5EEDUL);
        _env.ResetScenario(0, scenarioSeed);
        _scan = new float[task.Robot.Lidar.Beams];
        _stepNs = (long)Math.Round(1e9 / task.ControlFrequencyHz);
        _timeNs = startTimeNs;
        _sequence = 1;
        Snapshot();
    }

    private void Snapshot()
    {
        (_x, _y, _yaw, _v, _w) = (_env.X(0), _env.Y(0), _env.Yaw(0), _env.LinearVelocity(0), _env.AngularVelocity(0));
        _env.Scan(0).CopyTo(_scan);
    }

    public NavTaskConfig Task => _task;
    /// <summary>The environment (one robot; after the episode ended, another scenario): read it only while nothing steps it.</summary>
    public NavEnv Env => _env;
    public (float X, float Y) GoalPosition => (_env.Maps.GoalX[0], _env.Maps.GoalY[0]);
    /// <summary>How the scenario's episode ended (None while it runs).</summary>
    public NavOutcome Outcome { get; private set; }
    public int Steps { get; private set; }
    public float PathLength { get; private set; }
    public double Seconds => Steps * _task.ControlDt;
    /// <summary>Simulated time, node-clock nanoseconds.</summary>
    public long TimeNs { get { lock (_gate) return _timeNs; } }
    /// <summary>Velocity commands received.</summary>
    public long CommandCount => Interlocked.Read(ref _commands);
    public (float V, float W) LastCommand { get { lock (_gate) return (_commandV, _commandW); } }

    public bool TryGetOdometry(out OdometrySample odometry)
    {
        lock (_gate)
        {
            odometry = new OdometrySample
            {
                TimestampNs = _timeNs,
                Sequence = _sequence,
                X = _x,
                Y = _y,
                Yaw = _yaw,
                LinearVelocity = _v,
                AngularVelocity = _w,
            };
            return true;
        }
    }

    public bool TryGetScan(Span<float> ranges, out ScanSample scan)
    {
        var lidar = _task.Robot.Lidar;
        lock (_gate)
        {
            int n = Math.Min(ranges.Length, lidar.Beams);
            _scan.AsSpan(0, n).CopyTo(ranges);
            scan = new ScanSample
            {
                TimestampNs = _timeNs,
                Sequence = _sequence,
                AngleMin = 0,
                AngleIncrement = lidar.AngleIncrement,
                RangeMin = lidar.RangeMin,
                RangeMax = lidar.RangeMax,
                Count = lidar.Beams,
            };
            return true;
        }
    }

    public bool TryGetGoal(out GoalSample goal)
    {
        goal = new GoalSample { TimestampNs = 0, Sequence = 1, X = _env.Maps.GoalX[0], Y = _env.Maps.GoalY[0] };
        return true;
    }

    public void Send(in VelocityCommand command)
    {
        lock (_gate)
        {
            _commandV = command.LinearVelocity;
            _commandW = command.AngularVelocity;
        }
        Interlocked.Increment(ref _commands);
    }

    /// <summary>Steps the robot with the newest command until its time reaches <paramref name="timeNs"/> (one step per control period).</summary>
    public void AdvanceTo(long timeNs)
    {
        lock (_gate)
        {
            while (_timeNs + _stepNs <= timeNs) StepLocked();
        }
    }

    /// <summary>One control step with the newest command; false once the episode has ended (the robot then stays put, time runs on).</summary>
    public bool Step()
    {
        lock (_gate) return StepLocked();
    }

    private bool StepLocked()
    {
        _timeNs += _stepNs;
        _sequence++;
        if (Outcome != NavOutcome.None) return false;
        _action[0] = _commandV / _task.Robot.MaxLinearVelocity;
        _action[1] = _commandW / _task.Robot.MaxAngularVelocity;
        float x = _env.X(0), y = _env.Y(0);
        _env.Step(_action);
        Steps++;
        if (_env.Terminated[0] || _env.Truncated[0])
        {
            // The environment has auto-reset into another scenario; keep the finished one's result and leave the robot
            // standing where the sensors last saw it.
            Outcome = _env.FinishedEpisodeOutcomes[0];
            PathLength = _env.FinishedPathLengths[0];
            (_v, _w) = (0, 0);
            return false;
        }
        PathLength += MathF.Sqrt((_env.X(0) - x) * (_env.X(0) - x) + (_env.Y(0) - y) * (_env.Y(0) - y));
        Snapshot();
        return true;
    }

    /// <summary>Steps in real time on its own thread, from the node clock's now.</summary>
    public void Start()
    {
        if (_thread is not null) return;
        lock (_gate) _timeNs = NodeClock.NowNs;
        _running = true;
        _thread = new Thread(() =>
        {
            while (_running)
            {
                long next;
                lock (_gate) next = _timeNs + _stepNs;
                while (_running && NodeClock.NowNs < next) Thread.Sleep(1);
                if (_running) AdvanceTo(next);
            }
        })
        { IsBackground = true, Name = "roborl-sim-diffbot" };
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
