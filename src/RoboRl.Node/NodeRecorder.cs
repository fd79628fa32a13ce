using System.Numerics;
using RoboRl.Core.Messages;
using RoboRl.Core.Robots;
using RoboRl.Logs;

namespace RoboRl.Node;

/// <summary>What the node hands the recorder each tick (the observation travels separately as a span).</summary>
public struct TickRecord
{
    public long TimestampNs;
    public ulong Tick;
    public bool HasState;
    public RobotStateSample State;
    /// <summary>The setpoint the policy was given (after clamping and rate limiting).</summary>
    public Vector3 Setpoint;
    public bool PolicyRan;
    public Vector4 PolicyAction;
    public bool Intervention;
    public Vector4 HumanAction;
    /// <summary>The action applied (after arbitration), normalised [-1, 1].</summary>
    public Vector4 Action;
    public ActionSource Source;
    public NodeMode Mode;
}

/// <summary>
/// Records a flight as MCAP (ros2 profile, via <see cref="McapWriter"/>): state as geometry_msgs/PoseStamped
/// (/pose), TwistStamped (/velocity, world frame) and sensor_msgs/Imu (/imu), the setpoint (/setpoint, PoseStamped),
/// roborl_msgs Observation, Action (policy and human values, intervention flag, source), Mode (with its reason) and
/// TickStats, and diagnostic_msgs/DiagnosticArray (/diagnostics) for safety events. The tick thread only copies into
/// a preallocated single-producer ring (never blocks, never allocates; a full ring drops and counts); a recorder
/// thread encodes and writes, so the tick never waits for the disk. A write failure (disk full, device gone) stops
/// recording with <see cref="Error"/> set; the node keeps flying. With a simulated robot
/// (<see cref="IGroundTruthSource"/>) each tick also records its true state on /ground_truth (roborl_msgs/GroundTruth),
/// read when the tick is recorded — after the tick's command was sent, so it says when that command took effect.
/// </summary>
public sealed class NodeRecorder : IDisposable
{
    public const string WorldFrame = "world", BodyFrame = "base_link";
    /// <summary>Measured rotor speeds, rpm (roborl_msgs/Observation layout: values = M1..M4), written with each state that has them.</summary>
    public const string RotorRpmTopic = "/rotor_rpm";

    private enum SlotKind : byte { Tick, Event, Statistics }

    private struct Slot
    {
        public SlotKind Kind;
        public TickRecord Tick;
        public bool HasGroundTruth;
        public GroundTruthSample GroundTruth;
        public NodeEvent Event;
        public long StatisticsTimestampNs;
        public TickStatistics Statistics;
    }

    private readonly Slot[] _slots;
    private readonly float[] _observations; // [slots, observationSize]
    private readonly int _observationSize;
    private long _head, _tail; // written by the producer / the consumer only
    private long _dropped, _written;
    private readonly Stream _stream;
    private readonly string _name;
    private readonly Thread _thread;
    private volatile bool _stopping;
    private volatile string? _error;
    private readonly long _clockToEpochNs;
    private readonly McapCompression _compression;
    private readonly IReadOnlyDictionary<string, string>? _flightMetadata;
    private readonly IGroundTruthSource? _groundTruthSource;

    // Recorder-thread state.
    private McapWriter? _writer;
    private ushort _pose, _velocity, _imu, _setpoint, _observation, _action, _mode, _stats, _diagnostics, _rotorRpm, _groundTruth;
    private readonly float[] _observationValues, _actionValues = new float[4], _policyValues = new float[4], _humanValues = new float[4],
        _rotorRpmValues = new float[4], _groundTruthRpm = new float[4];
    private readonly MsgDefinition _diagnosticArray, _diagnosticStatus, _keyValue;

