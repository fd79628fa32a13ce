using System.Numerics;
using RoboRl.Core.Tasks;

namespace RoboRl.Core.Tests;

public class HoverObservationTests
{
    [Test]
    public void StateLayoutIsPositionErrorRotationVelocityAngularVelocity()
    {
        // 90° yaw: body x points along world y.
        Quaternion yaw90 = Quaternion.CreateFromAxisAngle(Vector3.UnitZ, MathF.PI / 2);
        var d = new float[HoverObservation.ActorSize(2)];
        Assert.That(d, Has.Length.EqualTo(18 + 8 + 3));
        float[] history = [1, 2, 3, 4, 5, 6, 7, 8];
        float[] integral = [0.01f, -0.02f, 0.03f];
        HoverObservation.BuildActor(new Vector3(1, 2, 3), yaw90, new Vector3(4, 5, 6), new Vector3(7, 8, 9), new Vector3(0.5f, 0.5f, 1), history,
            integral, 0.01f, d);
        Assert.That(d[..3], Is.EqualTo(new[] { 0.5f, 1.5f, 2f }));
        float[] expectedRotation = [0, -1, 0, 1, 0, 0, 0, 0, 1]; // row-major R(world ← body)
        Assert.That(d[3..12], Is.EqualTo(expectedRotation).Within(1e-6f));
        Assert.That(d[12..18], Is.EqualTo(new[] { 4f, 5, 6, 7, 8, 9 }));
        Assert.That(d[18..26], Is.EqualTo(history));
        // The integral after this step (this observation's error included) closes the row, and the caller's state advanced.
        float[] advanced = [0.01f + 0.01f * 0.5f, -0.02f + 0.01f * 1.5f, 0.03f + 0.01f * 2f];
        Assert.That(HoverObservation.IntegralOffset(2), Is.EqualTo(26));
        Assert.That(d[26..], Is.EqualTo(advanced));
        Assert.That(integral, Is.EqualTo(advanced));
        // Cross-check the matrix against System.Numerics (which stores the transpose, row-vector convention).
        Matrix4x4 m = Matrix4x4.CreateFromQuaternion(Quaternion.Normalize(new Quaternion(0.1f, -0.4f, 0.3f, 0.8f)));
        HoverObservation.WriteState(Vector3.Zero, Quaternion.Normalize(new Quaternion(0.1f, -0.4f, 0.3f, 0.8f)), Vector3.Zero, Vector3.Zero, Vector3.Zero, d);
        Assert.That(d[3..12], Is.EqualTo(new[] { m.M11, m.M21, m.M31, m.M12, m.M22, m.M32, m.M13, m.M23, m.M33 }).Within(1e-6f));
    }

    [Test]
    public void PushActionKeepsOldestFirst()
    {
        float[] history = [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3];
        HoverObservation.PushAction(history, [4, 5, 6, 7]);
        Assert.That(history, Is.EqualTo(new float[] { 2, 2, 2, 2, 3, 3, 3, 3, 4, 5, 6, 7 }));
    }

    [Test]
    public void CriticAddsDisturbanceRotorsAsActionsAndDynamics()
    {
        var robot = RoboRl.Core.Quadrotor.QuadrotorConfig.Load(RepoFiles.RobotFile);
        // Rotors at rest, at half of THRUST_MAX, at THRUST_MAX and at a quarter: actions -1, 0, 1, -0.5 (force = (a + 1)/2 · 0.12 N).
        float Rpm(float newtons) => robot.RpmForThrust(newtons);
        Vector4 rotors = HoverObservation.RotorsAsActions(robot, new Vector4(0, Rpm(0.06f), Rpm(0.12f), Rpm(0.03f)));
        var d = new float[HoverObservation.CriticSize];
        HoverObservation.BuildCritic(Vector3.One, Quaternion.Identity, Vector3.Zero, Vector3.Zero, Vector3.Zero,
            new Vector3(0.1f, 0.2f, 0.3f), new Vector3(1e-5f, 2e-5f, 3e-5f), rotors, new Vector4(1.1f, 0.95f, 1.2f, 1), d);
        Assert.That(d[..3], Is.EqualTo(new[] { 1f, 1, 1 }));
        Assert.That(d[18..24], Is.EqualTo(new[] { 0.1f, 0.2f, 0.3f, 1e-5f, 2e-5f, 3e-5f }));
        Assert.That(d[24..28], Is.EqualTo(new[] { -1f, 0, 1, -0.5f }).Within(1e-4f));
        Assert.That(d[28..], Is.EqualTo(new[] { 1.1f, 0.95f, 1.2f, 1 }));
    }

    [Test]
    public void WrongSizesAreRejected()
    {
        static void Build(int historyFloats, int integralFloats, int destinationFloats) => HoverObservation.BuildActor(Vector3.Zero, Quaternion.Identity,
            Vector3.Zero, Vector3.Zero, Vector3.Zero, new float[historyFloats], new float[integralFloats], 0.01f, new float[destinationFloats]);
        Assert.DoesNotThrow(() => Build(8, 3, 29));
        Assert.Throws<ArgumentException>(() => Build(7, 3, 28)); // history not whole actions
        // A destination of the old layout (no integral) is refused, and so is one too long.
        var old = Assert.Throws<ArgumentException>(() => Build(8, 3, 26))!;
        Assert.That(old.Message, Does.Contain("expected 29"));
        Assert.Throws<ArgumentException>(() => Build(8, 3, 30));
        var integral = Assert.Throws<ArgumentException>(() => Build(8, 2, 29))!;
        Assert.That(integral.ParamName, Is.EqualTo("positionIntegral"));
    }

