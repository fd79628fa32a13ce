using System.Text.Json.Nodes;
using RoboRl.Cli.Commands;
using RoboRl.Core.Policy;
using RoboRl.Core.Quadrotor;

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
            Layers = layers, ObservationNames = b.ObservationNames, ActionNames = b.ActionNames, ObservationMean = b.ObservationMean,
            ObservationStd = b.ObservationStd, ActionLow = b.ActionLow, ActionHigh = b.ActionHigh, ActionUnit = b.ActionUnit,
            ControlRateHz = b.ControlRateHz, ActionHistoryLength = b.ActionHistoryLength, RobotConfigJson = b.RobotConfigJson,
            TrainingConfigJson = b.TrainingConfigJson, GitCommit = b.GitCommit, GoldenObservations = b.GoldenObservations, GoldenActions = golden,
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
            Layers = b.Layers, ObservationNames = b.ObservationNames, ActionNames = b.ActionNames, ObservationMean = b.ObservationMean,
            ObservationStd = b.ObservationStd, ActionLow = b.ActionLow, ActionHigh = b.ActionHigh, ActionUnit = b.ActionUnit,
            ControlRateHz = b.ControlRateHz, ActionHistoryLength = b.ActionHistoryLength, RobotConfigJson = heavier,
            TrainingConfigJson = b.TrainingConfigJson, GitCommit = b.GitCommit, GoldenObservations = [], GoldenActions = [],
        } : null!;
        var e = Assert.Throws<FlightLogException>(() => PolicyReplay.Run(log, otherRobot))!;
        Assert.That(e.Message, Does.Contain("robot").And.Contain("mass"));

        var renamed = new PolicyBundle
        {
            Layers = bundle.Layers, ObservationNames = bundle.ObservationNames.Select((n, i) => i == 3 ? "something_else" : n).ToArray(),
            ActionNames = bundle.ActionNames, ObservationMean = bundle.ObservationMean, ObservationStd = bundle.ObservationStd,
            ActionLow = bundle.ActionLow, ActionHigh = bundle.ActionHigh, ActionUnit = bundle.ActionUnit, ControlRateHz = bundle.ControlRateHz,
            ActionHistoryLength = bundle.ActionHistoryLength, RobotConfigJson = bundle.RobotConfigJson, TrainingConfigJson = bundle.TrainingConfigJson,
            GitCommit = bundle.GitCommit, GoldenObservations = [], GoldenActions = [],
        };
        e = Assert.Throws<FlightLogException>(() => PolicyReplay.Run(log, renamed))!;
        Assert.That(e.Message, Does.Contain("observation.names element 3"));

        var shorterHistory = new PolicyBundle
        {
            Layers = bundle.Layers, ObservationNames = bundle.ObservationNames, ActionNames = bundle.ActionNames, ObservationMean = bundle.ObservationMean,
            ObservationStd = bundle.ObservationStd, ActionLow = bundle.ActionLow, ActionHigh = bundle.ActionHigh, ActionUnit = bundle.ActionUnit,
            ControlRateHz = bundle.ControlRateHz, ActionHistoryLength = bundle.ActionHistoryLength - 1, RobotConfigJson = bundle.RobotConfigJson,
            TrainingConfigJson = bundle.TrainingConfigJson, GitCommit = bundle.GitCommit, GoldenObservations = [], GoldenActions = [],
        };
        e = Assert.Throws<FlightLogException>(() => PolicyReplay.Run(log, shorterHistory))!;
        Assert.That(e.Message, Does.Contain("action_history_length"));
    }

    [Test]
    public void Sim_replay_tracks_the_recording_on_its_own_plant_and_not_on_another()
    {
        string dir = Flights.TempDir(), path = Path.Combine(dir, "flight.mcap");
        NodeFlights.Fly(path, NodeFlights.Bundle(), seconds: 2);
        FlightLog log = FlightLog.Load(path);
        QuadrotorConfig nominal = QuadrotorConfig.Load(Flights.RobotFile);
        SimReplayResult same = SimReplay.Run(log, nominal);
        SimReplayResult heavy = SimReplay.Run(log, Flights.Perturbed(nominal, 1.15f, 1f, nominal.MotorTimeConstant), nominal);
        TestContext.Out.WriteLine($"same {same.PositionRmseM} {same.AttitudeRmseRad}; heavy {heavy.PositionRmseM} {heavy.AttitudeRmseRad}");
        Assert.That(same.Duration, Is.GreaterThan(1.9));
        Assert.That(same.PositionRmseM, Is.LessThan(1e-3));
        Assert.That(same.AttitudeRmseRad, Is.LessThan(1e-3));
        Assert.That(heavy.PositionRmseM, Is.GreaterThan(0.1));

        string heavyFile = Path.Combine(dir, "heavy.json");
        File.WriteAllText(heavyFile, File.ReadAllText(Flights.RobotFile).Replace("\"mass\": 0.027", "\"mass\": 0.031"));
        var output = new StringWriter();
        Assert.That(ReplayCommand.ReplayToSim(path, heavyFile, json: true, null, output), Is.EqualTo(0));
        JsonNode result = JsonNode.Parse(output.ToString())!;
        Assert.That((double)result["pos_rmse_m"]!, Is.GreaterThan(0.1));
        Assert.That(result["att_rmse_rad"], Is.Not.Null);
    }
}
