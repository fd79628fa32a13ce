namespace RoboRl.Crazyflie;

/// <summary>CPX endpoints (cflib cpx/__init__.py, <c>CPXTarget</c>).</summary>
public enum CpxTarget : byte { Stm32 = 1, Esp32 = 2, Host = 3, Gap8 = 4 }

/// <summary>CPX functions (cflib cpx/__init__.py, <c>CPXFunction</c>).</summary>
public enum CpxFunction : byte { System = 1, Console = 2, Crtp = 3, WifiControl = 4, App = 5, Test = 0x0E, Bootloader = 0x0F }

/// <summary>
/// The 2-byte CPX routing header (cflib cpx/__init__.py, <c>CPXPacket._get_wire_data</c>):
/// byte 0 = last-packet flag (0x40) | source &lt;&lt; 3 | destination (3 bits each);
/// byte 1 = version &lt;&lt; 6 | function (6 bits). Version 0 is the only one defined.
/// </summary>
public readonly record struct CpxHeader(CpxTarget Source, CpxTarget Destination, CpxFunction Function, bool LastPacket = true)
{
    public const int Length = 2;
    public const int Version = 0;

    public void Write(Span<byte> destination)
    {
        destination[0] = (byte)((LastPacket ? 0x40 : 0) | ((byte)Source & 0x7) << 3 | ((byte)Destination & 0x7));
        destination[1] = (byte)(((byte)Function & 0x3F) | Version << 6);
    }

    public static CpxHeader Read(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < Length) throw new CrtpFormatException($"CPX packet has {bytes.Length} bytes; expected at least the 2-byte header");
        int version = bytes[1] >> 6;
        if (version != Version) throw new CrtpFormatException($"CPX version {version} is not supported; expected {Version}");
        return new CpxHeader((CpxTarget)((bytes[0] >> 3) & 0x7), (CpxTarget)(bytes[0] & 0x7), (CpxFunction)(bytes[1] & 0x3F), (bytes[0] & 0x40) != 0);
    }
}

/// <summary>
/// CPX over UART framing as cflib's <c>UARTTransport</c> speaks it (cflib cpx/transports.py):
/// <c>0xFF, length, data[length], checksum</c> where checksum is the XOR of every preceding byte
/// (start and length included) and length ≤ 100. The two bytes <c>0xFF 0x00</c> are "clear to send":
/// each side sends one after it has taken a packet, and a sender waits for it before the next packet.
/// </summary>
public static class CpxUart
{
    public const byte Start = 0xFF;
    public const int MaxDataLength = 100;
    public const int MaxFrameLength = MaxDataLength + 3;
    /// <summary>System-function commands cflib's serial driver sends after connecting
    /// (cflib crtp/serialdriver.py): route CRTP over CPX, and mark the client connected.</summary>
    public static ReadOnlySpan<byte> EnableCrtpBridge => [0x21, 0x01];
    public static ReadOnlySpan<byte> ForceClientConnected => [0x20, 0x01];
    public static ReadOnlySpan<byte> ClearToSend => [Start, 0x00];

    /// <summary>Frames <paramref name="data"/> (CPX header + payload); returns the frame length.</summary>
    public static int EncodeFrame(ReadOnlySpan<byte> data, Span<byte> destination)
    {
        if (data.Length == 0 || data.Length > MaxDataLength)
            throw new ArgumentOutOfRangeException(nameof(data), data.Length, $"CPX UART frames carry 1..{MaxDataLength} bytes");
        destination[0] = Start;
        destination[1] = (byte)data.Length;
        data.CopyTo(destination[2..]);
        byte checksum = 0;
        for (int i = 0; i < data.Length + 2; i++) checksum ^= destination[i];
        destination[data.Length + 2] = checksum;
        return data.Length + 3;
    }

    /// <summary>Frames a CRTP packet for the STM32: CPX header (host → STM32, CRTP) + header + data.</summary>
    public static int EncodeCrtp(in CrtpPacket packet, Span<byte> destination)
    {
        Span<byte> data = stackalloc byte[CpxHeader.Length + CrtpPacket.MaxEncodedLength];
        new CpxHeader(CpxTarget.Host, CpxTarget.Stm32, CpxFunction.Crtp).Write(data);
        int n = packet.Encode(data[CpxHeader.Length..]);
        return EncodeFrame(data[..(CpxHeader.Length + n)], destination);
    }
}

/// <summary>What <see cref="CpxUartDecoder.Push"/> found in the byte stream.</summary>
public enum CpxUartEvent { None, Frame, ClearToSend }

/// <summary>
/// Incremental decoder for the CPX UART byte stream: feed it bytes as they arrive; it reports complete
/// frames and clear-to-send markers, resynchronises on the next 0xFF after a bad checksum, and counts
/// errors instead of throwing. Allocation-free.
/// </summary>
public sealed class CpxUartDecoder
{
    private enum State { WaitStart, Length, Data, Checksum }

    private readonly byte[] _frame = new byte[CpxUart.MaxDataLength];
    private State _state;
    private int _length, _received;
    private byte _checksum;

    public long Frames { get; private set; }
    public long ChecksumErrors { get; private set; }
    public long SkippedBytes { get; private set; }
    public long ClearToSendCount { get; private set; }

    /// <summary>The last complete frame's data (CPX header + payload); valid until the next <see cref="Push"/>.</summary>
    public ReadOnlySpan<byte> FrameData => _frame.AsSpan(0, _length);

    /// <summary>Consumes one byte.</summary>
    public CpxUartEvent Push(byte value)
    {
        switch (_state)
        {
            case State.WaitStart:
                if (value == CpxUart.Start) { _state = State.Length; _checksum = value; }
                else SkippedBytes++;
                return CpxUartEvent.None;
            case State.Length:
                if (value == 0) { _state = State.WaitStart; ClearToSendCount++; return CpxUartEvent.ClearToSend; }
                if (value > CpxUart.MaxDataLength) { _state = State.WaitStart; SkippedBytes += 2; return CpxUartEvent.None; }
                _length = value; _received = 0; _checksum ^= value; _state = State.Data;
                return CpxUartEvent.None;
            case State.Data:
                _frame[_received++] = value;
                _checksum ^= value;
                if (_received == _length) _state = State.Checksum;
                return CpxUartEvent.None;
            default:
                _state = State.WaitStart;
                if (value != _checksum) { ChecksumErrors++; return CpxUartEvent.None; }
                Frames++;
                return CpxUartEvent.Frame;
        }
    }
}
