using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using RoboRl.Core.Configs;
using RoboRl.Core.Tasks;

namespace RoboRl.Training;

/// <summary>How a sweep chooses its configurations.</summary>
public enum SweepMode { Grid, Random, Pbt }

/// <summary>
/// Where a random or PBT parameter's values come from: <c>{"log_uniform": [a, b]}</c>, <c>{"uniform": [a, b]}</c> or
/// <c>{"choice": [v…]}</c>. A key the task file writes as an integer gets rounded draws.
/// </summary>
public sealed record SweepDistribution(string Kind, double Low, double High, IReadOnlyList<JsonNode> Choices, bool Integer)
{
    public JsonNode Sample(SeededRandom random)
    {
        if (Kind == "choice") return Choices[random.NextInt(Choices.Count)].DeepClone();
        double u = random.NextFloat();
        double value = Kind == "log_uniform" ? Math.Exp(Math.Log(Low) + u * (Math.Log(High) - Math.Log(Low))) : Low + u * (High - Low);
        return Number(value);
    }

    /// <summary>The value clipped into the distribution's range (a perturbed value stays inside what the user allowed).</summary>
    public JsonNode Clip(double value) => Number(Math.Clamp(value, Low, High));

    JsonNode Number(double value) => Integer ? JsonValue.Create((long)Math.Round(value)) : JsonValue.Create(value);
}

/// <summary>One swept key of the task file: its dotted path, and a list of values (grid) or a distribution (random, PBT).</summary>
public sealed record SweepKey(string Path, IReadOnlyList<JsonNode> Values, SweepDistribution? Distribution);

/// <summary>PBT's schedule: every member trains <see cref="IntervalEnvSteps"/>, then the bottom <see cref="Quantile"/> copies a
/// top-quantile member's checkpoint and perturbs its hyperparameters (×factor, or a fresh draw with <see cref="ResampleProbability"/>).</summary>
public sealed record PbtSettings(long IntervalEnvSteps, double Quantile, double ResampleProbability, double[] PerturbFactors);

/// <summary>One point of the sweep: an id (c0, c1, …) and the value of every swept key.</summary>
public sealed record SweepConfiguration(string Id, IReadOnlyDictionary<string, JsonNode> Values);

/// <summary>
/// A sweep file (configs/sweeps/*.json; JSON with comments, unknown keys refused): the base task, the seeds, the mode
/// (grid, random, pbt), the swept keys as dotted paths into the task file, fixed overrides and the score. Every path
/// must exist in the task file and every value must have the type the task file gives it; errors name the sweep file
/// and the field (<see cref="ConfigException"/>).
/// </summary>
public sealed class SweepConfig
{
    /// <summary>Scores a sweep can rank by: the final evaluation's success rate (hover: held-out episodes; navigation: held-out maps).</summary>
    public static readonly string[] Scores = ["success_rate"];

    public required string File { get; init; }
    public required string Name { get; init; }
    public required string TaskPath { get; init; }
    public required string TaskKind { get; init; }
    public required IReadOnlyList<int> Seeds { get; init; }
    public required SweepMode Mode { get; init; }
    public int Trials { get; init; }
    public ulong SamplerSeed { get; init; }
    public required IReadOnlyList<SweepKey> Parameters { get; init; }
    public required IReadOnlyList<(string Path, JsonNode Value)> Overrides { get; init; }
    public string Score { get; init; } = "success_rate";
    public PbtSettings? Pbt { get; init; }
    /// <summary>SHA-256 of the sweep file's bytes and of the task file's (a resumed sweep must have both unchanged).</summary>
    public required string Sha256 { get; init; }
    public required string TaskSha256 { get; init; }
    /// <summary>The task file as JSON (comments dropped) and its robot file's text.</summary>
    public required JsonObject BaseTask { get; init; }
    public required string RobotJson { get; init; }
    /// <summary>The algorithm the task trains with (training.algorithm, or the kind's default).</summary>
    public required string Algorithm { get; init; }

    static readonly JsonDocumentOptions Comments = new() { CommentHandling = JsonCommentHandling.Skip };

