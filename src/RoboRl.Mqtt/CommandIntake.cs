using System.Collections.Concurrent;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using RoboRl.Core.Robots;

namespace RoboRl.Mqtt;

/// <summary>What became of one incoming command or teleop message.</summary>
public enum CommandOutcome : byte
{
    Accepted = 0,
    /// <summary>Not JSON, a missing or unknown field, a wrong type, a non-finite or out-of-range value, an unknown topic.</summary>
    Malformed = 1,
    /// <summary>No identity: an anonymous connection sent an unsigned command.</summary>
    Anonymous = 2,
    /// <summary>A signature that does not verify, an unknown user, a stale timestamp or a replayed nonce.</summary>
    Unauthenticated = 3,
    /// <summary>An identified user without the right for this command.</summary>
    Forbidden = 4,
    /// <summary>The node did not drain its command queue; the command was dropped.</summary>
    QueueFull = 5,
}

/// <summary>
/// Turns MQTT messages on the command and teleop topics into <see cref="NodeCommand"/>s and
/// <see cref="TeleopSample"/>s: parses and range-checks the JSON, establishes who sent it (broker identity
/// or HMAC signature), checks the user's rights, and counts and logs every refusal. Runs on I/O threads
/// (the broker's or the client's; calls are serialised by a lock here); the tick thread only reads the
/// results through <see cref="TryDequeue"/> and <see cref="TryGetTeleop"/>, which neither lock nor allocate.
/// </summary>
public sealed class CommandIntake
{
    private const int MaxQueuedCommands = 256;
    private const int MaxPayloadBytes = 64 * 1024;
    private const int MaxRememberedNonces = 100_000;

    private readonly MqttTopics _topics;
    private readonly MqttTransportOptions _options;
    private readonly Dictionary<string, MqttUser> _users;
    private readonly Action<string>? _log;
    private readonly object _gate = new();
    private readonly ConcurrentQueue<NodeCommand> _commands = new();
    private readonly long[] _outcomes = new long[6];
    private long _teleopAccepted;

    // Replay protection: nonces seen within the clock-skew window, oldest first for expiry.
    private readonly HashSet<string> _nonces = new(StringComparer.Ordinal);
    private readonly Queue<(long ExpiresMs, string Key)> _nonceExpiry = new();

    // Newest teleop and robot-state samples: written under _gate, read by the tick thread.
    private readonly LatestValue<TeleopSample> _teleop = new();
    private readonly LatestValue<RobotStateSample> _robotState = new();
    private uint _robotStateSequence;
    private long _robotStatesAccepted;

    public CommandIntake(MqttTopics topics, MqttTransportOptions options, Action<string>? log)
    {
        _topics = topics;
        _options = options;
        _users = options.Users.ToDictionary(u => u.Name, StringComparer.Ordinal);
        _log = log;
    }

    /// <summary>How many messages ended with <paramref name="outcome"/>.</summary>
    public long Count(CommandOutcome outcome) => Interlocked.Read(ref _outcomes[(int)outcome]);

    public long TeleopAccepted => Interlocked.Read(ref _teleopAccepted);

    /// <summary>Wall clock for signed-command freshness (replaceable in tests).</summary>
    internal Func<long> UnixTimeMs { get; set; } = () => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    /// <summary>Tick thread: the oldest accepted command.</summary>
    public bool TryDequeue(out NodeCommand command) => _commands.TryDequeue(out command);

    /// <summary>Tick thread: the newest accepted teleop sample; never waits on the writer.</summary>
    public bool TryGetTeleop(out TeleopSample sample) => _teleop.TryRead(out sample);

    /// <summary>Tick thread: the newest robot state received on robot/state; never waits on the writer.</summary>
    public bool TryGetRobotState(out RobotStateSample sample) => _robotState.TryRead(out sample);

    public long RobotStatesAccepted => Interlocked.Read(ref _robotStatesAccepted);

