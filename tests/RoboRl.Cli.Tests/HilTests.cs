using System.Numerics;
using RoboRl.Cli.Commands;
using RoboRl.Core.Messages;
using RoboRl.Core.Policy;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Tasks;
using RoboRl.Hil;
using RoboRl.Logs;
using RoboRl.Node;
using RoboRl.Replay;
using RoboRl.Training;
using RoboRl.Training.Evaluation;

namespace RoboRl.Cli.Tests;

/// <summary>
/// Human in the loop: flights through the real node with the scripted pilot taking over, the recorded interventions,
/// fine-tuning on them, and the refusal of logs that belong to another robot or policy spec.
/// </summary>
public class HilTests
{
    static readonly string Dir = Path.Combine(Path.GetTempPath(), "roborl-cli-hil", Guid.NewGuid().ToString("N"));
    static string RobotPath => RepoPaths.Find("configs/robots/crazyflie21.json");
    static NodeConfig Node => NodeConfig.Load(RepoPaths.Find(QuickstartCommand.NodeConfig));
    static QuadrotorConfig Heavy => Node.Quadrotor().Robot with { Mass = Node.Quadrotor().Robot.Mass * HilBench.DefaultMassFactor };
    static HoverTaskConfig Task => HoverTaskConfig.Load(RepoPaths.Find(FinetuneCommand.DefaultTask));

    /// <summary>A policy that always commands the nominal hover: on the 1.3× heavier robot it sinks, and the pilot steps in.</summary>
    static PolicyBundle Weak => WithNames(BenchNodeCommand.HoverShapedBundle(RobotPath), HoverObservation.ActorNames(32));

    static PolicyBundle WithNames(PolicyBundle w, string[] observationNames) => new()
    {
        Layers = w.Layers,
        ObservationNames = observationNames,
        ActionNames = w.ActionNames,
        ObservationMean = w.ObservationMean,
        ObservationStd = w.ObservationStd,
        ActionLow = w.ActionLow,
        ActionHigh = w.ActionHigh,
        ActionUnit = w.ActionUnit,
        ControlRateHz = w.ControlRateHz,
        ActionHistoryLength = w.ActionHistoryLength,
        RobotConfigJson = w.RobotConfigJson,
        TrainingConfigJson = w.TrainingConfigJson,
        GitCommit = w.GitCommit,
        GoldenObservations = w.GoldenObservations,
        GoldenActions = w.GoldenActions,
    };

    [OneTimeSetUp]
    public void CreateDirectory() => Directory.CreateDirectory(Dir);

    [OneTimeTearDown]
    public void DeleteDirectory()
    {
        if (Directory.Exists(Dir)) Directory.Delete(Dir, recursive: true);
    }

    static List<string> FlyWeak(string name, int flights)
    {
        HilBench.FlightSet set = HilFlights.FlyAll(Node, Weak, Heavy, seed: 1, flights, Path.Combine(Dir, name));
        Assert.That(set.TakeOvers, Is.GreaterThan(0), "the sinking policy must be corrected");
        Assert.That(set.Fallbacks, Is.Zero, "the pilot catches the robot before the supervisor has to");
        return set.Logs.ToList();
    }

