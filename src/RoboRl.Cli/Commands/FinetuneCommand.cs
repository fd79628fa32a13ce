using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using RoboRl.Core.Configs;
using RoboRl.Core.Policy;
using RoboRl.Core.Quadrotor;
using RoboRl.Core.Tasks;
using RoboRl.Logs;
using RoboRl.Replay;
using RoboRl.Training;

namespace RoboRl.Cli.Commands;

/// <summary>
/// `roborl finetune --policy BUNDLE --logs LOG… -o NEW_BUNDLE [--robot FITTED.json] [--json]`: continue training a policy
/// in the simulator from flight logs with human interventions (RLPD-style symmetric sampling, behaviour cloning on the
/// intervened steps; <see cref="Finetune"/>).
/// </summary>
public static class FinetuneCommand
{
    public const string DefaultTask = "configs/tasks/crazyflie-hover.json";

    public static Command Create()
    {
        var policy = new Option<string>("--policy") { Description = "The policy bundle that flew the logs.", Required = true };
        var logs = new Option<string[]>("--logs") { Description = "Flight logs (MCAP) recorded by the node, with interventions.", Required = true, Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = true };
        var output = new OutputOption("Where to write the fine-tuned bundle.");
        output.Option.Required = true;
        var robot = new Option<string?>("--robot") { Description = "Robot config the simulator flies (e.g. from `roborl sysid`); default: the bundle's robot." };
        var task = new Option<string>("--task") { Description = "Task config (reward, termination, TD3 hyperparameters).", DefaultValueFactory = _ => DefaultTask };
        var steps = new Option<long>("--steps") { Description = "Fresh simulation steps.", DefaultValueFactory = _ => new FinetuneConfig().TotalEnvSteps };
        var seed = new Option<int>("--seed") { Description = "Seed of the networks, noise and simulator.", DefaultValueFactory = _ => 1 };
        var bcAlpha = new Option<double>("--bc-alpha") { Description = "α of TD3+BC: weight of the normalised Q term against behaviour cloning (0 = behaviour cloning only).", DefaultValueFactory = _ => new FinetuneConfig().BcAlpha };
        var actorLr = new Option<double>("--actor-lr") { Description = "Actor learning rate.", DefaultValueFactory = _ => new FinetuneConfig().ActorLearningRate };
        var criticWarmup = new Option<int>("--critic-warmup-updates") { Description = "Critic-only updates before the actor moves.", DefaultValueFactory = _ => new FinetuneConfig().CriticWarmupUpdates };
        var anchorWeight = new Option<double>("--anchor-weight") { Description = "Weight of the trust region to the input bundle's actions.", DefaultValueFactory = _ => new FinetuneConfig().AnchorWeight };
        var criticFrom = new Option<string?>("--critic-from") { Description = "Continue the critic in this run directory's checkpoint.bin (the policy's training run) instead of fitting a new one." };
        var json = new Option<bool>("--json") { Description = "Print the result as one JSON object." };
        var command = new Command("finetune", "Fine-tune a policy on flight logs with human corrections, continuing TD3 in the simulator.")
        {
            policy, logs, robot, task, steps, seed, bcAlpha, actorLr, criticWarmup, anchorWeight, criticFrom, json,
        };
        output.AddTo(command);
        command.SetAction(parse => Run(parse.GetValue(policy)!, parse.GetValue(logs)!, output.Get(parse)!, parse.GetValue(robot),
            parse.GetValue(task)!, new FinetuneConfig
            {
                TotalEnvSteps = parse.GetValue(steps),
                Seed = parse.GetValue(seed),
                BcAlpha = parse.GetValue(bcAlpha),
                ActorLearningRate = parse.GetValue(actorLr),
                CriticWarmupUpdates = parse.GetValue(criticWarmup),
                AnchorWeight = parse.GetValue(anchorWeight),
                CriticFrom = parse.GetValue(criticFrom)
            },
            parse.GetValue(json), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return command;
    }

    /// <summary>Loads the inputs and checks that they belong together; every problem is a <see cref="SetupException"/> naming the file.</summary>
    public static (PolicyBundle Bundle, HoverTransitions Transitions, HoverTaskConfig Task, QuadrotorConfig SimRobot) Load(
        string policyPath, IReadOnlyList<string> logPaths, string? robotPath, string taskPath, TextWriter progress)
    {
        try
        {
            PolicyBundle bundle = PolicyBundle.Read(policyPath);
            HoverTaskConfig task = HoverTaskConfig.Load(RepoPaths.Find(taskPath));
            try { bundle.CheckCompatible(task.RobotConfigJson); }
            catch (PolicyMismatchException e) { throw new SetupException($"{taskPath}: the task's robot is not the policy's: {e.Message}"); }
            QuadrotorConfig simRobot = robotPath is not null ? QuadrotorConfig.Load(robotPath)
                : QuadrotorConfig.Read(ConfigNode.Parse(bundle.RobotConfigJson, $"{policyPath} (robot config)"));
            var logs = new List<FlightLog>();
            foreach (string path in logPaths)
            {
                FlightLog log = FlightLog.Load(path);
                if (!log.IsComplete) progress.WriteLine($"finetune: {path} is damaged; using what is readable ({log.DescribeStop()})");
                logs.Add(log);
            }
            HoverTransitions transitions = LogTransitions.Extract(logs, bundle, task);
            if (transitions.Count == 0) throw new SetupException($"{string.Join(", ", logPaths)}: no usable transitions (the policy or a human must have flown whole control steps)");
            return (bundle, transitions, task, simRobot);
        }
        catch (Exception e) when (e is FlightLogException or ConfigException or PolicyBundleException or IOException or UnauthorizedAccessException)
        {
            throw new SetupException(e.Message);
        }
    }

    public static int Run(string policyPath, string[] logPaths, string outputPath, string? robotPath, string taskPath, FinetuneConfig config,
        bool json, TextWriter output, TextWriter progress)
    {
        var io = new CommandIo("finetune", output, progress, json);
        return io.Run(() => Tune(policyPath, logPaths, outputPath, robotPath, taskPath, config, io));
    }

    private static int Tune(string policyPath, string[] logPaths, string outputPath, string? robotPath, string taskPath, FinetuneConfig config, CommandIo io)
    {
        TextWriter progress = io.Error;
        PathArguments.InputFile(policyPath, "--policy", "the policy bundle (.safetensors) that flew the logs");
        foreach (string log in logPaths) PathArguments.InputFile(log, "--logs", "an MCAP flight log recorded by the node");
        if (robotPath is not null) PathArguments.InputFile(robotPath, "--robot", "a quadrotor robot config (e.g. from `roborl sysid`)");
        PathArguments.InputFile(RepoPaths.Find(taskPath), "--task", "a hover task config (configs/tasks/crazyflie-hover.json)");
        if (config.CriticFrom is { } criticRun) PathArguments.InputDirectory(criticRun, "--critic-from", "the policy's training run directory (holding checkpoint.bin)");
        PathArguments.OutputFile(outputPath, "--output");
        if (config.TotalEnvSteps < 0) throw CliException.BadInput($"--steps {config.TotalEnvSteps}: must be ≥ 0");
        var (bundle, transitions, task, simRobot) = Load(policyPath, logPaths, robotPath, taskPath, progress);
        progress.WriteLine($"finetune: {transitions.Count} transitions from {logPaths.Length} log(s), {transitions.InterventionCount} intervened; simulating {simRobot.Name} (mass {simRobot.Mass.ToString("G4", CultureInfo.InvariantCulture)} kg)");
        FinetuneResult result;
        try { result = Finetune.Run(bundle, transitions, task, simRobot, config, progress); }
        catch (Exception e) when (config.CriticFrom is not null && e is InvalidDataException or FileNotFoundException)
        {
            // The critic to continue is missing or does not fit this policy (another run, network or observation size).
            throw CliException.BadInput($"--critic-from: {e.Message}");
        }
        result.Bundle.Write(outputPath);
        io.Text.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"finetune: {result.LogTransitions} log transitions ({result.InterventionTransitions} intervened) + {result.EnvSteps} simulation steps, {result.CriticUpdates} critic / {result.ActorUpdates} actor updates in {result.WallSeconds:F1} s; wrote {outputPath}"));
        return io.Result(new JsonObject
        {
            ["output"] = outputPath,
            ["log_transitions"] = result.LogTransitions,
            ["intervention_transitions"] = result.InterventionTransitions,
            ["env_steps"] = result.EnvSteps,
            ["critic_updates"] = result.CriticUpdates,
            ["actor_updates"] = result.ActorUpdates,
            ["wall_s"] = Math.Round(result.WallSeconds, 2),
            ["bc_loss"] = float.IsFinite((float)result.LastBcLoss) ? result.LastBcLoss : null,
        });
    }

    /// <summary>A problem the user can fix (bad or mismatched input); printed as one line, exit code 2.</summary>
    public sealed class SetupException(string message) : CliException(ExitCodes.BadInput, message);
}
