using System.Buffers;
using System.Numerics;
using System.Text.Json;
using RoboRl.Core.Messages;
using RoboRl.Core.Robots;

namespace RoboRl.Mqtt;

/// <summary>Writes the telemetry payloads of <see cref="MqttTopics"/> (I/O thread; reuses one buffer).</summary>
internal sealed class TelemetryJson
{
    private readonly ArrayBufferWriter<byte> _buffer = new(1024);
    private readonly Utf8JsonWriter _writer;

    public TelemetryJson() => _writer = new Utf8JsonWriter(_buffer);

    public byte[] State(in TelemetryFrame f, long seq)
    {
        Utf8JsonWriter w = Begin();
        w.WriteNumber("seq", seq);
        w.WriteNumber("t_ns", f.TimestampNs);
        w.WriteNumber("state_t_ns", f.State.TimestampNs);
        w.WriteNumber("state_seq", f.State.Sequence);
        Vec(w, "position", f.State.Position);
        Quat(w, "orientation", f.State.Orientation);
        Vec(w, "velocity_world", f.State.VelocityWorld);
        Vec(w, "angular_velocity_body", f.State.AngularVelocityBody);
        Vec(w, "rotor_rpm", f.State.RotorRpm);
        Vec(w, "setpoint", f.Setpoint);
        w.WriteString("mode", ModeName(f.Mode));
        return End();
    }

    public byte[] Action(in TelemetryFrame f, long seq)
    {
        Utf8JsonWriter w = Begin();
        w.WriteNumber("seq", seq);
        w.WriteNumber("t_ns", f.TimestampNs);
        w.WriteNumber("command_t_ns", f.Command.TimestampNs);
        w.WriteNumber("command_seq", f.Command.Sequence);
        Vec(w, "action", f.Command.Action);
        Vec(w, "rotor_rpm", f.Command.RotorRpm);
        w.WriteString("source", SourceName(f.Command.Source));
        return End();
    }

    public byte[] ActuatorCommand(in ActuatorCommand c, long seq)
    {
        Utf8JsonWriter w = Begin();
        w.WriteNumber("seq", seq);
        w.WriteNumber("t_ns", c.TimestampNs);
        w.WriteNumber("command_seq", c.Sequence);
        Vec(w, "action", c.Action);
        Vec(w, "rotor_rpm", c.RotorRpm);
        w.WriteString("source", SourceName(c.Source));
        return End();
    }

    private static string SourceName(ActionSource s) => s switch
    {
        ActionSource.Policy => "policy",
        ActionSource.Human => "human",
        ActionSource.Fallback => "fallback",
        _ => "unknown",
    };

    public byte[] Ticks(in TelemetryFrame f, long seq)
    {
        Utf8JsonWriter w = Begin();
        w.WriteNumber("seq", seq);
        w.WriteNumber("t_ns", f.TimestampNs);
        w.WriteNumber("ticks", f.Ticks.Ticks);
        Num(w, "rate_hz", f.Ticks.RateHz);
        Num(w, "latency_p50_us", f.Ticks.LatencyP50Us);
        Num(w, "latency_p99_us", f.Ticks.LatencyP99Us);
        Num(w, "latency_max_us", f.Ticks.LatencyMaxUs);
        Num(w, "jitter_p99_us", f.Ticks.JitterP99Us);
        w.WriteNumber("overruns", f.Ticks.Overruns);
        return End();
    }

    public byte[] Mode(long tNs, NodeMode mode)
    {
        Utf8JsonWriter w = Begin();
        w.WriteNumber("t_ns", tNs);
        w.WriteString("mode", ModeName(mode));
        return End();
    }

    public byte[] Status(long tNs, in MqttTransportStatus s, long events = 0, NodeStatusEvent? lastEvent = null)
    {
        Utf8JsonWriter w = Begin();
        w.WriteBoolean("online", true);
        w.WriteNumber("t_ns", tNs);
        w.WriteNumber("frames_delivered", s.FramesDelivered);
        w.WriteNumber("telemetry_gap_frames", s.TelemetryGapFrames);
        w.WriteNumber("reconnects", s.Reconnects);
        w.WriteNumber("commands_accepted", s.CommandsAccepted);
        w.WriteNumber("commands_rejected", s.CommandsRejected);
        // The node's own decisions (a refused command, a mode change and why): the newest, and how many so far.
        w.WriteNumber("events", events);
        if (lastEvent is { } e)
        {
            w.WriteStartObject("last_event");
            w.WriteNumber("t_ns", e.TimestampNs);
            w.WriteNumber("tick", e.Tick);
            w.WriteString("level", e.Level switch { NodeStatusLevel.Ok => "ok", NodeStatusLevel.Warn => "warn", _ => "error" });
            w.WriteString("kind", e.Kind);
            w.WriteString("mode", ModeName(e.Mode));
            w.WriteString("text", e.Text);
            w.WriteEndObject();
        }
        else w.WriteNull("last_event");
        return End();
    }

    public static string ModeName(NodeMode mode) => mode switch
    {
        NodeMode.Idle => "idle",
        NodeMode.Policy => "policy",
        NodeMode.Human => "human",
        NodeMode.Fallback => "fallback",
        NodeMode.Killed => "killed",
        NodeMode.TakingOff => "taking_off",
        NodeMode.Landing => "landing",
        _ => "unknown",
    };

    private Utf8JsonWriter Begin()
    {
        _buffer.ResetWrittenCount();
        _writer.Reset(_buffer);
        _writer.WriteStartObject();
        return _writer;
    }

    private byte[] End()
    {
        _writer.WriteEndObject();
        _writer.Flush();
        return _buffer.WrittenSpan.ToArray();
    }

    // JSON has no NaN or infinity: a value that is not finite (e.g. an unmeasured rotor speed) is null.
    private static void Num(Utf8JsonWriter w, string name, double v)
    {
        if (double.IsFinite(v)) w.WriteNumber(name, v); else w.WriteNull(name);
    }

    private static void Item(Utf8JsonWriter w, float v)
    {
        if (float.IsFinite(v)) w.WriteNumberValue(v); else w.WriteNullValue();
    }

    private static void Vec(Utf8JsonWriter w, string name, Vector3 v)
    {
        w.WriteStartArray(name); Item(w, v.X); Item(w, v.Y); Item(w, v.Z); w.WriteEndArray();
    }

    private static void Vec(Utf8JsonWriter w, string name, Vector4 v)
    {
        w.WriteStartArray(name); Item(w, v.X); Item(w, v.Y); Item(w, v.Z); Item(w, v.W); w.WriteEndArray();
    }

    private static void Vec(Utf8JsonWriter w, string name, in ActuatorValues v)
    {
        w.WriteStartArray(name);
        for (int i = 0; i < v.Count; i++) Item(w, v[i]);
        w.WriteEndArray();
    }

    private static void Quat(Utf8JsonWriter w, string name, Quaternion q)
    {
        w.WriteStartArray(name); Item(w, q.X); Item(w, q.Y); Item(w, q.Z); Item(w, q.W); w.WriteEndArray();
    }
}
