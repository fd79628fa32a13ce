using RoboRl.Core.Configs;
using RoboRl.Core.Policy;
using RoboRl.Node;
using RoboRl.Serial;
using RoboRl.Serial.Firmware;

namespace RoboRl.Cli.Commands;

/// <summary>
/// "policy_on": "mcu": the node's policy runs on a microcontroller (firmware-bridge/mcu/app_policy.c) reached over a
/// serial port, or on the same image booted on QEMU's STM32F405 ("emulated": true; built here for the bundle). The
/// node sends the state each tick and actuates the MCU's action; silence trips its supervisor (fallback, counted).
/// </summary>
public static class McuPolicyLink
{
    /// <summary>How long the MCU may take to boot (QEMU: build once, then ~55 ms) and answer its first HEARTBEAT.</summary>
    public static TimeSpan BootTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public static McuRemotePolicy Open(NodeConfig config, PolicyBundle bundle, string policyPath)
    {
        ConfigNode section = config.Mcu ?? throw new NodeSession.SetupException($"{config.File}: $.mcu: missing required key");
        McuPolicyOptions options;
        try { options = McuPolicyOptions.Read(section); }
        catch (ConfigException e) { throw new NodeSession.SetupException(e.Message); }
        try { return McuRemotePolicy.Open(options, bundle, policyPath, BootTimeout); }
        catch (Exception e) when (e is McuPolicyException or IOException or TimeoutException or InvalidOperationException or PolicyBundleException)
        {
            throw new NodeSession.SetupException($"{config.File}: $.mcu: {e.Message}", e is PolicyBundleException ? ExitCodes.BadInput : ExitCodes.Fault);
        }
    }

    /// <summary>One line on how the MCU flew: answers, silences, errors, inference time, parity with the host engine.</summary>
    public static string Describe(McuRemotePolicy mcu, InferenceNode node)
    {
        var (diff, ticks) = node.RemotePolicyParity;
        LinkCounters link = mcu.Client.Link.Counters;
        long asked = mcu.Answered + mcu.Timeouts + mcu.ErrorStatuses;
        double inTime = asked == 0 ? 0 : 100.0 * mcu.Answered / asked;
        IReadOnlyList<double> warm = mcu.WarmUpRoundTripsMs;
        string warmUp = warm.Count == 0 ? "" :
            $"; warm-up: {warm.Count} round trips, first {warm[0]:F1} ms, median {warm.Order().ElementAt(warm.Count / 2):F1} ms";
        return string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"  mcu: {mcu.Answered} actions, {mcu.Timeouts} timeouts (> {mcu.ResponseTimeout.TotalMilliseconds:0.#} ms), {mcu.ErrorStatuses} error statuses " +
            $"({inTime:F1} % of {asked} ticks answered in time; {node.RemotePolicyHeldTicks} held the last action); " +
            $"inference {mcu.MeanInferenceUs:F0} µs mean (MCU SysTick); max |MCU − host engine| {diff:G3} over {ticks} ticks; " +
            $"link: {link.Lost} lost, {link.Rejected} rejected frames{warmUp}");
    }
}
