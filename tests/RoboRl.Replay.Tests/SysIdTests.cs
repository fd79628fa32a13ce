using System.Numerics;
using System.Text.Json.Nodes;
using RoboRl.Core.Quadrotor;

namespace RoboRl.Replay.Tests;

/// <summary>
/// Identification flights as a user flies them on a real Crazyflie: the node, flown by a scripted pilot, against a
/// plant that differs from the model sysid fits (<see cref="RealisticPlant"/>), with the shipped sensor noise. Each is
/// flown once per test process (lock-step, a few seconds of CPU).
/// </summary>
public static class RealisticLogs
{
    public static QuadrotorConfig Nominal => QuadrotorConfig.Load(Flights.RobotFile);
    public static string NominalJson => File.ReadAllText(Flights.RobotFile);
    /// <summary>A heavier Crazyflie with worn propellers and faster motors than the config says.</summary>
    public static QuadrotorConfig Heavy => Flights.Perturbed(Nominal, 1.15f, 0.90f, 0.10f);
    /// <summary>What a real Crazyflie adds: 2 control ticks (4 ms at 500 Hz) of action latency, rotor drag, no rotor speeds.</summary>
    public static PlantDifferences RealCrazyflie => new() { LatencyTicks = 2, DragNPerMS = PlantDifferences.CrazyflieDrag };
    public const double LatencyS = 2 / 500.0;

    private static readonly string Directory = Flights.TempDir();
    private static readonly Lazy<string> ManoeuvresLog = new(() => Fly("manoeuvres", Heavy, RealCrazyflie, 20));
    private static readonly Lazy<string> DrainingBatteryLog = new(() =>
        Fly("draining", Nominal, RealCrazyflie with { UncompensatedBatteryV = (4.2f, 3.7f), DrainS = 20 }, 20));
    private static readonly Lazy<string> UncompensatedLog = new(() => Fly("uncompensated", Nominal, RealCrazyflie with { UncompensatedBatteryV = (4.2f, 4.2f) }, 20));
    private static readonly Lazy<string> HoverLog = new(() => Fly("hover", Heavy, RealCrazyflie, 10, manoeuvre: 0, multiSine: 0));

    /// <summary>Climbs, descents, sideways moves and a multi-sine on each motor: what separates mass from thrust.</summary>
    public static string Manoeuvres => ManoeuvresLog.Value;
    /// <summary>The same flight with the firmware's battery compensation off and the battery falling from 4.2 to 3.7 V.</summary>
    public static string DrainingBattery => DrainingBatteryLog.Value;
    /// <summary>Battery compensation off at a steady 4.2 V: the force follows the propellers' voltage fit, not the command.</summary>
    public static string Uncompensated => UncompensatedLog.Value;
    /// <summary>Hovering in place, nothing else.</summary>
    public static string Hover => HoverLog.Value;

    private static string Fly(string name, QuadrotorConfig plant, PlantDifferences differences, double seconds, double manoeuvre = 1, double multiSine = 0.05)
    {
        string path = Path.Combine(Directory, name + ".mcap");
        NodeFlights.FlyRealistic(path, plant, differences, seconds, manoeuvre, multiSine);
        return path;
    }
}

public class SysIdTests
{
    private static SysIdResult Fit(string log, SysIdOptions? options = null)
    {
        SysIdResult fit = SystemIdentification.Fit([FlightLog.Load(log)], RealisticLogs.Nominal, RealisticLogs.NominalJson, options);
        TestContext.Out.WriteLine($"identified {fit.Identified}; mass {fit.Mass}; thrust {fit.ThrustCoefficient}; tau {fit.MotorTimeConstant}; ratio {fit.ThrustToMassRatio}; " +
            $"latency {fit.Latency}; drag {fit.DragXy} {fit.DragZ}; curve {fit.CurveExponent}; halves {fit.Halves}; windows {fit.Windows}\n  {string.Join("\n  ", fit.Problems)}");
        return fit;
    }

    private static void AssertRecovered(FittedParameter fitted, double truth)
    {
        Assert.That(fitted.Value, Is.EqualTo(truth).Within(5).Percent, fitted.Name);
        Assert.That(truth, Is.InRange(fitted.Ci95Low, fitted.Ci95High), $"{fitted.Name}: the 95 % interval must hold the plant's value");
    }

