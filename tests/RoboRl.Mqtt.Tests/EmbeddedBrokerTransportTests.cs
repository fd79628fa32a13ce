using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using RoboRl.Core.Robots;

namespace RoboRl.Mqtt.Tests;

/// <summary>The transport with its default broker: MQTTnet's, embedded, on 127.0.0.1.</summary>
public class EmbeddedBrokerTransportTests
{
    private const MqttRights All = MqttRights.Arm | MqttRights.Setpoint | MqttRights.Override | MqttRights.Land | MqttRights.Kill;

    private static MqttTransportOptions Options(int bufferFrames = 256, MqttTlsOptions? tls = null, double hz = 100) => new()
    {
        Robot = "cf1",
        Broker = BrokerKind.Embedded,
        Host = "127.0.0.1",
        Port = 0,
        TelemetryHz = hz,
        BufferFrames = bufferFrames,
        ReconnectInitialMs = 50,
        ReconnectMaxMs = 400,
        Tls = tls,
        Users =
        [
            MqttUser.FromPassword("pilot", "pilot-pw", All, salt: "s"),
            MqttUser.FromPassword("viewer", "viewer-pw", MqttRights.None),
            MqttUser.FromPassword("bridge", "bridge-pw", MqttRights.Robot),
        ],
    };

    [Test]
    public void RobotSensorsAndActuatorsOverMqtt()
    {
        var log = new LogLines();
        using var transport = new MqttTransport(Options(), log.Add);
        transport.Start();
        Assert.That(transport.WaitConnected(Wait.Long), Is.True);
        MqttTopics t = transport.Topics;
        ISensorSource sensors = transport;
        IActuatorSink actuators = transport;
        Assert.That(sensors.TryGetLatest(out RobotStateSample _), Is.False);

        using var bridge = TestClient.Connect("127.0.0.1", transport.Broker!.Port, "bridge", "bridge-pw");
        bridge.Subscribe(t.RobotCommand);
        bridge.Send(t.RobotState, """{"position":[1,2,3],"orientation":[0,0,0.7071068,0.7071068],"velocity_world":[0.5,0,0],"angular_velocity_body":[0,0,1],"rotor_rpm":[10000,10001,10002,10003]}""");
        Wait.Until(() => sensors.TryGetLatest(out RobotStateSample s) && s.Sequence == 1, "robot state");
        sensors.TryGetLatest(out RobotStateSample state);
        Assert.That((state.Position, state.RotorRpm.W, state.AngularVelocityBody.Z), Is.EqualTo((new System.Numerics.Vector3(1, 2, 3), 10003f, 1f)));
        Assert.That(state.TimestampNs, Is.GreaterThan(0).And.LessThanOrEqualTo(NodeClock.NowNs));

        bridge.Send(t.RobotState, """{"position":[1,2,3],"orientation":[0,0,0.5,0.5],"velocity_world":[0,0,0],"angular_velocity_body":[0,0,0]}""");
        using (var pilot = TestClient.Connect("127.0.0.1", transport.Broker.Port, "pilot", "pilot-pw"))
            pilot.Send(t.RobotState, """{"position":[9,9,9],"orientation":[0,0,0,1],"velocity_world":[0,0,0],"angular_velocity_body":[0,0,0]}""");
        Wait.Until(() => transport.Status is { CommandsMalformed: 1, CommandsForbidden: 1 }, "bad quaternion and spoofed state refused");
        Assert.That(log.Any("unit quaternion"), Is.True, log.ToString());
        Assert.That(log.Any("pilot refused (Forbidden)", "\"robot\""), Is.True, log.ToString());
        Assert.That(sensors.TryGetLatest(out state) && state.Sequence == 1 && state.Position.X == 1, Is.True, "the refused samples changed nothing");

        // Actuators: every fresh command goes out; one that is already stale is never sent late.
        actuators.Send(new ActuatorCommand { TimestampNs = NodeClock.NowNs - 1_000_000_000L, Sequence = 1, Action = new System.Numerics.Vector4(-1) });
        Wait.Until(() => transport.Status.ActuatorCommandsSkipped == 1, "stale command skipped");
        actuators.Send(new ActuatorCommand { TimestampNs = NodeClock.NowNs, Sequence = 2, Action = new System.Numerics.Vector4(0.25f), Source = RoboRl.Core.Messages.ActionSource.Human });
        Wait.Until(() => bridge.On(t.RobotCommand).Count == 1, "command at the bridge");
        JsonElement command = bridge.On(t.RobotCommand)[0];
        Assert.That(command.GetProperty("command_seq").GetUInt32(), Is.EqualTo(2));
        Assert.That(command.GetProperty("action")[0].GetDouble(), Is.EqualTo(0.25));
        Assert.That(command.GetProperty("source").GetString(), Is.EqualTo("human"));
        Assert.That(transport.Status.ActuatorCommandsSent, Is.EqualTo(1));
    }

