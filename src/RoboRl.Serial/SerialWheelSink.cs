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
    readonly SerialLink _link;
    readonly object _gate = new();
    VelocityCommand _pending;
    bool _hasPending;
    readonly AutoResetEvent _wake = new(false);
    readonly Thread _writer;
    volatile bool _stopping;
    long _sent, _failed;

    public SerialWheelSink(SerialLink link)
    {
        this._link = link;
        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "serial-wheel-sink", Priority = ThreadPriority.AboveNormal };
        _writer.Start();
    }

    public SerialLink Link => _link;
    public long FramesSent => Interlocked.Read(ref _sent);
    /// <summary>Frames the link refused (port closed or faulted).</summary>
    public long FramesFailed => Interlocked.Read(ref _failed);

    /// <summary>The frame payload for a command: (left rpm, right rpm, 0, 0).</summary>
    public static ActuatorCommand WheelFrame(in VelocityCommand command) =>
        new(ActuatorMode.Rpm, new Vector4(command.LeftWheelRadS * RadPerSecondToRpm, command.RightWheelRadS * RadPerSecondToRpm, 0, 0));

    public void Send(in VelocityCommand command)
    {
        lock (_gate)
        {
            _pending = command;
            _hasPending = true;
        }
        _wake.Set();
    }

    void WriteLoop()
    {
        while (!_stopping)
        {
            _wake.WaitOne(100);
            VelocityCommand command;
            lock (_gate)
            {
                if (!_hasPending) continue;
                command = _pending;
                _hasPending = false;
            }
            if (_link.Send(WheelFrame(command))) Interlocked.Increment(ref _sent);
            else Interlocked.Increment(ref _failed);
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _wake.Set();
        _writer.Join();
        _wake.Dispose();
    }
}
