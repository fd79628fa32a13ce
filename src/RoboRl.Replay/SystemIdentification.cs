using System.Globalization;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;
using RoboRl.Core.Configs;
using RoboRl.Core.Quadrotor;
using RoboRl.Sims.Quadrotor;

namespace RoboRl.Replay;

public sealed record FittedParameter(string Name, double Value, double Ci95Low, double Ci95High, double StdError);

public sealed record SysIdResult(
    FittedParameter? Mass, FittedParameter? ThrustCoefficient, FittedParameter MotorTimeConstant, FittedParameter ThrustToMassRatio,
    double ResidualRms, double PositionResidualRmsM, int Windows, int Residuals, int Iterations,
    bool MassThrustSeparable, double MassThrustCorrelation, string? Warning, string FittedConfigJson);

public sealed record SysIdOptions
{
    /// <summary>Length of each open-loop window, seconds (short: the open-loop trajectory must not drift away).</summary>
    public double WindowS { get; init; } = 0.25;
    public float PhysicsHz { get; init; } = 1000;
    public int MaxIterations { get; init; } = 40;
    /// <summary>Residual scales: position m, velocity m/s, angular velocity rad/s (weights of the least squares).</summary>
    public double PositionScale { get; init; } = 0.01;
    public double VelocityScale { get; init; } = 0.05;
    public double RateScale { get; init; } = 0.5;
    /// <summary>|correlation(mass, thrust)| above this, or a relative 95 % interval wider than <see cref="MaxRelativeCi"/>, means only their ratio is identified.</summary>
    public double MaxCorrelation { get; init; } = 0.999;
    public double MaxRelativeCi { get; init; } = 0.2;
}

/// <summary>
/// Fits mass, thrust coefficient (a scale s on the thrust polynomial: c2 → s·c2) and motor time constant to flight
/// logs by Levenberg–Marquardt through the simulator's RK4 kernel. The logs are cut into short open-loop windows, each
/// re-initialised from the recorded state at its start (so model error does not accumulate into drift), with rotor
/// speeds at the window start reconstructed from the command history under the candidate time constant; every window
/// is one lane of a <see cref="QuadrotorBatch"/>, so one residual evaluation integrates all windows together.
/// Residuals: position, velocity and body rate errors at every recorded tick of every window, scaled.
/// Jacobian: central differences. Confidence: Cov = σ²(JᵀJ)⁻¹ at the optimum, σ² = SSR / (n − p), 95 % = ±1.96 σ.
/// Identifiability: translational acceleration sees only s/m; body rates see s/J with J fixed from the base config,
/// which separates s from m — when the logs carry too little rotational excitation, the mass–thrust correlation
/// approaches ±1; that is detected and only the ratio is reported.
/// </summary>
public static class SystemIdentification
{
    private sealed record Window(OpenLoopFlight Flight, int StartTick, int Ticks);

