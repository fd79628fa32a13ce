using System.CommandLine;
using System.Text.RegularExpressions;
using RoboRl.Cli.Commands;

namespace RoboRl.Cli.Tests;

/// <summary>
/// The README's command table shows the flags as they are: every flag it names is a visible option of that command
/// (an old name kept only as a hidden alias, like --out, does not count), and every command it names exists.
/// </summary>
public class ReadmeCommandTableTests
{
    [Test]
    public void EveryFlagInTheReadmeTableIsAVisibleOptionOfItsCommand()
    {
        string readme = File.ReadAllText(RepoPaths.Find("README.md"));
        int start = readme.IndexOf("## The `roborl` command", StringComparison.Ordinal);
        Assert.That(start, Is.GreaterThan(0));
        string[] rows = readme[start..].Split('\n').SkipWhile(l => !l.StartsWith("| command", StringComparison.Ordinal)).Skip(2)
            .TakeWhile(l => l.StartsWith('|')).ToArray();
        Assert.That(rows.Length, Is.GreaterThan(15));
        var commands = CliConventions.Walk(Program.BuildRootCommand()).ToDictionary(c => c.Path, c => c.Command);
        int flags = 0;
        foreach (string row in rows)
        {
            string cell = row.Split(" | ")[0].TrimStart('|', ' ');
            foreach (Match usage in Regex.Matches(cell, "`([^`]+)`"))
            {
                string[] words = usage.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                // The command: words as long as they name a command ("bench sim\|node" names several).
                var paths = new List<string> { "" };
                foreach (string word in words)
                {
                    var next = word.Split("\\|").Select(w => paths[0].Length == 0 ? w : $"{paths[0]} {w}").Where(commands.ContainsKey).ToList();
                    if (next.Count == 0) break;
                    paths = next;
                }
                Assert.That(paths[0], Is.Not.Empty, $"README row names no command: {usage.Value}");
                foreach (string path in paths)
                {
                    var visible = commands[path].Options.Where(o => !o.Hidden).SelectMany(o => o.Aliases.Append(o.Name)).ToHashSet();
                    foreach (Match flag in Regex.Matches(usage.Groups[1].Value, @"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-z])\b"))
                    {
                        Assert.That(visible, Does.Contain(flag.Value), $"README: `roborl {path}` shows {flag.Value}, which `roborl {path} --help` does not");
                        flags++;
                    }
                }
            }
        }
        Assert.That(flags, Is.GreaterThan(40));
    }

    [Test]
    public void TheQuickstartCommandShowsTheFirstBuild()
    {
        // The first run compiles for about a minute before anything prints: the README's command shows it (-v minimal lists
        // each project as it is built; the CLI project says it is the first build).
        string readme = File.ReadAllText(RepoPaths.Find("README.md"));
        Assert.That(readme, Does.Contain("dotnet run -c Release -v minimal --project src/RoboRl.Cli -- quickstart"));
        string project = File.ReadAllText(RepoPaths.Find("src/RoboRl.Cli/RoboRl.Cli.csproj"));
        Assert.That(project, Does.Match(@"<Message Importance=""high"" Text=""roborl: first build"));
    }
}
