using System.Text.Json.Nodes;
using RoboRl.Core.Configs;
using RoboRl.Core.Policy;
using RoboRl.Core.Swarm;
using RoboRl.Sims.Swarm;
using RoboRl.Training.Evaluation;

namespace RoboRl.Training;

/// <summary>
/// A swarm task (configs/swarm/*.json, <c>"kind": "swarm"</c>): multi-agent PPO with one shared deep-sets policy
/// (<see cref="SwarmPpo"/>), or TD3 with one shared MLP actor over the ranked neighbours and the action history
/// (<see cref="Td3"/> on <see cref="SwarmEnv"/>, every quad a row), scored on validation episodes while training and on held-out scenarios and seeds at the end
/// (<see cref="SwarmEvaluator"/>); a top view of the final policy's flights is drawn.
/// </summary>
public static class SwarmTraining
{
    /// <summary>PPO's hyperparameters with the swarm's own section (encoders, hard-state replay), as one run config.</summary>
    sealed record SwarmRunConfig(PpoConfig Ppo, SwarmTrainingConfig Swarm) : IAlgorithmConfig
    {
        public string Algorithm => "ppo";
        public RunConfig Run => Ppo.Run;
        public bool Checkpoints => false;
        public string ToJson() => SwarmPpo.ConfigJson(Ppo, Swarm);
    }

    public static TrainResult Run(TrainOptions options, IProgress<TrainProgress>? progress)
    {
        SwarmTaskConfig task = SwarmTaskConfig.Load(options.TaskPath);
        string algorithm = options.Algorithm ?? task.Training?.Choice("algorithm", "td3", "sac", "ppo") ?? "ppo";
        if (algorithm == "td3") return RunTd3(task, options, progress);
        if (algorithm != "ppo")
            throw new ArgumentException($"algorithm '{algorithm}' does not train swarm tasks; expected ppo or td3");
        if (task.ActionHistoryLength > 0)
            throw new ConfigException(task.File, "$.action_history_length", "the PPO swarm trainer's deep-sets actor does not read an action history; train with \"algorithm\": \"td3\" or set it to 0");
        SwarmTrainingConfig swarm = SwarmTrainingConfig.Read(task.Training); // before PpoConfig: it marks training.swarm as known
        PpoConfig ppo = PpoConfig.Read(task.Training);
        ppo = ppo with { Run = ppo.Run.With(options) };
        task.CheckTrainingSeed(ppo.Run.Seed);

        var (result, bundle) = Trainer.Train(options, new SwarmRunConfig(ppo, swarm), "swarm",
            (directory, resumeFrom) => new TrainingSession(directory, (b, episodes, final) => SwarmEvaluator.Score(b, task, episodes, final),
                "eval_time_to_goal_iqm_s", ppo.Run.TotalEnvSteps, ppo.Run.Seed, resumeFrom, options.Console, options.Interactive, progress),
            session => SwarmPpo.Train(task, ppo, swarm, session));
        SwarmEvalResult traces = SwarmEvaluator.Evaluate(new PolicyPilot(bundle), "policy", task, new SwarmEvalOptions(Seeds: 1, EpisodesPerSeed: 8));
        SwarmEvaluator.WriteTrajectoryPlot(task, traces, Path.Combine(result.RunDirectory, "eval_trajectories.png"));
        return result;
    }

    /// <summary>TD3 with one shared actor: every quad is one row of the replay memory (independent learners, shared weights).
    /// A quad reaching the floor ends its environment's episode in training (<see cref="SwarmEnv.EndEpisodeOnFloor"/>), as
    /// leaving the box ends a hover episode; evaluation flies whole episodes.</summary>
    static TrainResult RunTd3(SwarmTaskConfig task, TrainOptions options, IProgress<TrainProgress>? progress)
    {
        Td3Config td3 = Td3Config.Read(task.Training);
        td3 = td3 with { Run = td3.Run.With(options) };
        task.CheckTrainingSeed(td3.Run.Seed);
        Func<string, PolicyDescription> describe = json =>
        {
            var config = JsonNode.Parse(json)!.AsObject();
            config["task_file"] = task.File; // `roborl eval` finds the task (and its held-out scenarios) from it
            return SwarmPolicySpec.Describe(task, config.ToJsonString());
        };
        var (result, bundle) = Trainer.Train(options, td3, "swarm",
            (directory, resumeFrom) => new TrainingSession(directory, (b, episodes, final) => SwarmEvaluator.Score(b, task, episodes, final),
                "eval_time_to_goal_iqm_s", td3.Run.TotalEnvSteps, td3.Run.Seed, resumeFrom, options.Console, options.Interactive, progress),
            session => Td3.Train((n, threads) => new SwarmEnv(task, n, threads) { EndEpisodeOnFloor = true }, td3, describe, task.Robot.HoverAction(), session));
        SwarmEvalResult traces = SwarmEvaluator.Evaluate(new PolicyPilot(bundle), "policy", task, new SwarmEvalOptions(Seeds: 1, EpisodesPerSeed: 8));
        SwarmEvaluator.WriteTrajectoryPlot(task, traces, Path.Combine(result.RunDirectory, "eval_trajectories.png"));
        return result;
    }
}
