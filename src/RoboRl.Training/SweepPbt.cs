using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RoboRl.Training;

/// <summary>
/// Population-based training (Jaderberg et al., "Population Based Training of Neural Networks", 2017), generation by
/// generation: every member trains one interval from its checkpoint (a segment); then the bottom quantile, ranked by the
/// segment's final evaluation (success, then fewer failures, then lower cost), copies a top-quantile member's
/// checkpoint (networks, Adam moments, normalisers, replay memory, counters) and perturbs its hyperparameters: each
/// ×0.8 or ×1.2 (the paper's "perturb"), or drawn afresh with the resample probability. Synchronous generations keep it
/// simple to reason about and to resume: the state file records every segment and every exploit (the lineage).
/// TD3 and SAC only: they continue a run from a checkpoint with changed hyperparameters (PPO refuses mid-run checkpoints).
/// </summary>
public static class Pbt
{
    /// <summary>The checkpoint each member's next segment starts from (a copy: an interrupted segment restarts from it).</summary>
    public const string SegmentStartFileName = "segment-start.bin";

    internal static SweepState.PbtState NewState(SweepConfig sweep, IReadOnlyList<SweepConfiguration> members)
    {
        PbtSettings settings = sweep.Pbt!;
        long total = sweep.TotalEnvSteps();
        var state = new SweepState.PbtState
        {
            IntervalEnvSteps = settings.IntervalEnvSteps,
            TotalEnvSteps = total,
            Generations = (int)((total + settings.IntervalEnvSteps - 1) / settings.IntervalEnvSteps),
            Quantile = settings.Quantile,
            ResampleProbability = settings.ResampleProbability,
        };
        for (int i = 0; i < members.Count; i++)
            state.Members.Add(new SweepState.MemberState
            {
                Id = members[i].Id,
                Seed = sweep.Seeds[i],
                RunDir = Path.Combine("members", members[i].Id),
                Parameters = Sweep.Clone(members[i].Values),
            });
        return state;
    }

    internal static void Run(SweepConfig sweep, SweepState state, string directory, ISweepExecutor executor, Action save, TextWriter? console, bool interactive)
    {
        SweepState.PbtState pbt = state.Pbt!;
        PbtSettings settings = sweep.Pbt!;
        for (int generation = pbt.GenerationsDone; generation < pbt.Generations; generation++)
        {
            long stopAt = Math.Min((generation + 1) * pbt.IntervalEnvSteps, pbt.TotalEnvSteps);
            var batch = new List<SweepWork>();
            foreach (SweepState.MemberState member in pbt.Members)
            {
                SweepState.SegmentState? segment = member.Segments.FirstOrDefault(s => s.Generation == generation);
                if (segment?.Status == SweepState.Finished) continue;
                if (segment is null) member.Segments.Add(segment = new SweepState.SegmentState { Generation = generation });
                segment.Parameters = Sweep.Clone(member.Parameters);
                string runDirectory = Path.Combine(directory, member.RunDir);
                // An interrupted segment restarts from the checkpoint it started from, never from a half-way one.
                if (generation > 0)
                    File.Copy(Path.Combine(runDirectory, SegmentStartFileName), Path.Combine(runDirectory, Checkpoint.FileName), overwrite: true);
                string task = sweep.Apply(member.Parameters).ToJsonString();
                batch.Add(new SweepWork($"{member.Id}-g{generation}", member.RunDir, task, sweep.RobotJson, member.Seed, stopAt, Resume: generation > 0));
            }
            save();
            console?.WriteLine($"pbt generation {generation + 1}/{pbt.Generations}: {batch.Count} member(s) train to {stopAt:N0} env steps");
            var members = pbt.Members.ToDictionary(m => m.Id);
            executor.Run(directory, batch, (work, result) =>
            {
                SweepState.MemberState member = members[work.Id[..work.Id.LastIndexOf('-')]];
                SweepState.SegmentState segment = member.Segments.First(s => s.Generation == generation);
                segment.Status = SweepState.Finished;
                segment.StartEnvSteps = result.StartEnvSteps;
                segment.EndEnvSteps = result.EnvSteps;
                segment.Score = Sweep.Score(result);
                segment.WallS = Math.Round(result.WallSeconds, 2);
                segment.Worker = result.Worker;
                segment.Attempts++;
                save();
                Sweep.Line(console, interactive, string.Create(CultureInfo.InvariantCulture,
                    $"segment {work.Id}: {result.StartEnvSteps:N0} → {result.EnvSteps:N0} env steps, success {result.SuccessRate:P1}, {result.WallSeconds:F1} s ({result.Worker})  {Sweep.Describe(member.Parameters)}"));
            }, console, interactive);

            if (generation < pbt.Generations - 1) ExploitAndExplore(settings, sweep, pbt, generation, directory, console);
            // Every member's next segment starts from its checkpoint as it stands now (copied or its own).
            foreach (SweepState.MemberState member in pbt.Members)
            {
                string runDirectory = Path.Combine(directory, member.RunDir);
                File.Copy(Path.Combine(runDirectory, Checkpoint.FileName), Path.Combine(runDirectory, SegmentStartFileName), overwrite: true);
            }
            pbt.GenerationsDone = generation + 1;
            save();
        }
    }

