using System.Numerics;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Robots;

namespace RoboRl.Node;

/// <summary>Where a fallback controller is in its sequence.</summary>
public enum FallbackPhase : byte
{
    /// <summary>Not engaged.</summary>
    Inactive = 0,
    /// <summary>Holding the point where it engaged (flyers: hover; ground robots: stopped).</summary>
    Hold = 1,
    /// <summary>Descending to the floor (flyers only).</summary>
    Landing = 2,
    /// <summary>Done: actuators off.</summary>
    Disarmed = 3,
    /// <summary>Climbing to a target (flyers: take-off before the policy flies).</summary>
    TakingOff = 4,
}

/// <summary>
/// What the node switches to, in the same tick, when the safety supervisor trips (DESIGN.md invariant 5): a
/// controller from the measured state to actuator commands that needs nothing from the policy. Flyers hover where
/// they are, land after a hold and disarm; ground robots stop (a later issue adds the differential-drive one).
/// Implementations allocate nothing in <see cref="Compute"/>.
/// </summary>
public interface IFallbackController
{
    FallbackPhase Phase { get; }

    /// <summary>Takes over from <paramref name="state"/>; with <paramref name="landNow"/> it skips the hold (a Land command).</summary>
    void Engage(in RobotStateSample state, long nowNs, bool landNow);

    /// <summary>The normalised action (one value per actuator, [-1, 1]) for this tick; advances the phase.</summary>
    void Compute(in RobotStateSample state, long nowNs, Span<float> action);

    /// <summary>Back to <see cref="FallbackPhase.Inactive"/> (on re-arming).</summary>
    void Reset();

    /// <summary>Flies from <paramref name="state"/> (on the floor, say) to <paramref name="target"/>, the reference moving at
    /// <paramref name="speedMS"/>, and holds it there (<see cref="FallbackPhase.TakingOff"/> until <see cref="Engage"/> or <see cref="Reset"/>).</summary>
    void EngageTakeoff(in RobotStateSample state, Vector3 target, float speedMS, long nowNs);
}

/// <summary>
/// Cascaded position → attitude controller for a quadrotor, from the measured state to rotor speeds: a PID on
/// position gives the wanted force, whose direction is the wanted body z axis and whose projection on the current
/// body z the collective thrust; a geometric attitude controller on SO(3) (Lee, Leok, McClamroch, "Geometric tracking
/// control of a quadrotor UAV on SE(3)", CDC 2010: e_R = ½·vee(R_dᵀR − RᵀR_d), τ = J(−k_R e_R − k_ω ω) + ω×Jω) gives
/// the torques; the robot's own rotor layout (inverted once) mixes thrust and torques into rotor thrusts, and the
/// thrust polynomial turns them into rpm. Gains are per unit mass/inertia, so they carry over to other airframes;
/// they are kept low enough for the Crazyflie's slow motors (τ = 0.15 s in configs/robots/crazyflie21.json:
/// the attitude loop s²·(τs + 1) + k_ω s + k_R is stable for k_ω > τ·k_R).
/// </summary>
public sealed class QuadrotorFallbackController : IFallbackController
{
    // Position loop (per unit mass): natural frequency ~1.2 rad/s horizontally, ~1.8 rad/s vertically, damped.
    private const float KpXy = 2.0f, KdXy = 2.4f, KiXy = 0.3f;
    private const float KpZ = 4.0f, KdZ = 3.2f, KiZ = 3.0f;
    private const float IntegralLimit = 1.0f;      // metres·seconds per axis (k_i·limit = 3 m/s² vertically: a 30 % heavier robot)
    private const float MaxHorizontalAccel = 4f;   // m/s² (≈ 22° of tilt)
    // Attitude loop (per unit inertia): k_ω = 9 > τ·k_R = 0.15·30 = 4.5.
    private const float KR = 80f, KOmega = 16f;

