using System.Numerics;

namespace RoboRl.Core.Tasks;

/// <summary>
/// Transitions of the hover task taken from outside the simulator (flight logs): per transition the actor observation
/// (what the policy saw), the critic's privileged observation rebuilt from the logged state, the action applied over
/// the control step, the task's reward, the next observations, whether the step terminated the task, and whether a
/// human flew it (an intervention). Fine-tuning (RoboRl.Training.Finetune) samples half of each batch from these.
/// Flat row-major arrays, grown as rows are added.
/// </summary>
public sealed class HoverTransitions
{
    private float[] _observations, _criticObservations, _actions, _rewards, _nextObservations, _nextCriticObservations;
    private bool[] _terminated, _intervened;

    public HoverTransitions(int actorSize, int criticSize = HoverObservation.CriticSize, int actionSize = HoverObservation.ActionSize)
    {
        ActorSize = actorSize;
        CriticSize = criticSize;
        ActionSize = actionSize;
        _observations = []; _criticObservations = []; _actions = []; _rewards = [];
        _nextObservations = []; _nextCriticObservations = []; _terminated = []; _intervened = [];
    }

    public int ActorSize { get; }
    public int CriticSize { get; }
    public int ActionSize { get; }
    public int Count { get; private set; }
    /// <summary>Rows flown by a human (the behaviour-cloning targets).</summary>
    public int InterventionCount { get; private set; }

    public ReadOnlySpan<float> Observations => _observations.AsSpan(0, Count * ActorSize);
    public ReadOnlySpan<float> CriticObservations => _criticObservations.AsSpan(0, Count * CriticSize);
    public ReadOnlySpan<float> Actions => _actions.AsSpan(0, Count * ActionSize);
    public ReadOnlySpan<float> Rewards => _rewards.AsSpan(0, Count);
    public ReadOnlySpan<float> NextObservations => _nextObservations.AsSpan(0, Count * ActorSize);
    public ReadOnlySpan<float> NextCriticObservations => _nextCriticObservations.AsSpan(0, Count * CriticSize);
    public ReadOnlySpan<bool> Terminated => _terminated.AsSpan(0, Count);
    public ReadOnlySpan<bool> Intervened => _intervened.AsSpan(0, Count);

    public void Add(ReadOnlySpan<float> observation, ReadOnlySpan<float> criticObservation, ReadOnlySpan<float> action, float reward,
        ReadOnlySpan<float> nextObservation, ReadOnlySpan<float> nextCriticObservation, bool terminated, bool intervened)
    {
        if (observation.Length != ActorSize || nextObservation.Length != ActorSize) throw new ArgumentException($"observations have {ActorSize} values");
        if (criticObservation.Length != CriticSize || nextCriticObservation.Length != CriticSize) throw new ArgumentException($"critic observations have {CriticSize} values");
        if (action.Length != ActionSize) throw new ArgumentException($"actions have {ActionSize} values");
        if (Count == _rewards.Length) Grow(Math.Max(256, Count * 2));
        int i = Count++;
        observation.CopyTo(_observations.AsSpan(i * ActorSize));
        criticObservation.CopyTo(_criticObservations.AsSpan(i * CriticSize));
        action.CopyTo(_actions.AsSpan(i * ActionSize));
        _rewards[i] = reward;
        nextObservation.CopyTo(_nextObservations.AsSpan(i * ActorSize));
        nextCriticObservation.CopyTo(_nextCriticObservations.AsSpan(i * CriticSize));
        _terminated[i] = terminated;
        _intervened[i] = intervened;
        if (intervened) InterventionCount++;
    }

    private void Grow(int rows)
    {
        Array.Resize(ref _observations, rows * ActorSize);
        Array.Resize(ref _criticObservations, rows * CriticSize);
        Array.Resize(ref _actions, rows * ActionSize);
        Array.Resize(ref _rewards, rows);
        Array.Resize(ref _nextObservations, rows * ActorSize);
        Array.Resize(ref _nextCriticObservations, rows * CriticSize);
        Array.Resize(ref _terminated, rows);
        Array.Resize(ref _intervened, rows);
    }
}

/// <summary>
/// The hover task's reward for one environment, scalar: r = c − scale·(wp·|e|² + wq·(1 − qw²) + wv·|v|² + wa·|a − hover|²
/// + wd·|a − a_prev|² − wx·exp(−|e|²/σ²)) − (the termination penalty if the step ended the episode by termination),
/// e = p − target after the step. HoverEnv computes the same, eight lanes at
/// once; this form scores logged transitions (tested to agree with HoverEnv).
/// </summary>
public static class HoverReward
{
    public static float Compute(HoverTaskConfig task, HoverRewardWeights w, Vector3 positionError, float qw, Vector3 velocityWorld,
        ReadOnlySpan<float> action, ReadOnlySpan<float> previousAction, float hoverAction, bool terminated)
    {
        float actionCost = 0, changeCost = 0;
        for (int m = 0; m < HoverObservation.ActionSize; m++)
        {
            float deviation = action[m] - hoverAction, change = action[m] - previousAction[m];
            actionCost += deviation * deviation;
            changeCost += change * change;
        }
        float distanceSquared = positionError.LengthSquared();
        float precision = MathF.Exp(-distanceSquared / (task.PrecisionRadius * task.PrecisionRadius));
        float cost = w.Position * distanceSquared + w.Orientation * (1 - qw * qw) + w.LinearVelocity * velocityWorld.LengthSquared()
                     + w.Action * actionCost + w.ActionChange * changeCost - w.Precision * precision
                     + w.PositionDistance * MathF.Sqrt(distanceSquared);
        return task.RewardConstant - task.RewardScale * cost - (terminated ? task.TerminationPenalty : 0);
    }
}
