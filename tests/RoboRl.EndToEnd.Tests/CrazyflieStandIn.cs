using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Numerics;
using System.Text;
using RoboRl.Core.Robots;
using RoboRl.Crazyflie;
using RoboRl.Serial;
using RoboRl.Sims.Quadrotor;

namespace RoboRl.EndToEnd.Tests;

/// <summary>
/// A small Crazyflie in C# at the far end of a pty, driven by the simulator: it speaks CPX over UART as the firmware's
/// UART link does for cflib (clear-to-send before every frame, both ways) and, inside it, the CRTP the node's
/// <see cref="CrazyflieTransport"/> uses — log TOC (V2) and blocks with periodic data (24-bit ms timestamps, values
/// converted to the requested type as log.c does), param TOC (V2) and writes (echoed), the platform arming request,
/// generic setpoints (counted). Its motors follow motorPowerSet.m1..m4 while motorPowerSet.enable is set and it is
/// armed (otherwise they are off) as the firmware's motors do: the duty cycle is applied as is (motorPowerSet bypasses
/// the battery compensation), so the motor voltage is V_battery · duty / 65535 and the thrust is the propellers'
/// voltage fit of it (crazyflie-firmware platform_defaults_cf2.h, motors.c); it reports its battery as <c>pm.vbat</c>.
/// <para>Real time: the simulator runs on its own thread and every started block is sent every 10 ms. Lock-step
/// (<c>lockStep: true</c>, after <see cref="BeginLockStep"/>): each write of motorPowerSet.m4 — the last of the four
/// the transport writes per node tick — advances the simulator by one 10 ms period and sends the blocks once, so the
/// flight runs in simulated time whatever the machine's load.</para>
/// </summary>
public sealed class CrazyflieStandIn : IDisposable
{
    // Log TOC: (group, name, storage type). Extra entries make the host search by name, not by position.
    static readonly (string Group, string Name, LogVariableType Type)[] LogToc =
    [
        ("pm", "vbat", LogVariableType.Float),
        ("stateEstimate", "x", LogVariableType.Float), ("stateEstimate", "y", LogVariableType.Float), ("stateEstimate", "z", LogVariableType.Float),
        ("stateEstimate", "vx", LogVariableType.Float), ("stateEstimate", "vy", LogVariableType.Float), ("stateEstimate", "vz", LogVariableType.Float),
        ("stateEstimate", "qx", LogVariableType.Float), ("stateEstimate", "qy", LogVariableType.Float),
        ("stateEstimate", "qz", LogVariableType.Float), ("stateEstimate", "qw", LogVariableType.Float),
        ("gyro", "x", LogVariableType.Float), ("gyro", "y", LogVariableType.Float), ("gyro", "z", LogVariableType.Float),
        ("motor", "m1", LogVariableType.UInt32),
    ];
    // Param TOC: (group, name, type). The motor override of crazyflie-firmware src/drivers/src/motors.c.
    static readonly (string Group, string Name, ParamType Type)[] ParamToc =
    [
        ("stabilizer", "controller", ParamType.UInt8),
        ("motorPowerSet", "enable", ParamType.UInt8),
        ("motorPowerSet", "m1", ParamType.UInt16), ("motorPowerSet", "m2", ParamType.UInt16),
        ("motorPowerSet", "m3", ParamType.UInt16), ("motorPowerSet", "m4", ParamType.UInt16),
    ];

    readonly PtyTransport _port;
    readonly SimulatedQuadrotor _sim;
    readonly RoboRl.Core.Quadrotor.QuadrotorConfig _robot;
    readonly float _batteryVoltage;
    readonly CpxUartDecoder _decoder = new();
    readonly SemaphoreSlim _hostReady = new(0, 1);
    readonly BlockingCollection<byte[]> _outgoing = new(4096);
    readonly Lock _writeLock = new(), _gate = new();
    readonly Thread _reader, _sender, _logger;
    readonly double[] _params = new double[ParamToc.Length];
    readonly Dictionary<byte, (List<(LogVariableType Type, ushort Id)> Variables, int PeriodMs, bool Running)> _blocks = [];
    readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    volatile bool _stopped;

