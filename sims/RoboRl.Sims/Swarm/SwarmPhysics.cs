using System.Numerics;
using System.Runtime.CompilerServices;
using RoboRl.Core.Swarm;
using RoboRl.Sims.Quadrotor;
using RoboRl.Sims.Random;

namespace RoboRl.Sims.Swarm;

/// <summary>
/// What happens between the quads of one environment and its room, on the vehicles of a <see cref="QuadrotorBatch"/>
/// (lanes [first, first + count)): downwash, quad–quad and quad–column contacts, walls and ceiling. Random numbers come
/// from the lanes' own generators, so results depend only on the seed. <see cref="SwarmEnv"/> calls these in its step;
/// tests call them directly.
/// </summary>
public static class SwarmPhysics
{
    // QuadSwarm's downwash (quad-swarm-rl gym_art/quadrotor_multi/aerodynamics/downwash.py), fitted there to Neural-Swarm
    // (Shi et al., ICRA 2020, arXiv 2003.02992, Fig. 3: 4–10 g of extra load on a 34 g quad 0.5–0.2 m below another):
    // a quad inside the cylinder of radius 0.1 m reaching 0.7 m below another along that one's body −z gets an acceleration
    // a(d) = (6/17)·(7 − 10·d) + U(−0.1, 0.1) m/s² (≥ 0), d the distance between the two, along −(z + U(−0.1, 0.1)³)
    // normalised, and an angular acceleration 0.3·(d − 1)² + U(−0.01, 0.01) rad/s² about a random axis.
    public const float DownwashRadiusM = 0.1f;
    public const float DownwashLengthM = 0.7f;
    private const float DownwashAccelerationScale = 6f / 17f, DownwashAccelerationNoise = 0.1f, DownwashAxisNoise = 0.1f;
    private const float DownwashRateScale = 0.3f, DownwashRateNoise = 0.01f, Epsilon = 1e-6f;

    /// <summary>
    /// Downwash on quads [first, first + count) from each other, for a control step of <paramref name="dt"/> seconds:
    /// writes each quad's extra acceleration (world, m/s²) into <paramref name="ax"/>/<paramref name="ay"/>/<paramref name="az"/>
    /// (0 outside every cylinder) and adds the rate kick (angular acceleration × dt) to its body rates. Returns how many
    /// quads were inside a cylinder.
    /// </summary>
    public static int Downwash(QuadrotorBatch b, int first, int count, float dt, LaneRandom random, Span<float> ax, Span<float> ay, Span<float> az)
    {
        int affected = 0;
        for (int j = 0; j < count; j++)
        {
            int lj = first + j;
            float sumX = 0, sumY = 0, sumZ = 0;
            bool inside = false;
            for (int i = 0; i < count; i++)
            {
                if (i == j) continue;
                int li = first + i;
                // Body z of the quad above: third column of R(q).
                float qw = b.Qw[li], qx = b.Qx[li], qy = b.Qy[li], qz = b.Qz[li];
                float zx = 2 * (qx * qz + qw * qy), zy = 2 * (qy * qz - qw * qx), zz = 1 - 2 * (qx * qx + qy * qy);
                float rx = b.Px[lj] - b.Px[li], ry = b.Py[lj] - b.Py[li], rz = b.Pz[lj] - b.Pz[li];
                float along = rx * zx + ry * zy + rz * zz;
                if (!(along < 0 && along > -DownwashLengthM)) continue;
                float distanceSquared = rx * rx + ry * ry + rz * rz;
                float radialSquared = MathF.Max(0, distanceSquared - along * along);
                if (!(radialSquared < DownwashRadiusM * DownwashRadiusM)) continue;
                inside = true;
                float d = MathF.Sqrt(distanceSquared);
                float a = MathF.Max(Epsilon, DownwashAccelerationScale * (7 - 10 * d) + random.Uniform(lj, -DownwashAccelerationNoise, DownwashAccelerationNoise));
                float nx = zx + random.Uniform(lj, -DownwashAxisNoise, DownwashAxisNoise);
                float ny = zy + random.Uniform(lj, -DownwashAxisNoise, DownwashAxisNoise);
                float nz = zz + random.Uniform(lj, -DownwashAxisNoise, DownwashAxisNoise);
                float inverse = 1f / MathF.Max(Epsilon, MathF.Sqrt(nx * nx + ny * ny + nz * nz));
                sumX -= a * nx * inverse; sumY -= a * ny * inverse; sumZ -= a * nz * inverse;
                float rate = MathF.Max(Epsilon, DownwashRateScale * (d - 1) * (d - 1) + random.Uniform(lj, -DownwashRateNoise, DownwashRateNoise));
                Vector3 axis = RandomDirection(random, lj);
                b.Wx[lj] += rate * dt * axis.X; b.Wy[lj] += rate * dt * axis.Y; b.Wz[lj] += rate * dt * axis.Z;
            }
            ax[j] = sumX; ay[j] = sumY; az[j] = sumZ;
            if (inside) affected++;
        }
        return affected;
    }

