using System.Diagnostics;
using System.Numerics;
using RoboRl.Core.Configs;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Robots;

namespace RoboRl.Crazyflie;

/// <summary>
/// The "crazyflie" section of a node config (transport "crazyflie"), read and schema-checked here:
/// <c>"link"</c> — a cflib-style URI, <c>radio://0/80/2M/E7E7E7E7E7</c> (Crazyradio PA) or
/// <c>serial:///dev/ttyUSB0</c> (CRTP over CPX on the UART, 576000 baud); optional <c>"log_period_ms"</c> (10..100,
/// a multiple of 10: the firmware's log timer unit), <c>"connect_timeout_ms"</c> (5000) and <c>"arm"</c> (true: send
/// the platform arming request, needed by firmware with the supervisor, 2023.02 and later).
/// </summary>
public sealed record CrazyflieTransportOptions
{
    public required string Link { get; init; }
    public int LogPeriodMs { get; init; } = 10;
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);
    public bool Arm { get; init; } = true;

    /// <summary>Null when <paramref name="link"/> is a Crazyflie URI this transport opens (cflib's forms), else what is wrong.</summary>
    public static string? UriProblem(string link)
    {
        if (!link.StartsWith("radio://", StringComparison.Ordinal) && !link.StartsWith("serial://", StringComparison.Ordinal))
            return $"\"{link}\" is not a Crazyflie URI; expected radio://0/80/2M/E7E7E7E7E7 or serial:///dev/ttyUSB0";
        if (link.StartsWith("radio://", StringComparison.Ordinal))
        {
            try { RadioUri.Parse(link); }
            catch (Exception e) when (e is FormatException or ArgumentException or CrtpFormatException) { return e.Message; }
        }
        else if (link.Length <= "serial://".Length) return "serial:// needs a device, e.g. serial:///dev/ttyUSB0";
        return null;
    }

    public static CrazyflieTransportOptions Read(ConfigNode section)
    {
        string link = section.String("link");
        if (UriProblem(link) is { } problem) throw section.Error("link", problem);
        long period = section.Integer("log_period_ms", 10, 100, 10);
        if (period % 10 != 0) throw section.Error("log_period_ms", $"{period} is not a multiple of 10 (the firmware's log period unit)");
        var options = new CrazyflieTransportOptions
        {
            Link = link,
            LogPeriodMs = (int)period,
            ConnectTimeout = TimeSpan.FromMilliseconds(section.Number("connect_timeout_ms", 100, 120_000, 5000)),
            Arm = !section.Has("arm") || section.Boolean("arm"),
        };
        section.EnsureNoUnknownKeys();
        return options;
    }
}

/// <summary>
/// A Crazyflie as the node's robot, over CRTP (radio or CPX UART), policy on the host:
/// <list type="bullet">
/// <item><b>Sensor</b> (<see cref="ISensorSource"/>): two log blocks at <see cref="CrazyflieTransportOptions.LogPeriodMs"/>,
///   like cflib's <c>LogConfig</c>: <c>stateEstimate.x y z vx vy vz</c> (float, m and m/s, world) and
///   <c>stateEstimate.qx qy qz qw</c> (float) + <c>gyro.x y z</c> (fetched as float16, deg/s → rad/s) — the log groups
///   of crazyflie-firmware src/modules/src/stabilizer.c (<c>stateEstimate</c>: state.position, velocity,
///   attitudeQuaternion; <c>gyro</c>: sensorData.gyro in deg/s). A sample is
///   published when the position block arrives, with the newest attitude block; it is stamped with the host's receive
///   time (node clock), so a silent link ages it and trips the node's stale-sensor check.</item>
/// <item><b>Actuators</b> (<see cref="IActuatorSink"/>): the closest to motor level that stock firmware takes over CRTP —
///   no generic setpoint carries motor commands (FACTS.md: crazyswarm2 #469, firmware #1332) — are the parameters
///   <c>motorPowerSet.enable</c> (1: "hand PWM right to the motors", bypassing the on-board controller) and
///   <c>motorPowerSet.m1..m4</c> (uint16 PWM) of crazyflie-firmware src/drivers/src/motors.c. These duty cycles bypass
///   the firmware's battery compensation, so the host does it (<see cref="ActuatorModel.MotorPowerFromThrust"/>): the
///   force the robot's actuator model gives the action — the force the simulator flew and the on-board controller's
///   force mode would command — becomes a motor voltage through the propellers' fit and a duty cycle at the battery
///   voltage, which a third log block reads (<c>pm.vbat</c>, 10 Hz). Until the first battery sample the motors stay
///   off. The tick only stores the newest command; a writer thread sends the four param writes (one CRTP packet
///   each, so the motors change within one radio round trip of each other).</item>
/// </list>
/// Connect downloads both TOCs (V2), creates and starts the blocks, enables the motor override at 0 PWM and arms;
/// <see cref="Dispose"/> sets the motors to 0, disables the override, sends the generic STOP setpoint and disarms.
/// The node's supervisor and fallback are then the only controller in the loop: fly it in a net first.
/// </summary>
public sealed class CrazyflieTransport : ISensorSource, IActuatorSink, ISensorDiagnostics, IDisposable
{
    /// <summary>PWM full scale of motorPowerSet.m1..m4 (uint16).</summary>
    public const int PwmMax = ushort.MaxValue;
    private const byte PositionBlock = 1, AttitudeBlock = 2, BatteryBlock = 3;
    /// <summary>Period of the battery block: the firmware low-passes its own battery voltage over ~0.1 s (stabilizer.c).</summary>
    public const int BatteryLogPeriodMs = 100;
    /// <summary>CRTP platform port, channel 0, command 1: request arming (crazyflie-firmware docs functional-areas/crtp/crtp_platform.md).</summary>
    private const byte PlatformCommandChannel = 0, PlatformRequestArming = 1;

