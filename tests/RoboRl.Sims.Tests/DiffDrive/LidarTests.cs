using RoboRl.Core.Tasks;
using RoboRl.Sims.DiffDrive;

namespace RoboRl.Sims.Tests.DiffDrive;

public class LidarTests
{
    private static readonly NavTaskConfig Nav = NavEnvTests.Task();

    /// <summary>An empty 5 m arena in slot 0 (obstacles added by the test).</summary>
    private static NavMaps EmptyMap()
    {
        var maps = new NavMaps(Nav.Map, Nav.Robot.RobotRadius, 1);
        maps.CircleCount[0] = 0;
        maps.BoxCount[0] = 0;
        return maps;
    }

    private static float[] Cast(NavMaps maps, float x, float y, float yaw, bool cull = true)
    {
        var lidar = new LidarKernel(Nav.Robot.Lidar);
        var ranges = new float[lidar.PaddedBeams];
        lidar.Cast(maps, 0, x, y, yaw, new float[lidar.ScratchSize], ranges, cull);
        return ranges;
    }

    private static float Rad(int degrees) => degrees * MathF.PI / 180f;

    [Test]
    public void WallsOfTheEmptyArenaAtAnalyticDistances()
    {
        float[] r = Cast(EmptyMap(), 0, 0, 0);
        Assert.That(r[0], Is.EqualTo(2.5f).Within(1e-5f));
        Assert.That(r[90], Is.EqualTo(2.5f).Within(1e-5f));
        Assert.That(r[180], Is.EqualTo(2.5f).Within(1e-5f));
        Assert.That(r[270], Is.EqualTo(2.5f).Within(1e-5f));
        Assert.That(r[30], Is.EqualTo(2.5f / MathF.Cos(Rad(30))).Within(1e-4f));
        Assert.That(r[45], Is.EqualTo(float.PositiveInfinity), "the corner is 3.54 m away, beyond the 3.5 m range");
        // Off centre and turned: at (1, 0.5) facing +y (yaw 90°), beam 0 meets the wall y = 2.5 after 2 m, beam 270 (right = +x) after 1.5 m.
        float[] s = Cast(EmptyMap(), 1, 0.5f, Rad(90));
        Assert.That(s[0], Is.EqualTo(2.0f).Within(1e-5f));
        Assert.That(s[270], Is.EqualTo(1.5f).Within(1e-5f));
        Assert.That(s[90], Is.EqualTo(3.5f).Within(1e-5f), "left = −x: 3.5 m, exactly at range_max");
    }

    [Test]
    public void CircleAtAnalyticDistances()
    {
        NavMaps maps = EmptyMap();
        maps.CircleCount[0] = 1;
        maps.CircleX[0] = 1.5f; maps.CircleY[0] = 0; maps.CircleRadius[0] = 0.3f;
        float[] r = Cast(maps, 0, 0, 0);
        for (int k = -11; k <= 11; k++)
        {
            float phi = Rad(k), d = 1.5f, radius = 0.3f;
            float perpendicular = d * MathF.Sin(phi);
            float expected = MathF.Abs(perpendicular) < radius
                ? d * MathF.Cos(phi) - MathF.Sqrt(radius * radius - perpendicular * perpendicular)
                : 2.5f / MathF.Cos(phi); // misses the circle: the wall x = 2.5
            Assert.That(r[(k + 360) % 360], Is.EqualTo(expected).Within(1e-4f), $"beam {k}°");
        }
        // The same circle seen by a robot turned by 90° that stands below it: beam 0 again.
        NavMaps turned = EmptyMap();
        turned.CircleCount[0] = 1;
        turned.CircleX[0] = 0.2f; turned.CircleY[0] = 1.7f; turned.CircleRadius[0] = 0.3f;
        Assert.That(Cast(turned, 0.2f, 0.2f, Rad(90))[0], Is.EqualTo(1.2f).Within(1e-5f));
    }

