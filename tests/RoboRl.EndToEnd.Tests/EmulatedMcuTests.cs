using System.IO.Ports;
using System.Text;
using RoboRl.Serial.Firmware;

namespace RoboRl.EndToEnd.Tests;

public class EmulatedMcuTests
{
    private static string ReadUntil(SerialPort port, string expected, TimeSpan timeout) =>
        ReadUntil(port, text => text.Contains(expected, StringComparison.Ordinal), expected, timeout);

    private static string ReadUntil(SerialPort port, Func<string, bool> done, string expected, TimeSpan timeout)
    {
        var text = new StringBuilder();
        var buffer = new byte[256];
        var deadline = DateTime.UtcNow + timeout;
        while (!done(text.ToString()))
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"expected '{expected}' from the MCU, got '{text}'");
            if (port.BytesToRead == 0) { Thread.Sleep(2); continue; }
            int n = port.Read(buffer, 0, buffer.Length);
            text.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
        return text.ToString();
    }

    [Test, CancelAfter(120_000)]
    public void EchoImageBootsUsesTheFpuAndReceivesByInterrupt()
    {
        using var mcu = EmulatedMcu.Start(McuImages.Path("roborl-mcu-echo"));
        // DTR/RTS stay off: .NET throws when setting them on a pty (FACTS.md).
        using var port = new SerialPort(mcu.PtyPath, 576000) { DtrEnable = false, RtsEnable = false, ReadTimeout = 5000 };
        port.Open();
        ReadUntil(port, "roborl-mcu echo\n", TimeSpan.FromSeconds(20));

        byte[] burst = Encoding.ASCII.GetBytes(new string('x', 300) + "?");
        port.Write(burst, 0, burst.Length);
        string reply = ReadUntil(port, t => t.Contains("overruns=") && t.EndsWith('\n'), "the '?' status line", TimeSpan.FromSeconds(20));
        Assert.That(reply.Count(c => c == 'x'), Is.EqualTo(300), "every byte of a 300-byte burst is echoed");
        Assert.That(reply, Does.Contain("fpu=3375"), "1.5 × 2.25 × 1000 computed with the FPU enabled");
    }
}
