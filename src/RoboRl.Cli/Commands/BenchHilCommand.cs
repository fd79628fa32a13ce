using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using RoboRl.Hil;

namespace RoboRl.Cli.Commands;

/// <summary>
/// `roborl bench hil [--json] [--seeds N] …`: the human-in-the-loop experiment (<see cref="HilBench"/>, in RoboRl.Hil),
/// its arguments, and its table or JSON object.
/// </summary>
public static class BenchHilCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print one JSON object." };
        var seeds = new Option<int>("--seeds") { Description = "Training seeds (1 … N).", DefaultValueFactory = _ => 3 };
        var flights = new Option<int>("--flights") { Description = "Flights per seed, before and after.", DefaultValueFactory = _ => 10 };
        var weakSteps = new Option<long>("--weak-steps") { Description = "Training budget of the weak policy.", DefaultValueFactory = _ => 200_000 };
        var finetuneSteps = new Option<long>("--finetune-steps") { Description = "Simulation steps of each round's fine-tuning.", DefaultValueFactory = _ => HilBench.BenchFinetune.TotalEnvSteps };
        var outDir = new OutputOption("Keep runs and flight logs in this directory (default: a temporary one, deleted at the end).", keepOldOut: true);
        var policy = new Option<string?>("--policy") { Description = "Fly this bundle for every seed instead of training a weak one." };
        var rounds = new Option<int>("--rounds") { Description = "Correction rounds (fly with the pilot, fine-tune; repeat).", DefaultValueFactory = _ => 3 };
        var bcAlpha = new Option<double>("--bc-alpha") { Description = "Fine-tuning: α of TD3+BC.", DefaultValueFactory = _ => HilBench.BenchFinetune.BcAlpha };
        var anchorWeight = new Option<double>("--anchor-weight") { Description = "Fine-tuning: weight of the trust region to the weak policy.", DefaultValueFactory = _ => HilBench.BenchFinetune.AnchorWeight };
        var actorLr = new Option<double>("--actor-lr") { Description = "Fine-tuning: actor learning rate.", DefaultValueFactory = _ => HilBench.BenchFinetune.ActorLearningRate };
        var candidates = new Option<int>("--candidates") { Description = "Fine-tuning: candidates judged in simulation per round (the best is kept).", DefaultValueFactory = _ => HilBench.BenchFinetune.Candidates };
        var newCritic = new Option<bool>("--new-critic") { Description = "Fine-tuning: fit a new critic each round instead of continuing the weak policy's training critic." };
        var massFactor = new Option<float>("--mass-factor") { Description = "Mass of the flown robot as a factor of the trained-for one.", DefaultValueFactory = _ => HilBench.DefaultMassFactor };
        var command = new Command("hil", "Human in the loop: a weak policy, a scripted pilot correcting it, fine-tuning on the logs, success and intervention rates before and after")
        {
            json, seeds, flights, weakSteps, finetuneSteps, policy, rounds, bcAlpha, anchorWeight, massFactor, actorLr, newCritic, candidates,
        };
        outDir.AddTo(command);
        command.SetAction(parse => Run(new HilBench.Options
        {
            Seeds = parse.GetValue(seeds),
            Flights = parse.GetValue(flights),
            WeakSteps = parse.GetValue(weakSteps),
            FinetuneSteps = parse.GetValue(finetuneSteps),
            OutDirectory = outDir.Get(parse),
            Policy = parse.GetValue(policy),
            Rounds = parse.GetValue(rounds),
            MassFactor = parse.GetValue(massFactor),
            NewCritic = parse.GetValue(newCritic),
            Finetune = HilBench.BenchFinetune with
            {
                BcAlpha = parse.GetValue(bcAlpha),
                AnchorWeight = parse.GetValue(anchorWeight),
                ActorLearningRate = parse.GetValue(actorLr),
                Candidates = parse.GetValue(candidates)
            },
        }, parse.GetValue(json), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return command;
    }

    public static int Run(HilBench.Options options, bool json, TextWriter output, TextWriter progress)
    {
        var io = new CommandIo("bench hil", output, progress, json);
        return io.Run(() => Demonstrate(options, io));
    }

    private static int Demonstrate(HilBench.Options options, CommandIo io)
    {
        TextWriter output = io.Output;
        bool json = io.Json;
        if (options.Policy is not null) PathArguments.InputFile(options.Policy, "--policy", "a hover policy bundle (.safetensors)");
        if (options.OutDirectory is not null) PathArguments.OutputDirectory(options.OutDirectory, "--output");
        options = options with { Task = RepoPaths.Find(options.Task), NodeConfig = RepoPaths.Find(options.NodeConfig) };
        if (HilBench.Problem(options) is { } problem) throw CliException.BadInput(problem);
        var clock = Stopwatch.StartNew();
        IReadOnlyList<HilBench.SeedResult> results = HilBench.Run(options, io.Error);

        double Mean(Func<HilBench.SeedResult, double> f) => results.Average(f);
        double Std(Func<HilBench.SeedResult, double> f) { double m = Mean(f); return Math.Sqrt(results.Sum(r => (f(r) - m) * (f(r) - m)) / Math.Max(1, results.Count - 1)); }
        double successBefore = Mean(r => r.Before.SuccessRate), successAfter = Mean(r => r.After.SuccessRate);
        double interventionBefore = Mean(r => r.Before.InterventionRate), interventionAfter = Mean(r => r.After.InterventionRate);
        var successChange = new HilBench.PairedChange(results.Select(r => r.SuccessChange).ToList());
        var interventionChange = new HilBench.PairedChange(results.Select(r => r.InterventionRateChange).ToList());
        (bool clear, string verdict) = HilBench.Judge(results);
        if (json)
        {
            var seeds = new JsonArray();
            foreach (HilBench.SeedResult r in results)
                seeds.Add(new JsonObject
                {
                    ["seed"] = r.Seed,
                    ["success_before"] = r.Before.SuccessRate,
                    ["success_after"] = r.After.SuccessRate,
                    ["intervention_rate_before"] = Math.Round(r.Before.InterventionRate, 4),
                    ["intervention_rate_after"] = Math.Round(r.After.InterventionRate, 4),
                    ["success_change"] = Math.Round(r.SuccessChange, 4),
                    ["intervention_rate_change"] = Math.Round(r.InterventionRateChange, 4),
                    ["take_overs_before"] = r.Before.TakeOvers,
                    ["take_overs_after"] = r.After.TakeOvers,
                    ["fallbacks_before"] = r.Before.Fallbacks,
                    ["fallbacks_after"] = r.After.Fallbacks,
                    ["log_transitions"] = r.LogTransitions,
                    ["intervention_transitions"] = r.InterventionTransitions,
                    ["train_s"] = Math.Round(r.TrainSeconds, 1),
                    ["finetune_s"] = Math.Round(r.FinetuneSeconds, 1),
                });
            return io.Result(new JsonObject
            {
                ["success_before"] = Math.Round(successBefore, 4),
                ["success_after"] = Math.Round(successAfter, 4),
                ["intervention_rate_before"] = Math.Round(interventionBefore, 4),
                ["intervention_rate_after"] = Math.Round(interventionAfter, 4),
                ["success_before_std"] = Math.Round(Std(r => r.Before.SuccessRate), 4),
                ["success_after_std"] = Math.Round(Std(r => r.After.SuccessRate), 4),
                ["intervention_rate_before_std"] = Math.Round(Std(r => r.Before.InterventionRate), 4),
                ["intervention_rate_after_std"] = Math.Round(Std(r => r.After.InterventionRate), 4),
                ["success_change_mean"] = Math.Round(successChange.Mean, 4),
                ["success_change_sd"] = Math.Round(successChange.Sd, 4),
                ["success_change_se"] = Math.Round(successChange.StandardError, 4),
                ["intervention_rate_change_mean"] = Math.Round(interventionChange.Mean, 4),
                ["intervention_rate_change_sd"] = Math.Round(interventionChange.Sd, 4),
                ["intervention_rate_change_se"] = Math.Round(interventionChange.StandardError, 4),
                ["clearly_beyond_seed_noise"] = clear,
                ["verdict"] = verdict,
                ["flights_per_seed"] = options.Flights,
                ["rounds"] = options.Rounds,
                ["weak_steps"] = options.Policy is null ? options.WeakSteps : null,
                ["mass_factor"] = Math.Round((double)options.MassFactor, 3),
                ["wall_s"] = Math.Round(clock.Elapsed.TotalSeconds, 1),
                ["seeds"] = seeds,
            });
        }
        output.WriteLine("seed | success before → after (change) | pilot's share of flying ticks before → after (change) | take-overs before → after");
        foreach (HilBench.SeedResult r in results)
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Seed,4} | {r.Before.SuccessRate,4:P0} → {r.After.SuccessRate,4:P0} ({r.SuccessChange * 100,+4:+0;-0;0} points) | {r.Before.InterventionRate,6:P1} → {r.After.InterventionRate,6:P1} ({r.InterventionRateChange * 100:+0.0;-0.0;0.0} points) | {r.Before.TakeOvers} → {r.After.TakeOvers}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"paired change over {results.Count} seeds (mean ± sd; 2 × sd/√seeds): success {successChange.Mean * 100:+0.0;-0.0} ± {successChange.Sd * 100:0.0} points ({2 * successChange.StandardError * 100:0.0}), " +
            $"pilot's share {interventionChange.Mean * 100:+0.0;-0.0} ± {interventionChange.Sd * 100:0.0} points ({2 * interventionChange.StandardError * 100:0.0}): {verdict}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"bench hil: {results.Count} seeds × {options.Flights} flights at {options.MassFactor:0.0#}× mass: success {successBefore:P0} ± {Std(r => r.Before.SuccessRate):P0} → {successAfter:P0} ± {Std(r => r.After.SuccessRate):P0}, " +
            $"interventions {interventionBefore:P1} ± {Std(r => r.Before.InterventionRate):P1} → {interventionAfter:P1} ± {Std(r => r.After.InterventionRate):P1} of flying ticks; {verdict}; {clock.Elapsed.TotalSeconds:F0} s"));
        return 0;
    }

}
