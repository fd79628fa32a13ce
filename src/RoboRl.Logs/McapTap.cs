namespace RoboRl.Logs;

/// <summary>
/// Sees what a <see cref="McapWriter"/> writes, already encoded: every channel with its schema, and every message's
/// payload. A live viewer (the Foxglove server) taps the node's recorder this way, so it serves the same topics, schemas
/// and bytes the log holds without encoding anything twice.
/// </summary>
public interface IMcapTap
{
    /// <summary>A channel was registered (or, when the tap is added, was already). Called under the writer's lock: do not
    /// call the writer here.</summary>
    void ChannelAdded(McapChannel channel, McapSchema? schema);

    /// <summary>A message was appended. <paramref name="payload"/> is valid only during the call (copy what you keep);
    /// called under the writer's lock, on the writing thread: do not call the writer here, and do not block.</summary>
    void MessageWritten(McapChannel channel, ulong logTimeNs, ReadOnlySpan<byte> payload);

    /// <summary>Called after each message, outside the writer's lock, on the writing thread: a tap that derives messages
    /// of its own (a 3D scene, viewer diagnostics) registers their channels and writes them here.</summary>
    void AfterMessage(McapWriter writer, ulong logTimeNs) { }
}