    /// <summary>
    /// Handles one message. <paramref name="brokerUser"/> is the user the broker authenticated for the
    /// sending connection (embedded broker), null when unknown (anonymous, or an external broker).
    /// Never throws.
    /// </summary>
    public CommandOutcome Handle(string topic, ReadOnlySpan<byte> payload, string? brokerUser)
    {
        try
        {
            lock (_gate) return HandleLocked(topic, payload, brokerUser);
        }
        catch (Exception e)
        {
            // Defensive: a bug here must not reach the broker's or client's thread.
            return Reject(CommandOutcome.Malformed, topic, brokerUser, $"internal error: {e.GetType().Name}: {e.Message}");
        }
    }

    private CommandOutcome HandleLocked(string topic, ReadOnlySpan<byte> payload, string? brokerUser)
    {
        string? what = TopicKind(topic);
        if (what is null) return Reject(CommandOutcome.Malformed, topic, brokerUser, "not a command topic");
        if (payload.Length > MaxPayloadBytes) return Reject(CommandOutcome.Malformed, topic, brokerUser, $"payload of {payload.Length} bytes exceeds {MaxPayloadBytes}");

        JsonDocument document;
        try
        {
            document = payload.IsEmpty ? JsonDocument.Parse("{}") : JsonDocument.Parse(payload.ToArray());
        }
        catch (JsonException e)
        {
            return Reject(CommandOutcome.Malformed, topic, brokerUser, $"not valid JSON: {e.Message}");
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return Reject(CommandOutcome.Malformed, topic, brokerUser, "expected a JSON object");

            string? principal = brokerUser;
            JsonDocument? signedBody = null;
            try
            {
                if (root.TryGetProperty("hmac", out _))
                {
                    var (outcome, user, body, reason) = VerifySigned(topic, root);
                    if (outcome != CommandOutcome.Accepted) return Reject(outcome, topic, user ?? brokerUser, reason);
                    principal = user;
                    try { signedBody = JsonDocument.Parse(body!); }
                    catch (JsonException e) { return Reject(CommandOutcome.Malformed, topic, principal, $"body is not valid JSON: {e.Message}"); }
                    root = signedBody.RootElement;
                    if (root.ValueKind != JsonValueKind.Object) return Reject(CommandOutcome.Malformed, topic, principal, "body: expected a JSON object");
                }

                if (string.IsNullOrEmpty(principal))
                    return Reject(CommandOutcome.Anonymous, topic, null, "anonymous sender (connect with a user name and password, or sign the command)");
                if (!_users.TryGetValue(principal, out MqttUser? sender))
                    return Reject(CommandOutcome.Forbidden, topic, principal, "user is not in the node's user list");
                MqttRights needed = RightFor(what);
                if ((sender.Rights & needed) == 0)
                    return Reject(CommandOutcome.Forbidden, topic, principal, $"user lacks the right \"{RightName(needed)}\"");

                return what switch
                {
                    "teleop" => AcceptTeleop(root, topic, principal),
                    "joy" => AcceptJoy(root, topic, principal),
                    "robot_state" => AcceptRobotState(root, topic, principal),
                    _ => AcceptCommand(what, root, topic, principal),
                };
            }
            finally
            {
                signedBody?.Dispose();
            }
        }
    }

