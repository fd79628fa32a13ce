using System.Globalization;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;
using RoboRl.Core.Configs;
using RoboRl.Core.Quadrotor;
using RoboRl.Sims.Quadrotor;
using RoboRl.Logs;

namespace RoboRl.Replay;

/// <summary>A fitted value with its 95 % confidence interval (value ± 1.96 standard errors).</summary>
public sealed record FittedParameter(string Name, double Value, double Ci95Low, double Ci95High, double StdError)
{
    /// <summary>Half the 95 % interval relative to the value (0.05 = ±5 %).</summary>
    public double RelativeCi95 => 1.96 * StdError / Math.Abs(Value);
}

/// <summary>
/// The consistency check: the thrust/mass ratio fitted on the first and on the second half of the flights, which a
/// model that describes the plant predicts alike. <see cref="Consistent"/> is false when they differ by more than
/// <see cref="SysIdOptions.ConsistencyZ"/> standard errors AND more than <see cref="SysIdOptions.ConsistencyTolerance"/>.
/// </summary>
public sealed record ConsistencyCheck(FittedParameter First, FittedParameter Second, double Z, double RelativeDifference, bool Consistent);

/// <param name="Identified">Mass and thrust coefficient are recovered (separable, 95 % intervals within the limit, the
/// data consistent with the model); false: <see cref="Problems"/> says why, plainly.</param>
/// <param name="Mass">The estimate whether identified or not (with its interval, which says how far to trust it).</param>
/// <param name="MassKnown">The mass was given (--mass), not fitted.</param>
/// <param name="CurveExponent">The exponent e of the force curve F ∝ F_commanded^e around the flight's mean force: 1 for
/// the firmware's force mode with battery compensation (the model), larger for a motor run on duty cycle.</param>
/// <param name="LatencyIdentified">The latency's interval is narrow and off its bounds: otherwise it trades off with the
/// motor time constant, which is then not claimed either.</param>
/// <param name="DragIdentified">Both drag coefficients have 95 % intervals within ±50 % and lie off their bounds (a
/// flight without horizontal or vertical speed cannot tell its drag).</param>
/// <param name="FittedConfigJson">The base config with the fitted values, or null when not identified.</param>
public sealed record SysIdResult(
    bool Identified, IReadOnlyList<string> Problems,
    FittedParameter Mass, bool MassKnown, FittedParameter ThrustCoefficient, FittedParameter MotorTimeConstant, FittedParameter ThrustToMassRatio,
    bool MotorTimeConstantIdentified, bool MassThrustSeparable, double MassThrustCorrelation, ConsistencyCheck Halves,
    FittedParameter Latency, bool LatencyIdentified, FittedParameter DragXy, FittedParameter DragZ, bool DragIdentified, FittedParameter CurveExponent,
    double ResidualRms, double PositionResidualRmsM, int Windows, int Residuals, int Iterations, string? FittedConfigJson);

public sealed record SysIdOptions
{
    /// <summary>Length of each open-loop window, seconds (short: the open-loop trajectory must not drift away).</summary>
    public double WindowS { get; init; } = 0.25;
    /// <summary>Physics rate of the model, Hz.</summary>
    public float PhysicsHz { get; init; } = 1000;
    /// <summary>The mass when it is known (weighed), kg: then only thrust and motor lag are fitted, and hover alone identifies them.</summary>
    public double? KnownMassKg { get; init; }
    /// <summary>The largest action latency fitted, s.</summary>
    public double MaxLatencyS { get; init; } = 0.05;
    public int MaxIterations { get; init; } = 40;
    /// <summary>Residual scales: position m, velocity m/s, angular velocity rad/s (weights of the least squares).</summary>
    public double PositionScale { get; init; } = 0.01;
    public double VelocityScale { get; init; } = 0.05;
    public double RateScale { get; init; } = 0.5;
    /// <summary>Windows need every state above this height (the floor contact is not modelled), m.</summary>
    public float MinHeightM { get; init; } = 0.1f;
    /// <summary>Fewest windows a fit takes.</summary>
    public int MinWindows { get; init; } = 8;
    /// <summary>Mass and thrust are identified when their 95 % intervals are within ± this share of the value.</summary>
    public double MaxRelativeCi { get; init; } = 0.05;
    /// <summary>The motor time constant is reported as identified when its 95 % interval is within ± this share.</summary>
    public double MaxRelativeCiMotor { get; init; } = 0.2;
    /// <summary>The first and second half of the flights disagree when their thrust/mass ratios differ by more than this many standard errors and by more than <see cref="ConsistencyTolerance"/>.</summary>
    public double ConsistencyZ { get; init; } = 3;
    public double ConsistencyTolerance { get; init; } = 0.02;
    /// <summary>The force curve is not the actuation's when its exponent is further from 1 than 1.96 standard errors and than this.</summary>
    public double CurveTolerance { get; init; } = 0.1;
    /// <summary>The latency is identified when its 95 % interval is within ± this, s.</summary>
    public double MaxLatencyCiS { get; init; } = 0.002;
}

