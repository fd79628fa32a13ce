using System.Numerics;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Robots;
using RoboRl.Sims.Quadrotor;

namespace RoboRl.Sims.Tests;

public class SimulatedQuadrotorTests
{
    private static QuadrotorConfig Robot => QuadrotorConfig.Load(RepoFiles.RobotFile);

    [Test]
    public void HoverRpmHoldsAndMotorsOffFallsAtG()
    {
        var sim = new SimulatedQuadrotor(Robot, new SimulatedQuadrotorOptions { StartPosition = new Vector3(0, 0, 2) });
        var hover = new ActuatorCommand { RotorRpm = new Vector4(Robot.HoverRpm()) };
        sim.Send(in hover);
        sim.AdvanceTo(1_000_000_000);
        Assert.That(sim.TrueState.Position.Z, Is.EqualTo(2f).Within(1e-3f));
        Assert.That(sim.TimeNs, Is.EqualTo(1_000_000_000));

        sim.Send(new ActuatorCommand { RotorRpm = Vector4.Zero });
        sim.AdvanceTo(1_300_000_000);
        // Motor lag (τ = 0.15 s) keeps some thrust at first, so it falls less than g·t²/2 but clearly falls.
        float z = sim.TrueState.Position.Z;
        Assert.That(z, Is.LessThan(2f - 0.1f).And.GreaterThan(2f - 0.5f * 9.81f * 0.09f - 1e-3f));
        sim.AdvanceTo(5_000_000_000);
        Assert.That(sim.TouchedFloor);
        Assert.That(sim.TrueState.Position.Z, Is.EqualTo(0f));
    }

    [Test]
    public void SamplesAreStampedFreshAndNoisyAsConfigured()
    {
        var sim = new SimulatedQuadrotor(Robot, new SimulatedQuadrotorOptions { NoiseStd = new Vector4(0.01f, 0, 0, 0), Seed = 3 }, startTimeNs: 5_000);
        sim.Send(new ActuatorCommand { RotorRpm = new Vector4(Robot.HoverRpm()) });
        var errors = new List<float>();
        uint lastSequence = 0;
        for (int i = 1; i <= 2000; i++)
        {
            sim.AdvanceTo(5_000 + i * 1_000_000L);
            Assert.That(sim.TryGetLatest(out RobotStateSample s));
            Assert.That(s.TimestampNs, Is.EqualTo(5_000 + i * 1_000_000L));
            Assert.That(s.Sequence, Is.GreaterThan(lastSequence));
            lastSequence = s.Sequence;
            errors.Add(s.Position.X - sim.TrueState.Position.X);
            Assert.That(s.VelocityWorld, Is.EqualTo(sim.TrueState.VelocityWorld), "no velocity noise configured");
        }
        double std = Math.Sqrt(errors.Select(e => (double)e * e).Average());
        Assert.That(std, Is.EqualTo(0.01).Within(0.001));
    }

    [Test]
    public void DropoutAndGlitchesAreVisibleToTheNode()
    {
        var sim = new SimulatedQuadrotor(Robot, new SimulatedQuadrotorOptions());
        sim.AdvanceTo(10_000_000);
        sim.SensorDropout = true;
        sim.AdvanceTo(50_000_000);
        Assert.That(sim.TryGetLatest(out RobotStateSample stale));
        Assert.That(stale.TimestampNs, Is.EqualTo(10_000_000), "the newest sample ages during a dropout");
        sim.SensorDropout = false;
        sim.InjectNonFiniteSample();
        sim.AdvanceTo(51_000_000);
        sim.TryGetLatest(out RobotStateSample glitch);
        Assert.That(float.IsNaN(glitch.Position.X));
        Assert.That(float.IsFinite(sim.TrueState.Position.X), "only the measurement is bad");
    }

    [Test]
    public void SendAndTryGetLatestAllocateNothing()
    {
        var sim = new SimulatedQuadrotor(Robot, new SimulatedQuadrotorOptions { NoiseStd = new Vector4(0.001f) });
        var command = new ActuatorCommand { RotorRpm = new Vector4(14000) };
        for (int i = 0; i < 100; i++) { sim.Send(in command); sim.AdvanceTo(i * 1_000_000L); sim.TryGetLatest(out _); }
        int ms = 100;
        Assert.That(AllocationMeter.FewestBytes(() =>
        {
            for (int end = ms + 1000; ms < end; ms++) { sim.Send(in command); sim.AdvanceTo(ms * 1_000_000L); sim.TryGetLatest(out _); }
        }), Is.EqualTo(0));
    }

    [Test]
    public void GroundTruthIsTheNoiseFreeStateAndSaysWhenTheNewestCommandTookEffect()
    {
        var sim = new SimulatedQuadrotor(Robot, new SimulatedQuadrotorOptions { NoiseStd = new Vector4(0.01f, 0.01f, 0.01f, 0.01f), Seed = 5 }, startTimeNs: 0);
        Assert.That(sim.PhysicsStepNs, Is.EqualTo(1_000_000));
        sim.AdvanceTo(7_500_000); // 7 whole steps: the simulator is at 7 ms
        sim.Send(new ActuatorCommand { RotorRpm = new Vector4(Robot.HoverRpm() * 1.1f) });
        Assert.That(sim.TryGetGroundTruth(out GroundTruthSample truth), Is.True);
        Assert.That(truth.CommandEffectiveNs, Is.EqualTo(7_000_000), "a command acts from the next physics step, at the simulator's time");
        Assert.That(truth.State.TimestampNs, Is.EqualTo(7_000_000));

        sim.AdvanceTo(20_000_000);
        sim.TryGetGroundTruth(out truth);
        sim.TryGetLatest(out RobotStateSample measured);
        RobotStateSample exact = sim.TrueState;
        Assert.That(truth.CommandEffectiveNs, Is.EqualTo(7_000_000), "no new command since");
        Assert.That(truth.State.Position, Is.EqualTo(exact.Position));
        Assert.That(truth.State.Orientation, Is.EqualTo(exact.Orientation));
        Assert.That(truth.State.VelocityWorld, Is.EqualTo(exact.VelocityWorld));
        Assert.That(truth.State.AngularVelocityBody, Is.EqualTo(exact.AngularVelocityBody));
        Assert.That(truth.State.RotorRpm, Is.EqualTo(exact.RotorRpm));
        Assert.That(measured.Position, Is.Not.EqualTo(exact.Position), "the sensor sample carries noise, the truth none");
        var command = new ActuatorCommand { RotorRpm = new Vector4(Robot.HoverRpm()) };
        Assert.That(AllocationMeter.FewestBytes(() =>
        {
            for (int i = 0; i < 1000; i++) { sim.Send(in command); sim.TryGetGroundTruth(out _); }
        }), Is.EqualTo(0));
    }
}