    [Test]
    public void TelemetryRoundTrip()
    {
        using var transport = new MqttTransport(Options());
        transport.Start();
        Assert.That(transport.WaitConnected(Wait.Long), Is.True);
        using var viewer = TestClient.Connect("127.0.0.1", transport.Broker!.Port, "viewer", "viewer-pw");
        viewer.Subscribe(transport.Topics.Prefix + "#");

        long t0 = NodeClock.NowNs;
        for (uint i = 0; i < 5; i++) transport.Publish(Frames.Make(i, t0 + i * 10_000_000L));
        Wait.Until(() => viewer.On(transport.Topics.TelemetryState).Count >= 5 && viewer.On(transport.Topics.TelemetryAction).Count >= 5, "5 state and action messages");

        List<JsonElement> states = viewer.On(transport.Topics.TelemetryState);
        Assert.That(states.Select(s => s.GetProperty("seq").GetInt64()), Is.EqualTo(new long[] { 0, 1, 2, 3, 4 }));
        JsonElement s2 = states[2];
        Assert.Multiple(() =>
        {
            Assert.That(s2.GetProperty("t_ns").GetInt64(), Is.EqualTo(t0 + 20_000_000L));
            Assert.That(s2.GetProperty("state_seq").GetUInt32(), Is.EqualTo(2));
            Assert.That(s2.GetProperty("position")[2].GetDouble(), Is.EqualTo(0.502).Within(1e-6));
            Assert.That(s2.GetProperty("orientation")[3].GetDouble(), Is.EqualTo(1));
            Assert.That(s2.GetProperty("rotor_rpm")[0].ValueKind, Is.EqualTo(JsonValueKind.Null), "NaN rpm is written as null");
            Assert.That(s2.GetProperty("setpoint")[2].GetDouble(), Is.EqualTo(1));
            Assert.That(s2.GetProperty("mode").GetString(), Is.EqualTo("policy"));
        });
        JsonElement a = viewer.On(transport.Topics.TelemetryAction)[4];
        Assert.That(a.GetProperty("action")[3].GetDouble(), Is.EqualTo(0.4).Within(1e-6));
        Assert.That(a.GetProperty("source").GetString(), Is.EqualTo("policy"));
        Wait.Until(() => viewer.On(transport.Topics.TelemetryTicks).Count >= 1 && viewer.On(transport.Topics.TelemetryMode).Count >= 1, "ticks and mode");
        Assert.That(viewer.On(transport.Topics.TelemetryTicks)[0].GetProperty("latency_p99_us").GetDouble(), Is.EqualTo(50));
        Wait.Until(() => viewer.On(transport.Topics.Status).Any(s => s.GetProperty("online").GetBoolean()), "status online");
        Assert.That(transport.Status.FramesDelivered, Is.EqualTo(5));
        Assert.That(transport.Status.TelemetryGapFrames, Is.Zero);
    }

    [Test]
    public void RateLimitThinsAFastNodeToTelemetryHz()
    {
        using var transport = new MqttTransport(Options(hz: 100));
        // Not started: Publish only fills the ring. 1000 frames 2 ms apart (a 500 Hz node) over 2 s → ~200 sent.
        for (uint i = 0; i < 1000; i++) transport.Publish(Frames.Make(i, 1_000_000_000L + i * 2_000_000L));
        MqttTransportStatus s = transport.Status;
        Assert.That(s.FramesOffered, Is.EqualTo(1000));
        Assert.That(s.FramesOffered - s.FramesRateLimited, Is.InRange(199, 206), "2 s at 100 Hz, plus at most a short start-up burst");
        // A node at exactly the telemetry rate loses nothing, jitter of ±3 ms and a 30 ms late tick (then a catch-up burst) included.
        using var exact = new MqttTransport(Options(hz: 100));
        var rng = new Random(1);
        for (uint i = 0; i < 1000; i++)
        {
            long late = i is 500 or 501 or 502 ? (503 - i) * 10_000_000L : 0;   // ticks 500..502 all land at tick 503's time
            exact.Publish(Frames.Make(i, 1_000_000_000L + i * 10_000_000L + late + rng.Next(-3_000_000, 3_000_000)));
        }
        Assert.That(exact.Status.FramesRateLimited, Is.Zero);
    }

