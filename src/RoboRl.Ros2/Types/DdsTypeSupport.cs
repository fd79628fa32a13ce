using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text;
using RoboRl.Core.Messages;
using RoboRl.Ros2.Native;

namespace RoboRl.Ros2.Types;

/// <summary>
/// Everything Cyclone DDS needs to know about one message type, derived from its <see cref="MsgDefinition"/> at run
/// time: the C struct layout idlc would generate for the same IDL (offsets, size, alignment on LP64), the marshalling
/// ops bytecode (dds/ddsc/dds_opcodes.h, 0.10) and the topic descriptor built from them. Adding a type to the registry
/// is all it takes; nothing here is per type. <c>DescriptorGoldenTests</c> compares the result with idlc's output.
/// </summary>
public sealed unsafe class DdsTypeSupport
{
    private static readonly ConcurrentDictionary<MsgDefinition, DdsTypeSupport> Cache = new();

    internal readonly CField[] _fields;
    private DdsTopicDescriptor* _descriptor;
    private readonly object _gate = new();

    private DdsTypeSupport(MsgDefinition definition)
    {
        if (definition.Fields.Count == 0)
            throw new MsgDefinitionException($"{definition.FullName} has no fields; empty messages are not supported on DDS yet");
        Definition = definition;
        _fields = new CField[definition.Fields.Count];
        int offset = 0, align = 1;
        bool fixedSize = true;
        for (int i = 0; i < _fields.Length; i++)
        {
            var f = new CField(definition.Fields[i]);
            offset = AlignUp(offset, f.StorageAlign);
            f.Offset = offset;
            offset += f.StorageSize;
            align = Math.Max(align, f.StorageAlign);
            fixedSize &= f.IsFixedSize;
            _fields[i] = f;
        }
        Size = AlignUp(offset, align);
        Align = align;
        IsFixedSize = fixedSize;
        (Ops, OpCount) = DdsOps.Build(this);
    }

    /// <summary>The type support for a resolved definition (from a <see cref="MessageRegistry"/>), built once per process.</summary>
    public static DdsTypeSupport For(MsgDefinition definition) => Cache.GetOrAdd(definition, d => new DdsTypeSupport(d));

    public MsgDefinition Definition { get; }
    /// <summary>sizeof the C struct.</summary>
    public int Size { get; }
    /// <summary>alignof the C struct.</summary>
    public int Align { get; }
    /// <summary>No strings or sequences anywhere inside (idlc's DDS_TOPIC_FIXED_SIZE).</summary>
    public bool IsFixedSize { get; }
    /// <summary>The ops bytecode: this type's block, then one block per nested type (depth first, as idlc orders them).</summary>
    public IReadOnlyList<uint> Ops { get; }
    /// <summary>Number of instructions (idlc's m_nops).</summary>
    public int OpCount { get; }
    /// <summary>m_flagset: DDS_TOPIC_FIXED_SIZE when it applies (no XTypes metadata: matching is by type name, as with rmw_cyclonedds).</summary>
    public uint FlagSet => IsFixedSize ? DdsOps.TopicFixedSize : 0u;
    public string DdsTypeName => Definition.DdsTypeName;

    /// <summary>The field offsets, for tests and tools.</summary>
    public IReadOnlyList<(string Name, int Offset)> FieldOffsets => _fields.Select(f => (f.Field.Name, f.Offset)).ToArray();

    /// <summary>The dds_topic_descriptor_t, allocated once and kept for the life of the process (topics refer to it).</summary>
    internal DdsTopicDescriptor* Descriptor
    {
        get
        {
            lock (_gate)
            {
                if (_descriptor != null) return _descriptor;
                var d = (DdsTopicDescriptor*)NativeMemory.AllocZeroed((nuint)sizeof(DdsTopicDescriptor));
                var ops = (uint*)NativeMemory.Alloc((nuint)(Ops.Count * sizeof(uint)));
                for (int i = 0; i < Ops.Count; i++) ops[i] = Ops[i];
                d->Size = (uint)Size;
                d->Align = (uint)Align;
                d->FlagSet = FlagSet;
                d->KeyCount = 0; // ROS 2 topics are keyless
                d->TypeName = Utf8(DdsTypeName);
                d->OpCount = (uint)OpCount;
                d->Ops = ops;
                d->Meta = Utf8("");
                _descriptor = d;
                return d;
            }
        }
    }