    private CommandOutcome AcceptCommand(string what, JsonElement body, string topic, string principal)
    {
        Vector3 setpoint = default;
        float yawDeg = 0;
        NodeCommandKind kind;
        switch (what)
        {
            case "arm": kind = NodeCommandKind.Arm; break;
            case "disarm": kind = NodeCommandKind.Disarm; break;
            case "land": kind = NodeCommandKind.Land; break;
            case "kill": kind = NodeCommandKind.Kill; break;
            case "setpoint":
                kind = NodeCommandKind.Setpoint;
                if (!TryVector(body, "position", 3, -_options.SetpointLimitM, _options.SetpointLimitM, required: true, out float[] p, out string? error))
                    return Reject(CommandOutcome.Malformed, topic, principal, error!);
                setpoint = new Vector3(p[0], p[1], p[2]);
                if (body.TryGetProperty("yaw_deg", out JsonElement yaw))
                {
                    if (!TryNumber(yaw, -360, 360, out double y)) return Reject(CommandOutcome.Malformed, topic, principal, $"yaw_deg: expected a number in [-360, 360], found {Describe(yaw)}");
                    yawDeg = (float)y;
                }
                break;
            default: return Reject(CommandOutcome.Malformed, topic, principal, "unknown command");
        }
        string? unknown = UnknownKey(body, what == "setpoint" ? ["position", "yaw_deg"] : []);
        if (unknown is not null) return Reject(CommandOutcome.Malformed, topic, principal, $"unknown key \"{unknown}\"");

        if (_commands.Count >= MaxQueuedCommands) return Reject(CommandOutcome.QueueFull, topic, principal, $"the node has {MaxQueuedCommands} commands pending; dropped");
        _commands.Enqueue(new NodeCommand(kind, setpoint, yawDeg, principal, NodeClock.NowNs));
        Interlocked.Increment(ref _outcomes[(int)CommandOutcome.Accepted]);
        _log?.Invoke($"mqtt: {what} from {principal} accepted");
        return CommandOutcome.Accepted;
    }

