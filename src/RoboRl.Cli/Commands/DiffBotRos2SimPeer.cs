using RoboRl.Core.Messages;
using RoboRl.Core.Tasks;
using RoboRl.Ros2;
using RoboRl.Sims.DiffDrive;

namespace RoboRl.Cli.Commands;

/// <summary>
/// The simulated ground robot as a ROS 2 peer, standing in for a TurtleBot3 bringup (or Gazebo): one <see cref="NavEnv"/>
/// scenario whose lidar goes out as sensor_msgs/LaserScan on /scan and whose wheel odometry goes out as nav_msgs/Odometry
/// on /odom (sensor-data QoS, frame "odom" = the map's world frame), the scenario's goal as geometry_msgs/PoseStamped on
/// /goal_pose (as RViz's tool sends it), and geometry_msgs/Twist from /cmd_vel drives it. Real Cyclone DDS.
/// <see cref="PublishState"/>, <see cref="Step"/> for lock-step use; <see cref="Start"/> runs it in real time.
/// </summary>
public sealed class DiffBotRos2SimPeer : IDisposable
{
    readonly NavTaskConfig task;
    readonly NavEnv env;
    readonly Publisher<LaserScanMsg> scan;
    readonly Publisher<OdometryMsg> odom;
    readonly Publisher<PoseStampedMsg> goal;
    readonly object gate = new();
    float commandV, commandW;
    long commands;
    readonly float[] ranges, action = new float[NavObservation.ActionSize];
    Thread? thread;
    volatile bool running;

    public DiffBotRos2SimPeer(NavTaskConfig task, ulong scenarioSeed, Ros2Options options, string scanTopic = "/scan", string odomTopic = "/odom",
        string goalTopic = "/goal_pose", string cmdVelTopic = "/cmd_vel")
    {
        this.task = task;
        env = new NavEnv(task, 1, threadCount: 1);
        env.Reset(scenarioSeed ^ 0x5EEDUL);
        env.ResetScenario(0, scenarioSeed);
        ranges = new float[task.Robot.Lidar.Beams];
        Node = new Ros2Node("diffbot_sim", "/", options);
        scan = Node.CreatePublisher<LaserScanMsg>(scanTopic, QosProfile.SensorData);
        odom = Node.CreatePublisher<OdometryMsg>(odomTopic, QosProfile.SensorData);
        goal = Node.CreatePublisher<PoseStampedMsg>(goalTopic, QosProfile.Default);
        Node.CreateSubscription<TwistMsg>(cmdVelTopic, QosProfile.Default, (in TwistMsg m) =>
        {
            lock (gate)
            {
                commandV = (float)m.Linear.X;
                commandW = (float)m.Angular.Z;
                commands++;
            }
        });
    }

    public Ros2Node Node { get; }
    public NavEnv Env => env;
    public (float X, float Y) GoalPosition => (env.Maps.GoalX[0], env.Maps.GoalY[0]);
    /// <summary>/cmd_vel messages received so far.</summary>
    public long CommandsReceived { get { lock (gate) return commands; } }
    public (float V, float W) LastCommand { get { lock (gate) return (commandV, commandW); } }
    /// <summary>How the scenario's episode ended (None while it runs); the robot stays where it ended.</summary>
    public NavOutcome Outcome { get; private set; }
    public int Steps { get; private set; }
    public float PathLength { get; private set; }
    public double Seconds => Steps * task.ControlDt;

    /// <summary>Sets the command directly (wheels reached another way, e.g. a serial wheel controller in a test).</summary>
    public void SetCommand(float linearVelocity, float angularVelocity)
    {
        lock (gate)
        {
            commandV = linearVelocity;
            commandW = angularVelocity;
            commands++;
        }
    }

    /// <summary>Waits until the node's subscriptions and publisher are matched (volatile topics lose earlier messages).</summary>
    public bool WaitForNode(TimeSpan timeout) =>
        scan.WaitForMatch(timeout) && odom.WaitForMatch(timeout) && goal.WaitForMatch(timeout);

    public void PublishGoal()
    {
        var (x, y) = GoalPosition;
        goal.Publish(new PoseStampedMsg
        {
            Header = Header(),
            Pose = new PoseMsg { Position = new PointMsg { X = x, Y = y }, Orientation = new QuaternionMsg { W = 1 } },
        });
    }

    /// <summary>Publishes the current scan and odometry.</summary>
    public void PublishState()
    {
        HeaderMsg header = Header();
        float yaw = env.Yaw(0);
        odom.Publish(new OdometryMsg
        {
            Header = header,
            ChildFrameId = "base_footprint",
            Pose = new PoseWithCovarianceMsg
            {
                Pose = new PoseMsg
                {
                    Position = new PointMsg { X = env.X(0), Y = env.Y(0) },
                    Orientation = new QuaternionMsg { Z = MathF.Sin(yaw / 2), W = MathF.Cos(yaw / 2) },
                },
            },
            // nav_msgs/Odometry: the twist is in the child (body) frame.
            Twist = new TwistWithCovarianceMsg { Twist = new TwistMsg { Linear = new Vector3Msg { X = env.LinearVelocity(0) }, Angular = new Vector3Msg { Z = env.AngularVelocity(0) } } },
        });
        env.Scan(0).CopyTo(ranges);
        var lidar = task.Robot.Lidar;
        scan.Publish(new LaserScanMsg
        {
            Header = header with { FrameId = "base_scan" },
            AngleMin = 0, AngleMax = lidar.AngleIncrement * (lidar.Beams - 1), AngleIncrement = lidar.AngleIncrement,
            ScanTime = 1f / task.ControlFrequencyHz, RangeMin = lidar.RangeMin, RangeMax = lidar.RangeMax,
            Ranges = ranges, Intensities = ReadOnlyMemory<float>.Empty,
        });
    }

    /// <summary>One control step with the newest /cmd_vel; false once the episode has ended (goal, collision, timeout).</summary>
    public bool Step()
    {
        if (Outcome != NavOutcome.None) return false;
        var (v, w) = LastCommand;
        action[0] = v / task.Robot.MaxLinearVelocity;
        action[1] = w / task.Robot.MaxAngularVelocity;
        float x = env.X(0), y = env.Y(0);
        env.Step(action);
        Steps++;
        if (env.Terminated[0] || env.Truncated[0])
        {
            // The environment has auto-reset into another scenario; keep the finished one's result.
            Outcome = env.FinishedEpisodeOutcomes[0];
            PathLength = env.FinishedPathLengths[0];
            return false;
        }
        PathLength += MathF.Sqrt((env.X(0) - x) * (env.X(0) - x) + (env.Y(0) - y) * (env.Y(0) - y));
        return true;
    }

    /// <summary>Runs the robot in real time at the task's control rate on its own thread: step, publish.</summary>
    public void Start()
    {
        running = true;
        thread = new Thread(() =>
        {
            long period = (long)(1e9 / task.ControlFrequencyHz), next = RoboRl.Core.Robots.NodeClock.NowNs;
            PublishState();
            while (running && Outcome == NavOutcome.None)
            {
                next += period;
                while (running && RoboRl.Core.Robots.NodeClock.NowNs < next) Thread.Sleep(1);
                if (Step()) PublishState();
            }
        }) { IsBackground = true, Name = "diffbot-sim-peer" };
        thread.Start();
    }

    public void Stop()
    {
        running = false;
        thread?.Join();
        thread = null;
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
        env.Dispose();
    }
}
