using System.Collections.Concurrent;
using System.Numerics;
using RoboRl.Cli.Commands;
using RoboRl.Core.Messages;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Robots;
using RoboRl.Ros2;
using RoboRl.Sims.Quadrotor;

namespace RoboRl.Cli.Tests;

/// <summary>
/// `roborl run` with transport "ros2": the real node flies the simulated Crazyflie whose state and motor commands travel
/// over ROS 2 (Cyclone DDS on loopback, a random domain) through a small bridge node in the test.
/// </summary>
[NonParallelizable]
public class Ros2NodeTests
{
    private static readonly int DomainId = Random.Shared.Next(100, 230);
    private static Ros2Options Options => new() { DomainId = DomainId, CycloneConfigXml = Ros2Loopback.ConfigXml };
    /// <summary>The node's participants on loopback, as plugin settings injected into the run.</summary>
    private static RoboRl.Core.Robots.PluginSettings Loopback => new RoboRl.Core.Robots.PluginSettings().Set(new Ros2LinkSettings { CycloneConfigXml = Ros2Loopback.ConfigXml });

    [OneTimeSetUp]
    public void RequireLibddsc()
    {
        try { using var probe = new Ros2Node("probe", "/", Options with { AnnounceNode = false }); }
        catch (RoboRl.Ros2.Native.DdsException e) when (e.ReturnCode == 0)
        {
            if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail($"required tool missing in CI: {e.Message} (tests/prerequisites.txt)");
            Assert.Inconclusive(e.Message);
        }
    }

    private sealed class Flight : IDisposable
    {
        public readonly string Dir, Namespace;
        public readonly StringWriter Output = new(), Progress = new();
        public readonly Task<int> Run;
        public readonly SimulatedQuadrotor Robot;
        public readonly Ros2Node Bridge;
        public readonly ConcurrentQueue<ModeMsg> Modes = new();
        public readonly ConcurrentQueue<DynamicMessage> Diagnostics = new();
        public volatile bool PublishPose = true;
        private readonly Thread _sensorLoop;
        private volatile bool _stop;

