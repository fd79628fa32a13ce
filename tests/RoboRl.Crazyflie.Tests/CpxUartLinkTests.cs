using RoboRl.Serial;

namespace RoboRl.Crazyflie.Tests;

/// <summary>The CPX UART link against a scripted Crazyflie on the other end of a real pty pair.</summary>
public class CpxUartLinkTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>Plays the Crazyflie's side of cflib's UART transport: clear-to-send, ack each frame, answer CRTP.</summary>
    private sealed class FakeCrazyflie : IDisposable
    {
        private readonly PtyTransport _port;
        private volatile bool _stopped;
        private readonly Thread _thread;
        private readonly CpxUartDecoder _decoder = new();
        public readonly List<byte[]> ReceivedCpxFrames = [];
        public readonly ManualResetEventSlim GotCrtp = new();

        public FakeCrazyflie(string path)
        {
            _port = new PtyTransport(path);
            _thread = new Thread(Run) { IsBackground = true };
            _thread.Start();
        }

        private void Run()
        {
            try
            {
                _port.Write(CpxUart.ClearToSend);
                var buffer = new byte[256];
                var data = new byte[40];
                while (!_stopped)
                {
                    int n = _port.Read(buffer); // 0 after a short poll with nothing to read
                    for (int i = 0; i < n; i++)
                    {
                        if (_decoder.Push(buffer[i]) != CpxUartEvent.Frame) continue;
                        byte[] frame = _decoder.FrameData.ToArray();
                        lock (ReceivedCpxFrames) ReceivedCpxFrames.Add(frame);
                        _port.Write(CpxUart.ClearToSend);
                        if (CpxHeader.Read(frame).Function == CpxFunction.Crtp)
                        {
                            // Answer with a log data packet, as the firmware would stream one.
                            new CpxHeader(CpxTarget.Stm32, CpxTarget.Host, CpxFunction.Crtp).Write(data);
                            var reply = new CrtpPacket(CrtpPort.Logging, Logging.DataChannel, [1, 0x10, 0, 0, 0, 0, 0xC0, 0x3F]);
                            int m = reply.Encode(data.AsSpan(2));
                            var frameOut = new byte[CpxUart.MaxFrameLength];
                            int f = CpxUart.EncodeFrame(data.AsSpan(0, 2 + m), frameOut);
                            _port.Write(frameOut.AsSpan(0, f));
                            GotCrtp.Set();
                        }
                    }
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException) { /* the pty went away: the test is over or pulled the cable */ }
        }

        public void Dispose()
        {
            _stopped = true;
            _thread.Join(TimeSpan.FromSeconds(2));
            _port.Dispose();
        }
    }

    [Test, CancelAfter(60_000)]
    public void HandshakeThenCrtpBothWays()
    {
        using var pty = SocatPtyPair.Start();
        using var crazyflie = new FakeCrazyflie(pty.PathB);
        using var link = CpxUartLink.Open(pty.PathA, Timeout);

        link.Send(Setpoints.Position(1, 2, 3, 0));
        Assert.That(link.TryReceive(out CrtpPacket reply, Timeout), Is.True, "the Crazyflie's reply arrives");
        Assert.That((reply.Port, reply.Channel), Is.EqualTo((CrtpPort.Logging, Logging.DataChannel)));
        Assert.That(Logging.ParseData(reply).TimestampMs, Is.EqualTo(0x10u));

        Assert.That(crazyflie.GotCrtp.Wait(Timeout), Is.True);
        lock (crazyflie.ReceivedCpxFrames)
        {
            // cflib's connect sequence: bridge to CPX (0x21 0x01), client connected (0x20 0x01), then CRTP.
            Assert.That(crazyflie.ReceivedCpxFrames[0][2..], Is.EqualTo(new byte[] { 0x21, 0x01 }));
            Assert.That(crazyflie.ReceivedCpxFrames[1][2..], Is.EqualTo(new byte[] { 0x20, 0x01 }));
            Assert.That(CpxHeader.Read(crazyflie.ReceivedCpxFrames[0]).Function, Is.EqualTo(CpxFunction.System));
            GenericSetpoint setpoint = Setpoints.Parse(CrtpPacket.Decode(crazyflie.ReceivedCpxFrames[2][2..]));
            Assert.That((setpoint.X, setpoint.Y, setpoint.Z), Is.EqualTo((1f, 2f, 3f)));
        }
    }

    [Test, CancelAfter(60_000)]
    public void NoClearToSendIsAClearError()
    {
        using var pty = SocatPtyPair.Start();
        using var silent = new PtyTransport(pty.PathB);
        var e = Assert.Throws<CrtpLinkException>(() => CpxUartLink.Open(pty.PathA, TimeSpan.FromMilliseconds(300)));
        Assert.That(e!.Message, Does.Contain("clear-to-send"));
    }

    [Test, CancelAfter(60_000)]
    public void PulledCableIsReportedNotThrownFromTheReader()
    {
        using var pty = SocatPtyPair.Start();
        using var crazyflie = new FakeCrazyflie(pty.PathB);
        using var link = CpxUartLink.Open(pty.PathA, Timeout);
        pty.Kill();
        crazyflie.Dispose();
        // Within a few seconds every call reports the dead link as CrtpLinkException, nothing else escapes.
        Exception? seen = null;
        var deadline = DateTime.UtcNow + Timeout;
        while (seen is null && DateTime.UtcNow < deadline)
        {
            try { link.Send(Setpoints.Stop()); link.TryReceive(out _, TimeSpan.FromMilliseconds(100)); }
            catch (CrtpLinkException e) { seen = e; }
        }
        Assert.That(seen, Is.Not.Null, "a pulled cable surfaces as CrtpLinkException");
    }
}
