using System.Numerics;
using RoboRl.Core.Quadrotor;
using RoboRl.Sims.Quadrotor;

namespace RoboRl.Replay;

public sealed record SimReplayResult(double[] TimeS, double[] PositionErrorM, double[] AttitudeErrorRad,
    Vector3[] RecordedPosition, Vector3[] SimulatedPosition, double PositionRmseM, double AttitudeRmseRad, double Duration);

/// <summary>
/// Replays a flight log open-loop in the simulator (the trainer's RK4 kernel): the simulator starts in the recorded
/// state of the first tick (pose, velocity, angular velocity; rotor speeds are not recorded, so at the first command,
/// as if held), the recorded actions are applied at their recorded times, and the simulated trajectory is compared
/// with the recorded one at every recorded state. With the recording's own plant the error stays at rounding level;
/// with another plant it grows (what `roborl sysid` then minimises over short windows).
/// </summary>
public static class SimReplay
{
    public static SimReplayResult Run(FlightLog log, QuadrotorConfig plant, QuadrotorConfig? commandRobot = null, float physicsHz = 1000)
    {
        OpenLoopFlight flight = OpenLoopFlight.From(log, commandRobot ?? log.RecordedRobot() ?? plant);
        int first = Array.FindIndex(flight.State, s => s is not null);
        var batch = new QuadrotorBatch(plant, 1);
        batch.SetNominal(0);
        Vector4 rpm0 = OpenLoopFlight.Clamp(flight.CommandRpm[first], plant.RpmMin, plant.RpmMax);
        flight.SetLane(batch, 0, first, rpm0);
        double step = 1.0 / physicsHz;
        var time = new List<double>(); var pos = new List<double>(); var att = new List<double>();
        var recorded = new List<Vector3>(); var simulated = new List<Vector3>();
        for (int k = first; k < flight.Ticks; k++)
        {
            if (flight.State[k] is StateSample s)
            {
                time.Add((flight.LogTime[k] - flight.LogTime[first]) * 1e-9);
                pos.Add(Vector3.Distance(batch.Position(0), s.Position));
                att.Add(OpenLoopFlight.AttitudeError(batch.Orientation(0), s.Orientation));
                recorded.Add(s.Position);
                simulated.Add(batch.Position(0));
            }
            if (k + 1 == flight.Ticks) break;
            Vector4 cmd = OpenLoopFlight.Clamp(flight.CommandRpm[k], plant.RpmMin, plant.RpmMax);
            batch.CommandRpm[0][0] = cmd.X; batch.CommandRpm[1][0] = cmd.Y; batch.CommandRpm[2][0] = cmd.Z; batch.CommandRpm[3][0] = cmd.W;
            for (int n = flight.StepsAfter(k, step); n > 0; n--) batch.Integrate((float)step, 1);
        }
        static double Rms(List<double> v) => v.Count == 0 ? 0 : Math.Sqrt(v.Sum(x => x * x) / v.Count);
        return new SimReplayResult(time.ToArray(), pos.ToArray(), att.ToArray(), recorded.ToArray(), simulated.ToArray(),
            Rms(pos), Rms(att), time.Count == 0 ? 0 : time[^1]);
    }
}
