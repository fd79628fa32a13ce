using System.Text.Json.Nodes;
using RoboRl.Core.Configs;

namespace RoboRl.Node.Tests;

/// <summary>
/// The node config keys for devices: "policy_on" with its "mcu" section, transport "crazyflie" with its section (both
/// sections are read and checked by their plugins when a session opens them: RoboRl.Cli.Tests' NodeSessionTests).
/// </summary>
public class DeviceConfigTests
{
    [Test]
    public void TheShippedDeviceConfigsLoad()
    {
        NodeConfig mcu = NodeConfig.Load(RepoFiles.Path("configs/nodes/crazyflie-sim-mcu.json"));
        Assert.That(mcu.PolicyOn, Is.EqualTo("mcu"));
        Assert.That(mcu.Section("mcu")!.Path, Is.EqualTo("$.mcu"));
        Assert.That(mcu.RateHz, Is.EqualTo(100f), "the MCU keeps one action per history slot: the policy's 100 Hz");
        NodeConfig radio = NodeConfig.Load(RepoFiles.Path("configs/nodes/crazyflie-radio.json"));
        Assert.That(radio.Transport, Is.EqualTo("crazyflie"));
        Assert.That(radio.Section("crazyflie")!.String("link"), Is.EqualTo("radio://0/80/2M/E7E7E7E7E7"));
        Assert.That(radio.PolicyOn, Is.EqualTo(NodeConfig.HostPolicy));
        Assert.That(NodeConfig.Load(RepoFiles.NodeFile).PolicyOn, Is.EqualTo("host"), "default: the policy in the node");
    }

    [Test]
    public void ASectionOfAnUnusedTransportSaysHowToUseIt()
    {
        string file = RepoFiles.EditedCopy(RepoFiles.NodeFile, c => c["mqtt"] = new JsonObject { ["broker"] = "embedded" });
        var e = Assert.Throws<ConfigException>(() => NodeConfig.Load(file))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.mqtt"));
        Assert.That(e.Problem, Does.StartWith("unknown key: a section of a transport no role uses").And.Contain("\"commands\": [\"mqtt\"]"));
        string used = RepoFiles.EditedCopy(RepoFiles.NodeFile, c =>
        {
            c["mqtt"] = new JsonObject { ["broker"] = "embedded" };
            c["commands"] = new JsonArray("mqtt");
        });
        NodeConfig config = NodeConfig.Load(used);
        Assert.That((config.RolesOf("mqtt"), config.RolesOf("sim")),
            Is.EqualTo((Core.Robots.TransportRoles.Commands, Core.Robots.TransportRoles.Sensors | Core.Robots.TransportRoles.Actuators | Core.Robots.TransportRoles.Teleop | Core.Robots.TransportRoles.Telemetry)));
    }

    [Test]
    public void TransportCrazyfliePassesItsSectionThrough()
    {
        string withSection = RepoFiles.EditedCopy(RepoFiles.NodeFile, c =>
        {
            c["transport"] = "crazyflie";
            c["crazyflie"] = new JsonObject { ["link"] = "serial:///dev/ttyUSB0" };
            c.Remove("sim");
        });
        NodeConfig config = NodeConfig.Load(withSection);
        Assert.That((config.Transport, config.Sensors, config.Section("crazyflie")!.Path), Is.EqualTo(("crazyflie", "crazyflie", "$.crazyflie")));
        // The simulator's section left behind when the transport changed is named, with how to use or drop it.
        string leftover = RepoFiles.EditedCopy(RepoFiles.NodeFile, c =>
        {
            c["transport"] = "crazyflie";
            c["crazyflie"] = new JsonObject { ["link"] = "serial:///dev/ttyUSB0" };
        });
        Assert.That(Assert.Throws<ConfigException>(() => NodeConfig.Load(leftover))!.JsonPath, Is.EqualTo("$.sim"));
    }
}
