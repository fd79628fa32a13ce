using System.Collections.Concurrent;
using System.Text.Json.Nodes;

namespace RoboRl.Core.Messages;

/// <summary>
/// Any registered message as typed values, driven only by its definition. A primitive field holds its CLR type
/// (bool, byte for byte/char/uint8, sbyte, short, ushort, int, uint, long, ulong, float, double, string), a nested
/// field a <see cref="DynamicMessage"/>, an array field a typed array of those (<c>float[]</c>, <c>DynamicMessage[]</c>).
/// </summary>
public sealed class DynamicMessage
{
    private readonly object[] _values;

    private DynamicMessage(MsgDefinition definition, object[] values)
    {
        Definition = definition;
        _values = values;
    }

    public MsgDefinition Definition { get; }

    /// <summary>A message with every field at its default (the .msg default if given, else zero / empty / nested defaults).</summary>
    public static DynamicMessage Create(MsgDefinition definition)
    {
        var values = new object[definition.Fields.Count];
        for (int i = 0; i < values.Length; i++)
        {
            var f = definition.Fields[i];
            values[i] = f.Type.ArrayKind switch
            {
                MsgArrayKind.Fixed => CreateArray(f.Type, f.Type.ArrayLength, fill: true),
                MsgArrayKind.Single => DefaultValue(f),
                _ => CreateArray(f.Type, 0, fill: false),
            };
        }
        return new DynamicMessage(definition, values);
    }

    internal static DynamicMessage FromValues(MsgDefinition definition, object[] values) => new(definition, values);

    public object this[string field]
    {
        get => _values[IndexOf(field)];
        set => _values[IndexOf(field)] = CheckValue(Definition.Fields[IndexOf(field)], value);
    }

    public object this[int index] => _values[index];

    public T Get<T>(string field) => (T)this[field];

    /// <summary>Sets a field; <paramref name="value"/> must have the field's CLR type (see the class summary).</summary>
    public DynamicMessage Set(string field, object value)
    {
        this[field] = value;
        return this;
    }

    private int IndexOf(string field)
    {
        var fields = Definition.Fields;
        for (int i = 0; i < fields.Count; i++) if (fields[i].Name == field) return i;
        throw new MsgDefinitionException($"{Definition.FullName} has no field '{field}'");
    }

    /// <summary>The CLR type one element of <paramref name="type"/> is held as.</summary>
    public static Type ElementClrType(MsgFieldType type) => type.Primitive switch
    {
        MsgPrimitive.None => typeof(DynamicMessage),
        MsgPrimitive.Bool => typeof(bool),
        MsgPrimitive.Byte or MsgPrimitive.Char or MsgPrimitive.UInt8 => typeof(byte),
        MsgPrimitive.Int8 => typeof(sbyte),
        MsgPrimitive.Int16 => typeof(short),
        MsgPrimitive.UInt16 => typeof(ushort),
        MsgPrimitive.Int32 => typeof(int),
        MsgPrimitive.UInt32 => typeof(uint),
        MsgPrimitive.Int64 => typeof(long),
        MsgPrimitive.UInt64 => typeof(ulong),
        MsgPrimitive.Float32 => typeof(float),
        MsgPrimitive.Float64 => typeof(double),
        MsgPrimitive.String => typeof(string),
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    private object CheckValue(MsgField field, object value)
    {
        var element = ElementClrType(field.Type);
        var expected = field.Type.IsArray ? element.MakeArrayType() : element;
        if (value is null || value.GetType() != expected)
            throw new MsgDefinitionException(
                $"{Definition.FullName}.{field.Name} ({field.Type}) must be a {expected.Name}, got {value?.GetType().Name ?? "null"}");
        if (field.Type.ArrayKind == MsgArrayKind.Fixed && ((Array)value).Length != field.Type.ArrayLength)
            throw new MsgDefinitionException(
                $"{Definition.FullName}.{field.Name} ({field.Type}) needs exactly {field.Type.ArrayLength} elements, got {((Array)value).Length}");
        return value;
    }

    private static Array CreateArray(MsgFieldType type, int length, bool fill)
    {
        var array = Array.CreateInstance(ElementClrType(type), length);
        if (fill && (type.Primitive is MsgPrimitive.None or MsgPrimitive.String))
            for (int i = 0; i < length; i++) array.SetValue(ZeroElement(type), i);
        return array;
    }

    private static object DefaultValue(MsgField field)
    {
        if (field.DefaultValue is { } text && field.Type.IsPrimitive)
        {
            try { return ConvertNumber(field.Type.Primitive, text); }
            catch (Exception e) when (e is FormatException or OverflowException)
            {
                throw new MsgDefinitionException($"field '{field.Name}': default '{text}' is not a valid {field.Type}");
            }
        }
        return ZeroElement(field.Type);
    }

    private static object ConvertNumber(MsgPrimitive p, string text)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        return p switch
        {
            MsgPrimitive.Bool => text is "true" or "True" or "1",
            MsgPrimitive.String => text.Trim('"', '\''),
            MsgPrimitive.Byte or MsgPrimitive.Char or MsgPrimitive.UInt8 => byte.Parse(text, inv),
            MsgPrimitive.Int8 => sbyte.Parse(text, inv),
            MsgPrimitive.Int16 => short.Parse(text, inv),
            MsgPrimitive.UInt16 => ushort.Parse(text, inv),
            MsgPrimitive.Int32 => int.Parse(text, inv),
            MsgPrimitive.UInt32 => uint.Parse(text, inv),
            MsgPrimitive.Int64 => long.Parse(text, inv),
            MsgPrimitive.UInt64 => ulong.Parse(text, inv),
            MsgPrimitive.Float32 => float.Parse(text, inv),
            _ => double.Parse(text, inv),
        };
    }

