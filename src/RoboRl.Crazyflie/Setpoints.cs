using System.Buffers.Binary;

namespace RoboRl.Crazyflie;

/// <summary>
/// Packet types of the generic commander, port 7 channel 0: one type byte then a packed little-endian
/// payload (crazyflie-firmware src/modules/src/crtp_commander_generic.c, <c>enum packet_type</c>).
/// </summary>
public enum GenericSetpointType : byte
{
    Stop = 0,
    LegacyVelocityWorld = 1,
    LegacyZDistance = 2,
    CppmEmulation = 3,
    AltitudeHold = 4,
    LegacyHover = 5,
    FullState = 6,
    Position = 7,
    VelocityWorld = 8,
    ZDistance = 9,
    Hover = 10,
    Manual = 11,
}

/// <summary>A decoded generic setpoint. Only the fields of its <see cref="Type"/> are meaningful.</summary>
public readonly record struct GenericSetpoint(
    GenericSetpointType Type,
    float X = 0, float Y = 0, float Z = 0,
    float Vx = 0, float Vy = 0, float Vz = 0,
    float Ax = 0, float Ay = 0, float Az = 0,
    float YawDeg = 0, float YawRateDegPerS = 0,
    float RollDeg = 0, float PitchDeg = 0, ushort Thrust = 0, bool RateMode = false,
    uint CompressedQuaternion = 0,
    float RollRateRadPerS = 0, float PitchRateRadPerS = 0, float YawRateRadPerS = 0);

/// <summary>
/// Builds and parses the setpoint packets cflib's <c>Commander</c> sends (cflib crazyflie/commander.py),
/// byte for byte as the firmware decodes them (crtp_commander_generic.c, crtp_commander_rpyt.c).
/// </summary>
public static class Setpoints
{
    public const byte GenericSetpointChannel = 0;
    public const byte GenericMetaChannel = 1;
    /// <summary>Meta command "notify setpoint stop" (crtp_commander.h, <c>metaNotifySetpointsStop</c>).</summary>
    public const byte MetaNotifySetpointsStop = 0;

    /// <summary>Legacy roll/pitch/yaw-rate/thrust setpoint, port 3 channel 0: <c>&lt;fffH</c>
    /// (crtp_commander_rpyt.c, <c>struct CommanderCrtpLegacyValues</c>). cflib's
    /// <c>send_setpoint</c> negates pitch before packing; pass the value you want on the wire.</summary>
    public static CrtpPacket Legacy(float rollDeg, float pitchDeg, float yawRateDegPerS, ushort thrust)
    {
        var p = new CrtpPacket(CrtpPort.Commander, 0);
        p.AppendSingle(rollDeg); p.AppendSingle(pitchDeg); p.AppendSingle(yawRateDegPerS); p.AppendUInt16(thrust);
        return p;
    }

    /// <summary>Stop: motors off, the Crazyflie falls (type 0, no payload).</summary>
    public static CrtpPacket Stop() => Generic(GenericSetpointType.Stop);

    /// <summary>Absolute position (m) and yaw (deg): <c>&lt;ffff</c> x y z yaw (positionPacket_s).</summary>
    public static CrtpPacket Position(float x, float y, float z, float yawDeg) =>
        FourFloats(GenericSetpointType.Position, x, y, z, yawDeg);

    /// <summary>World-frame velocity (m/s) and yaw rate (deg/s): <c>&lt;ffff</c> (velocityPacket_s).</summary>
    public static CrtpPacket VelocityWorld(float vx, float vy, float vz, float yawRateDegPerS) =>
        FourFloats(GenericSetpointType.VelocityWorld, vx, vy, vz, yawRateDegPerS);

    /// <summary>Roll/pitch (deg), yaw rate (deg/s) and absolute height (m): <c>&lt;ffff</c> (zDistancePacket_s).</summary>
    public static CrtpPacket ZDistance(float rollDeg, float pitchDeg, float yawRateDegPerS, float zDistance) =>
        FourFloats(GenericSetpointType.ZDistance, rollDeg, pitchDeg, yawRateDegPerS, zDistance);

    /// <summary>Body-frame velocity (m/s), yaw rate (deg/s) and absolute height (m): <c>&lt;ffff</c> vx vy yawrate z (hoverPacket_s).</summary>
    public static CrtpPacket Hover(float vx, float vy, float yawRateDegPerS, float zDistance) =>
        FourFloats(GenericSetpointType.Hover, vx, vy, yawRateDegPerS, zDistance);

    /// <summary>Manual roll/pitch (deg, or deg/s in rate mode), yaw rate (deg/s), thrust (0..65535):
    /// <c>&lt;fffHB</c> (manualPacket_s).</summary>
    public static CrtpPacket Manual(float rollDeg, float pitchDeg, float yawRateDegPerS, ushort thrust, bool rateMode)
    {
        var p = Generic(GenericSetpointType.Manual);
        p.AppendSingle(rollDeg); p.AppendSingle(pitchDeg); p.AppendSingle(yawRateDegPerS);
        p.AppendUInt16(thrust); p.AppendByte(rateMode ? (byte)1 : (byte)0);
        return p;
    }

