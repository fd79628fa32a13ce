using RoboRl.Core.Configs;
using RoboRl.Mqtt;
using RoboRl.Node;

namespace RoboRl.Cli.Commands;

/// <summary>
/// RoboRl.Mqtt as the node's <see cref="RobotLink"/>: one <see cref="MqttTransport"/> built from the node config's
/// "mqtt" section is the sensor (robot/state), actuator (robot/command), command source, teleop source and
/// telemetry sink. With transport "sim" the node uses only its commands, teleop and telemetry.
/// </summary>
public static class MqttRobotLink
{
    public static RobotLink Create(NodeConfig config)
    {
        ConfigNode section = config.Mqtt ?? throw new NodeSession.SetupException($"{config.File}: $.mqtt: missing required key");
        MqttTransportOptions options;
        try { options = MqttTransportOptions.Read(section); }
        catch (ConfigException e) { throw new NodeSession.SetupException(e.Message); }
        var transport = new MqttTransport(options, line => Console.Error.WriteLine(line));
        // Started here rather than with the flight, so that a broker that cannot listen (port in use) or a
        // bad certificate is a setup error before arming; the node's tick only starts later.
        try { transport.Start(); }
        catch (Exception e) when (e is InvalidOperationException or System.Security.Cryptography.CryptographicException or IOException)
        {
            transport.Dispose();
            // A broker that cannot listen (port in use) or a TLS file that does not load: the config is fine, the host is not.
            throw new NodeSession.SetupException($"{config.File}: $.mqtt: {e.Message}", ExitCodes.Fault);
        }
        return new RobotLink(transport, transport, Start: () => { }, Stop: transport.Dispose, Owner: transport)
        {
            Commands = transport,
            Teleop = transport,
            Telemetry = transport,
            Events = transport,
        };
    }
}
