using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace RoboRl.Onnx;

/// <summary>
/// The subset of ONNX's ModelProto that an MLP policy needs, read and written with <see cref="ProtoReader"/> and
/// <see cref="ProtoWriter"/>. Field numbers are those of onnx/onnx's <c>onnx/onnx.proto</c> (proto2; stable since
/// IR version 3): ModelProto ir_version 1, producer_name 2, producer_version 3, domain 4, model_version 5,
/// doc_string 6, graph 7, opset_import 8, metadata_props 14; OperatorSetIdProto domain 1, version 2;
/// StringStringEntryProto key 1, value 2. Fields this code does not model (training_info, functions, …) are skipped on
/// reading and never written.
/// </summary>
public sealed class OnnxModel
{
    public long IrVersion { get; set; }
    public string ProducerName { get; set; } = "";
    public string ProducerVersion { get; set; } = "";
    public string Domain { get; set; } = "";
    public long ModelVersion { get; set; }
    public string DocString { get; set; } = "";
    public OnnxGraph Graph { get; set; } = new();
    /// <summary>(domain, version); "" is the default ONNX operator set (ai.onnx).</summary>
    public List<(string Domain, long Version)> OpsetImports { get; } = [];
    public List<KeyValuePair<string, string>> MetadataProps { get; } = [];

    public byte[] ToBytes()
    {
        var w = new ProtoWriter();
        w.Int64(1, IrVersion);
        if (ProducerName.Length > 0) w.String(2, ProducerName);
        if (ProducerVersion.Length > 0) w.String(3, ProducerVersion);
        if (Domain.Length > 0) w.String(4, Domain);
        if (ModelVersion != 0) w.Int64(5, ModelVersion);
        if (DocString.Length > 0) w.String(6, DocString);
        w.Message(7, Graph.Write);
        foreach (var (domain, version) in OpsetImports)
            w.Message(8, o => { o.String(1, domain); o.Int64(2, version); });
        foreach (var (key, value) in MetadataProps)
            w.Message(14, e => { e.String(1, key); e.String(2, value); });
        return w.ToArray();
    }

    /// <summary>Parses a serialized ModelProto; a malformed message throws <see cref="ProtoFormatException"/>.</summary>
    public static OnnxModel Parse(ReadOnlySpan<byte> bytes)
    {
        var model = new OnnxModel();
        bool hasGraph = false;
        var r = new ProtoReader(bytes);
        while (!r.AtEnd)
        {
            switch (r.Next())
            {
                case 1: model.IrVersion = r.Int64("ModelProto.ir_version"); break;
                case 2: model.ProducerName = r.String("ModelProto.producer_name"); break;
                case 3: model.ProducerVersion = r.String("ModelProto.producer_version"); break;
                case 4: model.Domain = r.String("ModelProto.domain"); break;
                case 5: model.ModelVersion = r.Int64("ModelProto.model_version"); break;
                case 6: model.DocString = r.String("ModelProto.doc_string"); break;
                case 7: model.Graph = OnnxGraph.Parse(r.Bytes("ModelProto.graph")); hasGraph = true; break;
                case 8:
                    {
                        string domain = "";
                        long version = 0;
                        var o = new ProtoReader(r.Bytes("ModelProto.opset_import"));
                        while (!o.AtEnd)
                        {
                            switch (o.Next())
                            {
                                case 1: domain = o.String("OperatorSetIdProto.domain"); break;
                                case 2: version = o.Int64("OperatorSetIdProto.version"); break;
                                default: o.Skip(); break;
                            }
                        }
                        model.OpsetImports.Add((domain, version));
                        break;
                    }
                case 14:
                    {
                        string key = "", value = "";
                        var e = new ProtoReader(r.Bytes("ModelProto.metadata_props"));
                        while (!e.AtEnd)
                        {
                            switch (e.Next())
                            {
                                case 1: key = e.String("StringStringEntryProto.key"); break;
                                case 2: value = e.String("StringStringEntryProto.value"); break;
                                default: e.Skip(); break;
                            }
                        }
                        model.MetadataProps.Add(new(key, value));
                        break;
                    }
                default: r.Skip(); break;
            }
        }
        if (model.IrVersion == 0) throw new ProtoFormatException("ModelProto.ir_version missing (not an ONNX model?)");
        if (!hasGraph) throw new ProtoFormatException("ModelProto.graph missing (not an ONNX model?)");
        return model;
    }
}

