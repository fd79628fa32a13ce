using System.Text.Json.Nodes;
using RoboRl.Core.Configs;

namespace RoboRl.Node.Tests;

/// <summary>The node config keys for devices: "policy_on" with its "mcu" section, transport "crazyflie" with its section.</summary>
public class DeviceConfigTests
{
    [Test]
    public void TheShippedDeviceConfigsLoad()
    {
        NodeConfig mcu = NodeConfig.Load(RepoFiles.Path("configs/nodes/crazyflie-sim-mcu.json"));
        Assert.That(mcu.PolicyOn, Is.EqualTo(PolicyLocation.Mcu));
        Assert.That(mcu.Mcu!.Path, Is.EqualTo("$.mcu"));
        Assert.That(mcu.RateHz, Is.EqualTo(100f), "the MCU keeps one action per history slot: the policy's 100 Hz");
        NodeConfig radio = NodeConfig.Load(RepoFiles.Path("configs/nodes/crazyflie-radio.json"));
        Assert.That(radio.Transport, Is.EqualTo(TransportKind.Crazyflie));
        Assert.That(radio.Crazyflie!.String("link"), Is.EqualTo("radio://0/80/2M/E7E7E7E7E7"));
        Assert.That(radio.PolicyOn, Is.EqualTo(PolicyLocation.Host));
        Assert.That(NodeConfig.Load(RepoFiles.NodeFile).PolicyOn, Is.EqualTo(PolicyLocation.Host), "default: the policy in the node");
    }

    [Test]
    public void PolicyOnNamesItsAllowedValuesAndNeedsItsSection()
    {
        string unknown = RepoFiles.EditedCopy(RepoFiles.NodeFile, c => c["policy_on"] = "gpu");
        var e = Assert.Throws<ConfigException>(() => NodeConfig.Load(unknown))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.policy_on"));
        Assert.That(e.Problem, Does.Contain("host, mcu"));
        Assert.That(e.Message, Does.Contain(unknown));

        string missing = RepoFiles.EditedCopy(RepoFiles.NodeFile, c => c["policy_on"] = "mcu");
        e = Assert.Throws<ConfigException>(() => NodeConfig.Load(missing))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.mcu"));
        Assert.That(e.Problem, Does.Contain("policy_on is \"mcu\""));
    }

    [Test]
    public void TransportCrazyflieNeedsItsSection()
    {
        string missing = RepoFiles.EditedCopy(RepoFiles.NodeFile, c => c["transport"] = "crazyflie");
        var e = Assert.Throws<ConfigException>(() => NodeConfig.Load(missing))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.crazyflie"));
        string withSection = RepoFiles.EditedCopy(RepoFiles.NodeFile, c =>
        {
            c["transport"] = "crazyflie";
            c["crazyflie"] = new JsonObject { ["link"] = "serial:///dev/ttyUSB0" };
        });
        Assert.That(NodeConfig.Load(withSection).Crazyflie!.Path, Is.EqualTo("$.crazyflie"));
    }
}
