using System.Numerics;
using RoboRl.Core.Configs;
using RoboRl.Core.Robots;

namespace RoboRl.Mqtt.Tests;

/// <summary>A joystick over MQTT (roborl/&lt;robot&gt;/joy, sensor_msgs/Joy as JSON) through the embedded broker.</summary>
public class JoyTeleopTests
{
    private static MqttTransportOptions Options(JoyTeleopMapping joy) => new()
    {
        Robot = "cf1",
        Broker = BrokerKind.Embedded,
        Host = "127.0.0.1",
        Port = 0,
        TelemetryHz = 10,
        BufferFrames = 64,
        ReconnectInitialMs = 50,
        ReconnectMaxMs = 400,
        Joy = joy,
        Users = [MqttUser.FromPassword("pilot", "pilot-pw", MqttRights.Override), MqttUser.FromPassword("viewer", "viewer-pw", MqttRights.None)],
    };

    [Test]
    public void DeadmanHeldTakesOverWithTheMappedAxesAndReleasingItHandsBack()
    {
        var log = new LogLines();
        using var transport = new MqttTransport(Options(new JoyTeleopMapping { DeadmanButton = 2, ActionAxes = [3, 2, 1, 0] }), log.Add);
        transport.Start();
        Assert.That(transport.WaitConnected(Wait.Long), Is.True);
        MqttTopics t = transport.Topics;
        using var pilot = TestClient.Connect("127.0.0.1", transport.Broker!.Port, "pilot", "pilot-pw");

        pilot.Send(t.Joy, """{"axes":[0.1,-0.2,0.3,2.0],"buttons":[1,1,0]}""");
        Wait.Until(() => transport.TryGetLatest(out TeleopSample s) && s.Kind == TeleopKind.None, "a joystick without the dead-man");
        pilot.Send(t.Joy, """{"axes":[0.1,-0.2,0.3,2.0],"buttons":[0,0,1]}""");
        TeleopSample sample = default;
        Wait.Until(() => transport.TryGetLatest(out sample) && sample.Kind == TeleopKind.TakeOver, "take-over with the dead-man held");
        Assert.That(sample.Action, Is.EqualTo(new Vector4(1f, 0.3f, -0.2f, 0.1f)), "axes 3, 2, 1, 0 mapped to motors 1–4, clamped to [-1, 1]");
        pilot.Send(t.Joy, """{"axes":[0.1,-0.2,0.3,2.0],"buttons":[0,0,0]}""");
        Wait.Until(() => transport.TryGetLatest(out sample) && sample.Kind == TeleopKind.None, "dead-man released");

        // Bad joystick messages are refused, counted and logged; a user without the override right is forbidden.
        pilot.Send(t.Joy, """{"axes":[0.1,"x"],"buttons":[0,0,1]}""");
        pilot.Send(t.Joy, """{"axes":[0.1],"buttons":[0,0,1.5]}""");
        pilot.Send(t.Joy, """{"axes":[0.1],"buttons":[0,0,1],"rumble":1}""");
        using (var viewer = TestClient.Connect("127.0.0.1", transport.Broker.Port, "viewer", "viewer-pw"))
            viewer.Send(t.Joy, """{"axes":[0.5,0.5,0.5,0.5],"buttons":[0,0,1]}""");
        Wait.Until(() => transport.Status is { CommandsMalformed: 3, CommandsForbidden: 1 }, "3 malformed, 1 forbidden");
        Assert.That(log.Any("axes[1]"), Is.True, log.ToString());
        Assert.That(log.Any("buttons[2]"), Is.True, log.ToString());
        Assert.That(log.Any("unknown key \"rumble\""), Is.True, log.ToString());
        Assert.That(transport.TryGetLatest(out sample) && sample.Kind == TeleopKind.None, Is.True, "nothing refused took over");
    }

    [Test]
    public void NudgeModeMovesTheSetpointAtTheConfiguredSpeed()
    {
        using var transport = new MqttTransport(Options(new JoyTeleopMapping { DeadmanButton = 0, Mode = TeleopKind.NudgeSetpoint, NudgeAxes = [0, 1, 2], NudgeSpeedMS = 0.4f }), null);
        transport.Start();
        Assert.That(transport.WaitConnected(Wait.Long), Is.True);
        using var pilot = TestClient.Connect("127.0.0.1", transport.Broker!.Port, "pilot", "pilot-pw");
        pilot.Send(transport.Topics.Joy, """{"axes":[0.5,-1,0.25],"buttons":[1]}""");
        TeleopSample sample = default;
        Wait.Until(() => transport.TryGetLatest(out sample) && sample.Kind == TeleopKind.NudgeSetpoint, "nudge");
        Assert.That(sample.SetpointVelocity, Is.EqualTo(new Vector3(0.2f, -0.4f, 0.1f)));
    }

    [Test]
    public void TheJoySectionIsSchemaChecked()
    {
        ConfigNode Section(string json) => ConfigNode.Parse($$"""{ "mqtt": { "robot": "cf1", {{json}} } }""", "node.json").Object("mqtt");
        MqttTransportOptions o = MqttTransportOptions.Read(Section("""  "joy": { "deadman_button": 5, "mode": "nudge_setpoint", "nudge_axes": [0, 1, 2] } """));
        Assert.That((o.Joy.DeadmanButton, o.Joy.Mode, o.Joy.NudgeAxes), Is.EqualTo((5, TeleopKind.NudgeSetpoint, new[] { 0, 1, 2 })));
        var e = Assert.Throws<ConfigException>(() => MqttTransportOptions.Read(Section("""  "joy": { "deadman_button": 1, "mode": "take_over", "action_axes": [0, 1] } """)))!;
        Assert.That(e.Message, Does.Contain("node.json").And.Contain("action_axes"));
        e = Assert.Throws<ConfigException>(() => MqttTransportOptions.Read(Section("""  "joy": { "deadman_button": 1, "mode": "take_over", "trigger": 3 } """)))!;
        Assert.That(e.Message, Does.Contain("trigger"));
    }
}
