using System.Globalization;
using System.Numerics;
using System.Text.Json.Nodes;
using RoboRl.Core.Policy;
using RoboRl.Core.Swarm;
using RoboRl.Sims.Swarm;

namespace RoboRl.Training.Evaluation;

/// <summary>Flies every quad of a <see cref="SwarmEnv"/> for one control step: writes its actions from the env's state.</summary>
public interface ISwarmPilot
{
    /// <summary>Called after every reset of the whole env (a new seed).</summary>
    void Reset(SwarmEnv env);
    void Act(SwarmEnv env, Span<float> actions);
}

/// <summary>A policy bundle as a pilot: one <see cref="PolicyEngine"/> forward per quad, on the env's observation rows.</summary>
public sealed class PolicyPilot(PolicyBundle bundle) : ISwarmPilot
{
    readonly PolicyEngine _engine = new(bundle);

    public void Reset(SwarmEnv env) { }

    public void Act(SwarmEnv env, Span<float> actions)
    {
        int obs = env.ActorObservationSize;
        ReadOnlySpan<float> rows = env.ActorObservations;
        for (int i = 0; i < env.NumEnvs; i++) _engine.Forward(rows.Slice(i * obs, obs), actions.Slice(i * 4, 4));
    }
}

/// <summary>How a swarm evaluation runs.</summary>
/// <param name="Seeds">Held-out seeds, from the task's first held-out seed on (or <paramref name="FirstSeed"/>).</param>
/// <param name="EpisodesPerSeed">Environments flown together per seed, one episode each (the scenario is drawn per
/// environment from the held-out mix).</param>
/// <param name="SuccessToleranceM">A quad reached its goal when its centre is within this distance of it at the end of the
/// episode (the time to goal is when it first came that close).</param>
public sealed record SwarmEvalOptions(int Seeds = 5, int EpisodesPerSeed = 16, long? FirstSeed = null, float SuccessToleranceM = 0.5f,
    bool HeldOut = true, int Threads = 1)
{
    /// <summary>Episodes whose top-view paths are kept for the plot (the first of each scenario).</summary>
    public int TrajectoriesPerScenario { get; init; } = 1;
}

/// <summary>One quad's path in one episode (top view) with its goals, for the plot.</summary>
public sealed record SwarmTrajectory(string Scenario, long Seed, int Quad, float[] X, float[] Y, float GoalX, float GoalY, bool Collided);

/// <summary>The figures of a swarm evaluation (rates over quads; IQMs and 95 % stratified-bootstrap intervals, strata = seed × scenario).</summary>
public sealed record SwarmEvalResult
{
    public required string Pilot { get; init; }
    public required int Quads { get; init; }
    public required int Episodes { get; init; }
    public required IReadOnlyList<string> Scenarios { get; init; }
    public required int Seeds { get; init; }
    public required float SuccessToleranceM { get; init; }
    public required double SuccessRate { get; init; }
    public required (double Low, double High) SuccessRateCi { get; init; }
    public required double CollisionRate { get; init; }
    public required (double Low, double High) CollisionRateCi { get; init; }
    public required double CollisionsPerQuadMinute { get; init; }
    public required double CollisionsPerQuadMinuteIqm { get; init; }
    public required (double Low, double High) CollisionsPerQuadMinuteIqmCi { get; init; }
    /// <summary>The least distance between two quads in any episode.</summary>
    public required double MinSeparationM { get; init; }
    /// <summary>IQM over episodes of each episode's least distance.</summary>
    public required double MinSeparationIqmM { get; init; }
    /// <summary>Episodes that ended early on a non-finite state or action (every quad counted failed and collided; left out of the separation figures).</summary>
    public required int NonFiniteEpisodes { get; init; }
    public required double TimeToGoalIqmS { get; init; }
    public required (double Low, double High) TimeToGoalIqmCi { get; init; }
    public required double ReachedRate { get; init; }
    /// <summary>Per scenario: success, collision rate, time-to-goal IQM.</summary>
    public required IReadOnlyDictionary<string, (double Success, double Collision, double TimeToGoalIqmS)> PerScenario { get; init; }
    public required IReadOnlyList<SwarmTrajectory> Trajectories { get; init; }
    public required IReadOnlyList<(string Scenario, float[] X, float[] Y)> Columns { get; init; }
}

