using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace RoboRl.Core.Messages;

/// <summary>A CDR payload that cannot be decoded: names the byte offset and what was expected there.</summary>
public sealed class CdrFormatException(string message, int offset) : Exception($"CDR payload, byte {offset}: {message}")
{
    /// <summary>Offset from the start of the payload (encapsulation header included).</summary>
    public int Offset { get; } = offset;
}

/// <summary>
/// Writes XCDR1 little-endian payloads as ROS 2 (rmw_cyclonedds, rmw_fastrtps) puts them on the wire and in MCAP:
/// the encapsulation header <c>00 01 00 00</c>, then the fields, each primitive aligned to its own size counted from
/// the end of that header (OMG XTypes 1.3 §7.4.1 "XCDR version 1"). Strings are a uint32 length that counts the
/// terminating NUL, the UTF-8 bytes and the NUL; sequences are a uint32 count then the elements.
/// One instance is reused: after the buffer has grown to the largest message, writing allocates nothing.
/// </summary>
public sealed class CdrWriter
{
    /// <summary>Size of the encapsulation header; alignment counts from here.</summary>
    public const int HeaderSize = 4;

    private byte[] _buffer;
    private int _length;

    public CdrWriter(int initialCapacity = 256)
    {
        _buffer = new byte[Math.Max(initialCapacity, 16)];
        Reset();
    }

