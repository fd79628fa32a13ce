using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace RoboRl.Core.Swarm;

/// <summary>
/// THE observation builder of a swarm quad (DESIGN.md invariant 1: the simulator uses it; the node and the firmware
/// export are to reuse it). QuadSwarm's layout (Huang et al., ICRA 2024, arXiv 2309.13285; quad-swarm-rl observation
/// "xyz_vxyz_R_omega_floor" + "pos_vel" neighbours + the 3 × 3 SDF):
/// <code>
/// [0..3)    position error p − goal, world ENU, m
/// [3..6)    velocity, world, m/s
/// [6..15)   rotation matrix R (world ← body), row-major
/// [15..18)  angular velocity, body FLU, rad/s
/// [18]      height above the floor, m
/// [19..19+6K) per neighbour, closest-ranked first (<see cref="NeighbourScore"/>): relative position p_j − p_i (3),
///           relative velocity v_j − v_i (3), world
/// [19+6K..28+6K) obstacle signed distances on a 3 × 3 grid at resolution h around the quad (x/y), index 3·gx + gy
///           for offsets (gx − 1)·h in x and (gy − 1)·h in y: the distance to the nearest column surface, clipped
/// [28+6K..28+6K+4H) the last H actions sent, oldest first (task key action_history_length; the rotors lag the commands by
///           0.15 s on a Crazyflie, 15 control steps at 100 Hz, so their speeds are hidden state without it; L2F's finding)
/// </code>
/// 40 values for K = 2 and no history.
/// </summary>
public static class SwarmObservation
{
    public const int SelfSize = 19;
    public const int NeighbourSize = 6;
    public const int SdfSize = 9;

    public static int Size(int neighbours, int history = 0) => SelfSize + NeighbourSize * neighbours + SdfSize + ActionSize * history;
    public static int HistoryOffset(int neighbours) => SelfSize + NeighbourSize * neighbours + SdfSize;
    /// <summary>Actions per step in the history (four rotor commands).</summary>
    public const int ActionSize = 4;
    public static int NeighbourOffset(int k) => SelfSize + NeighbourSize * k;
    public static int SdfOffset(int neighbours) => SelfSize + NeighbourSize * neighbours;

    /// <summary>Writes the 19 own values into <paramref name="d"/>[0..19).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteSelf(Vector3 position, Quaternion orientation, Vector3 velocityWorld, Vector3 angularVelocityBody, Vector3 goal, Span<float> d)
    {
        d = d[..SelfSize];
        d[0] = position.X - goal.X; d[1] = position.Y - goal.Y; d[2] = position.Z - goal.Z;
        d[3] = velocityWorld.X; d[4] = velocityWorld.Y; d[5] = velocityWorld.Z;
        float w = orientation.W, x = orientation.X, y = orientation.Y, z = orientation.Z;
        // Rotation matrix of a unit quaternion (Hamilton convention, body → world), as HoverObservation.
        d[6] = 1 - 2 * (y * y + z * z); d[7] = 2 * (x * y - w * z); d[8] = 2 * (x * z + w * y);
        d[9] = 2 * (x * y + w * z); d[10] = 1 - 2 * (x * x + z * z); d[11] = 2 * (y * z - w * x);
        d[12] = 2 * (x * z - w * y); d[13] = 2 * (y * z + w * x); d[14] = 1 - 2 * (x * x + y * y);
        d[15] = angularVelocityBody.X; d[16] = angularVelocityBody.Y; d[17] = angularVelocityBody.Z;
        d[18] = position.Z;
    }

    /// <summary>
    /// QuadSwarm's neighbour ranking (arXiv 2309.13285, the neighbour observation; quad-swarm-rl): score =
    /// |r| + dot(r/|r|, v_rel), r = p_j − p_i, v_rel = v_j − v_i; the K lowest scores are observed, so a neighbour closing
    /// in (dot &lt; 0) ranks before an equally distant one moving away. Coincident quads score 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float NeighbourScore(float rx, float ry, float rz, float vx, float vy, float vz)
    {
        float d = MathF.Sqrt(rx * rx + ry * ry + rz * rz);
        return d > 0 ? d + (rx * vx + ry * vy + rz * vz) / d : 0f;
    }

