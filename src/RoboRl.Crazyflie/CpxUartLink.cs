using System.Collections.Concurrent;
using RoboRl.Serial;

namespace RoboRl.Crazyflie;

/// <summary>A bidirectional CRTP link to one Crazyflie (radio, UART, …), named like cflib's drivers.</summary>
public interface ICrtpLink : IDisposable
{
    /// <summary>Sends one packet; throws <see cref="CrtpLinkException"/> if the link is down.</summary>
    void Send(in CrtpPacket packet);

    /// <summary>Waits up to <paramref name="timeout"/> for the next packet from the Crazyflie.</summary>
    bool TryReceive(out CrtpPacket packet, TimeSpan timeout);
}

/// <summary>The link failed: cable pulled, device gone, no clear-to-send in time.</summary>
public sealed class CrtpLinkException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// CRTP over CPX over a UART, as cflib's serial driver does it (cflib crtp/serialdriver.py +
/// cpx/transports.py): wait for the Crazyflie's clear-to-send, answer with ours, switch the firmware's
/// link bridge to CPX, then exchange CRTP packets as CPX function 3 frames, one clear-to-send per frame.
/// </summary>
public sealed class CpxUartLink : ICrtpLink
{
    /// <summary>cflib opens the UART at 576000 baud (serialdriver.py).</summary>
    public const int DefaultBaudRate = 576000;

    private readonly ISerialTransport _transport;
    private readonly CpxUartDecoder _decoder = new();
    private readonly SemaphoreSlim _clearToSend = new(0, 1);
    private readonly BlockingCollection<CrtpPacket> _received = new(boundedCapacity: 1024);
    private readonly byte[] _sendBuffer = new byte[CpxUart.MaxFrameLength];
    private readonly object _sendLock = new();   // one frame in flight: held while waiting for clear-to-send
    private readonly object _writeLock = new();  // raw bytes: frames and our clear-to-send never interleave
    private readonly Thread _reader;
    private volatile bool _closing;
    private volatile Exception? _failure;

    public TimeSpan SendTimeout { get; init; } = TimeSpan.FromSeconds(1);
    public CpxUartDecoder Statistics => _decoder;
    public long DroppedPackets { get; private set; }

