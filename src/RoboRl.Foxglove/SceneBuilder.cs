using System.Buffers;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;
using RoboRl.Core.Messages;
using RoboRl.Logs;

namespace RoboRl.Foxglove;

/// <summary>
/// The node's 3D scene as a <c>foxglove.SceneUpdate</c> (JSON, shown by Foxglove's 3D panel): the vehicle at its pose,
/// the setpoint, the geofence box and, for a ground robot, the scan's returns and the goal. Built from the messages the
/// node records (/pose, /setpoint; /odom, /scan, /goal_pose), so a live node and a replayed log draw the same scene.
/// </summary>
public sealed class SceneBuilder(Vector3? fenceMin = null, Vector3? fenceMax = null)
{
    public const string Topic = "/scene", SchemaName = "foxglove.SceneUpdate";

    private bool _hasVehicle, _ground, _hasSetpoint, _hasGoal;
    private PoseMsg _vehicle, _setpoint, _goal;
    private string _frame = "world";
    private Vector2[] _scanPoints = [];
    private int _scanCount;
    private readonly ArrayBufferWriter<byte> _buffer = new(4096);

    /// <summary>Takes what the scene needs from one recorded message (CDR); false when the topic is not one it draws.</summary>
    public bool Observe(string topic, ReadOnlySpan<byte> cdr)
    {
        try
        {
            switch (topic)
            {
                case "/pose":
                    {
                        PoseStampedMsg m = Cdr.Read<PoseStampedMsg>(cdr);
                        (_vehicle, _hasVehicle, _ground, _frame) = (m.Pose, true, false, m.Header.FrameId ?? _frame);
                        return true;
                    }
                case "/setpoint": (_setpoint, _hasSetpoint) = (Cdr.Read<PoseStampedMsg>(cdr).Pose, true); return true;
                case "/odom":
                    {
                        OdometryMsg m = Cdr.Read<OdometryMsg>(cdr);
                        (_vehicle, _hasVehicle, _ground, _frame) = (m.Pose.Pose, true, true, m.Header.FrameId ?? _frame);
                        return true;
                    }
                case "/goal_pose": (_goal, _hasGoal) = (Cdr.Read<PoseStampedMsg>(cdr).Pose, true); return true;
                case "/scan": ObserveScan(Cdr.Read<LaserScanMsg>(cdr)); return true;
                default: return false;
            }
        }
        catch (CdrFormatException) { return false; } // a damaged message draws nothing; the log's checker reports it
    }

    // The scan's returns in the world frame, placed with the newest odometry (the scanner at the robot's centre).
    private void ObserveScan(in LaserScanMsg scan)
    {
        ReadOnlySpan<float> ranges = scan.Ranges.Span;
        if (_scanPoints.Length < ranges.Length) _scanPoints = new Vector2[ranges.Length];
        float yaw = Yaw(_vehicle.Orientation);
        var origin = new Vector2((float)_vehicle.Position.X, (float)_vehicle.Position.Y);
        _scanCount = 0;
        for (int i = 0; i < ranges.Length; i++)
        {
            float r = ranges[i];
            if (!float.IsFinite(r) || r < scan.RangeMin || r >= scan.RangeMax) continue;
            float a = yaw + scan.AngleMin + i * scan.AngleIncrement;
            _scanPoints[_scanCount++] = origin + r * new Vector2(MathF.Cos(a), MathF.Sin(a));
        }
    }

    private static float Yaw(QuaternionMsg q) =>
        (float)Math.Atan2(2 * (q.W * q.Z + q.X * q.Y), 1 - 2 * (q.Y * q.Y + q.Z * q.Z));

    /// <summary>True once a vehicle pose has been seen (before that there is nothing to draw).</summary>
    public bool HasContent => _hasVehicle;

