using System.Text.Json;
using RoboRl.Core.Configs;
using RoboRl.Core.Robots;

namespace RoboRl.Node;

/// <summary>
/// The "jsonl" transport: the node's telemetry frames and events as JSON lines in a file, for a robot's computer with
/// no broker or DDS to watch it through (`tail -f telemetry.jsonl | jq`). Telemetry role only; its section: "path".
/// One line per telemetry frame (telemetry_rate_hz) — {"type":"telemetry","t_ns",…,"mode","position","velocity",
/// "setpoint","action","tick_p99_us","overruns"} — and one per event — {"type":"event","t_ns","tick","kind","level",
/// "mode","text"}. The tick copies a frame into a preallocated ring (no allocation, no I/O); a thread writes.
/// </summary>
public sealed class JsonLinesTelemetry : ITelemetrySink, INodeEventSink, IDisposable
{
    public const string Name = "jsonl";

    public static TransportPlugin Plugin { get; } = new(Name, "telemetry and events as JSON lines in a file", Open);

    private static RobotLink Open(TransportRequest request)
    {
        if ((request.Roles & ~TransportRoles.Telemetry) != 0)
            throw new ConfigException(request.NodeFile, "$.transport", $"transport \"{Name}\" carries telemetry only: name it in \"telemetry\"");
        ConfigNode section = request.RequireSection();
        string path = section.String("path");
        section.EnsureNoUnknownKeys();
        path = Path.IsPathRooted(path) ? path : Path.GetFullPath(path);
        JsonLinesTelemetry sink;
        try { sink = new JsonLinesTelemetry(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new RobotLinkException($"{request.NodeFile}: $.{Name}.path: cannot write {path}: {e.Message}", e);
        }
        return new RobotLink(Name, sink, sink) { Stop = sink.Flush };
    }

    private const int RingSlots = 256;
    private readonly TelemetryFrame[] _ring = new TelemetryFrame[RingSlots];
    private long _written, _read;   // frames the tick has put in the ring, frames the writer has taken out
    private readonly FileStream _file;
    private readonly Utf8JsonWriter _json;
    private readonly object _lock = new();
    private readonly Thread _writer;
    private volatile bool _running = true;

    public JsonLinesTelemetry(string path)
    {
        _file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read);
        // A log for people and jq, never embedded in HTML: apostrophes and non-ASCII stay as they are.
        _json = new Utf8JsonWriter(_file, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "roborl-jsonl" };
        _writer.Start();
    }

    /// <summary>Frames lost because the writer fell a whole ring behind.</summary>
    public long Dropped { get; private set; }

    /// <summary>Tick thread: copies the frame into the ring; a full ring drops it (counted).</summary>
    public void Publish(in TelemetryFrame frame)
    {
        long written = _written;
        if (written - Volatile.Read(ref _read) >= RingSlots) { Dropped++; return; }
        _ring[written % RingSlots] = frame;
        Volatile.Write(ref _written, written + 1);
    }

    /// <summary>Off the tick thread, as events happen: written at once.</summary>
    public void Publish(in NodeStatusEvent e)
    {
        lock (_lock)
        {
            _json.Reset();
            _json.WriteStartObject();
            _json.WriteString("type", "event");
            _json.WriteNumber("t_ns", e.TimestampNs);
            _json.WriteNumber("tick", e.Tick);
            _json.WriteString("kind", e.Kind);
            _json.WriteString("level", e.Level.ToString().ToLowerInvariant());
            _json.WriteString("mode", NodeEvent.ModeName(e.Mode));
            _json.WriteString("text", e.Text);
            EndLine();
        }
    }

    private void WriteLoop()
    {
        while (_running)
        {
            Drain();
            Thread.Sleep(20);
        }
    }

    private void Drain()
    {
        lock (_lock)
        {
            while (_read < Volatile.Read(ref _written))
            {
                ref readonly TelemetryFrame f = ref _ring[_read % RingSlots];
                _json.Reset();
                _json.WriteStartObject();
                _json.WriteString("type", "telemetry");
                _json.WriteNumber("t_ns", f.TimestampNs);
                _json.WriteString("mode", NodeEvent.ModeName(f.Mode));
                Vector("position", [f.State.Position.X, f.State.Position.Y, f.State.Position.Z]);
                Vector("velocity", [f.State.VelocityWorld.X, f.State.VelocityWorld.Y, f.State.VelocityWorld.Z]);
                Vector("setpoint", [f.Setpoint.X, f.Setpoint.Y, f.Setpoint.Z]);
                ActuatorValues action = f.Command.Action;
                Vector("action", action.AsSpan());
                _json.WriteNumber("tick_p99_us", Math.Round(f.Ticks.LatencyP99Us, 1));
                _json.WriteNumber("overruns", f.Ticks.Overruns);
                EndLine();
                Volatile.Write(ref _read, _read + 1);
            }
        }
    }

    private void Vector(string name, ReadOnlySpan<float> values)
    {
        _json.WriteStartArray(name);
        foreach (float v in values) _json.WriteNumberValue(float.IsFinite(v) ? v : 0f);
        _json.WriteEndArray();
    }

    private void EndLine()
    {
        _json.WriteEndObject();
        _json.Flush();
        _file.WriteByte((byte)'\n');
    }

    /// <summary>Writes what the ring holds and flushes the file (the run has stopped).</summary>
    public void Flush()
    {
        Drain();
        lock (_lock) _file.Flush();
    }

    public void Dispose()
    {
        _running = false;
        _writer.Join();
        Flush();
        _json.Dispose();
        _file.Dispose();
    }
}