    [Test]
    public void RecordedInterventionsCarryTheHumanAndThePolicyActionTheObservationAndRotorSpeeds()
    {
        string path = FlyWeak("roundtrip", 1)[0];
        FlightLog log = FlightLog.Load(path);
        Assert.That(log.IsComplete, Is.True, log.DescribeStop());
        List<ActionSample> actions = log.Actions();
        var intervened = actions.Where(a => a.Intervention).ToList();
        Assert.That(intervened, Is.Not.Empty);
        Assert.That(actions.Count(a => !a.Intervention && a.Source == ActionSource.Policy), Is.GreaterThan(0), "the policy flew too");
        foreach (ActionSample a in intervened)
        {
            Assert.That(a.Source, Is.EqualTo(ActionSource.Human));
            Assert.That(a.Human, Is.Not.Null.And.Length.EqualTo(4));
            Assert.That(new Vector4(a.Human![0], a.Human[1], a.Human[2], a.Human[3]), Is.EqualTo(a.Applied), "the human's action is the one applied");
            Assert.That(a.Policy, Is.Not.Null.And.Length.EqualTo(4), "the policy's own action is kept beside the human's");
        }
        Assert.That(intervened.Any(a => Math.Abs(a.Policy![0] - a.Human![0]) > 1e-3), Is.True, "the pilot corrects: its actions differ from the policy's");
        Assert.That(actions.Where(a => !a.Intervention).All(a => a.Human is null), Is.True);

        // Every intervened tick has its observation and measured rotor speeds at the same log time.
        var observations = log.Observations().ToDictionary(o => o.LogTime);
        var rotors = log.RotorSpeeds().ToDictionary(r => r.LogTime);
        foreach (ActionSample a in intervened)
        {
            Assert.That(observations[a.LogTime].Values, Has.Length.EqualTo(Weak.ObservationSize));
            Vector4 rpm = rotors[a.LogTime].Rpm;
            Assert.That(rpm.X, Is.GreaterThan(0).And.LessThanOrEqualTo(Heavy.RpmMax));
        }

        // The fine-tuning transitions: at the policy's 100 Hz from the node's 500 Hz ticks, actions = the mean applied.
        HoverTransitions transitions = LogTransitions.Extract([log], Weak, Task);
        Assert.That(transitions.Count, Is.InRange(400, 500), "5 s at 100 Hz, less the arming slot");
        Assert.That(transitions.InterventionCount, Is.GreaterThan(0).And.LessThan(transitions.Count));
        ActionSample first = intervened[0];
        int slotTicks = 5;
        // The first fully intervened slot's action is the mean of its five human actions.
        var byTick = actions.ToDictionary(a => a.Tick);
        ulong start = first.Tick + (ulong)slotTicks;
        while (!Enumerable.Range(0, slotTicks).All(k => byTick.TryGetValue(start + (ulong)k, out ActionSample s) && s.Intervention)) start++;
        var obs = observations.Values.ToDictionary(o => o.Tick);
        // The action history is [18, 18 + 4K); the position-error integral after it changes every tick.
        Range history = HoverObservation.StateSize..HoverObservation.IntegralOffset(Weak.ActionHistoryLength);
        for (; start < first.Tick + 50; start++)
        {
            // A slot starts where the history in the observation changes.
            if (!obs[start].Values.AsSpan(history).SequenceEqual(obs[start - 1].Values.AsSpan(history))) break;
        }
        float expected = Enumerable.Range(0, slotTicks).Average(k => byTick[start + (ulong)k].Human![0]);
        float[] next = obs[start + (ulong)slotTicks].Values;
        Assert.That(next[history.End.Value - 4], Is.EqualTo(expected).Within(1e-5f), "the history slot holds the mean of the slot's applied actions");
        bool found = false;
        for (int i = 0; i < transitions.Count && !found; i++)
            found = transitions.Observations.Slice(i * transitions.ActorSize, transitions.ActorSize).SequenceEqual(obs[start].Values)
                    && Math.Abs(transitions.Actions[i * 4] - expected) < 1e-5f && transitions.Intervened[i];
        Assert.That(found, Is.True, "that slot is an intervened transition with the mean human action");
    }

    [Test]
    public void ALogFromAnotherRobotOrPolicySpecIsRefusedWithTheMismatchNamed()
    {
        string log = FlyWeak("refused", 1)[0];
        string heavyPath = Path.Combine(Dir, "heavy.json");
        File.WriteAllText(heavyPath, File.ReadAllText(RobotPath).Replace("\"mass\": 0.027,", "\"mass\": 0.0351,"));
        PolicyBundle otherRobot = WithNames(BenchNodeCommand.HoverShapedBundle(heavyPath), HoverObservation.ActorNames(32));
        var e = Assert.Throws<FlightLogException>(() => LogTransitions.Extract([FlightLog.Load(log)], otherRobot, Task))!;
        Assert.That(e.Message, Does.Contain(log).And.Contain("robot").And.Contain("mass"));

        // Through the command: exit code 2 and the reason, no bundle written.
        string otherPath = Path.Combine(Dir, "other-robot.safetensors");
        otherRobot.Write(otherPath);
        var output = new StringWriter();
        var progress = new StringWriter();
        string outPath = Path.Combine(Dir, "never.safetensors");
        Assert.That(FinetuneCommand.Run(otherPath, [log], outPath, null, FinetuneCommand.DefaultTask, new FinetuneConfig(), false, output, progress), Is.EqualTo(2));
        Assert.That(progress.ToString(), Does.Contain("robot"));
        Assert.That(File.Exists(outPath), Is.False);

        // Another policy spec: different observation names.
        PolicyBundle renamed = WithNames(Weak, Weak.ObservationNames.Select((n, i) => i == 20 ? "renamed" : n).ToArray());
        e = Assert.Throws<FlightLogException>(() => LogTransitions.Extract([FlightLog.Load(log)], renamed, Task))!;
        Assert.That(e.Message, Does.Contain("observation.names element 20"));
    }

