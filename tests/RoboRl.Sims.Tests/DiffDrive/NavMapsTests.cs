using RoboRl.Core.Tasks;
using RoboRl.Sims.DiffDrive;

namespace RoboRl.Sims.Tests.DiffDrive;

public class NavMapsTests
{
    private static readonly NavTaskConfig Nav = NavEnvTests.Task();

    [Test]
    public void SameSeedSameScenarioInAnySlot()
    {
        var maps = new NavMaps(Nav.Map, Nav.Robot.RobotRadius, 3);
        maps.Generate(0, 1234);
        maps.Generate(2, 1234);
        maps.Generate(1, 1235);
        Assert.That(maps.CircleCount[2], Is.EqualTo(maps.CircleCount[0]));
        Assert.That(maps.BoxCount[2], Is.EqualTo(maps.BoxCount[0]));
        for (int k = 0; k < maps.CircleCount[0]; k++)
        {
            Assert.That(maps.CircleX[2 * maps.MaxCircles + k], Is.EqualTo(maps.CircleX[k]));
            Assert.That(maps.CircleRadius[2 * maps.MaxCircles + k], Is.EqualTo(maps.CircleRadius[k]));
        }
        for (int k = 0; k < maps.BoxCount[0]; k++)
            Assert.That(maps.BoxMinY[2 * maps.MaxBoxes + k], Is.EqualTo(maps.BoxMinY[k]));
        Assert.That((maps.StartX[2], maps.StartY[2], maps.StartYaw[2], maps.GoalX[2], maps.GoalY[2]),
            Is.EqualTo((maps.StartX[0], maps.StartY[0], maps.StartYaw[0], maps.GoalX[0], maps.GoalY[0])));
        Assert.That((maps.StartX[1], maps.GoalX[1]), Is.Not.EqualTo((maps.StartX[0], maps.GoalX[0])), "another seed, another scenario");
    }

    [Test]
    public void StartAndGoalAreFreeAndWithinTheConfiguredDistance()
    {
        var maps = new NavMaps(Nav.Map, Nav.Robot.RobotRadius, 1);
        NavMapConfig c = Nav.Map;
        int withObstacles = 0;
        for (ulong seed = 0; seed < 2000; seed++)
        {
            maps.Generate(0, seed * 7919);
            Assert.That(maps.Clearance(0, maps.StartX[0], maps.StartY[0]), Is.GreaterThanOrEqualTo(c.Clearance), $"start, seed {seed}");
            Assert.That(maps.Clearance(0, maps.GoalX[0], maps.GoalY[0]), Is.GreaterThanOrEqualTo(c.Clearance), $"goal, seed {seed}");
            float dx = maps.GoalX[0] - maps.StartX[0], dy = maps.GoalY[0] - maps.StartY[0];
            float distance = MathF.Sqrt(dx * dx + dy * dy);
            Assert.That(distance, Is.InRange(c.StartGoalDistance.Low - 1e-4f, c.StartGoalDistance.High + 1e-4f), $"seed {seed}");
            Assert.That(maps.CircleCount[0], Is.InRange(0, c.Circles.High));
            Assert.That(maps.BoxCount[0], Is.InRange(0, c.Boxes.High));
            if (maps.CircleCount[0] >= c.Circles.Low && maps.BoxCount[0] >= c.Boxes.Low) withObstacles++;
        }
        Assert.That(withObstacles, Is.GreaterThan(1900), "obstacles are rarely removed to make room");
    }

    [Test]
    public void ClearanceIsTheDistanceToTheNearestSurface()
    {
        var maps = new NavMaps(Nav.Map, Nav.Robot.RobotRadius, 1);
        maps.CircleCount[0] = 1; maps.CircleX[0] = 1; maps.CircleY[0] = 0; maps.CircleRadius[0] = 0.25f;
        maps.BoxCount[0] = 1; maps.BoxMinX[0] = -2; maps.BoxMaxX[0] = -1; maps.BoxMinY[0] = -0.5f; maps.BoxMaxY[0] = 0.5f;
        Assert.That(maps.Clearance(0, 0, 0), Is.EqualTo(0.75f).Within(1e-6f), "circle surface at 0.75, box face at 1");
        Assert.That(maps.Clearance(0, -0.5f, 1.0f), Is.EqualTo(MathF.Sqrt(0.5f)).Within(1e-6f), "box corner (−1, 0.5)");
        Assert.That(maps.Clearance(0, -1.5f, 0), Is.EqualTo(-0.5f).Within(1e-6f), "inside the box: −depth");
        Assert.That(maps.Clearance(0, 2.4f, 2.0f), Is.EqualTo(0.1f).Within(1e-5f), "wall x = 2.5");
    }

    [Test]
    public void HeldOutSeedsAreDisjointFromTrainingSeeds()
    {
        // Training draws 48-bit seeds (NavEnv); held-out seeds start at 2^56.
        Assert.That(NavMaps.HeldOutSeedBase, Is.GreaterThan((1UL << 48) - 1));
        using var env = new NavEnv(Nav, 64, 1);
        env.Reset(5);
        var actions = new float[128];
        for (int i = 0; i < 64; i++) actions[2 * i] = 1; // straight ahead: most robots hit something and restart
        long before = env.CompletedEpisodes;
        for (int t = 0; t < 300; t++)
        {
            env.Step(actions);
            for (int i = 0; i < 64; i++) Assert.That(env.Maps.Seed[i], Is.LessThan(NavMaps.HeldOutSeedBase));
        }
        Assert.That(env.CompletedEpisodes, Is.GreaterThan(before + 10), "new scenarios were drawn");
    }
}
