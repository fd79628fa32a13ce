using System.Numerics;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Robots;
using RoboRl.Node;
using RoboRl.Sims.Quadrotor;

namespace RoboRl.Replay.Tests;

/// <summary>How a <see cref="RealisticPlant"/> differs from the model `roborl sysid` fits.</summary>
public sealed record PlantDifferences
{
    /// <summary>Commands reach the motors this many control ticks late (the radio link and the firmware's queue).</summary>
    public int LatencyTicks { get; init; }
    /// <summary>
    /// Null: the firmware's force mode with battery compensation (the model: force = (a + 1)/2 · THRUST_MAX). Else the
    /// compensation is off and the fraction f = (a + 1)/2 is a PWM duty cycle: a motor makes fit(f · V) (the propellers'
    /// VMOTOR2THRUST fit, ActuatorModel.ThrustAtVoltage) at battery voltage V, falling linearly from the first to the
    /// second value over <see cref="DrainS"/>.
    /// </summary>
    public (float Start, float End)? UncompensatedBatteryV { get; init; }
    public double DrainS { get; init; } = 20;
    /// <summary>Linear aerodynamic drag F = −k ⊙ v (world frame, N per m/s), applied every physics step.</summary>
    public Vector3 DragNPerMS { get; init; }
    /// <summary>False: the state carries no rotor speeds (NaN), as a real Crazyflie's.</summary>
    public bool ReportsRotorSpeeds { get; init; }

    /// <summary>
    /// Rotor drag of the Crazyflie 2.0 at hover, from Förster, "System Identification of the Crazyflie 2.0 Nano
    /// Quadrocopter" (ETH Zürich, 2015): K_aero = −diag(9.1785, 9.1785, 10.311)·10⁻⁷ N·s/m per rad/s of the summed rotor
    /// speeds; at the 2.1+ propellers' hover (4 × ~1520 rad/s) that is ≈ (5.6, 5.6, 6.3)·10⁻³ N per m/s.
    /// </summary>
    public static Vector3 CrazyflieDrag => new(5.6e-3f, 5.6e-3f, 6.3e-3f);
}

/// <summary>
/// A test-side plant that differs from the model `roborl sysid` fits the way a real Crazyflie does: the simulated
/// quadrotor (<see cref="SimulatedQuadrotor"/>, whose plant config sets mass, thrust coefficient and motor lag; sensor
/// noise from its options) wrapped with action latency, a thrust curve that is not the model's, linear drag and no
/// rotor-speed reports (<see cref="PlantDifferences"/>). The node flies it as its sensor and actuator, in lock-step.
/// </summary>
public sealed class RealisticPlant : ISensorSource, IActuatorSink
{
    private readonly SimulatedQuadrotor _sim;
    private readonly PlantDifferences _differences;
    private readonly QuadrotorConfig _commandRobot;
    private readonly ActuatorCommand[] _delay;
    private long _sent;
    private readonly long _startNs;

    /// <param name="commandRobot">The robot the node believes it flies: its actuator turns actions into forces, its
    /// thrust polynomial forces into rotor speeds (the plant's own polynomial then makes its thrust from them).</param>
    public RealisticPlant(SimulatedQuadrotor sim, QuadrotorConfig commandRobot, PlantDifferences differences, long startNs = 0)
    {
        _sim = sim;
        _differences = differences;
        _commandRobot = commandRobot;
        _delay = new ActuatorCommand[differences.LatencyTicks + 1];
        _startNs = startNs;
    }

    public SimulatedQuadrotor Sim => _sim;

    public bool TryGetLatest(out RobotStateSample sample)
    {
        bool has = _sim.TryGetLatest(out sample);
        if (!_differences.ReportsRotorSpeeds) sample.RotorRpm = new Vector4(float.NaN);
        return has;
    }

    public void Send(in ActuatorCommand command)
    {
        _delay[_sent++ % _delay.Length] = command;
        if (_sent <= _differences.LatencyTicks) return; // nothing has come through yet: the motors keep their start command
        ActuatorCommand late = _delay[(_sent - 1 - _differences.LatencyTicks) % _delay.Length];
        if (_differences.UncompensatedBatteryV is var (start, end))
        {
            float fraction = (float)Math.Clamp((command.TimestampNs - _startNs) * 1e-9 / _differences.DrainS, 0, 1);
            float volts = start + (end - start) * fraction;
            ActuatorModel actuator = _commandRobot.Actuator;
            Vector4 a = late.Action.AsVector4();
            Vector4 Force(Vector4 x) => new(Thrust(x.X), Thrust(x.Y), Thrust(x.Z), Thrust(x.W));
            float Thrust(float action) => actuator.ThrustAtVoltage(ActuatorModel.NormalizedForce(action) * volts);
            late.ThrustN = Force(a); // action −1 (motors off) gives fit(0) = 0
        }
        late.RotorRpm = new Vector4(_commandRobot.RpmForThrust(late.ThrustN[0]), _commandRobot.RpmForThrust(late.ThrustN[1]),
            _commandRobot.RpmForThrust(late.ThrustN[2]), _commandRobot.RpmForThrust(late.ThrustN[3]));
        _sim.Send(in late);
    }

