using RoboRl.Core.Policy;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Tasks;
using RoboRl.Serial.Firmware;

namespace RoboRl.Testing;

/// <summary>
/// A policy that hovers, built by hand instead of trained, in the bundle's exact shape (149 → 64 → 64 → 4, the
/// hover observation, actions in [−1, 1] → rpm), so the MCU-in-the-loop flight can check the hover bound before a
/// trained bundle exists. Layers: identity, identity, tanh; only 4 units of each hidden layer are used, so the
/// network is a = tanh(K·obs + b): a linearised full-state feedback per axis.
///
/// Per axis (height, roll, pitch, yaw) the plant is x'' = A·m, m' = (c − m)/τ (rotor lag τ, command c in
/// "u" units, A the axis' acceleration per unit u at hover). The rotor state m is not observed, but the last 32
/// actions are: m ≈ Σ β(1 − β)^(j−1)·c(k−j), β = 1 − e^(−dt/τ), normalised over the history. With
/// c = −k1·x − k2·x' − k3·m the closed loop is τs³ + (1 + k3)s² + A·k2·s + A·k1 = 0; the gains put a triple pole
/// at −p. Roll and pitch track the tilt that a PD law on the world position error asks for (small-angle, small-yaw
/// linearisation: the flight starts near level with a small yaw). The position-error integral at the end of the
/// observation gets zero weights: a PD law, enough without a disturbance force.
/// </summary>
public static class AnalyticHoverPolicy
{
    /// <param name="robotConfigJson">The robot config the bundle says it was made for (a node refuses a bundle of another
    /// robot); default: the firmware tests' shape-only placeholder.</param>
    public static PolicyBundle Create(QuadrotorConfig robot, double controlDt, int historyLength = 32,
        double heightPole = 4, double attitudePole = 10, double yawPole = 6, double positionBandwidth = 1.5, string? robotConfigJson = null)
    {
        int obs = HoverObservation.ActorSize(historyLength);
        int integralOffset = HoverObservation.IntegralOffset(historyLength);
        double g = robot.Gravity, tau = robot.MotorTimeConstant;
        double aHover = robot.HoverAction();
        double slope = 1 - aHover * aHover; // d tanh / du at the hover action
        double dThrustDu = robot.Actuator.ThrustMaxN / 2.0 * slope; // N per u per rotor: F = (a + 1)/2 · thrust_max_n
        double arm = Math.Abs(robot.Rotors[0].Position.Y);
        double aHeight = 4 * dThrustDu / robot.Mass;
        double aRoll = 4 * arm * dThrustDu / robot.InertiaDiagonal.X;
        double aPitch = 4 * arm * dThrustDu / robot.InertiaDiagonal.Y;
        double aYaw = 4 * robot.YawTorquePerThrust * dThrustDu / robot.InertiaDiagonal.Z;
        (double K1, double K2, double K3) Gains(double a, double p) => (p * p * p * tau / a, 3 * p * p * tau / a, 3 * p * tau - 1);
        var height = Gains(aHeight, heightPole);
        var roll = Gains(aRoll, attitudePole);
        var pitch = Gains(aPitch, attitudePole);
        var yaw = Gains(aYaw, yawPole);
        double kp = positionBandwidth * positionBandwidth, kd = 2 * 0.9 * positionBandwidth;

        // Mixer: rotor j gets uT + sx·ux + sy·uy + sz·uz (roll torque = Σ y_j F_j, pitch torque = −Σ x_j F_j).
        var sx = robot.Rotors.Select(r => (double)Math.Sign(r.Position.Y)).ToArray();
        var sy = robot.Rotors.Select(r => (double)-Math.Sign(r.Position.X)).ToArray();
        var sz = robot.Rotors.Select(r => (double)r.YawTorqueSign).ToArray();

        double beta = 1 - Math.Exp(-controlDt / tau);
        var history = new double[historyLength]; // slot historyLength − 1 is the newest action
        for (int j = 1; j <= historyLength; j++) history[historyLength - j] = beta * Math.Pow(1 - beta, j - 1);
        double total = history.Sum();
        for (int s = 0; s < historyLength; s++) history[s] /= total;

        var uT = new double[obs]; var ux = new double[obs]; var uy = new double[obs]; var uz = new double[obs];
        // Observation: [0..3) p − target, [3..12) R row-major, [12..15) v world, [15..18) ω body (HoverObservation).
        uT[2] = -height.K1; uT[14] = -height.K2;
        // roll φ ≈ −R12 (obs 8), wanted φ = (kp·py + kd·vy)/g; pitch θ ≈ R02 (obs 5), wanted θ = −(kp·px + kd·vx)/g; yaw ψ ≈ R10 (obs 6).
        ux[8] = roll.K1; ux[1] = roll.K1 * kp / g; ux[13] = roll.K1 * kd / g; ux[15] = -roll.K2;
        uy[5] = -pitch.K1; uy[0] = -pitch.K1 * kp / g; uy[12] = -pitch.K1 * kd / g; uy[16] = -pitch.K2;
        uz[6] = -yaw.K1; uz[17] = -yaw.K2;
        for (int s = 0; s < historyLength; s++)
            for (int m = 0; m < 4; m++)
            {
                int i = 18 + 4 * s + m;
                uT[i] = -height.K3 * history[s] / (4 * slope); // rotor state in u units: (mean action − hover action) / slope
                ux[i] = -roll.K3 * history[s] * sx[m] / (4 * slope);
                uy[i] = -pitch.K3 * history[s] * sy[m] / (4 * slope);
                uz[i] = -yaw.K3 * history[s] * sz[m] / (4 * slope);
            }
        double biasT = height.K3 * aHover / slope;

        var w0 = new float[64 * obs]; var b0 = new float[64];
        for (int j = 0; j < 4; j++)
        {
            b0[j] = (float)biasT;
            for (int i = 0; i < obs; i++) w0[j * obs + i] = (float)(uT[i] + sx[j] * ux[i] + sy[j] * uy[i] + sz[j] * uz[i]);
        }
        var w1 = new float[64 * 64];
        for (int j = 0; j < 4; j++) w1[j * 64 + j] = 1;
        var w2 = new float[4 * 64];
        for (int j = 0; j < 4; j++) w2[j * 64 + j] = 1;
        var b2 = Enumerable.Repeat((float)Math.Atanh(aHover), 4).ToArray();

        PolicyBundle template = RandomPolicy.Create([obs, 4], goldenCount: 1);
        var bundle = new PolicyBundle
        {
            Layers =
            [
                new DenseLayer(obs, 64, w0, b0, Activation.Identity),
                new DenseLayer(64, 64, w1, new float[64], Activation.Identity),
                new DenseLayer(64, 4, w2, b2, Activation.Tanh),
            ],
            ObservationNames = robotConfigJson is null ? template.ObservationNames : HoverObservation.ActorNames(historyLength),
            ActionNames = template.ActionNames,
            ObservationMean = new float[obs],
            ObservationStd = Enumerable.Repeat(1f, obs).ToArray(),
            ActionLow = HoverObservation.ActionScaling(robot).Low,
            ActionHigh = HoverObservation.ActionScaling(robot).High,
            ActionUnit = HoverObservation.ActionUnit,
            ControlRateHz = 1 / controlDt,
            ActionHistoryLength = historyLength,
            RobotConfigJson = robotConfigJson ?? template.RobotConfigJson,
            TrainingConfigJson = """{"analytic_hover_policy":true}""",
            GitCommit = template.GitCommit,
            GoldenObservations = new float[obs],
            GoldenActions = new float[4],
        };
        // Golden vectors near hover, from the independent double-precision forward.
        var random = new Random(2);
        const int Golden = 4;
        var observations = new float[Golden * obs];
        for (int k = 0; k < Golden; k++)
            for (int i = 0; i < obs; i++)
                observations[k * obs + i] = i >= integralOffset ? (float)(0.2 * (random.NextDouble() - 0.5)) // within ±0.1 m·s
                    : i >= 18 ? (float)(aHover + 0.05 * (random.NextDouble() - 0.5))
                    : i is 3 or 7 or 11 ? 1f : (float)(0.1 * (random.NextDouble() - 0.5));
        var actions = new float[Golden * 4];
        for (int k = 0; k < Golden; k++)
            RandomPolicy.ReferenceForward(bundle, observations.AsSpan(k * obs, obs)).CopyTo(actions.AsSpan(k * 4, 4));
        return bundle.WithGoldenVectors(observations, actions);
    }
}
