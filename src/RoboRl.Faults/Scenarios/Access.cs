using System.Numerics;
using System.Security.Cryptography.X509Certificates;
using RoboRl.Core.Messages;
using RoboRl.Core.Robots;
using RoboRl.Mqtt;
using RoboRl.Node;
using RoboRl.Ros2;
using RoboRl.Ros2.Native;

namespace RoboRl.Faults.Scenarios;

/// <summary>
/// Issue #9, scenario 10: who may command the node. The node flies in real time with MQTT over TLS (the embedded broker
/// serving a certificate from a self-signed CA created here; the node's own client validates it against that CA). Then:
/// an anonymous client, a user with a wrong password and an authenticated user without rights each try to arm, move the
/// setpoint, take over and kill — all refused (counted by class) and logged, the flight unaffected; a pilot with the
/// rights moves the setpoint (the path works); 100 failed logins in a burst leave the tick alone; a client trusting
/// another CA and a plain-TCP client get nowhere. ROS 2: an arm request on cmd_mode is refused unless the config sets
/// allow_arm (DDS has no authentication; docs/transports.md says how to isolate the DDS domain).
/// </summary>
public sealed class Access : IFaultScenario
{
    public string Name => "access";
    public string Description => "anonymous, wrong password, no rights, login burst, TLS, ROS 2 arming: refused, logged, flight unaffected";

    private const MqttRights PilotRights = MqttRights.Arm | MqttRights.Setpoint | MqttRights.Override | MqttRights.Land | MqttRights.Kill;

    public FaultResult Run(FaultBudget budget)
    {
        string mqtt = MqttLeg(out long lost);
        string ros2 = Ros2Leg();
        return new FaultResult(Name, true, null, lost, $"{mqtt}; {ros2}");
    }