    /// <summary>
    /// The bottom quantile copies a top-quantile member's checkpoint and perturbs its hyperparameters. The draws are seeded
    /// by the sampler seed and the generation, so a sweep interrupted here makes the same choices again when resumed.
    /// </summary>
    static void ExploitAndExplore(PbtSettings settings, SweepConfig sweep, SweepState.PbtState pbt, int generation, string directory, TextWriter? console)
    {
        var random = new SeededRandom((sweep.SamplerSeed + 1) * 0x9E3779B97F4A7C15UL ^ (ulong)(generation + 1) * 0xD1B54A32D192ED03UL);
        // Best first: higher success, then fewer failures, then lower cost; ties keep the member order (stable sort).
        var ranked = pbt.Members.Select(m => (Member: m, Score: m.Segments.First(s => s.Generation == generation).Score!))
            .OrderByDescending(m => m.Score.SuccessRate).ThenBy(m => m.Score.FailureRate).ThenBy(m => m.Score.Cost ?? double.PositiveInfinity).ToList();
        int count = Math.Max(1, (int)Math.Floor(ranked.Count * settings.Quantile));
        var top = ranked.Take(count).ToList();
        var bottom = ranked.Skip(ranked.Count - count).ToList();
        var distributions = sweep.Parameters.ToDictionary(p => p.Path, p => p.Distribution!);
        foreach (var (member, score) in bottom)
        {
            var (source, sourceScore) = top[random.NextInt(top.Count)];
            string from = Path.Combine(directory, source.RunDir, Checkpoint.FileName);
            string to = Path.Combine(directory, member.RunDir, Checkpoint.FileName);
            string sourceHash = SweepConfig.FileSha256(from);
            File.Copy(from, to, overwrite: true);
            var before = Sweep.Clone(member.Parameters);
            var after = new Dictionary<string, JsonNode>();
            var changes = new Dictionary<string, string>();
            foreach (var (path, value) in source.Parameters)
            {
                SweepDistribution distribution = distributions[path];
                if (random.NextFloat() < settings.ResampleProbability)
                {
                    after[path] = distribution.Sample(random);
                    changes[path] = "resampled";
                }
                else if (distribution.Kind != "choice" && value.GetValueKind() == JsonValueKind.Number)
                {
                    double factor = settings.PerturbFactors[random.NextInt(settings.PerturbFactors.Length)];
                    after[path] = distribution.Clip(value.GetValue<double>() * factor);
                    changes[path] = string.Create(CultureInfo.InvariantCulture, $"×{factor:G4}");
                }
                else
                {
                    after[path] = value.DeepClone();
                    changes[path] = "copied";
                }
            }
            member.Parameters = after;
            pbt.Lineage.Add(new SweepState.ExploitState
            {
                Generation = generation,
                Member = member.Id,
                Source = source.Id,
                MemberSuccessRate = score.SuccessRate,
                SourceSuccessRate = sourceScore.SuccessRate,
                SourceCheckpointSha256 = sourceHash,
                CopiedCheckpointSha256 = SweepConfig.FileSha256(to),
                CheckpointEnvSteps = Checkpoint.Find(Path.Combine(directory, member.RunDir))!.ReadGlobalStep(),
                ParametersBefore = before,
                ParametersAfter = Sweep.Clone(after),
                Changes = changes,
            });
            console?.WriteLine($"pbt exploit after generation {generation + 1}: {member.Id} ({score.SuccessRate:P1}) takes {source.Id}'s checkpoint ({sourceScore.SuccessRate:P1}); {Sweep.Describe(after)}");
        }
    }
}