    private static object ZeroElement(MsgFieldType type) => type.Primitive switch
    {
        MsgPrimitive.None => Create(type.Definition
            ?? throw new MsgDefinitionException($"type '{type.TypeName}' is not resolved; get definitions from a registry")),
        MsgPrimitive.String => string.Empty,
        _ => Activator.CreateInstance(ElementClrType(type))!,
    };

    /// <summary>The message as JSON (uint64/int64 as numbers, nested messages as objects) for tools and tests.</summary>
    public JsonObject ToJson()
    {
        var obj = new JsonObject();
        for (int i = 0; i < _values.Length; i++) obj[Definition.Fields[i].Name] = ToJsonValue(_values[i]);
        return obj;
    }

    private static JsonNode? ToJsonValue(object value) => value switch
    {
        DynamicMessage m => m.ToJson(),
        string s => JsonValue.Create(s),
        Array a => new JsonArray(a.Cast<object>().Select(ToJsonValue).ToArray()),
        bool b => JsonValue.Create(b),
        float f => JsonValue.Create((double)f), // exact value, as JavaScript prints a float32
        double d => JsonValue.Create(d),
        byte v => JsonValue.Create(v),
        sbyte v => JsonValue.Create(v),
        short v => JsonValue.Create(v),
        ushort v => JsonValue.Create(v),
        int v => JsonValue.Create(v),
        uint v => JsonValue.Create(v),
        long v => JsonValue.Create(v),
        ulong v => JsonValue.Create(v),
        _ => throw new InvalidOperationException($"unexpected value type {value.GetType()}"),
    };

    public override string ToString() => $"{Definition.FullName} {ToJson().ToJsonString()}";
}

/// <summary>The CDR codec derived from a definition: works for every registered type with no per-type code.</summary>
public static class CdrDynamic
{
    private static readonly ConcurrentDictionary<MsgDefinition, int> MinSizes = new();

    /// <summary>Encodes <paramref name="message"/> as a complete payload into <paramref name="writer"/> (reset first).</summary>
    public static ReadOnlySpan<byte> Write(CdrWriter writer, DynamicMessage message)
    {
        writer.Reset();
        WriteFields(writer, message);
        return writer.WrittenSpan;
    }

    public static byte[] Serialize(DynamicMessage message)
    {
        var writer = new CdrWriter();
        return Write(writer, message).ToArray();
    }

    /// <summary>Decodes a complete payload; throws <see cref="CdrFormatException"/> when it is malformed or too short.</summary>
    public static DynamicMessage Read(MsgDefinition definition, ReadOnlySpan<byte> payload)
    {
        var reader = new CdrReader(payload);
        return ReadFields(ref reader, definition);
    }

    public static void WriteFields(CdrWriter w, DynamicMessage message)
    {
        var def = message.Definition;
        for (int i = 0; i < def.Fields.Count; i++)
        {
            var field = def.Fields[i];
            var type = field.Type;
            object value = message[i];
            if (!type.IsArray) { WriteElement(w, type, value, def, field); continue; }
            var array = (Array)value;
            if (type.ArrayKind == MsgArrayKind.Fixed && array.Length != type.ArrayLength)
                throw new MsgDefinitionException($"{def.FullName}.{field.Name} ({type}) needs {type.ArrayLength} elements, has {array.Length}");
            if (type.ArrayKind == MsgArrayKind.Bounded && array.Length > type.ArrayLength)
                throw new MsgDefinitionException($"{def.FullName}.{field.Name} ({type}) allows at most {type.ArrayLength} elements, has {array.Length}");
            if (type.IsSequence) w.WriteSequenceLength(array.Length);
            foreach (var element in array) WriteElement(w, type, element!, def, field);
        }
    }

