using RoboRl.Core.Quadrotor;
using RoboRl.Core.Robots;

namespace RoboRl.Crazyflie;

/// <summary>Options the host gives the "crazyflie" transport.</summary>
public sealed class CrazyflieLinkSettings
{
    /// <summary>Overrides the section's "link" (`roborl run --uri`, as cflib's URI: radio://0/80/2M/E7E7E7E7E7, serial:///dev/ttyUSB0).</summary>
    public string? Uri { get; init; }
}

/// <summary>
/// The "crazyflie" transport: a <see cref="CrazyflieTransport"/> built from the node config's "crazyflie" section is the
/// sensor (CRTP log blocks of the state estimate and gyro) and the actuator (motorPowerSet parameters: policy on the host,
/// at motor level, through the robot's actuator model).
/// </summary>
public static class CrazyflieTransportPlugin
{
    public const string Name = "crazyflie";

    public static TransportPlugin Plugin { get; } = new(Name, "a real Crazyflie over CRTP (Crazyradio PA or CPX UART): state log blocks in, motorPowerSet out", Open);

    private static RobotLink Open(TransportRequest request)
    {
        QuadrotorConfig robot = request.RobotAs<QuadrotorConfig>("a Crazyflie (a quadrotor)");
        CrazyflieTransportOptions options = CrazyflieTransportOptions.Read(request.RequireSection());
        string? uri = request.Settings.Get<CrazyflieLinkSettings>().Uri;
        if (uri is not null) options = options with { Link = uri };
        // Connected here rather than with the run, so that a missing dongle or a silent Crazyflie is a setup error before arming.
        CrazyflieTransport transport;
        try { transport = CrazyflieTransport.Open(options, robot.Actuator); }
        catch (CrtpLinkException e)
        {
            throw new RobotLinkException(uri is null ? $"{request.NodeFile}: $.{Name}.link: {e.Message}" : $"--uri: {e.Message}", e);
        }
        return new RobotLink(Name, transport, transport) { Stop = transport.Dispose };
    }
}
