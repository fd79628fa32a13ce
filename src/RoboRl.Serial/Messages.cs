using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;

namespace RoboRl.Serial;

// Message payloads of PROTOCOL.md, little-endian. System.Numerics.Quaternion is (X, Y, Z, W); the
// wire order is w, x, y, z. Vector4 components X..W are motors M1..M4 / action[0..3].

/// <summary>HEARTBEAT (0x01): uptime and status bits.</summary>
public readonly record struct HeartbeatMessage(uint UptimeMs, LinkStatusFlags Status);

/// <summary>STATE (0x02): pose and velocities. Position and velocity in World (ENU), angular velocity in Body (FLU).</summary>
public readonly record struct StateMessage(ulong TimestampUs, Vector3 Position, Quaternion Orientation, Vector3 Velocity, Vector3 AngularVelocity);

/// <summary>ACTUATOR_COMMAND (0x03): four motor values in rpm or normalised 0..1.</summary>
public readonly record struct ActuatorCommand(ActuatorMode Mode, Vector4 Motors);

/// <summary>ACTION (0x05): the MCU's policy output for the OBSERVATION frame whose sequence it echoes.</summary>
public readonly record struct ActionMessage(ushort ObservationSequence, uint InferenceUs, Vector4 Action);

/// <summary>PARAM_SET (0x06).</summary>
public readonly record struct ParamSetMessage(ushort ParamId, float Value);

/// <summary>PARAM_ACK (0x07): the result and the value now in force.</summary>
public readonly record struct ParamAckMessage(ushort ParamId, ParamResult Result, float Value);

/// <summary>STATUS (0x08): an error or status report.</summary>
public readonly record struct StatusMessage(StatusCode Code, StatusSeverity Severity, uint Detail);

