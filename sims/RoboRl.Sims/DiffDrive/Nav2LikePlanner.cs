using RoboRl.Core.DiffDrive;
using RoboRl.Core.Tasks;

namespace RoboRl.Sims.DiffDrive;

/// <summary>
/// Tuning of <see cref="Nav2LikePlanner"/>. Defaults are Nav2's own where Nav2 has the parameter (named in each line);
/// docs/nav-baseline.md lists them with their sources.
/// </summary>
/// <param name="Resolution">Cell size, metres (costmap_2d <c>resolution</c>, default 0.05).</param>
/// <param name="InscribedMargin">Added to the robot radius for the lethal ("inscribed") zone of the inflation, metres; the DWA's safety margin.</param>
/// <param name="InflationRadius">Cost decays out to this distance from an obstacle, metres (inflation_layer <c>inflation_radius</c>, default 0.55).</param>
/// <param name="CostScalingFactor">Exponential decay of the inflated cost beyond the inscribed radius, 1/m (inflation_layer <c>cost_scaling_factor</c>, default 10).</param>
/// <param name="CostTravelMultiplier">A* step cost = length·(1 + this·cost/252) (SmacPlanner2D <c>cost_travel_multiplier</c>, default 2).</param>
/// <param name="ObstacleMaxRange">Returns beyond this mark nothing (obstacle_layer <c>obstacle_max_range</c>, default 2.5 m).</param>
/// <param name="RaytraceMaxRange">Free space is cleared along a beam up to this range (obstacle_layer <c>raytrace_max_range</c>, default 3.0 m).</param>
/// <param name="ReplanPeriodSeconds">Fixed replanning period (Nav2's default behaviour tree replans at 1 Hz: <c>RateController hz="1.0"</c>); a blocked path replans at once.</param>
/// <param name="CarrotDistance">Distance along the global path to the point the DWA drives towards (regulated_pure_pursuit <c>lookahead_dist</c>, default 0.6 m).</param>
/// <param name="LogOddsHit">Log-odds added to a cell a beam ends in (OctoMap's default hit probability 0.7; Hornung et al. 2013).</param>
/// <param name="LogOddsMiss">Log-odds added to a cell a beam passes through (OctoMap's miss probability 0.4).</param>
/// <param name="LogOddsMin">Clamping of the log-odds (OctoMap's 0.12 / 0.97), so a cell changes its mind after a few scans.</param>
/// <param name="LogOddsMax">Upper clamp.</param>
/// <param name="Dwa">The local controller's tuning (<see cref="DwaPlanner"/>'s defaults).</param>
public sealed record Nav2LikeParameters(
    float Resolution = 0.05f,
    float InscribedMargin = 0.05f,
    float InflationRadius = 0.55f,
    float CostScalingFactor = 10f,
    float CostTravelMultiplier = 2f,
    float ObstacleMaxRange = 2.5f,
    float RaytraceMaxRange = 3.0f,
    float ReplanPeriodSeconds = 1f,
    float CarrotDistance = 0.6f,
    float LogOddsHit = 0.85f,
    float LogOddsMiss = -0.4f,
    float LogOddsMin = -2f,
    float LogOddsMax = 3.5f,
    DwaParameters? Dwa = null);

/// <summary>
/// A Nav2-class navigation stack in one file, what a ROS 2 user runs on a TurtleBot3: a costmap built online, a global
/// planner on it, and a local controller following the global path. Per robot and control step:
/// <list type="number">
/// <item>odometry: the pose in the odometry frame (origin = the episode's start pose) is integrated from the encoder
///   velocities (trapezoidal, exact arcs) — no map, no localisation; the goal, seen relative to the robot, is placed in that
///   frame every step;</item>
/// <item>costmap (costmap_2d's obstacle layer, but with log-odds as in OctoMap): every beam clears the cells it passes
///   (up to <c>raytrace_max_range</c>) and marks the cell it ends in (up to <c>obstacle_max_range</c>), each cell updated
///   once per scan with hits first; NaN dropouts are
///   skipped; cells never seen stay unknown and count as free (<c>track_unknown_space: true</c>, <c>allow_unknown: true</c>);</item>
/// <item>inflation (inflation_layer): an occupied cell is LETHAL (254), cells within the inscribed radius (robot radius +
///   margin) INSCRIBED (253), beyond that 252·e^(−cost_scaling_factor·(d − inscribed)) out to <c>inflation_radius</c>;</item>
/// <item>global planner (SmacPlanner2D: cost-aware 8-connected A*, octile heuristic): replanned every
///   <c>ReplanPeriodSeconds</c> and at once when a cell of the remaining path turns lethal or inscribed;</item>
/// <item>local controller: <see cref="DwaPlanner"/> on the raw scan, its goal replaced by a carrot
///   <c>CarrotDistance</c> along the path (pure pursuit's lookahead point; DWB's path-following critics play that role in
///   Nav2); with no path (the goal walled in on the map so far), the DWA heads for the goal itself.</item>
/// </list>
/// One planner serves many robots (the evaluator's vectorised environments): state per robot, buffers sized once in
/// <see cref="Reset"/>; nothing is allocated per control step, and it is deterministic (no randomness, fixed order).
/// </summary>
public sealed class Nav2LikePlanner : INavPlanner
{
    public const byte Lethal = 254, Inscribed = 253, MaxNonLethal = 252;

