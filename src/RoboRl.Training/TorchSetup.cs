using TorchSharp;

namespace RoboRl.Training;

/// <summary>One place that loads LibTorch and sets how many threads it may use.</summary>
public static class TorchSetup
{
    static readonly object Gate = new();
    static bool _initialized;

    /// <summary>
    /// Loads the native TorchSharp/LibTorch libraries and sets torch's intra-op threads (default 1: simulators,
    /// tests and other processes share this machine, and FACTS measured 2 threads collapsing when another
    /// process is busy). Throws <see cref="InvalidOperationException"/> with the likely cause when loading fails.
    /// </summary>
    public static void Initialize(int intraOpThreads = 1)
    {
        lock (Gate)
        {
            try
            {
                if (!_initialized)
                {
                    torch.InitializeDeviceType(DeviceType.CPU);
                    _initialized = true;
                }
                torch.set_num_threads(intraOpThreads);
            }
            catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or NotSupportedException)
            {
                throw new InvalidOperationException(
                    "TorchSharp's native libraries did not load. On Debian 12 libLibTorchSharp.so must have its GLIBCXX_3.4.32 " +
                    "requirement marked weak by the build: the project that runs this must import " +
                    "src/RoboRl.Training/build/RoboRl.Training.targets (see docs/troubleshooting.md, 'TorchSharp on Debian 12'). Cause: " + e.Message, e);
            }
        }
    }
}