/// <summary>
/// Flies a pilot (a bundle through the torch-free <see cref="PolicyEngine"/>, or the classical baseline) on a swarm task's
/// held-out scenarios and seeds and measures what issue 18 asks: success (reached its goal — within
/// <see cref="SwarmEvalOptions.SuccessToleranceM"/> at the episode's end — with no collision), collision rate (fraction of
/// quads with at least one contact, quad or column), contacts per quad-minute, the least separation, time to goal.
/// </summary>
public static class SwarmEvaluator
{
    public static SwarmEvalResult Evaluate(ISwarmPilot pilot, string pilotName, SwarmTaskConfig task, SwarmEvalOptions options)
    {
        if (options.Seeds < 1 || options.EpisodesPerSeed < 1) throw new ArgumentOutOfRangeException(nameof(options), "need at least one seed and one episode per seed");
        long firstSeed = options.FirstSeed ?? task.HeldOutSeeds.First;
        using var env = new SwarmEnv(task, options.EpisodesPerSeed, options.Threads);
        env.UseHeldOutScenarios = options.HeldOut;
        int envs = env.Environments, quads = env.QuadsPerEnv, rows = env.NumEnvs, steps = task.EpisodeSteps, obs = env.ActorObservationSize;
        float tolerance = options.SuccessToleranceM, dt = task.ControlDt, minutes = task.EpisodeSeconds / 60f;
        var actions = new float[rows * 4];
        var firstReach = new int[rows];
        var scenario = new string[envs];

        // Per stratum (seed × scenario): per-quad scores.
        var success = new Dictionary<(long, string), List<double>>();
        var collided = new Dictionary<(long, string), List<double>>();
        var perMinute = new Dictionary<(long, string), List<double>>();
        var times = new Dictionary<(long, string), List<double>>();
        var separations = new List<double>();
        var trajectories = new List<SwarmTrajectory>();
        var columns = new List<(string, float[], float[])>();
        var kept = new Dictionary<string, int>();
        long totalContacts = 0;
        int reached = 0, nonFinite = 0;

        for (int seedIndex = 0; seedIndex < options.Seeds; seedIndex++)
        {
            long seed = firstSeed + seedIndex;
            if (options.FirstSeed is null && seed > task.HeldOutSeeds.Last)
                throw new ArgumentException($"seed {seed} is past the held-out seeds of {task.File} (held_out.seeds [{task.HeldOutSeeds.First}, {task.HeldOutSeeds.Last}])");
            env.Reset((ulong)seed);
            pilot.Reset(env);
            Array.Fill(firstReach, -1);
            var traced = new List<(int Env, string Scenario, List<float>[] X, List<float>[] Y)>();
            for (int e = 0; e < envs; e++)
            {
                scenario[e] = env.Scenario(e)?.Name ?? "hand_set";
                kept.TryGetValue(scenario[e], out int already);
                if (already < options.TrajectoriesPerScenario)
                {
                    kept[scenario[e]] = already + 1;
                    traced.Add((e, scenario[e], Enumerable.Range(0, quads).Select(_ => new List<float>(steps + 1)).ToArray(),
                        Enumerable.Range(0, quads).Select(_ => new List<float>(steps + 1)).ToArray()));
                    columns.Add((scenario[e], env.ColumnsX(e).ToArray(), env.ColumnsY(e).ToArray()));
                }
            }
            var finalGoals = new Vector3[rows];
            var done = new bool[envs];
            int running = envs;
            for (int t = 0; t < steps && running > 0; t++)
            {
                foreach (var tr in traced)
                    if (!done[tr.Env])
                        for (int q = 0; q < quads; q++)
                        {
                            Vector3 p = env.Batch.Position(env.Lane(tr.Env, q));
                            tr.X[q].Add(p.X); tr.Y[q].Add(p.Y);
                        }
                for (int e = 0; e < envs; e++)
                    if (!done[e])
                        for (int q = 0; q < quads; q++) finalGoals[e * quads + q] = env.Goal(e, q);
                pilot.Act(env, actions);
                env.Step(actions);
                for (int e = 0; e < envs; e++)
                {
                    if (done[e]) continue;
                    int row0 = e * quads;
                    bool ended = env.Terminated[row0] || env.Truncated[row0];
                    // First time within the tolerance (the finished episode's last observation when it ended).
                    ReadOnlySpan<float> o = ended ? env.FinalActorObservations : env.ActorObservations;
                    for (int i = row0; i < row0 + quads; i++)
                        if (firstReach[i] < 0 && Distance(o.Slice(i * obs, 3)) <= tolerance) firstReach[i] = t + 1;
                    if (!ended) continue;
                    // The episode is over (at the time limit, or early: a non-finite state or action, which fails every quad).
                    done[e] = true;
                    running--;
                    bool early = env.Terminated[row0];
                    var key = (seed, scenario[e]);
                    List<double> s = Get(success, key), c = Get(collided, key), m = Get(perMinute, key), tt = Get(times, key);
                    float separation = env.MinSeparation(e, finished: true);
                    if (float.IsFinite(separation) && !early) separations.Add(separation);
                    else nonFinite++;
                    for (int q = 0; q < quads; q++)
                    {
                        int i = row0 + q;
                        var (withQuads, withColumns) = env.EpisodeCollisions(e, q, finished: true);
                        int contacts = withQuads + withColumns;
                        totalContacts += contacts;
                        bool atGoal = !early && Distance(env.FinalActorObservations.Slice(i * obs, 3)) <= tolerance;
                        s.Add(atGoal && contacts == 0 ? 1 : 0);
                        c.Add(contacts > 0 || early ? 1 : 0);
                        m.Add(contacts / minutes);
                        if (firstReach[i] >= 0) { tt.Add(firstReach[i] * dt); reached++; }
                    }
                }
            }
            if (running > 0) throw new InvalidOperationException("the episodes did not end at the episode length");

            foreach (var tr in traced)
                for (int q = 0; q < quads; q++)
                {
                    var (withQuads, withColumns) = env.EpisodeCollisions(tr.Env, q, finished: true);
                    Vector3 g = finalGoals[tr.Env * quads + q];
                    trajectories.Add(new SwarmTrajectory(tr.Scenario, seed, q, tr.X[q].ToArray(), tr.Y[q].ToArray(), g.X, g.Y, withQuads + withColumns > 0));
                }
        }

        static List<double> Get(Dictionary<(long, string), List<double>> d, (long, string) key)
        {
            if (!d.TryGetValue(key, out List<double>? list)) d[key] = list = [];
            return list;
        }
        static IReadOnlyList<IReadOnlyList<double>> Strata(Dictionary<(long, string), List<double>> d) =>
            d.OrderBy(p => p.Key.Item1).ThenBy(p => p.Key.Item2, StringComparer.Ordinal).Select(p => (IReadOnlyList<double>)p.Value).Where(v => v.Count > 0).ToArray();
        static double Mean(Dictionary<(long, string), List<double>> d) => d.Values.SelectMany(v => v).DefaultIfEmpty(double.NaN).Average();

        (double, double) none = (double.NaN, double.NaN);
        double[] allTimes = times.Values.SelectMany(v => v).ToArray();
        double[] allPerMinute = perMinute.Values.SelectMany(v => v).ToArray();
        string[] scenarioNames = success.Keys.Select(k => k.Item2).Distinct().Order(StringComparer.Ordinal).ToArray();
        var perScenario = scenarioNames.ToDictionary(n => n, n =>
        {
            double[] t = times.Where(p => p.Key.Item2 == n).SelectMany(p => p.Value).ToArray();
            return (success.Where(p => p.Key.Item2 == n).SelectMany(p => p.Value).Average(),
                collided.Where(p => p.Key.Item2 == n).SelectMany(p => p.Value).Average(),
                t.Length == 0 ? double.NaN : Statistics.InterquartileMean(t));
        });
        int quadEpisodes = options.Seeds * rows;
        return new SwarmEvalResult
        {
            Pilot = pilotName,
            Quads = quads,
            Episodes = options.Seeds * envs,
            Scenarios = scenarioNames,
            Seeds = options.Seeds,
            SuccessToleranceM = tolerance,
            SuccessRate = Mean(success),
            SuccessRateCi = Statistics.StratifiedBootstrapMeanInterval(Strata(success)),
            CollisionRate = Mean(collided),
            CollisionRateCi = Statistics.StratifiedBootstrapMeanInterval(Strata(collided)),
            CollisionsPerQuadMinute = totalContacts / (quadEpisodes * (double)minutes),
            CollisionsPerQuadMinuteIqm = Statistics.InterquartileMean(allPerMinute),
            CollisionsPerQuadMinuteIqmCi = Statistics.StratifiedBootstrapIqmInterval(Strata(perMinute)),
            MinSeparationM = separations.Count == 0 ? double.NaN : separations.Min(),
            MinSeparationIqmM = separations.Count == 0 ? double.NaN : Statistics.InterquartileMean(separations),
            NonFiniteEpisodes = nonFinite,
            TimeToGoalIqmS = allTimes.Length == 0 ? double.NaN : Statistics.InterquartileMean(allTimes),
            TimeToGoalIqmCi = allTimes.Length == 0 ? none : Statistics.StratifiedBootstrapIqmInterval(Strata(times)),
            ReachedRate = reached / (double)quadEpisodes,
            PerScenario = perScenario,
            Trajectories = trajectories,
            Columns = columns,
        };
    }

