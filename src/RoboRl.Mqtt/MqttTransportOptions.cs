using RoboRl.Core.Robots;
using System.Security.Cryptography;
using System.Text;
using RoboRl.Core.Configs;

namespace RoboRl.Mqtt;

/// <summary>Which broker the transport talks to.</summary>
public enum BrokerKind : byte
{
    /// <summary>An MQTTnet broker started inside the node's process (the default).</summary>
    Embedded = 0,
    /// <summary>A broker run by someone else (Mosquitto, EMQX, …).</summary>
    External = 1,
}

/// <summary>What a user may command. A command needs its right; telemetry needs none.</summary>
[Flags]
public enum MqttRights : byte
{
    None = 0,
    /// <summary>cmd/arm and cmd/disarm.</summary>
    Arm = 1,
    /// <summary>cmd/setpoint.</summary>
    Setpoint = 2,
    /// <summary>teleop (dead-man + take-over or setpoint nudge).</summary>
    Override = 4,
    /// <summary>cmd/land.</summary>
    Land = 8,
    /// <summary>cmd/kill.</summary>
    Kill = 16,
    /// <summary>The robot's bridge: publish robot/state (and read robot/command).</summary>
    Robot = 32,
}

/// <summary>
/// One user of the command topics. The config stores no password, only
/// <c>password_sha256 = hex(SHA-256(salt ‖ password))</c> (salt: an optional UTF-8 string). The
/// embedded broker checks connection passwords against it; signed commands use the same 32 bytes
/// as their HMAC key (see <see cref="CommandSigner"/>), so the node config is a secret file.
/// </summary>
public sealed class MqttUser
{
    public MqttUser(string name, byte[] passwordSha256, string salt, MqttRights rights)
    {
        Name = name;
        PasswordSha256 = passwordSha256;
        Salt = salt;
        Rights = rights;
    }

    public string Name { get; }
    /// <summary>SHA-256(salt ‖ password), 32 bytes; also the HMAC key of this user's signed commands.</summary>
    public byte[] PasswordSha256 { get; }
    public string Salt { get; }
    public MqttRights Rights { get; }

    /// <summary>hex(SHA-256(salt ‖ password)): what goes into the config's password_sha256.</summary>
    public static string HashPassword(string password, string salt = "")
        => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(salt + password)));

    /// <summary>Builds a user from a clear password (tests, tools); the config holds only the hash.</summary>
    public static MqttUser FromPassword(string name, string password, MqttRights rights, string salt = "")
        => new(name, Convert.FromHexString(HashPassword(password, salt)), salt, rights);

    /// <summary>Constant-time check of a clear password against the stored hash.</summary>
    public bool CheckPassword(string? password)
    {
        if (password is null) return false;
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(Salt + password));
        return CryptographicOperations.FixedTimeEquals(hash, PasswordSha256);
    }
}

/// <summary>TLS settings. External broker: <see cref="CaFile"/> validates the server (plus an optional
/// client certificate). Embedded broker: <see cref="CertFile"/>/<see cref="KeyFile"/> are the broker's
/// certificate, and <see cref="CaFile"/> validates it from the node's own client.</summary>
public sealed record MqttTlsOptions(string CaFile, string? CertFile, string? KeyFile, string? ServerName);

