using System.Diagnostics;
using System.Numerics;
using System.Text;
using RoboRl.Core.Configs;
using RoboRl.Core.Messages;
using RoboRl.Core.Policy;
using RoboRl.Logs;
using RoboRl.Node;
using RoboRl.Serial;

namespace RoboRl.Faults.Scenarios;

/// <summary>
/// Issue #9, scenario 11: counted fuzzing of every parser that reads outside input — the serial frame decoder (random
/// bytes and mutated valid frames in random chunks), the CDR decoder (mutated payloads of every registered message),
/// the MCAP readers and checker (mutated real flight logs), the node and robot config loaders and the policy bundle
/// loader (mutated files on disk). Only the parser's own typed error may come out; anything else, an input that takes
/// longer than <see cref="HangMs"/>, or one that allocates more than <see cref="MaxBytesPerInput"/> counts as a failure.
/// </summary>
public sealed class Fuzzing : IFaultScenario
{
    public string Name => "fuzz";
    public string Description => "serial decoder, CDR, MCAP, config and bundle loaders on mutated input: only typed errors, no hang, no blow-up";

    /// <summary>One input slower than this counts as a hang.</summary>
    public const int HangMs = 2000;
    /// <summary>One input allocating more than this counts as a blow-up (the out-of-memory of a larger input).</summary>
    public const long MaxBytesPerInput = 256L << 20;

    /// <summary>Counts of one target.</summary>
    public sealed class TargetCount(string name)
    {
        public string Name { get; } = name;
        public long Inputs, Accepted, Rejected, Failures;
        public string? FirstFailure;
        public override string ToString() => $"{Name} {Inputs} ({Rejected} rejected, {Failures} failures{(FirstFailure is null ? "" : ": " + FirstFailure)})";
    }

