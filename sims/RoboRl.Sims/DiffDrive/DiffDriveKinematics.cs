using RoboRl.Core.DiffDrive;

namespace RoboRl.Sims.DiffDrive;

/// <summary>
/// Differential-drive dynamics of one robot over one control step (scalar: a few dozen flops, far below the lidar's
/// cost). Wheel rim speeds are v ∓ ω·track/2; the body follows its command through a first-order lag
/// (time constant τ, discretised exactly: the gap shrinks by e^(−dt/τ) per substep), each substep's change clipped
/// by the acceleration limits; wheel speeds never exceed the top wheel speed (desaturation keeps the curvature).
/// </summary>
public static class DiffDriveKinematics
{
    /// <summary>Scales (v, ω) down, keeping v/ω, until both wheel rim speeds are within ±max_wheel_speed.</summary>
    public static (float V, float W) Desaturate(DiffDriveConfig robot, float v, float w)
    {
        float halfTrack = 0.5f * robot.TrackWidth;
        float fastest = MathF.Max(MathF.Abs(v - w * halfTrack), MathF.Abs(v + w * halfTrack));
        if (fastest <= robot.MaxWheelSpeed) return (v, w);
        float scale = robot.MaxWheelSpeed / fastest;
        return (v * scale, w * scale);
    }

    /// <summary>
    /// Advances the pose (x, y, yaw) and the odometry velocities (v, ω) by <paramref name="dt"/> in
    /// <paramref name="substeps"/> steps towards the commanded (<paramref name="commandV"/>, <paramref name="commandW"/>)
    /// (clamped to the robot's limits). The ground moves each wheel (1 + slip) times its encoder speed; odometry
    /// reports the encoder speeds. <paramref name="pathLength"/> grows by the distance the centre travelled.
    /// </summary>
    public static void Step(DiffDriveConfig robot, float commandV, float commandW, float dt, int substeps, float slipLeft, float slipRight,
        ref float x, ref float y, ref float yaw, ref float v, ref float w, ref float pathLength)
    {
        commandV = Math.Clamp(commandV, -robot.MaxLinearVelocity, robot.MaxLinearVelocity);
        commandW = Math.Clamp(commandW, -robot.MaxAngularVelocity, robot.MaxAngularVelocity);
        (commandV, commandW) = Desaturate(robot, commandV, commandW);
        float h = dt / substeps;
        float approach = 1f - MathF.Exp(-h / robot.MotorTimeConstant);
        float maxDv = robot.LinearAccelerationLimit * h, maxDw = robot.AngularAccelerationLimit * h;
        float halfTrack = 0.5f * robot.TrackWidth;
        for (int s = 0; s < substeps; s++)
        {
            v += Math.Clamp((commandV - v) * approach, -maxDv, maxDv);
            w += Math.Clamp((commandW - w) * approach, -maxDw, maxDw);
            (v, w) = Desaturate(robot, v, w);
            // Ground speeds of the wheels with slip, and the body motion they make.
            float left = (v - w * halfTrack) * (1f + slipLeft), right = (v + w * halfTrack) * (1f + slipRight);
            float groundV = 0.5f * (left + right), groundW = (right - left) / robot.TrackWidth;
            // Exact for a constant-curvature arc over h: the chord points along the mid-step heading, length 2·sin(ωh/2)/ω·v.
            float turn = groundW * h;
            float chord = MathF.Abs(turn) < 1e-4f ? groundV * h : groundV * 2f * MathF.Sin(0.5f * turn) / groundW;
            float heading = yaw + 0.5f * turn;
            x += chord * MathF.Cos(heading);
            y += chord * MathF.Sin(heading);
            yaw += turn;
            pathLength += MathF.Abs(groundV) * h;
        }
        if (yaw > MathF.PI) yaw -= 2f * MathF.PI;
        else if (yaw <= -MathF.PI) yaw += 2f * MathF.PI;
    }
}
