using System.Collections.Concurrent;
using System.Numerics;
using RoboRl.Core.Robots;

namespace RoboRl.Node;

/// <summary>
/// Teleop from the terminal's keyboard: arrow keys move the setpoint north/south/east/west, W/S up/down (a
/// <see cref="TeleopKind.NudgeSetpoint"/> at <see cref="Speed"/> while key presses keep arriving — the node releases
/// it after teleop_timeout_ms without one), A arms, L lands, K kills. A reader thread owns the console; the node's
/// tick only copies the newest sample (allocation-free).
/// </summary>
public sealed class KeyboardTeleop : ITeleopSource, ICommandSource, IDisposable
{
    private readonly Lock _gate = new();
    private readonly ConcurrentQueue<NodeCommand> _commands = new();
    private TeleopSample _latest;
    private bool _has;
    private Thread? _thread;
    private volatile bool _running;

    /// <summary>Setpoint speed while a movement key is held, m/s.</summary>
    public float Speed { get; init; } = 0.5f;

    /// <summary>What a key means: a setpoint velocity (world ENU, unit) or a command; (null, null) for other keys.</summary>
    public static (Vector3? Direction, NodeCommandKind? Command) Map(ConsoleKey key) => key switch
    {
        ConsoleKey.UpArrow => (Vector3.UnitY, null),     // north
        ConsoleKey.DownArrow => (-Vector3.UnitY, null),
        ConsoleKey.RightArrow => (Vector3.UnitX, null),  // east
        ConsoleKey.LeftArrow => (-Vector3.UnitX, null),
        ConsoleKey.W => (Vector3.UnitZ, null),
        ConsoleKey.S => (-Vector3.UnitZ, null),
        ConsoleKey.A => (null, NodeCommandKind.Arm),
        ConsoleKey.L => (null, NodeCommandKind.Land),
        ConsoleKey.K => (null, NodeCommandKind.Kill),
        _ => (null, null),
    };

    /// <summary>Applies one key press at <paramref name="nowNs"/> (the reader thread calls this; tests may too).</summary>
    public void Press(ConsoleKey key, long nowNs)
    {
        var (direction, command) = Map(key);
        if (direction is { } d)
        {
            lock (_gate)
            {
                _latest = new TeleopSample { TimestampNs = nowNs, Kind = TeleopKind.NudgeSetpoint, SetpointVelocity = d * Speed };
                _has = true;
            }
        }
        else if (command is { } c) _commands.Enqueue(new NodeCommand(c, default, 0, "keyboard", nowNs));
    }

    public bool TryGetLatest(out TeleopSample sample)
    {
        lock (_gate)
        {
            sample = _latest;
            return _has;
        }
    }

    public bool TryDequeue(out NodeCommand command) => _commands.TryDequeue(out command);

    /// <summary>Starts reading keys; false (and nothing started) when the input is not an interactive terminal.</summary>
    public bool Start()
    {
        if (Console.IsInputRedirected) return false;
        _running = true;
        _thread = new Thread(() =>
        {
            while (_running)
            {
                if (!Console.KeyAvailable) { Thread.Sleep(10); continue; }
                Press(Console.ReadKey(intercept: true).Key, NodeClock.NowNs);
            }
        })
        { IsBackground = true, Name = "roborl-keyboard" };
        _thread.Start();
        return true;
    }

    public void Dispose()
    {
        _running = false;
        _thread?.Join();
    }
}