    /// <summary>The scene at <paramref name="timeNs"/> as SceneUpdate JSON (valid until the next call).</summary>
    public ReadOnlySpan<byte> Build(ulong timeNs)
    {
        _buffer.ResetWrittenCount();
        using var w = new Utf8JsonWriter(_buffer);
        w.WriteStartObject();
        w.WriteStartArray("deletions");
        w.WriteEndArray();
        w.WriteStartArray("entities");
        if (_hasVehicle)
        {
            Entity(w, timeNs, "vehicle");
            if (_ground)
            {
                // A ground robot: a disc of its footprint and an arrow along its heading.
                Array(w, "arrows", () => Arrow(w, _vehicle, 0.35, Color(0.1, 0.4, 1, 1)));
                Empty(w, "cubes");
                Empty(w, "spheres");
                Array(w, "cylinders", () =>
                {
                    w.WriteStartObject();
                    Pose(w, "pose", _vehicle);
                    Vector(w, "size", 0.3, 0.3, 0.1);
                    w.WriteNumber("bottom_scale", 1);
                    w.WriteNumber("top_scale", 1);
                    Color(w, 0.1, 0.4, 1, 0.8);
                    w.WriteEndObject();
                });
            }
            else
            {
                // A flyer: a flat box the size of a Crazyflie's frame, an arrow along its body x axis.
                Array(w, "arrows", () => Arrow(w, _vehicle, 0.12, Color(1, 0.3, 0.1, 1)));
                Array(w, "cubes", () =>
                {
                    w.WriteStartObject();
                    Pose(w, "pose", _vehicle);
                    Vector(w, "size", 0.1, 0.1, 0.03);
                    Color(w, 1, 0.3, 0.1, 0.9);
                    w.WriteEndObject();
                });
                Empty(w, "spheres");
                Empty(w, "cylinders");
            }
            EndEntity(w, lines: false);
        }
        if (_hasSetpoint)
        {
            Entity(w, timeNs, "setpoint");
            Empty(w, "arrows");
            Empty(w, "cubes");
            Array(w, "spheres", () => Sphere(w, _setpoint.Position, 0.05, Color(0.1, 0.9, 0.2, 0.8)));
            Empty(w, "cylinders");
            EndEntity(w, lines: false);
        }
        if (_hasGoal)
        {
            Entity(w, timeNs, "goal");
            Array(w, "arrows", () => Arrow(w, _goal, 0.3, Color(0.1, 0.9, 0.2, 1)));
            Empty(w, "cubes");
            Array(w, "spheres", () => Sphere(w, _goal.Position, 0.15, Color(0.1, 0.9, 0.2, 0.6)));
            Empty(w, "cylinders");
            EndEntity(w, lines: false);
        }
        if (_ground && _scanCount > 0)
        {
            Entity(w, timeNs, "scan");
            Empty(w, "arrows");
            Empty(w, "cubes");
            w.WriteStartArray("spheres");
            for (int i = 0; i < _scanCount; i++)
                Sphere(w, new PointMsg { X = _scanPoints[i].X, Y = _scanPoints[i].Y, Z = 0.05 }, 0.05, Color(1, 0.85, 0.1, 1));
            w.WriteEndArray();
            Empty(w, "cylinders");
            EndEntity(w, lines: false);
        }
        if (fenceMin is { } lo && fenceMax is { } hi)
        {
            Entity(w, timeNs, "geofence");
            Empty(w, "arrows");
            Empty(w, "cubes");
            Empty(w, "spheres");
            Empty(w, "cylinders");
            w.WriteStartArray("lines");
            w.WriteStartObject();
            w.WriteNumber("type", 2); // LINE_LIST: the box's 12 edges as point pairs
            Pose(w, "pose", new PoseMsg { Orientation = QuaternionMsg.Identity });
            w.WriteNumber("thickness", 2);
            w.WriteBoolean("scale_invariant", true);
            w.WriteStartArray("points");
            for (int edge = 0; edge < 12; edge++)
            {
                var (a, b) = BoxEdge(edge, lo, hi);
                Point(w, a);
                Point(w, b);
            }
            w.WriteEndArray();
            Color(w, 1, 0.2, 0.2, 0.7);
            w.WriteStartArray("colors");
            w.WriteEndArray();
            w.WriteStartArray("indices");
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndArray();
            EndEntity(w, lines: true);
        }
        w.WriteEndArray();
        w.WriteEndObject();
        w.Flush();
        return _buffer.WrittenSpan;
    }

    // Edge k of the box: 4 along x, 4 along y, 4 along z.
    private static (Vector3, Vector3) BoxEdge(int k, Vector3 lo, Vector3 hi)
    {
        int axis = k / 4, corner = k % 4;
        float P(int bit, float l, float h) => (corner & bit) == 0 ? l : h;
        return axis switch
        {
            0 => (new(lo.X, P(1, lo.Y, hi.Y), P(2, lo.Z, hi.Z)), new(hi.X, P(1, lo.Y, hi.Y), P(2, lo.Z, hi.Z))),
            1 => (new(P(1, lo.X, hi.X), lo.Y, P(2, lo.Z, hi.Z)), new(P(1, lo.X, hi.X), hi.Y, P(2, lo.Z, hi.Z))),
            _ => (new(P(1, lo.X, hi.X), P(2, lo.Y, hi.Y), lo.Z), new(P(1, lo.X, hi.X), P(2, lo.Y, hi.Y), hi.Z)),
        };
    }

