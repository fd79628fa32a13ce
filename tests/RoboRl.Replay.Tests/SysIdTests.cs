using RoboRl.Core.Quadrotor;

namespace RoboRl.Replay.Tests;

public class SysIdTests
{
    [Test]
    public void Recovers_perturbed_mass_thrust_and_motor_lag_within_5_percent()
    {
        string dir = Flights.TempDir(), log = Path.Combine(dir, "perturbed.mcap");
        string json = File.ReadAllText(Flights.RobotFile);
        QuadrotorConfig nominal = QuadrotorConfig.Load(Flights.RobotFile);
        QuadrotorConfig plant = Flights.Perturbed(nominal, 1.15f, 0.90f, 0.10f);
        Flights.Fly(log, json, plant, seconds: 6);

        SysIdResult fit = SystemIdentification.Fit([FlightLog.Load(log)], nominal, json);
        TestContext.Out.WriteLine($"mass {fit.Mass} thrust {fit.ThrustCoefficient} tau {fit.MotorTimeConstant} corr {fit.MassThrustCorrelation} rms {fit.ResidualRms} it {fit.Iterations}");
        Assert.That(fit.MassThrustSeparable, Is.True, fit.Warning);
        Assert.That(fit.Mass!.Value, Is.EqualTo(plant.Mass).Within(5).Percent);
        Assert.That(fit.ThrustCoefficient!.Value, Is.EqualTo(plant.ThrustPolynomial.Z).Within(5).Percent);
        Assert.That(fit.MotorTimeConstant.Value, Is.EqualTo(0.10).Within(5).Percent);
        Assert.That(fit.Mass.Ci95Low, Is.LessThanOrEqualTo(fit.Mass.Value));
        Assert.That(fit.Mass.Ci95High, Is.GreaterThanOrEqualTo(fit.Mass.Value));

        // The written config is a valid robot config carrying the fitted values and their provenance.
        QuadrotorConfig written = QuadrotorConfig.Read(Core.Configs.ConfigNode.Parse(fit.FittedConfigJson, "fitted"));
        Assert.That(written.Mass, Is.EqualTo(fit.Mass.Value).Within(1e-6));
        Assert.That(written.Sources["mass"], Does.Contain("fitted by roborl sysid from perturbed.mcap"));
    }

    [Test]
    public void Without_rotational_excitation_only_the_thrust_to_mass_ratio_is_reported()
    {
        string dir = Flights.TempDir(), log = Path.Combine(dir, "hover.mcap");
        string json = File.ReadAllText(Flights.RobotFile);
        QuadrotorConfig nominal = QuadrotorConfig.Load(Flights.RobotFile);
        // A level, nominal hover: all rotors equal, nothing turns; mass and thrust enter only as their ratio.
        Flights.Fly(log, json, nominal, seconds: 3, excitation: 0);

        SysIdResult fit = SystemIdentification.Fit([FlightLog.Load(log)], nominal, json);
        TestContext.Out.WriteLine($"corr {fit.MassThrustCorrelation} ratio {fit.ThrustToMassRatio} {fit.Warning}");
        Assert.That(fit.MassThrustSeparable, Is.False);
        Assert.That(fit.Mass, Is.Null);
        Assert.That(fit.Warning, Does.Contain("only their ratio"));
        Assert.That(fit.ThrustToMassRatio.Value, Is.EqualTo(nominal.ThrustPolynomial.Z / nominal.Mass).Within(5).Percent);
    }
}

public class SysidCommandTests
{
    [Test]
    public void Sysid_json_names_the_fitted_values_and_writes_a_valid_robot_config()
    {
        string dir = Flights.TempDir(), log = Path.Combine(dir, "perturbed.mcap"), fitted = Path.Combine(dir, "fitted.json");
        QuadrotorConfig nominal = QuadrotorConfig.Load(Flights.RobotFile);
        QuadrotorConfig plant = Flights.Perturbed(nominal, 1.15f, 0.90f, 0.10f);
        Flights.Fly(log, File.ReadAllText(Flights.RobotFile), plant, seconds: 4);
        var output = new StringWriter();
        int rc = Cli.Commands.SysidCommand.Run([log], Flights.RobotFile, fitted, 0.25, json: true, output, new StringWriter());
        Assert.That(rc, Is.EqualTo(0));
        var result = System.Text.Json.Nodes.JsonNode.Parse(output.ToString())!;
        Assert.That((double)result["mass_kg"]!["value"]!, Is.EqualTo(plant.Mass).Within(5).Percent);
        Assert.That((double)result["thrust_coefficient_n_per_rpm2"]!["value"]!, Is.EqualTo(plant.ThrustPolynomial.Z).Within(5).Percent);
        Assert.That((double)result["motor_time_constant_s"]!["value"]!, Is.EqualTo(0.10).Within(5).Percent);
        Assert.That(result["mass_kg"]!["ci95"]!.AsArray(), Has.Count.EqualTo(2));
        Assert.That(result["residual_rms"], Is.Not.Null);
        QuadrotorConfig written = QuadrotorConfig.Load(fitted);
        Assert.That(written.MotorTimeConstant, Is.EqualTo(0.10).Within(5).Percent);
        Assert.That(written.Sources["motor_time_constant"], Does.Contain("fitted by roborl sysid from perturbed.mcap"));
    }

    [Test]
    public void A_log_without_airborne_state_is_refused_clearly()
    {
        string dir = Flights.TempDir(), path = Path.Combine(dir, "empty.mcap");
        using (var w = Logs.McapWriter.Create(path)) w.RegisterRos2Channel<Core.Messages.PoseStampedMsg>("/pose");
        var progress = new StringWriter();
        int rc = Cli.Commands.SysidCommand.Run([path], Flights.RobotFile, Path.Combine(dir, "out.json"), 0.25, json: true, new StringWriter(), progress);
        Assert.That(rc, Is.EqualTo(2));
        Assert.That(progress.ToString(), Does.Contain("empty.mcap"));
    }
}
