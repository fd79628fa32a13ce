using System.Text.Json.Nodes;
using RoboRl.Core.Policy;
using RoboRl.Core.Tasks;
using static RoboRl.Onnx.Tests.OnnxTestSupport;

namespace RoboRl.Onnx.Tests;

/// <summary>`roborl policy import-onnx`: a policy exported by torch.onnx elsewhere becomes a bundle that computes what ONNX Runtime computes; anything else is refused naming the node.</summary>
public class ImportTests
{
    string _dir = "";

    [SetUp] public void SetUp() => _dir = TempDir();
    [TearDown] public void TearDown() => Directory.Delete(_dir, recursive: true);

    static readonly int[] HoverSizes = [HoverObservation.ActorSize(32), 64, 64, 4];

    string HoverSpec(Action<JsonObject>? edit = null)
    {
        var spec = new JsonObject
        {
            ["layout"] = "hover",
            ["robot"] = RobotFile,
            ["control_rate_hz"] = 100,
            ["action_history_length"] = 32,
            ["training"] = new JsonObject { ["framework"] = "isaaclab rsl_rl", ["task"] = "a Crazyflie hover task with RoboRl's observation" },
        };
        edit?.Invoke(spec);
        string path = Path.Combine(_dir, "spec.json");
        File.WriteAllText(path, spec.ToJsonString());
        return path;
    }

    (int Code, string Out, string Err, string Bundle) Import(string model, string? spec)
    {
        string bundle = Path.Combine(_dir, "imported.safetensors");
        string[] args = spec is null ? ["policy", "import-onnx", model, "-o", bundle] : ["policy", "import-onnx", model, "--spec", spec, "-o", bundle];
        var (code, output, error) = RunCli(args);
        return (code, output, error, bundle);
    }

    /// <summary>ONNX Runtime on the model, one observation at a time when its batch is fixed (rsl_rl exports batch 1).</summary>
    static float[] OnnxActions(string model, float[] observations, int n, bool fixedBatchOfOne)
    {
        if (!fixedBatchOfOne) return RunOnnxRuntime(model, observations, n).Single().Value;
        var all = new List<float>();
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(model);
        string output = session.OutputMetadata.Keys.Single();
        using var runOptions = new Microsoft.ML.OnnxRuntime.RunOptions();
        for (int k = 0; k < observations.Length / n; k++)
        {
            using var input = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(observations[(k * n)..((k + 1) * n)], [1, n]);
            using var outputs = session.Run(runOptions, ["obs"], [input], [output]);
            all.AddRange(outputs[0].GetTensorDataAsSpan<float>().ToArray());
        }
        return [.. all];
    }

    [Test]
    public void AnRslRlStyleGemmReluActorWithItsNormaliserMatchesOnnxRuntime()
    {
        // rsl_rl's export: input "obs" [1, n], Sub/Div by its empirical normaliser (Constants [1, n]), Gemm + activation,
        // a linear output named "actions".
        var mlp = new TorchStyleMlp { Sizes = HoverSizes, Hidden = "Relu", Batch = 1 };
        string model = mlp.Write(Path.Combine(_dir, "policy.onnx"));
        var (code, _, error, bundlePath) = Import(model, HoverSpec());
        Assert.That(code, Is.Zero, error);

        PolicyBundle bundle = PolicyBundle.Read(bundlePath);
        Assert.That(bundle.ObservationMean, Is.EqualTo(mlp.Mean), "Sub's constant is the mean, exactly");
        Assert.That(bundle.ObservationStd, Is.EqualTo(mlp.Std), "Div's constant is the std, exactly");
        Assert.That(bundle.Layers.Select(l => l.Activation), Is.EqualTo(new[] { Activation.Relu, Activation.Relu, Activation.Identity }));
        Assert.That(bundle.ObservationNames, Is.EqualTo(HoverObservation.ActorNames(32)));
        Assert.That(bundle.ActionHigh, Is.EqualTo(Enumerable.Repeat(0.12f, 4)), "the hover layout's force scaling from the robot config");

        float[] observations = Observations(1000, mlp.Mean, mlp.Std);
        float[] onnx = OnnxActions(model, observations, bundle.ObservationSize, fixedBatchOfOne: true);
        float error1 = MaxAbsDifference(EngineActions(bundle, observations), onnx);
        Assert.That(error1, Is.LessThanOrEqualTo(1e-5f));
        Assert.That(onnx.Max() - onnx.Min(), Is.GreaterThan(0.5f), "the actions vary: the comparison means something");
        TestContext.Out.WriteLine($"max |Δ| {error1:G3}");
    }

