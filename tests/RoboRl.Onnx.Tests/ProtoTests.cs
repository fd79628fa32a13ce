namespace RoboRl.Onnx.Tests;

/// <summary>The hand-written protobuf layer: what it writes it reads back, and it reads both encodings protobuf allows.</summary>
public class ProtoTests
{
    [Test]
    public void AModelReadsBackAsWritten()
    {
        var model = new TorchStyleMlp { Sizes = [5, 7, 2], Hidden = "Relu", OutputActivation = "Tanh" }.Build();
        model.MetadataProps.Add(new("roborl.note", "ünïcode and \"quotes\""));
        model.DocString = "doc";
        OnnxModel back = OnnxModel.Parse(model.ToBytes());

        Assert.That(back.IrVersion, Is.EqualTo(8));
        Assert.That(back.ProducerName, Is.EqualTo("pytorch"));
        Assert.That(back.DocString, Is.EqualTo("doc"));
        Assert.That(back.OpsetImports, Is.EqualTo(new[] { ("", 17L) }));
        Assert.That(back.MetadataProps, Is.EqualTo(model.MetadataProps));
        Assert.That(back.Graph.Nodes.Select(n => (n.Name, n.OpType, string.Join(",", n.Inputs), string.Join(",", n.Outputs))),
            Is.EqualTo(model.Graph.Nodes.Select(n => (n.Name, n.OpType, string.Join(",", n.Inputs), string.Join(",", n.Outputs)))));
        OnnxNode gemm = back.Graph.Nodes.First(n => n.OpType == "Gemm");
        Assert.That(gemm.Attribute("transB")!.I, Is.EqualTo(1));
        Assert.That(gemm.Attribute("alpha")!.F, Is.EqualTo(1f));
        OnnxNode constant = back.Graph.Nodes.First(n => n.OpType == "Constant");
        Assert.That(constant.Attribute("value")!.T!.Dims, Is.EqualTo(new long[] { 1, 5 }));
        Assert.That(back.Graph.Initializers.Select(t => (t.Name, t.Dims, t.FloatValues)),
            Is.EqualTo(model.Graph.Initializers.Select(t => (t.Name, t.Dims, t.FloatValues))));
        Assert.That(back.Graph.Inputs[0].Shape, Is.EqualTo(new[] { new OnnxDim(null, "batch_size"), new OnnxDim(5, null) }));
        Assert.That(back.Graph.Outputs[0].ElemType, Is.EqualTo(OnnxDataType.Float));
    }

    [Test]
    public void FloatDataAndUnpackedDimsAreReadLikeRawData()
    {
        // TensorProto { dims: 2 (unpacked), dims: 3, data_type: FLOAT, float_data: packed [1..6], name: "w" }
        var w = new ProtoWriter();
        w.Int64(1, 2);
        w.Int64(1, 3);
        w.Int64(2, OnnxDataType.Float);
        var packed = new byte[24];
        for (int i = 0; i < 6; i++) BitConverter.TryWriteBytes(packed.AsSpan(4 * i), (float)(i + 1));
        w.Bytes(4, packed);
        w.String(8, "w");
        OnnxTensor t = OnnxTensor.Parse(w.ToArray());
        Assert.That(t.Name, Is.EqualTo("w"));
        Assert.That(t.Dims, Is.EqualTo(new long[] { 2, 3 }));
        Assert.That(t.FloatValues, Is.EqualTo(new float[] { 1, 2, 3, 4, 5, 6 }));
    }

    [Test]
    public void MalformedBytesThrowTheirOwnException()
    {
        byte[] good = new TorchStyleMlp { Sizes = [5, 7, 2] }.Build().ToBytes();
        // Every cut inside the graph (the last 6 bytes are the opset import, after which the rest is a valid prefix).
        for (int cut = 1; cut < good.Length - 6; cut += 13)
            Assert.That(() => OnnxModel.Parse(good.AsSpan(0, cut)), Throws.InstanceOf<ProtoFormatException>(), $"cut at {cut}");
        Assert.That(() => OnnxModel.Parse([0x0b]), Throws.InstanceOf<ProtoFormatException>().With.Message.Contains("wire type 3"));
        Assert.That(() => OnnxModel.Parse([0x08, 0x80]), Throws.InstanceOf<ProtoFormatException>().With.Message.Contains("truncated varint"));
    }
}