        public Flight(double seconds, bool autoArm = true, bool allowArm = false)
        {
            Dir = Path.Combine(Path.GetTempPath(), "roborl-cli-ros2-node", Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(Dir);
            Namespace = "cf_" + Guid.NewGuid().ToString("N")[..8];
            string robotFile = RepoPaths.Find("configs/robots/crazyflie21.json");
            string config = Path.Combine(Dir, "node.json");
            File.WriteAllText(config, File.ReadAllText(RepoPaths.Find("configs/nodes/crazyflie-ros2.json"))
                .Replace("\"namespace\": \"cf1\",", $"\"namespace\": \"{Namespace}\", \"domain_id\": {DomainId},")
                .Replace("\"auto_arm\": true", $"\"auto_arm\": {(autoArm ? "true" : "false")}")
                .Replace("\"allow_arm\": false", $"\"allow_arm\": {(allowArm ? "true" : "false")}")
                // The test's pose publisher is a thread of this process: on a loaded 2-core machine it stalls for
                // tens of ms, which must not end the flight (the pose-stops test waits longer than this on purpose).
                .Replace("\"sensor_timeout_ms\": 100", "\"sensor_timeout_ms\": 400")
                .Replace("\"robot\": \"../robots/crazyflie21.json\"", "\"robot\": \"" + robotFile + "\""));
            string bundle = Path.Combine(Dir, "hover.safetensors");
            BenchNodeCommand.HoverShapedBundle(robotFile).Write(bundle);

            QuadrotorConfig plant = QuadrotorConfig.Load(robotFile);
            Robot = new SimulatedQuadrotor(plant, new SimulatedQuadrotorOptions { StartPosition = new Vector3(0, 0, 1) });
            Bridge = new Ros2Node("cf_bridge", Namespace, Options);
            var pose = Bridge.CreatePublisher<PoseStampedMsg>("pose", QosProfile.SensorData);
            var odom = Bridge.CreatePublisher<OdometryMsg>("odom", QosProfile.SensorData);
            // The robot applies the node's command: action a is the force (a + 1) / 2 · thrust_max_n per motor (the robot config's actuation).
            Bridge.CreateSubscription<ActionMsg>("cmd_action", QosProfile.Default, (in ActionMsg m) =>
            {
                var a = m.Values.Span;
                Robot.Send(new ActuatorCommand
                {
                    TimestampNs = NodeClock.NowNs,
                    Sequence = (uint)m.Tick,
                    Action = new Vector4(a[0], a[1], a[2], a[3]),
                    RotorRpm = new Vector4(plant.RpmFromAction(a[0]), plant.RpmFromAction(a[1]), plant.RpmFromAction(a[2]), plant.RpmFromAction(a[3])),
                });
            });
            // A separate listener for telemetry.
            Bridge.CreateSubscription<ModeMsg>("roborl/mode", QosProfile.Default, (in ModeMsg m) => Modes.Enqueue(m));
            Bridge.CreateSubscription("/diagnostics", RosTypes.DiagnosticArray, QosProfile.Default, Diagnostics.Enqueue);

            Run = Task.Run(() => RunCommand.Run(config, bundle, seconds, null, null, Output, Progress, settings: Loopback));
            Robot.Start();
            _sensorLoop = new Thread(() =>
            {
                while (!_stop)
                {
                    // The bridge's sensor loop (~500 Hz): the simulator's newest state as PoseStamped + Odometry (twist in the body frame).
                    if (PublishPose && Robot.TryGetLatest(out RobotStateSample s))
                    {
                        var q = new QuaternionMsg { X = s.Orientation.X, Y = s.Orientation.Y, Z = s.Orientation.Z, W = s.Orientation.W };
                        var p = new PoseMsg { Position = new PointMsg { X = s.Position.X, Y = s.Position.Y, Z = s.Position.Z }, Orientation = q };
                        Vector3 vBody = Vector3.Transform(s.VelocityWorld, Quaternion.Conjugate(s.Orientation));
                        odom.Publish(new OdometryMsg
                        {
                            Header = new HeaderMsg { FrameId = "world" },
                            ChildFrameId = "base_link",
                            Pose = new PoseWithCovarianceMsg { Pose = p },
                            Twist = new TwistWithCovarianceMsg
                            {
                                Twist = new TwistMsg
                                {
                                    Linear = new Vector3Msg { X = vBody.X, Y = vBody.Y, Z = vBody.Z },
                                    Angular = new Vector3Msg { X = s.AngularVelocityBody.X, Y = s.AngularVelocityBody.Y, Z = s.AngularVelocityBody.Z },
                                },
                            },
                        });
                        pose.Publish(new PoseStampedMsg { Header = new HeaderMsg { FrameId = "world" }, Pose = p });
                    }
                    Thread.Sleep(2);
                }
            })
            { IsBackground = true };
            _sensorLoop.Start();
        }

        public string Log => Progress.ToString() + Output;

        public void WaitForMode(NodeMode mode, string why)
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!Modes.Any(m => m.Mode == mode))
            {
                Assert.That(DateTime.UtcNow < deadline && !Run.IsCompleted, Is.True, () => $"{why}; modes seen: {string.Join(",", Modes.Select(m => m.Name).Distinct())}\n{Log}");
                Thread.Sleep(20);
            }
        }

        public int Finish()
        {
            Assert.That(Run.Wait(TimeSpan.FromSeconds(90)), Is.True, "the run did not end");
            return Run.Result;
        }

