using System.Buffers.Binary;
using System.Text;

namespace RoboRl.Onnx;

/// <summary>Protocol Buffers wire types (protobuf encoding guide: varint 0, 64-bit 1, length-delimited 2, 32-bit 5).</summary>
public enum WireType { Varint = 0, Fixed64 = 1, LengthDelimited = 2, StartGroup = 3, EndGroup = 4, Fixed32 = 5 }

/// <summary>
/// Writes protobuf fields into a growing buffer. Only what ONNX's messages use: varints (int32/int64/enums),
/// 32-bit floats, strings and bytes, nested messages and packed repeated scalars. A nested message is written into its
/// own writer first, then copied in with its length, which is simple and fine for models of a few hundred kilobytes.
/// </summary>
public sealed class ProtoWriter
{
    readonly MemoryStream _buffer = new();

    public byte[] ToArray() => _buffer.ToArray();

    void Tag(int field, WireType wire) => Varint(((ulong)(uint)field << 3) | (ulong)wire);

    void Varint(ulong value)
    {
        while (value >= 0x80)
        {
            _buffer.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        _buffer.WriteByte((byte)value);
    }

    /// <summary>An int64/int32/enum field (negative values as 10-byte two's complement varints, as protobuf does).</summary>
    public void Int64(int field, long value)
    {
        Tag(field, WireType.Varint);
        Varint((ulong)value);
    }

    public void Float(int field, float value)
    {
        Tag(field, WireType.Fixed32);
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(bytes, value);
        _buffer.Write(bytes);
    }

    public void Bytes(int field, ReadOnlySpan<byte> value)
    {
        Tag(field, WireType.LengthDelimited);
        Varint((ulong)value.Length);
        _buffer.Write(value);
    }

    public void String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    /// <summary>A nested message: <paramref name="write"/> fills it.</summary>
    public void Message(int field, Action<ProtoWriter> write)
    {
        var inner = new ProtoWriter();
        write(inner);
        Bytes(field, inner._buffer.GetBuffer().AsSpan(0, (int)inner._buffer.Length));
    }

    /// <summary>A packed repeated int64 field (one length-delimited run of varints).</summary>
    public void PackedInt64(int field, IReadOnlyList<long> values)
    {
        if (values.Count == 0) return;
        var inner = new ProtoWriter();
        foreach (long v in values) inner.Varint((ulong)v);
        Bytes(field, inner._buffer.GetBuffer().AsSpan(0, (int)inner._buffer.Length));
    }
}

/// <summary>
/// Reads protobuf fields from a byte span, field by field: <see cref="Next"/> gives the field number and wire type, then
/// one of the value readers (or <see cref="Skip"/> for a field the caller does not know). Every malformed byte sequence
/// (truncated varint, length past the end, group wire types, a wire type the field does not allow) throws
/// <see cref="ProtoFormatException"/>; nothing reads past the span.
/// </summary>
public ref struct ProtoReader(ReadOnlySpan<byte> data)
{
    readonly ReadOnlySpan<byte> _data = data;
    int _position = 0;
    WireType _wire = default;

    public readonly bool AtEnd => _position >= _data.Length;
    public readonly WireType Wire => _wire;

    /// <summary>The next field's number; its wire type is then <see cref="Wire"/>.</summary>
    public int Next()
    {
        ulong key = Varint();
        int field = (int)(key >> 3);
        _wire = (WireType)(key & 7);
        if (field <= 0) throw new ProtoFormatException($"field number {field} at byte {_position}");
        if (_wire is WireType.StartGroup or WireType.EndGroup or > WireType.Fixed32)
            throw new ProtoFormatException($"wire type {(int)_wire} of field {field} at byte {_position} (groups are not used by ONNX)");
        return field;
    }

    ulong Varint()
    {
        ulong value = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            if (_position >= _data.Length) throw new ProtoFormatException($"truncated varint at byte {_position}");
            byte b = _data[_position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
        throw new ProtoFormatException($"varint longer than 10 bytes at byte {_position}");
    }

    void Expect(WireType expected, string what)
    {
        if (_wire != expected) throw new ProtoFormatException($"{what} has wire type {(int)_wire}, expected {(int)expected}");
    }

    public long Int64(string what)
    {
        Expect(WireType.Varint, what);
        return (long)Varint();
    }

    public float Float(string what)
    {
        Expect(WireType.Fixed32, what);
        if (_data.Length - _position < 4) throw new ProtoFormatException($"truncated float at byte {_position}");
        float value = BinaryPrimitives.ReadSingleLittleEndian(_data[_position..]);
        _position += 4;
        return value;
    }

    /// <summary>A length-delimited field's bytes (a string, bytes, a nested message or a packed run).</summary>
    public ReadOnlySpan<byte> Bytes(string what)
    {
        Expect(WireType.LengthDelimited, what);
        ulong length = Varint();
        if (length > (ulong)(_data.Length - _position))
            throw new ProtoFormatException($"{what}: length {length} at byte {_position} runs past the end ({_data.Length - _position} bytes left)");
        ReadOnlySpan<byte> value = _data.Slice(_position, (int)length);
        _position += (int)length;
        return value;
    }

    public string String(string what) => Encoding.UTF8.GetString(Bytes(what));

    /// <summary>A repeated int64 field's values, packed or not (proto2 writers may use either).</summary>
    public void Int64s(string what, List<long> into)
    {
        if (_wire == WireType.Varint) { into.Add((long)Varint()); return; }
        var packed = new ProtoReader(Bytes(what));
        while (!packed.AtEnd) into.Add((long)packed.Varint());
    }

    /// <summary>A repeated float field's values, packed or not.</summary>
    public void Floats(string what, List<float> into)
    {
        if (_wire == WireType.Fixed32) { into.Add(Float(what)); return; }
        ReadOnlySpan<byte> packed = Bytes(what);
        if (packed.Length % 4 != 0) throw new ProtoFormatException($"{what}: packed floats of {packed.Length} bytes (not a multiple of 4)");
        for (int i = 0; i < packed.Length; i += 4) into.Add(BinaryPrimitives.ReadSingleLittleEndian(packed[i..]));
    }

    /// <summary>A repeated double field's values, packed or not.</summary>
    public void Doubles(string what, List<double> into)
    {
        if (_wire == WireType.Fixed64)
        {
            if (_data.Length - _position < 8) throw new ProtoFormatException($"truncated double at byte {_position}");
            into.Add(BinaryPrimitives.ReadDoubleLittleEndian(_data[_position..]));
            _position += 8;
            return;
        }
        ReadOnlySpan<byte> packed = Bytes(what);
        if (packed.Length % 8 != 0) throw new ProtoFormatException($"{what}: packed doubles of {packed.Length} bytes (not a multiple of 8)");
        for (int i = 0; i < packed.Length; i += 8) into.Add(BinaryPrimitives.ReadDoubleLittleEndian(packed[i..]));
    }

    /// <summary>Steps over the current field's value.</summary>
    public void Skip()
    {
        switch (_wire)
        {
            case WireType.Varint: Varint(); break;
            case WireType.Fixed64:
                if (_data.Length - _position < 8) throw new ProtoFormatException($"truncated 64-bit field at byte {_position}");
                _position += 8;
                break;
            case WireType.Fixed32:
                if (_data.Length - _position < 4) throw new ProtoFormatException($"truncated 32-bit field at byte {_position}");
                _position += 4;
                break;
            case WireType.LengthDelimited: Bytes("field"); break;
            default: throw new ProtoFormatException($"wire type {(int)_wire}");
        }
    }
}

/// <summary>The bytes are not a well-formed protobuf message (the reader wraps it with the file name).</summary>
public sealed class ProtoFormatException(string problem) : Exception(problem);
