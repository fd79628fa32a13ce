using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntime;
using RoboRl.Core.Policy;
using static RoboRl.Onnx.Tests.OnnxTestSupport;

namespace RoboRl.Onnx.Tests;

/// <summary>`roborl policy export-onnx`: ONNX Runtime (.NET and node.js) computes what PolicyEngine computes; the specs travel in the metadata.</summary>
public class ExportTests
{
    string _dir = "";

    [SetUp] public void SetUp() => _dir = TempDir();
    [TearDown] public void TearDown() => Directory.Delete(_dir, recursive: true);

    string Export(PolicyBundle bundle, out string bundlePath)
    {
        bundlePath = Path.Combine(_dir, "policy.safetensors");
        bundle.Write(bundlePath);
        string model = Path.Combine(_dir, "policy.onnx");
        var (code, output, error) = RunCli("policy", "export-onnx", bundlePath, "-o", model, "--json");
        Assert.That(code, Is.Zero, error);
        var result = JsonNode.Parse(output.TrimEnd().Split('\n')[^1])!;
        Assert.That(result["exit_code"]!.GetValue<int>(), Is.Zero);
        Assert.That(result["network"]!.GetValue<string>(), Is.EqualTo($"149 → 64 {PolicyBundle.ActivationName(bundle.Layers[0].Activation)} → 64 {PolicyBundle.ActivationName(bundle.Layers[1].Activation)} → 4 tanh"));
        return model;
    }

    [TestCase(Activation.Tanh)]
    [TestCase(Activation.Relu)]
    public void OnnxRuntimeGivesPolicyEnginesActionsOnAThousandObservations(Activation hidden)
    {
        PolicyBundle bundle = HoverBundle(hidden);
        string model = Export(bundle, out _);
        float[] observations = Observations(1000, bundle.ObservationMean, bundle.ObservationStd);

        Dictionary<string, float[]> onnx = RunOnnxRuntime(model, observations, bundle.ObservationSize);
        float actionError = MaxAbsDifference(onnx["action"], EngineActions(bundle, observations));
        Assert.That(actionError, Is.LessThanOrEqualTo(1e-5f), "action: ONNX Runtime vs PolicyEngine.Forward");
        // The command is in newtons here (0 … 0.12 N): the same bound holds in absolute terms.
        float commandError = MaxAbsDifference(onnx["command"], EngineActions(bundle, observations, scaled: true));
        Assert.That(commandError, Is.LessThanOrEqualTo(1e-5f), "command: ONNX Runtime vs PolicyEngine.ForwardScaled");
        // Not a vacuous match: the actions vary over the batch, and a wrong weight would show.
        Assert.That(onnx["action"].Max() - onnx["action"].Min(), Is.GreaterThan(0.5f));
        TestContext.Out.WriteLine($"max |Δ| action {actionError:G3}, command {commandError:G3} N");
    }

    [Test]
    public void TheModelHasObsAndActionWithADynamicBatchAndTheSpecsInItsMetadata()
    {
        PolicyBundle bundle = HoverBundle();
        string model = Export(bundle, out _);
        using var session = new InferenceSession(model);
        Assert.That(session.InputMetadata.Keys, Is.EqualTo(new[] { "obs" }));
        NodeMetadata obs = session.InputMetadata["obs"];
        Assert.That(obs.ElementDataType, Is.EqualTo(Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float));
        Assert.That(obs.Dimensions, Is.EqualTo(new[] { -1, 149 }), "[batch, n], batch dynamic");
        Assert.That(obs.SymbolicDimensions[0], Is.EqualTo("batch"));
        Assert.That(session.OutputMetadata.Keys, Is.EqualTo(new[] { "action", "command" }));
        Assert.That(session.OutputMetadata["action"].Dimensions, Is.EqualTo(new[] { -1, 4 }));

        // A batch of 1 and one of 7 both run.
        float[] seven = Observations(7, bundle.ObservationMean, bundle.ObservationStd);
        Assert.That(RunOnnxRuntime(model, seven[..149], 149)["action"], Has.Length.EqualTo(4));
        Assert.That(RunOnnxRuntime(model, seven, 149)["action"], Has.Length.EqualTo(28));

        IReadOnlyDictionary<string, string> meta = session.ModelMetadata.CustomMetadataMap;
        Assert.That(JsonSerializer.Deserialize<string[]>(meta["roborl.observation.names"]), Is.EqualTo(bundle.ObservationNames));
        Assert.That(JsonSerializer.Deserialize<string[]>(meta["roborl.action.names"]), Is.EqualTo(bundle.ActionNames));
        Assert.That(meta["roborl.action.unit"], Is.EqualTo("N"));
        Assert.That(meta["roborl.control_rate_hz"], Is.EqualTo("100"));
        Assert.That(meta["roborl.action_history_length"], Is.EqualTo("32"));
        Assert.That(meta["roborl.robot.name"], Is.EqualTo("crazyflie21"));
        Assert.That(meta["roborl.robot.sha256"], Is.EqualTo(bundle.RobotConfigSha256));
        Assert.That(meta["roborl.robot.config"], Is.EqualTo(bundle.RobotConfigJson));
        Assert.That(meta["roborl.training.config"], Is.EqualTo(bundle.TrainingConfigJson));
        Assert.That(meta["roborl.content.sha256"], Is.EqualTo(bundle.ComputeContentSha256()));
        Assert.That(JsonSerializer.Deserialize<float[]>(meta["roborl.action.high"]), Is.EqualTo(bundle.ActionHigh));
        Assert.That(session.ModelMetadata.ProducerName, Is.EqualTo("roborl"));
    }