/// <summary>
/// GraphProto (onnx.proto): node 1, name 2, initializer 5, doc_string 10, input 11, output 12, value_info 13,
/// sparse_initializer 15 (only counted: a policy with sparse weights is refused).
/// </summary>
public sealed class OnnxGraph
{
    public List<OnnxNode> Nodes { get; } = [];
    public string Name { get; set; } = "";
    public List<OnnxTensor> Initializers { get; } = [];
    public string DocString { get; set; } = "";
    public List<OnnxValueInfo> Inputs { get; } = [];
    public List<OnnxValueInfo> Outputs { get; } = [];
    public List<OnnxValueInfo> ValueInfo { get; } = [];
    public int SparseInitializerCount { get; private set; }

    public void Write(ProtoWriter w)
    {
        foreach (OnnxNode node in Nodes) w.Message(1, node.Write);
        if (Name.Length > 0) w.String(2, Name);
        foreach (OnnxTensor tensor in Initializers) w.Message(5, tensor.Write);
        if (DocString.Length > 0) w.String(10, DocString);
        foreach (OnnxValueInfo input in Inputs) w.Message(11, input.Write);
        foreach (OnnxValueInfo output in Outputs) w.Message(12, output.Write);
        foreach (OnnxValueInfo info in ValueInfo) w.Message(13, info.Write);
    }

    public static OnnxGraph Parse(ReadOnlySpan<byte> bytes)
    {
        var graph = new OnnxGraph();
        var r = new ProtoReader(bytes);
        while (!r.AtEnd)
        {
            switch (r.Next())
            {
                case 1: graph.Nodes.Add(OnnxNode.Parse(r.Bytes("GraphProto.node"))); break;
                case 2: graph.Name = r.String("GraphProto.name"); break;
                case 5: graph.Initializers.Add(OnnxTensor.Parse(r.Bytes("GraphProto.initializer"))); break;
                case 10: graph.DocString = r.String("GraphProto.doc_string"); break;
                case 11: graph.Inputs.Add(OnnxValueInfo.Parse(r.Bytes("GraphProto.input"))); break;
                case 12: graph.Outputs.Add(OnnxValueInfo.Parse(r.Bytes("GraphProto.output"))); break;
                case 13: graph.ValueInfo.Add(OnnxValueInfo.Parse(r.Bytes("GraphProto.value_info"))); break;
                case 15: r.Skip(); graph.SparseInitializerCount++; break;
                default: r.Skip(); break;
            }
        }
        return graph;
    }
}

/// <summary>NodeProto (onnx.proto): input 1, output 2, name 3, op_type 4, attribute 5, doc_string 6, domain 7.</summary>
public sealed class OnnxNode
{
    public List<string> Inputs { get; } = [];
    public List<string> Outputs { get; } = [];
    public string Name { get; set; } = "";
    public string OpType { get; set; } = "";
    public string Domain { get; set; } = "";
    public List<OnnxAttribute> Attributes { get; } = [];

    /// <summary>For error messages: 'name' (OpType), or the node's first output when it has no name.</summary>
    public string Describe() => Name.Length > 0 ? $"'{Name}' ({OpType})" : $"'{(Outputs.Count > 0 ? Outputs[0] : "?")}' ({OpType}, unnamed; named by its output)";

    public OnnxAttribute? Attribute(string name) => Attributes.FirstOrDefault(a => a.Name == name);

    public void Write(ProtoWriter w)
    {
        foreach (string input in Inputs) w.String(1, input);
        foreach (string output in Outputs) w.String(2, output);
        if (Name.Length > 0) w.String(3, Name);
        w.String(4, OpType);
        foreach (OnnxAttribute attribute in Attributes) w.Message(5, attribute.Write);
        if (Domain.Length > 0) w.String(7, Domain);
    }

