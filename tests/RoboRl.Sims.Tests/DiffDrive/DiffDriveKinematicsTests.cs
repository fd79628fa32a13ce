using System.Text.Json.Nodes;
using RoboRl.Core.DiffDrive;
using RoboRl.Sims.DiffDrive;

namespace RoboRl.Sims.Tests.DiffDrive;

public class DiffDriveKinematicsTests
{
    private static DiffDriveConfig Robot(Action<JsonObject>? edit = null)
        => edit == null ? DiffDriveConfig.Load(RepoFiles.Path("configs/robots/diffbot.json"))
                        : DiffDriveConfig.Load(RepoFiles.EditedCopy(RepoFiles.Path("configs/robots/diffbot.json"), edit));

    private struct State
    {
        public float X, Y, Yaw, V, W, Path;
    }

    private static void Run(DiffDriveConfig robot, ref State s, float v, float w, int steps, float dt = 0.1f, int substeps = 5, float slipLeft = 0, float slipRight = 0)
    {
        for (int k = 0; k < steps; k++)
            DiffDriveKinematics.Step(robot, v, w, dt, substeps, slipLeft, slipRight, ref s.X, ref s.Y, ref s.Yaw, ref s.V, ref s.W, ref s.Path);
    }

    [Test]
    public void DrivesStraightAtTopSpeedOnceSettled()
    {
        DiffDriveConfig robot = Robot();
        var s = new State();
        Run(robot, ref s, 1.0f, 0, 20); // 2 s: far beyond the 50 ms lag and the 0.09 s ramp at 2.5 m/s²
        Assert.That(s.V, Is.EqualTo(0.22f).Within(1e-5f), "the command (1 m/s) is clamped to the top speed");
        float x0 = s.X;
        Run(robot, ref s, 1.0f, 0, 10);
        Assert.That(s.X - x0, Is.EqualTo(0.22f).Within(1e-4f), "1 s at 0.22 m/s");
        Assert.That(s.Y, Is.EqualTo(0).Within(1e-6f));
        Assert.That(s.Yaw, Is.EqualTo(0).Within(1e-6f));
        Assert.That(s.Path, Is.EqualTo(s.X).Within(1e-4f), "straight: path length = displacement");
    }

    [Test]
    public void TurnsInPlaceAtTheWheelLimitedRate()
    {
        DiffDriveConfig robot = Robot();
        var s = new State();
        Run(robot, ref s, 0, 10f, 20);
        // ω_max = 2.84 rad/s needs rim speeds 2.84 · 0.08 = 0.227 m/s > 0.22: desaturation caps ω at 0.22 / 0.08 = 2.75.
        float wheelLimited = robot.MaxWheelSpeed / (robot.TrackWidth / 2);
        Assert.That(s.W, Is.EqualTo(wheelLimited).Within(1e-4f));
        Assert.That(s.X, Is.EqualTo(0).Within(1e-6f));
        Assert.That(s.Y, Is.EqualTo(0).Within(1e-6f));
        Assert.That(s.Path, Is.EqualTo(0).Within(1e-6f));
    }

    [Test]
    public void AccelerationLimitsBoundEachSubstep()
    {
        DiffDriveConfig robot = Robot();
        var s = new State();
        // One control step of one substep (20 ms): the lag alone would move (1 − e^(−0.4))·0.22 = 0.073 m/s; 2.5 m/s² allows 0.05.
        Run(robot, ref s, 0.22f, 0, 1, dt: 0.02f, substeps: 1);
        Assert.That(s.V, Is.EqualTo(robot.LinearAccelerationLimit * 0.02f).Within(1e-6f));
        var t = new State();
        Run(robot, ref t, 0, 2.0f, 1, dt: 0.02f, substeps: 1);
        Assert.That(t.W, Is.EqualTo(robot.AngularAccelerationLimit * 0.02f).Within(1e-6f));
        // Braking is limited too.
        float before = s.V = 0.22f;
        Run(robot, ref s, 0, 0, 1, dt: 0.02f, substeps: 1);
        Assert.That(before - s.V, Is.EqualTo(robot.LinearAccelerationLimit * 0.02f).Within(1e-6f));
    }

    [Test]
    public void FollowsAFirstOrderLagWhenAccelerationIsUnbounded()
    {
        DiffDriveConfig robot = Robot(o => { o["linear_acceleration_limit"] = 1000; o["angular_acceleration_limit"] = 1000; });
        var s = new State();
        float tau = robot.MotorTimeConstant;
        for (int k = 1; k <= 10; k++)
        {
            Run(robot, ref s, 0.2f, 0, 1, dt: 0.01f, substeps: 1);
            float expected = 0.2f * (1 - MathF.Exp(-k * 0.01f / tau));
            Assert.That(s.V, Is.EqualTo(expected).Within(1e-5f), $"after {k * 10} ms");
        }
    }

    [Test]
    public void ConstantCommandDrivesACircleOfRadiusVOverOmega()
    {
        DiffDriveConfig robot = Robot();
        var s = new State();
        const float v = 0.1f, w = 0.5f; // radius 0.2 m, inside the wheel limits (rims at 0.08 and 0.12 m/s)
        Run(robot, ref s, v, w, 30); // settle: 3 s
        float x0 = s.X, y0 = s.Y;
        float cx = x0 - v / w * MathF.Sin(s.Yaw), cy = y0 + v / w * MathF.Cos(s.Yaw); // centre of the turning circle
        int steps = (int)MathF.Round(2 * MathF.PI / w / 0.1f);
        float maxRadiusError = 0;
        for (int k = 0; k < steps; k++)
        {
            Run(robot, ref s, v, w, 1);
            float radius = MathF.Sqrt((s.X - cx) * (s.X - cx) + (s.Y - cy) * (s.Y - cy));
            maxRadiusError = MathF.Max(maxRadiusError, MathF.Abs(radius - v / w));
        }
        Assert.That(maxRadiusError, Is.LessThan(1e-4f), "exact arc integration stays on the circle");
        Assert.That(MathF.Sqrt((s.X - x0) * (s.X - x0) + (s.Y - y0) * (s.Y - y0)), Is.LessThan(0.01f), "one revolution (126 steps of 0.1 s) comes back to the start");
    }

    [Test]
    public void SlipMovesTheRobotButNotTheOdometry()
    {
        DiffDriveConfig robot = Robot();
        var fast = new State();
        Run(robot, ref fast, 0.2f, 0, 50, slipLeft: 0.1f, slipRight: 0.1f);
        var clean = new State();
        Run(robot, ref clean, 0.2f, 0, 50);
        Assert.That(fast.V, Is.EqualTo(clean.V), "odometry reports encoder speeds");
        Assert.That(fast.X / clean.X, Is.EqualTo(1.1f).Within(1e-4f), "the ground moved 10 % farther");
        var veer = new State();
        Run(robot, ref veer, 0.2f, 0, 50, slipLeft: -0.05f, slipRight: 0.05f);
        Assert.That(veer.W, Is.EqualTo(0), "odometry says straight");
        Assert.That(veer.Yaw, Is.GreaterThan(0.5f), "the robot turned left");
    }
}