    [Test]
    public void OnnxRuntimeForNodeGivesPolicyEnginesActions()
    {
        PolicyBundle bundle = HoverBundle(Activation.Relu, seed: 4);
        string model = Export(bundle, out _);
        float[] observations = Observations(1000, bundle.ObservationMean, bundle.ObservationStd, seed: 12);
        Dictionary<string, float[]> node = RunOnnxRuntimeNode(model, observations, bundle.ObservationSize);
        Assert.That(MaxAbsDifference(node["action"], EngineActions(bundle, observations)), Is.LessThanOrEqualTo(1e-5f));
        Assert.That(MaxAbsDifference(node["command"], EngineActions(bundle, observations, scaled: true)), Is.LessThanOrEqualTo(1e-5f));
    }

    [Test]
    public void ImportingTheExportWithoutASpecGivesBackTheSameBundle()
    {
        PolicyBundle bundle = HoverBundle();
        string model = Export(bundle, out string original);
        string back = Path.Combine(_dir, "back.safetensors");
        var (code, output, error) = RunCli("policy", "import-onnx", model, "-o", back, "--json");
        Assert.That(code, Is.Zero, error);
        Assert.That(error, Does.Contain("output 'command' ignored"));
        JsonNode result = JsonNode.Parse(output.TrimEnd().Split('\n')[^1])!;
        Assert.That(result["same_as_exported"]!.GetValue<bool>(), Is.True);
        // The whole checksum: weights, normalisation, scaling, specs, robot, training config, golden vectors.
        Assert.That(PolicyBundle.Read(back).StoredContentSha256, Is.EqualTo(PolicyBundle.Read(original).StoredContentSha256));
    }

    [Test]
    public void ImportingTheExportWithASpecKeepsWeightsNormalisationAndSpecs()
    {
        PolicyBundle bundle = HoverBundle(Activation.Relu);
        string model = Export(bundle, out _);
        string spec = Path.Combine(_dir, "spec.json");
        File.WriteAllText(spec, new JsonObject
        {
            ["layout"] = "hover",
            ["robot"] = RobotFile,
            ["control_rate_hz"] = 100,
            ["action_history_length"] = 32,
        }.ToJsonString());
        string back = Path.Combine(_dir, "back.safetensors");
        var (code, output, error) = RunCli("policy", "import-onnx", model, "--spec", spec, "-o", back, "--json");
        Assert.That(code, Is.Zero, error);
        // With a spec the provenance is the import's, so the checksum is not compared with the exported bundle's.
        Assert.That(JsonNode.Parse(output.TrimEnd().Split('\n')[^1])!["same_as_exported"], Is.Null);
        PolicyBundle imported = PolicyBundle.Read(back);
        for (int i = 0; i < bundle.Layers.Count; i++)
        {
            Assert.That(imported.Layers[i].Weights, Is.EqualTo(bundle.Layers[i].Weights), $"layer {i} weights");
            Assert.That(imported.Layers[i].Biases, Is.EqualTo(bundle.Layers[i].Biases), $"layer {i} biases");
            Assert.That(imported.Layers[i].Activation, Is.EqualTo(bundle.Layers[i].Activation));
        }
        Assert.That(imported.ObservationMean, Is.EqualTo(bundle.ObservationMean));
        Assert.That(imported.ObservationStd, Is.EqualTo(bundle.ObservationStd));
        Assert.That(imported.ObservationNames, Is.EqualTo(bundle.ObservationNames));
        Assert.That(imported.ActionNames, Is.EqualTo(bundle.ActionNames));
        Assert.That(imported.ActionLow, Is.EqualTo(bundle.ActionLow));
        Assert.That(imported.ActionHigh, Is.EqualTo(bundle.ActionHigh));
        Assert.That(imported.ActionUnit, Is.EqualTo(bundle.ActionUnit));
        Assert.That(imported.ControlRateHz, Is.EqualTo(bundle.ControlRateHz));
        Assert.That(imported.ActionHistoryLength, Is.EqualTo(bundle.ActionHistoryLength));
        Assert.That(imported.RobotConfigSha256, Is.EqualTo(bundle.RobotConfigSha256));
        // Its own provenance instead of the original's: which file, which hash.
        Assert.That(imported.TrainingConfigJson, Does.Contain("\"imported_from_onnx\"").And.Contain(Path.GetFileName(model)));
    }

    [Test]
    public void ExportRefusesABadBundleWithExitCode2()
    {
        string broken = Path.Combine(_dir, "broken.safetensors");
        File.WriteAllText(broken, "not a bundle");
        var (code, _, error) = RunCli("policy", "export-onnx", broken, "-o", Path.Combine(_dir, "x.onnx"));
        Assert.That(code, Is.EqualTo(2));
        Assert.That(error, Does.Contain("broken.safetensors"));
        Assert.That(error, Does.Not.Contain("   at "), "no stack trace");
        Assert.That(File.Exists(Path.Combine(_dir, "x.onnx")), Is.False);
    }
}