    [Test]
    public void BoxAtAnalyticDistances()
    {
        NavMaps maps = EmptyMap();
        maps.BoxCount[0] = 1;
        maps.BoxMinX[0] = 1; maps.BoxMaxX[0] = 2; maps.BoxMinY[0] = -0.5f; maps.BoxMaxY[0] = 0.5f;
        float[] r = Cast(maps, 0, 0, 0);
        for (int k = -26; k <= 26; k++) // tan 26° · 1 m = 0.49 m: every one of these beams meets the face x = 1
            Assert.That(r[(k + 360) % 360], Is.EqualTo(1f / MathF.Cos(Rad(k))).Within(1e-5f), $"beam {k}°");
        // Beam 30° crosses x = 1 at y = 0.577, above the box (top face y = 0.5): it misses and meets the wall x = 2.5.
        Assert.That(r[30], Is.EqualTo(2.5f / MathF.Cos(Rad(30))).Within(1e-4f));
        // From above the box, looking down (yaw −90°): the top face y = 0.5 is 1.5 m away.
        Assert.That(Cast(maps, 1.5f, 2.0f, Rad(-90))[0], Is.EqualTo(1.5f).Within(1e-5f));
    }

    [Test]
    public void ObstacleAcrossBeamZeroIsSeenOnBothSides()
    {
        NavMaps maps = EmptyMap();
        maps.CircleCount[0] = 1;
        maps.CircleX[0] = 1.0f * MathF.Cos(Rad(-3)); maps.CircleY[0] = 1.0f * MathF.Sin(Rad(-3)); maps.CircleRadius[0] = 0.1f;
        float[] r = Cast(maps, 0, 0, 0);
        Assert.That(r[357], Is.EqualTo(0.9f).Within(1e-4f), "straight at it");
        Assert.That(r[0], Is.LessThan(1.0f), "beam 0 grazes it (3° off, half-angle 5.7°)");
        Assert.That(r[359], Is.LessThan(1.0f));
        Assert.That(r[3], Is.GreaterThan(2.0f), "6° off: misses");
    }

    [Test]
    public void CullingChangesNothing()
    {
        // Many generated scenarios and poses (including inside obstacles and near walls): culled == brute force, bit for bit.
        var maps = new NavMaps(Nav.Map, Nav.Robot.RobotRadius, 1);
        var random = new ScenarioRandom(99);
        int compared = 0;
        for (int scenario = 0; scenario < 200; scenario++)
        {
            maps.Generate(0, (ulong)scenario);
            for (int pose = 0; pose < 10; pose++)
            {
                float x = random.Uniform(-2.5f, 2.5f), y = random.Uniform(-2.5f, 2.5f), yaw = random.Uniform(-4, 4);
                float[] culled = Cast(maps, x, y, yaw), brute = Cast(maps, x, y, yaw, cull: false);
                for (int k = 0; k < 360; k++)
                    Assert.That(BitConverter.SingleToInt32Bits(culled[k]), Is.EqualTo(BitConverter.SingleToInt32Bits(brute[k])),
                        $"scenario {scenario}, pose ({x}, {y}, {yaw}), beam {k}: {culled[k]} vs {brute[k]}");
                compared++;
            }
        }
        Assert.That(compared, Is.EqualTo(2000));
    }

    [Test]
    public void CastAllocatesNothing()
    {
        NavMaps maps = new(Nav.Map, Nav.Robot.RobotRadius, 1);
        maps.Generate(0, 5);
        var lidar = new LidarKernel(Nav.Robot.Lidar);
        var ranges = new float[lidar.PaddedBeams];
        var scratch = new float[lidar.ScratchSize];
        for (int k = 0; k < 100; k++) lidar.Cast(maps, 0, 0.1f * (k % 10), 0, 0.1f * k, scratch, ranges);
        Assert.That(AllocationMeter.FewestBytes(() => { for (int k = 0; k < 1000; k++) lidar.Cast(maps, 0, 0.1f * (k % 10), 0, 0.1f * k, scratch, ranges); }), Is.EqualTo(0));
    }
}