    /// <summary>
    /// Ranks the other quads of one swarm for quad <paramref name="q"/> by <see cref="NeighbourScore"/> and writes the
    /// <paramref name="neighbours"/> lowest-scored as tokens into <paramref name="observation"/> (relative position, relative
    /// velocity, world; ties: lower index first). The swarm's state is given per quad (<paramref name="px"/> … of equal
    /// length N; quad q's own entries included). On the way it lowers <paramref name="minSeparation"/> to the least
    /// distance to another quad and adds max(0, 1 − d / <paramref name="proximityRange"/>) per other quad to
    /// <paramref name="proximity"/> (the swarm's reward and statistics use them; the node counts separations with them).
    /// The simulator and the node both call this, so their observations are the same for the same states.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteNeighbours(int q, int neighbours, ReadOnlySpan<float> px, ReadOnlySpan<float> py, ReadOnlySpan<float> pz,
        ReadOnlySpan<float> vx, ReadOnlySpan<float> vy, ReadOnlySpan<float> vz, float proximityRange, Span<float> observation,
        ref float minSeparation, ref float proximity)
    {
        Span<float> bestScore = stackalloc float[MaxNeighbours];
        Span<int> bestIndex = stackalloc int[MaxNeighbours];
        int n = px.Length, kept = 0;
        float x = px[q], y = py[q], z = pz[q], u = vx[q], v = vy[q], w = vz[q];
        for (int j = 0; j < n; j++)
        {
            if (j == q) continue;
            float rx = px[j] - x, ry = py[j] - y, rz = pz[j] - z;
            float score = NeighbourScore(rx, ry, rz, vx[j] - u, vy[j] - v, vz[j] - w);
            float d = MathF.Sqrt(rx * rx + ry * ry + rz * rz);
            minSeparation = MathF.Min(minSeparation, d);
            proximity += MathF.Max(0, 1 - d / proximityRange);
            if (kept < neighbours || (neighbours > 0 && score < bestScore[kept - 1]))
            {
                int at = kept < neighbours ? kept++ : kept - 1;
                while (at > 0 && score < bestScore[at - 1]) { bestScore[at] = bestScore[at - 1]; bestIndex[at] = bestIndex[at - 1]; at--; }
                bestScore[at] = score; bestIndex[at] = j;
            }
        }
        for (int k = 0; k < neighbours; k++)
        {
            int j = bestIndex[k];
            Span<float> nb = observation.Slice(NeighbourOffset(k), NeighbourSize);
            nb[0] = px[j] - x; nb[1] = py[j] - y; nb[2] = pz[j] - z;
            nb[3] = vx[j] - u; nb[4] = vy[j] - v; nb[5] = vz[j] - w;
        }
    }

    /// <summary>The most neighbours an observation holds (<see cref="SwarmTaskConfig.MaxNeighbours"/>).</summary>
    public const int MaxNeighbours = SwarmTaskConfig.MaxNeighbours;

    /// <summary>K of a swarm observation given by its value names (a bundle's observation.names), or null when the names are not
    /// own state + K neighbour tokens + SDF grid (+ action history) in this builder's order.</summary>
    public static int? NeighbourCount(IReadOnlyList<string> names)
    {
        int k = names.Count(n => n.StartsWith("nb", StringComparison.Ordinal) && n.EndsWith("_rel_pos_x", StringComparison.Ordinal));
        return names.SequenceEqual(Names(k, HistoryLength(names))) ? k : null;
    }

    /// <summary>H, the actions of history in a swarm observation given by its value names.</summary>
    public static int HistoryLength(IReadOnlyList<string> names) =>
        names.Count(n => n.StartsWith("action_t-", StringComparison.Ordinal)) / ActionSize;

    /// <summary>
    /// The 3 × 3 signed-distance grid of floor-to-ceiling columns (radius <paramref name="radius"/>, centres
    /// <paramref name="columnX"/>/<paramref name="columnY"/>) around (x, y), each value min over columns of
    /// (|g − c| − radius) clipped to <paramref name="clip"/> (quad-swarm-rl obstacles/utils.py get_surround_sdfs; the clip
    /// is ours). The column arrays' length must be a multiple of 8; unused entries hold a far-away sentinel
    /// (<see cref="AbsentColumn"/>). Returns the unclipped signed distance at (x, y) itself (+∞ without columns).
    /// </summary>
    public static float WriteSdf(float x, float y, ReadOnlySpan<float> columnX, ReadOnlySpan<float> columnY, int columns,
        float radius, float resolution, float clip, Span<float> destination)
    {
        if (columnX.Length % 8 != 0 || columnY.Length != columnX.Length)
            throw new ArgumentException("column arrays must have equal lengths that are multiples of 8", nameof(columnX));
        Span<float> d = destination[..SdfSize];
        float big = float.MaxValue;
        Vector256<float> m0 = Vector256.Create(big), m1 = m0, m2 = m0, m3 = m0, m4 = m0, m5 = m0, m6 = m0, m7 = m0, m8 = m0;
        Vector256<float> vx = Vector256.Create(x), vy = Vector256.Create(y), h = Vector256.Create(resolution);
        ref float cx = ref MemoryMarshal.GetReference(columnX);
        ref float cy = ref MemoryMarshal.GetReference(columnY);
        int used = (columns + 7) & ~7;
        for (int k = 0; k < used; k += 8)
        {
            Vector256<float> dx = vx - Vector256.LoadUnsafe(ref cx, (nuint)k);
            Vector256<float> dy = vy - Vector256.LoadUnsafe(ref cy, (nuint)k);
            Vector256<float> xm = dx - h, xp = dx + h, ym = dy - h, yp = dy + h;
            Vector256<float> xm2 = xm * xm, x02 = dx * dx, xp2 = xp * xp, ym2 = ym * ym, y02 = dy * dy, yp2 = yp * yp;
            m0 = Vector256.Min(m0, xm2 + ym2); m1 = Vector256.Min(m1, xm2 + y02); m2 = Vector256.Min(m2, xm2 + yp2);
            m3 = Vector256.Min(m3, x02 + ym2); m4 = Vector256.Min(m4, x02 + y02); m5 = Vector256.Min(m5, x02 + yp2);
            m6 = Vector256.Min(m6, xp2 + ym2); m7 = Vector256.Min(m7, xp2 + y02); m8 = Vector256.Min(m8, xp2 + yp2);
        }
        d[0] = Finish(m0); d[1] = Finish(m1); d[2] = Finish(m2);
        d[3] = Finish(m3); d[4] = Finish(m4); d[5] = Finish(m5);
        d[6] = Finish(m6); d[7] = Finish(m7); d[8] = Finish(m8);
        return columns == 0 ? float.PositiveInfinity : MathF.Sqrt(HorizontalMin(m4)) - radius;

        float Finish(Vector256<float> m) => MathF.Min(MathF.Sqrt(HorizontalMin(m)) - radius, clip);
    }

    /// <summary>Index of the column whose surface is nearest (x, y), −1 when there is none (scalar: called on contact only).</summary>
    public static int NearestColumn(float x, float y, ReadOnlySpan<float> columnX, ReadOnlySpan<float> columnY, int columns)
    {
        int best = -1;
        float bestSquared = float.PositiveInfinity;
        for (int k = 0; k < columns; k++)
        {
            float ex = x - columnX[k], ey = y - columnY[k], squared = ex * ex + ey * ey;
            if (squared < bestSquared) { bestSquared = squared; best = k; }
        }
        return best;
    }

    /// <summary>Where an unused column slot sits: far outside any room, so it is never the nearest.</summary>
    public const float AbsentColumn = 1e6f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float HorizontalMin(Vector256<float> v)
    {
        Vector128<float> m = Vector128.Min(v.GetLower(), v.GetUpper());
        float a = MathF.Min(m[0], m[1]), b = MathF.Min(m[2], m[3]);
        return MathF.Min(a, b);
    }

    /// <summary>Names of the values, in order (what a policy bundle is to record).</summary>
    public static string[] Names(int neighbours, int history = 0)
    {
        var names = new List<string> { "pos_err_x", "pos_err_y", "pos_err_z", "vel_x", "vel_y", "vel_z" };
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++) names.Add($"rot_{r}{c}");
        names.AddRange(["ang_vel_x", "ang_vel_y", "ang_vel_z", "height"]);
        for (int k = 0; k < neighbours; k++)
            names.AddRange([$"nb{k}_rel_pos_x", $"nb{k}_rel_pos_y", $"nb{k}_rel_pos_z", $"nb{k}_rel_vel_x", $"nb{k}_rel_vel_y", $"nb{k}_rel_vel_z"]);
        for (int gx = 0; gx < 3; gx++)
            for (int gy = 0; gy < 3; gy++) names.Add($"sdf_{gx}{gy}");
        for (int t = history; t >= 1; t--)
            for (int m = 1; m <= ActionSize; m++) names.Add($"action_t-{t}_m{m}"); // the hover task's names (HoverObservation)
        return names.ToArray();
    }
}
