using RoboRl.Core.Policy;
using RoboRl.Core.Swarm;
using RoboRl.Training.Evaluation;

namespace RoboRl.Training;

/// <summary>
/// A swarm task (configs/swarm/*.json, <c>"kind": "swarm"</c>): multi-agent PPO with one shared deep-sets policy
/// (<see cref="SwarmPpo"/>), scored on validation episodes while training and on held-out scenarios and seeds at the end
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
        if (algorithm != "ppo")
            throw new ArgumentException($"algorithm '{algorithm}' does not train swarm tasks; expected ppo");
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
}
