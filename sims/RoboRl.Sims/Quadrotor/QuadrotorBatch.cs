using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using RoboRl.Core.Quadrotor;

namespace RoboRl.Sims.Quadrotor;

/// <summary>
/// N quadrotors as a structure of arrays, integrated eight at a time (lanes = vehicles, Vector256).
/// Model: 6-DoF rigid body (world ENU position and velocity, unit quaternion body FLU → world, body
/// angular velocity) driven by four rotors with thrust T(rpm) = s·(c0 + c1·rpm + c2·rpm²) along body +z,
/// yaw reaction torque ±k·T, first-order motor lag d(rpm)/dt = (cmd − rpm)/τ integrated INSIDE RK4
/// (as RLtools' L2F does), a constant disturbance force (world) and torque (body) per vehicle, gravity
/// along world −z. Per-vehicle mass, inertia, thrust scale s and τ allow domain randomisation.
/// After each RK4 step the quaternion is renormalised; a vehicle below the floor z = 0 is put on it,
/// stopped, and flagged crashed. Arrays are padded to a multiple of 8 so that every vehicle runs the
/// same instructions whatever the batch size — the root of bit-identical results.
/// </summary>
public sealed class QuadrotorBatch
{
    public const int Lanes = 8;

    public QuadrotorBatch(QuadrotorConfig robot, int count)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "need at least one vehicle");
        Robot = robot;
        Count = count;
        PaddedCount = (count + Lanes - 1) / Lanes * Lanes;
        float[] Make() => new float[PaddedCount];
        Px = Make(); Py = Make(); Pz = Make();
        Qw = Make(); Qx = Make(); Qy = Make(); Qz = Make();
        Vx = Make(); Vy = Make(); Vz = Make();
        Wx = Make(); Wy = Make(); Wz = Make();
        Rpm = [Make(), Make(), Make(), Make()];
        CommandRpm = [Make(), Make(), Make(), Make()];
        Mass = Make(); Ixx = Make(); Iyy = Make(); Izz = Make(); ThrustScale = Make(); MotorTimeConstant = Make();
        ForceX = Make(); ForceY = Make(); ForceZ = Make(); TorqueX = Make(); TorqueY = Make(); TorqueZ = Make();
        Crashed = Make();
        _constants = new RobotConstants(robot);
        for (int i = 0; i < PaddedCount; i++) SetNominal(i);
    }

    public QuadrotorConfig Robot { get; }
    /// <summary>Vehicles asked for.</summary>
    public int Count { get; }
    /// <summary>Count rounded up to a multiple of <see cref="Lanes"/> (the extra lanes are simulated and ignored).</summary>
    public int PaddedCount { get; }
    public int BlockCount => PaddedCount / Lanes;

    // State (index = vehicle). Position world ENU m; quaternion body→world (w, x, y, z); velocity world m/s;
    // angular velocity body rad/s; rotor speeds rpm in motor order M1..M4.
    public readonly float[] Px, Py, Pz, Qw, Qx, Qy, Qz, Vx, Vy, Vz, Wx, Wy, Wz;
    public readonly float[][] Rpm;
    /// <summary>Commanded rotor speeds (rpm), held constant over a control step.</summary>
    public readonly float[][] CommandRpm;
    // Per-vehicle parameters (domain randomisation writes these).
    public readonly float[] Mass, Ixx, Iyy, Izz, ThrustScale, MotorTimeConstant;
    /// <summary>Constant disturbance force, world frame, N.</summary>
    public readonly float[] ForceX, ForceY, ForceZ;
    /// <summary>Constant disturbance torque, body frame, N·m.</summary>
    public readonly float[] TorqueX, TorqueY, TorqueZ;
    /// <summary>1 where the last integration hit the floor (or produced a non-finite state), else 0.</summary>
    public readonly float[] Crashed;

    private readonly RobotConstants _constants;

    /// <summary>Every per-vehicle array that changes while flying or at an episode's start, in a fixed order (what a snapshot of the batch holds).</summary>
    internal IEnumerable<float[]> StateArrays =>
        [Px, Py, Pz, Qw, Qx, Qy, Qz, Vx, Vy, Vz, Wx, Wy, Wz, .. Rpm, .. CommandRpm, Mass, Ixx, Iyy, Izz, ThrustScale, MotorTimeConstant,
         ForceX, ForceY, ForceZ, TorqueX, TorqueY, TorqueZ, Crashed];

    /// <summary>Puts vehicle <paramref name="i"/> at rest at the origin with the robot's nominal parameters and no disturbance.</summary>
    public void SetNominal(int i)
    {
        Px[i] = Py[i] = Pz[i] = 0; Qw[i] = 1; Qx[i] = Qy[i] = Qz[i] = 0;
        Vx[i] = Vy[i] = Vz[i] = 0; Wx[i] = Wy[i] = Wz[i] = 0;
        for (int m = 0; m < 4; m++) { Rpm[m][i] = 0; CommandRpm[m][i] = 0; }
        Mass[i] = Robot.Mass; Ixx[i] = Robot.InertiaDiagonal.X; Iyy[i] = Robot.InertiaDiagonal.Y; Izz[i] = Robot.InertiaDiagonal.Z;
        ThrustScale[i] = 1; MotorTimeConstant[i] = Robot.MotorTimeConstant;
        ForceX[i] = ForceY[i] = ForceZ[i] = 0; TorqueX[i] = TorqueY[i] = TorqueZ[i] = 0;
        Crashed[i] = 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector3 Position(int i) => new(Px[i], Py[i], Pz[i]);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Quaternion Orientation(int i) => new(Qx[i], Qy[i], Qz[i], Qw[i]);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector3 Velocity(int i) => new(Vx[i], Vy[i], Vz[i]);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector3 AngularVelocity(int i) => new(Wx[i], Wy[i], Wz[i]);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector4 RotorRpm(int i) => new(Rpm[0][i], Rpm[1][i], Rpm[2][i], Rpm[3][i]);

    public void SetPose(int i, Vector3 position, Quaternion orientation)
    {
        Px[i] = position.X; Py[i] = position.Y; Pz[i] = position.Z;
        Qw[i] = orientation.W; Qx[i] = orientation.X; Qy[i] = orientation.Y; Qz[i] = orientation.Z;
    }

    public void SetVelocities(int i, Vector3 velocityWorld, Vector3 angularVelocityBody)
    {
        Vx[i] = velocityWorld.X; Vy[i] = velocityWorld.Y; Vz[i] = velocityWorld.Z;
        Wx[i] = angularVelocityBody.X; Wy[i] = angularVelocityBody.Y; Wz[i] = angularVelocityBody.Z;
    }

    /// <summary>Sets the current and commanded rotor speeds of vehicle <paramref name="i"/>.</summary>
    public void SetRotors(int i, float rpm)
    {
        for (int m = 0; m < 4; m++) { Rpm[m][i] = rpm; CommandRpm[m][i] = rpm; }
    }

    /// <summary>Integrates every vehicle over <paramref name="dt"/> seconds in <paramref name="substeps"/> RK4 steps.</summary>
    public void Integrate(float dt, int substeps)
    {
        for (int b = 0; b < BlockCount; b++) IntegrateBlock(b, dt, substeps);
    }

    /// <summary>
    /// Integrates vehicles [8·block, 8·block + 8) over <paramref name="dt"/> in <paramref name="substeps"/> RK4 steps
    /// with the commanded rotor speeds held; returns the crash mask (all bits set in crashed lanes).
    /// </summary>
    public Vector256<float> IntegrateBlock(int block, float dt, int substeps)
    {
        nuint o = (nuint)(block * Lanes);
        State s = Load(o);
        Parameters p = LoadParameters(o);
        Vector256<float> h = Vector256.Create(dt / substeps);
        bool halves = Use128BitHalves;
        for (int k = 0; k < substeps; k++)
        {
            if (halves) Rk4<Fused128Halves>(ref s, in p, in _constants, h);
            else Rk4<Fused256>(ref s, in p, in _constants, h);
            s.Normalize();
        }

        // Floor: a vehicle that went below z = 0 is put on it and stopped (a crash, the episode ends).
        // Non-finite states count as crashes too, so that NaN never spreads through later steps.
        Vector256<float> sum = s.Px + s.Py + s.Pz + s.Vx + s.Vy + s.Vz + s.Wx + s.Wy + s.Wz + s.Qw;
        Vector256<float> nonFinite = ~Vector256.LessThan(Vector256.Abs(sum), Vector256.Create(float.PositiveInfinity));
        Vector256<float> belowFloor = Vector256.LessThan(s.Pz, Vector256<float>.Zero);
        Vector256<float> crashed = belowFloor | nonFinite;
        s.Pz = Vector256.ConditionalSelect(crashed, Vector256<float>.Zero, s.Pz);
        s.Vx = Vector256.ConditionalSelect(crashed, Vector256<float>.Zero, s.Vx);
        s.Vy = Vector256.ConditionalSelect(crashed, Vector256<float>.Zero, s.Vy);
        s.Vz = Vector256.ConditionalSelect(crashed, Vector256<float>.Zero, s.Vz);
        Store(in s, o);
        (crashed & Vector256<float>.One).StoreUnsafe(ref MemoryMarshal.GetArrayDataReference(Crashed), o);
        return crashed;
    }

    /// <summary>Eight vehicles' state, one register per component.</summary>
    private struct State
    {
        public Vector256<float> Px, Py, Pz, Qw, Qx, Qy, Qz, Vx, Vy, Vz, Wx, Wy, Wz, R0, R1, R2, R3;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Normalize()
        {
            Vector256<float> inverseNorm = Vector256<float>.One / Vector256.Sqrt(Qw * Qw + Qx * Qx + Qy * Qy + Qz * Qz);
            Qw *= inverseNorm; Qx *= inverseNorm; Qy *= inverseNorm; Qz *= inverseNorm;
        }
    }

    /// <summary>Per-lane parameters of eight vehicles, preprocessed for the derivative.</summary>
    private struct Parameters
    {
        public Vector256<float> InverseMass, Ixx, Iyy, Izz, InverseIxx, InverseIyy, InverseIzz, ThrustScale, InverseTau;
        public Vector256<float> ForceX, ForceY, ForceZ, TorqueX, TorqueY, TorqueZ, Cmd0, Cmd1, Cmd2, Cmd3;
    }

    /// <summary>Robot constants shared by all vehicles, broadcast once.</summary>
    private readonly struct RobotConstants
    {
        public readonly Vector256<float> C0, C1, C2, YawPerThrust, Gravity;
        public readonly Vector256<float> X0, X1, X2, X3, Y0, Y1, Y2, Y3, S0, S1, S2, S3;

        public RobotConstants(QuadrotorConfig robot)
        {
            C0 = Vector256.Create(robot.ThrustPolynomial.X);
            C1 = Vector256.Create(robot.ThrustPolynomial.Y);
            C2 = Vector256.Create(robot.ThrustPolynomial.Z);
            YawPerThrust = Vector256.Create(robot.YawTorquePerThrust);
            Gravity = Vector256.Create(robot.Gravity);
            X0 = Vector256.Create(robot.Rotors[0].Position.X); Y0 = Vector256.Create(robot.Rotors[0].Position.Y); S0 = Vector256.Create(robot.Rotors[0].YawTorqueSign);
            X1 = Vector256.Create(robot.Rotors[1].Position.X); Y1 = Vector256.Create(robot.Rotors[1].Position.Y); S1 = Vector256.Create(robot.Rotors[1].YawTorqueSign);
            X2 = Vector256.Create(robot.Rotors[2].Position.X); Y2 = Vector256.Create(robot.Rotors[2].Position.Y); S2 = Vector256.Create(robot.Rotors[2].YawTorqueSign);
            X3 = Vector256.Create(robot.Rotors[3].Position.X); Y3 = Vector256.Create(robot.Rotors[3].Position.Y); S3 = Vector256.Create(robot.Rotors[3].YawTorqueSign);
        }
    }

    /// <summary>
    /// Runs the kernel on two 128-bit halves per operation where it fuses (<see cref="Vector128.FusedMultiplyAdd"/>: AdvSimd
    /// FMLA on arm64, where Vector256 is not a hardware register) instead of one 256-bit FMA. Both round once, so they
    /// give the same bits; a test sets this on x64 to check the arm64 path against the scalar reference. Read once per
    /// block, not per operation: the kernel is compiled once for each path (<see cref="IMulAdd"/>).
    /// </summary>
    internal static bool Use128BitHalves { get; set; } = !Vector256.IsHardwareAccelerated;

    /// <summary>a·b + c with one rounding: the kernel's only operation that differs between CPUs, chosen at compile time.</summary>
    private interface IMulAdd
    {
        static abstract Vector256<float> MulAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c);
    }

    /// <summary>One 256-bit fused multiply-add: one FMA3 instruction on x64; a per-lane fused multiply-add in software where Vector256 is not accelerated.</summary>
    private struct Fused256 : IMulAdd
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> MulAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);
    }

    /// <summary>Two 128-bit fused multiply-adds (arm64 AdvSimd FMLA; SSE-width FMA3 on x64).</summary>
    private struct Fused128Halves : IMulAdd
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> MulAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) =>
            Vector256.Create(Vector128.FusedMultiplyAdd(a.GetLower(), b.GetLower(), c.GetLower()),
                             Vector128.FusedMultiplyAdd(a.GetUpper(), b.GetUpper(), c.GetUpper()));
    }

    /// <summary>Time derivative of the state (see the class summary for the model).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static State Derivative<T>(in State s, in Parameters p, in RobotConstants c) where T : struct, IMulAdd
    {
        // Rotor thrusts T_i = s·(c0 + rpm·(c1 + c2·rpm)).
        Vector256<float> t0 = p.ThrustScale * T.MulAdd(s.R0, T.MulAdd(c.C2, s.R0, c.C1), c.C0);
        Vector256<float> t1 = p.ThrustScale * T.MulAdd(s.R1, T.MulAdd(c.C2, s.R1, c.C1), c.C0);
        Vector256<float> t2 = p.ThrustScale * T.MulAdd(s.R2, T.MulAdd(c.C2, s.R2, c.C1), c.C0);
        Vector256<float> t3 = p.ThrustScale * T.MulAdd(s.R3, T.MulAdd(c.C2, s.R3, c.C1), c.C0);
        Vector256<float> thrust = (t0 + t1) + (t2 + t3);
        // Body torques: r_i × (0, 0, T_i) = (y_i·T_i, −x_i·T_i, 0), plus yaw reaction sign_i·k·T_i.
        // Summed in pairs without fusing, so a symmetric airframe at equal thrusts gives exactly zero torque
        // (nested FMAs round asymmetrically and a hovering vehicle would slowly tip).
        Vector256<float> tauX = (c.Y0 * t0 + c.Y1 * t1) + (c.Y2 * t2 + c.Y3 * t3);
        Vector256<float> tauY = -((c.X0 * t0 + c.X1 * t1) + (c.X2 * t2 + c.X3 * t3));
        Vector256<float> tauZ = c.YawPerThrust * ((c.S0 * t0 + c.S1 * t1) + (c.S2 * t2 + c.S3 * t3));

        State d;
        d.Px = s.Vx; d.Py = s.Vy; d.Pz = s.Vz;

        // Linear acceleration (world): R·(0, 0, T)/m + F_disturbance/m − g·ẑ; R's third column from the quaternion.
        Vector256<float> two = Vector256.Create(2f);
        Vector256<float> zx = two * (s.Qx * s.Qz + s.Qw * s.Qy);
        Vector256<float> zy = two * (s.Qy * s.Qz - s.Qw * s.Qx);
        Vector256<float> zz = Vector256<float>.One - two * (s.Qx * s.Qx + s.Qy * s.Qy);
        d.Vx = T.MulAdd(zx, thrust, p.ForceX) * p.InverseMass;
        d.Vy = T.MulAdd(zy, thrust, p.ForceY) * p.InverseMass;
        d.Vz = T.MulAdd(zz, thrust, p.ForceZ) * p.InverseMass - c.Gravity;

        // Quaternion kinematics q̇ = ½·q ⊗ (0, ω_body).
        Vector256<float> half = Vector256.Create(0.5f);
        d.Qw = -half * (s.Qx * s.Wx + s.Qy * s.Wy + s.Qz * s.Wz);
        d.Qx = half * (s.Qw * s.Wx + s.Qy * s.Wz - s.Qz * s.Wy);
        d.Qy = half * (s.Qw * s.Wy + s.Qz * s.Wx - s.Qx * s.Wz);
        d.Qz = half * (s.Qw * s.Wz + s.Qx * s.Wy - s.Qy * s.Wx);

        // Euler's equations with diagonal inertia: J·ω̇ = τ − ω × (J·ω).
        d.Wx = (tauX + p.TorqueX - (p.Izz - p.Iyy) * s.Wy * s.Wz) * p.InverseIxx;
        d.Wy = (tauY + p.TorqueY - (p.Ixx - p.Izz) * s.Wz * s.Wx) * p.InverseIyy;
        d.Wz = (tauZ + p.TorqueZ - (p.Iyy - p.Ixx) * s.Wx * s.Wy) * p.InverseIzz;

        // Motor lag.
        d.R0 = (p.Cmd0 - s.R0) * p.InverseTau;
        d.R1 = (p.Cmd1 - s.R1) * p.InverseTau;
        d.R2 = (p.Cmd2 - s.R2) * p.InverseTau;
        d.R3 = (p.Cmd3 - s.R3) * p.InverseTau;
        return d;
    }

    /// <summary>x + h·d, component-wise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static State Advance<T>(in State x, in State d, Vector256<float> h) where T : struct, IMulAdd
    {
        State r;
        r.Px = T.MulAdd(h, d.Px, x.Px); r.Py = T.MulAdd(h, d.Py, x.Py); r.Pz = T.MulAdd(h, d.Pz, x.Pz);
        r.Qw = T.MulAdd(h, d.Qw, x.Qw); r.Qx = T.MulAdd(h, d.Qx, x.Qx); r.Qy = T.MulAdd(h, d.Qy, x.Qy); r.Qz = T.MulAdd(h, d.Qz, x.Qz);
        r.Vx = T.MulAdd(h, d.Vx, x.Vx); r.Vy = T.MulAdd(h, d.Vy, x.Vy); r.Vz = T.MulAdd(h, d.Vz, x.Vz);
        r.Wx = T.MulAdd(h, d.Wx, x.Wx); r.Wy = T.MulAdd(h, d.Wy, x.Wy); r.Wz = T.MulAdd(h, d.Wz, x.Wz);
        r.R0 = T.MulAdd(h, d.R0, x.R0); r.R1 = T.MulAdd(h, d.R1, x.R1); r.R2 = T.MulAdd(h, d.R2, x.R2); r.R3 = T.MulAdd(h, d.R3, x.R3);
        return r;
    }

    /// <summary>
    /// Classic fourth-order Runge–Kutta step of length h. The slopes are summed first
    /// (k1 + 2·k2 + 2·k3 + k4) and added to the state once, so the state is rounded once per step
    /// rather than four times (it matters for rotor speeds of ~1e4 rpm in float).
    /// </summary>
    // Not inlined into its caller on purpose: as its own compilation root it keeps the JIT's inlining
    // budget for the four Derivative/Advance expansions, which then live in registers (measured faster).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Rk4<T>(ref State s, in Parameters p, in RobotConstants c, Vector256<float> h) where T : struct, IMulAdd
    {
        Vector256<float> halfH = h * Vector256.Create(0.5f);
        Vector256<float> two = Vector256.Create(2f);

        State k = Derivative<T>(in s, in p, in c);                 // k1
        State sum = k;
        k = Derivative<T>(Advance<T>(in s, in k, halfH), in p, in c); // k2 at s + h/2·k1
        sum = Advance<T>(in sum, in k, two);
        k = Derivative<T>(Advance<T>(in s, in k, halfH), in p, in c); // k3 at s + h/2·k2
        sum = Advance<T>(in sum, in k, two);
        k = Derivative<T>(Advance<T>(in s, in k, h), in p, in c);     // k4 at s + h·k3
        sum = Add(in sum, in k);
        s = Advance<T>(in s, in sum, h * Vector256.Create(1f / 6f));
    }

    /// <summary>a + b, component-wise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static State Add(in State a, in State b)
    {
        State r;
        r.Px = a.Px + b.Px; r.Py = a.Py + b.Py; r.Pz = a.Pz + b.Pz;
        r.Qw = a.Qw + b.Qw; r.Qx = a.Qx + b.Qx; r.Qy = a.Qy + b.Qy; r.Qz = a.Qz + b.Qz;
        r.Vx = a.Vx + b.Vx; r.Vy = a.Vy + b.Vy; r.Vz = a.Vz + b.Vz;
        r.Wx = a.Wx + b.Wx; r.Wy = a.Wy + b.Wy; r.Wz = a.Wz + b.Wz;
        r.R0 = a.R0 + b.R0; r.R1 = a.R1 + b.R1; r.R2 = a.R2 + b.R2; r.R3 = a.R3 + b.R3;
        return r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> L(float[] a, nuint o) => Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(a), o);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void S(Vector256<float> v, float[] a, nuint o) => v.StoreUnsafe(ref MemoryMarshal.GetArrayDataReference(a), o);

    private State Load(nuint o)
    {
        State s;
        s.Px = L(Px, o); s.Py = L(Py, o); s.Pz = L(Pz, o);
        s.Qw = L(Qw, o); s.Qx = L(Qx, o); s.Qy = L(Qy, o); s.Qz = L(Qz, o);
        s.Vx = L(Vx, o); s.Vy = L(Vy, o); s.Vz = L(Vz, o);
        s.Wx = L(Wx, o); s.Wy = L(Wy, o); s.Wz = L(Wz, o);
        s.R0 = L(Rpm[0], o); s.R1 = L(Rpm[1], o); s.R2 = L(Rpm[2], o); s.R3 = L(Rpm[3], o);
        return s;
    }

    private void Store(in State s, nuint o)
    {
        S(s.Px, Px, o); S(s.Py, Py, o); S(s.Pz, Pz, o);
        S(s.Qw, Qw, o); S(s.Qx, Qx, o); S(s.Qy, Qy, o); S(s.Qz, Qz, o);
        S(s.Vx, Vx, o); S(s.Vy, Vy, o); S(s.Vz, Vz, o);
        S(s.Wx, Wx, o); S(s.Wy, Wy, o); S(s.Wz, Wz, o);
        S(s.R0, Rpm[0], o); S(s.R1, Rpm[1], o); S(s.R2, Rpm[2], o); S(s.R3, Rpm[3], o);
    }

    private Parameters LoadParameters(nuint o)
    {
        Parameters p;
        Vector256<float> one = Vector256<float>.One;
        p.InverseMass = one / L(Mass, o);
        p.Ixx = L(Ixx, o); p.Iyy = L(Iyy, o); p.Izz = L(Izz, o);
        p.InverseIxx = one / p.Ixx; p.InverseIyy = one / p.Iyy; p.InverseIzz = one / p.Izz;
        p.ThrustScale = L(ThrustScale, o);
        p.InverseTau = one / L(MotorTimeConstant, o);
        p.ForceX = L(ForceX, o); p.ForceY = L(ForceY, o); p.ForceZ = L(ForceZ, o);
        p.TorqueX = L(TorqueX, o); p.TorqueY = L(TorqueY, o); p.TorqueZ = L(TorqueZ, o);
        p.Cmd0 = L(CommandRpm[0], o); p.Cmd1 = L(CommandRpm[1], o); p.Cmd2 = L(CommandRpm[2], o); p.Cmd3 = L(CommandRpm[3], o);
        return p;
    }
}
