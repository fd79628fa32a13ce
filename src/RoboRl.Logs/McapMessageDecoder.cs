using System.Text;
using System.Text.Json.Nodes;
using RoboRl.Core.Messages;

namespace RoboRl.Logs;

/// <summary>
/// Decodes ros2 (cdr + ros2msg) messages of any file: a schema's type is taken from the registry when it knows it, else
/// parsed from the schema text stored in the file, so logs written by other tools (rosbag2) decode too.
/// </summary>
public sealed class McapMessageDecoder(MessageRegistry? registry = null)
{
    private readonly MessageRegistry _registry = registry ?? MessageRegistry.Default;
    private readonly Dictionary<McapSchema, MsgDefinition> _bySchema = new(ReferenceEqualityComparer.Instance);

    /// <summary>The definition for a message's schema; throws <see cref="MsgDefinitionException"/> when there is none usable.</summary>
    public MsgDefinition DefinitionFor(McapMessage message)
    {
        var schema = message.Schema
            ?? throw new MsgDefinitionException($"channel {message.Channel.Topic} has no schema");
        if (message.Channel.MessageEncoding != McapConstants.CdrMessageEncoding || schema.Encoding != McapConstants.Ros2MsgSchemaEncoding)
            throw new MsgDefinitionException(
                $"channel {message.Channel.Topic}: {message.Channel.MessageEncoding}/{schema.Encoding} is not ROS 2 (cdr/ros2msg)");
        if (_bySchema.TryGetValue(schema, out var def)) return def;
        // Prefer the file's own text: it is what the writer used. Fall back to the registry's definition.
        try { def = new MessageRegistry().RegisterRos2MsgSchema(schema.Name, Encoding.UTF8.GetString(schema.Data.Span), "MCAP schema"); }
        catch (MsgDefinitionException) when (_registry.TryGet(schema.Name, out var known)) { def = known; }
        _bySchema[schema] = def;
        return def;
    }

    /// <summary>Decodes one message; throws <see cref="CdrFormatException"/> for a malformed payload.</summary>
    public DynamicMessage Decode(McapMessage message) => CdrDynamic.Read(DefinitionFor(message), message.Data.Span);

    /// <summary>
    /// One message as the JSON line `roborl log cat` and `roborl replay --to stdout` print (the same keys for the same
    /// things): <c>{"topic", "type", "sequence", "log_time_ns", "publish_time_ns", "message": {decoded fields}}</c>, or
    /// <c>"error"</c> instead of "message" when the payload does not decode.
    /// </summary>
    public JsonObject JsonLine(in McapMessage m)
    {
        var line = new JsonObject
        {
            ["topic"] = m.Channel.Topic,
            ["type"] = m.Schema?.Name,
            ["sequence"] = m.Sequence,
            ["log_time_ns"] = m.LogTime,
            ["publish_time_ns"] = m.PublishTime,
        };
        if (m.Channel.MessageEncoding == McapConstants.JsonMessageEncoding)
        {
            try { line["message"] = JsonNode.Parse(m.Data.Span); }
            catch (System.Text.Json.JsonException e) { line["error"] = $"cannot decode: {e.Message}"; }
            return line;
        }
        try { line["message"] = Decode(m).ToJson(); }
        catch (Exception e) when (e is MsgDefinitionException or CdrFormatException) { line["error"] = $"cannot decode: {e.Message}"; }
        return line;
    }
}