    /// <summary>A direction uniform on the cube [−1, 1]³, normalised (QuadSwarm's kick directions).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector3 RandomDirection(LaneRandom random, int lane)
    {
        var v = new Vector3(random.Uniform(lane, -1, 1), random.Uniform(lane, -1, 1), random.Uniform(lane, -1, 1));
        float length = v.Length();
        return length > Epsilon ? v / length : Vector3.UnitZ;
    }

    /// <summary>
    /// Quad–quad contacts in lanes [first, first + count): a pair closer than <paramref name="contactDistance"/> is in
    /// contact (bit j of <paramref name="contactMask"/>[i] and bit i of [j]). An approaching pair bounces: an impulse
    /// along the line of centres with restitution e ~ U(model), which conserves the pair's momentum whatever the masses;
    /// then noise: a pair part ν ~ N(0, σ_pair)³ applied as +ν·m̄/m_i and −ν·m̄/m_j (momentum-free, m̄ = 2 m_i m_j/(m_i + m_j)),
    /// an independent part N(0, σ_ind)³ on each, and opposite body-rate kicks; if the noise left the pair approaching,
    /// a second momentum-conserving impulse stops the approach. Returns the contacts that are new since
    /// <paramref name="previousMask"/> (each pair once).
    /// </summary>
    public static int QuadContacts(QuadrotorBatch b, int first, int count, float contactDistance, in SwarmContactModel model,
        LaneRandom random, ReadOnlySpan<uint> previousMask, Span<uint> contactMask, Span<int> newContacts)
    {
        int newPairs = 0;
        float limitSquared = contactDistance * contactDistance;
        for (int i = 0; i < count; i++) { contactMask[i] = 0; newContacts[i] = 0; }
        for (int i = 0; i < count; i++)
        {
            int li = first + i;
            for (int j = i + 1; j < count; j++)
            {
                int lj = first + j;
                float rx = b.Px[li] - b.Px[lj], ry = b.Py[li] - b.Py[lj], rz = b.Pz[li] - b.Pz[lj];
                float distanceSquared = rx * rx + ry * ry + rz * rz;
                if (!(distanceSquared < limitSquared)) continue;
                contactMask[i] |= 1u << j;
                contactMask[j] |= 1u << i;
                if ((previousMask[i] & (1u << j)) == 0)
                {
                    newPairs++;
                    newContacts[i]++;
                    newContacts[j]++;
                }
                float d = MathF.Sqrt(distanceSquared);
                Vector3 n = d > Epsilon ? new Vector3(rx, ry, rz) / d : Vector3.UnitZ; // from j to i
                Vector3 vi = new(b.Vx[li], b.Vy[li], b.Vz[li]), vj = new(b.Vx[lj], b.Vy[lj], b.Vz[lj]);
                float approach = Vector3.Dot(vi - vj, n);
                if (!(approach < 0)) continue; // already separating: nothing to resolve
                float mi = b.Mass[li], mj = b.Mass[lj];
                float inverseMassSum = 1f / mi + 1f / mj;
                float e = random.Uniform(li, model.RestitutionLow, model.RestitutionHigh);
                float impulse = -(1 + e) * approach / inverseMassSum;
                vi += impulse / mi * n;
                vj -= impulse / mj * n;
                if (model.PairNoiseStd > 0 || model.IndependentNoiseStd > 0)
                {
                    float reduced = 2 * mi * mj / (mi + mj);
                    var pair = new Vector3(random.Normal(li), random.Normal(li), random.Normal(li)) * model.PairNoiseStd;
                    vi += pair * (reduced / mi) + new Vector3(random.Normal(li), random.Normal(li), random.Normal(li)) * model.IndependentNoiseStd;
                    vj += -pair * (reduced / mj) + new Vector3(random.Normal(lj), random.Normal(lj), random.Normal(lj)) * model.IndependentNoiseStd;
                    float stillApproaching = Vector3.Dot(vi - vj, n);
                    if (stillApproaching < 0)
                    {
                        float stop = -stillApproaching / inverseMassSum;
                        vi += stop / mi * n;
                        vj -= stop / mj * n;
                    }
                }
                b.Vx[li] = vi.X; b.Vy[li] = vi.Y; b.Vz[li] = vi.Z;
                b.Vx[lj] = vj.X; b.Vy[lj] = vj.Y; b.Vz[lj] = vj.Z;
                if (model.RateKickHigh > 0)
                {
                    Vector3 kick = RandomDirection(random, li) * random.Uniform(li, model.RateKickLow, model.RateKickHigh);
                    b.Wx[li] += kick.X; b.Wy[li] += kick.Y; b.Wz[li] += kick.Z;
                    b.Wx[lj] -= kick.X; b.Wy[lj] -= kick.Y; b.Wz[lj] -= kick.Z;
                }
            }
        }
        return newPairs;
    }

