using System.Diagnostics;

namespace RoboRl.Serial;

public enum LinkState
{
    Open,
    /// <summary>The transport failed (cable pulled, port closed); see <see cref="SerialLink.FaultReason"/>. Sends return false.</summary>
    Faulted,
    Closed,
}

/// <summary>
/// A serial link: a background reader thread feeds a <see cref="FrameDecoder"/> and hands each valid
/// frame to the handler (on that thread; copy what you need, the frame's payload is reused); sends
/// encode into a reusable buffer under a lock. Nothing escapes: transport failures turn the link
/// <see cref="LinkState.Faulted"/> (raising <see cref="StateChanged"/> once), handler exceptions are
/// counted in <see cref="HandlerErrors"/>. Sends allocate nothing.
/// </summary>
public sealed class SerialLink : IDisposable
{
    public delegate void FrameHandler(LinkFrame frame);

    private readonly ISerialTransport _transport;
    private readonly FrameHandler? _onFrame;
    private readonly FrameDecoder _decoder = new();
    private readonly FrameEncoder _encoder = new();
    private readonly Lock _sendLock = new();
    private readonly byte[] _readBuffer = new byte[4096];
    private readonly Thread _reader;
    private volatile bool _stopping;
    private volatile int _state = (int)LinkState.Open;
    private long _lastFrameTimestamp, _handlerErrors, _framesSent, _bytesSent;

    public SerialLink(ISerialTransport transport, FrameHandler? onFrame)
    {
        _transport = transport;
        _onFrame = onFrame;
        _lastFrameTimestamp = Stopwatch.GetTimestamp();
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = "serial-link " + transport.Name, Priority = ThreadPriority.AboveNormal };
        _reader.Start();
    }

    /// <summary>Opens a port through System.IO.Ports (real UARTs, USB serial, ptys).</summary>
    public static SerialLink OpenSerialPort(string portName, int baudRate, FrameHandler? onFrame) =>
        new(new SerialPortTransport(portName, baudRate), onFrame);

    /// <summary>Opens a pty (or raw-configured tty) through its file handle: lower latency than SerialPort.</summary>
    public static SerialLink OpenPty(string path, FrameHandler? onFrame) => new(new PtyTransport(path), onFrame);

    public string Name => _transport.Name;
    public LinkState State => (LinkState)_state;
    public string? FaultReason { get; private set; }

    /// <summary>Raised once when the link turns Faulted (on the thread that saw the failure).</summary>
    public event Action<SerialLink, LinkState>? StateChanged;

    /// <summary>Receive counters (errors by class, duplicates, lost frames).</summary>
    public LinkCounters Counters => _decoder.Counters;
    public long HandlerErrors => Interlocked.Read(ref _handlerErrors);
    public long FramesSent => Interlocked.Read(ref _framesSent);
    public long BytesSent => Interlocked.Read(ref _bytesSent);

    /// <summary>Time since the last valid frame arrived (or since the link opened): a node's stale-link check.</summary>
    public TimeSpan SinceLastFrame => Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastFrameTimestamp));

    public bool Send(in HeartbeatMessage m) { lock (_sendLock) return Write(_encoder.Encode(m)); }
    public bool Send(in StateMessage m) { lock (_sendLock) return Write(_encoder.Encode(m)); }
    public bool Send(in ActuatorCommand m) { lock (_sendLock) return Write(_encoder.Encode(m)); }
    public bool Send(in ActionMessage m) { lock (_sendLock) return Write(_encoder.Encode(m)); }
    public bool Send(in ParamSetMessage m) { lock (_sendLock) return Write(_encoder.Encode(m)); }
    public bool Send(in ParamAckMessage m) { lock (_sendLock) return Write(_encoder.Encode(m)); }
    public bool Send(in StatusMessage m) { lock (_sendLock) return Write(_encoder.Encode(m)); }

    /// <summary>Sequence number the next frame sent will carry (exact when one thread sends).</summary>
    public ushort NextSequence
    {
        get { lock (_sendLock) return _encoder.NextSequence; }
    }

    /// <summary>Sends a STATE; <paramref name="sequence"/> is the number an ACTION reply (policy on the MCU) will echo.</summary>
    public bool Send(in StateMessage m, out ushort sequence)
    {
        lock (_sendLock)
        {
            sequence = _encoder.NextSequence;
            return Write(_encoder.Encode(m));
        }
    }

    /// <summary>Sends an OBSERVATION; <paramref name="sequence"/> is the number the ACTION reply will echo.</summary>
    public bool SendObservation(ReadOnlySpan<float> observation, out ushort sequence)
    {
        lock (_sendLock)
        {
            sequence = _encoder.NextSequence;
            return Write(_encoder.EncodeObservation(observation));
        }
    }

    /// <summary>Sends raw bytes as they are (tests of the receiver: garbage, replays).</summary>
    public bool SendRawBytes(ReadOnlySpan<byte> bytes)
    {
        lock (_sendLock) return Write(bytes);
    }

    private bool Write(ReadOnlySpan<byte> wire)
    {
        if (_state != (int)LinkState.Open) return false;
        try
        {
            _transport.Write(wire);
            _framesSent++;
            _bytesSent += wire.Length;
            return true;
        }
        catch (Exception e)
        {
            // Whatever the transport throws, the link reports it; nothing escapes a send.
            Fault($"write to {Name} failed: {e.Message}");
            return false;
        }
    }

    private void ReadLoop()
    {
        // ThreadPriority.AboveNormal (above) changes nothing on Linux; a busy machine would delay every frame the node waits
        // for. Only for the pty transport, which waits in poll() itself: System.IO.Ports' Unix stream does its reads and
        // writes on its own normal-priority thread, which this one must not outrank.
        if (_transport is PtyTransport)
            RoboRl.Core.Robots.RealTimeScheduling.TryEnterFifo(RoboRl.Core.Robots.RealTimeScheduling.TransportPriority);
        while (!_stopping)
        {
            int n;
            try
            {
                n = _transport.Read(_readBuffer);
            }
            catch (Exception e)
            {
                // Whatever the transport throws, the link reports it; nothing escapes the thread.
                if (!_stopping) Fault($"read from {Name} failed: {e.Message}");
                return;
            }
            ReadOnlySpan<byte> chunk = _readBuffer.AsSpan(0, n);
            while (_decoder.TryDecode(ref chunk, out LinkFrame frame))
            {
                Interlocked.Exchange(ref _lastFrameTimestamp, Stopwatch.GetTimestamp());
                if (_onFrame is null) continue;
                try
                {
                    _onFrame(frame);
                }
                catch (Exception)
                {
                    Interlocked.Increment(ref _handlerErrors);
                }
            }
        }
    }

    private void Fault(string reason)
    {
        if (Interlocked.CompareExchange(ref _state, (int)LinkState.Faulted, (int)LinkState.Open) != (int)LinkState.Open) return;
        FaultReason = reason;
        try
        {
            StateChanged?.Invoke(this, LinkState.Faulted);
        }
        catch (Exception)
        {
            Interlocked.Increment(ref _handlerErrors);
        }
    }

    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        _state = (int)LinkState.Closed;
        _transport.Dispose();
        if (Thread.CurrentThread != _reader) _reader.Join(TimeSpan.FromSeconds(5));
    }
}
