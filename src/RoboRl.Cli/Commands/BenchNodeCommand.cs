using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using RoboRl.Core.Policy;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Robots;
using RoboRl.Core.Tasks;
using RoboRl.Node;
using RoboRl.Sims.Quadrotor;

namespace RoboRl.Cli.Commands;

/// <summary>
/// `roborl bench node [--json] [--seconds S]`: the node's tick cost (observation + 149-64-64-4 policy + arbitration +
/// actuator hand-off, lock-step with the simulated Crazyflie) and its real-time loop at 1 kHz (rate, jitter,
/// overruns). Figures only; targets: tick p99 ≤ 50 µs, jitter p99 ≤ 200 µs at 1 kHz, 0 bytes per tick.
/// </summary>
public static class BenchNodeCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print one JSON object." };
        var seconds = new Option<double>("--seconds") { Description = "Seconds of real-time loop at 1 kHz.", DefaultValueFactory = _ => 3 };
        var command = new Command("node", "Node tick latency, loop rate, jitter, overruns and allocation per tick") { json, seconds };
        command.SetAction(parse => Run(parse.GetValue(json), parse.GetValue(seconds), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return command;
    }

    public static int Run(bool json, double seconds, TextWriter output, TextWriter progress)
    {
        var io = new CommandIo("bench node", output, progress, json);
        return io.Run(() => Measure(seconds, io));
    }

    private static int Measure(double seconds, CommandIo io)
    {
        TextWriter output = io.Output, progress = io.Error;
        if (!(seconds > 0)) throw CliException.BadInput($"--seconds {seconds}: must be positive");
        NodeConfig config = NodeConfig.Load(RepoPaths.Find(QuickstartCommand.NodeConfig));
        QuadrotorNodeSettings quadrotor = config.Quadrotor();
        SimTransportConfig simSection = SimTransportConfig.From(config);
        PolicyBundle bundle = HoverShapedBundle(config.RobotPath);

        // 1. Tick cost, lock-step: no thread scheduling in the figure, only the tick's own work. The robot hovers at the
        // setpoint from the start (the shipped config would take off from the floor first): the policy's tick is measured.
        progress.WriteLine("[1/2] tick cost: 20000 ticks in lock-step with the simulated Crazyflie");
        var sim = new SimulatedQuadrotor(quadrotor.Robot, new SimulatedQuadrotorOptions { StartPosition = quadrotor.Setpoint, NoiseStd = simSection.NoiseStd }, 0);
        InferenceNode node = QuadrotorController.CreateNode(config, bundle, sim, sim);
        long period = (long)(1e9 / config.RateHz), now = 0;
        for (int i = 0; i < 2000; i++) { now += period; sim.AdvanceTo(now); node.Tick(now, now); } // warm-up (JIT, tiering)
        var latency = new MicrosecondHistogram();
        const int Ticks = 20000;
        long allocated = 0;
        for (int i = 0; i < Ticks; i++)
        {
            now += period;
            sim.AdvanceTo(now);
            long before = GC.GetAllocatedBytesForCurrentThread();
            long t0 = NodeClock.NowNs;
            node.Tick(now, now);
            long t1 = NodeClock.NowNs;
            allocated += GC.GetAllocatedBytesForCurrentThread() - before;
            latency.Add((t1 - t0) * 1e-3);
        }
        bool stillPolicy = node.Mode == Core.Messages.NodeMode.Policy;

        // 2. The real-time loop at 1 kHz against the real-time simulator.
        progress.WriteLine($"[2/2] real-time loop: {seconds:F1} s at 1000 Hz");
        NodeConfig fast = config with { RateHz = 1000 };
        using var rtSim = new SimulatedQuadrotor(quadrotor.Robot, new SimulatedQuadrotorOptions { StartPosition = quadrotor.Setpoint, NoiseStd = simSection.NoiseStd });
        using InferenceNode rtNode = QuadrotorController.CreateNode(fast, bundle, rtSim, rtSim);
        rtSim.Start();
        rtNode.Start();
        Thread.Sleep(TimeSpan.FromSeconds(seconds));
        rtNode.Stop();
        rtSim.Stop();
        TickStatistics loop = rtNode.RunStatistics;

        var result = new Dictionary<string, object>
        {
            ["tick_p50_us"] = Math.Round(latency.Percentile(0.5), 2),
            ["tick_p99_us"] = Math.Round(latency.Percentile(0.99), 2),
            ["tick_max_us"] = Math.Round(latency.MaxUs, 1),
            ["loop_hz"] = Math.Round(loop.RateHz, 1),
            ["jitter_p99_us"] = Math.Round(loop.JitterP99Us, 1),
            ["overruns"] = loop.Overruns,
            ["loop_ticks"] = loop.Ticks,
            ["alloc_bytes_per_tick"] = Math.Round((double)allocated / Ticks, 3),
            ["policy"] = "149-64-64-4 tanh (hover-shaped)",
            ["policy_kernel"] = node.Quadrotor().Engine.Kernel.ToString(),
            ["stayed_in_policy_mode"] = stillPolicy,
        };
        if (!io.Json) foreach (var (k, v) in result) output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{k,-24} {v}"));
        progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"bench node: tick p50 {result["tick_p50_us"]} µs, p99 {result["tick_p99_us"]} µs; 1 kHz loop {result["loop_hz"]} Hz, jitter p99 {result["jitter_p99_us"]} µs, {loop.Overruns} overruns; {result["alloc_bytes_per_tick"]} B/tick"));
        return io.Result(result);
    }

    /// <summary>
    /// A 149-64-64-4 tanh network of the deployed size whose output is the hover action whatever the input (random
    /// hidden layers, zero output weights, bias = atanh(hover)): the full compute cost of a trained policy, and it keeps
    /// the simulated Crazyflie hovering so the node stays in policy mode during the benchmark.
    /// </summary>
    public static PolicyBundle HoverShapedBundle(string robotPath)
    {
        QuadrotorConfig robot = QuadrotorConfig.Load(robotPath);
        int obs = HoverObservation.ActorSize(32);
        var random = new Random(7);
        float[] Uniform(int n, float bound) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1) * bound).ToArray();
        var layers = new List<DenseLayer>
        {
            new(obs, 64, Uniform(64 * obs, 1f / MathF.Sqrt(obs)), Uniform(64, 0.1f), Activation.Tanh),
            new(64, 64, Uniform(64 * 64, 0.125f), Uniform(64, 0.1f), Activation.Tanh),
            new(64, 4, new float[4 * 64], Enumerable.Repeat(MathF.Atanh(robot.HoverAction()), 4).ToArray(), Activation.Tanh),
        };
        var bundle = new PolicyBundle
        {
            Layers = layers,
            ObservationNames = HoverObservation.ActorNames(32),
            ActionNames = ["motor_1", "motor_2", "motor_3", "motor_4"],
            ObservationMean = new float[obs],
            ObservationStd = Enumerable.Repeat(1f, obs).ToArray(),
            ActionLow = new float[4],
            ActionHigh = HoverObservation.ActionScaling(robot).High,
            ActionUnit = HoverObservation.ActionUnit,
            ControlRateHz = 100,
            ActionHistoryLength = 32,
            RobotConfigJson = File.ReadAllText(robotPath),
            TrainingConfigJson = """{"benchmark":"hover-shaped 149-64-64-4"}""",
            GitCommit = "0000000000000000000000000000000000000000",
            GoldenObservations = new float[obs],
            GoldenActions = new float[4],
        };
        var engine = new PolicyEngine(bundle.WithGoldenVectors(new float[obs], new float[4]));
        var golden = new float[4];
        engine.Forward(new float[obs], golden);
        return bundle.WithGoldenVectors(new float[obs], golden);
    }
}
