using System.Numerics;
using System.Text.Json;
using RoboRl.Core.Configs;
using RoboRl.Core.Messages;
using RoboRl.Core.Quadrotor;
using RoboRl.Logs;

namespace RoboRl.Replay;

/// <summary>
/// One recorded state: the log time of the tick that recorded it, when it was measured (its stamp, log-time ns: a
/// real-time transport's sample is older than the tick that reads it), world ENU pose and velocity, body angular velocity.
/// </summary>
public readonly record struct StateSample(ulong LogTime, Vector3 Position, Quaternion Orientation, Vector3 VelocityWorld, Vector3 AngularVelocityBody,
    ulong StampTime);

/// <summary>
/// A simulated robot's true state recorded with one tick (/ground_truth): when it was recorded (LogTime), the tick,
/// its simulated time (StampTime), the state and rotor speeds, and when that tick's command took effect in the physics
/// (log-time ns).
/// </summary>
public readonly record struct GroundTruthRecord(ulong LogTime, ulong Tick, ulong StampTime, Vector3 Position, Quaternion Orientation,
    Vector3 VelocityWorld, Vector3 AngularVelocityBody, Vector4 RotorRpm, ulong CommandEffectiveTime);

/// <summary>
/// One recorded action: the applied values (normalised, [-1, 1]), the policy's own values when it ran and, on a human
/// intervention (take-over), the human's values.
/// </summary>
public readonly record struct ActionSample(ulong LogTime, ulong Tick, Vector4 Applied, float[]? Policy, ActionSource Source,
    bool Intervention = false, float[]? Human = null);

/// <summary>Measured rotor speeds (rpm, M1..M4) of one recorded state.</summary>
public readonly record struct RotorSample(ulong LogTime, ulong Tick, Vector4 Rpm);

/// <summary>One recorded policy observation.</summary>
public readonly record struct ObservationSample(ulong LogTime, ulong Tick, float[] Values);

/// <summary>
/// Every readable message of a flight log in log-time order, STABLE for equal times (ties keep file order: the
/// messages are read front to back with the streaming reader and stable-sorted, so chunks that overlap in time merge
/// correctly — the ordering bug of rosbag2 issue #2173 is a per-chunk order). A truncated or corrupted log gives what
/// is readable and <see cref="Stop"/> says where reading stopped.
/// </summary>
public sealed class FlightLog
{
    public required string Path { get; init; }
    /// <summary>Messages in log-time order (stable).</summary>
    public required IReadOnlyList<McapMessage> Messages { get; init; }
    public required IReadOnlyDictionary<string, McapChannel> ChannelsByTopic { get; init; }
    /// <summary>Where and why reading stopped (Kind Complete for an intact file).</summary>
    public required McapReadStop Stop { get; init; }
    public required int ChunksSkipped { get; init; }
    /// <summary>Robot and policy metadata the recorder stored (<see cref="FlightLogMetadata"/>); empty for logs without it.</summary>
    public required IReadOnlyDictionary<string, string> Metadata { get; init; }

    public bool IsComplete => Stop.Kind == McapStopKind.Complete && ChunksSkipped == 0;
    public ulong FirstLogTime => Messages.Count == 0 ? 0 : Messages[0].LogTime;
    public ulong LastLogTime => Messages.Count == 0 ? 0 : Messages[^1].LogTime;

