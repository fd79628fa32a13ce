using System.Globalization;
using RoboRl.Core.Policy;
using RoboRl.Core.Tasks;

namespace RoboRl.Training.Evaluation;

/// <summary>The one parameter a robustness sweep varies (`roborl eval BUNDLE --sweep NAME`).</summary>
public enum SweepParameter { Mass, Thrust, MotorTimeConstant, Latency, Disturbance, Noise }

/// <summary>One swept value: the task's evaluation (success rule, episode length, initial states) with the parameter at
/// <see cref="Value"/> and everything else nominal.</summary>
public sealed record SweepRow(double Value, double SuccessRate, double CrashRate, bool InsideTrainingRange);

/// <summary>A finished sweep. <see cref="TrainingRange"/> is in the sweep's own units (factor or control steps).</summary>
public sealed record SweepResult(
    SweepParameter Parameter,
    (double Low, double High) TrainingRange,
    IReadOnlyList<SweepRow> Rows,
    int Episodes,
    ulong Seed)
{
    /// <summary>
    /// The run of consecutive swept values around the nominal one (the value closest to it) that all reach
    /// <paramref name="successRate"/>: the envelope a user can fly in. Null when the nominal value itself falls short.
    /// </summary>
    public (double Low, double High)? SuccessRange(double successRate)
    {
        if (Rows.Count == 0) return null;
        double nominal = RobustnessSweep.NominalValue(Parameter);
        int center = 0;
        for (int k = 1; k < Rows.Count; k++)
            if (Math.Abs(Rows[k].Value - nominal) < Math.Abs(Rows[center].Value - nominal)) center = k;
        if (Rows[center].SuccessRate < successRate) return null;
        int low = center, high = center;
        while (low > 0 && Rows[low - 1].SuccessRate >= successRate) low--;
        while (high < Rows.Count - 1 && Rows[high + 1].SuccessRate >= successRate) high++;
        return (Rows[low].Value, Rows[high].Value);
    }
}

/// <summary>
/// The robustness envelope of a hover policy: varies ONE parameter at a time across and beyond the range the policy was
/// trained on, every other one nominal (robot-config factors 1, latency 0, the task's evaluation disturbance and
/// observation noise), and measures success and crash rates per value with <see cref="PolicyEvaluator"/> (the C#
/// engine, as deployed) under the task's evaluation rules.
/// <list type="bullet">
/// <item>mass, thrust (thrust coefficient), motor_time_constant: factors of the robot config's value;</item>
/// <item>latency: whole control steps of action delay;</item>
/// <item>disturbance: factor on the evaluation's constant-disturbance std (force and torque);</item>
/// <item>noise: factor on the task's observation-noise std (every component).</item>
/// </list>
/// Every value is flown from the same seed, so each sees the same starts and the same disturbance and noise draws
/// (scaled): differences between rows come from the parameter, not from the draws.
/// The parameters are scaled where the simulator already holds them per episode (mass, thrust scale, motor time
/// constant, latency, disturbance and noise std); nothing here models the actuator itself.
/// </summary>
public static class RobustnessSweep
{
    /// <summary>Command-line names, in <see cref="SweepParameter"/> order.</summary>
    public static IReadOnlyList<string> Names { get; } = ["mass", "thrust", "motor_time_constant", "latency", "disturbance", "noise"];

    public static string Name(SweepParameter parameter) => Names[(int)parameter];

    public static bool TryParse(string name, out SweepParameter parameter)
    {
        int index = Names.ToList().IndexOf(name);
        parameter = (SweepParameter)Math.Max(index, 0);
        return index >= 0;
    }

    /// <summary>What a value of the parameter means, for the table header and the plot's axis.</summary>
    public static string Unit(SweepParameter parameter) => parameter switch
    {
        SweepParameter.Mass => "factor of the robot config's mass",
        SweepParameter.Thrust => "factor of the robot config's thrust coefficient",
        SweepParameter.MotorTimeConstant => "factor of the robot config's motor time constant",
        SweepParameter.Latency => "action delay, control steps",
        SweepParameter.Disturbance => "factor of the evaluation's disturbance std (force and torque)",
        _ => "factor of the task's observation-noise std",
    };

    /// <summary>A swept value as the table shows it: latency in whole steps, factors with two decimals.</summary>
    public static string Format(SweepParameter parameter, double value) =>
        value.ToString(parameter == SweepParameter.Latency ? "F0" : "F2", CultureInfo.InvariantCulture);

    /// <summary>The value at which the parameter is nominal: factor 1, latency 0.</summary>
    public static double NominalValue(SweepParameter parameter) => parameter == SweepParameter.Latency ? 0 : 1;

