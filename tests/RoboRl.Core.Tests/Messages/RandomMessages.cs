using RoboRl.Core.Messages;

namespace RoboRl.Tests.Shared;

/// <summary>Random but valid messages of any registered type, driven by the definition (shared by Core and Logs tests).</summary>
public static class RandomMessages
{
    private static readonly string[] Words = ["", "map", "base_link", "odom", "Ωμέγα", "x", "kill switch", "日本", "a b c"];

    public static DynamicMessage Create(MsgDefinition def, Random rng)
    {
        var m = DynamicMessage.Create(def);
        foreach (var f in def.Fields)
        {
            var t = f.Type;
            if (!t.IsArray) { m[f.Name] = Element(t, rng); continue; }
            int n = t.ArrayKind switch
            {
                MsgArrayKind.Fixed => t.ArrayLength,
                MsgArrayKind.Bounded => rng.Next(0, t.ArrayLength + 1),
                _ => rng.Next(0, 6),
            };
            var array = Array.CreateInstance(DynamicMessage.ElementClrType(t), n);
            for (int i = 0; i < n; i++) array.SetValue(Element(t, rng), i);
            m[f.Name] = array;
        }
        return m;
    }

    private static object Element(MsgFieldType t, Random rng) => t.Primitive switch
    {
        MsgPrimitive.None => Create(t.Definition!, rng),
        MsgPrimitive.Bool => rng.Next(2) == 1,
        MsgPrimitive.Byte or MsgPrimitive.Char or MsgPrimitive.UInt8 => (byte)rng.Next(256),
        MsgPrimitive.Int8 => (sbyte)rng.Next(-128, 128),
        MsgPrimitive.Int16 => (short)rng.Next(short.MinValue, short.MaxValue + 1),
        MsgPrimitive.UInt16 => (ushort)rng.Next(ushort.MaxValue + 1),
        MsgPrimitive.Int32 => rng.Next(int.MinValue, int.MaxValue),
        MsgPrimitive.UInt32 => (uint)rng.NextInt64(uint.MaxValue + 1L),
        MsgPrimitive.Int64 => rng.NextInt64(long.MinValue, long.MaxValue),
        MsgPrimitive.UInt64 => (ulong)rng.NextInt64(long.MinValue, long.MaxValue),
        MsgPrimitive.Float32 => (float)((rng.NextDouble() - 0.5) * Math.Pow(10, rng.Next(-8, 9))),
        MsgPrimitive.Float64 => (rng.NextDouble() - 0.5) * Math.Pow(10, rng.Next(-12, 13)),
        _ => t.StringBound > 0 ? "b" : Words[rng.Next(Words.Length)],
    };
}
