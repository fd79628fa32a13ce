using System.Numerics;
using RoboRl.Core.Quadrotor;
using RoboRl.Sims.Quadrotor;
using RoboRl.Logs;

namespace RoboRl.Replay;

/// <summary>
/// A state of a flight log that an open-loop replay starts from or is compared with: its time (log-time ns), the tick
/// that recorded it, the state, and the rotor speeds at that time when the log has them (else NaN).
/// </summary>
public readonly record struct ReferenceState(ulong Time, ulong Tick, Vector3 Position, Quaternion Orientation, Vector3 VelocityWorld,
    Vector3 AngularVelocityBody, Vector4 RotorRpm);

/// <summary>A stretch of a flight replayed open-loop: it starts from reference <see cref="First"/> and is compared with references (First, Last].</summary>
public readonly record struct FlightWindow(int First, int Last);

/// <summary>What an open-loop run predicted at one reference (<see cref="Valid"/> false where the reference was not compared).</summary>
public struct Prediction
{
    public bool Valid;
    public Vector3 Position, VelocityWorld, AngularVelocityBody;
    public Quaternion Orientation;
}

/// <summary>
/// A flight log as an open-loop experiment: the commands (rotor speeds through the recorded robot's action → force →
/// rpm map, as the node sent them) with the times they took effect, and the reference states the simulator starts
/// from and is compared with.
/// <list type="bullet">
/// <item>A simulator's log (/ground_truth): the references are its TRUE states, with true rotor speeds, and each command
///   takes effect when the simulator recorded it did (a real-time simulator applies a command from its next physics
///   step, up to a step after the tick that sent it). Replaying with the same plant and physics step then repeats the
///   same floating-point operations as the flight.</item>
/// <item>A real robot's log: the references are the measured states at their stamps (sensor noise included), rotor
///   speeds from /rotor_rpm when the robot reports them, else rebuilt from the commands under the motor lag; each
///   command takes effect at its tick.</item>
/// </list>
/// Open-loop errors grow without bound in a closed-loop flight (any difference in the start state is never corrected),
/// so replays run in windows, each re-anchored on a reference state (<see cref="Windows"/>).
/// </summary>
public sealed class OpenLoopFlight
{
    public required string Source { get; init; }
    /// <summary>True when the references are a simulator's true states (/ground_truth).</summary>
    public required bool GroundTruth { get; init; }
    /// <summary>Physics step of the replay, ns (the recording simulator's own, or the caller's for real robots).</summary>
    public required long StepNs { get; init; }
    /// <summary>When each command took effect, log-time ns, non-decreasing.</summary>
    public required ulong[] CommandTime { get; init; }
    public required ulong[] CommandTick { get; init; }
    /// <summary>The applied actions, normalised [-1, 1].</summary>
    public required Vector4[] CommandAction { get; init; }
    /// <summary>Commanded rotor speeds (rpm) through the command robot's map, not yet clamped to a plant's range.</summary>
    public required Vector4[] CommandRpm { get; init; }
    /// <summary>Reference states in time order.</summary>
    public required ReferenceState[] References { get; init; }
    /// <summary>True when every reference carries its rotor speeds (else <see cref="RotorRpmAt"/> rebuilds them).</summary>
    public required bool RotorSpeedsRecorded { get; init; }

    public int Ticks => CommandTime.Length;
    public float StepS => StepNs * 1e-9f; // as SimulatedQuadrotor computes it: the same float step, the same rounding

