using RoboRl.Core.Configs;
using RoboRl.Crazyflie;
using RoboRl.Node;

namespace RoboRl.Cli.Commands;

/// <summary>
/// RoboRl.Crazyflie as the node's <see cref="RobotLink"/> (transport "crazyflie"): a <see cref="CrazyflieTransport"/>
/// built from the node config's "crazyflie" section is the sensor (CRTP log blocks of the state estimate and gyro) and
/// the actuator (motorPowerSet parameters: policy on the host, at motor level).
/// </summary>
public static class CrazyflieRobotLink
{
    /// <param name="uri">Overrides the section's "link" (`roborl run --uri`, as cflib's URI).</param>
    public static RobotLink Create(NodeConfig config, string? uri = null)
    {
        ConfigNode section = config.Crazyflie ?? throw new NodeSession.SetupException($"{config.File}: $.crazyflie: missing required key");
        CrazyflieTransportOptions options;
        try { options = CrazyflieTransportOptions.Read(section); }
        catch (ConfigException e) { throw new NodeSession.SetupException(e.Message); }
        if (uri is not null) options = options with { Link = uri };
        // Connected here rather than with the flight, so that a missing dongle or a silent Crazyflie is a setup error before arming.
        CrazyflieTransport transport;
        try { transport = CrazyflieTransport.Open(options, config.Robot.Actuator); }
        catch (CrtpLinkException e)
        {
            throw new NodeSession.SetupException(uri is null ? $"{config.File}: $.crazyflie.link: {e.Message}" : $"--uri: {e.Message}", ExitCodes.Fault);
        }
        return new RobotLink(transport, transport, Start: () => { }, Stop: transport.Dispose, Owner: transport);
    }
}
