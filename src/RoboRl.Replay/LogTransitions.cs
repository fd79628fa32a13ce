using System.Globalization;
using System.Numerics;
using RoboRl.Core.Messages;
using RoboRl.Core.Policy;
using RoboRl.Core.Tasks;
using RoboRl.Logs;

namespace RoboRl.Replay;

/// <summary>
/// Turns flight logs into hover-task transitions for fine-tuning (<see cref="HoverTransitions"/>), at the policy's
/// control rate. A log from another robot or policy spec is refused first (<see cref="PolicyReplay.CheckCompatible"/>,
/// naming the mismatch).
///
/// The node ticks k = node rate / control rate times per control step and pushes the mean of those k applied actions
/// into the observation's action history at the end of each slot (InferenceNode). So a slot starts at the first tick
/// whose history differs from the previous tick's (for k = 1, every tick), and one transition is
/// <list type="bullet">
/// <item>s = the observation at a slot's first tick, s' = the one at the next slot's first tick;</item>
/// <item>a = the newest history entry of s' (exactly the mean action applied during the slot: the human's on a take-over).
///   The history is not the end of the observation: the position-error integral follows it
///   (<see cref="HoverObservation.IntegralOffset"/>), and that integral changes every tick, so slots are found by
///   comparing the history span only;</item>
/// <item>critic observation = the logged state (pose, velocity, body rates, measured rotor speeds; the disturbance is
///   unknown, so 0) relative to the slot's setpoint, then the history's newest actions where the task's critic sees the
///   actions in flight;</item>
/// <item>reward = the task's last curriculum stage on the state at s' (<see cref="HoverReward"/>); terminated where that
///   state leaves the task's error box or touches the floor;</item>
/// <item>intervened = a human flew any tick of the slot.</item>
/// </list>
/// Slots with a tick missing, or flown by the fallback controller (or idle), give no transition.
/// </summary>
public static class LogTransitions
{
    private static readonly Vector4 NominalDynamics = new(1, 1, 1, 0);