    private static readonly string[] PositionVariables = ["stateEstimate.x", "stateEstimate.y", "stateEstimate.z", "stateEstimate.vx", "stateEstimate.vy", "stateEstimate.vz"];
    private static readonly string[] AttitudeVariables = ["stateEstimate.qx", "stateEstimate.qy", "stateEstimate.qz", "stateEstimate.qw"];
    private static readonly string[] GyroVariables = ["gyro.x", "gyro.y", "gyro.z"];
    private static readonly string[] MotorParameters = ["motorPowerSet.m1", "motorPowerSet.m2", "motorPowerSet.m3", "motorPowerSet.m4"];
    /// <summary>The battery voltage (V) of crazyflie-firmware src/hal/src/pm_stm32f4.c's log group <c>pm</c>.</summary>
    public const string BatteryVariable = "pm.vbat";

    private readonly ICrtpLink _link;
    private readonly string _uri;
    private readonly ActuatorModel _actuator;
    private readonly ParamTocEntry _enable;
    private readonly ParamTocEntry[] _motors;
    private readonly LogConfig _positionLog, _attitudeLog, _batteryLog;
    private readonly double[] _values = new double[8];
    private readonly Lock _gate = new();
    private readonly AutoResetEvent _commandReady = new(false);
    private readonly Thread _reader, _writer;
    private volatile bool _stopping;

    private RobotStateSample _latest;
    private bool _hasSample;
    private Quaternion _attitude = Quaternion.Identity;
    private Vector3 _rates;
    private Vector4 _commandThrust;
    private float _batteryVoltage = float.NaN;
    private long _logPackets, _otherPackets, _paramWrites, _linkErrors, _commandsWithoutBattery;

    /// <summary>
    /// The clock samples are stamped with on arrival (node clock, ns); lock-step tests set it to simulated time so that
    /// the node's stale-sensor check compares like with like.
    /// </summary>
    public Func<long> Clock { get; set; } = () => NodeClock.NowNs;

    public string Uri => _uri;
    public long LogPacketsReceived => Interlocked.Read(ref _logPackets);
    public long ParamWritesSent => Interlocked.Read(ref _paramWrites);
    public long LinkErrors => Interlocked.Read(ref _linkErrors);
    /// <summary>Commands sent as motors off because no battery voltage had arrived yet.</summary>
    public long CommandsWithoutBattery => Interlocked.Read(ref _commandsWithoutBattery);
    /// <summary>The newest battery voltage (pm.vbat), V; NaN before the first sample.</summary>
    public float BatteryVoltage { get { lock (_gate) return _batteryVoltage; } }
    /// <summary>The last link failure the reader or writer saw (the node sees it as a stale sensor).</summary>
    public string? LinkFailure { get; private set; }

    /// <summary>What the node waits for and what arrived: the state-estimate log blocks over the link.</summary>
    public string DescribeSensor()
    {
        long packets = LogPacketsReceived;
        string seen = packets > 0 ? $"{packets} log packets received" : "no log packet received";
        return $"the stateEstimate log blocks (every {_positionLog.PeriodMs} ms) from the Crazyflie at {_uri}: {seen}" +
               (LinkFailure is { } failure ? $"; link failure: {failure}" : "") + (LinkErrors > 0 ? $"; {LinkErrors} link errors" : "");
    }

