using BenchmarkDotNet.Attributes;
using RoboRl.Core.Tasks;
using RoboRl.Sims.DiffDrive;

namespace RoboRl.Benchmarks;

/// <summary>
/// One vectorized step of the navigation task (dynamics, collision, reward, 360-beam lidar with noise, both
/// observations, auto-reset) and one lidar scan alone. Divide TaskStep by Envs for ns per env-step.
/// Run: dotnet run -c Release --project src/RoboRl.Benchmarks -- --filter '*NavSimBenchmarks*'
/// </summary>
[MemoryDiagnoser]
public class NavSimBenchmarks
{
    private NavEnv _env = null!;
    private float[] _actions = null!;
    private LidarKernel _lidar = null!;
    private float[] _ranges = null!, _scratch = null!;
    private int _step;

    [Params(64, 1024)]
    public int Envs { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        NavTaskConfig task = NavTaskConfig.Load(FindTask());
        _env = new NavEnv(task, Envs, threadCount: 1);
        _env.Reset(42);
        _actions = NavSimBenchmark.MakeActions(Envs, 8);
        _lidar = _env.Lidar;
        _ranges = new float[_lidar.PaddedBeams];
        _scratch = new float[_lidar.ScratchSize];
    }

    [GlobalCleanup]
    public void Cleanup() => _env.Dispose();

    [Benchmark]
    public void TaskStep()
    {
        int stride = Envs * 2;
        _env.Step(_actions.AsSpan((_step++ / 10 & 7) * stride, stride));
    }

    [Benchmark]
    public void LidarScan() => _lidar.Cast(_env.Maps, 0, _env.X(0), _env.Y(0), _env.Yaw(0), _scratch, _ranges);

    private static string FindTask()
    {
        const string relative = "configs/tasks/diffbot-nav.json";
        foreach (string start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (DirectoryInfo? dir = new(start); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, relative))) return Path.Combine(dir.FullName, relative);
        throw new FileNotFoundException($"{relative} not found above the working directory");
    }
}