    internal static byte* Utf8(string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        var p = (byte*)NativeMemory.Alloc((nuint)bytes.Length + 1);
        bytes.CopyTo(new Span<byte>(p, bytes.Length));
        p[bytes.Length] = 0;
        return p;
    }

    internal static int AlignUp(int value, int align) => (value + align - 1) & ~(align - 1);

    public override string ToString() => $"{DdsTypeName} (size {Size}, align {Align}, {OpCount} ops)";
}

/// <summary>One field's place in the C struct: how one element is stored and how the field holds its elements.</summary>
internal sealed class CField
{
    /// <summary>sizeof(dds_sequence_t): uint32 _maximum, uint32 _length, T* _buffer, bool _release (padded to 8).</summary>
    public const int SequenceSize = 24;

    public CField(MsgField field)
    {
        Field = field;
        var t = field.Type;
        Nested = t.IsPrimitive ? null : DdsTypeSupport.For(t.Definition
            ?? throw new MsgDefinitionException($"field '{field.Name}' has unresolved type '{t.TypeName}'; get definitions from a registry"));
        (ElementSize, ElementAlign) = t.Primitive switch
        {
            MsgPrimitive.None => (Nested!.Size, Nested.Align),
            MsgPrimitive.String when t.StringBound > 0 => (t.StringBound + 1, 1), // char[N+1] inline
            MsgPrimitive.String => (IntPtr.Size, IntPtr.Size),                     // char *
            _ => (MsgPrimitives.Size(t.Primitive), MsgPrimitives.Size(t.Primitive)),
        };
        (StorageSize, StorageAlign) = t.ArrayKind switch
        {
            MsgArrayKind.Single => (ElementSize, ElementAlign),
            MsgArrayKind.Fixed => (ElementSize * t.ArrayLength, ElementAlign),
            _ => (SequenceSize, IntPtr.Size),
        };
        IsFixedSize = !t.IsSequence && t.Primitive != MsgPrimitive.String && (Nested?.IsFixedSize ?? true);
    }

    public MsgField Field { get; }
    public MsgFieldType Type => Field.Type;
    public DdsTypeSupport? Nested { get; }
    public int ElementSize { get; }
    public int ElementAlign { get; }
    public int StorageSize { get; }
    public int StorageAlign { get; }
    public int Offset { get; set; }
    public bool IsFixedSize { get; }
}

/// <summary>The Cyclone DDS 0.10 ops bytecode (dds_opcodes.h) for a struct, written the way idlc writes it.</summary>
internal static class DdsOps
{
    public const uint Adr = 0x01u << 24;
    public const uint Rts = 0;
    public const uint FlagFp = 1u << 1;
    public const uint FlagSgn = 1u << 2;
    public const uint TopicFixedSize = 1u << 4;

    // dds_stream_typecode
    private const uint Val1By = 0x01, Val2By = 0x02, Val4By = 0x03, Val8By = 0x04, ValStr = 0x05, ValBst = 0x06,
        ValSeq = 0x07, ValArr = 0x08, ValStu = 0x0a, ValBsq = 0x0b, ValExt = 0x0d, ValBln = 0x0e;

    private static uint Type(uint code) => code << 16;
    private static uint Subtype(uint code) => code << 8;

