using System.Numerics;
using RoboRl.Core.Quadrotor;
using RoboRl.Sims.Quadrotor;

namespace RoboRl.Replay;

/// <summary>
/// A flight log as an open-loop experiment: per control tick its log time, the rotor speeds commanded (the applied
/// action through the recorded robot's action → rpm map, as the node sent them) and the state recorded at that tick
/// (the node records the state it acted on; the command then holds until the next tick).
/// </summary>
public sealed class OpenLoopFlight
{
    public required string Source { get; init; }
    public required ulong[] LogTime { get; init; }
    public required Vector4[] CommandRpm { get; init; }
    /// <summary>State recorded at each tick, or null where none was.</summary>
    public required StateSample?[] State { get; init; }

    public int Ticks => LogTime.Length;

    public static OpenLoopFlight From(FlightLog log, QuadrotorConfig commandRobot)
    {
        List<ActionSample> actions = log.Actions();
        if (actions.Count < 2) throw new FlightLogException($"{log.Path}: {actions.Count} /action messages; an open-loop replay needs at least 2");
        var states = new Dictionary<ulong, StateSample>();
        foreach (StateSample s in log.States()) states[s.LogTime] = s;
        if (states.Count == 0) throw new FlightLogException($"{log.Path}: no recorded state (/pose, /velocity, /imu)");
        var flight = new OpenLoopFlight
        {
            Source = log.Path,
            LogTime = actions.Select(a => a.LogTime).ToArray(),
            CommandRpm = actions.Select(a => new Vector4(commandRobot.RpmFromAction(a.Applied.X), commandRobot.RpmFromAction(a.Applied.Y),
                commandRobot.RpmFromAction(a.Applied.Z), commandRobot.RpmFromAction(a.Applied.W))).ToArray(),
            State = actions.Select(a => states.TryGetValue(a.LogTime, out StateSample s) ? s : (StateSample?)null).ToArray(),
        };
        return flight;
    }

    /// <summary>
    /// Rotor speeds at each tick under a first-order motor lag with time constant <paramref name="tau"/>, from the
    /// commands alone (rotor speeds are not recorded): exact for commands held between ticks, starting from the first
    /// command as if it had been held for long.
    /// </summary>
    public Vector4[] RotorRpm(float tau, float rpmMin, float rpmMax)
    {
        var rpm = new Vector4[Ticks];
        Vector4 r = Clamp(CommandRpm[0], rpmMin, rpmMax);
        for (int k = 0; k < Ticks; k++)
        {
            rpm[k] = r;
            if (k + 1 == Ticks) break;
            float decay = MathF.Exp(-(float)((LogTime[k + 1] - LogTime[k]) * 1e-9) / tau);
            Vector4 cmd = Clamp(CommandRpm[k], rpmMin, rpmMax);
            r = cmd + (r - cmd) * decay;
        }
        return rpm;
    }

    public static Vector4 Clamp(Vector4 rpm, float min, float max) => Vector4.Clamp(rpm, new Vector4(min), new Vector4(max));

    /// <summary>Puts lane <paramref name="lane"/> of <paramref name="batch"/> in the recorded state at tick <paramref name="k"/>.</summary>
    public void SetLane(QuadrotorBatch batch, int lane, int k, Vector4 rotorRpm)
    {
        StateSample s = State[k] ?? throw new InvalidOperationException($"no state at tick {k}");
        batch.SetPose(lane, s.Position, Quaternion.Normalize(s.Orientation));
        batch.SetVelocities(lane, s.VelocityWorld, s.AngularVelocityBody);
        batch.Rpm[0][lane] = rotorRpm.X; batch.Rpm[1][lane] = rotorRpm.Y; batch.Rpm[2][lane] = rotorRpm.Z; batch.Rpm[3][lane] = rotorRpm.W;
    }

    /// <summary>Physics steps of length <paramref name="stepS"/> between tick k and k + 1.</summary>
    public int StepsAfter(int k, double stepS) => Math.Max(0, (int)Math.Round((LogTime[k + 1] - LogTime[k]) * 1e-9 / stepS));

    /// <summary>Rotation angle between two orientations, radians.</summary>
    public static double AttitudeError(Quaternion a, Quaternion b) =>
        2 * Math.Acos(Math.Min(1.0, Math.Abs((double)Quaternion.Dot(Quaternion.Normalize(a), Quaternion.Normalize(b)))));
}
