using RoboRl.Core.Robots;
using RoboRl.Crazyflie;
using RoboRl.Mqtt;
using RoboRl.Node;
using RoboRl.Ros2;
using RoboRl.Serial;
using RoboRl.Serial.Firmware;

namespace RoboRl.Hosting;

/// <summary>
/// The plugins a program that runs a node offers: robot kinds (with their node facets), transports and remote policies,
/// each registered by name — the composition root of `roborl` and `roborl-node`. A node config names what it uses.
/// </summary>
public sealed record NodePlugins
{
    public required RobotKindRegistry Kinds { get; init; }
    public required PluginRegistry<TransportPlugin> Transports { get; init; }
    public required PluginRegistry<RemotePolicyPlugin> RemotePolicies { get; init; }

    /// <summary>Everything this repository ships.</summary>
    public static NodePlugins Standard { get; } = CreateStandard();

    /// <summary>A fresh set of the shipped plugins (a test adds its own transport to it).</summary>
    public static NodePlugins CreateStandard()
    {
        RobotKindRegistry kinds = NodeKinds.Standard;
        // One line per transport: its project defines the plugin (name, section, what it opens).
        var transports = new PluginRegistry<TransportPlugin>("transport");
        transports.Add(SimTransport.Plugin(kinds));
        transports.Add(MqttTransportPlugin.Plugin);
        transports.Add(Ros2TransportPlugin.Plugin);
        transports.Add(CrazyflieTransportPlugin.Plugin);
        transports.Add(SerialTransportPlugin.Plugin);
        transports.Add(JsonLinesTelemetry.Plugin);
        var remotePolicies = new PluginRegistry<RemotePolicyPlugin>("remote policy");
        remotePolicies.Add(McuPolicyPlugin.Plugin);
        return new NodePlugins { Kinds = kinds, Transports = transports, RemotePolicies = remotePolicies };
    }
}