    private CommandOutcome AcceptTeleop(JsonElement body, string topic, string principal)
    {
        if (!body.TryGetProperty("deadman", out JsonElement deadman) || deadman.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            return Reject(CommandOutcome.Malformed, topic, principal, "deadman: expected true or false");
        var sample = new TeleopSample { TimestampNs = NodeClock.NowNs, Kind = TeleopKind.None };
        if (deadman.GetBoolean())
        {
            if (!body.TryGetProperty("mode", out JsonElement mode) || mode.ValueKind != JsonValueKind.String)
                return Reject(CommandOutcome.Malformed, topic, principal, "mode: expected \"takeover\" or \"nudge\" while deadman is held");
            switch (mode.GetString())
            {
                case "takeover":
                    if (!TryVector(body, "action", 4, -1, 1, required: true, out float[] a, out string? e1)) return Reject(CommandOutcome.Malformed, topic, principal, e1!);
                    sample.Kind = TeleopKind.TakeOver;
                    sample.Action = new Vector4(a[0], a[1], a[2], a[3]);
                    break;
                case "nudge":
                    double vmax = _options.TeleopMaxSpeedMps;
                    if (!TryVector(body, "setpoint_velocity", 3, -vmax, vmax, required: true, out float[] v, out string? e2)) return Reject(CommandOutcome.Malformed, topic, principal, e2!);
                    sample.Kind = TeleopKind.NudgeSetpoint;
                    sample.SetpointVelocity = new Vector3(v[0], v[1], v[2]);
                    break;
                default:
                    return Reject(CommandOutcome.Malformed, topic, principal, $"mode: expected \"takeover\" or \"nudge\", found {Describe(mode)}");
            }
        }
        string? unknown = UnknownKey(body, ["deadman", "mode", "action", "setpoint_velocity"]);
        if (unknown is not null) return Reject(CommandOutcome.Malformed, topic, principal, $"unknown key \"{unknown}\"");

        _teleop.Write(sample);
        Interlocked.Increment(ref _teleopAccepted);
        Interlocked.Increment(ref _outcomes[(int)CommandOutcome.Accepted]);
        return CommandOutcome.Accepted;
    }

    private CommandOutcome AcceptJoy(JsonElement body, string topic, string principal)
    {
        // sensor_msgs/Joy as JSON: axes are floats (a joystick reports [-1, 1]; the mapping clamps), buttons integers.
        if (!body.TryGetProperty("axes", out JsonElement axesJson) || axesJson.ValueKind != JsonValueKind.Array || axesJson.GetArrayLength() > 64)
            return Reject(CommandOutcome.Malformed, topic, principal, "axes: expected an array of at most 64 numbers");
        if (!body.TryGetProperty("buttons", out JsonElement buttonsJson) || buttonsJson.ValueKind != JsonValueKind.Array || buttonsJson.GetArrayLength() > 64)
            return Reject(CommandOutcome.Malformed, topic, principal, "buttons: expected an array of at most 64 integers");
        Span<float> axes = stackalloc float[axesJson.GetArrayLength()];
        Span<int> buttons = stackalloc int[buttonsJson.GetArrayLength()];
        int i = 0;
        foreach (JsonElement a in axesJson.EnumerateArray())
        {
            if (!TryNumber(a, -1e6, 1e6, out double value)) return Reject(CommandOutcome.Malformed, topic, principal, $"axes[{i}]: expected a finite number, found {Describe(a)}");
            axes[i++] = (float)value;
        }
        i = 0;
        foreach (JsonElement b in buttonsJson.EnumerateArray())
        {
            if (b.ValueKind != JsonValueKind.Number || !b.TryGetInt32(out int value)) return Reject(CommandOutcome.Malformed, topic, principal, $"buttons[{i}]: expected an integer, found {Describe(b)}");
            buttons[i++] = value;
        }
        string? unknown = UnknownKey(body, ["axes", "buttons", "header"]);
        if (unknown is not null) return Reject(CommandOutcome.Malformed, topic, principal, $"unknown key \"{unknown}\"");

        _teleop.Write(_options.Joy.ToSample(axes, buttons, NodeClock.NowNs));
        Interlocked.Increment(ref _teleopAccepted);
        Interlocked.Increment(ref _outcomes[(int)CommandOutcome.Accepted]);
        return CommandOutcome.Accepted;
    }

    private CommandOutcome AcceptRobotState(JsonElement body, string topic, string principal)
    {
        // Generous physical bounds: they catch garbage (units, NaN), not unsafe states (the supervisor's job).
        if (!TryVector(body, "position", 3, -10_000, 10_000, required: true, out float[] p, out string? error)
            || !TryVector(body, "orientation", 4, -1.001, 1.001, required: true, out float[] q, out error)
            || !TryVector(body, "velocity_world", 3, -100, 100, required: true, out float[] v, out error)
            || !TryVector(body, "angular_velocity_body", 3, -100, 100, required: true, out float[] w, out error))
            return Reject(CommandOutcome.Malformed, topic, principal, error!);
        var orientation = new Quaternion(q[0], q[1], q[2], q[3]);
        if (Math.Abs(orientation.Length() - 1) > 0.01f)
            return Reject(CommandOutcome.Malformed, topic, principal, $"orientation: expected a unit quaternion [x,y,z,w], its norm is {orientation.Length():G4}");
        var rpm = new Vector4(float.NaN);
        if (body.TryGetProperty("rotor_rpm", out _))
        {
            if (!TryVector(body, "rotor_rpm", 4, 0, 1e6, required: true, out float[] r, out error)) return Reject(CommandOutcome.Malformed, topic, principal, error!);
            rpm = new Vector4(r[0], r[1], r[2], r[3]);
        }
        string? unknown = UnknownKey(body, ["position", "orientation", "velocity_world", "angular_velocity_body", "rotor_rpm"]);
        if (unknown is not null) return Reject(CommandOutcome.Malformed, topic, principal, $"unknown key \"{unknown}\"");

        // Stamped on arrival with the node's clock: the robot's own clock is not the node's.
        _robotState.Write(new RobotStateSample
        {
            TimestampNs = NodeClock.NowNs,
            Sequence = ++_robotStateSequence,
            Position = new Vector3(p[0], p[1], p[2]),
            Orientation = orientation,
            VelocityWorld = new Vector3(v[0], v[1], v[2]),
            AngularVelocityBody = new Vector3(w[0], w[1], w[2]),
            RotorRpm = rpm,
        });
        Interlocked.Increment(ref _robotStatesAccepted);
        Interlocked.Increment(ref _outcomes[(int)CommandOutcome.Accepted]);
        return CommandOutcome.Accepted;
    }

    private (CommandOutcome Outcome, string? User, string? Body, string Reason) VerifySigned(string topic, JsonElement envelope)
    {
        string? unknown = UnknownKey(envelope, ["user", "ts_ms", "nonce", "body", "hmac"]);
        if (unknown is not null) return (CommandOutcome.Malformed, null, null, $"signed envelope: unknown key \"{unknown}\"");
        if (!TryString(envelope, "user", out string? user) || !TryString(envelope, "nonce", out string? nonce)
            || !TryString(envelope, "body", out string? body) || !TryString(envelope, "hmac", out string? hmacHex))
            return (CommandOutcome.Malformed, null, null, "signed envelope: user, nonce, body and hmac must be strings");
        if (!envelope.TryGetProperty("ts_ms", out JsonElement tsElement) || !tsElement.TryGetInt64(out long tsMs))
            return (CommandOutcome.Malformed, user, null, "signed envelope: ts_ms must be an integer (unix milliseconds)");
        if (nonce!.Length is < 8 or > 64 || !MqttTransportOptions.IsTopicWord(nonce))
            return (CommandOutcome.Malformed, user, null, "signed envelope: nonce must be 8 to 64 characters of [A-Za-z0-9_-]");
        if (hmacHex!.Length != 64 || !hmacHex.All(Uri.IsHexDigit))
            return (CommandOutcome.Malformed, user, null, "signed envelope: hmac must be 64 hex digits");
        if (!_users.TryGetValue(user!, out MqttUser? sender))
            return (CommandOutcome.Unauthenticated, user, null, "signed by an unknown user");

        byte[] expected = CommandSigner.Mac(sender.PasswordSha256, topic, user!, tsMs, nonce, body!);
        if (!CryptographicOperations.FixedTimeEquals(expected, Convert.FromHexString(hmacHex)))
            return (CommandOutcome.Unauthenticated, user, null, "signature does not verify (wrong key, or the message was altered)");

        // Freshness and replay are checked after the signature, so that nobody can fill the nonce cache.
        long now = UnixTimeMs();
        long skew = _options.MaxClockSkewMs;
        if (Math.Abs(now - tsMs) > skew)
            return (CommandOutcome.Unauthenticated, user, null, $"stale or future timestamp ({now - tsMs} ms from the node's clock; allowed ±{skew} ms)");
        while (_nonceExpiry.Count > 0 && _nonceExpiry.Peek().ExpiresMs < now) _nonces.Remove(_nonceExpiry.Dequeue().Key);
        string key = user + ":" + nonce;
        if (_nonces.Contains(key)) return (CommandOutcome.Unauthenticated, user, null, "replayed nonce");
        if (_nonces.Count >= MaxRememberedNonces) return (CommandOutcome.Unauthenticated, user, null, "too many recent commands to remember their nonces; refused");
        _nonces.Add(key);
        _nonceExpiry.Enqueue((tsMs + 2 * skew, key));
        return (CommandOutcome.Accepted, user, body, "");
    }

    private CommandOutcome Reject(CommandOutcome outcome, string topic, string? who, string reason)
    {
        long count = Interlocked.Increment(ref _outcomes[(int)outcome]);
        // A flood of bad messages must not flood the log: the first twenty of each kind, then every hundredth.
        if (count <= 20 || count % 100 == 0)
            _log?.Invoke($"mqtt: {topic} from {(string.IsNullOrEmpty(who) ? "anonymous" : who)} refused ({outcome}): {reason} [{count} {outcome} so far]");
        return outcome;
    }

    private string? TopicKind(string topic)
    {
        if (topic == _topics.Teleop) return "teleop";
        if (topic == _topics.Joy) return "joy";
        if (topic == _topics.RobotState) return "robot_state";
        if (!topic.StartsWith(_topics.CommandPrefix, StringComparison.Ordinal)) return null;
        string name = topic[_topics.CommandPrefix.Length..];
        return name is "arm" or "disarm" or "land" or "kill" or "setpoint" ? name : null;
    }

    private static MqttRights RightFor(string what) => what switch
    {
        "arm" or "disarm" => MqttRights.Arm,
        "land" => MqttRights.Land,
        "kill" => MqttRights.Kill,
        "setpoint" => MqttRights.Setpoint,
        "robot_state" => MqttRights.Robot,
        _ => MqttRights.Override,
    };

    private static string RightName(MqttRights right)
        => MqttTransportOptions.RightNames.First(p => p.Value == right).Key;

    private static bool TryVector(JsonElement body, string key, int length, double min, double max, bool required, out float[] values, out string? error)
    {
        values = new float[length];
        error = null;
        string expected = $"{key}: expected an array of {length} numbers in [{min:G6}, {max:G6}]";
        if (!body.TryGetProperty(key, out JsonElement array))
        {
            if (required) error = $"{key}: missing";
            return !required;
        }
        if (array.ValueKind != JsonValueKind.Array || array.GetArrayLength() != length) { error = $"{expected}, found {Describe(array)}"; return false; }
        int i = 0;
        foreach (JsonElement item in array.EnumerateArray())
        {
            if (!TryNumber(item, min, max, out double d)) { error = $"{expected}; element {i} is {Describe(item)}"; return false; }
            values[i++] = (float)d;
        }
        return true;
    }

    private static bool TryNumber(JsonElement element, double min, double max, out double value)
    {
        value = 0;
        return element.ValueKind == JsonValueKind.Number && element.TryGetDouble(out value)
               && double.IsFinite(value) && value >= min && value <= max;
    }

    private static bool TryString(JsonElement obj, string key, out string? value)
    {
        value = null;
        if (!obj.TryGetProperty(key, out JsonElement e) || e.ValueKind != JsonValueKind.String) return false;
        value = e.GetString();
        if (value is null) return false;
        // The body may hold anything; names and nonces are MAC fields separated by line breaks.
        return key == "body" || (value.Length > 0 && !value.Contains('\n'));
    }

    private static string? UnknownKey(JsonElement obj, string[] allowed)
    {
        foreach (JsonProperty p in obj.EnumerateObject())
            if (Array.IndexOf(allowed, p.Name) < 0) return p.Name;
        return null;
    }

    private static string Describe(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Array => $"an array of {e.GetArrayLength()}",
        JsonValueKind.Object => "an object",
        _ => e.GetRawText() is { Length: <= 40 } raw ? raw : e.ValueKind.ToString(),
    };
}

/// <summary>
/// Builds signed command envelopes (for tools, tests and the bench). The key is the user's
/// SHA-256(salt ‖ password), the same 32 bytes the node config stores, so a client that knows its
/// password and salt can sign; topics are part of the MAC so a signed "arm" cannot be replayed as "kill".
/// </summary>
public static class CommandSigner
{
    /// <summary>HMAC-SHA256(key, topic "\n" user "\n" tsMs "\n" nonce "\n" body).</summary>
    public static byte[] Mac(byte[] key, string topic, string user, long tsMs, string nonce, string body)
        => HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{topic}\n{user}\n{tsMs}\n{nonce}\n{body}"));

    /// <summary>The JSON envelope for <paramref name="bodyJson"/> on <paramref name="topic"/>, signed now with a random nonce.</summary>
    public static string Sign(string topic, string user, string password, string bodyJson, string salt = "", long? tsMs = null, string? nonce = null)
    {
        byte[] key = SHA256.HashData(Encoding.UTF8.GetBytes(salt + password));
        long ts = tsMs ?? DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        string n = nonce ?? Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
        string mac = Convert.ToHexStringLower(Mac(key, topic, user, ts, n, bodyJson));
        return JsonSerializer.Serialize(new Dictionary<string, object> { ["user"] = user, ["ts_ms"] = ts, ["nonce"] = n, ["body"] = bodyJson, ["hmac"] = mac });
    }
}