    /// <summary>Reads <paramref name="path"/>; throws <see cref="FlightLogException"/> when it is missing or holds no readable MCAP.</summary>
    public static FlightLog Load(string path)
    {
        if (RoboRl.Core.InputFiles.WhyNotReadable(path) is { } why) throw new FlightLogException($"{path}: {why}; expected an MCAP flight log");
        var messages = new List<McapMessage>();
        McapStreamReader reader;
        try
        {
            reader = McapStreamReader.Open(path);
            // The reader stops at the first damage it cannot skip (truncation); corrupted chunks are skipped and counted.
            foreach (McapMessage m in reader.ReadMessages()) messages.Add(m);
        }
        catch (Exception e) when (e is McapFormatException or IOException)
        {
            throw new FlightLogException($"{path}: not a readable MCAP log: {e.Message}");
        }
        using (reader)
        {
            McapReadStop stop = reader.Stop ?? new McapReadStop(reader.Position, McapStopKind.Complete, "end of file");
            if (!reader.StartsWithMagic) throw new FlightLogException($"{path}: not an MCAP file ({stop.Reason})");
            if (messages.Count == 0 && reader.Channels.Count == 0)
                throw new FlightLogException($"{path}: no readable messages ({stop})");
            // List.Sort is unstable: order by (log time, file position) explicitly.
            var sorted = messages.Select((m, i) => (m, i)).OrderBy(x => x.m.LogTime).ThenBy(x => x.i).Select(x => x.m).ToList();
            var byTopic = new Dictionary<string, McapChannel>();
            foreach (McapChannel c in reader.Channels.Values) byTopic.TryAdd(c.Topic, c);
            var metadata = new Dictionary<string, string>();
            if (byTopic.TryGetValue(FlightLogMetadata.Topic, out McapChannel? obs))
                foreach (var (k, v) in obs.Metadata) if (k.StartsWith("roborl.", StringComparison.Ordinal)) metadata[k] = v;
            return new FlightLog
            {
                Path = path,
                Messages = sorted,
                ChannelsByTopic = byTopic,
                Stop = stop,
                ChunksSkipped = reader.ChunksSkipped,
                Metadata = metadata,
            };
        }
    }

    /// <summary>"complete" or where reading stopped, for messages to the user.</summary>
    public string DescribeStop() => IsComplete ? "complete" :
        $"partial: {Stop}" + (ChunksSkipped > 0 ? $"; {ChunksSkipped} corrupted chunk(s) skipped" : "");

    /// <summary>The recorded robot config (from the log's metadata), or null when the log does not carry one.</summary>
    public QuadrotorConfig? RecordedRobot()
    {
        if (!Metadata.TryGetValue(FlightLogMetadata.RobotConfig, out string? json)) return null;
        return QuadrotorConfig.Read(ConfigNode.Parse(json, $"{Path} ({FlightLogMetadata.RobotConfig})"));
    }

    /// <summary>A metadata list of names (JSON array), or null.</summary>
    public string[]? MetadataNames(string key) =>
        Metadata.TryGetValue(key, out string? json) ? JsonSerializer.Deserialize<string[]>(json) : null;

    private IEnumerable<McapMessage> Topic(string topic) => Messages.Where(m => m.Channel.Topic == topic);

    /// <summary>States from /pose, /velocity and /imu, joined on their log time (the recorder writes all three per tick).</summary>
    public List<StateSample> States()
    {
        var velocities = new Dictionary<ulong, Vector3>();
        foreach (McapMessage m in Topic("/velocity"))
        {
            TwistStampedMsg t = Decode<TwistStampedMsg>(m);
            velocities[m.LogTime] = new Vector3((float)t.Twist.Linear.X, (float)t.Twist.Linear.Y, (float)t.Twist.Linear.Z);
        }
        var rates = new Dictionary<ulong, Vector3>();
        foreach (McapMessage m in Topic("/imu"))
        {
            ImuMsg imu = Decode<ImuMsg>(m);
            rates[m.LogTime] = new Vector3((float)imu.AngularVelocity.X, (float)imu.AngularVelocity.Y, (float)imu.AngularVelocity.Z);
        }
        var states = new List<StateSample>();
        foreach (McapMessage m in Topic("/pose"))
        {
            if (!velocities.TryGetValue(m.LogTime, out Vector3 v) || !rates.TryGetValue(m.LogTime, out Vector3 w)) continue;
            PoseStampedMsg p = Decode<PoseStampedMsg>(m);
            var q = new Quaternion((float)p.Pose.Orientation.X, (float)p.Pose.Orientation.Y, (float)p.Pose.Orientation.Z, (float)p.Pose.Orientation.W);
            states.Add(new StateSample(m.LogTime, new Vector3((float)p.Pose.Position.X, (float)p.Pose.Position.Y, (float)p.Pose.Position.Z), q, v, w,
                (ulong)p.Header.Stamp.ToNanoseconds()));
        }
        return states;
    }

