using RoboRl.Core.Tasks;
using RoboRl.Sims.DiffDrive;

namespace RoboRl.Sims.Tests.DiffDrive;

public class Nav2LikePlannerTests
{
    private static readonly NavTaskConfig Nav = NavEnvTests.Task();
    private const byte Lethal = Nav2LikePlanner.Lethal, Inscribed = Nav2LikePlanner.Inscribed;

    // ----- A* against a brute-force Dijkstra -----

    /// <summary>Every cell's cheapest cost from start by relaxing all edges until nothing changes (Bellman–Ford), same move rules as A*.</summary>
    private static double[] BruteForceCosts(byte[] cost, int width, int height, int start, int goal, double multiplier)
    {
        var best = new double[cost.Length];
        Array.Fill(best, double.PositiveInfinity);
        best[start] = 0;
        for (bool changed = true; changed;)
        {
            changed = false;
            for (int cell = 0; cell < cost.Length; cell++)
            {
                if (double.IsPositiveInfinity(best[cell])) continue;
                int x = cell % width, y = cell / width;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++)
                    {
                        int nx = x + dx, ny = y + dy;
                        if ((dx == 0 && dy == 0) || nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
                        int next = ny * width + nx;
                        byte c = cost[next];
                        if (c >= Inscribed && !(next == goal && c < Lethal)) continue;
                        double step = (dx != 0 && dy != 0 ? Math.Sqrt(2) : 1) * (1 + multiplier * c / 252.0);
                        if (best[cell] + step < best[next] - 1e-9) { best[next] = best[cell] + step; changed = true; }
                    }
            }
        }
        return best;
    }

    /// <summary>A random grid: free cells, inflated-looking costs and walls.</summary>
    private static byte[] RandomGrid(int width, int height, int seed)
    {
        var random = new System.Random(seed);
        var cost = new byte[width * height];
        for (int k = 0; k < cost.Length; k++)
        {
            double u = random.NextDouble();
            cost[k] = u < 0.2 ? Lethal : u < 0.25 ? Inscribed : u < 0.6 ? (byte)random.Next(1, 253) : (byte)0;
        }
        return cost;
    }

    [Test]
    public void AStarFindsTheCheapestPathLikeDijkstra()
    {
        const int width = 24, height = 17;
        var astar = new GridAStar(width, height);
        var path = new int[width * height];
        int compared = 0;
        for (int seed = 0; seed < 40; seed++)
        {
            byte[] cost = RandomGrid(width, height, seed);
            int start = 1 * width + 1, goal = (height - 2) * width + width - 2;
            cost[start] = 0; cost[goal] = 0;
            double[] best = BruteForceCosts(cost, width, height, start, goal, 2.0);
            int length = astar.FindPath(cost, start, goal, 2f, path, out float found);
            if (double.IsPositiveInfinity(best[goal]))
            {
                Assert.That(length, Is.EqualTo(0), $"seed {seed}: Dijkstra finds no path, A* must not either");
                continue;
            }
            compared++;
            Assert.That(length, Is.GreaterThan(0), $"seed {seed}");
            Assert.That(found, Is.EqualTo(best[goal]).Within(1e-3), $"seed {seed}: optimal cost");
            // The path itself: starts and ends right, 8-connected steps, never through a blocked cell, and costs what A* says.
            Assert.That((path[0], path[length - 1]), Is.EqualTo((start, goal)));
            double sum = 0;
            for (int k = 1; k < length; k++)
            {
                int ax = path[k - 1] % width, ay = path[k - 1] / width, bx = path[k] % width, by = path[k] / width;
                Assert.That(Math.Max(Math.Abs(ax - bx), Math.Abs(ay - by)), Is.EqualTo(1), $"seed {seed}: step {k} is not to a neighbour");
                byte c = cost[path[k]];
                Assert.That(c < Inscribed || path[k] == goal, Is.True, $"seed {seed}: enters a cell of cost {c}");
                sum += (ax != bx && ay != by ? Math.Sqrt(2) : 1) * (1 + 2.0 * c / 252.0);
            }
            Assert.That(sum, Is.EqualTo(best[goal]).Within(1e-3), $"seed {seed}: the path's own cost");
        }
        Assert.That(compared, Is.GreaterThan(10), "enough grids with a path");
    }

