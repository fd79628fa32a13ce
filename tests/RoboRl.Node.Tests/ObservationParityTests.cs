using System.Numerics;
using System.Text.Json.Nodes;
using RoboRl.Core.Robots;
using RoboRl.Core.Tasks;
using RoboRl.Sims.Quadrotor;

namespace RoboRl.Node.Tests;

/// <summary>
/// DESIGN.md invariant 1: the node and the training simulator build the same observation. The same actions are flown
/// by HoverEnv (training) and by the node (as a human take-over, so the policy does not choose them) against the
/// simulated Crazyflie, both noise-free at 100 Hz; every observation must agree.
/// </summary>
public class ObservationParityTests
{
    [Test]
    public void NodeAndTrainingEnvironmentBuildTheSameObservations()
    {
        string task = RepoFiles.EditedCopy(RepoFiles.Path("configs/tasks/crazyflie-hover.json"), t =>
        {
            t["initial_state"]!["rest_fraction"] = 1.0; // start at the target, level, still, rotors at hover speed
            foreach (string k in new[] { "position", "rotation", "linear_velocity", "angular_velocity" }) t["observation_noise_std"]![k] = 0.0;
            foreach (string k in new[] { "mass", "inertia", "thrust_coefficient", "motor_time_constant" }) t["domain_randomization"]![k] = new JsonArray(1.0, 1.0);
            t["domain_randomization"]!["latency_steps"] = new JsonArray(0, 0);
            t["disturbance"]!["force_std"] = 0.0;
            t["disturbance"]!["torque_std"] = 0.0;
        }, "task.json");
        using var env = new HoverEnv(HoverTaskConfig.Load(task), 1, threadCount: 1);
        env.Reset(seed: 5);

        using var run = new LockStep(edit: c =>
        {
            c["rate_hz"] = 100;
            c["sim"]!["physics_hz"] = 100;
            c["sim"]!["noise_std"] = new JsonObject { ["position"] = 0, ["rotation"] = 0, ["velocity"] = 0, ["angular_velocity"] = 0 };
        });
        var teleop = new HeldTeleop { Has = true };
        run.Node.AddTeleop(teleop);

        int size = env.ActorObservationSize;
        Assert.That(run.Node.LastObservation.Length, Is.EqualTo(size));
        var action = new float[4];
        float[] environmentBefore = env.ActorObservations[..size].ToArray(); // the reset observation
        for (int k = 0; k < 60; k++)
        {
            float hover = run.Quadrotor.Robot.HoverAction();
            for (int m = 0; m < 4; m++) action[m] = hover + 0.02f * MathF.Sin(0.2f * k) + 0.01f * MathF.Sin(0.7f * k + 1.5f * m);
            teleop.Sample = new TeleopSample { TimestampNs = run.NowNs + run.PeriodNs, Kind = TeleopKind.TakeOver, Action = new Vector4(action[0], action[1], action[2], action[3]) };
            run.Step(); // the node observes the state reached by actions 0..k−1, then applies action k
            Assert.That(run.Node.Mode, Is.EqualTo(Core.Messages.NodeMode.Human), "the supervisor stayed quiet");
            Assert.That(run.Node.LastObservation.ToArray(), Is.EqualTo(environmentBefore), $"tick {k}");
            env.Step(action); // the environment applies action k, then observes
            Assert.That(env.Terminated[0] || env.Truncated[0], Is.False);
            environmentBefore = env.ActorObservations[..size].ToArray();
        }
    }
}
