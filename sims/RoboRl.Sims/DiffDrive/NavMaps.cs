using RoboRl.Core.Tasks;

namespace RoboRl.Sims.DiffDrive;

/// <summary>
/// A small SplitMix64 stream (Steele, Lea &amp; Flood, "Fast splittable pseudorandom number generators", 2014): a
/// value type, so generating a map allocates nothing, and a scenario is a pure function of its seed.
/// </summary>
public struct ScenarioRandom(ulong seed)
{
    private ulong _state = seed;

    public ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1).</summary>
    public float Uniform() => (NextUInt64() >> 40) * (1f / (1 << 24));

    public float Uniform(float low, float high) => low + (high - low) * Uniform();

    /// <summary>Uniform integer in [low, high].</summary>
    public int Integer(int low, int high) => low + (int)(NextUInt64() % (ulong)(high - low + 1));
}

/// <summary>
/// One navigation scenario per environment — a walled square arena with circles and axis-aligned boxes, a start pose
/// and a goal — stored as structure of arrays ([env × max obstacles]) and generated in place from a scenario seed:
/// the same seed gives the same scenario in any environment slot, which is how evaluation replays held-out maps.
/// Training draws seeds below <see cref="HeldOutSeedBase"/>; evaluation uses seeds from it on, so the two never meet.
/// </summary>
public sealed class NavMaps
{
    /// <summary>Scenario seeds ≥ this are held out for evaluation (training draws 48-bit seeds).</summary>
    public const ulong HeldOutSeedBase = 1UL << 56;

    /// <summary>Tries per start or goal before an obstacle is removed to make room.</summary>
    private const int PlacementTries = 200;

    private readonly NavMapConfig _config;
    private readonly float _robotRadius;

    public NavMaps(NavMapConfig config, float robotRadius, int count)
    {
        _config = config;
        _robotRadius = robotRadius;
        Count = count;
        MaxCircles = config.MaxCircles;
        MaxBoxes = config.MaxBoxes;
        HalfSize = config.Size / 2;
        CircleX = new float[count * MaxCircles]; CircleY = new float[count * MaxCircles]; CircleRadius = new float[count * MaxCircles];
        BoxMinX = new float[count * MaxBoxes]; BoxMinY = new float[count * MaxBoxes];
        BoxMaxX = new float[count * MaxBoxes]; BoxMaxY = new float[count * MaxBoxes];
        CircleCount = new int[count]; BoxCount = new int[count];
        StartX = new float[count]; StartY = new float[count]; StartYaw = new float[count];
        GoalX = new float[count]; GoalY = new float[count];
        Seed = new ulong[count];
    }

    public int Count { get; }
    public int MaxCircles { get; }
    public int MaxBoxes { get; }
    /// <summary>The arena is [−HalfSize, HalfSize]² (walls on its border).</summary>
    public float HalfSize { get; }
    public NavMapConfig Config => _config;

    // Circles of environment i: indices [i·MaxCircles, i·MaxCircles + CircleCount[i]); boxes likewise.
    public readonly float[] CircleX, CircleY, CircleRadius;
    public readonly float[] BoxMinX, BoxMinY, BoxMaxX, BoxMaxY;
    public readonly int[] CircleCount, BoxCount;
    public readonly float[] StartX, StartY, StartYaw, GoalX, GoalY;
    /// <summary>The scenario seed each slot was generated from.</summary>
    public readonly ulong[] Seed;