/// <summary>
/// Fits mass m, a thrust scale s (the thrust polynomial c → s·c: the force the rotors make per commanded force) and the
/// motor time constant τ to flight logs by Levenberg–Marquardt through the simulator's RK4 kernel.
/// <para>Nuisances. Three things a real vehicle has and the simulator does not are fitted alongside, because each biases
/// mass and thrust when ignored (measured on the test plants: a 4 ms latency by ~+6 %, the Crazyflie's drag by ~−2 %,
/// battery compensation off by +40 %): linear aerodynamic drag (k_xy, k_z); the action latency δ (every command takes
/// effect δ after its tick; the model takes a command for its share of the physics step it lands in, so δ is
/// continuous); and the force curve's exponent e (F = F_ref·(F_cmd/F_ref)^e around the flight's mean commanded force
/// F_ref; the firmware's compensated force mode, which robot configs describe, has e = 1). They are reported, not
/// written: robot configs have none of them — so e ≠ 1 is a refusal, not a fit.</para>
/// <para>Data. The logs' measured states and commands (<see cref="OpenLoopFlight"/>, commands mapped to forces and rotor
/// speeds by the recorded robot's actuator, as the node sent them), cut into short open-loop windows, each starting from
/// the measured state (so model error does not accumulate into drift) and the rotor speeds at that time (recorded, or
/// rebuilt from the commands under the candidate τ). Every window is one vehicle of a <see cref="QuadrotorBatch"/>.
/// Residuals: position, velocity and body-rate errors at every recorded state of every window, scaled.</para>
/// <para>Confidence. Residuals within a window are correlated (one wrong start state shifts all of them) and a real plant
/// is never exactly the model, so the covariance is the cluster-robust sandwich over windows,
/// Cov = (JᵀJ)⁻¹ (Σ_w J_wᵀ r_w r_wᵀ J_w) (JᵀJ)⁻¹ · W/(W − p), not σ²(JᵀJ)⁻¹; 95 % = ±1.96 σ.</para>
/// <para>Identifiability. Translation sees only s/m (hover: s·F = m·g). Body rates see s·ΔF·arm/J with the inertia J
/// and the rotor layout fixed from the base config: that, and only that, separates s from m — so a flight without
/// rotational excitation gives only the ratio (intervals wide), and a wrong inertia biases the mass. A known mass
/// (weighed) removes the need.</para>
/// <para>Consistency. A model that describes the plant predicts every part of the flight alike: the fit is repeated on
/// the first and the second half of each flight and the thrust/mass ratios compared (a plant that drifts — a draining
/// battery without the firmware's compensation — gives two). A disagreement, or a force curve other than the
/// actuation's, means the numbers describe no plant a robot config can: nothing is claimed.</para>
/// </summary>
public static class SystemIdentification
{
    // θ = (m/m₀, s, τ/τ₀, k_xy, k_z, δ, e), drag in mN per m/s and latency in ms (so that every entry is of order 1).
    private const int Parameters = 7, MassIndex = 0, ThrustIndex = 1, TauIndex = 2, DragXyIndex = 3, DragZIndex = 4, LatencyIndex = 5, CurveIndex = 6;
    private static readonly double[] LowerBound = [0.05, 0.05, 0.01, 0, 0, 0, 0.2];
    // Central-difference steps (relative for the first three): small against each parameter's scale, large against
    // the float rounding of a window.
    private static readonly double[] DifferenceStep = [1e-3, 1e-3, 1e-3, 0.1, 0.1, 0.05, 0.005];

