using System.Collections.Concurrent;
using System.Diagnostics;
using System.Numerics;

namespace RoboRl.Serial.Tests;

/// <summary>SerialLink over real ptys made by socat, through both transports (System.IO.Ports and the pty file handle).</summary>
[NonParallelizable]
public class SerialLinkTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20); // generous: a loaded 2-core machine

    [OneTimeSetUp]
    public void RequireSocat()
    {
        if (SocatPtyPair.IsAvailable()) return;
        if (Environment.GetEnvironmentVariable("CI") == "true")
            Assert.Fail("socat is missing: tests/run.sh must install it (tests/prerequisites.txt)");
        Assert.Ignore("socat is not installed (apt-get install socat)");
    }

    private static SerialLink Open(SerialTransportKind kind, string path, SerialLink.FrameHandler handler) =>
        kind == SerialTransportKind.Pty ? SerialLink.OpenPty(path, handler) : SerialLink.OpenSerialPort(path, 921600, handler);

    private static void WaitUntil(Func<bool> condition, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > Patience) Assert.Fail($"timed out after {Patience.TotalSeconds} s waiting for {what}");
            Thread.Sleep(5);
        }
    }

    /// <summary>A received frame copied out of the reader thread.</summary>
    private sealed record Received(MessageType Type, ushort Sequence, object Message);

    private static Received Copy(LinkFrame f) => new(f.Type, f.Sequence, f.Type switch
    {
        MessageType.Heartbeat => f.ReadHeartbeat(),
        MessageType.State => f.ReadState(),
        MessageType.ActuatorCommand => f.ReadActuatorCommand(),
        MessageType.Observation => ReadObs(f),
        MessageType.Action => f.ReadAction(),
        MessageType.ParamSet => f.ReadParamSet(),
        MessageType.ParamAck => f.ReadParamAck(),
        MessageType.Status => f.ReadStatus(),
        _ => throw new InvalidOperationException(),
    });

    private static float[] ReadObs(LinkFrame f)
    {
        var o = new float[f.ObservationCount];
        f.ReadObservation(o);
        return o;
    }

    [TestCase(SerialTransportKind.Pty)]
    [TestCase(SerialTransportKind.SerialPort)]
    public void EveryMessageType_RoundTrips(SerialTransportKind kind)
    {
        using var pair = SocatPtyPair.Start();
        var atMcu = new ConcurrentQueue<Received>();
        var atHost = new ConcurrentQueue<Received>();
        using var mcu = Open(kind, pair.PathB, f => atMcu.Enqueue(Copy(f)));
        using var host = Open(kind, pair.PathA, f => atHost.Enqueue(Copy(f)));

        var state = new StateMessage(123456789, new Vector3(0.5f, -0.25f, 1), new Quaternion(0.1f, 0.2f, 0.3f, 0.9f), new Vector3(1, 2, 3), new Vector3(-1, -2, -3));
        var cmd = new ActuatorCommand(ActuatorMode.Rpm, new Vector4(10851, 21702, 0, 15000.5f));
        float[] obs = Enumerable.Range(0, 146).Select(i => i * 0.01f).ToArray();
        var paramSet = new ParamSetMessage(12, 0.15f);
        Assert.That(host.Send(state), Is.True);
        Assert.That(host.Send(cmd), Is.True);
        Assert.That(host.SendObservation(obs, out ushort obsSeq), Is.True);
        Assert.That(host.Send(paramSet), Is.True);
        Assert.That(host.Send(new HeartbeatMessage(1000, LinkStatusFlags.Armed)), Is.True);
        WaitUntil(() => atMcu.Count == 5, "5 frames at the MCU end");

        var action = new ActionMessage(obsSeq, 180, new Vector4(-1, 0.5f, 0.999f, -0.001f));
        var ack = new ParamAckMessage(12, ParamResult.Ok, 0.15f);
        var status = new StatusMessage(StatusCode.Watchdog, StatusSeverity.Warning, 100);
        Assert.That(mcu.Send(action) && mcu.Send(ack) && mcu.Send(status) && mcu.Send(new HeartbeatMessage(2000, LinkStatusFlags.PolicyLoaded)), Is.True);
        WaitUntil(() => atHost.Count == 4, "4 frames at the host end");

        var m = atMcu.ToArray();
        Assert.That(m.Select(r => r.Type), Is.EqualTo(new[] { MessageType.State, MessageType.ActuatorCommand, MessageType.Observation, MessageType.ParamSet, MessageType.Heartbeat }));
        Assert.That(m[0].Message, Is.EqualTo(state));
        Assert.That(m[1].Message, Is.EqualTo(cmd));
        Assert.That((float[])m[2].Message, Is.EqualTo(obs));
        Assert.That(m[2].Sequence, Is.EqualTo(obsSeq));
        Assert.That(m[3].Message, Is.EqualTo(paramSet));
        var h = atHost.ToArray();
        Assert.That(h[0].Message, Is.EqualTo(action));
        Assert.That(h[1].Message, Is.EqualTo(ack));
        Assert.That(h[2].Message, Is.EqualTo(status));
        Assert.That(h[3].Message, Is.EqualTo(new HeartbeatMessage(2000, LinkStatusFlags.PolicyLoaded)));
        Assert.That(host.Counters.Rejected + mcu.Counters.Rejected, Is.Zero);
        Assert.That(host.State, Is.EqualTo(LinkState.Open));
    }

    [TestCase(SerialTransportKind.Pty)]
    [TestCase(SerialTransportKind.SerialPort)]
    public void Stream1kHzForThreeSeconds_LosesNoFrame(SerialTransportKind kind)
    {
        // The target is 60 s: `roborl bench serial --seconds 60`; the test runs the same code shorter.
        var r = SerialBench.Run(new SerialBenchOptions(Seconds: 3, RateHz: 1000, Transport: kind));
        TestContext.Out.WriteLine(r.ToString());
        Assert.That(r.Fault, Is.Null);
        Assert.That(r.ObservationsSent, Is.EqualTo(3000));
        Assert.That(r.ActionsReceived, Is.EqualTo(r.ObservationsSent));
        Assert.That(r.LostFrames, Is.Zero);
        Assert.That(r.RejectedFrames, Is.Zero);
    }

    [TestCase(SerialTransportKind.Pty)]
    [TestCase(SerialTransportKind.SerialPort)]
    public void CablePull_TurnsTheLinkFaulted_WithoutAnExceptionEscaping(SerialTransportKind kind)
    {
        var pair = SocatPtyPair.Start();
        var unhandled = 0;
        UnhandledExceptionEventHandler onUnhandled = (_, _) => Interlocked.Increment(ref unhandled);
        AppDomain.CurrentDomain.UnhandledException += onUnhandled;
        try
        {
            int received = 0;
            using var host = Open(kind, pair.PathA, _ => Interlocked.Increment(ref received));
            using var mcu = Open(kind, pair.PathB, _ => { });
            LinkState? reported = null;
            host.StateChanged += (_, s) => reported = s;
            Assert.That(mcu.Send(new HeartbeatMessage(1, 0)), Is.True);
            WaitUntil(() => Volatile.Read(ref received) == 1, "the first heartbeat");

            pair.Kill();
            // Reads notice the hang-up; sends into a dead pty fail too. Either way: Faulted, no throw.
            WaitUntil(() =>
            {
                host.Send(new HeartbeatMessage(2, 0));
                return host.State == LinkState.Faulted;
            }, "the host link to report the pulled cable");
            Assert.That(host.FaultReason, Is.Not.Null.And.Not.Empty);
            Assert.That(reported, Is.EqualTo(LinkState.Faulted));
            Assert.That(host.Send(new HeartbeatMessage(3, 0)), Is.False, "sends on a faulted link return false");
            TestContext.Out.WriteLine($"{kind}: {host.FaultReason}");
        }
        finally
        {
            pair.Dispose();
            AppDomain.CurrentDomain.UnhandledException -= onUnhandled;
        }
        Assert.That(unhandled, Is.Zero);
    }

    [Test]
    public void GarbageAndReplaysOnTheWire_AreCountedAndTheLinkKeepsGoing()
    {
        using var pair = SocatPtyPair.Start();
        var got = new ConcurrentQueue<uint>();
        using var mcu = SerialLink.OpenPty(pair.PathB, f => { if (f.Type == MessageType.Heartbeat) got.Enqueue(f.ReadHeartbeat().UptimeMs); });
        using var host = SerialLink.OpenPty(pair.PathA, null);
        var replay = new FrameEncoder();
        byte[] first = replay.Encode(new HeartbeatMessage(1, 0)).ToArray();
        host.SendRawBytes(first);
        host.SendRawBytes([0x12, 0x34, 0x56, 0x00, 0xFF, 0xFF, 0x00]); // noise
        host.SendRawBytes(first);                                       // replayed frame
        host.SendRawBytes(replay.Encode(new HeartbeatMessage(2, 0)));
        WaitUntil(() => got.Count == 2, "two heartbeats");
        Assert.That(got, Is.EqualTo(new uint[] { 1, 2 }));
        WaitUntil(() => mcu.Counters.Duplicates == 1, "the replay to be counted");
        Assert.That(mcu.Counters.FramingErrors, Is.EqualTo(2));
        Assert.That(mcu.State, Is.EqualTo(LinkState.Open));
    }

    [Test]
    public void HandlerExceptions_AreCountedNotThrown()
    {
        using var pair = SocatPtyPair.Start();
        using var mcu = SerialLink.OpenPty(pair.PathB, _ => throw new InvalidOperationException("handler bug"));
        using var host = SerialLink.OpenPty(pair.PathA, null);
        host.Send(new HeartbeatMessage(1, 0));
        host.Send(new HeartbeatMessage(2, 0));
        WaitUntil(() => mcu.HandlerErrors == 2, "two handler errors");
        Assert.That(mcu.State, Is.EqualTo(LinkState.Open));
    }

    [Test]
    public void OpeningAMissingPort_IsAClearError()
    {
        var e = Assert.Throws<IOException>(() => SerialLink.OpenPty("/nonexistent/roborl-tty", null));
        Assert.That(e!.Message, Does.Contain("/nonexistent/roborl-tty"));
        e = Assert.Throws<IOException>(() => SerialLink.OpenSerialPort("/nonexistent/roborl-tty", 115200, null));
        Assert.That(e!.Message, Does.Contain("/nonexistent/roborl-tty"));
    }

    [Test]
    public void Send_AllocatesNothing()
    {
        using var pair = SocatPtyPair.Start();
        long received = 0;
        using var mcu = SerialLink.OpenPty(pair.PathB, _ => Interlocked.Increment(ref received));
        using var host = SerialLink.OpenPty(pair.PathA, null);
        var obs = new float[18];
        var state = new StateMessage(1, Vector3.One, Quaternion.Identity, Vector3.Zero, Vector3.Zero);
        for (int i = 0; i < 200; i++) { host.SendObservation(obs, out _); host.Send(state); }
        long allocated = AllocationMeter.FewestBytes(() => { for (int i = 0; i < 1000; i++) { host.SendObservation(obs, out _); host.Send(state); } });
        Assert.That(allocated, Is.Zero);
        WaitUntil(() => Interlocked.Read(ref received) == 6400, "all frames: 400 warm-up, then three batches of 2000");
    }
}
