using System.Numerics;
using RoboRl.Core.Quadrotor;
using RoboRl.Sims.Quadrotor;
using RoboRl.Logs;

namespace RoboRl.Replay;

/// <summary>One window of a simulator replay: when it starts (s since the first reference), how long it is, and its errors.</summary>
public sealed record SimReplayWindow(double StartS, double LengthS, int Samples, double PositionRmseM, double AttitudeRmseRad,
    double PositionMaxM, double AttitudeMaxRad, double PositionEndM, double AttitudeEndRad);

/// <param name="Reference">"ground_truth" (a simulator's true states) or "measured" (the recorded sensor states).</param>
/// <param name="WindowS">The window length asked for (0: one open-loop run over the whole flight).</param>
/// <param name="TimeS">Per compared reference: seconds since the first reference; the errors and positions below likewise.</param>
/// <param name="RotorSpeedsRecorded">False when the log has no rotor speeds and the windows start from rebuilt ones.</param>
public sealed record SimReplayResult(string Reference, double WindowS, double[] TimeS, double[] PositionErrorM, double[] AttitudeErrorRad,
    Vector3[] RecordedPosition, Vector3[] SimulatedPosition, IReadOnlyList<SimReplayWindow> Windows,
    double PositionRmseM, double AttitudeRmseRad, double PositionMaxM, double AttitudeMaxRad, double Duration, bool RotorSpeedsRecorded);

/// <summary>
/// Replays a flight log open-loop in the simulator (the trainer's RK4 kernel) to measure how well a plant model
/// reproduces the flight: the flight is cut into windows of <c>windowS</c> seconds; each starts from a recorded state
/// and the rotor speeds at that time, takes the recorded commands at the times they took effect, and is compared with
/// the recorded states until the next window starts (<see cref="OpenLoopFlight"/>). Re-anchoring matters: a closed-loop
/// flight replayed open-loop diverges from ANY difference (sensor noise in the start state, a command applied a physics
/// step later), so one run over a whole flight measures the instability, not the plant.
/// With a simulator's log (ground truth, same plant, same physics step) the error is at rounding level; with another
/// plant it grows within a window — what `roborl sysid` minimises.
/// </summary>
public static class SimReplay
{
    public const double DefaultWindowS = 0.25;

    /// <param name="plant">The plant to simulate.</param>
    /// <param name="commandRobot">The robot whose action → rpm map the node used (default: the log's recorded robot, else the plant).</param>
    /// <param name="windowS">Window length, s; 0 replays the whole flight in one open-loop run.</param>
    /// <param name="physicsHz">Physics rate for logs without ground truth (a simulator's log names its own step).</param>
    /// <param name="useGroundTruth">False: anchor on and compare with the measured states even where the log has ground truth.</param>
    public static SimReplayResult Run(FlightLog log, QuadrotorConfig plant, QuadrotorConfig? commandRobot = null, double windowS = DefaultWindowS,
        float physicsHz = 1000, bool useGroundTruth = true)
    {
        if (!(windowS >= 0)) throw new ArgumentOutOfRangeException(nameof(windowS), windowS, "the window must be ≥ 0 s");
        OpenLoopFlight flight = OpenLoopFlight.From(log, commandRobot ?? log.RecordedRobot() ?? plant, physicsHz, useGroundTruth);

        // Rotor speeds rebuilt from the commands start from a guess; let it decay (5 τ: < 1 % left) before anchoring on them.
        ulong notBefore = flight.RotorSpeedsRecorded ? 0 : flight.CommandTime[0] + (ulong)(5 * plant.MotorTimeConstant * 1e9);
        List<FlightWindow> windows = flight.Windows(windowS, notBefore);
        if (windows.Count == 0)
            throw new FlightLogException($"{log.Path}: no window of {windowS} s with recorded states and commands" +
                (flight.RotorSpeedsRecorded ? "" : $" after the first {5 * plant.MotorTimeConstant:G3} s (rotor speeds are not recorded; they are rebuilt from the commands)"));

        var batch = new QuadrotorBatch(plant, windows.Count);
        Vector4[] rotors = flight.RotorRpmAt(plant.MotorTimeConstant, plant.RpmMin, plant.RpmMax);
        Prediction[] predicted = flight.Run(batch, windows, rotors, plant.RpmMin, plant.RpmMax);

        ulong origin = flight.References[windows[0].First].Time;
        var time = new List<double>(); var pos = new List<double>(); var att = new List<double>();
        var recorded = new List<Vector3>(); var simulated = new List<Vector3>();
        var perWindow = new List<SimReplayWindow>();
        foreach (FlightWindow w in windows)
        {
            int from = pos.Count;
            for (int j = w.First + 1; j <= w.Last; j++)
            {
                if (!predicted[j].Valid) continue;
                ReferenceState r = flight.References[j];
                time.Add((r.Time - origin) * 1e-9);
                pos.Add(Vector3.Distance(predicted[j].Position, r.Position));
                att.Add(OpenLoopFlight.AttitudeError(predicted[j].Orientation, r.Orientation));
                recorded.Add(r.Position);
                simulated.Add(predicted[j].Position);
            }
            int count = pos.Count - from;
            if (count == 0) continue;
            List<double> p = pos.GetRange(from, count), a = att.GetRange(from, count);
            perWindow.Add(new SimReplayWindow((flight.References[w.First].Time - origin) * 1e-9, (flight.References[w.Last].Time - flight.References[w.First].Time) * 1e-9,
                count, Rms(p), Rms(a), Max(p), Max(a), p[^1], a[^1]));
        }
        return new SimReplayResult(flight.GroundTruth ? "ground_truth" : "measured", windowS, time.ToArray(), pos.ToArray(), att.ToArray(),
            recorded.ToArray(), simulated.ToArray(), perWindow, Rms(pos), Rms(att), Max(pos), Max(att),
            (flight.References[windows[^1].Last].Time - origin) * 1e-9, flight.RotorSpeedsRecorded);
    }

    // A diverged vehicle (NaN) counts as an infinite error, never as none.
    private static double Rms(List<double> v) => v.Count == 0 ? 0 : Math.Sqrt(v.Sum(x => double.IsNaN(x) ? double.PositiveInfinity : x * x) / v.Count);
    private static double Max(List<double> v) => v.Count == 0 ? 0 : v.Max(x => double.IsNaN(x) ? double.PositiveInfinity : x);
}
