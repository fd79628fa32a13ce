using System.Numerics;
using RoboRl.Core.Messages;
using RoboRl.Core.Policy;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Robots;
using RoboRl.Logs;
using RoboRl.Node;
using RoboRl.Sims.Quadrotor;

namespace RoboRl.Hil;

/// <summary>
/// The bench's flights: the real <see cref="InferenceNode"/> in lock-step with a simulated Crazyflie, a scripted pilot
/// correcting it through the teleop interface, each flight recorded to MCAP. A flight succeeds when the policy flies its
/// last <see cref="FlightSeconds"/> − <see cref="SettleSeconds"/> s alone: no take-over (the pilot steps in at 0.15 m, 15°
/// or 2 rad/s), no fallback, and it ends within <see cref="SuccessRadiusM"/> of the setpoint.
/// </summary>
public static class HilFlights
{
    public const float FlightSeconds = 5, SettleSeconds = 3, SuccessRadiusM = 0.15f, BenchTiltLimitDeg = 85;

    /// <summary>Flies <paramref name="flights"/> recorded flights (the same initial conditions for a seed, whatever the policy).</summary>
    public static HilBench.FlightSet FlyAll(NodeConfig node, PolicyBundle bundle, QuadrotorConfig plant, int seed, int flights, string logDirectory)
    {
        Directory.CreateDirectory(logDirectory);
        int successes = 0, takeOvers = 0, fallbacks = 0;
        long flying = 0, human = 0;
        var logs = new List<string>();
        for (int i = 0; i < flights; i++)
        {
            string log = Path.Combine(logDirectory, $"flight{i:D2}.mcap");
            Flight f = Fly(node, bundle, plant, seed * 1000 + i, log);
            logs.Add(log);
            if (f.Success) successes++;
            flying += f.FlyingTicks;
            human += f.HumanTicks;
            takeOvers += f.TakeOvers;
            if (f.Fallback) fallbacks++;
        }
        return new HilBench.FlightSet(flights, successes, flying, human, takeOvers, fallbacks, logs);
    }

    public readonly record struct Flight(bool Success, long FlyingTicks, long HumanTicks, int TakeOvers, bool Fallback);

    /// <summary>
    /// One flight in lock-step: the simulated robot (<paramref name="plant"/>) starts near the setpoint, knocked (velocity,
    /// body rates); each tick the scripted pilot looks at the sample the node will read, then the node ticks.
    /// </summary>
    public static Flight Fly(NodeConfig config, PolicyBundle bundle, QuadrotorConfig plant, int flightSeed, string recordPath)
    {
        var random = new Random(flightSeed);
        float U(float range) => (float)(random.NextDouble() * 2 - 1) * range;
        QuadrotorNodeSettings quadrotor = config.Quadrotor();
        SimTransportConfig simSection = SimTransportConfig.From(config);
        Vector3 start = quadrotor.Setpoint + new Vector3(U(0.1f), U(0.1f), U(0.1f));
        var sim = new SimulatedQuadrotor(plant, new SimulatedQuadrotorOptions
        {
            PhysicsHz = simSection.PhysicsHz,
            StartPosition = start,
            NoiseStd = simSection.NoiseStd,
            Seed = flightSeed,
        }, startTimeNs: 0);
        // The knock lands once the policy flies (tick 1): armed while already moving, the node would take off with its
        // classical controller first.
        var knockVelocity = new Vector3(U(0.3f), U(0.3f), U(0.2f));
        var knockRate = new Vector3(U(0.5f), U(0.5f), U(0.2f));
        long period = (long)Math.Round(1e9 / config.RateHz);
        int ticks = (int)Math.Round(FlightSeconds * config.RateHz);
        var recorder = new NodeRecorder(new FileStream(recordPath, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16), recordPath,
            bundle.ObservationSize, ringSlots: ticks + 1024, clockToEpochNs: 0,
            flightMetadata: FlightLogMetadata.Build(bundle, config.RobotConfigJson, config.RateHz));
        // The pilot knows the robot it flies (a human sees it sag and compensates): its controller models the plant.
        var pilot = new ScriptedCorrector(plant, engageErrorM: 0.15f, releaseErrorM: 0.08f, releaseSpeedMS: 0.25f, engageTiltDeg: 15, engageRateRadS: 2);
        // The supervisor's tilt limit is widened to BenchTiltLimitDeg: with 0.15 s motor lag no controller stops the weak
        // policy's tumbles within 45°, and a fallback would end the flight; here the pilot, not the supervisor, corrects.
        NodeConfig flown = config.With(q => q with { AutoArm = true, Limits = q.Limits with { MaxTiltDeg = BenchTiltLimitDeg } });
        using InferenceNode node = QuadrotorController.CreateNode(flown, bundle, sim, sim, recorder: recorder);
        QuadrotorController controller = node.Quadrotor();
        node.AddTeleop(pilot);

        long flying = 0, human = 0, now = 0;
        bool held = true, fallback = false;
        long settleTick = (long)Math.Round(SettleSeconds * config.RateHz);
        for (int t = 1; t <= ticks; t++)
        {
            now += period;
            sim.AdvanceTo(now);
            // The pilot watches once the node has armed (before that the node's setpoint is not yet where the robot starts).
            if (node.Mode is NodeMode.Policy or NodeMode.Human && sim.TryGetLatest(out RobotStateSample sample)) pilot.Update(in sample, controller.Setpoint, now);
            node.Tick(now, now);
            if (t == 1) sim.Perturb(knockVelocity, knockRate);
            ActuatorCommand command = controller.LastCommand;
            if (node.Mode is NodeMode.Policy or NodeMode.Human)
            {
                flying++;
                if (command.Source == ActionSource.Human) human++;
            }
            // The supervisor took over (fallback, or landed and disarmed back to idle after it).
            fallback |= node.Mode is NodeMode.Fallback or NodeMode.Killed || (node.Mode == NodeMode.Idle && t > 1);
            if (t >= settleTick)
                held &= node.Mode == NodeMode.Policy && command.Source == ActionSource.Policy
                        && Vector3.Distance(sim.TrueState.Position, controller.Setpoint) < SuccessRadiusM;
        }
        recorder.Dispose();
        return new Flight(held && !fallback, flying, human, pilot.Interventions, fallback);
    }
}
