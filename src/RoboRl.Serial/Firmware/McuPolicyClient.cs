using System.Diagnostics;

namespace RoboRl.Serial.Firmware;

/// <summary>The MCU's receive counters, as its STATUS replies to a counters request report them.</summary>
public readonly record struct McuCounters(
    uint CrcErrors, uint FramingErrors, uint UnknownType, uint BadVersion, uint Oversize, uint BadLength,
    uint Duplicates, uint OutOfOrder, uint Lost, uint Resyncs, uint FramesOk, uint RxOverruns);

/// <summary>The MCU answered with an error instead of what was asked (e.g. it refused a policy that failed its self-test).</summary>
public sealed class McuPolicyException(string message, StatusMessage? status = null) : Exception(message)
{
    public StatusMessage? Status { get; } = status;
}

/// <summary>
/// The host side of firmware-bridge/mcu/app_policy.c over a <see cref="SerialLink"/>: request/response inference
/// (OBSERVATION → ACTION with the sequence echoed) and the image's application STATUS codes (receive counters,
/// on-chip benchmark, instruction-count calibration). Every STATUS the MCU sends is kept in <see cref="Statuses"/>.
/// </summary>
public sealed class McuPolicyClient : IDisposable
{
    /// <summary>Application STATUS codes of app_policy.c (PROTOCOL.md: ≥ 0x8000 are application-defined).</summary>
    public const ushort CodeCountersRequest = 0x8000, CodeCountersEnd = 0x8001, CodeSelfTestFailed = 0x8010,
        CodeBenchmarkRequest = 0x8020, CodeBenchmarkResult = 0x8021, CodeCalibrationRequest = 0x8022, CodeCalibrationResult = 0x8023,
        CodeHistoryReset = 0x8030,
        CodeDuplicates = 0x8101, CodeOutOfOrder = 0x8102, CodeLost = 0x8103, CodeResyncs = 0x8104, CodeFramesOk = 0x8105, CodeRxOverruns = 0x8106;

    /// <summary>The MCU's core clock (SysTick source): 168 MHz on the STM32F405.</summary>
    public const double CoreClockHz = 168e6;

    private readonly object _gate = new(); // Monitor.Wait/PulseAll need a plain object
    private readonly List<StatusMessage> _statuses = [];
    private readonly List<HeartbeatMessage> _heartbeats = [];
    private readonly List<ActionMessage> _actions = [];
    private ActionMessage _lastAction;
    private long _actionsReceived;

    public McuPolicyClient(ISerialTransport transport) => Link = new SerialLink(transport, OnFrame);

    /// <summary>Opens the MCU's pty (e.g. <see cref="EmulatedMcu.PtyPath"/>).</summary>
    public static McuPolicyClient OpenPty(string path) => new(new PtyTransport(path));

    public SerialLink Link { get; }

    public long ActionsReceived => Interlocked.Read(ref _actionsReceived);

    /// <summary>Every HEARTBEAT received so far, in order.</summary>
    public IReadOnlyList<HeartbeatMessage> Heartbeats
    {
        get { lock (_gate) return _heartbeats.ToArray(); }
    }

    /// <summary>How many ACTIONs <see cref="Actions"/> keeps (the first ones).</summary>
    public const int MaxKeptActions = 4096;

    /// <summary>The first <see cref="MaxKeptActions"/> ACTIONs received, in order.</summary>
    public IReadOnlyList<ActionMessage> Actions
    {
        get { lock (_gate) return _actions.ToArray(); }
    }

    /// <summary>Every STATUS received so far, in order.</summary>
    public IReadOnlyList<StatusMessage> Statuses
    {
        get { lock (_gate) return _statuses.ToArray(); }
    }

