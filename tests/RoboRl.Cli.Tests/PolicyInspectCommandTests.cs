using System.CommandLine;
using System.Text.Json;
using RoboRl.Core.Policy;

namespace RoboRl.Cli.Tests;

public class PolicyInspectCommandTests
{
    string _path = "";

    [SetUp]
    public void WriteBundle()
    {
        _path = Path.Combine(Path.GetTempPath(), $"roborl-inspect-{Guid.NewGuid():N}.safetensors");
        var random = new Random(3);
        DenseLayer Layer(int inputs, int outputs, Activation activation) => new(inputs, outputs,
            Enumerable.Range(0, inputs * outputs).Select(_ => (float)(random.NextDouble() - 0.5) * 0.3f).ToArray(),
            Enumerable.Range(0, outputs).Select(_ => (float)(random.NextDouble() - 0.5) * 0.1f).ToArray(), activation);
        var bundle = new PolicyBundle
        {
            Layers = [Layer(18, 64, Activation.Relu), Layer(64, 64, Activation.Relu), Layer(64, 4, Activation.Tanh)],
            ObservationNames = Enumerable.Range(0, 18).Select(i => $"obs_{i}").ToArray(),
            ActionNames = ["motor_1", "motor_2", "motor_3", "motor_4"],
            ObservationMean = new float[18],
            ObservationStd = Enumerable.Repeat(1f, 18).ToArray(),
            ActionLow = new float[4],
            ActionHigh = [21702, 21702, 21702, 21702],
            ActionUnit = "rpm",
            ControlRateHz = 100,
            ActionHistoryLength = 0,
            RobotConfigJson = """{"name": "crazyflie21", "mass_kg": 0.027}""",
            TrainingConfigJson = """{"algorithm": "td3", "seed": 7}""",
            GitCommit = "abc123",
            GoldenObservations = new float[18],
            GoldenActions = new float[4],
        };
        // Golden actions from the engine itself are enough here: the command's job is to report, parity is tested elsewhere.
        float[] golden = Enumerable.Range(0, 2 * 18).Select(_ => (float)random.NextDouble()).ToArray();
        var actions = new float[8];
        var engine = new PolicyEngine(bundle, PolicyKernel.Scalar);
        engine.Forward(golden.AsSpan(0, 18), actions.AsSpan(0, 4));
        engine.Forward(golden.AsSpan(18, 18), actions.AsSpan(4, 4));
        bundle.WithGoldenVectors(golden, actions).Write(_path);
    }

    [TearDown]
    public void Remove() => File.Delete(_path);

    static (int Exit, string Output, string Error) Invoke(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = Program.BuildRootCommand().Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    [Test]
    public void PrintsWhatTheBundleHolds()
    {
        var (exit, output, error) = Invoke("policy", "inspect", _path);
        TestContext.Out.WriteLine(output);
        Assert.That(exit, Is.Zero, error);
        Assert.That(error, Is.Empty);
        Assert.That(output, Does.Contain("checksum     verified"));
        Assert.That(output, Does.Contain("18 → 64 relu → 64 relu → 4 tanh  (5,636 parameters)"));
        Assert.That(output, Does.Contain("motor_1, motor_2, motor_3, motor_4"));
        Assert.That(output, Does.Contain("rpm = low + (a + 1) / 2"));
        Assert.That(output, Does.Contain("100 Hz, action history 0"));
        Assert.That(output, Does.Contain("crazyflie21  sha256 " + PolicyBundle.RobotConfigHash("""{"name":"crazyflie21","mass_kg":0.027}""")));
        Assert.That(output, Does.Contain("commit       abc123"));
        Assert.That(output, Does.Contain("golden       2 vectors").And.Contain("(ok,"));
    }

    [Test]
    public void JsonOutputParses()
    {
        var (exit, output, _) = Invoke("policy", "inspect", _path, "--json");
        Assert.That(exit, Is.Zero);
        using JsonDocument report = JsonDocument.Parse(output);
        JsonElement root = report.RootElement;
        Assert.That(root.GetProperty("checksum_verified").GetBoolean(), Is.True);
        Assert.That(root.GetProperty("network").GetProperty("layers").GetArrayLength(), Is.EqualTo(3));
        Assert.That(root.GetProperty("observation").GetProperty("names").GetArrayLength(), Is.EqualTo(18));
        Assert.That(root.GetProperty("action").GetProperty("high")[0].GetSingle(), Is.EqualTo(21702f));
        Assert.That(root.GetProperty("training_config").GetProperty("seed").GetInt32(), Is.EqualTo(7));
        Assert.That(root.GetProperty("golden").GetProperty("ok").GetBoolean(), Is.True);
    }

    [Test]
    public void CorruptedDataShowsTheMismatchAndExitsWithOne()
    {
        byte[] bytes = File.ReadAllBytes(_path);
        bytes[^20] ^= 0x40;
        File.WriteAllBytes(_path, bytes);
        var (exit, output, error) = Invoke("policy", "inspect", _path);
        Assert.That(exit, Is.EqualTo(1));
        Assert.That(output, Does.Contain("checksum     MISMATCH"));
        Assert.That(error.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(error, Does.StartWith($"policy inspect: policy bundle '{_path}': content.sha256:"));
    }

    [Test]
    public void BadFileIsAOneLineErrorWithExitCodeOneAndAMissingOneExitsTwo()
    {
        File.WriteAllText(_path, "definitely not a safetensors file");
        var (exit, output, error) = Invoke("policy", "inspect", _path);
        Assert.That(exit, Is.EqualTo(1));
        Assert.That(output, Is.Empty);
        Assert.That(error.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(error, Does.StartWith($"policy inspect: policy bundle '{_path}': header length:"));

        var missing = Invoke("policy", "inspect", _path + ".absent");
        Assert.That(missing.Exit, Is.EqualTo(2), "no file to inspect is bad input, not a failed check");
        Assert.That(missing.Error, Does.Contain(".absent: no such file"));
    }
}