    /// <summary>Records into <paramref name="path"/> (created or overwritten now, so a bad path fails before flight).</summary>
    public static NodeRecorder Create(string path, int observationSize, int ringSlots, McapCompression compression = McapCompression.Zstd,
        IReadOnlyDictionary<string, string>? flightMetadata = null, IGroundTruthSource? groundTruth = null) =>
        new(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16), path, observationSize, ringSlots,
            compression: compression, flightMetadata: flightMetadata, groundTruth: groundTruth);

    /// <param name="stream">Where the MCAP goes (owned by the recorder).</param>
    /// <param name="name">Names the destination in <see cref="Error"/>.</param>
    /// <param name="observationSize">Length of the policy observation.</param>
    /// <param name="ringSlots">Records buffered between the tick and the recorder thread.</param>
    /// <param name="clockToEpochNs">Added to node-clock times to give MCAP log times (default: the offset from <see cref="NodeClock"/> to UTC now).</param>
    /// <param name="compression">Chunk compression (zstd shrinks a 500 Hz flight log several times; readers decompress transparently).</param>
    /// <param name="flightMetadata">Robot config and policy spec (<see cref="FlightLogMetadata.Build"/>), stored on the
    /// /observation channel so that replay can refuse a log from another robot or policy spec.</param>
    /// <param name="groundTruth">A simulated robot whose true state is recorded with every tick (/ground_truth); null for real robots.</param>
    public NodeRecorder(Stream stream, string name, int observationSize, int ringSlots, long? clockToEpochNs = null,
        McapCompression compression = McapCompression.Zstd, IReadOnlyDictionary<string, string>? flightMetadata = null,
        IGroundTruthSource? groundTruth = null)
    {
        _flightMetadata = flightMetadata;
        _groundTruthSource = groundTruth;
        _compression = compression;
        ArgumentOutOfRangeException.ThrowIfLessThan(ringSlots, 2);
        _stream = stream;
        _name = name;
        _observationSize = observationSize;
        _slots = new Slot[ringSlots];
        _observations = new float[(long)ringSlots * observationSize];
        _observationValues = new float[observationSize];
        _clockToEpochNs = clockToEpochNs ?? (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100 - NodeClock.NowNs;
        _diagnosticArray = MessageRegistry.Default.Get(RosTypes.DiagnosticArray);
        _diagnosticStatus = MessageRegistry.Default.Get(RosTypes.DiagnosticStatus);
        _keyValue = MessageRegistry.Default.Get(RosTypes.KeyValue);
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

    public void RecordTick(in TickRecord record, ReadOnlySpan<float> observation)
    {
        if (!TryClaim(out int index)) return;
        ref Slot slot = ref _slots[index];
        slot.Kind = SlotKind.Tick;
        slot.Tick = record;
        slot.HasGroundTruth = _groundTruthSource is not null && _groundTruthSource.TryGetGroundTruth(out slot.GroundTruth);
        Span<float> row = _observations.AsSpan(index * _observationSize, _observationSize);
        if (observation.Length == _observationSize) observation.CopyTo(row);
        else row.Fill(float.NaN);
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
        if (_error is not null || head - Volatile.Read(ref _tail) >= _slots.Length)
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
            _pose = _writer.RegisterRos2Channel<PoseStampedMsg>("/pose", Ros2Qos.SensorData);
            _velocity = _writer.RegisterRos2Channel<TwistStampedMsg>("/velocity", Ros2Qos.SensorData);
            _imu = _writer.RegisterRos2Channel<ImuMsg>("/imu", Ros2Qos.SensorData);
            _setpoint = _writer.RegisterRos2Channel<PoseStampedMsg>("/setpoint", Ros2Qos.Default);
            _observation = _writer.RegisterRos2Channel<ObservationMsg>(FlightLogMetadata.Topic, Ros2Qos.Default, _flightMetadata);
            _action = _writer.RegisterRos2Channel<ActionMsg>("/action", Ros2Qos.Default);
            _mode = _writer.RegisterRos2Channel<ModeMsg>("/mode", Ros2Qos.Profile(reliable: true, transientLocal: true, depth: 1));
            _stats = _writer.RegisterRos2Channel<TickStatsMsg>("/tick_stats", Ros2Qos.Default);
            _diagnostics = _writer.RegisterRos2Channel("/diagnostics", RosTypes.DiagnosticArray, Ros2Qos.Default);
            // Measured rotor speeds (rpm, M1..M4) where the robot reports them: fine-tuning rebuilds the critic's
            // privileged observation (which holds the rotor speeds) from the log. roborl_msgs/Observation's layout
            // (header, tick, float32[] values) is reused for it.
            _rotorRpm = _writer.RegisterRos2Channel<ObservationMsg>(RotorRpmTopic, Ros2Qos.SensorData);
            if (_groundTruthSource is not null)
                _groundTruth = _writer.RegisterRos2Channel<GroundTruthMsg>(FlightLogMetadata.GroundTruthTopic, Ros2Qos.SensorData, new Dictionary<string, string>
                {
                    [FlightLogMetadata.PhysicsStepNs] = _groundTruthSource.PhysicsStepNs.ToString(System.Globalization.CultureInfo.InvariantCulture),
                });
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
        _error ??= $"recording stopped: {e.Message} ({_name}); the node keeps flying";
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
                WriteTick(w, in slot.Tick, _observations.AsSpan(index * _observationSize, _observationSize));
                if (slot.HasGroundTruth) WriteGroundTruth(w, in slot.Tick, in slot.GroundTruth);
                break;
            case SlotKind.Event: WriteEvent(w, in slot.Event); break;
            case SlotKind.Statistics:
            {
                ulong time = LogTime(slot.StatisticsTimestampNs);
                TickStatistics s = slot.Statistics;
                w.WriteMessage(_stats, time, time, new TickStatsMsg
                {
                    Header = Header(time, WorldFrame), Ticks = s.Ticks, RateHz = (float)s.RateHz,
                    LatencyP50Us = (float)s.LatencyP50Us, LatencyP99Us = (float)s.LatencyP99Us, LatencyMaxUs = (float)s.LatencyMaxUs,
                    JitterP99Us = (float)s.JitterP99Us, Overruns = s.Overruns,
                });
                break;
            }
        }
    }

    private void WriteTick(McapWriter w, in TickRecord r, ReadOnlySpan<float> observation)
    {
        ulong time = LogTime(r.TimestampNs);
        if (r.HasState)
        {
            RobotStateSample s = r.State;
            ulong stateTime = LogTime(s.TimestampNs);
            var orientation = new QuaternionMsg { X = s.Orientation.X, Y = s.Orientation.Y, Z = s.Orientation.Z, W = s.Orientation.W };
            w.WriteMessage(_pose, time, stateTime, new PoseStampedMsg
            {
                Header = Header(stateTime, WorldFrame),
                Pose = new PoseMsg { Position = new PointMsg { X = s.Position.X, Y = s.Position.Y, Z = s.Position.Z }, Orientation = orientation },
            });
            // REP 105: a twist in the world frame has its angular part in the world frame too.
            Vector3 angularWorld = Vector3.Transform(s.AngularVelocityBody, s.Orientation);
            w.WriteMessage(_velocity, time, stateTime, new TwistStampedMsg
            {
                Header = Header(stateTime, WorldFrame),
                Twist = new TwistMsg
                {
                    Linear = new Vector3Msg { X = s.VelocityWorld.X, Y = s.VelocityWorld.Y, Z = s.VelocityWorld.Z },
                    Angular = new Vector3Msg { X = angularWorld.X, Y = angularWorld.Y, Z = angularWorld.Z },
                },
            });
            var imu = new ImuMsg
            {
                Header = Header(stateTime, BodyFrame),
                Orientation = orientation,
                AngularVelocity = new Vector3Msg { X = s.AngularVelocityBody.X, Y = s.AngularVelocityBody.Y, Z = s.AngularVelocityBody.Z },
            };
            imu.LinearAccelerationCovariance[0] = -1; // sensor_msgs/Imu: element 0 = -1 means "no linear acceleration estimate"
            w.WriteMessage(_imu, time, stateTime, imu);
            Vector4 rpm = s.RotorRpm;
            if (float.IsFinite(rpm.X) && float.IsFinite(rpm.Y) && float.IsFinite(rpm.Z) && float.IsFinite(rpm.W))
            {
                Copy(rpm, _rotorRpmValues);
                w.WriteMessage(_rotorRpm, time, stateTime, new ObservationMsg { Header = Header(stateTime, BodyFrame), Tick = r.Tick, Values = _rotorRpmValues });
            }
        }
        w.WriteMessage(_setpoint, time, time, new PoseStampedMsg
        {
            Header = Header(time, WorldFrame),
            Pose = new PoseMsg { Position = new PointMsg { X = r.Setpoint.X, Y = r.Setpoint.Y, Z = r.Setpoint.Z }, Orientation = QuaternionMsg.Identity },
        });
        if (r.PolicyRan)
        {
            observation.CopyTo(_observationValues);
            w.WriteMessage(_observation, time, time, new ObservationMsg { Header = Header(time, WorldFrame), Tick = r.Tick, Values = _observationValues });
        }
        Copy(r.Action, _actionValues);
        Copy(r.PolicyAction, _policyValues);
        Copy(r.HumanAction, _humanValues);
        w.WriteMessage(_action, time, time, new ActionMsg
        {
            Header = Header(time, BodyFrame), Tick = r.Tick, Values = _actionValues,
            PolicyValues = r.PolicyRan ? _policyValues : ReadOnlyMemory<float>.Empty,
            Intervention = r.Intervention,
            HumanValues = r.Intervention ? _humanValues : ReadOnlyMemory<float>.Empty,
            Source = r.Source,
        });
    }

    private void WriteGroundTruth(McapWriter w, in TickRecord r, in GroundTruthSample truth)
    {
        ulong time = LogTime(r.TimestampNs), stateTime = LogTime(truth.State.TimestampNs);
        RobotStateSample s = truth.State;
        Copy(s.RotorRpm, _groundTruthRpm);
        w.WriteMessage(_groundTruth, time, stateTime, new GroundTruthMsg
        {
            Header = Header(stateTime, WorldFrame), Tick = r.Tick,
            Pose = new PoseMsg
            {
                Position = new PointMsg { X = s.Position.X, Y = s.Position.Y, Z = s.Position.Z },
                Orientation = new QuaternionMsg { X = s.Orientation.X, Y = s.Orientation.Y, Z = s.Orientation.Z, W = s.Orientation.W },
            },
            LinearVelocity = new Vector3Msg { X = s.VelocityWorld.X, Y = s.VelocityWorld.Y, Z = s.VelocityWorld.Z },
            AngularVelocity = new Vector3Msg { X = s.AngularVelocityBody.X, Y = s.AngularVelocityBody.Y, Z = s.AngularVelocityBody.Z },
            RotorRpm = _groundTruthRpm,
            CommandEffective = TimeMsg.FromNanoseconds((long)LogTime(truth.CommandEffectiveNs)),
        });
    }

    private void WriteEvent(McapWriter w, in NodeEvent e)
    {
        ulong time = LogTime(e.TimestampNs);
        string text = e.Describe();
        if (e.Kind == NodeEventKind.ModeChange)
            w.WriteMessage(_mode, time, time, new ModeMsg { Header = Header(time, WorldFrame), Mode = e.Mode, Name = NodeEvent.ModeName(e.Mode), Reason = e.ReasonText });
        if (e.Kind == NodeEventKind.ModeChange && !e.Violation.Tripped && e.Reason != ModeReason.KillSwitch) return;

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

    private static void Copy(Vector4 v, float[] destination) { destination[0] = v.X; destination[1] = v.Y; destination[2] = v.Z; destination[3] = v.W; }

    private ulong LogTime(long nodeClockNs) => (ulong)Math.Max(0, nodeClockNs + _clockToEpochNs);

    private static HeaderMsg Header(ulong time, string frame) => new() { Stamp = TimeMsg.FromNanoseconds((long)time), FrameId = frame };

    /// <summary>Writes what is queued, closes the file (summary and footer) and stops the thread.</summary>
    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        _thread.Join();
    }
}
