using System.Numerics;
using System.Runtime.CompilerServices;
using RoboRl.Core.Robots;

namespace RoboRl.Node;

/// <summary>
/// The safety supervisor: checks every tick, in this order, the sensor's age, the geofence box, tilt, angular rate,
/// NaN/Inf in the observation and in the policy's action, a policy action outside [-1, 1], and the overrun streak. The first violation found is
/// returned; the node switches to the fallback controller in the same tick. Allocation-free.
/// </summary>
public sealed class SafetySupervisor
{
    private readonly Geofence _fence;
    private readonly SafetyLimits _limits;
    private readonly float _minTiltCos;
    private readonly long _sensorTimeoutNs;
    private int _overrunStreak;

    public SafetySupervisor(Geofence fence, SafetyLimits limits)
    {
        _fence = fence;
        _limits = limits;
        _minTiltCos = MathF.Cos(limits.MaxTiltDeg * MathF.PI / 180f);
        _sensorTimeoutNs = (long)(limits.SensorTimeoutS * 1e9);
    }

    public Geofence Geofence => _fence;

    private bool OnTheFloor(Vector3 p) =>
        p.Z < _fence.Min.Z && p.Z >= _fence.Min.Z - FloorToleranceM && _fence.Contains(p with { Z = _fence.Min.Z });
    public SafetyLimits Limits => _limits;

    /// <summary>Overrun ticks in a row so far.</summary>
    public int OverrunStreak => _overrunStreak;

    /// <summary>Counts an overrun (or clears the streak); call once per tick before <see cref="Check"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void NoteTick(bool overrun) => _overrunStreak = overrun ? _overrunStreak + 1 : 0;

    /// <summary>Checks the state the tick acts on (the sample is stale when older than the timeout at <paramref name="nowNs"/>).</summary>
    /// <summary>
    /// How far below the geofence's floor (min z) a position may read without a violation, metres: a robot standing on
    /// the floor reads a few millimetres below it through sensor noise, and it cannot leave the fence through the floor.
    /// </summary>
    public const float FloorToleranceM = 0.05f;

    public SafetyViolation CheckState(bool hasSample, in RobotStateSample s, long nowNs)
    {
        if (!hasSample) return new SafetyViolation(SafetyTrigger.StaleSensor, float.PositiveInfinity, _limits.SensorTimeoutS * 1000f);
        long age = nowNs - s.TimestampNs;
        if (age > _sensorTimeoutNs) return new SafetyViolation(SafetyTrigger.StaleSensor, age * 1e-6f, _limits.SensorTimeoutS * 1000f);

        Vector3 p = s.Position;
        // NaN in the state shows up as a non-finite observation (checked below), not as a geofence breach.
        if (float.IsFinite(p.X) && float.IsFinite(p.Y) && float.IsFinite(p.Z) && !_fence.Contains(p) && !OnTheFloor(p))
        {
            for (int axis = 0; axis < 3; axis++)
            {
                float v = axis == 0 ? p.X : axis == 1 ? p.Y : p.Z;
                float lo = axis == 0 ? _fence.Min.X : axis == 1 ? _fence.Min.Y : _fence.Min.Z;
                float hi = axis == 0 ? _fence.Max.X : axis == 1 ? _fence.Max.Y : _fence.Max.Z;
                if (v < lo) return new SafetyViolation(SafetyTrigger.Geofence, v, lo, axis);
                if (v > hi) return new SafetyViolation(SafetyTrigger.Geofence, v, hi, axis);
            }
        }

        // cos(tilt) = R22 = 1 − 2(x² + y²) for a unit quaternion.
        Quaternion q = s.Orientation;
        float n2 = q.LengthSquared();
        if (n2 > 0)
        {
            float cosTilt = 1 - 2 * (q.X * q.X + q.Y * q.Y) / n2;
            if (cosTilt < _minTiltCos)
                return new SafetyViolation(SafetyTrigger.Tilt, MathF.Acos(Math.Clamp(cosTilt, -1f, 1f)) * 180f / MathF.PI, _limits.MaxTiltDeg);
        }
        float rate = s.AngularVelocityBody.Length();
        if (rate > _limits.MaxAngularRateRadS) return new SafetyViolation(SafetyTrigger.AngularRate, rate, _limits.MaxAngularRateRadS);
        return default;
    }

    /// <summary>
    /// A policy action beyond this magnitude trips the supervisor. A trained actor ends in tanh and stays inside [-1, 1];
    /// a value outside (a network exported without its squashing, corrupted weights) is not clamped and trusted: the
    /// network is broken, so the fallback takes over. The small margin absorbs float rounding of a saturated tanh.
    /// </summary>
    public const float MaxActionMagnitude = 1.001f;

    /// <summary>NaN/Inf anywhere in the observation or the action; an action outside [-1, 1]; the overrun streak.</summary>
    public SafetyViolation CheckNumbers(ReadOnlySpan<float> observation, ReadOnlySpan<float> action)
    {
        int bad = FirstNonFinite(observation);
        if (bad >= 0) return new SafetyViolation(SafetyTrigger.NonFiniteObservation, observation[bad], 0, bad);
        bad = FirstNonFinite(action);
        if (bad >= 0) return new SafetyViolation(SafetyTrigger.NonFiniteAction, action[bad], 0, bad);
        for (int i = 0; i < action.Length; i++)
            if (MathF.Abs(action[i]) > MaxActionMagnitude) return new SafetyViolation(SafetyTrigger.ActionOutOfRange, action[i], 1f, i);
        if (_overrunStreak >= _limits.OverrunStreak) return new SafetyViolation(SafetyTrigger.OverrunStreak, _overrunStreak, _limits.OverrunStreak);
        return default;
    }

    private static int FirstNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++) if (!float.IsFinite(values[i])) return i;
        return -1;
    }
}