    public bool Armed { get; private set; }
    public long ParamWrites, LogPacketsSent, GenericSetpoints;
    public Vector4 MotorRpm { get; private set; }
    /// <summary>The thrust the motors make now, N.</summary>
    public Vector4 MotorThrust { get; private set; }
    /// <summary>The fastest any motor was commanded so far, rpm.</summary>
    public float MaxMotorRpm { get; private set; }

    readonly bool _lockStep;
    volatile bool _stepping;
    public const long PeriodNs = 10_000_000;

    public CrazyflieStandIn(string ptyPath, SimulatedQuadrotor sim, RoboRl.Core.Quadrotor.QuadrotorConfig robot, bool lockStep = false, float batteryVoltage = 3.9f)
    {
        _port = new PtyTransport(ptyPath);
        _sim = sim;
        _robot = robot;
        _batteryVoltage = batteryVoltage;
        _lockStep = lockStep;
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = "standin-reader" };
        _sender = new Thread(SendLoop) { IsBackground = true, Name = "standin-sender" };
        _logger = new Thread(LogLoop) { IsBackground = true, Name = "standin-log" };
        _reader.Start(); _sender.Start();
        if (!lockStep) _logger.Start();
        WriteRaw(CpxUart.ClearToSend); // the host may send its first frame
    }

    void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        try { lock (_writeLock) _port.Write(bytes); }
        catch (IOException) { _stopped = true; }
    }

    void Reply(in CrtpPacket packet)
    {
        var data = new byte[CpxHeader.Length + CrtpPacket.MaxEncodedLength];
        new CpxHeader(CpxTarget.Stm32, CpxTarget.Host, CpxFunction.Crtp).Write(data);
        int n = packet.Encode(data.AsSpan(CpxHeader.Length));
        var frame = new byte[CpxUart.MaxFrameLength];
        int f = CpxUart.EncodeFrame(data.AsSpan(0, CpxHeader.Length + n), frame);
        try { _outgoing.TryAdd(frame[..f]); }
        catch (InvalidOperationException) { /* disposed: the link is over */ }
    }

    void SendLoop()
    {
        try
        {
            foreach (byte[] frame in _outgoing.GetConsumingEnumerable())
            {
                while (!_hostReady.Wait(100)) if (_stopped) return;
                WriteRaw(frame);
            }
        }
        catch (ObjectDisposedException) { }
    }

    void ReadLoop()
    {
        var buffer = new byte[512];
        try
        {
            while (!_stopped)
            {
                int n = _port.Read(buffer);
                for (int i = 0; i < n; i++)
                {
                    switch (_decoder.Push(buffer[i]))
                    {
                        case CpxUartEvent.ClearToSend:
                            if (_hostReady.CurrentCount == 0) _hostReady.Release();
                            break;
                        case CpxUartEvent.Frame:
                            byte[] frame = _decoder.FrameData.ToArray();
                            WriteRaw(CpxUart.ClearToSend); // ready for the host's next frame
                            if (CpxHeader.Read(frame).Function == CpxFunction.Crtp) Handle(CrtpPacket.Decode(frame.AsSpan(CpxHeader.Length)));
                            break;
                    }
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException) { _stopped = true; }
    }

    void Handle(CrtpPacket p)
    {
        ReadOnlySpan<byte> d = p.ReadOnlyData;
        switch (p.Port, p.Channel)
        {
            case (CrtpPort.Logging, Logging.TocChannel) when d[0] == Logging.CmdGetInfoV2:
                Reply(TocInfo(CrtpPort.Logging, LogToc.Length));
                break;
            case (CrtpPort.Logging, Logging.TocChannel) when d[0] == Logging.CmdGetItemV2:
                {
                    ushort id = BinaryPrimitives.ReadUInt16LittleEndian(d[1..]);
                    var (group, name, type) = LogToc[id];
                    Reply(TocItem(CrtpPort.Logging, id, (byte)type, group, name));
                    break;
                }
            case (CrtpPort.Logging, Logging.ControlChannel):
                Reply(new CrtpPacket(CrtpPort.Logging, Logging.ControlChannel, [d[0], d.Length > 1 ? d[1] : (byte)0, LogControl(d)]));
                break;
            case (CrtpPort.Param, Parameters.TocChannel) when d[0] == Parameters.CmdGetInfoV2:
                Reply(TocInfo(CrtpPort.Param, ParamToc.Length));
                break;
            case (CrtpPort.Param, Parameters.TocChannel) when d[0] == Parameters.CmdGetItemV2:
                {
                    ushort id = BinaryPrimitives.ReadUInt16LittleEndian(d[1..]);
                    var (group, name, type) = ParamToc[id];
                    Reply(TocItem(CrtpPort.Param, id, type.Raw, group, name));
                    break;
                }
            case (CrtpPort.Param, Parameters.WriteChannel):
                {
                    ushort id = BinaryPrimitives.ReadUInt16LittleEndian(d);
                    lock (_gate) _params[id] = Parameters.DecodeValue(ParamToc[id].Type, d[2..]);
                    Interlocked.Increment(ref ParamWrites);
                    ApplyMotors();
                    if (_lockStep && _stepping && id == 5) // motorPowerSet.m4: the tick's command is complete
                    {
                        _sim.AdvanceTo(_sim.TimeNs + PeriodNs);
                        SendBlocks();
                    }
                    Reply(p); // the firmware echoes the write
                    break;
                }
            case (CrtpPort.Platform, 0) when d.Length >= 2 && d[0] == 1:
                Armed = d[1] != 0;
                ApplyMotors();
                break;
            case (CrtpPort.GenericCommander, Setpoints.GenericSetpointChannel):
                Interlocked.Increment(ref GenericSetpoints);
                break;
        }
    }

    byte LogControl(ReadOnlySpan<byte> d)
    {
        lock (_gate)
        {
            switch (d[0])
            {
                case Logging.ControlReset: _blocks.Clear(); return 0;
                case Logging.ControlCreateBlockV2 or Logging.ControlAppendBlockV2:
                    {
                        if (d[0] == Logging.ControlCreateBlockV2) _blocks[d[1]] = ([], 0, false);
                        else if (!_blocks.ContainsKey(d[1])) return 2; // ENOENT
                        for (int k = 2; k + 3 <= d.Length; k += 3)
                            _blocks[d[1]].Variables.Add(((LogVariableType)(d[k] & 0x0F), BinaryPrimitives.ReadUInt16LittleEndian(d[(k + 1)..])));
                        return 0;
                    }
                case Logging.ControlStartBlock:
                    if (!_blocks.TryGetValue(d[1], out var block)) return 2;
                    _blocks[d[1]] = (block.Variables, d[2] * 10, true);
                    return 0;
                case Logging.ControlStopBlock:
                    if (!_blocks.TryGetValue(d[1], out var stopped)) return 2;
                    _blocks[d[1]] = (stopped.Variables, stopped.PeriodMs, false);
                    return 0;
                default: return 22; // EINVAL
            }
        }
    }

    void ApplyMotors()
    {
        Vector4 thrust = Vector4.Zero;
        lock (_gate)
        {
            if (_params[1] != 0 && Armed)
            {
                var actuator = _robot.Actuator;
                thrust = new Vector4(actuator.ThrustFromMotorPower((ushort)_params[2], _batteryVoltage), actuator.ThrustFromMotorPower((ushort)_params[3], _batteryVoltage),
                    actuator.ThrustFromMotorPower((ushort)_params[4], _batteryVoltage), actuator.ThrustFromMotorPower((ushort)_params[5], _batteryVoltage));
            }
        }
        var rpm = new Vector4(_robot.RpmForThrust(thrust.X), _robot.RpmForThrust(thrust.Y), _robot.RpmForThrust(thrust.Z), _robot.RpmForThrust(thrust.W));
        MotorThrust = thrust;
        MotorRpm = rpm;
        MaxMotorRpm = MathF.Max(MaxMotorRpm, MathF.Max(MathF.Max(rpm.X, rpm.Y), MathF.Max(rpm.Z, rpm.W)));
        _sim.Send(new RoboRl.Core.Robots.ActuatorCommand { RotorRpm = rpm });
    }

    /// <summary>Lock-step from now on: sends the blocks once (the node's first sample); each m4 write then steps.</summary>
    public void BeginLockStep()
    {
        if (!_lockStep) throw new InvalidOperationException("this stand-in runs in real time");
        _stepping = true;
        SendBlocks();
    }

    /// <summary>Every started block at its period (all here share one), attitude before position, as one firmware tick.</summary>
    void LogLoop()
    {
        long next = _clock.ElapsedMilliseconds;
        while (!_stopped)
        {
            next += 10;
            long wait = next - _clock.ElapsedMilliseconds;
            if (wait > 0) Thread.Sleep((int)wait);
            SendBlocks();
        }
    }

    void SendBlocks()
    {
        if (!_sim.TryGetLatest(out RobotStateSample s)) return;
        List<(byte Id, List<(LogVariableType Type, ushort Id)> Variables)> running;
        lock (_gate) running = _blocks.Where(b => b.Value.Running).OrderByDescending(b => b.Key).Select(b => (b.Key, b.Value.Variables)).ToList();
        uint ms = (uint)(_lockStep ? _sim.TimeNs / 1_000_000 : _clock.ElapsedMilliseconds) & 0xFFFFFF;
        foreach (var (id, variables) in running)
        {
            var packet = new CrtpPacket(CrtpPort.Logging, Logging.DataChannel, [id, (byte)ms, (byte)(ms >> 8), (byte)(ms >> 16)]);
            foreach (var (type, variable) in variables) AppendValue(ref packet, type, Value(LogToc[variable].Group + "." + LogToc[variable].Name, s));
            Reply(packet);
            Interlocked.Increment(ref LogPacketsSent);
        }
    }

    double Value(string name, in RobotStateSample s)
    {
        const double RadToDeg = 180 / Math.PI;
        return name switch
        {
            "stateEstimate.x" => s.Position.X,
            "stateEstimate.y" => s.Position.Y,
            "stateEstimate.z" => s.Position.Z,
            "stateEstimate.vx" => s.VelocityWorld.X,
            "stateEstimate.vy" => s.VelocityWorld.Y,
            "stateEstimate.vz" => s.VelocityWorld.Z,
            "stateEstimate.qx" => s.Orientation.X,
            "stateEstimate.qy" => s.Orientation.Y,
            "stateEstimate.qz" => s.Orientation.Z,
            "stateEstimate.qw" => s.Orientation.W,
            // The firmware's gyro log is in deg/s.
            "gyro.x" => s.AngularVelocityBody.X * RadToDeg,
            "gyro.y" => s.AngularVelocityBody.Y * RadToDeg,
            "gyro.z" => s.AngularVelocityBody.Z * RadToDeg,
            "pm.vbat" => _batteryVoltage,
            _ => 0,
        };
    }

    static void AppendValue(ref CrtpPacket p, LogVariableType type, double value)
    {
        switch (type)
        {
            case LogVariableType.Float: p.AppendSingle((float)value); break;
            case LogVariableType.Float16:
                Span<byte> h = stackalloc byte[2];
                BinaryPrimitives.WriteHalfLittleEndian(h, (Half)value);
                p.Append(h);
                break;
            case LogVariableType.UInt32: p.AppendUInt32((uint)value); break;
            default: throw new NotSupportedException($"stand-in log type {type}");
        }
    }

    static CrtpPacket TocInfo(CrtpPort port, int count)
    {
        var p = new CrtpPacket(port, 0, [3]);
        p.AppendUInt16((ushort)count);
        p.AppendUInt32(0xC0FFEE); // TOC CRC
        return p;
    }

    static CrtpPacket TocItem(CrtpPort port, ushort id, byte type, string group, string name)
    {
        var p = new CrtpPacket(port, 0, [2]);
        p.AppendUInt16(id);
        p.AppendByte(type);
        p.Append(Encoding.ASCII.GetBytes(group)); p.AppendByte(0);
        p.Append(Encoding.ASCII.GetBytes(name)); p.AppendByte(0);
        return p;
    }

    public void Dispose()
    {
        _stopped = true;
        if (!_lockStep) _logger.Join(TimeSpan.FromSeconds(2));
        _reader.Join(TimeSpan.FromSeconds(2));
        _outgoing.CompleteAdding();
        _sender.Join(TimeSpan.FromSeconds(2));
        _port.Dispose();
    }
}