    /// <summary>Default grids: across the default task's training ranges and well beyond them on both sides.</summary>
    public static double[] DefaultValues(SweepParameter parameter) => parameter switch
    {
        SweepParameter.Mass => Steps(0.5, 1.6, 0.1),
        SweepParameter.Thrust => Steps(0.5, 1.5, 0.1),
        SweepParameter.MotorTimeConstant => [0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 4],
        SweepParameter.Latency => [0, 1, 2, 3, 4, 5],
        SweepParameter.Disturbance => [0, 0.5, 1, 1.5, 2, 2.5, 3, 4],
        _ => [0, 0.5, 1, 2, 4, 8, 16, 32, 64, 128], // geometric: the default policies shrug off 8x the L2F noise
    };

    static double[] Steps(double first, double last, double step)
    {
        int count = (int)Math.Round((last - first) / step) + 1;
        return Enumerable.Range(0, count).Select(k => Math.Round(first + k * step, 6)).ToArray();
    }

    /// <summary>
    /// The range the policy met in training, in the sweep's units: the task's domain randomisation for the robot factors
    /// and latency. Disturbance and noise are drawn from a normal distribution in training, so every std up to the
    /// training one counts as met: [0, training std / evaluation std], for the disturbance the smaller of the force and
    /// torque ratios (a factor beyond it puts at least one of them beyond anything trained on).
    /// </summary>
    public static (double Low, double High) TrainingRange(SweepParameter parameter, HoverTaskConfig task)
    {
        DomainRandomizationConfig dr = task.DomainRandomization;
        // The config holds floats: 1.4 comes back as 1.39999998, which would leave a swept 1.4 outside its own range.
        static (double, double) Decimal((float Low, float High) r) => (Math.Round(r.Low, 6), Math.Round(r.High, 6));
        switch (parameter)
        {
            case SweepParameter.Mass: return Decimal(dr.Mass);
            case SweepParameter.Thrust: return Decimal(dr.ThrustCoefficient);
            case SweepParameter.MotorTimeConstant: return Decimal(dr.MotorTimeConstant);
            case SweepParameter.Latency: return (dr.LatencySteps.Low, dr.LatencySteps.High);
            case SweepParameter.Disturbance:
                {
                    var (force, torque) = EvaluationDisturbance(task);
                    double forceRatio = force > 0 ? task.DisturbanceForceStd / force : double.PositiveInfinity;
                    double torqueRatio = torque > 0 ? task.DisturbanceTorqueStd / torque : double.PositiveInfinity;
                    return (0, Math.Round(Math.Min(forceRatio, torqueRatio), 6));
                }
            default:
                return (0, 1); // the evaluation observes with the task's own noise
        }
    }

    /// <summary>The disturbance std (force N, torque N·m) the task is judged under: its "evaluation" section's, else its own.</summary>
    public static (double Force, double Torque) EvaluationDisturbance(HoverTaskConfig task) =>
        (task.Evaluation?.DisturbanceForceStd ?? task.DisturbanceForceStd, task.Evaluation?.DisturbanceTorqueStd ?? task.DisturbanceTorqueStd);

    /// <summary>The largest latency the simulator can fly: the flown action is read from the action history.</summary>
    public static int MaxLatencySteps(HoverTaskConfig task) => Math.Min(DomainRandomizationConfig.MaxLatencySteps, task.ActionHistoryLength - 1);

    /// <summary>The largest robot factor a sweep accepts (the bound a "domain_randomization" file has too).</summary>
    public const double MaxFactor = 10;

    /// <summary>
    /// Null if <paramref name="value"/> can be flown for <paramref name="parameter"/>, else what is wrong and what is
    /// expected (the CLI prefixes the flag).
    /// </summary>
    public static string? Check(SweepParameter parameter, double value, HoverTaskConfig task)
    {
        string name = Name(parameter);
        string shown = value.ToString("G6", CultureInfo.InvariantCulture);
        if (!double.IsFinite(value)) return $"{name}: {shown} is not a finite number";
        switch (parameter)
        {
            case SweepParameter.Mass or SweepParameter.Thrust or SweepParameter.MotorTimeConstant:
                if (value <= 0 || value > MaxFactor)
                    return $"{name} values are factors of the robot config's value and must be in (0, {MaxFactor}]; got {shown}";
                if (parameter == SweepParameter.MotorTimeConstant)
                {
                    // RK4 on the motor lag d(rpm)/dt = (cmd − rpm)/τ diverges once the integration step exceeds ~2.8 τ;
                    // keep τ ≥ half a step so the simulator stays a model of a motor.
                    double step = task.ControlDt / task.Substeps;
                    double least = step / 2 / task.Robot.MotorTimeConstant;
                    if (value < least)
                        return string.Create(CultureInfo.InvariantCulture,
                            $"{name} factor {shown} gives τ = {value * task.Robot.MotorTimeConstant:G3} s, shorter than half the integration step ({step:G3} s), where the simulator's RK4 is unstable; expected ≥ {Math.Ceiling(least * 1000) / 1000:G3}");
                }
                return null;
            case SweepParameter.Latency:
                int max = MaxLatencySteps(task);
                if (value < 0 || value != Math.Floor(value) || value > max)
                    return $"latency values are whole control steps of action delay in [0, {max}] (the simulator reads the flown action from the {task.ActionHistoryLength}-step action history; {DomainRandomizationConfig.MaxLatencySteps} at most); got {shown}";
                return null;
            default:
                if (value < 0) return $"{name} values are factors of a standard deviation and must be ≥ 0; got {shown}";
                return null;
        }
    }

