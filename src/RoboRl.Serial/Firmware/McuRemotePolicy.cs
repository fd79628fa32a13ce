using System.Numerics;
using RoboRl.Core.Configs;
using RoboRl.Core.Policy;
using RoboRl.Core.Robots;

namespace RoboRl.Serial.Firmware;

/// <summary>
/// The "mcu" section of a node config (policy_on "mcu"), read and schema-checked here. Exactly one of:
/// <list type="bullet">
/// <item><c>"port"</c>: a serial port (or pty) to an STM32 running firmware-bridge/mcu/app_policy.c built with the
///   policy's header (`roborl export c`);</item>
/// <item><c>"emulated": true</c>: the CLI builds that image for the policy and boots it on QEMU's netduinoplus2
///   (<see cref="EmulatedMcu"/>), reached over a pty.</item>
/// </list>
/// <c>"baud_rate"</c> (real ports; default 921600), <c>"response_timeout_ms"</c> (default 8: inside one 100 Hz
/// tick) and <c>"max_consecutive_misses"</c> (default 2: late answers the node bridges by holding the last action) are
/// optional.
/// </summary>
public sealed record McuPolicyOptions
{
    public string? Port { get; init; }
    public bool Emulated { get; init; }
    public int BaudRate { get; init; } = 921600;
    public TimeSpan ResponseTimeout { get; init; } = TimeSpan.FromMilliseconds(8);
    public int MaxConsecutiveMisses { get; init; } = 2;

    public static McuPolicyOptions Read(ConfigNode section)
    {
        bool emulated = section.Has("emulated") && section.Boolean("emulated");
        string? port = section.Has("port") ? section.String("port") : null;
        if (emulated == (port is not null))
            throw section.Error(port is null ? "port" : "emulated",
                "give exactly one of \"port\" (a serial port to an MCU flashed with the policy's image) and \"emulated\": true (QEMU)");
        var options = new McuPolicyOptions
        {
            Port = port,
            Emulated = emulated,
            BaudRate = (int)section.Integer("baud_rate", 1200, 12_000_000, 921600),
            ResponseTimeout = TimeSpan.FromMilliseconds(section.Number("response_timeout_ms", 0.1, 60_000, 8)),
            MaxConsecutiveMisses = (int)section.Integer("max_consecutive_misses", 0, 100, 2),
        };
        section.EnsureNoUnknownKeys();
        return options;
    }
}

/// <summary>
/// The node's policy on a microcontroller (<see cref="IRemotePolicy"/>) through app_policy.c's STATE path: per tick
/// one STATE frame (60-byte payload: the position error — the node's setpoint subtracted here, so the MCU's target
/// is the origin — attitude, velocities) goes out and the ACTION echoing its sequence comes back. The MCU builds the
/// 149-value observation itself (firmware-bridge/policy/roborl_observation.c, HoverObservation's C twin) with an action
/// history and a position-error integral it keeps (one integral step of 1 / control rate per STATE, as the node's
/// observation takes one per tick at that rate); <see cref="ResetHistory"/> refills the history and zeroes the integral
/// when the node arms. A 149-float OBSERVATION frame would
/// be ~600 bytes, ~15 ms through QEMU's USART model (~25 µs per byte, FACTS.md): too slow for 100 Hz; a STATE is ~70.
/// </summary>
public sealed class McuRemotePolicy : IRemotePolicy, IRemotePolicyReport, IDisposable
{
    private readonly McuPolicyClient _client;
    private readonly IDisposable? _owned;
    private long _answered, _timeouts, _errors, _inferenceUsSum;

    /// <summary>STATE round trips run by <see cref="Open"/> before the flight (see <see cref="WarmUp"/>).</summary>
    public const int WarmUpRoundTrips = 20;

    /// <param name="owned">Disposed after the client (e.g. the <see cref="EmulatedMcu"/> behind it).</param>
    public McuRemotePolicy(McuPolicyClient client, TimeSpan responseTimeout, IDisposable? owned = null, int maxConsecutiveMisses = 2)
    {
        _client = client;
        _owned = owned;
        ResponseTimeout = responseTimeout;
        MaxConsecutiveMisses = maxConsecutiveMisses;
    }

