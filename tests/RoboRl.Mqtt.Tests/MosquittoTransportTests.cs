using System.Text.Json;
using RoboRl.Core.Robots;

namespace RoboRl.Mqtt.Tests;

/// <summary>
/// The transport against a real external broker, Mosquitto, started and stopped by each test. Mosquitto
/// does not tell subscribers who published, so the node accepts only signed commands here (HMAC envelope).
/// </summary>
public class MosquittoTransportTests
{
    private const MqttRights All = MqttRights.Arm | MqttRights.Setpoint | MqttRights.Override | MqttRights.Land | MqttRights.Kill;
    private static readonly Dictionary<string, string> BrokerUsers = new() { ["pilot"] = "pilot-pw", ["viewer"] = "viewer-pw" };

    private static MqttTransportOptions Options(int port, int bufferFrames = 256, MqttTlsOptions? tls = null) => new()
    {
        Robot = "cf1",
        Broker = BrokerKind.External,
        Host = "127.0.0.1",
        Port = port,
        Username = Mosquitto.NodeUser,
        Password = Mosquitto.NodePassword,
        BufferFrames = bufferFrames,
        ReconnectInitialMs = 50,
        ReconnectMaxMs = 400,
        Tls = tls,
        Users =
        [
            MqttUser.FromPassword("pilot", "pilot-pw", All, salt: "pepper"),
            MqttUser.FromPassword("viewer", "viewer-pw", MqttRights.None),
        ],
    };

    [Test]
    public void TelemetryRoundTrip()
    {
        using var broker = new Mosquitto(BrokerUsers);
        var transport = new MqttTransport(Options(broker.Port));
        transport.Start();
        Assert.That(transport.WaitConnected(Wait.Long), Is.True, broker.SafeLog());
        using var viewer = TestClient.Connect("127.0.0.1", broker.Port, "viewer", "viewer-pw");
        viewer.Subscribe(transport.Topics.Prefix + "telemetry/#");
        long t0 = NodeClock.NowNs;
        for (uint i = 0; i < 10; i++) transport.Publish(Frames.Make(i, t0 + i * 10_000_000L));
        Wait.Until(() => viewer.On(transport.Topics.TelemetryState).Count == 10, "10 states through mosquitto");
        List<JsonElement> states = viewer.On(transport.Topics.TelemetryState);
        Assert.That(states.Select(s => s.GetProperty("seq").GetInt64()), Is.EqualTo(Enumerable.Range(0, 10).Select(i => (long)i)));
        Assert.That(states[9].GetProperty("state_seq").GetUInt32(), Is.EqualTo(9));
        Assert.That(states[9].GetProperty("t_ns").GetInt64(), Is.EqualTo(t0 + 90_000_000L));
        Wait.Until(() => viewer.On(transport.Topics.TelemetryAction).Count == 10, "10 actions");

        // A clean stop leaves a retained "offline" status for anyone who looks later.
        transport.Dispose();
        using var later = TestClient.Connect("127.0.0.1", broker.Port);
        later.Subscribe(transport.Topics.Status);
        Wait.Until(() => later.On(transport.Topics.Status).Count == 1, "retained status");
        Assert.That(later.On(transport.Topics.Status)[0].GetProperty("online").GetBoolean(), Is.False);
    }

    [Test]
    public void SignedCommandsAreAcceptedAndEverythingElseRefusedAndLogged()
    {
        using var broker = new Mosquitto(BrokerUsers);
        var log = new LogLines();
        using var transport = new MqttTransport(Options(broker.Port), log.Add);
        transport.Start();
        Assert.That(transport.WaitConnected(Wait.Long), Is.True, broker.SafeLog());
        MqttTopics t = transport.Topics;

        using (var pilot = TestClient.Connect("127.0.0.1", broker.Port, "pilot", "pilot-pw"))
        {
            pilot.Send(t.Arm, CommandSigner.Sign(t.Arm, "pilot", "pilot-pw", "{}", salt: "pepper"));
            pilot.Send(t.Setpoint, CommandSigner.Sign(t.Setpoint, "pilot", "pilot-pw", """{"position":[1,1,1],"yaw_deg":-90}""", salt: "pepper"));
            pilot.Send(t.Teleop, CommandSigner.Sign(t.Teleop, "pilot", "pilot-pw", """{"deadman":true,"mode":"nudge","setpoint_velocity":[0,0.5,0]}""", salt: "pepper"));
            // Unsigned from an authenticated broker user: the node cannot know who sent it on an external broker.
            pilot.Send(t.Kill, "{}");
            // Signed with a wrong password; by a user without the right; malformed body.
            pilot.Send(t.Land, CommandSigner.Sign(t.Land, "pilot", "not-the-password", "{}", salt: "pepper"));
            pilot.Send(t.Arm, CommandSigner.Sign(t.Arm, "viewer", "viewer-pw", "{}"));
            pilot.Send(t.Setpoint, CommandSigner.Sign(t.Setpoint, "pilot", "pilot-pw", """{"position":[1,1,NaN]}""", salt: "pepper"));
            pilot.Send(t.Setpoint, "{{{");
        }
        var got = new List<NodeCommand>();
        Wait.Until(() => { while (transport.TryDequeue(out NodeCommand c)) got.Add(c); return got.Count >= 2; }, "2 commands");
        Assert.That(got.Select(c => (c.Kind, c.Principal)), Is.EqualTo(new[] { (NodeCommandKind.Arm, "pilot"), (NodeCommandKind.Setpoint, "pilot") }));
        Assert.That(got[1].YawDeg, Is.EqualTo(-90));
        Wait.Until(() => transport.TryGetLatest(out TeleopSample s) && s.Kind == TeleopKind.NudgeSetpoint && s.SetpointVelocity.Y == 0.5f, "nudge");
        Wait.Until(() => transport.Status is { CommandsAnonymous: 1, CommandsUnauthenticated: 1, CommandsForbidden: 1, CommandsMalformed: 2 }, "refusals counted");
        Assert.That(transport.TryDequeue(out _), Is.False);
        Assert.That(log.Any("kill from anonymous refused (Anonymous)"), Is.True, log.ToString());
        Assert.That(log.Any("signature does not verify"), Is.True, log.ToString());
        Assert.That(log.Any("viewer refused (Forbidden)"), Is.True, log.ToString());

        // Mosquitto itself (password file made by mosquitto_passwd) refuses a wrong password.
        Assert.That(TestClient.TryConnect("127.0.0.1", broker.Port, "pilot", "wrong"), Is.False);
        Assert.That(TestClient.TryConnect("127.0.0.1", broker.Port, "pilot", "pilot-pw"), Is.True);
    }