    /// <summary>A simulator's true states (/ground_truth), in log order; empty for real robots' logs.</summary>
    public List<GroundTruthRecord> GroundTruth()
    {
        var truth = new List<GroundTruthRecord>();
        foreach (McapMessage m in Topic(FlightLogMetadata.GroundTruthTopic))
        {
            GroundTruthMsg g = Decode<GroundTruthMsg>(m);
            ReadOnlySpan<float> rpm = g.RotorRpm.Span;
            if (rpm.Length != 4) throw new FlightLogException($"{Path}: {FlightLogMetadata.GroundTruthTopic} at log time {m.LogTime} has {rpm.Length} rotor speeds; expected 4");
            PoseMsg p = g.Pose;
            truth.Add(new GroundTruthRecord(m.LogTime, g.Tick, (ulong)g.Header.Stamp.ToNanoseconds(),
                new Vector3((float)p.Position.X, (float)p.Position.Y, (float)p.Position.Z),
                new Quaternion((float)p.Orientation.X, (float)p.Orientation.Y, (float)p.Orientation.Z, (float)p.Orientation.W),
                new Vector3((float)g.LinearVelocity.X, (float)g.LinearVelocity.Y, (float)g.LinearVelocity.Z),
                new Vector3((float)g.AngularVelocity.X, (float)g.AngularVelocity.Y, (float)g.AngularVelocity.Z),
                new Vector4(rpm[0], rpm[1], rpm[2], rpm[3]), (ulong)g.CommandEffective.ToNanoseconds()));
        }
        return truth;
    }

    /// <summary>The simulator's physics step recorded with its ground truth (ns), or null.</summary>
    public long? PhysicsStepNs =>
        ChannelsByTopic.TryGetValue(FlightLogMetadata.GroundTruthTopic, out McapChannel? c) && c.Metadata.TryGetValue(FlightLogMetadata.PhysicsStepNs, out string? v)
        && long.TryParse(v, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out long ns) && ns > 0 ? ns : null;

    public List<ActionSample> Actions()
    {
        var actions = new List<ActionSample>();
        foreach (McapMessage m in Topic("/action"))
        {
            ActionMsg a = Decode<ActionMsg>(m);
            ReadOnlySpan<float> v = a.Values.Span;
            if (v.Length != 4) throw new FlightLogException($"{Path}: /action at log time {m.LogTime} has {v.Length} values; expected 4 rotor commands");
            actions.Add(new ActionSample(m.LogTime, a.Tick, new Vector4(v[0], v[1], v[2], v[3]),
                a.PolicyValues.Length > 0 ? a.PolicyValues.ToArray() : null, a.Source,
                a.Intervention, a.HumanValues.Length > 0 ? a.HumanValues.ToArray() : null));
        }
        return actions;
    }

    /// <summary>Measured rotor speeds (/rotor_rpm); empty for robots that do not report them or logs recorded before it existed.</summary>
    public List<RotorSample> RotorSpeeds()
    {
        var speeds = new List<RotorSample>();
        foreach (McapMessage m in Topic("/rotor_rpm"))
        {
            ObservationMsg o = Decode<ObservationMsg>(m);
            ReadOnlySpan<float> v = o.Values.Span;
            if (v.Length != 4) throw new FlightLogException($"{Path}: /rotor_rpm at log time {m.LogTime} has {v.Length} values; expected 4 rotors");
            speeds.Add(new RotorSample(m.LogTime, o.Tick, new Vector4(v[0], v[1], v[2], v[3])));
        }
        return speeds;
    }

    /// <summary>Setpoints (/setpoint) by log time.</summary>
    public Dictionary<ulong, Vector3> Setpoints()
    {
        var setpoints = new Dictionary<ulong, Vector3>();
        foreach (McapMessage m in Topic("/setpoint"))
        {
            PoseStampedMsg p = Decode<PoseStampedMsg>(m);
            setpoints[m.LogTime] = new Vector3((float)p.Pose.Position.X, (float)p.Pose.Position.Y, (float)p.Pose.Position.Z);
        }
        return setpoints;
    }

    public List<ObservationSample> Observations() =>
        Topic("/observation").Select(m => { ObservationMsg o = Decode<ObservationMsg>(m); return new ObservationSample(m.LogTime, o.Tick, o.Values.ToArray()); }).ToList();

    private T Decode<T>(McapMessage m) where T : struct, ICdrMessage<T>
    {
        try { return Cdr.Read<T>(m.Data.Span); }
        catch (CdrFormatException e) { throw new FlightLogException($"{Path}: {m.Channel.Topic} at log time {m.LogTime}: malformed {T.TypeName}: {e.Message}"); }
    }
}
