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
    readonly float[] _px, _py, _gx, _gy, _returns;
    readonly int[] _lengths;
    readonly float[] _observations, _finalObservations, _rewards, _finishedReturns;
    readonly bool[] _terminated, _truncated, _reachedGoal;
    readonly int[] _finishedLengths;
    System.Random _random = new(0);

    public PointGoalEnv(int numEnvs)
    {
        NumEnvs = numEnvs;
        _px = new float[numEnvs]; _py = new float[numEnvs]; _gx = new float[numEnvs]; _gy = new float[numEnvs];
        _returns = new float[numEnvs]; _lengths = new int[numEnvs];
        _observations = new float[numEnvs * ObservationSize];
        _finalObservations = new float[numEnvs * ObservationSize];
        _rewards = new float[numEnvs];
        _finishedReturns = new float[numEnvs];
        _finishedLengths = new int[numEnvs];
        _terminated = new bool[numEnvs];
        _truncated = new bool[numEnvs];
        _reachedGoal = new bool[numEnvs];
    }

    public int NumEnvs { get; }
    public int ActionSize => Actions;
    public int ActorObservationSize => ObservationSize;
    public int CriticObservationSize => ObservationSize;
    public long GlobalStep { get; set; }
    public long CompletedEpisodes { get; private set; }
    public long NanActionCount { get; private set; }
    /// <summary>Per env: whether the episode that ended in the last step reached the goal.</summary>
    public ReadOnlySpan<bool> ReachedGoal => _reachedGoal;

    public void Reset(ulong seed)
    {
        _random = new System.Random((int)(seed % int.MaxValue));
        CompletedEpisodes = 0;
        for (int i = 0; i < NumEnvs; i++) StartEpisode(i);
    }

    void StartEpisode(int i)
    {
        _px[i] = (float)(_random.NextDouble() * 2 - 1);
        _py[i] = (float)(_random.NextDouble() * 2 - 1);
        do
        {
            _gx[i] = (float)(_random.NextDouble() * 2 - 1);
            _gy[i] = (float)(_random.NextDouble() * 2 - 1);
        } while (Distance(i) < 0.5f);
        _returns[i] = 0;
        _lengths[i] = 0;
        Observe(i, _observations);
    }

    float Distance(int i) => MathF.Sqrt((_gx[i] - _px[i]) * (_gx[i] - _px[i]) + (_gy[i] - _py[i]) * (_gy[i] - _py[i]));

    void Observe(int i, float[] into)
    {
        into[i * 4] = _gx[i] - _px[i];
        into[i * 4 + 1] = _gy[i] - _py[i];
        into[i * 4 + 2] = _px[i];
        into[i * 4 + 3] = _py[i];
    }

    public void Step(ReadOnlySpan<float> actions)
    {
        for (int i = 0; i < NumEnvs; i++)
        {
            float ax = actions[i * 2], ay = actions[i * 2 + 1];
            bool nan = float.IsNaN(ax) || float.IsNaN(ay);
            if (nan) NanActionCount++;
            float before = Distance(i);
            _px[i] += StepLength * Math.Clamp(nan ? 0 : ax, -1f, 1f);
            _py[i] += StepLength * Math.Clamp(nan ? 0 : ay, -1f, 1f);
            float after = Distance(i);
            float reward = 10 * (before - after) - 0.01f;
            bool goal = after < GoalRadius;
            bool outside = MathF.Abs(_px[i]) > Box || MathF.Abs(_py[i]) > Box;
            if (goal) reward += 1;
            if (outside) reward -= 1;
            _lengths[i]++;
            _returns[i] += reward;
            _rewards[i] = reward;
            _terminated[i] = goal || outside || nan;
            _truncated[i] = !_terminated[i] && _lengths[i] >= EpisodeSteps;
            _reachedGoal[i] = goal;
            if (_terminated[i] || _truncated[i])
            {
                Observe(i, _finalObservations);
                _finishedReturns[i] = _returns[i];
                _finishedLengths[i] = _lengths[i];
                CompletedEpisodes++;
                StartEpisode(i);
            }
            else Observe(i, _observations);
        }
    }

    public ReadOnlySpan<float> ActorObservations => _observations;
    public ReadOnlySpan<float> CriticObservations => _observations;
    public ReadOnlySpan<float> Rewards => _rewards;
    public ReadOnlySpan<bool> Terminated => _terminated;
    public ReadOnlySpan<bool> Truncated => _truncated;
    public ReadOnlySpan<float> FinalActorObservations => _finalObservations;
    public ReadOnlySpan<float> FinalCriticObservations => _finalObservations;
    public ReadOnlySpan<float> FinishedEpisodeReturns => _finishedReturns;
    public ReadOnlySpan<int> FinishedEpisodeLengths => _finishedLengths;

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