    private readonly DiffDriveConfig _robot;
    private readonly Nav2LikeParameters _p;
    private readonly DwaPlanner _dwa;
    private readonly float _dt;
    private readonly int _replanSteps;
    private readonly GridAStar _aStar;
    private readonly Kernel[] _kernel; // inflation stamp: offsets within inflation_radius and their costs
    private RobotState[] _robots = [];

    /// <summary>Cells per side of each robot's square grid, centred on its start pose.</summary>
    public int GridSize { get; }
    public Nav2LikeParameters Parameters => _p;
    public string Name => "nav2like";

    private readonly record struct Kernel(int Dx, int Dy, byte Cost);

    public Nav2LikePlanner(NavTaskConfig task, Nav2LikeParameters? parameters = null)
    {
        _robot = task.Robot;
        _p = parameters ?? new Nav2LikeParameters();
        if (_p.Resolution <= 0) throw new ArgumentOutOfRangeException(nameof(parameters), _p.Resolution, "Resolution must be > 0");
        if (_p.InflationRadius < _robot.RobotRadius + _p.InscribedMargin)
            throw new ArgumentOutOfRangeException(nameof(parameters), _p.InflationRadius, "InflationRadius must be ≥ robot radius + InscribedMargin");
        _dwa = new DwaPlanner(task, _p.Dwa);
        _dt = task.ControlDt;
        _replanSteps = Math.Max(1, (int)MathF.Round(_p.ReplanPeriodSeconds / _dt));
        // The robot starts inside the arena, so ±(arena size) around the start holds all of it, whatever the start.
        GridSize = (int)MathF.Ceiling(2 * task.Map.Size / _p.Resolution);
        _aStar = new GridAStar(GridSize, GridSize);

        float inscribed = _robot.RobotRadius + _p.InscribedMargin;
        int reach = (int)MathF.Ceiling(_p.InflationRadius / _p.Resolution);
        var kernel = new List<Kernel>();
        for (int dy = -reach; dy <= reach; dy++)
            for (int dx = -reach; dx <= reach; dx++)
            {
                float d = MathF.Sqrt(dx * dx + dy * dy) * _p.Resolution;
                if (d > _p.InflationRadius) continue;
                byte cost = InflatedCost(d, inscribed, _p.CostScalingFactor);
                if (cost > 0) kernel.Add(new Kernel(dx, dy, cost));
            }
        _kernel = kernel.ToArray();
    }

    /// <summary>inflation_layer's cost at distance d from an obstacle cell: LETHAL at 0, INSCRIBED within the inscribed radius, then exponential decay.</summary>
    public static byte InflatedCost(float d, float inscribedRadius, float costScalingFactor)
    {
        if (d == 0) return Lethal;
        if (d <= inscribedRadius) return Inscribed;
        return (byte)(MaxNonLethal * MathF.Exp(-costScalingFactor * (d - inscribedRadius)));
    }

    /// <summary>Forgets every robot's map and path and sizes state for <paramref name="robotCount"/> robots (the only place that allocates).</summary>
    public void Reset(int robotCount)
    {
        if (_robots.Length < robotCount)
        {
            var grown = new RobotState[robotCount];
            Array.Copy(_robots, grown, _robots.Length);
            for (int i = _robots.Length; i < robotCount; i++) grown[i] = new RobotState(GridSize * GridSize);
            _robots = grown;
        }
        foreach (RobotState s in _robots) s.Clear();
    }