        public void Dispose()
        {
            _stop = true;
            _sensorLoop.Join(TimeSpan.FromSeconds(5));
            Robot.Stop();
            Robot.Dispose();
            Bridge.Dispose();
            try { Directory.Delete(Dir, true); } catch (IOException) { }
        }
    }

    [Test]
    public void NodeHoversARobotOverRos2AndFallsBackWhenThePoseStops()
    {
        using var flight = new Flight(seconds: 8);
        flight.WaitForMode(NodeMode.Policy, "the node did not arm on poses that came over ROS 2");
        Thread.Sleep(3000); // fly a few seconds in real time
        Assert.That(flight.Modes.Select(m => m.Mode), Has.None.EqualTo(NodeMode.Fallback).And.None.EqualTo(NodeMode.Killed),
            () => "the node left POLICY while hovering over ROS 2:\n" + flight.Log);
        Assert.That(flight.Robot.CommandCount, Is.GreaterThan(100), "the node's commands reached the robot over ROS 2");
        // Still in the air: the hover-shaped policy sends the hover action whatever it sees, so it holds no altitude and the
        // height drifts with whatever vertical speed the vehicle had when the node armed (a loaded machine arms later: 0.54 m
        // once in CI). Commands that cut the motors would put it on the floor within a second; CommandCount shows they arrive.
        Assert.That(flight.Robot.TryGetLatest(out var s) && s.Position.Z > 0.25f && s.Position.Z < 1.75f, Is.True, $"flying, started at 1 m: {s.Position}");
        Assert.That(flight.Diagnostics.Any(d => d.Get<DynamicMessage[]>("status")[0].Get<string>("message") == "POLICY"), Is.True, "diagnostics of the arming");
        // The mode change's reason travels with it (the node's event, not only the mode seen in telemetry).
        Assert.That(flight.Diagnostics.Any(d => d.Get<DynamicMessage[]>("status")[0].Get<DynamicMessage[]>("values")
            .Any(kv => kv.Get<string>("key") == "reason" && kv.Get<string>("value") == "POLICY: armed")), Is.True, "the arming's reason on /diagnostics");

        flight.PublishPose = false; // the robot's pose stops: the supervisor's stale-sensor fallback
        flight.WaitForMode(NodeMode.Fallback, "no fallback after the pose stopped");
        Assert.That(Env_Eventually(() => flight.Diagnostics.Any(d =>
            d.Get<DynamicMessage[]>("status")[0] is var st && st.Get<string>("message") == "FALLBACK" && st.Get<byte>("level") == 1)), Is.True, "WARN diagnostics of the fallback");
        Assert.That(flight.Finish(), Is.EqualTo(3), "a flight the supervisor ended is not a success for a script" + flight.Log);
        Assert.That(flight.Output.ToString(), Does.Contain("stale sensor"), flight.Log);
        Assert.That(flight.Progress.ToString(), Does.Contain("run: the flight failed at tick").And.Contain("stale sensor"), flight.Log);
    }

    [Test]
    public void AJoyWithTheDeadmanHeldTakesOverAndReleasingItHandsBack()
    {
        using var flight = new Flight(seconds: 8);
        flight.WaitForMode(NodeMode.Policy, "the node did not arm on poses that came over ROS 2");
        using var human = new Ros2Node("joy_node", flight.Namespace, Options);
        using var joy = human.CreatePublisher<JoyMsg>("/joy");
        Assert.That(joy.WaitForMatch(TimeSpan.FromSeconds(30)), Is.True);
        // Axis 1 drives all four motors (crazyflie-ros2.json); mid-range is enough: the test needs the human in control, not a hover.
        const float hover = 0f;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!flight.Modes.Any(m => m.Mode == NodeMode.Human))
        {
            Assert.That(DateTime.UtcNow < deadline && !flight.Run.IsCompleted, Is.True, () => "no HUMAN mode with the dead-man held:\n" + flight.Log);
            joy.Publish(new JoyMsg { Axes = new float[] { 0, hover, 0, 0, 0 }, Buttons = new[] { 0, 0, 0, 0, 1 } });
            Thread.Sleep(20);
        }
        // Dead-man released (the joystick keeps publishing): the policy flies again at once, not only after the timeout.
        int humanAt = flight.Modes.ToList().FindLastIndex(m => m.Mode == NodeMode.Human);
        deadline = DateTime.UtcNow.AddSeconds(30);
        while (!flight.Modes.Skip(humanAt + 1).Any(m => m.Mode == NodeMode.Policy))
        {
            Assert.That(DateTime.UtcNow < deadline && !flight.Run.IsCompleted, Is.True, () => "still HUMAN after the dead-man was released:\n" + flight.Log);
            joy.Publish(new JoyMsg { Axes = new float[] { 0, hover, 0, 0, 0 }, Buttons = new[] { 0, 0, 0, 0, 0 } });
            Thread.Sleep(20);
        }
        Assert.That(flight.Finish(), Is.EqualTo(0), flight.Log);
    }

    [TestCase(false)]
    [TestCase(true)]
    public void ArmingFromARos2TopicNeedsAllowArm(bool allowArm)
    {
        using var flight = new Flight(seconds: 5, autoArm: false, allowArm: allowArm);
        using var op = new Ros2Node("operator", flight.Namespace, Options);
        using var mode = op.CreatePublisher<ModeMsg>("cmd_mode");
        Assert.That(mode.WaitForMatch(TimeSpan.FromSeconds(30)), Is.True);
        flight.WaitForMode(NodeMode.Idle, "no IDLE telemetry before the arm request");
        // Requests for 2 s (the node needs a fresh pose to arm; DDS volatile topics drop nothing once matched).
        for (int i = 0; i < 20; i++)
        {
            mode.Publish(new ModeMsg { Mode = NodeMode.Policy, Name = "POLICY" });
            Thread.Sleep(100);
        }
        if (allowArm) flight.WaitForMode(NodeMode.Policy, "allow_arm is true but the POLICY request did not arm");
        Assert.That(flight.Finish(), Is.EqualTo(0), flight.Log);
        // A refused arm is also on /diagnostics, where a ROS 2 operator looks (not only in the node's console).
        Assert.That(Env_Eventually(() => flight.Diagnostics.Any(d => d.Get<DynamicMessage[]>("status")[0].Get<string>("message").Contains("arm refused"))),
            Is.EqualTo(!allowArm), () => "refusal on /diagnostics:\n" + flight.Log);
        Assert.That(flight.Modes.Any(m => m.Mode == NodeMode.Policy), Is.EqualTo(allowArm),
            () => $"armed from a ROS 2 topic with allow_arm {allowArm}:\n{flight.Log}");
    }

    [Test]
    public void ANodeThatNeverHearsItsRobotSaysWhatItWaitedForAndExitsThree()
    {
        // The issue's case: crazyflie-ros2.json with nobody publishing printed "final mode IDLE … (0 ticks)" and exited 0.
        string dir = Path.Combine(Path.GetTempPath(), "roborl-cli-ros2-silent", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        string ns = "cf_" + Guid.NewGuid().ToString("N")[..8];
        string robotFile = RepoPaths.Find("configs/robots/crazyflie21.json");
        string config = Path.Combine(dir, "node.json");
        File.WriteAllText(config, File.ReadAllText(RepoPaths.Find("configs/nodes/crazyflie-ros2.json"))
            .Replace("\"namespace\": \"cf1\",", $"\"namespace\": \"{ns}\", \"domain_id\": {DomainId},")
            .Replace("\"robot\": \"../robots/crazyflie21.json\"", "\"robot\": \"" + robotFile + "\""));
        string bundle = Path.Combine(dir, "hover.safetensors");
        BenchNodeCommand.HoverShapedBundle(robotFile).Write(bundle);
        var output = new StringWriter();
        var progress = new StringWriter();
        int code = RunCommand.Run(config, bundle, 2.5, null, null, output, progress, settings: Loopback);
        Assert.That(code, Is.EqualTo(3), progress.ToString());
        string expected = $"/{ns}/pose (geometry_msgs/msg/PoseStamped) on ROS 2 domain {DomainId}: no publisher matched";
        Assert.That(progress.ToString(), Does.Contain("waiting for the robot's state: " + expected), "said while it waits");
        Assert.That(progress.ToString().TrimEnd().Split('\n')[^1], Does.StartWith("run: no robot state arrived in ").And.EndWith("the node waited for " + expected));
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }

    [Test]
    public void ABadRos2SectionIsASetupErrorNamingThePath()
    {
        string dir = Path.Combine(Path.GetTempPath(), "roborl-cli-ros2-bad", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        string robotFile = RepoPaths.Find("configs/robots/crazyflie21.json");
        string config = Path.Combine(dir, "node.json");
        File.WriteAllText(config, File.ReadAllText(RepoPaths.Find("configs/nodes/crazyflie-ros2.json"))
            .Replace("\"allow_arm\": false", "\"allow_arm\": \"yes\"")
            .Replace("\"robot\": \"../robots/crazyflie21.json\"", "\"robot\": \"" + robotFile + "\""));
        string bundle = Path.Combine(dir, "hover.safetensors");
        BenchNodeCommand.HoverShapedBundle(robotFile).Write(bundle);
        var output = new StringWriter();
        var progress = new StringWriter();
        Assert.That(RunCommand.Run(config, bundle, 1, null, null, output, progress, settings: Loopback), Is.EqualTo(2));
        Assert.That(progress.ToString(), Does.Contain("node.json").And.Contain("$.ros2.allow_arm"));
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }

    private static bool Env_Eventually(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) return false;
            Thread.Sleep(20);
        }
        return true;
    }
}
