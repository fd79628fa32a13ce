using System.Numerics;
using System.Text.Json.Nodes;
using RoboRl.Core.Messages;

namespace RoboRl.Foxglove.Tests;

/// <summary>The ground robot's scene: the vehicle at /odom, the goal, and the scan's returns placed in the world.</summary>
public class SceneBuilderTests
{
    static byte[] Encode<T>(in T message) where T : struct, ICdrMessage<T> => new CdrWriter(256).Write(in message).ToArray();

    static QuaternionMsg Yaw(double yaw) => new() { Z = Math.Sin(yaw / 2), W = Math.Cos(yaw / 2) };

    [Test]
    public void AGroundRobotsScanIsDrawnInTheWorldFromItsOdometry()
    {
        var scene = new SceneBuilder();
        Assert.That(scene.HasContent, Is.False);
        var odom = new OdometryMsg
        {
            Header = new HeaderMsg { FrameId = "odom" },
            Pose = new PoseWithCovarianceMsg { Pose = new PoseMsg { Position = new PointMsg { X = 1, Y = 2 }, Orientation = Yaw(Math.PI / 2) } },
        };
        Assert.That(scene.Observe("/odom", Encode(odom)), Is.True);
        // Three beams: straight ahead 1 m, one out of range (dropped), 90° left 2 m.
        var scan = new LaserScanMsg
        {
            AngleMin = 0,
            AngleIncrement = MathF.PI / 4,
            AngleMax = MathF.PI / 2,
            RangeMin = 0.1f,
            RangeMax = 5,
            Ranges = new float[] { 1, float.PositiveInfinity, 2 },
        };
        Assert.That(scene.Observe("/scan", Encode(scan)), Is.True);
        Assert.That(scene.Observe("/goal_pose", Encode(new PoseStampedMsg { Pose = new PoseMsg { Position = new PointMsg { X = 4, Y = 5 }, Orientation = Yaw(0) } })), Is.True);
        Assert.That(scene.Observe("/cmd_vel", Encode(new TwistMsg())), Is.False, "not drawn");

        JsonNode update = JsonNode.Parse(scene.Build(1_500_000_000))!;
        var entities = update["entities"]!.AsArray().ToDictionary(e => e!["id"]!.GetValue<string>());
        Assert.That(entities.Keys, Is.EquivalentTo(new[] { "vehicle", "goal", "scan" }));
        Assert.That(entities["vehicle"]!["frame_id"]!.GetValue<string>(), Is.EqualTo("odom"));
        Assert.That(entities["vehicle"]!["timestamp"]!["sec"]!.GetValue<long>(), Is.EqualTo(1));
        Assert.That(entities["vehicle"]!["timestamp"]!["nsec"]!.GetValue<long>(), Is.EqualTo(500_000_000));
        Assert.That(entities["vehicle"]!["cylinders"]![0]!["pose"]!["position"]!["y"]!.GetValue<double>(), Is.EqualTo(2));
        Assert.That(entities["goal"]!["spheres"]![0]!["pose"]!["position"]!["x"]!.GetValue<double>(), Is.EqualTo(4));

        // Facing +y: the beam ahead lands at (1, 3); the beam 90° to the left at (1 − 2, 2) = (−1, 2).
        var points = entities["scan"]!["spheres"]!.AsArray()
            .Select(s => new Vector2(s!["pose"]!["position"]!["x"]!.GetValue<float>(), s["pose"]!["position"]!["y"]!.GetValue<float>())).ToList();
        Assert.That(points, Has.Count.EqualTo(2));
        Assert.That(Vector2.Distance(points[0], new Vector2(1, 3)), Is.LessThan(1e-5f));
        Assert.That(Vector2.Distance(points[1], new Vector2(-1, 2)), Is.LessThan(1e-5f));
    }

    [Test]
    public void TheSchemaNamesEveryFieldTheSceneWrites()
    {
        var scene = new SceneBuilder(new Vector3(-1, -1, 0), new Vector3(1, 1, 2));
        scene.Observe("/pose", Encode(new PoseStampedMsg { Header = new HeaderMsg { FrameId = "world" }, Pose = new PoseMsg { Orientation = Yaw(0) } }));
        scene.Observe("/setpoint", Encode(new PoseStampedMsg { Pose = new PoseMsg { Position = new PointMsg { Z = 1 } } }));
        JsonNode update = JsonNode.Parse(scene.Build(0))!;
        JsonNode schema = JsonNode.Parse(SceneBuilder.JsonSchema)!;
        Assert.That(schema["title"]!.GetValue<string>(), Is.EqualTo("foxglove.SceneUpdate"));
        Check(update, schema, "SceneUpdate");

        static void Check(JsonNode? value, JsonNode schema, string path)
        {
            if (value is JsonObject o && schema["properties"] is JsonObject properties)
            {
                foreach (JsonNode? r in schema["required"]!.AsArray()) Assert.That(o.ContainsKey(r!.GetValue<string>()), $"{path}.{r} missing");
                foreach (var (k, v) in o)
                {
                    Assert.That(properties.ContainsKey(k), $"{path}.{k} is not in the schema");
                    Check(v, properties[k]!, $"{path}.{k}");
                }
            }
            if (value is JsonArray a && schema["items"] is JsonNode items)
                for (int i = 0; i < a.Count; i++) Check(a[i], items, $"{path}[{i}]");
        }
    }
}
