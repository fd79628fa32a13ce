using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using RoboRl.Core.Messages;
using RoboRl.Core.Robots;
using RoboRl.Core.Swarm;
using RoboRl.Foxglove;
using RoboRl.Logs;

namespace RoboRl.Node;

/// <summary>
/// A swarm's topics in the flight log, per vehicle under its name (crazyswarm2's namespaces): /cfN/pose
/// (geometry_msgs/PoseStamped, as crazyswarm2 publishes it), /cfN/velocity (TwistStamped, world), /cfN/goal (PoseStamped),
/// /cfN/action (roborl_msgs/Action: the four normalised rotor actions the vehicle was sent; source = policy or fallback);
/// with a simulated swarm /swarm/sim_contacts (roborl_msgs/Observation layout: per vehicle its contacts with vehicles
/// and with columns as the physics resolved them). And /scene, a foxglove.SceneUpdate (JSON, Foxglove's 3D panel) at
/// 20 Hz: every vehicle (a box and its heading; red while in fallback or landed), every goal (a sphere in the vehicle's
/// colour), the columns (cylinders, floor to ceiling) and the room.
/// The node's /observation holds all vehicles' observations, vehicle-major.
/// </summary>
public sealed class SwarmNodeLog : INodeLog
{
    public const string SceneTopic = SceneBuilder.Topic, SimContactsTopic = "/swarm/sim_contacts";
    public const float SceneRateHz = 20;

    private struct Header
    {
        public bool HasGroundTruth;
    }

    private struct Vehicle
    {
        public bool Has;
        public RobotStateSample State;
        public Vector3 Goal;
        public Vector4 Action;
        public VehicleMode Mode;
        public int SimVehicleContacts, SimColumnContacts;
    }

    private readonly SwarmNodeSettings _settings;
    private readonly int _n, _sceneEvery;
    private readonly ushort[] _pose, _velocity, _goal, _action;
    private ushort _scene, _simContacts;
    private readonly float[] _actionValues = new float[4];
    private readonly float[] _contactValues;
    private readonly ArrayBufferWriter<byte> _sceneBuffer = new(16 * 1024);
    private readonly Utf8JsonWriter _sceneWriter;

    public SwarmNodeLog(SwarmNodeSettings settings, float rateHz)
    {
        _settings = settings;
        _n = settings.Count;
        _sceneEvery = Math.Max(1, (int)MathF.Round(rateHz / SceneRateHz));
        _pose = new ushort[_n]; _velocity = new ushort[_n]; _goal = new ushort[_n]; _action = new ushort[_n];
        _contactValues = new float[2 * _n];
        _sceneWriter = new Utf8JsonWriter(_sceneBuffer);
    }

    public int StateBytes => Unsafe.SizeOf<Header>() + _n * Unsafe.SizeOf<Vehicle>();

    /// <summary>Tick thread: every vehicle's state, goal, applied action and mode (and the simulator's contacts). Allocation-free.</summary>
    public void Capture(Span<byte> destination, ReadOnlySpan<RobotStateSample> states, ReadOnlySpan<bool> has, ReadOnlySpan<Vector3> goals,
        ReadOnlySpan<float> actions, ReadOnlySpan<VehicleMode> modes, ISwarmGroundTruth? groundTruth)
    {
        MemoryMarshal.Write(destination, new Header { HasGroundTruth = groundTruth is not null });
        Span<Vehicle> vehicles = MemoryMarshal.Cast<byte, Vehicle>(destination[Unsafe.SizeOf<Header>()..]);
        for (int v = 0; v < _n; v++)
        {
            var (quads, columns) = groundTruth?.Contacts(v) ?? (0, 0);
            vehicles[v] = new Vehicle
            {
                Has = has[v],
                State = states[v],
                Goal = goals[v],
                Action = new Vector4(actions[4 * v], actions[4 * v + 1], actions[4 * v + 2], actions[4 * v + 3]),
                Mode = modes[v],
                SimVehicleContacts = quads,
                SimColumnContacts = columns,
            };
        }
    }

