using RoboRl.Core.Configs;

namespace RoboRl.Mqtt.Tests;

public class OptionsTests
{
    private static string Hash(string password, string salt = "") => MqttUser.HashPassword(password, salt);

    [Test]
    public void ReadsAFullSection()
    {
        string json = $$"""
        { "mqtt": { "robot": "cf1", "broker": "external", "host": "broker.lan", "port": 8883,
                    "username": "node", "password": "pw", "telemetry_hz": 50, "buffer_frames": 64,
                    "reconnect_initial_ms": 50, "reconnect_max_ms": 2000, "max_clock_skew_ms": 3000,
                    "users": [ { "name": "alice", "password_sha256": "{{Hash("a", "s1")}}", "salt": "s1", "rights": ["arm", "setpoint", "kill"] },
                               { "name": "bob", "password_sha256": "{{Hash("b")}}", "rights": [] } ] } }
        """;
        MqttTransportOptions o = MqttTransportOptions.Read(ConfigNode.Parse(json, "node.json").Object("mqtt"));
        Assert.Multiple(() =>
        {
            Assert.That(o.Robot, Is.EqualTo("cf1"));
            Assert.That(o.Broker, Is.EqualTo(BrokerKind.External));
            Assert.That(o.Host, Is.EqualTo("broker.lan"));
            Assert.That(o.Port, Is.EqualTo(8883));
            Assert.That(o.Username, Is.EqualTo("node"));
            Assert.That(o.TelemetryHz, Is.EqualTo(50));
            Assert.That(o.ReconnectMaxMs, Is.EqualTo(2000));
            Assert.That(o.Users, Has.Count.EqualTo(2));
            Assert.That(o.Users[0].Rights, Is.EqualTo(MqttRights.Arm | MqttRights.Setpoint | MqttRights.Kill));
            Assert.That(o.Users[0].CheckPassword("a"), Is.True);
            Assert.That(o.Users[0].CheckPassword("b"), Is.False);
            Assert.That(o.Users[1].Rights, Is.EqualTo(MqttRights.None));
        });
    }

    [Test]
    public void DefaultsToTheEmbeddedBrokerAt100Hz()
    {
        MqttTransportOptions o = MqttTransportOptions.Read(ConfigNode.Parse("{}", "node.json"));
        Assert.That((o.Broker, o.Host, o.TelemetryHz, o.Robot), Is.EqualTo((BrokerKind.Embedded, "127.0.0.1", 100.0, "robot")));
    }

    [TestCase("""{"broker": "cloud"}""", "$.mqtt.broker", "embedded")]
    [TestCase("""{"telemetry_hz": 0}""", "$.mqtt.telemetry_hz", "[0.1, 1000]")]
    [TestCase("""{"port": 70000}""", "$.mqtt.port", "65535")]
    [TestCase("""{"robot": "cf/1"}""", "$.mqtt.robot", "topic level")]
    [TestCase("""{"colour": "red"}""", "$.mqtt.colour", "unknown key")]
    [TestCase("""{"password": "x"}""", "$.mqtt.username", "needs a username")]
    [TestCase("""{"password_env": "ROBORL_SURELY_UNSET_VAR"}""", "$.mqtt.password_env", "not set")]
    [TestCase("""{"reconnect_initial_ms": 500, "reconnect_max_ms": 100}""", "$.mqtt.reconnect_max_ms", "reconnect_initial_ms")]
    [TestCase("""{"users": [{"name": "a", "password_sha256": "abc", "rights": []}]}""", "$.mqtt.users[0].password_sha256", "64 hex")]
    [TestCase("""{"users": [{"name": "a", "password_sha256": "0000000000000000000000000000000000000000000000000000000000000000", "rights": ["fly"]}]}""", "$.mqtt.users[0].rights[0]", "arm, setpoint")]
    [TestCase("""{"users": [{"name": "a", "password_sha256": "0000000000000000000000000000000000000000000000000000000000000000", "role": "x"}]}""", "$.mqtt.users[0].role", "unknown key")]
    [TestCase("""{"tls": {"ca_file": "missing-ca.crt"}, "broker": "external"}""", "$.mqtt.tls.ca_file", "file not found")]
    [TestCase("""{"tls": {"ca_file": "x"}}""", "$.mqtt.tls.cert_file", "embedded broker needs")]
    public void BadValuesNameTheFileThePathAndTheRange(string section, string path, string expected)
    {
        var e = Assert.Throws<ConfigException>(() => MqttTransportOptions.Read(ConfigNode.Parse($$"""{"mqtt": {{section}} }""", "node.json").Object("mqtt")));
        Assert.That(e!.File, Is.EqualTo("node.json"));
        Assert.That(e.JsonPath, Is.EqualTo(path));
        Assert.That(e.Message, Does.Contain(expected));
    }
}