    [Test]
    public void CommandsFromAuthenticatedUsersAreAcceptedAndOthersRefusedAndLogged()
    {
        var log = new LogLines();
        using var transport = new MqttTransport(Options(), log.Add);
        transport.Start();
        Assert.That(transport.WaitConnected(Wait.Long), Is.True);
        int port = transport.Broker!.Port;
        MqttTopics t = transport.Topics;

        using (var pilot = TestClient.Connect("127.0.0.1", port, "pilot", "pilot-pw"))
        {
            pilot.Send(t.Arm, "{}");
            pilot.Send(t.Setpoint, """{"position":[0.5,-0.5,1.2],"yaw_deg":45}""");
            pilot.Send(t.Teleop, """{"deadman":true,"mode":"takeover","action":[0.5,0.5,0.5,0.5]}""");
            pilot.Send(t.Setpoint, """{"position":[0.5,-0.5]}""");   // malformed
        }
        var got = new List<NodeCommand>();
        Wait.Until(() => { while (transport.TryDequeue(out NodeCommand c)) got.Add(c); return got.Count >= 2; }, "2 commands");
        Assert.That(got.Select(c => (c.Kind, c.Principal)), Is.EqualTo(new[] { (NodeCommandKind.Arm, "pilot"), (NodeCommandKind.Setpoint, "pilot") }));
        Assert.That((got[1].Setpoint, got[1].YawDeg), Is.EqualTo((new System.Numerics.Vector3(0.5f, -0.5f, 1.2f), 45f)));
        Wait.Until(() => transport.TryGetLatest(out TeleopSample s) && s.Kind == TeleopKind.TakeOver, "teleop take-over");
        Wait.Until(() => transport.Status.CommandsMalformed == 1, "malformed counted");

        // Anonymous connection: allowed to connect (read telemetry), its commands ignored.
        using (var anonymous = TestClient.Connect("127.0.0.1", port))
        {
            anonymous.Send(t.Arm, "{}");
            anonymous.Send(t.Kill, "{}");
        }
        Wait.Until(() => transport.Status.CommandsAnonymous == 2, "anonymous commands counted");
        Assert.That(log.Any("from anonymous refused (Anonymous)"), Is.True, log.ToString());

        // Wrong password: the broker refuses the connection and logs it.
        Assert.That(TestClient.TryConnect("127.0.0.1", port, "pilot", "wrong"), Is.False);
        Assert.That(TestClient.TryConnect("127.0.0.1", port, "nobody", "x"), Is.False);
        Assert.That(transport.Status.BrokerFailedLogins, Is.EqualTo(2));
        Assert.That(log.Any("login refused", "\"pilot\""), Is.True, log.ToString());

        // Authenticated user without the right.
        using (var viewer = TestClient.Connect("127.0.0.1", port, "viewer", "viewer-pw"))
        {
            viewer.Send(t.Arm, "{}");
            viewer.Send(t.Teleop, """{"deadman":false}""");
        }
        Wait.Until(() => transport.Status.CommandsForbidden == 2, "forbidden counted");
        Assert.That(log.Any("viewer refused (Forbidden)", "lacks the right \"arm\""), Is.True, log.ToString());

        // A signed command works on the embedded broker too, even from an anonymous connection.
        using (var anonymous = TestClient.Connect("127.0.0.1", port))
            anonymous.Send(t.Land, CommandSigner.Sign(t.Land, "pilot", "pilot-pw", "{}", salt: "s"));
        Wait.Until(() => transport.TryDequeue(out NodeCommand c) && c.Kind == NodeCommandKind.Land && c.Principal == "pilot", "signed land");
        Assert.That(transport.TryDequeue(out _), Is.False, "nothing refused got through");
    }

