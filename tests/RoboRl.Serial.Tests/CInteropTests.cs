using System.Collections.Concurrent;
using System.Diagnostics;
using System.Numerics;

namespace RoboRl.Serial.Tests;

/// <summary>
/// The C# link against the C link codec and policy (firmware-bridge/host/link_responder.c, built here
/// with cc) over a socat pty pair: the two implementations of PROTOCOL.md talking over a real device.
/// </summary>
[NonParallelizable]
public class CInteropTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private string _responder = "";
    private string _buildDir = "";

    [OneTimeSetUp]
    public void BuildResponder()
    {
        bool ci = Environment.GetEnvironmentVariable("CI") == "true";
        if (!SocatPtyPair.IsAvailable())
        {
            if (ci) Assert.Fail("socat is missing: tests/run.sh must install it (tests/prerequisites.txt)");
            Assert.Ignore("socat is not installed");
        }
        string repo = TestContext.CurrentContext.TestDirectory;
        while (!File.Exists(Path.Combine(repo, "RoboRl.sln")))
            repo = Path.GetDirectoryName(repo) ?? throw new InvalidOperationException("repository root (RoboRl.sln) not found above the test directory");
        string fb = Path.Combine(repo, "firmware-bridge");
        _buildDir = Directory.CreateTempSubdirectory("roborl-responder-").FullName;
        _responder = Path.Combine(_buildDir, "link_responder");
        var psi = new ProcessStartInfo("cc") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string a in new[] { "-std=c99", "-O2", "-Wall", "-Werror", "-I", Path.Combine(fb, "link"), "-I", Path.Combine(fb, "policy"),
                     "-I", Path.Combine(fb, "tests"), Path.Combine(fb, "link", "roborl_link.c"), Path.Combine(fb, "policy", "roborl_policy.c"),
                     Path.Combine(fb, "host", "link_responder.c"), "-lm", "-o", _responder })
            psi.ArgumentList.Add(a);
        Process cc;
        try
        {
            cc = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            if (ci) Assert.Fail($"no C compiler 'cc' ({e.Message}): tests/prerequisites.txt lists gcc");
            Assert.Ignore("no C compiler 'cc'");
            return;
        }
        string err = cc.StandardError.ReadToEnd();
        cc.WaitForExit();
        Assert.That(cc.ExitCode, Is.Zero, "building link_responder failed:\n" + err);
    }

    [OneTimeTearDown]
    public void Clean()
    {
        if (_buildDir.Length > 0) Directory.Delete(_buildDir, recursive: true);
    }

    private sealed record Got(MessageType Type, ushort Sequence, object Message);

    private static void WaitUntil(Func<bool> condition, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > Patience) Assert.Fail($"timed out waiting for {what}");
            Thread.Sleep(2);
        }
    }

    [Test]
    public void CSharpHostAndCResponder_SpeakTheSameProtocolOverAPty()
    {
        using var pair = SocatPtyPair.Start();
        var responder = Process.Start(new ProcessStartInfo(_responder) { ArgumentList = { pair.PathB }, RedirectStandardError = true })!;
        try
        {
            var got = new BlockingCollection<Got>();
            using var host = SerialLink.OpenPty(pair.PathA, f => got.Add(new Got(f.Type, f.Sequence, f.Type switch
            {
                MessageType.Action => f.ReadAction(),
                MessageType.ParamAck => f.ReadParamAck(),
                MessageType.Heartbeat => f.ReadHeartbeat(),
                MessageType.Status => f.ReadStatus(),
                _ => f.Type,
            })));
            Got Next()
            {
                Assert.That(got.TryTake(out var g, Patience), Is.True, "a reply from link_responder");
                return g!;
            }

            // The responder greets with a heartbeat: policy loaded and its boot self-test passed.
            var hello = Next();
            Assert.That(hello.Type, Is.EqualTo(MessageType.Heartbeat));
            Assert.That(((HeartbeatMessage)hello.Message).Status, Is.EqualTo(LinkStatusFlags.PolicyLoaded | LinkStatusFlags.SelfTestPassed));

            // OBSERVATION -> ACTION: the C policy's output for the worked example of tests/policy_test_weights.h.
            Assert.That(host.SendObservation([3f, 0.5f, -1f], out ushort seq), Is.True);
            var action = (ActionMessage)Next().Message;
            Assert.That(action.ObservationSequence, Is.EqualTo(seq));
            Assert.That(action.Action.X, Is.EqualTo((float)Math.Tanh(0.5)).Within(1e-6));
            Assert.That(action.Action.Y, Is.EqualTo((float)(2 * Math.Tanh(0.125))).Within(1e-6));
            Assert.That(action.Action.Z, Is.EqualTo(-1f));
            Assert.That(action.Action.W, Is.EqualTo((float)(0.25 - Math.Tanh(0.125))).Within(1e-6));

            // A wrong observation size is reported, not run.
            host.SendObservation([1f, 2f, 3f, 4f, 5f], out _);
            Assert.That(Next().Message, Is.EqualTo(new StatusMessage(StatusCode.ObservationSizeMismatch, StatusSeverity.Error, 3)));

            // Parameters: set, out of range, read-only, unknown.
            host.Send(new ParamSetMessage(1, 250));
            Assert.That(Next().Message, Is.EqualTo(new ParamAckMessage(1, ParamResult.Ok, 250)));
            host.Send(new ParamSetMessage(1, 5));
            Assert.That(Next().Message, Is.EqualTo(new ParamAckMessage(1, ParamResult.OutOfRange, 250)));
            host.Send(new ParamSetMessage(2, 7));
            Assert.That(Next().Message, Is.EqualTo(new ParamAckMessage(2, ParamResult.ReadOnly, 3)));
            host.Send(new ParamSetMessage(99, 1));
            Assert.That(((ParamAckMessage)Next().Message).Result, Is.EqualTo(ParamResult.UnknownId));

            host.Send(new HeartbeatMessage(1, LinkStatusFlags.Armed));
            Assert.That(Next().Type, Is.EqualTo(MessageType.Heartbeat));

            // Noise on the wire: the C decoder counts it and keeps going.
            host.SendRawBytes([0x00, 0x05, 0x11, 0x22, 0x00, 0x13, 0x37, 0x00]);
            host.Send(new StatusMessage((StatusCode)0x8000, StatusSeverity.Info, 0));
            var counters = Next();
            Assert.That(counters.Message, Is.EqualTo(new StatusMessage((StatusCode)0x8001, StatusSeverity.Info, 2)), "C side saw 2 bad frames");

            // 2000 observations with up to 32 in flight (a link's real traffic is paced; an unbounded burst only
            // measures how much the two pty buffers and socat hold): every one answered, in order, none lost.
            var firstSeq = host.NextSequence;
            var obs = new float[3];
            const int Count = 2000, Window = 32;
            int sent = 0;
            for (int answered = 0; answered < Count; answered++)
            {
                while (sent < Count && sent - answered < Window)
                {
                    obs[0] = sent++ * 0.001f;
                    Assert.That(host.SendObservation(obs, out _), Is.True);
                }
                var g = Next();
                Assert.That(g.Type, Is.EqualTo(MessageType.Action));
                Assert.That(((ActionMessage)g.Message).ObservationSequence, Is.EqualTo((ushort)(firstSeq + answered)));
            }
            Assert.That(host.Counters.Lost + host.Counters.Rejected, Is.Zero);
            Assert.That(host.State, Is.EqualTo(LinkState.Open));
        }
        finally
        {
            pair.Kill(); // the responder sees the hang-up and exits
            if (!responder.WaitForExit(10_000)) responder.Kill();
            TestContext.Out.WriteLine("link_responder stderr: " + responder.StandardError.ReadToEnd());
            responder.Dispose();
        }
    }
}
