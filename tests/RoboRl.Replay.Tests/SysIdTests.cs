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