    [Test]
    public void AMatMulAddTanhActorWithOutputScalingMatchesOnnxRuntimesCommand()
    {
        // A dynamic batch, MatMul on a pre-transposed weight + Add bias, tanh everywhere, then y = 0.06·a + 0.06: the model
        // outputs newtons itself, so the bundle's action scaling comes from the model (low 0, high 0.12).
        var scale = Enumerable.Repeat(0.06f, 4).ToArray();
        var mlp = new TorchStyleMlp { Sizes = [18, 32, 32, 4], Hidden = "Tanh", OutputActivation = "Tanh", MatMulAdd = true, OutputScaling = (scale, scale), Seed = 9 };
        string model = mlp.Write(Path.Combine(_dir, "policy.onnx"));
        string spec = HoverSpec(s =>
        {
            s.Remove("layout");
            s["action_history_length"] = 0;
            s["observation_names"] = new JsonArray([.. Enumerable.Range(0, 18).Select(i => (JsonNode)$"state_{i}")]);
            s["action_names"] = new JsonArray("motor_1", "motor_2", "motor_3", "motor_4");
            s["action_unit"] = "N";
        });
        var (code, output, error, bundlePath) = Import(model, spec);
        Assert.That(code, Is.Zero, error);
        Assert.That(output, Does.Contain("scaling from the model's output ops"));
        PolicyBundle bundle = PolicyBundle.Read(bundlePath);
        Assert.That(bundle.ActionLow, Is.EqualTo(new float[4]).Within(1e-7f));
        Assert.That(bundle.ActionHigh, Is.EqualTo(Enumerable.Repeat(0.12f, 4)).Within(1e-7f));

        float[] observations = Observations(1000, mlp.Mean, mlp.Std);
        float[] onnx = OnnxActions(model, observations, 18, fixedBatchOfOne: false);
        Assert.That(MaxAbsDifference(EngineActions(bundle, observations, scaled: true), onnx), Is.LessThanOrEqualTo(1e-5f));
    }

    [Test]
    public void AnImportedBundleIsIntactAndEvalRunsIt()
    {
        var mlp = new TorchStyleMlp { Sizes = HoverSizes, Hidden = "Tanh", OutputActivation = "Tanh", Seed = 2 };
        string model = mlp.Write(Path.Combine(_dir, "policy.onnx"));
        var (code, _, error, bundlePath) = Import(model, HoverSpec());
        Assert.That(code, Is.Zero, error);

        var inspect = RunCli("policy", "inspect", bundlePath, "--json");
        Assert.That(inspect.Code, Is.Zero, inspect.Err);
        JsonNode report = JsonNode.Parse(inspect.Out.TrimEnd().Split('\n')[^1])!;
        Assert.That(report["checksum_verified"]!.GetValue<bool>(), Is.True);
        Assert.That(report["golden"]!["ok"]!.GetValue<bool>(), Is.True);
        Assert.That(report["training_config"]!["training"]!["framework"]!.GetValue<string>(), Is.EqualTo("isaaclab rsl_rl"));

        // eval loads it: the robot, observation layout, action names, control rate and history all fit the hover task.
        var eval = RunCli("eval", bundlePath, "--episodes", "4", "--json");
        Assert.That(eval.Code, Is.Zero, eval.Err);
        Assert.That(JsonNode.Parse(eval.Out.TrimEnd().Split('\n')[^1])!["success_rate"], Is.Not.Null);
    }

    // ---------------------------------------------------------------------------------------------
    // Refusals: exit code 2, one line naming the file, the node and what is supported, no stack trace.

    void AssertRefused(string model, string? spec, params string[] expected)
    {
        var (code, output, error, bundle) = Import(model, spec);
        Assert.That(code, Is.EqualTo(2), error);
        Assert.That(output, Is.Empty);
        string[] lines = error.TrimEnd().Split('\n');
        Assert.That(lines, Has.Length.EqualTo(1), error);
        Assert.That(lines[0], Does.StartWith("policy import-onnx: "));
        foreach (string s in expected) Assert.That(lines[0], Does.Contain(s));
        Assert.That(error, Does.Not.Contain("   at ").And.Not.Contain("Exception"), "no stack trace");
        Assert.That(File.Exists(bundle), Is.False, "nothing written");
    }

    [Test]
    public void EluIsRefusedNamingTheNodeAndTheActivationsTheEngineRuns()
    {
        // rsl_rl's default activation: RoboRl's engine (and the firmware's C engine) has no Elu, so it is refused, not approximated.
        string model = new TorchStyleMlp { Sizes = HoverSizes, Hidden = "Elu" }.Write(Path.Combine(_dir, "elu.onnx"));
        AssertRefused(model, HoverSpec(), "elu.onnx", "'/actor/actor.1/Elu' (Elu)", "identity, relu and tanh");
    }

    [Test]
    public void AnUnsupportedOperatorIsRefused()
    {
        var mlp = new TorchStyleMlp { Sizes = [6, 8, 3], Hidden = "Relu" };
        OnnxModel m = mlp.Build();
        OnnxNode last = m.Graph.Nodes[^1];
        last.Outputs[0] = "logits";
        var softmax = new OnnxNode { OpType = "Softmax", Name = "/head/Softmax" };
        softmax.Inputs.Add("logits");
        softmax.Outputs.Add("actions");
        m.Graph.Nodes.Add(softmax);
        string model = Path.Combine(_dir, "softmax.onnx");
        File.WriteAllBytes(model, m.ToBytes());
        AssertRefused(model, NamedSpec(6, 3), "softmax.onnx", "'/head/Softmax' (Softmax)", "Gemm, MatMul");
    }