    public void Act(in NavPlannerInput input, Span<float> action)
    {
        if ((uint)input.Robot >= (uint)_robots.Length)
            throw new InvalidOperationException($"robot {input.Robot}: call Reset(robotCount) with more than {input.Robot} robots first");
        RobotState s = _robots[input.Robot];

        // 1. Odometry: integrate the encoder velocities over the last control period (mean of its end points, as an arc).
        if (!s.Started) { s.Started = true; s.PreviousV = input.LinearVelocity; s.PreviousW = input.AngularVelocity; }
        {
            float v = 0.5f * (s.PreviousV + input.LinearVelocity), w = 0.5f * (s.PreviousW + input.AngularVelocity);
            float turn = w * _dt, chord = MathF.Abs(turn) < 1e-6f ? v * _dt : v * 2f * MathF.Sin(0.5f * turn) / w;
            s.X += chord * MathF.Cos(s.Yaw + 0.5f * turn);
            s.Y += chord * MathF.Sin(s.Yaw + 0.5f * turn);
            s.Yaw = MathF.IEEERemainder(s.Yaw + turn, 2 * MathF.PI);
            s.PreviousV = input.LinearVelocity; s.PreviousW = input.AngularVelocity;
        }
        float goalX = s.X + input.GoalDistance * MathF.Cos(s.Yaw + input.GoalBearing);
        float goalY = s.Y + input.GoalDistance * MathF.Sin(s.Yaw + input.GoalBearing);

        // 2–3. Costmap from this scan; newly occupied cells are inflated at once, cleared ones at the next plan.
        UpdateCostmap(s, input.Scan);

        // 4. Global plan: at the fixed rate, when the path is blocked, or when there is none yet.
        int robotCell = CellOf(s.X, s.Y);
        AdvanceCursor(s);
        bool due = s.StepsSincePlan >= _replanSteps || s.PathLength == 0 || PathBlocked(s);
        s.StepsSincePlan++;
        if (due)
        {
            if (s.InflationStale) Reinflate(s);
            int goalCell = CellOf(goalX, goalY);
            s.PathLength = _aStar.FindPath(s.Cost, robotCell, goalCell, _p.CostTravelMultiplier, s.Path, out _);
            s.Cursor = 0;
            s.StepsSincePlan = 1;
            s.Plans++;
        }

        // 5. Local control: the DWA drives towards the carrot on the path (or the goal itself near the end or without a path).
        float targetDistance = input.GoalDistance, targetBearing = input.GoalBearing;
        if (s.PathLength > 0 && input.GoalDistance > _p.CarrotDistance)
        {
            (float cx, float cy) = Carrot(s);
            float dx = cx - s.X, dy = cy - s.Y;
            targetDistance = MathF.Sqrt(dx * dx + dy * dy);
            targetBearing = MathF.IEEERemainder(MathF.Atan2(dy, dx) - s.Yaw, 2 * MathF.PI);
        }
        _dwa.Act(new NavPlannerInput
        {
            Observation = input.Observation,
            Scan = input.Scan,
            Robot = input.Robot,
            GoalDistance = targetDistance,
            GoalBearing = targetBearing,
            LinearVelocity = input.LinearVelocity,
            AngularVelocity = input.AngularVelocity,
        }, action);
    }

    // ----- costmap -----

