using System.Text;
using RoboRl.Core.Robots;

namespace RoboRl.Mqtt.Tests;

/// <summary>The intake alone (no broker): parsing, ranges, identities, rights, signatures.</summary>
public class CommandIntakeTests
{
    private readonly MqttTopics _topics = new("cf1");
    private LogLines _log = null!;
    private CommandIntake _intake = null!;

    [SetUp]
    public void SetUp()
    {
        _log = new LogLines();
        var options = new MqttTransportOptions
        {
            Robot = "cf1",
            SetpointLimitM = 10,
            Users =
            [
                MqttUser.FromPassword("alice", "alice-pw", MqttRights.Arm | MqttRights.Setpoint | MqttRights.Override | MqttRights.Land | MqttRights.Kill, salt: "x9"),
                MqttUser.FromPassword("viewer", "viewer-pw", MqttRights.None),
            ],
        };
        _intake = new CommandIntake(_topics, options, _log.Add);
    }

    private CommandOutcome Send(string topic, string payload, string? user = "alice") => _intake.Handle(topic, Encoding.UTF8.GetBytes(payload), user);

    [Test]
    public void ValidSetpointBecomesACommandWithItsPrincipal()
    {
        Assert.That(Send(_topics.Setpoint, """{"position":[1,-2,0.5],"yaw_deg":90}"""), Is.EqualTo(CommandOutcome.Accepted));
        Assert.That(_intake.TryDequeue(out NodeCommand c), Is.True);
        Assert.That((c.Kind, c.Setpoint, c.YawDeg, c.Principal), Is.EqualTo((NodeCommandKind.Setpoint, new System.Numerics.Vector3(1, -2, 0.5f), 90f, "alice")));
        Assert.That(c.ReceivedNs, Is.GreaterThan(0));
        Assert.That(_intake.TryDequeue(out _), Is.False);
    }

    [TestCase("arm", NodeCommandKind.Arm)]
    [TestCase("disarm", NodeCommandKind.Disarm)]
    [TestCase("land", NodeCommandKind.Land)]
    [TestCase("kill", NodeCommandKind.Kill)]
    public void SimpleCommandsTakeAnEmptyObjectOrNothing(string name, NodeCommandKind kind)
    {
        Assert.That(Send(_topics.CommandPrefix + name, "{}"), Is.EqualTo(CommandOutcome.Accepted));
        Assert.That(Send(_topics.CommandPrefix + name, ""), Is.EqualTo(CommandOutcome.Accepted));
        Assert.That(_intake.TryDequeue(out NodeCommand c) && c.Kind == kind, Is.True);
    }

    [TestCase("setpoint", "{not json")]
    [TestCase("setpoint", "[1,2,3]")]
    [TestCase("setpoint", "{}")]
    [TestCase("setpoint", """{"position":[1,2]}""")]
    [TestCase("setpoint", """{"position":"1,2,3"}""")]
    [TestCase("setpoint", """{"position":[1,2,NaN]}""")]
    [TestCase("setpoint", """{"position":[1,2,"NaN"]}""")]
    [TestCase("setpoint", """{"position":[1,2,1e999]}""")]
    [TestCase("setpoint", """{"position":[1,2,11]}""")]
    [TestCase("setpoint", """{"position":[1,2,3],"yaw_deg":400}""")]
    [TestCase("setpoint", """{"position":[1,2,3],"yaw_deg":null}""")]
    [TestCase("setpoint", """{"position":[1,2,3],"speed":1}""")]
    [TestCase("arm", """{"force":true}""")]
    [TestCase("arm", "null")]
    [TestCase("fly", "{}")]
    public void MalformedPayloadsAreRejectedCountedAndLogged(string command, string payload)
    {
        CommandOutcome outcome = CommandOutcome.Accepted;
        Assert.DoesNotThrow(() => outcome = Send(_topics.CommandPrefix + command, payload));
        Assert.That(outcome, Is.EqualTo(CommandOutcome.Malformed));
        Assert.That(_intake.Count(CommandOutcome.Malformed), Is.EqualTo(1));
        Assert.That(_intake.TryDequeue(out _), Is.False);
        Assert.That(_log.Any("refused (Malformed)"), Is.True, _log.ToString());
    }

