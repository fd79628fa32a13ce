using System.Globalization;
using System.Text.RegularExpressions;
using RoboRl.Core.Configs;
using RoboRl.Core.Policy;
using RoboRl.Core.Swarm;
using RoboRl.Sims.Swarm;
using RoboRl.Training.Evaluation;
using static TorchSharp.torch;

namespace RoboRl.Training.Tests;

/// <summary>Swarm training (issue 18): the deep-sets actor, its dense export, hard-state replay snapshots, a short run, the evaluator.</summary>
public class SwarmTrainingTests
{
    [OneTimeSetUp]
    public void LoadTorch() => TorchSetup.Initialize();

    static string OpenTask => RepoFiles.Path("configs/swarm/crazyflie-swarm8-open.json");

    /// <summary>A copy of the open 8-quad task with other quads / episode length (paths made absolute).</summary>
    static string EditedTask(int quads, double episodeSeconds, string? trainingScenario = null)
    {
        string dir = Path.GetDirectoryName(OpenTask)!;
        string text = File.ReadAllText(OpenTask);
        text = Regex.Replace(text, "\"quads\": 8", $"\"quads\": {quads}");
        if (quads <= 2) text = Regex.Replace(text, "\"neighbours\": 2", $"\"neighbours\": {quads - 1}");
        string temp = RepoFiles.TempDirectory();
        if (trainingScenario is not null)
        {
            File.WriteAllText(Path.Combine(temp, "packed.json"), trainingScenario);
            text = new Regex("\"scenarios\": \\[[^\\]]*\\]").Replace(text, $"\"scenarios\": [{{ \"file\": \"{Path.Combine(temp, "packed.json").Replace("\\", "/")}\", \"weight\": 1 }}]", 1);
        }
        text = Regex.Replace(text, "\"episode_seconds\": [0-9.]+", "\"episode_seconds\": " + episodeSeconds.ToString(CultureInfo.InvariantCulture));
        text = text.Replace("\"../robots/", "\"" + Path.Combine(dir, "../robots/").Replace("\\", "/"));
        text = text.Replace("\"scenarios/", "\"" + Path.Combine(dir, "scenarios/").Replace("\\", "/"));
        string file = Path.Combine(temp, $"swarm{quads}.json");
        File.WriteAllText(file, text);
        return file;
    }

    static float[] RandomObservations(int rows, int k, int seed)
    {
        var random = new Random(seed);
        var x = new float[rows * SwarmObservation.Size(k)];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(random.NextDouble() * 4 - 2);
        return x;
    }

    static SwarmActor InitialisedActor(int k, int seed)
    {
        manual_seed(seed);
        var actor = new SwarmActor(k, 16, 8, 4, [16], seed);
        // Orthogonal init, the head's last layer with a large gain so actions are far from zero (a parity check of
        // near-zero outputs would say little).
        foreach (FlatMlp net in actor.Networks) net.InitializeOrthogonal(Math.Sqrt(2), 1.5);
        return actor;
    }

    [Test]
    public void EncoderIsInvariantToTheNeighboursOrder()
    {
        const int k = 3, rows = 5;
        using SwarmActor actor = InitialisedActor(k, 3);
        float[] x = RandomObservations(rows, k, 7);
        float[] shuffled = x.ToArray();
        int size = SwarmObservation.Size(k);
        for (int r = 0; r < rows; r++)
        {
            // Tokens (0, 1, 2) → (2, 0, 1).
            Span<float> row = shuffled.AsSpan(r * size, size);
            float[] original = x.AsSpan(r * size, size).ToArray();
            for (int t = 0; t < k; t++)
                original.AsSpan(SwarmObservation.NeighbourOffset(t), 6).CopyTo(row.Slice(SwarmObservation.NeighbourOffset((t + 1) % k), 6));
        }
        Assert.That(shuffled, Is.Not.EqualTo(x));
        var mean = new float[size];
        var std = Enumerable.Repeat(1f, size).ToArray();
        float[] a = SwarmPpo.TorchForward(actor, mean, std, x), b = SwarmPpo.TorchForward(actor, mean, std, shuffled);
        Assert.That(b, Is.EqualTo(a).Within(1e-6f), "torch forward");

        // The exported dense chain, run by the torch-free engine, is invariant as well.
        PolicyEngine engine = new(Bundle(actor, mean, std, x));
        var ea = new float[4];
        var eb = new float[4];
        for (int r = 0; r < rows; r++)
        {
            engine.Forward(x.AsSpan(r * size, size), ea);
            engine.Forward(shuffled.AsSpan(r * size, size), eb);
            Assert.That(eb, Is.EqualTo(ea).Within(1e-6f), $"engine row {r}");
        }
    }

