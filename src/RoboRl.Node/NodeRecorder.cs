using RoboRl.Core.Messages;
using RoboRl.Core.Robots;
using RoboRl.Logs;

namespace RoboRl.Node;

/// <summary>What the node hands the recorder each tick, for every robot kind (the observation and the kind's state travel separately).</summary>
public struct TickRecord
{
    public long TimestampNs;
    public ulong Tick;
    /// <summary>The node's mode after the tick.</summary>
    public NodeMode Mode;
    public ActionSource Source;
    /// <summary>The policy (or planner) ran this tick: its observation and raw action are recorded.</summary>
    public bool PolicyRan;
    /// <summary>A human's action replaced the policy's.</summary>
    public bool Intervention;
    /// <summary>The action applied (after arbitration), normalised [-1, 1], in the policy's action order.</summary>
    public ActuatorValues Action;
    /// <summary>The policy's (or planner's) raw output.</summary>
    public ActuatorValues PolicyAction;
    /// <summary>The human's action, when <see cref="Intervention"/>.</summary>
    public ActuatorValues HumanAction;
}

/// <summary>
/// Records a run as MCAP (ros2 profile, via <see cref="McapWriter"/>), Foxglove and `ros2 bag` readable. Every robot
/// kind's log has roborl_msgs Observation (/observation, with the robot and policy spec as channel metadata), Action
/// (/action: applied, policy and human values, intervention flag, source), Mode (/mode, with its reason) and TickStats
/// (/tick_stats), and diagnostic_msgs/DiagnosticArray (/diagnostics) for safety events; the kind adds its own state
/// topics (<see cref="INodeLog"/>: a quadrotor's /pose, /velocity, /imu, /setpoint; a ground robot's /odom, /scan,
/// /cmd_vel, /goal_pose). The tick thread only copies into a preallocated single-producer ring (never blocks, never
/// allocates; a full ring drops and counts); a recorder thread encodes and writes, so the tick never waits for the disk.
/// A write failure (disk full, device gone) stops recording with <see cref="Error"/> set; the node keeps running.
/// </summary>
public sealed class NodeRecorder : IDisposable
{
    public const string WorldFrame = "world", BodyFrame = "base_link";

    private enum SlotKind : byte { Tick, Event, Statistics }

    private struct Slot
    {
        public SlotKind Kind;
        public TickRecord Tick;
        public NodeEvent Event;
        public long StatisticsTimestampNs;
        public TickStatistics Statistics;
    }

    private readonly Slot[] _slots;
    private readonly float[] _observations; // [slots, observationSize]
    private byte[] _states = [];            // [slots, stateBytes], sized when a log layout is attached
    private int _stateBytes;
    private readonly int _observationSize;
    private long _head, _tail; // written by the producer / the consumer only
    private long _dropped, _written;
    private readonly Stream _stream;
    private readonly string _name;
    private Thread? _thread;
    private volatile bool _stopping;
    private volatile string? _error;
    private readonly NodeLogClock _clock;
    private readonly McapCompression _compression;
    private readonly IReadOnlyDictionary<string, string>? _flightMetadata;
    private INodeLog? _log;

    // Recorder-thread state.
    private McapWriter? _writer;
    private ushort _observation, _action, _mode, _stats, _diagnostics;
    private readonly float[] _observationValues, _actionValues = new float[ActuatorValues.Capacity], _policyValues = new float[ActuatorValues.Capacity],
        _humanValues = new float[ActuatorValues.Capacity];
    private readonly MsgDefinition _diagnosticArray, _diagnosticStatus, _keyValue;

