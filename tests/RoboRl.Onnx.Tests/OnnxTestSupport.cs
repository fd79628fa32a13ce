using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntime;
using RoboRl.Cli;
using RoboRl.Cli.Commands;
using RoboRl.Core.Policy;
using RoboRl.Core.Tasks;
using RoboRl.Hosting;
using RoboRl.Serial.Firmware;

namespace RoboRl.Onnx.Tests;

/// <summary>Bundles, models, the CLI in process, and the two independent ONNX readers (ONNX Runtime in .NET and in node.js).</summary>
public static class OnnxTestSupport
{
    public static string RobotFile => RepoPaths.Find("configs/robots/crazyflie21.json");

    /// <summary>
    /// A bundle of the trained hover policy's shape (149 → 64 → 64 → 4, the hover observation's names, the Crazyflie's
    /// robot config and force scaling) with random nn.Linear-style weights in every layer, so that each one matters.
    /// </summary>
    public static PolicyBundle HoverBundle(Activation hidden = Activation.Tanh, int seed = 3)
    {
        string robotJson = Core.Configs.ConfigNode.LoadFile(RobotFile).RawJson;
        PolicyBundle random = RandomPolicy.Create(RandomPolicy.HoverShape, seed, hidden, goldenCount: 8, robotConfigJson: robotJson);
        var named = new PolicyBundle
        {
            Layers = random.Layers,
            ObservationNames = HoverObservation.ActorNames(32),
            ActionNames = HoverObservation.ActionNames,
            ObservationMean = random.ObservationMean,
            ObservationStd = random.ObservationStd,
            ActionLow = random.ActionLow,
            ActionHigh = random.ActionHigh,
            ActionUnit = random.ActionUnit,
            ControlRateHz = 100,
            ActionHistoryLength = 32,
            RobotConfigJson = robotJson,
            TrainingConfigJson = """{"algorithm":"td3","note":"random weights of the trained shape"}""",
            GitCommit = "0123456789abcdef0123456789abcdef01234567",
            GoldenObservations = random.GoldenObservations,
            GoldenActions = random.GoldenActions,
        };
        named.Validate("test");
        return named;
    }

    /// <summary><paramref name="count"/> observations (row-major) spread over ±3 std around the normalisation's mean.</summary>
    public static float[] Observations(int count, float[] mean, float[] std, int seed = 11)
    {
        var random = new Random(seed);
        int n = mean.Length;
        var x = new float[count * n];
        for (int k = 0; k < count; k++)
            for (int i = 0; i < n; i++) x[k * n + i] = mean[i] + std[i] * (float)(random.NextDouble() * 6 - 3);
        return x;
    }

    /// <summary>PolicyEngine on each row: the network output (scaled: the command) — what the ONNX outputs must match.</summary>
    public static float[] EngineActions(PolicyBundle bundle, float[] observations, bool scaled = false)
    {
        var engine = new PolicyEngine(bundle);
        int n = bundle.ObservationSize, m = bundle.ActionSize, count = observations.Length / n;
        var actions = new float[count * m];
        for (int k = 0; k < count; k++)
        {
            if (scaled) engine.ForwardScaled(observations.AsSpan(k * n, n), actions.AsSpan(k * m, m));
            else engine.Forward(observations.AsSpan(k * n, n), actions.AsSpan(k * m, m));
        }
        return actions;
    }

    /// <summary>ONNX Runtime (NuGet Microsoft.ML.OnnxRuntime) runs the model on one batch; returns each output's values.</summary>
    public static Dictionary<string, float[]> RunOnnxRuntime(string model, float[] observations, int n, string inputName = "obs")
    {
        using var session = new InferenceSession(model);
        long batch = observations.Length / n;
        using var input = OrtValue.CreateTensorValueFromMemory(observations, [batch, n]);
        var names = session.OutputMetadata.Keys.ToArray();
        using var runOptions = new RunOptions();
        using IDisposableReadOnlyCollection<OrtValue> outputs = session.Run(runOptions, [inputName], [input], names);
        var result = new Dictionary<string, float[]>();
        for (int i = 0; i < names.Length; i++) result[names[i]] = outputs[i].GetTensorDataAsSpan<float>().ToArray();
        return result;
    }

    public static float MaxAbsDifference(float[] a, float[] b)
    {
        Assert.That(a, Has.Length.EqualTo(b.Length));
        float worst = 0;
        for (int i = 0; i < a.Length; i++) worst = MathF.Max(worst, MathF.Abs(a[i] - b[i]));
        return worst;
    }

    public static (int Code, string Out, string Err) RunCli(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Program.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    public static string TempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "roborl-onnx-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    // ---------------------------------------------------------------------------------------------
    // onnxruntime-node (tests/verifiers/onnx-run.mjs)

    static readonly object InstallGate = new();

    /// <summary>
    /// Runs the model with onnxruntime-node on one batch; returns each output's values. Fails in CI (CI=true) and is
    /// inconclusive elsewhere when node or the npm package is missing (tests/run.sh installs it).
    /// </summary>
    public static Dictionary<string, float[]> RunOnnxRuntimeNode(string model, float[] observations, int n)
    {
        string verifiers = Path.Combine(RepoRoot(), "tests", "verifiers");
        if (!OnPath("node")) Missing("node is not on PATH");
        lock (InstallGate)
        {
            if (!Directory.Exists(Path.Combine(verifiers, "node_modules", "onnxruntime-node")))
            {
                if (!OnPath("npm")) Missing("npm is not on PATH and tests/verifiers/node_modules/onnxruntime-node is missing");
                var (rc, _, err) = Run("npm", ["install", "--no-audit", "--no-fund", "--silent"], verifiers, TimeSpan.FromMinutes(5));
                if (rc != 0) Missing($"npm install in tests/verifiers failed: {err}");
            }
        }
        string input = Path.Combine(Path.GetDirectoryName(model)!, "node-input.f32");
        var bytes = new byte[observations.Length * 4];
        Buffer.BlockCopy(observations, 0, bytes, 0, bytes.Length);
        File.WriteAllBytes(input, bytes);
        var (code, stdout, stderr) = Run("node", ["onnx-run.mjs", model, input, (observations.Length / n).ToString()], verifiers, TimeSpan.FromMinutes(2));
        Assert.That(code, Is.Zero, $"onnx-run.mjs failed on {model}:\n{stderr}");
        var outputs = JsonNode.Parse(stdout)!["outputs"]!.AsObject();
        return outputs.ToDictionary(kv => kv.Key, kv => kv.Value!["data"]!.AsArray().Select(v => (float)v!.GetValue<double>()).ToArray());
    }

    static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "RoboRl.sln"))) return dir.FullName;
        throw new InvalidOperationException("cannot find RoboRl.sln above " + AppContext.BaseDirectory);
    }

    static void Missing(string why)
    {
        if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail($"independent ONNX reader unavailable in CI: {why}");
        Assert.Inconclusive($"independent ONNX reader unavailable: {why}");
    }

    static bool OnPath(string exe) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, exe)));

    static (int Code, string Stdout, string Stderr) Run(string exe, IEnumerable<string> args, string workDir, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(exe) { WorkingDirectory = workDir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{exe} {string.Join(' ', args)} did not finish within {timeout}");
        }
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