/// <summary>Writes and reads payloads. Write returns the payload length; Read expects a payload already validated by the decoder (or throws <see cref="ArgumentException"/>).</summary>
public static class Payloads
{
    public static int Write(in HeartbeatMessage m, Span<byte> p)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(p, m.UptimeMs);
        BinaryPrimitives.WriteUInt32LittleEndian(p[4..], (uint)m.Status);
        return LinkProtocol.HeartbeatSize;
    }

    public static int Write(in StateMessage m, Span<byte> p)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(p, m.TimestampUs);
        WriteFloats(p[8..], m.Position.X, m.Position.Y, m.Position.Z);
        WriteFloats(p[20..], m.Orientation.W, m.Orientation.X, m.Orientation.Y, m.Orientation.Z);
        WriteFloats(p[36..], m.Velocity.X, m.Velocity.Y, m.Velocity.Z);
        WriteFloats(p[48..], m.AngularVelocity.X, m.AngularVelocity.Y, m.AngularVelocity.Z);
        return LinkProtocol.StateSize;
    }

    public static int Write(in ActuatorCommand m, Span<byte> p)
    {
        p[0] = (byte)m.Mode;
        p[1] = p[2] = p[3] = 0;
        WriteFloats(p[4..], m.Motors.X, m.Motors.Y, m.Motors.Z, m.Motors.W);
        return LinkProtocol.ActuatorCommandSize;
    }

    public static int WriteObservation(ReadOnlySpan<float> observation, Span<byte> p)
    {
        if (observation.Length is < 1 or > LinkProtocol.MaxObservation)
            throw new ArgumentOutOfRangeException(nameof(observation), observation.Length,
                $"an OBSERVATION carries 1..{LinkProtocol.MaxObservation} floats");
        BinaryPrimitives.WriteUInt16LittleEndian(p, (ushort)observation.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(p[2..], 0);
        if (BitConverter.IsLittleEndian) MemoryMarshal.AsBytes(observation).CopyTo(p[4..]);
        else for (int i = 0; i < observation.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(p[(4 + 4 * i)..], observation[i]);
        return LinkProtocol.ObservationSize(observation.Length);
    }

    public static int Write(in ActionMessage m, Span<byte> p)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(p, m.ObservationSequence);
        BinaryPrimitives.WriteUInt16LittleEndian(p[2..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(p[4..], m.InferenceUs);
        WriteFloats(p[8..], m.Action.X, m.Action.Y, m.Action.Z, m.Action.W);
        return LinkProtocol.ActionSize;
    }

    public static int Write(in ParamSetMessage m, Span<byte> p)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(p, m.ParamId);
        BinaryPrimitives.WriteSingleLittleEndian(p[2..], m.Value);
        return LinkProtocol.ParamSetSize;
    }

    public static int Write(in ParamAckMessage m, Span<byte> p)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(p, m.ParamId);
        p[2] = (byte)m.Result;
        p[3] = 0;
        BinaryPrimitives.WriteSingleLittleEndian(p[4..], m.Value);
        return LinkProtocol.ParamAckSize;
    }

    public static int Write(in StatusMessage m, Span<byte> p)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(p, (ushort)m.Code);
        p[2] = (byte)m.Severity;
        p[3] = 0;
        BinaryPrimitives.WriteUInt32LittleEndian(p[4..], m.Detail);
        return LinkProtocol.StatusSize;
    }

    public static HeartbeatMessage ReadHeartbeat(ReadOnlySpan<byte> p)
    {
        Expect(p, LinkProtocol.HeartbeatSize, MessageType.Heartbeat);
        return new(BinaryPrimitives.ReadUInt32LittleEndian(p), (LinkStatusFlags)BinaryPrimitives.ReadUInt32LittleEndian(p[4..]));
    }

    public static StateMessage ReadState(ReadOnlySpan<byte> p)
    {
        Expect(p, LinkProtocol.StateSize, MessageType.State);
        return new(BinaryPrimitives.ReadUInt64LittleEndian(p),
            new Vector3(F(p, 8), F(p, 12), F(p, 16)),
            new Quaternion(F(p, 24), F(p, 28), F(p, 32), F(p, 20)),
            new Vector3(F(p, 36), F(p, 40), F(p, 44)),
            new Vector3(F(p, 48), F(p, 52), F(p, 56)));
    }

    public static ActuatorCommand ReadActuatorCommand(ReadOnlySpan<byte> p)
    {
        Expect(p, LinkProtocol.ActuatorCommandSize, MessageType.ActuatorCommand);
        return new((ActuatorMode)p[0], new Vector4(F(p, 4), F(p, 8), F(p, 12), F(p, 16)));
    }

    /// <summary>Number of floats in an OBSERVATION payload.</summary>
    public static int ObservationCount(ReadOnlySpan<byte> p) => p.Length >= 4 ? BinaryPrimitives.ReadUInt16LittleEndian(p) : 0;

    /// <summary>Copies an OBSERVATION's floats into <paramref name="destination"/>; returns their count.</summary>
    public static int ReadObservation(ReadOnlySpan<byte> p, Span<float> destination)
    {
        int count = ObservationCount(p);
        if (count < 1 || p.Length != LinkProtocol.ObservationSize(count))
            throw new ArgumentException($"OBSERVATION payload of {p.Length} bytes does not match its count {count}", nameof(p));
        if (destination.Length < count)
            throw new ArgumentException($"destination holds {destination.Length} floats, the observation has {count}", nameof(destination));
        if (BitConverter.IsLittleEndian) p.Slice(4, 4 * count).CopyTo(MemoryMarshal.AsBytes(destination));
        else for (int i = 0; i < count; i++) destination[i] = F(p, 4 + 4 * i);
        return count;
    }

    public static ActionMessage ReadAction(ReadOnlySpan<byte> p)
    {
        Expect(p, LinkProtocol.ActionSize, MessageType.Action);
        return new(BinaryPrimitives.ReadUInt16LittleEndian(p), BinaryPrimitives.ReadUInt32LittleEndian(p[4..]),
            new Vector4(F(p, 8), F(p, 12), F(p, 16), F(p, 20)));
    }

    public static ParamSetMessage ReadParamSet(ReadOnlySpan<byte> p)
    {
        Expect(p, LinkProtocol.ParamSetSize, MessageType.ParamSet);
        return new(BinaryPrimitives.ReadUInt16LittleEndian(p), F(p, 2));
    }

    public static ParamAckMessage ReadParamAck(ReadOnlySpan<byte> p)
    {
        Expect(p, LinkProtocol.ParamAckSize, MessageType.ParamAck);
        return new(BinaryPrimitives.ReadUInt16LittleEndian(p), (ParamResult)p[2], F(p, 4));
    }

    public static StatusMessage ReadStatus(ReadOnlySpan<byte> p)
    {
        Expect(p, LinkProtocol.StatusSize, MessageType.Status);
        return new((StatusCode)BinaryPrimitives.ReadUInt16LittleEndian(p), (StatusSeverity)p[2], BinaryPrimitives.ReadUInt32LittleEndian(p[4..]));
    }

    /// <summary>True if <paramref name="payload"/> has a valid length for <paramref name="type"/> (PROTOCOL.md); false for unknown types.</summary>
    public static bool IsValid(MessageType type, ReadOnlySpan<byte> payload) => type switch
    {
        MessageType.Heartbeat => payload.Length == LinkProtocol.HeartbeatSize,
        MessageType.State => payload.Length == LinkProtocol.StateSize,
        MessageType.ActuatorCommand => payload.Length == LinkProtocol.ActuatorCommandSize,
        MessageType.Observation => payload.Length >= 4 && ObservationCount(payload) is >= 1 and <= LinkProtocol.MaxObservation
                                   && payload.Length == LinkProtocol.ObservationSize(ObservationCount(payload)),
        MessageType.Action => payload.Length == LinkProtocol.ActionSize,
        MessageType.ParamSet => payload.Length == LinkProtocol.ParamSetSize,
        MessageType.ParamAck => payload.Length == LinkProtocol.ParamAckSize,
        MessageType.Status => payload.Length == LinkProtocol.StatusSize,
        _ => false,
    };

    private static float F(ReadOnlySpan<byte> p, int offset) => BinaryPrimitives.ReadSingleLittleEndian(p[offset..]);

    private static void WriteFloats(Span<byte> p, float a, float b, float c)
    {
        BinaryPrimitives.WriteSingleLittleEndian(p, a);
        BinaryPrimitives.WriteSingleLittleEndian(p[4..], b);
        BinaryPrimitives.WriteSingleLittleEndian(p[8..], c);
    }

    private static void WriteFloats(Span<byte> p, float a, float b, float c, float d)
    {
        WriteFloats(p, a, b, c);
        BinaryPrimitives.WriteSingleLittleEndian(p[12..], d);
    }

    private static void Expect(ReadOnlySpan<byte> p, int size, MessageType type)
    {
        if (p.Length != size)
            throw new ArgumentException($"{type} payload must be {size} bytes, got {p.Length}", nameof(p));
    }
}