    public FaultResult Run(FaultBudget budget)
    {
        string scratch = RepoFiles.ScratchDirectory(Name);
        try
        {
            var rng = new Random(9);
            var targets = new List<TargetCount>
            {
                SerialDecoder(budget.SerialDecoderInputs, rng),
                CdrDecoder(budget.CdrInputs, rng),
            };
            (string plainLog, string zstdLog) = RecordSeedLogs(scratch);
            targets.Add(McapReaders(budget.McapInputs, rng, [plainLog, zstdLog], scratch));
            targets.Add(ConfigLoaders(budget.ConfigInputs, rng, scratch));
            targets.Add(BundleLoader(budget.BundleInputs, rng, scratch));
            long inputs = targets.Sum(t => t.Inputs), failures = targets.Sum(t => t.Failures);
            return new FaultResult(Name, failures == 0, null, null, string.Join("; ", targets)) { FuzzInputs = inputs, FuzzFailures = failures };
        }
        finally
        {
            try { Directory.Delete(scratch, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>Runs one input: the typed error is a rejection; anything else, a hang or a blow-up is a failure.</summary>
    private static void One(TargetCount count, Func<bool> input, Func<Exception, bool> typed, string what)
    {
        count.Inputs++;
        long bytes = GC.GetAllocatedBytesForCurrentThread();
        long start = Stopwatch.GetTimestamp();
        string? failure = null;
        try
        {
            if (input()) count.Accepted++;
            else count.Rejected++;
        }
        catch (Exception e) when (typed(e)) { count.Rejected++; }
        catch (Exception e) { failure = $"{what}: {e.GetType().Name}: {e.Message}"; }
        double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - bytes;
        if (failure is null && ms > HangMs) failure = $"{what}: took {ms:0} ms (hang)";
        if (failure is null && allocated > MaxBytesPerInput) failure = $"{what}: allocated {allocated >> 20} MiB";
        if (failure is not null)
        {
            count.Failures++;
            count.FirstFailure ??= failure;
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Mutations (shared).

    private static byte[] Mutate(byte[] seed, Random rng, int maxEdits = 4)
    {
        var b = new List<byte>(seed);
        int edits = rng.Next(1, maxEdits + 1);
        for (int e = 0; e < edits; e++)
        {
            switch (rng.Next(8))
            {
                case 0 when b.Count > 0: { int i = rng.Next(b.Count); b[i] ^= (byte)(1 << rng.Next(8)); break; }          // bit flip
                case 1 when b.Count > 0: { int at = rng.Next(b.Count); b.RemoveRange(at, Math.Min(b.Count - at, 1 + rng.Next(16))); break; } // delete
                case 2: b.Insert(rng.Next(b.Count + 1), (byte)rng.Next(256)); break;                                       // insert
                case 3 when b.Count > 1: { int cut = rng.Next(1, b.Count); b.RemoveRange(cut, b.Count - cut); break; }      // truncate
                case 4 when b.Count >= 8:                                                                                 // absurd length / count
                    {
                        int at = rng.Next(b.Count - 8);
                        ulong v = rng.Next(4) switch { 0 => ulong.MaxValue, 1 => 0x7FFF_FFFF, 2 => 0xFFFF_FFFF, _ => (ulong)rng.Next(1, 1 << 24) };
                        byte[] bytes = BitConverter.GetBytes(v);
                        int width = rng.Next(2) == 0 ? 4 : 8;
                        for (int k = 0; k < width; k++) b[at + k] = bytes[k];
                        break;
                    }
                case 5 when b.Count > 2:                                                                                  // duplicate a slice
                    {
                        int from = rng.Next(b.Count), len = Math.Min(b.Count - from, 1 + rng.Next(64));
                        b.InsertRange(rng.Next(b.Count + 1), b.GetRange(from, len));
                        break;
                    }
                case 6 when b.Count > 0: b[rng.Next(b.Count)] = (byte)rng.Next(256); break;                               // random byte
                default: if (b.Count > 0) b[rng.Next(b.Count)] = (byte)(rng.Next(2) == 0 ? 0 : 0xFF); break;
            }
        }
        return b.ToArray();
    }

    // ---------------------------------------------------------------------------------------------
    // 1. The serial frame decoder: random bytes and mutated valid frames, cut into random chunks; every accepted frame is read.

    private static TargetCount SerialDecoder(int inputs, Random rng)
    {
        var count = new TargetCount("serial decoder");
        var decoder = new FrameDecoder();
        var wire = new byte[LinkProtocol.MaxWireFrame];
        var payload = new byte[LinkProtocol.MaxPayload];
        var observation = new float[LinkProtocol.MaxObservation];
        var garbage = new byte[LinkProtocol.MaxWireFrame];
        int valid = 0;
        for (int i = 0; i < inputs; i++)
        {
            byte[] input;
            if (rng.Next(2) == 0)
            {
                int n = rng.Next(1, garbage.Length);
                rng.NextBytes(garbage.AsSpan(0, n));
                input = garbage[..n];
            }
            else
            {
                var type = (MessageType)rng.Next(1, 9);
                int length = type switch
                {
                    MessageType.Observation => Payloads.WriteObservation(observation.AsSpan(0, rng.Next(1, 64)), payload),
                    MessageType.State => Payloads.Write(new StateMessage((ulong)rng.NextInt64(), new Vector3(rng.NextSingle()), Quaternion.Identity, Vector3.Zero, Vector3.One), payload),
                    MessageType.Heartbeat => Payloads.Write(new HeartbeatMessage((uint)rng.Next(), 0), payload),
                    MessageType.Action => Payloads.Write(new ActionMessage(1, 2, new Vector4(rng.NextSingle())), payload),
                    MessageType.ActuatorCommand => Payloads.Write(new RoboRl.Serial.ActuatorCommand(ActuatorMode.Rpm, Vector4.One), payload),
                    MessageType.ParamSet => Payloads.Write(new ParamSetMessage(1, rng.NextSingle()), payload),
                    MessageType.ParamAck => Payloads.Write(new ParamAckMessage(1, ParamResult.Ok, 1), payload),
                    _ => Payloads.Write(new StatusMessage(StatusCode.Watchdog, StatusSeverity.Error, 5), payload),
                };
                int frameLength = FrameEncoder.WriteFrame(type, FrameFlags.None, (ushort)rng.Next(65536), payload.AsSpan(0, length), wire);
                input = Mutate(wire[..frameLength], rng, maxEdits: 2);
            }
            One(count, () =>
            {
                ReadOnlySpan<byte> rest = input;
                bool any = false;
                while (rest.Length > 0)
                {
                    int take = Math.Min(rest.Length, 1 + rng.Next(rest.Length));
                    ReadOnlySpan<byte> chunk = rest[..take];
                    rest = rest[take..];
                    while (decoder.TryDecode(ref chunk, out LinkFrame frame))
                    {
                        any = true;
                        switch (frame.Type)
                        {
                            case MessageType.Observation: frame.ReadObservation(observation); break;
                            case MessageType.State: frame.ReadState(); break;
                            case MessageType.Heartbeat: frame.ReadHeartbeat(); break;
                            case MessageType.Action: frame.ReadAction(); break;
                            case MessageType.ActuatorCommand: frame.ReadActuatorCommand(); break;
                            case MessageType.ParamSet: frame.ReadParamSet(); break;
                            case MessageType.ParamAck: frame.ReadParamAck(); break;
                            case MessageType.Status: frame.ReadStatus(); break;
                            default: throw new InvalidOperationException($"the decoder delivered unknown type {frame.Type}");
                        }
                    }
                    if (decoder.BufferedBytes > LinkProtocol.MaxRawFrame) throw new InvalidOperationException($"decoder state grew to {decoder.BufferedBytes} bytes");
                }
                if (any) valid++;
                return any;
            }, _ => false, "serial decoder");
            // A delimiter between inputs, as a receiver resynchronises on the next frame start.
            ReadOnlySpan<byte> delimiter = [LinkProtocol.Delimiter];
            while (decoder.TryDecode(ref delimiter, out _)) { }
        }
        return count;
    }

    // ---------------------------------------------------------------------------------------------
    // 2. The CDR decoder: mutated payloads of every message type the registry knows (dynamic reader) and the hot readers.

    private static TargetCount CdrDecoder(int inputs, Random rng)
    {
        var count = new TargetCount("CDR decoder");
        var seeds = new List<(MsgDefinition Def, byte[] Bytes)>();
        foreach (MsgDefinition def in MessageRegistry.Default.All)
        {
            try { seeds.Add((def, CdrDynamic.Serialize(DynamicMessage.Create(def)))); }
            catch (Exception e) when (e is MsgDefinitionException or CdrFormatException or InvalidOperationException) { }
        }
        // Payloads with content (strings, sequences): hot messages as the node records them.
        var header = new HeaderMsg { Stamp = TimeMsg.FromNanoseconds(1_234_567_890), FrameId = "world" };
        var values = Enumerable.Range(0, RoboRl.Core.Tasks.HoverObservation.ActorSize(32)).Select(i => i * 0.01f).ToArray();
        seeds.Add((MessageRegistry.Default.Get(RosTypes.Action), CdrBytes(new ActionMsg { Header = header, Tick = 7, Values = values[..4], PolicyValues = values[4..8], Source = ActionSource.Policy })));
        seeds.Add((MessageRegistry.Default.Get(RosTypes.Observation), CdrBytes(new ObservationMsg { Header = header, Tick = 7, Values = values })));
        seeds.Add((MessageRegistry.Default.Get(RosTypes.Mode), CdrBytes(new ModeMsg { Header = header, Mode = NodeMode.Fallback, Name = "FALLBACK", Reason = "stale sensor" })));
        Check.That(seeds.Count > 10, $"only {seeds.Count} CDR seeds");
        for (int i = 0; i < inputs; i++)
        {
            var (def, seed) = seeds[rng.Next(seeds.Count)];
            byte[] payload = Mutate(seed, rng, maxEdits: 3);
            One(count, () =>
            {
                CdrDynamic.Read(def, payload);
                if (def.FullName == RosTypes.Action) Cdr.Read<ActionMsg>(payload);
                else if (def.FullName == RosTypes.Observation) Cdr.Read<ObservationMsg>(payload);
                else if (def.FullName == RosTypes.Mode) Cdr.Read<ModeMsg>(payload);
                return true;
            }, e => e is CdrFormatException, def.FullName);
        }
        return count;
    }

    private static byte[] CdrBytes<T>(T message) where T : struct, ICdrMessage<T>
    {
        var writer = new CdrWriter();
        message.WriteFields(writer);
        return writer.ToArray();
    }

    // ---------------------------------------------------------------------------------------------
    // 3. MCAP: mutated real flight logs through the streaming reader (+ message decoding), the indexed reader and the checker.

    private static (string Plain, string Zstd) RecordSeedLogs(string scratch)
    {
        string Record(McapCompression compression, string name)
        {
            using var rig = new FlightRig("fuzz-seed", new FlightRig.Options
            {
                Edit = root => root["recording"]!["compression"] = compression == McapCompression.Zstd ? "zstd" : "none",
            });
            rig.Run(0.3);
            rig.Commands.Enqueue(RoboRl.Core.Robots.NodeCommandKind.Setpoint, new Vector3(9, 0, 1)); // a clamp: a /diagnostics entry
            rig.Run(0.1);
            rig.CloseAndCount();
            string path = Path.Combine(scratch, name);
            File.Copy(rig.LogPath!, path);
            return path;
        }
        return (Record(McapCompression.None, "seed-plain.mcap"), Record(McapCompression.Zstd, "seed-zstd.mcap"));
    }

    private static TargetCount McapReaders(int inputs, Random rng, string[] seedFiles, string scratch)
    {
        var count = new TargetCount("MCAP readers");
        byte[][] seeds = seedFiles.Select(File.ReadAllBytes).ToArray();
        var decoder = new McapMessageDecoder();
        static bool Typed(Exception e) => e is McapFormatException or CdrFormatException or MsgDefinitionException;
        // One input = one mutated file through all three readers; each may reject it with its typed error, and anything
        // else from any of them is a failure.
        bool Reads(Action read)
        {
            try { read(); return true; }
            catch (Exception e) when (Typed(e)) { return false; }
        }
        for (int i = 0; i < inputs; i++)
        {
            byte[] file = Mutate(seeds[rng.Next(seeds.Length)], rng, maxEdits: 3);
            One(count, () =>
            {
                bool streamed = Reads(() =>
                {
                    using var reader = new McapStreamReader(new MemoryStream(file, writable: false));
                    foreach (McapMessage m in reader.ReadMessages())
                    {
                        try { decoder.Decode(m); }
                        catch (Exception e) when (Typed(e)) { }
                    }
                });
                bool indexed = Reads(() =>
                {
                    using var reader = McapIndexedReader.Open(new MemoryStream(file, writable: false));
                    foreach (McapMessage _ in reader.ReadMessages()) { }
                });
                bool valid = false;
                bool checkedOk = Reads(() => valid = LogChecker.Check(new MemoryStream(file, writable: false), "mutated.mcap").IsValid);
                return streamed && indexed && checkedOk && valid;
            }, Typed, "MCAP readers");
        }
        // Some files through the path API too (as `roborl log check FILE` opens them); counted with the inputs above.
        string path = Path.Combine(scratch, "mutated.mcap");
        var byPath = new TargetCount("log check (file)");
        for (int i = 0; i < Math.Min(inputs, 200); i++)
        {
            File.WriteAllBytes(path, Mutate(seeds[rng.Next(seeds.Length)], rng));
            One(byPath, () => LogChecker.Check(path).IsValid, Typed, "log check (file)");
        }
        count.Failures += byPath.Failures;
        count.FirstFailure ??= byPath.FirstFailure;
        return count;
    }

    // ---------------------------------------------------------------------------------------------
    // 4. Config loaders: mutated node configs (which also load their robot config) and robot configs, as files.

    private static readonly string[] JsonTokens =
        ["1e400", "-1e400", "NaN", "Infinity", "-0", "null", "true", "\"\"", "[]", "{}", "99999999999999999999", "0.0000001", "\"x\"", "[1,2]", ",", ":", "{", "}", "[", "]", "\"robot\":"];

    private static TargetCount ConfigLoaders(int inputs, Random rng, string scratch)
    {
        var count = new TargetCount("config loaders");
        string nodeSeed = File.ReadAllText(RepoFiles.EditedCopy(RepoFiles.NodeConfig, scratch, null, "seed-node.json"));
        string robotSeed = File.ReadAllText(RepoFiles.Find("configs/robots/crazyflie21.json"));
        string nodeFile = Path.Combine(scratch, "node.json"), robotFile = Path.Combine(scratch, "robot.json");
        for (int i = 0; i < inputs; i++)
        {
            bool node = rng.Next(2) == 0;
            string text = MutateJson(node ? nodeSeed : robotSeed, rng);
            string file = node ? nodeFile : robotFile;
            File.WriteAllText(file, text);
            One(count, () =>
            {
                if (node) NodeConfig.Load(file);
                else RoboRl.Core.Quadrotor.QuadrotorConfig.Load(file);
                return true;
            }, e => e is ConfigException, node ? "node config" : "robot config");
        }
        return count;
    }

    private static string MutateJson(string seed, Random rng)
    {
        if (rng.Next(3) == 0) return Encoding.UTF8.GetString(Mutate(Encoding.UTF8.GetBytes(seed), rng, maxEdits: 3));
        // Token-level: replace a number, a string or a punctuation mark with a hostile token, or drop a line.
        var text = new StringBuilder(seed);
        int edits = rng.Next(1, 3);
        for (int e = 0; e < edits; e++)
        {
            int at = rng.Next(text.Length);
            int end = at;
            while (end < text.Length && (char.IsLetterOrDigit(text[end]) || text[end] is '.' or '-' or '_')) end++;
            string token = JsonTokens[rng.Next(JsonTokens.Length)];
            if (rng.Next(4) == 0)
            {
                int lineStart = seed.LastIndexOf('\n', Math.Min(at, seed.Length - 1)) + 1;
                int lineEnd = text.ToString().IndexOf('\n', at);
                if (lineEnd > lineStart) text.Remove(lineStart, Math.Min(lineEnd, text.Length) - lineStart);
            }
            else text.Remove(at, end - at).Insert(at, token);
        }
        return text.ToString();
    }

    // ---------------------------------------------------------------------------------------------
    // 5. The policy bundle loader: mutated bundle files, read with and without the checksum requirement; a bundle that
    //    loads must also build an engine and run its golden observation.

    private static TargetCount BundleLoader(int inputs, Random rng, string scratch)
    {
        var count = new TargetCount("bundle loader");
        PolicyBundle seedBundle = CraftedPolicies.Build(RepoFiles.Find("configs/robots/crazyflie21.json"), CraftedPolicies.Misbehaviour.None);
        using var seedStream = new MemoryStream();
        seedBundle.Write(seedStream);
        byte[] seed = seedStream.ToArray();
        // The safetensors header (JSON) is where most of the structure lives: aim half of the edits at it.
        int headerLength = (int)Math.Min(BitConverter.ToUInt64(seed, 0), (ulong)seed.Length - 8);
        string file = Path.Combine(scratch, "policy.safetensors");
        var action = new float[4];
        for (int i = 0; i < inputs; i++)
        {
            byte[] mutated;
            if (rng.Next(2) == 0)
            {
                byte[] header = Mutate(seed[8..(8 + headerLength)], rng, maxEdits: 2);
                mutated = [.. BitConverter.GetBytes((ulong)header.Length), .. header, .. seed[(8 + headerLength)..]];
            }
            else mutated = Mutate(seed, rng, maxEdits: 3);
            File.WriteAllBytes(file, mutated);
            bool checksum = rng.Next(2) == 0;
            One(count, () =>
            {
                PolicyBundle bundle = PolicyBundle.Read(file, requireValidChecksum: checksum);
                var engine = new PolicyEngine(bundle);
                engine.Forward(bundle.GoldenObservations.AsSpan(0, bundle.ObservationSize), action);
                return true;
            }, e => e is PolicyBundleException, checksum ? "bundle (checksum required)" : "bundle (checksum not required)");
        }
        return count;
    }
}
