using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RoboRl.Core.Messages;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Robots;
using RoboRl.Hosting;
using RoboRl.Logs;
using RoboRl.Replay;
using RoboRl.Testing;

namespace RoboRl.Foxglove.Tests;

/// <summary>
/// The live view with Foxglove's own client: a simulated Crazyflie node (roborl-node, transport "sim") serves the topics,
/// schemas and bytes it records, plus the 3D scene; a token guards a wider address; a slow viewer drops frames with a
/// count while the node keeps its ticks; a replayed log is served the same way; the tick allocates nothing with a viewer
/// subscribed.
/// </summary>
[NonParallelizable]
public class FoxgloveTests
{
    static readonly string Dir = Path.Combine(Path.GetTempPath(), "roborl-foxglove-tests", Guid.NewGuid().ToString("N"));

    [OneTimeTearDown]
    public void Clean()
    {
        if (Directory.Exists(Dir)) Directory.Delete(Dir, recursive: true);
    }

    /// <summary>The shipped simulated-Crazyflie config (take-off from the floor, the policy flies), real time or lock-step.</summary>
    static string Config(bool lockStep)
    {
        Directory.CreateDirectory(Dir);
        var root = JsonNode.Parse(File.ReadAllText(FoxgloveClientScript.Repo("configs/nodes/crazyflie-sim.json")),
            documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip })!.AsObject();
        root["robot"] = FoxgloveClientScript.Repo("configs/robots/crazyflie21.json");
        root["sim"]!["lock_step"] = lockStep;
        // Real time on a shared, loaded CI machine: a sensor sample late by 100 ms (seen at load 13 on 2 cores) or a few
        // late ticks must not end these flights in the fallback; the viewer, not the supervisor, is under test here.
        root["limits"]!["sensor_timeout_ms"] = 2000;
        root["limits"]!["overrun_streak"] = 1000;
        string path = Path.Combine(Dir, lockStep ? "lockstep.json" : "realtime.json");
        File.WriteAllText(path, root.ToJsonString());
        return path;
    }

    /// <summary>A hovering policy whose actions follow the state (no training).</summary>
    static string Bundle()
    {
        Directory.CreateDirectory(Dir);
        string path = Path.Combine(Dir, "analytic.safetensors");
        if (!File.Exists(path))
        {
            string robot = FoxgloveClientScript.Repo("configs/robots/crazyflie21.json");
            AnalyticHoverPolicy.Create(QuadrotorConfig.Load(robot), controlDt: 0.01, robotConfigJson: Core.Configs.ConfigNode.LoadFile(robot).RawJson).Write(path);
        }
        return path;
    }

    /// <summary>roborl-node in real time on a background thread: (exit code, stdout, stderr).</summary>
    static Task<(int Code, string Out, string Err)> StartNode(double seconds, string? record, string foxglove, string? token = null) => Task.Run(() =>
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = NodeHost.Program.RunNode(Config(lockStep: false), Bundle(), seconds, record, json: true, output, error, foxglove, token);
        return (code, output.ToString(), error.ToString());
    });

    static JsonObject LastJson(string stdout) => JsonNode.Parse(stdout.Trim().Split('\n')[^1])!.AsObject();

    static PoseStampedMsg Pose(McapMessage m) => Cdr.Read<PoseStampedMsg>(m.Data.Span);

    [Test, CancelAfter(120_000)]
    public void ALiveNodeServesItsRecordedTopicsAndSceneToFoxglovesClient()
    {
        int port = FoxgloveClientScript.FreePort();
        string mcap = Path.Combine(Dir, "live.mcap");
        var node = StartNode(6, mcap, $"127.0.0.1:{port}");
        JsonObject client = FoxgloveClientScript.Run($"ws://127.0.0.1:{port}", "--seconds", "3", "--keep", "/pose,/scene");
        var (code, stdout, stderr) = node.Result;
        Assert.That(code, Is.Zero, stderr);
        Assert.That(client["exit_code"]!.GetValue<int>(), Is.Zero, client["stderr"]!.GetValue<string>());
        Assert.That(stderr, Does.Contain($"foxglove: serving ws://127.0.0.1:{port}"));
        Assert.That(client["serverInfo"]!["name"]!.GetValue<string>(), Does.StartWith("roborl node (quadrotor"));

        // Every recorded topic is advertised with the log's schema name, schema text and encodings; and the scene.
        FlightLog log = FlightLog.Load(mcap);
        Assert.That(LogChecker.Check(mcap).Errors, Is.Empty, "the recorded log with /scene is valid");
        var advertised = client["channels"]!.AsArray().Select(c => c!.AsObject()).ToDictionary(c => c["topic"]!.GetValue<string>());
        Assert.That(advertised.Keys, Is.EquivalentTo(log.ChannelsByTopic.Keys));
        Assert.That(advertised.Keys, Does.Contain("/scene").And.Contain("/pose").And.Contain("/setpoint").And.Contain("/diagnostics"));
        foreach (McapMessage first in log.Messages.DistinctBy(m => m.Channel.Topic))
        {
            JsonObject ch = advertised[first.Channel.Topic];
            Assert.That(ch["encoding"]!.GetValue<string>(), Is.EqualTo(first.Channel.MessageEncoding), first.Channel.Topic);
            Assert.That(ch["schemaName"]!.GetValue<string>(), Is.EqualTo(first.Schema!.Name), first.Channel.Topic);
            Assert.That(ch["schemaEncoding"]!.GetValue<string>(), Is.EqualTo(first.Schema.Encoding), first.Channel.Topic);
            Assert.That(ch["schema"]!.GetValue<string>(), Is.EqualTo(Encoding.UTF8.GetString(first.Schema.Data.Span)), first.Channel.Topic);
        }
        Assert.That(advertised["/scene"]["schemaName"]!.GetValue<string>(), Is.EqualTo("foxglove.SceneUpdate"));
        Assert.That(advertised["/scene"]["encoding"]!.GetValue<string>(), Is.EqualTo("json"));

        // Each /pose the client decoded is the logged /pose of the same time (receive time = log time).
        var logged = log.Messages.Where(m => m.Channel.Topic == "/pose").ToDictionary(m => m.LogTime, Pose);
        JsonArray poses = client["messages"]!["/pose"]!.AsArray();
        Assert.That(poses.Count, Is.GreaterThan(300), "3 s of a 500 Hz pose");
        foreach (JsonNode? p in poses)
        {
            ulong t = ulong.Parse(p!["receiveTimeNs"]!.GetValue<string>());
            Assert.That(logged.TryGetValue(t, out PoseStampedMsg expected), $"a /pose at {t} ns in the log");
            JsonNode position = p["data"]!["pose"]!["position"]!;
            Assert.That(position["x"]!.GetValue<double>(), Is.EqualTo(expected.Pose.Position.X));
            Assert.That(position["y"]!.GetValue<double>(), Is.EqualTo(expected.Pose.Position.Y));
            Assert.That(position["z"]!.GetValue<double>(), Is.EqualTo(expected.Pose.Position.Z));
        }
        Assert.That(poses.Max(p => p!["data"]!["pose"]!["position"]!["z"]!.GetValue<double>()), Is.GreaterThan(0.3), "the simulated Crazyflie took off");

        // The scene matches Foxglove's own foxglove.SceneUpdate schema and draws the vehicle where /pose says it is.
        Assert.That(client["sceneErrors"]!.AsArray().Select(e => e!.GetValue<string>()), Is.Empty);
        JsonArray scenes = client["messages"]!["/scene"]!.AsArray();
        // The log holds the scene at 20 Hz for the whole run; the viewer (3 s of it) may join late on a loaded machine,
        // so it is only required to receive a stream of scenes (the last one checked below against the log's /pose).
        var logTimes = log.Messages.Select(m => m.LogTime).ToList();
        double loggedSeconds = (logTimes.Max() - logTimes.Min()) / 1e9;
        Assert.That(log.Messages.Count(m => m.Channel.Topic == "/scene"), Is.InRange(17 * loggedSeconds, 23 * loggedSeconds), "20 Hz in the log");
        Assert.That(scenes.Count, Is.GreaterThan(5), "the viewer received the scene stream");
        JsonNode scene = scenes[^1]!;
        ulong sceneTime = ulong.Parse(scene["receiveTimeNs"]!.GetValue<string>());
        var entities = scene["data"]!["entities"]!.AsArray().ToDictionary(e => e!["id"]!.GetValue<string>());
        Assert.That(entities.Keys, Is.EquivalentTo(new[] { "vehicle", "setpoint", "geofence" }));
        PoseStampedMsg atScene = log.Messages.Last(m => m.Channel.Topic == "/pose" && m.LogTime <= sceneTime) is var pm ? Pose(pm) : default;
        JsonNode cube = entities["vehicle"]!["cubes"]![0]!["pose"]!["position"]!;
        Assert.That(cube["z"]!.GetValue<double>(), Is.EqualTo(atScene.Pose.Position.Z).Within(1e-9), "the vehicle at the newest pose");
        Assert.That(entities["geofence"]!["lines"]![0]!["points"]!.AsArray(), Has.Count.EqualTo(24), "the box's 12 edges");

        JsonObject summary = LastJson(stdout);
        Assert.That(summary["foxglove"]!["viewers_connected"]!.GetValue<long>(), Is.EqualTo(1));
        Assert.That(summary["foxglove"]!["frames_sent"]!.GetValue<long>(), Is.GreaterThan(1000));
    }

    [Test, CancelAfter(120_000)]
    public void BeyondLoopbackAViewerWithoutTheTokenIsRefused()
    {
        int port = FoxgloveClientScript.FreePort();
        var node = StartNode(5, null, $"0.0.0.0:{port}", token: "s3cret");
        JsonObject none = FoxgloveClientScript.Run($"ws://127.0.0.1:{port}/", "--expect-refusal");
        JsonObject wrong = FoxgloveClientScript.Run($"ws://127.0.0.1:{port}/?token=guess", "--expect-refusal");
        JsonObject right = FoxgloveClientScript.Run($"ws://127.0.0.1:{port}/?token=s3cret", "--seconds", "0.5");
        var (code, stdout, stderr) = node.Result;
        Assert.That(code, Is.Zero, stderr);
        Assert.That(none["refused"]!["status"]!.GetValue<int>(), Is.EqualTo(401), none.ToJsonString());
        Assert.That(none["refused"]!["body"]!.GetValue<string>(), Does.Contain("token"));
        Assert.That(wrong["refused"]!["status"]!.GetValue<int>(), Is.EqualTo(401));
        Assert.That(right["exit_code"]!.GetValue<int>(), Is.Zero, right["stderr"]!.GetValue<string>());
        Assert.That(right["channels"]!.AsArray(), Is.Not.Empty);
        JsonObject summary = LastJson(stdout);
        Assert.That(summary["foxglove"]!["connections_refused"]!.GetValue<long>(), Is.EqualTo(2));
        Assert.That(summary["foxglove"]!["viewers_connected"]!.GetValue<long>(), Is.EqualTo(1));
        Assert.That(summary["record"], Is.Null, "watched, not recorded");
    }

    [Test]
    public void BadFoxgloveValuesAreBadInputNamingTheFlag()
    {
        using var busy = new TcpListener(IPAddress.Loopback, 0);
        busy.Start();
        int taken = ((IPEndPoint)busy.LocalEndpoint).Port;
        foreach (var (value, token, expected) in new (string, string?, string)[]
        {
            ("0.0.0.0:8765", null, "--foxglove-token"),
            ("abc", null, "--foxglove abc"),
            ("70000", null, "--foxglove 70000"),
            ("300.1.1.1:8765", null, "--foxglove 300.1.1.1:8765"),
            ($"127.0.0.1:{taken}", null, $"--foxglove 127.0.0.1:{taken}: cannot listen"),
        })
        {
            var output = new StringWriter();
            var error = new StringWriter();
            int code = NodeHost.Program.RunNode(Config(lockStep: true), Bundle(), 1, null, json: true, output, error, value, token);
            Assert.That(code, Is.EqualTo(2), $"{value}: {error}");
            Assert.That(error.ToString(), Does.Contain(expected), value);
        }
    }

    [Test, CancelAfter(120_000)]
    public void ASlowViewerDropsFramesWithACountWhileTheNodeKeepsItsTicks()
    {
        int port = FoxgloveClientScript.FreePort();
        string mcap = Path.Combine(Dir, "slow.mcap");
        var node = StartNode(6, mcap, $"127.0.0.1:{port}");
        JsonObject client = FoxgloveClientScript.Run($"ws://127.0.0.1:{port}", "--seconds", "4.5", "--stall-s", "3.5");
        var (code, stdout, stderr) = node.Result;
        Assert.That(code, Is.Zero, stderr);
        Assert.That(client["exit_code"]!.GetValue<int>(), Is.Zero, client["stderr"]!.GetValue<string>());
        JsonObject summary = LastJson(stdout);
        long dropped = summary["foxglove"]!["frames_dropped"]!.GetValue<long>();
        TestContext.Out.WriteLine($"dropped {dropped}, sent {summary["foxglove"]!["frames_sent"]}, ticks {summary["ticks"]}, overruns {summary["overruns"]}, rate {summary["rate_hz"]}");
        Assert.That(dropped, Is.GreaterThan(0), "the stalled viewer's queue filled");
        Assert.That(summary["ticks"]!.GetValue<long>(), Is.GreaterThanOrEqualTo((long)(0.9 * 6 * 500)), "the node kept its 500 Hz ticks");
        Assert.That(summary["record"]!["dropped"]!.GetValue<long>(), Is.Zero, "the recorder kept up: the viewer never held it back");
        Assert.That(client["counts"]!.AsObject().Select(kv => kv.Value!.GetValue<int>()).Sum(), Is.GreaterThan(0), "frames came after the stall");

        // The drops are on /diagnostics in the log as a warning.
        var decoder = new McapMessageDecoder();
        var warnings = FlightLog.Load(mcap).Messages.Where(m => m.Channel.Topic == "/diagnostics")
            .Select(m => decoder.JsonLine(m)["message"]!.ToJsonString()).Where(s => s.Contains("roborl_node: foxglove")).ToList();
        Assert.That(warnings, Is.Not.Empty);
        Assert.That(warnings[0], Does.Contain("frames_dropped"));
    }

    [Test, CancelAfter(120_000)]
    public void AReplayedLogIsServedWithItsSchemasBytesAndADerivedScene()
    {
        string mcap = Path.Combine(Dir, "replayed.mcap");
        var output = new StringWriter();
        var error = new StringWriter();
        Assert.That(NodeHost.Program.RunNode(Config(lockStep: true), Bundle(), 4, mcap, json: true, output, error), Is.Zero, error.ToString());
        FlightLog log = FlightLog.Load(mcap);
        Assert.That(log.ChannelsByTopic.Keys, Does.Not.Contain("/scene"), "recorded without --foxglove: no scene in the log");

        int port = FoxgloveClientScript.FreePort();
        var notices = new List<string>();
        IReplaySink sink = ReplaySinks.Standard.Get("foxglove", "--to", "").Open(new ReplaySinkRequest
        {
            Log = log,
            Options = new ReplayOptions { Rate = 1, WaitForSink = true },
            Output = TextWriter.Null,
            Foxglove = $"127.0.0.1:{port}",
            Notice = notices.Add,
        });
        ReplayResult result;
        JsonObject client;
        using (sink)
        {
            // --wait: on a loaded machine the player's thread, not the viewer, could fall behind; every message goes out.
            var play = Task.Run(() => new LogPlayer(log, new ReplayOptions { Rate = 1, WaitForSink = true }).Play(sink));
            client = FoxgloveClientScript.Run($"ws://127.0.0.1:{port}", "--seconds", "2.5", "--keep", "/pose,/scene");
            result = play.Result;
        }
        Assert.That(notices, Has.One.Contains($"foxglove: serving ws://127.0.0.1:{port}"));
        Assert.That(result.Played, Is.EqualTo(log.Messages.Count));
        Assert.That(client["exit_code"]!.GetValue<int>(), Is.Zero, client["stderr"]!.GetValue<string>());
        var topics = client["channels"]!.AsArray().Select(c => c!["topic"]!.GetValue<string>()).ToList();
        // The topics the log has messages on (a channel that never carried one has nothing to play), and the scene.
        Assert.That(topics, Is.EquivalentTo(log.Messages.Select(m => m.Channel.Topic).Distinct().Append("/scene")));

        var logged = log.Messages.Where(m => m.Channel.Topic == "/pose").ToDictionary(m => m.LogTime, Pose);
        JsonArray poses = client["messages"]!["/pose"]!.AsArray();
        Assert.That(poses.Count, Is.GreaterThan(200));
        foreach (JsonNode? p in poses)
        {
            PoseStampedMsg expected = logged[ulong.Parse(p!["receiveTimeNs"]!.GetValue<string>())];
            Assert.That(p["data"]!["pose"]!["position"]!["z"]!.GetValue<double>(), Is.EqualTo(expected.Pose.Position.Z));
        }
        Assert.That(client["sceneErrors"]!.AsArray(), Is.Empty);
        JsonNode scene = client["messages"]!["/scene"]!.AsArray()[^1]!;
        var ids = scene["data"]!["entities"]!.AsArray().Select(e => e!["id"]!.GetValue<string>());
        Assert.That(ids, Is.EquivalentTo(new[] { "vehicle", "setpoint" }), "no geofence: the log does not carry it");
    }

    /// <summary>
    /// With a viewer subscribed to every channel, the tick still allocates nothing: the viewer is fed on the recorder
    /// thread from what it already encoded.
    /// </summary>
    [Test, CancelAfter(120_000)]
    public void WithAViewerSubscribedATickAllocatesNothing()
    {
        using NodeSession session = NodeSession.Open(Config(lockStep: true), Bundle(), null, new NodeSessionOptions { Foxglove = "127.0.0.1:0" });
        Assert.That(session.Foxglove, Is.Not.Null);
        using var viewer = new ClientWebSocket();
        viewer.Options.AddSubProtocol(FoxgloveServer.Subprotocol);
        viewer.ConnectAsync(new Uri($"ws://127.0.0.1:{session.Foxglove!.Port}"), CancellationToken.None).Wait();
        long received = 0;
        var subscribed = new TaskCompletionSource();
        var reader = Task.Run(async () =>
        {
            var buffer = new byte[1 << 20];
            uint next = 1;
            while (viewer.State == WebSocketState.Open)
            {
                ValueWebSocketReceiveResult r;
                int n = 0;
                do { r = await viewer.ReceiveAsync(buffer.AsMemory(n), CancellationToken.None); n += r.Count; } while (!r.EndOfMessage);
                if (r.MessageType == WebSocketMessageType.Close) return;
                if (r.MessageType == WebSocketMessageType.Binary) { Interlocked.Increment(ref received); continue; }
                JsonNode msg = JsonNode.Parse(buffer.AsSpan(0, n))!;
                if (msg["op"]!.GetValue<string>() != "advertise") continue;
                var subs = new JsonArray();
                foreach (JsonNode? c in msg["channels"]!.AsArray()) subs.Add(new JsonObject { ["id"] = next++, ["channelId"] = c!["id"]!.GetValue<int>() });
                byte[] text = Encoding.UTF8.GetBytes(new JsonObject { ["op"] = "subscribe", ["subscriptions"] = subs }.ToJsonString());
                await viewer.SendAsync(text, WebSocketMessageType.Text, true, CancellationToken.None);
                subscribed.TrySetResult();
            }
        });

        ILockStepRobot robot = session.LockStep!;
        long period = session.Node.PeriodNs, now = robot.TimeNs;
        AllocatingCalls allocating = default;
        for (int k = 0; k < 3000; k++)
        {
            now += period;
            robot.AdvanceTo(now);
            long before = GC.GetAllocatedBytesForCurrentThread();
            session.Node.Tick(now, now);
            if (k >= 500) allocating.Add(GC.GetAllocatedBytesForCurrentThread() - before);
            if (k == 100) Assert.That(subscribed.Task.Wait(TimeSpan.FromSeconds(20)), "the viewer subscribed");
            if (k % 10 == 0) Thread.Sleep(1); // let the recorder thread and the viewer keep up, as in real time
        }
        Thread.Sleep(300);
        Assert.That(allocating.Calls, Is.LessThanOrEqualTo(1), $"{allocating.Calls} of 2500 ticks allocated ({allocating.Bytes} B)");
        Assert.That(Interlocked.Read(ref received), Is.GreaterThan(1000), "the viewer was fed while the node ticked");
        viewer.Abort();
    }
}
