using RoboRl.Core.Messages;
using RoboRl.Core.Robots;

namespace RoboRl.Node;

/// <summary>
/// The one real-time node, for every robot kind. Each tick, on its own thread at a fixed rate (<see cref="Start"/>:
/// SCHED_FIFO when permitted, hybrid sleep/spin wait) or called directly (<see cref="Tick"/>, for lock-step simulation
/// and tests):
/// <list type="number">
/// <item>the tick is timed against its deadline: a start later than one period is an overrun (counted; the kind's
///   supervisor trips on a streak of them);</item>
/// <item>operator commands are read: the kill switch outranks everything and latches (mode KILLED), the others go to
///   the controller;</item>
/// <item>the robot kind's controller (<see cref="IRobotController"/>) runs: sensors, its safety supervisor, the shared
///   observation builder, the policy or planner, arbitration (kill &gt; supervisor → fallback &gt; human &gt; policy),
///   the actuator command;</item>
/// <item>the tick is recorded (action, observation and the kind's state, without blocking), its timing counted, and at
///   telemetry_rate_hz a statistics window goes to the recorder and telemetry to the transports.</item>
/// </list>
/// Mode changes, refusals and trips are events: kept (<see cref="Events"/>), streamed to another thread
/// (<see cref="EventStream"/>) and recorded. A tick allocates nothing (tested).
/// </summary>
public sealed class InferenceNode : IDisposable
{
    /// <summary>Events kept for <see cref="Events"/> (the recorder gets every one).</summary>
    public const int EventCapacity = 1024;

    private readonly NodeConfig _config;
    private readonly IRobotController _controller;
    private readonly NodeRecorder? _recorder;
    private readonly byte[] _logState;
    private ITeleopSource[] _teleop = [];
    private ICommandSource[] _commands = [];
    private ITelemetrySink[] _telemetry = [];
    private readonly long _periodNs;
    private readonly int _telemetryEveryTicks;
    private readonly TickStatisticsWindow _statistics = new();

    private NodeMode _mode = NodeMode.Idle;
    private ulong _tick;
    private readonly NodeEvent[] _events = new NodeEvent[EventCapacity];
    private int _eventCount, _safetyEventCount;

    private Thread? _thread;
    private volatile bool _running;

    /// <param name="controller">The robot kind's controller (built by its <see cref="INodeKind"/> for this config).</param>
    /// <param name="recorder">Records the run; the node attaches the controller's log layout to it.</param>
    public InferenceNode(NodeConfig config, IRobotController controller, NodeRecorder? recorder = null)
    {
        _config = config;
        _controller = controller;
        _recorder = recorder;
        _periodNs = (long)Math.Round(1e9 / config.RateHz);
        _telemetryEveryTicks = Math.Max(1, (int)Math.Round(config.RateHz / config.TelemetryRateHz));
        _logState = new byte[controller.Log.StateBytes];
        controller.Attach(this);
        recorder?.Attach(controller.Log);
    }

    public NodeConfig Config => _config;
    /// <summary>The robot kind's controller (cast to the kind's type for its own figures: setpoint, goal, …).</summary>
    public IRobotController Controller => _controller;
    public NodeMode Mode => _mode;
    public ulong TickCount => _tick;
    /// <summary>The tick period, ns.</summary>
    public long PeriodNs => _periodNs;
    /// <summary>The observation built on the last tick (for tests and parity checks).</summary>
    public ReadOnlySpan<float> LastObservation => _controller.Observation;
    /// <summary>True once the robot's state (sensors) has arrived.</summary>
    public bool HasState => _controller.HasState;
    public TickStatistics RunStatistics => _statistics.Run;
    /// <summary>Safety events so far: trips, clamps and limits, the kill switch.</summary>
    public int SafetyEventCount => _safetyEventCount;

    /// <summary>The first <see cref="EventCapacity"/> events (mode changes, clamps, refusals), copied.</summary>
    public NodeEvent[] Events => _events.AsSpan(0, Math.Min(_eventCount, EventCapacity)).ToArray();
    /// <summary>Every event as it happens, for one reader on another thread (the console and the transports).</summary>
    public NodeEventStream EventStream { get; } = new();

    public void AddTeleop(ITeleopSource source) => _teleop = [.. _teleop, source];
    public void AddCommands(ICommandSource source) => _commands = [.. _commands, source];
    public void AddTelemetry(ITelemetrySink sink) => _telemetry = [.. _telemetry, sink];

    /// <summary>The human input sources, for the controller's arbitration.</summary>
    public ReadOnlySpan<ITeleopSource> TeleopSources => _teleop;
    /// <summary>The telemetry sinks, for the controller's frames.</summary>
    public ReadOnlySpan<ITelemetrySink> TelemetrySinks => _telemetry;

    // ---------------------------------------------------------------------------------------------
    // The tick.

