using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace RoboRl.Training;

/// <summary>
/// A sweep's state file (<c>sweep.json</c> in the sweep directory), rewritten atomically (temporary file, rename) after
/// every finished trial or PBT segment: what a resumed sweep continues from, and the record of what ran (configurations,
/// seeds, scores, PBT lineage).
/// </summary>
public sealed class SweepState
{
    public const string FileName = "sweep.json", FormatName = "roborl-sweep";
    public const string Pending = "pending", Finished = "finished";

    public string Format { get; set; } = FormatName;
    public int Version { get; set; } = 1;
    public string Name { get; set; } = "";
    public string Mode { get; set; } = "";
    public string Score { get; set; } = "";
    public string Algorithm { get; set; } = "";
    /// <summary>The sweep file's name and SHA-256, and the task file's SHA-256, when the sweep started.</summary>
    public string SweepFile { get; set; } = "";
    public string SweepSha256 { get; set; } = "";
    public string TaskSha256 { get; set; } = "";
    public List<int> Seeds { get; set; } = [];
    public List<ConfigurationState> Configurations { get; set; } = [];
    public List<TrialState> Trials { get; set; } = [];
    public PbtState? Pbt { get; set; }
    /// <summary>"running" until every trial (every PBT generation) is finished and the aggregate is written.</summary>
    public string Status { get; set; } = "running";

    public sealed class ConfigurationState
    {
        public string Id { get; set; } = "";
        public Dictionary<string, JsonNode> Parameters { get; set; } = [];
    }

    /// <summary>The final evaluation of a trial or segment: success, failure (crash, collision) rate, cost (hover: position
    /// error p50 at 5 s, m; navigation: time to goal p50, s).</summary>
    public sealed class ScoreState
    {
        public double SuccessRate { get; set; }
        public double FailureRate { get; set; }
        public double? Cost { get; set; }
    }

    public sealed class TrialState
    {
        public string Id { get; set; } = "";
        public string Configuration { get; set; } = "";
        public int Seed { get; set; }
        /// <summary>The run directory, relative to the sweep directory.</summary>
        public string RunDir { get; set; } = "";
        public string Status { get; set; } = Pending;
        public ScoreState? Score { get; set; }
        public long EnvSteps { get; set; }
        public double WallS { get; set; }
        /// <summary>Who ran it ("local", or the cluster worker's id).</summary>
        public string? Worker { get; set; }
        /// <summary>How many times it was started (a resumed or re-leased trial counts again).</summary>
        public int Attempts { get; set; }
    }

    public sealed class PbtState
    {
        public long IntervalEnvSteps { get; set; }
        public long TotalEnvSteps { get; set; }
        public int Generations { get; set; }
        /// <summary>Generations whose segments all finished and whose exploit/explore step is recorded.</summary>
        public int GenerationsDone { get; set; }
        public double Quantile { get; set; }
        public double ResampleProbability { get; set; }
        public List<MemberState> Members { get; set; } = [];
        /// <summary>Every exploit (a member took another's checkpoint) with the hyperparameters before and after.</summary>
        public List<ExploitState> Lineage { get; set; } = [];
    }

    public sealed class MemberState
    {
        public string Id { get; set; } = "";
        public int Seed { get; set; }
        public string RunDir { get; set; } = "";
        /// <summary>The hyperparameters it trains its next (or last) segment with.</summary>
        public Dictionary<string, JsonNode> Parameters { get; set; } = [];
        public List<SegmentState> Segments { get; set; } = [];
    }

    public sealed class SegmentState
    {
        public int Generation { get; set; }
        public string Status { get; set; } = Pending;
        /// <summary>The env step of the checkpoint the segment continued from (0 for the first), and where it stopped.</summary>
        public long StartEnvSteps { get; set; }
        public long EndEnvSteps { get; set; }
        public Dictionary<string, JsonNode> Parameters { get; set; } = [];
        public ScoreState? Score { get; set; }
        public double WallS { get; set; }
        public string? Worker { get; set; }
        public int Attempts { get; set; }
    }

    public sealed class ExploitState
    {
        /// <summary>After which generation (0-based) it happened.</summary>
        public int Generation { get; set; }
        public string Member { get; set; } = "";
        public string Source { get; set; } = "";
        public double MemberSuccessRate { get; set; }
        public double SourceSuccessRate { get; set; }
        /// <summary>SHA-256 of the source's checkpoint when copied, and of the member's copy (equal: the copy is exact).</summary>
        public string SourceCheckpointSha256 { get; set; } = "";
        public string CopiedCheckpointSha256 { get; set; } = "";
        public long CheckpointEnvSteps { get; set; }
        public Dictionary<string, JsonNode> ParametersBefore { get; set; } = [];
        public Dictionary<string, JsonNode> ParametersAfter { get; set; } = [];
        /// <summary>Per parameter: "×0.8", "×1.2", "resampled" or "copied".</summary>
        public Dictionary<string, string> Changes { get; set; } = [];
    }

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // "×0.8" as it reads
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static SweepState Load(string path)
    {
        try
        {
            SweepState state = JsonSerializer.Deserialize<SweepState>(File.ReadAllText(path), Json)
                ?? throw new InvalidDataException($"{path}: empty state file");
            if (state.Format != FormatName) throw new InvalidDataException($"{path}: not a RoboRl sweep state file (format \"{state.Format}\")");
            return state;
        }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not a sweep state file ({e.Message})"); }
    }

    /// <summary>Writes the file atomically: a crash leaves the previous state or this one, never half a file.</summary>
    public void Save(string path)
    {
        string temporary = path + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(this, Json));
        File.Move(temporary, path, overwrite: true);
    }
}