    [Test]
    public void ABranchIsRefused()
    {
        // A residual connection: the first hidden layer's output feeds the second layer and an Add after it.
        var mlp = new TorchStyleMlp { Sizes = [6, 8, 8, 3], Hidden = "Relu", Normalise = false };
        OnnxModel m = mlp.Build();
        List<OnnxNode> nodes = m.Graph.Nodes;
        int secondRelu = nodes.FindLastIndex(n => n.OpType == "Relu");
        string firstHidden = nodes.First(n => n.OpType == "Relu").Outputs[0];
        var residual = new OnnxNode { OpType = "Add", Name = "/actor/residual/Add" };
        residual.Inputs.AddRange([nodes[secondRelu].Outputs[0], firstHidden]);
        residual.Outputs.Add("residual_output_0");
        nodes[secondRelu + 1].Inputs[0] = "residual_output_0";
        nodes.Insert(secondRelu + 1, residual);
        string model = Path.Combine(_dir, "residual.onnx");
        File.WriteAllBytes(model, m.ToBytes());
        AssertRefused(model, NamedSpec(6, 3), "residual.onnx", "'/actor/residual/Add' (Add)", "branch");
    }

    [Test]
    public void AnInt64InputIsRefused()
    {
        OnnxModel m = new TorchStyleMlp { Sizes = [6, 8, 3], Hidden = "Relu" }.Build();
        m.Graph.Inputs[0].ElemType = OnnxDataType.Int64;
        string model = Path.Combine(_dir, "int64.onnx");
        File.WriteAllBytes(model, m.ToBytes());
        AssertRefused(model, NamedSpec(6, 3), "int64.onnx", "input 'obs'", "is int64; expected float32");
    }

    [Test]
    public void ASpecOfAnotherSizeIsRefusedNamingTheSpecKey()
    {
        string model = new TorchStyleMlp { Sizes = [12, 16, 4], Hidden = "Relu" }.Write(Path.Combine(_dir, "small.onnx"));
        // The hover layout with a history of 32 has 149 observations; this model takes 12.
        AssertRefused(model, HoverSpec(), "spec.json", "$.layout", "149 observation names", "takes 12 values");
        AssertRefused(model, NamedSpec(11, 4), "spec.json", "$.observation_names", "11 observation names", "takes 12 values");
        AssertRefused(model, NamedSpec(12, 3), "spec.json", "$.action_names", "3 action names", "has 4 values");
    }

    [Test]
    public void SpecErrorsNameTheFileTheKeyAndWhatWasExpected()
    {
        string model = new TorchStyleMlp { Sizes = [6, 8, 3], Hidden = "Relu" }.Write(Path.Combine(_dir, "m.onnx"));
        AssertRefused(model, HoverSpec(s => s.Remove("control_rate_hz")), "spec.json", "$.control_rate_hz", "missing required key");
        AssertRefused(model, HoverSpec(s => s["rate"] = 100), "spec.json", "$.rate", "unknown key", "control_rate_hz");
        AssertRefused(model, HoverSpec(s => s["layout"] = "walker"), "spec.json", "$.layout", "expected one of: hover");
        AssertRefused(model, HoverSpec(s => s["robot"] = "no-such-robot.json"), "spec.json", "$.robot", "no-such-robot.json");
        AssertRefused(model, NamedSpec(6, 3, s => s.Remove("action_low")), "spec.json", "action_high", "come together");
        AssertRefused(model, Path.Combine(_dir, "missing.json"), "--spec", "missing.json");
    }

    [Test]
    public void AModelWithoutRoboRlMetadataNeedsASpec()
    {
        string model = new TorchStyleMlp { Sizes = [6, 8, 3], Hidden = "Relu" }.Write(Path.Combine(_dir, "m.onnx"));
        AssertRefused(model, null, "m.onnx", "--spec", "no RoboRl metadata");
    }

    [Test]
    public void AFileThatIsNotOnnxIsRefused()
    {
        string model = Path.Combine(_dir, "junk.onnx");
        File.WriteAllBytes(model, [0x0a, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3]);
        AssertRefused(model, null, "junk.onnx", "not an ONNX model");
        byte[] truncated = new TorchStyleMlp { Sizes = [6, 8, 3] }.Build().ToBytes()[..100];
        File.WriteAllBytes(model, truncated);
        AssertRefused(model, null, "junk.onnx", "not an ONNX model");
    }

    string NamedSpec(int observations, int actions, Action<JsonObject>? edit = null) => HoverSpec(s =>
    {
        s.Remove("layout");
        s["action_history_length"] = 0;
        s["observation_names"] = new JsonArray([.. Enumerable.Range(0, observations).Select(i => (JsonNode)$"x_{i}")]);
        s["action_names"] = new JsonArray([.. Enumerable.Range(0, actions).Select(i => (JsonNode)$"u_{i}")]);
        s["action_unit"] = "normalized";
        s["action_low"] = new JsonArray([.. Enumerable.Range(0, actions).Select(_ => (JsonNode)(-1.0))]);
        s["action_high"] = new JsonArray([.. Enumerable.Range(0, actions).Select(_ => (JsonNode)1.0)]);
        edit?.Invoke(s);
    });
}
