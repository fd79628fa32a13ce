using RoboRl.Core.Robots;
using RoboRl.Node;
using RoboRl.Serial;

namespace RoboRl.Faults;

/// <summary>
/// The node flying the simulated Crazyflie whose state reaches it over a serial cable: a socat pty pair, the robot's
/// side writing STATE frames (raw bytes, so a scenario can put anything on the wire between them), the node's side a
/// <see cref="Scenarios.SerialStateSource"/>. Real time.
/// </summary>
public sealed class SerialRig : IDisposable
{
    private readonly SocatPtyPair _cable;
    private readonly PtyTransport _robotSide;
    private readonly Thread _writer;
    private readonly CancellationTokenSource _stop = new();
    private readonly byte[] _payload = new byte[LinkProtocol.MaxPayload], _wire = new byte[LinkProtocol.MaxWireFrame + 1];
    private ushort _sequence;
    private long _framesSent;

    public FlightRig Rig { get; }
    public Scenarios.SerialStateSource Source { get; }
    public SocatPtyPair Cable => _cable;
    /// <summary>Called on the writer thread after each STATE frame; may write anything more to the wire (garbage, bad frames).</summary>
    public Action<SerialRig>? AfterEachFrame { get; set; }
    public long FramesSent => Interlocked.Read(ref _framesSent);
    public ushort LastSequence => _sequence;

    /// <param name="sensorTimeoutMs">Overrides limits.sensor_timeout_ms (null: the config's 100 ms).</param>
    public SerialRig(string scenario, int? sensorTimeoutMs = null)
    {
        if (!SocatPtyPair.IsAvailable()) throw new FaultCheckException("socat is not installed (Debian: apt-get install socat)");
        _cable = SocatPtyPair.Start();
        // The cable is hardware: it does not share the node's CPU, so socat must not be starved by this machine's load.
        RealTimeScheduling.TrySetFifo(_cable.ProcessId, FlightRig.RobotThreadPriority);
        _robotSide = new PtyTransport(_cable.PathA);
        Scenarios.SerialStateSource? source = null;
        Rig = new FlightRig(scenario, new FlightRig.Options
        {
            RealTime = true,
            Sensor = _ => source = new Scenarios.SerialStateSource(_cable.PathB),
            Edit = root => { if (sensorTimeoutMs is int ms) root["limits"]!["sensor_timeout_ms"] = ms; },
        });
        Source = source!;
        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "faults-serial-robot" };
    }

    /// <summary>Starts the robot side (STATE at 500 Hz) and the node; waits until the node flies.</summary>
    public void Start()
    {
        _writer.Start();
        Rig.StartRealTime();
        Check.That(Check.WaitFor(() => Rig.Node.Mode == NodeMode.Policy && Rig.Node.TickCount > 250, TimeSpan.FromSeconds(20)),
            $"the node is not flying the policy on serial samples (mode {Rig.Node.Mode}, {Source.Received} STATE frames received; events: {string.Join("; ", Rig.Node.Events.Select(e => e.Describe()))})");
    }

    /// <summary>Writes raw bytes to the robot's end of the cable (writer thread or any thread while it is paused).</summary>
    public void WriteRaw(ReadOnlySpan<byte> bytes) => _robotSide.Write(bytes);

    /// <summary>Encodes one frame (a leading 0x00 ends whatever noise precedes it, as PROTOCOL.md allows a sender to).</summary>
    public ReadOnlySpan<byte> Encode(MessageType type, ushort sequence, ReadOnlySpan<byte> payload)
    {
        _wire[0] = LinkProtocol.Delimiter;
        int n = FrameEncoder.WriteFrame(type, FrameFlags.None, sequence, payload, _wire.AsSpan(1));
        return _wire.AsSpan(0, n + 1);
    }

    public ReadOnlySpan<byte> EncodeState(in StateMessage state, ushort sequence)
    {
        int length = Payloads.Write(state, _payload);
        return Encode(MessageType.State, sequence, _payload.AsSpan(0, length));
    }

    private void WriteLoop()
    {
        RealTimeScheduling.TryEnterFifo(FlightRig.RobotThreadPriority); // the robot's side: not slowed by this machine's load
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                RobotStateSample s = Rig.Sim.TrueState;
                var state = new StateMessage((ulong)(s.TimestampNs / 1000), s.Position, s.Orientation, s.VelocityWorld, s.AngularVelocityBody);
                WriteRaw(EncodeState(state, ++_sequence));
                Interlocked.Increment(ref _framesSent);
                AfterEachFrame?.Invoke(this);
                Thread.Sleep(2);
            }
        }
        catch (Exception) when (_stop.IsCancellationRequested) { }
        catch (IOException) { /* the cable was pulled */ }
    }

    public void StopWriter()
    {
        _stop.Cancel();
        if (_writer.IsAlive) _writer.Join();
    }

    public void Dispose()
    {
        StopWriter();
        Rig.Dispose();
        Source.Dispose();
        _robotSide.Dispose();
        _cable.Dispose();
    }
}
