using System.Numerics;
using System.Text.Json.Nodes;
using RoboRl.Cli.Commands;
using RoboRl.Core.Policy;
using RoboRl.Core.Quadrotor;
using RoboRl.Logs;

namespace RoboRl.Replay.Tests;

public class PolicyAndSimReplayTests
{
    /// <summary>The hover bundle with its output biases moved (its output weights are zero, so every output is tanh(bias)).</summary>
    private static PolicyBundle WithBias(PolicyBundle b, float delta)
    {
        float[] outputs = b.Layers[^1].Biases.Select(x => MathF.Tanh(x + delta)).ToArray();
        float[] golden = Enumerable.Range(0, b.GoldenCount).SelectMany(_ => outputs).ToArray();
        var layers = b.Layers.ToList();
        DenseLayer last = layers[^1];
        layers[^1] = last with { Biases = last.Biases.Select(x => x + delta).ToArray() };
        return new PolicyBundle
        {
            Layers = layers,
            ObservationNames = b.ObservationNames,
            ActionNames = b.ActionNames,
            ObservationMean = b.ObservationMean,
            ObservationStd = b.ObservationStd,
            ActionLow = b.ActionLow,
            ActionHigh = b.ActionHigh,
            ActionUnit = b.ActionUnit,
            ControlRateHz = b.ControlRateHz,
            ActionHistoryLength = b.ActionHistoryLength,
            RobotConfigJson = b.RobotConfigJson,
            TrainingConfigJson = b.TrainingConfigJson,
            GitCommit = b.GitCommit,
            GoldenObservations = b.GoldenObservations,
            GoldenActions = golden,
        };
    }

    [Test]
    public void The_recording_policy_reproduces_its_actions_and_another_one_diverges()
    {
        string dir = Flights.TempDir(), path = Path.Combine(dir, "flight.mcap");
        PolicyBundle bundle = NodeFlights.Bundle();
        NodeFlights.Fly(path, bundle, seconds: 1);
        FlightLog log = FlightLog.Load(path);
        PolicyReplayResult same = PolicyReplay.Run(log, bundle);
        Assert.That(same.Steps, Is.EqualTo(500).Within(2));
        Assert.That(same.MaxDivergence, Is.EqualTo(0));
        PolicyReplayResult other = PolicyReplay.Run(log, WithBias(bundle, 0.05f));
        Assert.That(other.RmsDivergence, Is.GreaterThan(0.01));
        Assert.That(other.RmsPerAxis, Has.Length.EqualTo(4));

        string other2 = Path.Combine(dir, "other.safetensors");
        WithBias(bundle, 0.05f).Write(other2);
        var output = new StringWriter();
        Assert.That(ReplayCommand.ReplayToPolicy(path, other2, json: true, null, output), Is.EqualTo(0));
        JsonNode result = JsonNode.Parse(output.ToString())!;
        Assert.That((double)result["rms_divergence"]!, Is.EqualTo(other.RmsDivergence).Within(1e-9));
        Assert.That((int)result["steps"]!, Is.EqualTo(other.Steps));
        Assert.That(File.Exists((string)result["plot"]!), Is.True);
    }

