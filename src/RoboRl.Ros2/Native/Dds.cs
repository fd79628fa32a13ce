using System.Reflection;
using System.Runtime.InteropServices;

namespace RoboRl.Ros2.Native;

/// <summary>
/// The ~30 libddsc functions RoboRl uses (Eclipse Cyclone DDS 0.10 C API, dds/dds.h and dds/ddsi/ddsi_serdata.h; Debian
/// package libddsc0debian). Signatures and struct layouts follow those headers for LP64 Linux.
/// </summary>
internal static unsafe partial class Dds
{
    private const string Lib = "ddsc";

    // Debian ships only the versioned names (libddsc.so.0debian, and libddsc.so with cyclonedds-dev); try them in order.
    private static readonly string[] Candidates = ["libddsc.so.0debian", "libddsc.so.0", "libddsc.so"];
    private static string? _loadError;

    static Dds()
    {
        NativeLibrary.SetDllImportResolver(typeof(Dds).Assembly, Resolve);
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (name != Lib) return IntPtr.Zero;
        foreach (var candidate in Candidates)
            if (NativeLibrary.TryLoad(candidate, out var handle)) return handle;
        _loadError = $"Cyclone DDS (libddsc) not found; tried {string.Join(", ", Candidates)}. On Debian 12: apt-get install libddsc0debian";
        return IntPtr.Zero;
    }

    /// <summary>Loads libddsc now; throws <see cref="DdsException"/> naming what was tried when it is missing.</summary>
    public static void EnsureLoaded()
    {
        try { _ = dds_strretcode(0); }
        catch (DllNotFoundException e) { throw new DdsException(_loadError ?? e.Message, 0); }
    }

    public const uint DomainDefault = 0xffffffffu;
    public const long Infinity = long.MaxValue;

    // dds_status_id_t bits (dds.h)
    public const uint OfferedIncompatibleQosStatus = 1u << 3;
    public const uint RequestedIncompatibleQosStatus = 1u << 4;
    public const uint DataAvailableStatus = 1u << 8;
    public const uint PublicationMatchedStatus = 1u << 11;
    public const uint SubscriptionMatchedStatus = 1u << 12;

    public const uint AnyState = 1u | 2u | 4u | 8u | 16u | 32u | 64u;

    // Entities
    [LibraryImport(Lib)] public static partial int dds_create_domain(uint domain, byte* config);
    [LibraryImport(Lib)] public static partial int dds_create_participant(uint domain, IntPtr qos, IntPtr listener);
    [LibraryImport(Lib)] public static partial int dds_create_topic(int participant, DdsTopicDescriptor* descriptor, byte* name, IntPtr qos, IntPtr listener);
    [LibraryImport(Lib)] public static partial int dds_create_writer(int participant, int topic, IntPtr qos, IntPtr listener);
    [LibraryImport(Lib)] public static partial int dds_create_reader(int participant, int topic, IntPtr qos, IntPtr listener);
    [LibraryImport(Lib)] public static partial int dds_delete(int entity);
    [LibraryImport(Lib)] public static partial int dds_get_guid(int entity, DdsGuid* guid);

    // Data
    [LibraryImport(Lib)] public static partial int dds_write(int writer, void* data);
    [LibraryImport(Lib)] public static partial int dds_takecdr(int reader, IntPtr* buf, uint maxs, DdsSampleInfo* si, uint mask);
    [LibraryImport(Lib)] public static partial uint ddsi_serdata_size(IntPtr serdata);
    [LibraryImport(Lib)] public static partial void ddsi_serdata_to_ser(IntPtr serdata, nuint off, nuint sz, void* buf);
    [LibraryImport(Lib)] public static partial void ddsi_serdata_unref(IntPtr serdata);

    // Status
    [LibraryImport(Lib)] public static partial int dds_set_status_mask(int entity, uint mask);
    [LibraryImport(Lib)] public static partial int dds_get_publication_matched_status(int writer, DdsMatchedStatus* status);
    [LibraryImport(Lib)] public static partial int dds_get_subscription_matched_status(int reader, DdsMatchedStatus* status);
    [LibraryImport(Lib)] public static partial int dds_get_requested_incompatible_qos_status(int reader, DdsIncompatibleQosStatus* status);
    [LibraryImport(Lib)] public static partial int dds_get_offered_incompatible_qos_status(int writer, DdsIncompatibleQosStatus* status);

