using RoboRl.Core.Tasks;
using RoboRl.Sims.DiffDrive;

namespace RoboRl.Sims.Tests.DiffDrive;

public class DwaPlannerTests
{
    private static readonly NavTaskConfig Nav = NavEnvTests.Task();

    /// <summary>A scan with nothing in range, then points at <paramref name="range"/> on beams [from, to] (degrees, may wrap).</summary>
    private static float[] Scan(float range = float.NaN, int from = 0, int to = -1)
    {
        var scan = new float[360];
        Array.Fill(scan, float.PositiveInfinity);
        for (int k = from; k <= to; k++) scan[(k + 360) % 360] = range;
        return scan;
    }

    private static (float V, float W) Act(DwaPlanner dwa, float[] scan, float goalDistance, float goalBearing, float v = 0, float w = 0)
    {
        var action = new float[2];
        dwa.Act(new NavPlannerInput { Scan = scan, GoalDistance = goalDistance, GoalBearing = goalBearing, LinearVelocity = v, AngularVelocity = w }, action);
        return (action[0] * Nav.Robot.MaxLinearVelocity, action[1] * Nav.Robot.MaxAngularVelocity);
    }

    [Test]
    public void OpenSpaceGoalAheadDrivesStraightAtFullSpeed()
    {
        var dwa = new DwaPlanner(Nav);
        var (v, w) = Act(dwa, Scan(), 2, 0, v: 0.22f);
        Assert.That(v, Is.EqualTo(0.22f).Within(1e-5f));
        Assert.That(w, Is.EqualTo(0).Within(1e-5f));
    }

    [Test]
    public void StaysInsideTheDynamicWindow()
    {
        var dwa = new DwaPlanner(Nav);
        float dt = Nav.ControlDt;
        // At rest with the goal behind: it can only start turning at α·dt and accelerate at a·dt.
        var (v, w) = Act(dwa, Scan(), 2, 3.0f);
        Assert.That(v, Is.InRange(0, Nav.Robot.LinearAccelerationLimit * dt + 1e-6f));
        Assert.That(w, Is.InRange(0.1f, Nav.Robot.AngularAccelerationLimit * dt + 1e-5f), "turns left, towards the goal at +172°");
        // Turning right at 1 rad/s: the window is [1 − 0.32, 1 + 0.32] rad/s even though the goal is now to the left.
        (_, w) = Act(dwa, Scan(), 2, 0.3f, v: 0.1f, w: -1f);
        Assert.That(w, Is.InRange(-1f - 0.32f - 1e-5f, -1f + 0.32f + 1e-5f));
    }

    [Test]
    public void NeverPicksAnArcItCannotStopOnAndAvoidsAWallAhead()
    {
        var dwa = new DwaPlanner(Nav);
        // A wall across ±60° at 0.15 m is within the 0.105 + 0.05 m touching distance: no forward motion at all.
        var (v, _) = Act(dwa, Scan(0.15f, -60, 60), 2, 0, v: 0.1f);
        Assert.That(v, Is.EqualTo(0).Within(1e-6f));
        // At 0.16 m, 5 mm are left: only speeds that can drive one control period and brake within them, v·Δt + v²/(2a) ≤ 5 mm.
        (v, _) = Act(dwa, Scan(0.16f, -60, 60), 2, 0, v: 0.1f);
        Assert.That(v * Nav.ControlDt + v * v / (2 * Nav.Robot.LinearAccelerationLimit), Is.LessThanOrEqualTo(0.005f + 1e-5f));
        // A wide wall 0.5 m ahead and the goal behind it: it keeps off the wall (turns, does not drive straight on).
        (v, float w) = Act(dwa, Scan(0.5f, -70, 70), 2, 0, v: 0.2f);
        Assert.That(MathF.Abs(w) > 0.1f || v < 0.15f, Is.True, $"chose v = {v}, ω = {w}");
    }

    [Test]
    public void ReachesGoalsInTheSimulatorWithoutCollisions()
    {
        // 20 held-out scenarios of the navigation task, the DWA on the full noisy scan.
        using var env = new NavEnv(Nav, 20, 1);
        env.Reset(1);
        for (int i = 0; i < 20; i++) env.ResetScenario(i, NavMaps.HeldOutSeedBase + (ulong)i);
        var dwa = new DwaPlanner(Nav);
        var actions = new float[40];
        var outcome = new NavOutcome[20];
        int goalOffset = NavObservation.GoalOffset(Nav.ScanBins);
        for (int t = 0; t < Nav.EpisodeSteps && outcome.Contains(NavOutcome.None); t++)
        {
            for (int i = 0; i < 20; i++)
            {
                ReadOnlySpan<float> row = env.ActorObservations.Slice(i * env.ActorObservationSize, env.ActorObservationSize);
                dwa.Act(new NavPlannerInput
                {
                    Observation = row,
                    Scan = env.Scan(i),
                    GoalDistance = row[goalOffset],
                    GoalBearing = MathF.Atan2(row[goalOffset + 1], row[goalOffset + 2]),
                    LinearVelocity = env.LinearVelocity(i),
                    AngularVelocity = env.AngularVelocity(i),
                }, actions.AsSpan(2 * i, 2));
            }
            env.Step(actions);
            for (int i = 0; i < 20; i++)
                if ((env.Terminated[i] || env.Truncated[i]) && outcome[i] == NavOutcome.None) outcome[i] = env.FinishedEpisodeOutcomes[i];
        }
        TestContext.Out.WriteLine(string.Join(" ", outcome));
        Assert.That(outcome.Count(o => o == NavOutcome.Collision), Is.EqualTo(0));
        Assert.That(outcome.Count(o => o == NavOutcome.Goal), Is.GreaterThanOrEqualTo(14), "DWA reaches most goals (local minima leave some timeouts)");
    }

    [Test]
    public void ActAllocatesNothing()
    {
        var dwa = new DwaPlanner(Nav);
        float[] scan = Scan(0.8f, 20, 80);
        var action = new float[2];
        void Act(int times)
        {
            // A ref struct (it holds the scan as a span), so it is built where it is used rather than captured.
            var input = new NavPlannerInput { Scan = scan, GoalDistance = 2, GoalBearing = 0.5f, LinearVelocity = 0.1f, AngularVelocity = 0.2f };
            for (int k = 0; k < times; k++) dwa.Act(input, action);
        }
        Act(10);
        Assert.That(AllocationMeter.FewestBytes(() => Act(100)), Is.EqualTo(0));
    }
}
