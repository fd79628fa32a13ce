using System.Numerics;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Swarm;
using RoboRl.Sims.Quadrotor;
using RoboRl.Sims.Swarm;

namespace RoboRl.Training.Evaluation;

/// <summary>
/// The classical baseline of `roborl eval` on a swarm bundle: buffered Voronoi cells over a cascaded position → velocity →
/// attitude controller, each quad knowing every quad's position (as crazyswarm's on-board collision avoidance does with
/// broadcast positions).
/// <list type="bullet">
/// <item>Collision avoidance: buffered Voronoi cells (Zhou, Wang, Bandyopadhyay, Schwager, "Fast, on-line collision
///   avoidance for dynamic vehicles using buffered Voronoi cells", RA-L 2017): quad i may only aim inside
///   {x : (x − (p_i + p_j)/2)·n_ij ≤ −r_s for every other j}, n_ij the unit vector to j, and outside every column grown by
///   r_s; its set-point is its goal projected onto that cell (cyclic projections onto the violated half-spaces).</item>
/// <item>Position and velocity loops: v_ref = k_p·(x* − p), at most <see cref="MaxSpeed"/>; a_ref = k_v·(v_ref − v) + k_i∫ + g.
///   k_p = 2 /s is the Crazyflie firmware's position-PID gain (position_controller_pid.c, pidX/pidY/pidZ kp 2.0); k_v and
///   k_i are RoboRl's hover fallback's (RoboRl.Node QuadrotorFallbackController: 2.4/0.3 horizontal, 3.2/3.0 vertical),
///   tuned for the Crazyflie's 0.15 s motor lag; the integral carries the per-quad mass and thrust randomisation.</item>
/// <item>Attitude: the wanted force's direction is the wanted body z; geometric SO(3) control (Lee, Leok, McClamroch, CDC
///   2010) τ = J(−k_R e_R − k_ω ω) + ω × Jω with the fallback's k_R = 80, k_ω = 16 per unit inertia; the airframe's rotor
///   layout mixes thrust and torques into rotor forces, commanded through the firmware's force mode.</item>
/// </list>
/// </summary>
public sealed class SwarmBaselinePilot : ISwarmPilot
{
    public const string Name = "bvc_pid";
    /// <summary>Buffer r_s of the Voronoi cells and columns, m: two cells keep quads 2 r_s apart (contact below 2 arm lengths = 0.092 m).</summary>
    public const float SafetyRadius = 0.1f;
    public const float MaxSpeed = 1.0f;
    const float Kp = 2.0f, KvXy = 2.4f, KiXy = 0.3f, KvZ = 3.2f, KiZ = 3.0f, IntegralLimit = 1.0f, MaxHorizontalAccel = 4f;
    const float KR = 80f, KOmega = 16f;

    readonly SwarmTaskConfig _task;
    readonly QuadrotorConfig _robot;
    readonly float[] _mixInverse = new float[16];
    Vector3[] _integral = [];

