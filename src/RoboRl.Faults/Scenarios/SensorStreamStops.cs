using System.Numerics;
using RoboRl.Core.Robots;
using RoboRl.Node;
using RoboRl.Ros2;
using RoboRl.Ros2.Native;
using RoboRl.Serial;
using RoboRl.Sims.Quadrotor;

namespace RoboRl.Faults.Scenarios;

/// <summary>
/// The node's sensor source over the serial link protocol: the robot side sends STATE frames; each decoded frame becomes
/// the newest sample, stamped with the node clock on arrival (so a stalled link ages it).
/// </summary>
public sealed class SerialStateSource : ISensorSource, IDisposable
{
    private readonly Lock _gate = new();
    private RobotStateSample _latest;
    private bool _has;
    private uint _sequence;

    public SerialStateSource(string ptyPath)
    {
        Link = SerialLink.OpenPty(ptyPath, frame =>
        {
            if (frame.Type != MessageType.State) return;
            StateMessage s = frame.ReadState();
            var sample = new RobotStateSample
            {
                TimestampNs = NodeClock.NowNs,
                Position = s.Position,
                Orientation = s.Orientation,
                VelocityWorld = s.Velocity,
                AngularVelocityBody = s.AngularVelocity,
                RotorRpm = new Vector4(float.NaN),
            };
            lock (_gate) { sample.Sequence = ++_sequence; _latest = sample; _has = true; }
        });
    }

    public SerialLink Link { get; }
    public uint Received { get { lock (_gate) return _sequence; } }

    public bool TryGetLatest(out RobotStateSample sample)
    {
        lock (_gate) { sample = _latest; return _has; }
    }

    public void Dispose() => Link.Dispose();
}

/// <summary>
/// Issue #9, scenario 2: the sensor stream stops — (a) the simulated robot goes silent; (b) the serial cable is pulled
/// (the socat pty pair carrying STATE frames is killed); (c) the robot's ROS 2 odometry publisher goes away (its DDS
/// participant is deleted; the node reads nav_msgs/Odometry through <see cref="Ros2Transport"/>). Expected: fallback within sensor_timeout_ms (100 ms) plus
/// a tick; for the Crazyflie, with no state to hover on, the documented blind descent (level, 0.95 g) and disarm.
/// Ground robots (stop) are the next scenario, <see cref="GroundSensorStops"/>.
/// </summary>
public sealed class SensorStreamStops : IFaultScenario
{
    public string Name => "sensor-stream-stops";
    public string Description => "robot silent / serial cable pulled: fallback within the sensor timeout, blind descent, disarm";

    public FaultResult Run(FaultBudget budget)
    {
        (double simMs, long simLost, string simDetail) = SimulatedRobotSilent();
        (double serialMs, long serialLost, string serialDetail) = SerialCablePulled();
        (double ddsMs, long ddsLost, string ddsDetail) = DdsPublisherGone();
        return new FaultResult(Name, true, Math.Max(simMs, Math.Max(serialMs, ddsMs)), simLost + serialLost + ddsLost,
            $"{simDetail}; {serialDetail}; {ddsDetail}; ground robot: see ground-sensor-stops");
    }

