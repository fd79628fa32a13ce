using RoboRl.Core.Policy;
using RoboRl.Core.Robots;
using RoboRl.Core.Tasks;

namespace RoboRl.Node;

// The node with its policy on a microcontroller (node config "policy_on": "mcu"): the tick still builds the
// observation on the host (the supervisor checks it, the recorder logs it), but the action comes from the
// IRemotePolicy, which builds the same observation on the MCU from the state, with its own action history and
// position-error integral (one step per tick, as the host's; both start over when the node arms: ResetHistory). The
// host's PolicyEngine runs on the same observation as a shadow, so every tick measures |MCU − host| (DESIGN.md
// invariant 3, in flight): a drift of the MCU's memory from the host's would show there.
public sealed partial class QuadrotorController
{
    private IRemotePolicy? _remote;
    private readonly float[] _shadowAction = new float[4];
    private long _remoteFailures, _parityChecks, _heldTicks;
    private int _missStreak, _parityPauseTicks;
    private float _parityMaxDiff;

    /// <summary>
    /// Takes the policy's actions from <paramref name="remote"/> from now on (call before the first tick). The remote
    /// side pushes one action into its history per answer, so the node must tick at the policy's control rate
    /// (<see cref="PolicyMismatchException"/> otherwise). A tick without an answer in time holds the last action (up to
    /// <see cref="IRemotePolicy.MaxConsecutiveMisses"/> ticks in a row); one more trips the supervisor
    /// (<see cref="SafetyTrigger.RemotePolicySilent"/>): fallback. Every miss is counted in <see cref="RemotePolicyFailures"/>.
    /// </summary>
    public void UseRemotePolicy(IRemotePolicy remote)
    {
        if (_historySubsteps != 1)
            throw new PolicyMismatchException("node", PolicyBundle.KeyControlRateHz,
                $"with the policy on the MCU the node's rate_hz ({_nodeConfig.RateHz}, {_nodeConfig.File}) must equal the policy's control rate " +
                $"({_nodeConfig.RateHz / _historySubsteps} Hz): the MCU keeps one action per history slot");
        _remote = remote;
    }

    /// <summary>The remote policy in use, or null when the policy runs in process.</summary>
    public IRemotePolicy? RemotePolicy => _remote;

    /// <summary>Ticks on which the remote policy did not answer in time (held or tripped).</summary>
    public long RemotePolicyFailures => _remoteFailures;

    /// <summary>Ticks flown on a held action because the remote policy's answer was late.</summary>
    public long RemotePolicyHeldTicks => _heldTicks;

    /// <summary>
    /// Largest |remote action − host engine's action on the host's observation| so far, and over how many ticks. After a
    /// held tick the two action histories differ by that tick's action (the remote side pushed its late answer, the node
    /// the held one) until it leaves the history, so those ticks are not compared.
    /// </summary>
    public (float MaxAbsDiff, long Ticks) RemotePolicyParity => (_parityMaxDiff, _parityChecks);

    /// <summary>The host engine's action for the last remote tick (the shadow the remote action is compared with).</summary>
    public ReadOnlySpan<float> ShadowAction => _shadowAction;

    /// <summary>The node armed: the remote side starts over with the node's history, and a miss holds the hover action.</summary>
    private void ResetRemotePolicy()
    {
        if (_remote is null) return;
        _remote.ResetHistory(_hoverAction);
        _policyAction.AsSpan().Fill(_hoverAction);
        _missStreak = 0;
        _parityPauseTicks = 0;
    }

    private bool ForwardLocally()
    {
        _engine.Forward(_observation, _policyAction);
        return true;
    }

    private bool InferRemotely(in RobotStateSample state, out SafetyViolation violation)
    {
        violation = default;
        if (!_remote!.TryInfer(in state, _setpoint, _policyAction))
        {
            _remoteFailures++;
            if (++_missStreak > _remote.MaxConsecutiveMisses)
            {
                float timeoutMs = (float)_remote.ResponseTimeout.TotalMilliseconds;
                violation = new SafetyViolation(SafetyTrigger.RemotePolicySilent, timeoutMs, timeoutMs);
                return false;
            }
            // _policyAction still holds the last answer (the hover action right after arming): fly it once more.
            _heldTicks++;
            _parityPauseTicks = _history.Length / HoverObservation.ActionSize + 1;
            return true;
        }
        _missStreak = 0;
        if (_parityPauseTicks > 0) { _parityPauseTicks--; return true; }
        _engine.Forward(_observation, _shadowAction);
        for (int j = 0; j < _shadowAction.Length; j++)
        {
            float diff = MathF.Abs(_policyAction[j] - _shadowAction[j]);
            if (!(diff <= _parityMaxDiff)) _parityMaxDiff = float.IsNaN(diff) ? float.PositiveInfinity : diff;
        }
        _parityChecks++;
        return true;
    }
}