public class OverwritingRingTests
{
    [Test]
    public void DeliversInOrderWithSequences()
    {
        var ring = new OverwritingRing<int>(8);
        for (int i = 0; i < 5; i++) ring.Write(i * 10);
        for (int i = 0; i < 5; i++)
        {
            Assert.That(ring.TryRead(out int v, out long seq), Is.True);
            Assert.That((v, seq), Is.EqualTo((i * 10, (long)i)));
        }
        Assert.That(ring.TryRead(out _), Is.False);
        Assert.That(ring.Overwritten, Is.Zero);
    }

    [Test]
    public void WhenFullTheOldestIsOverwrittenAndCounted()
    {
        var ring = new OverwritingRing<int>(8);
        for (int i = 0; i < 20; i++) ring.Write(i);
        var got = new List<(int, long)>();
        while (ring.TryRead(out int v, out long s)) got.Add((v, s));
        Assert.That(got.Select(g => g.Item1), Is.EqualTo(Enumerable.Range(12, 8)));
        Assert.That(got.Select(g => g.Item2), Is.EqualTo(Enumerable.Range(12, 8).Select(i => (long)i)));
        Assert.That(ring.Overwritten, Is.EqualTo(12));
    }

    [Test]
    public void OverwrittenItemsAreCountedAsTheyAreLostNotWhenTheReaderGetsThere()
    {
        // A reader that cannot read (the broker is away) must still see the gap grow: the transport logs it on reconnection.
        var ring = new OverwritingRing<int>(8);
        for (int i = 0; i < 20; i++) ring.Write(i);
        Assert.That(ring.Overwritten, Is.EqualTo(12), "before any read");
        int read = 0;
        while (ring.TryRead(out _)) read++;
        Assert.That((read, ring.Overwritten), Is.EqualTo((8, 12L)), "reading does not count them again");
        for (int i = 0; i < 3; i++) ring.Write(i);
        Assert.That(ring.Overwritten, Is.EqualTo(12), "a ring with room loses nothing");
    }

    [Test]
    public void ConcurrentProducerNeverTearsAnItem()
    {
        // Items whose two halves must agree: a torn read (half old, half new) would show as a mismatch.
        var ring = new OverwritingRing<(long A, long B, long C, long D)>(16);
        const long total = 300_000;
        var producer = new Thread(() => { for (long i = 0; i < total; i++) ring.Write((i, i, i, i)); });
        producer.Start();
        long read = 0, last = -1;
        while (producer.IsAlive || ring.TryRead(out _))
        {
            while (ring.TryRead(out var item, out long seq))
            {
                Assert.That(item.B == item.A && item.C == item.A && item.D == item.A && item.A == seq, Is.True, $"torn item {item} at {seq}");
                Assert.That(seq, Is.GreaterThan(last));
                last = seq;
                read++;
            }
        }
        producer.Join();
        while (ring.TryRead(out _)) read++;
        Assert.That(read + ring.Overwritten, Is.EqualTo(total));
    }
}
