using System.Runtime.InteropServices;

namespace RoboRl.Core;

/// <summary>What a path names on disk.</summary>
public enum PathKind { Missing, RegularFile, Directory, NamedPipe, CharacterDevice, BlockDevice, Socket, Other }

/// <summary>
/// Checks a path before a file is read, so that every reader says plainly what is wrong with it instead of .NET's
/// "Access to the path is denied" (a directory) or blocking forever (a named pipe with no writer: open(2) waits for one).
/// .NET's <see cref="FileInfo"/> reports a FIFO or a device as an ordinary file, so the file type comes from stat(2).
/// </summary>
public static partial class InputFiles
{
    /// <summary>Null when <paramref name="path"/> is a regular file this process can open for reading; else why not, in words
    /// ("no such file", "is a directory", "is a named pipe (FIFO), not a regular file", "cannot be read (…)").</summary>
    public static string? WhyNotReadable(string path)
    {
        switch (Kind(path))
        {
            case PathKind.Missing: return "no such file";
            case PathKind.Directory: return "is a directory, not a file";
            case PathKind.NamedPipe: return "is a named pipe (FIFO), not a regular file";
            case PathKind.CharacterDevice or PathKind.BlockDevice: return "is a device, not a regular file";
            case PathKind.Socket: return "is a socket, not a regular file";
            case PathKind.Other: return "is not a regular file";
        }
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            return null;
        }
        catch (UnauthorizedAccessException) { return "cannot be read (permission denied)"; }
        catch (Exception e) when (e is IOException or NotSupportedException or ArgumentException) { return $"cannot be read ({e.Message})"; }
    }

    /// <summary>Throws <see cref="FileNotFoundException"/> (missing) or <see cref="IOException"/> with "PATH: why" unless the path is a readable regular file.</summary>
    public static void EnsureReadable(string path)
    {
        if (WhyNotReadable(path) is not { } why) return;
        if (why == "no such file") throw new FileNotFoundException($"{path}: no such file", path);
        throw new IOException($"{path}: {why}");
    }

    /// <summary>The kind of file system object at <paramref name="path"/> (symbolic links followed).</summary>
    public static PathKind Kind(string path)
    {
        if (string.IsNullOrEmpty(path)) return PathKind.Missing;
        if (Directory.Exists(path)) return PathKind.Directory;
        if (!File.Exists(path)) return PathKind.Missing;
        if (!OperatingSystem.IsLinux()) return PathKind.RegularFile;
        uint? mode = StatMode(path);
        if (mode is null) return PathKind.RegularFile; // stat unavailable: trust File.Exists
        return (mode.Value & 0xF000) switch
        {
            0x8000 => PathKind.RegularFile,
            0x4000 => PathKind.Directory,
            0x1000 => PathKind.NamedPipe,
            0x2000 => PathKind.CharacterDevice,
            0x6000 => PathKind.BlockDevice,
            0xC000 => PathKind.Socket,
            _ => PathKind.Other,
        };
    }

    // st_mode's offset in glibc's struct stat: x86-64 puts st_nlink (8 bytes) before it, the generic layout
    // (aarch64, riscv64) a 4-byte st_mode right after st_ino. 256 bytes cover both structs (144 and 128 bytes).
    private static unsafe uint? StatMode(string path)
    {
        int offset = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => 24,
            Architecture.Arm64 or Architecture.RiscV64 or Architecture.LoongArch64 => 16,
            _ => -1,
        };
        if (offset < 0) return null;
        byte* buffer = stackalloc byte[256];
        try
        {
            if (stat(path, buffer) != 0) return null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return null; }
        return *(uint*)(buffer + offset);
    }

    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int stat(string path, byte* buffer);
}