    /// <summary>One flight as the fit sees it: its windows, the robot whose actuator the node used, and per command the force per motor it asked for.</summary>
    private sealed record FlightData(OpenLoopFlight Flight, List<FlightWindow> Windows, QuadrotorConfig CommandRobot, Vector4[] CommandedForce, float ReferenceForce);

    public static SysIdResult Fit(IReadOnlyList<FlightLog> logs, QuadrotorConfig baseRobot, string baseConfigJson, SysIdOptions? options = null)
    {
        options ??= new SysIdOptions();
        string sources = string.Join(", ", logs.Select(l => l.Path));

        // 1. Data: measured states (what a real robot's log holds) in airborne windows.
        var data = new List<FlightData>();
        foreach (FlightLog log in logs)
        {
            QuadrotorConfig commandRobot = log.RecordedRobot() ?? baseRobot;
            OpenLoopFlight f = OpenLoopFlight.From(log, commandRobot, options.PhysicsHz, useGroundTruth: false);
            // A window starts where a command is in force at any latency fitted, and, when rotor speeds are rebuilt from the
            // commands (from a guess whose error decays as exp(−t/τ)), after 5 base time constants.
            ulong notBefore = f.CommandTime[0] + (ulong)(options.MaxLatencyS * 1e9) + (f.RotorSpeedsRecorded ? 0 : (ulong)(5 * baseRobot.MotorTimeConstant * 1e9));
            List<FlightWindow> windows = f.Windows(options.WindowS, notBefore, r => r.Position.Z > options.MinHeightM);
            if (windows.Count == 0) continue;
            ActuatorModel actuator = commandRobot.Actuator;
            Vector4[] force = f.CommandAction.Select(a => new Vector4(actuator.ThrustFromAction(a.X), actuator.ThrustFromAction(a.Y),
                actuator.ThrustFromAction(a.Z), actuator.ThrustFromAction(a.W))).ToArray();
            float reference = force.Select(v => (v.X + v.Y + v.Z + v.W) / 4).Where(x => x > 0).DefaultIfEmpty(1f).Average();
            data.Add(new FlightData(f, windows, commandRobot, force, reference));
        }
        int windowCount = data.Sum(f => f.Windows.Count);
        if (windowCount < options.MinWindows)
            throw new FlightLogException($"{sources}: {windowCount} airborne windows of {options.WindowS} s with recorded states and commands; " +
                $"system identification needs at least {options.MinWindows} (fly longer, above {options.MinHeightM} m)");

        double m0 = baseRobot.Mass, c2 = baseRobot.ThrustPolynomial.Z, tau0 = baseRobot.MotorTimeConstant;
        int[] free = options.KnownMassKg is null ? [MassIndex, ThrustIndex, TauIndex, DragXyIndex, DragZIndex, LatencyIndex, CurveIndex]
            : [ThrustIndex, TauIndex, DragXyIndex, DragZIndex, LatencyIndex, CurveIndex];
        double[] initial = [options.KnownMassKg is double known ? known / m0 : 1, 1, 1, 0, 0, 0, 1];
        double[] upper = [20, 20, 20, 1e3, 1e3, options.MaxLatencyS * 1e3, 5];

        // 2. The fit over every window.
        var fit = new Fitter(data, baseRobot, options, free, upper);
        fit.Solve(initial, (_, _) => true);
        double[] theta = fit.Theta;
        double[,] covariance = fit.Covariance();
        double Std(int p) => Math.Sqrt(Math.Max(0, covariance[p, p]));
        double correlation = options.KnownMassKg is null ? covariance[MassIndex, ThrustIndex] / Math.Max(Std(MassIndex) * Std(ThrustIndex), 1e-300) : 0;
        FittedParameter mass = Param("mass", theta[MassIndex] * m0, Std(MassIndex) * m0);
        FittedParameter thrust = Param("thrust_coefficient", theta[ThrustIndex] * c2, Std(ThrustIndex) * c2);
        FittedParameter tau = Param("motor_time_constant", theta[TauIndex] * tau0, Std(TauIndex) * tau0);
        FittedParameter dragXy = Param("drag_xy", theta[DragXyIndex] * 1e-3, Std(DragXyIndex) * 1e-3);
        FittedParameter dragZ = Param("drag_z", theta[DragZIndex] * 1e-3, Std(DragZIndex) * 1e-3);
        FittedParameter latency = Param("latency", theta[LatencyIndex] * 1e-3, Std(LatencyIndex) * 1e-3);
        FittedParameter curve = Param("force_curve_exponent", theta[CurveIndex], Std(CurveIndex));
        FittedParameter ratioFit = Ratio(theta, covariance, c2 / m0);

        // 3. Consistency: the thrust/mass ratio of the first and the second half of each flight.
        var windowStart = data.Select(f => f.Windows.Select(w => (double)f.Flight.References[w.First].Time).ToArray()).ToList();
        var middle = windowStart.Select(Median).ToList();
        FittedParameter Half(Func<int, int, bool> use)
        {
            var half = new Fitter(data, baseRobot, options, free, upper);
            half.Solve(theta, use);
            return Ratio(half.Theta, half.Covariance(), c2 / m0);
        }
        FittedParameter first = Half((fi, wi) => windowStart[fi][wi] < middle[fi]), second = Half((fi, wi) => windowStart[fi][wi] >= middle[fi]);
        double z = Math.Abs(first.Value - second.Value) / Math.Sqrt(first.StdError * first.StdError + second.StdError * second.StdError);
        double apart = Math.Abs(first.Value - second.Value) / (0.5 * (first.Value + second.Value));
        var halves = new ConsistencyCheck(first, second, z, apart, !(z > options.ConsistencyZ && apart > options.ConsistencyTolerance));

        // 4. What is identified, and why not.
        var problems = new List<string>();
        bool separable = options.KnownMassKg is not null || (mass.RelativeCi95 <= options.MaxRelativeCi && thrust.RelativeCi95 <= options.MaxRelativeCi);
        string Pct(double x) => (100 * x).ToString("F1", CultureInfo.InvariantCulture) + " %";
        string G(double x) => x.ToString("G4", CultureInfo.InvariantCulture);
        if (options.KnownMassKg is null && !separable)
            problems.Add($"mass and thrust coefficient are not separable from these logs (95 % intervals ±{Pct(mass.RelativeCi95)} and ±{Pct(thrust.RelativeCi95)}, " +
                $"the limit is ±{Pct(options.MaxRelativeCi)}; correlation {correlation.ToString("F4", CultureInfo.InvariantCulture)}): hover and climbs see only their ratio, " +
                $"thrust/mass = {G(ratioFit.Value)} ± {G(1.96 * ratioFit.StdError)} N/(rpm²·kg); fly attitude manoeuvres (turns, rolls) to separate them, " +
                "or give the weighed mass (--mass)");
        else if (options.KnownMassKg is not null && thrust.RelativeCi95 > options.MaxRelativeCi)
            problems.Add($"the thrust coefficient's 95 % interval is ±{Pct(thrust.RelativeCi95)}, wider than ±{Pct(options.MaxRelativeCi)}: fly longer, with climbs");
        if (Math.Abs(curve.Value - 1) > Math.Max(1.96 * curve.StdError, options.CurveTolerance))
            problems.Add($"the force is not proportional to the command as the robot's actuation says: it goes as the commanded force to the power " +
                $"{G(curve.Value)} ± {G(1.96 * curve.StdError)} (the model: 1) — e.g. the firmware's battery compensation off, or another propeller set " +
                "than the config names; a robot config cannot describe this plant");
        if (!halves.Consistent)
            problems.Add($"the data disagree with the model: thrust/mass is {G(first.Value)} ± {G(1.96 * first.StdError)} in the first half of the flight and " +
                $"{G(second.Value)} ± {G(1.96 * second.StdError)} in the second ({Pct(apart)} apart, {z.ToString("F1", CultureInfo.InvariantCulture)} standard errors): " +
                "the plant changes during the flight (e.g. the firmware's battery compensation off while the battery drains); the model has one thrust per command");
        bool identified = problems.Count == 0;
        // A latency pushed to its upper bound is no estimate (it trades off with τ where the motors are barely excited).
        bool latencyIdentified = 1.96 * latency.StdError <= options.MaxLatencyCiS && theta[LatencyIndex] < upper[LatencyIndex] - 1e-6;
        bool tauIdentified = latencyIdentified && tau.RelativeCi95 <= options.MaxRelativeCiMotor;
        bool dragIdentified = new[] { (dragXy, DragXyIndex), (dragZ, DragZIndex) }
            .All(d => d.Item1.RelativeCi95 <= 0.5 && theta[d.Item2] > LowerBound[d.Item2] + 1e-6 && theta[d.Item2] < upper[d.Item2] - 1e-6);

        double positionSq = 0; int positions = 0, residualCount = 0;
        foreach (double[] r in fit.Residual)
        {
            residualCount += r.Length;
            for (int i = 0; i < r.Length; i += 9)
                for (int a = 0; a < 3; a++) { double e = r[i + a] * options.PositionScale; positionSq += e * e; positions++; }
        }
        string? fitted = identified
            ? FittedConfig(baseConfigJson, mass.Value, theta[ThrustIndex], tauIdentified ? tau.Value : tau0,
                $"fitted by roborl sysid from {string.Join(", ", logs.Select(l => Path.GetFileName(l.Path)))}", options.KnownMassKg is not null, mass, thrust, tau, tauIdentified)
            : null;
        return new SysIdResult(identified, problems, mass, options.KnownMassKg is not null, thrust, tau, ratioFit, tauIdentified, separable, correlation, halves,
            latency, latencyIdentified, dragXy, dragZ, dragIdentified, curve,
            Math.Sqrt(fit.Cost / Math.Max(1, residualCount)), Math.Sqrt(positionSq / Math.Max(1, positions)), windowCount, residualCount, fit.Iterations, fitted);
    }

