using RoboRl.Cli.Commands;
using RoboRl.Core.Messages;
using RoboRl.Core.Policy;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Tasks;
using RoboRl.Hil;
using RoboRl.Node;

namespace RoboRl.Replay.Tests;

/// <summary>
/// Flight logs → fine-tuning transitions with the hover observation's layout: state (18), action history (4K), then the
/// position-error integral (3). The integral changes every node tick, so neither "the history ends the observation" nor
/// "everything after the state is the history" holds; these tests fail on code that assumes either.
/// </summary>
public class LogTransitionsTests
{
    static NodeConfig Node => NodeConfig.Load(NodeFlights.NodeFile);
    static HoverTaskConfig Task => HoverTaskConfig.Load(Flights.Repo("configs/tasks/crazyflie-hover.json"));

    /// <summary>A flight whose applied actions vary: the constant hover policy sinks on a 1.3× heavier plant and the
    /// scripted pilot takes over and hands back several times (human actions change every tick).</summary>
    static (FlightLog Log, PolicyBundle Bundle) CorrectedFlight()
    {
        string path = Path.Combine(Flights.TempDir(), "corrected.mcap");
        PolicyBundle bundle = NodeFlights.Bundle();
        QuadrotorConfig robot = Node.Quadrotor().Robot, heavy = robot with { Mass = robot.Mass * 1.3f };
        HilFlights.Flight flight = HilFlights.Fly(Node, bundle, heavy, flightSeed: 4, path);
        Assert.That(flight.TakeOvers, Is.GreaterThan(0), "the pilot must fly part of this flight");
        return (FlightLog.Load(path), bundle);
    }

    [Test]
    public void Each_transition_starts_a_history_slot_and_carries_the_mean_applied_action_of_its_slot()
    {
        (FlightLog log, PolicyBundle bundle) = CorrectedFlight();
        int k = (int)Math.Round(Node.RateHz / bundle.ControlRateHz), obsSize = bundle.ObservationSize;
        int historyStart = HoverObservation.StateSize, historyEnd = HoverObservation.IntegralOffset(bundle.ActionHistoryLength);
        Assert.That(k, Is.EqualTo(5));
        Assert.That(historyEnd, Is.LessThan(obsSize), "the integral follows the history");

        var observations = log.Observations().ToDictionary(o => o.Tick, o => o.Values);
        var actions = log.Actions().ToDictionary(a => a.Tick);
        // The premise: the integral after the history moves from tick to tick while the history stays for a whole slot.
        ulong[] ticks = observations.Keys.Order().ToArray();
        int integralChanges = ticks.Skip(1).Count(t => observations.TryGetValue(t - 1, out float[]? p) && !observations[t].AsSpan(historyEnd).SequenceEqual(p.AsSpan(historyEnd)));
        Assert.That(integralChanges, Is.GreaterThan(ticks.Length * 9 / 10));

        HoverTransitions transitions = LogTransitions.Extract([log], bundle, Task);
        Assert.That(transitions.Count, Is.InRange(450, 500), "5 s at 100 Hz, less the arming slot");
        Assert.That(transitions.InterventionCount, Is.GreaterThan(0).And.LessThan(transitions.Count));

        var tickOfObservation = new Dictionary<string, ulong>();
        foreach (ulong t in ticks) tickOfObservation.TryAdd(Key(observations[t]), t);
        int humanSlots = 0;
        for (int i = 0; i < transitions.Count; i++)
        {
            ulong t = tickOfObservation[Key(transitions.Observations.Slice(i * obsSize, obsSize).ToArray())];
            // A slot's first tick: its history is the previous tick's shifted by one action, the mean of the previous slot's
            // applied actions pushed as the newest (the first recorded tick has no previous one); it then stays for k − 1 ticks.
            if (observations.TryGetValue(t - 1, out float[]? previous) && actions.ContainsKey(t - (ulong)k))
            {
                Assert.That(observations[t].AsSpan(historyStart..(historyEnd - 4)).SequenceEqual(previous.AsSpan((historyStart + 4)..historyEnd)), Is.True, $"tick {t} starts a slot");
                for (int m = 0; m < 4; m++)
                    Assert.That(observations[t][historyEnd - 4 + m], Is.EqualTo(MeanApplied(actions, t - (ulong)k, k, m)).Within(1e-5f), $"tick {t} starts a slot");
            }
            for (ulong j = 1; j < (ulong)k; j++)
                Assert.That(observations[t + j].AsSpan(historyStart..historyEnd).SequenceEqual(observations[t].AsSpan(historyStart..historyEnd)), Is.True);
            Assert.That(transitions.NextObservations.Slice(i * obsSize, obsSize).SequenceEqual(observations[t + (ulong)k]), Is.True, "s' = the next slot's first observation");

            // a = the mean action applied over the slot's k ticks (the human's where the pilot flew), as the node averaged it.
            bool human = false;
            for (int m = 0; m < 4; m++)
                Assert.That(transitions.Actions[i * 4 + m], Is.EqualTo(MeanApplied(actions, t, k, m)).Within(1e-5f), $"transition {i} (tick {t}) motor {m + 1}");
            for (ulong j = 0; j < (ulong)k; j++) human |= actions[t + j].Intervention;
            Assert.That(transitions.Intervened[i], Is.EqualTo(human));
            if (human) humanSlots++;
        }
        Assert.That(humanSlots, Is.GreaterThan(10), "intervened slots were checked, not only the constant policy's");
    }