    [Test]
    public void AStarFindsNoPathToAnEnclosedGoalAndEscapesAnInflatedStart()
    {
        const int n = 20;
        var astar = new GridAStar(n, n);
        var path = new int[n * n];
        var cost = new byte[n * n];
        // A ring of lethal cells around (10, 10).
        for (int k = 7; k <= 13; k++) { cost[7 * n + k] = Lethal; cost[13 * n + k] = Lethal; cost[k * n + 7] = Lethal; cost[k * n + 13] = Lethal; }
        Assert.That(astar.FindPath(cost, 2 * n + 2, 10 * n + 10, 2f, path, out float none), Is.EqualTo(0));
        Assert.That(none, Is.EqualTo(float.PositiveInfinity));
        // An inscribed ring instead (not lethal): still closed to a search that starts outside it.
        for (int k = 0; k < cost.Length; k++) if (cost[k] == Lethal) cost[k] = Inscribed;
        Assert.That(astar.FindPath(cost, 2 * n + 2, 10 * n + 10, 2f, path, out _), Is.EqualTo(0));
        // Starting inside an inflated (inscribed, non-lethal) zone, the search may leave it.
        var blob = new byte[n * n];
        for (int y = 0; y < 6; y++) for (int x = 0; x < 6; x++) blob[y * n + x] = Inscribed;
        Assert.That(astar.FindPath(blob, 2 * n + 2, 15 * n + 15, 2f, path, out _), Is.GreaterThan(0));
    }

    // ----- the costmap -----

    private static float[] EmptyScan()
    {
        var scan = new float[Nav.Robot.Lidar.Beams];
        Array.Fill(scan, float.PositiveInfinity);
        return scan;
    }

    private static void Act(Nav2LikePlanner planner, float[] scan, float goalDistance = 3, float goalBearing = 0, int robot = 0)
    {
        var action = new float[2];
        planner.Act(new NavPlannerInput { Scan = scan, GoalDistance = goalDistance, GoalBearing = goalBearing, Robot = robot }, action);
    }

    [Test]
    public void MarksWhatTheScanSeesAndInflatesByTheNav2Formula()
    {
        var planner = new Nav2LikePlanner(Nav);
        planner.Reset(1);
        float res = planner.Parameters.Resolution;
        // One return straight ahead at 1.01 m, one at 63° (left) at 0.93 m, at (0.422, 0.829) (both well inside their cells:
        // cells are [k·0.05, (k+1)·0.05) from the start pose); every other beam sees nothing.
        float[] scan = EmptyScan();
        scan[0] = 1.01f;
        scan[63] = 0.93f;
        Act(planner, scan);
        Assert.That(planner.Occupied(0, 1.0f + res / 2, 0.01f), Is.True, "the cell the forward beam ends in");
        Assert.That(planner.Occupied(0, 0.4222f, 0.8286f), Is.True, "the cell the left beam ends in");
        Assert.That(planner.Occupied(0, 0.5f, 0.01f), Is.False);
        Assert.That(planner.Known(0, 0.5f, 0.01f), Is.True, "cleared: a beam passed through it");
        Assert.That(planner.Known(0, 1.5f, 0.01f), Is.False, "behind the hit: never seen");
        Assert.That(planner.Known(0, -1.0f, 0.5f), Is.True, "beams with no return clear up to raytrace_max_range");
        Assert.That(planner.Known(0, -3.2f, 0.01f), Is.False, "beyond raytrace_max_range (3 m)");
        Assert.That(planner.Occupied(0, -1.0f, 0.01f), Is.False);

        // Inflation around the forward hit (cell (120, 100), centre (1.025, 0.025)): every cell's cost is the inflation
        // formula of its distance to the nearer occupied cell (the left hit is cell (108, 116), 20 cells away, so the two
        // zones overlap), 0 beyond inflation_radius.
        float inscribed = Nav.Robot.RobotRadius + planner.Parameters.InscribedMargin;
        byte CostAt(int cellsX, int cellsY)
        {
            float d = MathF.Sqrt(cellsX * cellsX + cellsY * cellsY) * res;
            return d > planner.Parameters.InflationRadius ? (byte)0 : Nav2LikePlanner.InflatedCost(d, inscribed, planner.Parameters.CostScalingFactor);
        }
        float hx = 1.0f + res / 2, hy = res / 2;
        int inflated = 0;
        for (int dy = -13; dy <= 13; dy++)
            for (int dx = -13; dx <= 13; dx++)
            {
                byte expected = Math.Max(CostAt(dx, dy), CostAt(120 + dx - 108, 100 + dy - 116));
                if (expected > 0) inflated++;
                Assert.That(planner.Cost(0, hx + dx * res, hy + dy * res), Is.EqualTo(expected), $"cell ({dx}, {dy}) from the hit");
            }
        Assert.That(inflated, Is.GreaterThan(300), "the zone around the hit (radius 11 cells) was checked");
        Assert.That(Nav2LikePlanner.InflatedCost(0, inscribed, 10), Is.EqualTo(Lethal));
        Assert.That(Nav2LikePlanner.InflatedCost(0.15f, inscribed, 10), Is.EqualTo(Inscribed));
        Assert.That(Nav2LikePlanner.InflatedCost(0.25f, inscribed, 10), Is.EqualTo((byte)(252 * MathF.Exp(-10 * (0.25f - inscribed)))));

        // Clearing: with the obstacle gone, a few scans through it free the cell and the inflation follows.
        scan[0] = float.PositiveInfinity;
        for (int k = 0; k < 4; k++) Act(planner, scan);
        Assert.That(planner.Occupied(0, hx, hy), Is.False);
        Assert.That(planner.Cost(0, hx, hy), Is.EqualTo(0));
        Assert.That(planner.Occupied(0, 0.4222f, 0.8286f), Is.True, "the other hit is still seen");
    }