    /// <summary>The type's own block, then each nested type's block once (depth first in field order), with jumps resolved.</summary>
    public static (uint[] Ops, int Instructions) Build(DdsTypeSupport root)
    {
        var blocks = new List<DdsTypeSupport> { root };
        foreach (var dep in MessageRegistry.Dependencies(root.Definition)) blocks.Add(DdsTypeSupport.For(dep));
        var start = new Dictionary<MsgDefinition, int>();
        int words = 0;
        foreach (var b in blocks) { start[b.Definition] = words; words += BlockWords(b); }

        var ops = new List<uint>(words);
        int instructions = 0;
        foreach (var b in blocks)
        {
            foreach (var f in b._fields)
            {
                int at = ops.Count;
                // [next-insn, elem-insn]: elem-insn is a 16-bit offset from this instruction; a nested type that comes
                // earlier in the array gives a negative offset, kept to its low 16 bits as idlc writes it.
                int Jump(DdsTypeSupport nested) => (start[nested.Definition] - at) & 0xffff;
                EmitField(ops, f, Jump);
                instructions++;
            }
            ops.Add(Rts);
            instructions++;
        }
        if (ops.Count != words) throw new InvalidOperationException($"ops size mismatch for {root.DdsTypeName}: {ops.Count} != {words}");
        return (ops.ToArray(), instructions);
    }

    private static int BlockWords(DdsTypeSupport t)
    {
        var scratch = new List<uint>();
        foreach (var f in t._fields) EmitField(scratch, f, _ => 0);
        return scratch.Count + 1;
    }

    private static (uint Code, uint Flags) Primitive(MsgFieldType t) => t.Primitive switch
    {
        MsgPrimitive.Bool => (ValBln, 0),
        MsgPrimitive.Byte or MsgPrimitive.Char or MsgPrimitive.UInt8 => (Val1By, 0), // ROS char and byte are unsigned in IDL
        MsgPrimitive.Int8 => (Val1By, FlagSgn),
        MsgPrimitive.Int16 => (Val2By, FlagSgn),
        MsgPrimitive.UInt16 => (Val2By, 0),
        MsgPrimitive.Int32 => (Val4By, FlagSgn),
        MsgPrimitive.UInt32 => (Val4By, 0),
        MsgPrimitive.Int64 => (Val8By, FlagSgn),
        MsgPrimitive.UInt64 => (Val8By, 0),
        MsgPrimitive.Float32 => (Val4By, FlagFp),
        MsgPrimitive.Float64 => (Val8By, FlagFp),
        MsgPrimitive.String => (t.StringBound > 0 ? ValBst : ValStr, 0),
        _ => throw new ArgumentOutOfRangeException(nameof(t)),
    };

    private static void EmitField(List<uint> ops, CField f, Func<DdsTypeSupport, int> jump)
    {
        var t = f.Type;
        uint offset = (uint)f.Offset;
        bool isStruct = f.Nested is not null;
        var (code, flags) = isStruct ? (ValStu, 0u) : Primitive(t);
        uint stringMax = (uint)t.StringBound + 1; // [max-size] = bound + 1 (the NUL)
        switch (t.ArrayKind)
        {
            case MsgArrayKind.Single when isStruct:
                // [ADR, EXT] [offset] [next-insn 3, elem-insn]
                ops.AddRange([Adr | Type(ValExt), offset, (3u << 16) + (uint)jump(f.Nested!)]);
                break;
            case MsgArrayKind.Single:
                ops.AddRange([Adr | Type(code) | flags, offset]);
                if (code == ValBst) ops.Add(stringMax);
                break;
            case MsgArrayKind.Fixed:
                ops.AddRange([Adr | Type(ValArr) | Subtype(code) | flags, offset, (uint)t.ArrayLength]);
                if (isStruct) ops.AddRange([(5u << 16) + (uint)jump(f.Nested!), (uint)f.ElementSize]);
                else if (code == ValBst) ops.AddRange([0u, stringMax]);
                break;
            default:
                bool bounded = t.ArrayKind == MsgArrayKind.Bounded;
                ops.AddRange([Adr | Type(bounded ? ValBsq : ValSeq) | Subtype(code) | flags, offset]);
                if (bounded) ops.Add((uint)t.ArrayLength);
                if (isStruct) ops.AddRange([(uint)f.ElementSize, ((bounded ? 5u : 4u) << 16) + (uint)jump(f.Nested!)]);
                else if (code == ValBst) ops.Add(stringMax);
                break;
        }
    }
}
