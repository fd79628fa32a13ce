using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.InteropServices;

namespace RoboRl.Crazyflie;

/// <summary>Radio data rates of the nRF24 in the Crazyradio (cflib drivers/crazyradio.py, <c>DR_*</c>).</summary>
public enum RadioDataRate : byte { Rate250K = 0, Rate1M = 1, Rate2M = 2 }

/// <summary>
/// A Crazyradio link URI as cflib writes it: <c>radio://DEVICE/CHANNEL/RATE[/ADDRESS]</c>, e.g.
/// <c>radio://0/80/2M/E7E7E7E7E7</c>; channel 0..125, rate 250K|1M|2M, address 5 bytes in hex
/// (default E7E7E7E7E7, cflib's power-up address).
/// </summary>
public readonly record struct RadioUri(int Device, byte Channel, RadioDataRate DataRate, ulong Address)
{
    public const ulong DefaultAddress = 0xE7E7E7E7E7;

    public static RadioUri Parse(string uri)
    {
        const string prefix = "radio://";
        if (!uri.StartsWith(prefix, StringComparison.Ordinal))
            throw new FormatException($"'{uri}' is not a radio URI; expected radio://DEVICE/CHANNEL/RATE[/ADDRESS]");
        string[] parts = uri[prefix.Length..].Split('/');
        if (parts.Length is < 3 or > 4)
            throw new FormatException($"'{uri}': expected radio://DEVICE/CHANNEL/RATE[/ADDRESS], e.g. radio://0/80/2M/E7E7E7E7E7");
        if (!int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int device))
            throw new FormatException($"'{uri}': device '{parts[0]}' is not a non-negative integer");
        if (!byte.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out byte channel) || channel > 125)
            throw new FormatException($"'{uri}': channel '{parts[1]}' is out of range; expected 0..125");
        RadioDataRate rate = parts[2].ToUpperInvariant() switch
        {
            "250K" => RadioDataRate.Rate250K,
            "1M" => RadioDataRate.Rate1M,
            "2M" => RadioDataRate.Rate2M,
            _ => throw new FormatException($"'{uri}': data rate '{parts[2]}' is unknown; expected 250K, 1M or 2M"),
        };
        ulong address = DefaultAddress;
        if (parts.Length == 4 && (parts[3].Length != 10 ||
            !ulong.TryParse(parts[3], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out address)))
            throw new FormatException($"'{uri}': address '{parts[3]}' must be 10 hex digits (5 bytes)");
        return new RadioUri(device, channel, rate, address);
    }

    public override string ToString() =>
        $"radio://{Device}/{Channel}/{DataRate switch { RadioDataRate.Rate250K => "250K", RadioDataRate.Rate1M => "1M", _ => "2M" }}/{Address:X10}";
}

/// <summary>
/// The status byte the Crazyradio returns first after each bulk transfer (cflib drivers/crazyradio.py,
/// <c>send_packet</c>): bit 0 ack received, bit 1 power detector, bits 4–7 retry count; the remaining
/// bytes are the Crazyflie's ack payload (a downlink CRTP packet, possibly empty).
/// </summary>
public readonly record struct RadioAck(bool Acknowledged, bool PowerDetector, int Retries)
{
    public static RadioAck Parse(byte status) => new((status & 0x01) != 0, (status & 0x02) != 0, status >> 4);
}

/// <summary>
/// CRTP over a Crazyradio PA (USB 1915:7777) through libusb-1.0 (P/Invoke, no managed USB stack needed).
/// Configuration uses the dongle's vendor requests (cflib drivers/crazyradio.py: SET_RADIO_CHANNEL 0x01,
/// SET_RADIO_ADDRESS 0x02, SET_DATA_RATE 0x03, SET_RADIO_POWER 0x04, SET_RADIO_ARD 0x05, SET_RADIO_ARC 0x06,
/// ACK_ENABLE 0x10, SET_CONT_CARRIER 0x20); packets go out on bulk endpoint 0x01, the status + ack
/// payload comes back on 0x81. With nothing to send, a null packet (0xFF: port 15, channel 3) polls the
/// downlink, as cflib's radio driver does.
/// </summary>
public sealed class CrazyradioLink : ICrtpLink
{
    public const ushort VendorId = 0x1915, ProductId = 0x7777;
    private const byte SetRadioChannel = 0x01, SetRadioAddress = 0x02, SetDataRate = 0x03, SetRadioPower = 0x04,
        SetRadioArd = 0x05, SetRadioArc = 0x06, AckEnable = 0x10, SetContinuousCarrier = 0x20;
    private const byte VendorOut = 0x40; // host-to-device | vendor | device (usb.TYPE_VENDOR)
    private const int TimeoutMs = 1000;