    public static OnnxNode Parse(ReadOnlySpan<byte> bytes)
    {
        var node = new OnnxNode();
        var r = new ProtoReader(bytes);
        while (!r.AtEnd)
        {
            switch (r.Next())
            {
                case 1: node.Inputs.Add(r.String("NodeProto.input")); break;
                case 2: node.Outputs.Add(r.String("NodeProto.output")); break;
                case 3: node.Name = r.String("NodeProto.name"); break;
                case 4: node.OpType = r.String("NodeProto.op_type"); break;
                case 5: node.Attributes.Add(OnnxAttribute.Parse(r.Bytes("NodeProto.attribute"))); break;
                case 7: node.Domain = r.String("NodeProto.domain"); break;
                default: r.Skip(); break;
            }
        }
        return node;
    }
}

/// <summary>AttributeProto.AttributeType (onnx.proto).</summary>
public enum OnnxAttributeType { Undefined = 0, Float = 1, Int = 2, String = 3, Tensor = 4, Graph = 5, Floats = 6, Ints = 7, Strings = 8, Tensors = 9, Graphs = 10, SparseTensor = 11, SparseTensors = 12, TypeProto = 13, TypeProtos = 14 }

/// <summary>
/// AttributeProto (onnx.proto): name 1, f 2, i 3, s 4, t 5, g 6, floats 7, ints 8, strings 9, tensors 10, graphs 11,
/// type 20. A graph-valued attribute (If/Loop/Scan bodies) is only flagged, never parsed: such a node is refused.
/// </summary>
public sealed class OnnxAttribute
{
    public string Name { get; set; } = "";
    public OnnxAttributeType Type { get; set; }
    public float F { get; set; }
    public long I { get; set; }
    public byte[] S { get; set; } = [];
    public OnnxTensor? T { get; set; }
    public List<float> Floats { get; } = [];
    public List<long> Ints { get; } = [];
    public bool HasGraph { get; private set; }

    public static OnnxAttribute Int(string name, long value) => new() { Name = name, Type = OnnxAttributeType.Int, I = value };
    public static OnnxAttribute Float(string name, float value) => new() { Name = name, Type = OnnxAttributeType.Float, F = value };

    public void Write(ProtoWriter w)
    {
        w.String(1, Name);
        switch (Type)
        {
            case OnnxAttributeType.Float: w.Float(2, F); break;
            case OnnxAttributeType.Int: w.Int64(3, I); break;
            case OnnxAttributeType.String: w.Bytes(4, S); break;
            case OnnxAttributeType.Tensor when T is not null: w.Message(5, T.Write); break;
            case OnnxAttributeType.Floats: foreach (float f in Floats) w.Float(7, f); break;
            case OnnxAttributeType.Ints: w.PackedInt64(8, Ints); break;
            default: throw new NotSupportedException($"writing attribute type {Type}");
        }
        w.Int64(20, (long)Type);
    }

    public static OnnxAttribute Parse(ReadOnlySpan<byte> bytes)
    {
        var a = new OnnxAttribute();
        var r = new ProtoReader(bytes);
        while (!r.AtEnd)
        {
            switch (r.Next())
            {
                case 1: a.Name = r.String("AttributeProto.name"); break;
                case 2: a.F = r.Float("AttributeProto.f"); break;
                case 3: a.I = r.Int64("AttributeProto.i"); break;
                case 4: a.S = r.Bytes("AttributeProto.s").ToArray(); break;
                case 5: a.T = OnnxTensor.Parse(r.Bytes("AttributeProto.t")); break;
                case 6 or 11: r.Skip(); a.HasGraph = true; break;
                case 7: r.Floats("AttributeProto.floats", a.Floats); break;
                case 8: r.Int64s("AttributeProto.ints", a.Ints); break;
                case 20: a.Type = (OnnxAttributeType)r.Int64("AttributeProto.type"); break;
                default: r.Skip(); break;
            }
        }
        return a;
    }
}

/// <summary>TensorProto.DataType values (onnx.proto) that this code names in messages.</summary>
public static class OnnxDataType
{
    public const int Float = 1, Uint8 = 2, Int8 = 3, Uint16 = 4, Int16 = 5, Int32 = 6, Int64 = 7, String = 8, Bool = 9, Float16 = 10, Double = 11, Uint32 = 12, Uint64 = 13, BFloat16 = 16;

