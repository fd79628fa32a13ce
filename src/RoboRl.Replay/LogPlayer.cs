using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using RoboRl.Logs;

namespace RoboRl.Replay;

/// <summary>Where replayed messages go (stdout JSON lines, ROS 2 topics, …). Called from one consumer thread.</summary>
public interface IReplaySink : IDisposable
{
    void Write(in McapMessage message);

    /// <summary>
    /// True for a network sink whose subscribers want messages on time (ROS 2, MQTT): when it falls behind the log's pace a
    /// message is dropped and counted rather than delayed, unless <see cref="ReplayOptions.WaitForSink"/>. False (the
    /// default) for a stream that applies back-pressure — stdout, a file, a pipe —, which gets every message: the
    /// replay waits for it.
    /// </summary>
    bool RealTime => false;
}

/// <summary>`ros2 bag play`-like settings.</summary>
public sealed record ReplayOptions
{
    /// <summary>Playback speed: log time × 1/rate; 0 plays as fast as the sink takes messages.</summary>
    public double Rate { get; init; } = 1;
    /// <summary>Topics to play (all when null).</summary>
    public IReadOnlyCollection<string>? Topics { get; init; }
    public bool Loop { get; init; }
    /// <summary>Seconds after the log's first message to start and end at.</summary>
    public double StartS { get; init; }
    public double EndS { get; init; } = double.PositiveInfinity;
    /// <summary>True: wait for a slow real-time sink too; false: a real-time (network) sink drops (and counts) messages
    /// that do not fit the queue. A stream sink (<see cref="IReplaySink.RealTime"/> false) is always waited for.</summary>
    public bool WaitForSink { get; init; }
    public int QueueCapacity { get; init; } = 1024;
    /// <summary>Loops to play when <see cref="Loop"/> (for tests; unbounded by default).</summary>
    public int MaxLoops { get; init; } = int.MaxValue;
}

/// <summary>Pause/resume and single-step, driven by the keyboard in the CLI (space, 's') or by tests.</summary>
public sealed class ReplayControl
{
    private readonly Lock _gate = new();
    private bool _paused;
    private int _steps;

    public bool Paused { get { lock (_gate) return _paused; } }
    public void TogglePause() { lock (_gate) _paused = !_paused; }
    public void Pause() { lock (_gate) _paused = true; }
    public void Resume() { lock (_gate) _paused = false; }
    /// <summary>Pauses (if playing) and lets exactly one message through.</summary>
    public void Step() { lock (_gate) { _paused = true; _steps++; } }

    /// <summary>True when the next message may go now (consumes a step when paused).</summary>
    internal bool TryTake()
    {
        lock (_gate)
        {
            if (!_paused) return true;
            if (_steps == 0) return false;
            _steps--;
            return true;
        }
    }
}

public readonly record struct ReplayProgress(double LogSeconds, double DurationSeconds, long Played, long Dropped, bool Paused);

public sealed record ReplayResult(long Played, long Dropped, int Loops, string Stop);

/// <summary>
/// Plays a <see cref="FlightLog"/> into a sink in log-time order, paced by log time / rate. Messages go through a bounded
/// queue to a consumer thread. A stream sink (stdout, a file, a pipe) gets every message: when the queue is full the
/// player waits. A real-time network sink (<see cref="IReplaySink.RealTime"/>) gets messages on time or not at all: when
/// the queue is full the message is dropped and counted, unless <see cref="ReplayOptions.WaitForSink"/>. Pausing shifts
/// the pacing clock, so a resumed replay keeps its rate from where it paused.
/// </summary>
public sealed class LogPlayer(FlightLog log, ReplayOptions options)
{
    /// <summary>The messages the options select, in log-time order.</summary>
    public static List<McapMessage> Select(FlightLog log, ReplayOptions options)
    {
        ulong first = log.FirstLogTime;
        ulong start = first + (ulong)(Math.Max(0, options.StartS) * 1e9);
        ulong end = double.IsPositiveInfinity(options.EndS) ? ulong.MaxValue : first + (ulong)(Math.Max(0, options.EndS) * 1e9);
        return log.Messages.Where(m => m.LogTime >= start && m.LogTime <= end && (options.Topics is null || options.Topics.Contains(m.Channel.Topic))).ToList();
    }

