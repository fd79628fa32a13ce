using System.Numerics;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Robots;

namespace RoboRl.Sims.Quadrotor;

/// <summary>Settings of a <see cref="SimulatedQuadrotor"/>.</summary>
public sealed record SimulatedQuadrotorOptions
{
    /// <summary>RK4 steps per second (one step each).</summary>
    public float PhysicsHz { get; init; } = 1000;
    /// <summary>Where it starts, hovering (rotors at hover rpm), world ENU, metres; z = 0 starts it on the floor with motors off.</summary>
    public Vector3 StartPosition { get; init; } = new(0, 0, 1);
    /// <summary>Sensor noise standard deviations: position (m), rotation (rad, per axis), velocity (m/s), angular velocity (rad/s).</summary>
    public Vector4 NoiseStd { get; init; }
    public int Seed { get; init; }
}

/// <summary>
/// One simulated quadrotor as the node's robot: the <see cref="QuadrotorBatch"/> RK4 kernel (the trainer's own
/// dynamics: rigid body, motor lag inside RK4, thrust polynomial, floor) for one vehicle, stepped at a fixed physics
/// rate, with Gaussian sensor noise. It is both the node's <see cref="ISensorSource"/> and its
/// <see cref="IActuatorSink"/>. Two ways to run it:
/// <list type="bullet">
/// <item><see cref="Start"/>: its own thread advances physics in real time on the node clock (the default transport
///   of `roborl run`);</item>
/// <item><see cref="AdvanceTo"/>: the caller steps it to a given time (lock-step with the node; deterministic tests).</item>
/// </list>
/// The plant may differ from the policy's robot (`--sim-robot`). Disturbances and sensor faults can be injected for
/// safety tests. It knows its true state: <see cref="TryGetGroundTruth"/> gives it with the time the newest command
/// took effect (the start of the next physics step after <see cref="Send"/>), which the node's recorder logs so that a
/// flight can be replayed on its own plant exactly. Thread-safe; <see cref="TryGetLatest"/>, <see cref="Send"/> and
/// <see cref="TryGetGroundTruth"/> allocate nothing.
/// </summary>
public sealed class SimulatedQuadrotor : ISensorSource, IActuatorSink, IGroundTruthSource, IDisposable
{
    private readonly QuadrotorBatch _batch;
    private readonly SimulatedQuadrotorOptions _options;
    private readonly long _stepNs;
    private readonly float _stepS;
    private readonly System.Random _random;
    private readonly Lock _gate = new();
    private long _timeNs;
    private RobotStateSample _latest;
    private bool _hasSample;
    private uint _sequence;
    private Vector4 _commandRpm;
    private long _commandEffectiveNs;
    private long _commands;
    private bool _dropout, _injectNaN, _touchedFloor;
    private float _hardestTouchdown;
    private Thread? _thread;
    private volatile bool _running;

    public SimulatedQuadrotor(QuadrotorConfig plant, SimulatedQuadrotorOptions? options = null, long startTimeNs = 0)
    {
        _options = options ?? new SimulatedQuadrotorOptions();
        if (!(_options.PhysicsHz > 0)) throw new ArgumentOutOfRangeException(nameof(options), "PhysicsHz must be positive");
        Plant = plant;
        _batch = new QuadrotorBatch(plant, 1);
        _batch.SetNominal(0);
        _batch.SetPose(0, _options.StartPosition, Quaternion.Identity);
        float rpm = _options.StartPosition.Z > 0 ? plant.HoverRpm() : 0;
        _batch.SetRotors(0, rpm);
        _commandRpm = new Vector4(rpm);
        _stepNs = (long)Math.Round(1e9 / _options.PhysicsHz);
        _stepS = _stepNs * 1e-9f;
        _random = new System.Random(_options.Seed);
        _timeNs = startTimeNs;
        _commandEffectiveNs = startTimeNs;
        Publish();
    }

    public QuadrotorConfig Plant { get; }

