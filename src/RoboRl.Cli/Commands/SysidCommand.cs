using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using RoboRl.Core.Configs;
using RoboRl.Core.Quadrotor;
using RoboRl.Replay;

namespace RoboRl.Cli.Commands;

/// <summary>`roborl sysid LOG… --robot BASE.json -o FITTED.json`: mass, thrust coefficient and motor lag from flight logs.</summary>
public static class SysidCommand
{
    public static Command Create()
    {
        var logs = new Argument<string[]>("logs") { Description = "Flight logs (MCAP) recorded by the node.", Arity = ArgumentArity.OneOrMore };
        var robot = new Option<string>("--robot") { Description = "Base robot config; inertia and geometry stay fixed.", Required = true };
        var outputPath = new OutputOption("Where to write the fitted robot config.");
        outputPath.Option.Required = true;
        var window = new Option<double>("--window") { Description = "Open-loop window length, seconds.", DefaultValueFactory = _ => 0.25 };
        var json = new Option<bool>("--json") { Description = "Print the result as one JSON object (keys with units: mass_kg, thrust_coefficient_n_per_rpm2, motor_time_constant_s, …)." };
        var command = new Command("sysid", "Fit mass, thrust coefficient and motor time constant to flight logs (Levenberg–Marquardt through the simulator).")
        {
            logs, robot, window, json,
        };
        outputPath.AddTo(command);
        command.SetAction(parse => Run(parse.GetValue(logs)!, parse.GetValue(robot)!, outputPath.Get(parse)!, parse.GetValue(window),
            parse.GetValue(json), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return command;
    }

    public static int Run(string[] logPaths, string robotPath, string outputPath, double windowS, bool json, TextWriter output, TextWriter progress)
    {
        var io = new CommandIo("sysid", output, progress, json);
        return io.Run(() =>
        {
            if (!(windowS > 0)) throw CliException.BadInput($"--window {windowS}: must be a positive number of seconds");
            PathArguments.InputFile(robotPath, "--robot", "a quadrotor robot config (configs/robots/crazyflie21.json)");
            RequireQuadrotor(robotPath);
            foreach (string log in logPaths) PathArguments.InputFile(log, "LOG", "an MCAP flight log recorded by the node");
            PathArguments.OutputFile(outputPath, "--output");
            QuadrotorConfig baseRobot = QuadrotorConfig.Load(robotPath);
            var logs = logPaths.Select(FlightLog.Load).ToList();
            foreach (FlightLog l in logs.Where(l => !l.IsComplete)) io.Note($"{l.Path} is damaged; using what is readable ({l.DescribeStop()})");
            SysIdResult fit = SystemIdentification.Fit(logs, baseRobot, File.ReadAllText(robotPath), new SysIdOptions { WindowS = windowS });
            File.WriteAllText(outputPath, fit.FittedConfigJson);
            if (fit.Warning is not null) io.Note(fit.Warning);
            return Report(fit, outputPath, io);
        });
    }

    /// <summary>sysid fits a quadrotor's mass, thrust coefficient and motor lag: another kind of robot is named as such.</summary>
    private static void RequireQuadrotor(string robotPath)
    {
        ConfigNode robot = ConfigNode.LoadFile(robotPath);
        if (robot.Keys.Contains("kind") && robot.String("kind") is var kind && kind != "quadrotor")
            throw CliException.BadInput($"--robot {robotPath}: {(kind == "diff_drive" ? "a differential-drive robot" : $"a \"{kind}\" robot")} (\"kind\": \"{kind}\"); sysid fits quadrotors (mass, thrust coefficient, motor time constant): give a quadrotor config such as configs/robots/crazyflie21.json");
    }

    private static int Report(SysIdResult fit, string outputPath, CommandIo io)
    {
        static JsonNode? Param(FittedParameter? p) => p is null ? null : new JsonObject
        {
            ["value"] = p.Value, ["ci95"] = new JsonArray(p.Ci95Low, p.Ci95High), ["std_error"] = p.StdError,
        };
        var result = new JsonObject
        {
            ["mass_kg"] = Param(fit.Mass), ["thrust_coefficient_n_per_rpm2"] = Param(fit.ThrustCoefficient), ["motor_time_constant_s"] = Param(fit.MotorTimeConstant),
            ["thrust_to_mass_n_per_rpm2_kg"] = Param(fit.ThrustToMassRatio), ["residual_rms"] = fit.ResidualRms, ["position_residual_rms_m"] = fit.PositionResidualRmsM,
            ["mass_thrust_separable"] = fit.MassThrustSeparable, ["mass_thrust_correlation"] = double.IsFinite(fit.MassThrustCorrelation) ? fit.MassThrustCorrelation : null,
            ["windows"] = fit.Windows, ["iterations"] = fit.Iterations, ["warning"] = fit.Warning, ["output"] = outputPath,
        };
        string Line(string name, FittedParameter? p, string unit) => p is null ? $"  {name,-20} not identifiable from these logs" :
            string.Create(CultureInfo.InvariantCulture, $"  {name,-20} {p.Value:G5} {unit}  95 % CI [{p.Ci95Low:G5}, {p.Ci95High:G5}]");
        TextWriter output = io.Text;
        output.WriteLine($"sysid: {fit.Windows} windows, {fit.Iterations} iterations");
        output.WriteLine(Line("mass", fit.Mass, "kg"));
        output.WriteLine(Line("thrust_coefficient", fit.ThrustCoefficient, "N/rpm²"));
        output.WriteLine(Line("motor_time_constant", fit.MotorTimeConstant, "s"));
        output.WriteLine(Line("thrust/mass", fit.ThrustToMassRatio, "N/(rpm²·kg)"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  residual rms {fit.ResidualRms:G4} (position {fit.PositionResidualRmsM * 1000:F3} mm); wrote {outputPath}"));
        return io.Result(result);
    }
}