    /// <summary>
    /// One control tick. <paramref name="scheduledNs"/> is when it should have started, <paramref name="startNs"/>
    /// when it did (node clock, or simulated time in lock-step); a start later than one period counts as an overrun.
    /// </summary>
    public void Tick(long scheduledNs, long startNs)
    {
        // In lock-step simulation the start time is simulated; compute time is always measured on the node clock.
        long realStartNs = NodeClock.NowNs;
        bool overrun = startNs - scheduledNs > _periodNs;

        // Commands: the kill switch outranks everything and latches; the rest are the robot kind's.
        for (int c = 0; c < _commands.Length; c++)
        {
            while (_commands[c].TryDequeue(out NodeCommand received))
            {
                if (received.Kind == NodeCommandKind.Kill)
                {
                    if (_mode != NodeMode.Killed) ChangeMode(NodeMode.Killed, ModeReason.KillSwitch, default, startNs);
                }
                else _controller.Handle(in received, startNs);
            }
        }

        _controller.Tick(new NodeTick { ScheduledNs = scheduledNs, StartNs = startNs, Index = _tick, Overrun = overrun });

        if (_recorder is not null)
        {
            var record = new TickRecord { TimestampNs = startNs, Tick = _tick };
            _controller.DescribeTick(ref record, _logState);
            record.Mode = _mode;
            _recorder.RecordTick(in record, _controller.Observation, _logState);
        }
        long endNs = startNs + (NodeClock.NowNs - realStartNs);
        _statistics.Add(scheduledNs, startNs, endNs, overrun);
        if (++_tick % (ulong)_telemetryEveryTicks == 0)
        {
            TickStatistics window = _statistics.TakeWindow();
            _recorder?.RecordStatistics(startNs, in window);
            _controller.PublishTelemetry(startNs, in window);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Mode and events, for the controller (tick thread only).

    /// <summary>Sets the node's mode and records why (a trip carries its violation).</summary>
    public void ChangeMode(NodeMode mode, ModeReason reason, SafetyViolation violation, long nowNs)
    {
        _mode = mode;
        AddEvent(new NodeEvent { TimestampNs = nowNs, Tick = _tick, Kind = NodeEventKind.ModeChange, Mode = mode, Reason = reason, Violation = violation, Command = NodeCommandKindOrNone.None });
    }

    /// <summary>Records a refused command and why.</summary>
    public void Refuse(NodeCommandKindOrNone command, SafetyViolation violation, long nowNs, ModeReason reason = ModeReason.SafetyViolation) =>
        AddEvent(new NodeEvent { TimestampNs = nowNs, Tick = _tick, Kind = NodeEventKind.CommandRefused, Mode = _mode, Command = command, Violation = violation, Reason = reason });

    /// <summary>Keeps, counts, records and streams an event (<see cref="NodeEvent.Tick"/> is the current tick when 0 is given).</summary>
    public void AddEvent(in NodeEvent e)
    {
        if (_eventCount < EventCapacity) _events[_eventCount] = e;
        _eventCount++;
        if (e.IsSafetyEvent || (e.Kind == NodeEventKind.ModeChange && e.Reason == ModeReason.KillSwitch)) _safetyEventCount++;
        _recorder?.RecordEvent(in e);
        EventStream.TryWrite(in e);
    }

    /// <summary>The current tick's index (for events the controller builds itself).</summary>
    public ulong CurrentTick => _tick;

    // ---------------------------------------------------------------------------------------------
    // The real-time loop.

    /// <summary>Runs ticks at <see cref="NodeConfig.RateHz"/> on a dedicated thread until <see cref="Stop"/>.</summary>
    public void Start()
    {
        if (_thread is not null) throw new InvalidOperationException("the node is already running");
        _running = true;
        _thread = new Thread(Loop) { IsBackground = true, Name = "roborl-node-tick" };
        try { _thread.Priority = ThreadPriority.Highest; } catch (Exception) { /* not permitted here: run at normal priority */ }
        _thread.Start();
    }

    public void Stop()
    {
        _running = false;
        _thread?.Join();
        _thread = null;
    }

    /// <summary>Why the tick thread runs at normal priority (null: it got SCHED_FIFO, see <see cref="RealTimeScheduling"/>); set once <see cref="Start"/> has run a tick.</summary>
    public string? SchedulingNote { get; private set; }

    private void Loop()
    {
        SchedulingNote = RealTimeScheduling.TryEnterFifo(RealTimeScheduling.TickPriority);
        long spinNs = (long)(_config.SpinUs * 1000);
        long next = NodeClock.NowNs;
        long slippedNs = 0;
        while (_running)
        {
            // Hybrid wait: sleep to spin_us before the deadline, spin the rest. The sleep is on the absolute deadline
            // (clock_nanosleep), not Thread.Sleep(1), which wakes ~1.1 ms later: at 1 kHz that never slept, and a
            // SCHED_FIFO thread spinning a whole CPU is stopped by Linux's real-time throttling for the last 50 ms of
            // every second (sched_rt_runtime_us 950000) — the missing ticks and overruns of the 1 kHz loop.
            long now = NodeClock.NowNs;
            if (next - spinNs - now > 50_000) { RealTimeScheduling.SleepUntil(next - spinNs); now = NodeClock.NowNs; }
            while (next - now > 0) { Thread.SpinWait(20); now = NodeClock.NowNs; }
            if (!_running) break;
            // The first tick after a resynchronisation is judged against the deadline it really missed: otherwise a
            // node that can never keep up (ticks longer than the period) resynchronises every few ticks, each time
            // clearing the overrun streak, and the supervisor never sees the streak it exists to catch.
            Tick(next - slippedNs, now);
            slippedNs = 0;
            next += _periodNs;
            // Far behind (descheduled, debugger): count the overrun above, then resynchronise instead of bursting.
            long behind = NodeClock.NowNs - next;
            if (behind > 10 * _periodNs) { slippedNs = behind; next += behind; }
        }
        _controller.Stopped(NodeClock.NowNs);
    }

    public void Dispose()
    {
        Stop();
        _controller.Dispose();
    }
}