    /// <summary>Generates the scenario of <paramref name="seed"/> into slot <paramref name="i"/> (allocates nothing).</summary>
    public void Generate(int i, ulong seed)
    {
        var random = new ScenarioRandom(seed ^ 0x6A09E667F3BCC909UL);
        Seed[i] = seed;
        NavMapConfig c = _config;
        float h = HalfSize;
        int circles = random.Integer(c.Circles.Low, c.Circles.High);
        for (int k = 0; k < circles; k++)
        {
            int j = i * MaxCircles + k;
            CircleX[j] = random.Uniform(-h, h);
            CircleY[j] = random.Uniform(-h, h);
            CircleRadius[j] = random.Uniform(c.CircleRadius.Low, c.CircleRadius.High);
        }
        int boxes = random.Integer(c.Boxes.Low, c.Boxes.High);
        for (int k = 0; k < boxes; k++)
        {
            int j = i * MaxBoxes + k;
            float cx = random.Uniform(-h, h), cy = random.Uniform(-h, h);
            float hx = random.Uniform(c.BoxHalfSize.Low, c.BoxHalfSize.High), hy = random.Uniform(c.BoxHalfSize.Low, c.BoxHalfSize.High);
            BoxMinX[j] = cx - hx; BoxMaxX[j] = cx + hx;
            BoxMinY[j] = cy - hy; BoxMaxY[j] = cy + hy;
        }
        CircleCount[i] = circles;
        BoxCount[i] = boxes;
        StartYaw[i] = random.Uniform(-MathF.PI, MathF.PI);

        // Start and goal in free space; when the obstacles leave no room, drop one (boxes first) and try again.
        while (true)
        {
            if (TryPlaceStartAndGoal(i, ref random)) return;
            if (BoxCount[i] > 0) BoxCount[i]--;
            else if (CircleCount[i] > 0) CircleCount[i]--;
            else
            {
                // An empty arena: corner to corner along the diagonal always fits (the config checks the distance).
                float inner = h - c.Clearance, d = c.StartGoalDistance.High;
                StartX[i] = -inner; StartY[i] = -inner;
                GoalX[i] = -inner + d / MathF.Sqrt(2); GoalY[i] = GoalX[i];
                return;
            }
        }
    }

    private bool TryPlaceStartAndGoal(int i, ref ScenarioRandom random)
    {
        NavMapConfig c = _config;
        float inner = HalfSize - c.Clearance;
        for (int attempt = 0; attempt < PlacementTries; attempt++)
        {
            float sx = random.Uniform(-inner, inner), sy = random.Uniform(-inner, inner);
            if (Clearance(i, sx, sy) < c.Clearance) continue;
            for (int g = 0; g < PlacementTries / 10; g++)
            {
                float distance = random.Uniform(c.StartGoalDistance.Low, c.StartGoalDistance.High);
                float angle = random.Uniform(-MathF.PI, MathF.PI);
                float gx = sx + distance * MathF.Cos(angle), gy = sy + distance * MathF.Sin(angle);
                if (MathF.Abs(gx) > inner || MathF.Abs(gy) > inner || Clearance(i, gx, gy) < c.Clearance) continue;
                StartX[i] = sx; StartY[i] = sy; GoalX[i] = gx; GoalY[i] = gy;
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// Distance from point (x, y) to the nearest obstacle surface or wall in slot <paramref name="i"/>, metres
    /// (negative inside an obstacle or outside the arena). A robot of radius R collides when this is below R.
    /// </summary>
    public float Clearance(int i, float x, float y)
    {
        float h = HalfSize;
        float clearance = MathF.Min(h - MathF.Abs(x), h - MathF.Abs(y));
        int c0 = i * MaxCircles, c1 = c0 + CircleCount[i];
        for (int j = c0; j < c1; j++)
        {
            float dx = x - CircleX[j], dy = y - CircleY[j];
            clearance = MathF.Min(clearance, MathF.Sqrt(dx * dx + dy * dy) - CircleRadius[j]);
        }
        int b0 = i * MaxBoxes, b1 = b0 + BoxCount[i];
        for (int j = b0; j < b1; j++)
        {
            // Signed distance to an axis-aligned box: outside = length of the outward offset, inside = −depth.
            float qx = MathF.Max(BoxMinX[j] - x, x - BoxMaxX[j]);
            float qy = MathF.Max(BoxMinY[j] - y, y - BoxMaxY[j]);
            float outside = MathF.Sqrt(MathF.Max(qx, 0) * MathF.Max(qx, 0) + MathF.Max(qy, 0) * MathF.Max(qy, 0));
            clearance = MathF.Min(clearance, outside + MathF.Min(MathF.Max(qx, qy), 0));
        }
        return clearance;
    }
}