    /// <summary>The evaluation options that fly <paramref name="value"/> of <paramref name="parameter"/>, everything else nominal.</summary>
    public static EvalOptions OptionsAt(SweepParameter parameter, double value, EvalOptions baseline)
    {
        float f = (float)value;
        DomainRandomizationConfig nominal = DomainRandomizationConfig.None;
        return parameter switch
        {
            SweepParameter.Mass => baseline with { Dynamics = nominal with { Mass = (f, f) } },
            SweepParameter.Thrust => baseline with { Dynamics = nominal with { ThrustCoefficient = (f, f) } },
            SweepParameter.MotorTimeConstant => baseline with { Dynamics = nominal with { MotorTimeConstant = (f, f) } },
            SweepParameter.Latency => baseline with { Dynamics = nominal with { LatencySteps = ((int)value, (int)value) } },
            SweepParameter.Disturbance => baseline with { Dynamics = nominal, DisturbanceScale = f },
            _ => baseline with { Dynamics = nominal, ObservationNoiseScale = f },
        };
    }

    /// <summary>
    /// Flies every value (ascending, duplicates dropped) for <paramref name="episodes"/> episodes from
    /// <paramref name="seed"/>. <paramref name="progress"/> hears each finished row. Values must pass <see cref="Check"/>.
    /// </summary>
    public static SweepResult Run(PolicyBundle bundle, HoverTaskConfig task, SweepParameter parameter, IEnumerable<double> values,
        int episodes, ulong seed, InitialStateConfig? initialStates = null, Action<SweepRow, int, int>? progress = null)
    {
        double[] grid = values.Distinct().Order().ToArray();
        if (grid.Length == 0) throw new ArgumentException("a sweep needs at least one value", nameof(values));
        foreach (double value in grid)
            if (Check(parameter, value, task) is { } problem) throw new ArgumentOutOfRangeException(nameof(values), problem);
        if (parameter == SweepParameter.Disturbance && EvaluationDisturbance(task) == (0, 0))
            throw new ArgumentException("the task is judged without a constant disturbance (force and torque std 0): a disturbance factor has nothing to scale");
        var (low, high) = TrainingRange(parameter, task);
        var baseline = new EvalOptions(Episodes: episodes, Seed: seed, InitialStates: initialStates);
        var rows = new List<SweepRow>(grid.Length);
        foreach (double value in grid)
        {
            EvalResult result = PolicyEvaluator.Evaluate(bundle, task, OptionsAt(parameter, value, baseline));
            var row = new SweepRow(value, result.SuccessRate, result.CrashRate, value >= low - 1e-9 && value <= high + 1e-9);
            rows.Add(row);
            progress?.Invoke(row, rows.Count, grid.Length);
        }
        return new SweepResult(parameter, (low, high), rows, episodes, seed);
    }

    /// <summary>A PNG: success and crash rate (%) against the swept value, the training range shaded, nominal marked.</summary>
    public static void WritePlot(SweepResult result, string path, string title)
    {
        var plot = new ScottPlot.Plot();
        var (low, high) = result.TrainingRange;
        var span = plot.Add.HorizontalSpan(low, high);
        span.LegendText = string.Create(CultureInfo.InvariantCulture, $"training range {low:G4}–{high:G4}");
        double[] x = result.Rows.Select(r => r.Value).ToArray();
        var success = plot.Add.Scatter(x, result.Rows.Select(r => r.SuccessRate * 100).ToArray());
        success.LegendText = "success (%)";
        success.LineWidth = 2;
        var crashes = plot.Add.Scatter(x, result.Rows.Select(r => r.CrashRate * 100).ToArray());
        crashes.LegendText = "crashes (%)";
        crashes.LineWidth = 2;
        var nominal = plot.Add.VerticalLine(NominalValue(result.Parameter));
        nominal.LinePattern = ScottPlot.LinePattern.Dotted;
        nominal.LegendText = "nominal";
        plot.Title(title);
        plot.XLabel($"{Name(result.Parameter)} ({Unit(result.Parameter)})");
        plot.YLabel($"% of {result.Episodes} episodes per value");
        plot.Axes.SetLimitsY(-2, 102);
        plot.ShowLegend(ScottPlot.Alignment.MiddleRight);
        plot.SavePng(path, 900, 500);
    }
}
