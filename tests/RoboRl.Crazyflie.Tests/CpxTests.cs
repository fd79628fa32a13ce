namespace RoboRl.Crazyflie.Tests;

public class CpxTests
{
    [Test]
    public void HeaderPacksTargetsFunctionAndVersion()
    {
        Span<byte> b = stackalloc byte[2];
        new CpxHeader(CpxTarget.Host, CpxTarget.Stm32, CpxFunction.Crtp).Write(b);
        // 0x40 last-packet | Host(3) << 3 | Stm32(1); function 3, version 0.
        Assert.That(b.ToArray(), Is.EqualTo(new byte[] { 0x59, 0x03 }));
        Assert.That(CpxHeader.Read(b), Is.EqualTo(new CpxHeader(CpxTarget.Host, CpxTarget.Stm32, CpxFunction.Crtp)));
        Assert.Throws<CrtpFormatException>(() => CpxHeader.Read([0x59, 0x43]), "version 1");
    }

    [Test]
    public void UartFrameChecksumIsXorOfStartLengthAndData()
    {
        var frame = new byte[CpxUart.MaxFrameLength];
        int n = CpxUart.EncodeCrtp(Setpoints.Stop(), frame);
        // FF, length 4, CPX 59 03, CRTP 7C 00, checksum FF^04^59^03^7C^00.
        Assert.That(frame[..n], Is.EqualTo(new byte[] { 0xFF, 0x04, 0x59, 0x03, 0x7C, 0x00, 0xFF ^ 0x04 ^ 0x59 ^ 0x03 ^ 0x7C }));
    }

    [Test]
    public void DecoderFindsFramesInGarbageAndCountsBadChecksums()
    {
        var decoder = new CpxUartDecoder();
        var frame = new byte[CpxUart.MaxFrameLength];
        int n = CpxUart.EncodeCrtp(Setpoints.Position(1, 2, 3, 4), frame);
        var corrupted = frame[..n].ToArray();
        corrupted[5] ^= 0x10;
        byte[] stream = [0x12, 0x34, .. frame[..n], 0xFF, 0x00, .. corrupted, 0x00, .. frame[..n]];
        int frames = 0, cts = 0;
        foreach (byte b in stream)
        {
            switch (decoder.Push(b))
            {
                case CpxUartEvent.Frame:
                    frames++;
                    Assert.That(Setpoints.Parse(CrtpPacket.Decode(decoder.FrameData[2..])).X, Is.EqualTo(1f));
                    break;
                case CpxUartEvent.ClearToSend: cts++; break;
            }
        }
        Assert.That((frames, cts, decoder.ChecksumErrors), Is.EqualTo((2, 1, 1L)));
    }

    [Test]
    public void DecoderSurvivesRandomBytes()
    {
        var decoder = new CpxUartDecoder();
        var random = new Random(3);
        var bytes = new byte[200_000];
        random.NextBytes(bytes);
        Assert.That(AllocationMeter.FewestBytes(() => { foreach (byte b in bytes) decoder.Push(b); }), Is.EqualTo(0), "decoding allocates nothing");
        Assert.That(decoder.Frames + decoder.ChecksumErrors + decoder.SkippedBytes, Is.GreaterThan(0));
    }
}

public class CrazyradioTests
{
    [Test]
    public void RadioUriParsesLikeCflib()
    {
        Assert.That(RadioUri.Parse("radio://0/80/2M/E7E7E7E7E7"), Is.EqualTo(new RadioUri(0, 80, RadioDataRate.Rate2M, 0xE7E7E7E7E7)));
        Assert.That(RadioUri.Parse("radio://1/10/250K"), Is.EqualTo(new RadioUri(1, 10, RadioDataRate.Rate250K, RadioUri.DefaultAddress)));
        Assert.That(RadioUri.Parse("radio://0/80/2M/E7E7E7E701").ToString(), Is.EqualTo("radio://0/80/2M/E7E7E7E701"));
        Assert.That(Assert.Throws<FormatException>(() => RadioUri.Parse("radio://0/126/2M"))!.Message, Does.Contain("0..125"));
        Assert.That(Assert.Throws<FormatException>(() => RadioUri.Parse("radio://0/80/3M"))!.Message, Does.Contain("250K, 1M or 2M"));
        Assert.Throws<FormatException>(() => RadioUri.Parse("radio://0/80/2M/E7E7"));
        Assert.Throws<FormatException>(() => RadioUri.Parse("usb://0"));
    }

    [Test]
    public void AckStatusByte()
    {
        Assert.That(RadioAck.Parse(0x31), Is.EqualTo(new RadioAck(true, false, 3)));
        Assert.That(RadioAck.Parse(0x02), Is.EqualTo(new RadioAck(false, true, 0)));
    }

    [Test]
    public void OpeningWithoutADongleIsAClearLinkError()
    {
        // CI has no Crazyradio: opening must fail with a link error that names the device, not crash.
        var e = Assert.Throws<CrtpLinkException>(() => CrazyradioLink.Open("radio://0/80/2M"));
        Assert.That(e!.Message, Does.Contain("Crazyradio").Or.Contain("libusb"));
    }
}