    /// <param name="commandRobot">The robot whose action → rpm map the node used (the log's recorded robot).</param>
    /// <param name="physicsHz">Physics rate for logs without ground truth (a simulator's log names its own step).</param>
    /// <param name="useGroundTruth">False: use the measured states even where the log has ground truth (to see the sensors' share).</param>
    public static OpenLoopFlight From(FlightLog log, QuadrotorConfig commandRobot, float physicsHz = 1000, bool useGroundTruth = true)
    {
        List<ActionSample> actions = log.Actions();
        if (actions.Count < 2) throw new FlightLogException($"{log.Path}: {actions.Count} /action messages; an open-loop replay needs at least 2");
        List<GroundTruthRecord> truth = useGroundTruth ? log.GroundTruth() : [];
        var truthByTick = new Dictionary<ulong, GroundTruthRecord>();
        foreach (GroundTruthRecord g in truth) truthByTick[g.Tick] = g;
        bool groundTruth = truthByTick.Count > 0;

        // Commands: a simulator says when each took effect; otherwise it is the tick's time. A tick without its truth
        // record (dropped by a full recorder ring) has no known time: it is left out, and windows do not cross it.
        var commands = new List<(ulong Time, ulong Tick, Vector4 Action)>();
        foreach (ActionSample a in actions)
        {
            if (!groundTruth) commands.Add((a.LogTime, a.Tick, a.Applied));
            else if (truthByTick.TryGetValue(a.Tick, out GroundTruthRecord g)) commands.Add((g.CommandEffectiveTime, a.Tick, a.Applied));
        }
        commands.Sort((x, y) => x.Time != y.Time ? x.Time.CompareTo(y.Time) : x.Tick.CompareTo(y.Tick));

        ReferenceState[] references;
        bool rotorsRecorded;
        if (groundTruth)
        {
            references = truth.OrderBy(g => g.StampTime).ThenBy(g => g.Tick)
                .Select(g => new ReferenceState(g.StampTime, g.Tick, g.Position, g.Orientation, g.VelocityWorld, g.AngularVelocityBody, g.RotorRpm)).ToArray();
            rotorsRecorded = true;
        }
        else
        {
            var rotors = new Dictionary<ulong, Vector4>();
            foreach (RotorSample r in log.RotorSpeeds()) rotors[r.LogTime] = r.Rpm;
            var ticks = new Dictionary<ulong, ulong>();
            foreach (ActionSample a in actions) ticks[a.LogTime] = a.Tick;
            List<StateSample> states = log.States();
            if (states.Count == 0) throw new FlightLogException($"{log.Path}: no recorded state (/pose, /velocity, /imu)");
            rotorsRecorded = states.All(s => rotors.ContainsKey(s.LogTime));
            references = states.Where(s => ticks.ContainsKey(s.LogTime)).OrderBy(s => s.StampTime).ThenBy(s => ticks[s.LogTime])
                .Select(s => new ReferenceState(s.StampTime, ticks[s.LogTime], s.Position, s.Orientation, s.VelocityWorld, s.AngularVelocityBody,
                    rotorsRecorded ? rotors[s.LogTime] : new Vector4(float.NaN))).ToArray();
        }
        if (references.Length < 2) throw new FlightLogException($"{log.Path}: {references.Length} recorded states; an open-loop replay needs at least 2");

        Vector4 Rpm(Vector4 a) => new(commandRobot.RpmFromAction(a.X), commandRobot.RpmFromAction(a.Y), commandRobot.RpmFromAction(a.Z), commandRobot.RpmFromAction(a.W));
        return new OpenLoopFlight
        {
            Source = log.Path,
            GroundTruth = groundTruth,
            StepNs = groundTruth && log.PhysicsStepNs is long step ? step : (long)Math.Round(1e9 / physicsHz),
            CommandTime = commands.Select(c => c.Time).ToArray(),
            CommandTick = commands.Select(c => c.Tick).ToArray(),
            CommandAction = commands.Select(c => c.Action).ToArray(),
            CommandRpm = commands.Select(c => Rpm(c.Action)).ToArray(),
            References = references,
            RotorSpeedsRecorded = rotorsRecorded,
        };
    }

    /// <summary>The index of the command in force at <paramref name="time"/> (the last one that took effect by then), or −1.</summary>
    public int CommandAt(ulong time)
    {
        int lo = 0, hi = Ticks - 1, found = -1;
        while (lo <= hi)
        {
            int mid = (lo + hi) / 2;
            if (CommandTime[mid] <= time) { found = mid; lo = mid + 1; } else hi = mid - 1;
        }
        return found;
    }

    /// <summary>
    /// Cuts the flight into windows of about <paramref name="windowS"/> seconds (0: one window over the whole flight),
    /// each starting at a reference state and ending at the first reference at least <paramref name="windowS"/> later,
    /// where the next window starts. A window never crosses a gap in the ticks (dropped records: the commands in
    /// between are unknown), starts only where a command is in force and, with <paramref name="usable"/>, only spans
    /// references it accepts.
    /// </summary>
    /// <param name="notBefore">No window starts before this log time (ns).</param>
    public List<FlightWindow> Windows(double windowS, ulong notBefore = 0, Func<ReferenceState, bool>? usable = null)
    {
        var windows = new List<FlightWindow>();
        ulong length = windowS > 0 ? (ulong)Math.Round(windowS * 1e9) : ulong.MaxValue;
        var commandTicks = new HashSet<ulong>(CommandTick);
        bool Joined(int j) // reference j follows j − 1 with every tick between them commanded
        {
            ReferenceState a = References[j - 1], b = References[j];
            if (b.Tick < a.Tick || b.Tick - a.Tick > 1) return false;
            return commandTicks.Contains(a.Tick) && commandTicks.Contains(b.Tick);
        }
        bool Usable(int j) => usable is null || usable(References[j]);
        int first = 0;
        while (first < References.Length - 1)
        {
            ReferenceState start = References[first];
            if (start.Time < notBefore || !Usable(first) || CommandAt(start.Time) < 0) { first++; continue; }
            int last = first;
            while (last + 1 < References.Length && Joined(last + 1) && Usable(last + 1) && References[last].Time - start.Time < length) last++;
            if (last > first && (windowS <= 0 || References[last].Time - start.Time >= length)) windows.Add(new FlightWindow(first, last));
            first = last > first ? last : first + 1;
        }
        return windows;
    }

