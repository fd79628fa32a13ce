namespace RoboRl.Onnx.Tests;

/// <summary>
/// ONNX models shaped the way torch.onnx writes an actor MLP, built with RoboRl.Onnx's writer (no Python here):
/// node names like "/actor/actor.0/Gemm", nn.Linear weights as initializers "actor.0.weight" [out, in] used by Gemm with
/// transB = 1 (or, as newer exporters write, MatMul on a pre-transposed [in, out] constant plus an Add), constants folded
/// into Constant nodes, an rsl_rl-style empirical normaliser as Sub/Div, and optional output Tanh / Mul / Add.
/// </summary>
public sealed class TorchStyleMlp
{
    public required int[] Sizes { get; init; }
    /// <summary>Hidden activation op type: "Relu", "Elu", "Tanh", …</summary>
    public string Hidden { get; init; } = "Elu";
    /// <summary>Op type after the last layer (null: none, as rsl_rl's actor).</summary>
    public string? OutputActivation { get; init; }
    public bool MatMulAdd { get; init; }
    public bool Normalise { get; init; } = true;
    /// <summary>Output scaling y = a · scale + offset (null: none).</summary>
    public (float[] Scale, float[] Offset)? OutputScaling { get; init; }
    /// <summary>null: a dynamic batch dimension named "batch_size"; else that fixed batch (rsl_rl exports batch 1).</summary>
    public long? Batch { get; init; }
    public string InputName { get; init; } = "obs";
    public string OutputName { get; init; } = "actions";
    public int Seed { get; init; } = 5;

    public float[] Mean { get; private set; } = [];
    public float[] Std { get; private set; } = [];

    public OnnxModel Build()
    {
        var random = new Random(Seed);
        float[] Uniform(int count, float bound) => Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1) * bound).ToArray();
        var graph = new OnnxGraph { Name = "main_graph" };
        var batch = Batch is long b ? new OnnxDim(b, null) : new OnnxDim(null, "batch_size");
        graph.Inputs.Add(OnnxValueInfo.FloatTensor(InputName, batch, new OnnxDim(Sizes[0], null)));
        int constantIndex = 0;
        string Constant(float[] values, long[] dims)
        {
            string name = $"/Constant_{constantIndex++}_output_0";
            var node = new OnnxNode { OpType = "Constant", Name = $"/Constant_{constantIndex}" };
            node.Outputs.Add(name);
            node.Attributes.Add(new OnnxAttribute { Name = "value", Type = OnnxAttributeType.Tensor, T = OnnxTensor.FromFloats("", dims, values) });
            graph.Nodes.Add(node);
            return name;
        }
        string Node(string op, string name, params string[] inputs)
        {
            var node = new OnnxNode { OpType = op, Name = name };
            node.Inputs.AddRange(inputs);
            node.Outputs.Add(name + "_output_0");
            graph.Nodes.Add(node);
            return node.Outputs[0];
        }

        string x = InputName;
        int n = Sizes[0];
        if (Normalise)
        {
            Mean = Uniform(n, 0.5f);
            Std = Enumerable.Range(0, n).Select(_ => 0.2f + (float)random.NextDouble()).ToArray();
            x = Node("Sub", "/normalizer/Sub", x, Constant(Mean, [1, n]));
            x = Node("Div", "/normalizer/Div", x, Constant(Std, [1, n]));
        }
        else
        {
            Mean = new float[n];
            Std = Enumerable.Repeat(1f, n).ToArray();
        }
        for (int l = 0; l + 1 < Sizes.Length; l++)
        {
            int inputs = Sizes[l], outputs = Sizes[l + 1];
            float bound = 1f / MathF.Sqrt(inputs);
            float[] weight = Uniform(outputs * inputs, bound), bias = Uniform(outputs, bound);
            string layer = $"/actor/actor.{2 * l}";
            if (MatMulAdd)
            {
                var transposed = new float[inputs * outputs];
                for (int o = 0; o < outputs; o++)
                    for (int i = 0; i < inputs; i++) transposed[i * outputs + o] = weight[o * inputs + i];
                graph.Initializers.Add(OnnxTensor.FromFloats($"onnx::MatMul_{100 + l}", [inputs, outputs], transposed));
                graph.Initializers.Add(OnnxTensor.FromFloats($"actor.{2 * l}.bias", [outputs], bias));
                x = Node("MatMul", layer + "/MatMul", x, $"onnx::MatMul_{100 + l}");
                x = Node("Add", layer + "/Add", $"actor.{2 * l}.bias", x);
            }
            else
            {
                graph.Initializers.Add(OnnxTensor.FromFloats($"actor.{2 * l}.weight", [outputs, inputs], weight));
                graph.Initializers.Add(OnnxTensor.FromFloats($"actor.{2 * l}.bias", [outputs], bias));
                x = Node("Gemm", layer + "/Gemm", x, $"actor.{2 * l}.weight", $"actor.{2 * l}.bias");
                graph.Nodes[^1].Attributes.AddRange([OnnxAttribute.Float("alpha", 1f), OnnxAttribute.Float("beta", 1f), OnnxAttribute.Int("transB", 1)]);
            }
            bool last = l + 2 == Sizes.Length;
            if (!last) x = Node(Hidden, $"/actor/actor.{2 * l + 1}/{Hidden}", x);
            else if (OutputActivation is not null) x = Node(OutputActivation, $"/actor/actor.{2 * l + 1}/{OutputActivation}", x);
        }
        if (OutputScaling is var (scale, offset))
        {
            x = Node("Mul", "/scale/Mul", x, Constant(scale, [scale.Length]));
            x = Node("Add", "/scale/Add", x, Constant(offset, [offset.Length]));
        }
        // The last node writes the graph output under its own name, as torch.onnx does.
        graph.Nodes[^1].Outputs[0] = OutputName;
        graph.Outputs.Add(OnnxValueInfo.FloatTensor(OutputName, batch, new OnnxDim(Sizes[^1], null)));

        var model = new OnnxModel { IrVersion = 8, ProducerName = "pytorch", ProducerVersion = "2.5.1", Graph = graph };
        model.OpsetImports.Add(("", 17));
        return model;
    }

    public string Write(string path)
    {
        File.WriteAllBytes(path, Build().ToBytes());
        return path;
    }
}
