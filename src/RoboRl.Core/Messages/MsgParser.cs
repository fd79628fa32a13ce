using System.Globalization;

namespace RoboRl.Core.Messages;

/// <summary>
/// Parses ROS 2 <c>.msg</c> text (design.ros2.org/articles/interface_definition.html): one field or constant per line,
/// <c>#</c> comments, primitive or nested (<c>pkg/Type</c> or same-package <c>Type</c>) element types, arrays
/// <c>T[N]</c>, <c>T[]</c>, <c>T[&lt;=N]</c>, bounded strings <c>string&lt;=N</c>, constants <c>TYPE NAME=VALUE</c>
/// and field defaults <c>TYPE name VALUE</c>.
/// </summary>
public static class MsgParser
{
    /// <summary>Parses <paramref name="text"/> as the definition of <paramref name="fullName"/> (<c>pkg/Type</c> or <c>pkg/msg/Type</c>).</summary>
    public static MsgDefinition Parse(string fullName, string text, string source = "")
    {
        var (package, name) = SplitName(fullName);
        var fields = new List<MsgField>();
        var constants = new List<MsgConstant>();
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string where = $"{package}/{name} line {i + 1}";
            string line = StripComment(lines[i]).Trim();
            if (line.Length == 0) continue;

            int space = IndexOfWhitespace(line);
            if (space < 0) throw new MsgDefinitionException($"{where}: expected 'TYPE NAME', got '{line}'");
            string typeText = line[..space];
            string rest = line[space..].Trim();

            int eq = rest.IndexOf('=');
            if (eq >= 0 && !typeText.Contains('['))
            {
                // Constant: TYPE NAME=VALUE (arrays cannot be constants).
                string constName = rest[..eq].Trim();
                string valueText = rest[(eq + 1)..].Trim();
                if (!MsgPrimitives.TryParse(typeText, out var ct))
                    throw new MsgDefinitionException($"{where}: constant '{constName}' must have a primitive type, got '{typeText}'");
                CheckIdentifier(constName, where);
                constants.Add(new MsgConstant(constName, ct, valueText, ParseConstant(ct, valueText, where)));
                continue;
            }

            int nameEnd = IndexOfWhitespace(rest);
            string fieldName = nameEnd < 0 ? rest : rest[..nameEnd];
            string? defaultValue = nameEnd < 0 ? null : rest[nameEnd..].Trim();
            CheckIdentifier(fieldName, where);
            foreach (var f in fields)
                if (f.Name == fieldName) throw new MsgDefinitionException($"{where}: field '{fieldName}' is declared twice");
            fields.Add(new MsgField(fieldName, ParseType(typeText, package, where), defaultValue));
        }
        return new MsgDefinition(package, name, fields, constants, text, source);
    }

    /// <summary>Splits <c>pkg/Type</c> or <c>pkg/msg/Type</c> into package and type.</summary>
    public static (string Package, string Name) SplitName(string fullName)
    {
        var parts = fullName.Split('/');
        if (parts.Length == 2 && parts[0].Length > 0 && parts[1].Length > 0) return (parts[0], parts[1]);
        if (parts.Length == 3 && parts[1] == "msg" && parts[0].Length > 0 && parts[2].Length > 0) return (parts[0], parts[2]);
        throw new MsgDefinitionException($"message name '{fullName}': expected 'pkg/Type' or 'pkg/msg/Type'");
    }

    /// <summary>Parses a type token such as <c>float64[36]</c>, <c>string&lt;=8[&lt;=4]</c>, <c>Pose</c>.</summary>
    public static MsgFieldType ParseType(string typeText, string package, string where)
    {
        var arrayKind = MsgArrayKind.Single;
        int arrayLength = 0;
        string element = typeText;
        int bracket = typeText.IndexOf('[');
        if (bracket >= 0)
        {
            if (!typeText.EndsWith(']')) throw new MsgDefinitionException($"{where}: array type '{typeText}' must end with ']'");
            element = typeText[..bracket];
            string inside = typeText[(bracket + 1)..^1];
            if (inside.Length == 0) arrayKind = MsgArrayKind.Unbounded;
            else if (inside.StartsWith("<="))
            {
                arrayKind = MsgArrayKind.Bounded;
                arrayLength = ParseBound(inside[2..], typeText, where);
            }
            else
            {
                arrayKind = MsgArrayKind.Fixed;
                arrayLength = ParseBound(inside, typeText, where);
            }
        }

        int stringBound = 0;
        if (element.StartsWith("string<="))
        {
            stringBound = ParseBound(element["string<=".Length..], typeText, where);
            element = "string";
        }

        if (MsgPrimitives.TryParse(element, out var primitive))
            return new MsgFieldType(primitive, null, arrayKind, arrayLength, stringBound);
        if (element is "wstring" || element.StartsWith("wstring<="))
            throw new MsgDefinitionException($"{where}: wstring is not supported (implementation-defined on the wire)");

        string typeName = QualifyTypeName(element, package, where);
        return new MsgFieldType(MsgPrimitive.None, typeName, arrayKind, arrayLength, 0);
    }

    private static string QualifyTypeName(string element, string package, string where)
    {
        var parts = element.Split('/');
        foreach (var p in parts) CheckIdentifier(p, where);
        return parts.Length switch
        {
            1 when element == "Header" => "std_msgs/Header", // ROS 1 habit kept by many .msg files
            1 => $"{package}/{element}",
            2 => element,
            3 when parts[1] == "msg" => $"{parts[0]}/{parts[2]}",
            _ => throw new MsgDefinitionException($"{where}: type '{element}' is not 'Type', 'pkg/Type' or 'pkg/msg/Type'"),
        };
    }

    private static int ParseBound(string text, string typeText, string where)
    {
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n <= 0)
            throw new MsgDefinitionException($"{where}: bound in '{typeText}' must be a positive integer, got '{text}'");
        return n;
    }

    private static object ParseConstant(MsgPrimitive type, string text, string where)
    {
        var inv = CultureInfo.InvariantCulture;
        switch (type)
        {
            case MsgPrimitive.String:
                if (text.Length >= 2 && (text[0] == '"' || text[0] == '\'') && text[^1] == text[0]) return text[1..^1];
                return text;
            case MsgPrimitive.Bool:
                return text switch
                {
                    "true" or "True" or "1" => true,
                    "false" or "False" or "0" => false,
                    _ => throw new MsgDefinitionException($"{where}: bool constant must be true/false, got '{text}'"),
                };
            case MsgPrimitive.Float32:
            case MsgPrimitive.Float64:
                if (double.TryParse(text, NumberStyles.Float, inv, out double d)) return d;
                throw new MsgDefinitionException($"{where}: {MsgPrimitives.Name(type)} constant must be a number, got '{text}'");
            case MsgPrimitive.UInt64:
                if (ulong.TryParse(text, NumberStyles.Integer, inv, out ulong u)) return u;
                throw new MsgDefinitionException($"{where}: uint64 constant out of range or not an integer: '{text}'");
            default:
                if (!long.TryParse(text, NumberStyles.Integer, inv, out long l))
                    throw new MsgDefinitionException($"{where}: {MsgPrimitives.Name(type)} constant must be an integer, got '{text}'");
                var (min, max) = type switch
                {
                    MsgPrimitive.Int8 => (sbyte.MinValue, sbyte.MaxValue),
                    MsgPrimitive.Byte or MsgPrimitive.Char or MsgPrimitive.UInt8 => (0L, byte.MaxValue),
                    MsgPrimitive.Int16 => (short.MinValue, short.MaxValue),
                    MsgPrimitive.UInt16 => (0L, ushort.MaxValue),
                    MsgPrimitive.Int32 => (int.MinValue, int.MaxValue),
                    MsgPrimitive.UInt32 => (0L, uint.MaxValue),
                    _ => (long.MinValue, long.MaxValue),
                };
                if (l < min || l > max)
                    throw new MsgDefinitionException($"{where}: {MsgPrimitives.Name(type)} constant {l} outside [{min}, {max}]");
                return l;
        }
    }

    /// <summary>Removes a <c>#</c> comment, leaving a <c>#</c> inside quotes alone.</summary>
    private static string StripComment(string line)
    {
        char quote = '\0';
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quote != '\0') { if (c == quote) quote = '\0'; }
            else if (c is '"' or '\'') quote = c;
            else if (c == '#') return line[..i];
        }
        return line;
    }

    private static int IndexOfWhitespace(string s)
    {
        for (int i = 0; i < s.Length; i++) if (char.IsWhiteSpace(s[i])) return i;
        return -1;
    }

    private static void CheckIdentifier(string name, string where)
    {
        bool ok = name.Length > 0 && char.IsAsciiLetter(name[0]);
        foreach (char c in name) ok &= char.IsAsciiLetterOrDigit(c) || c == '_';
        if (!ok) throw new MsgDefinitionException($"{where}: '{name}' is not a valid name (letter, then letters, digits, '_')");
    }
}
