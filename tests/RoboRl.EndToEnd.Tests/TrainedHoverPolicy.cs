using RoboRl.Core.Policy;
using RoboRl.Serial.Firmware;
using RoboRl.Training;

namespace RoboRl.EndToEnd.Tests;

/// <summary>
/// The hover policy the README's `roborl train configs/tasks/crazyflie-hover.json --seed 1` trains (Trainer.Run, 300 k
/// steps, ~25 s on an idle machine), trained once per test process and shared by the fixtures that fly it.
/// </summary>
public static class TrainedHoverPolicy
{
    static readonly Lazy<(string Path, PolicyBundle Bundle)> Trained = new(Train, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string BundlePath => Trained.Value.Path;
    public static PolicyBundle Bundle => Trained.Value.Bundle;

    static (string, PolicyBundle) Train()
    {
        string dir = Path.Combine(Path.GetTempPath(), "roborl-e2e-trained-" + Environment.ProcessId);
        TrainResult trained = Trainer.Run(new TrainOptions(Path.Combine(McuImages.RepositoryRoot, "configs", "tasks", "crazyflie-hover.json"))
        {
            Seed = 1,
            OutDirectory = dir,
        });
        TestContext.Progress.WriteLine($"trained the hover policy in {trained.WallSeconds:F1} s: {trained.FinalScore.SuccessRate:P1} success, " +
                                       $"{trained.FinalScore.FailureRate:P1} crashes (the task's evaluation)");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(dir, recursive: true); } catch (IOException) { } };
        return (trained.BundlePath, PolicyBundle.Read(trained.BundlePath));
    }
}