    private void UpdateCostmap(RobotState s, ReadOnlySpan<float> scan)
    {
        LidarConfig lidar = _robot.Lidar;
        float increment = lidar.AngleIncrement;
        int x0 = CellX(s.X), y0 = CellY(s.Y);
        // One update per cell and scan, hits first: neighbouring beams grazing past a surface cell must not outvote the
        // beam that ends in it (costmap_2d likewise clears, then marks over the cleared cells).
        s.ScanId++;
        for (int pass = 0; pass < 2; pass++)
        {
            for (int k = 0; k < scan.Length; k++)
            {
                float r = scan[k];
                if (float.IsNaN(r)) continue;                             // dropout
                bool hit = !float.IsPositiveInfinity(r);                  // +∞: no return within range_max
                if (float.IsNegativeInfinity(r)) r = lidar.RangeMin;     // too close: as close as it reports
                if (!hit) r = lidar.RangeMax;
                hit &= r <= _p.ObstacleMaxRange;
                float angle = s.Yaw + k * increment, cos = MathF.Cos(angle), sin = MathF.Sin(angle);
                if (pass == 0)
                {
                    if (hit) Mark(s, CellX(s.X + r * cos), CellY(s.Y + r * sin), _p.LogOddsHit);
                    continue;
                }
                float clear = MathF.Min(r, _p.RaytraceMaxRange);
                int x1 = CellX(s.X + clear * cos), y1 = CellY(s.Y + clear * sin);
                // Bresenham from the robot's cell; the end cell itself is the hit's (or, when the beam was cut at the
                // raytrace range, not known to be free).
                int dx = Math.Abs(x1 - x0), dy = -Math.Abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, error = dx + dy;
                int x = x0, y = y0;
                while (x != x1 || y != y1)
                {
                    Mark(s, x, y, _p.LogOddsMiss);
                    int e2 = 2 * error;
                    if (e2 >= dy) { error += dy; x += sx; }
                    if (e2 <= dx) { error += dx; y += sy; }
                }
            }
        }
    }

    /// <summary>Adds log-odds to cell (x, y) (outside the grid: ignored) and keeps the inflated costs in step with its occupancy.</summary>
    private void Mark(RobotState s, int x, int y, float logOdds)
    {
        if ((uint)x >= (uint)GridSize || (uint)y >= (uint)GridSize) return;
        int cell = y * GridSize + x;
        if (s.UpdatedInScan[cell] == s.ScanId) return;
        s.UpdatedInScan[cell] = s.ScanId;
        float before = s.LogOdds[cell], after = Math.Clamp(before + logOdds, _p.LogOddsMin, _p.LogOddsMax);
        s.LogOdds[cell] = after;
        bool wasOccupied = before > 0, isOccupied = after > 0;
        if (isOccupied && !wasOccupied) Stamp(s, x, y);
        else if (wasOccupied && !isOccupied) s.InflationStale = true; // lowering costs needs a fresh inflation
    }

    /// <summary>Inflates one occupied cell: every cell within inflation_radius takes the larger of its cost and the kernel's.</summary>
    private void Stamp(RobotState s, int x, int y)
    {
        int n = GridSize;
        foreach (Kernel k in _kernel)
        {
            int cx = x + k.Dx, cy = y + k.Dy;
            if ((uint)cx >= (uint)n || (uint)cy >= (uint)n) continue;
            int cell = cy * n + cx;
            if (s.Cost[cell] < k.Cost) s.Cost[cell] = k.Cost;
        }
    }

    private void Reinflate(RobotState s)
    {
        Array.Clear(s.Cost);
        int n = GridSize;
        for (int cell = 0; cell < s.LogOdds.Length; cell++)
            if (s.LogOdds[cell] > 0) Stamp(s, cell % n, cell / n);
        s.InflationStale = false;
    }

    // ----- path following -----

    /// <summary>Moves the cursor to the path cell nearest the robot among the next few (the part behind is done: pure pursuit's pruning).</summary>
    private void AdvanceCursor(RobotState s)
    {
        if (s.PathLength == 0) return;
        int window = Math.Min(s.PathLength, s.Cursor + (int)(2 * _p.CarrotDistance / _p.Resolution) + 2);
        float best = float.PositiveInfinity;
        int bestIndex = s.Cursor;
        for (int k = s.Cursor; k < window; k++)
        {
            (float px, float py) = CentreOf(s.Path[k]);
            float d = (px - s.X) * (px - s.X) + (py - s.Y) * (py - s.Y);
            if (d < best) { best = d; bestIndex = k; }
        }
        s.Cursor = bestIndex;
    }

    /// <summary>True when a cell of the path ahead (past any inscribed stretch the robot is still leaving) is now lethal or inscribed.</summary>
    private static bool PathBlocked(RobotState s)
    {
        int k = s.Cursor;
        while (k < s.PathLength && s.Cost[s.Path[k]] >= Inscribed) k++; // the escape from an inflated zone the plan started in
        for (; k < s.PathLength; k++)
            if (s.Cost[s.Path[k]] >= Inscribed) return true;
        return false;
    }