    static float Distance(ReadOnlySpan<float> error) => MathF.Sqrt(error[0] * error[0] + error[1] * error[1] + error[2] * error[2]);

    /// <summary>The training-time score: success, collision rate, time-to-goal IQM (the <see cref="TrainingSession"/> scorer).</summary>
    public static PolicyScore Score(PolicyBundle bundle, SwarmTaskConfig task, int episodes, bool final)
    {
        // Periodic evaluations fly the held-out scenarios on a validation seed (above every training seed, which is an int,
        // and outside the held-out seeds); the final one the first held-out seed.
        var options = new SwarmEvalOptions(Seeds: 1, EpisodesPerSeed: Math.Max(1, episodes), FirstSeed: final ? null : ValidationSeed) { TrajectoriesPerScenario = 0 };
        SwarmEvalResult r = Evaluate(new PolicyPilot(bundle), "policy", task, options);
        return new PolicyScore(r.SuccessRate, r.CollisionRate, r.TimeToGoalIqmS);
    }

    /// <summary>Seed of the periodic (validation) evaluations during training.</summary>
    public const long ValidationSeed = 0x7A11_D5EE_D000;

    /// <summary>One line per pilot.</summary>
    public static string Summary(SwarmEvalResult r) => string.Create(CultureInfo.InvariantCulture,
        $"{r.Pilot}: {r.Quads} quads, {r.Episodes} episodes ({string.Join(", ", r.Scenarios)}): success {r.SuccessRate:P1} [{r.SuccessRateCi.Low:P1}, {r.SuccessRateCi.High:P1}], " +
        $"collision rate {r.CollisionRate:P1} [{r.CollisionRateCi.Low:P1}, {r.CollisionRateCi.High:P1}], {r.CollisionsPerQuadMinute:F3} contacts per quad-minute, " +
        $"min separation {r.MinSeparationM:F3} m (IQM {r.MinSeparationIqmM:F3} m), time to goal IQM {r.TimeToGoalIqmS:F2} s [{r.TimeToGoalIqmCi.Low:F2}, {r.TimeToGoalIqmCi.High:F2}]");

