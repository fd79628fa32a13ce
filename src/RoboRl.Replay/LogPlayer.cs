using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using RoboRl.Logs;

namespace RoboRl.Replay;

/// <summary>Where replayed messages go (stdout JSON lines, ROS 2 topics, …). Called from one consumer thread.</summary>
public interface IReplaySink : IDisposable
{
    void Write(in McapMessage message);
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
    /// <summary>True: wait for a slow sink; false: drop (and count) messages that do not fit the queue.</summary>
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
/// Plays a <see cref="FlightLog"/> into a sink in log-time order, paced by log time / rate. The player thread never
/// blocks on the sink: messages go through a bounded queue to a consumer thread; when the queue is full the message
/// is dropped and counted, unless <see cref="ReplayOptions.WaitForSink"/>. Pausing shifts the pacing clock, so a
/// resumed replay keeps its rate from where it paused.
/// </summary>
public sealed class LogPlayer(FlightLog log, ReplayOptions options)
{
    public ReplayResult Play(IReplaySink sink, ReplayControl? control = null, Action<ReplayProgress>? progress = null, CancellationToken cancel = default)
    {
        control ??= new ReplayControl();
        ulong first = log.FirstLogTime;
        ulong start = first + (ulong)(Math.Max(0, options.StartS) * 1e9);
        ulong end = double.IsPositiveInfinity(options.EndS) ? ulong.MaxValue : first + (ulong)(Math.Max(0, options.EndS) * 1e9);
        var selected = log.Messages.Where(m => m.LogTime >= start && m.LogTime <= end && (options.Topics is null || options.Topics.Contains(m.Channel.Topic))).ToList();
        double duration = selected.Count == 0 ? 0 : (selected[^1].LogTime - selected[0].LogTime) * 1e-9;

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
        }) { IsBackground = true, Name = "roborl-replay-sink" };
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
                    if (options.WaitForSink)
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

/// <summary>One JSON line per message: topic, log time, type and the decoded fields.</summary>
public sealed class JsonLinesSink(TextWriter output) : IReplaySink
{
    private readonly McapMessageDecoder _decoder = new();

    public void Write(in McapMessage message)
    {
        var line = new JsonObject
        {
            ["topic"] = message.Channel.Topic,
            ["log_time_ns"] = message.LogTime,
            ["type"] = message.Schema?.Name,
        };
        try { line["message"] = _decoder.Decode(message).ToJson(); }
        catch (Exception e) { line["error"] = $"cannot decode: {e.Message}"; }
        output.WriteLine(line.ToJsonString());
    }

    public void Dispose() => output.Flush();
}
