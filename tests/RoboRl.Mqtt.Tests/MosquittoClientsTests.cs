using System.Diagnostics;
using System.Text.Json;
using RoboRl.Core.Robots;

namespace RoboRl.Mqtt.Tests;

/// <summary>
/// The embedded broker with the clients users actually run: Debian's mosquitto_sub and mosquitto_pub
/// (package "mosquitto-clients") with their default options. They send an empty client id and expect
/// the broker to assign one (MQTT 3.1.1 §3.1.3.1, MQTT 5 §3.1.3.1), which Mosquitto itself does.
/// </summary>
public class MosquittoClientsTests
{
    private static MqttTransportOptions Options() => new()
    {
        Robot = "cf1",
        Broker = BrokerKind.Embedded,
        Host = "127.0.0.1",
        Port = 0,
        TelemetryHz = 100,
        Users = [MqttUser.FromPassword("pilot", "pilot-pw", MqttRights.Arm | MqttRights.Land, salt: "s")],
    };

    private static string Client(string name)
    {
        foreach (string dir in new[] { "/usr/bin", "/usr/local/bin" })
            if (File.Exists(Path.Combine(dir, name))) return Path.Combine(dir, name);
        string message = $"{name} is not installed (Debian package \"mosquitto-clients\", listed in tests/prerequisites.txt)";
        if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail(message);
        Assert.Ignore(message);
        return "";
    }

    private static Process Start(string binary, params string[] args)
    {
        var info = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args) info.ArgumentList.Add(a);
        return Process.Start(info)!;
    }

    /// <summary>Runs a client to completion; returns its exit code and everything it printed.</summary>
    private static (int Code, string Output) Run(string binary, params string[] args)
    {
        using Process p = Start(binary, args);
        Task<string> stdout = p.StandardOutput.ReadToEndAsync(), stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(30_000)) { p.Kill(); Assert.Fail($"{Path.GetFileName(binary)} {string.Join(' ', args)} did not finish"); }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    [TestCase("mqttv311")]
    [TestCase("mqttv5")]
    public void MosquittoSubReadsTelemetryAnonymouslyWithDefaultOptions(string protocol)
    {
        string sub = Client("mosquitto_sub");
        using var transport = new MqttTransport(Options());
        transport.Start();
        Assert.That(transport.WaitConnected(Wait.Long), Is.True);
        using var pump = new TelemetryPump(transport, hz: 100);
        // Only the protocol version differs from what a user types; -C 5 stops after five messages.
        var (code, output) = Run(sub, "-h", "127.0.0.1", "-p", transport.Broker!.Port.ToString(), "-V", protocol,
            "-t", transport.Topics.TelemetryState, "-C", "5", "-W", "25");
        Assert.That(code, Is.Zero, output);
        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(5), output);
        foreach (string line in lines)
            Assert.That(JsonDocument.Parse(line).RootElement.GetProperty("position").GetArrayLength(), Is.EqualTo(3));
    }

    [Test]
    public void TheWildcardSubscriptionUsersTypeWorks()
    {
        string sub = Client("mosquitto_sub");
        using var transport = new MqttTransport(Options());
        transport.Start();
        Assert.That(transport.WaitConnected(Wait.Long), Is.True);
        using var pump = new TelemetryPump(transport, hz: 100);
        var (code, output) = Run(sub, "-h", "127.0.0.1", "-p", transport.Broker!.Port.ToString(), "-t", "roborl/#", "-v", "-C", "20", "-W", "25");
        Assert.That(code, Is.Zero, output);
        Assert.That(output, Does.Contain(transport.Topics.TelemetryState + " {"));
    }

    [Test]
    public void MosquittoPubCommandsCountOnlyWithCredentials()
    {
        string pub = Client("mosquitto_pub");
        var log = new LogLines();
        using var transport = new MqttTransport(Options(), log.Add);
        transport.Start();
        Assert.That(transport.WaitConnected(Wait.Long), Is.True);
        string port = transport.Broker!.Port.ToString();

        // Anonymous (empty client id, no user): the broker lets it in, the node ignores the command.
        var (code, output) = Run(pub, "-h", "127.0.0.1", "-p", port, "-t", transport.Topics.Arm, "-m", "{}");
        Assert.That(code, Is.Zero, output);
        Wait.Until(() => transport.Status.CommandsAnonymous == 1, "anonymous arm counted");
        Assert.That(transport.TryDequeue(out _), Is.False, "an anonymous command reached the node");

        // With the pilot's credentials (still an empty client id): the command arrives with its principal.
        (code, output) = Run(pub, "-h", "127.0.0.1", "-p", port, "-u", "pilot", "-P", "pilot-pw", "-t", transport.Topics.Arm, "-m", "{}");
        Assert.That(code, Is.Zero, output);
        NodeCommand got = default;
        Wait.Until(() => transport.TryDequeue(out got), "pilot's arm");
        Assert.That((got.Kind, got.Principal), Is.EqualTo((NodeCommandKind.Arm, "pilot")));

        // A wrong password is still refused.
        (code, output) = Run(pub, "-h", "127.0.0.1", "-p", port, "-u", "pilot", "-P", "wrong", "-t", transport.Topics.Arm, "-m", "{}");
        Assert.That(code, Is.Not.Zero);
        Assert.That(output, Does.Contain("not authorised").IgnoreCase.Or.Contain("Bad user name or password").IgnoreCase, output);

        // A signed command needs no broker identity at all.
        string signed = CommandSigner.Sign(transport.Topics.Land, "pilot", "pilot-pw", "{}", salt: "s");
        (code, output) = Run(pub, "-h", "127.0.0.1", "-p", port, "-t", transport.Topics.Land, "-m", signed);
        Assert.That(code, Is.Zero, output);
        Wait.Until(() => transport.TryDequeue(out got) && got.Kind == NodeCommandKind.Land, "signed land");
        Assert.That(got.Principal, Is.EqualTo("pilot"));
    }
}
