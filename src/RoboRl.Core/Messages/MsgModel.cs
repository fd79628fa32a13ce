namespace RoboRl.Core.Messages;

/// <summary>The primitive types of a ROS 2 <c>.msg</c> file (design.ros2.org "Interface definition"; wstring is not supported).</summary>
public enum MsgPrimitive
{
    /// <summary>Not a primitive: the field holds a nested message (see <see cref="MsgFieldType.TypeName"/>).</summary>
    None = 0,
    Bool, Byte, Char, Int8, UInt8, Int16, UInt16, Int32, UInt32, Int64, UInt64, Float32, Float64, String,
}

/// <summary>How many values a field holds.</summary>
public enum MsgArrayKind
{
    /// <summary>One value.</summary>
    Single = 0,
    /// <summary><c>T[N]</c>: exactly N values, no count on the wire.</summary>
    Fixed,
    /// <summary><c>T[]</c>: a uint32 count then the values.</summary>
    Unbounded,
    /// <summary><c>T[&lt;=N]</c>: like unbounded, at most N values.</summary>
    Bounded,
}

/// <summary>A field's type with everything resolved: primitive or nested definition, array kind and bounds.</summary>
public sealed class MsgFieldType
{
    public MsgFieldType(MsgPrimitive primitive, string? typeName, MsgArrayKind arrayKind, int arrayLength, int stringBound)
    {
        Primitive = primitive;
        TypeName = typeName;
        ArrayKind = arrayKind;
        ArrayLength = arrayLength;
        StringBound = stringBound;
    }

    /// <summary>The element's primitive type, or <see cref="MsgPrimitive.None"/> for a nested message.</summary>
    public MsgPrimitive Primitive { get; }
    /// <summary>For a nested message: its full name <c>pkg/Type</c> (already qualified with the package).</summary>
    public string? TypeName { get; }
    public MsgArrayKind ArrayKind { get; }
    /// <summary>N of <c>T[N]</c> or <c>T[&lt;=N]</c>; 0 otherwise.</summary>
    public int ArrayLength { get; }
    /// <summary>N of <c>string&lt;=N</c>; 0 when the string is unbounded.</summary>
    public int StringBound { get; }
    /// <summary>The nested definition; set by <see cref="MessageRegistry"/> when the definition is registered.</summary>
    public MsgDefinition? Definition { get; internal set; }

    public bool IsPrimitive => Primitive != MsgPrimitive.None;
    public bool IsArray => ArrayKind != MsgArrayKind.Single;
    /// <summary>Arrays whose count is written on the wire.</summary>
    public bool IsSequence => ArrayKind is MsgArrayKind.Unbounded or MsgArrayKind.Bounded;

    /// <summary>The element type as written in a .msg file, e.g. <c>float64</c>, <c>string&lt;=8</c>, <c>geometry_msgs/Pose</c>.</summary>
    public string ElementText => Primitive switch
    {
        MsgPrimitive.None => TypeName!,
        MsgPrimitive.String when StringBound > 0 => $"string<={StringBound}",
        _ => MsgPrimitives.Name(Primitive),
    };

    /// <summary>The type as written in a .msg file, e.g. <c>float64[36]</c>.</summary>
    public override string ToString() => ArrayKind switch
    {
        MsgArrayKind.Fixed => $"{ElementText}[{ArrayLength}]",
        MsgArrayKind.Unbounded => $"{ElementText}[]",
        MsgArrayKind.Bounded => $"{ElementText}[<={ArrayLength}]",
        _ => ElementText,
    };
}

/// <summary>One field of a message: name, type and the optional default value text (ROS 2 allows <c>float64 w 1</c>).</summary>
public sealed record MsgField(string Name, MsgFieldType Type, string? DefaultValue);

/// <summary>A constant line such as <c>byte OK=0</c>; <see cref="Value"/> is typed (long, ulong, double, bool or string).</summary>
public sealed record MsgConstant(string Name, MsgPrimitive Type, string ValueText, object Value);

/// <summary>A parsed message definition.</summary>
public sealed class MsgDefinition
{
    public MsgDefinition(string package, string name, IReadOnlyList<MsgField> fields, IReadOnlyList<MsgConstant> constants,
        string text, string source)
    {
        Package = package;
        Name = name;
        Fields = fields;
        Constants = constants;
        Text = text;
        Source = source;
    }