    public static SysIdResult Fit(IReadOnlyList<FlightLog> logs, QuadrotorConfig baseRobot, string baseConfigJson, SysIdOptions? options = null)
    {
        options ??= new SysIdOptions();
        var flights = logs.Select(l => OpenLoopFlight.From(l, l.RecordedRobot() ?? baseRobot)).ToList();
        double step = 1.0 / options.PhysicsHz;

        // 1. Windows: K consecutive ticks, each with a recorded state, airborne (the floor contact is not modelled).
        var windows = new List<Window>();
        int ticksPerWindow = 0;
        // All windows integrate together in one batch, so every log must tick at the same period.
        double Period(OpenLoopFlight f) => Math.Round((f.LogTime[^1] - f.LogTime[0]) * 1e-9 / Math.Max(1, f.Ticks - 1), 5);
        if (flights.Select(Period).Distinct().Count() > 1)
            throw new FlightLogException($"logs tick at different periods ({string.Join(", ", flights.Select(f => $"{f.Source}: {Period(f) * 1e3} ms"))}); identify them separately");
        foreach (OpenLoopFlight f in flights)
        {
            double tickS = (f.LogTime[^1] - f.LogTime[0]) * 1e-9 / Math.Max(1, f.Ticks - 1);
            int k = Math.Max(2, (int)Math.Round(options.WindowS / tickS));
            ticksPerWindow = ticksPerWindow == 0 ? k : Math.Min(ticksPerWindow, k);
        }
        // Rotor speeds are not recorded: they are rebuilt from the commands, from a guess at the first tick whose error
        // decays as exp(−t/τ); windows begin once five base time constants have passed (< 1 % left).
        ulong warmUpNs = (ulong)(5 * baseRobot.MotorTimeConstant * 1e9);
        int nominalSteps = (int)Math.Round(Period(flights[0]) / step);
        foreach (OpenLoopFlight f in flights)
        {
            int firstTick = Array.FindIndex(f.LogTime, t => t >= f.LogTime[0] + warmUpNs);
            for (int start = Math.Max(0, firstTick); firstTick >= 0 && start + ticksPerWindow < f.Ticks; )
            {
                bool ok = true;
                for (int j = start; j <= start + ticksPerWindow && ok; j++)
                    ok = f.State[j] is StateSample s && s.Position.Z > 0.1f
                        && (j == start + ticksPerWindow || f.StepsAfter(j, step) == nominalSteps); // no gap (dropped records)
                if (ok) { windows.Add(new Window(f, start, ticksPerWindow)); start += ticksPerWindow; }
                else start++;
            }
        }
        if (windows.Count < 3)
            throw new FlightLogException($"{string.Join(", ", logs.Select(l => l.Path))}: {windows.Count} airborne windows of {options.WindowS} s with recorded states; system identification needs at least 3");

        var batch = new QuadrotorBatch(baseRobot, windows.Count);
        int residualCount = windows.Count * ticksPerWindow * 9;

        // 2. Residuals for multipliers θ = (mass / m₀, thrust scale s, τ / τ₀).
        double[] Residuals(double[] theta)
        {
            float mass = (float)(theta[0] * baseRobot.Mass), scale = (float)theta[1], tau = (float)(theta[2] * baseRobot.MotorTimeConstant);
            var rotorCache = new Dictionary<OpenLoopFlight, Vector4[]>();
            for (int i = 0; i < batch.PaddedCount; i++)
            {
                batch.SetNominal(i);
                batch.Mass[i] = mass; batch.ThrustScale[i] = scale; batch.MotorTimeConstant[i] = tau;
                Window w = windows[Math.Min(i, windows.Count - 1)];
                if (!rotorCache.TryGetValue(w.Flight, out Vector4[]? rpm)) rotorCache[w.Flight] = rpm = w.Flight.RotorRpm(tau, baseRobot.RpmMin, baseRobot.RpmMax);
                w.Flight.SetLane(batch, i, w.StartTick, rpm[w.StartTick]);
            }
            var r = new double[residualCount];
            for (int j = 0; j < ticksPerWindow; j++)
            {
                int steps = windows[0].Flight.StepsAfter(windows[0].StartTick + j, step);
                for (int i = 0; i < windows.Count; i++)
                {
                    Window w = windows[i];
                    Vector4 cmd = OpenLoopFlight.Clamp(w.Flight.CommandRpm[w.StartTick + j], baseRobot.RpmMin, baseRobot.RpmMax);
                    batch.CommandRpm[0][i] = cmd.X; batch.CommandRpm[1][i] = cmd.Y; batch.CommandRpm[2][i] = cmd.Z; batch.CommandRpm[3][i] = cmd.W;
                }
                for (int n = 0; n < steps; n++) batch.Integrate((float)step, 1);
                for (int i = 0; i < windows.Count; i++)
                {
                    StateSample s = windows[i].Flight.State[windows[i].StartTick + j + 1]!.Value;
                    int at = (i * ticksPerWindow + j) * 9;
                    Vector3 dp = batch.Position(i) - s.Position, dv = batch.Velocity(i) - s.VelocityWorld, dw = batch.AngularVelocity(i) - s.AngularVelocityBody;
                    r[at] = dp.X / options.PositionScale; r[at + 1] = dp.Y / options.PositionScale; r[at + 2] = dp.Z / options.PositionScale;
                    r[at + 3] = dv.X / options.VelocityScale; r[at + 4] = dv.Y / options.VelocityScale; r[at + 5] = dv.Z / options.VelocityScale;
                    r[at + 6] = dw.X / options.RateScale; r[at + 7] = dw.Y / options.RateScale; r[at + 8] = dw.Z / options.RateScale;
                }
            }
            for (int i = 0; i < r.Length; i++) if (!double.IsFinite(r[i])) r[i] = 1e6; // a diverged window: a large but finite cost
            return r;
        }

        static double Cost(double[] r) { double c = 0; foreach (double x in r) c += x * x; return c; }

        double[,] Jacobian(double[] theta)
        {
            var jac = new double[residualCount, 3];
            for (int p = 0; p < 3; p++)
            {
                double h = 1e-3 * Math.Max(Math.Abs(theta[p]), 0.1);
                double[] plus = (double[])theta.Clone(), minus = (double[])theta.Clone();
                plus[p] += h; minus[p] -= h;
                double[] rp = Residuals(plus), rm = Residuals(minus);
                for (int i = 0; i < residualCount; i++) jac[i, p] = (rp[i] - rm[i]) / (2 * h);
            }
            return jac;
        }

        // 3. Levenberg–Marquardt (Marquardt's scaling: λ·diag(JᵀJ)).
        double[] thetaNow = [1, 1, 1];
        double[] residual = Residuals(thetaNow);
        double cost = Cost(residual), lambda = 1e-3;
        int iterations = 0;
        double[,] J = Jacobian(thetaNow);
        for (; iterations < options.MaxIterations; iterations++)
        {
            var (A, g) = Normal(J, residual);
            bool accepted = false;
            double[] delta = new double[3];
            while (lambda < 1e12)
            {
                var damped = (double[,])A.Clone();
                for (int p = 0; p < 3; p++) damped[p, p] += lambda * Math.Max(A[p, p], 1e-12);
                double[,] inv = Invert(damped);
                for (int p = 0; p < 3; p++) { delta[p] = 0; for (int q = 0; q < 3; q++) delta[p] -= inv[p, q] * g[q]; }
                double[] candidate = [Math.Max(thetaNow[0] + delta[0], 0.05), Math.Max(thetaNow[1] + delta[1], 0.05), Math.Max(thetaNow[2] + delta[2], 0.01)];
                double[] r = Residuals(candidate);
                double c = Cost(r);
                if (c < cost)
                {
                    accepted = true;
                    double improvement = (cost - c) / Math.Max(cost, 1e-300);
                    thetaNow = candidate; residual = r; cost = c; lambda = Math.Max(lambda / 3, 1e-9);
                    if (improvement < 1e-10) { lambda = 1e12; }
                    break;
                }
                lambda *= 4;
            }
            if (!accepted || lambda >= 1e12 || delta.Max(Math.Abs) < 1e-9) { iterations++; break; }
            J = Jacobian(thetaNow);
        }

        // 4. Confidence from the Jacobian at the optimum.
        J = Jacobian(thetaNow);
        var (normal, _) = Normal(J, residual);
        double[,] covariance = Invert(normal);
        double sigma2 = cost / Math.Max(1, residualCount - 3);
        for (int p = 0; p < 3; p++) for (int q = 0; q < 3; q++) covariance[p, q] *= sigma2;
        double Std(int p) => Math.Sqrt(Math.Max(0, covariance[p, p]));
        double correlation = covariance[0, 1] / Math.Max(Std(0) * Std(1), 1e-300);

        double m0 = baseRobot.Mass, c2 = baseRobot.ThrustPolynomial.Z, tau0 = baseRobot.MotorTimeConstant;
        FittedParameter Param(string name, double value, double std) => new(name, value, value - 1.96 * std, value + 1.96 * std, std);
        var mass = Param("mass", thetaNow[0] * m0, Std(0) * m0);
        var thrust = Param("thrust_coefficient", thetaNow[1] * c2, Std(1) * c2);
        var tauFit = Param("motor_time_constant", thetaNow[2] * tau0, Std(2) * tau0);
        // Ratio s/m by the delta method: var(s/m) = (1/m)² var(s) + (s/m²)² var(m) − 2 (s/m³) cov(s, m), in multiplier units.
        double ratio = thetaNow[1] / thetaNow[0];
        double ratioVar = covariance[1, 1] / (thetaNow[0] * thetaNow[0]) + ratio * ratio * covariance[0, 0] / (thetaNow[0] * thetaNow[0])
            - 2 * ratio * covariance[0, 1] / (thetaNow[0] * thetaNow[0]);
        var ratioFit = Param("thrust_to_mass_ratio", ratio * c2 / m0, Math.Sqrt(Math.Max(0, ratioVar)) * c2 / m0);

        bool separable = Math.Abs(correlation) < options.MaxCorrelation
            && 1.96 * Std(0) / thetaNow[0] < options.MaxRelativeCi && 1.96 * Std(1) / thetaNow[1] < options.MaxRelativeCi;
        string? warning = separable ? null :
            $"mass and thrust coefficient are not separately identifiable from these logs (correlation {correlation:F4}): only their ratio " +
            $"thrust_coefficient/mass = {ratioFit.Value:G4} ± {1.96 * ratioFit.StdError:G2} is; fly with more rotational excitation (attitude manoeuvres) to separate them";

        double positionSq = 0; int positions = 0;
        for (int i = 0; i < residualCount; i += 9)
            for (int a = 0; a < 3; a++) { double e = residual[i + a] * options.PositionScale; positionSq += e * e; positions++; }

        string sourceNote = $"fitted by roborl sysid from {string.Join(", ", logs.Select(l => Path.GetFileName(l.Path)))}";
        // Not separable: mass stays at the base value and the thrust coefficient carries the identified ratio.
        double writtenMass = separable ? mass.Value : m0, writtenScale = separable ? thetaNow[1] : ratio;
        string fitted = FittedConfig(baseConfigJson, writtenMass, writtenScale, tauFit.Value, sourceNote, separable, mass, thrust, tauFit);
        return new SysIdResult(separable ? mass : null, separable ? thrust : null, tauFit, ratioFit,
            Math.Sqrt(cost / residualCount), Math.Sqrt(positionSq / Math.Max(1, positions)), windows.Count, residualCount, iterations,
            separable, correlation, warning, fitted);
    }