    private readonly QuadrotorConfig _robot;
    private readonly FallbackConfig _config;
    private readonly Geofence? _fence;
    private readonly float _margin;
    private readonly float[] _mixInverse = new float[16]; // rotor thrusts = M⁻¹ · [thrust, τx, τy, τz], row-major
    private readonly float _maxRotorThrust, _lagGain;
    private readonly long _staleNs;
    private long _blindSinceNs = -1;
    /// <summary>Share of the weight the rotors carry in a blind descent: 0.95 g down-acceleration ≈ 0.5 m/s², ~1 m/s after 1 m.</summary>
    public const float BlindThrustFraction = 0.95f;
    private const float LagTarget = 0.05f; // s

    private Vector3 _holdPoint, _integral;
    private bool _holdPointPending, _braking;
    private const float BrakeSpeed = 0.3f; // m/s
    private float _holdYaw;
    private long _engagedNs, _landingStartNs, _lastNs;
    private float _landingStartZ;
    private Vector3 _takeoffStart, _takeoffTarget;
    private float _takeoffSpeed;

    /// <param name="fence">When given, the hold point is kept inside it, <paramref name="margin"/> metres from its walls
    /// (a robot that braked outside the geofence flies back in before landing).</param>
    /// <param name="sensorTimeoutS">A sample older than this is stale: with no state to close the loop on, the
    /// controller descends blind (level, equal rotors at <see cref="BlindThrustFraction"/> of the weight) and disarms
    /// once it must have reached the floor from the last known height; a fresh sample resumes the normal sequence.</param>
    public QuadrotorFallbackController(QuadrotorConfig robot, FallbackConfig config, Geofence? fence = null, float margin = 0,
        float sensorTimeoutS = float.PositiveInfinity)
    {
        _staleNs = float.IsFinite(sensorTimeoutS) ? (long)(sensorTimeoutS * 1e9) : long.MaxValue;
        _robot = robot;
        _config = config;
        _fence = fence;
        _margin = margin;
        _maxRotorThrust = robot.Actuator.MaxThrustN; // what a full command gives (the firmware's THRUST_MAX), not what the rotors could
        _lagGain = MathF.Max(robot.MotorTimeConstant / LagTarget - 1f, 0f);
        // Allocation matrix: [T, τx, τy, τz]ᵀ = M · f, rotor i at (x, y) with thrust f along body z gives
        // torque r × (0, 0, f) = (y·f, −x·f, 0) and a yaw reaction sign·k·f.
        var m = new double[4, 4];
        for (int i = 0; i < 4; i++)
        {
            RotorConfig r = robot.Rotors[i];
            m[0, i] = 1; m[1, i] = r.Position.Y; m[2, i] = -r.Position.X; m[3, i] = r.YawTorqueSign * robot.YawTorquePerThrust;
        }
        double[,] inverse = Invert4(m);
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 4; c++) _mixInverse[r * 4 + c] = (float)inverse[r, c];
    }

    public FallbackPhase Phase { get; private set; }

    /// <summary>The point being held (or landed on), world ENU.</summary>
    public Vector3 HoldPoint => _holdPoint;

    public void Engage(in RobotStateSample state, long nowNs, bool landNow)
    {
        // Hold where it is; a non-finite sample (the violation itself may be NaN) leaves the point to the next finite one.
        _holdPointPending = !(Finite(state.Position) && Finite(state.Orientation));
        if (!_holdPointPending) { _holdPoint = state.Position; _holdYaw = YawOf(state.Orientation); }
        _integral = Vector3.Zero;
        _braking = true;
        _blindSinceNs = -1;
        _engagedNs = nowNs;
        _lastNs = nowNs;
        Phase = FallbackPhase.Hold;
        if (landNow || _config.HoldS == 0) StartLanding(nowNs);
    }

    /// <summary>
    /// Takes over holding <paramref name="point"/> (no braking phase; landing only after hold_s): the controller as a
    /// scripted pilot flying the robot back to its setpoint (<see cref="ScriptedCorrector"/>).
    /// </summary>
    public void EngageAt(in RobotStateSample state, Vector3 point, long nowNs)
    {
        Engage(in state, nowNs, landNow: false);
        _holdPoint = _fence is { } fence ? fence.Clamp(point, _margin) : point;
        _holdPointPending = false;
        _braking = false;
    }

    public void Reset()
    {
        Phase = FallbackPhase.Inactive;
        _blindSinceNs = -1;
    }

    public void EngageTakeoff(in RobotStateSample state, Vector3 target, float speedMS, long nowNs)
    {
        Engage(in state, nowNs, landNow: false);
        _braking = false;
        _takeoffStart = state.Position with { Z = MathF.Max(state.Position.Z, 0) };
        _takeoffTarget = _fence is { } fence ? fence.Clamp(target, _margin) : target;
        _takeoffSpeed = speedMS;
        Phase = FallbackPhase.TakingOff;
    }

    public void Compute(in RobotStateSample state, long nowNs, Span<float> action)
    {
        float dt = Math.Clamp((nowNs - _lastNs) * 1e-9f, 0f, 0.05f);
        _lastNs = nowNs;
        if (Phase == FallbackPhase.Hold && (nowNs - _engagedNs) * 1e-9 >= _config.HoldS) StartLanding(nowNs);

        Vector3 p = state.Position, v = state.VelocityWorld, w = state.AngularVelocityBody;
        Quaternion q = state.Orientation;

        // No fresh state: descend blind, then disarm when the floor must have been reached (z = ½·a·t² from the last height).
        if (Phase != FallbackPhase.Disarmed && nowNs - state.TimestampNs > _staleNs)
        {
            if (_blindSinceNs < 0) _blindSinceNs = nowNs;
            float lastZ = float.IsFinite(p.Z) ? MathF.Max(p.Z, 0) : 2f;
            float down = (1 - BlindThrustFraction) * _robot.Gravity;
            float blindS = (nowNs - _blindSinceNs) * 1e-9f;
            if (blindS > MathF.Sqrt(2 * lastZ / down) + 1f) Phase = FallbackPhase.Disarmed;
            else
            {
                float rpm = RpmForThrust(BlindThrustFraction * _robot.Mass * _robot.Gravity / QuadrotorConfig.RotorCount);
                action[..4].Fill(Math.Clamp(_robot.ActionFromRpm(rpm), -1f, 1f));
                return;
            }
        }
        else if (_blindSinceNs >= 0)
        {
            // Sight regained: hold where the robot is now (after the blind descent), starting over.
            _blindSinceNs = -1;
            _holdPointPending = true;
            _integral = Vector3.Zero;
        }
        bool landed = Phase == FallbackPhase.Landing && p.Z <= _config.LandedHeightM && MathF.Abs(v.Z) < 0.5f;
        if (Phase == FallbackPhase.Disarmed || landed || !Finite(p) || !Finite(v) || !Finite(w) || !Finite(q))
        {
            // Landed (or no usable state at all): motors off.
            if (landed) Phase = FallbackPhase.Disarmed;
            if (Phase == FallbackPhase.Disarmed) { action[..4].Fill(-1f); return; }
            // A non-finite sample while flying: keep the hover thrust, level (the next finite sample takes over).
            action[..4].Fill(_robot.HoverAction());
            return;
        }

        // Brake first: while faster than BrakeSpeed the reference is "stop" (no position term, which would pull the
        // robot back to where it tripped at full tilt); the hold point is where it comes to rest.
        if (!_holdPointPending && Phase == FallbackPhase.Hold && _braking)
        {
            if (v.Length() > BrakeSpeed) _holdPoint = p with { Z = _holdPoint.Z };
            else
            {
                _braking = false;
                if (_fence is { } fence) _holdPoint = fence.Clamp(_holdPoint, _margin);
            }
        }
        if (_holdPointPending)
        {
            _holdPoint = _fence is { } fence ? fence.Clamp(p, _margin) : p;
            _holdYaw = YawOf(q);
            _landingStartZ = p.Z;
            _holdPointPending = false;
        }

        // 1. Reference: the hold point, the take-off climb to the target, or the landing descent from the hold point.
        Vector3 reference = _holdPoint, referenceVelocity = Vector3.Zero;
        if (Phase == FallbackPhase.TakingOff)
        {
            Vector3 path = _takeoffTarget - _takeoffStart;
            float length = path.Length(), travelled = _takeoffSpeed * (nowNs - _engagedNs) * 1e-9f;
            if (travelled < length)
            {
                reference = _takeoffStart + path * (travelled / length);
                referenceVelocity = path * (_takeoffSpeed / length);
            }
            else reference = _takeoffTarget;
        }
        else if (Phase == FallbackPhase.Landing)
        {
            float z = _landingStartZ - _config.LandingSpeedMS * (nowNs - _landingStartNs) * 1e-9f;
            // Aim slightly below the floor so that the last centimetres do not hang on the integral.
            reference.Z = MathF.Max(z, -0.1f);
            referenceVelocity.Z = z > -0.1f ? -_config.LandingSpeedMS : 0;
        }

        // 2. Position PID → wanted acceleration → wanted force (world).
        Vector3 e = p - reference, ev = v - referenceVelocity;
        _integral = Vector3.Clamp(_integral + e * dt, new Vector3(-IntegralLimit), new Vector3(IntegralLimit));
        var accel = new Vector3(
            -KpXy * e.X - KdXy * ev.X - KiXy * _integral.X,
            -KpXy * e.Y - KdXy * ev.Y - KiXy * _integral.Y,
            -KpZ * e.Z - KdZ * ev.Z - KiZ * _integral.Z);
        float horizontal = MathF.Sqrt(accel.X * accel.X + accel.Y * accel.Y);
        if (horizontal > MaxHorizontalAccel) { accel.X *= MaxHorizontalAccel / horizontal; accel.Y *= MaxHorizontalAccel / horizontal; }
        accel.Z = Math.Clamp(accel.Z, -0.6f * _robot.Gravity, 0.8f * _robot.Gravity);
        Vector3 force = _robot.Mass * (accel + new Vector3(0, 0, _robot.Gravity));

        // 3. Current attitude R (body → world), columns = body axes in world.
        float qw = q.W, qx = q.X, qy = q.Y, qz = q.Z;
        float n = MathF.Sqrt(qw * qw + qx * qx + qy * qy + qz * qz);
        qw /= n; qx /= n; qy /= n; qz /= n;
        var r0 = new Vector3(1 - 2 * (qy * qy + qz * qz), 2 * (qx * qy + qw * qz), 2 * (qx * qz - qw * qy));
        var r1 = new Vector3(2 * (qx * qy - qw * qz), 1 - 2 * (qx * qx + qz * qz), 2 * (qy * qz + qw * qx));
        var r2 = new Vector3(2 * (qx * qz + qw * qy), 2 * (qy * qz - qw * qx), 1 - 2 * (qx * qx + qy * qy));

        // 4. Collective thrust = wanted force along the current body z; wanted attitude from the force direction and the held yaw.
        float thrust = MathF.Max(Vector3.Dot(force, r2), 0f);
        Vector3 zd = Vector3.Normalize(force);
        var heading = new Vector3(MathF.Cos(_holdYaw), MathF.Sin(_holdYaw), 0);
        Vector3 yd = Vector3.Normalize(Vector3.Cross(zd, heading));
        Vector3 xd = Vector3.Cross(yd, zd);

        // 5. e_R = ½·vee(R_dᵀR − RᵀR_d): with columns, (R_dᵀR)_ij = d_i·r_j.
        float a01 = Vector3.Dot(xd, r1), a10 = Vector3.Dot(yd, r0);
        float a02 = Vector3.Dot(xd, r2), a20 = Vector3.Dot(zd, r0);
        float a12 = Vector3.Dot(yd, r2), a21 = Vector3.Dot(zd, r1);
        var eR = 0.5f * new Vector3(a21 - a12, a02 - a20, a10 - a01);
        Vector3 inertia = _robot.InertiaDiagonal;
        Vector3 torque = inertia * (-KR * eR - KOmega * w) + Vector3.Cross(w, inertia * w);

        // 6. Mix into rotor thrusts → rpm → normalised action.
        for (int i = 0; i < 4; i++)
        {
            float f = _mixInverse[i * 4] * thrust + _mixInverse[i * 4 + 1] * torque.X
                      + _mixInverse[i * 4 + 2] * torque.Y + _mixInverse[i * 4 + 3] * torque.Z;
            f = Math.Clamp(f, 0f, _maxRotorThrust);
            float rpm = RpmForThrust(f);
            // Motor-lag compensation where the robot reports rotor speeds: command past the wanted speed in proportion
            // to the gap, so the motor reaches it with time constant LagTarget instead of τ (saturates at the limits).
            float measured = i == 0 ? state.RotorRpm.X : i == 1 ? state.RotorRpm.Y : i == 2 ? state.RotorRpm.Z : state.RotorRpm.W;
            if (float.IsFinite(measured)) rpm += _lagGain * (rpm - measured);
            action[i] = Math.Clamp(_robot.ActionFromRpm(Math.Clamp(rpm, _robot.RpmMin, _robot.RpmMax)), -1f, 1f);
        }
    }

    private void StartLanding(long nowNs)
    {
        Phase = FallbackPhase.Landing;
        _landingStartNs = nowNs;
        _landingStartZ = _holdPoint.Z;
    }

    private float RpmForThrust(float f) => _robot.RpmForThrust(f);

    private static float YawOf(Quaternion q) => MathF.Atan2(2 * (q.W * q.Z + q.X * q.Y), 1 - 2 * (q.Y * q.Y + q.Z * q.Z));
    private static bool Finite(Vector3 v) => float.IsFinite(v.X) && float.IsFinite(v.Y) && float.IsFinite(v.Z);
    private static bool Finite(Quaternion q) => float.IsFinite(q.X) && float.IsFinite(q.Y) && float.IsFinite(q.Z) && float.IsFinite(q.W) && q.LengthSquared() > 0.25f;

    private static double[,] Invert4(double[,] a)
    {
        // Gauss–Jordan with partial pivoting on [A | I].
        var m = new double[4, 8];
        for (int r = 0; r < 4; r++) { for (int c = 0; c < 4; c++) m[r, c] = a[r, c]; m[r, 4 + r] = 1; }
        for (int col = 0; col < 4; col++)
        {
            int pivot = col;
            for (int r = col + 1; r < 4; r++) if (Math.Abs(m[r, col]) > Math.Abs(m[pivot, col])) pivot = r;
            if (Math.Abs(m[pivot, col]) < 1e-12) throw new ArgumentException("the rotor layout cannot produce independent thrust, roll, pitch and yaw");
            for (int c = 0; c < 8; c++) (m[col, c], m[pivot, c]) = (m[pivot, c], m[col, c]);
            double d = m[col, col];
            for (int c = 0; c < 8; c++) m[col, c] /= d;
            for (int r = 0; r < 4; r++)
            {
                if (r == col) continue;
                double factor = m[r, col];
                for (int c = 0; c < 8; c++) m[r, c] -= factor * m[col, c];
            }
        }
        var result = new double[4, 4];
        for (int r = 0; r < 4; r++) for (int c = 0; c < 4; c++) result[r, c] = m[r, 4 + c];
        return result;
    }
}

/// <summary>The ground-robot fallback: stop (zero velocity command) and disarm. A hook for the differential-drive robot of a later issue.</summary>
public sealed class StopFallbackController : IFallbackController
{
    public FallbackPhase Phase { get; private set; }
    public void Engage(in RobotStateSample state, long nowNs, bool landNow) => Phase = FallbackPhase.Disarmed;
    public void Compute(in RobotStateSample state, long nowNs, Span<float> action) => action.Clear();
    public void Reset() => Phase = FallbackPhase.Inactive;
    public void EngageTakeoff(in RobotStateSample state, Vector3 target, float speedMS, long nowNs) => Phase = FallbackPhase.Disarmed;
}
