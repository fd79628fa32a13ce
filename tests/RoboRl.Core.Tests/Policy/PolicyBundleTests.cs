using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using RoboRl.Core.Policy;
using RoboRl.Core.Tasks;

namespace RoboRl.Core.Tests.Policy;

public class PolicyBundleTests
{
    static readonly int[] Quadrotor = [149, 64, 64, 4];
    string _directory = "";

    [SetUp]
    public void MakeDirectory() => Directory.CreateDirectory(_directory = Path.Combine(Path.GetTempPath(), $"roborl-bundle-{Guid.NewGuid():N}"));

    [TearDown]
    public void RemoveDirectory() => Directory.Delete(_directory, recursive: true);

    [Test]
    public void RoundTripKeepsEveryField()
    {
        PolicyBundle written = TestBundles.Create(Quadrotor, seed: 7);
        string path = Path.Combine(_directory, "policy.safetensors");
        written.Write(path);
        PolicyBundle read = PolicyBundle.Read(path);

        Assert.That(read.ChecksumVerified, Is.True);
        Assert.That(read.StoredContentSha256, Is.EqualTo(written.ComputeContentSha256()));
        Assert.That(read.Layers, Has.Count.EqualTo(3));
        for (int l = 0; l < 3; l++)
        {
            Assert.That(read.Layers[l].Weights, Is.EqualTo(written.Layers[l].Weights));
            Assert.That(read.Layers[l].Biases, Is.EqualTo(written.Layers[l].Biases));
            Assert.That(read.Layers[l].Activation, Is.EqualTo(written.Layers[l].Activation));
            Assert.That((read.Layers[l].InputSize, read.Layers[l].OutputSize), Is.EqualTo((written.Layers[l].InputSize, written.Layers[l].OutputSize)));
        }
        Assert.That(read.ObservationNames, Is.EqualTo(written.ObservationNames));
        Assert.That(read.ActionNames, Is.EqualTo(written.ActionNames));
        Assert.That(read.ObservationMean, Is.EqualTo(written.ObservationMean));
        Assert.That(read.ObservationStd, Is.EqualTo(written.ObservationStd));
        Assert.That(read.ActionLow, Is.EqualTo(written.ActionLow));
        Assert.That(read.ActionHigh, Is.EqualTo(written.ActionHigh));
        Assert.That(read.ActionUnit, Is.EqualTo("rpm"));
        Assert.That(read.ControlRateHz, Is.EqualTo(100.0));
        Assert.That(read.ActionHistoryLength, Is.EqualTo(32));
        Assert.That(read.RobotConfigJson, Is.EqualTo(TestBundles.RobotJson));
        Assert.That(read.RobotConfigSha256, Is.EqualTo(written.RobotConfigSha256));
        Assert.That(read.TrainingConfigJson, Is.EqualTo(written.TrainingConfigJson));
        Assert.That(read.GitCommit, Is.EqualTo(written.GitCommit));
        Assert.That(read.GoldenObservations, Is.EqualTo(written.GoldenObservations));
        Assert.That(read.GoldenActions, Is.EqualTo(written.GoldenActions));
        Assert.That(read.GoldenCount, Is.EqualTo(4));
    }