    public void Register(McapWriter writer)
    {
        for (int v = 0; v < _n; v++)
        {
            string ns = "/" + _settings.Vehicles[v].Name;
            _pose[v] = writer.RegisterRos2Channel<PoseStampedMsg>(ns + "/pose", Ros2Qos.SensorData);
            _velocity[v] = writer.RegisterRos2Channel<TwistStampedMsg>(ns + "/velocity", Ros2Qos.SensorData);
            _goal[v] = writer.RegisterRos2Channel<PoseStampedMsg>(ns + "/goal", Ros2Qos.Default);
            _action[v] = writer.RegisterRos2Channel<ActionMsg>(ns + "/action", Ros2Qos.Default);
        }
        _simContacts = writer.RegisterRos2Channel<ObservationMsg>(SimContactsTopic, Ros2Qos.Default);
        ushort schema = writer.RegisterSchema(SceneBuilder.SchemaName, McapConstants.JsonSchemaEncoding, Encoding.UTF8.GetBytes(SceneBuilder.JsonSchema));
        _scene = writer.RegisterChannel(schema, SceneTopic, McapConstants.JsonMessageEncoding);
    }

    public void Write(McapWriter w, in TickRecord r, ReadOnlySpan<byte> bytes, NodeLogClock clock)
    {
        Header header = MemoryMarshal.Read<Header>(bytes);
        ReadOnlySpan<Vehicle> vehicles = MemoryMarshal.Cast<byte, Vehicle>(bytes[Unsafe.SizeOf<Header>()..]);
        ulong time = clock.LogTime(r.TimestampNs);
        for (int v = 0; v < _n; v++)
        {
            Vehicle s = vehicles[v];
            if (s.Has)
            {
                ulong stateTime = clock.LogTime(s.State.TimestampNs);
                w.WriteMessage(_pose[v], time, stateTime, new PoseStampedMsg
                {
                    Header = NodeLogClock.Header(stateTime, NodeRecorder.WorldFrame),
                    Pose = Pose(s.State.Position, s.State.Orientation),
                });
                Vector3 angularWorld = Vector3.Transform(s.State.AngularVelocityBody, s.State.Orientation);
                Vector3 velocity = s.State.VelocityWorld;
                w.WriteMessage(_velocity[v], time, stateTime, new TwistStampedMsg
                {
                    Header = NodeLogClock.Header(stateTime, NodeRecorder.WorldFrame),
                    Twist = new TwistMsg
                    {
                        Linear = new Vector3Msg { X = velocity.X, Y = velocity.Y, Z = velocity.Z },
                        Angular = new Vector3Msg { X = angularWorld.X, Y = angularWorld.Y, Z = angularWorld.Z },
                    },
                });
            }
            w.WriteMessage(_goal[v], time, time, new PoseStampedMsg { Header = NodeLogClock.Header(time, NodeRecorder.WorldFrame), Pose = Pose(s.Goal, Quaternion.Identity) });
            _actionValues[0] = s.Action.X; _actionValues[1] = s.Action.Y; _actionValues[2] = s.Action.Z; _actionValues[3] = s.Action.W;
            w.WriteMessage(_action[v], time, time, new ActionMsg
            {
                Header = NodeLogClock.Header(time, NodeRecorder.BodyFrame),
                Tick = r.Tick,
                Values = _actionValues,
                Source = s.Mode == VehicleMode.Policy ? ActionSource.Policy : ActionSource.Fallback,
            });
            _contactValues[2 * v] = s.SimVehicleContacts;
            _contactValues[2 * v + 1] = s.SimColumnContacts;
        }
        if (header.HasGroundTruth)
            w.WriteMessage(_simContacts, time, time, new ObservationMsg { Header = NodeLogClock.Header(time, NodeRecorder.WorldFrame), Tick = r.Tick, Values = _contactValues });
        if (r.Tick % (ulong)_sceneEvery == 0) w.WriteMessage(_scene, time, time, BuildScene(time, vehicles));
    }

    private static PoseMsg Pose(Vector3 p, Quaternion q) => new()
    {
        Position = new PointMsg { X = p.X, Y = p.Y, Z = p.Z },
        Orientation = new QuaternionMsg { X = q.X, Y = q.Y, Z = q.Z, W = q.W },
    };

    // The scene's colours: one hue per vehicle, its goal the same hue, translucent.
    private static (double R, double G, double B) Hue(int v, int n)
    {
        double h = 6.0 * v / Math.Max(1, n), x = 1 - Math.Abs(h % 2 - 1);
        return (int)h switch { 0 => (1, x, 0), 1 => (x, 1, 0), 2 => (0, 1, x), 3 => (0, x, 1), 4 => (x, 0, 1), _ => (1, 0, x) };
    }

