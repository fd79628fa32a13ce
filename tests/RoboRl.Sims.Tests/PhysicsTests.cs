using System.Numerics;
using RoboRl.Core.Quadrotor;
using RoboRl.Sims.Quadrotor;

namespace RoboRl.Sims.Tests;

/// <summary>Physics that can fail: each test compares the integrator with a closed-form result.</summary>
public class PhysicsTests
{
    private static QuadrotorConfig Robot => QuadrotorConfig.Load(RepoFiles.RobotFile);

    [Test]
    public void HoverRpmHoldsAltitudeWithinOneMillimetreForFiveSeconds()
    {
        QuadrotorConfig robot = Robot;
        var batch = new QuadrotorBatch(robot, 1);
        batch.SetPose(0, new Vector3(0, 0, 1), Quaternion.Identity);
        batch.SetRotors(0, robot.HoverRpm());
        for (int k = 0; k < 500; k++)
        {
            batch.Integrate(0.01f, 1);
            Assert.That(MathF.Abs(batch.Pz[0] - 1f), Is.LessThan(1e-3f), $"after {k + 1} steps");
        }
        Assert.That(batch.Position(0).X, Is.EqualTo(0f).Within(1e-6f));
        Assert.That(batch.AngularVelocity(0).Length(), Is.LessThan(1e-6f));
    }

    [Test]
    public void HoverRpmOfARandomisedMassDoesNotHold()
    {
        // Guard against a test that cannot fail: 5 % more mass at the nominal hover rpm must sink.
        QuadrotorConfig robot = Robot;
        var batch = new QuadrotorBatch(robot, 1);
        batch.SetPose(0, new Vector3(0, 0, 1), Quaternion.Identity);
        batch.SetRotors(0, robot.HoverRpm());
        batch.Mass[0] = robot.Mass * 1.05f;
        for (int k = 0; k < 100; k++) batch.Integrate(0.01f, 1);
        // a = g·(1 − 1/1.05) = 0.467 m/s²; after 1 s: 0.2336 m lower.
        Assert.That(1f - batch.Pz[0], Is.EqualTo(0.5 * 9.81 * (1 - 1 / 1.05)).Within(1e-4));
    }

    [Test]
    public void FreeFallMatchesHalfGTSquared()
    {
        var batch = new QuadrotorBatch(Robot, 3);
        for (int i = 0; i < 3; i++) batch.SetPose(i, new Vector3(i, 0, 10), Quaternion.Identity);
        for (int k = 0; k < 100; k++) batch.Integrate(0.01f, 1); // rotors at 0 rpm: no thrust
        for (int i = 0; i < 3; i++)
        {
            Assert.That(batch.Pz[i], Is.EqualTo(10 - 0.5 * 9.81 * 1 * 1).Within(2e-4));
            Assert.That(batch.Vz[i], Is.EqualTo(-9.81f).Within(1e-4f));
            Assert.That(batch.Px[i], Is.EqualTo((float)i));
        }
    }

    [Test]
    public void FloorStopsTheFallAndFlagsACrash()
    {
        var batch = new QuadrotorBatch(Robot, 1);
        batch.SetPose(0, new Vector3(0, 0, 0.1f), Quaternion.Identity);
        int k = 0;
        while (batch.Crashed[0] == 0 && k < 100) { batch.Integrate(0.01f, 1); k++; }
        Assert.That(k, Is.EqualTo(15)); // sqrt(2·0.1/9.81) = 0.143 s → below the floor during step 15
        Assert.That(batch.Pz[0], Is.EqualTo(0f));
        Assert.That(batch.Vz[0], Is.EqualTo(0f));
    }