    [Test]
    public void FileFollowsTheSafetensorsLayout()
    {
        PolicyBundle bundle = TestBundles.Create([5, 8, 3], seed: 2);
        byte[] file = TestBundles.Bytes(bundle);
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(file);
        Assert.That((8 + headerLength) % 8, Is.Zero, "byte buffer starts 8-byte aligned, as the reference writer pads it");
        Assert.That(file[8], Is.EqualTo((byte)'{'));
        using JsonDocument header = JsonDocument.Parse(file.AsMemory(8, (int)headerLength));
        int dataStart = 8 + (int)headerLength;
        var ranges = new List<(long, long)>();
        foreach (JsonProperty entry in header.RootElement.EnumerateObject())
        {
            if (entry.Name == "__metadata__")
            {
                Assert.That(entry.Value.EnumerateObject().All(p => p.Value.ValueKind == JsonValueKind.String), "metadata values are strings");
                continue;
            }
            Assert.That(entry.Value.EnumerateObject().Select(p => p.Name), Is.EquivalentTo(new[] { "dtype", "shape", "data_offsets" }));
            Assert.That(entry.Value.GetProperty("dtype").GetString(), Is.EqualTo("F32"));
            long[] offsets = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            long elements = entry.Value.GetProperty("shape").EnumerateArray().Aggregate(1L, (a, e) => a * e.GetInt64());
            Assert.That(offsets[1] - offsets[0], Is.EqualTo(elements * 4));
            ranges.Add((offsets[0], offsets[1]));
        }
        long end = 0;
        foreach (var (begin, stop) in ranges.OrderBy(r => r.Item1)) { Assert.That(begin, Is.EqualTo(end)); end = stop; }
        Assert.That(end, Is.EqualTo(file.Length - dataStart), "tensors tile the byte buffer exactly");

        // actor.0.weight is [out, in] row-major, little-endian F32, like PyTorch's nn.Linear.
        JsonElement w = header.RootElement.GetProperty("actor.0.weight");
        Assert.That(w.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()), Is.EqualTo(new[] { 8, 5 }));
        int first = dataStart + w.GetProperty("data_offsets")[0].GetInt32();
        Assert.That(BinaryPrimitives.ReadSingleLittleEndian(file.AsSpan(first + 4 * (2 * 5 + 3))), Is.EqualTo(bundle.Layers[0].Weights[2 * 5 + 3]));
    }

    [Test]
    public void ReadsAFileLaidOutDifferentlyByAnotherWriter()
    {
        // A writer may order header keys differently, put __metadata__ last, store tensors in another order and
        // skip the padding: all of that is valid safetensors and must read the same.
        PolicyBundle bundle = TestBundles.Create([5, 8, 3], seed: 3);
        var (metadata, tensors) = SafeTensors.Read(new MemoryStream(TestBundles.Bytes(bundle)), "t");
        var reordered = tensors.Values.OrderByDescending(t => t.Name, StringComparer.Ordinal).ToList();
        var header = new StringBuilder("{");
        long offset = 0;
        foreach (SafeTensor t in reordered)
        {
            header.Append($"\"{t.Name}\": {{\"shape\": [{string.Join(",", t.Shape)}], \"data_offsets\": [{offset}, {offset + t.Data.Length}], \"dtype\": \"F32\"}}, ");
            offset += t.Data.Length;
        }
        header.Append("\"__metadata__\": ").Append(JsonSerializer.Serialize(metadata)).Append('}');
        byte[] headerBytes = Encoding.UTF8.GetBytes(header.ToString());
        var file = new MemoryStream();
        file.Write(BitConverter.GetBytes((ulong)headerBytes.Length));
        file.Write(headerBytes);
        foreach (SafeTensor t in reordered) file.Write(t.Data);
        file.Position = 0;

        PolicyBundle read = PolicyBundle.Read(file, "foreign");
        Assert.That(read.ChecksumVerified, Is.True);
        Assert.That(read.Layers[1].Weights, Is.EqualTo(bundle.Layers[1].Weights));
    }

    [Test]
    public void AnIndependentPythonReaderAgrees()
    {
        // Python's standard library only (no safetensors wheel is served here): the safetensors rules, both
        // hashes as documented, and the actor recomputed from the raw file against the golden actions.
        string? python = new[] { "/usr/bin/python3", "/usr/local/bin/python3" }.FirstOrDefault(File.Exists);
        if (python is null)
        {
            if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail("python3 is missing; tests/prerequisites.txt lists it");
            Assert.Ignore("python3 not installed");
        }
        string path = Path.Combine(_directory, "policy.safetensors");
        TestBundles.Create([14, 16, 8, 4], seed: 5, hidden: Activation.Tanh, goldenCount: 3).Write(path);
        var start = new System.Diagnostics.ProcessStartInfo(python, [Path.Combine(AppContext.BaseDirectory, "Policy", "read_policy_bundle.py"), path])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = System.Diagnostics.Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd();
        string error = process.StandardError.ReadToEnd();
        Assert.That(process.WaitForExit(120_000), Is.True, "python3 finished");
        Assert.That(process.ExitCode, Is.Zero, error);
        using JsonDocument report = JsonDocument.Parse(output);
        Assert.That(report.RootElement.GetProperty("content_sha256_ok").GetBoolean(), Is.True);
        Assert.That(report.RootElement.GetProperty("robot_sha256_ok").GetBoolean(), Is.True);
        Assert.That(report.RootElement.GetProperty("golden_max_abs_error").GetDouble(), Is.LessThan(1e-5));
        Assert.That(report.RootElement.GetProperty("observation_names").GetInt32(), Is.EqualTo(14));
        Assert.That(report.RootElement.GetProperty("tensors").GetArrayLength(), Is.EqualTo(12));
    }

    [Test]
    public void ContentChecksumIsTheDocumentedHash()
    {
        // Re-derive the checksum from the definition in PolicyBundle.ContentHash's comment, independently.
        byte[] file = TestBundles.Bytes(TestBundles.Create([5, 8, 3], seed: 4));
        int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
        using JsonDocument header = JsonDocument.Parse(file.AsMemory(8, headerLength));
        var bytes = new List<byte>();
        void U32(int v) => bytes.AddRange(BitConverter.GetBytes((uint)v));
        void U64(long v) => bytes.AddRange(BitConverter.GetBytes((ulong)v));
        void Str(string s) { byte[] u = Encoding.UTF8.GetBytes(s); U32(u.Length); bytes.AddRange(u); }
        string stored = "";
        foreach (JsonProperty p in header.RootElement.GetProperty("__metadata__").EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
        {
            if (p.Name == "content.sha256") { stored = p.Value.GetString()!; continue; }
            Str(p.Name); Str(p.Value.GetString()!);
        }
        foreach (JsonProperty t in header.RootElement.EnumerateObject().Where(p => p.Name != "__metadata__").OrderBy(p => p.Name, StringComparer.Ordinal))
        {
            Str(t.Name); Str(t.Value.GetProperty("dtype").GetString()!);
            long[] shape = t.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            U32(shape.Length);
            foreach (long d in shape) U64(d);
            int begin = t.Value.GetProperty("data_offsets")[0].GetInt32(), end = t.Value.GetProperty("data_offsets")[1].GetInt32();
            U64(end - begin);
            bytes.AddRange(file.AsSpan(8 + headerLength + begin, end - begin).ToArray());
        }
        Assert.That(stored, Is.EqualTo(Convert.ToHexStringLower(SHA256.HashData(bytes.ToArray()))));
    }

    [Test]
    public void RobotHashIgnoresFormattingButNotValues()
    {
        string reformatted = JsonSerializer.Serialize(JsonDocument.Parse(TestBundles.RobotJson).RootElement, new JsonSerializerOptions { WriteIndented = false });
        Assert.That(PolicyBundle.RobotConfigHash(reformatted), Is.EqualTo(PolicyBundle.RobotConfigHash(TestBundles.RobotJson)));
        Assert.That(PolicyBundle.RobotConfigHash(TestBundles.RobotJson.Replace("0.027", "0.028")),
            Is.Not.EqualTo(PolicyBundle.RobotConfigHash(TestBundles.RobotJson)));
        Assert.That(PolicyBundle.RobotConfigHash("""{"name": "a b"}"""), Is.Not.EqualTo(PolicyBundle.RobotConfigHash("""{"name": "ab"}""")),
            "whitespace inside strings counts");
        Assert.That(PolicyBundle.RobotConfigHash("{\"a\": 1}"),
            Is.EqualTo(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("{\"a\":1}")))));
    }

    [Test]
    public void CheckCompatibleAcceptsTheSameRobotAndNamesWhatDiffers()
    {
        PolicyBundle bundle = TestBundles.Create([5, 8, 3]);
        bundle.CheckCompatible(TestBundles.RobotJson.Replace("\n", "\r\n  "));
        bundle.CheckCompatibleRobotHash(bundle.RobotConfigSha256.ToUpperInvariant());

        string heavier = TestBundles.RobotJson.Replace("0.027", "0.032").Replace("\"rpm_max\": 21702,", "");
        var error = Assert.Throws<PolicyMismatchException>(() => bundle.CheckCompatible(heavier))!;
        Assert.That(error.Field, Is.EqualTo("robot.sha256"));
        Assert.That(error.Message, Does.Contain("mass_kg: trained 0.027, given 0.032").And.Contain("rpm_max: trained 21702, missing"));

        Assert.Throws<PolicyMismatchException>(() => bundle.CheckCompatibleRobotHash(new string('0', 64)));
    }

    [Test]
    public void CheckCompatibleSpecsNamesTheFirstDifference()
    {
        PolicyBundle bundle = TestBundles.Create([5, 8, 4]);
        string[] observations = [.. bundle.ObservationNames];
        string[] actions = [.. bundle.ActionNames];
        bundle.CheckCompatibleSpecs(observations, actions, 100, 32);

        string[] swapped = [.. observations];
        (swapped[1], swapped[2]) = (swapped[2], swapped[1]);
        var error = Assert.Throws<PolicyMismatchException>(() => bundle.CheckCompatibleSpecs(swapped, actions, 100, 32))!;
        Assert.That(error.Field, Is.EqualTo("observation.names"));
        Assert.That(error.Message, Does.Contain("element 1 is 'obs_1' in the policy, 'obs_2' in the runtime"));
        var shorter = Assert.Throws<PolicyMismatchException>(() => bundle.CheckCompatibleSpecs(observations[..4], actions, 100, 32))!;
        Assert.That(shorter.Field, Is.EqualTo("observation.names"));
        Assert.That(shorter.Message, Does.Contain("the policy has 5 elements, the runtime 4: the runtime lacks 'obs_4'"));
        Assert.That(Assert.Throws<PolicyMismatchException>(() => bundle.CheckCompatibleSpecs(observations, actions[..3], 100, 32))!.Field, Is.EqualTo("action.names"));
        Assert.That(Assert.Throws<PolicyMismatchException>(() => bundle.CheckCompatibleSpecs(observations, actions, 500, 32))!.Field, Is.EqualTo("control_rate_hz"));
        Assert.That(Assert.Throws<PolicyMismatchException>(() => bundle.CheckCompatibleSpecs(observations, actions, 100, 8))!.Field, Is.EqualTo("action_history_length"));
    }

    [Test]
    public void AHoverPolicyOfTheLayoutWithoutThePositionIntegralIsRefusedNamingTheMissingInputs()
    {
        // A bundle trained before the observation gained its 3 integral values (146 inputs for K = 32).
        string[] current = HoverObservation.ActorNames(32);
        string[] withoutIntegral = current[..146];
        PolicyBundle old = TestBundles.Create([146, 64, 64, 4], observationNames: withoutIntegral);
        var error = Assert.Throws<PolicyMismatchException>(() => old.CheckCompatibleSpecs(current, HoverObservation.ActionNames, 100, 32))!;
        Assert.That(error.Field, Is.EqualTo(PolicyBundle.KeyObservationNames));
        Assert.That(error.Message, Does.Contain("the policy has 146 elements, the runtime 149"));
        Assert.That(error.Message, Does.Contain("the policy lacks 'pos_err_int_x', 'pos_err_int_y', 'pos_err_int_z'"));
        // Many missing names are summarised by the first and the last.
        var many = Assert.Throws<PolicyMismatchException>(() => old.CheckCompatibleSpecs(withoutIntegral[..20], HoverObservation.ActionNames, 100, 32))!;
        Assert.That(many.Message, Does.Contain("the runtime lacks 'action_t-32_m3' … 'action_t-1_m4' (126 names)"));
    }

    [Test]
    public void ScaleActionMapsMinusOneToZeroAndOneToRpmMax()
    {
        PolicyBundle bundle = TestBundles.Create([5, 8, 4]);
        float[] rpm = new float[4];
        bundle.ScaleAction([-1f, 0f, 1f, 0.5f], rpm);
        Assert.That(rpm, Is.EqualTo(new[] { 0f, 10851f, 21702f, 16276.5f }));
    }

    // --- corruption: each gives a PolicyBundleException naming the file and the field -------------------------

    string WriteBytes(byte[] bytes)
    {
        string path = Path.Combine(_directory, $"bad-{Guid.NewGuid():N}.safetensors");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    PolicyBundleException ReadFails(byte[] bytes, string field)
    {
        string path = WriteBytes(bytes);
        var error = Assert.Throws<PolicyBundleException>(() => PolicyBundle.Read(path))!;
        Assert.That(error.SourceName, Is.EqualTo(path));
        Assert.That(error.Message, Does.StartWith($"policy bundle '{path}': {field}:"));
        Assert.That(error.Field, Is.EqualTo(field));
        return error;
    }

    static int HeaderLength(byte[] file) => (int)BinaryPrimitives.ReadUInt64LittleEndian(file);

    [Test]
    public void FlippedDataByteFailsTheChecksum()
    {
        byte[] file = TestBundles.Bytes(TestBundles.Create(Quadrotor));
        file[^100] ^= 0x01;
        ReadFails(file, "content.sha256");
    }

    [Test]
    public void FlippedHeaderByteIsCaught()
    {
        byte[] file = TestBundles.Bytes(TestBundles.Create(Quadrotor));
        string header = Encoding.UTF8.GetString(file, 8, HeaderLength(file));
        int at = 8 + header.IndexOf("crazyflie21", StringComparison.Ordinal);
        file[at] = (byte)'C';
        ReadFails(file, "content.sha256");
    }

    [Test]
    public void CorruptedBundleReadsForInspectionWhenTheChecksumIsNotRequired()
    {
        byte[] file = TestBundles.Bytes(TestBundles.Create(Quadrotor));
        file[^100] ^= 0x01;
        PolicyBundle read = PolicyBundle.Read(WriteBytes(file), requireValidChecksum: false);
        Assert.That(read.ChecksumVerified, Is.False);
        Assert.That(read.StoredContentSha256, Is.Not.EqualTo(read.ComputeContentSha256()));
    }

    [Test]
    public void TruncatedFilesAreCaught()
    {
        byte[] file = TestBundles.Bytes(TestBundles.Create(Quadrotor));
        ReadFails(file[..0], "header length");
        ReadFails(file[..5], "header length");
        ReadFails(file[..(8 + HeaderLength(file) / 2)], "header length");
        var inData = Assert.Throws<PolicyBundleException>(() => PolicyBundle.Read(WriteBytes(file[..^4])))!;
        Assert.That(inData.Message, Does.Contain("data_offsets").Or.Contain("byte buffer"));
        // Through a non-seekable stream the header length cannot be checked against the size up front.
        var error = Assert.Throws<PolicyBundleException>(() => PolicyBundle.Read(new ForwardOnlyStream(file[..(8 + HeaderLength(file) / 2)]), "pipe"))!;
        Assert.That(error.Field, Is.EqualTo("header"));
        Assert.That(error.Message, Does.Contain("truncated"));
    }

    [Test]
    public void HeaderThatIsNotJsonIsCaught()
    {
        byte[] file = TestBundles.Bytes(TestBundles.Create([5, 8, 3]));
        int length = HeaderLength(file);
        byte[] broken = file.ToArray();
        Encoding.ASCII.GetBytes("{not json").CopyTo(broken, 8);
        ReadFails(broken, "header");
        byte[] notObject = file.ToArray();
        notObject[8] = (byte)'[';
        ReadFails(notObject, "header");
        byte[] invalidUtf8 = file.ToArray();
        invalidUtf8[8 + length / 2] = 0xC3;
        invalidUtf8[8 + length / 2 + 1] = 0x28;
        ReadFails(invalidUtf8, "header");
    }

    [Test]
    public void AbsurdHeaderLengthIsCaught()
    {
        byte[] file = TestBundles.Bytes(TestBundles.Create([5, 8, 3]));
        BinaryPrimitives.WriteUInt64LittleEndian(file, 1UL << 62);
        Assert.That(ReadFails(file, "header length").Message, Does.Contain("absurd"));
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)file.Length);
        Assert.That(ReadFails(file, "header length").Message, Does.Contain("truncated"));
    }

    /// <summary>Re-packs a valid bundle with an edit and a freshly computed checksum, so only the edit is wrong.</summary>
    static byte[] Repack(PolicyBundle bundle, Action<Dictionary<string, string>, List<SafeTensor>> edit)
    {
        var (metadata, tensors) = SafeTensors.Read(new MemoryStream(TestBundles.Bytes(bundle)), "t");
        var list = tensors.Values.ToList();
        edit(metadata, list);
        metadata["content.sha256"] = PolicyBundle.ContentHash(metadata, list);
        var output = new MemoryStream();
        SafeTensors.Write(output, metadata, list);
        return output.ToArray();
    }

    [Test]
    public void MissingTensorIsCaught()
    {
        PolicyBundle bundle = TestBundles.Create([5, 8, 3]);
        ReadFails(Repack(bundle, (_, t) => t.RemoveAll(x => x.Name == "actor.1.bias")), "actor.1.bias");
        ReadFails(Repack(bundle, (_, t) => t.RemoveAll(x => x.Name == "observation.std")), "observation.std");
    }

    [Test]
    public void WrongShapeIsCaught()
    {
        PolicyBundle bundle = TestBundles.Create([5, 8, 3]);
        var error = ReadFails(Repack(bundle, (_, t) =>
        {
            int i = t.FindIndex(x => x.Name == "observation.mean");
            t[i] = t[i] with { Shape = [1, 5] };
        }), "observation.mean");
        Assert.That(error.Message, Does.Contain("shape [1, 5], expected [5]"));
        ReadFails(Repack(bundle, (_, t) =>
        {
            int i = t.FindIndex(x => x.Name == "actor.0.weight");
            t[i] = t[i] with { Shape = [5, 8] };
        }), "actor.0.weight");
    }

    [Test]
    public void WrongDtypeIsCaught()
    {
        PolicyBundle bundle = TestBundles.Create([5, 8, 3]);
        var error = ReadFails(Repack(bundle, (_, t) =>
        {
            int i = t.FindIndex(x => x.Name == "action.high");
            t[i] = t[i] with { DType = "I32" };
        }), "action.high");
        Assert.That(error.Message, Does.Contain("dtype I32, expected F32"));
    }

    [Test]
    public void BadMetadataIsCaught()
    {
        PolicyBundle bundle = TestBundles.Create([5, 8, 3]);
        ReadFails(Repack(bundle, (m, _) => m["robot.sha256"] = new string('a', 64)), "robot.sha256");
        ReadFails(Repack(bundle, (m, _) => m["actor.activations"] = """["relu","swish"]"""), "actor.activations");
        ReadFails(Repack(bundle, (m, _) => m["control_rate_hz"] = "fast"), "control_rate_hz");
        ReadFails(Repack(bundle, (m, _) => m["control_rate_hz"] = "-5"), "control_rate_hz");
        ReadFails(Repack(bundle, (m, _) => m["format_version"] = "2"), "format_version");
        ReadFails(Repack(bundle, (m, _) => m["surprise"] = "x"), "surprise");
        ReadFails(Repack(bundle, (m, _) => m.Remove("git.commit")), "git.commit");
        ReadFails(Repack(bundle, (_, t) => t.Add(new SafeTensor("extra", "F32", [1], new byte[4]))), "extra");
        ReadFails(Repack(bundle, (_, t) =>
        {
            int i = t.FindIndex(x => x.Name == "observation.std");
            t[i] = t[i] with { Data = new byte[t[i].Data.Length] };
        }), "observation.std");
    }

    [Test]
    public void StoredChecksumEditedIsCaught()
    {
        byte[] file = TestBundles.Bytes(TestBundles.Create([5, 8, 3]));
        string header = Encoding.UTF8.GetString(file, 8, HeaderLength(file));
        int at = 8 + header.IndexOf("\"content.sha256\":\"", StringComparison.Ordinal) + "\"content.sha256\":\"".Length;
        file[at] = (byte)(file[at] == (byte)'0' ? '1' : '0');
        ReadFails(file, "content.sha256");
    }

    [Test]
    public void MissingFileIsABundleError()
    {
        string path = Path.Combine(_directory, "absent.safetensors");
        var error = Assert.Throws<PolicyBundleException>(() => PolicyBundle.Read(path))!;
        Assert.That(error.Field, Is.EqualTo("file"));
    }

    [Test]
    public void WriteRefusesAnInconsistentBundle()
    {
        PolicyBundle bundle = TestBundles.Create([5, 8, 3]);
        bundle.Layers[0].Weights[3] = float.NaN;
        var error = Assert.Throws<PolicyBundleException>(() => bundle.Write(new MemoryStream()))!;
        Assert.That(error.Field, Is.EqualTo("actor.0.weight"));

        PolicyBundle noGolden = TestBundles.Create([5, 8, 3]).WithGoldenVectors([], []);
        Assert.That(Assert.Throws<PolicyBundleException>(() => noGolden.Write(new MemoryStream()))!.Field, Is.EqualTo("golden.observations"));
    }

    // --- fuzz ---------------------------------------------------------------------------------------------------

    [Test]
    public void RandomMutationsOnlyEverGiveTheTypedException()
    {
        // A small net so the header is a large share of the file and most mutations hit the parser, not just the hash.
        byte[] valid = TestBundles.Bytes(TestBundles.Create([3, 4, 2], goldenCount: 1));
        int headerEnd = 8 + HeaderLength(valid);
        const int Mutations = 12_000;
        int rejected = 0, accepted = 0;
        string? failure = null;
        // On a worker so that a hang fails the test (generously: the loop takes about a second) instead of stalling the run.
        var fuzz = Task.Run(() =>
        {
            var random = new Random(12345);
            for (int n = 0; n < Mutations && failure is null; n++)
            {
                byte[] mutated = Mutate(valid, headerEnd, random);
                try
                {
                    PolicyBundle read = PolicyBundle.Read(new MemoryStream(mutated), "fuzz");
                    // Accepted only when the contents still hash right (e.g. a space turned into a newline).
                    if (!read.ChecksumVerified || read.ComputeContentSha256() != read.StoredContentSha256)
                        failure = $"mutation {n} was accepted with a wrong checksum";
                    accepted++;
                }
                catch (PolicyBundleException) { rejected++; }
                catch (Exception e)
                {
                    failure = $"mutation {n} threw {e.GetType().Name} instead of PolicyBundleException: {e.Message}\n{e.StackTrace}";
                }
            }
        });
        Assert.That(fuzz.Wait(TimeSpan.FromMinutes(5)), Is.True, "the reader hung on a mutated file");
        Assert.That(failure, Is.Null);
        Assert.That(rejected + accepted, Is.EqualTo(Mutations));
        Assert.That(rejected, Is.GreaterThan(Mutations * 9 / 10), "almost every mutation must be caught");
        TestContext.Out.WriteLine($"{rejected} rejected, {accepted} accepted (content unchanged)");
    }

    static byte[] Mutate(byte[] valid, int headerEnd, Random random)
    {
        byte[] bytes = valid.ToArray();
        int Anywhere() => random.Next(bytes.Length);
        int InHeader() => 8 + random.Next(headerEnd - 8);
        const string JsonChars = "{}[]\",:0123456789-+.eE \\u tfnrl";
        switch (random.Next(10))
        {
            case 0: bytes[Anywhere()] ^= (byte)(1 << random.Next(8)); return bytes;
            case 1: bytes[InHeader()] ^= (byte)(1 << random.Next(8)); return bytes;
            case 2: bytes[InHeader()] = (byte)JsonChars[random.Next(JsonChars.Length)]; return bytes;
            case 3: return bytes[..random.Next(bytes.Length)];
            case 4: BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)random.NextInt64()); return bytes;
            case 5: BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)(headerEnd - 8 + random.Next(-16, 17))); return bytes;
            case 6:
                {
                    // Insert random bytes somewhere.
                    int at = Anywhere();
                    byte[] insert = new byte[random.Next(1, 16)];
                    random.NextBytes(insert);
                    return [.. bytes[..at], .. insert, .. bytes[at..]];
                }
            case 7:
                {
                    // Delete a run.
                    int at = Anywhere();
                    int count = Math.Min(random.Next(1, 32), bytes.Length - at);
                    return [.. bytes[..at], .. bytes[(at + count)..]];
                }
            case 8:
                {
                    // Change a digit in the header (offsets, shapes, numbers).
                    int[] digits = Enumerable.Range(8, headerEnd - 8).Where(i => bytes[i] is >= (byte)'0' and <= (byte)'9').ToArray();
                    bytes[digits[random.Next(digits.Length)]] = (byte)('0' + random.Next(10));
                    return bytes;
                }
            default:
                for (int k = random.Next(2, 6); k > 0; k--) bytes[Anywhere()] = (byte)random.Next(256);
                return bytes;
        }
    }

    /// <summary>A stream that cannot seek, like a pipe.</summary>
    sealed class ForwardOnlyStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
    }
}