    public static string Name(int type) => type switch
    {
        Float => "float32",
        Uint8 => "uint8",
        Int8 => "int8",
        Uint16 => "uint16",
        Int16 => "int16",
        Int32 => "int32",
        Int64 => "int64",
        String => "string",
        Bool => "bool",
        Float16 => "float16",
        Double => "float64",
        Uint32 => "uint32",
        Uint64 => "uint64",
        BFloat16 => "bfloat16",
        _ => $"data type {type}",
    };
}

/// <summary>
/// TensorProto (onnx.proto): dims 1, data_type 2, float_data 4, int32_data 5, int64_data 7, name 8, raw_data 9,
/// double_data 10, external_data 13, data_location 14. Float tensors are decoded from raw_data (little-endian) or
/// float_data; int64 ones from raw_data or int64_data (for the shapes and axes torch.onnx writes); other types keep only
/// their type, so an error can name it. Tensors stored outside the file (external data) are flagged.
/// </summary>
public sealed class OnnxTensor
{
    public string Name { get; set; } = "";
    public long[] Dims { get; set; } = [];
    public int DataType { get; set; }
    /// <summary>The values of a float32 tensor (null for another type).</summary>
    public float[]? FloatValues { get; set; }
    /// <summary>The values of an int64 tensor (null for another type).</summary>
    public long[]? Int64Values { get; set; }
    public bool External { get; private set; }

    public long ElementCount => Dims.Aggregate(1L, (a, d) => a * d);

    public static OnnxTensor FromFloats(string name, long[] dims, float[] values) =>
        new() { Name = name, Dims = dims, DataType = OnnxDataType.Float, FloatValues = values };

    public void Write(ProtoWriter w)
    {
        w.PackedInt64(1, Dims);
        w.Int64(2, DataType);
        w.String(8, Name);
        if (DataType != OnnxDataType.Float || FloatValues is null) throw new NotSupportedException("only float32 tensors are written");
        var raw = new byte[FloatValues.Length * 4];
        for (int i = 0; i < FloatValues.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(4 * i), FloatValues[i]);
        w.Bytes(9, raw);
    }

    public static OnnxTensor Parse(ReadOnlySpan<byte> bytes)
    {
        var t = new OnnxTensor();
        var dims = new List<long>();
        var floats = new List<float>();
        var int64s = new List<long>();
        var doubles = new List<double>();
        ReadOnlySpan<byte> raw = default;
        bool hasRaw = false;
        var r = new ProtoReader(bytes);
        while (!r.AtEnd)
        {
            switch (r.Next())
            {
                case 1: r.Int64s("TensorProto.dims", dims); break;
                case 2: t.DataType = (int)r.Int64("TensorProto.data_type"); break;
                case 4: r.Floats("TensorProto.float_data", floats); break;
                case 7: r.Int64s("TensorProto.int64_data", int64s); break;
                case 8: t.Name = r.String("TensorProto.name"); break;
                case 9: raw = r.Bytes("TensorProto.raw_data"); hasRaw = true; break;
                case 10: r.Doubles("TensorProto.double_data", doubles); break;
                case 13: r.Skip(); t.External = true; break;
                case 14: t.External |= r.Int64("TensorProto.data_location") == 1; break;
                default: r.Skip(); break;
            }
        }
        t.Dims = [.. dims];
        if (t.Dims.Any(d => d < 0)) throw new ProtoFormatException($"tensor '{t.Name}' has a negative dimension");
        if (t.External) return t;
        long count = t.ElementCount;
        if (t.DataType == OnnxDataType.Float)
        {
            if (hasRaw)
            {
                if (raw.Length != count * 4) throw new ProtoFormatException($"tensor '{t.Name}': raw_data holds {raw.Length} bytes, its shape [{string.Join(", ", t.Dims)}] needs {count * 4}");
                t.FloatValues = new float[count];
                raw.CopyTo(MemoryMarshal.AsBytes(t.FloatValues.AsSpan()));
                if (!BitConverter.IsLittleEndian)
                    for (int i = 0; i < count; i++) t.FloatValues[i] = BinaryPrimitives.ReadSingleLittleEndian(raw[(4 * i)..]);
            }
            else
            {
                if (floats.Count != count) throw new ProtoFormatException($"tensor '{t.Name}': float_data holds {floats.Count} values, its shape [{string.Join(", ", t.Dims)}] needs {count}");
                t.FloatValues = [.. floats];
            }
        }
        else if (t.DataType == OnnxDataType.Int64)
        {
            if (hasRaw)
            {
                if (raw.Length != count * 8) throw new ProtoFormatException($"tensor '{t.Name}': raw_data holds {raw.Length} bytes, its shape needs {count * 8}");
                t.Int64Values = new long[count];
                for (int i = 0; i < count; i++) t.Int64Values[i] = BinaryPrimitives.ReadInt64LittleEndian(raw[(8 * i)..]);
            }
            else t.Int64Values = [.. int64s];
        }
        return t;
    }
}

