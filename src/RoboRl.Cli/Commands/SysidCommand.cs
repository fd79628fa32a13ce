using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using RoboRl.Core.Configs;
using RoboRl.Core.Quadrotor;
using RoboRl.Replay;

namespace RoboRl.Cli.Commands;

/// <summary>
/// `roborl sysid LOG… --robot BASE.json -o FITTED.json [--mass KG] [--json]`: mass, thrust coefficient and motor lag from
/// flight logs (docs/sysid.md). Exit codes: 0 identified (FITTED written), 1 not identifiable from these logs (said why;
/// nothing written), 2 bad input, 3 runtime fault.
/// </summary>
public static class SysidCommand
{
    public static Command Create()
    {
        var logs = new Argument<string[]>("logs") { Description = "Flight logs (MCAP) recorded by the node.", Arity = ArgumentArity.OneOrMore };
        var robot = new Option<string>("--robot") { Description = "Base robot config; inertia, geometry and actuation stay fixed.", Required = true };
        var outputPath = new OutputOption("Where to write the fitted robot config (only when identified).");
        outputPath.Option.Required = true;
        var window = new Option<double>("--window") { Description = "Open-loop window length, seconds.", DefaultValueFactory = _ => 0.25 };
        var mass = new Option<double?>("--mass") { Description = "The weighed mass, kg: fit only thrust and motor lag (hover alone then identifies them)." };
        var json = new Option<bool>("--json") { Description = "Print the result as one JSON object (keys with units: mass_kg, thrust_coefficient_n_per_rpm2, motor_time_constant_s, …)." };
        var command = new Command("sysid", "Fit mass, thrust coefficient and motor time constant to flight logs (Levenberg–Marquardt through the simulator), or say why the logs cannot tell them.")
        {
            logs, robot, window, mass, json,
        };
        outputPath.AddTo(command);
        command.SetAction(parse => Run(parse.GetValue(logs)!, parse.GetValue(robot)!, outputPath.Get(parse)!, parse.GetValue(window),
            parse.GetValue(json), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, parse.GetValue(mass)));
        return command;
    }

    public static int Run(string[] logPaths, string robotPath, string outputPath, double windowS, bool json, TextWriter output, TextWriter progress,
        double? knownMassKg = null)
    {
        var io = new CommandIo("sysid", output, progress, json);
        return io.Run(() =>
        {
            if (!(windowS > 0) || double.IsInfinity(windowS)) throw CliException.BadInput($"--window {windowS}: must be a positive number of seconds");
            if (knownMassKg is double m && !(m > 0 && m < 1000)) throw CliException.BadInput($"--mass {m}: expected kilograms > 0");
            PathArguments.InputFile(robotPath, "--robot", "a quadrotor robot config (configs/robots/crazyflie21.json)");
            RequireQuadrotor(robotPath);
            foreach (string log in logPaths) PathArguments.InputFile(log, "LOG", "an MCAP flight log recorded by the node");
            PathArguments.OutputFile(outputPath, "--output");
            QuadrotorConfig baseRobot = QuadrotorConfig.Load(robotPath);
            var logs = logPaths.Select(FlightLog.Load).ToList();
            foreach (FlightLog l in logs.Where(l => !l.IsComplete)) io.Note($"{l.Path} is damaged; using what is readable ({l.DescribeStop()})");
            SysIdResult fit;
            try { fit = SystemIdentification.Fit(logs, baseRobot, File.ReadAllText(robotPath), new SysIdOptions { WindowS = windowS, KnownMassKg = knownMassKg }); }
            catch (Exception e) when (e is ArithmeticException or InvalidOperationException) { throw CliException.Fault($"the fit failed: {e.Message}"); }
            if (fit.FittedConfigJson is not null) File.WriteAllText(outputPath, fit.FittedConfigJson);
            foreach (string problem in fit.Problems) io.Note($"cannot identify: {problem}");
            if (!fit.MotorTimeConstantIdentified) io.Note("the motor time constant is not identified by these logs (its 95 % interval is too wide); the base value is kept");
            return Report(fit, windowS, fit.FittedConfigJson is null ? null : outputPath, io);
        });
    }