/// <summary>
/// The node config's <c>"mqtt"</c> section. Read with <see cref="Read"/>; every key, its type,
/// range and default are the schema (README.md of this project lists them).
/// </summary>
public sealed class MqttTransportOptions
{
    /// <summary>Topic prefix roborl/&lt;robot&gt;/…; letters, digits, '-' and '_' only.</summary>
    public string Robot { get; init; } = "robot";
    public BrokerKind Broker { get; init; } = BrokerKind.Embedded;
    /// <summary>External: the broker's host. Embedded: the address the broker binds (127.0.0.1 by default).</summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>External: the broker's port. Embedded: the port to listen on; 0 picks a free one.</summary>
    public int Port { get; init; } = 1883;
    /// <summary>The node's MQTT client id; default roborl-node-&lt;robot&gt;.</summary>
    public string? ClientId { get; init; }
    /// <summary>The node's own credentials on an external broker (null: connect anonymously).</summary>
    public string? Username { get; init; }
    public string? Password { get; init; }
    public MqttTlsOptions? Tls { get; init; }
    /// <summary>Telemetry frames per second actually sent; faster Publish calls are skipped (not a gap).
    /// The config allows [0.1, 1000]; code may set PositiveInfinity for no limit (the bench does).</summary>
    public double TelemetryHz { get; init; } = 100;
    /// <summary>Frames the tick → I/O ring holds; when full the oldest is overwritten and counted.</summary>
    public int BufferFrames { get; init; } = 256;
    public int ReconnectInitialMs { get; init; } = 100;
    public int ReconnectMaxMs { get; init; } = 5000;
    /// <summary>Embedded broker: whether clients without credentials may connect (read telemetry). Their commands are always ignored.</summary>
    public bool AllowAnonymous { get; init; } = true;
    /// <summary>Signed commands: how far their timestamp may be from the node's wall clock.</summary>
    public int MaxClockSkewMs { get; init; } = 5000;
    /// <summary>A setpoint farther than this from the origin on any axis is refused (m).</summary>
    public double SetpointLimitM { get; init; } = 100;
    /// <summary>A teleop setpoint velocity faster than this on any axis is refused (m/s).</summary>
    public double TeleopMaxSpeedMps { get; init; } = 2;
    /// <summary>How messages on the joy topic map to teleop (the "joy" section; the same keys as the ros2 section's).</summary>
    public JoyTeleopMapping Joy { get; init; } = new();
    public IReadOnlyList<MqttUser> Users { get; init; } = [];

    public string EffectiveClientId => ClientId ?? $"roborl-node-{Robot}";

