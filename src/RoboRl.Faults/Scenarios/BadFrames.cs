using System.Numerics;
using RoboRl.Core.Robots;
using RoboRl.Node;
using RoboRl.Serial;

namespace RoboRl.Faults.Scenarios;

/// <summary>
/// Issue #9, scenario 4: truncated, bit-flipped, duplicated and replayed (old sequence number) STATE frames on the serial
/// cable, each carrying a poisoned state (5 m high: outside the geofence, so acting on one would trip the supervisor).
/// Expected: every one rejected and counted in its class (framing/CRC, duplicate, out-of-order), none reaches the node
/// (no sample with the poisoned position, the node keeps flying the policy).
/// </summary>
public sealed class BadFrames : IFaultScenario
{
    public string Name => "bad-frames";
    public string Description => "truncated, bit-flipped, duplicated, replayed frames: rejected, counted, never acted on";

    private static readonly Vector3 Poison = new(0, 0, 5);

    public FaultResult Run(FaultBudget budget)
    {
        using var serial = new SerialRig(Name, SerialGarbageFlood.SensorTimeoutMs);
        var poisoned = new PoisonWatch(serial.Source);
        serial.Rig.Node.AddTelemetry(poisoned);
        serial.Start();

        const int PerKind = 50;
        var rng = new Random(4);
        int step = 0;
        int truncated = 0, flipped = 0, duplicated = 0, replayed = 0;
        var poisonState = new StateMessage(0, Poison, Quaternion.Identity, Vector3.Zero, Vector3.Zero);
        LinkCounters before = serial.Source.Link.Counters;
        var done = new ManualResetEventSlim();
        // After each good frame (sequence s), one bad frame: cycling through the four kinds.
        serial.AfterEachFrame = s =>
        {
            ushort seq = s.LastSequence;
            switch (step++ % 4)
            {
                case 0 when truncated < PerKind:
                    {
                        ReadOnlySpan<byte> frame = s.EncodeState(poisonState, (ushort)(seq + 1));
                        int cut = 2 + rng.Next(frame.Length - 3);
                        byte[] bytes = [.. frame[..cut], LinkProtocol.Delimiter];
                        s.WriteRaw(bytes);
                        truncated++;
                        break;
                    }
                case 1 when flipped < PerKind:
                    {
                        byte[] bytes = s.EncodeState(poisonState, (ushort)(seq + 1)).ToArray();
                        int at = 1 + rng.Next(bytes.Length - 2);
                        byte flippedByte = (byte)(bytes[at] ^ (1 << rng.Next(8)));
                        if (flippedByte == 0) flippedByte = (byte)(bytes[at] ^ 0x80 ^ 0x01); // a flip to 0x00 would be a (framing) cut, not a flip
                        bytes[at] = flippedByte;
                        s.WriteRaw(bytes);
                        flipped++;
                        break;
                    }
                case 2 when duplicated < PerKind:
                    s.WriteRaw(s.EncodeState(poisonState, seq)); // the sequence number just accepted, again
                    duplicated++;
                    break;
                case 3 when replayed < PerKind:
                    s.WriteRaw(s.EncodeState(poisonState, (ushort)(seq - 1 - rng.Next(LinkProtocol.SequenceReplayWindow - 1))));
                    replayed++;
                    break;
                default:
                    if (truncated + flipped + duplicated + replayed == 4 * PerKind) done.Set();
                    break;
            }
        };
        Check.That(done.Wait(TimeSpan.FromSeconds(20)), "the bad frames were not all sent within 20 s");
        // The node's state while the robot still talks (stopping the writer makes the sensor stale, as it should).
        NodeMode mode = serial.Rig.Node.Mode;
        string events = string.Join("; ", serial.Rig.Node.Events.Select(e => e.Describe()));
        serial.AfterEachFrame = null;
        serial.StopWriter();
        Thread.Sleep(300); // what is on the wire arrives
        LinkCounters after = serial.Source.Link.Counters;
        // Totals since the start: the node's reader may lag by a few frames at any instant on a loaded machine, but once the
        // writer has stopped and the wire is drained, every good frame ever sent is accepted and nothing else.
        long goodSent = serial.FramesSent, received = serial.Source.Received;
        ulong lastTick = serial.Rig.Node.TickCount - 1;
        int modeChanges = serial.Rig.Node.Events.Count(e => e.Kind == NodeEventKind.ModeChange);
        FlightLogCount log = serial.Rig.CloseAndCount();
        lastTick = Math.Min(lastTick, log.Actions.Count == 0 ? 0 : log.Actions.Max(a => a.Tick));
        long lost = log.MissingTicks(0, lastTick) + Math.Max(0, modeChanges - log.Modes.Count);

        long corrupt = (after.CrcErrors - before.CrcErrors) + (after.FramingErrors - before.FramingErrors) + (after.BadLength - before.BadLength);
        long dup = after.Duplicates - before.Duplicates, old = after.OutOfOrder - before.OutOfOrder;
        long acceptedPoison = poisoned.Seen;
        string detail = $"{truncated} truncated + {flipped} bit-flipped frames → {corrupt} CRC/framing/length rejections; {duplicated} duplicated → {dup} duplicates; "
            + $"{replayed} replayed old sequence numbers → {old} out-of-order; samples accepted {received} = good frames sent {goodSent} (whole flight); poisoned samples seen by the node: {acceptedPoison}; mode {mode} (sensor timeout {SerialGarbageFlood.SensorTimeoutMs} ms)";
        bool passed = corrupt == truncated + flipped && dup == duplicated && old == replayed && acceptedPoison == 0 && received == goodSent && mode == NodeMode.Policy;
        if (mode != NodeMode.Policy) detail += $"; events: {events}";
        return new FaultResult(Name, passed, null, lost, detail);
    }

    /// <summary>Watches the samples the node could see (polled at the telemetry rate and by the scenario): any with the poisoned height.</summary>
    private sealed class PoisonWatch : ITelemetrySink
    {
        private readonly SerialStateSource _source;
        public long Seen;
        public PoisonWatch(SerialStateSource source) => _source = source;
        public void Publish(in TelemetryFrame frame)
        {
            if (frame.State.Position.Z > 4) Interlocked.Increment(ref Seen);
            if (_source.TryGetLatest(out RobotStateSample s) && s.Position.Z > 4) Interlocked.Increment(ref Seen);
        }
    }
}