    [TestCase("""{"deadman":true}""")]
    [TestCase("""{"deadman":"yes"}""")]
    [TestCase("""{"deadman":true,"mode":"takeover","action":[0,0,0,1.5]}""")]
    [TestCase("""{"deadman":true,"mode":"nudge","setpoint_velocity":[0,0,9]}""")]
    [TestCase("""{"deadman":true,"mode":"dance"}""")]
    public void MalformedTeleopIsRejected(string payload)
    {
        Assert.That(Send(_topics.Teleop, payload), Is.EqualTo(CommandOutcome.Malformed));
        Assert.That(_intake.TryGetTeleop(out _), Is.False);
    }

    [Test]
    public void TeleopTakeOverNudgeAndRelease()
    {
        Assert.That(_intake.TryGetTeleop(out _), Is.False);
        Assert.That(Send(_topics.Teleop, """{"deadman":true,"mode":"takeover","action":[0.1,0.2,0.3,-1]}"""), Is.EqualTo(CommandOutcome.Accepted));
        Assert.That(_intake.TryGetTeleop(out TeleopSample s), Is.True);
        Assert.That((s.Kind, s.Action), Is.EqualTo((TeleopKind.TakeOver, new System.Numerics.Vector4(0.1f, 0.2f, 0.3f, -1))));
        Send(_topics.Teleop, """{"deadman":true,"mode":"nudge","setpoint_velocity":[0.5,0,-0.5]}""");
        Assert.That(_intake.TryGetTeleop(out s) && s.Kind == TeleopKind.NudgeSetpoint && s.SetpointVelocity.X == 0.5f, Is.True);
        Send(_topics.Teleop, """{"deadman":false}""");
        Assert.That(_intake.TryGetTeleop(out s) && s.Kind == TeleopKind.None, Is.True);
    }

    [Test]
    public void AnonymousUnknownAndUnprivilegedSendersAreRefusedAndLogged()
    {
        Assert.That(Send(_topics.Arm, "{}", user: null), Is.EqualTo(CommandOutcome.Anonymous));
        Assert.That(Send(_topics.Arm, "{}", user: "mallory"), Is.EqualTo(CommandOutcome.Forbidden));
        Assert.That(Send(_topics.Arm, "{}", user: "viewer"), Is.EqualTo(CommandOutcome.Forbidden));
        Assert.That(Send(_topics.Teleop, """{"deadman":false}""", user: "viewer"), Is.EqualTo(CommandOutcome.Forbidden));
        Assert.That(_intake.TryDequeue(out _), Is.False);
        Assert.That(_log.Any("from anonymous refused (Anonymous)"), Is.True, _log.ToString());
        Assert.That(_log.Any("viewer refused (Forbidden)", "lacks the right \"arm\""), Is.True, _log.ToString());
        Assert.That(_log.Any("viewer refused (Forbidden)", "lacks the right \"override\""), Is.True, _log.ToString());
    }