    [Test]
    public void ResetForgetsTheMap()
    {
        var planner = new Nav2LikePlanner(Nav);
        planner.Reset(2);
        float[] scan = EmptyScan();
        scan[0] = 1.0f;
        Act(planner, scan, robot: 1);
        Assert.That(planner.Occupied(1, 1.02f, 0.02f), Is.True);
        Assert.That(planner.Known(0, 0.5f, 0.02f), Is.False, "robot 0 has its own map");
        planner.Reset(2);
        Assert.That(planner.Known(1, 0.5f, 0.02f), Is.False);
        Assert.That(planner.Occupied(1, 1.02f, 0.02f), Is.False);
    }

    // ----- in the simulator -----

    /// <summary>
    /// A U-shaped pocket (three boxes, open towards the start) between start (−1.6, 0) and goal (1.6, 0), facing the goal:
    /// driving straight at the goal leads into the pocket.
    /// </summary>
    private static void BuildUTrap(NavEnv env, int i)
    {
        NavMaps m = env.Maps;
        m.CircleCount[i] = 0;
        int b = i * m.MaxBoxes;
        (float, float, float, float)[] boxes = [(0.3f, -1.0f, 0.5f, 1.0f), (-0.7f, 0.8f, 0.5f, 1.0f), (-0.7f, -1.0f, 0.5f, -0.8f)];
        for (int k = 0; k < boxes.Length; k++)
            (m.BoxMinX[b + k], m.BoxMinY[b + k], m.BoxMaxX[b + k], m.BoxMaxY[b + k]) = boxes[k];
        m.BoxCount[i] = boxes.Length;
        m.StartX[i] = -1.6f; m.StartY[i] = 0; m.StartYaw[i] = 0;
        m.GoalX[i] = 1.6f; m.GoalY[i] = 0;
        env.RestartEpisode(i);
    }

    /// <summary>Runs the planner on robots 0 … n−1 of <paramref name="env"/> until each finishes; outcomes and the actions of robot 0.</summary>
    private static (NavOutcome[] Outcomes, List<float> Actions) Run(NavEnv env, INavPlanner planner, int n)
    {
        planner.Reset(n);
        var actions = new float[2 * n];
        var outcome = new NavOutcome[n];
        var trace = new List<float>();
        int goalOffset = NavObservation.GoalOffset(Nav.ScanBins);
        for (int t = 0; t < Nav.EpisodeSteps && outcome.Contains(NavOutcome.None); t++)
        {
            for (int i = 0; i < n; i++)
            {
                if (outcome[i] != NavOutcome.None) { actions[2 * i] = 0; actions[2 * i + 1] = 0; continue; }
                ReadOnlySpan<float> row = env.ActorObservations.Slice(i * env.ActorObservationSize, env.ActorObservationSize);
                planner.Act(new NavPlannerInput
                {
                    Observation = row,
                    Scan = env.Scan(i),
                    GoalDistance = row[goalOffset],
                    GoalBearing = MathF.Atan2(row[goalOffset + 1], row[goalOffset + 2]),
                    LinearVelocity = env.LinearVelocity(i),
                    AngularVelocity = env.AngularVelocity(i),
                    Robot = i,
                }, actions.AsSpan(2 * i, 2));
            }
            if (outcome[0] == NavOutcome.None) { trace.Add(actions[0]); trace.Add(actions[1]); }
            env.Step(actions);
            for (int i = 0; i < n; i++)
                if ((env.Terminated[i] || env.Truncated[i]) && outcome[i] == NavOutcome.None) outcome[i] = env.FinishedEpisodeOutcomes[i];
        }
        return (outcome, trace);
    }

