using System.Numerics;
using RoboRl.Core.Messages;
using RoboRl.Core.Robots;
using RoboRl.Node;

namespace RoboRl.Node.Tests;

/// <summary>
/// Every supervisor trigger, in lock-step simulation with the real simulated Crazyflie: the node switches to the
/// fallback in the same tick, logs why, and the fallback really holds the position, lands and disarms.
/// </summary>
public class SafetyTests
{
    [Test]
    public void HoverPolicyFliesWithoutEvents()
    {
        using var run = new LockStep();
        run.Run(3.0);
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Policy));
        Assert.That(run.Node.Events.Select(e => e.Describe()), Is.EqualTo(new[] { "POLICY: armed" }));
        Assert.That(Vector3.Distance(run.Position, new Vector3(0, 0, 1)), Is.LessThan(0.05f), "a balanced hover action holds the start point");
        Assert.That(run.Controller.LastCommand.Source, Is.EqualTo(ActionSource.Policy));
        Assert.That(run.Controller.LastCommand.RotorRpm[0], Is.EqualTo(run.Quadrotor.Robot.HoverRpm()).Within(2f));
    }

    [Test]
    public void PolicyActionOutsideMinusOneOneTripsTheSupervisor()
    {
        var supervisor = new SafetySupervisor(new Geofence(new Vector3(-1), new Vector3(1)), NodeConfig.Load(RepoFiles.NodeFile).Quadrotor().Limits);
        Assert.That(supervisor.CheckNumbers([], [1f, -1f, 0.5f, SafetySupervisor.MaxActionMagnitude]).Tripped, Is.False, "a saturated tanh is in range");
        SafetyViolation v = supervisor.CheckNumbers([], [0.1f, -1.5f, 0f, 0f]);
        Assert.That((v.Trigger, v.Axis, v.Value), Is.EqualTo((SafetyTrigger.ActionOutOfRange, 1, -1.5f)));
        Assert.That(v.ToString(), Is.EqualTo("policy action element 1 = -1.5 outside [-1, 1]"));
        Assert.That(supervisor.CheckNumbers([], [float.NaN, 5f, 0f, 0f]).Trigger, Is.EqualTo(SafetyTrigger.NonFiniteAction), "NaN is named first");
    }

    [Test]
    public void GeofenceBreachSwitchesToFallbackWhichHoldsLandsAndDisarms()
    {
        // A longer hold: braking from ~2 m/s outside the fence and flying back in take a few seconds.
        using var run = new LockStep(edit: c => c["fallback"]!["hold_s"] = 5.0);
        run.Run(0.5);
        // A steady wind pushes the open-loop policy sideways until it leaves the box (x > 1.5 m).
        run.Sim.SetDisturbance(new Vector3(0.03f, 0, 0), Vector3.Zero);
        double t = run.RunUntil(() => run.Node.Mode != NodeMode.Policy, 10);
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Fallback), $"after {t:F2} s");
        NodeEvent trip = run.Node.Events.Last();
        Assert.That(trip.Violation.Trigger, Is.EqualTo(SafetyTrigger.Geofence));
        Assert.That(trip.Violation.Axis, Is.EqualTo(0));
        Assert.That(trip.Describe(), Does.StartWith("FALLBACK: geofence: x = 1.5"));
        Assert.That(run.Controller.LastCommand.Source, Is.EqualTo(ActionSource.Fallback), "the fallback acts in the tick that tripped");
        run.Sim.SetDisturbance(Vector3.Zero, Vector3.Zero); // the gust ends
        AssertFallbackHoldsThenLands(run, holdTolerance: 1.5f);
        Assert.That(run.Position.X, Is.LessThanOrEqualTo(1.5f - 0.2f + 0.1f), "landed inside the geofence less its margin");
    }

    [Test]
    public void TiltLimitTrips()
    {
        using var run = new LockStep(edit: c => c["fallback"]!["hold_s"] = 5.0);
        run.Run(0.5);
        // A roll rate below the rate limit (10 rad/s) that nothing stops: the tilt grows until 45°.
        run.Sim.Perturb(Vector3.Zero, new Vector3(4f, 0, 0));
        run.RunUntil(() => run.Node.Mode != NodeMode.Policy, 2);
        Assert.That(run.Node.Events.Last().Violation.Trigger, Is.EqualTo(SafetyTrigger.Tilt));
        Assert.That(run.Node.Events.Last().Violation.Value, Is.InRange(45f, 50f));
        AssertFallbackHoldsThenLands(run, holdTolerance: 1.5f);
    }

    [Test]
    public void AngularRateLimitTrips()
    {
        using var run = new LockStep();
        run.Run(0.5);
        run.Sim.Perturb(Vector3.Zero, new Vector3(0, 0, 12f)); // a yaw spin above 10 rad/s
        run.Step();
        run.Step();
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Fallback));
        Assert.That(run.Node.Events.Last().Violation.Trigger, Is.EqualTo(SafetyTrigger.AngularRate));
        AssertFallbackHoldsThenLands(run, holdTolerance: 0.3f);
    }

    [Test]
    public void StaleSensorTrips()
    {
        using var run = new LockStep();
        run.Run(0.5);
        run.Sim.SensorDropout = true;
        double t = run.RunUntil(() => run.Node.Mode != NodeMode.Policy, 1);
        Assert.That(run.Node.Events.Last().Violation.Trigger, Is.EqualTo(SafetyTrigger.StaleSensor));
        Assert.That(t, Is.InRange(0.1, 0.106), "tripped one tick after the 100 ms timeout");
        Assert.That(run.Node.Events.Last().Describe(), Does.Contain("ms old > 100 ms"));
        run.Sim.SensorDropout = false; // the link comes back
        AssertFallbackHoldsThenLands(run, holdTolerance: 0.15f);
    }

    [Test]
    public void SensorLostForGoodMeansABlindDescentThenDisarm()
    {
        using var run = new LockStep();
        run.Run(0.5);
        run.Sim.SensorDropout = true; // and it never comes back
        run.RunUntil(() => run.Node.Mode != NodeMode.Policy, 1);
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Fallback));
        float fastest = 0;
        double t = run.RunUntil(() => run.Node.Mode != NodeMode.Fallback, 10, () => fastest = Math.Max(fastest, -run.Sim.TrueState.VelocityWorld.Z));
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Idle), $"disarmed after {t:F1} s blind");
        Assert.That(run.Sim.TouchedFloor, "it reached the floor before disarming");
        Assert.That(fastest, Is.LessThan(1.2f), "touch-down speed of a blind descent from 1 m");
        Assert.That(run.Controller.LastCommand.RotorRpm.AsVector4(), Is.EqualTo(Vector4.Zero));
    }

    [Test]
    public void NonFiniteObservationTrips()
    {
        using var run = new LockStep();
        run.Run(0.5);
        run.Sim.InjectNonFiniteSample();
        run.Step();
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Fallback));
        Assert.That(run.Node.Events.Last().Violation.Trigger, Is.EqualTo(SafetyTrigger.NonFiniteObservation));
        Assert.That(run.Node.Events.Last().Violation.Axis, Is.EqualTo(0), "position x is observation element 0");
        Assert.That(float.IsFinite(run.Controller.LastCommand.RotorRpm[0]), "the fallback never sends NaN");
        AssertFallbackHoldsThenLands(run);
    }

    [Test]
    public void NonFiniteActionTrips()
    {
        // A policy whose output is NaN for a finite observation: the identity head passes NaN from its bias.
        var bundle = TestPolicies.ConstantHover(RepoFiles.RobotFile);
        var layer = bundle.Layers[0];
        var nanBundle = new Core.Policy.PolicyBundle
        {
            Layers = [layer with { Biases = [float.MaxValue, 0, 0, 0], Activation = Core.Policy.Activation.Identity }, new Core.Policy.DenseLayer(4, 4, [float.MaxValue, float.MaxValue, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], new float[4], Core.Policy.Activation.Identity)],
            ObservationNames = bundle.ObservationNames,
            ActionNames = bundle.ActionNames,
            ObservationMean = bundle.ObservationMean,
            ObservationStd = bundle.ObservationStd,
            ActionLow = bundle.ActionLow,
            ActionHigh = bundle.ActionHigh,
            ActionUnit = bundle.ActionUnit,
            ControlRateHz = 100,
            ActionHistoryLength = 32,
            RobotConfigJson = bundle.RobotConfigJson,
            TrainingConfigJson = "{}",
            GitCommit = bundle.GitCommit,
            GoldenObservations = bundle.GoldenObservations,
            GoldenActions = [0, 0, 0, 0],
        };
        using var run = new LockStep(bundle: nanBundle);
        run.Step();
        run.Step();
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Fallback));
        Assert.That(run.Node.Events.Last().Violation.Trigger, Is.EqualTo(SafetyTrigger.NonFiniteAction));
        AssertFallbackHoldsThenLands(run);
    }

    [Test]
    public void OverrunStreakTrips()
    {
        using var run = new LockStep();
        run.Run(0.5);
        int streak = run.Quadrotor.Limits.OverrunStreak;
        for (int i = 0; i < streak - 1; i++) run.Step(lateNs: 3 * run.PeriodNs);
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Policy), "one short of the streak");
        run.Step();
        for (int i = 0; i < streak - 1; i++) run.Step(lateNs: 3 * run.PeriodNs);
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Policy), "an on-time tick resets the streak");
        run.Step(lateNs: 3 * run.PeriodNs);
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Fallback));
        Assert.That(run.Node.Events.Last().Violation.Trigger, Is.EqualTo(SafetyTrigger.OverrunStreak));
        Assert.That(run.Node.RunStatistics.Overruns, Is.EqualTo(2 * streak - 1));
        AssertFallbackHoldsThenLands(run);
    }

    [Test]
    public void KillSwitchStopsTheMotorsInTheSameTickAndLatches()
    {
        using var run = new LockStep();
        var commands = new QueueCommandSource();
        run.Node.AddCommands(commands);
        run.Run(0.5);
        commands.Enqueue(NodeCommandKind.Kill);
        run.Step();
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Killed));
        Assert.That(run.Controller.LastCommand.RotorRpm.AsVector4(), Is.EqualTo(Vector4.Zero));
        commands.Enqueue(NodeCommandKind.Arm);
        run.Run(0.2);
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Killed), "a kill latches");
        Assert.That(run.Node.Events.Last().Kind, Is.EqualTo(NodeEventKind.CommandRefused));
        run.RunUntil(() => run.Sim.TouchedFloor, 3);
        Assert.That(run.Sim.TouchedFloor, "with motors off it falls");
    }

    [Test]
    public void RefusalsAndModeChangesReachAReaderOnAnotherThreadWithTheirReasons()
    {
        using var run = new LockStep();
        var commands = new QueueCommandSource();
        run.Node.AddCommands(commands);
        run.Run(0.5);                          // auto-armed: POLICY
        commands.Enqueue(NodeCommandKind.Arm); // already flying: refused
        run.Step();
        commands.Enqueue(NodeCommandKind.Kill);
        run.Step();

        // The CLI's reader: another thread drains the stream while the node keeps ticking.
        var seen = new List<NodeStatusEvent>();
        var reader = Task.Run(() => { while (run.Node.EventStream.TryRead(out NodeEvent e)) seen.Add(e.ToStatus()); });
        Assert.That(reader.Wait(TimeSpan.FromSeconds(30)), Is.True);
        Assert.That(seen.Select(e => e.Kind), Is.EqualTo(new[] { "mode_change", "command_refused", "mode_change" }));
        Assert.That(seen[0].Text, Is.EqualTo("POLICY: armed"));
        Assert.That(seen[1].Text, Does.StartWith("Arm refused"));
        Assert.That(seen[1].Level, Is.EqualTo(NodeStatusLevel.Warn));
        Assert.That(seen[2].Text, Is.EqualTo("KILLED: kill switch"));
        Assert.That(seen[2].Level, Is.EqualTo(NodeStatusLevel.Error));
        Assert.That(run.Node.EventStream.Dropped, Is.Zero);
    }

    [Test]
    public void TheEventStreamNeverBlocksOrAllocatesAndCountsWhatItDrops()
    {
        var stream = new NodeEventStream(capacity: 4);
        var e = new NodeEvent { Kind = NodeEventKind.CommandRefused, Command = NodeCommandKindOrNone.Arm };
        for (int i = 0; i < 4; i++) Assert.That(stream.TryWrite(in e), Is.True);
        Assert.That(stream.TryWrite(in e), Is.False, "full: dropped, not waited for");
        Assert.That(stream.Dropped, Is.EqualTo(1));
        Assert.That(AllocationMeter.FewestBytes(() =>
        {
            for (int i = 0; i < 1000; i++)
            {
                stream.TryWrite(in e);
                stream.TryRead(out NodeEvent _);
            }
        }), Is.EqualTo(0));
        while (stream.TryRead(out NodeEvent _)) { }
        for (ulong t = 1; t <= 3; t++) stream.TryWrite(new NodeEvent { Tick = t });
        var ticks = new List<ulong>();
        while (stream.TryRead(out NodeEvent r)) ticks.Add(r.Tick);
        Assert.That(ticks, Is.EqualTo(new ulong[] { 1, 2, 3 }), "in order");
    }

    [Test]
    public void KillOutranksTheSupervisorAndTheHuman()
    {
        using var run = new LockStep();
        var commands = new QueueCommandSource();
        var teleop = new HeldTeleop();
        run.Node.AddCommands(commands);
        run.Node.AddTeleop(teleop);
        run.Run(0.2);
        run.Sim.InjectNonFiniteSample();
        teleop.Sample = new TeleopSample { TimestampNs = run.NowNs + run.PeriodNs, Kind = TeleopKind.TakeOver, Action = new Vector4(0.5f) };
        teleop.Has = true;
        commands.Enqueue(NodeCommandKind.Kill);
        run.Step();
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Killed));
        Assert.That(run.Controller.LastCommand.RotorRpm.AsVector4(), Is.EqualTo(Vector4.Zero));
    }

    [Test]
    public void SupervisorOutranksTheHuman()
    {
        using var run = new LockStep();
        var teleop = new HeldTeleop();
        run.Node.AddTeleop(teleop);
        run.Run(0.2);
        teleop.Has = true;
        run.Sim.InjectNonFiniteSample();
        teleop.Sample = new TeleopSample { TimestampNs = run.NowNs, Kind = TeleopKind.TakeOver, Action = new Vector4(0.9f) };
        run.Step();
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Fallback));
        Assert.That(run.Controller.LastCommand.Source, Is.EqualTo(ActionSource.Fallback));
    }

    [Test]
    public void LandCommandLandsAndDisarms()
    {
        using var run = new LockStep();
        var commands = new QueueCommandSource();
        run.Node.AddCommands(commands);
        run.Run(0.5);
        commands.Enqueue(NodeCommandKind.Land);
        run.Step();
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Landing), "a commanded landing, not a fallback");
        Assert.That(run.Controller.FallbackPhase, Is.EqualTo(FallbackPhase.Landing), "a land command skips the hold");
        run.RunUntil(() => run.Node.Mode == NodeMode.Idle, 10);
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Idle));
        run.Run(0.5);
        Assert.That(run.Position.Z, Is.EqualTo(0f), "on the floor");
    }

    [Test]
    public void FallbackHoversAHeavierPlantThanThePolicysRobot()
    {
        // --sim-robot: the plant is 20 % heavier than the robot config; the PID's integral absorbs it.
        var heavy = Core.Quadrotor.QuadrotorConfig.Load(RepoFiles.RobotFile) with { Mass = 0.027f * 1.2f };
        using var run = new LockStep(plant: heavy, edit: c => c["fallback"]!["hold_s"] = 5.0);
        run.Run(0.2); // the open-loop hover action sinks
        var commands = new QueueCommandSource();
        run.Node.AddCommands(commands);
        run.Sim.InjectNonFiniteSample();
        run.Step();
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Fallback));
        AssertFallbackHoldsThenLands(run, holdTolerance: 0.4f);
    }

    /// <summary>
    /// During the hold the vehicle comes to rest inside the geofence (near where it tripped unless it braked outside)
    /// and holds still; then it descends slowly, touches down below the hold point and the node disarms.
    /// </summary>
    private static void AssertFallbackHoldsThenLands(LockStep run, float holdTolerance = 0.1f)
    {
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Fallback));
        Assert.That(run.Controller.FallbackPhase, Is.EqualTo(FallbackPhase.Hold));
        Vector3 start = run.Sim.TrueState.Position;
        var recent = new Queue<Vector3>();
        int window = (int)(0.5 * run.Config.RateHz);
        run.RunUntil(() => run.Controller.FallbackPhase != FallbackPhase.Hold, run.Quadrotor.Fallback.HoldS + 1, () =>
        {
            recent.Enqueue(run.Position);
            if (recent.Count > window) recent.Dequeue();
        });
        Assert.That(run.Controller.FallbackPhase, Is.EqualTo(FallbackPhase.Landing), "the hold ends after hold_s");
        Vector3 settled = recent.Last();
        float worst = recent.Max(p => Vector3.Distance(p, settled));
        Assert.That(worst, Is.LessThan(0.05f), $"holds still over the last 0.5 s of the hold (at {settled})");
        Assert.That(run.Quadrotor.Geofence.Contains(settled), $"holds inside the geofence ({settled})");
        Assert.That(Vector3.Distance(settled, start), Is.LessThan(holdTolerance), $"hovers near where it tripped ({start} → {settled})");
        Assert.That(settled.Z, Is.GreaterThan(0.3f), "still in the air before landing");

        float fastestDescent = 0;
        double t = run.RunUntil(() => run.Node.Mode != NodeMode.Fallback, 15,
            () => fastestDescent = Math.Max(fastestDescent, -run.Sim.TrueState.VelocityWorld.Z));
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Idle), $"disarmed after landing ({t:F1} s)");
        Assert.That(t, Is.LessThan(settled.Z / run.Quadrotor.Fallback.LandingSpeedMS + 2), "lands at about the landing speed");
        Assert.That(run.Node.Events.Last().Describe(), Is.EqualTo("IDLE: landed, motors off"));
        Assert.That(run.Controller.LastCommand.RotorRpm.AsVector4(), Is.EqualTo(Vector4.Zero));
        Assert.That(new Vector2(run.Position.X - settled.X, run.Position.Y - settled.Y).Length(), Is.LessThan(0.1f), "lands below the hold point");
        Assert.That(fastestDescent, Is.LessThan(2 * run.Quadrotor.Fallback.LandingSpeedMS), "a controlled descent, not a fall");
        run.Run(0.5);
        Assert.That(run.Node.Mode, Is.EqualTo(NodeMode.Idle), "stays disarmed: auto-arm happens once");
        Assert.That(run.Position.Z, Is.EqualTo(0f), "on the floor");
    }
}