    [Test]
    public void PositiveYawTorqueSpinsCounterClockwiseAtTauOverI()
    {
        QuadrotorConfig robot = Robot;
        var batch = new QuadrotorBatch(robot, 1);
        batch.SetPose(0, new Vector3(0, 0, 1), Quaternion.Identity);
        // Rotors with yaw sign +1 (M2, M4) faster, −1 (M1, M3) slower; diagonal pairs keep roll/pitch torque zero.
        float hover = robot.HoverRpm(), delta = 1500;
        float[] rpm = [hover - delta, hover + delta, hover - delta, hover + delta];
        for (int m = 0; m < 4; m++) { batch.Rpm[m][0] = rpm[m]; batch.CommandRpm[m][0] = rpm[m]; }
        float tauZ = 0;
        for (int m = 0; m < 4; m++) tauZ += robot.Rotors[m].YawTorqueSign * robot.YawTorquePerThrust * robot.Thrust(rpm[m]);
        Assert.That(tauZ, Is.GreaterThan(0));

        const float dt = 0.01f;
        batch.Integrate(dt, 1);
        float expected = tauZ / robot.InertiaDiagonal.Z * dt;
        Assert.That(batch.Wz[0], Is.EqualTo(expected).Within(expected * 1e-4f));
        Assert.That(MathF.Abs(batch.Wx[0]) + MathF.Abs(batch.Wy[0]), Is.LessThan(1e-9f));

        for (int k = 0; k < 9; k++) batch.Integrate(dt, 1);
        // Counter-clockwise seen from above (ENU): body x turns from +x towards +y; yaw = ½·α·t².
        Quaternion q = batch.Orientation(0);
        Vector3 bodyX = Rotate(q, Vector3.UnitX);
        float yaw = MathF.Atan2(bodyX.Y, bodyX.X);
        float alpha = tauZ / robot.InertiaDiagonal.Z;
        Assert.That(yaw, Is.GreaterThan(0));
        Assert.That(yaw, Is.EqualTo(0.5f * alpha * 0.1f * 0.1f).Within(1e-3f * alpha));
    }

    [Test]
    public void RollTorqueFromTheLeftRotorsRollsRight()
    {
        // Left rotors (M3, M4 at +y) stronger → torque about +x → body y tips up (right-hand rule).
        QuadrotorConfig robot = Robot;
        var batch = new QuadrotorBatch(robot, 1);
        batch.SetPose(0, new Vector3(0, 0, 1), Quaternion.Identity);
        float hover = robot.HoverRpm();
        float[] rpm = [hover - 500, hover - 500, hover + 500, hover + 500];
        for (int m = 0; m < 4; m++) { batch.Rpm[m][0] = rpm[m]; batch.CommandRpm[m][0] = rpm[m]; }
        batch.Integrate(0.01f, 1);
        float tauX = 0;
        for (int m = 0; m < 4; m++) tauX += robot.Rotors[m].Position.Y * robot.Thrust(rpm[m]);
        Assert.That(batch.Wx[0], Is.EqualTo(tauX / robot.InertiaDiagonal.X * 0.01f).Within(1e-3f * tauX / robot.InertiaDiagonal.X * 0.01f));
        Assert.That(batch.Wx[0], Is.GreaterThan(0));
    }

    [Test]
    public void MotorReaches63PercentOfAStepInOneTimeConstant()
    {
        QuadrotorConfig robot = Robot;
        var batch = new QuadrotorBatch(robot, 1);
        batch.SetPose(0, new Vector3(0, 0, 100), Quaternion.Identity);
        for (int m = 0; m < 4; m++) batch.CommandRpm[m][0] = 20000;
        for (int k = 0; k < 15; k++) batch.Integrate(0.01f, 1); // 0.15 s = τ
        Assert.That(batch.Rpm[0][0] / 20000f, Is.EqualTo(1 - Math.Exp(-1)).Within(1e-4));
        for (int k = 0; k < 15; k++) batch.Integrate(0.01f, 1);
        Assert.That(batch.Rpm[3][0] / 20000f, Is.EqualTo(1 - Math.Exp(-2)).Within(1e-4));
    }

