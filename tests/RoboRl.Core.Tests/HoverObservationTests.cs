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
        float[] history = [1, 2, 3, 4, 5, 6, 7, 8];
        HoverObservation.BuildActor(new Vector3(1, 2, 3), yaw90, new Vector3(4, 5, 6), new Vector3(7, 8, 9), new Vector3(0.5f, 0.5f, 1), history, d);
        Assert.That(d[..3], Is.EqualTo(new[] { 0.5f, 1.5f, 2f }));
        float[] expectedRotation = [0, -1, 0, 1, 0, 0, 0, 0, 1]; // row-major R(world ← body)
        Assert.That(d[3..12], Is.EqualTo(expectedRotation).Within(1e-6f));
        Assert.That(d[12..18], Is.EqualTo(new[] { 4f, 5, 6, 7, 8, 9 }));
        Assert.That(d[18..], Is.EqualTo(history));
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
    public void CriticAddsDisturbanceNormalisedRotorSpeedsAndDynamics()
    {
        var d = new float[HoverObservation.CriticSize];
        HoverObservation.BuildCritic(Vector3.One, Quaternion.Identity, Vector3.Zero, Vector3.Zero, Vector3.Zero,
            new Vector3(0.1f, 0.2f, 0.3f), new Vector3(1e-5f, 2e-5f, 3e-5f), new Vector4(0, 10851, 21702, 5425.5f), 21702, new Vector4(1.1f, 0.95f, 1.2f, 1), d);
        Assert.That(d[..3], Is.EqualTo(new[] { 1f, 1, 1 }));
        Assert.That(d[18..24], Is.EqualTo(new[] { 0.1f, 0.2f, 0.3f, 1e-5f, 2e-5f, 3e-5f }));
        Assert.That(d[24..28], Is.EqualTo(new[] { -1f, 0, 1, -0.5f }).Within(1e-6f));
        Assert.That(d[28..], Is.EqualTo(new[] { 1.1f, 0.95f, 1.2f, 1 }));
    }

    [Test]
    public void WrongSizesAreRejected()
    {
        Assert.Throws<ArgumentException>(() => HoverObservation.BuildActor(Vector3.Zero, Quaternion.Identity, Vector3.Zero, Vector3.Zero, Vector3.Zero, new float[7], new float[25]));
        Assert.Throws<ArgumentException>(() => HoverObservation.BuildActor(Vector3.Zero, Quaternion.Identity, Vector3.Zero, Vector3.Zero, Vector3.Zero, new float[8], new float[27]));
    }
}

public class PushActionLengthsTests
{
    [TestCase(1)] [TestCase(2)] [TestCase(3)] [TestCase(5)] [TestCase(32)] [TestCase(33)]
    public void PushActionShiftsHistoriesOfAnyLength(int historyLength)
    {
        float[] history = Enumerable.Range(0, 4 * historyLength).Select(i => (float)i).ToArray();
        float[] expected = [.. history.Skip(4), 100, 101, 102, 103];
        HoverObservation.PushAction(history, [100, 101, 102, 103]);
        Assert.That(history, Is.EqualTo(expected));
    }
}
