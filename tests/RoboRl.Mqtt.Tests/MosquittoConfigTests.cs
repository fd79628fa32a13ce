using System.Diagnostics;
using System.Net.Sockets;
using RoboRl.Core.Robots;

namespace RoboRl.Mqtt.Tests;

/// <summary>Files generated from the user list, loaded by a real Mosquitto: the broker enforces logins and per-right topics too.</summary>
public class MosquittoConfigTests
{
    [Test]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void GeneratedPasswordAndAclFilesAreEnforcedByMosquitto()
    {
        string binary = Mosquitto.Binary;
        string dir = TempDir.Create("mosquitto-config");
        int port = Ports.Free();
        var options = new MqttTransportOptions
        {
            Robot = "cf1",
            Broker = BrokerKind.External,
            Host = "127.0.0.1",
            Port = port,
            Username = "node",
            Password = "node-pw",
            ReconnectInitialMs = 50,
            ReconnectMaxMs = 400,
            Users =
            [
                MqttUser.FromPassword("pilot", "pilot-pw", MqttRights.Arm | MqttRights.Land, salt: "na"),
                MqttUser.FromPassword("viewer", "viewer-pw", MqttRights.None),
                MqttUser.FromPassword("absent", "absent-pw", MqttRights.Kill),
            ],
        };
        Assert.Throws<ArgumentException>(() => MosquittoConfig.Write(options, new Dictionary<string, string> { ["pilot"] = "wrong" }, dir));
        IReadOnlyList<string> missing = MosquittoConfig.Write(options, new Dictionary<string, string> { ["pilot"] = "pilot-pw", ["viewer"] = "viewer-pw" }, dir);
        Assert.That(missing, Is.EqualTo(new[] { "absent" }));
        string passwd = Path.Combine(dir, "passwd");
        Assert.That(File.GetUnixFileMode(passwd), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite), "the generator keeps the password file private");
        // Started as root, mosquitto drops to its own user, which must read the file (on a real host: chown mosquitto).
        File.SetUnixFileMode(passwd, File.GetUnixFileMode(passwd) | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        using Process broker = Process.Start(new ProcessStartInfo(binary, ["-c", Path.Combine(dir, "mosquitto.conf")]) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true })!;
        try
        {
            Wait.Until(() =>
            {
                if (broker.HasExited) Assert.Fail("mosquitto refused the generated config: " + broker.StandardError.ReadToEnd());
                try { using var c = new TcpClient(); c.Connect("127.0.0.1", port); return true; } catch (SocketException) { return false; }
            }, "mosquitto up");

            Assert.That(TestClient.TryConnect("127.0.0.1", port, "pilot", "pilot-pw"), Is.True, "PBKDF2-SHA512 line accepted by mosquitto");
            Assert.That(TestClient.TryConnect("127.0.0.1", port, "pilot", "nope"), Is.False);
            Assert.That(TestClient.TryConnect("127.0.0.1", port, "absent", "absent-pw"), Is.False, "left out of the password file");

            using var transport = new MqttTransport(options);
            transport.Start();
            Assert.That(transport.WaitConnected(Wait.Long), Is.True, "the node's own generated login");
            MqttTopics t = transport.Topics;
            using var viewer = TestClient.Connect("127.0.0.1", port, "viewer", "viewer-pw");
            viewer.Subscribe(t.TelemetryState);
            // The viewer may read telemetry, but the broker drops its (even validly signed) arm command.
            viewer.Send(t.Arm, CommandSigner.Sign(t.Arm, "pilot", "pilot-pw", "{}", salt: "na"));
            using var pilot = TestClient.Connect("127.0.0.1", port, "pilot", "pilot-pw");
            pilot.Send(t.Kill, CommandSigner.Sign(t.Kill, "pilot", "pilot-pw", "{}", salt: "na"));   // no kill right: dropped by the ACL
            pilot.Send(t.Land, CommandSigner.Sign(t.Land, "pilot", "pilot-pw", "{}", salt: "na"));   // allowed
            transport.Publish(Frames.Make(1));
            Wait.Until(() => viewer.On(t.TelemetryState).Count == 1, "viewer reads telemetry");
            Wait.Until(() => transport.TryDequeue(out NodeCommand c) && c.Kind == NodeCommandKind.Land, "pilot's land arrives");
            Assert.That(transport.TryDequeue(out _), Is.False, "arm from viewer and kill from pilot never reached the node");
            Assert.That(transport.Status.CommandsRejected, Is.Zero, "the broker, not the node, stopped them");
        }
        finally
        {
            if (!broker.HasExited) { broker.Kill(); broker.WaitForExit(); }
        }
    }
}