    private static (double Ms, long Lost, string Detail) SimulatedRobotSilent()
    {
        using var rig = new FlightRig("sensor-silent");
        rig.Run(0.5);
        Check.That(rig.Node.Mode == NodeMode.Policy, $"the node did not arm (mode {rig.Node.Mode})");
        ulong silentTick = rig.Node.TickCount;
        long silentAtNs = rig.NowNs;
        rig.Sensor.Silent = true;
        long ticks = rig.StepUntil(() => rig.Node.Mode != NodeMode.Policy, 2);
        Check.That(ticks > 0 && rig.Node.Mode == NodeMode.Fallback, $"silent robot: mode {rig.Node.Mode} after 2 s");
        NodeEvent trip = rig.FirstEvent(e => e.Kind == NodeEventKind.ModeChange && e.Mode == NodeMode.Fallback, silentTick)!.Value;
        Check.That(trip.Violation.Trigger == SafetyTrigger.StaleSensor, $"silent robot: tripped on {trip.Violation}");
        double ms = (trip.TimestampNs - silentAtNs) / 1e6;
        double limitMs = rig.Quadrotor.Limits.SensorTimeoutS * 1000 + 1000 / rig.Config.RateHz;
        Check.That(ms <= limitMs, $"silent robot: fallback {ms:0.#} ms after the last sample, above the {limitMs:0.#} ms bound");
        long landed = rig.StepUntil(() => rig.Node.Mode == NodeMode.Idle, 10);
        Check.That(landed > 0, $"silent robot: not disarmed within 10 s (phase {rig.Controller.FallbackPhase})");
        Vector3 p = rig.Sim.TrueState.Position;
        Check.That(p.Z < 0.05f, $"silent robot: disarmed at z = {p.Z:0.###} m");
        ulong lastTick = rig.Node.TickCount - 1;
        int modeChanges = rig.Node.Events.Count(e => e.Kind == NodeEventKind.ModeChange);
        FlightLogCount log = rig.CloseAndCount();
        Check.That(log.Modes.Any(m => m.Mode == "FALLBACK" && m.Reason.StartsWith("stale sensor", StringComparison.Ordinal)), "silent robot: no stale-sensor FALLBACK in /mode");
        Check.That(log.Modes.Any(m => m.Mode == "IDLE" && m.Reason.Contains("landed", StringComparison.Ordinal)), "silent robot: no IDLE (landed) in /mode");
        long lost = log.MissingTicks(0, lastTick) + Math.Max(0, modeChanges - log.Modes.Count);
        return (ms, lost, $"simulated robot silent: fallback after {ms:0.#} ms (simulated clock; timeout {rig.Quadrotor.Limits.SensorTimeoutS * 1000:0} ms), blind descent, disarmed at z {p.Z:0.###} m");
    }

    private static (double Ms, long Lost, string Detail) SerialCablePulled()
    {
        if (!SocatPtyPair.IsAvailable()) throw new FaultCheckException("socat is not installed (Debian: apt-get install socat): the serial leg cannot run");
        using var cable = SocatPtyPair.Start();
        // The cable is hardware: it does not share the node's CPU, so socat must not be starved by this machine's load.
        RealTimeScheduling.TrySetFifo(cable.ProcessId, FlightRig.RobotThreadPriority);
        using var robotSide = SerialLink.OpenPty(cable.PathA, null);
        SerialStateSource? source = null;
        using var rig = new FlightRig("sensor-serial", new FlightRig.Options
        {
            RealTime = true,
            Sensor = _ => source = new SerialStateSource(cable.PathB),
        });
        using var _ = source!;
        // The robot's side of the cable: its state as STATE frames at 500 Hz.
        using var stop = new CancellationTokenSource();
        var writer = new Thread(() =>
        {
            RealTimeScheduling.TryEnterFifo(FlightRig.RobotThreadPriority); // the robot's side: not slowed by this machine's load
            while (!stop.IsCancellationRequested)
            {
                RobotStateSample s = rig.Sim.TrueState;
                robotSide.Send(new StateMessage((ulong)(s.TimestampNs / 1000), s.Position, s.Orientation, s.VelocityWorld, s.AngularVelocityBody));
                Thread.Sleep(2);
            }
        })
        { IsBackground = true, Name = "faults-serial-robot" };
        writer.Start();
        try
        {
            rig.StartRealTime();
            Check.That(Check.WaitFor(() => rig.Node.Mode == NodeMode.Policy && rig.Node.TickCount > 250, TimeSpan.FromSeconds(20)),
                $"serial: the node is not flying the policy on serial samples (mode {rig.Node.Mode}, {source!.Received} STATE frames; events: {string.Join("; ", rig.Node.Events.Select(e => e.Describe()))})");
            ulong pulledTick = rig.Node.TickCount;
            long lastFrameNs = 0;
            source!.TryGetLatest(out RobotStateSample beforePull);
            cable.Kill();
            // The newest sample that made it across is where the timeout counts from.
            Check.That(Check.WaitFor(() => rig.Node.Mode != NodeMode.Policy, TimeSpan.FromSeconds(5)), "serial: the node kept flying 5 s after the cable was pulled");
            source.TryGetLatest(out RobotStateSample last);
            lastFrameNs = Math.Max(last.TimestampNs, beforePull.TimestampNs);
            NodeEvent trip = rig.FirstEvent(e => e.Kind == NodeEventKind.ModeChange && e.Mode == NodeMode.Fallback, pulledTick)
                ?? throw new FaultCheckException($"serial: mode {rig.Node.Mode} without a fallback event");
            Check.That(trip.Violation.Trigger == StaleSensorTrigger, $"serial: tripped on {trip.Violation}");
            double ms = (trip.TimestampNs - lastFrameNs) / 1e6;
            // Real time on a shared machine: the tick that sees the stale sample may itself be late by a period or two.
            double limitMs = rig.Quadrotor.Limits.SensorTimeoutS * 1000 + 3 * 1000 / rig.Config.RateHz;
            Check.That(ms <= limitMs + 50, $"serial: fallback {ms:0.#} ms after the last frame (bound {limitMs:0.#} ms)");
            Check.That(Check.WaitFor(() => rig.Node.Mode == NodeMode.Idle, TimeSpan.FromSeconds(10)), $"serial: not disarmed within 10 s (phase {rig.Controller.FallbackPhase})");
            float z = rig.Sim.TrueState.Position.Z;
            Check.That(z < 0.05f, $"serial: disarmed at z = {z:0.###} m");
            stop.Cancel();
            writer.Join();
            ulong lastTick = rig.Node.TickCount - 1;
            int modeChanges = rig.Node.Events.Count(e => e.Kind == NodeEventKind.ModeChange);
            FlightLogCount log = rig.CloseAndCount();
            lastTick = Math.Min(lastTick, log.Actions.Count == 0 ? 0 : log.Actions.Max(a => a.Tick));
            Check.That(log.Modes.Any(m => m.Mode == "FALLBACK" && m.Reason.StartsWith("stale sensor", StringComparison.Ordinal)), "serial: no stale-sensor FALLBACK in /mode");
            long lost = log.MissingTicks(0, lastTick) + Math.Max(0, modeChanges - log.Modes.Count);
            string flagged = robotSide.State == LinkState.Faulted ? $"robot side faulted ({robotSide.FaultReason})" : "robot side still open";
            return (ms, lost, $"serial cable pulled (socat killed): fallback {ms:0.#} ms after the last STATE frame (real time; {flagged}), blind descent, disarmed at z {z:0.###} m");
        }
        finally
        {
            stop.Cancel();
            writer.Join();
        }
    }

