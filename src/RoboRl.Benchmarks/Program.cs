using BenchmarkDotNet.Running;

namespace RoboRl.Benchmarks;

/// <summary>
/// Runs the benchmarks: <c>dotnet run -c Release --project src/RoboRl.Benchmarks -- --filter '*'</c>
/// (or a narrower filter such as <c>'*PolicyEngine*'</c>, <c>'*Td3Update*'</c>).
/// </summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