    /// <summary>
    /// A quad (lane <paramref name="lane"/>) touching a column — its centre within one arm length of the column's surface,
    /// QuadSwarm's test (quad-swarm-rl obstacles/utils.py collision_detection: distance ≤ quad radius + column radius) —
    /// bounces off it like a wall of infinite mass: the horizontal normal velocity is reversed and scaled by e, then the
    /// independent noise and a rate kick are added (never leaving it approaching). A centre inside the column is put back
    /// on its surface.
    /// </summary>
    public static void ColumnContact(QuadrotorBatch b, int lane, float columnX, float columnY, float columnRadius, in SwarmContactModel model, LaneRandom random)
    {
        float rx = b.Px[lane] - columnX, ry = b.Py[lane] - columnY;
        float d = MathF.Sqrt(rx * rx + ry * ry);
        float nx = d > Epsilon ? rx / d : 1, ny = d > Epsilon ? ry / d : 0;
        if (d < columnRadius)
        {
            b.Px[lane] = columnX + nx * columnRadius;
            b.Py[lane] = columnY + ny * columnRadius;
        }
        float vn = b.Vx[lane] * nx + b.Vy[lane] * ny;
        if (!(vn < 0)) return;
        float e = random.Uniform(lane, model.RestitutionLow, model.RestitutionHigh);
        b.Vx[lane] -= (1 + e) * vn * nx;
        b.Vy[lane] -= (1 + e) * vn * ny;
        if (model.IndependentNoiseStd > 0)
        {
            b.Vx[lane] += model.IndependentNoiseStd * random.Normal(lane);
            b.Vy[lane] += model.IndependentNoiseStd * random.Normal(lane);
            b.Vz[lane] += model.IndependentNoiseStd * random.Normal(lane);
            float after = b.Vx[lane] * nx + b.Vy[lane] * ny;
            if (after < 0) { b.Vx[lane] -= after * nx; b.Vy[lane] -= after * ny; }
        }
        if (model.RateKickHigh > 0)
        {
            Vector3 kick = RandomDirection(random, lane) * random.Uniform(lane, model.RateKickLow, model.RateKickHigh);
            b.Wx[lane] += kick.X; b.Wy[lane] += kick.Y; b.Wz[lane] += kick.Z;
        }
    }

    /// <summary>
    /// Walls and ceiling: a quad whose centre comes within one arm length of one is put back at that distance and, when
    /// moving into it, bounces with restitution e. (The floor is <see cref="QuadrotorBatch"/>'s: a quad that reaches it
    /// stops on it.) Returns true when the quad touched a wall or the ceiling.
    /// </summary>
    public static bool Walls(QuadrotorBatch b, int lane, Vector3 min, Vector3 max, in SwarmContactModel model, LaneRandom random)
    {
        bool touched = Axis(b.Px, b.Vx, lane, min.X, max.X, model.RestitutionLow, model.RestitutionHigh, random);
        touched |= Axis(b.Py, b.Vy, lane, min.Y, max.Y, model.RestitutionLow, model.RestitutionHigh, random);
        // Ceiling only: the floor belongs to the batch.
        touched |= Axis(b.Pz, b.Vz, lane, float.NegativeInfinity, max.Z, model.RestitutionLow, model.RestitutionHigh, random);
        return touched;
    }

    private static bool Axis(float[] p, float[] v, int lane, float low, float high, float restitutionLow, float restitutionHigh, LaneRandom random)
    {
        if (p[lane] < low)
        {
            p[lane] = low;
            if (v[lane] < 0) v[lane] *= -random.Uniform(lane, restitutionLow, restitutionHigh);
            return true;
        }
        if (p[lane] > high)
        {
            p[lane] = high;
            if (v[lane] > 0) v[lane] *= -random.Uniform(lane, restitutionLow, restitutionHigh);
            return true;
        }
        return false;
    }
}