    [Test]
    public void TheFinetuneCommandWritesANormalBundleAndReportsJson()
    {
        List<string> logs = FlyWeak("command", 1);
        string weakPath = Path.Combine(Dir, "weak.safetensors"), outPath = Path.Combine(Dir, "tuned", "tuned.safetensors");
        Weak.Write(weakPath);
        var output = new StringWriter();
        var progress = new StringWriter();
        int code = FinetuneCommand.Run(weakPath, logs.ToArray(), outPath, null, FinetuneCommand.DefaultTask,
            new FinetuneConfig { TotalEnvSteps = 6_000, CriticWarmupUpdates = 200 }, json: true, output, progress);
        Assert.That(code, Is.EqualTo(0), progress.ToString());
        using var doc = System.Text.Json.JsonDocument.Parse(output.ToString());
        Assert.That(doc.RootElement.GetProperty("log_transitions").GetInt32(), Is.GreaterThan(400));
        Assert.That(doc.RootElement.GetProperty("intervention_transitions").GetInt32(), Is.GreaterThan(0));
        PolicyBundle tuned = PolicyBundle.Read(outPath);
        Assert.DoesNotThrow(() => QuadrotorController.CheckBundle(Node, tuned), "the node flies it like any bundle");
        Assert.That(tuned.ObservationNames, Is.EqualTo(Weak.ObservationNames));
    }

    [Test]
    public void BenchHilPrintsTheRatesBeforeAndAfterAsJson()
    {
        string weakPath = Path.Combine(Dir, "bench-weak.safetensors");
        Weak.Write(weakPath);
        var output = new StringWriter();
        var progress = new StringWriter();
        int code = BenchHilCommand.Run(new HilBench.Options
        {
            Policy = weakPath,
            Seeds = 1,
            Flights = 2,
            Rounds = 1,
            FinetuneSteps = 6_000,
            Finetune = new FinetuneConfig { CriticWarmupUpdates = 200 },
        }, json: true, output, progress);
        Assert.That(code, Is.EqualTo(0), progress.ToString());
        using var doc = System.Text.Json.JsonDocument.Parse(output.ToString());
        var root = doc.RootElement;
        foreach (string key in new[] { "success_before", "success_after", "intervention_rate_before", "intervention_rate_after" })
            Assert.That(root.GetProperty(key).GetDouble(), Is.InRange(0.0, 1.0), key);
        Assert.That(root.GetProperty("seeds").GetArrayLength(), Is.EqualTo(1));
        Assert.That(root.GetProperty("seeds")[0].GetProperty("log_transitions").GetInt32(), Is.GreaterThan(800), "2 flights of 5 s at 100 Hz");
        Assert.That(root.GetProperty("intervention_rate_before").GetDouble(), Is.GreaterThan(0.2), "the sinking constant policy needs the pilot");
        Assert.That(progress.ToString(), Does.Contain("before:").And.Contain("after :"));
        // The paired changes and the verdict: one seed has no spread, so its verdict rests on the direction alone.
        JsonElementAssert(root, "success_change_mean", root.GetProperty("success_after").GetDouble() - root.GetProperty("success_before").GetDouble());
        JsonElementAssert(root, "intervention_rate_change_mean", root.GetProperty("seeds")[0].GetProperty("intervention_rate_change").GetDouble());
        Assert.That(root.GetProperty("intervention_rate_change_sd").GetDouble(), Is.Zero);
        bool clear = root.GetProperty("clearly_beyond_seed_noise").GetBoolean();
        Assert.That(root.GetProperty("verdict").GetString(), clear ? Is.EqualTo("clearly beyond seed noise") : Does.StartWith("not clearly beyond seed noise"));
        Assert.That(BenchHilCommand.Run(new HilBench.Options { Seeds = 0 }, false, output, progress), Is.EqualTo(2));
    }

