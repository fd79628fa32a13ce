using System.Collections.Concurrent;
using System.Globalization;
using System.Numerics;
using RoboRl.Cli.Commands;
using RoboRl.Core.Messages;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Robots;
using RoboRl.Ros2;
using RoboRl.Ros2.Tests;
using RoboRl.Sims.Quadrotor;

namespace RoboRl.Cli.Tests;

/// <summary>
/// `roborl run configs/nodes/crazyflie-ros2.json` against a Crazyflie whose ROS 2 side is Fast DDS, ROS 2's default
/// middleware (FastDdsPeer "quadbridge": libfastrtps, UDP on 127.0.0.1): the simulator steps in this test, its state goes
/// through the peer's stdin out on pose and odom, and the cmd_action lines the peer prints drive its motors, so the node
/// reaches the vehicle only through Fast DDS ↔ Cyclone DDS.
/// </summary>
[NonParallelizable]
public class Ros2FastDdsNodeTests
{
    [OneTimeSetUp]
    public void Setup()
    {
        Env.RequireLibddsc();
        FastDdsPeer.Build();
    }

    [Test]
    public void TheQuadrotorNodeHoversAFastDdsCrazyflieAndFallsBackWhenItsPoseStops()
    {
        int domain;
        do domain = Random.Shared.Next(100, 230); while (domain == Env.DomainId);
        string ns = "cf_" + Guid.NewGuid().ToString("N")[..8];
        string dir = Path.Combine(Path.GetTempPath(), "roborl-cli-ros2-fastdds", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        string robotFile = RepoPaths.Find("configs/robots/crazyflie21.json");
        string config = Path.Combine(dir, "node.json");
        File.WriteAllText(config, File.ReadAllText(RepoPaths.Find("configs/nodes/crazyflie-ros2.json"))
            .Replace("\"namespace\": \"cf1\",", $"\"namespace\": \"{ns}\", \"domain_id\": {domain},")
            // The node's setpoint comes back out on cmd_position: how the test sees the Fast DDS goal arrive.
            .Replace("\"crazyswarm2_setpoint\": \"none\"", "\"crazyswarm2_setpoint\": \"cmd_position\"")
            // The pose goes through a test thread, a pipe and a second process: on a loaded 2-core machine any of them
            // stalls for tens of ms, which must not end the flight (as in Ros2NodeTests).
            .Replace("\"sensor_timeout_ms\": 100", "\"sensor_timeout_ms\": 400")
            .Replace("\"robot\": \"../robots/crazyflie21.json\"", "\"robot\": \"" + robotFile + "\""));
        string bundle = Path.Combine(dir, "hover.safetensors");
        BenchNodeCommand.HoverShapedBundle(robotFile).Write(bundle);

        QuadrotorConfig plant = QuadrotorConfig.Load(robotFile);
        using var robot = new SimulatedQuadrotor(plant, new SimulatedQuadrotorOptions { StartPosition = new Vector3(0, 0, 1) });
        ConcurrentQueue<string> diagnostics = new(), setpoints = new();
        long actions = 0;
        int held = 1;
        // On the peer's output reader: the robot applies each command as it arrives, action a as the force
        // (a + 1) / 2 · thrust_max_n per motor (the robot config's actuation). Until the node's first policy command
        // another controller holds it in the hover (the node's "armed while already flying" case): the idle node's
        // motors-off commands, applied during the relay's round trip, would otherwise have it sinking when the policy
        // (which holds no altitude) takes over.
        void OnLine(string line)
        {
            if (line.StartsWith("diag ", StringComparison.Ordinal)) diagnostics.Enqueue(line);
            if (line.StartsWith("setpoint ", StringComparison.Ordinal)) setpoints.Enqueue(line);
            if (!line.StartsWith("action ", StringComparison.Ordinal)) return;
            Interlocked.Increment(ref actions);
            string[] w = line.Split(' ');
            if (w.Length < 9 || w[2] != "4") return;
            if (Volatile.Read(ref held) == 1)
            {
                if (w[8] != ((int)ActionSource.Policy).ToString(CultureInfo.InvariantCulture)) return;
                Volatile.Write(ref held, 0);
            }
            float A(int i) => float.TryParse(w[3 + i], NumberStyles.Float, CultureInfo.InvariantCulture, out float v) ? v : float.NaN;
            var a = new Vector4(A(0), A(1), A(2), A(3));
            robot.Send(new ActuatorCommand
            {
                TimestampNs = NodeClock.NowNs,
                Sequence = uint.Parse(w[1], CultureInfo.InvariantCulture),
                Action = a,
                RotorRpm = new Vector4(plant.RpmFromAction(a.X), plant.RpmFromAction(a.Y), plant.RpmFromAction(a.Z), plant.RpmFromAction(a.W)),
            });
        }

        var output = new StringWriter();
        var progress = new StringWriter();
        var settings = new PluginSettings().Set(new Ros2LinkSettings { CycloneConfigXml = Ros2Loopback.ConfigXml });
        Task<int> run = Task.Run(() => RunCommand.Run(config, bundle, 15, null, null, output, progress, settings: settings));
        using var peer = FastDdsPeer.Start(domain, OnLine, "quadbridge", ns, "0.2", "-0.1", "1");
        string Describe() =>
            $"\nrun:\n{progress}{output}\npeer (actions left out, {Interlocked.Read(ref actions)} of them):\n" +
            string.Join('\n', peer.Lines.Where(l => !l.StartsWith("action ", StringComparison.Ordinal)).TakeLast(40)) + "\npeer stderr:\n" + peer.Stderr;
        void WaitFor(Func<bool> condition, string why)
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!condition())
            {
                Assert.That(DateTime.UtcNow < deadline && !run.IsCompleted && !peer.HasExited, Is.True, () => why + Describe());
                Thread.Sleep(20);
            }
        }
        string diag = $"diag /{ns} ";
        bool Diagnosed(string status) => diagnostics.Any(l => l.StartsWith(diag + status, StringComparison.Ordinal));