    static PolicyBundle Bundle(SwarmActor actor, float[] mean, float[] std, float[] golden) =>
        SwarmPolicySpec.Export(actor, SwarmTaskConfig.Load(OpenTask) with { Neighbours = actor.Neighbours }, mean, std, golden, "{}");

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void EngineMatchesTorchOnTheExportedEncoder(int k)
    {
        using SwarmActor actor = InitialisedActor(k, 11 + k);
        int size = SwarmObservation.Size(k);
        var random = new Random(5);
        float[] mean = Enumerable.Range(0, size).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
        float[] std = Enumerable.Range(0, size).Select(_ => 0.5f + (float)random.NextDouble()).ToArray();
        float[] golden = RandomObservations(64, k, 9);
        PolicyBundle bundle = Bundle(actor, mean, std, golden);
        Assert.That(bundle.Layers[0].OutputSize, Is.EqualTo(16 + k * 8 + 4), "encoders side by side, the token block K times");
        Assert.That(bundle.GoldenActions.Select(MathF.Abs).Max(), Is.GreaterThan(0.3f), "actions far from zero");
        foreach (PolicyKernel kernel in new[] { PolicyKernel.Scalar, PolicyKernel.Auto })
            Assert.That(new PolicyEngine(bundle, kernel).MaxGoldenError(), Is.LessThanOrEqualTo(1e-5f), $"{kernel} kernel");
        // Written and read back, the same.
        string file = Path.Combine(RepoFiles.TempDirectory(), "swarm.safetensors");
        bundle.Write(file);
        Assert.That(new PolicyEngine(PolicyBundle.Read(file)).MaxGoldenError(), Is.LessThanOrEqualTo(1e-5f));
    }

    [Test]
    public void TiedNormaliserGivesEveryTokenTheSameStatistics()
    {
        const int k = 2;
        int size = SwarmObservation.Size(k);
        var n = new RunningNormalizer(size, 1e-2f);
        float[] rows = RandomObservations(100, k, 1);
        for (int r = 0; r < 100; r++) rows[r * size + SwarmObservation.NeighbourOffset(1)] += 3; // token 1's x shifted
        n.Update(rows);
        n.Freeze();
        SwarmPpo.TieNeighbourStatistics(n, k);
        for (int f = 0; f < 6; f++)
        {
            Assert.That(n.Mean[SwarmObservation.NeighbourOffset(1) + f], Is.EqualTo(n.Mean[SwarmObservation.NeighbourOffset(0) + f]));
            Assert.That(n.Std[SwarmObservation.NeighbourOffset(1) + f], Is.EqualTo(n.Std[SwarmObservation.NeighbourOffset(0) + f]));
        }
        Assert.That(n.Mean[SwarmObservation.NeighbourOffset(0)], Is.EqualTo(1.5f).Within(0.4f), "pooled mean of the two tokens' x");
    }