    private readonly IntPtr _context, _handle;
    private readonly object _usbLock = new();
    private readonly BlockingCollection<CrtpPacket> _received = new(boundedCapacity: 1024);
    private readonly byte[] _out = new byte[64], _in = new byte[64];

    public RadioUri Uri { get; }
    public long LostAcks { get; private set; }

    private CrazyradioLink(RadioUri uri, IntPtr context, IntPtr handle)
    {
        Uri = uri; _context = context; _handle = handle;
    }

    /// <summary>Opens the dongle named by <paramref name="uri"/> and sets it up like cflib's power-up defaults.</summary>
    public static CrazyradioLink Open(string uri)
    {
        RadioUri parsed = RadioUri.Parse(uri);
        IntPtr context;
        try { Check(LibUsb.Init(out context), "libusb_init"); }
        catch (DllNotFoundException e) { throw new CrtpLinkException("libusb-1.0 is not installed (Debian: apt-get install libusb-1.0-0)", e); }

        IntPtr handle = IntPtr.Zero;
        try
        {
            handle = OpenNth(context, parsed.Device);
            Check(LibUsb.SetConfiguration(handle, 1), "libusb_set_configuration");
            Check(LibUsb.ClaimInterface(handle, 0), "libusb_claim_interface");
            var link = new CrazyradioLink(parsed, context, handle);
            link.Configure();
            return link;
        }
        catch
        {
            if (handle != IntPtr.Zero) LibUsb.Close(handle);
            LibUsb.Exit(context);
            throw;
        }
    }

    private void Configure()
    {
        Vendor(SetDataRate, (ushort)Uri.DataRate);
        Vendor(SetRadioChannel, Uri.Channel);
        Vendor(SetContinuousCarrier, 0);
        Span<byte> address = stackalloc byte[5];
        for (int i = 0; i < 5; i++) address[i] = (byte)(Uri.Address >> (8 * (4 - i)));
        Vendor(SetRadioAddress, 0, address);
        Vendor(SetRadioPower, 3);      // 0 dBm
        Vendor(SetRadioArc, 3);        // 3 retries
        Vendor(SetRadioArd, 0x80 | 32);// retry delay sized for 32-byte acks
        Vendor(AckEnable, 1);
    }

    public void Send(in CrtpPacket packet)
    {
        int n = packet.Encode(_out);
        Exchange(n);
    }

