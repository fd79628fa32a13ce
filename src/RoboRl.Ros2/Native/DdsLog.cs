using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace RoboRl.Ros2.Native;

/// <summary>
/// Cyclone DDS's log, routed through RoboRl. Cyclone checks every received payload against the reader's type before
/// the reader sees it and drops a malformed one with only a log warning ("deserialization TOPIC/TYPE failed"); no
/// status counts it. This sink spots that warning and charges it to the subscriptions on that topic and domain, so
/// <see cref="Ros2Subscription.MalformedCount"/> covers payloads dropped inside Cyclone too. Every message is still
/// written to stderr as Cyclone's own sink would. Cyclone 0.10 does not say which domain the warning comes from
/// (its domid field reads 0), so subscriptions on the same topic and type in two domains of one process share counts.
/// </summary>
internal static unsafe partial class DdsLog
{
    private static readonly ConcurrentDictionary<string, List<Ros2Subscription>> Subscriptions = new();
    private static int _installed;

    /// <summary>dds_log_data_t (dds/ddsrt/log.h).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct LogData
    {
        public uint Priority;
        public uint DomainId;
        public byte* File;
        public uint Line;
        public byte* Function;
        public byte* Message;
        public nuint Size;
        public nuint HeaderSize;
    }

    [LibraryImport("ddsc")]
    private static partial void dds_set_log_sink(delegate* unmanaged<IntPtr, LogData*, void> callback, IntPtr userdata);

    public static void Install()
    {
        if (Interlocked.Exchange(ref _installed, 1) == 0) dds_set_log_sink(&OnLog, IntPtr.Zero);
    }

    public static void Register(string ddsTopic, Ros2Subscription subscription)
    {
        var list = Subscriptions.GetOrAdd(ddsTopic, _ => []);
        lock (list) list.Add(subscription);
    }

    public static void Unregister(string ddsTopic, Ros2Subscription subscription)
    {
        if (!Subscriptions.TryGetValue(ddsTopic, out var list)) return;
        lock (list) list.Remove(subscription);
    }

    private const string Marker = "deserialization ";

    [UnmanagedCallersOnly]
    private static void OnLog(IntPtr userdata, LogData* data)
    {
        try
        {
            string text = Marshal.PtrToStringUTF8((IntPtr)data->Message, (int)data->Size) ?? "";
            Console.Error.Write(text.EndsWith('\n') ? text : text + "\n");
            // q_receive.c (0.10): "...: deserialization <topic>/<type> failed (<reason>)"; type names hold no '/'.
            int at = text.IndexOf(Marker, StringComparison.Ordinal);
            if (at < 0) return;
            int end = text.IndexOf(" failed", at, StringComparison.Ordinal);
            if (end < 0) return;
            string topicAndType = text[(at + Marker.Length)..end];
            int slash = topicAndType.LastIndexOf('/');
            if (slash <= 0) return;
            string topic = topicAndType[..slash], type = topicAndType[(slash + 1)..];
            if (!Subscriptions.TryGetValue(topic, out var list)) return;
            Ros2Subscription[] targets;
            lock (list) targets = list.ToArray();
            foreach (var s in targets)
                if (s.Type.DdsTypeName == type) s.DroppedByDds($"Cyclone DDS could not deserialize a payload on {topic} as {type}: {text[(end + " failed".Length)..].Trim()}");
        }
        catch (Exception) { /* never unwind into Cyclone */ }
    }
}
