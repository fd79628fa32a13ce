using BenchmarkDotNet.Attributes;
using RoboRl.Core.Tasks;
using RoboRl.Sims;
using RoboRl.Sims.Quadrotor;

namespace RoboRl.Benchmarks;

/// <summary>
/// One vectorized step of the hover task (full work: actions, history, dynamics, reward, termination,
/// noise, both observations, auto-reset) and of the dynamics alone. Divide the time by Envs for ns per
/// env-step. Run: dotnet run -c Release --project src/RoboRl.Benchmarks -- --filter '*SimBenchmarks*'
/// </summary>
[MemoryDiagnoser]
public class SimBenchmarks
{
    private HoverEnv _env = null!;
    private float[] _actions = null!;
    private QuadrotorBatch _batch = null!;
    private WorkerPool _pool = null!;
    private IntegrateAll _integrate = null!;
    private int _step;

    [Params(64, 4096)]
    public int Envs { get; set; }

    [Params(1, 0)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        HoverTaskConfig task = HoverTaskConfig.Load(FindTask());
        _env = new HoverEnv(task, Envs, Threads);
        _env.Reset(42);
        _actions = SimBenchmark.MakeActions(task, Envs, 8);
        _batch = new QuadrotorBatch(task.Robot, Envs);
        for (int i = 0; i < _batch.PaddedCount; i++)
        {
            _batch.SetPose(i, task.TargetPosition, System.Numerics.Quaternion.Identity);
            _batch.SetRotors(i, task.Robot.HoverRpm());
        }
        _pool = new WorkerPool(Threads);
        _integrate = new IntegrateAll(_batch);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _env.Dispose();
        _pool.Dispose();
    }

    [Benchmark]
    public void TaskStep()
    {
        int stride = Envs * 4;
        _env.Step(_actions.AsSpan((_step++ & 7) * stride, stride));
    }

    [Benchmark]
    public void DynamicsStep() => _pool.Run(_integrate, _batch.BlockCount);

    private sealed class IntegrateAll(QuadrotorBatch batch) : IParallelWork
    {
        public void Execute(int begin, int end)
        {
            for (int b = begin; b < end; b++) batch.IntegrateBlock(b, 0.01f, 1);
        }
    }

    private static string FindTask()
    {
        const string relative = "configs/tasks/crazyflie-hover.json";
        foreach (string start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (DirectoryInfo? dir = new(start); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, relative))) return Path.Combine(dir.FullName, relative);
        throw new FileNotFoundException($"{relative} not found above the working directory");
    }
}
