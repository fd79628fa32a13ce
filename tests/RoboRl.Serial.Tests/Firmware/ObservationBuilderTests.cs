using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Text;
using RoboRl.Core.Tasks;

namespace RoboRl.Serial.Tests.Firmware;

/// <summary>
/// DESIGN.md invariant 1: firmware-bridge/policy/roborl_observation.c builds the same actor observation as the C#
/// builder (HoverObservation) on states generated here, within 1e-6, including the oldest-first action history and the
/// position-error integral, over multi-step flights (the integral carries over steps, saturates at its clamp, comes off
/// it, and restarts at zero when a flight starts).
/// </summary>
public class ObservationBuilderTests
{
    const int History = 32, Cases = 400, FlightLength = 40;
    const float Dt = 0.01f; // the hover task's 100 Hz control step

    [Test]
    public void CBuilderMatchesHoverObservationOverMultiStepFlights()
    {
        var random = new Random(17);
        float U(float scale) => (float)(random.NextDouble() * 2 - 1) * scale;
        var input = new StringBuilder().Append(History).Append(' ').Append(Dt.ToString("G9", CultureInfo.InvariantCulture)).Append('\n');
        var expected = new List<float[]>();
        var history = new float[History * 4];
        var integral = new float[HoverObservation.IntegralSize];
        int integralOffset = HoverObservation.IntegralOffset(History);
        int saturated = 0, inside = 0, resetsAfterSaturation = 0;
        bool sawSaturation = false;
        Vector3 offset = Vector3.One;
        for (int c = 0; c < Cases; c++)
        {
            bool reset = c % FlightLength == 0;
            if (reset)
            {
                // A flight starts (the node arms, an episode resets): history at its fill value, integral at zero.
                if (sawSaturation) resetsAfterSaturation++;
                sawSaturation = false;
                HoverObservation.FillHistory(history, 0.25f);
                Array.Clear(integral);
            }
            // Flights alternate between small zero-mean errors that keep the integral inside the clamp and a steady offset
            // (±1 m per axis plus noise) that drives it to the clamp, then flips half-way: off the clamp, to the other side.
            Vector3 error;
            if ((c / FlightLength) % 2 == 0) error = new Vector3(U(0.05f), U(0.05f), U(0.05f));
            else
            {
                if (reset) offset = new Vector3(MathF.Sign(U(1)), MathF.Sign(U(1)), MathF.Sign(U(1)));
                if (c % FlightLength == FlightLength / 2) offset = -offset;
                error = offset + new Vector3(U(0.5f), U(0.5f), U(0.5f));
            }
            var target = new Vector3(U(1), U(1), 1 + U(0.5f));
            var position = target + error;
            Quaternion q = Quaternion.Normalize(new Quaternion(U(1), U(1), U(1), U(1)));
            var velocity = new Vector3(U(3), U(3), U(3));
            var omega = new Vector3(U(10), U(10), U(10));
            float[] action = [U(1), U(1), U(1), U(1)];
            HoverObservation.PushAction(history, action);
            var obs = new float[HoverObservation.ActorSize(History)];
            HoverObservation.BuildActor(position, q, velocity, omega, target, history, integral, Dt, obs);
            expected.Add(obs);
            for (int k = 0; k < HoverObservation.IntegralSize; k++)
            {
                if (MathF.Abs(obs[integralOffset + k]) == HoverObservation.PositionIntegralLimit) { saturated++; sawSaturation = true; }
                else if (obs[integralOffset + k] != 0) inside++;
            }
            input.Append(reset ? "1 " : "0 ");
            foreach (float v in new[] { position.X, position.Y, position.Z, q.W, q.X, q.Y, q.Z, velocity.X, velocity.Y, velocity.Z,
                         omega.X, omega.Y, omega.Z, target.X, target.Y, target.Z, action[0], action[1], action[2], action[3] })
                input.Append(v.ToString("G9", CultureInfo.InvariantCulture)).Append(' ');
            input.Append('\n');
        }
        // The sequence exercises what it claims to.
        Assert.That(saturated, Is.GreaterThan(100), "integral values at the clamp");
        Assert.That(inside, Is.GreaterThan(100), "integral values inside the clamp");
        Assert.That(resetsAfterSaturation, Is.GreaterThanOrEqualTo(3), "flights that start after a saturated one");

        RunCBuilder(input.ToString(), (constants, rows) =>
        {
            // The compiled constants of roborl_observation.h equal HoverObservation's.
            Assert.That(float.Parse(constants[0], CultureInfo.InvariantCulture), Is.EqualTo(HoverObservation.PositionIntegralLimit),
                "ROBORL_POS_INTEGRAL_LIMIT vs HoverObservation.PositionIntegralLimit");
            Assert.That(int.Parse(constants[1], CultureInfo.InvariantCulture), Is.EqualTo(HoverObservation.IntegralSize), "RL_OBS_INTEGRAL_SIZE");
            Assert.That(int.Parse(constants[2], CultureInfo.InvariantCulture), Is.EqualTo(HoverObservation.ActorSize(History)), "RL_OBS_ACTOR_SIZE(32)");

            float worst = 0;
            int integralMismatches = 0;
            for (int c = 0; c < Cases; c++)
            {
                string[] fields = rows(c);
                Assert.That(fields, Has.Length.EqualTo(expected[c].Length), $"case {c}");
                for (int i = 0; i < fields.Length; i++)
                {
                    float value = float.Parse(fields[i], CultureInfo.InvariantCulture);
                    worst = MathF.Max(worst, MathF.Abs(value - expected[c][i]));
                    // The integral is the same float operations on the same inputs (multiply, then add, then clamp): bit-exact.
                    if (i >= integralOffset && value != expected[c][i]) integralMismatches++;
                }
            }
            Assert.That(worst, Is.LessThanOrEqualTo(1e-6f), $"C observation vs HoverObservation over {Cases} steps");
            Assert.That(integralMismatches, Is.Zero, "integral values that differ from C# in any bit");
        });
    }