    private static FittedParameter Param(string name, double value, double std) => new(name, value, value - 1.96 * std, value + 1.96 * std, std);

    // s/m by the delta method: var(s/m) = var(s)/m² + (s/m²)² var(m) − 2 s/m³ cov(s, m), in multiplier units.
    private static FittedParameter Ratio(double[] theta, double[,] cov, double unit)
    {
        double m = theta[MassIndex], s = theta[ThrustIndex], ratio = s / m;
        double variance = cov[ThrustIndex, ThrustIndex] / (m * m) + ratio * ratio * cov[MassIndex, MassIndex] / (m * m) - 2 * ratio * cov[MassIndex, ThrustIndex] / (m * m);
        return Param("thrust_to_mass_ratio", ratio * unit, Math.Sqrt(Math.Max(0, variance)) * unit);
    }

    private static double Median(IEnumerable<double> values)
    {
        double[] v = values.Order().ToArray();
        return v.Length == 0 ? 0 : v.Length % 2 == 1 ? v[v.Length / 2] : 0.5 * (v[v.Length / 2 - 1] + v[v.Length / 2]);
    }

    /// <summary>
    /// Levenberg–Marquardt (Marquardt's scaling λ·diag(JᵀJ), steps clamped to the bounds) over the free parameters, on
    /// the windows a filter accepts, with a central-difference Jacobian; then the cluster-robust covariance at the optimum.
    /// </summary>
    private sealed class Fitter(List<FlightData> data, QuadrotorConfig robot, SysIdOptions options, int[] free, double[] upper)
    {
        public double[] Theta { get; private set; } = [];
        public List<double[]> Residual { get; private set; } = [];
        public double Cost { get; private set; } = double.PositiveInfinity;
        public int Iterations { get; private set; }
        private List<double[,]> _jacobian = [];
        private Func<int, int, bool> _use = (_, _) => true;

