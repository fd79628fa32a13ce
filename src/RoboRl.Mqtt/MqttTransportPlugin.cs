using RoboRl.Core.Configs;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Robots;

namespace RoboRl.Mqtt;

/// <summary>
/// The "mqtt" transport: one <see cref="MqttTransport"/> built from the node config's "mqtt" section (read and checked
/// by <see cref="MqttTransportOptions.Read"/>) is the robot's state (robot/state) and rotor commands (robot/command), and
/// an operator's channel: commands, teleop, telemetry and the node's events. With "transport": "sim" and
/// "commands"/"teleop"/"telemetry": ["mqtt"], a simulated flight is watched and taken over like a real one.
/// </summary>
public static class MqttTransportPlugin
{
    public const string Name = "mqtt";

    public static TransportPlugin Plugin { get; } = new(Name, "MQTT (embedded MQTTnet broker or an external one): state and rotor commands, operator commands, teleop, telemetry", Open);

    private static RobotLink Open(TransportRequest request)
    {
        if ((request.Roles & (TransportRoles.Sensors | TransportRoles.Actuators)) != 0)
            request.RobotAs<QuadrotorConfig>("a quadrotor's state and rotor commands");
        MqttTransportOptions options = MqttTransportOptions.Read(request.RequireSection());
        var transport = new MqttTransport(options, request.Settings.Log);
        // Started here rather than with the run, so that a broker that cannot listen (port in use) or a bad certificate
        // is a setup error before arming; the node's tick only starts later.
        try { transport.Start(); }
        catch (Exception e) when (e is InvalidOperationException or System.Security.Cryptography.CryptographicException or IOException)
        {
            transport.Dispose();
            // A broker that cannot listen or a TLS file that does not load: the config is fine, the host is not.
            throw new RobotLinkException($"{request.NodeFile}: $.{Name}: {e.Message}", e);
        }
        return new RobotLink(Name, transport, transport) { Stop = transport.Dispose };
    }
}
