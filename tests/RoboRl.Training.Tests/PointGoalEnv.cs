using RoboRl.Sims;

namespace RoboRl.Training.Tests;

/// <summary>
/// A tiny vectorized task for testing on-policy learners: a point in the plane moves by 0.1·a per step (a ∈ [−1, 1]²)
/// towards a goal. Observation (and critic observation) = goal − position (2) and position (2). Reward = 10 × the
/// progress towards the goal − 0.01 per step; reaching the goal (within 0.1) terminates with +1, leaving the 1.5 box
/// terminates with −1; 40 steps truncate. A random policy rarely reaches the goal; a learned one always does.
/// Gymnasium same-step auto-reset, like <see cref="IVectorEnv"/> requires.
/// </summary>
public sealed class PointGoalEnv : IVectorEnv
{
    public const int ObservationSize = 4, Actions = 2, EpisodeSteps = 40;
    public const float GoalRadius = 0.1f, StepLength = 0.1f, Box = 1.5f;
    readonly float[] px, py, gx, gy, returns;
    readonly int[] lengths;
    readonly float[] observations, finalObservations, rewards, finishedReturns;
    readonly bool[] terminated, truncated, reachedGoal;
    readonly int[] finishedLengths;
    System.Random random = new(0);

    public PointGoalEnv(int numEnvs)
    {
        NumEnvs = numEnvs;
        px = new float[numEnvs]; py = new float[numEnvs]; gx = new float[numEnvs]; gy = new float[numEnvs];
        returns = new float[numEnvs]; lengths = new int[numEnvs];
        observations = new float[numEnvs * ObservationSize];
        finalObservations = new float[numEnvs * ObservationSize];
        rewards = new float[numEnvs];
        finishedReturns = new float[numEnvs];
        finishedLengths = new int[numEnvs];
        terminated = new bool[numEnvs];
        truncated = new bool[numEnvs];
        reachedGoal = new bool[numEnvs];
    }

    public int NumEnvs { get; }
    public int ActionSize => Actions;
    public int ActorObservationSize => ObservationSize;
    public int CriticObservationSize => ObservationSize;
    public long GlobalStep { get; set; }
    public long CompletedEpisodes { get; private set; }
    public long NanActionCount { get; private set; }
    /// <summary>Per env: whether the episode that ended in the last step reached the goal.</summary>
    public ReadOnlySpan<bool> ReachedGoal => reachedGoal;

    public void Reset(ulong seed)
    {
        random = new System.Random((int)(seed % int.MaxValue));
        CompletedEpisodes = 0;
        for (int i = 0; i < NumEnvs; i++) StartEpisode(i);
    }

    void StartEpisode(int i)
    {
        px[i] = (float)(random.NextDouble() * 2 - 1);
        py[i] = (float)(random.NextDouble() * 2 - 1);
        do
        {
            gx[i] = (float)(random.NextDouble() * 2 - 1);
            gy[i] = (float)(random.NextDouble() * 2 - 1);
        } while (Distance(i) < 0.5f);
        returns[i] = 0;
        lengths[i] = 0;
        Observe(i, observations);
    }

    float Distance(int i) => MathF.Sqrt((gx[i] - px[i]) * (gx[i] - px[i]) + (gy[i] - py[i]) * (gy[i] - py[i]));

    void Observe(int i, float[] into)
    {
        into[i * 4] = gx[i] - px[i];
        into[i * 4 + 1] = gy[i] - py[i];
        into[i * 4 + 2] = px[i];
        into[i * 4 + 3] = py[i];
    }

    public void Step(ReadOnlySpan<float> actions)
    {
        for (int i = 0; i < NumEnvs; i++)
        {
            float ax = actions[i * 2], ay = actions[i * 2 + 1];
            bool nan = float.IsNaN(ax) || float.IsNaN(ay);
            if (nan) NanActionCount++;
            float before = Distance(i);
            px[i] += StepLength * Math.Clamp(nan ? 0 : ax, -1f, 1f);
            py[i] += StepLength * Math.Clamp(nan ? 0 : ay, -1f, 1f);
            float after = Distance(i);
            float reward = 10 * (before - after) - 0.01f;
            bool goal = after < GoalRadius;
            bool outside = MathF.Abs(px[i]) > Box || MathF.Abs(py[i]) > Box;
            if (goal) reward += 1;
            if (outside) reward -= 1;
            lengths[i]++;
            returns[i] += reward;
            rewards[i] = reward;
            terminated[i] = goal || outside || nan;
            truncated[i] = !terminated[i] && lengths[i] >= EpisodeSteps;
            reachedGoal[i] = goal;
            if (terminated[i] || truncated[i])
            {
                Observe(i, finalObservations);
                finishedReturns[i] = returns[i];
                finishedLengths[i] = lengths[i];
                CompletedEpisodes++;
                StartEpisode(i);
            }
            else Observe(i, observations);
        }
    }

    public ReadOnlySpan<float> ActorObservations => observations;
    public ReadOnlySpan<float> CriticObservations => observations;
    public ReadOnlySpan<float> Rewards => rewards;
    public ReadOnlySpan<bool> Terminated => terminated;
    public ReadOnlySpan<bool> Truncated => truncated;
    public ReadOnlySpan<float> FinalActorObservations => finalObservations;
    public ReadOnlySpan<float> FinalCriticObservations => finalObservations;
    public ReadOnlySpan<float> FinishedEpisodeReturns => finishedReturns;
    public ReadOnlySpan<int> FinishedEpisodeLengths => finishedLengths;

    public void Dispose() { }

    public static IReadOnlyList<string> ObservationNames => ["goal_dx", "goal_dy", "x", "y"];
    public static IReadOnlyList<string> ActionNames => ["vx", "vy"];

    /// <summary>Runs a bundle (C# engine, as deployed) for <paramref name="episodes"/> episodes: the fraction that reach the goal
    /// and the median steps of those that did.</summary>
    public static PolicyScore Score(RoboRl.Core.Policy.PolicyBundle bundle, int episodes, ulong seed)
    {
        var engine = new RoboRl.Core.Policy.PolicyEngine(bundle);
        using var env = new PointGoalEnv(1);
        env.Reset(seed);
        var action = new float[Actions];
        int reached = 0, failed = 0;
        var steps = new List<int>();
        for (int e = 0; e < episodes; e++)
        {
            while (true)
            {
                engine.Forward(env.ActorObservations, action);
                env.Step(action);
                if (env.Terminated[0] || env.Truncated[0])
                {
                    if (env.ReachedGoal[0]) { reached++; steps.Add(env.FinishedEpisodeLengths[0]); }
                    else if (env.Terminated[0]) failed++;
                    break;
                }
            }
        }
        steps.Sort();
        return new PolicyScore((double)reached / episodes, (double)failed / episodes, steps.Count > 0 ? steps[steps.Count / 2] : double.NaN);
    }
}