    /// <summary>The JSON object of one pilot (issue 18's keys).</summary>
    public static JsonObject ToJson(SwarmEvalResult r)
    {
        static JsonNode? F(double v) => double.IsFinite(v) ? JsonValue.Create(v) : null;
        static JsonArray Ci((double Low, double High) ci) => [F(ci.Low), F(ci.High)];
        var per = new JsonObject();
        foreach (var (name, s) in r.PerScenario)
            per[name] = new JsonObject { ["success_rate"] = F(s.Success), ["collision_rate"] = F(s.Collision), ["time_to_goal_iqm_s"] = F(s.TimeToGoalIqmS) };
        return new JsonObject
        {
            ["pilot"] = r.Pilot,
            ["quads"] = r.Quads,
            ["episodes"] = r.Episodes,
            ["seeds"] = r.Seeds,
            ["scenarios"] = new JsonArray(r.Scenarios.Select(s => (JsonNode)s).ToArray()),
            ["success_tolerance_m"] = r.SuccessToleranceM,
            ["success_rate"] = F(r.SuccessRate),
            ["success_rate_ci95"] = Ci(r.SuccessRateCi),
            ["collision_rate"] = F(r.CollisionRate),
            ["collision_rate_ci95"] = Ci(r.CollisionRateCi),
            ["collisions_per_quad_minute"] = F(r.CollisionsPerQuadMinute),
            ["collisions_per_quad_minute_iqm"] = F(r.CollisionsPerQuadMinuteIqm),
            ["collisions_per_quad_minute_iqm_ci95"] = Ci(r.CollisionsPerQuadMinuteIqmCi),
            ["min_separation_m"] = F(r.MinSeparationM),
            ["min_separation_iqm_m"] = F(r.MinSeparationIqmM),
            ["non_finite_episodes"] = r.NonFiniteEpisodes,
            ["time_to_goal_iqm_s"] = F(r.TimeToGoalIqmS),
            ["time_to_goal_iqm_ci95"] = Ci(r.TimeToGoalIqmCi),
            ["reached_rate"] = F(r.ReachedRate),
            ["per_scenario"] = per,
        };
    }