    /// <summary>Reads the "mqtt" section; errors name the file, the JSON path and the allowed range.</summary>
    public static MqttTransportOptions Read(ConfigNode mqtt)
    {
        string robot = mqtt.Has("robot") ? mqtt.String("robot") : "robot";
        if (!IsTopicWord(robot))
            throw mqtt.Error("robot", $"expected letters, digits, '-' or '_' only (it becomes a topic level), found \"{robot}\"");

        BrokerKind broker = BrokerKind.Embedded;
        if (mqtt.Has("broker"))
        {
            broker = mqtt.String("broker") switch
            {
                "embedded" => BrokerKind.Embedded,
                "external" => BrokerKind.External,
                string other => throw mqtt.Error("broker", $"expected \"embedded\" or \"external\", found \"{other}\""),
            };
        }

        string host = mqtt.Has("host") ? mqtt.String("host") : "127.0.0.1";
        int port = (int)mqtt.Integer("port", broker == BrokerKind.Embedded ? 0 : 1, 65535, 1883);
        string? clientId = mqtt.Has("client_id") ? mqtt.String("client_id") : null;

        string? username = mqtt.Has("username") ? mqtt.String("username") : null;
        string? password = null;
        if (mqtt.Has("password") && mqtt.Has("password_env"))
            throw mqtt.Error("password_env", "give either password or password_env, not both");
        if (mqtt.Has("password")) password = mqtt.String("password");
        if (mqtt.Has("password_env"))
        {
            string variable = mqtt.String("password_env");
            password = Environment.GetEnvironmentVariable(variable)
                ?? throw mqtt.Error("password_env", $"environment variable {variable} is not set");
        }
        if (password is not null && username is null)
            throw mqtt.Error("username", "a password needs a username");

        MqttTlsOptions? tls = null;
        if (mqtt.Has("tls"))
        {
            ConfigNode t = mqtt.Object("tls");
            string caFile = ResolvePath(t, t.String("ca_file"));
            string? certFile = t.Has("cert_file") ? ResolvePath(t, t.String("cert_file")) : null;
            string? keyFile = t.Has("key_file") ? ResolvePath(t, t.String("key_file")) : null;
            string? serverName = t.Has("server_name") ? t.String("server_name") : null;
            t.EnsureNoUnknownKeys();
            if ((certFile is null) != (keyFile is null))
                throw t.Error(certFile is null ? "cert_file" : "key_file", "cert_file and key_file go together");
            if (broker == BrokerKind.Embedded && certFile is null)
                throw t.Error("cert_file", "the embedded broker needs its certificate (cert_file and key_file) to serve TLS");
            foreach (var (key, file) in new[] { ("ca_file", caFile), ("cert_file", certFile), ("key_file", keyFile) })
                if (file is not null && !File.Exists(file)) throw t.Error(key, $"file not found: {file}");
            tls = new MqttTlsOptions(caFile, certFile, keyFile, serverName);
        }

        double telemetryHz = mqtt.Number("telemetry_hz", 0.1, 1000, 100);
        int bufferFrames = (int)mqtt.Integer("buffer_frames", 8, 65536, 256);
        int reconnectInitialMs = (int)mqtt.Integer("reconnect_initial_ms", 10, 60_000, 100);
        int reconnectMaxMs = (int)mqtt.Integer("reconnect_max_ms", 10, 600_000, 5000);
        if (reconnectMaxMs < reconnectInitialMs)
            throw mqtt.Error("reconnect_max_ms", $"expected at least reconnect_initial_ms ({reconnectInitialMs})");
        bool allowAnonymous = !mqtt.Has("allow_anonymous") || mqtt.Boolean("allow_anonymous");
        int maxClockSkewMs = (int)mqtt.Integer("max_clock_skew_ms", 100, 600_000, 5000);
        double setpointLimitM = mqtt.Number("setpoint_limit_m", 0.1, 10_000, 100);
        double teleopMaxSpeed = mqtt.Number("teleop_max_speed_mps", 0.01, 100, 2);
        JoyTeleopMapping joy = mqtt.Has("joy") ? JoyTeleopMapping.Read(mqtt.Object("joy")) : new JoyTeleopMapping();

        var users = new List<MqttUser>();
        if (mqtt.Has("users"))
        {
            foreach (ConfigNode u in mqtt.Objects("users", 0, 1000))
            {
                string name = u.String("name");
                if (name.Contains('\n') || name.Contains(':'))
                    throw u.Error("name", "a user name may not contain ':' or a line break");
                if (users.Any(x => x.Name == name)) throw u.Error("name", $"user \"{name}\" is listed twice");
                string hex = u.String("password_sha256");
                if (hex.Length != 64 || !hex.All(Uri.IsHexDigit))
                    throw u.Error("password_sha256", "expected 64 hex digits: hex(SHA-256(salt + password))");
                string salt = u.Has("salt") ? u.String("salt") : "";
                MqttRights rights = ReadRights(u);
                u.EnsureNoUnknownKeys();
                users.Add(new MqttUser(name, Convert.FromHexString(hex), salt, rights));
            }
        }
        mqtt.EnsureNoUnknownKeys();

        return new MqttTransportOptions
        {
            Robot = robot,
            Broker = broker,
            Host = host,
            Port = port,
            ClientId = clientId,
            Username = username,
            Password = password,
            Tls = tls,
            TelemetryHz = telemetryHz,
            BufferFrames = bufferFrames,
            ReconnectInitialMs = reconnectInitialMs,
            ReconnectMaxMs = reconnectMaxMs,
            AllowAnonymous = allowAnonymous,
            MaxClockSkewMs = maxClockSkewMs,
            SetpointLimitM = setpointLimitM,
            TeleopMaxSpeedMps = teleopMaxSpeed,
            Joy = joy,
            Users = users,
        };
    }

    /// <summary>The rights' names as they appear in configs.</summary>
    public static readonly IReadOnlyDictionary<string, MqttRights> RightNames = new Dictionary<string, MqttRights>
    {
        ["arm"] = MqttRights.Arm,
        ["setpoint"] = MqttRights.Setpoint,
        ["override"] = MqttRights.Override,
        ["land"] = MqttRights.Land,
        ["kill"] = MqttRights.Kill,
        ["robot"] = MqttRights.Robot,
    };

    private static MqttRights ReadRights(ConfigNode user)
    {
        var rights = MqttRights.None;
        if (!user.Has("rights")) return rights;
        foreach (string name in user.Strings("rights", RightNames.Keys.ToArray())) rights |= RightNames[name];
        return rights;
    }

    private static string ResolvePath(ConfigNode node, string path)
        => Path.IsPathRooted(path) ? path : Path.GetFullPath(Path.Combine(node.Directory, path));

    internal static bool IsTopicWord(string s)
        => s.Length > 0 && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');
}