    [Test]
    public void A_realistic_flight_gives_mass_and_thrust_within_5_percent_with_intervals_that_hold_them()
    {
        QuadrotorConfig plant = RealisticLogs.Heavy;
        SysIdResult fit = Fit(RealisticLogs.Manoeuvres);

        Assert.That(fit.Identified, Is.True, string.Join("; ", fit.Problems));
        AssertRecovered(fit.Mass, plant.Mass);
        AssertRecovered(fit.ThrustCoefficient, plant.ThrustPolynomial.Z);
        Assert.That(fit.MotorTimeConstantIdentified, Is.True);
        Assert.That(fit.MotorTimeConstant.Value, Is.EqualTo(plant.MotorTimeConstant).Within(5).Percent);
        // The nuisances the model carries for a real vehicle: the plant's latency, a force proportional to the command.
        Assert.That(fit.LatencyIdentified, Is.True);
        Assert.That(RealisticLogs.LatencyS, Is.InRange(fit.Latency.Ci95Low, fit.Latency.Ci95High));
        Assert.That(1.0, Is.InRange(fit.CurveExponent.Ci95Low, fit.CurveExponent.Ci95High));
        Assert.That(fit.DragIdentified, Is.True);
        Assert.That(fit.DragXy.Value, Is.EqualTo(PlantDifferences.CrazyflieDrag.X).Within(15).Percent);
        Assert.That(fit.DragZ.Value, Is.EqualTo(PlantDifferences.CrazyflieDrag.Z).Within(15).Percent);
        Assert.That(fit.Halves.Consistent, Is.True);

        // The written config is a valid robot config carrying the fitted values and their provenance.
        QuadrotorConfig written = QuadrotorConfig.Read(Core.Configs.ConfigNode.Parse(fit.FittedConfigJson!, "fitted"));
        Assert.That(written.Mass, Is.EqualTo(fit.Mass.Value).Within(1e-6));
        Assert.That(written.ThrustPolynomial.Z, Is.EqualTo(fit.ThrustCoefficient.Value).Within(1e-4).Percent);
        Assert.That(written.Sources["mass"], Does.Contain("fitted by roborl sysid from manoeuvres.mcap").And.Contain("95 % CI"));
    }

    [Test]
    public void Without_battery_compensation_a_draining_battery_is_refused_plainly()
    {
        SysIdResult fit = Fit(RealisticLogs.DrainingBattery);
        Assert.That(fit.Identified, Is.False);
        Assert.That(fit.FittedConfigJson, Is.Null);
        Assert.That(fit.Problems, Has.Some.Contains("battery compensation"));
        // Both signs of it: the thrust per command changes over the flight, and it is not proportional to the command.
        Assert.That(fit.Halves.Consistent, Is.False);
        Assert.That(fit.Problems, Has.Some.Contains("changes during the flight"));
    }

    [Test]
    public void A_force_curve_other_than_the_actuations_is_refused_plainly()
    {
        SysIdResult fit = Fit(RealisticLogs.Uncompensated);
        Assert.That(fit.Identified, Is.False);
        Assert.That(fit.FittedConfigJson, Is.Null);
        Assert.That(1.0, Is.Not.InRange(fit.CurveExponent.Ci95Low, fit.CurveExponent.Ci95High));
        Assert.That(fit.Problems, Has.Some.Contains("not proportional to the command"));
    }

    [Test]
    public void From_hover_alone_only_the_thrust_to_mass_ratio_is_identified()
    {
        QuadrotorConfig plant = RealisticLogs.Heavy;
        SysIdResult fit = Fit(RealisticLogs.Hover);
        Assert.That(fit.Identified, Is.False);
        Assert.That(fit.MassThrustSeparable, Is.False);
        Assert.That(fit.Problems, Has.Some.Contains("only their ratio").And.Contains("--mass"));
        AssertRecovered(fit.ThrustToMassRatio, plant.ThrustPolynomial.Z / plant.Mass);
        // Nothing moves the motors much either: the motor lag and the latency trade off, and neither is claimed; nor is
        // the drag of a vehicle that hardly moves.
        Assert.That(fit.MotorTimeConstantIdentified, Is.False);
        Assert.That(fit.DragIdentified, Is.False);
    }