    [Test]
    public void BrokerLostMidStreamThenBackReconnectsResumesAndReportsTheGap()
    {
        var log = new LogLines();
        using var transport = new MqttTransport(Options(bufferFrames: 16), log.Add);
        transport.Start();
        Assert.That(transport.WaitConnected(Wait.Long), Is.True);
        int port = transport.Broker!.Port;
        var viewer = TestClient.Connect("127.0.0.1", port);
        viewer.Subscribe(transport.Topics.TelemetryState);
        using var pump = new TelemetryPump(transport, hz: 100);
        Wait.Until(() => viewer.On(transport.Topics.TelemetryState).Count >= 20, "telemetry flowing");
        viewer.Dispose();

        transport.Broker.StopAsync().GetAwaiter().GetResult();
        Wait.Until(() => !transport.IsConnected, "transport notices the loss");
        long publishedAtLoss = Interlocked.Read(ref pump.Published);
        // Publish keeps being called (the pump) while the broker is away; more than the 16-frame ring.
        Wait.Until(() => Interlocked.Read(ref pump.Published) > publishedAtLoss + 60 && transport.Status.ConnectFailures >= 2, "frames published while away");
        transport.Broker.StartAsync().GetAwaiter().GetResult();
        Wait.Until(() => transport.IsConnected, "reconnected");

        using var viewer2 = TestClient.Connect("127.0.0.1", port);
        viewer2.Subscribe(transport.Topics.TelemetryState);
        Wait.Until(() => viewer2.On(transport.Topics.TelemetryState).Count >= 20, "telemetry resumes");
        MqttTransportStatus s = transport.Status;
        Assert.That(s.Reconnects, Is.GreaterThanOrEqualTo(1));
        Assert.That(s.TelemetryGapFrames, Is.GreaterThan(40), "frames that did not fit the ring while the broker was away are reported");
        Assert.That(log.Any("connection to", "lost"), Is.True, log.ToString());
        Assert.That(log.Any("reconnected", "telemetry frames not delivered"), Is.True, log.ToString());
        Wait.Until(() => viewer2.Messages.Count > 0, "any");
    }

    [Test]
    public void BrokerUnreachableAtStartPublishNeverThrowsAndConnectsLater()
    {
        // An external broker that is not there yet: a port nobody listens on.
        int port = Ports.Free();
        var log = new LogLines();
        var options = new MqttTransportOptions { Robot = "cf1", Broker = BrokerKind.External, Host = "127.0.0.1", Port = port, BufferFrames = 32, ReconnectInitialMs = 20, ReconnectMaxMs = 200 };
        using var transport = new MqttTransport(options, log.Add);
        transport.Start();
        for (uint i = 0; i < 200; i++) Assert.DoesNotThrow(() => transport.Publish(Frames.Make(i, 1_000_000_000L + i * 10_000_000L)));
        Wait.Until(() => transport.Status.ConnectFailures >= 3, "back-off retries");
        Assert.That(transport.IsConnected, Is.False);
        Assert.That(log.Any("cannot connect"), Is.True, log.ToString());

        // The broker appears: the transport connects by itself; the frames beyond the ring are the gap.
        var broker = new EmbeddedBroker("127.0.0.1", port, [], allowAnonymous: true);
        broker.StartAsync().GetAwaiter().GetResult();
        try
        {
            Wait.Until(() => transport.IsConnected, "connected once the broker is up");
            Wait.Until(() => transport.Status.FramesDelivered == 32, "the ring's 32 newest frames delivered");
            Assert.That(transport.Status.TelemetryGapFrames, Is.EqualTo(200 - 32));
        }
        finally { broker.StopAsync().GetAwaiter().GetResult(); }
    }

    [Test]
    public void ReconnectBackOffIsNotCutShortByTelemetry()
    {
        // Nobody listens on the port: attempts follow 50, 100, 200, 400, 400, … ms while frames arrive at 100 Hz.
        var options = new MqttTransportOptions { Robot = "cf1", Broker = BrokerKind.External, Host = "127.0.0.1", Port = Ports.Free(), ReconnectInitialMs = 50, ReconnectMaxMs = 400 };
        using var transport = new MqttTransport(options);
        transport.Start();
        using (var pump = new TelemetryPump(transport, hz: 100))
            Thread.Sleep(2000);
        long attempts = transport.Status.ConnectFailures;
        // 2 s of back-off is at most 1 + 2 s / 50 ms·(1, 2, 4, 8, 8, …) ≈ 7 attempts; a wait cut short by each frame gives ~200.
        Assert.That(attempts, Is.InRange(2, 12), $"{attempts} connection attempts in 2 s");
    }

