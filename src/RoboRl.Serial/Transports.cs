using System.Diagnostics;
using System.IO.Ports;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace RoboRl.Serial;

/// <summary>A byte pipe under a <see cref="SerialLink"/>.</summary>
public interface ISerialTransport : IDisposable
{
    string Name { get; }

    /// <summary>
    /// Waits up to a short poll interval for bytes; returns how many were read (0: none arrived yet).
    /// Throws <see cref="IOException"/> when the port is gone (cable pulled, pty closed).
    /// </summary>
    int Read(byte[] buffer);

    /// <summary>Writes all bytes or throws <see cref="IOException"/>.</summary>
    void Write(ReadOnlySpan<byte> data);
}

/// <summary>
/// System.IO.Ports on a real port or a pty. DTR/RTS stay off: setting them throws on a pty
/// (shared/FACTS.md), and no MCU link here uses hardware handshaking. The Unix SerialStream polls at
/// ~1 ms, so round trips have a ~2 ms floor; <see cref="PtyTransport"/> is faster on ptys.
/// </summary>
public sealed class SerialPortTransport : ISerialTransport
{
    private readonly SerialPort _port;
    private readonly Stream _stream;

    public SerialPortTransport(string portName, int baudRate = 921600)
    {
        _port = new SerialPort(portName, baudRate, Parity.None, 8, StopBits.One)
        {
            Handshake = Handshake.None,
            DtrEnable = false,
            RtsEnable = false,
            ReadTimeout = 100,
            WriteTimeout = 500, // 1039-byte frame at 115200 baud: 90 ms
            ReadBufferSize = 64 * 1024,
            WriteBufferSize = 64 * 1024,
        };
        try
        {
            _port.Open();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            _port.Dispose();
            throw new IOException($"cannot open serial port '{portName}' at {baudRate} baud: {e.Message}", e);
        }
        _stream = _port.BaseStream;
    }

    public string Name => _port.PortName;

    public int Read(byte[] buffer)
    {
        try
        {
            return _stream.Read(buffer, 0, buffer.Length);
        }
        catch (TimeoutException)
        {
            return 0;
        }
        catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
        {
            throw new IOException($"serial port '{Name}' closed: {e.Message}", e);
        }
    }

    public void Write(ReadOnlySpan<byte> data)
    {
        try
        {
            _stream.Write(data);
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException or ObjectDisposedException)
        {
            throw new IOException($"serial port '{Name}' write failed: {e.Message}", e);
        }
    }

    /// <summary>
    /// Closes the port without blocking for long: after a cable pull, the Unix SerialStream's close can
    /// wait forever on its I/O loop (seen here on ptys whose socat was killed, about 1 run in 10), so the
    /// close runs on a worker and is abandoned after two seconds.
    /// </summary>
    public void Dispose()
    {
        var close = Task.Run(_port.Dispose);
        if (!close.Wait(TimeSpan.FromSeconds(2)))
            Trace.TraceWarning($"serial port '{Name}' did not close within 2 s; abandoned");
    }
}

/// <summary>
/// A pty (or any tty already configured raw, e.g. by socat) read and written through its file
/// file descriptor: poll(2) with a short timeout, then read(2); write(2) to send. About 0.3 ms round trips instead of
/// SerialPort's ~2 ms (shared/FACTS.md). Linux only.
/// </summary>
public sealed class PtyTransport : ISerialTransport
{
    private const short PollIn = 0x001, PollErr = 0x008, PollHup = 0x010, PollNval = 0x020;
    private const int PollTimeoutMs = 50;
    private readonly SafeFileHandle _handle;
    private volatile bool _disposed;

    public PtyTransport(string path)
    {
        Name = path;
        try
        {
            _handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot open pty '{path}': {e.Message}", e);
        }
    }

    public string Name { get; }

    /// <summary>True when <paramref name="device"/> is (or links to) a pseudo-terminal, /dev/pts/N: open it with this class.</summary>
    public static bool IsPseudoTerminal(string device)
    {
        string resolved = new FileInfo(device).LinkTarget is { } target
            ? Path.GetFullPath(target, Path.GetDirectoryName(Path.GetFullPath(device))!)
            : Path.GetFullPath(device);
        return resolved.StartsWith("/dev/pts/", StringComparison.Ordinal);
    }

    public unsafe int Read(byte[] buffer)
    {
        if (_disposed) throw new IOException($"pty '{Name}' is closed");
        var fd = new PollFd { Fd = (int)_handle.DangerousGetHandle(), Events = PollIn };
        int ready = poll(&fd, 1, PollTimeoutMs);
        if (ready < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == 4) return 0; // EINTR
            throw new IOException($"poll on pty '{Name}' failed (errno {errno})");
        }
        if (ready == 0) return 0;
        if ((fd.Revents & PollIn) == 0 && (fd.Revents & (PollHup | PollErr | PollNval)) != 0)
            throw new IOException($"pty '{Name}' hung up (the other end closed)");
        int n;
        fixed (byte* p = buffer) n = (int)read(fd.Fd, p, (nuint)buffer.Length);
        if (n < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is 4 or 11) return 0; // EINTR, EAGAIN
            throw new IOException($"read from pty '{Name}' failed (errno {errno}{(errno == 5 ? ", EIO: the other end closed" : "")})");
        }
        if (n == 0) throw new IOException($"pty '{Name}' reached end of stream (the other end closed)");
        return n;
    }

    public unsafe void Write(ReadOnlySpan<byte> data)
    {
        if (_disposed) throw new IOException($"pty '{Name}' is closed");
        int fd = (int)_handle.DangerousGetHandle();
        fixed (byte* start = data)
        {
            int done = 0;
            while (done < data.Length)
            {
                long n = (long)write(fd, start + done, (nuint)(data.Length - done));
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno is 4 or 11) { Thread.Yield(); continue; } // EINTR, EAGAIN
                    throw new IOException($"write to pty '{Name}' failed (errno {errno}{(errno == 5 ? ", EIO: the other end closed" : "")})");
                }
                done += (int)n;
            }
        }
    }

    public void Dispose()
    {
        _disposed = true;
        _handle.Dispose();
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern unsafe int poll(PollFd* fds, nuint nfds, int timeout);

    [DllImport("libc", SetLastError = true)]
    private static extern unsafe nint read(int fd, byte* buf, nuint count);

    [DllImport("libc", SetLastError = true)]
    private static extern unsafe nint write(int fd, byte* buf, nuint count);
}