        public void Solve(double[] start, Func<int, int, bool> use)
        {
            _use = use;
            double[] theta = (double[])start.Clone();
            List<double[]> residual = Residuals(theta);
            double cost = SumOfSquares(residual), lambda = 1e-3;
            List<double[,]> jacobian = Jacobian(theta);
            int iterations = 0;
            for (; iterations < options.MaxIterations; iterations++)
            {
                var (a, g) = Normal(jacobian, residual);
                bool accepted = false;
                var delta = new double[free.Length];
                while (lambda < 1e12)
                {
                    var damped = (double[,])a.Clone();
                    for (int p = 0; p < free.Length; p++) damped[p, p] += lambda * Math.Max(a[p, p], 1e-12);
                    double[,] inverse = Invert(damped);
                    for (int p = 0; p < free.Length; p++) { delta[p] = 0; for (int q = 0; q < free.Length; q++) delta[p] -= inverse[p, q] * g[q]; }
                    double[] candidate = (double[])theta.Clone();
                    for (int p = 0; p < free.Length; p++) candidate[free[p]] = Math.Clamp(theta[free[p]] + delta[p], LowerBound[free[p]], upper[free[p]]);
                    List<double[]> r = Residuals(candidate);
                    double c = SumOfSquares(r);
                    if (c < cost)
                    {
                        accepted = true;
                        double improvement = (cost - c) / Math.Max(cost, 1e-300);
                        theta = candidate; residual = r; cost = c; lambda = Math.Max(lambda / 3, 1e-9);
                        if (improvement < 1e-10) lambda = 1e12;
                        break;
                    }
                    lambda *= 4;
                }
                if (!accepted || lambda >= 1e12 || delta.Max(Math.Abs) < 1e-9) { iterations++; break; }
                jacobian = Jacobian(theta);
            }
            Theta = theta; Residual = residual; Cost = cost; Iterations = iterations;
            _jacobian = Jacobian(theta);
        }

