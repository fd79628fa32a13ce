using System.Runtime.InteropServices;
using RoboRl.Core.Messages;

namespace RoboRl.Ros2.Types;

/// <summary>
/// Turns a CDR payload into the C struct idlc would generate for the type (strings as <c>char*</c>, bounded strings as
/// inline <c>char[N+1]</c>, sequences as dds_sequence_t), in one reusable block of unmanaged memory, for
/// <c>dds_write</c>. Driven by <see cref="DdsTypeSupport"/>, so it works for every registered type; both hot structs
/// and dynamic messages reach it through their CDR encoders. Variable-size types are walked twice (measure, then
/// fill) so the block never moves under pointers into it; after the block has grown to the largest message nothing
/// is allocated.
/// </summary>
internal sealed unsafe class CSample : IDisposable
{
    private readonly DdsTypeSupport _type;
    private byte* _memory;
    private int _capacity;
    private int _used;
    private bool _measureOnly;

    public CSample(DdsTypeSupport type)
    {
        _type = type;
        _capacity = Math.Max(64, DdsTypeSupport.AlignUp(type.Size, 8) + 256);
        _memory = (byte*)NativeMemory.AlignedAlloc((nuint)_capacity, 16);
    }

    /// <summary>Fills the sample from <paramref name="cdr"/> (encapsulation header included) and returns its address.</summary>
    public byte* Load(ReadOnlySpan<byte> cdr)
    {
        int root = DdsTypeSupport.AlignUp(_type.Size, 16);
        if (!_type.IsFixedSize)
        {
            _measureOnly = true;
            _used = root;
            var measure = new CdrReader(cdr);
            Struct(ref measure, _type, null);
            if (_used > _capacity) Grow(_used);
        }
        _measureOnly = false;
        _used = root;
        var reader = new CdrReader(cdr);
        Struct(ref reader, _type, _memory);
        return _memory;
    }

    /// <summary>Walks <paramref name="cdr"/> as this type without writing anything; throws <see cref="CdrFormatException"/> when it does not fit.</summary>
    public void Validate(ReadOnlySpan<byte> cdr)
    {
        _measureOnly = true;
        _used = 0;
        var reader = new CdrReader(cdr);
        Struct(ref reader, _type, null);
    }

    private void Grow(int needed)
    {
        NativeMemory.AlignedFree(_memory);
        _capacity = Math.Max(needed, _capacity * 2);
        _memory = (byte*)NativeMemory.AlignedAlloc((nuint)_capacity, 16);
    }

    /// <summary>Reserves memory after the root struct; while measuring only counts and returns null.</summary>
    private byte* Alloc(int size, int align)
    {
        _used = DdsTypeSupport.AlignUp(_used, Math.Max(align, 1));
        byte* p = _measureOnly ? null : _memory + _used;
        _used += size;
        return p;
    }

    private void Struct(ref CdrReader r, DdsTypeSupport type, byte* dst)
    {
        foreach (var f in type._fields) Field(ref r, f, dst == null ? null : dst + f.Offset);
    }

    private void Field(ref CdrReader r, CField f, byte* dst)
    {
        var t = f.Type;
        switch (t.ArrayKind)
        {
            case MsgArrayKind.Single:
                Element(ref r, f, dst);
                break;
            case MsgArrayKind.Fixed:
                for (int i = 0; i < t.ArrayLength; i++) Element(ref r, f, dst == null ? null : dst + i * f.ElementSize);
                break;
            default:
                int count = r.ReadSequenceLength(CdrDynamic.MinElementSize(t), t.ArrayKind == MsgArrayKind.Bounded ? t.ArrayLength : 0);
                byte* buffer = Alloc(count * f.ElementSize, f.ElementAlign);
                for (int i = 0; i < count; i++) Element(ref r, f, buffer == null ? null : buffer + i * f.ElementSize);
                if (dst != null)
                {
                    *(uint*)dst = (uint)count;                        // _maximum
                    *(uint*)(dst + 4) = (uint)count;                  // _length
                    *(byte**)(dst + 8) = count == 0 ? null : buffer;  // _buffer
                    *(dst + 16) = 0;                                  // _release: the memory is ours, not Cyclone's
                }
                break;
        }
    }

    private void Element(ref CdrReader r, CField f, byte* p)
    {
        var t = f.Type;
        if (f.Nested is { } nested) { Struct(ref r, nested, p); return; }
        if (t.Primitive == MsgPrimitive.String)
        {
            var bytes = r.ReadStringBytes();
            if (t.StringBound > 0)
            {
                if (bytes.Length > t.StringBound)
                    throw new CdrFormatException($"{f.Field.Name}: string of {bytes.Length} bytes exceeds its bound of {t.StringBound}", r.Position);
                if (p == null) return;
                bytes.CopyTo(new Span<byte>(p, bytes.Length));
                p[bytes.Length] = 0;
                return;
            }
            byte* s = Alloc(bytes.Length + 1, 1);
            if (p == null) return;
            bytes.CopyTo(new Span<byte>(s, bytes.Length));
            s[bytes.Length] = 0;
            *(byte**)p = s;
            return;
        }
        switch (t.Primitive)
        {
            case MsgPrimitive.Bool: { bool v = r.ReadBool(); if (p != null) *p = v ? (byte)1 : (byte)0; break; }
            case MsgPrimitive.Byte or MsgPrimitive.Char or MsgPrimitive.UInt8 or MsgPrimitive.Int8:
                { byte v = r.ReadUInt8(); if (p != null) *p = v; break; }
            case MsgPrimitive.Int16 or MsgPrimitive.UInt16: { ushort v = r.ReadUInt16(); if (p != null) *(ushort*)p = v; break; }
            case MsgPrimitive.Int32 or MsgPrimitive.UInt32 or MsgPrimitive.Float32:
                { uint v = r.ReadUInt32(); if (p != null) *(uint*)p = v; break; }
            default: { ulong v = r.ReadUInt64(); if (p != null) *(ulong*)p = v; break; }
        }
    }

    public void Dispose()
    {
        if (_memory == null) return;
        NativeMemory.AlignedFree(_memory);
        _memory = null;
    }
}