    [Test]
    public void BrokerKilledMidStreamAndRestartedReconnectsAndReportsTheGap()
    {
        using var broker = new Mosquitto(BrokerUsers);
        var log = new LogLines();
        using var transport = new MqttTransport(Options(broker.Port, bufferFrames: 16), log.Add);
        transport.Start();
        Assert.That(transport.WaitConnected(Wait.Long), Is.True, broker.SafeLog());
        var viewer = TestClient.Connect("127.0.0.1", broker.Port);
        viewer.Subscribe(transport.Topics.TelemetryState);
        using var pump = new TelemetryPump(transport, hz: 100);
        Wait.Until(() => viewer.On(transport.Topics.TelemetryState).Count >= 20, "telemetry flowing");
        long lastSeqBefore = viewer.On(transport.Topics.TelemetryState).Max(s => s.GetProperty("seq").GetInt64());
        viewer.Dispose();

        broker.Kill();
        Wait.Until(() => !transport.IsConnected, "loss noticed");
        long publishedAtLoss = Interlocked.Read(ref pump.Published);
        Wait.Until(() => Interlocked.Read(ref pump.Published) > publishedAtLoss + 60, "frames published while the broker is dead");
        broker.Start();
        Wait.Until(() => transport.IsConnected, "reconnected");

        using var viewer2 = TestClient.Connect("127.0.0.1", broker.Port);
        viewer2.Subscribe(transport.Topics.TelemetryState);
        Wait.Until(() => viewer2.On(transport.Topics.TelemetryState).Count >= 20, "delivery resumes");
        Assert.That(viewer2.On(transport.Topics.TelemetryState).Min(s => s.GetProperty("seq").GetInt64()), Is.GreaterThan(lastSeqBefore));
        MqttTransportStatus s = transport.Status;
        Assert.That(s.Reconnects, Is.GreaterThanOrEqualTo(1));
        Assert.That(s.ConnectFailures, Is.GreaterThanOrEqualTo(1));
        Assert.That(s.TelemetryGapFrames, Is.GreaterThan(40));
        Assert.That(log.Any("reconnected", "telemetry frames not delivered"), Is.True, log.ToString());
        // The gap is also published, retained, on the status topic.
        using var statusReader = TestClient.Connect("127.0.0.1", broker.Port);
        statusReader.Subscribe(transport.Topics.Status);
        Wait.Until(() => statusReader.On(transport.Topics.Status).Any(j => j.GetProperty("online").GetBoolean() && j.GetProperty("telemetry_gap_frames").GetInt64() > 40), "status reports the gap");
    }

    [Test]
    public void TlsEndToEndWithMosquitto()
    {
        SelfSignedPki pki = SelfSignedPki.Create(TempDir.Create("pki"));
        using var broker = new Mosquitto(BrokerUsers, tls: pki);
        using var transport = new MqttTransport(Options(broker.Port, tls: new MqttTlsOptions(pki.CaFile, null, null, null)));
        transport.Start();
        Assert.That(transport.WaitConnected(Wait.Long), Is.True, broker.SafeLog());
        using var viewer = TestClient.Connect("127.0.0.1", broker.Port, "viewer", "viewer-pw", MqttTransport.LoadCertificate(pki.CaFile));
        viewer.Subscribe(transport.Topics.TelemetryState);
        transport.Publish(Frames.Make(3));
        Wait.Until(() => viewer.On(transport.Topics.TelemetryState).Count == 1, "telemetry over TLS");
        viewer.Send(transport.Topics.Kill, CommandSigner.Sign(transport.Topics.Kill, "pilot", "pilot-pw", "{}", salt: "pepper"));
        Wait.Until(() => transport.TryDequeue(out NodeCommand c) && c.Kind == NodeCommandKind.Kill, "kill over TLS");

        // A node that trusts another CA refuses this broker and keeps retrying, never connected.
        var log = new LogLines();
        using var wrongCa = new MqttTransport(Options(broker.Port, tls: new MqttTlsOptions(pki.OtherCaFile, null, null, null)), log.Add);
        wrongCa.Start();
        Wait.Until(() => wrongCa.Status.ConnectFailures >= 2, "TLS validation failures");
        Assert.That(wrongCa.IsConnected, Is.False);
        Assert.That(log.Any("cannot connect"), Is.True, log.ToString());
    }
}
