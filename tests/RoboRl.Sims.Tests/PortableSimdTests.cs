using System.Numerics;
using RoboRl.Core.Quadrotor;
using RoboRl.Sims.Quadrotor;

namespace RoboRl.Sims.Tests;

/// <summary>
/// QuadrotorBatch's kernel on the path an arm64 computer takes (two 128-bit fused multiply-adds per 256-bit one, forced
/// here on x64) against a scalar double-precision reference of the same model, and against the 256-bit path bit for bit
/// (both fuse, so both round once).
/// </summary>
[NonParallelizable]
public class PortableSimdTests
{
    private static QuadrotorConfig Robot => QuadrotorConfig.Load(RepoFiles.RobotFile);

    /// <summary>Eight vehicles, each with its own attitude, spin, rotor speeds and commands: every lane and every term differs.</summary>
    private static QuadrotorBatch Manoeuvring(QuadrotorConfig robot)
    {
        var batch = new QuadrotorBatch(robot, QuadrotorBatch.Lanes);
        float hover = robot.HoverRpm();
        for (int i = 0; i < QuadrotorBatch.Lanes; i++)
        {
            var attitude = Quaternion.Normalize(Quaternion.CreateFromYawPitchRoll(0.3f * i, 0.05f * (i - 3), -0.04f * i));
            batch.SetPose(i, new Vector3(0.1f * i, -0.2f * i, 3 + 0.05f * i), attitude);
            batch.SetVelocities(i, new Vector3(0.1f * i, 0.05f, -0.1f), new Vector3(0.2f - 0.05f * i, 0.1f * i, -0.3f));
            for (int m = 0; m < 4; m++)
            {
                batch.Rpm[m][i] = hover * (0.9f + 0.02f * m + 0.01f * i);
                batch.CommandRpm[m][i] = hover * (1.05f - 0.03f * m + 0.005f * i);
            }
            batch.ForceX[i] = 0.001f * i; batch.TorqueZ[i] = -1e-6f * i;
        }
        return batch;
    }

    private static float[][] Snapshot(QuadrotorBatch b) =>
        [b.Px, b.Py, b.Pz, b.Qw, b.Qx, b.Qy, b.Qz, b.Vx, b.Vy, b.Vz, b.Wx, b.Wy, b.Wz, b.Rpm[0], b.Rpm[1], b.Rpm[2], b.Rpm[3]];

    private static float[][] Fly(bool halves, int steps)
    {
        bool saved = QuadrotorBatch.Use128BitHalves;
        QuadrotorBatch.Use128BitHalves = halves;
        try
        {
            QuadrotorBatch batch = Manoeuvring(Robot);
            for (int k = 0; k < steps; k++) batch.Integrate(0.002f, 2);
            return Snapshot(batch).Select(a => a[..QuadrotorBatch.Lanes].ToArray()).ToArray();
        }
        finally { QuadrotorBatch.Use128BitHalves = saved; }
    }

    [Test]
    public void The128BitPathMatchesTheScalarReference()
    {
        const int steps = 250; // 0.5 s at 500 Hz, two RK4 substeps each
        float[][] simd = Fly(halves: true, steps);
        QuadrotorConfig robot = Robot;
        QuadrotorBatch start = Manoeuvring(robot);
        for (int i = 0; i < QuadrotorBatch.Lanes; i++)
        {
            double[] x = ScalarReference.Initial(start, i);
            double[] cmd = [start.CommandRpm[0][i], start.CommandRpm[1][i], start.CommandRpm[2][i], start.CommandRpm[3][i]];
            for (int k = 0; k < steps; k++)
                for (int sub = 0; sub < 2; sub++) x = ScalarReference.Rk4(x, cmd, robot, start, i, 0.001);
            Assert.That(x[2], Is.GreaterThan(0.1), "the reference stays off the floor (no crash handling needed)");
            for (int c = 0; c < 17; c++)
            {
                // Float against double over 500 RK4 steps: relative 1e-4 of the component's size (rotor speeds ~2e4 rpm).
                double tolerance = 1e-4 * Math.Max(1, Math.Abs(x[c]));
                Assert.That(simd[c][i], Is.EqualTo(x[c]).Within(tolerance), $"vehicle {i}, state component {c}");
            }
        }
    }