    /// <summary>Records into <paramref name="path"/> (created or overwritten now, so a bad path fails before the run).</summary>
    public static NodeRecorder Create(string path, int observationSize, int ringSlots, McapCompression compression = McapCompression.Zstd,
        IReadOnlyDictionary<string, string>? flightMetadata = null) =>
        new(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16), path, observationSize, ringSlots,
            compression: compression, flightMetadata: flightMetadata);

    /// <summary>
    /// A recorder that writes no file, for a run that is watched (<see cref="AddTap"/>: a Foxglove viewer) but not recorded:
    /// the same ring, thread and encoding, into <see cref="Stream.Null"/>.
    /// </summary>
    public static NodeRecorder WithoutFile(int observationSize, int ringSlots, IReadOnlyDictionary<string, string>? flightMetadata = null) =>
        new(Stream.Null, "(not recorded)", observationSize, ringSlots, compression: McapCompression.None, flightMetadata: flightMetadata)
        {
            RecordsToFile = false,
        };

    /// <summary>False for <see cref="WithoutFile"/>: the recorder only feeds its taps.</summary>
    public bool RecordsToFile { get; private init; } = true;

    private readonly List<IMcapTap> _taps = [];

    /// <summary>
    /// Hands every encoded channel and message to <paramref name="tap"/> (a live viewer, the 3D scene), on the recorder
    /// thread: the tick thread never sees a tap. Before <see cref="Attach"/>; taps see channels in the order added.
    /// </summary>
    public void AddTap(IMcapTap tap)
    {
        if (_thread is not null) throw new InvalidOperationException($"the recorder of {_name} is already running; add taps before the node attaches it");
        _taps.Add(tap);
    }

    /// <param name="stream">Where the MCAP goes (owned by the recorder).</param>
    /// <param name="name">Names the destination in <see cref="Error"/>.</param>
    /// <param name="observationSize">Length of the policy observation.</param>
    /// <param name="ringSlots">Records buffered between the tick and the recorder thread.</param>
    /// <param name="clockToEpochNs">Added to node-clock times to give MCAP log times (default: the offset from <see cref="NodeClock"/> to UTC now).</param>
    /// <param name="compression">Chunk compression (zstd shrinks a 500 Hz flight log several times; readers decompress transparently).</param>
    /// <param name="flightMetadata">Robot config and policy spec (<see cref="FlightLogMetadata.Build"/>), stored on the
    /// /observation channel so that replay can refuse a log from another robot or policy spec.</param>
    /// <remarks>Recording starts when the node attaches its robot kind's log layout (<see cref="Attach"/>).</remarks>
    public NodeRecorder(Stream stream, string name, int observationSize, int ringSlots, long? clockToEpochNs = null,
        McapCompression compression = McapCompression.Zstd, IReadOnlyDictionary<string, string>? flightMetadata = null)
    {
        _flightMetadata = flightMetadata;
        _compression = compression;
        ArgumentOutOfRangeException.ThrowIfLessThan(ringSlots, 2);
        _stream = stream;
        _name = name;
        _observationSize = observationSize;
        _slots = new Slot[ringSlots];
        _observations = new float[(long)ringSlots * observationSize];
        _observationValues = new float[observationSize];
        _clock = new NodeLogClock(clockToEpochNs ?? (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100 - NodeClock.NowNs);
        _diagnosticArray = MessageRegistry.Default.Get(RosTypes.DiagnosticArray);
        _diagnosticStatus = MessageRegistry.Default.Get(RosTypes.DiagnosticStatus);
        _keyValue = MessageRegistry.Default.Get(RosTypes.KeyValue);
    }

    /// <summary>
    /// Sets the robot kind's topics and starts the recorder thread (the node does this when it is built). Until then,
    /// nothing is recorded.
    /// </summary>
    public void Attach(INodeLog log)
    {
        if (_log is not null) throw new InvalidOperationException($"the recorder of {_name} already records a node");
        _log = log;
        _stateBytes = log.StateBytes;
        _states = new byte[(long)_slots.Length * _stateBytes];
        _thread = new Thread(Run) { IsBackground = true, Name = "roborl-recorder" };
        _thread.Start();
    }

    /// <summary>Why recording stopped (e.g. "recording stopped: No space left on device (flight.mcap)"); null while it works.</summary>
    public string? Error => _error;
    /// <summary>Records dropped because the ring was full (the recorder fell behind).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);
    /// <summary>Records written to the file.</summary>
    public long Written => Interlocked.Read(ref _written);
    public string Destination => _name;

    // ---------------------------------------------------------------------------------------------
    // Tick thread: copy into the ring. Allocation-free, never blocks.

    /// <summary>Queues one tick: its record, the observation (NaN when its size differs) and the kind's state bytes.</summary>
    public void RecordTick(in TickRecord record, ReadOnlySpan<float> observation, ReadOnlySpan<byte> state)
    {
        if (!TryClaim(out int index)) return;
        ref Slot slot = ref _slots[index];
        slot.Kind = SlotKind.Tick;
        slot.Tick = record;
        Span<float> row = _observations.AsSpan(index * _observationSize, _observationSize);
        if (observation.Length == _observationSize) observation.CopyTo(row);
        else row.Fill(float.NaN);
        Span<byte> stateRow = _states.AsSpan(index * _stateBytes, _stateBytes);
        if (state.Length == _stateBytes) state.CopyTo(stateRow);
        else stateRow.Clear();
        Publish();
    }

    public void RecordEvent(in NodeEvent e)
    {
        if (!TryClaim(out int index)) return;
        _slots[index].Kind = SlotKind.Event;
        _slots[index].Event = e;
        Publish();
    }

    public void RecordStatistics(long timestampNs, in TickStatistics statistics)
    {
        if (!TryClaim(out int index)) return;
        _slots[index].Kind = SlotKind.Statistics;
        _slots[index].StatisticsTimestampNs = timestampNs;
        _slots[index].Statistics = statistics;
        Publish();
    }

    private bool TryClaim(out int index)
    {
        long head = _head;
        if (_log is null || _error is not null || head - Volatile.Read(ref _tail) >= _slots.Length)
        {
            Interlocked.Increment(ref _dropped);
            index = 0;
            return false;
        }
        index = (int)(head % _slots.Length);
        return true;
    }

    private void Publish() => Volatile.Write(ref _head, _head + 1);

    // ---------------------------------------------------------------------------------------------
    // Recorder thread.

    private void Run()
    {
        try
        {
            _writer = new McapWriter(_stream, new McapWriterOptions { Compression = _compression });
            foreach (IMcapTap tap in _taps) _writer.AddTap(tap);
            _log!.Register(_writer);
            _observation = _writer.RegisterRos2Channel<ObservationMsg>(FlightLogMetadata.Topic, Ros2Qos.Default, _flightMetadata);
            _action = _writer.RegisterRos2Channel<ActionMsg>("/action", Ros2Qos.Default);
            _mode = _writer.RegisterRos2Channel<ModeMsg>("/mode", Ros2Qos.Profile(reliable: true, transientLocal: true, depth: 1));
            _stats = _writer.RegisterRos2Channel<TickStatsMsg>("/tick_stats", Ros2Qos.Default);
            _diagnostics = _writer.RegisterRos2Channel("/diagnostics", RosTypes.DiagnosticArray, Ros2Qos.Default);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            Fail(e);
        }

        while (true)
        {
            bool stopping = _stopping; // read before draining, so nothing published before Stop is missed
            long head = Volatile.Read(ref _head);
            for (long t = _tail; t < head; t++)
            {
                if (_error is null)
                {
                    try { Write(t); _written++; }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException) { Fail(e); }
                }
                Volatile.Write(ref _tail, t + 1);
            }
            if (stopping) break;
            if (Volatile.Read(ref _head) == _tail) Thread.Sleep(2);
        }

        try { _writer?.Dispose(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException) { Fail(e); }
        try { _stream.Dispose(); }
        catch (IOException) { } // already reported through the write that failed
    }

    private void Fail(Exception e)
    {
        _error ??= $"recording stopped: {e.Message} ({_name}); the node keeps running";
        try { _writer?.Dispose(); } catch (Exception) { /* the stream is broken; the first error is the one reported */ }
        _writer = null;
    }

    private void Write(long sequence)
    {
        int index = (int)(sequence % _slots.Length);
        ref Slot slot = ref _slots[index];
        McapWriter w = _writer!;
        switch (slot.Kind)
        {
            case SlotKind.Tick:
                _log!.Write(w, in slot.Tick, _states.AsSpan(index * _stateBytes, _stateBytes), _clock);
                WriteTick(w, in slot.Tick, _observations.AsSpan(index * _observationSize, _observationSize));
                break;
            case SlotKind.Event: WriteEvent(w, in slot.Event); break;
            case SlotKind.Statistics:
                {
                    ulong time = _clock.LogTime(slot.StatisticsTimestampNs);
                    TickStatistics s = slot.Statistics;
                    w.WriteMessage(_stats, time, time, new TickStatsMsg
                    {
                        Header = NodeLogClock.Header(time, WorldFrame),
                        Ticks = s.Ticks,
                        RateHz = (float)s.RateHz,
                        LatencyP50Us = (float)s.LatencyP50Us,
                        LatencyP99Us = (float)s.LatencyP99Us,
                        LatencyMaxUs = (float)s.LatencyMaxUs,
                        JitterP99Us = (float)s.JitterP99Us,
                        Overruns = s.Overruns,
                    });
                    break;
                }
        }
    }

    private void WriteTick(McapWriter w, in TickRecord r, ReadOnlySpan<float> observation)
    {
        ulong time = _clock.LogTime(r.TimestampNs);
        if (r.PolicyRan)
        {
            observation.CopyTo(_observationValues);
            w.WriteMessage(_observation, time, time, new ObservationMsg { Header = NodeLogClock.Header(time, WorldFrame), Tick = r.Tick, Values = _observationValues });
        }
        r.Action.CopyTo(_actionValues);
        r.PolicyAction.CopyTo(_policyValues);
        r.HumanAction.CopyTo(_humanValues);
        w.WriteMessage(_action, time, time, new ActionMsg
        {
            Header = NodeLogClock.Header(time, BodyFrame),
            Tick = r.Tick,
            Values = _actionValues.AsMemory(0, r.Action.Count),
            PolicyValues = r.PolicyRan ? _policyValues.AsMemory(0, r.PolicyAction.Count) : ReadOnlyMemory<float>.Empty,
            Intervention = r.Intervention,
            HumanValues = r.Intervention ? _humanValues.AsMemory(0, r.HumanAction.Count) : ReadOnlyMemory<float>.Empty,
            Source = r.Source,
        });
    }

    private void WriteEvent(McapWriter w, in NodeEvent e)
    {
        ulong time = _clock.LogTime(e.TimestampNs);
        string text = e.Describe();
        if (e.Kind == NodeEventKind.ModeChange)
            w.WriteMessage(_mode, time, time, new ModeMsg { Header = NodeLogClock.Header(time, WorldFrame), Mode = e.Mode, Name = NodeEvent.ModeName(e.Mode), Reason = e.ReasonText });
        if (e.Kind == NodeEventKind.ModeChange && !e.Violation.Tripped && e.Reason != ModeReason.KillSwitch) return;
        if (e.Kind == NodeEventKind.GoalReached) return; // on /mode (the stop that follows) and in the events; not a safety matter

        // diagnostic_msgs/DiagnosticStatus levels: OK 0, WARN 1, ERROR 2.
        byte level = e.Kind == NodeEventKind.ModeChange ? (byte)2 : (byte)1;
        var values = new List<DynamicMessage>
        {
            KeyValue("tick", e.Tick.ToString()),
            KeyValue("event", e.Kind.ToString()),
        };
        if (e.Violation.Tripped)
        {
            values.Add(KeyValue("trigger", e.Violation.Trigger.ToString()));
            values.Add(KeyValue("value", e.Violation.Value.ToString("R")));
            values.Add(KeyValue("limit", e.Violation.Limit.ToString("R")));
        }
        DynamicMessage status = DynamicMessage.Create(_diagnosticStatus)
            .Set("level", level).Set("name", "roborl_node: safety").Set("message", text).Set("hardware_id", "")
            .Set("values", values.ToArray());
        DynamicMessage header = DynamicMessage.Create(MessageRegistry.Default.Get(RosTypes.Header));
        header.Get<DynamicMessage>("stamp").Set("sec", (int)(time / 1_000_000_000)).Set("nanosec", (uint)(time % 1_000_000_000));
        header.Set("frame_id", WorldFrame);
        DynamicMessage array = DynamicMessage.Create(_diagnosticArray).Set("header", header).Set("status", new[] { status });
        w.WriteMessage(_diagnostics, time, time, array);
    }

    private DynamicMessage KeyValue(string key, string value) => DynamicMessage.Create(_keyValue).Set("key", key).Set("value", value);

    /// <summary>Writes what is queued, closes the file (summary and footer) and stops the thread.</summary>
    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        if (_thread is not null) _thread.Join();
        else
        {
            // Never attached to a node: nothing was recorded; close the (empty) file.
            try { _stream.Dispose(); } catch (IOException) { }
        }
    }
}
