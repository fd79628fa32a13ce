using System.Text;
using System.Text.Json.Nodes;
using RoboRl.Core.Messages;

namespace RoboRl.Logs.Tests;

/// <summary>Foxglove's own libraries read what RoboRl writes, for every registered message type.</summary>
public class VerifierTests : LogTestBase
{
    [TestCase(McapCompression.None)]
    [TestCase(McapCompression.Zstd)]
    public void FoxgloveLibrariesDecodeEveryMessageOfEveryRegisteredType(McapCompression compression)
    {
        string path = PathFor("every-type.mcap");
        var written = SampleLogs.WriteEveryType(path, perType: 4, seed: 7,
            new McapWriterOptions { BackgroundFlush = false, ChunkSize = 2048, Compression = compression });
        var result = NodeVerifier.Verify(path);

        Assert.That(result["header"]!["profile"]!.GetValue<string>(), Is.EqualTo("ros2"));
        Assert.That(result["chunkCount"]!.GetValue<int>(), Is.GreaterThan(1), "the sample spans several chunks");
        Assert.That(result["statistics"]!["messageCount"]!.GetValue<string>(), Is.EqualTo(written.Count.ToString()));

        var schemas = result["schemas"]!.AsArray().Select(s => s!["name"]!.GetValue<string>()).ToHashSet();
        foreach (var def in MessageRegistry.Default.All) Assert.That(schemas, Does.Contain(def.RosTypeName));
        foreach (var ch in result["channels"]!.AsArray())
        {
            Assert.That(ch!["messageEncoding"]!.GetValue<string>(), Is.EqualTo("cdr"));
            Assert.That(ch["metadata"]!["offered_qos_profiles"], Is.Not.Null);
        }

        var topics = result["topics"]!.AsObject();
        foreach (var group in written.GroupBy(w => w.Topic))
            Assert.That(topics[group.Key]?.GetValue<int>(), Is.EqualTo(group.Count()), group.Key);

        var decoded = result["messages"]!.AsArray();
        Assert.That(decoded.Count, Is.EqualTo(written.Count));
        var byKey = decoded.ToDictionary(m => (m!["topic"]!.GetValue<string>(), m["sequence"]!.GetValue<uint>()));
        foreach (var w in written)
        {
            var actual = byKey[(w.Topic, w.Sequence)]!;
            Assert.That(actual["logTime"]!.GetValue<string>(), Is.EqualTo(w.LogTime.ToString()));
            Assert.That(actual["publishTime"]!.GetValue<string>(), Is.EqualTo(w.PublishTime.ToString()));
            var expected = JsonNode.Parse(w.Message.ToJson().ToJsonString())!;
            NodeVerifier.AssertEquivalent(expected, actual["data"]!, $"{w.Topic}#{w.Sequence}");
        }
    }

    [Test]
    public void SchemaTextIsTheRegistrysRos2MsgText()
    {
        string path = PathFor("schemas.mcap");
        SampleLogs.WritePoses(path, 10, 4096);
        using var reader = McapIndexedReader.Open(path);
        foreach (var schema in reader.Schemas.Values)
        {
            var def = MessageRegistry.Default.Get(schema.Name);
            Assert.That(schema.Encoding, Is.EqualTo("ros2msg"));
            Assert.That(Encoding.UTF8.GetString(schema.Data.Span), Is.EqualTo(MessageRegistry.Ros2MsgSchemaText(def)));
        }
        Assert.That(reader.Header, Is.EqualTo(new McapHeader("ros2", "roborl")));
    }
}