    /// <summary>The base config with mass, thrust polynomial (scaled) and motor time constant replaced and their sources noted; validated.</summary>
    private static string FittedConfig(string baseJson, double mass, double thrustScale, double tau, string note, bool separable,
        FittedParameter massFit, FittedParameter thrustFit, FittedParameter tauFit)
    {
        var root = JsonNode.Parse(baseJson, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })!.AsObject();
        root["mass"] = mass;
        var poly = root["thrust_polynomial"]!.AsArray();
        root["thrust_polynomial"] = new JsonArray(poly.Select(v => (JsonNode)JsonValue.Create(v!.GetValue<double>() * thrustScale)).ToArray());
        root["motor_time_constant"] = tau;
        var sources = root["sources"]!.AsObject();
        string Ci(FittedParameter p) => string.Create(CultureInfo.InvariantCulture, $"95 % CI [{p.Ci95Low:G4}, {p.Ci95High:G4}]");
        sources["mass"] = separable ? $"{note}, {Ci(massFit)}" : $"{note}: not identifiable separately from the thrust coefficient; base value kept";
        sources["thrust_polynomial"] = separable ? $"{note}: base polynomial scaled by {thrustScale:G6}, c2 {Ci(thrustFit)}"
            : $"{note}: base polynomial scaled by {thrustScale:G6} so that thrust/mass matches the identified ratio";
        sources["motor_time_constant"] = $"{note}, {Ci(tauFit)}";
        string text = root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        QuadrotorConfig.Read(ConfigNode.Parse(text, "fitted config")); // must stay a valid robot config
        return text;
    }

    private static (double[,] A, double[] G) Normal(double[,] j, double[] r)
    {
        var a = new double[3, 3]; var g = new double[3];
        for (int i = 0; i < r.Length; i++)
            for (int p = 0; p < 3; p++)
            {
                g[p] += j[i, p] * r[i];
                for (int q = 0; q < 3; q++) a[p, q] += j[i, p] * j[i, q];
            }
        return (a, g);
    }

    /// <summary>Gauss–Jordan inverse with partial pivoting (3 × 3 here); a singular matrix gives infinities, so the intervals say "unknown".</summary>
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