    private const SafetyTrigger StaleSensorTrigger = SafetyTrigger.StaleSensor;

    private static (double Ms, long Lost, string Detail) DdsPublisherGone()
    {
        int domain = Random.Shared.Next(100, 230);
        var options = new Ros2TransportOptions
        {
            DomainId = domain,
            CycloneConfigXml = Ros2Loopback.ConfigXml,
            Namespace = "cf1",
            PoseTopic = null,
            OdomTopic = "odom",
            JoyTopic = null,
            ModeCommandTopic = null,
            SetpointTopic = null,
            SensorDataQos = true,
        };
        Ros2Transport transport;
        try { transport = new Ros2Transport(options); }
        catch (Exception e) when (e is DllNotFoundException or DdsException)
        {
            throw new FaultCheckException($"DDS leg: Cyclone DDS (libddsc) is not usable here: {e.Message} (Debian: apt-get install libddsc0debian)");
        }
        using (transport)
        {
            using var rig = new FlightRig("sensor-dds", new FlightRig.Options { RealTime = true, Sensor = _ => transport });
            var robot = new Ros2Node("crazyflie", options.Namespace, new Ros2Options { DomainId = domain, CycloneConfigXml = Ros2Loopback.ConfigXml });
            var odom = robot.CreatePublisher<OdometryMsg>("odom", QosProfile.SensorData);
            Check.That(odom.WaitForMatch(TimeSpan.FromSeconds(30)), "DDS leg: the node's odom subscription was not discovered");
            using var stop = new CancellationTokenSource();
            // The robot: nav_msgs/Odometry at 500 Hz (twist in the body frame, REP 105) until its participant goes away.
            var publisher = new Thread(() =>
            {
                RealTimeScheduling.TryEnterFifo(FlightRig.RobotThreadPriority); // the robot's side: not slowed by this machine's load
                while (!stop.IsCancellationRequested)
                {
                    RobotStateSample s = rig.Sim.TrueState;
                    Vector3 vBody = Vector3.Transform(s.VelocityWorld, Quaternion.Conjugate(s.Orientation));
                    odom.Publish(new OdometryMsg
                    {
                        Header = new HeaderMsg { FrameId = "world" },
                        ChildFrameId = "base_link",
                        Pose = new PoseWithCovarianceMsg
                        {
                            Pose = new PoseMsg
                            {
                                Position = new PointMsg { X = s.Position.X, Y = s.Position.Y, Z = s.Position.Z },
                                Orientation = new QuaternionMsg { X = s.Orientation.X, Y = s.Orientation.Y, Z = s.Orientation.Z, W = s.Orientation.W },
                            }
                        },
                        Twist = new TwistWithCovarianceMsg
                        {
                            Twist = new TwistMsg
                            {
                                Linear = new Vector3Msg { X = vBody.X, Y = vBody.Y, Z = vBody.Z },
                                Angular = new Vector3Msg { X = s.AngularVelocityBody.X, Y = s.AngularVelocityBody.Y, Z = s.AngularVelocityBody.Z },
                            }
                        },
                    });
                    Thread.Sleep(2);
                }
            })
            { IsBackground = true, Name = "faults-dds-robot" };
            publisher.Start();
            try
            {
                rig.StartRealTime();
                Check.That(Check.WaitFor(() => rig.Node.Mode == NodeMode.Policy && rig.Node.TickCount > 250, TimeSpan.FromSeconds(20)),
                    $"DDS leg: the node did not arm on odometry (mode {rig.Node.Mode})");
                ulong goneTick = rig.Node.TickCount;
                stop.Cancel();
                publisher.Join();
                odom.Dispose();
                robot.Dispose(); // the publisher's participant is gone
                Check.That(Check.WaitFor(() => rig.Node.Mode != NodeMode.Policy, TimeSpan.FromSeconds(5)), "DDS leg: the node kept flying 5 s after the publisher went away");
                transport.TryGetLatest(out RobotStateSample last);
                NodeEvent trip = rig.FirstEvent(e => e.Kind == NodeEventKind.ModeChange && e.Mode == NodeMode.Fallback, goneTick)
                    ?? throw new FaultCheckException($"DDS leg: mode {rig.Node.Mode} without a fallback event");
                Check.That(trip.Violation.Trigger == SafetyTrigger.StaleSensor, $"DDS leg: tripped on {trip.Violation}");
                double ms = (trip.TimestampNs - last.TimestampNs) / 1e6;
                double limitMs = rig.Quadrotor.Limits.SensorTimeoutS * 1000 + 3 * 1000 / rig.Config.RateHz;
                Check.That(ms <= limitMs + 50, $"DDS leg: fallback {ms:0.#} ms after the last odometry (bound {limitMs:0.#} ms)");
                Check.That(Check.WaitFor(() => rig.Node.Mode == NodeMode.Idle, TimeSpan.FromSeconds(10)), $"DDS leg: not disarmed within 10 s (phase {rig.Controller.FallbackPhase})");
                float z = rig.Sim.TrueState.Position.Z;
                Check.That(z < 0.05f, $"DDS leg: disarmed at z = {z:0.###} m");
                ulong lastTick = rig.Node.TickCount - 1;
                int modeChanges = rig.Node.Events.Count(e => e.Kind == NodeEventKind.ModeChange);
                FlightLogCount log = rig.CloseAndCount();
                lastTick = Math.Min(lastTick, log.Actions.Count == 0 ? 0 : log.Actions.Max(a => a.Tick));
                Check.That(log.Modes.Any(m => m.Mode == "FALLBACK" && m.Reason.StartsWith("stale sensor", StringComparison.Ordinal)), "DDS leg: no stale-sensor FALLBACK in /mode");
                long lost = log.MissingTicks(0, lastTick) + Math.Max(0, modeChanges - log.Modes.Count);
                return (ms, lost, $"ROS 2 odometry publisher gone (participant deleted): fallback {ms:0.#} ms after the last message (real time), blind descent, disarmed at z {z:0.###} m");
            }
            finally
            {
                stop.Cancel();
                publisher.Join();
            }
        }
    }
}