    private void Entity(Utf8JsonWriter w, ulong timeNs, string id)
    {
        w.WriteStartObject();
        w.WriteStartObject("timestamp");
        w.WriteNumber("sec", timeNs / 1_000_000_000);
        w.WriteNumber("nsec", timeNs % 1_000_000_000);
        w.WriteEndObject();
        w.WriteString("frame_id", _frame);
        w.WriteString("id", id);
        w.WriteStartObject("lifetime"); // 0: until replaced by the entity of the same id in a later update
        w.WriteNumber("sec", 0);
        w.WriteNumber("nsec", 0);
        w.WriteEndObject();
        w.WriteBoolean("frame_locked", false);
        Empty(w, "metadata");
    }

    private static void EndEntity(Utf8JsonWriter w, bool lines)
    {
        if (!lines) Empty(w, "lines");
        Empty(w, "triangles");
        Empty(w, "texts");
        Empty(w, "models");
        w.WriteEndObject();
    }

    private static void Empty(Utf8JsonWriter w, string name)
    {
        w.WriteStartArray(name);
        w.WriteEndArray();
    }

    private static void Array(Utf8JsonWriter w, string name, Action item)
    {
        w.WriteStartArray(name);
        item();
        w.WriteEndArray();
    }

    private readonly record struct Rgba(double R, double G, double B, double A);
    private static Rgba Color(double r, double g, double b, double a) => new(r, g, b, a);

    private static void Color(Utf8JsonWriter w, double r, double g, double b, double a) => Color(w, new Rgba(r, g, b, a));

    private static void Color(Utf8JsonWriter w, Rgba c)
    {
        w.WriteStartObject("color");
        w.WriteNumber("r", c.R);
        w.WriteNumber("g", c.G);
        w.WriteNumber("b", c.B);
        w.WriteNumber("a", c.A);
        w.WriteEndObject();
    }

    private static void Arrow(Utf8JsonWriter w, PoseMsg pose, double length, Rgba color)
    {
        w.WriteStartObject();
        Pose(w, "pose", pose);
        w.WriteNumber("shaft_length", length * 0.7);
        w.WriteNumber("shaft_diameter", length * 0.08);
        w.WriteNumber("head_length", length * 0.3);
        w.WriteNumber("head_diameter", length * 0.2);
        Color(w, color);
        w.WriteEndObject();
    }

    private static void Sphere(Utf8JsonWriter w, PointMsg at, double size, Rgba color)
    {
        w.WriteStartObject();
        Pose(w, "pose", new PoseMsg { Position = at, Orientation = QuaternionMsg.Identity });
        Vector(w, "size", size, size, size);
        Color(w, color);
        w.WriteEndObject();
    }