    public SwarmBaselinePilot(SwarmTaskConfig task)
    {
        this._task = task;
        _robot = task.Robot;
        // [T, τx, τy, τz] = M · f: rotor i at (x, y) pushing f along body z gives torque (y f, −x f, sign·k·f).
        var m = new double[4, 4];
        for (int i = 0; i < 4; i++)
        {
            RotorConfig r = _robot.Rotors[i];
            m[0, i] = 1; m[1, i] = r.Position.Y; m[2, i] = -r.Position.X; m[3, i] = r.YawTorqueSign * _robot.YawTorquePerThrust;
        }
        double[,] inverse = Invert(m);
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 4; c++) _mixInverse[r * 4 + c] = (float)inverse[r, c];
    }

    public void Reset(SwarmEnv env) => _integral = new Vector3[env.NumEnvs];

    public void Act(SwarmEnv env, Span<float> actions)
    {
        if (_integral.Length != env.NumEnvs) _integral = new Vector3[env.NumEnvs];
        QuadrotorBatch b = env.Batch;
        int n = env.QuadsPerEnv;
        float dt = _task.ControlDt, g = _robot.Gravity;
        for (int e = 0; e < env.Environments; e++)
        {
            ReadOnlySpan<float> columnX = env.ColumnsX(e), columnY = env.ColumnsY(e);
            for (int q = 0; q < n; q++)
            {
                int l = env.Lane(e, q), row = e * n + q;
                Vector3 p = b.Position(l), v = b.Velocity(l);
                Vector3 target = ProjectOntoCell(env, e, q, p, env.Goal(e, q), columnX, columnY);

                // Position → velocity reference → acceleration (with the integral for unknown mass and thrust).
                Vector3 vRef = Kp * (target - p);
                float speed = vRef.Length();
                if (speed > MaxSpeed) vRef *= MaxSpeed / speed;
                Vector3 ev = vRef - v;
                _integral[row] = Vector3.Clamp(_integral[row] + ev * dt, new Vector3(-IntegralLimit), new Vector3(IntegralLimit));
                Vector3 i = _integral[row];
                var accel = new Vector3(KvXy * ev.X + KiXy * i.X, KvXy * ev.Y + KiXy * i.Y, KvZ * ev.Z + KiZ * i.Z + g);
                var horizontal = new Vector2(accel.X, accel.Y);
                if (horizontal.Length() > MaxHorizontalAccel) horizontal *= MaxHorizontalAccel / horizontal.Length();
                accel = new Vector3(horizontal, MathF.Max(accel.Z, 0.2f * g));

                // Attitude: wanted body z along the wanted force, heading kept; Lee's SO(3) error.
                Matrix4x4 rm = Matrix4x4.CreateFromQuaternion(b.Orientation(l));
                // System.Numerics is row-vector: the body axes in world are the matrix rows.
                var xb = new Vector3(rm.M11, rm.M12, rm.M13);
                var zb = new Vector3(rm.M31, rm.M32, rm.M33);
                Vector3 force = _robot.Mass * accel;
                float thrust = Vector3.Dot(force, zb);
                Vector3 zd = Vector3.Normalize(force);
                Vector3 heading = new(xb.X, xb.Y, 0);
                if (heading.LengthSquared() < 1e-6f) heading = Vector3.UnitX;
                Vector3 yd = Vector3.Normalize(Vector3.Cross(zd, Vector3.Normalize(heading)));
                Vector3 xd = Vector3.Cross(yd, zd);
                Vector3 yb = new(rm.M21, rm.M22, rm.M23);
                // e_R = ½ vee(R_dᵀR − RᵀR_d), with R = [xb yb zb] and R_d = [xd yd zd] as columns.
                float r12 = Vector3.Dot(xd, yb), r21 = Vector3.Dot(yd, xb), r13 = Vector3.Dot(xd, zb), r31 = Vector3.Dot(zd, xb);
                float r23 = Vector3.Dot(yd, zb), r32 = Vector3.Dot(zd, yb);
                var eR = 0.5f * new Vector3(r32 - r23, r13 - r31, r21 - r12);
                Vector3 w = b.AngularVelocity(l);
                Vector3 j = _robot.InertiaDiagonal;
                Vector3 torque = j * (-KR * eR - KOmega * w) + Vector3.Cross(w, j * w);

                // Mix into rotor forces, then the firmware's force-mode action.
                Span<float> a = actions.Slice(row * 4, 4);
                for (int m = 0; m < 4; m++)
                {
                    float f = _mixInverse[m * 4] * thrust + _mixInverse[m * 4 + 1] * torque.X + _mixInverse[m * 4 + 2] * torque.Y + _mixInverse[m * 4 + 3] * torque.Z;
                    a[m] = _robot.Actuator.ActionFromThrust(MathF.Max(f, 0));
                }
            }
        }
    }

    /// <summary>The goal projected onto quad q's buffered Voronoi cell (less the grown columns): cyclic projections onto the violated half-spaces.</summary>
    Vector3 ProjectOntoCell(SwarmEnv env, int e, int q, Vector3 p, Vector3 goal, ReadOnlySpan<float> columnX, ReadOnlySpan<float> columnY)
    {
        QuadrotorBatch b = env.Batch;
        int n = env.QuadsPerEnv;
        float columnRadius = _task.Obstacles.RadiusM + SafetyRadius;
        Vector3 x = goal;
        for (int iteration = 0; iteration < 20; iteration++)
        {
            bool violated = false;
            for (int j = 0; j < n; j++)
            {
                if (j == q) continue;
                Vector3 pj = b.Position(env.Lane(e, j)), d = pj - p;
                float distance = d.Length();
                if (distance < 1e-6f) continue;
                Vector3 normal = d / distance;
                // Half-space (x − (p + p_j)/2)·n ≤ −r_s; if even p violates it (quads closer than 2 r_s), aim at p's side anyway.
                float excess = Vector3.Dot(x - 0.5f * (p + pj), normal) + SafetyRadius;
                if (excess > 1e-5f) { x -= excess * normal; violated = true; }
            }
            for (int c = 0; c < columnX.Length; c++)
            {
                // The tangent half-plane of the grown column facing the quad.
                var toColumn = new Vector2(columnX[c] - p.X, columnY[c] - p.Y);
                float distance = toColumn.Length();
                if (distance < 1e-6f || distance > 3) continue;
                Vector2 normal = toColumn / distance;
                float excess = Vector2.Dot(new Vector2(x.X - columnX[c], x.Y - columnY[c]), normal) + columnRadius;
                if (excess > 1e-5f) { x -= new Vector3(excess * normal, 0); violated = true; }
            }
            if (!violated) break;
        }
        return x;
    }

    static double[,] Invert(double[,] m)
    {
        int n = m.GetLength(0);
        var a = new double[n, 2 * n];
        for (int r = 0; r < n; r++)
        {
            for (int c = 0; c < n; c++) a[r, c] = m[r, c];
            a[r, n + r] = 1;
        }
        for (int col = 0; col < n; col++)
        {
            int pivot = col;
            for (int r = col + 1; r < n; r++) if (Math.Abs(a[r, col]) > Math.Abs(a[pivot, col])) pivot = r;
            if (Math.Abs(a[pivot, col]) < 1e-12) throw new ArgumentException("the rotor layout cannot make every thrust and torque (singular allocation)");
            for (int c = 0; c < 2 * n; c++) (a[col, c], a[pivot, c]) = (a[pivot, c], a[col, c]);
            double d = a[col, col];
            for (int c = 0; c < 2 * n; c++) a[col, c] /= d;
            for (int r = 0; r < n; r++)
            {
                if (r == col) continue;
                double f = a[r, col];
                for (int c = 0; c < 2 * n; c++) a[r, c] -= f * a[col, c];
            }
        }
        var inverse = new double[n, n];
        for (int r = 0; r < n; r++)
            for (int c = 0; c < n; c++) inverse[r, c] = a[r, n + c];
        return inverse;
    }
}