    public bool TryReceive(out CrtpPacket packet, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!_received.TryTake(out packet))
        {
            if (DateTime.UtcNow >= deadline) return false;
            _out[0] = 0xFF; // null packet: lets the Crazyflie answer with whatever it queued
            Exchange(1);
        }
        return true;
    }

    private void Exchange(int length)
    {
        lock (_usbLock)
        {
            Check(LibUsb.BulkTransfer(_handle, 0x01, _out, length, out _, TimeoutMs), "bulk OUT");
            Check(LibUsb.BulkTransfer(_handle, 0x81, _in, _in.Length, out int received, TimeoutMs), "bulk IN");
            if (received == 0) return;
            RadioAck ack = RadioAck.Parse(_in[0]);
            if (!ack.Acknowledged) { LostAcks++; return; }
            if (received > 1)
            {
                try { _received.TryAdd(CrtpPacket.Decode(_in.AsSpan(1, received - 1))); }
                catch (CrtpFormatException) { LostAcks++; }
            }
        }
    }

    private void Vendor(byte request, ushort value, ReadOnlySpan<byte> data = default)
    {
        byte[] buffer = data.ToArray();
        int result = LibUsb.ControlTransfer(_handle, VendorOut, request, value, 0, buffer, (ushort)buffer.Length, TimeoutMs);
        if (result < 0) Check(result, $"vendor request 0x{request:X2}");
    }

    private static IntPtr OpenNth(IntPtr context, int index)
    {
        long count = LibUsb.GetDeviceList(context, out IntPtr list);
        if (count < 0) Check((int)count, "libusb_get_device_list");
        try
        {
            int found = 0;
            for (int i = 0; i < count; i++)
            {
                IntPtr device = Marshal.ReadIntPtr(list, i * IntPtr.Size);
                if (LibUsb.GetDeviceDescriptor(device, out LibUsb.DeviceDescriptor descriptor) != 0) continue;
                if (descriptor.idVendor != VendorId || descriptor.idProduct != ProductId) continue;
                if (found++ != index) continue;
                Check(LibUsb.Open(device, out IntPtr handle), "libusb_open");
                return handle;
            }
            throw new CrtpLinkException(found == 0
                ? $"no Crazyradio (USB {VendorId:x4}:{ProductId:x4}) is connected"
                : $"Crazyradio #{index} asked for, but only {found} connected");
        }
        finally { LibUsb.FreeDeviceList(list, 1); }
    }

    private static void Check(int result, string what)
    {
        if (result < 0) throw new CrtpLinkException($"{what} failed: {Marshal.PtrToStringAnsi(LibUsb.ErrorName(result))}");
    }

    public void Dispose()
    {
        LibUsb.ReleaseInterface(_handle, 0);
        LibUsb.Close(_handle);
        LibUsb.Exit(_context);
        _received.Dispose();
    }

    /// <summary>The few libusb-1.0 functions the Crazyradio needs (libusb.h).</summary>
    private static partial class LibUsb
    {
        private const string Library = "libusb-1.0.so.0";

        [StructLayout(LayoutKind.Sequential)]
        public struct DeviceDescriptor
        {
            public byte bLength, bDescriptorType;
            public ushort bcdUSB;
            public byte bDeviceClass, bDeviceSubClass, bDeviceProtocol, bMaxPacketSize0;
            public ushort idVendor, idProduct, bcdDevice;
            public byte iManufacturer, iProduct, iSerialNumber, bNumConfigurations;
        }

        [DllImport(Library, EntryPoint = "libusb_init")] public static extern int Init(out IntPtr context);
        [DllImport(Library, EntryPoint = "libusb_exit")] public static extern void Exit(IntPtr context);
        [DllImport(Library, EntryPoint = "libusb_get_device_list")] public static extern long GetDeviceList(IntPtr context, out IntPtr list);
        [DllImport(Library, EntryPoint = "libusb_free_device_list")] public static extern void FreeDeviceList(IntPtr list, int unrefDevices);
        [DllImport(Library, EntryPoint = "libusb_get_device_descriptor")] public static extern int GetDeviceDescriptor(IntPtr device, out DeviceDescriptor descriptor);
        [DllImport(Library, EntryPoint = "libusb_open")] public static extern int Open(IntPtr device, out IntPtr handle);
        [DllImport(Library, EntryPoint = "libusb_close")] public static extern void Close(IntPtr handle);
        [DllImport(Library, EntryPoint = "libusb_set_configuration")] public static extern int SetConfiguration(IntPtr handle, int configuration);
        [DllImport(Library, EntryPoint = "libusb_claim_interface")] public static extern int ClaimInterface(IntPtr handle, int interfaceNumber);
        [DllImport(Library, EntryPoint = "libusb_release_interface")] public static extern int ReleaseInterface(IntPtr handle, int interfaceNumber);
        [DllImport(Library, EntryPoint = "libusb_control_transfer")]
        public static extern int ControlTransfer(IntPtr handle, byte requestType, byte request, ushort value, ushort index, byte[] data, ushort length, int timeoutMs);
        [DllImport(Library, EntryPoint = "libusb_bulk_transfer")]
        public static extern int BulkTransfer(IntPtr handle, byte endpoint, byte[] data, int length, out int transferred, int timeoutMs);
        [DllImport(Library, EntryPoint = "libusb_error_name")] public static extern IntPtr ErrorName(int error);
    }
}