    private static string MqttLeg(out long lost)
    {
        string scratch = RepoFiles.ScratchDirectory("access-pki");
        try
        {
            SelfSignedPki pki = SelfSignedPki.Create(scratch);
            var log = new LogLines();
            var options = new MqttTransportOptions
            {
                Robot = "cf1",
                Broker = BrokerKind.Embedded,
                Host = "127.0.0.1",
                Port = 0,
                TelemetryHz = 100,
                AllowAnonymous = true,
                Tls = new MqttTlsOptions(pki.CaFile, pki.CertFile, pki.KeyFile, null),
                Users = [MqttUser.FromPassword("pilot", "pilot-pw", PilotRights, salt: "faults"), MqttUser.FromPassword("viewer", "viewer-pw", MqttRights.None)],
            };
            using var transport = new MqttTransport(options, log.Add);
            using var rig = new FlightRig("access", new FlightRig.Options { RealTime = true, Edit = root => root["telemetry_rate_hz"] = 100 });
            var windows = new TickWindows();
            rig.Node.AddTelemetry(transport);
            rig.Node.AddTelemetry(windows);
            rig.Node.AddCommands(transport);
            rig.Node.AddTeleop(transport);
            transport.Start();
            Check.That(transport.WaitConnected(TimeSpan.FromSeconds(30)), $"the node's client did not connect over TLS (validating the self-signed CA): {transport.Status.LastError}");
            int port = transport.Broker!.Port;
            rig.StartRealTime();
            Check.That(Check.WaitFor(() => rig.Node.Mode == NodeMode.Policy, TimeSpan.FromSeconds(20)), $"the node did not arm (mode {rig.Node.Mode})");
            X509Certificate2 ca = MqttTransport.LoadCertificate(pki.CaFile);
            MqttTopics t = transport.Topics;
            Vector3 setpoint = rig.Controller.RequestedSetpoint;
            int eventsBefore = rig.Node.Events.Length;

            void Attempt(MqttPeer who)
            {
                who.Send(t.Arm, "{}");
                who.Send(t.Setpoint, """{"position":[1.0,1.0,1.5]}""");
                who.Send(t.Teleop, """{"deadman":true,"mode":"takeover","action":[1,1,1,1]}""");
                who.Send(t.Kill, "{}");
            }
            // Anonymous: may connect (read telemetry), may not command.
            using (var anonymous = MqttPeer.Connect("127.0.0.1", port, ca: ca))
            {
                anonymous.Subscribe(t.TelemetryState);
                Check.That(Check.WaitFor(() => anonymous.Count(t.TelemetryState) > 10, TimeSpan.FromSeconds(20)), "an anonymous viewer gets no telemetry over TLS");
                Attempt(anonymous);
            }
            Check.That(Check.WaitFor(() => transport.Status.CommandsAnonymous >= 4, TimeSpan.FromSeconds(20)), $"anonymous commands: {transport.Status.CommandsAnonymous} of 4 refused");
            // Wrong password: the broker refuses the connection.
            bool wrongIn = MqttPeer.TryConnectAsync("127.0.0.1", port, "pilot", "guess", ca).GetAwaiter().GetResult();
            Check.That(!wrongIn && transport.Status.BrokerFailedLogins >= 1, "a wrong password was let in");
            // Authenticated, without rights.
            using (var viewer = MqttPeer.Connect("127.0.0.1", port, "viewer", "viewer-pw", ca)) Attempt(viewer);
            Check.That(Check.WaitFor(() => transport.Status.CommandsForbidden >= 4, TimeSpan.FromSeconds(20)), $"viewer commands: {transport.Status.CommandsForbidden} of 4 refused");
            Thread.Sleep(300); // anything that slipped through would reach the node within a few ticks
            Check.That(rig.Node.Mode == NodeMode.Policy && rig.Controller.RequestedSetpoint == setpoint && rig.Node.Events.Length == eventsBefore,
                $"an unauthorised command reached the node: mode {rig.Node.Mode}, setpoint {rig.Controller.RequestedSetpoint}, events: {string.Join("; ", rig.Node.Events.Skip(eventsBefore).Select(e => e.Describe()))}");
            Check.That(log.Any("anonymous", "refused") && log.Any("viewer", "refused") && log.Any("login refused", "\"pilot\""),
                "the refusals were not all logged (anonymous, viewer, bad login)");

            // 100 failed logins in a burst: the tick does not notice.
            Thread.Sleep(500);
            long burstFrom = NodeClock.NowNs;
            uint overrunsBefore = rig.Node.RunStatistics.Overruns;
            long failedBefore = transport.Status.BrokerFailedLogins;
            Task<bool>[] burst = Enumerable.Range(0, 100).Select(i => MqttPeer.TryConnectAsync("127.0.0.1", port, "pilot", "guess-" + i, ca)).ToArray();
            Task.WaitAll(burst, TimeSpan.FromSeconds(120));
            long burstTo = NodeClock.NowNs;
            Check.That(burst.All(b => b.IsCompleted && !b.Result), "a guessed password got in");
            long failed = transport.Status.BrokerFailedLogins - failedBefore;
            Check.That(failed == 100, $"{failed} of 100 failed logins counted");
            double baseline = TickWindows.Median(windows.Between(burstFrom - 2_000_000_000L, burstFrom).Select(w => w.JitterP99Us));
            double during = TickWindows.Median(windows.Between(burstFrom, burstTo + 100_000_000).Select(w => w.JitterP99Us));
            double bound = Math.Max(rig.PeriodNs / 1000.0, 2 * baseline);
            Check.That(rig.Node.Mode == NodeMode.Policy, $"the login burst changed the flight: {string.Join("; ", rig.Node.Events.Skip(eventsBefore).Select(e => e.Describe()))}");
            Check.That(!(during > bound), $"tick jitter p99 {during:0} µs during the burst, {baseline:0} µs before (bound {bound:0} µs)");

            // The pilot's setpoint goes through (over TLS), clamped like any other.
            using (var pilot = MqttPeer.Connect("127.0.0.1", port, "pilot", "pilot-pw", ca)) pilot.Send(t.Setpoint, """{"position":[0.2,0.0,1.0]}""");
            Check.That(Check.WaitFor(() => rig.Controller.RequestedSetpoint == new Vector3(0.2f, 0, 1), TimeSpan.FromSeconds(20)), "the pilot's setpoint did not reach the node");
            // Even the pilot's setpoint outside the geofence is clamped (scenario 7, from MQTT).
            ulong clampFrom = rig.Node.TickCount;
            using (var pilot = MqttPeer.Connect("127.0.0.1", port, "pilot", "pilot-pw", ca)) pilot.Send(t.Setpoint, """{"position":[5.0,0.0,1.0]}""");
            Vector3 fenceEdge = rig.Quadrotor.Geofence.Clamp(new Vector3(5, 0, 1), rig.Quadrotor.Limits.SetpointMarginM);
            Check.That(Check.WaitFor(() => rig.Controller.RequestedSetpoint == fenceEdge, TimeSpan.FromSeconds(20)), $"the pilot's setpoint outside the fence became {rig.Controller.RequestedSetpoint}, not {fenceEdge}");
            Check.That(rig.FirstEvent(e => e.Kind == NodeEventKind.SetpointClamped, clampFrom) is not null, "the MQTT setpoint outside the fence was not logged as clamped");
            // TLS: a client that trusts another CA refuses the broker; plain TCP gets nowhere.
            X509Certificate2 other = MqttTransport.LoadCertificate(pki.OtherCaFile);
            Check.That(!MqttPeer.TryConnectAsync("127.0.0.1", port, "pilot", "pilot-pw", other).GetAwaiter().GetResult(), "a client trusting another CA accepted the broker");
            Check.That(!MqttPeer.TryConnectAsync("127.0.0.1", port, "pilot", "pilot-pw").GetAwaiter().GetResult(), "a plain-TCP client connected to the TLS broker");

            MqttTransportStatus s = transport.Status;
            ulong lastTick = rig.Node.TickCount - 1;
            int modeChanges = rig.Node.Events.Count(e => e.Kind == NodeEventKind.ModeChange);
            FlightLogCount flight = rig.CloseAndCount();
            lastTick = Math.Min(lastTick, flight.Actions.Count == 0 ? 0 : flight.Actions.Max(a => a.Tick));
            lost = flight.MissingTicks(0, lastTick) + Math.Max(0, modeChanges - flight.Modes.Count);
            return $"MQTT over TLS (self-signed CA): anonymous {s.CommandsAnonymous} and viewer {s.CommandsForbidden} commands refused, wrong password refused, "
                + $"{failed} failed logins in a burst (tick jitter p99 {during:0} µs vs {baseline:0} µs before, {rig.Node.RunStatistics.Overruns - overrunsBefore} overruns), "
                + $"{log.Count("refused")} refusal log lines; flight unaffected; pilot's setpoint accepted (and one 5 m out clamped to the fence); other-CA and plain-TCP clients refused";
        }
        finally
        {
            try { Directory.Delete(scratch, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>Arm requests on cmd_mode to a node that is idle (auto_arm off), lock-step: refused without allow_arm, accepted with it.</summary>
    private static string Ros2Leg()
    {
        int domain = Random.Shared.Next(100, 230);
        var results = new List<string>();
        foreach (bool allowArm in new[] { false, true })
        {
            var log = new LogLines();
            var options = new Ros2TransportOptions
            {
                DomainId = domain,
                CycloneConfigXml = Ros2Loopback.ConfigXml,
                AllowArm = allowArm,
                Namespace = "cf1",
            };
            Ros2Transport transport;
            try { transport = new Ros2Transport(options) { Log = log.Add }; }
            catch (Exception e) when (e is DllNotFoundException or DdsException)
            {
                throw new FaultCheckException($"ROS 2 leg: Cyclone DDS (libddsc) is not usable here: {e.Message} (Debian: apt-get install libddsc0debian)");
            }
            using (transport)
            {
                using var rig = new FlightRig("access-ros2", new FlightRig.Options { Record = false, Edit = root => root["auto_arm"] = false });
                rig.Node.AddCommands(transport);
                using var op = new Ros2Node("operator", options.Namespace, new Ros2Options { DomainId = domain, CycloneConfigXml = Ros2Loopback.ConfigXml });
                using var mode = op.CreatePublisher<ModeMsg>("cmd_mode");
                using var goal = op.CreatePublisher<PoseStampedMsg>("goal_pose");
                Check.That(mode.WaitForMatch(TimeSpan.FromSeconds(30)) && goal.WaitForMatch(TimeSpan.FromSeconds(30)), "ROS 2 leg: the node's cmd_mode and goal_pose subscriptions were not discovered");
                rig.Run(0.1); // the node has samples before anyone asks it to arm
                mode.Publish(new ModeMsg { Mode = NodeMode.Policy, Name = "POLICY", Reason = "arm request from a ROS 2 topic" });
                // Lock-step at about real time (the idle robot falls meanwhile: an arm that arrives late may be refused by the
                // node for the robot's state — it still reached the node, which is what allow_arm decides).
                bool Reached() => rig.Node.Mode != NodeMode.Idle
                    || rig.Node.Events.Any(e => e.Kind == NodeEventKind.CommandRefused && e.Command == NodeCommandKindOrNone.Arm);
                var watch = System.Diagnostics.Stopwatch.StartNew();
                while (watch.Elapsed < TimeSpan.FromSeconds(allowArm ? 20 : 3) && !Reached())
                {
                    rig.Step();
                    Thread.Sleep(1);
                }
                if (!allowArm)
                {
                    Check.That(!Reached(), $"ROS 2: an arm request from a topic reached the node without allow_arm (mode {rig.Node.Mode})");
                    Check.That(transport.RefusedArmCount == 1 && log.Any("arm refused", "allow_arm"), $"ROS 2: the refusal was not counted and logged ({transport.RefusedArmCount})");
                    results.Add("ROS 2 arm request on cmd_mode refused and logged without allow_arm");
                }
                else
                {
                    Check.That(Reached(), "ROS 2: with allow_arm the arm request never reached the node");
                    // A goal_pose far above the fence (scenario 7, from ROS 2): clamped and logged.
                    ulong goalFrom = rig.Node.TickCount;
                    goal.Publish(new PoseStampedMsg { Header = new HeaderMsg { FrameId = "world" }, Pose = new PoseMsg { Position = new PointMsg { X = 0, Y = 0, Z = 9 }, Orientation = QuaternionMsg.Identity } });
                    var goalWatch = System.Diagnostics.Stopwatch.StartNew();
                    while (goalWatch.Elapsed < TimeSpan.FromSeconds(20) && rig.FirstEvent(e => e.Kind == NodeEventKind.SetpointClamped, goalFrom) is null)
                    {
                        rig.Step();
                        Thread.Sleep(1);
                    }
                    Check.That(rig.FirstEvent(e => e.Kind == NodeEventKind.SetpointClamped, goalFrom) is not null, "ROS 2: a goal_pose 9 m high was not clamped and logged");
                    Check.That(rig.Controller.RequestedSetpoint.Z <= rig.Quadrotor.Geofence.Max.Z - rig.Quadrotor.Limits.SetpointMarginM, $"ROS 2: setpoint {rig.Controller.RequestedSetpoint} above the fence");
                    results.Add($"a 9 m goal_pose clamped; with allow_arm: true the arm request reached the node ({(rig.Node.Mode == NodeMode.Policy ? "armed" : "refused by the node: " + string.Join("; ", rig.Node.Events.Select(e => e.Describe())))})");
                }
            }
        }
        return string.Join(", ", results);
    }
}