        using var stop = new CancellationTokenSource();
        var sensorLoop = new Thread(() =>
        {
            // ~500 Hz, velocity and rates in the body frame (odometry's twist, REP 105).
            while (!stop.IsCancellationRequested)
            {
                if (robot.TryGetLatest(out RobotStateSample s))
                {
                    Vector3 v = Vector3.Transform(s.VelocityWorld, Quaternion.Conjugate(s.Orientation));
                    Vector3 p = s.Position, w = s.AngularVelocityBody;
                    Quaternion q = s.Orientation;
                    peer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"state {p.X} {p.Y} {p.Z} {q.X} {q.Y} {q.Z} {q.W} {v.X} {v.Y} {v.Z} {w.X} {w.Y} {w.Z}"));
                }
                Thread.Sleep(2);
            }
        })
        { IsBackground = true };
        try
        {
            // The robot starts (hovering at 1 m) only once the node's setpoint telemetry reaches the peer: its readers are
            // then known to the node, so the arming's /diagnostics (volatile) is not written before they are.
            WaitFor(() => peer.Lines.Any(l => l.StartsWith("matched ", StringComparison.Ordinal)), "the Fast DDS peer's endpoints did not all match the node's");
            WaitFor(() => !setpoints.IsEmpty, "no cmd_position from the node reached the Fast DDS peer");
            robot.Start();
            sensorLoop.Start();

            WaitFor(() => Diagnosed("0 POLICY"), "the node did not arm on poses that came over Fast DDS");
            Thread.Sleep(3000); // fly a few seconds in real time
            Assert.That(diagnostics.Where(l => l.StartsWith(diag, StringComparison.Ordinal)).Select(l => l.Split(' ')[3]), Has.None.EqualTo("FALLBACK").And.None.EqualTo("KILLED"),
                () => "the node left POLICY while hovering over Fast DDS:" + Describe());
            Assert.That(robot.CommandCount, Is.GreaterThan(100), "the node's commands reached the robot through the Fast DDS peer" + Describe());
            // Still in the air (the hover-shaped policy holds no altitude: see Ros2NodeTests); motors cut would put it on the floor.
            Assert.That(robot.TryGetLatest(out var state) && state.Position.Z > 0.25f && state.Position.Z < 1.75f, Is.True, () => $"flying, started at 1 m: {state.Position}" + Describe());
            TestContext.Out.WriteLine($"after 3 s of POLICY the vehicle is at {state.Position}");
            Assert.That(diagnostics, Has.Some.EqualTo(diag + "0 POLICY | reason: POLICY: armed"), "the arming and its reason on /diagnostics, read by Fast DDS" + Describe());
            // The latched goal_pose the Fast DDS side wrote at start became the node's setpoint.
            Assert.That(Env.Eventually(() => setpoints.Contains("setpoint 0.2000 -0.1000 1.0000"), TimeSpan.FromSeconds(30)), Is.True,
                "the goal written on Fast DDS is the node's setpoint" + Describe());

            stop.Cancel(); // the robot's pose stops: the supervisor's stale-sensor fallback
            WaitFor(() => Diagnosed("1 FALLBACK"), "no WARN FALLBACK on /diagnostics after the pose stopped");
            Assert.That(run.Wait(TimeSpan.FromSeconds(90)), Is.True, "the run did not end");
            Assert.That(run.Result, Is.EqualTo(3), "a flight the supervisor ended is not a success for a script" + Describe());
            Assert.That(output.ToString(), Does.Contain("stale sensor"), Describe());
            Assert.That(progress.ToString(), Does.Contain("run: the flight failed at tick").And.Contain("stale sensor"), Describe());
        }
        finally
        {
            stop.Cancel();
            if (sensorLoop.IsAlive) sensorLoop.Join(TimeSpan.FromSeconds(5));
            peer.CloseInput();
            peer.WaitForExit(TimeSpan.FromSeconds(10));
            robot.Stop();
            run.Wait(TimeSpan.FromSeconds(90));
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }
        TestContext.Out.WriteLine($"{Interlocked.Read(ref actions)} commands relayed by the Fast DDS peer, {robot.CommandCount} applied from the first policy command");
        TestContext.Out.WriteLine(progress.ToString());
    }
}