    [Test]
    public void SizesAndNamesOfTheDefaultLayout()
    {
        Assert.That(HoverObservation.ActorSize(32), Is.EqualTo(149));
        Assert.That(HoverObservation.IntegralOffset(32), Is.EqualTo(146));
        Assert.That(HoverObservation.ActorSize(0), Is.EqualTo(21));
        string[] names = HoverObservation.ActorNames(32);
        Assert.That(names, Has.Length.EqualTo(149));
        Assert.That(names, Is.Unique);
        Assert.That(names[..3], Is.EqualTo(new[] { "pos_err_x", "pos_err_y", "pos_err_z" }));
        Assert.That(names[18], Is.EqualTo("action_t-32_m1"));
        Assert.That(names[142..146], Is.EqualTo(new[] { "action_t-1_m1", "action_t-1_m2", "action_t-1_m3", "action_t-1_m4" }), "the newest action sits just before the integral");
        Assert.That(names[146..], Is.EqualTo(new[] { "pos_err_int_x", "pos_err_int_y", "pos_err_int_z" }));
    }
}

public class PositionIntegralTests
{
    const float Limit = HoverObservation.PositionIntegralLimit;

    [Test]
    public void LimitIsATenthOfAMetreSecond() => Assert.That(Limit, Is.EqualTo(0.1f));

    [Test]
    public void EachAxisAddsDtTimesItsErrorThenClamps()
    {
        float[] integral = [0.09f, -0.09f, 0.05f];
        HoverObservation.IntegratePositionError(integral, [2f, 2f, -0.3f], 0.01f);
        // x: 0.09 + 0.02 → clamped to 0.1; y: −0.09 + 0.02; z: 0.05 − 0.003. The axes are independent.
        Assert.That(integral, Is.EqualTo(new[] { Limit, -0.09f + 0.02f, 0.05f - 0.003f }).Within(1e-7f));
        Assert.That(integral[0], Is.EqualTo(Limit), "exactly at the limit, not above it");
    }

    [Test]
    public void TheClampHoldsTheStoredValueSoUnwindingStartsAtTheLimit()
    {
        // Anti-windup: a long push far beyond the limit is stored as the limit, so the first step back already leaves it.
        float[] integral = new float[3];
        for (int k = 0; k < 1000; k++) HoverObservation.IntegratePositionError(integral, [0.5f, -0.5f, 0f], 0.01f);
        Assert.That(integral, Is.EqualTo(new[] { Limit, -Limit, 0f }));
        HoverObservation.IntegratePositionError(integral, [-0.5f, 0.5f, 0f], 0.01f);
        Assert.That(integral, Is.EqualTo(new[] { Limit - 0.005f, -Limit + 0.005f, 0f }).Within(1e-7f));
    }

    [Test]
    public void AnErrorLargerThanTheLimitInOneStepIsClampedToo()
    {
        float[] integral = [0f, 0f, 0f];
        HoverObservation.IntegratePositionError(integral, [100f, -100f, 0.2f], 0.01f);
        Assert.That(integral[..2], Is.EqualTo(new[] { Limit, -Limit }));
        Assert.That(integral[2], Is.EqualTo(0.01f * 0.2f));
    }

    [Test]
    public void BuildActorIntegratesThePositionErrorItWritesScaledByDt()
    {
        // Two steps at (0.3, 0, −0.5) m error, 0.01 s each, from zero.
        var d = new float[HoverObservation.ActorSize(1)];
        float[] integral = new float[3];
        float[] history = [0, 0, 0, 0];
        for (int k = 0; k < 2; k++)
            HoverObservation.BuildActor(new Vector3(1.3f, 1f, 0.5f), Quaternion.Identity, Vector3.Zero, Vector3.Zero, new Vector3(1, 1, 1),
                history, integral, 0.01f, d);
        Assert.That(d[22..], Is.EqualTo(new[] { 2 * 0.01f * (1.3f - 1f), 0f, 2 * 0.01f * -0.5f }).Within(1e-7f));
        Assert.That(d[22..], Is.EqualTo(integral));
        // dt scales it: a 500 Hz caller advances five times less per call than a 100 Hz one.
        float[] fast = new float[3];
        HoverObservation.BuildActor(new Vector3(1.3f, 1f, 0.5f), Quaternion.Identity, Vector3.Zero, Vector3.Zero, new Vector3(1, 1, 1), history, fast, 0.002f, d);
        Assert.That(fast[0], Is.EqualTo(0.002f * (1.3f - 1f)).Within(1e-8f));
    }

    [Test]
    public void BuildingAllocatesNothing()
    {
        var d = new float[HoverObservation.ActorSize(32)];
        float[] integral = new float[3], history = new float[128];
        for (int k = 0; k < 10; k++) HoverObservation.BuildActor(new Vector3(k, 0, 1), Quaternion.Identity, Vector3.Zero, Vector3.Zero, Vector3.UnitZ, history, integral, 0.01f, d);
        Assert.That(AllocationMeter.FewestBytes(() =>
        {
            for (int k = 0; k < 1000; k++) HoverObservation.BuildActor(new Vector3(k, 0, 1), Quaternion.Identity, Vector3.Zero, Vector3.Zero, Vector3.UnitZ, history, integral, 0.01f, d);
        }), Is.EqualTo(0));
        Assert.That(integral[0], Is.EqualTo(Limit));
    }
}

public class PushActionLengthsTests
{
    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    [TestCase(5)]
    [TestCase(32)]
    [TestCase(33)]
    public void PushActionShiftsHistoriesOfAnyLength(int historyLength)
    {
        float[] history = Enumerable.Range(0, 4 * historyLength).Select(i => (float)i).ToArray();
        float[] expected = [.. history.Skip(4), 100, 101, 102, 103];
        HoverObservation.PushAction(history, [100, 101, 102, 103]);
        Assert.That(history, Is.EqualTo(expected));
    }
}