    [Test]
    public void A_log_of_another_robot_or_policy_spec_is_refused_naming_the_mismatch()
    {
        string dir = Flights.TempDir(), path = Path.Combine(dir, "flight.mcap");
        PolicyBundle bundle = NodeFlights.Bundle();
        NodeFlights.Fly(path, bundle, seconds: 0.2);
        FlightLog log = FlightLog.Load(path);

        string heavier = File.ReadAllText(Flights.RobotFile).Replace("\"mass\": 0.027", "\"mass\": 0.031");
        PolicyBundle otherRobot = WithBias(bundle, 0) is var b ? new PolicyBundle
        {
            Layers = b.Layers,
            ObservationNames = b.ObservationNames,
            ActionNames = b.ActionNames,
            ObservationMean = b.ObservationMean,
            ObservationStd = b.ObservationStd,
            ActionLow = b.ActionLow,
            ActionHigh = b.ActionHigh,
            ActionUnit = b.ActionUnit,
            ControlRateHz = b.ControlRateHz,
            ActionHistoryLength = b.ActionHistoryLength,
            RobotConfigJson = heavier,
            TrainingConfigJson = b.TrainingConfigJson,
            GitCommit = b.GitCommit,
            GoldenObservations = [],
            GoldenActions = [],
        } : null!;
        var e = Assert.Throws<FlightLogException>(() => PolicyReplay.Run(log, otherRobot))!;
        Assert.That(e.Message, Does.Contain("robot").And.Contain("mass"));

        var renamed = new PolicyBundle
        {
            Layers = bundle.Layers,
            ObservationNames = bundle.ObservationNames.Select((n, i) => i == 3 ? "something_else" : n).ToArray(),
            ActionNames = bundle.ActionNames,
            ObservationMean = bundle.ObservationMean,
            ObservationStd = bundle.ObservationStd,
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
        e = Assert.Throws<FlightLogException>(() => PolicyReplay.Run(log, renamed))!;
        Assert.That(e.Message, Does.Contain("observation.names element 3"));

        var shorterHistory = new PolicyBundle
        {
            Layers = bundle.Layers,
            ObservationNames = bundle.ObservationNames,
            ActionNames = bundle.ActionNames,
            ObservationMean = bundle.ObservationMean,
            ObservationStd = bundle.ObservationStd,
            ActionLow = bundle.ActionLow,
            ActionHigh = bundle.ActionHigh,
            ActionUnit = bundle.ActionUnit,
            ControlRateHz = bundle.ControlRateHz,
            ActionHistoryLength = bundle.ActionHistoryLength - 1,
            RobotConfigJson = bundle.RobotConfigJson,
            TrainingConfigJson = bundle.TrainingConfigJson,
            GitCommit = bundle.GitCommit,
            GoldenObservations = [],
            GoldenActions = [],
        };
        e = Assert.Throws<FlightLogException>(() => PolicyReplay.Run(log, shorterHistory))!;
        Assert.That(e.Message, Does.Contain("action_history_length"));
    }

    [Test]
    public void Sim_replay_of_a_node_flight_is_exact_on_its_own_plant_and_clearly_off_on_another()
    {
        // The node flies the simulated Crazyflie with the shipped sensor noise, its true state recorded; the pilot's
        // commands jump every tick, as a trained policy's do at 500 Hz.
        string dir = Flights.TempDir(), path = Path.Combine(dir, "flight.mcap");
        QuadrotorConfig nominal = QuadrotorConfig.Load(Flights.RobotFile);
        NodeFlights.Fly(path, NodeFlights.Bundle(), seconds: 3, pilot: new ScriptedPilot(nominal, new Vector3(0, 0, 1), dither: 0.3));
        FlightLog log = FlightLog.Load(path);

        SimReplayResult same = SimReplay.Run(log, nominal);
        TestContext.Out.WriteLine($"same plant: {same.PositionRmseM} m / {same.AttitudeRmseRad} rad rms, max {same.PositionMaxM} / {same.AttitudeMaxRad}");
        Assert.That(same.Reference, Is.EqualTo("ground_truth"));
        Assert.That(same.RotorSpeedsRecorded, Is.True);
        Assert.That(same.WindowS, Is.EqualTo(SimReplay.DefaultWindowS));
        Assert.That(same.Windows, Has.Count.GreaterThanOrEqualTo(10));
        Assert.That(same.Duration, Is.GreaterThan(2.5));
        Assert.That(same.PositionMaxM, Is.LessThanOrEqualTo(1e-3), "≤ 1 mm on its own plant");
        Assert.That(same.AttitudeMaxRad, Is.LessThanOrEqualTo(1e-3), "≤ 1 mrad on its own plant");

        // With the true start state and the times the simulator applied each command, even one open-loop run over the
        // whole flight repeats it.
        SimReplayResult whole = SimReplay.Run(log, nominal, windowS: 0);
        Assert.That(whole.Windows, Has.Count.EqualTo(1));
        Assert.That(whole.PositionMaxM, Is.LessThanOrEqualTo(1e-3));
        Assert.That(whole.AttitudeMaxRad, Is.LessThanOrEqualTo(1e-3));

        // Anchored on the measured states instead, the sensor noise alone is over the target: why the ground truth is recorded.
        SimReplayResult measured = SimReplay.Run(log, nominal, useGroundTruth: false);
        Assert.That(measured.Reference, Is.EqualTo("measured"));
        Assert.That(measured.PositionRmseM, Is.GreaterThan(1e-3));

        // Another plant (30 % heavier) is clearly off within every window: the tool discriminates.
        SimReplayResult heavy = SimReplay.Run(log, Flights.Perturbed(nominal, 1.3f, 1f, nominal.MotorTimeConstant), nominal);
        TestContext.Out.WriteLine($"1.3x mass: {heavy.PositionRmseM} m rms, max {heavy.PositionMaxM}; measured: {measured.PositionRmseM} m, {measured.AttitudeRmseRad} rad");
        Assert.That(heavy.PositionRmseM, Is.GreaterThan(0.01), "10× the target");

        string heavyFile = Path.Combine(dir, "heavy.json");
        File.WriteAllText(heavyFile, File.ReadAllText(Flights.RobotFile).Replace("\"mass\": 0.027", "\"mass\": 0.0351"));
        var output = new StringWriter();
        Assert.That(ReplayCommand.ReplayToSim(path, heavyFile, json: true, null, output), Is.EqualTo(0));
        JsonNode result = JsonNode.Parse(output.ToString())!;
        Assert.That((double)result["pos_rmse_m"]!, Is.GreaterThan(0.01));
        Assert.That((double)result["window_s"]!, Is.EqualTo(SimReplay.DefaultWindowS));
        Assert.That((int)result["windows"]!, Is.EqualTo(result["per_window"]!.AsArray().Count));
        Assert.That((double)result["per_window"]![0]!["pos_end_m"]!, Is.GreaterThan(0.01));

        output = new StringWriter();
        Assert.That(ReplayCommand.ReplayToSim(path, null, json: true, null, output, windowS: 0.5), Is.EqualTo(0));
        result = JsonNode.Parse(output.ToString())!;
        Assert.That((double)result["pos_rmse_m"]!, Is.LessThanOrEqualTo(1e-3));
        Assert.That((double)result["att_rmse_rad"]!, Is.LessThanOrEqualTo(1e-3));
        Assert.That((double)result["pos_max_m"]!, Is.LessThanOrEqualTo(1e-3));
        Assert.That((string)result["reference"]!, Is.EqualTo("ground_truth"));
        Assert.That((double)result["window_s"]!, Is.EqualTo(0.5));
    }

    [Test]
    public void Windows_do_not_cross_a_gap_in_the_ticks()
    {
        // Ticks 0..99 at 2 ms, the records of tick 50 lost (a full recorder ring): its command is unknown.
        ulong T(int tick) => (ulong)tick * 2_000_000;
        int[] ticks = Enumerable.Range(0, 100).Where(t => t != 50).ToArray();
        var flight = new OpenLoopFlight
        {
            Source = "synthetic",
            GroundTruth = false,
            StepNs = 1_000_000,
            RotorSpeedsRecorded = true,
            CommandTime = ticks.Select(T).ToArray(),
            CommandTick = ticks.Select(t => (ulong)t).ToArray(),
            CommandAction = ticks.Select(_ => Vector4.Zero).ToArray(),
            CommandRpm = ticks.Select(_ => new Vector4(14000)).ToArray(),
            References = ticks.Select(t => new ReferenceState(T(t), (ulong)t, new Vector3(0, 0, 1), Quaternion.Identity, Vector3.Zero, Vector3.Zero, new Vector4(14000))).ToArray(),
        };
        List<FlightWindow> windows = flight.Windows(0.02);
        Assert.That(windows, Is.Not.Empty);
        foreach (FlightWindow w in windows)
        {
            ulong first = flight.References[w.First].Tick, last = flight.References[w.Last].Tick;
            Assert.That(first >= 51 || last <= 49, Is.True, $"window over ticks {first}..{last} crosses the lost tick 50");
            Assert.That(last - first, Is.EqualTo(10), "0.02 s = 10 ticks");
        }
        Assert.That(flight.Windows(0), Has.Count.EqualTo(2), "one open-loop run on each side of the gap");
    }
}
