using System.Numerics;
using RoboRl.Core.Messages;
using RoboRl.Core.Robots;
using RoboRl.Node;
using RoboRl.Ros2;

namespace RoboRl.Hosting;

/// <summary>
/// A simulated swarm as a ROS 2 peer, standing in for crazyswarm2's crazyflie_server with N Crazyflies: the swarm node's
/// vehicles (<see cref="SimulatedSwarm"/>: the training simulator's physics), each publishing geometry_msgs/PoseStamped on
/// /NAME/pose every control step (header stamp = simulated time, frame "world") and flying the roborl_msgs/Action it gets
/// on /NAME/cmd_action. Real Cyclone DDS, its own participant. Runs in real time (<see cref="Start"/>) on its own thread.
/// </summary>
public sealed class SwarmRos2SimPeer : IDisposable
{
    private readonly SimulatedSwarm _swarm;
    private readonly string[] _names;
    private readonly Publisher<PoseStampedMsg>[] _poses;
    private readonly long[] _commands;
    private readonly Vector4[] _lastAction;
    private readonly object _gate = new();
    private Thread? _thread;
    private volatile bool _running;

    public SwarmRos2SimPeer(SwarmNodeSettings settings, ulong seed, Ros2Options options, string poseTopic = "pose", string actionTopic = "cmd_action")
    {
        _names = settings.Vehicles.Select(v => v.Name).ToArray();
        _swarm = new SimulatedSwarm(settings.Task, settings.Vehicles.Select(v => v.InitialPosition).ToList(), settings.Columns, seed, NodeClock.NowNs);
        _commands = new long[_names.Length];
        _lastAction = new Vector4[_names.Length];
        Node = new Ros2Node("crazyflie_server_sim", "/", options);
        _poses = new Publisher<PoseStampedMsg>[_names.Length];
        for (int v = 0; v < _names.Length; v++)
        {
            int vehicle = v;
            _poses[v] = Node.CreatePublisher<PoseStampedMsg>($"/{_names[v]}/{poseTopic}", QosProfile.Default);
            Node.CreateSubscription<ActionMsg>($"/{_names[v]}/{actionTopic}", QosProfile.Default, (in ActionMsg m) =>
            {
                ReadOnlySpan<float> a = m.Values.Span;
                if (a.Length != 4) return;
                var action = new Vector4(a[0], a[1], a[2], a[3]);
                _swarm.Send(vehicle, new ActuatorCommand { Action = action, Source = m.Source });
                lock (_gate) { _commands[vehicle]++; _lastAction[vehicle] = action; }
            });
        }
    }

    public Ros2Node Node { get; }
    public SimulatedSwarm Swarm => _swarm;
    /// <summary>Commands received per vehicle, and the newest.</summary>
    public long CommandsReceived(int vehicle) { lock (_gate) return _commands[vehicle]; }
    public Vector4 LastAction(int vehicle) { lock (_gate) return _lastAction[vehicle]; }

    /// <summary>Publishes every vehicle's pose once (header stamp = the simulator's time).</summary>
    public void PublishPoses()
    {
        for (int v = 0; v < _names.Length; v++)
        {
            _swarm.TryGetLatest(v, out RobotStateSample s);
            _poses[v].Publish(new PoseStampedMsg
            {
                Header = new HeaderMsg { Stamp = TimeMsg.FromNanoseconds(s.TimestampNs), FrameId = "world" },
                Pose = new PoseMsg
                {
                    Position = new PointMsg { X = s.Position.X, Y = s.Position.Y, Z = s.Position.Z },
                    Orientation = new QuaternionMsg { X = s.Orientation.X, Y = s.Orientation.Y, Z = s.Orientation.Z, W = s.Orientation.W },
                },
            });
        }
    }

    /// <summary>Real time: one physics step and one pose per vehicle every control period.</summary>
    public void Start()
    {
        if (_thread is not null) return;
        _running = true;
        _thread = new Thread(() =>
        {
            long next = NodeClock.NowNs;
            while (_running)
            {
                next += _swarm.StepNs;
                long wait = next - NodeClock.NowNs;
                if (wait > 0) Thread.Sleep(TimeSpan.FromTicks(wait / 100));
                _swarm.AdvanceTo(_swarm.TimeNs + _swarm.StepNs);
                PublishPoses();
            }
        })
        { IsBackground = true, Name = "swarm-ros2-sim-peer" };
        _thread.Start();
    }

    public void Dispose()
    {
        _running = false;
        _thread?.Join();
        Node.Dispose();
        _swarm.Dispose();
    }
}
