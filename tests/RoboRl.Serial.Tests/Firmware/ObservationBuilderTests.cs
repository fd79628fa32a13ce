using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Text;
using RoboRl.Core.Tasks;

namespace RoboRl.Serial.Tests.Firmware;

/// <summary>
/// DESIGN.md invariant 1: firmware-bridge/policy/roborl_observation.c builds the same actor observation as the C#
/// builder (HoverObservation) on states generated here, within 1e-6, including the oldest-first action history.
/// </summary>
public class ObservationBuilderTests
{
    [Test]
    public void CBuilderMatchesHoverObservationOnGeneratedStates()
    {
        string repo = TestContext.CurrentContext.TestDirectory;
        while (!File.Exists(Path.Combine(repo, "RoboRl.sln"))) repo = Path.GetDirectoryName(repo)!;
        string policy = Path.Combine(repo, "firmware-bridge", "policy");
        string dir = Directory.CreateTempSubdirectory("roborl-obs-").FullName;
        try
        {
            string exe = Path.Combine(dir, "observation_vectors");
            var cc = new ProcessStartInfo("cc") { RedirectStandardError = true };
            foreach (string a in new[] { "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-I", policy, Path.Combine(policy, "roborl_observation.c"),
                         Path.Combine(repo, "firmware-bridge", "tests", "observation_vectors.c"), "-o", exe })
                cc.ArgumentList.Add(a);
            using (Process build = Process.Start(cc)!)
            {
                string err = build.StandardError.ReadToEnd();
                build.WaitForExit();
                Assert.That(build.ExitCode, Is.Zero, err);
            }

            const int History = 32, Cases = 300;
            var random = new Random(17);
            float U(float scale) => (float)(random.NextDouble() * 2 - 1) * scale;
            var input = new StringBuilder().Append(History).Append('\n');
            var expected = new List<float[]>();
            var history = new float[History * 4];
            HoverObservation.FillHistory(history, 0.25f);
            for (int c = 0; c < Cases; c++)
            {
                var position = new Vector3(U(2), U(2), U(2));
                Quaternion q = Quaternion.Normalize(new Quaternion(U(1), U(1), U(1), U(1)));
                var velocity = new Vector3(U(3), U(3), U(3));
                var omega = new Vector3(U(10), U(10), U(10));
                var target = new Vector3(U(1), U(1), 1 + U(0.5f));
                float[] action = [U(1), U(1), U(1), U(1)];
                HoverObservation.PushAction(history, action);
                var obs = new float[HoverObservation.ActorSize(History)];
                HoverObservation.BuildActor(position, q, velocity, omega, target, history, obs);
                expected.Add(obs);
                foreach (float v in new[] { position.X, position.Y, position.Z, q.W, q.X, q.Y, q.Z, velocity.X, velocity.Y, velocity.Z,
                             omega.X, omega.Y, omega.Z, target.X, target.Y, target.Z, action[0], action[1], action[2], action[3] })
                    input.Append(v.ToString("G9", CultureInfo.InvariantCulture)).Append(' ');
                input.Append('\n');
            }

            var run = new ProcessStartInfo(exe) { RedirectStandardInput = true, RedirectStandardOutput = true };
            using Process c2 = Process.Start(run)!;
            var writer = Task.Run(() => { c2.StandardInput.Write(input.ToString()); c2.StandardInput.Close(); });
            float worst = 0;
            for (int c = 0; c < Cases; c++)
            {
                string[] fields = c2.StandardOutput.ReadLine()!.Split(' ');
                Assert.That(fields, Has.Length.EqualTo(expected[c].Length));
                for (int i = 0; i < fields.Length; i++)
                    worst = MathF.Max(worst, MathF.Abs(float.Parse(fields[i], CultureInfo.InvariantCulture) - expected[c][i]));
            }
            writer.Wait();
            c2.WaitForExit();
            Assert.That(worst, Is.LessThanOrEqualTo(1e-6f), "C observation vs HoverObservation over 300 generated states");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
