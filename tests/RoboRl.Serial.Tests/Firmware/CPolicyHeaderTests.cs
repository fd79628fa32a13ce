using System.Diagnostics;
using System.Globalization;
using RoboRl.Core.Policy;
using RoboRl.Core.Tasks;
using RoboRl.Serial.Firmware;

namespace RoboRl.Serial.Tests.Firmware;

/// <summary>
/// `roborl export c`'s generator: a header generated from a bundle, compiled on the host with firmware-bridge's
/// C forward pass (firmware-bridge/tests/policy_header_parity.c), matches the C# PolicyEngine within 1e-5 on every
/// golden vector and on random observations (DESIGN.md invariant 3).
/// </summary>
public class CPolicyHeaderTests
{
    static string RepositoryRoot()
    {
        string dir = TestContext.CurrentContext.TestDirectory;
        while (!File.Exists(Path.Combine(dir, "RoboRl.sln")))
            dir = Path.GetDirectoryName(dir) ?? throw new InvalidOperationException("RoboRl.sln not found above the test directory");
        return dir;
    }

    /// <summary>Compiles policy_header_parity.c against the header in <paramref name="headerDir"/>; returns the binary.</summary>
    static string CompileParityProgram(string headerDir)
    {
        string fb = Path.Combine(RepositoryRoot(), "firmware-bridge");
        string exe = Path.Combine(headerDir, "policy_header_parity");
        var psi = new ProcessStartInfo("cc") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string a in new[] { "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-I", headerDir, "-I", Path.Combine(fb, "policy"),
                     Path.Combine(fb, "policy", "roborl_policy.c"), Path.Combine(fb, "tests", "policy_header_parity.c"), "-lm", "-o", exe })
            psi.ArgumentList.Add(a);
        Process cc;
        try { cc = Process.Start(psi)!; }
        catch (System.ComponentModel.Win32Exception e)
        {
            Assert.Fail($"no C compiler 'cc' ({e.Message}): tests/prerequisites.txt lists gcc");
            throw;
        }
        string err = cc.StandardError.ReadToEnd();
        cc.WaitForExit();
        Assert.That(cc.ExitCode, Is.Zero, "compiling the generated header failed:\n" + err);
        return exe;
    }

    [TestCase(Activation.Relu)]
    [TestCase(Activation.Tanh)]
    public void GeneratedHeaderMatchesTheCSharpEngine(Activation hidden)
    {
        PolicyBundle bundle = RandomPolicy.Create(RandomPolicy.HoverShape, seed: 7, hidden, goldenCount: 12);
        string dir = Directory.CreateTempSubdirectory("roborl-export-c-").FullName;
        try
        {
            string bundlePath = Path.Combine(dir, "policy.safetensors");
            bundle.Write(bundlePath);
            PolicyBundle read = PolicyBundle.Read(bundlePath);
            CPolicyHeader.Write(read, bundlePath, dir);
            string exe = CompileParityProgram(dir);

            var engine = new PolicyEngine(read);
            var random = new Random(3);
            const int Extra = 200;
            var observations = new float[Extra * bundle.ObservationSize];
            for (int i = 0; i < observations.Length; i++) observations[i] = (float)(random.NextDouble() * 6 - 3);

            var psi = new ProcessStartInfo(exe) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
            using Process c = Process.Start(psi)!;
            string header = c.StandardOutput.ReadLine() ?? "";
            Assert.That(header, Does.StartWith("self_test 1 golden 12 "), "the boot self-test and the 12 golden vectors pass in C");
            Assert.That(header, Does.EndWith(read.StoredContentSha256!), "the header carries the bundle's SHA-256");
            // Write all observations first (a background writer), then read every answer.
            var writer = Task.Run(() =>
            {
                var line = new System.Text.StringBuilder();
                for (int k = 0; k < Extra; k++)
                {
                    line.Clear();
                    for (int i = 0; i < bundle.ObservationSize; i++)
                        line.Append(observations[k * bundle.ObservationSize + i].ToString("G9", CultureInfo.InvariantCulture)).Append(' ');
                    c.StandardInput.WriteLine(line.ToString());
                }
                c.StandardInput.Close();
            });
            var expected = new float[bundle.ActionSize];
            float worst = 0;
            for (int k = 0; k < Extra; k++)
            {
                string[] fields = (c.StandardOutput.ReadLine() ?? throw new InvalidOperationException("the C program stopped answering"))
                    .Split(' ', StringSplitOptions.RemoveEmptyEntries);
                Assert.That(fields[0], Is.EqualTo("1"), $"observation {k} gave a non-finite action");
                engine.Forward(observations.AsSpan(k * bundle.ObservationSize, bundle.ObservationSize), expected);
                for (int j = 0; j < bundle.ActionSize; j++)
                    worst = MathF.Max(worst, MathF.Abs(float.Parse(fields[1 + j], CultureInfo.InvariantCulture) - expected[j]));
            }
            writer.Wait();
            c.WaitForExit();
            Assert.That(c.ExitCode, Is.Zero);
            Assert.That(worst, Is.LessThanOrEqualTo(1e-5f), "C forward vs C# PolicyEngine on 200 random observations");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void HeaderHoldsTheLayoutScalingAndAllGoldenVectors()
    {
        string robot = File.ReadAllText(Path.Combine(McuImages.RepositoryRoot, "configs", "robots", "crazyflie21.json"));
        PolicyBundle bundle = RandomPolicy.Create(RandomPolicy.HoverShape, seed: 2, goldenCount: 5, robotConfigJson: robot);
        string text = CPolicyHeader.Generate(bundle, "p.safetensors");
        Assert.That(text, Does.Contain("#define RL_POLICY_OBS_DIM 149\n"));
        Assert.That(text, Does.Contain("#define RL_POLICY_ACTION_HISTORY_LENGTH 32\n"));
        Assert.That(text, Does.Contain("#define RL_POLICY_HOVER_LAYOUT 1\n"));
        Assert.That(text, Does.Contain("#define RL_POLICY_HOVER_ACTION_HISTORY_OFFSET 18"));
        Assert.That(text, Does.Contain("#define RL_POLICY_HOVER_POSITION_INTEGRAL_OFFSET 146 "));
        Assert.That(text, Does.Contain("#define RL_OBS_INDEX_OBS_148 148\n"));
        Assert.That(text, Does.Contain("#define RL_POLICY_GOLDEN_COUNT 5\n"));
        Assert.That(text, Does.Contain("static const float rl_policy_w0[64 * 149]"));
        // Force per motor = (a + 1) / 2 · THRUST_MAX 0.12 N → offset 0.06, scale 0.06; the actuator block for the on-board controller.
        Assert.That(text, Does.Contain("rl_policy_action_offset[RL_POLICY_ACT_DIM] = {\n    0.0599999987f, 0.0599999987f, 0.0599999987f, 0.0599999987f,"));
        Assert.That(text, Does.Contain("#define RL_POLICY_ACTION_UNIT \"N\"\n"));
        Assert.That(text, Does.Contain("#define RL_ACTUATOR_PROPELLERS \"crazyflie-2.1-plus\"\n").And.Contain("#define RL_ACTUATOR_PROPELLERS_ID 1 ")
            .And.Contain("#define RL_ACTUATOR_BATTERY_COMPENSATION 1\n").And.Contain("#define RL_ACTUATOR_THRUST_MAX_MN 120 ")
            .And.Contain("#define RL_ACTUATOR_HOVER_ACTION 0.103625059f"));
        Assert.That(text, Does.Contain($"#define RL_POLICY_SHA256 \"{bundle.ComputeContentSha256()}\""));
    }

    /// <summary>`roborl export c --target PROPELLERS`: a bundle trained for other propellers (or for no quadrotor) is refused, naming both.</summary>
    [Test]
    public void AFirmwareTargetWithOtherPropellersIsRefused()
    {
        string robot = File.ReadAllText(Path.Combine(McuImages.RepositoryRoot, "configs", "robots", "crazyflie21.json"));
        PolicyBundle bundle = RandomPolicy.Create(RandomPolicy.HoverShape, seed: 2, goldenCount: 1, robotConfigJson: robot);
        Assert.DoesNotThrow(() => CPolicyHeader.CheckTarget(bundle, "crazyflie-2.1-plus", "p.safetensors"));
        var e = Assert.Throws<PolicyBundleException>(() => CPolicyHeader.CheckTarget(bundle, "crazyflie-thrust-upgrade", "p.safetensors"))!;
        Assert.That(e.Message, Does.Contain("p.safetensors").And.Contain("propellers \"crazyflie-2.1-plus\"").And.Contain("THRUST_MAX 0.18 N"));
        var shapeOnly = RandomPolicy.Create(RandomPolicy.HoverShape, seed: 2, goldenCount: 1);
        e = Assert.Throws<PolicyBundleException>(() => CPolicyHeader.CheckTarget(shapeOnly, "crazyflie-2.1-plus", "q.safetensors"))!;
        Assert.That(e.Message, Does.Contain("q.safetensors").And.Contain("not a quadrotor with an \"actuation\" section"));
        Assert.That(CPolicyHeader.Generate(shapeOnly, "q.safetensors"), Does.Not.Contain("RL_ACTUATOR_"), "no actuator block without a quadrotor robot");
    }

    [Test]
    public void HoverNamesBecomeOffsetsAndTheOldLayoutIsNotMarkedHover()
    {
        PolicyBundle r = RandomPolicy.Create(RandomPolicy.HoverShape, seed: 3, goldenCount: 1);
        var hover = new PolicyBundle
        {
            Layers = r.Layers,
            ObservationNames = HoverObservation.ActorNames(32),
            ActionNames = r.ActionNames,
            ObservationMean = r.ObservationMean,
            ObservationStd = r.ObservationStd,
            ActionLow = r.ActionLow,
            ActionHigh = r.ActionHigh,
            ActionUnit = r.ActionUnit,
            ControlRateHz = r.ControlRateHz,
            ActionHistoryLength = r.ActionHistoryLength,
            RobotConfigJson = r.RobotConfigJson,
            TrainingConfigJson = r.TrainingConfigJson,
            GitCommit = r.GitCommit,
            GoldenObservations = r.GoldenObservations,
            GoldenActions = r.GoldenActions,
        };
        string text = CPolicyHeader.Generate(hover, "hover.safetensors");
        Assert.That(text, Does.Contain("#define RL_OBS_INDEX_ACTION_T_1_M4 145\n"));
        Assert.That(text, Does.Contain("#define RL_OBS_INDEX_POS_ERR_INT_X 146\n"));
        Assert.That(text, Does.Contain("#define RL_OBS_INDEX_POS_ERR_INT_Z 148\n"));
        // A 146-input policy (trained before the integral) is not the hover layout: the MCU answers its STATEs with
        // OBSERVATION_SIZE_MISMATCH and the Crazyflie controller refuses it, instead of flying a shifted observation.
        string old = CPolicyHeader.Generate(RandomPolicy.Create([146, 8, 4], goldenCount: 1), "old.safetensors");
        Assert.That(old, Does.Not.Contain("RL_POLICY_HOVER_LAYOUT"));
    }

    [TestCase(3f, "3.0f")]
    [TestCase(-0f, "-0.0f")]
    [TestCase(1e-5f, "9.99999975E-06f")]
    [TestCase(0.1f, "0.100000001f")]
    public void FloatLiteralsAreValidCAndRoundTrip(float value, string literal) =>
        Assert.That(CPolicyHeader.Float(value), Is.EqualTo(literal));

    [Test]
    public void TooManyActionsIsAClearError()
    {
        PolicyBundle bundle = RandomPolicy.Create([4, 8, 65], goldenCount: 1);
        var e = Assert.Throws<PolicyBundleException>(() => CPolicyHeader.Generate(bundle, "big.safetensors"));
        Assert.That(e!.Message, Does.Contain("big.safetensors").And.Contain("65 actions"));
    }
}