    [Test]
    public void PositionErrorIsCentredOnTheGoalWhateverTheWarmUpSaw()
    {
        // Warm-up at the starts: position errors around (0, −8.8, 0) m with a spread of 0.4 m in y. Without the fix the goal
        // itself (error 0) normalises to +22 in y; with position_error_scale_m it is 0, and 8.8 m reads 4.4.
        var normalizer = new RunningNormalizer(SwarmObservation.Size(2), minStd: 1e-2f);
        var random = new Random(4);
        var rows = new float[64 * normalizer.Size];
        for (int i = 0; i < rows.Length; i++) rows[i] = (float)random.NextDouble();
        for (int r = 0; r < 64; r++) rows[r * normalizer.Size + 1] = -8.8f + 0.8f * ((float)random.NextDouble() - 0.5f);
        normalizer.Update(rows);
        normalizer.Freeze();
        var goal = new float[normalizer.Size];
        var normalised = new float[normalizer.Size];
        normalizer.Normalize(goal, normalised);
        Assert.That(normalised[1], Is.GreaterThan(20), "the warm-up's statistics put the goal far out");
        float otherMean = normalizer.Mean[5], otherStd = normalizer.Std[5];
        SwarmPpo.CentrePositionError(normalizer, 2);
        normalizer.Normalize(goal, normalised);
        Assert.That(normalised[..3], Is.All.EqualTo(0f));
        Assert.That(normalizer.Std[..3], Is.All.EqualTo(2f));
        Assert.That((normalizer.Mean[5], normalizer.Std[5]), Is.EqualTo((otherMean, otherStd)), "other inputs keep their statistics");

        const string config = "{\"swarm\": {\"position_error_scale_m\": 2.0, \"normalizer_max_std\": 1.0}}";
        SwarmTrainingConfig read = SwarmTrainingConfig.Read(RoboRl.Core.Configs.ConfigNode.Parse(config, "t.json"));
        Assert.That((read.PositionErrorScaleM, read.NormalizerMaxStd), Is.EqualTo((2.0, 1.0)));
    }

    [Test]
    public void RestoredEnvironmentIsTheSavedStateExactly()
    {
        SwarmTaskConfig task = SwarmTaskConfig.Load(RepoFiles.Path("configs/swarm/crazyflie-swarm8.json"));
        using var env = new SwarmEnv(task, 3, threadCount: 1);
        env.Reset(42);
        var random = new Random(1);
        var actions = new float[env.NumEnvs * 4];
        void Fly(int steps)
        {
            for (int t = 0; t < steps; t++)
            {
                for (int i = 0; i < actions.Length; i++) actions[i] = -0.1f + 0.3f * (float)(random.NextDouble() - 0.5);
                env.Step(actions);
            }
        }
        (float[] Observations, float[] Lanes, string Stats) State(int e)
        {
            int obs = env.ActorObservationSize, n = env.QuadsPerEnv;
            float[] o = env.ActorObservations.Slice(e * n * obs, n * obs).ToArray();
            var lanes = new List<float>();
            var stats = new List<string> { env.EpisodeStep(e).ToString(), env.MinSeparation(e).ToString("R"), env.Scenario(e)?.Name ?? "" };
            for (int q = 0; q < n; q++)
            {
                int l = env.Lane(e, q);
                var b = env.Batch;
                lanes.AddRange([b.Px[l], b.Py[l], b.Pz[l], b.Qw[l], b.Qx[l], b.Qy[l], b.Qz[l], b.Vx[l], b.Vy[l], b.Vz[l], b.Wx[l], b.Wy[l], b.Wz[l],
                    b.Rpm[0][l], b.Rpm[1][l], b.Rpm[2][l], b.Rpm[3][l], b.Mass[l], b.Ixx[l], b.ThrustScale[l], b.MotorTimeConstant[l]]);
                var g = env.Goal(e, q);
                lanes.AddRange([g.X, g.Y, g.Z]);
                stats.Add(env.EpisodeCollisions(e, q).ToString());
            }
            lanes.AddRange(env.ColumnsX(e).ToArray());
            lanes.AddRange(env.ColumnsY(e).ToArray());
            return (o, lanes.ToArray(), string.Join(";", stats));
        }

        Fly(120);
        SwarmEnvSnapshot snapshot = env.CreateSnapshot();
        env.SaveEnvironment(1, snapshot);
        var saved = State(1);
        Assert.That(snapshot.EpisodeStep, Is.EqualTo(120));
        Fly(200);
        Assert.That(State(1).Lanes, Is.Not.EqualTo(saved.Lanes), "the environment moved on");

        env.RestoreEnvironment(1, snapshot);
        var restored = State(1);
        Assert.That(restored.Lanes, Is.EqualTo(saved.Lanes), "vehicles, goals, columns");
        Assert.That(restored.Observations, Is.EqualTo(saved.Observations), "observation rows");
        Assert.That(restored.Stats, Is.EqualTo(saved.Stats), "episode step, separation, scenario, collisions");

        // Into another environment (what replay does): the same state there; a copy of the snapshot too.
        SwarmEnvSnapshot copy = env.CreateSnapshot();
        snapshot.CopyTo(copy);
        env.RestoreEnvironment(0, copy);
        var moved = State(0);
        Assert.That(moved.Lanes, Is.EqualTo(saved.Lanes));
        Assert.That(moved.Observations, Is.EqualTo(saved.Observations));
        Fly(10); // and it flies on
        Assert.That(env.EpisodeStep(0), Is.EqualTo(130));
    }

