using RoboRl.Core.Robots;

namespace RoboRl.Serial.Firmware;

/// <summary>Options the host gives the "mcu" remote policy.</summary>
public sealed class McuLinkSettings
{
    /// <summary>How long the MCU may take to boot (QEMU: build once, then ~55 ms) and answer its first HEARTBEAT.</summary>
    public TimeSpan BootTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// "policy_on": "mcu": the node's policy runs on a microcontroller (firmware-bridge/mcu/app_policy.c) reached over a
/// serial port, or on the same image booted on QEMU's STM32F405 ("emulated": true; built here for the bundle). The
/// node sends the state each tick and actuates the MCU's action; silence trips its supervisor (fallback, counted).
/// The "mcu" section is read by <see cref="McuPolicyOptions.Read"/>.
/// </summary>
public static class McuPolicyPlugin
{
    public const string Name = "mcu";

    public static RemotePolicyPlugin Plugin { get; } = new(Name, "the policy on a microcontroller over the serial link (a real board, or the image on QEMU's STM32F405)", Open);

    private static IRemotePolicy Open(RemotePolicyRequest request)
    {
        McuPolicyOptions options = McuPolicyOptions.Read(request.RequireSection());
        try { return McuRemotePolicy.Open(options, request.Bundle, request.BundlePath, request.Settings.Get<McuLinkSettings>().BootTimeout); }
        catch (Exception e) when (e is McuPolicyException or IOException or TimeoutException or InvalidOperationException)
        {
            throw new RobotLinkException($"{request.NodeFile}: $.{Name}: {e.Message}", e);
        }
    }
}