    /// <summary>Physics up to <paramref name="timeNs"/>, one step at a time so that the drag follows the velocity.</summary>
    public void AdvanceTo(long timeNs)
    {
        long step = _sim.PhysicsStepNs;
        while (_sim.TimeNs + step <= timeNs)
        {
            Vector3 v = _sim.TrueState.VelocityWorld;
            _sim.SetDisturbance(-_differences.DragNPerMS * v, Vector3.Zero);
            _sim.AdvanceTo(_sim.TimeNs + step);
        }
    }
}

/// <summary>
/// A scripted pilot flying through the node's teleop take-over (the node applies and records its commands as a
/// human's): the node's own hover controller (<see cref="QuadrotorFallbackController"/>, on the measured state) tracks a
/// reference that climbs, descends and moves sideways (<see cref="Reference"/>), plus a multi-sine on each motor and a
/// random jump per tick — the identification flight a user flies, and commands as unbalanced from tick to tick as a
/// trained policy's at 500 Hz. Call <see cref="Update"/> with the newest state before each tick.
/// </summary>
public sealed class ScriptedPilot : ITeleopSource
{
    private readonly QuadrotorFallbackController _controller;
    private readonly Vector3 _hold;
    private readonly float[] _action = new float[4];
    private readonly Random _random;
    private readonly double _manoeuvre, _multiSine, _dither;
    private TeleopSample _latest;
    private bool _engaged;
    private readonly Func<Vector4>? _rotorRpm;

    /// <param name="manoeuvre">Scale of the reference's excursions (1: ±0.3 m sideways, ±0.25 m up and down; 0: hold).</param>
    /// <param name="multiSine">Amplitude of the multi-sine on each motor's action.</param>
    /// <param name="dither">Amplitude of a uniform random jump per tick on each motor's action.</param>
    /// <param name="rotorRpm">Where the pilot's controller reads rotor speeds when the state has none: its attitude loop
    /// is tuned with motor-lag compensation (as a Crazyflie's on-board controller knows its motors), and without it the
    /// multi-sine drives it unstable.</param>
    public ScriptedPilot(QuadrotorConfig robot, Vector3 hold, double manoeuvre = 1, double multiSine = 0.05, double dither = 0, int seed = 1,
        Func<Vector4>? rotorRpm = null)
    {
        _rotorRpm = rotorRpm;
        _controller = new QuadrotorFallbackController(robot, new FallbackConfig { HoldS = 1e6f, LandingSpeedMS = 0.3f, LandedHeightM = 0.03f });
        _hold = hold;
        _manoeuvre = manoeuvre;
        _multiSine = multiSine;
        _dither = dither;
        _random = new Random(seed);
    }

    /// <summary>
    /// The reference at <paramref name="t"/> seconds, position and velocity: the hold point for the first second (the
    /// controller's integral settles on the plant's weight), then sines whose amplitude ramps in over two seconds.
    /// </summary>
    public (Vector3 Position, Vector3 Velocity) Reference(double t)
    {
        double ramp = Math.Clamp((t - 1) / 2, 0, 1), rampRate = t is > 1 and < 3 ? 0.5 : 0;
        double wx = 2 * Math.PI / 4, wy = 2 * Math.PI / 5, wz = 2 * Math.PI / 3;
        Vector3 shape = new((float)(0.3 * Math.Sin(wx * t)), (float)(0.3 * Math.Sin(wy * t)), (float)(0.25 * Math.Sin(wz * t)));
        Vector3 slope = new((float)(0.3 * wx * Math.Cos(wx * t)), (float)(0.3 * wy * Math.Cos(wy * t)), (float)(0.25 * wz * Math.Cos(wz * t)));
        float k = (float)(_manoeuvre * ramp), dk = (float)(_manoeuvre * rampRate);
        return (_hold + k * shape, dk * shape + k * slope);
    }

    public void Update(in RobotStateSample state, long nowNs)
    {
        double t = nowNs * 1e-9;
        if (!_engaged) { _controller.EngageAt(in state, _hold, nowNs); _engaged = true; }
        // The hold controller holds one point: show it the state relative to the moving reference instead.
        var (p, v) = Reference(t);
        RobotStateSample relative = state;
        if (_rotorRpm is not null && !float.IsFinite(state.RotorRpm.X)) relative.RotorRpm = _rotorRpm();
        relative.Position = state.Position - (p - _hold);
        relative.VelocityWorld = state.VelocityWorld - v;
        _controller.Compute(in relative, nowNs, _action);
        double[] frequencies = [1.3, 2.1, 3.7, 5.3];
        for (int m = 0; m < 4; m++)
            _action[m] = Math.Clamp(_action[m] + (float)(_multiSine * Math.Sin(2 * Math.PI * frequencies[m] * t) + _dither * (2 * _random.NextDouble() - 1)), -1f, 1f);
        _latest = new TeleopSample { TimestampNs = nowNs, Kind = TeleopKind.TakeOver, Action = new Vector4(_action[0], _action[1], _action[2], _action[3]) };
    }

    public bool TryGetLatest(out TeleopSample sample)
    {
        sample = _latest;
        return _engaged;
    }
}