    [Test]
    public void HundredFailedLoginsInABurstDoNotStopTelemetry()
    {
        var log = new LogLines();
        using var transport = new MqttTransport(Options(), log.Add);
        transport.Start();
        Assert.That(transport.WaitConnected(Wait.Long), Is.True);
        int port = transport.Broker!.Port;
        using var viewer = TestClient.Connect("127.0.0.1", port, "viewer", "viewer-pw");
        viewer.Subscribe(transport.Topics.TelemetryState);
        using var pump = new TelemetryPump(transport, hz: 100);
        Wait.Until(() => viewer.On(transport.Topics.TelemetryState).Count >= 10, "telemetry flowing");

        int before = viewer.On(transport.Topics.TelemetryState).Count;
        var attempts = Enumerable.Range(0, 100).Select(i => TestClient.TryConnectAsync("127.0.0.1", port, "pilot", "guess-" + i)).ToArray();
        Task.WaitAll(attempts);
        Assert.That(attempts.All(a => !a.Result), Is.True, "every bad login refused");
        Assert.That(transport.Status.BrokerFailedLogins, Is.EqualTo(100));
        // Telemetry kept flowing: frames keep arriving and none was lost on the node side.
        Wait.Until(() => viewer.On(transport.Topics.TelemetryState).Count >= before + 20, "telemetry after the burst");
        List<long> seqs = viewer.On(transport.Topics.TelemetryState).Select(s => s.GetProperty("seq").GetInt64()).ToList();
        Assert.That(seqs, Is.EqualTo(Enumerable.Range((int)seqs[0], seqs.Count).Select(i => (long)i)), "no frame missing during the burst");
        Assert.That(transport.Status.TelemetryGapFrames, Is.Zero);
        Assert.That(transport.IsConnected, Is.True);
        // Logged, but not 100 lines.
        Assert.That(log.ToString().Split('\n').Count(l => l.Contains("login refused")), Is.InRange(10, 12));
    }

    [Test]
    public void TlsEndToEndWithTheEmbeddedBroker()
    {
        SelfSignedPki pki = SelfSignedPki.Create(TempDir.Create("pki"));
        using var transport = new MqttTransport(Options(tls: new MqttTlsOptions(pki.CaFile, pki.CertFile, pki.KeyFile, null)));
        transport.Start();
        Assert.That(transport.WaitConnected(Wait.Long), Is.True, "the node's own client validated the broker against the CA");
        int port = transport.Broker!.Port;
        Assert.That(transport.Broker.IsTls, Is.True);

        X509Certificate2 ca = MqttTransport.LoadCertificate(pki.CaFile);
        using var viewer = TestClient.Connect("127.0.0.1", port, "pilot", "pilot-pw", ca);
        viewer.Subscribe(transport.Topics.TelemetryState);
        transport.Publish(Frames.Make(7));
        Wait.Until(() => viewer.On(transport.Topics.TelemetryState).Count == 1, "telemetry over TLS");
        viewer.Send(transport.Topics.Arm, "{}");
        Wait.Until(() => transport.TryDequeue(out NodeCommand c) && c.Principal == "pilot", "command over TLS");

        // A client that trusts another CA refuses the broker; a plain-TCP client gets nowhere.
        X509Certificate2 other = MqttTransport.LoadCertificate(pki.OtherCaFile);
        Assert.That(TestClient.TryConnect("127.0.0.1", port, "pilot", "pilot-pw", other), Is.False);
        Assert.That(TestClient.TryConnect("127.0.0.1", port, "pilot", "pilot-pw"), Is.False);
    }

    [Test]
    public void PortInUseIsAClearError()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        using var transport = new MqttTransport(new MqttTransportOptions { Robot = "cf1", Port = port });
        var e = Assert.Throws<InvalidOperationException>(() => transport.Start())!;
        Assert.That(e.Message, Does.Contain($"127.0.0.1:{port}").And.Contain("mqtt.port"));
    }

    [Test]
    public void PublishAllocatesNothingAfterWarmUp()
    {
        using var transport = new MqttTransport(Options(hz: 1000));
        transport.Start();
        Assert.That(transport.WaitConnected(Wait.Long), Is.True);
        TelemetryFrame frame = Frames.Make(1);
        long t = NodeClock.NowNs;
        for (int i = 0; i < 1000; i++) { frame.TimestampNs = t + i * 1_000_000L; transport.Publish(frame); }
        transport.Send(frame.Command);
        transport.TryDequeue(out _);
        transport.TryGetLatest(out TeleopSample _);
        transport.TryGetLatest(out RobotStateSample _);
        _ = transport.Status;

        int tick = 1000;
        long allocated = AllocationMeter.FewestBytes(() =>
        {
            for (int end = tick + 7000; tick < end; tick++)
            {
                frame.TimestampNs = t + tick * 1_000_000L;
                transport.Publish(frame);
                transport.Send(frame.Command);
                transport.TryDequeue(out _);
                transport.TryGetLatest(out TeleopSample _);
                transport.TryGetLatest(out RobotStateSample _);
            }
        });
        Assert.That(allocated, Is.Zero);
        Wait.Until(() => transport.Status.FramesDelivered > 0, "frames went out meanwhile");
    }
}