    [Test]
    public void TheCHeaderDeclaresTheSameIntegralLimit()
    {
        // The source text too, for readers of the header: "#define ROBORL_POS_INTEGRAL_LIMIT 0.1f".
        string header = File.ReadAllText(Path.Combine(RepositoryRoot(), "firmware-bridge", "policy", "roborl_observation.h"));
        string line = header.Split('\n').Single(l => l.StartsWith("#define ROBORL_POS_INTEGRAL_LIMIT ", StringComparison.Ordinal));
        string literal = line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[2].TrimEnd('f');
        Assert.That(float.Parse(literal, CultureInfo.InvariantCulture), Is.EqualTo(HoverObservation.PositionIntegralLimit));
    }

    static string RepositoryRoot()
    {
        string repo = TestContext.CurrentContext.TestDirectory;
        while (!File.Exists(Path.Combine(repo, "RoboRl.sln"))) repo = Path.GetDirectoryName(repo)!;
        return repo;
    }

    /// <summary>Compiles tests/observation_vectors.c with roborl_observation.c, feeds it <paramref name="input"/> and hands
    /// its first line (the constants) and a reader of its case rows to <paramref name="check"/>.</summary>
    static void RunCBuilder(string input, Action<string[], Func<int, string[]>> check)
    {
        string repo = RepositoryRoot();
        string policy = Path.Combine(repo, "firmware-bridge", "policy");
        string dir = Directory.CreateTempSubdirectory("roborl-obs-").FullName;
        try
        {
            string exe = Path.Combine(dir, "observation_vectors");
            var cc = new ProcessStartInfo("cc") { RedirectStandardError = true };
            // -ffp-contract=off: as the firmware builds the file (no FMA), so the integral rounds as in C#.
            foreach (string a in new[] { "-std=c99", "-O2", "-ffp-contract=off", "-Wall", "-Wextra", "-Werror", "-I", policy,
                         Path.Combine(policy, "roborl_observation.c"), Path.Combine(repo, "firmware-bridge", "tests", "observation_vectors.c"), "-o", exe })
                cc.ArgumentList.Add(a);
            using (Process build = Process.Start(cc)!)
            {
                string err = build.StandardError.ReadToEnd();
                build.WaitForExit();
                Assert.That(build.ExitCode, Is.Zero, err);
            }

            var run = new ProcessStartInfo(exe) { RedirectStandardInput = true, RedirectStandardOutput = true };
            using Process c2 = Process.Start(run)!;
            var writer = Task.Run(() => { c2.StandardInput.Write(input); c2.StandardInput.Close(); });
            string[] constants = c2.StandardOutput.ReadLine()!.Split(' ');
            check(constants, _ => c2.StandardOutput.ReadLine()!.Split(' '));
            writer.Wait();
            c2.WaitForExit();
            Assert.That(c2.ExitCode, Is.Zero, "observation_vectors read every case");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