    /// <summary>Top view of the kept episodes, one panel per scenario side by side: each quad's path from its start (circle)
    /// to its last goal (cross), columns grey, paths of quads that collided red.</summary>
    public static void WriteTrajectoryPlot(SwarmTaskConfig task, SwarmEvalResult r, string path)
    {
        string[] names = r.Trajectories.Select(t => t.Scenario).Distinct().ToArray();
        if (names.Length == 0) return;
        var plot = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        float width = task.Room.SizeM.X + 1;
        for (int p = 0; p < names.Length; p++)
        {
            double dx = p * width;
            var room = plot.Add.Rectangle(dx + task.Room.Min.X, dx + task.Room.Max.X, task.Room.Min.Y, task.Room.Max.Y);
            room.FillColor = ScottPlot.Colors.Transparent;
            room.LineColor = ScottPlot.Colors.Black;
            var label = plot.Add.Text(names[p], dx + task.Room.Min.X, task.Room.Max.Y + 0.3);
            label.LabelFontSize = 14;
            foreach (var (_, xs, ys) in r.Columns.Where(c => c.Scenario == names[p]).Take(1))
                for (int c = 0; c < xs.Length; c++)
                {
                    var circle = plot.Add.Circle(dx + xs[c], ys[c], task.Obstacles.RadiusM);
                    circle.FillColor = ScottPlot.Colors.Gray.WithAlpha(0.5);
                    circle.LineWidth = 0;
                }
            foreach (SwarmTrajectory t in r.Trajectories.Where(t => t.Scenario == names[p]))
            {
                ScottPlot.Color color = t.Collided ? ScottPlot.Colors.Red : palette.GetColor(t.Quad);
                var line = plot.Add.ScatterLine(t.X.Select(v => dx + v).ToArray(), t.Y.Select(v => (double)v).ToArray());
                line.Color = color;
                line.LineWidth = 1.5f;
                plot.Add.Marker(dx + t.X[0], t.Y[0], ScottPlot.MarkerShape.OpenCircle, 7, color);
                plot.Add.Marker(dx + t.GoalX, t.GoalY, ScottPlot.MarkerShape.Cross, 9, color);
            }
        }
        plot.Axes.SquareUnits();
        plot.Title($"{r.Pilot}: top view, {r.Quads} quads (red: collided)");
        plot.XLabel("x (m), panels side by side");
        plot.YLabel("y (m)");
        plot.SavePng(path, 480 * names.Length + 80, 560);
    }
}
