using RoboRl.Core.Messages;

namespace RoboRl.Ros2;

/// <summary>
/// A goal topic (geometry_msgs/PoseStamped) read so that a one-shot goal is not lost at start-up (docs/transports.md,
/// "Start-up and one-shot goals"). Two readers, both reliable: a volatile one, which matches every writer (RViz's
/// "2D Goal Pose" tool and <c>ros2 topic pub</c> write volatile), and a transient-local one (keep-last 1), which matches
/// only transient-local writers and is handed their last goal when it matches, even if that goal was written before
/// the node existed or before its DDS layer knew the writer. DDS does not match a transient-local reader with a volatile
/// writer, hence two. A transient-local writer's goal reaches both readers; the second copy (same stamp, frame and pose,
/// arriving on the other reader) is dropped, so each goal is delivered once. Callbacks run on DDS threads.
/// </summary>
public sealed class GoalSubscription : IDisposable
{
    /// <summary>Transient-local, reliable, keep-last 1: only the newest latched goal matters.</summary>
    public static QosProfile LatchedQos { get; } = new(Reliability.Reliable, Durability.TransientLocal, 1);

    // A copy seen on one reader waits here for its twin on the other; twins arrive within one writer heartbeat of each
    // other (Fast DDS: 3 s), so a copy older than this is forgotten.
    const long TwinWindowNs = 10_000_000_000;

    struct Seen
    {
        public PoseStampedMsg Goal;
        public bool OnLatched;
        public long AtNs;
        public bool Used;
    }

    readonly MessageHandler<PoseStampedMsg> _onGoal;
    readonly object _gate = new();
    readonly Seen[] _seen = new Seen[8];
    int _next;
    long _duplicates;

    public GoalSubscription(Ros2Node node, string topic, MessageHandler<PoseStampedMsg> onGoal)
    {
        this._onGoal = onGoal;
        Volatile = node.CreateSubscription<PoseStampedMsg>(topic, QosProfile.Default, (in PoseStampedMsg m) => Receive(m, onLatched: false));
        try { Latched = node.CreateSubscription<PoseStampedMsg>(topic, LatchedQos, (in PoseStampedMsg m) => Receive(m, onLatched: true)); }
        catch
        {
            Volatile.Dispose();
            throw;
        }
    }

    /// <summary>Matches every reliable writer on the topic.</summary>
    public Subscription<PoseStampedMsg> Volatile { get; }
    /// <summary>Matches transient-local writers only.</summary>
    public Subscription<PoseStampedMsg> Latched { get; }
    public string Topic => Volatile.Topic;
    /// <summary>Writers this node's DDS layer knows on the topic (each matches the volatile reader): from then on their goals are not lost.</summary>
    public int MatchedCount => Volatile.MatchedCount;
    /// <summary>Second copies of a transient-local writer's goal, dropped.</summary>
    public long DuplicateCount => Interlocked.Read(ref _duplicates);

    void Receive(in PoseStampedMsg m, bool onLatched)
    {
        long now = Core.Robots.NodeClock.NowNs;
        lock (_gate)
        {
            for (int i = 0; i < _seen.Length; i++)
            {
                ref Seen s = ref _seen[i];
                if (s.Used || s.OnLatched == onLatched || now - s.AtNs > TwinWindowNs || !Same(s.Goal, m)) continue;
                s.Used = true; // its twin: this copy was delivered already
                Interlocked.Increment(ref _duplicates);
                return;
            }
            _seen[_next] = new Seen { Goal = m, OnLatched = onLatched, AtNs = now };
            _next = (_next + 1) % _seen.Length;
        }
        _onGoal(m);
    }

    static bool Same(in PoseStampedMsg a, in PoseStampedMsg b) =>
        a.Header.Stamp.Sec == b.Header.Stamp.Sec && a.Header.Stamp.Nanosec == b.Header.Stamp.Nanosec && a.Header.FrameId == b.Header.FrameId
        && a.Pose.Position.X == b.Pose.Position.X && a.Pose.Position.Y == b.Pose.Position.Y && a.Pose.Position.Z == b.Pose.Position.Z
        && a.Pose.Orientation.X == b.Pose.Orientation.X && a.Pose.Orientation.Y == b.Pose.Orientation.Y
        && a.Pose.Orientation.Z == b.Pose.Orientation.Z && a.Pose.Orientation.W == b.Pose.Orientation.W;

    public void Dispose()
    {
        Latched.Dispose();
        Volatile.Dispose();
    }
}