    /// <summary>The point <c>CarrotDistance</c> along the path from the cursor (the path's end if it is shorter).</summary>
    private (float X, float Y) Carrot(RobotState s)
    {
        (float x, float y) = CentreOf(s.Path[s.Cursor]);
        float travelled = 0;
        for (int k = s.Cursor + 1; k < s.PathLength; k++)
        {
            (float nx, float ny) = CentreOf(s.Path[k]);
            travelled += MathF.Sqrt((nx - x) * (nx - x) + (ny - y) * (ny - y));
            x = nx; y = ny;
            if (travelled >= _p.CarrotDistance) break;
        }
        return (x, y);
    }

    // ----- grid geometry (odometry frame, origin at the start pose, the grid centred on it) -----

    private float Origin => -0.5f * GridSize * _p.Resolution;
    private int CellX(float x) => (int)MathF.Floor((x - Origin) / _p.Resolution);
    private int CellY(float y) => (int)MathF.Floor((y - Origin) / _p.Resolution);
    /// <summary>The cell holding (x, y), clamped into the grid.</summary>
    private int CellOf(float x, float y) => Math.Clamp(CellY(y), 0, GridSize - 1) * GridSize + Math.Clamp(CellX(x), 0, GridSize - 1);
    private (float X, float Y) CentreOf(int cell) => (Origin + (cell % GridSize + 0.5f) * _p.Resolution, Origin + (cell / GridSize + 0.5f) * _p.Resolution);

    // ----- views for tests and plots -----

    /// <summary>Robot <paramref name="robot"/>'s pose estimate in its odometry frame (x, y, yaw).</summary>
    public (float X, float Y, float Yaw) Pose(int robot) => (_robots[robot].X, _robots[robot].Y, _robots[robot].Yaw);
    /// <summary>Whether the cell holding odometry-frame point (x, y) is occupied on robot <paramref name="robot"/>'s map.</summary>
    public bool Occupied(int robot, float x, float y) => _robots[robot].LogOdds[CellOf(x, y)] > 0;
    /// <summary>Whether that cell was ever seen (its log-odds moved off "unknown").</summary>
    public bool Known(int robot, float x, float y) => _robots[robot].LogOdds[CellOf(x, y)] != 0;
    /// <summary>The inflated cost of that cell (0 free … 254 lethal), as the global planner last saw it after a fresh inflation.</summary>
    public byte Cost(int robot, float x, float y)
    {
        RobotState s = _robots[robot];
        if (s.InflationStale) Reinflate(s);
        return s.Cost[CellOf(x, y)];
    }
    /// <summary>Global plans made for robot <paramref name="robot"/> since <see cref="Reset"/>, and the current path's cells.</summary>
    public int PlanCount(int robot) => _robots[robot].Plans;
    public int PathLength(int robot) => _robots[robot].PathLength;

    private sealed class RobotState(int cells)
    {
        public readonly float[] LogOdds = new float[cells];
        public readonly byte[] Cost = new byte[cells];
        public readonly int[] Path = new int[cells];
        public readonly int[] UpdatedInScan = new int[cells]; // == ScanId: this scan already updated the cell
        public float X, Y, Yaw, PreviousV, PreviousW;
        public bool Started, InflationStale;
        public int PathLength, Cursor, StepsSincePlan, Plans, ScanId;

        public void Clear()
        {
            Array.Clear(LogOdds); Array.Clear(Cost); Array.Clear(UpdatedInScan);
            X = Y = Yaw = PreviousV = PreviousW = 0;
            Started = InflationStale = false;
            PathLength = Cursor = StepsSincePlan = Plans = ScanId = 0;
        }
    }
}

/// <summary>
/// Cost-aware A* on an 8-connected grid of costmap_2d costs, as Nav2's SmacPlanner2D searches: a step of length L (1 or √2
/// cells) into a cell of cost c costs L·(1 + m·c/252) (m = <c>cost_travel_multiplier</c>); cells of cost ≥ INSCRIBED (253)
/// cannot be entered, except the goal (if not LETHAL) and, while the search is still inside an inflated zone it started in,
/// non-lethal cells (to escape it). The octile heuristic max·1 + min·(√2 − 1) is admissible and consistent since every
/// step costs at least its length, so the first time the goal is popped its cost is optimal. Buffers are allocated once.
/// </summary>
public sealed class GridAStar
{
    private static readonly float Diagonal = MathF.Sqrt(2f);
    private readonly int _width, _height;
    private readonly float[] _g;
    private readonly int[] _parent, _seen;  // _seen[cell] == _search: g and parent are this search's
    private readonly bool[] _closed;
    private readonly float[] _heapKey;      // binary min-heap of (f, cell) with lazy deletion: at most 8 pushes per cell
    private readonly int[] _heapCell;
    private int _heapCount, _search;