    [Test]
    public void SignedCommandsWorkWithoutABrokerIdentityAndCannotBeReplayedForgedOrMoved()
    {
        string body = """{"position":[0,0,1]}""";
        string signed = CommandSigner.Sign(_topics.Setpoint, "alice", "alice-pw", body, salt: "x9", nonce: "nonce-0001");
        Assert.That(Send(_topics.Setpoint, signed, user: null), Is.EqualTo(CommandOutcome.Accepted));
        Assert.That(_intake.TryDequeue(out NodeCommand c) && c.Principal == "alice" && c.Setpoint.Z == 1, Is.True);

        Assert.That(Send(_topics.Setpoint, signed, user: null), Is.EqualTo(CommandOutcome.Unauthenticated), "replay");
        Assert.That(_log.Any("replayed nonce"), Is.True);

        string wrongKey = CommandSigner.Sign(_topics.Arm, "alice", "guess", "{}", salt: "x9");
        Assert.That(Send(_topics.Arm, wrongKey, user: null), Is.EqualTo(CommandOutcome.Unauthenticated), "wrong password");

        string moved = CommandSigner.Sign(_topics.Arm, "alice", "alice-pw", "{}", salt: "x9");
        Assert.That(Send(_topics.Kill, moved, user: null), Is.EqualTo(CommandOutcome.Unauthenticated), "signed for arm, sent to kill");

        string tampered = CommandSigner.Sign(_topics.Setpoint, "alice", "alice-pw", body, salt: "x9").Replace("[0,0,1]", "[0,0,9]");
        Assert.That(Send(_topics.Setpoint, tampered, user: null), Is.EqualTo(CommandOutcome.Unauthenticated), "altered body");

        long old = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 60_000;
        string stale = CommandSigner.Sign(_topics.Arm, "alice", "alice-pw", "{}", salt: "x9", tsMs: old);
        Assert.That(Send(_topics.Arm, stale, user: null), Is.EqualTo(CommandOutcome.Unauthenticated), "stale");
        Assert.That(_log.Any("stale or future timestamp"), Is.True);

        string unknown = CommandSigner.Sign(_topics.Arm, "mallory", "x", "{}");
        Assert.That(Send(_topics.Arm, unknown, user: null), Is.EqualTo(CommandOutcome.Unauthenticated), "unknown user");

        string viewer = CommandSigner.Sign(_topics.Arm, "viewer", "viewer-pw", "{}");
        Assert.That(Send(_topics.Arm, viewer, user: null), Is.EqualTo(CommandOutcome.Forbidden), "no right");

        string badBody = CommandSigner.Sign(_topics.Setpoint, "alice", "alice-pw", """{"position":[0,0,"x"]}""", salt: "x9");
        Assert.That(Send(_topics.Setpoint, badBody, user: null), Is.EqualTo(CommandOutcome.Malformed), "signed but malformed body");

        Assert.That(_intake.TryDequeue(out _), Is.False);
        Assert.That(_intake.Count(CommandOutcome.Unauthenticated), Is.EqualTo(6));
    }

    [Test]
    public void TickSideReadsAllocateNothing()
    {
        Send(_topics.Teleop, """{"deadman":true,"mode":"takeover","action":[0,0,0,0]}""");
        Send(_topics.Arm, "{}");
        _intake.TryGetTeleop(out _);
        _intake.TryDequeue(out _);
        _intake.TryDequeue(out _);
        Assert.That(AllocationMeter.FewestBytes(() => { for (int i = 0; i < 10_000; i++) { _intake.TryGetTeleop(out _); _intake.TryDequeue(out _); } }), Is.Zero);
    }
}

public class CommandIntakeFloodTests
{
    [Test]
    public void AFloodOfBadMessagesIsCountedInFullButLoggedSparsely()
    {
        var log = new LogLines();
        var topics = new MqttTopics("cf1");
        var intake = new CommandIntake(topics, new MqttTransportOptions { Robot = "cf1" }, log.Add);
        for (int i = 0; i < 1000; i++) intake.Handle(topics.Arm, "{}"u8, brokerUser: null);
        Assert.That(intake.Count(CommandOutcome.Anonymous), Is.EqualTo(1000));
        int lines = log.ToString().Split('\n').Count(l => l.Contains("refused (Anonymous)"));
        Assert.That(lines, Is.EqualTo(20 + 10), "1..20, then 100, 200, …, 1000");
        Assert.That(log.Any("[1000 Anonymous so far]"), Is.True);
    }
}