    private void OnFrame(LinkFrame frame)
    {
        lock (_gate)
        {
            switch (frame.Type)
            {
                case MessageType.Action:
                    _lastAction = frame.ReadAction();
                    _actionsReceived++;
                    if (_actions.Count < MaxKeptActions) _actions.Add(_lastAction);
                    break;
                case MessageType.Status: _statuses.Add(frame.ReadStatus()); break;
                case MessageType.Heartbeat: _heartbeats.Add(frame.ReadHeartbeat()); break;
                default: return;
            }
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Waits for a HEARTBEAT (the image sends one at boot); returns the first one received.</summary>
    public HeartbeatMessage WaitForHeartbeat(TimeSpan timeout)
    {
        lock (_gate)
        {
            WaitUntil(() => _heartbeats.Count > 0, timeout, "a HEARTBEAT");
            return _heartbeats[0];
        }
    }

    /// <summary>
    /// Sends one observation and waits for the ACTION echoing its sequence. Throws <see cref="McuPolicyException"/>
    /// when the MCU answers with an error STATUS instead, <see cref="TimeoutException"/> when nothing comes.
    /// </summary>
    public ActionMessage Infer(ReadOnlySpan<float> observation, TimeSpan timeout)
    {
        // Allocation-free (a closed loop calls it every control step): no closures, no LINQ.
        lock (_gate)
        {
            int statusesBefore = _statuses.Count;
            long actionsBefore = _actionsReceived;
            if (!Link.SendObservation(observation, out ushort sequence))
                throw new IOException($"sending the observation failed: {Link.FaultReason}");
            long start = Stopwatch.GetTimestamp();
            while (true)
            {
                for (int i = statusesBefore; i < _statuses.Count; i++)
                    if (_statuses[i].Severity == StatusSeverity.Error)
                        throw new McuPolicyException($"the MCU answered observation {sequence} with STATUS 0x{(ushort)_statuses[i].Code:X4} (detail {_statuses[i].Detail})", _statuses[i]);
                if (_actionsReceived > actionsBefore && _lastAction.ObservationSequence == sequence) return _lastAction;
                if (Link.State != LinkState.Open) throw new IOException($"the link to the MCU closed while waiting for the ACTION for observation {sequence}: {Link.FaultReason}");
                TimeSpan left = timeout - Stopwatch.GetElapsedTime(start);
                if (left <= TimeSpan.Zero) throw new TimeoutException($"no ACTION for observation {sequence} from the MCU within {timeout.TotalSeconds:F0} s");
                Monitor.Wait(_gate, left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
            }
        }
    }

    /// <summary>
    /// The policy on the MCU from the state (app_policy.c's STATE path): sends <paramref name="state"/> — its position
    /// is the position error, the MCU's target being the origin — and waits for the ACTION echoing its sequence. The
    /// MCU builds the observation itself and pushes the action, clamped to [−1, 1], into the history it keeps. Never
    /// throws and allocates nothing (the node's tick calls it): false on timeout, on an error STATUS (then in
    /// <paramref name="error"/>) or when the link is down.
    /// </summary>
    public bool TryInferState(in StateMessage state, TimeSpan timeout, out ActionMessage action, out StatusMessage? error)
    {
        action = default;
        error = null;
        lock (_gate)
        {
            int statusesBefore = _statuses.Count;
            long actionsBefore = _actionsReceived;
            if (!Link.Send(in state, out ushort sequence)) return false;
            long start = Stopwatch.GetTimestamp();
            while (true)
            {
                for (int i = statusesBefore; i < _statuses.Count; i++)
                    if (_statuses[i].Severity == StatusSeverity.Error) { error = _statuses[i]; return false; }
                if (_actionsReceived > actionsBefore && _lastAction.ObservationSequence == sequence) { action = _lastAction; return true; }
                if (Link.State != LinkState.Open) return false;
                TimeSpan left = timeout - Stopwatch.GetElapsedTime(start);
                if (left <= TimeSpan.Zero) return false;
                Monitor.Wait(_gate, left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
            }
        }
    }

    /// <summary>Starts the MCU's STATE path over (the node arms): every slot of its action history = <paramref name="fill"/>, its position-error integral = 0; no reply. False when the link is down.</summary>
    public bool SendHistoryReset(float fill) =>
        Link.Send(new StatusMessage((StatusCode)CodeHistoryReset, StatusSeverity.Info, BitConverter.SingleToUInt32Bits(fill)));

    /// <summary>Asks for the receive counters (one STATUS per counter, then the end marker).</summary>
    public McuCounters ReadCounters(TimeSpan timeout)
    {
        int from = SendStatusRequest(CodeCountersRequest, 0);
        var values = new Dictionary<ushort, uint>();
        lock (_gate)
        {
            WaitUntil(() => _statuses.Skip(from).Any(s => (ushort)s.Code == CodeCountersEnd), timeout, "the counters");
            foreach (StatusMessage s in _statuses.Skip(from)) values[(ushort)s.Code] = s.Detail;
        }
        uint V(ushort code) => values.TryGetValue(code, out uint v) ? v : throw new McuPolicyException($"the counters reply lacks code 0x{code:X4}");
        return new McuCounters(V((ushort)StatusCode.CrcErrors), V((ushort)StatusCode.FramingErrors), V((ushort)StatusCode.UnknownType),
            V((ushort)StatusCode.BadVersion), V((ushort)StatusCode.Oversize), V((ushort)StatusCode.BadLength),
            V(CodeDuplicates), V(CodeOutOfOrder), V(CodeLost), V(CodeResyncs), V(CodeFramesOk), V(CodeRxOverruns));
    }

    /// <summary>SysTick ticks the MCU took for <paramref name="count"/> forward passes of its example observation.</summary>
    public uint MeasureForwardTicks(uint count, TimeSpan timeout) => Request(CodeBenchmarkRequest, CodeBenchmarkResult, count, timeout);

    /// <summary>SysTick ticks of the MCU's calibration loop: exactly 2 × <paramref name="iterations"/> instructions.</summary>
    public uint MeasureCalibrationTicks(uint iterations, TimeSpan timeout) => Request(CodeCalibrationRequest, CodeCalibrationResult, iterations, timeout);

    /// <summary>Instructions executed in <paramref name="ticks"/> SysTick ticks under QEMU `-icount shift=0` (1 ns per instruction).</summary>
    public static double TicksToInstructions(double ticks) => ticks * 1e9 / CoreClockHz;

    private uint Request(ushort code, ushort resultCode, uint detail, TimeSpan timeout)
    {
        int from = SendStatusRequest(code, detail);
        lock (_gate)
        {
            WaitUntil(() => _statuses.Skip(from).Any(s => (ushort)s.Code == resultCode), timeout, $"STATUS 0x{resultCode:X4}");
            return _statuses.Skip(from).First(s => (ushort)s.Code == resultCode).Detail;
        }
    }

    private int SendStatusRequest(ushort code, uint detail)
    {
        int from;
        lock (_gate) from = _statuses.Count;
        if (!Link.Send(new StatusMessage((StatusCode)code, StatusSeverity.Info, detail)))
            throw new IOException($"sending STATUS 0x{code:X4} failed: {Link.FaultReason}");
        return from;
    }

    /// <summary>Waits (holding <see cref="_gate"/>) until <paramref name="done"/> or the timeout or a link fault.</summary>
    private void WaitUntil(Func<bool> done, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!done())
        {
            if (Link.State != LinkState.Open) throw new IOException($"the link to the MCU closed while waiting for {what}: {Link.FaultReason}");
            TimeSpan left = timeout - clock.Elapsed;
            if (left <= TimeSpan.Zero) throw new TimeoutException($"no {what} from the MCU within {timeout.TotalSeconds:F0} s");
            Monitor.Wait(_gate, left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
        }
    }

    public void Dispose() => Link.Dispose();
}
