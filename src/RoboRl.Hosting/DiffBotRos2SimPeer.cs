using RoboRl.Core.Messages;
using RoboRl.Core.Tasks;
using RoboRl.Ros2;
using RoboRl.Sims.DiffDrive;

namespace RoboRl.Hosting;

/// <summary>
/// The simulated ground robot as a ROS 2 peer, standing in for a TurtleBot3 bringup (or Gazebo): one <see cref="NavEnv"/>
/// scenario whose lidar goes out as sensor_msgs/LaserScan on /scan and whose wheel odometry goes out as nav_msgs/Odometry
/// on /odom (sensor-data QoS, frame "odom" = the map's world frame), the scenario's goal as geometry_msgs/PoseStamped on
/// /goal_pose (as RViz's tool sends it), and geometry_msgs/Twist from /cmd_vel drives it. Real Cyclone DDS.
/// <see cref="PublishState"/>, <see cref="Step"/> for lock-step use; <see cref="Start"/> runs it in real time;
/// <see cref="StopScanPublisher"/> makes its lidar topic go away (the faults suite's ground-robot sensor loss). Used by
/// `roborl run --sim-peer` and the faults suite: it joins two plugins (the simulator and ROS 2), so it lives with the
/// node's hosting code rather than in either of them.
/// </summary>
public sealed class DiffBotRos2SimPeer : IDisposable
{
    readonly NavTaskConfig _task;
    readonly NavEnv _env;
    Publisher<LaserScanMsg>? _scan; // null once the lidar's publisher is gone (StopScanPublisher); guarded by scanGate
    readonly object _scanGate = new();
    readonly Publisher<OdometryMsg> _odom;
    readonly Publisher<PoseStampedMsg> _goal;
    readonly object _gate = new();
    float _commandV, _commandW;
    long _commands, _stopCommandSinceNs;
    readonly float[] _ranges, _action = new float[NavObservation.ActionSize];
    Thread? _thread;
    volatile bool _running;

    public DiffBotRos2SimPeer(NavTaskConfig task, ulong scenarioSeed, Ros2Options options, string scanTopic = "/scan", string odomTopic = "/odom",
        string goalTopic = "/goal_pose", string cmdVelTopic = "/cmd_vel")
    {
        this._task = task;
        _env = new NavEnv(task, 1, threadCount: 1);
        _env.Reset(scenarioSeed ^ 0x5EEDUL);
        _env.ResetScenario(0, scenarioSeed);
        _ranges = new float[task.Robot.Lidar.Beams];
        Node = new Ros2Node("diffbot_sim", "/", options);
        _scan = Node.CreatePublisher<LaserScanMsg>(scanTopic, QosProfile.SensorData);
        _odom = Node.CreatePublisher<OdometryMsg>(odomTopic, QosProfile.SensorData);
        _goal = Node.CreatePublisher<PoseStampedMsg>(goalTopic, QosProfile.Default);
        Node.CreateSubscription<TwistMsg>(cmdVelTopic, QosProfile.Default, (in TwistMsg m) =>
        {
            lock (_gate)
            {
                _commandV = (float)m.Linear.X;
                _commandW = (float)m.Angular.Z;
                _commands++;
                bool stop = _commandV == 0 && _commandW == 0;
                if (!stop) _stopCommandSinceNs = 0;
                else if (_stopCommandSinceNs == 0) _stopCommandSinceNs = RoboRl.Core.Robots.NodeClock.NowNs;
            }
        });
    }

    public Ros2Node Node { get; }
    public NavEnv Env => _env;
    public (float X, float Y) GoalPosition => (_env.Maps.GoalX[0], _env.Maps.GoalY[0]);
    /// <summary>/cmd_vel messages received so far.</summary>
    public long CommandsReceived { get { lock (_gate) return _commands; } }
    public (float V, float W) LastCommand { get { lock (_gate) return (_commandV, _commandW); } }
    /// <summary>When (node clock) the first of the current run of zero /cmd_vel messages arrived; 0 while the newest one moves the robot.</summary>
    public long StopCommandSinceNs { get { lock (_gate) return _stopCommandSinceNs; } }
    /// <summary>How the scenario's episode ended (None while it runs); the robot stays where it ended.</summary>
    public NavOutcome Outcome { get; private set; }
    public int Steps { get; private set; }
    public float PathLength { get; private set; }
    public double Seconds => Steps * _task.ControlDt;

    /// <summary>Sets the command directly (wheels reached another way, e.g. a serial wheel controller in a test).</summary>
    public void SetCommand(float linearVelocity, float angularVelocity)
    {
        lock (_gate)
        {
            _commandV = linearVelocity;
            _commandW = angularVelocity;
            _commands++;
        }
    }