    [Test]
    public void FinetuningOnCorrectedFlightsLearnsThePilotsCorrections()
    {
        // The weak policy is a constant (nothing to keep, and no critic can be fitted to a constant in a small budget),
        // so this run is behaviour cloning of the pilot on the logs alone: α = 0 (no Q term) and no trust region. What the
        // pipeline must deliver: the fine-tuned policy answers the corrected states as the pilot did, and flies without a
        // fallback. Whether that cuts the interventions of a policy worth correcting is `roborl bench hil`'s verdict (a
        // trained weak policy, three rounds): for this constant one it did with L2F's rpm actuator (85 → 65 % of the
        // ticks), not with the firmware's force actuator (81 → 80 % at 1.2× mass), whose headroom is smaller.
        List<string> logs = FlyWeak("finetune", 4);
        HoverTransitions transitions = LogTransitions.Extract(logs.Select(FlightLog.Load).ToList(), Weak, Task);
        Assert.That(transitions.InterventionCount, Is.GreaterThan(100));
        FinetuneResult tuned = Finetune.Run(Weak, transitions, Task, Heavy,
            new FinetuneConfig { Seed = 3, TotalEnvSteps = 20_000, CriticWarmupUpdates = 500, AnchorWeight = 0, BcAlpha = 0 });
        Assert.That(tuned.Bundle.RobotConfigSha256, Is.EqualTo(Weak.RobotConfigSha256), "a normal bundle for the same robot");
        Assert.That(tuned.Bundle.TrainingConfigJson, Does.Contain("td3-finetune-rlpd-bc"));
        Assert.That(tuned.InterventionTransitions, Is.EqualTo(transitions.InterventionCount));
        // The exported candidate is never worse in simulation than the input policy (both judged as fine-tuning judges them).
        var judge = new RoboRl.Training.Evaluation.EvalOptions(new FinetuneConfig().CandidateEpisodes, Seed: 3UL * 31 + 7);
        HoverTaskConfig heavyTask = Task with { Robot = Heavy };
        RoboRl.Training.Evaluation.EvalResult input = RoboRl.Training.Evaluation.PolicyEvaluator.Evaluate(Weak, heavyTask, judge);
        RoboRl.Training.Evaluation.EvalResult output = RoboRl.Training.Evaluation.PolicyEvaluator.Evaluate(tuned.Bundle, heavyTask, judge);
        Assert.That(output.SuccessRate - output.CrashRate, Is.GreaterThanOrEqualTo(input.SuccessRate - input.CrashRate));

        // On the states the pilot flew, the tuned policy's answer is the pilot's, far closer than the weak policy's.
        double Distance(PolicyBundle policy)
        {
            var engine = new PolicyEngine(policy);
            var answer = new float[4];
            double sum = 0;
            int rows = 0, size = transitions.ActorSize;
            for (int i = 0; i < transitions.Count; i++)
            {
                if (!transitions.Intervened[i]) continue;
                engine.Forward(transitions.Observations.Slice(i * size, size), answer);
                for (int j = 0; j < 4; j++) { double d = answer[j] - transitions.Actions[i * 4 + j]; sum += d * d; }
                rows++;
            }
            return Math.Sqrt(sum / (4.0 * rows));
        }
        double weak = Distance(Weak), learnt = Distance(tuned.Bundle);
        TestContext.Out.WriteLine($"rms distance to the pilot's actions on its {transitions.InterventionCount} corrected steps: weak {weak:F3}, fine-tuned {learnt:F3}");
        Assert.That(learnt, Is.LessThan(0.5 * weak), "behaviour cloning learnt the corrections");

        // Fresh flights (other initial conditions than the logged ones), the same pilot: the tuned policy flies them safely.
        HilBench.FlightSet after = HilFlights.FlyAll(Node, tuned.Bundle, Heavy, seed: 2, 6, Path.Combine(Dir, "after"));
        Assert.That(after.Fallbacks, Is.Zero);
    }

    static void JsonElementAssert(System.Text.Json.JsonElement root, string key, double expected) =>
        Assert.That(root.GetProperty(key).GetDouble(), Is.EqualTo(expected).Within(1e-3), key);

    static HilBench.SeedResult Seed(int seed, int successesBefore, int successesAfter, long humanBefore, long humanAfter)
    {
        HilBench.FlightSet Set(int successes, long human) => new(10, successes, FlyingTicks: 1000, HumanTicks: human, TakeOvers: 1, Fallbacks: 0, Logs: []);
        return new(seed, Set(successesBefore, humanBefore), Set(successesAfter, humanAfter), 0, 0, 0, 0);
    }