        /// <summary>Cluster-robust covariance of θ over windows (rows and columns of fixed parameters are zero).</summary>
        public double[,] Covariance()
        {
            int p = free.Length, n = Residual.Count;
            var (a, _) = Normal(_jacobian, Residual);
            double[,] inverse = Invert(a);
            var meat = new double[p, p];
            for (int w = 0; w < n; w++)
            {
                var g = new double[p];
                for (int i = 0; i < Residual[w].Length; i++) for (int q = 0; q < p; q++) g[q] += _jacobian[w][i, q] * Residual[w][i];
                for (int q = 0; q < p; q++) for (int k = 0; k < p; k++) meat[q, k] += g[q] * g[k];
            }
            double[,] cov = Multiply(Multiply(inverse, meat), inverse);
            double correction = n / (double)Math.Max(1, n - p);
            var full = new double[Parameters, Parameters];
            for (int q = 0; q < p; q++) for (int k = 0; k < p; k++) full[free[q], free[k]] = cov[q, k] * correction;
            return full;
        }

        /// <summary>Residuals of the accepted windows, one array per window.</summary>
        private List<double[]> Residuals(double[] theta)
        {
            float mass = (float)(theta[MassIndex] * robot.Mass), scale = (float)theta[ThrustIndex], tau = (float)(theta[TauIndex] * robot.MotorTimeConstant);
            var drag = new Vector3((float)(theta[DragXyIndex] * 1e-3), (float)(theta[DragXyIndex] * 1e-3), (float)(theta[DragZIndex] * 1e-3));
            long delayNs = (long)Math.Round(theta[LatencyIndex] * 1e6);
            double exponent = theta[CurveIndex];
            var perWindow = new List<double[]>();
            for (int fi = 0; fi < data.Count; fi++)
            {
                FlightData d = data[fi];
                var windows = d.Windows.Where((_, wi) => _use(fi, wi)).ToList();
                if (windows.Count == 0) continue;
                // The force curve: F = F_ref·(F_cmd/F_ref)^e, made by the rotor speed whose thrust it is (e = 1: the recorded commands).
                Vector4[]? commands = null;
                if (exponent != 1)
                {
                    float Speed(float commanded) => d.CommandRobot.RpmForThrust(commanded <= 0 ? 0f
                        : (float)(d.ReferenceForce * Math.Pow(commanded / d.ReferenceForce, exponent)));
                    commands = d.CommandedForce.Select(f => new Vector4(Speed(f.X), Speed(f.Y), Speed(f.Z), Speed(f.W))).ToArray();
                }
                OpenLoopFlight flight = d.Flight.Delayed(delayNs, commands);
                var batch = new QuadrotorBatch(robot, windows.Count);
                for (int i = 0; i < batch.PaddedCount; i++) { batch.Mass[i] = mass; batch.ThrustScale[i] = scale; batch.MotorTimeConstant[i] = tau; }
                Vector4[] rotors = flight.RotorRpmAt(tau, robot.RpmMin, robot.RpmMax);
                Prediction[] predicted = flight.Run(batch, windows, rotors, robot.RpmMin, robot.RpmMax, drag);
                foreach (FlightWindow w in windows)
                {
                    var r = new double[(w.Last - w.First) * 9];
                    for (int j = w.First + 1, at = 0; j <= w.Last; j++, at += 9)
                    {
                        ReferenceState s = flight.References[j];
                        Prediction p = predicted[j];
                        if (!p.Valid) { Array.Fill(r, 1e6, at, 9); continue; }
                        Vector3 dp = p.Position - s.Position, dv = p.VelocityWorld - s.VelocityWorld, dw = p.AngularVelocityBody - s.AngularVelocityBody;
                        r[at] = dp.X / options.PositionScale; r[at + 1] = dp.Y / options.PositionScale; r[at + 2] = dp.Z / options.PositionScale;
                        r[at + 3] = dv.X / options.VelocityScale; r[at + 4] = dv.Y / options.VelocityScale; r[at + 5] = dv.Z / options.VelocityScale;
                        r[at + 6] = dw.X / options.RateScale; r[at + 7] = dw.Y / options.RateScale; r[at + 8] = dw.Z / options.RateScale;
                    }
                    for (int i = 0; i < r.Length; i++) if (!double.IsFinite(r[i])) r[i] = 1e6; // a diverged window: large but finite
                    perWindow.Add(r);
                }
            }
            return perWindow;
        }