    /// <summary>Waits until the node's subscriptions and publisher are matched (volatile topics lose earlier messages).</summary>
    public bool WaitForNode(TimeSpan timeout) =>
        (_scan?.WaitForMatch(timeout) ?? true) && _odom.WaitForMatch(timeout) && _goal.WaitForMatch(timeout);

    /// <summary>Scans published so far.</summary>
    public long ScansPublished { get; private set; }

    /// <summary>
    /// The lidar's /scan publisher goes away (its DDS writer is deleted, as when a lidar driver dies); odometry and the
    /// /cmd_vel subscription stay. Later <see cref="PublishState"/> calls publish odometry only.
    /// </summary>
    public void StopScanPublisher()
    {
        lock (_scanGate)
        {
            _scan?.Dispose();
            _scan = null;
        }
    }

    public void PublishGoal()
    {
        var (x, y) = GoalPosition;
        _goal.Publish(new PoseStampedMsg
        {
            Header = Header(),
            Pose = new PoseMsg { Position = new PointMsg { X = x, Y = y }, Orientation = new QuaternionMsg { W = 1 } },
        });
    }

    /// <summary>Publishes the current scan and odometry.</summary>
    public void PublishState()
    {
        HeaderMsg header = Header();
        float yaw = _env.Yaw(0);
        _odom.Publish(new OdometryMsg
        {
            Header = header,
            ChildFrameId = "base_footprint",
            Pose = new PoseWithCovarianceMsg
            {
                Pose = new PoseMsg
                {
                    Position = new PointMsg { X = _env.X(0), Y = _env.Y(0) },
                    Orientation = new QuaternionMsg { Z = MathF.Sin(yaw / 2), W = MathF.Cos(yaw / 2) },
                },
            },
            // nav_msgs/Odometry: the twist is in the child (body) frame.
            Twist = new TwistWithCovarianceMsg { Twist = new TwistMsg { Linear = new Vector3Msg { X = _env.LinearVelocity(0) }, Angular = new Vector3Msg { Z = _env.AngularVelocity(0) } } },
        });
        _env.Scan(0).CopyTo(_ranges);
        var lidar = _task.Robot.Lidar;
        lock (_scanGate)
        {
            if (_scan is null) return;
            _scan.Publish(new LaserScanMsg
            {
                Header = header with { FrameId = "base_scan" },
                AngleMin = 0,
                AngleMax = lidar.AngleIncrement * (lidar.Beams - 1),
                AngleIncrement = lidar.AngleIncrement,
                ScanTime = 1f / _task.ControlFrequencyHz,
                RangeMin = lidar.RangeMin,
                RangeMax = lidar.RangeMax,
                Ranges = _ranges,
                Intensities = ReadOnlyMemory<float>.Empty,
            });
            ScansPublished++;
        }
    }

    /// <summary>One control step with the newest /cmd_vel; false once the episode has ended (goal, collision, timeout).</summary>
    public bool Step()
    {
        if (Outcome != NavOutcome.None) return false;
        var (v, w) = LastCommand;
        _action[0] = v / _task.Robot.MaxLinearVelocity;
        _action[1] = w / _task.Robot.MaxAngularVelocity;
        float x = _env.X(0), y = _env.Y(0);
        _env.Step(_action);
        Steps++;
        if (_env.Terminated[0] || _env.Truncated[0])
        {
            // The environment has auto-reset into another scenario; keep the finished one's result.
            Outcome = _env.FinishedEpisodeOutcomes[0];
            PathLength = _env.FinishedPathLengths[0];
            return false;
        }
        PathLength += MathF.Sqrt((_env.X(0) - x) * (_env.X(0) - x) + (_env.Y(0) - y) * (_env.Y(0) - y));
        return true;
    }

    /// <summary>Runs the robot in real time at the task's control rate on its own thread: step, publish.</summary>
    public void Start()
    {
        _running = true;
        _thread = new Thread(() =>
        {
            long period = (long)(1e9 / _task.ControlFrequencyHz), next = RoboRl.Core.Robots.NodeClock.NowNs;
            PublishState();
            while (_running && Outcome == NavOutcome.None)
            {
                next += period;
                while (_running && RoboRl.Core.Robots.NodeClock.NowNs < next) Thread.Sleep(1);
                if (Step()) PublishState();
            }
        })
        { IsBackground = true, Name = "diffbot-sim-peer" };
        _thread.Start();
    }

    public void Stop()
    {
        _running = false;
        _thread?.Join();
        _thread = null;
    }

    static HeaderMsg Header() => new()
    {
        Stamp = TimeMsg.FromNanoseconds(DateTime.UtcNow.Ticks * 100 - DateTime.UnixEpoch.Ticks * 100),
        FrameId = "odom",
    };

    public void Dispose()
    {
        Stop();
        Node.Dispose();
        _env.Dispose();
    }
}