    [Test]
    public void TheVerdictAsksEverySeedToImproveAndTheMeanChangeToExceedTwoStandardErrors()
    {
        // +60 / +70 / +80 points of success, −30 / −20 / −25 points of pilot share: every seed improves, means far beyond 2 SE.
        HilBench.SeedResult[] clear = [Seed(1, 2, 8, 400, 100), Seed(2, 1, 8, 300, 100), Seed(3, 0, 8, 350, 100)];
        (bool ok, string verdict) = HilBench.Judge(clear);
        Assert.That(ok, Is.True, verdict);
        Assert.That(verdict, Is.EqualTo("clearly beyond seed noise"));
        var interventions = new HilBench.PairedChange(clear.Select(r => r.InterventionRateChange).ToList());
        Assert.That(interventions.Mean, Is.EqualTo(-0.25).Within(1e-12));
        Assert.That(interventions.Sd, Is.EqualTo(0.05).Within(1e-12));
        Assert.That(interventions.StandardError, Is.EqualTo(0.05 / Math.Sqrt(3)).Within(1e-12));

        // One seed's pilot share rises (the last measured bench, seed 1: 11.0 → 13.0 %): not clear, and the seed is named.
        (ok, verdict) = HilBench.Judge([Seed(1, 9, 10, 110, 130), Seed(2, 3, 10, 404, 237), Seed(3, 0, 10, 631, 153)]);
        Assert.That(ok, Is.False);
        Assert.That(verdict, Does.StartWith("not clearly beyond seed noise").And.Contain("seed 1: intervention rate did not fall"));

        // Every seed improves, but the changes are so uneven that the mean is within 2 SE of zero:
        // success +10 / +10 / +90 points: mean 36.7, sd 46.2, 2 SE 53.3.
        (ok, verdict) = HilBench.Judge([Seed(1, 0, 1, 300, 200), Seed(2, 0, 1, 300, 200), Seed(3, 0, 9, 300, 200)]);
        Assert.That(ok, Is.False);
        Assert.That(verdict, Does.Contain("mean success change within 2 standard errors").And.Not.Match(@"seed \d"));

        // No change at all (a policy already perfect, or one fine-tuning could not help) is not an improvement.
        (ok, verdict) = HilBench.Judge([Seed(1, 10, 10, 50, 40), Seed(2, 10, 10, 50, 40), Seed(3, 10, 10, 50, 40)]);
        Assert.That(ok, Is.False);
        Assert.That(verdict, Does.Contain("seed 2: success did not rise"));
    }

