namespace RoboRl.Crazyflie.Tests;

/// <summary>Byte-level checks against the layouts in crazyflie-firmware (crtp.h, crtp_commander_generic.c,
/// crtp_commander_rpyt.c, log.c, param_logic.c) and cflib (commander.py, cpx/).</summary>
public class CrtpCodecTests
{
    private static byte[] Bytes(in CrtpPacket p)
    {
        var buffer = new byte[CrtpPacket.MaxEncodedLength];
        return buffer[..p.Encode(buffer)];
    }

    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", ""));

    [Test]
    public void HeaderIsPortChannelAndCflibLinkBits()
    {
        Assert.That(new CrtpPacket(CrtpPort.GenericCommander, 0).Header, Is.EqualTo(0x7C));
        Assert.That(new CrtpPacket(CrtpPort.Param, 1).Header, Is.EqualTo(0x2D));
        Assert.That(new CrtpPacket(CrtpPort.LinkControl, 3).Header, Is.EqualTo(0xFF));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new CrtpPacket(CrtpPort.Param, 4));
    }

    [Test]
    public void DecodeIgnoresLinkBitsAndRejectsOversize()
    {
        CrtpPacket p = CrtpPacket.Decode(Hex("70 07 01"));
        Assert.That((p.Port, p.Channel, p.Length), Is.EqualTo((CrtpPort.GenericCommander, (byte)0, 2)));
        Assert.Throws<CrtpFormatException>(() => CrtpPacket.Decode(new byte[32]));
        Assert.Throws<CrtpFormatException>(() => CrtpPacket.Decode([]));
    }

    [Test]
    public void PacketNeverGrowsPastThirtyBytes()
    {
        var p = new CrtpPacket(CrtpPort.Console, 0, new byte[30]);
        Assert.Throws<CrtpFormatException>(() => p.AppendByte(1));
    }

    [Test]
    public void PositionSetpointIsTypeSevenThenFourLittleEndianFloats()
    {
        // positionPacket_s { float x, y, z, yaw; }: 1.0f = 0000803F, 2.0f = 00000040, 3.0f = 00004040, 90.0f = 0000B442.
        Assert.That(Bytes(Setpoints.Position(1, 2, 3, 90)), Is.EqualTo(Hex("7C 07 0000803F 00000040 00004040 0000B442")));
    }

    [Test]
    public void StopVelocityHoverAndManualLayouts()
    {
        Assert.That(Bytes(Setpoints.Stop()), Is.EqualTo(Hex("7C 00")));
        // velocityPacket_s { vx, vy, vz, yawrate }.
        Assert.That(Bytes(Setpoints.VelocityWorld(1, 0, -2, 90)), Is.EqualTo(Hex("7C 08 0000803F 00000000 000000C0 0000B442")));
        // hoverPacket_s { vx, vy, yawrate, zDistance }.
        Assert.That(Bytes(Setpoints.Hover(0, 1, 0, 0.5f)), Is.EqualTo(Hex("7C 0A 00000000 0000803F 00000000 0000003F")));
        // manualPacket_s { float roll, pitch, yawrate; uint16 thrust; char rate; }.
        Assert.That(Bytes(Setpoints.Manual(1, 2, 3, 0x1234, true)), Is.EqualTo(Hex("7C 0B 0000803F 00000040 00004040 3412 01")));
    }

    [Test]
    public void LegacyCommanderIsPortThree()
    {
        // CommanderCrtpLegacyValues { float roll, pitch, yaw; uint16 thrust; }.
        Assert.That(Bytes(Setpoints.Legacy(0, 0, 0, 10001)), Is.EqualTo(Hex("3C 00000000 00000000 00000000 1127")));
    }

    [Test]
    public void FullStateIsMillimetresCompressedQuaternionAndMilliradians()
    {
        CrtpPacket p = Setpoints.FullState((1, -2, 0.5f), (0.1f, 0, 0), (0, 0, 9.81f), (0, 0, 0, 1), (0.001f, 0, -1));
        byte[] b = Bytes(p);
        Assert.That(b.Length, Is.EqualTo(30), "header + type + 9×int16 + uint32 + 3×int16");
        Assert.That(b[..8], Is.EqualTo(Hex("7C 06 E803 30F8 F401")), "x=1000 mm, y=-2000 mm, z=500 mm");
        Assert.That(b[18..20], Is.EqualTo(Hex("5226")), "az = 9810 mm/s² = 0x2652");
    }

    [Test]
    public void FullStateParsesBackToSiUnits()
    {
        GenericSetpoint s = Setpoints.Parse(Setpoints.FullState((1, -2, 0.5f), (0.1f, 0, 0), (0, 0, 9.81f), (0, 0, 0, 1), (0.001f, 0, -1)));
        Assert.That((s.X, s.Y, s.Z, s.Vx, s.Az), Is.EqualTo((1f, -2f, 0.5f, 0.1f, 9.81f)));
        Assert.That((s.RollRateRadPerS, s.YawRateRadPerS), Is.EqualTo((0.001f, -1f)));
        Assert.That(s.CompressedQuaternion, Is.EqualTo(0xC000_0000u), "identity: w (index 3) largest, others 0");
    }

    [Test]
    public void QuaternionCompressionRoundTripsWithinNineBitPrecision()
    {
        var random = new Random(7);
        for (int i = 0; i < 1000; i++)
        {
            float x = (float)random.NextDouble() * 2 - 1, y = (float)random.NextDouble() * 2 - 1,
                z = (float)random.NextDouble() * 2 - 1, w = (float)random.NextDouble() * 2 - 1;
            float n = MathF.Sqrt(x * x + y * y + z * z + w * w);
            (x, y, z, w) = (x / n, y / n, z / n, w / n);
            var q = QuaternionCompression.Decompress(QuaternionCompression.Compress(x, y, z, w));
            float dot = MathF.Abs(q.X * x + q.Y * y + q.Z * z + q.W * w);
            Assert.That(dot, Is.GreaterThan(0.999f), $"q=({x},{y},{z},{w})");
        }
    }

    [Test]
    public void NotifySetpointsStopIsMetaChannel()
    {
        Assert.That(Bytes(Setpoints.NotifySetpointsStop(100)), Is.EqualTo(Hex("7D 00 64000000")));
    }

    [Test]
    public void SetpointParseRejectsWrongLengthsAndTypes()
    {
        Assert.Throws<CrtpFormatException>(() => Setpoints.Parse(new CrtpPacket(CrtpPort.GenericCommander, 0, Hex("07 0000803F"))));
        Assert.Throws<CrtpFormatException>(() => Setpoints.Parse(new CrtpPacket(CrtpPort.GenericCommander, 0, Hex("63"))));
        Assert.Throws<CrtpFormatException>(() => Setpoints.Parse(new CrtpPacket(CrtpPort.Commander, 0, Hex("07"))));
        Assert.That(Setpoints.Parse(Setpoints.Hover(1, 2, 3, 4)), Is.EqualTo(new GenericSetpoint(GenericSetpointType.Hover, Vx: 1, Vy: 2, YawRateDegPerS: 3, Z: 4)));
    }

    [Test]
    public void LogBlockControlPackets()
    {
        var roll = new LogTocEntry(0x0102, LogVariableType.Float, "stateEstimate", "roll");
        var motor = new LogTocEntry(0x0010, LogVariableType.UInt16, "motor", "m1");
        // CONTROL_CREATE_BLOCK_V2 = 6, block id, then ops_setting_v2 { uint8 type; uint16 id; } per variable.
        Assert.That(Bytes(Logging.CreateBlock(5, [roll, motor])), Is.EqualTo(Hex("5D 06 05 07 0201 02 1000")));
        // CONTROL_START_BLOCK = 3, block id, period in 10 ms units.
        Assert.That(Bytes(Logging.StartBlock(5, 100)), Is.EqualTo(Hex("5D 03 05 0A")));
        Assert.That(Bytes(Logging.StopBlock(5)), Is.EqualTo(Hex("5D 04 05")));
        Assert.That(Bytes(Logging.GetTocItem(0x0203)), Is.EqualTo(Hex("5C 02 0302")));
        Assert.Throws<ArgumentOutOfRangeException>(() => Logging.StartBlock(5, 5));
    }

    [Test]
    public void LogConfigSplitsLargeBlocksAndDecodesData()
    {
        var config = new LogConfig("motors", 10);
        for (ushort i = 0; i < 12; i++) config.AddVariable(new LogTocEntry(i, LogVariableType.UInt16, "m", $"v{i}"));
        var packets = config.CreatePackets(1).ToArray();
        Assert.That(packets.Select(p => p.ReadOnlyData[0]), Is.EqualTo(new byte[] { 6, 7 }), "create then append");
        Assert.That(packets[0].Length, Is.EqualTo(2 + 9 * 3));
        Assert.Throws<InvalidOperationException>(() =>
        {
            for (ushort i = 0; i < 2; i++) config.AddVariable(new LogTocEntry(i, LogVariableType.UInt16, "m", "x"));
        }, "26 bytes per packet");

        var attitude = new LogConfig("attitude", 10);
        attitude.AddVariable(new LogTocEntry(1, LogVariableType.Float, "stateEstimate", "roll"));
        attitude.AddVariable(new LogTocEntry(2, LogVariableType.Int16, "acc", "x"));
        // Data: block 1, timestamp 0x030201 ms, float 1.5 (0000C03F), int16 -2 (FEFF).
        CrtpPacket data = new(CrtpPort.Logging, Logging.DataChannel, Hex("01 010203 0000C03F FEFF"));
        LogDataPacket parsed = Logging.ParseData(data);
        Assert.That((parsed.BlockId, parsed.TimestampMs), Is.EqualTo(((byte)1, 0x030201u)));
        Span<double> values = stackalloc double[2];
        attitude.ReadValues(parsed, values);
        Assert.That(values.ToArray(), Is.EqualTo(new[] { 1.5, -2.0 }));
    }

    [Test]
    public void LogTocItemReplyParses()
    {
        var entry = Logging.ParseTocItem(new CrtpPacket(CrtpPort.Logging, 0, Hex("02 0701 07 706D00 7662617400")));
        Assert.That(entry, Is.EqualTo(new LogTocEntry(0x0107, LogVariableType.Float, "pm", "vbat")));
        Assert.Throws<CrtpFormatException>(() => Logging.ParseTocItem(new CrtpPacket(CrtpPort.Logging, 0, Hex("02 0701 07 706D"))));
    }

    [Test]
    public void ParamReadWriteAndSetByName()
    {
        Assert.That(Bytes(Parameters.Read(0x0203)), Is.EqualTo(Hex("2D 0302")));
        Assert.That(Bytes(Parameters.Write(0x0203, ParamType.Float, 1.0)), Is.EqualTo(Hex("2E 0302 0000803F")));
        Assert.That(Bytes(Parameters.Write(7, ParamType.UInt8, 2)), Is.EqualTo(Hex("2E 0700 02")));
        // stabilizer.controller = 6 (out-of-tree, ControllerTypeOot since January 2024), as "stabilizer\0controller\0" + PARAM_UINT8 (0x08) + value.
        byte[] setByName = Bytes(Parameters.SetByName("stabilizer", "controller", ParamType.UInt8, 6));
        Assert.That(setByName[..2], Is.EqualTo(Hex("2F 00")));
        Assert.That(setByName[^2..], Is.EqualTo(Hex("08 06")));
        Assert.Throws<OverflowException>(() => Parameters.Write(7, ParamType.UInt8, 300));

        var (id, value) = Parameters.ParseReadReply(new CrtpPacket(CrtpPort.Param, 1, Hex("0302 00 0000803F")), ParamType.Float);
        Assert.That((id, value), Is.EqualTo(((ushort)0x0203, 1.0)));
        Assert.Throws<CrtpFormatException>(() => Parameters.ParseReadReply(new CrtpPacket(CrtpPort.Param, 1, Hex("0302 02")), ParamType.Float), "ENOENT");
    }

    [Test]
    public void ParamTypeFlags()
    {
        var t = new ParamType(0x08 | 0x40);
        Assert.That((t.Size, t.IsUnsigned, t.IsReadOnly, t.IsFloat), Is.EqualTo((1, true, true, false)));
        Assert.That(ParamType.Float.Size, Is.EqualTo(4));
    }
}