    public static SweepConfig Load(string file)
    {
        ConfigNode root = ConfigNode.LoadFile(file);
        string name = root.Has("name") ? root.String("name") : System.IO.Path.GetFileNameWithoutExtension(file);
        string taskField = root.String("task");
        string taskPath = System.IO.Path.IsPathRooted(taskField) ? taskField : System.IO.Path.Combine(root.Directory, taskField);
        if (!System.IO.File.Exists(taskPath)) throw root.Error("task", $"no task file at '{taskPath}' (relative to the sweep file)");
        JsonObject task;
        string kind;
        try
        {
            ConfigNode taskNode = ConfigNode.LoadFile(taskPath);
            kind = TaskKinds.Of(taskNode);
            task = JsonNode.Parse(System.IO.File.ReadAllText(taskPath), documentOptions: Comments)!.AsObject();
        }
        catch (ConfigException e) { throw root.Error("task", $"the task file does not load: {e.Message}"); }
        if (!TrainingTasks.Names.Contains(kind)) throw root.Error("task", $"task kind \"{kind}\" has no trainer");
        // A trial's run directory holds its task and robot files; a swarm task also names scenario files by path.
        if (kind is not (TaskKinds.Hover or TaskKinds.Navigation))
            throw root.Error("task", $"sweeps train hover and navigation tasks so far; a {kind} task names further files (scenarios) that a trial's run directory does not carry");
        string robotField = task["robot"]?.GetValue<string>() ?? throw root.Error("task", "the task file names no \"robot\"");
        string robotPath = System.IO.Path.IsPathRooted(robotField) ? robotField : System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(taskPath))!, robotField);
        string robotJson = JsonNode.Parse(System.IO.File.ReadAllText(robotPath), documentOptions: Comments)!.ToJsonString();

        IReadOnlyList<int> seeds = root.Integers("seeds", 1, 10_000, 0, int.MaxValue);
        if (seeds.Distinct().Count() != seeds.Count) throw root.Error("seeds", "lists a seed twice");
        SweepMode mode = root.Choice("mode", "grid", "random", "pbt") switch { "grid" => SweepMode.Grid, "random" => SweepMode.Random, _ => SweepMode.Pbt };
        int trials = mode == SweepMode.Random ? (int)root.Integer("trials", 1, 100_000) : 0;
        if (mode != SweepMode.Random && root.Has("trials")) throw root.Error("trials", "only a random sweep has trials (grid: the product of the value lists; pbt: one member per seed)");
        ulong samplerSeed = (ulong)root.Integer("sampler_seed", 0, long.MaxValue, 0);
        string score = root.Has("score") ? root.Choice("score", Scores) : "success_rate";

        string algorithm = task["training"]?["algorithm"]?.GetValue<string>() ?? (kind == TaskKinds.Hover ? "td3" : "ppo");
        PbtSettings? pbt = null;
        if (mode == SweepMode.Pbt)
        {
            ConfigNode p = root.Object("pbt");
            pbt = new PbtSettings(
                p.Integer("interval_env_steps", 1, long.MaxValue),
                p.Number("quantile", 0.01, 0.5, 0.25),
                p.Number("resample_probability", 0, 1, 0.25),
                p.Has("perturb_factors") ? p.Numbers("perturb_factors", 2, 0.01, 100) : [0.8, 1.2]);
            p.EnsureNoUnknownKeys();
            // Continuing a member from its checkpoint with other hyperparameters needs an algorithm that resumes
            // mid-run: TD3 and SAC do (their checkpoints hold the replay memory); PPO refuses mid-run checkpoints.
            if (algorithm is not ("td3" or "sac"))
                throw root.Error("mode", $"pbt continues members from checkpoints, which {algorithm} does not resume from yet; the task must train with td3 or sac (hover tasks)");
            if (seeds.Count < 2) throw root.Error("seeds", "pbt needs a population of at least 2 (one member per seed)");
        }
        else if (root.Has("pbt")) throw root.Error("pbt", "only a pbt sweep has a pbt section");

        var parameters = new List<SweepKey>();
        JsonObject parameterJson = JsonNode.Parse(root.Object("parameters").RawJson)!.AsObject();
        if (parameterJson.Count == 0) throw root.Error("parameters", "names no task key to sweep");
        foreach (var (path, value) in parameterJson)
        {
            string field = $"$.parameters[\"{path}\"]";
            JsonNode existing = Lookup(task, path, file, field, taskPath);
            if (path == "training.seed") throw new ConfigException(file, field, "seeds are swept by \"seeds\", not as a parameter");
            bool integer = IsIntegerLiteral(existing);
            if (value is JsonArray list)
            {
                if (list.Count == 0) throw new ConfigException(file, field, "an empty list of values");
                var values = new List<JsonNode>();
                for (int i = 0; i < list.Count; i++)
                {
                    CheckType(existing, list[i], file, $"{field}[{i}]", path);
                    values.Add(list[i]!.DeepClone());
                }
                SweepDistribution? asChoice = mode == SweepMode.Grid ? null : new SweepDistribution("choice", 0, 0, values, integer);
                parameters.Add(new SweepKey(path, values, asChoice));
            }
            else if (value is JsonObject distribution)
            {
                if (mode == SweepMode.Grid) throw new ConfigException(file, field, "a grid sweep takes a list of values; distributions are for random and pbt sweeps");
                parameters.Add(new SweepKey(path, [], ReadDistribution(distribution, existing, integer, file, field, path)));
            }
            else throw new ConfigException(file, field, $"expected a list of values (grid) or a distribution {{\"log_uniform\": [a, b]}}, {{\"uniform\": [a, b]}}, {{\"choice\": [...]}}, found {Describe(value)}");
        }

        var overrides = new List<(string, JsonNode)>();
        if (root.Has("overrides"))
        {
            JsonObject overrideJson = JsonNode.Parse(root.Object("overrides").RawJson)!.AsObject();
            foreach (var (path, value) in overrideJson)
            {
                string field = $"$.overrides[\"{path}\"]";
                JsonNode existing = Lookup(task, path, file, field, taskPath);
                CheckType(existing, value, file, field, path);
                if (parameterJson.ContainsKey(path)) throw new ConfigException(file, field, "is also a swept parameter");
                overrides.Add((path, value!.DeepClone()));
            }
        }
        root.EnsureNoUnknownKeys();

        var config = new SweepConfig
        {
            File = file,
            Name = name,
            TaskPath = taskPath,
            TaskKind = kind,
            Seeds = seeds,
            Mode = mode,
            Trials = trials,
            SamplerSeed = samplerSeed,
            Score = score,
            Pbt = pbt,
            Parameters = parameters,
            Overrides = overrides,
            Sha256 = FileSha256(file),
            TaskSha256 = FileSha256(taskPath),
            BaseTask = task,
            RobotJson = robotJson,
            Algorithm = algorithm,
        };
        if (pbt is not null)
        {
            long total = config.TotalEnvSteps();
            if (pbt.IntervalEnvSteps >= total)
                throw new ConfigException(file, "$.pbt.interval_env_steps", $"{pbt.IntervalEnvSteps} leaves one generation of the task's {total} env steps; PBT needs at least two");
        }
        return config;
    }

    /// <summary>The task's training.total_env_steps after the overrides (the algorithm's default when absent).</summary>
    public long TotalEnvSteps()
    {
        JsonObject task = Apply(new Dictionary<string, JsonNode>());
        return task["training"]?["total_env_steps"]?.GetValue<long>() ?? new RunConfig().TotalEnvSteps;
    }

    /// <summary>The configurations of a grid (every combination, the first parameter varying slowest) or a random sweep
    /// (<see cref="Trials"/> draws seeded by <see cref="SamplerSeed"/>).</summary>
    public IReadOnlyList<SweepConfiguration> Configurations()
    {
        var result = new List<SweepConfiguration>();
        if (Mode == SweepMode.Grid)
        {
            var combinations = new List<Dictionary<string, JsonNode>> { new() };
            foreach (SweepKey p in Parameters)
                combinations = combinations.SelectMany(c => p.Values.Select(v => new Dictionary<string, JsonNode>(c) { [p.Path] = v.DeepClone() })).ToList();
            for (int i = 0; i < combinations.Count; i++) result.Add(new SweepConfiguration($"c{i}", combinations[i]));
        }
        else
        {
            var random = new SeededRandom(SamplerSeed * 0x9E3779B97F4A7C15UL + 0x5EE9);
            int count = Mode == SweepMode.Random ? Trials : Seeds.Count;
            for (int i = 0; i < count; i++)
                result.Add(new SweepConfiguration(Mode == SweepMode.Pbt ? $"m{i}" : $"c{i}",
                    Parameters.ToDictionary(p => p.Path, p => p.Distribution!.Sample(random))));
        }
        return result;
    }

    /// <summary>
    /// The task JSON a trial trains: the base task with the overrides and <paramref name="values"/> applied, the robot
    /// given as "robot.json" beside it (a run directory holds both, so it is self-contained), and for PBT members
    /// keep_best_policy off (a member's score must be its current weights') and checkpoints only at the segment's end.
    /// </summary>
    public JsonObject Apply(IReadOnlyDictionary<string, JsonNode> values)
    {
        JsonObject task = BaseTask.DeepClone().AsObject();
        foreach (var (path, value) in Overrides) Set(task, path, value.DeepClone());
        foreach (var (path, value) in values) Set(task, path, value.DeepClone());
        task["robot"] = "robot.json";
        if (Mode == SweepMode.Pbt)
        {
            if (task["training"] is not JsonObject training) task["training"] = training = new JsonObject();
            training["keep_best_policy"] = false;
            training["checkpoint_every_env_steps"] = 0;
        }
        return task;
    }

    /// <summary>Checks every configuration against the task's own schema before any trial runs: a value the task refuses
    /// (out of range, say) names the sweep file and the parameter.</summary>
    public void Validate(IEnumerable<SweepConfiguration> configurations, string scratchDirectory)
    {
        Directory.CreateDirectory(scratchDirectory);
        System.IO.File.WriteAllText(System.IO.Path.Combine(scratchDirectory, "robot.json"), RobotJson);
        foreach (SweepConfiguration configuration in configurations)
        {
            string path = System.IO.Path.Combine(scratchDirectory, $"{configuration.Id}.json");
            System.IO.File.WriteAllText(path, Apply(configuration.Values).ToJsonString());
            try { SweepTaskCheck.Bind(path, TaskKind); }
            catch (ConfigException e)
            {
                string dotted = e.JsonPath.TrimStart('$').TrimStart('.');
                string field = configuration.Values.ContainsKey(dotted) ? $"$.parameters[\"{dotted}\"]"
                    : Overrides.Any(o => o.Path == dotted) ? $"$.overrides[\"{dotted}\"]" : "$.parameters";
                string value = configuration.Values.TryGetValue(dotted, out JsonNode? v) ? $" = {v.ToJsonString()}" : "";
                throw new ConfigException(File, field, $"configuration {configuration.Id}{value}: the task refuses it: {e.Problem}");
            }
        }
    }

    static JsonNode Lookup(JsonObject task, string path, string file, string field, string taskPath)
    {
        JsonNode? node = task;
        string at = "";
        foreach (string key in path.Split('.'))
        {
            if (node is not JsonObject obj || !obj.TryGetPropertyValue(key, out JsonNode? child) || child is null)
                throw new ConfigException(file, field, $"\"{path}\" is not in the task file {System.IO.Path.GetFileName(taskPath)}" +
                    (at.Length == 0 ? $" (it has no key \"{key}\")" : $" (it has no key \"{key}\" under \"{at}\")") +
                    "; a sweep changes keys the task file sets");
            at = at.Length == 0 ? key : at + "." + key;
            node = child;
        }
        if (node is JsonObject) throw new ConfigException(file, field, $"\"{path}\" is a section of the task file; name one of its keys");
        return node!;
    }

    static void Set(JsonObject task, string path, JsonNode value)
    {
        string[] keys = path.Split('.');
        JsonObject at = task;
        for (int i = 0; i < keys.Length - 1; i++) at = at[keys[i]]!.AsObject();
        at[keys[^1]] = value;
    }

    static SweepDistribution ReadDistribution(JsonObject distribution, JsonNode existing, bool integer, string file, string field, string path)
    {
        if (distribution.Count != 1)
            throw new ConfigException(file, field, "a distribution is one of {\"log_uniform\": [a, b]}, {\"uniform\": [a, b]}, {\"choice\": [...]}");
        var (kind, args) = distribution.First();
        if (kind == "choice")
        {
            if (args is not JsonArray choices || choices.Count == 0) throw new ConfigException(file, $"{field}.choice", "expected a non-empty list of values");
            for (int i = 0; i < choices.Count; i++) CheckType(existing, choices[i], file, $"{field}.choice[{i}]", path);
            return new SweepDistribution("choice", 0, 0, choices.Select(c => c!.DeepClone()).ToList(), integer);
        }
        if (kind is not ("log_uniform" or "uniform"))
            throw new ConfigException(file, $"{field}.{kind}", "unknown distribution; expected log_uniform, uniform or choice");
        if (existing.GetValueKind() != JsonValueKind.Number)
            throw new ConfigException(file, field, $"{kind} draws numbers, but \"{path}\" is {Describe(existing)} in the task file; use choice");
        if (args is not JsonArray range || range.Count != 2 || range.Any(r => r?.GetValueKind() != JsonValueKind.Number))
            throw new ConfigException(file, $"{field}.{kind}", "expected [low, high], two numbers");
        double low = range[0]!.GetValue<double>(), high = range[1]!.GetValue<double>();
        if (!(low < high)) throw new ConfigException(file, $"{field}.{kind}", $"expected low < high, found [{low}, {high}]");
        if (kind == "log_uniform" && low <= 0) throw new ConfigException(file, $"{field}.{kind}", "log_uniform needs 0 < low");
        return new SweepDistribution(kind, low, high, [], integer);
    }

    /// <summary>A value must have the JSON type the task file gives the key (an integer key takes whole numbers only).</summary>
    static void CheckType(JsonNode existing, JsonNode? candidate, string file, string field, string path)
    {
        JsonValueKind want = existing.GetValueKind(), have = candidate?.GetValueKind() ?? JsonValueKind.Null;
        bool boolean(JsonValueKind k) => k is JsonValueKind.True or JsonValueKind.False;
        if (want != have && !(boolean(want) && boolean(have)))
            throw new ConfigException(file, field, $"expected {Describe(existing)} as \"{path}\" is in the task file, found {Describe(candidate)}");
        if (want == JsonValueKind.Number && IsIntegerLiteral(existing) && !IsWhole(candidate!))
            throw new ConfigException(file, field, $"expected a whole number (\"{path}\" is an integer in the task file), found {candidate!.ToJsonString()}");
        if (want == JsonValueKind.Array)
        {
            JsonArray a = existing.AsArray(), b = candidate!.AsArray();
            if (a.Count > 0)
                for (int i = 0; i < b.Count; i++) CheckType(a[0]!, b[i], file, $"{field}[{i}]", path + "[]");
        }
    }

    static bool IsIntegerLiteral(JsonNode node) => node.GetValueKind() == JsonValueKind.Number && node.ToJsonString().IndexOfAny(['.', 'e', 'E']) < 0;

    static bool IsWhole(JsonNode node) => node.GetValue<double>() is var d && Math.Floor(d) == d && Math.Abs(d) < 9e15;

    static string Describe(JsonNode? node) => node?.GetValueKind() switch
    {
        JsonValueKind.Number => IsIntegerLiteral(node) ? "a whole number" : "a number",
        JsonValueKind.String => "a string",
        JsonValueKind.True or JsonValueKind.False => "true or false",
        JsonValueKind.Array => "a list",
        JsonValueKind.Object => "an object",
        _ => "null",
    };

    public static string FileSha256(string path) => Convert.ToHexStringLower(SHA256.HashData(System.IO.File.ReadAllBytes(path)));

    /// <summary>A value as a short text for tables ("0.001", "true", "[64,64]").</summary>
    public static string Text(JsonNode value) => value.GetValueKind() == JsonValueKind.Number
        ? value.GetValue<double>().ToString("G4", CultureInfo.InvariantCulture) : value.ToJsonString();
}

/// <summary>Binds a task file with the trainer's own readers, without training (the sweep's check before its first trial).</summary>
static class SweepTaskCheck
{
    public static void Bind(string taskPath, string kind)
    {
        if (kind == TaskKinds.Hover)
        {
            HoverTaskConfig task = HoverTaskConfig.Load(taskPath);
            string algorithm = task.Training?.Choice("algorithm", "td3", "sac") ?? "td3";
            if (algorithm == "td3") Td3Config.Read(task.Training);
            else SacConfig.Read(task.Training);
        }
        else if (kind == TaskKinds.Navigation)
        {
            NavTaskConfig task = NavTaskConfig.Load(taskPath);
            PpoConfig.Read(task.Training);
        }
        // Other kinds are checked by their trainer when the first trial starts.
    }
}