    private static void Pose(Utf8JsonWriter w, string name, PoseMsg pose)
    {
        w.WriteStartObject(name);
        Vector(w, "position", pose.Position.X, pose.Position.Y, pose.Position.Z);
        w.WriteStartObject("orientation");
        w.WriteNumber("x", pose.Orientation.X);
        w.WriteNumber("y", pose.Orientation.Y);
        w.WriteNumber("z", pose.Orientation.Z);
        w.WriteNumber("w", pose.Orientation.W);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void Vector(Utf8JsonWriter w, string name, double x, double y, double z)
    {
        w.WriteStartObject(name);
        w.WriteNumber("x", x);
        w.WriteNumber("y", y);
        w.WriteNumber("z", z);
        w.WriteEndObject();
    }

    private static void Point(Utf8JsonWriter w, Vector3 p)
    {
        w.WriteStartObject();
        w.WriteNumber("x", p.X);
        w.WriteNumber("y", p.Y);
        w.WriteNumber("z", p.Z);
        w.WriteEndObject();
    }

    /// <summary>
    /// The JSON schema advertised and recorded with /scene: the parts of foxglove.SceneUpdate this scene uses, with
    /// Foxglove's field names (docs.foxglove.dev, "SceneUpdate" message reference); Foxglove's 3D panel recognises the
    /// scene by the schema name.
    /// </summary>
    public static string JsonSchema { get; } = BuildSchema();

    private static string BuildSchema()
    {
        static JsonObject Num() => new() { ["type"] = "number" };
        static JsonObject Obj(string title, params (string Name, JsonNode Schema)[] fields)
        {
            var properties = new JsonObject();
            var required = new JsonArray();
            foreach (var (name, schema) in fields) { properties[name] = schema; required.Add(name); }
            return new JsonObject { ["title"] = title, ["type"] = "object", ["properties"] = properties, ["required"] = required };
        }
        static JsonObject ArrayOf(JsonNode items) => new() { ["type"] = "array", ["items"] = items };
        JsonObject Time() => Obj("time", ("sec", new JsonObject { ["type"] = "integer", ["minimum"] = 0 }),
            ("nsec", new JsonObject { ["type"] = "integer", ["minimum"] = 0, ["maximum"] = 999_999_999 }));
        JsonObject Vec3(string title) => Obj(title, ("x", Num()), ("y", Num()), ("z", Num()));
        JsonObject Quat() => Obj("foxglove.Quaternion", ("x", Num()), ("y", Num()), ("z", Num()), ("w", Num()));
        JsonObject PoseS() => Obj("foxglove.Pose", ("position", Vec3("foxglove.Vector3")), ("orientation", Quat()));
        JsonObject ColorS() => Obj("foxglove.Color", ("r", Num()), ("g", Num()), ("b", Num()), ("a", Num()));
        JsonObject Bool() => new() { ["type"] = "boolean" };
        JsonObject entity = Obj("foxglove.SceneEntity",
            ("timestamp", Time()),
            ("frame_id", new JsonObject { ["type"] = "string" }),
            ("id", new JsonObject { ["type"] = "string" }),
            ("lifetime", Obj("duration", ("sec", new JsonObject { ["type"] = "integer" }),
                ("nsec", new JsonObject { ["type"] = "integer", ["minimum"] = 0, ["maximum"] = 999_999_999 }))),
            ("frame_locked", Bool()),
            ("metadata", ArrayOf(Obj("foxglove.KeyValuePair", ("key", new JsonObject { ["type"] = "string" }), ("value", new JsonObject { ["type"] = "string" })))),
            ("arrows", ArrayOf(Obj("foxglove.ArrowPrimitive", ("pose", PoseS()), ("shaft_length", Num()), ("shaft_diameter", Num()),
                ("head_length", Num()), ("head_diameter", Num()), ("color", ColorS())))),
            ("cubes", ArrayOf(Obj("foxglove.CubePrimitive", ("pose", PoseS()), ("size", Vec3("foxglove.Vector3")), ("color", ColorS())))),
            ("spheres", ArrayOf(Obj("foxglove.SpherePrimitive", ("pose", PoseS()), ("size", Vec3("foxglove.Vector3")), ("color", ColorS())))),
            ("cylinders", ArrayOf(Obj("foxglove.CylinderPrimitive", ("pose", PoseS()), ("size", Vec3("foxglove.Vector3")),
                ("bottom_scale", Num()), ("top_scale", Num()), ("color", ColorS())))),
            ("lines", ArrayOf(Obj("foxglove.LinePrimitive",
                ("type", new JsonObject { ["title"] = "foxglove.LineType", ["type"] = "integer", ["description"] = "0 LINE_STRIP, 1 LINE_LOOP, 2 LINE_LIST" }),
                ("pose", PoseS()), ("thickness", Num()), ("scale_invariant", Bool()), ("points", ArrayOf(Vec3("foxglove.Point3"))),
                ("color", ColorS()), ("colors", ArrayOf(ColorS())), ("indices", ArrayOf(new JsonObject { ["type"] = "integer", ["minimum"] = 0 }))))),
            ("triangles", ArrayOf(new JsonObject { ["title"] = "foxglove.TriangleListPrimitive", ["type"] = "object" })),
            ("texts", ArrayOf(new JsonObject { ["title"] = "foxglove.TextPrimitive", ["type"] = "object" })),
            ("models", ArrayOf(new JsonObject { ["title"] = "foxglove.ModelPrimitive", ["type"] = "object" })));
        JsonObject update = Obj(SchemaName,
            ("deletions", ArrayOf(Obj("foxglove.SceneEntityDeletion", ("timestamp", Time()), ("type", new JsonObject { ["type"] = "integer" }),
                ("id", new JsonObject { ["type"] = "string" })))),
            ("entities", ArrayOf(entity)));
        update["$schema"] = "https://json-schema.org/draft/2020-12/schema";
        return update.ToJsonString();
    }
}
