namespace RoboRl.Serial;

/// <summary>Constants of the serial link, protocol version 1 (firmware-bridge/PROTOCOL.md; C twin: link/roborl_link.h).</summary>
public static class LinkProtocol
{
    public const byte Version = 1;
    public const int HeaderSize = 7;
    public const int CrcSize = 2;
    public const int MaxPayload = 1024;
    /// <summary>Header + payload + CRC, before COBS: 1033 bytes.</summary>
    public const int MaxRawFrame = HeaderSize + MaxPayload + CrcSize;
    /// <summary>COBS adds at most 1 + n/254 bytes, plus the 0x00 delimiter: 1039 bytes.</summary>
    public const int MaxWireFrame = MaxRawFrame + 1 + MaxRawFrame / 254 + 1;
    public const int MaxObservation = 255;
    /// <summary>Frames at most this far behind the last accepted sequence are dropped as replays; further behind is a sender restart.</summary>
    public const int SequenceReplayWindow = 32;
    public const byte Delimiter = 0x00;

    public const int HeartbeatSize = 8, StateSize = 60, ActuatorCommandSize = 20, ActionSize = 24,
        ParamSetSize = 6, ParamAckSize = 8, StatusSize = 8;

    /// <summary>Payload size of an observation of <paramref name="count"/> floats.</summary>
    public static int ObservationSize(int count) => 4 + 4 * count;
}

/// <summary>Message ids (PROTOCOL.md "Messages").</summary>
public enum MessageType : byte
{
    Heartbeat = 0x01,
    State = 0x02,
    ActuatorCommand = 0x03,
    Observation = 0x04,
    Action = 0x05,
    ParamSet = 0x06,
    ParamAck = 0x07,
    Status = 0x08,
}

[Flags]
public enum FrameFlags : byte
{
    None = 0,
    /// <summary>The sender (re)started its sequence: the receiver accepts any sequence number.</summary>
    SequenceReset = 0x01,
}

/// <summary>Heartbeat status bits.</summary>
[Flags]
public enum LinkStatusFlags : uint
{
    None = 0,
    Armed = 0x01,
    PolicyLoaded = 0x02,
    Failsafe = 0x04,
    SensorsStale = 0x08,
    SelfTestPassed = 0x10,
}

public enum ActuatorMode : byte { Rpm = 0, Normalised = 1 }

public enum ParamResult : byte { Ok = 0, UnknownId = 1, OutOfRange = 2, ReadOnly = 3 }

public enum StatusSeverity : byte { Info = 0, Warning = 1, Error = 2 }

/// <summary>STATUS message codes; codes from 0x8000 are application-defined.</summary>
public enum StatusCode : ushort
{
    CrcErrors = 1,
    FramingErrors = 2,
    UnknownType = 3,
    BadVersion = 4,
    Oversize = 5,
    ObservationSizeMismatch = 6,
    Watchdog = 7,
    NonFiniteAction = 8,
    BadLength = 9,
}

/// <summary>CRC-16/IBM-3740 (a.k.a. CCITT-FALSE): poly 0x1021, init 0xFFFF, no reflection, xorout 0; check("123456789") = 0x29B1.</summary>
public static class Crc16
{
    public const ushort Initial = 0xFFFF;

    // Table-driven on the host (the MCU's C twin shifts bitwise); built once from the polynomial.
    private static readonly ushort[] Table = BuildTable();

    private static ushort[] BuildTable()
    {
        var table = new ushort[256];
        for (int i = 0; i < 256; i++)
        {
            ushort crc = (ushort)(i << 8);
            for (int bit = 0; bit < 8; bit++)
                crc = (crc & 0x8000) != 0 ? (ushort)((crc << 1) ^ 0x1021) : (ushort)(crc << 1);
            table[i] = crc;
        }
        return table;
    }

    public static ushort Update(ushort crc, ReadOnlySpan<byte> data)
    {
        ushort[] table = Table;
        foreach (byte b in data)
            crc = (ushort)((crc << 8) ^ table[(byte)((crc >> 8) ^ b)]);
        return crc;
    }

    public static ushort Compute(ReadOnlySpan<byte> data) => Update(Initial, data);
}

/// <summary>Consistent Overhead Byte Stuffing (Cheshire and Baker, IEEE/ACM ToN 1999) over whole buffers.</summary>
public static class Cobs
{
    /// <summary>Largest encoding of <paramref name="length"/> bytes (no delimiter).</summary>
    public static int MaxEncodedLength(int length) => length + 1 + length / 254;

    /// <summary>Encodes <paramref name="raw"/>; returns the encoded length (no delimiter), or -1 if <paramref name="destination"/> is too small.</summary>
    public static int Encode(ReadOnlySpan<byte> raw, Span<byte> destination)
    {
        var writer = new Writer(destination);
        writer.Append(raw);
        return writer.Finish();
    }

    /// <summary>Decodes an encoded buffer (no delimiter); returns the decoded length, or -1 if malformed or <paramref name="destination"/> is too small.</summary>
    public static int Decode(ReadOnlySpan<byte> encoded, Span<byte> destination)
    {
        int r = 0, w = 0;
        while (r < encoded.Length)
        {
            int code = encoded[r++];
            if (code == 0) return -1;
            for (int k = 1; k < code; k++)
            {
                if (r >= encoded.Length || encoded[r] == 0 || w >= destination.Length) return -1;
                destination[w++] = encoded[r++];
            }
            if (code < 0xFF && r < encoded.Length)
            {
                if (w >= destination.Length) return -1;
                destination[w++] = 0;
            }
        }
        return w;
    }

    /// <summary>Streams pieces of one raw frame through COBS, so a frame is never assembled twice.</summary>
    internal ref struct Writer
    {
        private readonly Span<byte> _out;
        private int _codeAt, _written;
        private byte _code;
        private bool _overflow;

        public Writer(Span<byte> destination)
        {
            _out = destination;
            _codeAt = 0;
            _written = 1;
            _code = 1;
            _overflow = destination.Length < 1;
        }

        public void Append(scoped ReadOnlySpan<byte> data)
        {
            foreach (byte b in data)
            {
                if (b == 0) { CloseBlock(); continue; }
                if (_written >= _out.Length) { _overflow = true; return; }
                _out[_written++] = b;
                if (++_code == 0xFF) CloseBlock();
            }
        }

        private void CloseBlock()
        {
            if (_overflow || _written >= _out.Length) { _overflow = true; return; }
            _out[_codeAt] = _code;
            _code = 1;
            _codeAt = _written++;
        }

        /// <summary>Closes the last block; returns the encoded length or -1 on overflow.</summary>
        public int Finish()
        {
            if (_overflow || _codeAt >= _out.Length) return -1;
            _out[_codeAt] = _code;
            return _written;
        }
    }
}