    [Test]
    public void ANonFiniteStateEndsTheEpisodeWithAPenaltyNotANaN()
    {
        SwarmTaskConfig task = SwarmTaskConfig.Load(OpenTask);
        using var env = new SwarmEnv(task, 2, threadCount: 1);
        env.Reset(3);
        var actions = new float[env.NumEnvs * 4];
        env.Step(actions);
        env.Batch.Wx[env.Lane(1, 3)] = float.PositiveInfinity; // the integrator's blow-up, by hand
        env.Step(actions);
        int n = env.QuadsPerEnv;
        Assert.That(env.NonFiniteEpisodes, Is.EqualTo(1));
        Assert.That(env.Terminated[n], Is.True, "environment 1 ended");
        Assert.That(env.Terminated[0], Is.False, "environment 0 flies on");
        float penalty = env.Rewards[n + 3];
        Assert.That(float.IsFinite(penalty) && penalty < -100, $"a finite penalty worse than the rest of any episode: {penalty}");
        Assert.That(env.ActorObservations.ToArray().All(float.IsFinite), "the next episode starts from a finite state");
    }

    [Test]
    public void ShortRunImprovesTheReturnAndExportsAnEngineExactBundle()
    {
        // Two quads, 2 s episodes (many episodes in a short run), starting 8.8 m from their goals (the obstacle scenarios'
        // layout), body rates unclipped: what a short run learns is not to spin the quads up (the body-rate cost), which
        // the task's rate limit would take away (with it the return stays flat over so short a run).
        string crossRoom = File.ReadAllText(RepoFiles.Path("configs/swarm/scenarios/static-different-goals.json"));
        string file = EditedTask(quads: 2, episodeSeconds: 2, crossRoom);
        File.WriteAllText(file, File.ReadAllText(file).Replace("\"body_rate_limit_rad_s\": 35.0", "\"body_rate_limit_rad_s\": 1000000"));
        SwarmTaskConfig task = SwarmTaskConfig.Load(file);
        var ppo = new PpoConfig
        {
            Run = PpoConfig.DefaultRun with { Seed = 1, TotalEnvSteps = 450_000, NumEnvs = 32, EvalEveryEnvSteps = 0 },
            NumSteps = 50,
            NumMinibatches = 4,
            UpdateEpochs = 4,
            LearningRate = 1e-3,
            NormalizerWarmupEnvSteps = 6400,
            InitialLogStd = -0.5,
            RewardScale = 0.1,
            ClipValueLoss = false,
            ActorHidden = [32],
            CriticHidden = [64, 64],
        };
        var swarm = new SwarmTrainingConfig { SelfHidden = 32, NeighbourHidden = 16, SdfHidden = 8, Replay = false }; // replay: its own test
        string dir = RepoFiles.TempDirectory();
        PolicyBundle bundle;
        using (var session = new TrainingSession(dir, (b, episodes, final) => SwarmEvaluator.Score(b, task, episodes, final), "eval_time_to_goal_iqm_s",
            ppo.Run.TotalEnvSteps, ppo.Run.Seed, null, null, false, null))
        {
            bundle = SwarmPpo.Train(task, ppo, swarm, session);
            session.Finish();
        }
        double[] returns = File.ReadLines(Path.Combine(dir, "progress.csv")).Skip(1).Select(l => l.Split(','))
            .Where(f => f[4].Length > 0).Select(f => double.Parse(f[4], CultureInfo.InvariantCulture)).ToArray();
        Assert.That(returns.Length, Is.GreaterThan(20));
        double first = returns.Take(5).Average(), last = returns.TakeLast(5).Average();
        TestContext.Out.WriteLine($"episode return {first:F2} → {last:F2} over {returns.Length} rows");
        Assert.That(last, Is.GreaterThan(first + 0.05 * Math.Abs(first)), "the return improves by more than 5 %");

        Assert.That(new PolicyEngine(bundle).MaxGoldenError(), Is.LessThanOrEqualTo(1e-5f), "golden actions from torch, replayed by the engine");
        Assert.That(SwarmPolicySpec.NeighbourCount(bundle), Is.EqualTo(1));
        Assert.That(bundle.TrainingConfigJson, Does.Contain("\"deep_sets\"").And.Contain("\"task_file\""));
        Assert.That(File.Exists(Path.Combine(dir, "learning_curve.png")));

        // The evaluator flies it through the engine and reports every figure; a task with another K refuses it.
        SwarmEvalResult r = SwarmEvaluator.Evaluate(new PolicyPilot(bundle), "policy", task, new SwarmEvalOptions(Seeds: 2, EpisodesPerSeed: 4));
        Assert.That(r.Episodes, Is.EqualTo(8));
        Assert.That(r.Quads, Is.EqualTo(2));
        Assert.That(r.SuccessRate, Is.InRange(0.0, 1.0));
        Assert.That(r.CollisionRate, Is.InRange(0.0, 1.0));
        Assert.That(r.MinSeparationM, Is.GreaterThan(0));
        Assert.That(r.Scenarios, Is.SubsetOf(new[] { "swap_goals", "static_different_goals", "dynamic_goals" }));
        string png = Path.Combine(dir, "top.png");
        SwarmEvaluator.WriteTrajectoryPlot(task, r, png);
        Assert.That(new FileInfo(png).Length, Is.GreaterThan(1000));

        var e = Assert.Throws<PolicyMismatchException>(() => SwarmPolicySpec.CheckBundle(bundle, SwarmTaskConfig.Load(OpenTask), "b.safetensors"))!;
        Assert.That(e.Message, Does.Contain("'neighbours'").And.Contain("1 neighbours").And.Contain("crazyflie-swarm8-open.json"));
    }