    [Test]
    public void A_weighed_mass_makes_a_hover_enough_for_the_thrust_coefficient()
    {
        QuadrotorConfig plant = RealisticLogs.Heavy;
        SysIdResult fit = Fit(RealisticLogs.Hover, new SysIdOptions { KnownMassKg = plant.Mass });
        Assert.That(fit.Identified, Is.True, string.Join("; ", fit.Problems));
        Assert.That(fit.MassKnown, Is.True);
        Assert.That(fit.Mass.Value, Is.EqualTo(plant.Mass).Within(1e-9));
        AssertRecovered(fit.ThrustCoefficient, plant.ThrustPolynomial.Z);
        QuadrotorConfig written = QuadrotorConfig.Read(Core.Configs.ConfigNode.Parse(fit.FittedConfigJson!, "fitted"));
        Assert.That(written.Sources["mass"], Does.Contain("--mass"));
        Assert.That(written.MotorTimeConstant, Is.EqualTo(RealisticLogs.Nominal.MotorTimeConstant), "a motor lag not identified keeps the base value");
    }
}

public class SysidCommandTests
{
    [Test]
    public void Sysid_on_a_realistic_flight_exits_0_with_the_fitted_values_and_writes_the_config()
    {
        string fitted = Path.Combine(Flights.TempDir(), "fitted.json");
        QuadrotorConfig plant = RealisticLogs.Heavy;
        var output = new StringWriter();
        int rc = Cli.Commands.SysidCommand.Run([RealisticLogs.Manoeuvres], Flights.RobotFile, fitted, 0.25, json: true, output, new StringWriter());
        Assert.That(rc, Is.EqualTo(0));
        JsonNode result = JsonNode.Parse(output.ToString())!;
        Assert.That((bool)result["identified"]!, Is.True);
        Assert.That((double)result["mass_kg"]!["value"]!, Is.EqualTo(plant.Mass).Within(5).Percent);
        Assert.That((double)result["thrust_coefficient_n_per_rpm2"]!["value"]!, Is.EqualTo(plant.ThrustPolynomial.Z).Within(5).Percent);
        Assert.That(result["mass_kg"]!["ci95"]!.AsArray(), Has.Count.EqualTo(2));
        Assert.That((double)result["latency_s"]!["value"]!, Is.EqualTo(RealisticLogs.LatencyS).Within(1e-3));
        Assert.That((string)result["output"]!, Is.EqualTo(fitted));
        QuadrotorConfig written = QuadrotorConfig.Load(fitted);
        Assert.That(written.Mass, Is.EqualTo(plant.Mass).Within(5).Percent);
        Assert.That(written.Sources["motor_time_constant"], Does.Contain("fitted by roborl sysid from manoeuvres.mcap"));
    }

    [Test]
    public void Sysid_that_cannot_identify_exits_1_says_why_and_writes_nothing()
    {
        string fitted = Path.Combine(Flights.TempDir(), "fitted.json");
        var output = new StringWriter();
        var progress = new StringWriter();
        int rc = Cli.Commands.SysidCommand.Run([RealisticLogs.DrainingBattery], Flights.RobotFile, fitted, 0.25, json: false, output, progress);
        Assert.That(rc, Is.EqualTo(1));
        Assert.That(progress.ToString(), Does.Contain("sysid: cannot identify: ").And.Contain("battery compensation"));
        Assert.That(output.ToString(), Does.Contain("NOT identified").And.Contain("nothing written"));
        Assert.That(File.Exists(fitted), Is.False);
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

    [TestCase(0.0, null, "--window 0")]
    [TestCase(0.25, -0.03, "--mass -0.03")]
    public void Bad_flags_exit_2_naming_the_flag(double window, double? mass, string named)
    {
        var progress = new StringWriter();
        int rc = Cli.Commands.SysidCommand.Run(["unused.mcap"], Flights.RobotFile, "out.json", window, json: false, new StringWriter(), progress, mass);
        Assert.That(rc, Is.EqualTo(2));
        Assert.That(progress.ToString(), Does.Contain(named));
    }
}