    [Test]
    public void A_critic_that_sees_the_actions_in_flight_gets_the_newest_history_entries_newest_first()
    {
        (FlightLog log, PolicyBundle bundle) = CorrectedFlight();
        HoverTransitions plain = LogTransitions.Extract([log], bundle, Task);
        HoverTransitions inFlight = LogTransitions.Extract([log], bundle, Task with { CriticActionsInFlight = 2 });
        int obsSize = bundle.ObservationSize, historyEnd = HoverObservation.IntegralOffset(bundle.ActionHistoryLength);
        Assert.That(inFlight.CriticSize, Is.EqualTo(32 + 2 * 4));
        Assert.That(inFlight.Count, Is.EqualTo(plain.Count).And.GreaterThan(100));
        (float[] Rows, float[] PlainRows, float[] Observations)[] sides =
        [
            (inFlight.CriticObservations.ToArray(), plain.CriticObservations.ToArray(), inFlight.Observations.ToArray()),
            (inFlight.NextCriticObservations.ToArray(), plain.NextCriticObservations.ToArray(), inFlight.NextObservations.ToArray()),
        ];
        for (int i = 0; i < inFlight.Count; i++)
        {
            foreach ((float[] rows, float[] plainRows, float[] observations) in sides)
            {
                ReadOnlySpan<float> critic = rows.AsSpan(i * 40, 40), observation = observations.AsSpan(i * obsSize, obsSize);
                Assert.That(critic[..32].SequenceEqual(plainRows.AsSpan(i * 32, 32)), Is.True, $"transition {i}: the 32 values are unchanged");
                Assert.That(critic.Slice(32, 4).SequenceEqual(observation.Slice(historyEnd - 4, 4)), Is.True, $"transition {i}: the newest action first");
                Assert.That(critic.Slice(36, 4).SequenceEqual(observation.Slice(historyEnd - 8, 4)), Is.True, $"transition {i}: then the one before");
            }
        }
    }

    [Test]
    public void A_policy_whose_observation_is_not_the_hover_layout_is_refused_with_the_sizes_named()
    {
        (FlightLog log, PolicyBundle bundle) = CorrectedFlight();
        // The layout before the integral: 18 + 4 × 32 = 146 values for 32 past actions.
        int old = HoverObservation.StateSize + 4 * bundle.ActionHistoryLength;
        DenseLayer first = bundle.Layers[0];
        var layers = bundle.Layers.ToList();
        layers[0] = first with { InputSize = old, Weights = first.Weights.AsSpan(0, first.OutputSize * old).ToArray() };
        var oldLayout = new PolicyBundle
        {
            Layers = layers,
            ObservationNames = bundle.ObservationNames.Take(old).ToArray(),
            ActionNames = bundle.ActionNames,
            ObservationMean = bundle.ObservationMean[..old],
            ObservationStd = bundle.ObservationStd[..old],
            ActionLow = bundle.ActionLow,
            ActionHigh = bundle.ActionHigh,
            ActionUnit = bundle.ActionUnit,
            ControlRateHz = bundle.ControlRateHz,
            ActionHistoryLength = bundle.ActionHistoryLength,
            RobotConfigJson = bundle.RobotConfigJson,
            TrainingConfigJson = bundle.TrainingConfigJson,
            GitCommit = bundle.GitCommit,
            GoldenObservations = [],
            GoldenActions = [],
        };
        var e = Assert.Throws<PolicyBundleException>(() => LogTransitions.Extract([log], oldLayout, Task))!;
        Assert.That(e.Message, Does.Contain("146").And.Contain("149").And.Contain("observation.names"));
    }

    static string Key(float[] values) => Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));

    static float MeanApplied(Dictionary<ulong, ActionSample> actions, ulong from, int k, int motor)
    {
        float sum = 0;
        for (ulong j = 0; j < (ulong)k; j++) sum += Component(actions[from + j].Applied, motor);
        return sum / k;
    }

    static float Component(System.Numerics.Vector4 v, int m) => m switch { 0 => v.X, 1 => v.Y, 2 => v.Z, _ => v.W };
}
