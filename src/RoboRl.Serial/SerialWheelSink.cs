using System.Numerics;
using RoboRl.Core.Robots;

namespace RoboRl.Serial;

/// <summary>
/// A differential-drive robot's wheel controller (an MCU such as a TurtleBot3's OpenCR) on the serial link protocol
/// (firmware-bridge/PROTOCOL.md): every velocity command becomes one ACTUATOR_COMMAND frame in rpm mode with
/// motor[0] = left wheel, motor[1] = right wheel (rpm, positive = forward), motor[2..3] = 0. The tick only stores the
/// command; this sink's writer thread sends it, so a slow port never blocks the node. The MCU's own watchdog (STATUS
/// WATCHDOG) should stop the wheels when frames stop arriving.
/// </summary>
public sealed class SerialWheelSink : IVelocityCommandSink, IDisposable
{
    const float RadPerSecondToRpm = 60f / (2f * MathF.PI);
    readonly SerialLink link;
    readonly object gate = new();
    VelocityCommand pending;
    bool hasPending;
    readonly AutoResetEvent wake = new(false);
    readonly Thread writer;
    volatile bool stopping;
    long sent, failed;

    public SerialWheelSink(SerialLink link)
    {
        this.link = link;
        writer = new Thread(WriteLoop) { IsBackground = true, Name = "serial-wheel-sink", Priority = ThreadPriority.AboveNormal };
        writer.Start();
    }

    public SerialLink Link => link;
    public long FramesSent => Interlocked.Read(ref sent);
    /// <summary>Frames the link refused (port closed or faulted).</summary>
    public long FramesFailed => Interlocked.Read(ref failed);

    /// <summary>The frame payload for a command: (left rpm, right rpm, 0, 0).</summary>
    public static ActuatorCommand WheelFrame(in VelocityCommand command) =>
        new(ActuatorMode.Rpm, new Vector4(command.LeftWheelRadS * RadPerSecondToRpm, command.RightWheelRadS * RadPerSecondToRpm, 0, 0));

    public void Send(in VelocityCommand command)
    {
        lock (gate)
        {
            pending = command;
            hasPending = true;
        }
        wake.Set();
    }

    void WriteLoop()
    {
        while (!stopping)
        {
            wake.WaitOne(100);
            VelocityCommand command;
            lock (gate)
            {
                if (!hasPending) continue;
                command = pending;
                hasPending = false;
            }
            if (link.Send(WheelFrame(command))) Interlocked.Increment(ref sent);
            else Interlocked.Increment(ref failed);
        }
    }

    public void Dispose()
    {
        stopping = true;
        wake.Set();
        writer.Join();
        wake.Dispose();
    }
}