    /// <summary>sysid fits a quadrotor's mass, thrust coefficient and motor lag: another kind of robot is named as such.</summary>
    private static void RequireQuadrotor(string robotPath)
    {
        ConfigNode robot = ConfigNode.LoadFile(robotPath);
        if (robot.Keys.Contains("kind") && robot.String("kind") is var kind && kind != "quadrotor")
            throw CliException.BadInput($"--robot {robotPath}: {(kind == "diff_drive" ? "a differential-drive robot" : $"a \"{kind}\" robot")} (\"kind\": \"{kind}\"); sysid fits quadrotors (mass, thrust coefficient, motor time constant): give a quadrotor config such as configs/robots/crazyflie21.json");
    }

    private static int Report(SysIdResult fit, double windowS, string? written, CommandIo io)
    {
        static JsonNode? Number(double v) => double.IsFinite(v) ? JsonValue.Create(v) : null;
        static JsonNode Param(FittedParameter p) => new JsonObject
        {
            ["value"] = Number(p.Value),
            ["ci95"] = new JsonArray(Number(p.Ci95Low), Number(p.Ci95High)),
            ["std_error"] = Number(p.StdError),
        };
        var result = new JsonObject
        {
            ["identified"] = fit.Identified,
            ["problems"] = new JsonArray(fit.Problems.Select(p => (JsonNode)p).ToArray()),
            ["mass_kg"] = Param(fit.Mass),
            ["mass_known"] = fit.MassKnown,
            ["thrust_coefficient_n_per_rpm2"] = Param(fit.ThrustCoefficient),
            ["motor_time_constant_s"] = Param(fit.MotorTimeConstant),
            ["motor_time_constant_identified"] = fit.MotorTimeConstantIdentified,
            ["thrust_to_mass_n_per_rpm2_kg"] = Param(fit.ThrustToMassRatio),
            ["latency_s"] = Param(fit.Latency),
            ["latency_identified"] = fit.LatencyIdentified,
            ["drag_xy_n_per_m_s"] = Param(fit.DragXy),
            ["drag_z_n_per_m_s"] = Param(fit.DragZ),
            ["drag_identified"] = fit.DragIdentified,
            ["mass_thrust_separable"] = fit.MassThrustSeparable,
            ["mass_thrust_correlation"] = Number(fit.MassThrustCorrelation),
            ["halves"] = new JsonObject
            {
                ["first"] = Param(fit.Halves.First),
                ["second"] = Param(fit.Halves.Second),
                ["z"] = Number(fit.Halves.Z),
                ["relative_difference"] = Number(fit.Halves.RelativeDifference),
                ["consistent"] = fit.Halves.Consistent,
            },
            ["force_curve_exponent"] = Param(fit.CurveExponent),
            ["residual_rms"] = fit.ResidualRms,
            ["position_residual_rms_m"] = fit.PositionResidualRmsM,
            ["windows"] = fit.Windows,
            ["iterations"] = fit.Iterations,
            ["output"] = written,
        };
        TextWriter output = io.Text;
        string Line(string name, FittedParameter p, string unit, string note = "") =>
            string.Create(CultureInfo.InvariantCulture, $"  {name,-20} {p.Value:G5} {unit}  95 % CI [{p.Ci95Low:G5}, {p.Ci95High:G5}]{note}");
        output.WriteLine($"sysid: {fit.Windows} windows of {windowS.ToString("G3", CultureInfo.InvariantCulture)} s, {fit.Iterations} iterations");
        output.WriteLine(Line("mass", fit.Mass, "kg", fit.MassKnown ? " (given)" : fit.Identified ? "" : " (not identified)"));
        output.WriteLine(Line("thrust_coefficient", fit.ThrustCoefficient, "N/rpm²", fit.Identified ? "" : " (not identified)"));
        output.WriteLine(Line("motor_time_constant", fit.MotorTimeConstant, "s", fit.MotorTimeConstantIdentified ? "" : " (not identified)"));
        output.WriteLine(Line("thrust/mass", fit.ThrustToMassRatio, "N/(rpm²·kg)"));
        string dragNote = (fit.DragIdentified ? "" : " (not identified)") + " (reported only: robot configs have no drag)";
        output.WriteLine(Line("drag xy", fit.DragXy, "N/(m/s)", dragNote));
        output.WriteLine(Line("drag z", fit.DragZ, "N/(m/s)", dragNote));
        output.WriteLine(Line("action latency", fit.Latency, "s", fit.LatencyIdentified ? "" : " (not identified)"));
        output.WriteLine(Line("force curve exponent", fit.CurveExponent, "", " (the actuation's: 1)"));
        ConsistencyCheck h = fit.Halves;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  thrust/mass, first vs second half: {h.First.Value:G4} vs {h.Second.Value:G4} ({100 * h.RelativeDifference:F1} % apart, {h.Z:F1} SE): {(h.Consistent ? "consistent" : "DISAGREE")}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  residual rms {fit.ResidualRms:G4} (position {fit.PositionResidualRmsM * 1000:F3} mm)"));
        output.WriteLine(fit.Identified ? $"sysid: identified; wrote {written}" : $"sysid: NOT identified ({fit.Problems.Count} problem(s) above); nothing written");
        return io.Result(result, fit.Identified ? ExitCodes.Ok : ExitCodes.Failed);
    }
}