    /// <summary>The payload written since the last <see cref="Reset"/>, header included.</summary>
    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _length);
    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _length);
    public int Length => _length;

    /// <summary>Starts a new payload: writes the little-endian CDR encapsulation header.</summary>
    public void Reset()
    {
        _buffer[0] = 0x00; _buffer[1] = 0x01; _buffer[2] = 0x00; _buffer[3] = 0x00;
        _length = HeaderSize;
    }

    /// <summary>Writes <paramref name="message"/> as a complete payload (header + fields).</summary>
    public ReadOnlySpan<byte> Write<T>(in T message) where T : struct, ICdrMessage<T>
    {
        Reset();
        message.WriteFields(this);
        return WrittenSpan;
    }

    public byte[] ToArray() => WrittenSpan.ToArray();

    private Span<byte> Reserve(int size, int alignment)
    {
        int padding = (alignment - ((_length - HeaderSize) & (alignment - 1))) & (alignment - 1);
        int needed = _length + padding + size;
        if (needed > _buffer.Length) Grow(needed);
        if (padding > 0) _buffer.AsSpan(_length, padding).Clear();
        _length += padding;
        var span = _buffer.AsSpan(_length, size);
        _length += size;
        return span;
    }

    private void Grow(int needed)
    {
        var bigger = new byte[Math.Max(needed, _buffer.Length * 2)];
        _buffer.AsSpan(0, _length).CopyTo(bigger);
        _buffer = bigger;
    }

    public void WriteBool(bool value) => Reserve(1, 1)[0] = value ? (byte)1 : (byte)0;
    public void WriteByte(byte value) => Reserve(1, 1)[0] = value;
    public void WriteUInt8(byte value) => Reserve(1, 1)[0] = value;
    public void WriteInt8(sbyte value) => Reserve(1, 1)[0] = unchecked((byte)value);
    public void WriteInt16(short value) => BinaryPrimitives.WriteInt16LittleEndian(Reserve(2, 2), value);
    public void WriteUInt16(ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(Reserve(2, 2), value);
    public void WriteInt32(int value) => BinaryPrimitives.WriteInt32LittleEndian(Reserve(4, 4), value);
    public void WriteUInt32(uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Reserve(4, 4), value);
    public void WriteInt64(long value) => BinaryPrimitives.WriteInt64LittleEndian(Reserve(8, 8), value);
    public void WriteUInt64(ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(Reserve(8, 8), value);
    public void WriteFloat32(float value) => BinaryPrimitives.WriteSingleLittleEndian(Reserve(4, 4), value);
    public void WriteFloat64(double value) => BinaryPrimitives.WriteDoubleLittleEndian(Reserve(8, 8), value);

    /// <summary>Writes the uint32 element count that precedes a sequence's elements.</summary>
    public void WriteSequenceLength(int count) => WriteUInt32(checked((uint)count));

    /// <summary>Writes a string (null writes an empty one) without allocating.</summary>
    public void WriteString(ReadOnlySpan<char> value)
    {
        int byteCount = Encoding.UTF8.GetByteCount(value);
        WriteUInt32((uint)(byteCount + 1));
        var span = Reserve(byteCount + 1, 1);
        Encoding.UTF8.GetBytes(value, span);
        span[byteCount] = 0;
    }

    public void WriteString(string? value) => WriteString(value.AsSpan());

    /// <summary>Writes raw elements of a fixed array (no count); <see cref="WriteFloat32Sequence"/> adds the count.</summary>
    public void WriteFloat32Array(ReadOnlySpan<float> values) => WriteRaw(values, 4);
    public void WriteFloat64Array(ReadOnlySpan<double> values) => WriteRaw(values, 8);
    public void WriteInt32Array(ReadOnlySpan<int> values) => WriteRaw(values, 4);
    public void WriteUInt8Array(ReadOnlySpan<byte> values) => WriteRaw(values, 1);

    public void WriteFloat32Sequence(ReadOnlySpan<float> values) { WriteSequenceLength(values.Length); WriteRaw(values, 4); }
    public void WriteFloat64Sequence(ReadOnlySpan<double> values) { WriteSequenceLength(values.Length); WriteRaw(values, 8); }
    public void WriteInt32Sequence(ReadOnlySpan<int> values) { WriteSequenceLength(values.Length); WriteRaw(values, 4); }
    public void WriteUInt8Sequence(ReadOnlySpan<byte> values) { WriteSequenceLength(values.Length); WriteRaw(values, 1); }

    private void WriteRaw<T>(ReadOnlySpan<T> values, int elementSize) where T : unmanaged
    {
        if (values.Length == 0) { Reserve(0, elementSize); return; }
        var bytes = MemoryMarshal.AsBytes(values);
        var dest = Reserve(bytes.Length, elementSize);
        bytes.CopyTo(dest);
        if (!BitConverter.IsLittleEndian) // big-endian host: CDR here is little-endian, swap each element
            for (int i = 0; i < values.Length; i++) dest.Slice(i * elementSize, elementSize).Reverse();
    }
}

/// <summary>
/// Reads XCDR1 payloads of either endianness (header ids 00 00 = big, 00 01 = little; the two option bytes are
/// ignored, Cyclone DDS may put a padding count there). Every read is bounds-checked and every count is checked
/// against the bytes left, so a malformed payload ends in <see cref="CdrFormatException"/>, never a huge allocation.
/// </summary>
public ref struct CdrReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _position;
    private readonly bool _littleEndian;

    public CdrReader(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < CdrWriter.HeaderSize)
            throw new CdrFormatException($"expected a 4-byte encapsulation header, payload has {payload.Length} bytes", 0);
        if (payload[0] != 0 || payload[1] > 1)
            throw new CdrFormatException(
                $"encapsulation id {payload[0]:X2} {payload[1]:X2} is not plain CDR (00 00 big-endian or 00 01 little-endian)", 0);
        _littleEndian = payload[1] == 1;
        _data = payload;
        _position = CdrWriter.HeaderSize;
    }

    public readonly int Position => _position;
    public readonly int Remaining => _data.Length - _position;
    public readonly bool IsLittleEndian => _littleEndian;

    private ReadOnlySpan<byte> Take(int size, int alignment, string what)
    {
        int padding = (alignment - ((_position - CdrWriter.HeaderSize) & (alignment - 1))) & (alignment - 1);
        if ((long)_position + padding + size > _data.Length)
            throw new CdrFormatException($"payload ends while reading {what} ({size} bytes needed, {Math.Max(0, _data.Length - _position - padding)} left)", _position);
        _position += padding;
        var span = _data.Slice(_position, size);
        _position += size;
        return span;
    }

    public bool ReadBool() => Take(1, 1, "bool")[0] != 0;
    public byte ReadByte() => Take(1, 1, "byte")[0];
    public byte ReadUInt8() => Take(1, 1, "uint8")[0];
    public sbyte ReadInt8() => unchecked((sbyte)Take(1, 1, "int8")[0]);
    public short ReadInt16() { var s = Take(2, 2, "int16"); return _littleEndian ? BinaryPrimitives.ReadInt16LittleEndian(s) : BinaryPrimitives.ReadInt16BigEndian(s); }
    public ushort ReadUInt16() { var s = Take(2, 2, "uint16"); return _littleEndian ? BinaryPrimitives.ReadUInt16LittleEndian(s) : BinaryPrimitives.ReadUInt16BigEndian(s); }
    public int ReadInt32() { var s = Take(4, 4, "int32"); return _littleEndian ? BinaryPrimitives.ReadInt32LittleEndian(s) : BinaryPrimitives.ReadInt32BigEndian(s); }
    public uint ReadUInt32() { var s = Take(4, 4, "uint32"); return _littleEndian ? BinaryPrimitives.ReadUInt32LittleEndian(s) : BinaryPrimitives.ReadUInt32BigEndian(s); }
    public long ReadInt64() { var s = Take(8, 8, "int64"); return _littleEndian ? BinaryPrimitives.ReadInt64LittleEndian(s) : BinaryPrimitives.ReadInt64BigEndian(s); }
    public ulong ReadUInt64() { var s = Take(8, 8, "uint64"); return _littleEndian ? BinaryPrimitives.ReadUInt64LittleEndian(s) : BinaryPrimitives.ReadUInt64BigEndian(s); }
    public float ReadFloat32() { var s = Take(4, 4, "float32"); return _littleEndian ? BinaryPrimitives.ReadSingleLittleEndian(s) : BinaryPrimitives.ReadSingleBigEndian(s); }
    public double ReadFloat64() { var s = Take(8, 8, "float64"); return _littleEndian ? BinaryPrimitives.ReadDoubleLittleEndian(s) : BinaryPrimitives.ReadDoubleBigEndian(s); }

    /// <summary>Reads a sequence count and checks that <paramref name="minElementSize"/> bytes per element are left.</summary>
    public int ReadSequenceLength(int minElementSize, int bound = 0)
    {
        uint count = ReadUInt32();
        int at = _position - 4;
        if (bound > 0 && count > bound)
            throw new CdrFormatException($"sequence of {count} elements exceeds its bound of {bound}", at);
        if ((ulong)count * (ulong)Math.Max(1, minElementSize) > (ulong)Remaining)
            throw new CdrFormatException($"sequence count {count} needs at least {(ulong)count * (ulong)Math.Max(1, minElementSize)} bytes, {Remaining} left", at);
        return (int)count;
    }

    /// <summary>The UTF-8 bytes of a string (without its NUL), without allocating.</summary>
    public ReadOnlySpan<byte> ReadStringBytes()
    {
        uint length = ReadUInt32();
        int at = _position - 4;
        if (length == 0) return default; // some writers put 0 for an empty string
        if (length > (uint)Remaining)
            throw new CdrFormatException($"string length {length} exceeds the {Remaining} bytes left", at);
        var bytes = Take((int)length, 1, "string");
        return bytes[^1] == 0 ? bytes[..^1] : bytes;
    }

    public string ReadString()
    {
        var bytes = ReadStringBytes();
        return bytes.Length == 0 ? string.Empty : Encoding.UTF8.GetString(bytes);
    }

    /// <summary>Reads <paramref name="destination"/>.Length elements of a fixed array.</summary>
    public void ReadFloat32Array(scoped Span<float> destination) { for (int i = 0; i < destination.Length; i++) destination[i] = ReadFloat32(); }
    public void ReadFloat64Array(scoped Span<double> destination) { for (int i = 0; i < destination.Length; i++) destination[i] = ReadFloat64(); }

    public float[] ReadFloat32Sequence()
    {
        var values = new float[ReadSequenceLength(4)];
        ReadFloat32Array(values);
        return values;
    }

    public int[] ReadInt32Sequence()
    {
        var values = new int[ReadSequenceLength(4)];
        for (int i = 0; i < values.Length; i++) values[i] = ReadInt32();
        return values;
    }
}

/// <summary>
/// A message type with a hand-written, allocation-free codec for the recorder's hot path. Each implementation is
/// checked field by field against its registered .msg definition by the tests (the definition stays the truth).
/// </summary>
public interface ICdrMessage<TSelf> where TSelf : struct, ICdrMessage<TSelf>
{
    /// <summary>The registered full name (<c>pkg/Type</c>), see <see cref="RosTypes"/>.</summary>
    static abstract string TypeName { get; }
    /// <summary>Writes the fields (not the encapsulation header).</summary>
    void WriteFields(CdrWriter writer);
    /// <summary>Reads the fields (after the encapsulation header).</summary>
    static abstract TSelf ReadFields(ref CdrReader reader);
}

public static class Cdr
{
    /// <summary>Decodes a complete payload into a hot-path struct; throws <see cref="CdrFormatException"/> on malformed input.</summary>
    public static T Read<T>(ReadOnlySpan<byte> payload) where T : struct, ICdrMessage<T>
    {
        var reader = new CdrReader(payload);
        return T.ReadFields(ref reader);
    }
}
