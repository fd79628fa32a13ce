using RoboRl.Core;

namespace RoboRl.Hosting;

/// <summary>
/// Checks of the paths a command is given, before it starts work: each failure is a <see cref="CliException"/> (bad input)
/// naming the argument, the path, what is wrong with it and what was expected — "--policy runs/x: is a directory, not a
/// file; expected a policy bundle (.safetensors)" instead of .NET's "Access to the path is denied".
/// </summary>
public static class PathArguments
{
    /// <summary>An existing regular file the command reads (<paramref name="what"/>: the argument, e.g. "--policy";
    /// <paramref name="expected"/>: what it should hold, e.g. "a policy bundle (.safetensors)").</summary>
    public static string InputFile(string path, string what, string expected)
    {
        if (InputFiles.WhyNotReadable(path) is { } why) throw CliException.BadInput($"{what} {path}: {why}; expected {expected}");
        return path;
    }

    /// <summary>A file the command creates or overwrites: not a directory, not a pipe or device; its directory is created if missing.</summary>
    public static string OutputFile(string path, string what)
    {
        if (string.IsNullOrWhiteSpace(path)) throw CliException.BadInput($"{what}: empty path");
        PathKind kind = InputFiles.Kind(path);
        if (kind == PathKind.Directory) throw CliException.BadInput($"{what} {path}: is a directory; expected a file to write");
        if (kind is not (PathKind.Missing or PathKind.RegularFile)) throw CliException.BadInput($"{what} {path}: is not a regular file; expected a file to write");
        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null) CreateDirectory(directory, what, path);
        return path;
    }

    /// <summary>A directory the command writes into (created if missing): not an existing file.</summary>
    public static string OutputDirectory(string path, string what)
    {
        if (string.IsNullOrWhiteSpace(path)) throw CliException.BadInput($"{what}: empty path");
        PathKind kind = InputFiles.Kind(path);
        if (kind is not (PathKind.Missing or PathKind.Directory))
            throw CliException.BadInput($"{what} {path}: is a file; expected a directory (created if missing)");
        CreateDirectory(path, what, path);
        return path;
    }

    /// <summary>An existing directory the command reads.</summary>
    public static string InputDirectory(string path, string what, string expected)
    {
        PathKind kind = InputFiles.Kind(path);
        if (kind == PathKind.Missing) throw CliException.BadInput($"{what} {path}: no such directory; expected {expected}");
        if (kind != PathKind.Directory) throw CliException.BadInput($"{what} {path}: is a file, not a directory; expected {expected}");
        return path;
    }

    private static void CreateDirectory(string directory, string what, string path)
    {
        try { Directory.CreateDirectory(directory); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Directory.CreateDirectory fails when a part of the path is a file: say which.
            for (string? d = directory; d is not null; d = Path.GetDirectoryName(d))
                if (File.Exists(d)) throw CliException.BadInput($"{what} {path}: {d} is a file, not a directory");
            throw CliException.BadInput($"{what} {path}: cannot create {directory} ({e.Message})");
        }
    }
}