    /// <summary>
    /// Why the options select nothing to play, naming what the log holds ("--start 100 s is past the log's end: it spans
    /// 0 to 10.02 s; topics: /pose (5000), …"), or null when they select at least one message.
    /// </summary>
    public static string? NothingToPlay(FlightLog log, ReplayOptions options)
    {
        var inv = CultureInfo.InvariantCulture;
        double span = (log.LastLogTime - log.FirstLogTime) * 1e-9;
        string topics = string.Join(", ", log.Messages.GroupBy(m => m.Channel.Topic).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => string.Create(inv, $"{g.Key} ({g.Count()})")));
        string holds = log.Messages.Count == 0 ? "the log holds no messages"
            : string.Create(inv, $"the log spans 0 to {span:F2} s ({log.Messages.Count} messages); topics: {topics}");
        if (log.Messages.Count == 0) return holds;
        if (options.StartS < 0) return string.Create(inv, $"--start {options.StartS} s: must be ≥ 0; {holds}");
        if (options.EndS < options.StartS) return string.Create(inv, $"--end {options.EndS} s is before --start {options.StartS} s; {holds}");
        if (options.StartS > span) return string.Create(inv, $"--start {options.StartS} s is past the log's end; {holds}");
        if (options.Topics is { } wanted && !wanted.Any(t => log.ChannelsByTopic.ContainsKey(t)))
            return $"--topics {string.Join(" ", wanted)}: not in the log; {holds}";
        if (Select(log, options).Count == 0)
            return string.Create(inv, $"no message of the chosen topics between {options.StartS} s and {(double.IsPositiveInfinity(options.EndS) ? "the end" : options.EndS + " s")}; {holds}");
        return null;
    }

    public ReplayResult Play(IReplaySink sink, ReplayControl? control = null, Action<ReplayProgress>? progress = null, CancellationToken cancel = default)
    {
        control ??= new ReplayControl();
        var selected = Select(log, options);
        double duration = selected.Count == 0 ? 0 : (selected[^1].LogTime - selected[0].LogTime) * 1e-9;
        // A stream (stdout, a file, a pipe) gets every message; only a real-time network sink may drop.
        bool waitForSink = options.WaitForSink || !sink.RealTime;

        var queue = Channel.CreateBounded<McapMessage>(new BoundedChannelOptions(options.QueueCapacity) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
        Exception? sinkError = null;
        var consumer = new Thread(() =>
        {
            try
            {
                while (queue.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
                    while (queue.Reader.TryRead(out McapMessage m)) sink.Write(in m);
            }
            catch (Exception e) { sinkError = e; }
        })
        { IsBackground = true, Name = "roborl-replay-sink" };
        consumer.Start();

        long played = 0, dropped = 0;
        int loops = 0;
        var clock = Stopwatch.StartNew();
        long lastProgressTicks = -1;
        try
        {
            do
            {
                if (selected.Count == 0) break;
                ulong origin = selected[0].LogTime;
                double wallOrigin = clock.Elapsed.TotalSeconds;
                foreach (McapMessage m in selected)
                {
                    double logOffset = (m.LogTime - origin) * 1e-9;
                    // Pause / step: hold here; pausing moves the wall origin so pacing resumes where it stopped.
                    while (!control.TryTake())
                    {
                        if (cancel.IsCancellationRequested || sinkError is not null) goto done;
                        double before = clock.Elapsed.TotalSeconds;
                        Thread.Sleep(10);
                        wallOrigin += clock.Elapsed.TotalSeconds - before;
                        Report(logOffset, true);
                    }
                    if (options.Rate > 0 && !control.Paused)
                    {
                        while (true)
                        {
                            if (cancel.IsCancellationRequested || sinkError is not null) goto done;
                            double wait = wallOrigin + logOffset / options.Rate - clock.Elapsed.TotalSeconds;
                            if (wait <= 0) break;
                            Thread.Sleep(TimeSpan.FromSeconds(Math.Min(wait, 0.05)));
                        }
                    }
                    if (waitForSink)
                    {
                        while (!queue.Writer.TryWrite(m))
                        {
                            if (cancel.IsCancellationRequested || sinkError is not null) goto done;
                            Thread.Sleep(1);
                        }
                        played++;
                    }
                    else if (queue.Writer.TryWrite(m)) played++;
                    else dropped++;
                    Report(logOffset, control.Paused);
                }
                loops++;
            } while (options.Loop && loops < options.MaxLoops && !cancel.IsCancellationRequested);
        done:;
        }
        finally
        {
            queue.Writer.TryComplete();
            consumer.Join();
        }
        if (sinkError is not null) throw new IOException($"replay sink failed: {sinkError.Message}", sinkError);
        progress?.Invoke(new ReplayProgress(duration, duration, played, dropped, false));
        return new ReplayResult(played, dropped, loops, log.DescribeStop());

        void Report(double logOffset, bool paused)
        {
            if (progress is null) return;
            long tenths = clock.ElapsedMilliseconds / 100;
            if (tenths == lastProgressTicks) return;
            lastProgressTicks = tenths;
            progress(new ReplayProgress(logOffset, duration, played, dropped, paused));
        }
    }
}

/// <summary>
/// One JSON line per message, the same line as `roborl log cat` (<see cref="McapMessageDecoder.JsonLine"/>: topic, type,
/// sequence, log_time_ns, publish_time_ns and the decoded fields). A stream: it applies back-pressure and gets every message.
/// </summary>
public sealed class JsonLinesSink(TextWriter output) : IReplaySink
{
    private readonly McapMessageDecoder _decoder = new();

    public void Write(in McapMessage message) => output.WriteLine(_decoder.JsonLine(message).ToJsonString());

    public void Dispose() => output.Flush();
}
