using System.Numerics;
using RoboRl.Core.Configs;

namespace RoboRl.Core.Robots;

/// <summary>
/// How a joystick (sensor_msgs/Joy: float axes in [-1, 1], integer buttons) becomes a <see cref="TeleopSample"/>: the
/// dead-man button must be held for any human input; while it is, the mapped axes are either the four motor actions
/// (<see cref="TeleopKind.TakeOver"/>) or the setpoint velocity x, y, z scaled by <see cref="NudgeSpeedMS"/>
/// (<see cref="TeleopKind.NudgeSetpoint"/>). Released, it gives <see cref="TeleopKind.None"/>. Used by the ROS 2
/// transport (sensor_msgs/Joy) and the MQTT transport (the same axes/buttons as JSON), configured by the same "joy" keys.
/// </summary>
public sealed record JoyTeleopMapping
{
    /// <summary>Button that must be held (dead-man), 0-based.</summary>
    public int DeadmanButton { get; init; } = 4;
    public TeleopKind Mode { get; init; } = TeleopKind.TakeOver;
    /// <summary>Axes for the four motor actions (take-over).</summary>
    public int[] ActionAxes { get; init; } = [1, 1, 1, 1];
    /// <summary>Axes for setpoint velocity x, y, z (nudge).</summary>
    public int[] NudgeAxes { get; init; } = [4, 3, 1];
    public float NudgeSpeedMS { get; init; } = 0.5f;

    /// <summary>The sample for one joystick message; missing or non-finite axes read 0, values are clamped to [-1, 1]. Allocation-free.</summary>
    public TeleopSample ToSample(ReadOnlySpan<float> axes, ReadOnlySpan<int> buttons, long nowNs)
    {
        bool held = DeadmanButton < buttons.Length && buttons[DeadmanButton] != 0;
        var sample = new TeleopSample { TimestampNs = nowNs, Kind = held ? Mode : TeleopKind.None };
        if (!held) return sample;
        if (Mode == TeleopKind.TakeOver)
            sample.Action = new Vector4(Axis(axes, ActionAxes[0]), Axis(axes, ActionAxes[1]), Axis(axes, ActionAxes[2]), Axis(axes, ActionAxes[3]));
        else
            sample.SetpointVelocity = new Vector3(Axis(axes, NudgeAxes[0]), Axis(axes, NudgeAxes[1]), Axis(axes, NudgeAxes[2])) * NudgeSpeedMS;
        return sample;
    }

    private static float Axis(ReadOnlySpan<float> axes, int i) => i < axes.Length && float.IsFinite(axes[i]) ? Math.Clamp(axes[i], -1f, 1f) : 0f;

    /// <summary>Reads a "joy" section: deadman_button, mode (take_over | nudge_setpoint), action_axes [4], nudge_axes [3], nudge_speed_m_s.</summary>
    public static JoyTeleopMapping Read(ConfigNode j)
    {
        var d = new JoyTeleopMapping();
        var mapping = new JoyTeleopMapping
        {
            DeadmanButton = (int)j.Integer("deadman_button", 0, 63),
            Mode = j.Choice("mode", "take_over", "nudge_setpoint") == "take_over" ? TeleopKind.TakeOver : TeleopKind.NudgeSetpoint,
            ActionAxes = j.Has("action_axes") ? j.Integers("action_axes", 4, 4, 0, 63) : d.ActionAxes,
            NudgeAxes = j.Has("nudge_axes") ? j.Integers("nudge_axes", 3, 3, 0, 63) : d.NudgeAxes,
            NudgeSpeedMS = j.Has("nudge_speed_m_s") ? (float)j.Number("nudge_speed_m_s", 0.01, 5) : d.NudgeSpeedMS,
        };
        j.EnsureNoUnknownKeys();
        return mapping;
    }
}