        private List<double[,]> Jacobian(double[] theta)
        {
            List<double[,]>? jacobian = null;
            for (int p = 0; p < free.Length; p++)
            {
                // Central where the bounds allow, one-sided at a bound (a latency or drag of zero).
                int k = free[p];
                double h = DifferenceStep[k] * (k <= TauIndex ? Math.Max(Math.Abs(theta[k]), 0.1) : 1);
                double[] plus = (double[])theta.Clone(), minus = (double[])theta.Clone();
                plus[k] = Math.Min(theta[k] + h, upper[k]); minus[k] = Math.Max(theta[k] - h, LowerBound[k]);
                double span = plus[k] - minus[k];
                List<double[]> rp = Residuals(plus), rm = Residuals(minus);
                jacobian ??= rp.Select(r => new double[r.Length, free.Length]).ToList();
                for (int w = 0; w < rp.Count; w++)
                    for (int i = 0; i < rp[w].Length; i++) jacobian[w][i, p] = (rp[w][i] - rm[w][i]) / span;
            }
            return jacobian!;
        }
    }

    private static double SumOfSquares(List<double[]> residual) { double c = 0; foreach (double[] r in residual) foreach (double x in r) c += x * x; return c; }

    /// <summary>The base config with mass, thrust polynomial (scaled) and motor time constant replaced and their sources noted; validated.</summary>
    private static string FittedConfig(string baseJson, double mass, double thrustScale, double tau, string note, bool massKnown,
        FittedParameter massFit, FittedParameter thrustFit, FittedParameter tauFit, bool tauIdentified)
    {
        var root = JsonNode.Parse(baseJson, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })!.AsObject();
        root["mass"] = mass;
        var poly = root["thrust_polynomial"]!.AsArray();
        root["thrust_polynomial"] = new JsonArray(poly.Select(v => (JsonNode)JsonValue.Create(v!.GetValue<double>() * thrustScale)).ToArray());
        root["motor_time_constant"] = tau;
        var sources = root["sources"]!.AsObject();
        string Ci(FittedParameter p) => string.Create(CultureInfo.InvariantCulture, $"95 % CI [{p.Ci95Low:G4}, {p.Ci95High:G4}]");
        sources["mass"] = massKnown ? $"given to roborl sysid (--mass); {note} kept it fixed" : $"{note}, {Ci(massFit)}";
        sources["thrust_polynomial"] = $"{note}: base polynomial scaled by {thrustScale.ToString("G6", CultureInfo.InvariantCulture)}, c2 {Ci(thrustFit)}";
        sources["motor_time_constant"] = tauIdentified ? $"{note}, {Ci(tauFit)}" : $"{note}: not identified ({Ci(tauFit)}); base value kept";
        string text = root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        QuadrotorConfig.Read(ConfigNode.Parse(text, "fitted config")); // must stay a valid robot config
        return text;
    }

    private static (double[,] A, double[] G) Normal(List<double[,]> jacobian, List<double[]> residual)
    {
        int p = jacobian[0].GetLength(1);
        var a = new double[p, p]; var g = new double[p];
        for (int w = 0; w < residual.Count; w++)
            for (int i = 0; i < residual[w].Length; i++)
                for (int q = 0; q < p; q++)
                {
                    g[q] += jacobian[w][i, q] * residual[w][i];
                    for (int k = 0; k < p; k++) a[q, k] += jacobian[w][i, q] * jacobian[w][i, k];
                }
        return (a, g);
    }

    private static double[,] Multiply(double[,] x, double[,] y)
    {
        int n = x.GetLength(0), m = y.GetLength(1), k = x.GetLength(1);
        var r = new double[n, m];
        for (int i = 0; i < n; i++) for (int j = 0; j < m; j++) for (int l = 0; l < k; l++) r[i, j] += x[i, l] * y[l, j];
        return r;
    }

    /// <summary>Gauss–Jordan inverse with partial pivoting; a singular matrix gives infinities, so the intervals say "unknown".</summary>
    private static double[,] Invert(double[,] m)
    {
        int n = m.GetLength(0);
        var a = (double[,])m.Clone();
        var inv = new double[n, n];
        for (int i = 0; i < n; i++) inv[i, i] = 1;
        for (int c = 0; c < n; c++)
        {
            int pivot = c;
            for (int r = c + 1; r < n; r++) if (Math.Abs(a[r, c]) > Math.Abs(a[pivot, c])) pivot = r;
            if (Math.Abs(a[pivot, c]) < 1e-300) { for (int i = 0; i < n; i++) for (int k = 0; k < n; k++) inv[i, k] = double.PositiveInfinity; return inv; }
            for (int k = 0; k < n; k++) { (a[c, k], a[pivot, k]) = (a[pivot, k], a[c, k]); (inv[c, k], inv[pivot, k]) = (inv[pivot, k], inv[c, k]); }
            double d = a[c, c];
            for (int k = 0; k < n; k++) { a[c, k] /= d; inv[c, k] /= d; }
            for (int r = 0; r < n; r++)
            {
                if (r == c) continue;
                double f = a[r, c];
                for (int k = 0; k < n; k++) { a[r, k] -= f * a[c, k]; inv[r, k] -= f * inv[c, k]; }
            }
        }
        return inv;
    }
}