    /// <summary>
    /// Rotor speeds at every reference: the recorded ones, or, when the log has none, the commands run through the
    /// first-order motor lag with time constant <paramref name="tau"/> (exact for commands held between their times),
    /// starting from the first command as if held for long — wrong by a share exp(−t/τ) that is gone after ~5τ.
    /// </summary>
    public Vector4[] RotorRpmAt(float tau, float rpmMin, float rpmMax)
    {
        var rpm = new Vector4[References.Length];
        if (RotorSpeedsRecorded)
        {
            for (int j = 0; j < rpm.Length; j++) rpm[j] = References[j].RotorRpm;
            return rpm;
        }
        Vector4 r = Clamp(CommandRpm[0], rpmMin, rpmMax);
        ulong t = CommandTime[0];
        int next = 1;
        for (int j = 0; j < rpm.Length; j++)
        {
            ulong target = Math.Max(References[j].Time, t);
            while (true)
            {
                ulong until = next < Ticks ? Math.Min(CommandTime[next], target) : target;
                int held = Math.Max(0, Math.Min(next, Ticks) - 1);
                Vector4 cmd = Clamp(CommandRpm[held], rpmMin, rpmMax);
                float decay = MathF.Exp(-(float)((until - t) * 1e-9) / tau);
                r = cmd + (r - cmd) * decay;
                t = until;
                if (next < Ticks && CommandTime[next] <= target) next++;
                else break;
            }
            rpm[j] = r;
        }
        return rpm;
    }

    /// <summary>
    /// Runs every window open-loop, one vehicle of <paramref name="batch"/> each (vehicle i = window i; the caller sets
    /// their parameters — mass, thrust scale, motor time constant, disturbances — before): each starts in its first
    /// reference state with rotor speeds <paramref name="anchorRpm"/>[First], takes the commands at the physics steps
    /// where they took effect, and is read out at every later reference of its window. A command that takes effect
    /// inside a physics step counts for its share of the step (the motor lag is linear in the command, so the step's
    /// mean command is right to first order): the prediction then changes continuously with the command times, as a fit
    /// of the latency needs. Where commands change on step boundaries (a simulator's log) every step takes one command
    /// exactly.
    /// </summary>
    /// <param name="dragNPerMS">Linear aerodynamic drag, world frame, N per m/s (F = −k ⊙ v, held over each physics step;
    /// it replaces the vehicles' disturbance forces); zero: none, as in the simulator.</param>
    /// <returns>The prediction at each reference index (not valid where none: anchors and references outside every window).</returns>
    public Prediction[] Run(QuadrotorBatch batch, IReadOnlyList<FlightWindow> windows, Vector4[] anchorRpm, float rpmMin, float rpmMax,
        Vector3 dragNPerMS = default)
    {
        if (batch.Count < windows.Count) throw new ArgumentException($"the batch holds {batch.Count} vehicles; {windows.Count} windows need one each");
        var predictions = new Prediction[References.Length];
        int n = windows.Count;
        var command = new int[n];   // the command in force, per window
        var compared = new int[n];  // the next reference to read out, per window
        long steps = 0;
        for (int i = 0; i < n; i++)
        {
            ReferenceState s = References[windows[i].First];
            batch.SetPose(i, s.Position, s.Orientation);
            batch.SetVelocities(i, s.VelocityWorld, s.AngularVelocityBody);
            Vector4 r = anchorRpm[windows[i].First];
            batch.Rpm[0][i] = r.X; batch.Rpm[1][i] = r.Y; batch.Rpm[2][i] = r.Z; batch.Rpm[3][i] = r.W;
            batch.Crashed[i] = 0;
            command[i] = CommandAt(s.Time);
            compared[i] = windows[i].First + 1;
            steps = Math.Max(steps, StepsBetween(windows[i].First, windows[i].Last));
        }
        float dt = StepS;
        for (long k = 0; k < steps; k++)
        {
            for (int i = 0; i < n; i++)
            {
                ulong now = References[windows[i].First].Time + (ulong)(k * StepNs), end = now + (ulong)StepNs;
                int c = command[i];
                while (c + 1 < Ticks && CommandTime[c + 1] <= now) c++;
                command[i] = c;
                Vector4 cmd = Clamp(CommandRpm[c], rpmMin, rpmMax);
                if (c + 1 < Ticks && CommandTime[c + 1] < end)
                {
                    // Commands change inside this step: their mean over it, weighted by how long each is in force.
                    Vector4 sum = Vector4.Zero;
                    ulong from = now;
                    for (int j = c; ; j++)
                    {
                        ulong until = j + 1 < Ticks && CommandTime[j + 1] < end ? CommandTime[j + 1] : end;
                        sum += Clamp(CommandRpm[j], rpmMin, rpmMax) * (float)((until - from) / (double)StepNs);
                        from = until;
                        if (until == end) break;
                    }
                    cmd = sum;
                }
                batch.CommandRpm[0][i] = cmd.X; batch.CommandRpm[1][i] = cmd.Y; batch.CommandRpm[2][i] = cmd.Z; batch.CommandRpm[3][i] = cmd.W;
                if (dragNPerMS != Vector3.Zero)
                {
                    batch.ForceX[i] = -dragNPerMS.X * batch.Vx[i]; batch.ForceY[i] = -dragNPerMS.Y * batch.Vy[i]; batch.ForceZ[i] = -dragNPerMS.Z * batch.Vz[i];
                }
            }
            if (k == 0) for (int i = 0; i < n; i++) ReadOut(i, 0); // references stamped like the anchor (a real-time sample read twice)
            batch.Integrate(dt, 1);
            for (int i = 0; i < n; i++) ReadOut(i, k + 1);
        }
        return predictions;

        void ReadOut(int i, long step)
        {
            FlightWindow w = windows[i];
            for (; compared[i] <= w.Last && StepsBetween(w.First, compared[i]) <= step; compared[i]++)
                predictions[compared[i]] = new Prediction
                {
                    Valid = true,
                    Position = batch.Position(i),
                    Orientation = batch.Orientation(i),
                    VelocityWorld = batch.Velocity(i),
                    AngularVelocityBody = batch.AngularVelocity(i),
                };
        }
    }