/// <summary>One dimension of a shape: a fixed size, a symbolic name (e.g. "batch"), or unknown (both null).</summary>
public readonly record struct OnnxDim(long? Value, string? Param)
{
    public override string ToString() => Value?.ToString() ?? Param ?? "?";
}

/// <summary>
/// ValueInfoProto (onnx.proto): name 1, type 2 → TypeProto tensor_type 1 → Tensor elem_type 1, shape 2 →
/// TensorShapeProto dim 1 → Dimension dim_value 1 / dim_param 2. A value that is not a tensor (sequence, map, …) has
/// <see cref="IsTensor"/> false.
/// </summary>
public sealed class OnnxValueInfo
{
    public string Name { get; set; } = "";
    public bool IsTensor { get; set; } = true;
    public int ElemType { get; set; }
    /// <summary>Null when the shape is not given.</summary>
    public List<OnnxDim>? Shape { get; set; }

    public string ShapeText => Shape is null ? "unknown" : $"[{string.Join(", ", Shape)}]";

    public static OnnxValueInfo FloatTensor(string name, params OnnxDim[] shape) =>
        new() { Name = name, ElemType = OnnxDataType.Float, Shape = [.. shape] };

    public void Write(ProtoWriter w)
    {
        w.String(1, Name);
        w.Message(2, type => type.Message(1, tensor =>
        {
            tensor.Int64(1, ElemType);
            if (Shape is not null)
                tensor.Message(2, shape =>
                {
                    foreach (OnnxDim dim in Shape)
                        shape.Message(1, d =>
                        {
                            if (dim.Value is long v) d.Int64(1, v);
                            else if (dim.Param is string p) d.String(2, p);
                        });
                });
        }));
    }

    public static OnnxValueInfo Parse(ReadOnlySpan<byte> bytes)
    {
        var info = new OnnxValueInfo { IsTensor = false };
        var r = new ProtoReader(bytes);
        while (!r.AtEnd)
        {
            switch (r.Next())
            {
                case 1: info.Name = r.String("ValueInfoProto.name"); break;
                case 2:
                    {
                        var type = new ProtoReader(r.Bytes("ValueInfoProto.type"));
                        while (!type.AtEnd)
                        {
                            if (type.Next() != 1) { type.Skip(); continue; }
                            info.IsTensor = true;
                            var tensor = new ProtoReader(type.Bytes("TypeProto.tensor_type"));
                            while (!tensor.AtEnd)
                            {
                                switch (tensor.Next())
                                {
                                    case 1: info.ElemType = (int)tensor.Int64("TypeProto.Tensor.elem_type"); break;
                                    case 2: info.Shape = ParseShape(tensor.Bytes("TypeProto.Tensor.shape")); break;
                                    default: tensor.Skip(); break;
                                }
                            }
                        }
                        break;
                    }
                default: r.Skip(); break;
            }
        }
        return info;
    }

    static List<OnnxDim> ParseShape(ReadOnlySpan<byte> bytes)
    {
        var dims = new List<OnnxDim>();
        var shape = new ProtoReader(bytes);
        while (!shape.AtEnd)
        {
            if (shape.Next() != 1) { shape.Skip(); continue; }
            long? value = null;
            string? param = null;
            var d = new ProtoReader(shape.Bytes("TensorShapeProto.dim"));
            while (!d.AtEnd)
            {
                switch (d.Next())
                {
                    case 1: value = d.Int64("Dimension.dim_value"); break;
                    case 2: param = d.String("Dimension.dim_param"); break;
                    default: d.Skip(); break;
                }
            }
            dims.Add(new OnnxDim(value, param));
        }
        return dims;
    }
}
