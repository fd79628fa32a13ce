using System.Globalization;
using RoboRl.Core.Robots;

namespace RoboRl.Ros2.Tests;

/// <summary>
/// The start-up race, measured (docs/transports.md, "Start-up and one-shot goals"): a fresh Fast DDS participant writes
/// one /goal_pose to a ground link; how long until each of the link's readers has it. The volatile reader alone is the
/// node before the fix. A measurement, not a check: run it by name
/// (<c>dotnet test tests/RoboRl.Ros2.Tests -c Release --filter FullyQualifiedName~StartupRaceMeasurement</c>).
/// </summary>
[Explicit("a measurement (~5 min), for docs/transports.md")]
[Category("Measurement")]
[NonParallelizable]
public class StartupRaceMeasurement
{
    // The node first, then the robot's participant; or the robot first (waiting for a reader), the node 1.5 s later.
    [TestCase("volatile", "none", false)]
    [TestCase("volatile", "match", false)]
    [TestCase("transient_local", "none", false)]
    [TestCase("transient_local", "match", false)]
    [TestCase("volatile", "ready", false)]
    [TestCase("volatile", "match", true)]
    [TestCase("transient_local", "match", true)]
    [TestCase("transient_local", "none", true)]
    [TestCase("volatile", "ready", true)]
    // The robot's writer heartbeating every 0.5 s instead of Fast DDS's default 3 s.
    [TestCase("transient_local", "match", true, 500)]
    public void OneShotGoalDelay(string durability, string wait, bool nodeStartsLater, int heartbeatMs = 0)
    {
        var environment = new Dictionary<string, string>();
        if (heartbeatMs > 0) environment["PEER_HEARTBEAT_MS"] = heartbeatMs.ToString(CultureInfo.InvariantCulture);
        Env.RequireLibddsc();
        const int trials = 6;
        const double holdS = 5;
        var before = new List<double?>();
        var after = new List<double?>();
        for (int trial = 0; trial < trials; trial++)
        {
            int domain = FastDdsPeerTests.UniqueDomain();
            using var peer = nodeStartsLater ? FastDdsPeer.Start(domain, environment, "goal_once", durability, wait, holdS.ToString(CultureInfo.InvariantCulture)) : null;
            if (nodeStartsLater) Thread.Sleep(1500);
            using var link = new Ros2GroundRobotLink(new Ros2GroundRobotOptions { DomainId = domain, CycloneConfigXml = Ros2Loopback.ConfigXml });
            using var robot = peer ?? FastDdsPeer.Start(domain, environment, "goal_once", durability, wait, holdS.ToString(CultureInfo.InvariantCulture));
            long volatileAt = 0, latchedAt = 0;
            var until = DateTime.UtcNow.AddSeconds(40);
            while (!robot.HasExited && DateTime.UtcNow < until)
            {
                long now = DateTime.UtcNow.Ticks * 100 - DateTime.UnixEpoch.Ticks * 100;
                if (volatileAt == 0 && link.Goals.Volatile.ReceivedCount > 0) volatileAt = now;
                if (latchedAt == 0 && link.Goals.Latched.ReceivedCount > 0) latchedAt = now;
                Thread.Sleep(1);
            }
            string? sent = robot.WaitForLine("sent", TimeSpan.FromSeconds(1));
            Assert.That(sent, Is.Not.Null, robot.Describe());
            long sentNs = (long)FastDdsPeer.Numbers(sent!)[0];
            double? Delay(long at) => at == 0 ? null : (at - sentNs) * 1e-9;
            before.Add(Delay(volatileAt));
            long first = volatileAt == 0 ? latchedAt : latchedAt == 0 ? volatileAt : Math.Min(volatileAt, latchedAt);
            after.Add(Delay(first));
        }
        static string Row(List<double?> d) =>
            $"{d.Count(x => x is null)}/{d.Count} lost; delays {string.Join(" ", d.Select(x => x is { } v ? v.ToString("F3", CultureInfo.InvariantCulture) : "lost"))} s";
        string what = $"{durability} writer, written on '{wait}', {(nodeStartsLater ? "node 1.5 s after the robot" : "robot after the node")}"
            + (heartbeatMs > 0 ? $", heartbeat {heartbeatMs} ms" : "");
        TestContext.Out.WriteLine($"{what}: before (volatile reader only): {Row(before)}");
        TestContext.Out.WriteLine($"{what}: after (volatile + latched readers): {Row(after)}");
    }
}