    private CpxUartLink(ISerialTransport transport)
    {
        _transport = transport;
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = "cpx-uart-reader" };
    }

    /// <summary>Opens a serial device (a real UART or a pty) and performs the CPX handshake.</summary>
    public static CpxUartLink Open(string device, TimeSpan connectTimeout, int baudRate = DefaultBaudRate)
    {
        ISerialTransport transport;
        try
        {
            // A pty is read through its file descriptor with poll(2): System.IO.Ports can hang for ever when it
            // closes a pty whose other end is gone (seen here), and a pty has no baud rate to set anyway.
            transport = PtyTransport.IsPseudoTerminal(device) ? new PtyTransport(device) : new SerialPortTransport(device, baudRate);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new CrtpLinkException($"cannot open {device}: {e.Message}", e);
        }
        return Connect(transport, connectTimeout);
    }

    /// <summary>Runs the CPX handshake over an already open transport; the link owns it from then on.</summary>
    public static CpxUartLink Connect(ISerialTransport transport, TimeSpan connectTimeout)
    {
        var link = new CpxUartLink(transport);
        link._reader.Start();
        if (!link._clearToSend.Wait(connectTimeout))
        {
            link.Dispose();
            throw new CrtpLinkException($"no clear-to-send (0xFF 0x00) from the Crazyflie within {connectTimeout.TotalSeconds:0.#} s");
        }
        link.WriteRaw(CpxUart.ClearToSend);
        link._clearToSend.Release();
        link.SendCpx(new CpxHeader(CpxTarget.Host, CpxTarget.Stm32, CpxFunction.System), CpxUart.EnableCrtpBridge);
        link.SendCpx(new CpxHeader(CpxTarget.Host, CpxTarget.Stm32, CpxFunction.System), CpxUart.ForceClientConnected);
        return link;
    }

    public void Send(in CrtpPacket packet)
    {
        Span<byte> data = stackalloc byte[CpxHeader.Length + CrtpPacket.MaxEncodedLength];
        new CpxHeader(CpxTarget.Host, CpxTarget.Stm32, CpxFunction.Crtp).Write(data);
        int n = packet.Encode(data[CpxHeader.Length..]);
        SendCpx(new CpxHeader(CpxTarget.Host, CpxTarget.Stm32, CpxFunction.Crtp), data[CpxHeader.Length..(CpxHeader.Length + n)]);
    }

    public bool TryReceive(out CrtpPacket packet, TimeSpan timeout)
    {
        if (_received.TryTake(out packet, timeout)) return true;
        if (_failure is { } failure) throw new CrtpLinkException($"CPX UART link is down: {failure.Message}", failure);
        return false;
    }

    private void SendCpx(CpxHeader header, ReadOnlySpan<byte> payload)
    {
        if (_failure is { } failure) throw new CrtpLinkException($"CPX UART link is down: {failure.Message}", failure);
        lock (_sendLock)
        {
            if (!_clearToSend.Wait(SendTimeout))
                throw new CrtpLinkException($"no clear-to-send from the Crazyflie within {SendTimeout.TotalMilliseconds:0} ms");
            Span<byte> data = stackalloc byte[CpxUart.MaxDataLength];
            header.Write(data);
            payload.CopyTo(data[CpxHeader.Length..]);
            int n = CpxUart.EncodeFrame(data[..(CpxHeader.Length + payload.Length)], _sendBuffer);
            WriteRaw(_sendBuffer.AsSpan(0, n));
        }
    }

    private void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        try { lock (_writeLock) _transport.Write(bytes); }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
            _failure ??= e;
            throw new CrtpLinkException($"write failed: {e.Message}", e);
        }
    }

    private void ReadLoop()
    {
        var buffer = new byte[256];
        try
        {
            while (!_closing)
            {
                int n = _transport.Read(buffer); // returns 0 after a short poll with no data, so Dispose is noticed
                for (int i = 0; i < n; i++)
                {
                    switch (_decoder.Push(buffer[i]))
                    {
                        case CpxUartEvent.ClearToSend:
                            if (_clearToSend.CurrentCount == 0) _clearToSend.Release();
                            break;
                        case CpxUartEvent.Frame:
                            OnFrame(_decoder.FrameData);
                            break;
                    }
                }
            }
        }
        catch (Exception e) when (!_closing)
        {
            _failure = e;
        }
        catch
        {
            // Closing: the stream was disposed under the reader.
        }
    }

    private void OnFrame(ReadOnlySpan<byte> frame)
    {
        // Each frame we take is acknowledged with clear-to-send, as cflib's transport does after readPacket.
        try { lock (_writeLock) _transport.Write(CpxUart.ClearToSend); }
        catch (Exception e) when (e is IOException or ObjectDisposedException) { _failure ??= e; return; }

        CpxHeader header;
        try { header = CpxHeader.Read(frame); }
        catch (CrtpFormatException) { DroppedPackets++; return; }
        if (header.Function != CpxFunction.Crtp || frame.Length < CpxHeader.Length + 1) return;
        try
        {
            CrtpPacket packet = CrtpPacket.Decode(frame[CpxHeader.Length..]);
            if (!_received.TryAdd(packet)) DroppedPackets++;
        }
        catch (CrtpFormatException) { DroppedPackets++; }
    }

    public void Dispose()
    {
        _closing = true;
        // The reader polls with a short timeout, so it leaves on its own; only then is the transport closed.
        _reader.Join(TimeSpan.FromSeconds(2));
        try { _transport.Dispose(); } catch (IOException) { }
        _received.Dispose();
        _clearToSend.Dispose();
    }
}