    /// <summary>The TD3 recipe's task file with scenario and robot paths made absolute and the run shortened.</summary>
    static string ShortTd3Task(long totalEnvSteps)
    {
        string source = RepoFiles.Path("configs/swarm/crazyflie-swarm8-open-td3.json");
        string dir = Path.GetDirectoryName(source)!;
        string text = File.ReadAllText(source)
            .Replace("\"../robots/", "\"" + Path.Combine(dir, "../robots/").Replace("\\", "/"))
            .Replace("\"scenarios/", "\"" + Path.Combine(dir, "scenarios/").Replace("\\", "/"));
        text = Regex.Replace(text, "\"total_env_steps\": [0-9]+", $"\"total_env_steps\": {totalEnvSteps}");
        text = Regex.Replace(text, "\"eval_every_env_steps\": [0-9]+", "\"eval_every_env_steps\": 0");
        text = Regex.Replace(text, "\"final_eval_episodes\": [0-9]+", "\"final_eval_episodes\": 2");
        text = Regex.Replace(text, "\"warmup_env_steps\": [0-9]+", "\"warmup_env_steps\": 1000");
        text = Regex.Replace(text, "\"actor_warmup_env_steps\": [0-9]+", "\"actor_warmup_env_steps\": 1000");
        string file = Path.Combine(RepoFiles.TempDirectory(), "swarm-td3.json");
        File.WriteAllText(file, text);
        return file;
    }

