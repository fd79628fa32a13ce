using RoboRl.Core.Configs;
using RoboRl.Core.DiffDrive;
using RoboRl.Core.Robots;

namespace RoboRl.Serial;

/// <summary>
/// The "serial" transport: a ground robot's wheels on a serial wheel controller (an MCU such as the TurtleBot3's OpenCR)
/// speaking the RoboRl link protocol (firmware-bridge/PROTOCOL.md): every tick one ACTUATOR_COMMAND frame, rpm mode,
/// motor[0] = left wheel, motor[1] = right wheel (<see cref="SerialWheelSink"/>). Its section: "port" (a device, or a pty
/// path) and "baud". It carries commands only: the robot's sensors come from another transport ("sensors": "ros2").
/// </summary>
public static class SerialTransportPlugin
{
    public const string Name = "serial";

    public static TransportPlugin Plugin { get; } = new(Name, "a serial wheel controller (RoboRl link protocol): wheel speeds out", Open);

    private static RobotLink Open(TransportRequest request)
    {
        request.RobotAs<DiffDriveConfig>("a differential-drive robot's wheel speeds");
        if ((request.Roles & TransportRoles.Sensors) != 0)
            throw new ConfigException(request.NodeFile, "$.sensors", $"transport \"{Name}\" carries wheel commands only; name another transport for the sensors (e.g. \"sensors\": \"ros2\")");
        ConfigNode s = request.RequireSection();
        string port = s.String("port");
        int baud = (int)s.Integer("baud", 1200, 12_000_000);
        if (port.Length == 0) throw s.Error("port", "must name a device, e.g. /dev/ttyACM0");
        s.EnsureNoUnknownKeys();
        SerialLink? link = null;
        try
        {
            // A pty (a socat pair, an emulated MCU) through its file handle; a real UART through System.IO.Ports.
            string resolved = new FileInfo(port).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? port;
            link = resolved.StartsWith("/dev/pts/", StringComparison.Ordinal) ? SerialLink.OpenPty(port, null) : SerialLink.OpenSerialPort(port, baud, null);
            var wheels = new SerialWheelSink(link);
            return new RobotLink(Name, new Owner(wheels, link), wheels);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            link?.Dispose();
            throw new RobotLinkException($"{request.NodeFile}: cannot open serial port {port}: {e.Message}", e);
        }
    }

    private sealed class Owner(SerialWheelSink wheels, SerialLink link) : IDisposable
    {
        public void Dispose()
        {
            wheels.Dispose();
            link.Dispose();
        }
    }
}