    /// <summary>
    /// The same flight with every command taking effect <paramref name="delayNs"/> later (a plant whose actuators lag
    /// the log: radio, firmware queues) and, when given, other rotor-speed commands (a model of another force curve).
    /// </summary>
    public OpenLoopFlight Delayed(long delayNs, Vector4[]? commandRpm = null)
    {
        if (delayNs < 0) throw new ArgumentOutOfRangeException(nameof(delayNs), delayNs, "a command cannot act before it was sent");
        if (delayNs == 0 && commandRpm is null) return this;
        if (commandRpm is not null && commandRpm.Length != Ticks) throw new ArgumentException($"{commandRpm.Length} commands for {Ticks} ticks", nameof(commandRpm));
        return new OpenLoopFlight
        {
            Source = Source,
            GroundTruth = GroundTruth,
            StepNs = StepNs,
            References = References,
            RotorSpeedsRecorded = RotorSpeedsRecorded,
            CommandTime = delayNs == 0 ? CommandTime : CommandTime.Select(t => t + (ulong)delayNs).ToArray(),
            CommandTick = CommandTick,
            CommandAction = CommandAction,
            CommandRpm = commandRpm ?? CommandRpm,
        };
    }

    /// <summary>Physics steps from reference <paramref name="from"/> to reference <paramref name="to"/>.</summary>
    public long StepsBetween(int from, int to) => (long)Math.Round((References[to].Time - References[from].Time) / (double)StepNs);

    public static Vector4 Clamp(Vector4 rpm, float min, float max) => Vector4.Clamp(rpm, new Vector4(min), new Vector4(max));

    /// <summary>
    /// Rotation angle between two orientations, radians: 2·atan2(|v|, |w|) of the relative rotation a⁻¹·b, in double.
    /// (2·acos of a float dot product cannot tell a difference below ~1 mrad: the dot of a unit quaternion with itself
    /// rounds to 1 − 6e-8, and acos turns that into 0.7 mrad.)
    /// </summary>
    public static double AttitudeError(Quaternion a, Quaternion b)
    {
        double an = Math.Sqrt((double)a.X * a.X + (double)a.Y * a.Y + (double)a.Z * a.Z + (double)a.W * a.W);
        double bn = Math.Sqrt((double)b.X * b.X + (double)b.Y * b.Y + (double)b.Z * b.Z + (double)b.W * b.W);
        double aw = a.W / an, ax = -a.X / an, ay = -a.Y / an, az = -a.Z / an; // a⁻¹ (unit: the conjugate)
        double bw = b.W / bn, bx = b.X / bn, by = b.Y / bn, bz = b.Z / bn;
        double w = aw * bw - ax * bx - ay * by - az * bz;
        double x = aw * bx + ax * bw + ay * bz - az * by;
        double y = aw * by - ax * bz + ay * bw + az * bx;
        double z = aw * bz + ax * by - ay * bx + az * bw;
        return 2 * Math.Atan2(Math.Sqrt(x * x + y * y + z * z), Math.Abs(w));
    }
}