    [Test]
    public void EscapesAUShapedTrapThatCatchesTheDwaAlone()
    {
        using var env = new NavEnv(Nav, 1, 1);
        env.Reset(3);
        BuildUTrap(env, 0);
        var (dwa, _) = Run(env, new DwaPlanner(Nav), 1);
        Assert.That(dwa[0], Is.Not.EqualTo(NavOutcome.Goal), "the layout must trap the DWA alone, or the test shows nothing");

        env.Reset(3);
        BuildUTrap(env, 0);
        var planner = new Nav2LikePlanner(Nav);
        var (nav2, _) = Run(env, planner, 1);
        TestContext.Out.WriteLine($"dwa {dwa[0]}, nav2like {nav2[0]} after {planner.PlanCount(0)} plans");
        Assert.That(nav2[0], Is.EqualTo(NavOutcome.Goal));
    }

    [Test]
    public void ReachesMostHeldOutGoalsWithoutCollisions()
    {
        const int n = 20;
        using var env = new NavEnv(Nav, n, 1);
        env.Reset(1);
        for (int i = 0; i < n; i++) env.ResetScenario(i, NavMaps.HeldOutSeedBase + (ulong)i);
        var (outcomes, _) = Run(env, new Nav2LikePlanner(Nav), n);
        TestContext.Out.WriteLine(string.Join(" ", outcomes));
        Assert.That(outcomes.Count(o => o == NavOutcome.Collision), Is.LessThanOrEqualTo(1));
        Assert.That(outcomes.Count(o => o == NavOutcome.Goal), Is.GreaterThanOrEqualTo(16));
    }

    [Test]
    public void IsDeterministic()
    {
        const int n = 6;
        List<float> First()
        {
            using var env = new NavEnv(Nav, n, 1);
            env.Reset(7);
            for (int i = 0; i < n; i++) env.ResetScenario(i, NavMaps.HeldOutSeedBase + 100 + (ulong)i);
            return Run(env, new Nav2LikePlanner(Nav), n).Actions;
        }
        List<float> a = First(), b = First();
        Assert.That(a.Count, Is.GreaterThan(20));
        Assert.That(b, Is.EqualTo(a), "same seed and scenarios, same actions bit for bit");
    }

    [Test]
    public void ActAllocatesNothingAfterReset()
    {
        using var env = new NavEnv(Nav, 1, 1);
        env.Reset(5);
        env.ResetScenario(0, NavMaps.HeldOutSeedBase + 3);
        var planner = new Nav2LikePlanner(Nav);
        planner.Reset(1);
        var action = new float[2];
        int goalOffset = NavObservation.GoalOffset(Nav.ScanBins);
        void Steps(int count)
        {
            for (int k = 0; k < count; k++)
            {
                ReadOnlySpan<float> row = env.ActorObservations[..env.ActorObservationSize];
                planner.Act(new NavPlannerInput
                {
                    Observation = row,
                    Scan = env.Scan(0),
                    GoalDistance = row[goalOffset],
                    GoalBearing = MathF.Atan2(row[goalOffset + 1], row[goalOffset + 2]),
                    LinearVelocity = env.LinearVelocity(0),
                    AngularVelocity = env.AngularVelocity(0),
                }, action);
                env.Step(action);
            }
        }
        Steps(15);
        // 30 steps span replans (every 10 steps) and the grid and inflation updates.
        Assert.That(AllocationMeter.FewestBytes(() => Steps(30)), Is.EqualTo(0));
        Assert.That(planner.PlanCount(0), Is.GreaterThanOrEqualTo(4));
    }
}