    [Test]
    public void Rk4RigidBodyErrorDropsSixteenfoldWhenTheStepHalves()
    {
        // A tumbling vehicle (gyroscopic coupling) under unequal, constant rotor speeds and a disturbance.
        // Rotor speeds are held (command = speed) so that float rounding of ~1e4 rpm, amplified by the
        // thrust-difference torques, does not set an error floor; the motor lag has its own test below.
        static QuadrotorBatch Run(int substeps)
        {
            QuadrotorConfig robot = QuadrotorConfig.Load(RepoFiles.RobotFile);
            var batch = new QuadrotorBatch(robot, 1);
            batch.SetPose(0, new Vector3(0, 0, 5), Quaternion.Normalize(new Quaternion(0.2f, -0.1f, 0.3f, 0.9f)));
            batch.SetVelocities(0, new Vector3(0.5f, -0.3f, 0.2f), new Vector3(4f, -3f, 5f));
            float[] rpm = [14000, 14600, 14300, 14900];
            for (int m = 0; m < 4; m++) { batch.Rpm[m][0] = rpm[m]; batch.CommandRpm[m][0] = rpm[m]; }
            batch.ForceX[0] = 0.01f; batch.TorqueZ[0] = 2e-5f;
            for (int k = 0; k < 4; k++) batch.Integrate(0.05f, substeps); // 0.2 s
            return batch;
        }
        static double Error(QuadrotorBatch a, QuadrotorBatch b)
            => (a.AngularVelocity(0) - b.AngularVelocity(0)).Length() + (a.Velocity(0) - b.Velocity(0)).Length()
               + (a.Orientation(0) - b.Orientation(0)).Length();
        // Self-convergence (Richardson): successive differences shrink by 2^4 for a 4th-order method.
        // A fine reference would not do: its thousands of float roundings exceed the truncation error.
        QuadrotorBatch h1 = Run(1), h2 = Run(2), h4 = Run(4);
        double e1 = Error(h1, h2), e2 = Error(h2, h4);
        TestContext.Out.WriteLine($"differences {e1:E3} {e2:E3}; ratio {e1 / e2:F1}");
        Assert.That(e1 / e2, Is.InRange(12.0, 20.0));
    }

    [Test]
    public void Rk4MotorLagErrorDropsSixteenfoldWhenTheStepHalves()
    {
        // d(rpm)/dt = (cmd − rpm)/τ has the exact solution cmd·(1 − e^(−t/τ)) from rest.
        QuadrotorConfig robot = Robot;
        double Error(int substeps)
        {
            var batch = new QuadrotorBatch(robot, 1);
            batch.SetPose(0, new Vector3(0, 0, 1000), Quaternion.Identity);
            for (int m = 0; m < 4; m++) batch.CommandRpm[m][0] = 20000;
            for (int k = 0; k < 8; k++) batch.Integrate(0.05f, substeps); // 0.4 s
            return Math.Abs(batch.Rpm[0][0] - 20000 * (1 - Math.Exp(-0.4 / 0.15)));
        }
        // h/τ = 1/3 → 1/6: the exact RK4 ratio is 18.4 (16 in the limit). One more halving would reach
        // float resolution at ~1e4 rpm (error ~1e-3 rpm), so it is not asserted.
        double e1 = Error(1), e2 = Error(2);
        TestContext.Out.WriteLine($"errors {e1:E3} {e2:E3}; ratio {e1 / e2:F1}");
        Assert.That(e1 / e2, Is.InRange(14.0, 20.0));
    }

    [Test]
    public void TorqueFreeTumblingConservesEnergyAndAngularMomentum()
    {
        // Rotors off: gravity acts at the centre of mass, so rotation is torque-free. With three different
        // moments of inertia the body-frame ω wanders (Euler's equations), yet ½·ωᵀJω and the world-frame
        // angular momentum R·J·ω must stay put.
        var batch = new QuadrotorBatch(Robot, 1);
        batch.Ixx[0] = 3.85e-6f; batch.Iyy[0] = 4.6e-6f; batch.Izz[0] = 5.9675e-6f;
        batch.SetPose(0, new Vector3(0, 0, 1000), Quaternion.Identity);
        batch.SetVelocities(0, Vector3.Zero, new Vector3(3f, -2f, 0.5f));
        var inertia = new Vector3(batch.Ixx[0], batch.Iyy[0], batch.Izz[0]);
        double Energy() { Vector3 w = batch.AngularVelocity(0); return 0.5 * Vector3.Dot(w, inertia * w); }
        Vector3 Momentum() => Rotate(batch.Orientation(0), inertia * batch.AngularVelocity(0));
        double energy0 = Energy();
        Vector3 momentum0 = Momentum();
        Vector3 w0 = batch.AngularVelocity(0);
        for (int k = 0; k < 200; k++) batch.Integrate(0.01f, 1); // 2 s
        Assert.That((batch.AngularVelocity(0) - w0).Length(), Is.GreaterThan(0.5f), "ω should precess in the body frame");
        Assert.That(Energy(), Is.EqualTo(energy0).Within(energy0 * 1e-5));
        Assert.That((Momentum() - momentum0).Length(), Is.LessThan(momentum0.Length() * 1e-5f));
    }