    [Test]
    public void Td3TrainsASharedActorThatReadsTheActionHistoryAndTheNodeSpecsAcceptIt()
    {
        string file = ShortTd3Task(totalEnvSteps: 6000);
        SwarmTaskConfig task = SwarmTaskConfig.Load(file);
        Assert.That(task.ActionHistoryLength, Is.EqualTo(32));
        string run = RepoFiles.TempDirectory();
        TrainResult result = Trainer.Run(new TrainOptions(file) { OutDirectory = run });
        PolicyBundle bundle = PolicyBundle.Read(Path.Combine(result.RunDirectory, Trainer.BundleFileName));
        Assert.That(bundle.ObservationSize, Is.EqualTo(40 + 4 * 32));
        Assert.That(bundle.ActionHistoryLength, Is.EqualTo(32));
        Assert.That(SwarmPolicySpec.NeighbourCount(bundle), Is.EqualTo(2));
        Assert.That(bundle.TrainingConfigJson, Does.Contain("\"td3\"").And.Contain("\"task_file\""));
        Assert.That(new PolicyEngine(bundle).MaxGoldenError(), Is.LessThanOrEqualTo(1e-5f));
        Assert.DoesNotThrow(() => SwarmPolicySpec.CheckBundle(bundle, task, "b.safetensors"));
        Assert.That(File.Exists(Path.Combine(result.RunDirectory, "eval_trajectories.png")));

        // The task without the history (crazyflie-swarm8-open.json) refuses it, naming the field.
        var e = Assert.Throws<PolicyMismatchException>(() => SwarmPolicySpec.CheckBundle(bundle, SwarmTaskConfig.Load(OpenTask), "b.safetensors"))!;
        Assert.That(e.Message, Does.Contain("'action_history_length'").And.Contain("last 32 actions"));
    }

    [Test]
    public void PpoRefusesATaskWithAnActionHistoryNamingTheField()
    {
        string file = ShortTd3Task(totalEnvSteps: 1000);
        var e = Assert.Throws<ConfigException>(() => Trainer.Run(new TrainOptions(file) { Algorithm = "ppo", OutDirectory = RepoFiles.TempDirectory() }))!;
        Assert.That(e.JsonPath, Is.EqualTo("$.action_history_length"));
        Assert.That(e.Message, Does.Contain("swarm-td3.json"));
    }

    [Test]
    public void ReplayBufferFillsFromContactsAndEpisodesStartFromIt()
    {
        // Eight quads packed 0.1 m apart, all sent to one point: contacts from the start; a fly distance of 100 m switches
        // replay on after the first rollout, and states 0.1 s before a contact are filed.
        const string packed = """
            { "kind": "swarm_scenario", "scenario": "static_same_goal",
              "start_area": { "center": [0.0, 0.0, 1.5], "half_extent": [0.15, 0.15, 0.0] }, "start_separation_m": 0.1,
              "goal_area": { "center": [0.0, 0.0, 1.5], "half_extent": [0.0, 0.0, 0.0] } }
            """;
        SwarmTaskConfig task = SwarmTaskConfig.Load(EditedTask(quads: 8, episodeSeconds: 1, packed));
        var ppo = new PpoConfig
        {
            Run = PpoConfig.DefaultRun with { Seed = 2, TotalEnvSteps = 8 * 16 * 100 * 4, NumEnvs = 16, EvalEveryEnvSteps = 0 },
            NumSteps = 100,
            NumMinibatches = 4,
            UpdateEpochs = 1,
            NormalizerWarmupEnvSteps = 8 * 16 * 2,
            InitialLogStd = 0.5,
            ActorHidden = [16],
            CriticHidden = [16],
        };
        var swarm = new SwarmTrainingConfig { SelfHidden = 8, NeighbourHidden = 8, SdfHidden = 4, ReplayFlyDistanceM = 100, ReplayProbability = 1, ReplaySecondsBefore = 0.1 };
        string dir = RepoFiles.TempDirectory();
        using var session = new TrainingSession(dir, (b, episodes, final) => new PolicyScore(0, 0, 0), "cost", ppo.Run.TotalEnvSteps, ppo.Run.Seed, null, null, false, null);
        SwarmPpo.Train(task, ppo, swarm, session, out SwarmReplayStats replay);
        TestContext.Out.WriteLine(replay.ToString());
        Assert.That(replay.HardStatesSaved, Is.GreaterThan(0), "contacts filed hard states");
        Assert.That(replay.ReplayedEpisodes, Is.GreaterThan(0), "episodes started from them");
    }
}
