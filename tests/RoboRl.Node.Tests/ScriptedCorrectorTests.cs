using System.Numerics;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Robots;

namespace RoboRl.Node.Tests;

public class ScriptedCorrectorTests
{
    static QuadrotorConfig Robot => QuadrotorConfig.Load(RepoFiles.RobotFile);

    static RobotStateSample At(Vector3 position, Vector3 velocity = default, Quaternion? orientation = null, Vector3 rates = default, long t = 0) => new()
    {
        TimestampNs = t,
        Position = position,
        Orientation = orientation ?? Quaternion.Identity,
        VelocityWorld = velocity,
        AngularVelocityBody = rates,
    };

    [Test]
    public void TakesOverPastTheThresholdsAndLetsGoWhenBackAndSlow()
    {
        var pilot = new ScriptedCorrector(Robot, engageErrorM: 0.15f, releaseErrorM: 0.08f, releaseSpeedMS: 0.25f, engageTiltDeg: 15, engageRateRadS: 2);
        var setpoint = new Vector3(0, 0, 1);
        Assert.That(pilot.TryGetLatest(out _), Is.False, "nothing before the first look");
        pilot.Update(At(new Vector3(0, 0, 0.9f)), setpoint, 1_000_000);
        Assert.That(pilot.TryGetLatest(out TeleopSample s) && s.Kind == TeleopKind.None, Is.True, "0.10 m off: the policy flies");
        pilot.Update(At(new Vector3(0, 0, 0.84f)), setpoint, 2_000_000);
        Assert.That(pilot.TryGetLatest(out s) && s.Kind == TeleopKind.TakeOver, Is.True, "0.16 m off: take-over");
        Assert.That(s.Action.X, Is.GreaterThan(Robot.HoverAction()), "below the setpoint the pilot climbs");
        Assert.That(s.TimestampNs, Is.EqualTo(2_000_000));
        pilot.Update(At(new Vector3(0, 0, 0.9f)), setpoint, 3_000_000);
        Assert.That(pilot.Holding, Is.True, "0.10 m: still holding (hysteresis)");
        pilot.Update(At(new Vector3(0, 0, 0.95f), velocity: new Vector3(0, 0, 0.5f)), setpoint, 4_000_000);
        Assert.That(pilot.Holding, Is.True, "back within 0.08 m but too fast");
        pilot.Update(At(new Vector3(0, 0, 0.95f)), setpoint, 5_000_000);
        Assert.That(pilot.TryGetLatest(out s) && s.Kind == TeleopKind.None, Is.True, "back and slow: released");
        pilot.Update(At(setpoint, orientation: Quaternion.CreateFromAxisAngle(Vector3.UnitX, 20 * MathF.PI / 180)), setpoint, 6_000_000);
        Assert.That(pilot.Holding, Is.True, "20° tilt at the setpoint");
        Assert.That(pilot.Interventions, Is.EqualTo(2));
    }

    [Test]
    public void AnUpdateAllocatesNothing()
    {
        var pilot = new ScriptedCorrector(Robot);
        var setpoint = new Vector3(0, 0, 1);
        for (int i = 0; i < 1000; i++) pilot.Update(At(new Vector3(0, 0, i % 2 == 0 ? 0.7f : 0.99f), t: i * 2_000_000L), setpoint, i * 2_000_000L);
        int tick = 1000;
        Assert.That(AllocationMeter.FewestBytes(() =>
        {
            for (int end = tick + 1000; tick < end; tick++)
                pilot.Update(At(new Vector3(0, 0, tick % 2 == 0 ? 0.7f : 0.99f), t: tick * 2_000_000L), setpoint, tick * 2_000_000L);
        }), Is.Zero);
    }
}