    /// <summary>R(q)·v with the rotation matrix written out in double (an independent check of the kernel's convention).</summary>
    private static Vector3 Rotate(Quaternion q, Vector3 v)
    {
        double w = q.W, x = q.X, y = q.Y, z = q.Z;
        return new Vector3(
            (float)((1 - 2 * (y * y + z * z)) * v.X + 2 * (x * y - w * z) * v.Y + 2 * (x * z + w * y) * v.Z),
            (float)(2 * (x * y + w * z) * v.X + (1 - 2 * (x * x + z * z)) * v.Y + 2 * (y * z - w * x) * v.Z),
            (float)(2 * (x * z - w * y) * v.X + 2 * (y * z + w * x) * v.Y + (1 - 2 * (x * x + y * y)) * v.Z));
    }

    [Test]
    public void ProjectileKeepsItsHorizontalVelocity()
    {
        var batch = new QuadrotorBatch(Robot, 1);
        batch.SetPose(0, new Vector3(0, 0, 50), Quaternion.Identity);
        batch.SetVelocities(0, new Vector3(2f, -1f, 3f), Vector3.Zero);
        for (int k = 0; k < 100; k++) batch.Integrate(0.01f, 1);
        Assert.That(batch.Position(0).X, Is.EqualTo(2f).Within(1e-5f));
        Assert.That(batch.Position(0).Y, Is.EqualTo(-1f).Within(1e-5f));
        Assert.That(batch.Position(0).Z, Is.EqualTo(50 + 3 - 0.5 * 9.81).Within(1e-4));
    }

    [Test]
    public void DisturbanceForceAcceleratesAtFOverM()
    {
        QuadrotorConfig robot = Robot;
        var batch = new QuadrotorBatch(robot, 1);
        batch.SetPose(0, new Vector3(0, 0, 1), Quaternion.Identity);
        batch.SetRotors(0, robot.HoverRpm());
        batch.ForceX[0] = 0.01324f;
        for (int k = 0; k < 100; k++) batch.Integrate(0.01f, 1);
        Assert.That(batch.Vx[0], Is.EqualTo(0.01324f / robot.Mass * 1f).Within(1e-4f));
        Assert.That(batch.Pz[0], Is.EqualTo(1f).Within(1e-5f));
    }

    [Test]
    public void QuaternionStaysUnitWhileTumbling()
    {
        var batch = new QuadrotorBatch(Robot, 1);
        batch.SetPose(0, new Vector3(0, 0, 1000), Quaternion.Identity);
        batch.SetVelocities(0, Vector3.Zero, new Vector3(20, -30, 10));
        for (int k = 0; k < 1000; k++) batch.Integrate(0.01f, 1);
        Assert.That(batch.Orientation(0).Length(), Is.EqualTo(1f).Within(1e-6f));
    }

    [Test]
    public void NonFiniteStateIsFlaggedAsCrash()
    {
        var batch = new QuadrotorBatch(Robot, 9);
        batch.CommandRpm[0][4] = float.NaN;
        batch.SetPose(8, new Vector3(0, 0, 1), Quaternion.Identity);
        batch.Integrate(0.01f, 1);
        Assert.That(batch.Crashed[4], Is.EqualTo(1f));
        Assert.That(batch.Crashed[8], Is.EqualTo(0f)); // a vehicle in another lane is untouched
    }
}
