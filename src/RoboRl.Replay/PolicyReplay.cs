using RoboRl.Core.Policy;
using RoboRl.Logs;

namespace RoboRl.Replay;

public sealed record PolicyReplayResult(int Steps, double RmsDivergence, double MaxDivergence, double[] RmsPerAxis, double[] MaxPerAxis,
    IReadOnlyList<string> ActionNames, double[] TimeS, float[][] Recorded, float[][] Replayed);

/// <summary>
/// Feeds the recorded observations (/observation) to another policy and compares its actions with the recorded
/// policy values (/action of the same tick). A log from another robot or policy spec is refused first, naming the
/// mismatch: the robot (config hash), the observation names and their count, the action history length and the
/// control rate, as far as the log's metadata records them; observation size is always checked.
/// </summary>
public static class PolicyReplay
{
    public static void CheckCompatible(FlightLog log, PolicyBundle bundle)
    {
        if (log.Metadata.TryGetValue(FlightLogMetadata.RobotSha256, out string? robot) && robot != bundle.RobotConfigSha256)
        {
            string detail = "";
            bool sameRobot = false;
            // Another hash may still be the same robot (a quadrotor config that gained its "kind" line): the bundle says.
            try { if (log.Metadata.TryGetValue(FlightLogMetadata.RobotConfig, out string? json)) { bundle.CheckCompatible(json); sameRobot = true; } }
            catch (PolicyMismatchException e) { detail = $": {e.Message}"; }
            if (!sameRobot)
                throw new FlightLogException($"{log.Path}: recorded on robot {robot[..12]}…, the policy was trained for robot {bundle.RobotConfigSha256[..12]}…{detail}");
        }
        if (log.MetadataNames(FlightLogMetadata.ObservationNames) is { } names)
        {
            for (int i = 0; i < Math.Min(names.Length, bundle.ObservationSize); i++)
                if (names[i] != bundle.ObservationNames[i])
                    throw new FlightLogException($"{log.Path}: observation.names element {i} is '{names[i]}' in the log, '{bundle.ObservationNames[i]}' in the policy");
            if (names.Length != bundle.ObservationSize)
                throw new FlightLogException($"{log.Path}: observation size: the log's observations have {names.Length} names, the policy takes {bundle.ObservationSize}");
        }
        if (log.Metadata.TryGetValue(FlightLogMetadata.ActionHistoryLength, out string? history) && int.Parse(history) != bundle.ActionHistoryLength)
            throw new FlightLogException($"{log.Path}: action_history_length: the log keeps {history} past actions, the policy expects {bundle.ActionHistoryLength}");
        if (log.Metadata.TryGetValue(FlightLogMetadata.ControlRateHz, out string? rate) && double.Parse(rate, System.Globalization.CultureInfo.InvariantCulture) != bundle.ControlRateHz)
            throw new FlightLogException($"{log.Path}: control_rate_hz: the log's policy ran at {rate} Hz, the policy given at {bundle.ControlRateHz} Hz");
    }

    public static PolicyReplayResult Run(FlightLog log, PolicyBundle bundle)
    {
        CheckCompatible(log, bundle);
        List<ObservationSample> observations = log.Observations();
        if (observations.Count == 0) throw new FlightLogException($"{log.Path}: no /observation messages (the policy never ran)");
        var bad = observations.FirstOrDefault(o => o.Values.Length != bundle.ObservationSize);
        if (bad.Values is not null)
            throw new FlightLogException($"{log.Path}: observation size: the log's observations have {bad.Values.Length} values, the policy takes {bundle.ObservationSize}");
        var recordedByTime = new Dictionary<ulong, float[]>();
        foreach (ActionSample a in log.Actions()) if (a.Policy is { } p) recordedByTime[a.LogTime] = p;

        var engine = new PolicyEngine(bundle);
        int axes = bundle.ActionSize;
        var time = new List<double>(); var recorded = new List<float[]>(); var replayed = new List<float[]>();
        var sumSq = new double[axes]; var max = new double[axes];
        ulong first = observations[0].LogTime;
        foreach (ObservationSample o in observations)
        {
            if (!recordedByTime.TryGetValue(o.LogTime, out float[]? policy)) continue;
            if (policy.Length != axes) throw new FlightLogException($"{log.Path}: the log's policy has {policy.Length} actions, the policy given {axes}");
            var output = new float[axes];
            engine.Forward(o.Values, output);
            for (int i = 0; i < axes; i++)
            {
                double d = Math.Abs(output[i] - policy[i]);
                sumSq[i] += d * d;
                if (d > max[i]) max[i] = d;
            }
            time.Add((o.LogTime - first) * 1e-9); recorded.Add(policy); replayed.Add(output);
        }
        int n = time.Count;
        if (n == 0) throw new FlightLogException($"{log.Path}: no /action with policy values at the observations' times");
        double[] rms = sumSq.Select(s => Math.Sqrt(s / n)).ToArray();
        return new PolicyReplayResult(n, Math.Sqrt(sumSq.Sum() / (n * axes)), max.Max(), rms, max, bundle.ActionNames, time.ToArray(), recorded.ToArray(), replayed.ToArray());
    }
}