    /// <summary>Simulated time, node-clock nanoseconds.</summary>
    public long TimeNs { get { lock (_gate) return _timeNs; } }

    /// <summary>The true (noise-free) state now.</summary>
    public RobotStateSample TrueState { get { lock (_gate) return Sample(noisy: false); } }

    /// <summary>True once the vehicle has touched the floor (standing on it, landing or crash).</summary>
    public bool TouchedFloor { get { lock (_gate) return _touchedFloor; } }

    /// <summary>The fastest the vehicle has come down onto the floor, m/s (0 standing; a crash is metres per second).</summary>
    public float HardestTouchdownMS { get { lock (_gate) return _hardestTouchdown; } }

    /// <summary>Actuator commands received.</summary>
    public long CommandCount => Interlocked.Read(ref _commands);

    /// <summary>While true, no new sensor samples are published (a lost link); the newest one ages.</summary>
    public bool SensorDropout { get { lock (_gate) return _dropout; } set { lock (_gate) _dropout = value; } }

    /// <summary>The next published sample carries NaN in its position (a sensor glitch).</summary>
    public void InjectNonFiniteSample() { lock (_gate) _injectNaN = true; }

    /// <summary>Sets a constant disturbance: force (world, N) and torque (body, N·m).</summary>
    public void SetDisturbance(Vector3 forceWorld, Vector3 torqueBody)
    {
        lock (_gate)
        {
            _batch.ForceX[0] = forceWorld.X; _batch.ForceY[0] = forceWorld.Y; _batch.ForceZ[0] = forceWorld.Z;
            _batch.TorqueX[0] = torqueBody.X; _batch.TorqueY[0] = torqueBody.Y; _batch.TorqueZ[0] = torqueBody.Z;
        }
    }

    /// <summary>Adds to the velocities at once (a knock): world linear, body angular.</summary>
    public void Perturb(Vector3 velocityWorld, Vector3 angularVelocityBody)
    {
        lock (_gate)
        {
            _batch.SetVelocities(0, _batch.Velocity(0) + velocityWorld, _batch.AngularVelocity(0) + angularVelocityBody);
        }
    }

    public bool TryGetLatest(out RobotStateSample sample)
    {
        lock (_gate)
        {
            sample = _latest;
            return _hasSample;
        }
    }

    public void Send(in ActuatorCommand command)
    {
        Vector4 rpm = Vector4.Clamp(command.RotorRpm.AsVector4(), new Vector4(Plant.RpmMin), new Vector4(Plant.RpmMax));
        if (!(float.IsFinite(rpm.X) && float.IsFinite(rpm.Y) && float.IsFinite(rpm.Z) && float.IsFinite(rpm.W))) rpm = Vector4.Zero;
        lock (_gate)
        {
            _commandRpm = rpm;
            _commandEffectiveNs = _timeNs; // every later physics step uses it
        }
        Interlocked.Increment(ref _commands);
    }

    public long PhysicsStepNs => _stepNs;

    public bool TryGetGroundTruth(out GroundTruthSample truth)
    {
        lock (_gate)
        {
            truth = new GroundTruthSample { State = Sample(noisy: false), CommandEffectiveNs = _commandEffectiveNs };
        }
        return true;
    }

    /// <summary>Integrates whole physics steps up to <paramref name="timeNs"/> with the newest command, then publishes a sample stamped with the simulated time.</summary>
    public void AdvanceTo(long timeNs)
    {
        lock (_gate)
        {
            bool stepped = false;
            while (_timeNs + _stepNs <= timeNs)
            {
                _batch.CommandRpm[0][0] = _commandRpm.X; _batch.CommandRpm[1][0] = _commandRpm.Y;
                _batch.CommandRpm[2][0] = _commandRpm.Z; _batch.CommandRpm[3][0] = _commandRpm.W;
                float fallSpeed = -_batch.Vz[0];
                _batch.Integrate(_stepS, 1);
                if (_batch.Crashed[0] != 0) RestOnTheFloor(fallSpeed);
                _timeNs += _stepNs;
                stepped = true;
            }
            if (stepped) Publish();
        }
    }