    [Test]
    public void FinetuningSavesItsCriticAndANextRoundContinuesIt()
    {
        List<string> logs = FlyWeak("critic", 1);
        HoverTransitions transitions = LogTransitions.Extract(logs.Select(FlightLog.Load).ToList(), Weak, Task);
        string first = Path.Combine(Dir, "critic-round1"), second = Path.Combine(Dir, "critic-round2");
        var quick = new FinetuneConfig { TotalEnvSteps = 6_000, CriticWarmupUpdates = 200, Candidates = 1, SaveCriticTo = first };
        Finetune.Run(Weak, transitions, Task, Heavy, quick);
        Assert.That(File.Exists(Path.Combine(first, Checkpoint.FileName)), Is.True);

        // The saved critic loads into a critic of the fine-tuning's shape, with its frozen normaliser; it is not a fresh one.
        Td3Config c = Td3Config.Read(Task.Training);
        int criticInputs = HoverObservation.CriticSize + HoverObservation.ActionSize;
        using var loaded = new FlatMlp([criticInputs, .. c.CriticHidden, 1], Activation.Relu, Activation.Identity, ensembleSize: 2, seed: 99);
        using var fresh = loaded.Clone();
        using var loadedTarget = loaded.Clone();
        var normalizer = new RunningNormalizer(HoverObservation.CriticSize, minStd: 1e-6f, maxStd: 1f);
        Checkpoint.Find(first)!.LoadCritic(new Dictionary<string, TorchSharp.torch.Tensor> { ["critic"] = loaded.Parameters, ["critic_target"] = loadedTarget.Parameters }, normalizer);
        Assert.That(normalizer.Frozen, Is.True);
        Assert.That(normalizer.Std.All(v => v > 0 && float.IsFinite(v)), Is.True);
        Assert.That(loaded.Parameters.allclose(fresh.Parameters), Is.False, "the fitted critic, not the initial weights");

        // A next round continues it (and records where from), and saves its own.
        FinetuneResult next = Finetune.Run(Weak, transitions, Task, Heavy, quick with { CriticFrom = first, SaveCriticTo = second });
        Assert.That(next.Bundle.TrainingConfigJson, Does.Contain("\"critic_from\"").And.Contain("critic-round1"));
        Assert.That(File.Exists(Path.Combine(second, Checkpoint.FileName)), Is.True);

        // Refused through the command, with the reason: no checkpoint there, or a critic of other sizes.
        string weakPath = Path.Combine(Dir, "critic-weak.safetensors"), outPath = Path.Combine(Dir, "critic-never.safetensors");
        Weak.Write(weakPath);
        var progress = new StringWriter();
        string missing = Path.Combine(Dir, "no-such-run");
        Assert.That(FinetuneCommand.Run(weakPath, logs.ToArray(), outPath, null, FinetuneCommand.DefaultTask, quick with { SaveCriticTo = null, CriticFrom = missing },
            false, new StringWriter(), progress), Is.EqualTo(2));
        Assert.That(progress.ToString(), Does.Contain(missing).And.Contain(Checkpoint.FileName));
        string other = Path.Combine(Dir, "critic-other");
        Directory.CreateDirectory(other);
        using (var small = TorchSharp.torch.zeros(10))
            Checkpoint.Save(other, 0, new Dictionary<string, TorchSharp.torch.Tensor> { ["critic"] = small, ["critic_target"] = small }, new Dictionary<string, long>(),
                new ReplayBuffer(1, Weak.ObservationSize, HoverObservation.CriticSize, 4), normalizer, normalizer);
        progress = new StringWriter();
        Assert.That(FinetuneCommand.Run(weakPath, logs.ToArray(), outPath, null, FinetuneCommand.DefaultTask, quick with { SaveCriticTo = null, CriticFrom = other },
            false, new StringWriter(), progress), Is.EqualTo(2));
        Assert.That(progress.ToString(), Does.Contain("tensor 'critic' has 10 values"));
        Assert.That(File.Exists(outPath), Is.False);
    }

    [Test]
    public void BenchHilTrainsTheWeakPolicyContinuesItsCriticRoundByRoundAndReusesAKeptRun()
    {
        // A tiny budget (the critic exists once the 15 k-step warm-up is over); the figures are not the point here.
        string work = Path.Combine(Dir, "bench-train");
        var options = new HilBench.Options
        {
            Seeds = 1,
            Flights = 1,
            Rounds = 2,
            WeakSteps = 20_000,
            FinetuneSteps = 6_000,
            OutDirectory = work,
            Finetune = HilBench.BenchFinetune with { CriticWarmupUpdates = 100, Candidates = 2, CandidateEpisodes = 20 },
        };
        var progress = new StringWriter();
        Assert.That(BenchHilCommand.Run(options, json: true, new StringWriter(), progress), Is.EqualTo(0), progress.ToString());
        Assert.That(progress.ToString(), Does.Contain("training the weak policy (20000 steps)"));
        string seedDir = Path.Combine(work, "seed1");
        foreach (string run in new[] { "train", "round1-critic", "round2-critic" })
            Assert.That(File.Exists(Path.Combine(seedDir, run, Checkpoint.FileName)), Is.True, run);
        // Round 2 continued round 1's critic, round 1 the training run's.
        var finetune = System.Text.Json.Nodes.JsonNode.Parse(PolicyBundle.Read(Path.Combine(seedDir, "finetuned.safetensors")).TrainingConfigJson)!["finetune"]!;
        Assert.That((string?)finetune["critic_from"], Is.EqualTo(Path.Combine(seedDir, "round1-critic")));
        Assert.That((string?)finetune["save_critic_to"], Is.EqualTo(Path.Combine(seedDir, "round2-critic")));

        progress = new StringWriter();
        Assert.That(BenchHilCommand.Run(options with { Rounds = 1 }, json: false, new StringWriter(), progress), Is.EqualTo(0), progress.ToString());
        Assert.That(progress.ToString(), Does.Contain("reusing the weak policy").And.Not.Contain("training the weak policy"));

        // Too short a budget to have a critic: refused with the reason.
        progress = new StringWriter();
        Assert.That(BenchHilCommand.Run(options with { WeakSteps = 10_000 }, json: false, new StringWriter(), progress), Is.EqualTo(2));
        Assert.That(progress.ToString(), Does.Contain("warm-up (15000 steps)").And.Contain("--new-critic"));
    }
}