    public GridAStar(int width, int height)
    {
        _width = width; _height = height;
        int cells = width * height;
        _g = new float[cells]; _parent = new int[cells]; _seen = new int[cells]; _closed = new bool[cells];
        _heapKey = new float[8 * cells + 1]; _heapCell = new int[8 * cells + 1];
    }

    /// <summary>
    /// The cheapest path from <paramref name="start"/> to <paramref name="goal"/> (cell indices y·width + x) written into
    /// <paramref name="path"/> start first; returns its number of cells, 0 when the goal cannot be reached.
    /// </summary>
    public int FindPath(ReadOnlySpan<byte> cost, int start, int goal, float costTravelMultiplier, Span<int> path, out float pathCost)
    {
        pathCost = float.PositiveInfinity;
        if (++_search == int.MaxValue) { Array.Clear(_seen); _search = 1; }
        Array.Clear(_closed);
        _heapCount = 0;
        int goalX = goal % _width, goalY = goal / _width;
        _g[start] = 0; _parent[start] = -1; _seen[start] = _search;
        Push(Heuristic(start, goalX, goalY), start);
        float scale = costTravelMultiplier / Nav2LikePlanner.MaxNonLethal;
        while (_heapCount > 0)
        {
            int cell = Pop();
            if (_closed[cell]) continue; // a stale entry
            _closed[cell] = true;
            if (cell == goal)
            {
                pathCost = _g[goal];
                int length = 0;
                for (int c = goal; c != -1; c = _parent[c]) length++;
                if (length > path.Length) return 0;
                for (int c = goal, k = length - 1; c != -1; c = _parent[c], k--) path[k] = c;
                return length;
            }
            int x = cell % _width, y = cell / _width;
            bool escaping = cost[cell] >= Nav2LikePlanner.Inscribed;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++)
                {
                    if (dx == 0 && dy == 0) continue;
                    int nx = x + dx, ny = y + dy;
                    if ((uint)nx >= (uint)_width || (uint)ny >= (uint)_height) continue;
                    int next = ny * _width + nx;
                    byte c = cost[next];
                    bool enterable = c < Nav2LikePlanner.Inscribed || (c < Nav2LikePlanner.Lethal && (escaping || next == goal));
                    if (!enterable || _closed[next]) continue;
                    float step = (dx != 0 && dy != 0 ? Diagonal : 1f) * (1f + scale * Math.Min(c, Nav2LikePlanner.MaxNonLethal));
                    float g = _g[cell] + step;
                    if (_seen[next] == _search && g >= _g[next]) continue;
                    _g[next] = g; _parent[next] = cell; _seen[next] = _search;
                    Push(g + Heuristic(next, goalX, goalY), next);
                }
        }
        return 0;
    }

    /// <summary>Octile distance in cells.</summary>
    private float Heuristic(int cell, int goalX, int goalY)
    {
        int dx = Math.Abs(cell % _width - goalX), dy = Math.Abs(cell / _width - goalY);
        return Math.Max(dx, dy) + (Diagonal - 1f) * Math.Min(dx, dy);
    }

    private void Push(float key, int cell)
    {
        int i = _heapCount++;
        while (i > 0)
        {
            int parent = (i - 1) >> 1;
            if (_heapKey[parent] <= key) break;
            _heapKey[i] = _heapKey[parent]; _heapCell[i] = _heapCell[parent];
            i = parent;
        }
        _heapKey[i] = key; _heapCell[i] = cell;
    }

    private int Pop()
    {
        int top = _heapCell[0];
        float key = _heapKey[--_heapCount];
        int cell = _heapCell[_heapCount], i = 0;
        while (true)
        {
            int child = 2 * i + 1;
            if (child >= _heapCount) break;
            if (child + 1 < _heapCount && _heapKey[child + 1] < _heapKey[child]) child++;
            if (_heapKey[child] >= key) break;
            _heapKey[i] = _heapKey[child]; _heapCell[i] = _heapCell[child];
            i = child;
        }
        _heapKey[i] = key; _heapCell[i] = cell;
        return top;
    }
}