    /// <summary>The /scene message (foxglove.SceneUpdate JSON, SceneBuilder's schema); recorder thread.</summary>
    private ReadOnlySpan<byte> BuildScene(ulong time, ReadOnlySpan<Vehicle> vehicles)
    {
        _sceneBuffer.ResetWrittenCount();
        Utf8JsonWriter w = _sceneWriter;
        w.Reset(_sceneBuffer);
        w.WriteStartObject();
        w.WriteStartArray("deletions");
        w.WriteEndArray();
        w.WriteStartArray("entities");
        for (int v = 0; v < _n; v++)
        {
            Vehicle s = vehicles[v];
            var (r, g, b) = Hue(v, _n);
            bool down = s.Mode is VehicleMode.Fallback or VehicleMode.Landed;
            StartEntity(w, time, _settings.Vehicles[v].Name);
            w.WriteStartArray("arrows");
            if (s.Has)
            {
                w.WriteStartObject();
                WritePose(w, s.State.Position, s.State.Orientation);
                w.WriteNumber("shaft_length", 0.084); w.WriteNumber("shaft_diameter", 0.01);
                w.WriteNumber("head_length", 0.036); w.WriteNumber("head_diameter", 0.024);
                WriteColor(w, r, g, b, 1);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("cubes");
            if (s.Has)
            {
                w.WriteStartObject();
                WritePose(w, s.State.Position, s.State.Orientation);
                WriteVector(w, "size", 0.092, 0.092, 0.03); // a Crazyflie 2.x: 92 mm motor to motor
                if (down) WriteColor(w, 1, 0, 0, 1); else WriteColor(w, r, g, b, 0.9);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("spheres");
            w.WriteStartObject();
            WritePose(w, s.Goal, Quaternion.Identity);
            WriteVector(w, "size", 0.06, 0.06, 0.06);
            WriteColor(w, r, g, b, 0.5);
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteStartArray("cylinders");
            w.WriteEndArray();
            EndEntity(w);
        }
        // The known columns, floor to ceiling.
        StartEntity(w, time, "columns");
        w.WriteStartArray("arrows"); w.WriteEndArray();
        w.WriteStartArray("cubes"); w.WriteEndArray();
        w.WriteStartArray("spheres"); w.WriteEndArray();
        w.WriteStartArray("cylinders");
        SwarmTaskConfig task = _settings.Task;
        float height = task.Room.SizeM.Z, diameter = task.Obstacles.DiameterM;
        foreach (Vector2 c in _settings.Columns)
        {
            w.WriteStartObject();
            WritePose(w, new Vector3(c.X, c.Y, height / 2), Quaternion.Identity);
            WriteVector(w, "size", diameter, diameter, height);
            w.WriteNumber("bottom_scale", 1);
            w.WriteNumber("top_scale", 1);
            WriteColor(w, 0.6, 0.6, 0.6, 0.6);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        EndEntity(w);
        w.WriteEndArray();
        w.WriteEndObject();
        w.Flush();
        return _sceneBuffer.WrittenSpan;
    }

    private static void StartEntity(Utf8JsonWriter w, ulong time, string id)
    {
        w.WriteStartObject();
        w.WriteStartObject("timestamp");
        w.WriteNumber("sec", time / 1_000_000_000);
        w.WriteNumber("nsec", time % 1_000_000_000);
        w.WriteEndObject();
        w.WriteString("frame_id", NodeRecorder.WorldFrame);
        w.WriteString("id", id);
        w.WriteStartObject("lifetime"); // 0: until the next update of the same id
        w.WriteNumber("sec", 0);
        w.WriteNumber("nsec", 0);
        w.WriteEndObject();
        w.WriteBoolean("frame_locked", false);
        w.WriteStartArray("metadata"); w.WriteEndArray();
    }

    private static void EndEntity(Utf8JsonWriter w)
    {
        w.WriteStartArray("lines"); w.WriteEndArray();
        w.WriteStartArray("triangles"); w.WriteEndArray();
        w.WriteStartArray("texts"); w.WriteEndArray();
        w.WriteStartArray("models"); w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WritePose(Utf8JsonWriter w, Vector3 p, Quaternion q)
    {
        w.WriteStartObject("pose");
        WriteVector(w, "position", p.X, p.Y, p.Z);
        w.WriteStartObject("orientation");
        w.WriteNumber("x", q.X); w.WriteNumber("y", q.Y); w.WriteNumber("z", q.Z); w.WriteNumber("w", q.W);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteVector(Utf8JsonWriter w, string name, double x, double y, double z)
    {
        w.WriteStartObject(name);
        w.WriteNumber("x", x); w.WriteNumber("y", y); w.WriteNumber("z", z);
        w.WriteEndObject();
    }

    private static void WriteColor(Utf8JsonWriter w, double r, double g, double b, double a)
    {
        w.WriteStartObject("color");
        w.WriteNumber("r", r); w.WriteNumber("g", g); w.WriteNumber("b", b); w.WriteNumber("a", a);
        w.WriteEndObject();
    }
}