    // Listeners
    [LibraryImport(Lib)] public static partial IntPtr dds_create_listener(IntPtr arg);
    [LibraryImport(Lib)] public static partial void dds_delete_listener(IntPtr listener);
    [LibraryImport(Lib)] public static partial void dds_lset_data_available(IntPtr listener, delegate* unmanaged<int, IntPtr, void> callback);
    [LibraryImport(Lib)] public static partial void dds_lset_requested_incompatible_qos(IntPtr listener, delegate* unmanaged<int, DdsIncompatibleQosStatus, IntPtr, void> callback);
    [LibraryImport(Lib)] public static partial void dds_lset_offered_incompatible_qos(IntPtr listener, delegate* unmanaged<int, DdsIncompatibleQosStatus, IntPtr, void> callback);

    // QoS
    [LibraryImport(Lib)] public static partial IntPtr dds_create_qos();
    [LibraryImport(Lib)] public static partial void dds_delete_qos(IntPtr qos);
    [LibraryImport(Lib)] public static partial void dds_qset_reliability(IntPtr qos, int kind, long maxBlockingTime);
    [LibraryImport(Lib)] public static partial void dds_qset_durability(IntPtr qos, int kind);
    [LibraryImport(Lib)] public static partial void dds_qset_history(IntPtr qos, int kind, int depth);
    [LibraryImport(Lib)] public static partial void dds_qset_writer_data_lifecycle(IntPtr qos, [MarshalAs(UnmanagedType.U1)] bool autodispose);
    [LibraryImport(Lib)] public static partial void dds_qset_userdata(IntPtr qos, void* value, nuint size);
    [LibraryImport(Lib)] public static partial void dds_qset_data_representation(IntPtr qos, uint n, short* values);

    [LibraryImport(Lib)] public static partial IntPtr dds_strretcode(int ret);

    public static string ErrorText(int ret) => Marshal.PtrToStringUTF8(dds_strretcode(ret)) ?? $"error {ret}";

    /// <summary>Throws when a dds_* call returned a negative code (entity handles are positive).</summary>
    public static int Check(int ret, string what)
    {
        if (ret < 0) throw new DdsException($"{what}: {ErrorText(ret)} ({ret})", ret);
        return ret;
    }
}

/// <summary>A Cyclone DDS call failed; <see cref="ReturnCode"/> is its dds_return_t.</summary>
public sealed class DdsException(string message, int returnCode) : Exception(message)
{
    public int ReturnCode { get; } = returnCode;
}

/// <summary>dds_topic_descriptor_t (dds/ddsc/dds_public_impl.h, 0.10).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct DdsTopicDescriptor
{
    public uint Size;
    public uint Align;
    public uint FlagSet;
    public uint KeyCount;
    public byte* TypeName;
    public void* Keys;
    public uint OpCount;
    public uint* Ops;
    public byte* Meta;
    public byte* TypeInformationData;
    public uint TypeInformationSize;
    public byte* TypeMappingData;
    public uint TypeMappingSize;
    public uint RestrictDataRepresentation;
}

/// <summary>dds_sample_info_t.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct DdsSampleInfo
{
    public uint SampleState, ViewState, InstanceState;
    [MarshalAs(UnmanagedType.U1)] public bool ValidData;
    public long SourceTimestamp;
    public ulong InstanceHandle, PublicationHandle;
    public uint DisposedGenerationCount, NoWritersGenerationCount, SampleRank, GenerationRank, AbsoluteGenerationRank;
}

/// <summary>dds_publication_matched_status_t and dds_subscription_matched_status_t (same layout).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct DdsMatchedStatus
{
    public uint TotalCount;
    public int TotalCountChange;
    public uint CurrentCount;
    public int CurrentCountChange;
    public ulong LastHandle;
}

/// <summary>dds_requested/offered_incompatible_qos_status_t (same layout).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct DdsIncompatibleQosStatus
{
    public uint TotalCount;
    public int TotalCountChange;
    public uint LastPolicyId;
}

/// <summary>dds_guid_t: 16 bytes (12-byte prefix + 4-byte entity id).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct DdsGuid
{
    public fixed byte V[16];
}