    [Test]
    public void The128BitAnd256BitPathsAgreeBitForBit()
    {
        float[][] halves = Fly(halves: true, 100), full = Fly(halves: false, 100);
        for (int c = 0; c < halves.Length; c++)
            Assert.That(halves[c], Is.EqualTo(full[c]), $"state component {c}: both paths fuse, so they must round alike");
    }

    /// <summary>The model of QuadrotorBatch's class summary, one vehicle, in double: x = (p, q, v, ω, rpm).</summary>
    private static class ScalarReference
    {
        public static double[] Initial(QuadrotorBatch b, int i) =>
            [b.Px[i], b.Py[i], b.Pz[i], b.Qw[i], b.Qx[i], b.Qy[i], b.Qz[i], b.Vx[i], b.Vy[i], b.Vz[i], b.Wx[i], b.Wy[i], b.Wz[i],
             b.Rpm[0][i], b.Rpm[1][i], b.Rpm[2][i], b.Rpm[3][i]];

        private static double[] Derivative(double[] x, double[] cmd, QuadrotorConfig r, QuadrotorBatch b, int i)
        {
            double mass = b.Mass[i], ixx = b.Ixx[i], iyy = b.Iyy[i], izz = b.Izz[i], tau = b.MotorTimeConstant[i];
            double qw = x[3], qx = x[4], qy = x[5], qz = x[6], wx = x[10], wy = x[11], wz = x[12];
            double thrust = 0, tauX = 0, tauY = 0, tauZ = 0;
            for (int m = 0; m < 4; m++)
            {
                double rpm = x[13 + m];
                double t = b.ThrustScale[i] * (r.ThrustPolynomial.X + r.ThrustPolynomial.Y * rpm + r.ThrustPolynomial.Z * rpm * rpm);
                thrust += t;
                tauX += r.Rotors[m].Position.Y * t;
                tauY -= r.Rotors[m].Position.X * t;
                tauZ += r.Rotors[m].YawTorqueSign * r.YawTorquePerThrust * t;
            }
            double zx = 2 * (qx * qz + qw * qy), zy = 2 * (qy * qz - qw * qx), zz = 1 - 2 * (qx * qx + qy * qy);
            var d = new double[17];
            d[0] = x[7]; d[1] = x[8]; d[2] = x[9];
            d[3] = -0.5 * (qx * wx + qy * wy + qz * wz);
            d[4] = 0.5 * (qw * wx + qy * wz - qz * wy);
            d[5] = 0.5 * (qw * wy + qz * wx - qx * wz);
            d[6] = 0.5 * (qw * wz + qx * wy - qy * wx);
            d[7] = (zx * thrust + b.ForceX[i]) / mass;
            d[8] = (zy * thrust + b.ForceY[i]) / mass;
            d[9] = (zz * thrust + b.ForceZ[i]) / mass - r.Gravity;
            d[10] = (tauX + b.TorqueX[i] - (izz - iyy) * wy * wz) / ixx;
            d[11] = (tauY + b.TorqueY[i] - (ixx - izz) * wz * wx) / iyy;
            d[12] = (tauZ + b.TorqueZ[i] - (iyy - ixx) * wx * wy) / izz;
            for (int m = 0; m < 4; m++) d[13 + m] = (cmd[m] - x[13 + m]) / tau;
            return d;
        }

        public static double[] Rk4(double[] x, double[] cmd, QuadrotorConfig r, QuadrotorBatch b, int i, double h)
        {
            double[] At(double[] d, double scale) => x.Select((v, c) => v + scale * d[c]).ToArray();
            double[] k1 = Derivative(x, cmd, r, b, i), k2 = Derivative(At(k1, h / 2), cmd, r, b, i);
            double[] k3 = Derivative(At(k2, h / 2), cmd, r, b, i), k4 = Derivative(At(k3, h), cmd, r, b, i);
            double[] next = x.Select((v, c) => v + h / 6 * (k1[c] + 2 * k2[c] + 2 * k3[c] + k4[c])).ToArray();
            double norm = Math.Sqrt(next[3] * next[3] + next[4] * next[4] + next[5] * next[5] + next[6] * next[6]);
            for (int c = 3; c < 7; c++) next[c] /= norm;
            return next;
        }
    }
}