    /// <summary>
    /// Connects as <paramref name="options"/> say and checks the MCU is ready to fly: it answers a HEARTBEAT within
    /// <paramref name="bootTimeout"/> and reports SELF_TEST_PASSED (its embedded golden vector ran). With
    /// <see cref="McuPolicyOptions.Emulated"/> the image is first built for <paramref name="bundle"/> (`export c`
    /// header, CMake, arm-none-eabi-gcc) and booted on QEMU. Throws <see cref="McuPolicyException"/> (refused policy),
    /// <see cref="IOException"/> (port), <see cref="TimeoutException"/> (silence) or <see cref="InvalidOperationException"/>
    /// (a missing tool), each naming the port or image.
    /// </summary>
    public static McuRemotePolicy Open(McuPolicyOptions options, PolicyBundle bundle, string bundleSource, TimeSpan bootTimeout,
        bool countInstructions = false)
    {
        EmulatedMcu? emulator = null;
        McuPolicyClient? client = null;
        try
        {
            string where;
            if (options.Emulated)
            {
                string headerDir = Directory.CreateTempSubdirectory("roborl-mcu-policy-").FullName;
                try
                {
                    CPolicyHeader.Write(bundle, bundleSource, headerDir);
                    string image = McuImages.BuildPolicyImage(headerDir);
                    emulator = EmulatedMcu.Start(image, countInstructions);
                    where = $"the emulated MCU ({image})";
                }
                finally { Directory.Delete(headerDir, recursive: true); }
                client = McuPolicyClient.OpenPty(emulator.PtyPath);
            }
            else
            {
                where = $"the MCU on {options.Port}";
                // A pty (a socat bridge, the emulator's) through its file descriptor: SerialPort can hang closing one.
                ISerialTransport transport = PtyTransport.IsPseudoTerminal(options.Port!) ? new PtyTransport(options.Port!)
                    : new SerialPortTransport(options.Port!, options.BaudRate);
                client = new McuPolicyClient(transport);
                client.Link.Send(new HeartbeatMessage(0, LinkStatusFlags.None)); // app_policy.c answers at once
            }
            HeartbeatMessage hello;
            try { hello = client.WaitForHeartbeat(bootTimeout); }
            catch (TimeoutException) { throw new TimeoutException($"{where} sent no HEARTBEAT within {bootTimeout.TotalSeconds:F0} s (is app_policy.c running on it?)"); }
            if (!hello.Status.HasFlag(LinkStatusFlags.SelfTestPassed))
                throw new McuPolicyException($"{where} refused its policy: the boot self-test failed (heartbeat flags {hello.Status}); flash the image built from this bundle's `roborl export c` header");
            var policy = new McuRemotePolicy(client, options.ResponseTimeout, emulator, options.MaxConsecutiveMisses);
            policy.WarmUp(WarmUpRoundTrips, bootTimeout, where);
            return policy;
        }
        catch
        {
            client?.Dispose();
            emulator?.Dispose();
            throw;
        }
    }

    public McuPolicyClient Client => _client;
    public TimeSpan ResponseTimeout { get; }
    public int MaxConsecutiveMisses { get; }

    /// <summary>Round-trip times of the warm-up (<see cref="WarmUp"/>), ms, in order; empty if none ran.</summary>
    public IReadOnlyList<double> WarmUpRoundTripsMs { get; private set; } = [];