    private static void WriteElement(CdrWriter w, MsgFieldType type, object value, MsgDefinition def, MsgField field)
    {
        switch (type.Primitive)
        {
            case MsgPrimitive.None: WriteFields(w, (DynamicMessage)value); break;
            case MsgPrimitive.Bool: w.WriteBool((bool)value); break;
            case MsgPrimitive.Byte or MsgPrimitive.Char or MsgPrimitive.UInt8: w.WriteUInt8((byte)value); break;
            case MsgPrimitive.Int8: w.WriteInt8((sbyte)value); break;
            case MsgPrimitive.Int16: w.WriteInt16((short)value); break;
            case MsgPrimitive.UInt16: w.WriteUInt16((ushort)value); break;
            case MsgPrimitive.Int32: w.WriteInt32((int)value); break;
            case MsgPrimitive.UInt32: w.WriteUInt32((uint)value); break;
            case MsgPrimitive.Int64: w.WriteInt64((long)value); break;
            case MsgPrimitive.UInt64: w.WriteUInt64((ulong)value); break;
            case MsgPrimitive.Float32: w.WriteFloat32((float)value); break;
            case MsgPrimitive.Float64: w.WriteFloat64((double)value); break;
            case MsgPrimitive.String:
                var s = (string)value;
                if (type.StringBound > 0 && System.Text.Encoding.UTF8.GetByteCount(s) > type.StringBound)
                    throw new MsgDefinitionException($"{def.FullName}.{field.Name} ({type}) is longer than {type.StringBound} bytes");
                w.WriteString(s);
                break;
        }
    }

    public static DynamicMessage ReadFields(ref CdrReader r, MsgDefinition def)
    {
        var values = new object[def.Fields.Count];
        for (int i = 0; i < values.Length; i++)
        {
            var type = def.Fields[i].Type;
            if (!type.IsArray) { values[i] = ReadElement(ref r, type); continue; }
            int count = type.ArrayKind == MsgArrayKind.Fixed
                ? type.ArrayLength
                : r.ReadSequenceLength(MinElementSize(type), type.ArrayKind == MsgArrayKind.Bounded ? type.ArrayLength : 0);
            var array = Array.CreateInstance(DynamicMessage.ElementClrType(type), count);
            for (int k = 0; k < count; k++) array.SetValue(ReadElement(ref r, type), k);
            values[i] = array;
        }
        return DynamicMessage.FromValues(def, values);
    }

    private static object ReadElement(ref CdrReader r, MsgFieldType type) => type.Primitive switch
    {
        MsgPrimitive.None => ReadFields(ref r, type.Definition
            ?? throw new MsgDefinitionException($"type '{type.TypeName}' is not resolved; get definitions from a registry")),
        MsgPrimitive.Bool => r.ReadBool(),
        MsgPrimitive.Byte or MsgPrimitive.Char or MsgPrimitive.UInt8 => r.ReadUInt8(),
        MsgPrimitive.Int8 => r.ReadInt8(),
        MsgPrimitive.Int16 => r.ReadInt16(),
        MsgPrimitive.UInt16 => r.ReadUInt16(),
        MsgPrimitive.Int32 => r.ReadInt32(),
        MsgPrimitive.UInt32 => r.ReadUInt32(),
        MsgPrimitive.Int64 => r.ReadInt64(),
        MsgPrimitive.UInt64 => r.ReadUInt64(),
        MsgPrimitive.Float32 => r.ReadFloat32(),
        MsgPrimitive.Float64 => r.ReadFloat64(),
        _ => r.ReadString(),
    };

    /// <summary>Fewest bytes one element can take on the wire (ignoring padding); bounds sequence counts on read.</summary>
    public static int MinElementSize(MsgFieldType type) =>
        type.IsPrimitive ? MsgPrimitives.Size(type.Primitive) : MinSize(type.Definition!);

    /// <summary>Fewest bytes a message of this type can take on the wire (ignoring padding).</summary>
    public static int MinSize(MsgDefinition def) => MinSizes.GetOrAdd(def, d =>
    {
        long total = 0;
        foreach (var f in d.Fields)
        {
            int element = MinElementSize(f.Type);
            total += f.Type.ArrayKind switch
            {
                MsgArrayKind.Single => element,
                MsgArrayKind.Fixed => (long)element * f.Type.ArrayLength,
                _ => 4,
            };
        }
        return (int)Math.Min(total, int.MaxValue);
    });
}