    /// <summary>
    /// The floor holds the vehicle up: the kernel stops it at z = 0 (for training, an episode-ending crash); here it
    /// then stands on its legs, level at its heading and not turning, until the rotors lift it.
    /// </summary>
    private void RestOnTheFloor(float fallSpeed)
    {
        _touchedFloor = true;
        _hardestTouchdown = MathF.Max(_hardestTouchdown, fallSpeed);
        Quaternion q = _batch.Orientation(0);
        float yaw = MathF.Atan2(2 * (q.W * q.Z + q.X * q.Y), 1 - 2 * (q.Y * q.Y + q.Z * q.Z));
        _batch.SetPose(0, _batch.Position(0), Quaternion.CreateFromAxisAngle(Vector3.UnitZ, yaw));
        _batch.SetVelocities(0, Vector3.Zero, Vector3.Zero);
        _batch.Crashed[0] = 0;
    }

    /// <summary>Runs physics in real time on its own thread (simulated time follows <see cref="NodeClock"/>).</summary>
    public void Start()
    {
        if (_thread is not null) throw new InvalidOperationException("already running");
        lock (_gate)
        {
            _timeNs = NodeClock.NowNs;
            _commandEffectiveNs = _timeNs;
            Publish();
        }
        _running = true;
        // Sleeps ~1 ms and catches up in whole physics steps: exact physics, coarse pacing, no spinning core. The robot's
        // side runs at real-time priority where permitted, below the node's tick (as the fault rig's simulated robots):
        // at normal priority, a 2-core machine whose other real-time threads (tick, serial reader, an emulated MCU) kept
        // both cores busy once left it unscheduled for over 100 ms, and the node fell back on a stale sensor.
        _thread = new Thread(() =>
        {
            RealTimeScheduling.TryEnterFifo(RealTimeScheduling.TransportPriority);
            while (_running)
            {
                AdvanceTo(NodeClock.NowNs);
                Thread.Sleep(1);
            }
        })
        { IsBackground = true, Name = "roborl-sim-robot" };
        _thread.Start();
    }

    public void Stop()
    {
        _running = false;
        _thread?.Join();
        _thread = null;
    }

    public void Dispose() => Stop();

    private void Publish()
    {
        if (_dropout) return;
        RobotStateSample s = Sample(noisy: true);
        if (_injectNaN) { s.Position = new Vector3(float.NaN); _injectNaN = false; }
        s.Sequence = ++_sequence;
        _latest = s;
        _hasSample = true;
    }

    private RobotStateSample Sample(bool noisy)
    {
        var s = new RobotStateSample
        {
            TimestampNs = _timeNs,
            Sequence = _sequence,
            Position = _batch.Position(0),
            Orientation = _batch.Orientation(0),
            VelocityWorld = _batch.Velocity(0),
            AngularVelocityBody = _batch.AngularVelocity(0),
            RotorRpm = _batch.RotorRpm(0),
        };
        if (!noisy) return s;
        Vector4 std = _options.NoiseStd;
        if (std.X > 0) s.Position += std.X * Gaussian3();
        if (std.Y > 0)
        {
            // A small rotation about a random axis: δq ≈ (½·θ, 1) for the rotation vector θ (body frame).
            Vector3 half = 0.5f * std.Y * Gaussian3();
            s.Orientation = Quaternion.Normalize(s.Orientation * new Quaternion(half, 1));
        }
        if (std.Z > 0) s.VelocityWorld += std.Z * Gaussian3();
        if (std.W > 0) s.AngularVelocityBody += std.W * Gaussian3();
        return s;
    }

    private Vector3 Gaussian3() => new(Gaussian(), Gaussian(), Gaussian());

    // Box–Muller: two uniforms → one standard normal (the second is dropped; noise is cheap here).
    private float Gaussian()
    {
        double u1 = 1.0 - _random.NextDouble(), u2 = _random.NextDouble();
        return (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
    }
}