    /// <summary>
    /// Runs <paramref name="roundTrips"/> STATE → ACTION exchanges of a vehicle hovering on its target before the first
    /// tick, then starts the MCU's history over. The first exchanges are slow — the host JIT-compiles the send and
    /// receive paths, an emulator translates the forward pass on first execution (measured: a first answer of 13.5 ms
    /// against ~3 ms afterwards) — and would otherwise land on the flight's first ticks, where a missed answer trips
    /// the supervisor. Throws <see cref="TimeoutException"/> naming <paramref name="where"/> if an exchange gets no
    /// answer within <paramref name="patience"/>, <see cref="McuPolicyException"/> on an error STATUS.
    /// </summary>
    public void WarmUp(int roundTrips, TimeSpan patience, string where)
    {
        var times = new double[roundTrips];
        var hovering = new StateMessage(0, System.Numerics.Vector3.Zero, System.Numerics.Quaternion.Identity,
            System.Numerics.Vector3.Zero, System.Numerics.Vector3.Zero);
        for (int i = 0; i < roundTrips; i++)
        {
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            if (!_client.TryInferState(in hovering, patience, out _, out StatusMessage? error))
            {
                if (error is { } e)
                    throw new McuPolicyException($"{where} answered a STATE with STATUS 0x{(ushort)e.Code:X4} (detail {e.Detail}) instead of an ACTION", e);
                throw new TimeoutException($"{where} did not answer STATE {i + 1} of its warm-up within {patience.TotalSeconds:F0} s");
            }
            times[i] = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        WarmUpRoundTripsMs = times;
        _client.SendHistoryReset(0f);
    }

    /// <summary>Ticks answered with an ACTION.</summary>
    public long Answered => Interlocked.Read(ref _answered);
    /// <summary>Ticks with no answer in time (or the link down).</summary>
    public long Timeouts => Interlocked.Read(ref _timeouts);
    /// <summary>Ticks answered with an error STATUS (policy refused at boot, non-finite action, wrong layout).</summary>
    public long ErrorStatuses => Interlocked.Read(ref _errors);
    /// <summary>The newest error STATUS the MCU answered a STATE with.</summary>
    public StatusMessage? LastError { get; private set; }
    /// <summary>Mean time the MCU spent in its forward pass (its SysTick), µs.</summary>
    public double MeanInferenceUs => Answered == 0 ? 0 : (double)Interlocked.Read(ref _inferenceUsSum) / Answered;

    /// <summary>The node armed: the MCU's action history = <paramref name="fill"/> and its position-error integral = 0 (STATUS 0x8030).</summary>
    public void ResetHistory(float fill) => _client.SendHistoryReset(fill);

    public bool TryInfer(in RobotStateSample state, Vector3 target, Span<float> action)
    {
        var message = new StateMessage((ulong)Math.Max(0, state.TimestampNs / 1000), state.Position - target, state.Orientation,
            state.VelocityWorld, state.AngularVelocityBody);
        if (!_client.TryInferState(in message, ResponseTimeout, out ActionMessage answer, out StatusMessage? error))
        {
            if (error is { } e) { LastError = e; Interlocked.Increment(ref _errors); }
            else Interlocked.Increment(ref _timeouts);
            return false;
        }
        action[0] = answer.Action.X; action[1] = answer.Action.Y; action[2] = answer.Action.Z; action[3] = answer.Action.W;
        Interlocked.Increment(ref _answered);
        Interlocked.Add(ref _inferenceUsSum, answer.InferenceUs);
        return true;
    }

    public void Dispose()
    {
        _client.Dispose();
        _owned?.Dispose();
    }

    /// <summary>One line on how the MCU flew: answers, silences, errors, inference time, parity with the host engine (the node's figures).</summary>
    public string Describe(RemotePolicyFigures node)
    {
        LinkCounters link = Client.Link.Counters;
        long asked = Answered + Timeouts + ErrorStatuses;
        double inTime = asked == 0 ? 0 : 100.0 * Answered / asked;
        IReadOnlyList<double> warm = WarmUpRoundTripsMs;
        string warmUp = warm.Count == 0 ? "" :
            $"; warm-up: {warm.Count} round trips, first {warm[0]:F1} ms, median {warm.Order().ElementAt(warm.Count / 2):F1} ms";
        return string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"mcu: {Answered} actions, {Timeouts} timeouts (> {ResponseTimeout.TotalMilliseconds:0.#} ms), {ErrorStatuses} error statuses " +
            $"({inTime:F1} % of {asked} ticks answered in time; {node.HeldTicks} held the last action); " +
            $"inference {MeanInferenceUs:F0} µs mean (MCU SysTick); max |MCU − host engine| {node.ParityMaxDiff:G3} over {node.ParityTicks} ticks; " +
            $"link: {link.Lost} lost, {link.Rejected} rejected frames{warmUp}");
    }
}