    /// <summary>
    /// Full state: position (mm), velocity (mm/s), acceleration (mm/s²) as int16, the attitude as a
    /// compressed quaternion (uint32), body rates in mrad/s as int16 (fullStatePacket_s). Inputs in SI
    /// units; the quaternion as (x, y, z, w). Values saturate at the int16 range (±32.767 m).
    /// </summary>
    public static CrtpPacket FullState(
        (float X, float Y, float Z) position, (float X, float Y, float Z) velocity, (float X, float Y, float Z) acceleration,
        (float X, float Y, float Z, float W) attitude, (float Roll, float Pitch, float Yaw) bodyRateRadPerS)
    {
        var p = Generic(GenericSetpointType.FullState);
        foreach (float v in (ReadOnlySpan<float>)[position.X, position.Y, position.Z, velocity.X, velocity.Y, velocity.Z,
                     acceleration.X, acceleration.Y, acceleration.Z])
            p.AppendInt16(Milli(v));
        p.AppendUInt32(QuaternionCompression.Compress(attitude.X, attitude.Y, attitude.Z, attitude.W));
        p.AppendInt16(Milli(bodyRateRadPerS.Roll));
        p.AppendInt16(Milli(bodyRateRadPerS.Pitch));
        p.AppendInt16(Milli(bodyRateRadPerS.Yaw));
        return p;
    }

    /// <summary>Tells the high-level commander that low-level setpoints stop; it takes over after
    /// <paramref name="remainValidMs"/> (meta channel: <c>&lt;BI</c>).</summary>
    public static CrtpPacket NotifySetpointsStop(uint remainValidMs)
    {
        var p = new CrtpPacket(CrtpPort.GenericCommander, GenericMetaChannel);
        p.AppendByte(MetaNotifySetpointsStop);
        p.AppendUInt32(remainValidMs);
        return p;
    }

    /// <summary>Parses a generic setpoint as the firmware would; wrong port, channel or length is an error.</summary>
    public static GenericSetpoint Parse(in CrtpPacket packet)
    {
        if (packet.Port != CrtpPort.GenericCommander || packet.Channel != GenericSetpointChannel)
            throw new CrtpFormatException($"not a generic setpoint: port {packet.Port}, channel {packet.Channel}; expected GenericCommander/0");
        ReadOnlySpan<byte> d = packet.ReadOnlyData;
        if (d.Length == 0) throw new CrtpFormatException("generic setpoint has no type byte");
        var type = (GenericSetpointType)d[0];
        ReadOnlySpan<byte> body = d[1..];
        switch (type)
        {
            case GenericSetpointType.Stop:
                return new GenericSetpoint(type);
            case GenericSetpointType.Position:
                Expect(type, body, 16);
                return new GenericSetpoint(type, X: F(body, 0), Y: F(body, 1), Z: F(body, 2), YawDeg: F(body, 3));
            case GenericSetpointType.VelocityWorld:
                Expect(type, body, 16);
                return new GenericSetpoint(type, Vx: F(body, 0), Vy: F(body, 1), Vz: F(body, 2), YawRateDegPerS: F(body, 3));
            case GenericSetpointType.ZDistance:
                Expect(type, body, 16);
                return new GenericSetpoint(type, RollDeg: F(body, 0), PitchDeg: F(body, 1), YawRateDegPerS: F(body, 2), Z: F(body, 3));
            case GenericSetpointType.Hover:
                Expect(type, body, 16);
                return new GenericSetpoint(type, Vx: F(body, 0), Vy: F(body, 1), YawRateDegPerS: F(body, 2), Z: F(body, 3));
            case GenericSetpointType.Manual:
                Expect(type, body, 15);
                return new GenericSetpoint(type, RollDeg: F(body, 0), PitchDeg: F(body, 1), YawRateDegPerS: F(body, 2),
                    Thrust: BinaryPrimitives.ReadUInt16LittleEndian(body[12..]), RateMode: body[14] != 0);
            case GenericSetpointType.FullState:
                Expect(type, body, 28);
                return new GenericSetpoint(type,
                    X: I(body, 0), Y: I(body, 1), Z: I(body, 2), Vx: I(body, 3), Vy: I(body, 4), Vz: I(body, 5),
                    Ax: I(body, 6), Ay: I(body, 7), Az: I(body, 8),
                    CompressedQuaternion: BinaryPrimitives.ReadUInt32LittleEndian(body[18..]),
                    RollRateRadPerS: I(body[22..], 0), PitchRateRadPerS: I(body[22..], 1), YawRateRadPerS: I(body[22..], 2));
            default:
                throw new CrtpFormatException($"generic setpoint type {(byte)type} is not supported; expected one of 0, 6, 7, 8, 9, 10, 11");
        }
    }

    private static CrtpPacket Generic(GenericSetpointType type)
    {
        var p = new CrtpPacket(CrtpPort.GenericCommander, GenericSetpointChannel);
        p.AppendByte((byte)type);
        return p;
    }

    private static CrtpPacket FourFloats(GenericSetpointType type, float a, float b, float c, float d)
    {
        var p = Generic(type);
        p.AppendSingle(a); p.AppendSingle(b); p.AppendSingle(c); p.AppendSingle(d);
        return p;
    }

    private static short Milli(float value) => (short)Math.Clamp(MathF.Round(value * 1000f), short.MinValue, short.MaxValue);

    private static float F(ReadOnlySpan<byte> body, int index) => BinaryPrimitives.ReadSingleLittleEndian(body[(4 * index)..]);

    private static float I(ReadOnlySpan<byte> body, int index) => BinaryPrimitives.ReadInt16LittleEndian(body[(2 * index)..]) / 1000f;

    private static void Expect(GenericSetpointType type, ReadOnlySpan<byte> body, int length)
    {
        if (body.Length != length)
            throw new CrtpFormatException($"{type} setpoint has {body.Length} payload bytes; expected {length}");
    }
}