    public static HoverTransitions Extract(IReadOnlyList<FlightLog> logs, PolicyBundle bundle, HoverTaskConfig task)
    {
        int obsSize = bundle.ObservationSize, criticSize = HoverObservation.CriticSizeWith(task.CriticActionsInFlight), act = HoverObservation.ActionSize;
        int historyLength = bundle.ActionHistoryLength;
        if (obsSize != HoverObservation.ActorSize(historyLength))
            throw new PolicyBundleException("the policy to fine-tune", "observation.names",
                $"{obsSize} values, but the hover observation with {historyLength} past actions has {HoverObservation.ActorSize(historyLength)} (18 state + 4 × {historyLength} actions + {HoverObservation.IntegralSize} position-error integral)");
        // The action history: [18, 18 + 4K); its newest entry (the previous control step's action) is the last 4 of it.
        int historyStart = HoverObservation.StateSize, historyEnd = HoverObservation.IntegralOffset(historyLength), newestAction = historyEnd - act;
        var transitions = new HoverTransitions(obsSize, criticSize);
        HoverRewardWeights weights = task.Curriculum[^1].Weights;
        float hoverAction = task.Robot.HoverAction(), limit = task.PositionErrorLimit;
        var critic = new float[criticSize];
        var nextCritic = new float[criticSize];
        var action = new float[act];

        foreach (FlightLog log in logs)
        {
            PolicyReplay.CheckCompatible(log, bundle);
            if (!log.Metadata.ContainsKey(FlightLogMetadata.RobotSha256))
                throw new FlightLogException($"{log.Path}: the log does not record its robot and policy spec ({FlightLogMetadata.Topic} channel metadata); fine-tuning needs it to check the log belongs to this policy");
            int k = 1;
            if (log.Metadata.TryGetValue(FlightLogMetadata.NodeRateHz, out string? nodeRate))
                k = Math.Max(1, (int)Math.Round(double.Parse(nodeRate, CultureInfo.InvariantCulture) / bundle.ControlRateHz));

            // Join everything the recorder wrote for one tick on its log time.
            var states = log.States().ToDictionary(s => s.LogTime);
            var rotors = new Dictionary<ulong, Vector4>();
            foreach (RotorSample r in log.RotorSpeeds()) rotors[r.LogTime] = r.Rpm;
            Dictionary<ulong, Vector3> setpoints = log.Setpoints();
            var actionsByTime = new Dictionary<ulong, ActionSample>();
            foreach (ActionSample a in log.Actions()) actionsByTime[a.LogTime] = a;
            var ticks = new SortedDictionary<ulong, Tick>();
            foreach (ObservationSample o in log.Observations())
            {
                if (o.Values.Length != obsSize)
                    throw new FlightLogException($"{log.Path}: observation size: the log's observations have {o.Values.Length} values, the policy takes {obsSize}");
                if (!actionsByTime.TryGetValue(o.LogTime, out ActionSample a) || !states.TryGetValue(o.LogTime, out StateSample s)
                    || !setpoints.TryGetValue(o.LogTime, out Vector3 sp)) continue;
                Vector4 rpm = rotors.TryGetValue(o.LogTime, out Vector4 r) ? r
                    : new Vector4(task.Robot.RpmFromAction(a.Applied.X), task.Robot.RpmFromAction(a.Applied.Y), task.Robot.RpmFromAction(a.Applied.Z), task.Robot.RpmFromAction(a.Applied.W));
                ticks[o.Tick] = new Tick(o.Values, a, s, sp, rpm);
            }

            // The slot phase: the first tick whose action history differs from the previous tick's.
            long phase = -1;
            foreach (var (tick, t) in ticks)
            {
                if (k == 1) { phase = 0; break; }
                if (tick > 0 && ticks.TryGetValue(tick - 1, out Tick previous)
                    && !t.Observation.AsSpan(historyStart..historyEnd).SequenceEqual(previous.Observation.AsSpan(historyStart..historyEnd)))
                {
                    phase = (long)(tick % (ulong)k);
                    break;
                }
            }
            if (phase < 0) continue;

            foreach (var (tick, start) in ticks)
            {
                if ((long)(tick % (ulong)k) != phase || !ticks.TryGetValue(tick + (ulong)k, out Tick next)) continue;
                bool usable = true, intervened = false;
                for (ulong j = tick; j < tick + (ulong)k && usable; j++)
                {
                    usable = ticks.TryGetValue(j, out Tick t) && t.Action.Source is ActionSource.Policy or ActionSource.Human;
                    intervened |= usable && t.Action.Intervention;
                }
                if (!usable) continue;

                ReadOnlySpan<float> s = start.Observation, s1 = next.Observation;
                s1.Slice(newestAction, act).CopyTo(action);
                StateSample x = start.State, x1 = next.State;
                // A logged flight's disturbance and dynamics factors are unknown: the critic gets zero disturbance and the
                // nominal vehicle (factors 1, no latency).
                HoverObservation.BuildCritic(x.Position, x.Orientation, x.VelocityWorld, x.AngularVelocityBody, start.Setpoint,
                    Vector3.Zero, Vector3.Zero, HoverObservation.RotorsAsActions(task.Robot, start.RotorRpm), NominalDynamics, critic);
                HoverObservation.BuildCritic(x1.Position, x1.Orientation, x1.VelocityWorld, x1.AngularVelocityBody, start.Setpoint,
                    Vector3.Zero, Vector3.Zero, HoverObservation.RotorsAsActions(task.Robot, next.RotorRpm), NominalDynamics, nextCritic);
                HoverObservation.WriteActionsInFlight(s[historyStart..historyEnd], task.CriticActionsInFlight, critic.AsSpan(HoverObservation.CriticSize));
                HoverObservation.WriteActionsInFlight(s1[historyStart..historyEnd], task.CriticActionsInFlight, nextCritic.AsSpan(HoverObservation.CriticSize));
                Vector3 error = x1.Position - start.Setpoint;
                bool terminated = MathF.Abs(error.X) > limit || MathF.Abs(error.Y) > limit || MathF.Abs(error.Z) > limit || x1.Position.Z <= 0;
                float reward = HoverReward.Compute(task, weights, error, x1.Orientation.W, x1.VelocityWorld, action, s.Slice(newestAction, act), hoverAction, terminated);
                transitions.Add(s, critic, action, reward, s1, nextCritic, terminated, intervened);
            }
        }
        return transitions;
    }

    private readonly record struct Tick(float[] Observation, ActionSample Action, StateSample State, Vector3 Setpoint, Vector4 RotorRpm);
}