    /// <summary>ROS package, e.g. <c>geometry_msgs</c>.</summary>
    public string Package { get; }
    /// <summary>Type name, e.g. <c>PoseStamped</c>.</summary>
    public string Name { get; }
    /// <summary><c>pkg/Type</c>, the name used inside .msg files and after <c>MSG:</c> in ros2msg schemas.</summary>
    public string FullName => $"{Package}/{Name}";
    /// <summary><c>pkg/msg/Type</c>, the ROS 2 type name (MCAP schema name, <c>ros2 topic info</c>).</summary>
    public string RosTypeName => $"{Package}/msg/{Name}";
    /// <summary><c>pkg::msg::dds_::Type_</c>, the DDS type name rmw_cyclonedds uses.</summary>
    public string DdsTypeName => $"{Package}::msg::dds_::{Name}_";
    public IReadOnlyList<MsgField> Fields { get; }
    public IReadOnlyList<MsgConstant> Constants { get; }
    /// <summary>The .msg text this definition was parsed from (what goes into a ros2msg schema).</summary>
    public string Text { get; }
    /// <summary>Where the definition comes from (e.g. <c>ros2/common_interfaces geometry_msgs/msg/Pose.msg</c>).</summary>
    public string Source { get; }

    public MsgField? FindField(string name)
    {
        foreach (var f in Fields) if (f.Name == name) return f;
        return null;
    }

    public override string ToString() => FullName;
}

/// <summary>Names and wire sizes of the primitives.</summary>
public static class MsgPrimitives
{
    public static string Name(MsgPrimitive p) => p switch
    {
        MsgPrimitive.Bool => "bool",
        MsgPrimitive.Byte => "byte",
        MsgPrimitive.Char => "char",
        MsgPrimitive.Int8 => "int8",
        MsgPrimitive.UInt8 => "uint8",
        MsgPrimitive.Int16 => "int16",
        MsgPrimitive.UInt16 => "uint16",
        MsgPrimitive.Int32 => "int32",
        MsgPrimitive.UInt32 => "uint32",
        MsgPrimitive.Int64 => "int64",
        MsgPrimitive.UInt64 => "uint64",
        MsgPrimitive.Float32 => "float32",
        MsgPrimitive.Float64 => "float64",
        MsgPrimitive.String => "string",
        _ => throw new ArgumentOutOfRangeException(nameof(p)),
    };

    public static bool TryParse(string text, out MsgPrimitive p)
    {
        p = text switch
        {
            "bool" => MsgPrimitive.Bool,
            "byte" => MsgPrimitive.Byte,
            "char" => MsgPrimitive.Char,
            "int8" => MsgPrimitive.Int8,
            "uint8" => MsgPrimitive.UInt8,
            "int16" => MsgPrimitive.Int16,
            "uint16" => MsgPrimitive.UInt16,
            "int32" => MsgPrimitive.Int32,
            "uint32" => MsgPrimitive.UInt32,
            "int64" => MsgPrimitive.Int64,
            "uint64" => MsgPrimitive.UInt64,
            "float32" => MsgPrimitive.Float32,
            "float64" => MsgPrimitive.Float64,
            "string" => MsgPrimitive.String,
            _ => MsgPrimitive.None,
        };
        return p != MsgPrimitive.None;
    }

    /// <summary>Bytes on the wire and CDR alignment (XCDR1 aligns every primitive to its size); strings report 4 (their length prefix).</summary>
    public static int Size(MsgPrimitive p) => p switch
    {
        MsgPrimitive.Bool or MsgPrimitive.Byte or MsgPrimitive.Char or MsgPrimitive.Int8 or MsgPrimitive.UInt8 => 1,
        MsgPrimitive.Int16 or MsgPrimitive.UInt16 => 2,
        MsgPrimitive.Int32 or MsgPrimitive.UInt32 or MsgPrimitive.Float32 or MsgPrimitive.String => 4,
        MsgPrimitive.Int64 or MsgPrimitive.UInt64 or MsgPrimitive.Float64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(p)),
    };
}

/// <summary>A .msg text or a registry lookup that cannot be used; names the type, the line and what was expected.</summary>
public sealed class MsgDefinitionException(string message) : Exception(message);
