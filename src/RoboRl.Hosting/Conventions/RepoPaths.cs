namespace RoboRl.Hosting;

/// <summary>Resolves a repository-relative path from the working directory or any directory above it (or above the executable).</summary>
public static class RepoPaths
{
    public static string Find(string path)
    {
        if (Path.IsPathRooted(path) || File.Exists(path)) return path;
        foreach (string start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (DirectoryInfo? dir = new(start); dir != null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, path);
                if (File.Exists(candidate)) return candidate;
            }
        }
        return path; // the loader reports the missing file by name
    }
}
