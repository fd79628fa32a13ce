using System.Numerics;
using System.Text.Json.Nodes;
using RoboRl.Core.Messages;
using RoboRl.Core.Robots;
using RoboRl.Sims.Quadrotor;

namespace RoboRl.Node.Tests;

/// <summary>
/// The flow a Crazyflie user expects (cflib's take_off / land): arm on the floor → the classical controller climbs to
/// the setpoint → the policy takes over inside its envelope → land and disarm; and refusals that say why.
/// </summary>
public class TakeoffLandingTests
{
    static SimulatedQuadrotorOptions OnTheFloor(NodeConfig config) => new()
    {
        PhysicsHz = SimTransportConfig.From(config).PhysicsHz,
        StartPosition = Vector3.Zero,
        NoiseStd = SimTransportConfig.From(config).NoiseStd,
        Seed = SimTransportConfig.From(config).Seed,
    };

    static LockStep FromTheFloor(bool autoArm = true)
    {
        NodeConfig config = NodeConfig.Load(RepoFiles.NodeFile);
        return new LockStep(edit: o => { o["auto_arm"] = autoArm; o["sim"]!["start_position"] = new JsonArray(0, 0, 0); }, simOptions: OnTheFloor(config));
    }

    [Test]
    public void ArmedOnTheFloorItTakesOffHandsOverToThePolicyLandsAndDisarms()
    {
        using var run = FromTheFloor();
        Assert.That(run.Position.Z, Is.EqualTo(0f));
        run.Step();
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.TakingOff), "armed on the floor: not the policy");

        float worstDrift = 0;
        double took = run.RunUntil(() => run.Node.Mode != NodeMode.TakingOff, 10,
            () => worstDrift = MathF.Max(worstDrift, new Vector2(run.Position.X, run.Position.Y).Length()));
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Policy), string.Join("; ", run.Node.Events.Select(e => e.Describe())));
        NodeEvent handover = run.Node.Events.Last();
        Assert.That(handover.Reason, Is.EqualTo(ModeReason.HandedOver));
        Assert.That(handover.Describe(), Is.EqualTo("POLICY: inside the policy's envelope: the policy flies"));
        TestContext.Out.WriteLine($"take-off to the handover: {took:F2} s, worst drift sideways {worstDrift * 1000:F0} mm");
        // 1 m at 0.5 m/s, then settling into the envelope (0.1 m, 0.3 m/s, 15°, 1 rad/s) for 0.2 s.
        Assert.That(took, Is.InRange(2.0, 6.0));
        Assert.That(worstDrift, Is.LessThan(0.03f), "straight up, not sideways");
        Assert.That(Vector3.Distance(run.Sim.TrueState.Position, run.Quadrotor.Setpoint), Is.LessThan(0.1f));
        Assert.That(run.Controller.LastCommand.Source, Is.EqualTo(ActionSource.Policy), "the policy flies from the handover tick on");

        var commands = new QueueCommandSource();
        run.Node.AddCommands(commands);
        commands.Enqueue(NodeCommandKind.Land);
        run.Step();
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Landing));
        Assert.That(run.Node.Events.Last().Describe(), Is.EqualTo("LANDING: land command"));
        double landed = run.RunUntil(() => run.Node.Mode == NodeMode.Idle, 15);
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Idle));
        Assert.That(run.Node.Events.Last().Describe(), Is.EqualTo("IDLE: landed, motors off"));
        Assert.That(landed, Is.InRange(2.0, 8.0), "1 m at the landing speed 0.3 m/s");
        Assert.That(run.Sim.HardestTouchdownMS, Is.LessThan(0.5f), "a landing, not a drop");
        Assert.That(run.Controller.LastCommand.ThrustN.AsVector4(), Is.EqualTo(Vector4.Zero), "motors off");
        Assert.That(run.Node.SafetyEventCount, Is.Zero);
    }

    [Test]
    public void ArmedWhileHoveringSteadilyThePolicyFliesAtOnce()
    {
        using var run = new LockStep(); // the sim starts hovering at the setpoint
        run.Step();
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Policy));
        Assert.That(run.Node.Events.Single().Describe(), Is.EqualTo("POLICY: armed"));
    }

    [Test]
    public void ArmingWhileFlyingOrAfterTheKillSwitchIsRefusedSayingWhy()
    {
        using var run = FromTheFloor();
        var commands = new QueueCommandSource();
        run.Node.AddCommands(commands);
        run.Step();
        commands.Enqueue(NodeCommandKind.Arm);
        run.Step();
        NodeEvent refused = run.Node.Events.Last();
        Assert.That(refused.Kind, Is.EqualTo(NodeEventKind.CommandRefused));
        Assert.That(refused.Describe(), Is.EqualTo("Arm refused: already flying"));
        commands.Enqueue(NodeCommandKind.Kill);
        commands.Enqueue(NodeCommandKind.Arm);
        run.Step();
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Killed));
        Assert.That(run.Node.Events.Last().Describe(), Is.EqualTo("Arm refused: the kill switch was used; restart the node to fly again"));
    }

    [Test]
    public void ALandCommandDuringTheTakeoffLandsAndADisarmOnTheFloorStopsTheMotors()
    {
        using var run = FromTheFloor();
        var commands = new QueueCommandSource();
        run.Node.AddCommands(commands);
        run.Run(1.0);
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.TakingOff));
        Assert.That(run.Position.Z, Is.GreaterThan(0.1f));
        commands.Enqueue(NodeCommandKind.Land);
        run.Step();
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Landing));
        run.RunUntil(() => run.Node.Mode == NodeMode.Idle, 10);
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Idle));
        // Reversing a climb: a firmer touchdown than from a hover, far from the 4.4 m/s of a drop from 1 m.
        Assert.That(run.Sim.HardestTouchdownMS, Is.LessThan(1.0f));
    }

    [Test]
    public void WithoutAutoArmTheRobotStaysOnTheFloorUntilAnArmCommand()
    {
        using var run = FromTheFloor(autoArm: false);
        run.Run(1.0);
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Idle));
        Assert.That(run.Position, Is.EqualTo(Vector3.Zero), "standing still on the floor, level");
        var commands = new QueueCommandSource();
        run.Node.AddCommands(commands);
        commands.Enqueue(NodeCommandKind.Arm);
        run.RunUntil(() => run.Node.Mode == NodeMode.Policy, 10);
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Policy));
        Assert.That(run.Node.Events.Select(e => e.Describe()), Is.EqualTo(new[] { "TAKING_OFF: armed", "POLICY: inside the policy's envelope: the policy flies" }));
    }
}