    private CrazyflieTransport(ICrtpLink link, string uri, ActuatorModel actuator, ParamTocEntry enable, ParamTocEntry[] motors,
        LogConfig position, LogConfig attitude, LogConfig battery)
    {
        _link = link; _uri = uri; _actuator = actuator; _enable = enable; _motors = motors;
        _positionLog = position; _attitudeLog = attitude; _batteryLog = battery;
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = "crazyflie-log-reader" };
        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "crazyflie-motor-writer" };
    }

    /// <summary>
    /// Opens the link named by a cflib URI: <c>radio://…</c> through <see cref="CrazyradioLink"/>, <c>serial://DEVICE</c>
    /// through <see cref="CpxUartLink"/>. Any failure is a <see cref="CrtpLinkException"/> whose message starts with the URI
    /// (no Crazyradio plugged in, no such device, no clear-to-send).
    /// </summary>
    public static ICrtpLink OpenLink(string uri, TimeSpan connectTimeout)
    {
        try
        {
            if (uri.StartsWith("radio://", StringComparison.Ordinal)) return CrazyradioLink.Open(uri);
            if (uri.StartsWith("serial://", StringComparison.Ordinal)) return CpxUartLink.Open(uri["serial://".Length..], connectTimeout);
        }
        catch (Exception e) when (e is CrtpLinkException or FormatException or ArgumentException or CrtpFormatException)
        {
            throw new CrtpLinkException($"{uri}: {e.Message}", e);
        }
        throw new CrtpLinkException($"{uri}: not a Crazyflie URI; expected radio://0/80/2M/E7E7E7E7E7 or serial:///dev/ttyUSB0");
    }

    /// <summary>Opens <see cref="CrazyflieTransportOptions.Link"/> and connects (<see cref="Connect(ICrtpLink, string, CrazyflieTransportOptions, ActuatorModel)"/>).</summary>
    public static CrazyflieTransport Open(CrazyflieTransportOptions options, ActuatorModel actuator)
    {
        ICrtpLink link = OpenLink(options.Link, options.ConnectTimeout);
        try { return Connect(link, options.Link, options, actuator); }
        catch { link.Dispose(); throw; }
    }

    /// <summary>
    /// Sets up a connected Crazyflie: downloads the log and param TOCs, finds the variables and parameters by name
    /// (a missing one is a <see cref="CrtpLinkException"/> naming it and the URI), creates and starts the log blocks,
    /// sets motorPowerSet.m1..m4 = 0 then enable = 1, and arms. Then the reader and writer threads start.
    /// </summary>
    public static CrazyflieTransport Connect(ICrtpLink link, string uri, CrazyflieTransportOptions options, ActuatorModel actuator)
    {
        var clock = Stopwatch.StartNew();
        TimeSpan Left() => options.ConnectTimeout - clock.Elapsed;

        // Log TOC (V2), then the three blocks.
        (ushort logCount, _) = Logging.ParseTocInfo(Request(link, uri, Logging.GetTocInfo(), CrtpPort.Logging, Logging.TocChannel, Left(), "log TOC info"));
        var logToc = new Dictionary<string, LogTocEntry>(StringComparer.Ordinal);
        for (ushort id = 0; id < logCount; id++)
        {
            LogTocEntry e = Logging.ParseTocItem(Request(link, uri, Logging.GetTocItem(id), CrtpPort.Logging, Logging.TocChannel, Left(), $"log TOC item {id}"));
            logToc[e.FullName] = e;
        }
        LogTocEntry Variable(string name) => logToc.TryGetValue(name, out LogTocEntry e) ? e
            : throw new CrtpLinkException($"{uri}: the Crazyflie's log TOC has no variable {name} ({logCount} variables; is the state estimator built in?)");
        var position = new LogConfig("roborl_position", options.LogPeriodMs);
        foreach (string name in PositionVariables) position.AddVariable(Variable(name) with { Type = LogVariableType.Float });
        var attitude = new LogConfig("roborl_attitude", options.LogPeriodMs);
        foreach (string name in AttitudeVariables) attitude.AddVariable(Variable(name) with { Type = LogVariableType.Float });
        // float16 keeps quaternion + rates in one 26-byte packet; the firmware converts (cflib's fetch_as).
        foreach (string name in GyroVariables) attitude.AddVariable(Variable(name) with { Type = LogVariableType.Float16 });
        var battery = new LogConfig("roborl_battery", BatteryLogPeriodMs);
        battery.AddVariable(Variable(BatteryVariable) with { Type = LogVariableType.Float });

        // Param TOC (V2): the motor override.
        (ushort paramCount, _) = Parameters.ParseTocInfo(Request(link, uri, Parameters.GetTocInfo(), CrtpPort.Param, Parameters.TocChannel, Left(), "param TOC info"));
        var paramToc = new Dictionary<string, ParamTocEntry>(StringComparer.Ordinal);
        for (ushort id = 0; id < paramCount; id++)
        {
            ParamTocEntry e = Parameters.ParseTocItem(Request(link, uri, Parameters.GetTocItem(id), CrtpPort.Param, Parameters.TocChannel, Left(), $"param TOC item {id}"));
            paramToc[e.FullName] = e;
        }
        ParamTocEntry Parameter(string name) => paramToc.TryGetValue(name, out ParamTocEntry e) ? e
            : throw new CrtpLinkException($"{uri}: the Crazyflie's param TOC has no {name} (crazyflie-firmware src/drivers/src/motors.c defines it)");
        ParamTocEntry enable = Parameter("motorPowerSet.enable");
        ParamTocEntry[] motors = MotorParameters.Select(Parameter).ToArray();

        Request(link, uri, Logging.Reset(), CrtpPort.Logging, Logging.ControlChannel, Left(), "log reset");
        foreach ((LogConfig config, byte block) in new[] { (position, PositionBlock), (attitude, AttitudeBlock), (battery, BatteryBlock) })
        {
            foreach (CrtpPacket create in config.CreatePackets(block)) ExpectControlOk(link, uri, create, Left(), $"log block {config.Name}");
            ExpectControlOk(link, uri, Logging.StartBlock(block, config.PeriodMs), Left(), $"start of log block {config.Name}");
        }
        foreach (ParamTocEntry motor in motors) Request(link, uri, Parameters.Write(motor.Id, motor.Type, 0), CrtpPort.Param, Parameters.WriteChannel, Left(), $"{motor.FullName} = 0");
        Request(link, uri, Parameters.Write(enable.Id, enable.Type, 1), CrtpPort.Param, Parameters.WriteChannel, Left(), "motorPowerSet.enable = 1");
        if (options.Arm) link.Send(new CrtpPacket(CrtpPort.Platform, PlatformCommandChannel, [PlatformRequestArming, 1]));

        var transport = new CrazyflieTransport(link, uri, actuator, enable, motors, position, attitude, battery);
        transport._reader.Start();
        transport._writer.Start();
        return transport;
    }

    private static CrtpPacket Request(ICrtpLink link, string uri, in CrtpPacket request, CrtpPort port, byte channel, TimeSpan timeout, string what)
    {
        if (timeout <= TimeSpan.Zero) throw new CrtpLinkException($"{uri}: connecting took longer than the connect timeout (at {what})");
        link.Send(in request);
        byte first = request.ReadOnlyData.Length > 0 ? request.ReadOnlyData[0] : (byte)0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (!link.TryReceive(out CrtpPacket reply, timeout - clock.Elapsed)) break;
            // Replies echo the request's first byte (command, or the low byte of a param id); anything else (log data
            // of an earlier session, console text) is skipped.
            if (reply.Port == port && reply.Channel == channel && reply.Length > 0 && reply.ReadOnlyData[0] == first) return reply;
        }
        throw new CrtpLinkException($"{uri}: no reply to {what} within {timeout.TotalMilliseconds:0} ms");
    }

    private static void ExpectControlOk(ICrtpLink link, string uri, in CrtpPacket request, TimeSpan timeout, string what)
    {
        (_, _, byte errno) = Logging.ParseControlReply(Request(link, uri, request, CrtpPort.Logging, Logging.ControlChannel, timeout, what));
        if (errno != 0) throw new CrtpLinkException($"{uri}: the Crazyflie refused {what} (errno {errno})");
    }

    public bool TryGetLatest(out RobotStateSample sample)
    {
        lock (_gate)
        {
            sample = _latest;
            return _hasSample;
        }
    }

    public void Send(in ActuatorCommand command)
    {
        Vector4 thrust = command.ThrustN.AsVector4();
        if (!(float.IsFinite(thrust.X) && float.IsFinite(thrust.Y) && float.IsFinite(thrust.Z) && float.IsFinite(thrust.W))) thrust = Vector4.Zero;
        lock (_gate) _commandThrust = thrust;
        _commandReady.Set();
    }

    /// <summary>The motorPowerSet duty cycles for <paramref name="thrustN"/> at <paramref name="batteryVoltage"/> (motors off without a voltage).</summary>
    public static void DutyCycles(ActuatorModel actuator, Vector4 thrustN, float batteryVoltage, Span<ushort> duty)
    {
        if (!float.IsFinite(batteryVoltage)) { duty.Clear(); return; }
        ReadOnlySpan<float> forces = [thrustN.X, thrustN.Y, thrustN.Z, thrustN.W];
        actuator.MotorPowerFromThrust(forces, batteryVoltage, duty);
    }

    private void WriteLoop()
    {
        Span<ushort> duty = stackalloc ushort[4];
        while (!_stopping)
        {
            if (!_commandReady.WaitOne(100)) continue;
            Vector4 thrust;
            float volts;
            lock (_gate) { thrust = _commandThrust; volts = _batteryVoltage; }
            if (!float.IsFinite(volts) && thrust != Vector4.Zero) Interlocked.Increment(ref _commandsWithoutBattery);
            DutyCycles(_actuator, thrust, volts, duty);
            try
            {
                for (int m = 0; m < 4; m++)
                {
                    _link.Send(Parameters.Write(_motors[m].Id, _motors[m].Type, duty[m]));
                    Interlocked.Increment(ref _paramWrites);
                }
            }
            catch (CrtpLinkException e) { Fail(e); }
        }
    }

    private void ReadLoop()
    {
        Span<double> values = _values;
        while (!_stopping)
        {
            CrtpPacket packet;
            try
            {
                if (!_link.TryReceive(out packet, TimeSpan.FromMilliseconds(50))) continue;
            }
            catch (CrtpLinkException e) { Fail(e); Thread.Sleep(50); continue; }
            catch (ObjectDisposedException) { return; }
            if (packet.Port != CrtpPort.Logging || packet.Channel != Logging.DataChannel) { Interlocked.Increment(ref _otherPackets); continue; }
            try
            {
                LogDataPacket data = Logging.ParseData(in packet);
                if (data.BlockId == BatteryBlock)
                {
                    _batteryLog.ReadValues(data, values);
                    lock (_gate) _batteryVoltage = (float)values[0];
                }
                else if (data.BlockId == AttitudeBlock)
                {
                    _attitudeLog.ReadValues(data, values);
                    const double DegToRad = Math.PI / 180;
                    lock (_gate)
                    {
                        _attitude = new Quaternion((float)values[0], (float)values[1], (float)values[2], (float)values[3]);
                        _rates = new Vector3((float)(values[4] * DegToRad), (float)(values[5] * DegToRad), (float)(values[6] * DegToRad));
                    }
                }
                else if (data.BlockId == PositionBlock)
                {
                    _positionLog.ReadValues(data, values);
                    long now = Clock();
                    lock (_gate)
                    {
                        _latest = new RobotStateSample
                        {
                            TimestampNs = now,
                            Sequence = _latest.Sequence + 1,
                            Position = new Vector3((float)values[0], (float)values[1], (float)values[2]),
                            VelocityWorld = new Vector3((float)values[3], (float)values[4], (float)values[5]),
                            Orientation = _attitude,
                            AngularVelocityBody = _rates,
                            RotorRpm = new Vector4(float.NaN),
                        };
                        _hasSample = true;
                    }
                }
                Interlocked.Increment(ref _logPackets);
            }
            catch (CrtpFormatException) { Interlocked.Increment(ref _linkErrors); }
        }
    }

    private void Fail(Exception e)
    {
        Interlocked.Increment(ref _linkErrors);
        LinkFailure = $"{_uri}: {e.Message}";
    }

    /// <summary>Motors to 0, override off, STOP setpoint, disarm (best effort: the link may be gone), then closes the link.</summary>
    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        _commandReady.Set();
        _writer.Join(TimeSpan.FromSeconds(2));
        _reader.Join(TimeSpan.FromSeconds(2));
        try
        {
            foreach (ParamTocEntry motor in _motors) _link.Send(Parameters.Write(motor.Id, motor.Type, 0));
            _link.Send(Parameters.Write(_enable.Id, _enable.Type, 0));
            _link.Send(Setpoints.Stop());
            _link.Send(new CrtpPacket(CrtpPort.Platform, PlatformCommandChannel, [PlatformRequestArming, 0]));
        }
        catch (CrtpLinkException) { /* the link is gone: nothing more can be sent */ }
        _link.Dispose();
        _commandReady.Dispose();
    }
}
